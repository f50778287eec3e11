use atelier_jobs::{ErrorCode, validate_user_id};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::{Extension, Json};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::AppState;
use crate::auth::ClientId;
use crate::error::ApiError;

/// `POST /v1/uploads`: store the raw body, private, as uploaded.
pub(super) async fn create(
    State(state): State<AppState>,
    Extension(client): Extension<ClientId>,
    request: Request,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let user_id = request
        .headers()
        .get("x-user-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::UploadMissingUser,
                "header X-User-Id is required",
            )
        })?;
    validate_user_id(&user_id).map_err(|e| ApiError::invalid(e.message))?;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .chars()
        .take(128)
        .collect::<String>();
    let limit = state.config.intake.max_upload_bytes as usize;
    let body = super::read_body(request, limit, ErrorCode::UploadTooLarge).await?;

    let upload_id = Uuid::new_v4();
    let sha256 = hex::encode(Sha256::digest(&body));
    let key = format!("uploads/{}/{user_id}/{upload_id}", client.0);
    let bytes = body.len() as i64;
    state.storage.put(&key, body, &content_type).await?;
    atelier_db::uploads::insert(
        &state.pool,
        &atelier_db::NewUpload {
            id: upload_id,
            client_id: &client.0,
            user_id: &user_id,
            content_type: &content_type,
            bytes,
            sha256: &sha256,
            storage_key: &key,
        },
    )
    .await?;
    tracing::info!(%upload_id, user_id, bytes, "upload stored");
    Ok((
        StatusCode::CREATED,
        Json(json!({"upload_id": upload_id, "bytes": bytes, "sha256": sha256})),
    ))
}
