use atelier_db::{JobRow, NewJob, Submission};
use atelier_jobs::{
    CONTRACT_VERSION, ErrorBody, ErrorCode, JobKind, JobSpec, JobStatus, validate_user_id,
};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::PathText;
use crate::AppState;
use crate::api::{
    CancelAnswer, CancelState, ErrorResponse, JobAccepted, JobSubmission, JobView, JobViewSchema,
    OperatorJobView, OperatorJobViewSchema, SubmitRequest,
};
use crate::auth::ClientId;
use crate::error::ApiError;

/// `POST /v1/jobs`: validate, record, enqueue.
#[utoipa::path(post, path = "/v1/jobs", operation_id = "submitJob", tag = "jobs",
    security(("api_key" = [])),
    request_body = JobSubmission,
    responses(
        (status = 202, description = "Recorded and queued (or, for a repeated idempotency key, \
            the first call's job with its current status)", body = JobAccepted),
        (status = 409, description = "`job.idempotency_conflict`", body = ErrorResponse),
        (status = 422, description = "`request.invalid`, `job.unknown_kind`, `upload.not_found`", body = ErrorResponse),
        (status = 429, description = "`quota.exceeded`", body = ErrorResponse),
        (status = 501, description = "`job.kind_not_available`", body = ErrorResponse),
        (status = 503, description = "`database.unavailable`", body = ErrorResponse),
    ))]
pub(crate) async fn submit(
    State(state): State<AppState>,
    Extension(client): Extension<ClientId>,
    request: Request,
) -> Result<(StatusCode, Json<JobAccepted>), ApiError> {
    let limit = state.config.intake.max_json_bytes as usize;
    let req: SubmitRequest = super::json_body(request, limit).await?;

    let kind: JobKind = req
        .kind
        .parse()
        .ok()
        // Test-only kinds do not exist unless the deployment says so.
        .filter(|k: &JobKind| !k.is_test() || state.config.intake.test_kinds)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::JobUnknownKind,
                format!("unknown job kind {:?}", req.kind),
            )
        })?;
    validate_user_id(&req.user_id).map_err(|e| ApiError::invalid(e.message))?;
    if let Some(key) = &req.idempotency_key
        && !(1..=255).contains(&key.len())
    {
        return Err(ApiError::invalid("idempotency_key: 1-255 characters"));
    }
    let priority = req.priority.unwrap_or(5);
    if priority > 9 {
        return Err(ApiError::invalid("priority: 0-9"));
    }
    let notify_email = req.notify.as_ref().map(|n| n.email.as_str());
    if let Some(email) = notify_email {
        atelier_jobs::validate_email(email)
            .map_err(|e| ApiError::invalid(format!("notify.email: {}", e.message)))?;
        if kind == JobKind::NotifyEmail {
            return Err(ApiError::invalid(
                "notify: a notify.email job cannot itself be notified",
            ));
        }
    }
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
    if !kind.has_handler() {
        return Err(ApiError::new(
            ErrorCode::JobKindNotAvailable,
            format!("job kind {kind} is defined but no worker runs it in this release"),
        ));
    }
    for upload_id in spec.upload_ids() {
        let upload = atelier_db::uploads::get(&state.pool, upload_id).await?;
        let owned = upload.is_some_and(|u| u.client_id == client.0 && u.user_id == req.user_id);
        if !owned {
            return Err(ApiError::new(
                ErrorCode::UploadNotFound,
                format!("upload {upload_id} not found for this user"),
            ));
        }
    }
    // Ids the job will write under are fixed now, so every run writes the same keys.
    match &mut spec {
        JobSpec::PhotoIngest(input) => {
            input.avatar_id.get_or_insert_with(Uuid::new_v4);
        }
        JobSpec::Export(input) => {
            input.export_id.get_or_insert_with(Uuid::new_v4);
        }
        JobSpec::AvatarBuild(input) => {
            input.avatar_id.get_or_insert_with(Uuid::new_v4);
        }
        _ => {}
    }

    let queue = state
        .queues_config
        .find_for_kind(kind)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::JobKindNotAvailable,
                format!("no queue in queues.toml carries job kind {kind}"),
            )
        })?
        .name
        .clone();
    let notify_queue = match notify_email {
        Some(_) => Some(
            state
                .queues_config
                .find_for_kind(JobKind::NotifyEmail)
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::JobKindNotAvailable,
                        "no queue in queues.toml carries notify.email",
                    )
                })?
                .name
                .clone(),
        ),
        None => None,
    };
    let submission = atelier_db::jobs::submit(
        &state.pool,
        NewJob {
            id: Uuid::new_v4(),
            kind: kind.as_str(),
            contract_version: CONTRACT_VERSION as i32,
            queue: &queue,
            client_id: &client.0,
            user_id: &req.user_id,
            priority: i16::from(priority),
            idempotency_key: req.idempotency_key.as_deref(),
            request_hash: &request_hash,
            input: spec.to_json(),
            notify: notify_email.zip(notify_queue.as_deref()),
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
        Submission::Existing(job) => {
            if job.request_hash != request_hash {
                return Err(ApiError::new(
                    ErrorCode::JobIdempotencyConflict,
                    "idempotency_key was already used for a different request",
                ));
            }
            // The same answer as the first time, with the job's current status.
            let status = JobStatus::parse(&job.status).ok_or_else(|| {
                ApiError::internal(format!("job {} has status {}", job.id, job.status))
            })?;
            return Ok((
                StatusCode::ACCEPTED,
                Json(JobAccepted {
                    job_id: job.id,
                    status,
                }),
            ));
        }
    };
    crate::submit::enqueue(&state, &job).await;
    state.metrics.counter_add(
        "atelier_jobs_submitted_total",
        "Jobs accepted at intake, by kind",
        &[("kind", kind.as_str())],
        1.0,
    );
    tracing::info!(job_id = %job.id, %kind, queue, user_id = job.user_id, "job accepted");
    Ok((
        StatusCode::ACCEPTED,
        Json(JobAccepted {
            job_id: job.id,
            status: JobStatus::Queued,
        }),
    ))
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

/// `GET /v1/jobs/{job_id}`: status, and the result with signed URLs.
#[utoipa::path(get, path = "/v1/jobs/{job_id}", operation_id = "getJob", tag = "jobs",
    security(("api_key" = [])),
    params(("job_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The job; its result follows its kind's schema", body = JobViewSchema),
        (status = 404, description = "`job.not_found` (also another client's job)", body = ErrorResponse),
        (status = 503, description = "`database.unavailable`, `storage.unavailable`", body = ErrorResponse),
    ))]
pub(crate) async fn show(
    State(state): State<AppState>,
    Extension(client): Extension<ClientId>,
    PathText(job_id): PathText,
) -> Result<Json<JobView>, ApiError> {
    let job = load(&state, Some(&client), &job_id).await?;
    Ok(Json(job_view(&state, job).await?))
}

/// `GET /v1/ops/jobs/{job_id}`: any client's job, for operators.
#[utoipa::path(get, path = "/v1/ops/jobs/{job_id}", operation_id = "getAnyJob", tag = "operators",
    security(("operator_key" = [])),
    params(("job_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The job, its client and queue", body = OperatorJobViewSchema),
        (status = 404, description = "`job.not_found`", body = ErrorResponse),
        (status = 503, description = "`database.unavailable`, `storage.unavailable`", body = ErrorResponse),
    ))]
pub(crate) async fn operator_show(
    State(state): State<AppState>,
    PathText(job_id): PathText,
) -> Result<Json<OperatorJobView>, ApiError> {
    let job = load(&state, None, &job_id).await?;
    let (client_id, queue) = (job.client_id.clone(), job.queue.clone());
    Ok(Json(OperatorJobView {
        view: job_view(&state, job).await?,
        client_id,
        queue,
    }))
}

async fn job_view(state: &AppState, job: JobRow) -> Result<JobView, ApiError> {
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
    let error = job.error_code.map(|code| ErrorBody {
        code,
        message: job.error_message.unwrap_or_default(),
    });
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
        error,
    })
}

/// Give every stored object in a result (an object with `key` and `format`)
/// a fresh signed `url`.
async fn sign_objects(state: &AppState, value: &mut Value) -> Result<(), ApiError> {
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

/// What either cancel route answers.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // The document's, never built.
enum CancelResponses {
    /// A waiting job: cancelled now, `error` with `job.cancelled`
    #[response(status = 200)]
    Done(CancelAnswer),
    /// A running job: it stops at its next stage
    #[response(status = 202)]
    Requested(CancelAnswer),
    /// `job.not_found`
    #[response(status = 404)]
    NotFound(ErrorResponse),
    /// `job.not_cancellable`: already finished
    #[response(status = 409)]
    Finished(ErrorResponse),
    /// `queue.unavailable`, `database.unavailable`
    #[response(status = 503)]
    Unavailable(ErrorResponse),
}

/// `POST /v1/jobs/{job_id}/cancel`: a waiting job ends `error` with
/// `job.cancelled` now; a running one stops at its next progress report.
#[utoipa::path(post, path = "/v1/jobs/{job_id}/cancel", operation_id = "cancelJob", tag = "jobs",
    security(("api_key" = [])),
    params(("job_id" = Uuid, Path)),
    responses(CancelResponses))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    Extension(client): Extension<ClientId>,
    PathText(job_id): PathText,
) -> Result<(StatusCode, Json<CancelAnswer>), ApiError> {
    let job = load(&state, Some(&client), &job_id).await?;
    cancel_job(&state, job).await
}

/// `POST /v1/ops/jobs/{job_id}/cancel`: the same, for operators.
#[utoipa::path(post, path = "/v1/ops/jobs/{job_id}/cancel", operation_id = "cancelAnyJob", tag = "operators",
    security(("operator_key" = [])),
    params(("job_id" = Uuid, Path)),
    responses(CancelResponses))]
pub(crate) async fn operator_cancel(
    State(state): State<AppState>,
    PathText(job_id): PathText,
) -> Result<(StatusCode, Json<CancelAnswer>), ApiError> {
    let job = load(&state, None, &job_id).await?;
    cancel_job(&state, job).await
}

async fn cancel_job(
    state: &AppState,
    job: JobRow,
) -> Result<(StatusCode, Json<CancelAnswer>), ApiError> {
    let id = job.id;
    if matches!(job.status.as_str(), "complete" | "error" | "dead") {
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
        return Ok((
            StatusCode::ACCEPTED,
            Json(CancelAnswer {
                job_id: id,
                status: JobStatus::Processing,
                cancel: CancelState::Requested,
            }),
        ));
    }
    // Removed from the queue, or never pushed (the outbox skips non-queued rows).
    atelier_db::jobs::finish_failed(
        &state.pool,
        id,
        "error",
        ErrorCode::JobCancelled.as_str(),
        "cancelled by the client",
    )
    .await?;
    let audience = atelier_events::Audience::new(&job.client_id, &job.user_id);
    let data = atelier_jobs::event_data(&atelier_jobs::FailedData {
        status: JobStatus::Error,
        error: ErrorBody::new(ErrorCode::JobCancelled, "cancelled by the client"),
    });
    if let Err(error) = state
        .events
        .publish(&audience, atelier_jobs::EventType::JobFailed, id, data)
        .await
    {
        tracing::warn!(%error, "cancel event not published");
    }
    Ok((
        StatusCode::OK,
        Json(CancelAnswer {
            job_id: id,
            status: JobStatus::Error,
            cancel: CancelState::Done,
        }),
    ))
}
