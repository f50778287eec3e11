//! Jobs over HTTP: submit, show and cancel a client's own, and any
//! client's for operators, who also search them. Each handler parses, calls the jobs service
//! (`crate::jobs`) and answers.
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use utoipa_axum::routes;

use crate::api::{
    CancelAnswer, CancelState, ErrorResponse, JobAccepted, JobList, JobSearchQuery, JobSubmission,
    JobView, JobViewSchema, OperatorJobView, OperatorJobViewSchema, SubmitRequest,
};
use crate::auth::ClientId;
use crate::error::ApiError;
use crate::extract::{Params, PathText, json_body};
use crate::jobs;
use crate::route::{Access, Route};
use crate::state::AppState;

/// `POST /v1/jobs`: validate, record, enqueue.
#[utoipa::path(post, path = "/v1/jobs", operation_id = "submitJob", tag = "jobs",
    security(("api_key" = [])),
    request_body = JobSubmission,
    responses(
        (status = 202, description = "Recorded and queued (or, for a repeated idempotency key, \
            the first call's job with its current status)", body = JobAccepted),
        (status = 409, description = "`job.idempotency_conflict`", body = ErrorResponse),
        (status = 422, description = "`request.invalid`, `job.unknown_kind`, `upload.not_found`, `source.not_found` (a design item's stored source no completed job of the user wrote)", body = ErrorResponse),
        (status = 429, description = "`quota.exceeded`", body = ErrorResponse),
        (status = 501, description = "`job.kind_not_available`", body = ErrorResponse),
        (status = 503, description = "`database.unavailable`", body = ErrorResponse),
    ))]
async fn submit(
    State(state): State<AppState>,
    Extension(client): Extension<ClientId>,
    request: Request,
) -> Result<(StatusCode, Json<JobAccepted>), ApiError> {
    let limit = state.config.intake.max_json_bytes as usize;
    let req: SubmitRequest = json_body(request, limit).await?;
    let accepted = jobs::submit(&state, &client, req).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
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
async fn show(
    State(state): State<AppState>,
    Extension(client): Extension<ClientId>,
    PathText(job_id): PathText,
) -> Result<Json<JobView>, ApiError> {
    let job = jobs::load(&state, Some(&client), &job_id).await?;
    Ok(Json(jobs::view(&state, job).await?))
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
async fn operator_show(
    State(state): State<AppState>,
    PathText(job_id): PathText,
) -> Result<Json<OperatorJobView>, ApiError> {
    let job = jobs::load(&state, None, &job_id).await?;
    let (client_id, queue) = (job.client_id.clone(), job.queue.clone());
    Ok(Json(OperatorJobView {
        view: jobs::view(&state, job).await?,
        client_id,
        queue,
    }))
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
async fn cancel(
    State(state): State<AppState>,
    Extension(client): Extension<ClientId>,
    PathText(job_id): PathText,
) -> Result<(StatusCode, Json<CancelAnswer>), ApiError> {
    let job = jobs::load(&state, Some(&client), &job_id).await?;
    cancelled(jobs::cancel(&state, job).await?)
}

/// `POST /v1/ops/jobs/{job_id}/cancel`: the same, for operators.
#[utoipa::path(post, path = "/v1/ops/jobs/{job_id}/cancel", operation_id = "cancelAnyJob", tag = "operators",
    security(("operator_key" = [])),
    params(("job_id" = Uuid, Path)),
    responses(CancelResponses))]
async fn operator_cancel(
    State(state): State<AppState>,
    PathText(job_id): PathText,
) -> Result<(StatusCode, Json<CancelAnswer>), ApiError> {
    let job = jobs::load(&state, None, &job_id).await?;
    cancelled(jobs::cancel(&state, job).await?)
}

/// `200` when the job ended now, `202` when it stops at its next stage.
fn cancelled(answer: CancelAnswer) -> Result<(StatusCode, Json<CancelAnswer>), ApiError> {
    let status = match answer.cancel {
        CancelState::Done => StatusCode::OK,
        CancelState::Requested => StatusCode::ACCEPTED,
    };
    Ok((status, Json(answer)))
}

/// `GET /v1/ops/jobs`: any client's jobs, newest first, by any mix of
/// filters, a page at a time.
#[utoipa::path(get, path = "/v1/ops/jobs", operation_id = "searchJobs", tag = "operators",
    security(("operator_key" = [])),
    params(JobSearchQuery),
    responses(
        (status = 200, description = "The page, newest first; `next_cursor` when more may follow", body = JobList),
        (status = 422, description = "`request.invalid`: a malformed query (an unknown kind or \
            status, `input`/`result` not a JSON object, a cursor not ours)", body = ErrorResponse),
        (status = 503, description = "`database.unavailable`", body = ErrorResponse),
    ))]
async fn operator_search(
    State(state): State<AppState>,
    Params(query): Params<JobSearchQuery>,
) -> Result<Json<JobList>, ApiError> {
    Ok(Json(jobs::search(&state, query).await?))
}

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new(Access::Client, routes!(submit)),
        Route::new(Access::Client, routes!(show)),
        Route::new(Access::Client, routes!(cancel)),
        Route::new(Access::Operator, routes!(operator_search)),
        Route::new(Access::Operator, routes!(operator_show)),
        Route::new(Access::Operator, routes!(operator_cancel)),
    ]
}
