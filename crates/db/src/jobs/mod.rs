//! The `jobs` table: a job's row is a small state machine (`queued` →
//! `processing` → `complete` | `error` | `dead`) that only the run holding
//! its current lease may move ([`Fence`]). Rows are typed at this boundary:
//! status, kind and error code are the contract's enums ([`JobRow`]), and a
//! row this release cannot read is [`DbError::Unreadable`], never a string
//! passed on.
use std::time::Duration;

use atelier_jobs::{Ended, ErrorBody, IdempotencyKey};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{DbError, PhotoRow};

mod row;
mod search;

pub use row::{FlowNode, JobRow, NewJob};
pub(crate) use row::{StoredJob, typed};
use row::{known_kinds, typed_one};
pub use search::{JobSearch, search};

/// Names the run allowed to write a job's row: the job and its current lease
/// token. Every write a run makes compares it (and `processing`), so a run
/// that lost its lease changes nothing and gets [`DbError::Stale`].
#[derive(Debug, Clone, Copy)]
pub struct Fence<'a> {
    pub job: Uuid,
    pub token: &'a str,
}

impl Fence<'_> {
    /// A transaction holding the job's row locked while this run still owns
    /// it (`processing` under this lease), so whatever else the transaction
    /// writes commits only under the fence; [`DbError::Stale`] otherwise.
    pub async fn hold(
        pool: &PgPool,
        fence: Fence<'_>,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, DbError> {
        let mut tx = pool.begin().await?;
        let held = sqlx::query_scalar!(
            "SELECT id FROM jobs WHERE id = $1 AND status = 'processing' AND lease_token = $2
         FOR UPDATE",
            fence.job,
            fence.token
        )
        .fetch_optional(&mut *tx)
        .await?;
        if held.is_none() {
            return Err(DbError::Stale);
        }
        Ok(tx)
    }
}

fn fenced(rows: u64) -> Result<(), DbError> {
    if rows == 0 {
        Err(DbError::Stale)
    } else {
        Ok(())
    }
}

/// Outcome of [`submit`].
#[derive(Debug)]
pub enum Submission {
    /// Recorded now.
    Created(JobRow),
    /// The client's idempotency key was used before: that job.
    Existing(JobRow),
    /// The client already has `max_open` jobs queued or running.
    OverQuota,
}

/// Record a job (status `queued`, not yet enqueued), unless the client
/// already has `max_open` jobs queued or running. With an idempotency key
/// already used by this client, the existing job comes back instead (even
/// at the quota: a repeat is not a new job).
///
/// The count and the insert are one transaction under a lock per client
/// (`pg_advisory_xact_lock`), so concurrent submissions cannot pass the
/// quota together; other clients' submissions do not wait on it.
pub async fn submit(pool: &PgPool, job: NewJob<'_>, max_open: i64) -> Result<Submission, DbError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("atelier.quota:{}", job.client_id))
        .execute(&mut *tx)
        .await?;
    let key = job.idempotency_key.map(IdempotencyKey::as_str);
    if key.is_some() {
        let existing = sqlx::query_as!(
            StoredJob,
            "SELECT * FROM jobs WHERE client_id = $1 AND idempotency_key = $2",
            job.client_id,
            key
        )
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(existing) = typed_one(existing)? {
            return Ok(Submission::Existing(existing));
        }
    }
    if open_jobs(&mut *tx, job.client_id, max_open).await? >= max_open {
        return Ok(Submission::OverQuota);
    }
    let inserted = sqlx::query_as!(
        StoredJob,
        "INSERT INTO jobs (id, kind, contract_version, queue, client_id, user_id, priority,
                           idempotency_key, request_hash, input, notify_email, notify_queue)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (client_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
         RETURNING *",
        job.id,
        job.kind.as_str(),
        job.contract_version,
        job.queue,
        job.client_id,
        job.user_id.as_str(),
        i16::from(job.priority.get()),
        key,
        job.request_hash,
        job.input,
        job.notify.map(|(email, _)| email),
        job.notify.map(|(_, queue)| queue)
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    match typed_one(inserted)? {
        Some(job) => Ok(Submission::Created(job)),
        // Unreachable under the lock (the key was looked up above); a
        // conflict still answers with the job that holds the key.
        None => {
            let existing = sqlx::query_as!(
                StoredJob,
                "SELECT * FROM jobs WHERE client_id = $1 AND idempotency_key = $2",
                job.client_id,
                key
            )
            .fetch_one(pool)
            .await?;
            Ok(Submission::Existing(existing.try_into()?))
        }
    }
}

/// The queue has the job.
pub async fn mark_enqueued(pool: &PgPool, id: Uuid) -> Result<(), DbError> {
    sqlx::query!(
        "UPDATE jobs SET enqueued_at = now() WHERE id = $1 AND enqueued_at IS NULL",
        id
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Jobs recorded more than `grace` ago that the queue never confirmed.
pub async fn unenqueued(
    pool: &PgPool,
    grace: Duration,
    limit: i64,
) -> Result<Vec<JobRow>, DbError> {
    let grace_secs = grace.as_secs_f64();
    let rows = sqlx::query_as!(
        StoredJob,
        "SELECT * FROM jobs
         WHERE enqueued_at IS NULL AND status = 'queued'
           AND created_at < now() - make_interval(secs => $1)
           AND kind = ANY($3)
         ORDER BY created_at
         LIMIT $2",
        grace_secs,
        limit,
        &known_kinds()
    )
    .fetch_all(pool)
    .await?;
    typed(rows)
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<JobRow>, DbError> {
    let row = sqlx::query_as!(StoredJob, "SELECT * FROM jobs WHERE id = $1", id)
        .fetch_optional(pool)
        .await?;
    typed_one(row)
}

/// Mark the start of run `attempt` by `worker` under lease `fence.token`, which from
/// now on is the only one allowed to write the row. Returns `None` when the
/// job is already finished (a redelivery after its result was written),
/// unknown, or held by a later attempt (a lease that expired before its run
/// started must not take the row from the run that replaced it).
pub async fn start_attempt(
    pool: &PgPool,
    fence: Fence<'_>,
    attempt: i32,
    worker: &str,
) -> Result<Option<JobRow>, DbError> {
    let row = sqlx::query_as!(
        StoredJob,
        "UPDATE jobs
         SET status = 'processing', attempts = GREATEST(attempts, $2), lease_token = $3,
             worker = $4, started_at = COALESCE(started_at, now()), updated_at = now(),
             enqueued_at = COALESCE(enqueued_at, now())
         WHERE id = $1 AND status IN ('queued', 'processing') AND attempts <= $2
         RETURNING *",
        fence.job,
        attempt,
        fence.token,
        worker
    )
    .fetch_optional(pool)
    .await?;
    typed_one(row)
}

pub async fn set_progress(pool: &PgPool, fence: Fence<'_>, progress: i16) -> Result<(), DbError> {
    let done = sqlx::query!(
        "UPDATE jobs SET progress = GREATEST(progress, $2), updated_at = now()
         WHERE id = $1 AND status = 'processing' AND lease_token = $3",
        fence.job,
        progress,
        fence.token
    )
    .execute(pool)
    .await?;
    fenced(done.rows_affected())
}

/// Write a photo row and complete its job in one transaction. Running it
/// twice leaves the same row.
pub async fn complete_photo(
    pool: &PgPool,
    fence: Fence<'_>,
    result: &serde_json::Value,
    photo: &PhotoRow,
) -> Result<(), DbError> {
    let mut tx = pool.begin().await?;
    // The fenced completion first: a stale run writes nothing at all.
    complete_in(&mut tx, fence, result, None).await?;
    sqlx::query!(
        "INSERT INTO photos (id, user_id, avatar_id, upload_id, sha256, format, width, height,
                             original_key, variants, exif)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (id) DO UPDATE SET
             sha256 = EXCLUDED.sha256, format = EXCLUDED.format, width = EXCLUDED.width,
             height = EXCLUDED.height, original_key = EXCLUDED.original_key,
             variants = EXCLUDED.variants, exif = EXCLUDED.exif",
        photo.id,
        photo.user_id,
        photo.avatar_id,
        photo.upload_id,
        photo.sha256,
        photo.format,
        photo.width,
        photo.height,
        photo.original_key,
        photo.variants,
        photo.exif
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Complete a job whose result lives in the job row alone.
pub async fn complete(
    pool: &PgPool,
    fence: Fence<'_>,
    result: &serde_json::Value,
) -> Result<(), DbError> {
    complete_alone(pool, fence, result, None).await
}

async fn complete_alone(
    pool: &PgPool,
    fence: Fence<'_>,
    result: &serde_json::Value,
    cache_key: Option<&str>,
) -> Result<(), DbError> {
    let mut tx = pool.begin().await?;
    complete_in(&mut tx, fence, result, cache_key).await?;
    tx.commit().await?;
    Ok(())
}

/// The compare-and-set every completion goes through: only a `processing`
/// row still held by `fence`'s lease becomes `complete`.
pub(crate) async fn complete_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    fence: Fence<'_>,
    result: &serde_json::Value,
    cache_key: Option<&str>,
) -> Result<(), DbError> {
    let done = sqlx::query!(
        "UPDATE jobs
         SET status = 'complete', progress = 100, result = $2, error_code = NULL,
             error_message = NULL, finished_at = now(), updated_at = now(),
             cache_key = COALESCE($4, cache_key)
         WHERE id = $1 AND status = 'processing' AND lease_token = $3",
        fence.job,
        result,
        fence.token,
        cache_key
    )
    .execute(&mut **tx)
    .await?;
    fenced(done.rows_affected())
}

/// Complete a job whose result is keyed by input hash + model version, so a
/// repeat can be answered from it ([`cached_result`]).
pub async fn complete_keyed(
    pool: &PgPool,
    fence: Fence<'_>,
    result: &serde_json::Value,
    cache_key: &str,
) -> Result<(), DbError> {
    complete_alone(pool, fence, result, Some(cache_key)).await
}

/// The newest completed result of the same client and user under
/// `cache_key`, with the job that computed it.
pub async fn cached_result(
    pool: &PgPool,
    client_id: &str,
    user_id: &str,
    cache_key: &str,
) -> Result<Option<(Uuid, serde_json::Value)>, DbError> {
    let row = sqlx::query!(
        r#"SELECT id, result AS "result!" FROM jobs
           WHERE client_id = $1 AND user_id = $2 AND cache_key = $3
             AND status = 'complete' AND result IS NOT NULL
           ORDER BY finished_at DESC LIMIT 1"#,
        client_id,
        user_id,
        cache_key
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.id, r.result)))
}

/// End a job that no run holds (cancelled while waiting, found dead in its
/// queue) as `ended` says, with `error`; a final row is left alone.
pub async fn finish_failed(
    pool: &PgPool,
    id: Uuid,
    ended: Ended,
    error: &ErrorBody,
) -> Result<(), DbError> {
    sqlx::query!(
        "UPDATE jobs
         SET status = $2, error_code = $3, error_message = $4, finished_at = now(),
             updated_at = now()
         WHERE id = $1 AND status NOT IN ('complete', 'error', 'dead', 'skipped')",
        id,
        ended.status().as_str(),
        error.code.as_str(),
        error.message
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The run holding `fence` ends its job `error` (bad input) or `dead` (out
/// of attempts); [`DbError::Stale`] when the row is no longer its to end.
pub async fn fail_run(
    pool: &PgPool,
    fence: Fence<'_>,
    ended: Ended,
    error: &ErrorBody,
) -> Result<(), DbError> {
    let done = sqlx::query!(
        "UPDATE jobs
         SET status = $2, error_code = $3, error_message = $4, finished_at = now(),
             updated_at = now()
         WHERE id = $1 AND status = 'processing' AND lease_token = $5",
        fence.job,
        ended.status().as_str(),
        error.code.as_str(),
        error.message,
        fence.token
    )
    .execute(pool)
    .await?;
    fenced(done.rows_affected())
}

/// A run failed transiently and another is scheduled: back to `queued`,
/// keeping the last error for operators.
pub async fn retry_scheduled(
    pool: &PgPool,
    fence: Fence<'_>,
    error: &ErrorBody,
) -> Result<(), DbError> {
    let done = sqlx::query!(
        "UPDATE jobs
         SET status = 'queued', error_code = $2, error_message = $3, updated_at = now()
         WHERE id = $1 AND status = 'processing' AND lease_token = $4",
        fence.job,
        error.code.as_str(),
        error.message,
        fence.token
    )
    .execute(pool)
    .await?;
    fenced(done.rows_affected())
}

/// Up to `limit` rows `queued` or `processing`, pushed to their queue and
/// not touched for `idle`, in (updated_at, id) order after `after`: the
/// reconciler pages through them, checking each is still in its queue.
pub async fn unsettled(
    pool: &PgPool,
    idle: Duration,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<JobRow>, DbError> {
    let idle_secs = idle.as_secs_f64();
    let (after_at, after_id) = after.unwrap_or((DateTime::<Utc>::UNIX_EPOCH, Uuid::nil()));
    let rows = sqlx::query_as!(
        StoredJob,
        "SELECT * FROM jobs
         WHERE status IN ('queued', 'processing') AND enqueued_at IS NOT NULL
           AND updated_at < now() - make_interval(secs => $1)
           AND (updated_at, id) > ($2, $3)
           AND kind = ANY($5)
         ORDER BY updated_at, id
         LIMIT $4",
        idle_secs,
        after_at,
        after_id,
        limit,
        &known_kinds()
    )
    .fetch_all(pool)
    .await?;
    typed(rows)
}

/// The reconciler re-pushed the job: its clock starts again.
pub async fn touch(pool: &PgPool, ids: &[Uuid]) -> Result<(), DbError> {
    sqlx::query!(
        "UPDATE jobs SET updated_at = now() WHERE id = ANY($1) AND status IN ('queued', 'processing')",
        ids
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Dead jobs an operator queued again: back to `queued` with a fresh budget.
pub async fn requeue_dead(pool: &PgPool, ids: &[Uuid]) -> Result<u64, DbError> {
    let done = sqlx::query!(
        "UPDATE jobs
         SET status = 'queued', attempts = 0, progress = 0, finished_at = NULL, updated_at = now()
         WHERE id = ANY($1) AND status = 'dead'",
        ids
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Add one run's cost to the job's running total.
pub async fn add_cost(
    pool: &PgPool,
    id: Uuid,
    cpu_seconds: f64,
    wall_seconds: f64,
    bytes_written: i64,
) -> Result<(), DbError> {
    sqlx::query!(
        "UPDATE jobs SET cost = jsonb_build_object(
             'cpu_seconds', COALESCE((cost->>'cpu_seconds')::float8, 0) + $2::float8,
             'wall_seconds', COALESCE((cost->>'wall_seconds')::float8, 0) + $3::float8,
             'bytes_written', COALESCE((cost->>'bytes_written')::int8, 0) + $4::int8,
             'runs', COALESCE((cost->>'runs')::int8, 0) + 1)
         WHERE id = $1",
        id,
        cpu_seconds,
        wall_seconds,
        bytes_written
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// How many of `client_id`'s jobs are queued or running, counting no
/// further than `cap` (a quota check reads at most that many index entries).
pub async fn open_jobs<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    client_id: &str,
    cap: i64,
) -> Result<i64, DbError> {
    let n = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM (
               SELECT 1 FROM jobs
               WHERE client_id = $1 AND status IN ('queued', 'processing')
               LIMIT $2
           ) open"#,
        client_id,
        cap
    )
    .fetch_one(executor)
    .await?;
    Ok(n)
}

/// The completed job of `client_id`'s `user_id` (the one named, when
/// `job_id` is given) whose result names the stored object `key`: who
/// wrote an object a design takes as its model. `None` when none did.
pub async fn object_writer(
    pool: &PgPool,
    client_id: &str,
    user_id: &str,
    job_id: Option<Uuid>,
    key: &str,
) -> Result<Option<Uuid>, DbError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT id FROM jobs
            WHERE client_id = $1 AND user_id = $2 AND status = 'complete'
              AND ($3::uuid IS NULL OR id = $3)
              AND result IS NOT NULL
              AND jsonb_path_exists(result, 'strict $.** ? (@.key == $k)',
                                    jsonb_build_object('k', $4::text))
            ORDER BY finished_at DESC
            LIMIT 1"#,
        client_id,
        user_id,
        job_id,
        key
    )
    .fetch_optional(pool)
    .await?)
}
