//! Flows over HTTP: submit one, list, show, cancel and retry a client's
//! own; operators the same for any client's (`/v1/ops/flows`). Each
//! handler parses, calls the flows service (`crate::flows`) and answers.
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use utoipa_axum::routes;

use crate::api::{
    ErrorResponse, FlowAccepted, FlowCancelAnswer, FlowList, FlowListQuery, FlowRequest,
    FlowRetryAnswer, FlowRetryRequest, FlowView,
};
use crate::auth::ClientId;
use crate::error::ApiError;
use crate::extract::{Params, PathText, json_body};
use crate::flows;
use crate::route::{Access, Route};
use crate::state::AppState;

/// `POST /v1/flows`: check the DAG, record it in one transaction, queue
/// the nodes that depend on nothing.
#[utoipa::path(post, path = "/v1/flows", operation_id = "submitFlow", tag = "flows",
    security(("api_key" = [])),
    request_body = FlowRequest,
    responses(
        (status = 202, description = "Recorded; the nodes that depend on nothing are queued \
            (or, for a repeated idempotency key, the first call's flow)", body = FlowAccepted),
        (status = 409, description = "`job.idempotency_conflict`", body = ErrorResponse),
        (status = 422, description = "`request.invalid` (a cycle, named; an unknown dependency \
            or kind; too many nodes; an input or reference that does not fit), \
            `job.unknown_kind`, `upload.not_found`, `source.not_found`", body = ErrorResponse),
        (status = 501, description = "`job.kind_not_available`", body = ErrorResponse),
        (status = 503, description = "`database.unavailable`", body = ErrorResponse),
    ))]
async fn submit(
    State(state): State<AppState>,
    Extension(client): Extension<ClientId>,
    request: Request,
) -> Result<(StatusCode, Json<FlowAccepted>), ApiError> {
    let limit = state.config.intake.max_json_bytes as usize;
    let req: FlowRequest = json_body(request, limit).await?;
    let accepted = flows::submit(&state, &client, req).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

/// `GET /v1/flows/{flow_id}`: the flow and every node.
#[utoipa::path(get, path = "/v1/flows/{flow_id}", operation_id = "getFlow", tag = "flows",
    security(("api_key" = [])),
    params(("flow_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The flow, every node's status, attempts, timings, input \
            as it ran and result", body = FlowView),
        (status = 404, description = "`flow.not_found` (also another client's flow)", body = ErrorResponse),
        (status = 503, description = "`database.unavailable`, `storage.unavailable`", body = ErrorResponse),
    ))]
async fn show(
    State(state): State<AppState>,
    Extension(client): Extension<ClientId>,
    PathText(flow_id): PathText,
) -> Result<Json<FlowView>, ApiError> {
    let (flow, nodes) = flows::load(&state, Some(&client), &flow_id).await?;
    Ok(Json(flows::view(&state, flow, nodes).await?))
}

/// `POST /v1/flows/{flow_id}/cancel`: the flow is `cancelled` now; its
/// waiting and queued nodes end at once, its running ones at their next
/// stage.
#[utoipa::path(post, path = "/v1/flows/{flow_id}/cancel", operation_id = "cancelFlow", tag = "flows",
    security(("api_key" = [])),
    params(("flow_id" = Uuid, Path)),
    responses(
        (status = 200, description = "Cancelled: the nodes ended now and those stopping", body = FlowCancelAnswer),
        (status = 404, description = "`flow.not_found` (also another client's flow)", body = ErrorResponse),
        (status = 409, description = "`flow.not_cancellable`: the flow has already ended", body = ErrorResponse),
        (status = 503, description = "`database.unavailable`", body = ErrorResponse),
    ))]
async fn cancel(
    State(state): State<AppState>,
    Extension(client): Extension<ClientId>,
    PathText(flow_id): PathText,
) -> Result<Json<FlowCancelAnswer>, ApiError> {
    let (flow, _) = flows::load(&state, Some(&client), &flow_id).await?;
    Ok(Json(flows::cancel(&state, flow).await?))
}

/// `POST /v1/flows/{flow_id}/retry`: run an ended flow's failed nodes
/// (`failed_only`), those and what came after them
/// (`failed_and_downstream`), or every node (`all`) again.
#[utoipa::path(post, path = "/v1/flows/{flow_id}/retry", operation_id = "retryFlow", tag = "flows",
    security(("api_key" = [])),
    params(("flow_id" = Uuid, Path)),
    request_body = FlowRetryRequest,
    responses(
        (status = 200, description = "The nodes retried; the flow runs again", body = FlowRetryAnswer),
        (status = 404, description = "`flow.not_found` (also another client's flow)", body = ErrorResponse),
        (status = 409, description = "`flow.running`: the flow has not ended", body = ErrorResponse),
        (status = 422, description = "`request.invalid`: an unknown mode", body = ErrorResponse),
        (status = 503, description = "`database.unavailable`, `queue.unavailable`", body = ErrorResponse),
    ))]
async fn retry(
    State(state): State<AppState>,
    Extension(client): Extension<ClientId>,
    PathText(flow_id): PathText,
    request: Request,
) -> Result<Json<FlowRetryAnswer>, ApiError> {
    let limit = state.config.intake.max_json_bytes as usize;
    let req: FlowRetryRequest = json_body(request, limit).await?;
    let (flow, nodes) = flows::load(&state, Some(&client), &flow_id).await?;
    Ok(Json(flows::retry(&state, flow, nodes, req.mode).await?))
}

/// `GET /v1/flows`: the client's flows, newest first.
#[utoipa::path(get, path = "/v1/flows", operation_id = "listFlows", tag = "flows",
    security(("api_key" = [])),
    params(FlowListQuery),
    responses(
        (status = 200, description = "The client's flows, newest first", body = FlowList),
        (status = 422, description = "`request.invalid`: a malformed query (or `client_id`, \
            which only operators give)", body = ErrorResponse),
        (status = 503, description = "`database.unavailable`", body = ErrorResponse),
    ))]
async fn list(
    State(state): State<AppState>,
    Extension(client): Extension<ClientId>,
    Params(query): Params<FlowListQuery>,
) -> Result<Json<FlowList>, ApiError> {
    Ok(Json(flows::list(&state, Some(&client), query).await?))
}

/// `GET /v1/ops/flows`: any client's flows, newest first, for operators.
#[utoipa::path(get, path = "/v1/ops/flows", operation_id = "listAnyFlows", tag = "operators",
    security(("operator_key" = [])),
    params(FlowListQuery),
    responses(
        (status = 200, description = "Flows, newest first", body = FlowList),
        (status = 422, description = "`request.invalid`: a malformed query", body = ErrorResponse),
        (status = 503, description = "`database.unavailable`", body = ErrorResponse),
    ))]
async fn operator_list(
    State(state): State<AppState>,
    Params(query): Params<FlowListQuery>,
) -> Result<Json<FlowList>, ApiError> {
    Ok(Json(flows::list(&state, None, query).await?))
}

/// `GET /v1/ops/flows/{flow_id}`: any client's flow, for operators.
#[utoipa::path(get, path = "/v1/ops/flows/{flow_id}", operation_id = "getAnyFlow", tag = "operators",
    security(("operator_key" = [])),
    params(("flow_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The flow and every node", body = FlowView),
        (status = 404, description = "`flow.not_found`", body = ErrorResponse),
        (status = 503, description = "`database.unavailable`, `storage.unavailable`", body = ErrorResponse),
    ))]
async fn operator_show(
    State(state): State<AppState>,
    PathText(flow_id): PathText,
) -> Result<Json<FlowView>, ApiError> {
    let (flow, nodes) = flows::load(&state, None, &flow_id).await?;
    Ok(Json(flows::view(&state, flow, nodes).await?))
}

/// `POST /v1/ops/flows/{flow_id}/cancel`: the same as a client's cancel.
#[utoipa::path(post, path = "/v1/ops/flows/{flow_id}/cancel", operation_id = "cancelAnyFlow", tag = "operators",
    security(("operator_key" = [])),
    params(("flow_id" = Uuid, Path)),
    responses(
        (status = 200, description = "Cancelled", body = FlowCancelAnswer),
        (status = 404, description = "`flow.not_found`", body = ErrorResponse),
        (status = 409, description = "`flow.not_cancellable`: the flow has already ended", body = ErrorResponse),
        (status = 503, description = "`database.unavailable`", body = ErrorResponse),
    ))]
async fn operator_cancel(
    State(state): State<AppState>,
    PathText(flow_id): PathText,
) -> Result<Json<FlowCancelAnswer>, ApiError> {
    let (flow, _) = flows::load(&state, None, &flow_id).await?;
    Ok(Json(flows::cancel(&state, flow).await?))
}

/// `POST /v1/ops/flows/{flow_id}/retry`: the same as a client's retry.
#[utoipa::path(post, path = "/v1/ops/flows/{flow_id}/retry", operation_id = "retryAnyFlow", tag = "operators",
    security(("operator_key" = [])),
    params(("flow_id" = Uuid, Path)),
    request_body = FlowRetryRequest,
    responses(
        (status = 200, description = "The nodes retried; the flow runs again", body = FlowRetryAnswer),
        (status = 404, description = "`flow.not_found`", body = ErrorResponse),
        (status = 409, description = "`flow.running`: the flow has not ended", body = ErrorResponse),
        (status = 422, description = "`request.invalid`: an unknown mode", body = ErrorResponse),
        (status = 503, description = "`database.unavailable`, `queue.unavailable`", body = ErrorResponse),
    ))]
async fn operator_retry(
    State(state): State<AppState>,
    PathText(flow_id): PathText,
    request: Request,
) -> Result<Json<FlowRetryAnswer>, ApiError> {
    let limit = state.config.intake.max_json_bytes as usize;
    let req: FlowRetryRequest = json_body(request, limit).await?;
    let (flow, nodes) = flows::load(&state, None, &flow_id).await?;
    Ok(Json(flows::retry(&state, flow, nodes, req.mode).await?))
}

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new(Access::Client, routes!(submit)),
        Route::new(Access::Client, routes!(list)),
        Route::new(Access::Client, routes!(show)),
        Route::new(Access::Client, routes!(cancel)),
        Route::new(Access::Client, routes!(retry)),
        Route::new(Access::Operator, routes!(operator_list)),
        Route::new(Access::Operator, routes!(operator_show)),
        Route::new(Access::Operator, routes!(operator_cancel)),
        Route::new(Access::Operator, routes!(operator_retry)),
    ]
}
