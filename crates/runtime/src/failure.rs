//! How a run failed, and so what happens next.
use atelier_jobs::ErrorCode;

/// Every failed run is classified: retry (transient), abort (bad input; it
/// will never succeed), defer (infrastructure unreachable), or stale (the run
/// lost its lease: another run or an operator owns the job now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobFailure {
    /// Worth another attempt after the queue's backoff.
    Retry { code: ErrorCode, message: String },
    /// Never retried: the job ends `error`.
    Abort { code: ErrorCode, message: String },
    /// The database or object storage could not be reached: the job waits
    /// for it (growing delay) without spending an attempt.
    Defer { code: ErrorCode, message: String },
    /// The run no longer holds the job (its lease expired and the job was
    /// handed out again, or it was cancelled or dead-lettered meanwhile):
    /// it drops its result and touches neither the row nor the queue.
    Stale,
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
            JobFailure::Stale => ErrorCode::JobWorkerLost,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            JobFailure::Retry { message, .. }
            | JobFailure::Abort { message, .. }
            | JobFailure::Defer { message, .. } => message,
            JobFailure::Stale => "the run lost its lease",
        }
    }
}

impl From<atelier_db::DbError> for JobFailure {
    fn from(e: atelier_db::DbError) -> Self {
        if let atelier_db::DbError::Stale = e {
            return JobFailure::Stale;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_classified_by_what_a_retry_could_change() {
        // Bad input never succeeds: abort with its own code.
        let bad = JobFailure::from(atelier_media::MediaError::Corrupt("truncated".into()));
        assert!(matches!(bad, JobFailure::Abort { .. }), "{bad:?}");
        assert_eq!(bad.code(), ErrorCode::ImageCorrupt);
        // A missing stored object will not reappear.
        let gone = JobFailure::from(atelier_storage::StorageError::NotFound("k".into()));
        assert_eq!(gone.code(), ErrorCode::UploadNotFound);
        assert!(matches!(gone, JobFailure::Abort { .. }));
        // A fenced-off write means another run owns the job.
        assert_eq!(
            JobFailure::from(atelier_db::DbError::Stale),
            JobFailure::Stale
        );
    }
}
