//! Events: workers append to a per-user Redis Stream (bounded replay log) and
//! publish on one channel in the same script; the gateway fans the channel out
//! to WebSocket clients and replays a user's stream on reconnect.
//!
//! Architecture invariant: an event's `event_id` is its entry id in the
//! user's stream, so "everything after `last_event_id`" is one XRANGE.
#![forbid(unsafe_code)]

mod hub;

pub use hub::{EventHub, LiveEvent, Subscription};

use std::cmp::Ordering;

use atelier_config::EventsConfig;
use atelier_jobs::{EventEnvelope, EventType};
use atelier_redis::Conn;
use chrono::{DateTime, Utc};
use redis::Script;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("malformed event: {0}")]
    Malformed(String),
    #[error("invalid event id {0:?}")]
    InvalidId(String),
}

const PUBLISH: &str = r"
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[1], id .. ' ' .. ARGV[5] .. ' ' .. ARGV[4])
return id
";

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

/// The envelope minus its id, as stored in the stream entry.
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
    prefix: String,
    retention_per_user: u32,
    retention_secs: u64,
    publish: std::sync::Arc<Script>,
}

impl EventLog {
    pub fn new(conn: Conn, prefix: &str, config: &EventsConfig) -> Self {
        EventLog {
            conn,
            prefix: prefix.to_owned(),
            retention_per_user: config.retention_per_user,
            retention_secs: config.retention_age.get().as_secs().max(1),
            publish: std::sync::Arc::new(Script::new(PUBLISH)),
        }
    }

    fn user_stream(&self, audience: &Audience) -> String {
        format!("{}:events:user:{}", self.prefix, audience.key())
    }

    pub(crate) fn channel(prefix: &str) -> String {
        format!("{prefix}:events:live")
    }

    /// Append and broadcast one event; returns it with its id.
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
            at: Utc::now(),
            data,
        };
        let json =
            serde_json::to_string(&stored).map_err(|e| EventError::Malformed(e.to_string()))?;
        let id: String = self
            .publish
            .key(self.user_stream(audience))
            .arg(Self::channel(&self.prefix))
            .arg(self.retention_per_user)
            .arg(self.retention_secs)
            .arg(&json)
            .arg(audience.key())
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(stored.into_envelope(id))
    }

    /// The id of `audience`'s newest logged event (`0-0` when none): where a
    /// socket that asked for no replay starts, should it ever need one.
    pub async fn latest(&self, audience: &Audience) -> Result<String, EventError> {
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE")
            .arg(self.user_stream(audience))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(entries
            .into_iter()
            .next()
            .map_or_else(|| "0-0".to_owned(), |(id, _)| id))
    }

    /// Up to `limit` events of `audience` after `after` (exclusive), oldest first.
    pub async fn replay(
        &self,
        audience: &Audience,
        after: &str,
        limit: usize,
    ) -> Result<Vec<EventEnvelope>, EventError> {
        parse_id(after).ok_or_else(|| EventError::InvalidId(after.to_owned()))?;
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(self.user_stream(audience))
            .arg(format!("({after}"))
            .arg("+")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut self.conn.clone())
            .await?;
        entries
            .into_iter()
            .map(|(id, fields)| {
                let json = fields
                    .into_iter()
                    .find(|(k, _)| k == "e")
                    .map(|(_, v)| v)
                    .ok_or_else(|| EventError::Malformed(format!("entry {id} has no payload")))?;
                decode(id, &json)
            })
            .collect()
    }
}

fn decode(id: String, json: &str) -> Result<EventEnvelope, EventError> {
    let stored: Stored =
        serde_json::from_str(json).map_err(|e| EventError::Malformed(e.to_string()))?;
    Ok(stored.into_envelope(id))
}

/// A stream id `ms-seq` as a comparable pair.
pub fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
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
        assert_eq!(compare_ids("999-5", "1000-0"), Ordering::Less);
        assert_eq!(compare_ids("1000-10", "1000-9"), Ordering::Greater);
        assert_eq!(compare_ids("1000-1", "1000-1"), Ordering::Equal);
        assert!(parse_id("abc").is_none() && parse_id("1-x").is_none());
    }
}
