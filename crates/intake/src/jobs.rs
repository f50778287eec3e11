//! Jobs as the intake handles them, whatever route asks: submission
//! (check, record, enqueue), finding a job for its client, its view with
//! signed URLs, cancellation, and ending a job no run holds.
//!
//! Architecture invariant: a job is recorded in Postgres before it is pushed
//! to Redis, and the push is idempotent by job id. A crash between the two
//! leaves a row with `enqueued_at IS NULL`, which the outbox relay pushes; a
//! duplicate push of a job already queued is a no-op, and a redelivery of a
//! finished job is acknowledged without running it again.
use atelier_db::{JobRow, NewJob, Submission};
use atelier_jobs::{
    CONTRACT_VERSION, Ended, ErrorBody, ErrorCode, EventType, FailedData, JobKind, JobSpec,
    JobStatus, QueueMessage, UserId,
};
use atelier_telemetry::metrics;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api::{CancelAnswer, CancelState, JobAccepted, JobView, SubmitRequest};
use crate::auth::ClientId;
use crate::error::ApiError;
use crate::state::AppState;

/// Check a submission, record it and push it to its queue. A repeated
/// idempotency key answers with the first job and its current status.
pub(crate) async fn submit(
    state: &AppState,
    client: &ClientId,
    req: SubmitRequest,
) -> Result<JobAccepted, ApiError> {
    let kind = accepted_kind(state, &req.kind)?;
    let notify_email = match &req.notify {
        Some(notify) => Some(notify_address(kind, &notify.email)?),
        None => None,
    };
    let priority = req.priority.unwrap_or_default();
    // What the client sent, to tell a retry from a conflicting reuse of
    // the same idempotency key.
    let request_hash = hex::encode(Sha256::digest(
        format!(
            "{kind}\n{}\n{priority}\n{}\n{}",
            req.user_id,
            req.input,
            notify_email.unwrap_or("")
        )
        .as_bytes(),
    ));
    let mut spec = JobSpec::parse(kind, req.input).map_err(|e| ApiError::invalid(e.message))?;
    check_reads(state, client, &req.user_id, &spec).await?;
    // Ids the job will write under are fixed now, so every run writes the same keys.
    spec.assign_ids(&mut Uuid::new_v4);
    let queue = queue_for(state, kind)?;
    let notify_queue = match notify_email {
        Some(_) => Some(queue_for(state, JobKind::NotifyEmail)?),
        None => None,
    };
    let submission = atelier_db::jobs::submit(
        &state.pool,
        NewJob {
            id: Uuid::new_v4(),
            kind,
            contract_version: CONTRACT_VERSION as i32,
            queue,
            client_id: &client.0,
            user_id: &req.user_id,
            priority,
            idempotency_key: req.idempotency_key.as_ref(),
            request_hash: &request_hash,
            input: spec.to_json(),
            notify: notify_email.zip(notify_queue),
        },
        // The client's quota of open jobs, counted with the insert.
        i64::from(state.config.intake.max_open_jobs_per_client),
    )
    .await?;
    let job = match submission {
        Submission::Created(job) => job,
        Submission::OverQuota => {
            let mut error = ApiError::new(
                ErrorCode::QuotaExceeded,
                format!(
                    "{} jobs of this client are queued or running; submit more as they finish",
                    state.config.intake.max_open_jobs_per_client
                ),
            );
            error.retry_after = Some(5);
            return Err(error);
        }
        Submission::Existing(job) if job.request_hash != request_hash => {
            return Err(ApiError::new(
                ErrorCode::JobIdempotencyConflict,
                "idempotency_key was already used for a different request",
            ));
        }
        // The same answer as the first time, with the job's current status.
        Submission::Existing(job) => {
            return Ok(JobAccepted {
                job_id: job.id,
                status: job.status,
            });
        }
    };
    enqueue(state, &job).await;
    state
        .metrics
        .add(&metrics::JOBS_SUBMITTED, &[kind.as_str()], 1.0);
    tracing::info!(job_id = %job.id, %kind, queue = job.queue, user_id = job.user_id, "job accepted");
    Ok(JobAccepted {
        job_id: job.id,
        status: JobStatus::Queued,
    })
}

/// The uploads a job reads belong to its user, and each stored object it
/// reads was written by a completed job of that user.
pub(crate) async fn check_reads(
    state: &AppState,
    client: &ClientId,
    user: &UserId,
    spec: &JobSpec,
) -> Result<(), ApiError> {
    for upload_id in spec.upload_ids() {
        let upload = atelier_db::uploads::get(&state.pool, upload_id).await?;
        let owned = upload.is_some_and(|u| u.client_id == client.0 && u.user_id == user.as_str());
        if !owned {
            return Err(ApiError::new(
                ErrorCode::UploadNotFound,
                format!("upload {upload_id} not found for this user"),
            ));
        }
    }
    for source in spec.stored_sources() {
        let writer = atelier_db::jobs::object_writer(
            &state.pool,
            &client.0,
            user.as_str(),
            source.job_id,
            &source.key,
        )
        .await?;
        if writer.is_none() {
            return Err(ApiError::new(
                ErrorCode::SourceNotFound,
                format!(
                    "no completed job of this user wrote {:?}{}",
                    source.key,
                    source
                        .job_id
                        .map(|j| format!(" (job {j})"))
                        .unwrap_or_default()
                ),
            ));
        }
    }
    Ok(())
}

/// The kind named, if this deployment accepts it (test-only kinds exist
/// only where `intake.test_kinds` says so).
pub(crate) fn accepted_kind(state: &AppState, name: &str) -> Result<JobKind, ApiError> {
    name.parse()
        .ok()
        .filter(|k: &JobKind| !k.is_test() || state.config.intake.test_kinds)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::JobUnknownKind,
                format!("unknown job kind {name:?}"),
            )
        })
}

fn notify_address(kind: JobKind, email: &str) -> Result<&str, ApiError> {
    atelier_jobs::validate_email(email)
        .map_err(|e| ApiError::invalid(format!("notify.email: {}", e.message)))?;
    if kind == JobKind::NotifyEmail {
        return Err(ApiError::invalid(
            "notify: a notify.email job cannot itself be notified",
        ));
    }
    Ok(email)
}

/// The queue carrying `kind` (`501 job.kind_not_available` when no queue in
/// queues.toml does: no worker would ever run it).
pub(crate) fn queue_for(state: &AppState, kind: JobKind) -> Result<&str, ApiError> {
    state
        .queues_config
        .find_for_kind(kind)
        .map(|q| q.name.as_str())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::JobKindNotAvailable,
                format!("no queue in queues.toml carries job kind {kind}"),
            )
        })
}

/// Push a recorded job to its queue and mark it enqueued. Errors are
/// logged, not returned: the outbox relay retries.
pub(crate) async fn enqueue(state: &AppState, job: &JobRow) -> bool {
    let message = QueueMessage {
        job_id: job.id,
        kind: job.kind,
    };
    let payload = serde_json::to_string(&message).expect("queue messages serialise");
    let Some(queue) = state.queue(&job.queue) else {
        tracing::error!(job_id = %job.id, queue = job.queue, "recorded job names a queue not in queues.toml");
        return false;
    };
    let priority = job.priority.clamp(0, 9) as u8;
    if let Err(error) = queue.enqueue(&job.id.to_string(), &payload, priority).await {
        tracing::warn!(job_id = %job.id, %error, "enqueue failed; the outbox will retry");
        return false;
    }
    if let Err(error) = atelier_db::jobs::mark_enqueued(&state.pool, job.id).await {
        tracing::warn!(job_id = %job.id, %error, "could not mark enqueued; the outbox will retry");
    }
    true
}

/// The job, if `owner` (None: an operator) may see it.
pub(crate) async fn load(
    state: &AppState,
    owner: Option<&ClientId>,
    job_id: &str,
) -> Result<JobRow, ApiError> {
    let not_found = || ApiError::new(ErrorCode::JobNotFound, "job not found");
    let id: Uuid = job_id.parse().map_err(|_| not_found())?;
    atelier_db::jobs::get(&state.pool, id)
        .await?
        .filter(|j| owner.is_none_or(|c| j.client_id == c.0))
        .ok_or_else(not_found)
}

/// What a client sees of a job: its status, and its result with every
/// stored object signed afresh.
pub(crate) async fn view(state: &AppState, job: JobRow) -> Result<JobView, ApiError> {
    let result = match job.result {
        Some(mut result) => {
            sign_objects(state, &mut result).await?;
            Some(result)
        }
        None => None,
    };
    let cost = match job.cost {
        Some(cost) => Some(serde_json::from_value(cost).map_err(ApiError::internal)?),
        None => None,
    };
    Ok(JobView {
        job_id: job.id,
        kind: job.kind,
        user_id: job.user_id,
        status: job.status,
        progress: job.progress,
        attempts: job.attempts,
        created_at: job.created_at,
        updated_at: job.updated_at,
        result,
        cost,
        error: job.error,
    })
}

/// Give every stored object in a result (an object with `key` and `format`)
/// a fresh signed `url`.
pub(crate) async fn sign_objects(state: &AppState, value: &mut Value) -> Result<(), ApiError> {
    match value {
        Value::Object(map) => {
            if let (Some(Value::String(key)), true) = (map.get("key"), map.contains_key("format")) {
                let url = state.storage.signed_url(key).await?;
                map.insert("url".into(), Value::String(url));
            }
            for v in map.values_mut() {
                Box::pin(sign_objects(state, v)).await?;
            }
        }
        Value::Array(items) => {
            for v in items {
                Box::pin(sign_objects(state, v)).await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Cancel a job: a waiting one ends `error` with `job.cancelled` now
/// ([`CancelState::Done`]); a running one is flagged and stops at its next
/// stage ([`CancelState::Requested`]); a final one cannot be.
pub(crate) async fn cancel(state: &AppState, job: JobRow) -> Result<CancelAnswer, ApiError> {
    let id = job.id;
    if job.status.is_final() {
        return Err(ApiError::new(
            ErrorCode::JobNotCancellable,
            format!("job is already {}", job.status),
        ));
    }
    let queue = state
        .queue(&job.queue)
        .ok_or_else(|| ApiError::internal(format!("job {id} names unknown queue {}", job.queue)))?;
    let outcome = queue
        .cancel(&id.to_string())
        .await
        .map_err(ApiError::queue_unavailable)?;
    if outcome == atelier_queue::CancelOutcome::Flagged {
        return Ok(CancelAnswer {
            job_id: id,
            status: JobStatus::Processing,
            cancel: CancelState::Requested,
        });
    }
    // Removed from the queue, or never pushed (the outbox skips non-queued rows).
    let error = ErrorBody::new(ErrorCode::JobCancelled, "cancelled by the client");
    end(state, &job, Ended::Error, error).await?;
    Ok(CancelAnswer {
        job_id: id,
        status: JobStatus::Error,
        cancel: CancelState::Done,
    })
}

/// End a job no run holds (a final row is left alone) and tell its user.
pub(crate) async fn end(
    state: &AppState,
    job: &JobRow,
    ended: Ended,
    error: ErrorBody,
) -> Result<(), atelier_db::DbError> {
    atelier_db::jobs::finish_failed(&state.pool, job.id, ended, &error).await?;
    publish_failed(state, job, ended, error).await;
    Ok(())
}

/// Tell a job's user it ended without a result.
pub(crate) async fn publish_failed(state: &AppState, job: &JobRow, ended: Ended, error: ErrorBody) {
    let audience = atelier_events::Audience::new(&job.client_id, &job.user_id);
    let data = atelier_jobs::event_data(&FailedData {
        status: ended.status(),
        error,
    });
    if let Err(error) = state
        .events
        .publish(&audience, EventType::JobFailed, job.id, data)
        .await
    {
        tracing::warn!(%error, "job.failed event not published");
    }
}

/// Dead jobs of `queue` run again with a fresh attempt budget: out of the
/// dead set first, then their rows reset (a worker that leases one in
/// between resets the row itself). The ids queued again.
pub(crate) async fn retry_dead(
    state: &AppState,
    queue: &atelier_queue::RedisQueue,
    which: atelier_queue::Dead<'_>,
) -> Result<Vec<String>, ApiError> {
    let retried = queue
        .dead_retry(which)
        .await
        .map_err(ApiError::queue_unavailable)?;
    let uuids: Vec<Uuid> = retried.iter().filter_map(|id| id.parse().ok()).collect();
    atelier_db::jobs::requeue_dead(&state.pool, &uuids).await?;
    Ok(retried)
}

/// Operators' search over every client's jobs, newest first, a page at a
/// time (`next_cursor` names the last row given).
pub(crate) async fn search(
    state: &AppState,
    query: crate::api::JobSearchQuery,
) -> Result<crate::api::JobList, ApiError> {
    let fragment =
        |name: &str, text: Option<&String>| -> Result<Option<serde_json::Value>, ApiError> {
            let Some(text) = text else { return Ok(None) };
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(value @ serde_json::Value::Object(_)) => Ok(Some(value)),
                _ => Err(ApiError::invalid(format!(
                    "{name}: a JSON object to look for"
                ))),
            }
        };
    let after = match &query.cursor {
        Some(cursor) => {
            Some(parse_cursor(cursor).ok_or_else(|| ApiError::invalid("cursor: not one of ours"))?)
        }
        None => None,
    };
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let search = atelier_db::jobs::JobSearch {
        kind: query.kind.map(|k| k.as_str().to_owned()),
        status: query.status.map(|s| s.as_str().to_owned()),
        client_id: query.client_id.clone(),
        user_id: query.user_id.clone(),
        error_code: query.error_code.clone(),
        flow_id: query.flow_id,
        created_after: query.created_after,
        created_before: query.created_before,
        input: fragment("input", query.input.as_ref())?,
        result: fragment("result", query.result.as_ref())?,
        after,
        // One more than a page: whether a next page exists.
        limit: limit as i64 + 1,
    };
    let mut rows = atelier_db::jobs::search(&state.pool, &search).await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = more
        .then(|| {
            rows.last()
                .map(|r| format!("{}_{}", r.created_at.timestamp_micros(), r.id))
        })
        .flatten();
    Ok(crate::api::JobList {
        jobs: rows
            .into_iter()
            .map(|r| crate::api::JobSummary {
                job_id: r.id,
                kind: r.kind,
                status: r.status,
                client_id: r.client_id,
                user_id: r.user_id,
                queue: r.queue,
                attempts: r.attempts,
                error_code: r.error.map(|e| e.code.as_str().to_owned()),
                flow_id: r.flow.map(|f| f.flow_id),
                created_at: r.created_at,
                finished_at: r.finished_at,
            })
            .collect(),
        next_cursor,
    })
}

/// A page's cursor: the last row's creation (microseconds) and id.
fn parse_cursor(cursor: &str) -> Option<(chrono::DateTime<chrono::Utc>, Uuid)> {
    let (micros, id) = cursor.split_once('_')?;
    Some((
        chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id.parse().ok()?,
    ))
}
