//! Events: each user's events are logged in PostgreSQL, beside the job
//! rows (`atelier_db::events`), and published on one Redis channel for the
//! live fan-out; the gateway routes the channel to WebSocket clients and
//! replays a user's log on reconnect. Redis losing its data loses nothing a
//! replay would deliver.
//!
//! Architecture invariant: an event's `event_id` is its number in its
//! user's log, numbers committed in order and without gaps, so "everything
//! after `last_event_id`" is one range read, and a live event whose number
//! is past the next one tells a socket it missed some (it replays them).
#![forbid(unsafe_code)]

mod hub;

pub use hub::{EventHub, LiveEvent, Subscription};

use std::cmp::Ordering;

use atelier_config::EventsConfig;
use atelier_db::PgPool;
use atelier_db::events::{NewEvent, StoredEvent};
use atelier_jobs::{EventEnvelope, EventType};
use atelier_redis::Conn;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("event log: {0}")]
    Log(#[from] atelier_db::DbError),
    #[error("malformed event: {0}")]
    Malformed(String),
    #[error("invalid event id {0:?}")]
    InvalidId(String),
}

/// Who may see an event: an end user of one API client. User ids are the
/// platforms' own, so two clients' "user 42" are different people.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Audience {
    pub client_id: String,
    pub user_id: String,
}

impl Audience {
    pub fn new(client_id: impl Into<String>, user_id: impl Into<String>) -> Self {
        Audience {
            client_id: client_id.into(),
            user_id: user_id.into(),
        }
    }

    /// Client ids and user ids never contain `/` or spaces (validated at
    /// intake), so this key is unambiguous.
    pub fn key(&self) -> String {
        format!("{}/{}", self.client_id, self.user_id)
    }
}

/// The envelope minus its id, as it travels on the live channel.
#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(rename = "type")]
    event_type: EventType,
    job_id: Uuid,
    user_id: String,
    at: DateTime<Utc>,
    data: serde_json::Value,
}

impl Stored {
    fn into_envelope(self, event_id: String) -> EventEnvelope {
        EventEnvelope {
            event_id,
            event_type: self.event_type,
            job_id: self.job_id,
            user_id: self.user_id,
            at: self.at,
            data: self.data,
        }
    }
}

/// Appends events and reads them back.
#[derive(Clone)]
pub struct EventLog {
    conn: Conn,
    pool: PgPool,
    prefix: String,
    retention_per_user: u32,
}

impl EventLog {
    pub fn new(conn: Conn, pool: PgPool, prefix: &str, config: &EventsConfig) -> Self {
        EventLog {
            conn,
            pool,
            prefix: prefix.to_owned(),
            retention_per_user: config.retention_per_user,
        }
    }

    pub(crate) fn channel(prefix: &str) -> String {
        format!("{prefix}:events:live")
    }

    /// Log one event and broadcast it; returns it with its id once logged
    /// (the broadcast goes on in the background and may fail, Redis away:
    /// sockets replay the event from the log when their subscription comes
    /// back or their next event shows the gap).
    pub async fn publish(
        &self,
        audience: &Audience,
        event_type: EventType,
        job_id: Uuid,
        data: serde_json::Value,
    ) -> Result<EventEnvelope, EventError> {
        let stored = Stored {
            event_type,
            job_id,
            user_id: audience.user_id.clone(),
            // Microseconds, as PostgreSQL keeps them: the live copy and the
            // replayed one are the same.
            at: DateTime::from_timestamp_micros(Utc::now().timestamp_micros())
                .unwrap_or_else(Utc::now),
            data,
        };
        let seq = atelier_db::events::append(
            &self.pool,
            NewEvent {
                client_id: &audience.client_id,
                user_id: &audience.user_id,
                event_type: event_type.as_str(),
                job_id,
                at: stored.at,
                data: &stored.data,
            },
            self.retention_per_user,
        )
        .await?;
        let json =
            serde_json::to_string(&stored).map_err(|e| EventError::Malformed(e.to_string()))?;
        let id = seq.to_string();
        // The live copy goes out beside the caller, which never waits on
        // Redis for it (a stalled Redis would stall the job): copies may
        // then arrive out of order, and a socket that sees one past the
        // next replays the gap from the log first.
        let message = format!("{id} {} {json}", audience.key());
        let channel = Self::channel(&self.prefix);
        let mut conn = self.conn.clone();
        tokio::spawn(async move {
            let live: Result<i64, _> = redis::cmd("PUBLISH")
                .arg(channel)
                .arg(message)
                .query_async(&mut conn)
                .await;
            if let Err(error) = live {
                tracing::debug!(%error, "event logged but not broadcast; sockets replay it");
            }
        });
        Ok(stored.into_envelope(id))
    }

    /// The id of `audience`'s newest logged event (`0` when none): where a
    /// socket that asked for no replay starts, should it ever need one.
    pub async fn latest(&self, audience: &Audience) -> Result<String, EventError> {
        let seq =
            atelier_db::events::latest(&self.pool, &audience.client_id, &audience.user_id).await?;
        Ok(seq.to_string())
    }

    /// Up to `limit` events of `audience` after `after` (exclusive), oldest first.
    pub async fn replay(
        &self,
        audience: &Audience,
        after: &str,
        limit: usize,
    ) -> Result<Vec<EventEnvelope>, EventError> {
        let after = parse_id(after).ok_or_else(|| EventError::InvalidId(after.to_owned()))?;
        let page = atelier_db::events::after(
            &self.pool,
            &audience.client_id,
            &audience.user_id,
            i64::try_from(after).unwrap_or(i64::MAX),
            i64::try_from(limit).unwrap_or(i64::MAX),
        )
        .await?;
        page.into_iter()
            .map(|event| envelope(&audience.user_id, event))
            .collect()
    }

    /// Delete events older than the replay window (`events.retention_age`).
    pub async fn prune(&self, age: std::time::Duration) -> Result<u64, EventError> {
        let age = chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
        let before = Utc::now()
            .checked_sub_signed(age)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        Ok(atelier_db::events::prune(&self.pool, before).await?)
    }
}

fn envelope(user_id: &str, event: StoredEvent) -> Result<EventEnvelope, EventError> {
    let event_type = serde_json::from_value(serde_json::Value::String(event.event_type))
        .map_err(|e| EventError::Malformed(format!("event {}: {e}", event.seq)))?;
    Ok(EventEnvelope {
        event_id: event.seq.to_string(),
        event_type,
        job_id: event.job_id,
        user_id: user_id.to_owned(),
        at: event.at,
        data: event.data,
    })
}

fn decode(id: String, json: &str) -> Result<EventEnvelope, EventError> {
    let stored: Stored =
        serde_json::from_str(json).map_err(|e| EventError::Malformed(e.to_string()))?;
    Ok(stored.into_envelope(id))
}

/// An event id as its number. Ids of the Redis-stream log this one
/// replaced (`ms-seq`) read as 0: a client reconnecting across the upgrade
/// is replayed the whole retained log (at least once, never less).
pub fn parse_id(id: &str) -> Option<u64> {
    if let Some((ms, seq)) = id.split_once('-') {
        return (ms.parse::<u64>().is_ok() && seq.parse::<u64>().is_ok()).then_some(0);
    }
    id.parse().ok()
}

/// Order of two event ids (unparseable ids sort first).
pub fn compare_ids(a: &str, b: &str) -> Ordering {
    parse_id(a).cmp(&parse_id(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_compare_numerically_not_lexically() {
        assert_eq!(compare_ids("999", "1000"), Ordering::Less);
        assert_eq!(compare_ids("10", "9"), Ordering::Greater);
        assert_eq!(compare_ids("17", "17"), Ordering::Equal);
        assert!(parse_id("abc").is_none() && parse_id("1-x").is_none());
        // The replaced log's ids replay everything retained.
        assert_eq!(parse_id("1733600000000-3"), Some(0));
    }
}
