//! Operator routes: queue overview and history, pause/resume, dead letters.
use atelier_jobs::{ErrorCode, QueueMessage};
use atelier_queue::RedisQueue;
use axum::Json;
use axum::extract::{Request, State};
use serde::Deserialize;
use uuid::Uuid;

use atelier_queue::Dead;

use utoipa_axum::routes;

use crate::api::{
    DeadJob, DeadList, DeadPurged, DeadRetried, DeadSelection, ErrorResponse, QueueList,
    QueueOverview, QueueSettings, QueueTotals,
};
use crate::error::ApiError;
use crate::extract::{Params, PathText, parse_json, read_body};
use crate::route::{Access, Route};
use crate::state::AppState;

pub(crate) fn queue<'a>(state: &'a AppState, name: &str) -> Result<&'a RedisQueue, ApiError> {
    state
        .queue(name)
        .ok_or_else(|| ApiError::new(ErrorCode::QueueNotFound, format!("no queue named {name:?}")))
}

pub(crate) async fn overview(q: &RedisQueue) -> Result<QueueOverview, ApiError> {
    let stats = q.stats().await.map_err(ApiError::queue_unavailable)?;
    let paused = q.is_paused().await.map_err(ApiError::queue_unavailable)?;
    let spec = q.spec();
    let recommendation = stats.recommendation(spec);
    Ok(QueueOverview {
        queue: spec.name.clone(),
        priority: spec.priority,
        kinds: spec.kinds.clone(),
        paused,
        depth: stats.depth(),
        ready: stats.ready,
        scheduled: stats.scheduled,
        in_flight: stats.in_flight,
        dead: stats.dead,
        oldest_age_seconds: stats.oldest_age_ms.map(|ms| ms as f64 / 1000.0),
        live_workers: stats.live_workers,
        service_time_seconds: stats.service_time_ms.map(|ms| ms / 1000.0),
        recommended_workers: recommendation.workers,
        recommendation: recommendation.reason,
        totals: QueueTotals {
            enqueued: stats.enqueued_total,
            completed: stats.completed_total,
            failed: stats.failed_total,
            retried: stats.retried_total,
            dead: stats.dead_total,
            lease_expired: stats.lease_expired_total,
        },
        config: QueueSettings {
            concurrency: spec.concurrency,
            prefetch: spec.prefetch,
            max_attempts: spec.max_attempts,
            lease_seconds: spec.lease.get().as_secs_f64(),
            timeout_seconds: spec.timeout.get().as_secs_f64(),
            scaling: spec.scaling.clone(),
        },
    })
}

/// `GET /v1/queues`
#[utoipa::path(get, path = "/v1/queues", operation_id = "listQueues", tag = "operators",
    security(("operator_key" = [])),
    responses(
        (status = 200, description = "Every queue, in descending priority", body = QueueList),
        (status = 503, description = "`queue.unavailable`", body = ErrorResponse),
    ))]
async fn list(State(state): State<AppState>) -> Result<Json<QueueList>, ApiError> {
    let mut queues = Vec::new();
    for spec in &state.queues_config.queues {
        queues.push(overview(&state.queues[&spec.name]).await?);
    }
    Ok(Json(QueueList { queues }))
}

/// `GET /v1/queues/{queue}`
#[utoipa::path(get, path = "/v1/queues/{queue}", operation_id = "getQueue", tag = "operators",
    security(("operator_key" = [])),
    params(("queue" = String, Path)),
    responses(
        (status = 200, description = "The queue", body = QueueOverview),
        (status = 404, description = "`queue.not_found`", body = ErrorResponse),
        (status = 503, description = "`queue.unavailable`", body = ErrorResponse),
    ))]
async fn show(
    State(state): State<AppState>,
    PathText(name): PathText,
) -> Result<Json<QueueOverview>, ApiError> {
    Ok(Json(overview(queue(&state, &name)?).await?))
}

/// `POST /v1/queues/{queue}/pause`: running jobs finish, no new ones start.
#[utoipa::path(post, path = "/v1/queues/{queue}/pause", operation_id = "pauseQueue", tag = "operators",
    security(("operator_key" = [])),
    params(("queue" = String, Path)),
    responses(
        (status = 200, description = "Paused: running jobs finish, no new ones start", body = QueueOverview),
        (status = 404, description = "`queue.not_found`", body = ErrorResponse),
        (status = 503, description = "`queue.unavailable`", body = ErrorResponse),
    ))]
async fn pause(
    State(state): State<AppState>,
    PathText(name): PathText,
) -> Result<Json<QueueOverview>, ApiError> {
    let q = queue(&state, &name)?;
    q.pause().await.map_err(ApiError::queue_unavailable)?;
    tracing::info!(queue = name, "queue paused");
    Ok(Json(overview(q).await?))
}

/// `POST /v1/queues/{queue}/resume`
#[utoipa::path(post, path = "/v1/queues/{queue}/resume", operation_id = "resumeQueue", tag = "operators",
    security(("operator_key" = [])),
    params(("queue" = String, Path)),
    responses(
        (status = 200, description = "Resumed", body = QueueOverview),
        (status = 404, description = "`queue.not_found`", body = ErrorResponse),
        (status = 503, description = "`queue.unavailable`", body = ErrorResponse),
    ))]
async fn resume(
    State(state): State<AppState>,
    PathText(name): PathText,
) -> Result<Json<QueueOverview>, ApiError> {
    let q = queue(&state, &name)?;
    q.resume().await.map_err(ApiError::queue_unavailable)?;
    tracing::info!(queue = name, "queue resumed");
    Ok(Json(overview(q).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Limit {
    /// At most this many (default 100, at most 1,000).
    limit: Option<usize>,
}

/// `GET /v1/queues/{queue}/dead?limit=N`: newest first, with the last error.
#[utoipa::path(get, path = "/v1/queues/{queue}/dead", operation_id = "listDeadJobs", tag = "operators",
    security(("operator_key" = [])),
    params(("queue" = String, Path), Limit),
    responses(
        (status = 200, description = "Dead jobs, newest first", body = DeadList),
        (status = 404, description = "`queue.not_found`", body = ErrorResponse),
        (status = 422, description = "`request.invalid`: a malformed query (`limit`)", body = ErrorResponse),
        (status = 503, description = "`queue.unavailable`", body = ErrorResponse),
    ))]
async fn dead_list(
    State(state): State<AppState>,
    PathText(name): PathText,
    Params(limit): Params<Limit>,
) -> Result<Json<DeadList>, ApiError> {
    let q = queue(&state, &name)?;
    let entries = q
        .dead_list(limit.limit.unwrap_or(100).min(1000))
        .await
        .map_err(ApiError::queue_unavailable)?;
    let jobs = entries
        .into_iter()
        .map(|d| {
            let message: Option<QueueMessage> = serde_json::from_str(&d.payload).ok();
            DeadJob {
                job_id: d.id,
                kind: message.map(|m| m.kind),
                attempts: d.attempts,
                last_error: d.last_error,
                died_at: chrono::DateTime::from_timestamp_millis(d.died_at_ms as i64),
            }
        })
        .collect();
    Ok(Json(DeadList { queue: name, jobs }))
}

/// The dead jobs a retry or purge acts on: `Some(ids)` (perhaps none) or
/// `None` for all of them.
async fn selection(state: &AppState, request: Request) -> Result<Option<Vec<String>>, ApiError> {
    let limit = state.config.intake.max_json_bytes as usize;
    let bytes = read_body(request, limit, ErrorCode::RequestTooLarge).await?;
    // No body is no selection (refused below, never "all").
    let selection: DeadSelection = if bytes.is_empty() {
        DeadSelection::default()
    } else {
        parse_json(&bytes)?
    };
    match (selection.job_ids, selection.all) {
        (Some(_), true) => Err(ApiError::invalid("body: either job_ids or all, not both")),
        (Some(ids), false) => Ok(Some(ids.iter().map(Uuid::to_string).collect())),
        (None, true) => Ok(None),
        (None, false) => Err(ApiError::invalid(
            "body: {\"job_ids\": [...]} for those jobs, or {\"all\": true} for every dead job",
        )),
    }
}

/// `POST /v1/queues/{queue}/dead/retry` `{"job_ids": [...]}` or `{"all": true}`
#[utoipa::path(post, path = "/v1/queues/{queue}/dead/retry", operation_id = "retryDeadJobs", tag = "operators",
    security(("operator_key" = [])),
    params(("queue" = String, Path)),
    request_body = DeadSelection,
    responses(
        (status = 200, description = "Queued again with a fresh attempt budget", body = DeadRetried),
        (status = 404, description = "`queue.not_found`", body = ErrorResponse),
        (status = 422, description = "`request.invalid`: an empty body, or both `job_ids` and `all`", body = ErrorResponse),
        (status = 503, description = "`queue.unavailable`, `database.unavailable`", body = ErrorResponse),
    ))]
async fn dead_retry(
    State(state): State<AppState>,
    PathText(name): PathText,
    request: Request,
) -> Result<Json<DeadRetried>, ApiError> {
    let q = queue(&state, &name)?.clone();
    let ids = selection(&state, request).await?;
    let retried =
        crate::jobs::retry_dead(&state, &q, ids.as_deref().map_or(Dead::All, Dead::Only)).await?;
    tracing::info!(
        queue = name,
        count = retried.len(),
        "dead jobs queued again"
    );
    Ok(Json(DeadRetried {
        queue: name,
        retried,
    }))
}

/// `POST /v1/queues/{queue}/dead/purge` `{"job_ids": [...]}` or
/// `{"all": true}`: the jobs leave
/// the dead set; their rows stay, status `dead`.
#[utoipa::path(post, path = "/v1/queues/{queue}/dead/purge", operation_id = "purgeDeadJobs", tag = "operators",
    security(("operator_key" = [])),
    params(("queue" = String, Path)),
    request_body = DeadSelection,
    responses(
        (status = 200, description = "Forgotten (their rows stay `dead`)", body = DeadPurged),
        (status = 404, description = "`queue.not_found`", body = ErrorResponse),
        (status = 422, description = "`request.invalid`: an empty body, or both `job_ids` and `all`", body = ErrorResponse),
        (status = 503, description = "`queue.unavailable`, `database.unavailable`", body = ErrorResponse),
    ))]
async fn dead_purge(
    State(state): State<AppState>,
    PathText(name): PathText,
    request: Request,
) -> Result<Json<DeadPurged>, ApiError> {
    let q = queue(&state, &name)?.clone();
    let ids = selection(&state, request).await?;
    let purged = q
        .dead_purge(ids.as_deref().map_or(Dead::All, Dead::Only))
        .await
        .map_err(ApiError::queue_unavailable)?;
    tracing::info!(queue = name, count = purged.len(), "dead jobs purged");
    Ok(Json(DeadPurged {
        queue: name,
        purged,
    }))
}

/// `GET /v1/queues/{queue}/history`: the queue's samples, oldest first.
#[utoipa::path(get, path = "/v1/queues/{queue}/history", operation_id = "queueHistory", tag = "operators",
    security(("operator_key" = [])),
    params(("queue" = String, Path), crate::api::HistoryQuery),
    responses(
        (status = 200, description = "Samples since `since` (default: the last 24 hours), oldest \
            first, with completions and failures per minute since the sample before", body = crate::api::QueueHistory),
        (status = 404, description = "`queue.not_found`", body = ErrorResponse),
        (status = 422, description = "`request.invalid`: a malformed query (`since`)", body = ErrorResponse),
        (status = 503, description = "`database.unavailable`", body = ErrorResponse),
    ))]
async fn history(
    State(state): State<AppState>,
    PathText(name): PathText,
    Params(query): Params<crate::api::HistoryQuery>,
) -> Result<Json<crate::api::QueueHistory>, ApiError> {
    Ok(Json(
        crate::history::history(&state, &name, query.since).await?,
    ))
}

pub(crate) fn routes() -> Vec<Route> {
    [
        routes!(list),
        routes!(show),
        routes!(history),
        routes!(pause),
        routes!(resume),
        routes!(dead_list),
        routes!(dead_retry),
        routes!(dead_purge),
    ]
    .into_iter()
    .map(|operation| Route::new(Access::Operator, operation))
    .collect()
}
