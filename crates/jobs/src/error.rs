use std::fmt;

use serde::{Deserialize, Serialize};

/// Writes [`ErrorCode`] and everything derived from its table: the enum,
/// [`ErrorCode::ALL`] in declaration order, the wire name ([`ErrorCode::as_str`],
/// serde, `FromStr`) and the HTTP status ([`ErrorCode::http_status`]; `job`:
/// found only in a failed job's `error`).
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal => $status:tt;)*) => {
        /// Stable machine-readable error codes. The string form never changes
        /// once released; clients switch on it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                }
            }

            /// The HTTP status an intake answers the code with; `None` for
            /// codes found only in a failed job's `error` (the job's own
            /// request was accepted).
            pub fn http_status(self) -> Option<u16> {
                match self {
                    $(ErrorCode::$variant => error_codes!(@status $status),)*
                }
            }
        }
    };
    (@status job) => { None };
    (@status $status:literal) => { Some($status) };
}

error_codes! {
    ImageUnsupportedFormat = "image.unsupported_format" => job;
    ImageTooLarge = "image.too_large" => job;
    ImageCorrupt = "image.corrupt" => job;
    VisionNoPerson = "vision.no_person" => job;
    VisionNoFace = "vision.no_face" => job;
    /// More than one person in an avatar's photo.
    AvatarMultiplePeople = "avatar.multiple_people" => job;
    /// A photo shows the body from the wrong side (a front photo as the side one, or the reverse).
    AvatarPoseMismatch = "avatar.pose_mismatch" => job;
    /// The head or the feet are outside an avatar's photo.
    AvatarBodyCropped = "avatar.body_cropped" => job;
    /// The front and side photos disagree about the body's proportions (two people?).
    AvatarPhotosDisagree = "avatar.photos_disagree" => job;
    /// The person's silhouette cannot be measured (legs together, too small, not upright).
    AvatarUnmeasurable = "avatar.unmeasurable" => job;
    ModelInvalid = "model.invalid" => job;
    ModelTooLarge = "model.too_large" => job;
    ModelUnsupported = "model.unsupported" => job;
    ModelEmpty = "model.empty" => job;
    RenderCameraInsideModel = "render.camera_inside_model" => job;
    RenderUnavailable = "render.unavailable" => job;
    RenderFailed = "render.failed" => job;
    VideoEncodeFailed = "video.encode_failed" => job;
    EmailRejected = "email.rejected" => job;
    EmailUnavailable = "email.unavailable" => job;
    /// The search query names a job that has no stored embedding.
    SearchNoEmbedding = "search.no_embedding" => 422;
    /// Text search needs the text model, which this intake could not load.
    SearchUnavailable = "search.unavailable" => 503;
    UploadNotFound = "upload.not_found" => 422;
    SourceNotFound = "source.not_found" => 422;
    UploadTooLarge = "upload.too_large" => 413;
    UploadMissingUser = "upload.missing_user" => 400;
    RequestMalformedJson = "request.malformed_json" => 400;
    RequestInvalid = "request.invalid" => 422;
    RequestTooLarge = "request.too_large" => 413;
    RequestUnsupportedMediaType = "request.unsupported_media_type" => 415;
    /// The client sent its request too slowly (a body idle past
    /// `intake.body_idle_timeout`, or the whole past `intake.request_timeout`).
    RequestTimeout = "request.timeout" => 408;
    /// The intake is at its bound of requests or uploads in flight: retry
    /// after `Retry-After`.
    IntakeBusy = "intake.busy" => 503;
    /// An end user already holds `events.max_sockets_per_user` sockets.
    EventsTooManySockets = "events.too_many_sockets" => 429;
    /// The API client has `intake.max_open_jobs_per_client` jobs queued or
    /// running.
    QuotaExceeded = "quota.exceeded" => 429;
    JobUnknownKind = "job.unknown_kind" => 422;
    JobKindNotAvailable = "job.kind_not_available" => 501;
    JobNotFound = "job.not_found" => 404;
    JobIdempotencyConflict = "job.idempotency_conflict" => 409;
    JobTimeout = "job.timeout" => job;
    JobCancelled = "job.cancelled" => job;
    /// A flow's node whose dependency failed, under `on_dependency_failure:
    /// fail` (the message names the dependency).
    FlowDependencyFailed = "flow.dependency_failed" => job;
    /// A flow's node whose reference points at nothing in its dependency's
    /// result (or at null).
    FlowReferenceUnresolved = "flow.reference_unresolved" => job;
    JobNotCancellable = "job.not_cancellable" => 409;
    FlowNotFound = "flow.not_found" => 404;
    FlowNotCancellable = "flow.not_cancellable" => 409;
    FlowRunning = "flow.running" => 409;
    QueueNotFound = "queue.not_found" => 404;
    RateLimited = "rate.limited" => 429;
    AuthForbidden = "auth.forbidden" => 403;
    JobWorkerLost = "job.worker_lost" => job;
    AuthMissingApiKey = "auth.missing_api_key" => 401;
    AuthInvalidApiKey = "auth.invalid_api_key" => 401;
    AuthInvalidToken = "auth.invalid_token" => 401;
    /// The console: no session, or an expired one (sign in again).
    AuthSignedOut = "auth.signed_out" => 401;
    /// The console: an action without its session's form token.
    AuthCsrf = "auth.csrf" => 403;
    ObjectInvalidSignature = "object.invalid_signature" => 403;
    ObjectNotFound = "object.not_found" => 404;
    RouteNotFound = "route.not_found" => 404;
    MethodNotAllowed = "method.not_allowed" => 405;
    StorageUnavailable = "storage.unavailable" => 503;
    QueueUnavailable = "queue.unavailable" => 503;
    DatabaseUnavailable = "database.unavailable" => 503;
    Internal = "internal" => 500;
}

impl std::str::FromStr for ErrorCode {
    type Err = UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|code| code.as_str() == s)
            .ok_or_else(|| UnknownCode(s.to_owned()))
    }
}

/// The name is not one of [`ErrorCode::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown error code {0:?}")]
pub struct UnknownCode(pub String);

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<str>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
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
        for &code in ErrorCode::ALL {
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
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_serialises_as_its_name_and_is_documented() {
        let readme = include_str!("../../../README.md");
        let mut names = std::collections::HashSet::new();
        for &code in ErrorCode::ALL {
            let name = code.as_str();
            assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{name}\""));
            assert_eq!(
                serde_json::from_str::<ErrorCode>(&format!("\"{name}\"")).unwrap(),
                code
            );
            assert_eq!(name.parse::<ErrorCode>(), Ok(code));
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
        // And the table names no code that does not exist.
        let table = &readme[readme.find("| Code | Answered with |").expect("the table")..];
        for row in table.lines().skip(2).take_while(|l| l.starts_with("| `")) {
            let name = row.split('`').nth(1).unwrap_or_default();
            assert!(
                name.parse::<ErrorCode>().is_ok(),
                "README.md's table lists {name}, which is no code"
            );
        }
    }
}
