//! Each user's event log (`migrations/20261207000002_events.sql`): events
//! numbered per user, in commit order and without gaps, kept for the replay
//! window. Redis carries only the live fan-out.
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::DbError;

/// One logged event as stored: its number in its user's sequence and the
/// envelope's fields.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: i64,
    pub event_type: String,
    pub job_id: Uuid,
    pub at: DateTime<Utc>,
    pub data: serde_json::Value,
}

/// Whose event it is and what it says.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    pub client_id: &'a str,
    pub user_id: &'a str,
    pub event_type: &'a str,
    pub job_id: Uuid,
    pub at: DateTime<Utc>,
    pub data: &'a serde_json::Value,
}

/// Append `event` (committed when this returns) and return its number;
/// about `keep` of the user's newest events are kept.
pub async fn append(pool: &PgPool, event: NewEvent<'_>, keep: u32) -> Result<i64, DbError> {
    let seq = sqlx::query_scalar!(
        r#"SELECT event_append($1, $2, $3, $4, $5, $6, $7) AS "seq!""#,
        event.client_id,
        event.user_id,
        event.event_type,
        event.job_id,
        event.at,
        event.data,
        i64::from(keep)
    )
    .fetch_one(pool)
    .await?;
    Ok(seq)
}

/// Up to `limit` of the user's events numbered after `after`, oldest first.
pub async fn after(
    pool: &PgPool,
    client_id: &str,
    user_id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<StoredEvent>, DbError> {
    Ok(sqlx::query_as!(
        StoredEvent,
        r#"SELECT seq, type AS event_type, job_id, at, data
             FROM events
            WHERE client_id = $1 AND user_id = $2 AND seq > $3
            ORDER BY seq
            LIMIT $4"#,
        client_id,
        user_id,
        after,
        limit
    )
    .fetch_all(pool)
    .await?)
}

/// The number of the user's newest event (0 when none).
pub async fn latest(pool: &PgPool, client_id: &str, user_id: &str) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar!(
        "SELECT last_seq FROM event_users WHERE client_id = $1 AND user_id = $2",
        client_id,
        user_id
    )
    .fetch_optional(pool)
    .await?
    .unwrap_or(0))
}

/// Delete events logged before `before` (the replay window's age); the
/// per-user numbering goes on where it was.
pub async fn prune(pool: &PgPool, before: DateTime<Utc>) -> Result<u64, DbError> {
    Ok(sqlx::query!("DELETE FROM events WHERE at < $1", before)
        .execute(pool)
        .await?
        .rows_affected())
}

/// The channel the database announces the events it logs itself on (a
/// flow's), each payload `id audience envelope-without-id` as on the live
/// channel.
pub const ANNOUNCED_CHANNEL: &str = "atelier_events";

/// Events the database logged, as they are announced.
pub struct Announced(sqlx::postgres::PgListener);

impl Announced {
    pub async fn listen(pool: &PgPool) -> Result<Announced, DbError> {
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen(ANNOUNCED_CHANNEL).await?;
        Ok(Announced(listener))
    }

    /// The next announcement's payload; `None` when the connection was
    /// lost (it reconnects on the next call): what was announced meanwhile
    /// is only in the log.
    pub async fn next(&mut self) -> Result<Option<String>, DbError> {
        Ok(self.0.try_recv().await?.map(|n| n.payload().to_owned()))
    }
}
