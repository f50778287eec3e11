//! Reading a request the contract's way: every refusal is one of our error
//! codes in our envelope, never axum's plain-text rejection.
use atelier_jobs::ErrorCode;
use axum::body::Bytes;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

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
