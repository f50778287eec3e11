//! How a run failed, and so what happens next.
use atelier_jobs::ErrorCode;

/// Every failed run is classified: retry (transient), abort (bad input; it
/// will never succeed) or defer (infrastructure unreachable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobFailure {
    /// Worth another attempt after the queue's backoff.
    Retry { code: ErrorCode, message: String },
    /// Never retried: the job ends `error`.
    Abort { code: ErrorCode, message: String },
    /// The database or object storage could not be reached: the job waits
    /// for it (growing delay) without spending an attempt.
    Defer { code: ErrorCode, message: String },
}

impl JobFailure {
    pub fn retry(code: ErrorCode, message: impl Into<String>) -> Self {
        JobFailure::Retry {
            code,
            message: message.into(),
        }
    }

    pub fn abort(code: ErrorCode, message: impl Into<String>) -> Self {
        JobFailure::Abort {
            code,
            message: message.into(),
        }
    }

    pub fn defer(code: ErrorCode, message: impl Into<String>) -> Self {
        JobFailure::Defer {
            code,
            message: message.into(),
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            JobFailure::Retry { code, .. }
            | JobFailure::Abort { code, .. }
            | JobFailure::Defer { code, .. } => *code,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            JobFailure::Retry { message, .. }
            | JobFailure::Abort { message, .. }
            | JobFailure::Defer { message, .. } => message,
        }
    }
}

impl From<atelier_db::DbError> for JobFailure {
    fn from(e: atelier_db::DbError) -> Self {
        if e.is_transient() {
            return JobFailure::defer(ErrorCode::DatabaseUnavailable, e.to_string());
        }
        // Schema and query errors are bugs; a retry after a fix may succeed,
        // so neither is an abort.
        JobFailure::retry(ErrorCode::Internal, e.to_string())
    }
}

impl From<atelier_storage::StorageError> for JobFailure {
    fn from(e: atelier_storage::StorageError) -> Self {
        match e {
            atelier_storage::StorageError::NotFound(key) => JobFailure::abort(
                ErrorCode::UploadNotFound,
                format!("stored object {key} is missing"),
            ),
            other if other.is_transient() => {
                JobFailure::defer(ErrorCode::StorageUnavailable, other.to_string())
            }
            other => JobFailure::retry(ErrorCode::StorageUnavailable, other.to_string()),
        }
    }
}

impl From<atelier_media::MediaError> for JobFailure {
    fn from(e: atelier_media::MediaError) -> Self {
        JobFailure::abort(e.code(), e.to_string())
    }
}
