use atelier_jobs::{ErrorCode, UserId};
use atelier_storage::StreamError;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::{Extension, Json};
use futures_util::{Stream, StreamExt};
use uuid::Uuid;

use utoipa_axum::routes;

use crate::api::{ErrorResponse, RawBytes, UploadCreated};
use crate::auth::ClientId;
use crate::error::ApiError;
use crate::extract::{refuse_declared_over, too_large_error};
use crate::route::{Access, Route};
use crate::state::AppState;

/// Why an upload's body stopped.
enum BodyError {
    /// Nothing arrived for `intake.body_idle_timeout`.
    Idle,
    /// The connection failed (reset, malformed chunking).
    Read(String),
}

/// The body's chunks, ending in [`BodyError::Idle`] when the client pauses
/// longer than `idle` (a slowly sent body must not hold its slot and socket
/// forever).
fn paced(
    body: Body,
    idle: std::time::Duration,
) -> impl Stream<Item = Result<Bytes, BodyError>> + Unpin {
    Box::pin(futures_util::stream::unfold(
        Some(body.into_data_stream()),
        move |stream| async move {
            let mut stream = stream?;
            match tokio::time::timeout(idle, stream.next()).await {
                Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(stream))),
                Ok(Some(Err(e))) => Some((Err(BodyError::Read(e.to_string())), None)),
                Ok(None) => None,
                Err(_) => Some((Err(BodyError::Idle), None)),
            }
        },
    ))
}

/// `POST /v1/uploads`: stream the raw body to storage, private, as
/// uploaded, hashing it on the way (never the whole body in memory).
#[utoipa::path(post, path = "/v1/uploads", operation_id = "createUpload", tag = "jobs",
    security(("api_key" = [])),
    params(("X-User-Id" = String, Header, description = "The end user the upload belongs to")),
    request_body(content = inline(RawBytes), content_type = "*/*",
        description = "The file, raw, with its own `Content-Type`"),
    responses(
        (status = 201, description = "Stored, private, as uploaded", body = UploadCreated),
        (status = 400, description = "`upload.missing_user`", body = ErrorResponse),
        (status = 413, description = "`upload.too_large`", body = ErrorResponse),
        (status = 422, description = "`request.invalid`", body = ErrorResponse),
        (status = 503, description = "`intake.busy`, `storage.unavailable`, `database.unavailable`", body = ErrorResponse),
    ))]
async fn create(
    State(state): State<AppState>,
    Extension(client): Extension<ClientId>,
    request: Request,
) -> Result<(StatusCode, Json<UploadCreated>), ApiError> {
    let user_id: UserId = request
        .headers()
        .get("x-user-id")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::new(ErrorCode::UploadMissingUser, "header X-User-Id is required"))?
        .parse()
        .map_err(|e: atelier_jobs::ValidationError| ApiError::invalid(e.message))?;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .chars()
        .take(128)
        .collect::<String>();
    let limit = state.config.intake.max_upload_bytes;
    refuse_declared_over(&request, limit, ErrorCode::UploadTooLarge)?;
    // A slot among the uploads streamed at once, else 503 once the wait is
    // over: memory stays bounded however many clients upload.
    let wait = state.config.intake.upload_slot_wait.get();
    let _slot = match tokio::time::timeout(wait, state.uploads.clone().acquire_owned()).await {
        Ok(Ok(permit)) => permit,
        _ => return Err(ApiError::busy("too many uploads in flight")),
    };

    let upload_id = Uuid::new_v4();
    let key = format!("uploads/{}/{user_id}/{upload_id}", client.0);
    let idle = state.config.intake.body_idle_timeout.get();
    let body = paced(request.into_body(), idle);
    let written = state
        .storage
        .put_stream(&key, &content_type, body, limit)
        .await
        .map_err(|e| match e {
            StreamError::TooLarge(_) => too_large_error(limit, ErrorCode::UploadTooLarge),
            StreamError::Source(BodyError::Idle) => {
                ApiError::timeout(format!("the upload sent nothing for {} s", idle.as_secs()))
            }
            StreamError::Source(BodyError::Read(e)) => {
                ApiError::invalid(format!("the upload could not be read: {e}"))
            }
            StreamError::Storage(e) => e.into(),
        })?;
    let (bytes, sha256) = (written.bytes as i64, written.sha256);
    atelier_db::uploads::insert(
        &state.pool,
        &atelier_db::NewUpload {
            id: upload_id,
            client_id: &client.0,
            user_id: user_id.as_str(),
            content_type: &content_type,
            bytes,
            sha256: &sha256,
            storage_key: &key,
        },
    )
    .await?;
    tracing::info!(%upload_id, %user_id, bytes, "upload stored");
    Ok((
        StatusCode::CREATED,
        Json(UploadCreated {
            upload_id,
            bytes,
            sha256,
        }),
    ))
}

pub(crate) fn routes() -> Vec<Route> {
    vec![Route::new(Access::Client, routes!(create))]
}
