//! Each queue's state over time (`migrations/20261207000006_queue_history.sql`):
//! one sample per queue per `intake.history_interval`.
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::DbError;

/// One queue's state at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSample {
    pub queue: String,
    pub at: DateTime<Utc>,
    pub depth: i64,
    pub in_flight: i64,
    pub dead: i64,
    pub waiting: i64,
    pub oldest_age_ms: Option<i64>,
    pub completed_total: i64,
    pub failed_total: i64,
    pub live_workers: i64,
    pub service_time_ms: Option<f64>,
}

/// Write `samples` (one transaction).
pub async fn record(pool: &PgPool, samples: &[QueueSample]) -> Result<(), DbError> {
    let mut tx = pool.begin().await?;
    for s in samples {
        sqlx::query!(
            "INSERT INTO queue_history (queue, at, depth, in_flight, dead, waiting, oldest_age_ms,
                                        completed_total, failed_total, live_workers, service_time_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (queue, at) DO NOTHING",
            s.queue,
            s.at,
            s.depth,
            s.in_flight,
            s.dead,
            s.waiting,
            s.oldest_age_ms,
            s.completed_total,
            s.failed_total,
            s.live_workers,
            s.service_time_ms
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// `queue`'s samples since `since`, oldest first (at most `limit`).
pub async fn since(
    pool: &PgPool,
    queue: &str,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<QueueSample>, DbError> {
    Ok(sqlx::query_as!(
        QueueSample,
        "SELECT queue, at, depth, in_flight, dead, waiting, oldest_age_ms, completed_total,
                failed_total, live_workers, service_time_ms
           FROM queue_history WHERE queue = $1 AND at >= $2 ORDER BY at LIMIT $3",
        queue,
        since,
        limit
    )
    .fetch_all(pool)
    .await?)
}

/// Delete samples taken before `before`.
pub async fn prune(pool: &PgPool, before: DateTime<Utc>) -> Result<u64, DbError> {
    Ok(
        sqlx::query!("DELETE FROM queue_history WHERE at < $1", before)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
