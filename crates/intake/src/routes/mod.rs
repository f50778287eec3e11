pub(crate) mod events;
pub(crate) mod jobs;
pub(crate) mod objects;
pub(crate) mod ops;
pub(crate) mod queues;
pub(crate) mod search;
pub(crate) mod uploads;

use std::time::Instant;

use atelier_jobs::ErrorCode;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Router, body::Bytes};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::auth::{require_api_key, require_operator_key};
use crate::error::ApiError;

pub(crate) fn router(state: AppState) -> Router {
    let upload_limit = state.config.intake.max_upload_bytes as usize;
    let json_limit = state.config.intake.max_json_bytes as usize;
    let api = Router::new()
        .route(
            "/v1/uploads",
            post(uploads::create).layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/v1/jobs",
            post(jobs::submit).layer(axum::extract::DefaultBodyLimit::max(json_limit)),
        )
        .route("/v1/jobs/{job_id}", get(jobs::show))
        .route(
            "/v1/tokens",
            post(events::issue_token).layer(axum::extract::DefaultBodyLimit::max(json_limit)),
        )
        .route("/v1/jobs/{job_id}/cancel", post(jobs::cancel))
        .route("/v1/search/similar", post(search::similar))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_api_key,
        ));
    let operator = Router::new()
        .route("/v1/queues", get(queues::list))
        .route("/v1/queues/{queue}", get(queues::show))
        .route("/v1/queues/{queue}/pause", post(queues::pause))
        .route("/v1/queues/{queue}/resume", post(queues::resume))
        .route("/v1/queues/{queue}/dead", get(queues::dead_list))
        .route("/v1/queues/{queue}/dead/retry", post(queues::dead_retry))
        .route("/v1/queues/{queue}/dead/purge", post(queues::dead_purge))
        .route("/v1/ops/jobs/{job_id}", get(jobs::operator_show))
        .route("/v1/ops/jobs/{job_id}/cancel", post(jobs::operator_cancel))
        .route("/v1/ops/health", get(ops::health))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_operator_key,
        ));
    let mut public = Router::new()
        .merge(api)
        .merge(operator)
        .merge(
            Router::new()
                .route("/v1/events", get(events::socket))
                .route("/objects/{*key}", get(objects::read))
                .route_layer(middleware::from_fn_with_state(
                    state.clone(),
                    crate::auth::limit_by_address,
                )),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/openapi.json", get(ops::openapi_json));
    if state.config.intake.metrics_listen.is_none() {
        public = public.route("/metrics", get(ops::metrics));
    }
    public
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), bound_request))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_request,
        ))
        .with_state(state)
}

/// The internal listener's routes (`intake.metrics_listen`): `/metrics`
/// and `/healthz`, nothing a client can reach.
pub(crate) fn internal_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(ops::metrics))
        .route("/healthz", get(ops::healthz))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::RouteNotFound, "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "method not allowed on this route",
    )
}

/// At most `intake.max_in_flight` requests at once (`503 intake.busy`
/// past it: shedding is cheaper than queueing when the process is full),
/// each answered within `intake.request_timeout` (`408 request.timeout`).
/// Probes and metrics are exempt: they must answer when the process is
/// busiest.
async fn bound_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    use axum::response::IntoResponse;
    let path = request.uri().path();
    if matches!(path, "/healthz" | "/readyz" | "/metrics" | "/openapi.json") {
        return next.run(request).await;
    }
    let Ok(_permit) = state.requests.clone().try_acquire_owned() else {
        return ApiError::busy("too many requests in flight").into_response();
    };
    let limit = state.config.intake.request_timeout.get();
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::timeout(format!(
            "the request was not complete within {} s",
            limit.as_secs()
        ))
        .into_response(),
    }
}

async fn record_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [
        ("method", method.as_str()),
        ("route", route.as_str()),
        ("status", status.as_str()),
    ];
    state.metrics.counter_add(
        "atelier_http_requests_total",
        "HTTP requests served, by route and status",
        &labels,
        1.0,
    );
    state.metrics.observe(
        "atelier_http_request_duration_seconds",
        "HTTP request latency",
        &[("route", route.as_str())],
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Parse a JSON body ourselves so every failure gets our error envelope:
/// 413 too large, 400 not JSON, 422 JSON of the wrong shape.
pub(crate) async fn json_body<T: DeserializeOwned>(
    request: axum::extract::Request,
    limit: usize,
) -> Result<T, ApiError> {
    let bytes = read_body(request, limit, ErrorCode::RequestTooLarge).await?;
    parse_json(&bytes)
}

/// A JSON body: `400 request.malformed_json` when it is not JSON, `422
/// request.invalid` when it is not what the route takes.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::RequestMalformedJson,
            format!("body is not valid JSON: {e}"),
        )
    })?;
    serde_json::from_value(value).map_err(|e| ApiError::invalid(e.to_string()))
}

/// A route's one path parameter as text. One that does not decode (not
/// UTF-8) names nothing, so the route answers its own 404 rather than
/// axum's plain-text 400 outside the contract.
pub(crate) struct PathText(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PathText {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let param = axum::extract::Path::<String>::from_request_parts(parts, state).await;
        Ok(PathText(param.map(|p| p.0).unwrap_or_default()))
    }
}

/// A query string's parameters, or `422 request.invalid` saying what is
/// wrong (axum's own rejection is a plain-text 400 outside the contract).
pub(crate) struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Params(q.0))
            .map_err(|e| ApiError::invalid(format!("query: {}", e.body_text())))
    }
}

/// A body declared (`Content-Length`) larger than `limit` bytes: refused
/// with `too_large` before a byte of it is read.
pub(crate) fn refuse_declared_over(
    request: &axum::extract::Request,
    limit: u64,
    too_large: ErrorCode,
) -> Result<(), ApiError> {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit => Err(too_large_error(limit, too_large)),
        _ => Ok(()),
    }
}

pub(crate) fn too_large_error(limit: u64, code: ErrorCode) -> ApiError {
    ApiError::new(code, format!("body is larger than {limit} bytes"))
}

pub(crate) async fn read_body(
    request: axum::extract::Request,
    limit: usize,
    too_large: ErrorCode,
) -> Result<Bytes, ApiError> {
    refuse_declared_over(&request, limit as u64, too_large)?;
    axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| too_large_error(limit as u64, too_large))
}
