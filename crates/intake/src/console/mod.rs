//! The web console under `/console`: operators see and steer everything,
//! viewers see. Server-rendered HTML (maud), forms that work without
//! script, one server-sent-event stream per page for live parts, and the
//! assets embedded in the binary (`assets.rs`). Every page needs a session
//! (`session.rs`); every action an operator's role, its form token and a
//! line in the audit log.
mod assets;
mod audit;
mod draw;
mod flows;
mod jobs;
mod live;
mod playground;
mod queues;
mod session;
mod view;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::error::ApiError;
use crate::state::AppState;

/// The console's routes, each behind the security headers.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::to("/console/queues") }),
        )
        .route(
            "/console/",
            get(|| async { Redirect::to("/console/queues") }),
        )
        .route(
            "/console/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/console/sign-out", post(session::sign_out))
        .route("/console/queues", get(queues::overview))
        .route("/console/queues/{queue}", get(queues::detail))
        .route("/console/queues/{queue}/pause", post(queues::pause))
        .route("/console/queues/{queue}/resume", post(queues::resume))
        .route("/console/queues/{queue}/dead", post(queues::dead_action))
        .route("/console/jobs", get(jobs::list))
        .route("/console/jobs/bulk", post(jobs::bulk))
        .route("/console/jobs/{job_id}", get(jobs::inspect))
        .route("/console/jobs/{job_id}/retry", post(jobs::retry))
        .route("/console/jobs/{job_id}/cancel", post(jobs::cancel))
        .route("/console/jobs/{job_id}/result", get(playground::result))
        .route("/console/playground", get(playground::page))
        .route("/console/flows", get(flows::list))
        .route("/console/flows/{flow_id}", get(flows::show))
        .route("/console/flows/{flow_id}/cancel", post(flows::cancel))
        .route("/console/flows/{flow_id}/retry", post(flows::retry))
        .route("/console/audit", get(audit::page))
        .route("/console/live", get(live::stream))
        .route("/console/objects/{*key}", get(draw::object))
        .route("/console/assets/{name}", get(assets::serve))
        .route_layer(middleware::from_fn(security_headers))
        // Pages and scripts gzipped when the browser takes it (not the
        // event streams, images or video: tower-http's default predicate).
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
}

/// The Content-Security-Policy of every console response: nothing but this
/// origin, no inline script or style, no framing, forms post only here.
/// `wasm-unsafe-eval` lets the 3D viewer's decoders (meshopt, Draco)
/// compile their WebAssembly; it allows no JavaScript `eval`.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
    img-src 'self' blob: data:; media-src 'self'; connect-src 'self'; font-src 'self'; \
    worker-src 'self' blob:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(request: Request, next: Next) -> Response {
    let is_asset = request.uri().path().starts_with("/console/assets/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !is_asset && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A console failure: the page says what went wrong with the stable code.
pub(crate) struct ConsoleError(pub ApiError);

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        ConsoleError(e)
    }
}

impl From<atelier_db::DbError> for ConsoleError {
    fn from(e: atelier_db::DbError) -> Self {
        ConsoleError(e.into())
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let e = self.0;
        if e.code == atelier_jobs::ErrorCode::AuthSignedOut {
            return Redirect::to("/console/sign-in").into_response();
        }
        let status = e.status;
        let body = view::error_page(status, e.code.as_str(), &e.message);
        let mut response = (status, body).into_response();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(message = e.message, "console page failed");
        }
        response.headers_mut().insert(
            "x-error-code",
            HeaderValue::from_str(e.code.as_str()).unwrap_or(HeaderValue::from_static("internal")),
        );
        response
    }
}

pub(crate) type Page = Result<Response, ConsoleError>;
