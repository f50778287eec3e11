//! The route table and what is built from it: the HTTP application (each
//! route behind its access's middleware, every request bounded and
//! recorded) and the OpenAPI document. Each route file declares its own
//! operations ([`Route`]); this file only gathers them.
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Instant;

use atelier_jobs::ErrorCode;
use atelier_telemetry::metrics;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};

use crate::error::ApiError;
use crate::guard::{limit_by_address, require_api_key, require_operator_key};
use crate::openapi::{self, Published};
use crate::route::{Access, Route};
use crate::routes::{events, flows, jobs, objects, ops, queues, search, uploads};
use crate::state::AppState;

/// Every operation of the API, in the document's order.
fn table() -> Vec<Route> {
    [
        uploads::routes(),
        jobs::routes(),
        flows::routes(),
        events::routes(),
        search::routes(),
        queues::routes(),
        ops::routes(),
        objects::routes(),
        openapi::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The routes of one access, unguarded yet.
fn group(table: &mut Vec<Route>, access: Access) -> Router<AppState> {
    let (mine, rest) = std::mem::take(table)
        .into_iter()
        .partition(|r| r.access == access);
    *table = rest;
    mine.into_iter().fold(Router::new(), |router, route| {
        let path = route.matched.unwrap_or(route.path()).to_owned();
        router.route(&path, route.operation.2)
    })
}

/// The HTTP application.
pub(crate) fn router(state: AppState) -> Router {
    let mut table = table();
    let mut app = Router::new();
    for access in Access::ALL {
        let mut routes = group(&mut table, access);
        routes = match access {
            Access::Client => routes.route_layer(middleware::from_fn_with_state(
                state.clone(),
                require_api_key,
            )),
            Access::Operator => routes.route_layer(middleware::from_fn_with_state(
                state.clone(),
                require_operator_key,
            )),
            Access::Address => routes.route_layer(middleware::from_fn_with_state(
                state.clone(),
                limit_by_address,
            )),
            // Served on the internal listener when there is one.
            Access::Metrics if state.config.intake.metrics_listen.is_some() => continue,
            Access::Probe | Access::Metrics => routes,
        };
        if access.bounded() {
            routes =
                routes.route_layer(middleware::from_fn_with_state(state.clone(), bound_request));
        }
        app = app.merge(routes);
    }
    // The console: HTML pages with their own sessions, bounded like the API.
    let console = crate::console::router()
        .route_layer(middleware::from_fn_with_state(state.clone(), bound_request));
    app.merge(console)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(Extension(Published(document_json())))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_request,
        ))
        .with_state(state)
}

/// The internal listener's routes (`intake.metrics_listen`): the metrics
/// and the probes, nothing a client can reach.
pub(crate) fn internal_router(state: AppState) -> Router {
    let mut table = table();
    let metrics = group(&mut table, Access::Metrics);
    metrics
        .merge(group(&mut table, Access::Probe))
        .fallback(not_found)
        .layer(Extension(Published(document_json())))
        .with_state(state)
}

/// The document, built once from the table.
pub(crate) fn document() -> &'static serde_json::Value {
    static DOCUMENT: OnceLock<serde_json::Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut access = BTreeMap::new();
        let mut operations = utoipa::openapi::OpenApi::default();
        let components = operations.components.get_or_insert_with(Default::default);
        for route in table() {
            access.insert(route.path().to_owned(), route.access);
            let (schemas, paths, _) = route.operation;
            components.schemas.extend(schemas);
            operations.paths.merge(paths);
        }
        openapi::document(operations, &access)
    })
}

/// The document as committed and served: pretty JSON, a final newline.
pub(crate) fn document_json() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let mut text = serde_json::to_string_pretty(document()).expect("the document serialises");
        text.push('\n');
        text
    })
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
async fn bound_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
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
    let m = &state.metrics;
    m.add(&metrics::HTTP_REQUESTS, &[&method, &route, &status], 1.0);
    m.observe(
        &metrics::HTTP_REQUEST_DURATION,
        &[&route],
        started.elapsed().as_secs_f64(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed `openapi.json` is the generated one. After changing a
    /// wire type or a route: `ATELIER_WRITE_OPENAPI=1 cargo test -p
    /// atelier-intake openapi`.
    #[test]
    fn the_committed_openapi_document_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json");
        let generated = document_json();
        if std::env::var_os("ATELIER_WRITE_OPENAPI").is_some() {
            std::fs::write(path, generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "openapi.json is stale: run ATELIER_WRITE_OPENAPI=1 cargo test -p atelier-intake openapi"
        );
    }

    #[test]
    fn the_openapi_document_references_resolve_and_every_kind_has_its_result() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let text = doc.to_string();
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = &piece[..piece.find('"').unwrap()];
            assert!(
                schemas.contains_key(name),
                "{name} is referenced, not defined"
            );
        }
        let view = &schemas["JobView"]["oneOf"];
        let kinds: Vec<&str> = view
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                v["allOf"][1]["properties"]["kind"]["enum"][0]
                    .as_str()
                    .unwrap()
            })
            .collect();
        let all: Vec<&str> = atelier_jobs::JobKind::every()
            .map(atelier_jobs::JobKind::as_str)
            .collect();
        assert_eq!(kinds, all);
        let ids: Vec<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .map(|op| op["operationId"].as_str().unwrap())
            .collect();
        let unique: std::collections::HashSet<&&str> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "operation ids repeat: {ids:?}");
        // Every code, with its status.
        let codes = schemas["ErrorCode"]["oneOf"].as_array().unwrap();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
        assert_eq!(codes[0]["description"], "In a failed job's `error` only");
    }

    #[test]
    fn every_route_is_declared_once_and_guarded_by_its_access() {
        let table = table();
        let doc = document();
        let operations: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum();
        assert_eq!(operations, table.len(), "one operation per declared route");
        for route in &table {
            let operation = doc["paths"][route.path()]
                .as_object()
                .unwrap()
                .values()
                .next()
                .unwrap();
            let keyed = operation.get("security").is_some();
            assert_eq!(
                keyed,
                matches!(route.access, Access::Client | Access::Operator),
                "{}: its security and its access disagree",
                route.path()
            );
        }
    }
}
