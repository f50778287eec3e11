use atelier_jobs::{ErrorBody, ErrorCode};
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Every failed response: a status and `{"error":{"code","message"}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// Seconds, sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error answered with its code's status
    /// ([`ErrorCode::http_status`]: one status per code, as the OpenAPI
    /// document lists them).
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let status = code
            .http_status()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::RequestInvalid, message)
    }

    pub fn unavailable(code: ErrorCode, what: &str, error: impl std::fmt::Display) -> Self {
        tracing::warn!(%error, what, "dependency unavailable");
        let mut e = Self::new(code, format!("{what} is unavailable, retry later"));
        e.retry_after = Some(5);
        e
    }

    pub fn queue_unavailable(error: impl std::fmt::Display) -> Self {
        Self::unavailable(ErrorCode::QueueUnavailable, "the queue", error)
    }

    pub fn rate_limited(wait: std::time::Duration) -> Self {
        let mut e = Self::new(
            ErrorCode::RateLimited,
            format!("rate limit exceeded; retry in {} ms", wait.as_millis()),
        );
        e.retry_after = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
        e
    }

    /// `503 intake.busy`: at a bound of work in flight.
    pub fn busy(what: &str) -> Self {
        let mut e = Self::new(ErrorCode::IntakeBusy, format!("{what}; retry shortly"));
        e.retry_after = Some(1);
        e
    }

    /// `408 request.timeout`.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::RequestTimeout, message)
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }
}

#[derive(serde::Serialize)]
struct Envelope<'a> {
    error: &'a ErrorBody,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody::new(self.code, self.message);
        let mut response = (self.status, Json(Envelope { error: &body })).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

impl From<atelier_db::DbError> for ApiError {
    fn from(e: atelier_db::DbError) -> Self {
        if e.is_transient() {
            ApiError::unavailable(ErrorCode::DatabaseUnavailable, "the database", e)
        } else {
            ApiError::internal(e)
        }
    }
}

impl From<atelier_storage::StorageError> for ApiError {
    fn from(e: atelier_storage::StorageError) -> Self {
        match e {
            atelier_storage::StorageError::NotFound(_) => {
                ApiError::new(ErrorCode::ObjectNotFound, "object not found")
            }
            e if e.is_transient() => {
                ApiError::unavailable(ErrorCode::StorageUnavailable, "object storage", e)
            }
            e => ApiError::internal(e),
        }
    }
}
