//! Checkpoints of resumable jobs: each finished stage's small state, in
//! stage order, so a re-run resumes after the last finished stage.
use sqlx::PgPool;
use uuid::Uuid;

use crate::{DbError, Fence};

#[derive(Debug, Clone, PartialEq)]
pub struct StageRow {
    pub position: i32,
    pub stage: String,
    pub version: i32,
    pub state: serde_json::Value,
}

/// The job's finished stages, in order.
pub async fn finished(pool: &PgPool, job: Uuid) -> Result<Vec<StageRow>, DbError> {
    Ok(sqlx::query_as!(
        StageRow,
        "SELECT position, stage, version, state FROM job_stages
         WHERE job_id = $1 ORDER BY position",
        job
    )
    .fetch_all(pool)
    .await?)
}

/// Record stage `position` as finished with `state`, and forget every stage
/// after it (they were computed from an older state). Fenced: a run that
/// lost its lease records nothing and gets [`DbError::Stale`].
pub async fn record(
    pool: &PgPool,
    fence: Fence<'_>,
    position: i32,
    stage: &str,
    version: i32,
    state: &serde_json::Value,
) -> Result<(), DbError> {
    let mut tx = Fence::hold(pool, fence).await?;
    sqlx::query!(
        "DELETE FROM job_stages WHERE job_id = $1 AND position > $2",
        fence.job,
        position
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO job_stages (job_id, position, stage, version, state)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (job_id, position) DO UPDATE
         SET stage = EXCLUDED.stage, version = EXCLUDED.version, state = EXCLUDED.state,
             finished_at = now()",
        fence.job,
        position,
        stage,
        version,
        state
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Forget stages from `position` on (their version changed, or an earlier
/// stage's did).
pub async fn invalidate_from(pool: &PgPool, job: Uuid, position: i32) -> Result<u64, DbError> {
    let done = sqlx::query!(
        "DELETE FROM job_stages WHERE job_id = $1 AND position >= $2",
        job,
        position
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
