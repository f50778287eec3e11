//! Operator routes: queue overview, pause/resume, dead letters.
use atelier_jobs::{ErrorCode, QueueMessage};
use atelier_queue::RedisQueue;
use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use atelier_queue::Dead;

use crate::AppState;
use crate::error::ApiError;

fn queue<'a>(state: &'a AppState, name: &str) -> Result<&'a RedisQueue, ApiError> {
    state.queue(name).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::QueueNotFound,
            format!("no queue named {name:?}"),
        )
    })
}

async fn overview(q: &RedisQueue) -> Result<Value, ApiError> {
    let stats = q.stats().await.map_err(ApiError::queue_unavailable)?;
    let paused = q.is_paused().await.map_err(ApiError::queue_unavailable)?;
    let spec = q.spec();
    let recommendation = stats.recommendation(spec);
    Ok(json!({
        "queue": spec.name,
        "priority": spec.priority,
        "kinds": spec.kinds,
        "paused": paused,
        "depth": stats.depth(),
        "ready": stats.ready,
        "scheduled": stats.scheduled,
        "in_flight": stats.in_flight,
        "dead": stats.dead,
        "oldest_age_seconds": stats.oldest_age_ms.map(|ms| ms as f64 / 1000.0),
        "live_workers": stats.live_workers,
        "service_time_seconds": stats.service_time_ms.map(|ms| ms / 1000.0),
        "recommended_workers": recommendation.workers,
        "recommendation": recommendation.reason,
        "totals": {
            "enqueued": stats.enqueued_total,
            "completed": stats.completed_total,
            "failed": stats.failed_total,
            "retried": stats.retried_total,
            "dead": stats.dead_total,
            "lease_expired": stats.lease_expired_total,
        },
        "config": {
            "concurrency": spec.concurrency,
            "prefetch": spec.prefetch,
            "max_attempts": spec.max_attempts,
            "lease_seconds": spec.lease.get().as_secs_f64(),
            "timeout_seconds": spec.timeout.get().as_secs_f64(),
            "scaling": spec.scaling,
        },
    }))
}

/// `GET /v1/queues`
pub(super) async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let mut out = Vec::new();
    for spec in &state.queues_config.queues {
        out.push(overview(&state.queues[&spec.name]).await?);
    }
    Ok(Json(json!({"queues": out})))
}

/// `GET /v1/queues/{queue}`
pub(super) async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(overview(queue(&state, &name)?).await?))
}

/// `POST /v1/queues/{queue}/pause`: running jobs finish, no new ones start.
pub(super) async fn pause(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let q = queue(&state, &name)?;
    q.pause().await.map_err(ApiError::queue_unavailable)?;
    tracing::info!(queue = name, "queue paused");
    Ok(Json(overview(q).await?))
}

/// `POST /v1/queues/{queue}/resume`
pub(super) async fn resume(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let q = queue(&state, &name)?;
    q.resume().await.map_err(ApiError::queue_unavailable)?;
    tracing::info!(queue = name, "queue resumed");
    Ok(Json(overview(q).await?))
}

#[derive(Deserialize)]
pub(super) struct Limit {
    limit: Option<usize>,
}

/// `GET /v1/queues/{queue}/dead?limit=N`: newest first, with the last error.
pub(super) async fn dead_list(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(limit): Query<Limit>,
) -> Result<Json<Value>, ApiError> {
    let q = queue(&state, &name)?;
    let entries = q
        .dead_list(limit.limit.unwrap_or(100).min(1000))
        .await
        .map_err(ApiError::queue_unavailable)?;
    let jobs: Vec<Value> = entries
        .into_iter()
        .map(|d| {
            let message: Option<QueueMessage> = serde_json::from_str(&d.payload).ok();
            json!({
                "job_id": d.id,
                "kind": message.map(|m| m.kind),
                "attempts": d.attempts,
                "last_error": d.last_error,
                "died_at": chrono::DateTime::from_timestamp_millis(d.died_at_ms as i64),
            })
        })
        .collect();
    Ok(Json(json!({"queue": name, "jobs": jobs})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Selection {
    /// The jobs to act on; an empty list is none.
    #[serde(default)]
    job_ids: Option<Vec<Uuid>>,
    /// Every dead job of the queue (never implied by a missing or empty
    /// list: one stray empty body must not retry or forget them all).
    #[serde(default)]
    all: bool,
}

/// The dead jobs a retry or purge acts on: `Some(ids)` (perhaps none) or
/// `None` for all of them.
async fn selection(state: &AppState, request: Request) -> Result<Option<Vec<String>>, ApiError> {
    let limit = state.config.intake.max_json_bytes as usize;
    let bytes = super::read_body(request, limit, ErrorCode::RequestTooLarge).await?;
    let invalid = ApiError::invalid;
    let selection: Selection = if bytes.is_empty() {
        Selection::default()
    } else {
        serde_json::from_slice(&bytes).map_err(|e| invalid(format!("body: {e}")))?
    };
    match (selection.job_ids, selection.all) {
        (Some(_), true) => Err(invalid("body: either job_ids or all, not both".into())),
        (Some(ids), false) => Ok(Some(ids.iter().map(Uuid::to_string).collect())),
        (None, true) => Ok(None),
        (None, false) => Err(invalid(
            "body: {\"job_ids\": [...]} for those jobs, or {\"all\": true} for every dead job"
                .into(),
        )),
    }
}

/// `POST /v1/queues/{queue}/dead/retry` `{"job_ids": [...]}` or `{"all": true}`
pub(super) async fn dead_retry(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let q = queue(&state, &name)?.clone();
    let ids = selection(&state, request).await?;
    let retried = q
        .dead_retry(ids.as_deref().map_or(Dead::All, Dead::Only))
        .await
        .map_err(ApiError::queue_unavailable)?;
    let uuids: Vec<Uuid> = retried.iter().filter_map(|id| id.parse().ok()).collect();
    atelier_db::jobs::requeue_dead(&state.pool, &uuids).await?;
    tracing::info!(
        queue = name,
        count = retried.len(),
        "dead jobs queued again"
    );
    Ok(Json(json!({"queue": name, "retried": retried})))
}

/// `POST /v1/queues/{queue}/dead/purge` `{"job_ids": [...]}` or
/// `{"all": true}`: the jobs leave
/// the dead set; their rows stay, status `dead`.
pub(super) async fn dead_purge(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let q = queue(&state, &name)?.clone();
    let ids = selection(&state, request).await?;
    let purged = q
        .dead_purge(ids.as_deref().map_or(Dead::All, Dead::Only))
        .await
        .map_err(ApiError::queue_unavailable)?;
    tracing::info!(queue = name, count = purged.len(), "dead jobs purged");
    Ok(Json(json!({"queue": name, "purged": purged})))
}
