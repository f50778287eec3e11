//! The console's own tables (`migrations/20261207000007_console.sql`): its
//! sign-in sessions and the audit log, and the per-job reads of its
//! inspector (runs, stage timings, events).
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::DbError;

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub operator: String,
    pub role: String,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

/// Record a session under the hash of its cookie's token.
pub async fn open_session(
    pool: &PgPool,
    token_hash: &[u8],
    session: &Session,
    address: Option<&str>,
) -> Result<(), DbError> {
    sqlx::query!(
        "INSERT INTO console_sessions (token_hash, operator, role, csrf, address, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        token_hash,
        session.operator,
        session.role,
        session.csrf,
        address,
        session.expires_at
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The unexpired session under `token_hash`.
pub async fn session(pool: &PgPool, token_hash: &[u8]) -> Result<Option<Session>, DbError> {
    Ok(sqlx::query_as!(
        Session,
        "SELECT operator, role, csrf, expires_at FROM console_sessions
          WHERE token_hash = $1 AND expires_at > now()",
        token_hash
    )
    .fetch_optional(pool)
    .await?)
}

/// Sign out (and forget sessions expired long ago).
pub async fn close_session(pool: &PgPool, token_hash: &[u8]) -> Result<(), DbError> {
    sqlx::query!(
        "DELETE FROM console_sessions
          WHERE token_hash = $1 OR expires_at < now() - interval '1 day'",
        token_hash
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub operator: String,
    pub role: String,
    pub action: String,
    pub queue: Option<String>,
    pub job_ids: Vec<Uuid>,
    pub detail: serde_json::Value,
    pub address: Option<String>,
}

/// What an action writes to the audit log.
#[derive(Debug, Clone)]
pub struct NewAudit<'a> {
    pub operator: &'a str,
    pub role: &'a str,
    pub action: &'a str,
    pub queue: Option<&'a str>,
    pub job_ids: &'a [Uuid],
    pub detail: serde_json::Value,
    pub address: Option<&'a str>,
}

pub async fn audit(pool: &PgPool, entry: NewAudit<'_>) -> Result<(), DbError> {
    sqlx::query!(
        "INSERT INTO audit_log (operator, role, action, queue, job_ids, detail, address)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        entry.operator,
        entry.role,
        entry.action,
        entry.queue,
        entry.job_ids,
        entry.detail,
        entry.address
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The newest `limit` entries before id `before` (all when `None`).
pub async fn audit_log(
    pool: &PgPool,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditEntry>, DbError> {
    Ok(sqlx::query_as!(
        AuditEntry,
        "SELECT id, at, operator, role, action, queue, job_ids, detail, address
           FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2",
        before.unwrap_or(i64::MAX),
        limit
    )
    .fetch_all(pool)
    .await?)
}

/// One run of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub attempt: i32,
    pub worker: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// The job's runs, first first.
pub async fn runs(pool: &PgPool, job: Uuid) -> Result<Vec<RunRow>, DbError> {
    Ok(sqlx::query_as!(
        RunRow,
        "SELECT attempt, worker, started_at, ended_at, outcome, error_code, error_message
           FROM job_runs WHERE job_id = $1 ORDER BY started_at",
        job
    )
    .fetch_all(pool)
    .await?)
}

/// A finished stage, with the run that finished it.
#[derive(Debug, Clone, PartialEq)]
pub struct StageTiming {
    pub position: i32,
    pub stage: String,
    pub attempt: Option<i32>,
    pub finished_at: DateTime<Utc>,
}

pub async fn stages(pool: &PgPool, job: Uuid) -> Result<Vec<StageTiming>, DbError> {
    Ok(sqlx::query_as!(
        StageTiming,
        "SELECT position, stage, attempt, finished_at FROM job_stages
          WHERE job_id = $1 ORDER BY position",
        job
    )
    .fetch_all(pool)
    .await?)
}

/// An event about a job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEvent {
    pub seq: i64,
    pub event_type: String,
    pub at: DateTime<Utc>,
    pub data: serde_json::Value,
}

/// The job's events, oldest first (at most `limit`).
pub async fn job_events(pool: &PgPool, job: Uuid, limit: i64) -> Result<Vec<JobEvent>, DbError> {
    Ok(sqlx::query_as!(
        JobEvent,
        r#"SELECT seq, type AS "event_type!", at, data FROM events
            WHERE job_id = $1 ORDER BY at, seq LIMIT $2"#,
        job,
        limit
    )
    .fetch_all(pool)
    .await?)
}
