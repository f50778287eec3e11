use std::fmt;

use serde::{Deserialize, Serialize};

/// Stable machine-readable error codes. The string form never changes once
/// released; clients switch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorCode {
    #[serde(rename = "image.unsupported_format")]
    ImageUnsupportedFormat,
    #[serde(rename = "image.too_large")]
    ImageTooLarge,
    #[serde(rename = "image.corrupt")]
    ImageCorrupt,
    #[serde(rename = "vision.no_person")]
    VisionNoPerson,
    #[serde(rename = "vision.no_face")]
    VisionNoFace,
    /// More than one person in an avatar's photo.
    #[serde(rename = "avatar.multiple_people")]
    AvatarMultiplePeople,
    /// A photo shows the body from the wrong side (a front photo as the side one, or the reverse).
    #[serde(rename = "avatar.pose_mismatch")]
    AvatarPoseMismatch,
    /// The head or the feet are outside an avatar's photo.
    #[serde(rename = "avatar.body_cropped")]
    AvatarBodyCropped,
    /// The front and side photos disagree about the body's proportions (two people?).
    #[serde(rename = "avatar.photos_disagree")]
    AvatarPhotosDisagree,
    /// The person's silhouette cannot be measured (legs together, too small, not upright).
    #[serde(rename = "avatar.unmeasurable")]
    AvatarUnmeasurable,
    #[serde(rename = "model.invalid")]
    ModelInvalid,
    #[serde(rename = "model.too_large")]
    ModelTooLarge,
    #[serde(rename = "model.unsupported")]
    ModelUnsupported,
    #[serde(rename = "model.empty")]
    ModelEmpty,
    #[serde(rename = "render.camera_inside_model")]
    RenderCameraInsideModel,
    #[serde(rename = "render.unavailable")]
    RenderUnavailable,
    #[serde(rename = "render.failed")]
    RenderFailed,
    #[serde(rename = "video.encode_failed")]
    VideoEncodeFailed,
    #[serde(rename = "email.rejected")]
    EmailRejected,
    #[serde(rename = "email.unavailable")]
    EmailUnavailable,
    /// The search query names a job that has no stored embedding.
    #[serde(rename = "search.no_embedding")]
    SearchNoEmbedding,
    /// Text search needs the text model, which this intake could not load.
    #[serde(rename = "search.unavailable")]
    SearchUnavailable,
    #[serde(rename = "upload.not_found")]
    UploadNotFound,
    #[serde(rename = "upload.too_large")]
    UploadTooLarge,
    #[serde(rename = "upload.missing_user")]
    UploadMissingUser,
    #[serde(rename = "request.malformed_json")]
    RequestMalformedJson,
    #[serde(rename = "request.invalid")]
    RequestInvalid,
    #[serde(rename = "request.too_large")]
    RequestTooLarge,
    #[serde(rename = "request.unsupported_media_type")]
    RequestUnsupportedMediaType,
    /// The client sent its request too slowly (a body idle past
    /// `intake.body_idle_timeout`, or the whole past `intake.request_timeout`).
    #[serde(rename = "request.timeout")]
    RequestTimeout,
    /// The intake is at its bound of requests or uploads in flight: retry
    /// after `Retry-After`.
    #[serde(rename = "intake.busy")]
    IntakeBusy,
    /// An end user already holds `events.max_sockets_per_user` sockets.
    #[serde(rename = "events.too_many_sockets")]
    EventsTooManySockets,
    /// The API client has `intake.max_open_jobs_per_client` jobs queued or
    /// running.
    #[serde(rename = "quota.exceeded")]
    QuotaExceeded,
    #[serde(rename = "job.unknown_kind")]
    JobUnknownKind,
    #[serde(rename = "job.kind_not_available")]
    JobKindNotAvailable,
    #[serde(rename = "job.not_found")]
    JobNotFound,
    #[serde(rename = "job.idempotency_conflict")]
    JobIdempotencyConflict,
    #[serde(rename = "job.timeout")]
    JobTimeout,
    #[serde(rename = "job.cancelled")]
    JobCancelled,
    #[serde(rename = "job.not_cancellable")]
    JobNotCancellable,
    #[serde(rename = "queue.not_found")]
    QueueNotFound,
    #[serde(rename = "rate.limited")]
    RateLimited,
    #[serde(rename = "auth.forbidden")]
    AuthForbidden,
    #[serde(rename = "job.worker_lost")]
    JobWorkerLost,
    #[serde(rename = "auth.missing_api_key")]
    AuthMissingApiKey,
    #[serde(rename = "auth.invalid_api_key")]
    AuthInvalidApiKey,
    #[serde(rename = "auth.invalid_token")]
    AuthInvalidToken,
    #[serde(rename = "object.invalid_signature")]
    ObjectInvalidSignature,
    #[serde(rename = "object.not_found")]
    ObjectNotFound,
    #[serde(rename = "route.not_found")]
    RouteNotFound,
    #[serde(rename = "method.not_allowed")]
    MethodNotAllowed,
    #[serde(rename = "storage.unavailable")]
    StorageUnavailable,
    #[serde(rename = "queue.unavailable")]
    QueueUnavailable,
    #[serde(rename = "database.unavailable")]
    DatabaseUnavailable,
    #[serde(rename = "internal")]
    Internal,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 55] = [
        ErrorCode::ImageUnsupportedFormat,
        ErrorCode::ImageTooLarge,
        ErrorCode::ImageCorrupt,
        ErrorCode::VisionNoPerson,
        ErrorCode::VisionNoFace,
        ErrorCode::AvatarMultiplePeople,
        ErrorCode::AvatarPoseMismatch,
        ErrorCode::AvatarBodyCropped,
        ErrorCode::AvatarPhotosDisagree,
        ErrorCode::AvatarUnmeasurable,
        ErrorCode::ModelInvalid,
        ErrorCode::ModelTooLarge,
        ErrorCode::ModelUnsupported,
        ErrorCode::ModelEmpty,
        ErrorCode::RenderCameraInsideModel,
        ErrorCode::RenderUnavailable,
        ErrorCode::RenderFailed,
        ErrorCode::VideoEncodeFailed,
        ErrorCode::EmailRejected,
        ErrorCode::EmailUnavailable,
        ErrorCode::SearchNoEmbedding,
        ErrorCode::SearchUnavailable,
        ErrorCode::UploadNotFound,
        ErrorCode::UploadTooLarge,
        ErrorCode::UploadMissingUser,
        ErrorCode::RequestMalformedJson,
        ErrorCode::RequestInvalid,
        ErrorCode::RequestTooLarge,
        ErrorCode::RequestUnsupportedMediaType,
        ErrorCode::RequestTimeout,
        ErrorCode::IntakeBusy,
        ErrorCode::EventsTooManySockets,
        ErrorCode::QuotaExceeded,
        ErrorCode::JobUnknownKind,
        ErrorCode::JobKindNotAvailable,
        ErrorCode::JobNotFound,
        ErrorCode::JobIdempotencyConflict,
        ErrorCode::JobTimeout,
        ErrorCode::JobCancelled,
        ErrorCode::JobNotCancellable,
        ErrorCode::QueueNotFound,
        ErrorCode::RateLimited,
        ErrorCode::AuthForbidden,
        ErrorCode::JobWorkerLost,
        ErrorCode::AuthMissingApiKey,
        ErrorCode::AuthInvalidApiKey,
        ErrorCode::AuthInvalidToken,
        ErrorCode::ObjectInvalidSignature,
        ErrorCode::ObjectNotFound,
        ErrorCode::RouteNotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::StorageUnavailable,
        ErrorCode::QueueUnavailable,
        ErrorCode::DatabaseUnavailable,
        ErrorCode::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ImageUnsupportedFormat => "image.unsupported_format",
            ErrorCode::ImageTooLarge => "image.too_large",
            ErrorCode::ImageCorrupt => "image.corrupt",
            ErrorCode::VisionNoPerson => "vision.no_person",
            ErrorCode::VisionNoFace => "vision.no_face",
            ErrorCode::AvatarMultiplePeople => "avatar.multiple_people",
            ErrorCode::AvatarPoseMismatch => "avatar.pose_mismatch",
            ErrorCode::AvatarBodyCropped => "avatar.body_cropped",
            ErrorCode::AvatarPhotosDisagree => "avatar.photos_disagree",
            ErrorCode::AvatarUnmeasurable => "avatar.unmeasurable",
            ErrorCode::ModelInvalid => "model.invalid",
            ErrorCode::ModelTooLarge => "model.too_large",
            ErrorCode::ModelUnsupported => "model.unsupported",
            ErrorCode::ModelEmpty => "model.empty",
            ErrorCode::RenderCameraInsideModel => "render.camera_inside_model",
            ErrorCode::RenderUnavailable => "render.unavailable",
            ErrorCode::RenderFailed => "render.failed",
            ErrorCode::VideoEncodeFailed => "video.encode_failed",
            ErrorCode::EmailRejected => "email.rejected",
            ErrorCode::EmailUnavailable => "email.unavailable",
            ErrorCode::SearchNoEmbedding => "search.no_embedding",
            ErrorCode::SearchUnavailable => "search.unavailable",
            ErrorCode::UploadNotFound => "upload.not_found",
            ErrorCode::UploadTooLarge => "upload.too_large",
            ErrorCode::UploadMissingUser => "upload.missing_user",
            ErrorCode::RequestMalformedJson => "request.malformed_json",
            ErrorCode::RequestInvalid => "request.invalid",
            ErrorCode::RequestTooLarge => "request.too_large",
            ErrorCode::RequestUnsupportedMediaType => "request.unsupported_media_type",
            ErrorCode::RequestTimeout => "request.timeout",
            ErrorCode::IntakeBusy => "intake.busy",
            ErrorCode::EventsTooManySockets => "events.too_many_sockets",
            ErrorCode::QuotaExceeded => "quota.exceeded",
            ErrorCode::JobUnknownKind => "job.unknown_kind",
            ErrorCode::JobKindNotAvailable => "job.kind_not_available",
            ErrorCode::JobNotFound => "job.not_found",
            ErrorCode::JobIdempotencyConflict => "job.idempotency_conflict",
            ErrorCode::JobTimeout => "job.timeout",
            ErrorCode::JobCancelled => "job.cancelled",
            ErrorCode::JobNotCancellable => "job.not_cancellable",
            ErrorCode::QueueNotFound => "queue.not_found",
            ErrorCode::RateLimited => "rate.limited",
            ErrorCode::AuthForbidden => "auth.forbidden",
            ErrorCode::JobWorkerLost => "job.worker_lost",
            ErrorCode::AuthMissingApiKey => "auth.missing_api_key",
            ErrorCode::AuthInvalidApiKey => "auth.invalid_api_key",
            ErrorCode::AuthInvalidToken => "auth.invalid_token",
            ErrorCode::ObjectInvalidSignature => "object.invalid_signature",
            ErrorCode::ObjectNotFound => "object.not_found",
            ErrorCode::RouteNotFound => "route.not_found",
            ErrorCode::MethodNotAllowed => "method.not_allowed",
            ErrorCode::StorageUnavailable => "storage.unavailable",
            ErrorCode::QueueUnavailable => "queue.unavailable",
            ErrorCode::DatabaseUnavailable => "database.unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

impl ErrorCode {
    /// The HTTP status an intake answers the code with; `None` for codes
    /// found only in a failed job's `error` (the job's own request was
    /// accepted).
    pub fn http_status(self) -> Option<u16> {
        use ErrorCode::*;
        Some(match self {
            RequestMalformedJson | UploadMissingUser => 400,
            AuthMissingApiKey | AuthInvalidApiKey | AuthInvalidToken => 401,
            AuthForbidden | ObjectInvalidSignature => 403,
            JobNotFound | QueueNotFound | ObjectNotFound | RouteNotFound => 404,
            MethodNotAllowed => 405,
            RequestTimeout => 408,
            JobIdempotencyConflict | JobNotCancellable => 409,
            RequestTooLarge | UploadTooLarge => 413,
            RequestUnsupportedMediaType => 415,
            RequestInvalid | JobUnknownKind | UploadNotFound | SearchNoEmbedding => 422,
            RateLimited | QuotaExceeded | EventsTooManySockets => 429,
            Internal => 500,
            JobKindNotAvailable => 501,
            IntakeBusy | SearchUnavailable | StorageUnavailable | QueueUnavailable
            | DatabaseUnavailable => 503,
            ImageUnsupportedFormat
            | ImageTooLarge
            | ImageCorrupt
            | VisionNoPerson
            | VisionNoFace
            | AvatarMultiplePeople
            | AvatarPoseMismatch
            | AvatarBodyCropped
            | AvatarPhotosDisagree
            | AvatarUnmeasurable
            | ModelInvalid
            | ModelTooLarge
            | ModelUnsupported
            | ModelEmpty
            | RenderCameraInsideModel
            | RenderUnavailable
            | RenderFailed
            | VideoEncodeFailed
            | EmailRejected
            | EmailUnavailable
            | JobTimeout
            | JobCancelled
            | JobWorkerLost => return None,
        })
    }
}

/// In the OpenAPI document: one constant per code, described by the HTTP
/// status the intake answers it with.
impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::Type;
        use utoipa::openapi::{ObjectBuilder, OneOfBuilder};
        let mut codes = OneOfBuilder::new().description(Some(
            "A stable, machine-readable error code; each is described by the HTTP status \
             it is answered with, or as found only in a failed job's `error`",
        ));
        for code in ErrorCode::ALL {
            let said = match code.http_status() {
                Some(status) => format!("HTTP {status}"),
                None => "In a failed job's `error` only".to_owned(),
            };
            codes = codes.item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([code.as_str()]))
                    .description(Some(said)),
            );
        }
        codes.into()
    }
}

impl utoipa::ToSchema for ErrorCode {}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `{"code","message"}`: the error half of every failed response and job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    #[schema(value_type = ErrorCode)]
    pub code: String,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            code: code.as_str().to_owned(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_serialises_as_its_name_and_is_documented() {
        // ALL is complete: one entry per variant declared above.
        let declared = include_str!("error.rs")
            .matches("\n    #[serde(rename = ")
            .count();
        assert_eq!(ErrorCode::ALL.len(), declared);
        let readme = include_str!("../../../README.md");
        let mut names = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let name = code.as_str();
            assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{name}\""));
            assert_eq!(
                serde_json::from_str::<ErrorCode>(&format!("\"{name}\"")).unwrap(),
                code
            );
            assert!(names.insert(name), "{name} used twice");
            let answered = match code.http_status() {
                Some(status) => status.to_string(),
                None => "a failed job's `error`".to_owned(),
            };
            assert!(
                readme.contains(&format!("| `{name}` | {answered} |")),
                "{name} is not in README.md's table as answered with {answered}"
            );
        }
    }
}
