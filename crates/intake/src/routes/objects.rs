use atelier_jobs::ErrorCode;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::Response;
use serde::Deserialize;

use utoipa_axum::routes;

use crate::api::{ErrorResponse, RawBytes};
use crate::error::ApiError;
use crate::extract::{Params, PathText};
use crate::route::{Access, Route};
use crate::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Signature {
    /// Unix seconds.
    expires: Option<i64>,
    sig: Option<String>,
}

/// `GET /objects/{key}?expires=…&sig=…`: objects of the local storage backend
/// behind signed URLs (S3 URLs go to S3 directly).
#[utoipa::path(get, path = "/objects/{key}", operation_id = "readObject", tag = "jobs",
    description = "A stored object of the local storage backend, behind the signed `url` a \
        job view gives (`key` may hold `/`). Streamed, with `X-Content-Type-Options: nosniff`.",
    params(("key" = String, Path, description = "The object's key"), Signature),
    responses(
        (status = 200, description = "The object's bytes, with its own `Content-Type`", content_type = "*/*", body = inline(RawBytes)),
        (status = 403, description = "`object.invalid_signature`", body = ErrorResponse),
        (status = 404, description = "`object.not_found`", body = ErrorResponse),
        (status = 503, description = "`storage.unavailable`", body = ErrorResponse),
    ))]
async fn read(
    State(state): State<AppState>,
    PathText(key): PathText,
    signature: Result<Params<Signature>, ApiError>,
) -> Result<Response, ApiError> {
    // A query that does not parse is no signature.
    let valid = match signature {
        Ok(Params(Signature {
            expires: Some(expires),
            sig: Some(sig),
        })) => state.storage.verify_local_signature(&key, expires, &sig),
        _ => false,
    };
    if !valid {
        return Err(ApiError::new(
            ErrorCode::ObjectInvalidSignature,
            "missing, invalid or expired signature",
        ));
    }
    let (size, chunks) = state.storage.get_stream(&key).await?;
    let extension = key.rsplit('.').next().unwrap_or("");
    let content_type = match extension {
        "jpg" => "image/jpeg",
        other => atelier_storage::content_type(other),
    };
    // Streamed, never whole in memory; the type is ours, not a browser's
    // guess (an upload is whatever its client sent).
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, size)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CACHE_CONTROL, "private, max-age=300")
        .body(Body::from_stream(chunks))
        .map_err(ApiError::internal)
}

pub(crate) fn routes() -> Vec<Route> {
    // A key holds `/`: one parameter in the document, a wildcard for axum.
    vec![Route::new(Access::Address, routes!(read)).matching("/objects/{*key}")]
}
