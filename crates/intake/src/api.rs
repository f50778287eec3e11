//! The HTTP contract: the types every route reads and writes, with their
//! schemas (derived from the same types serde uses, and per job kind from
//! the kinds' contracts, `atelier_jobs::kind_contracts`). The document is
//! assembled in `openapi.rs` and `router.rs`.
use std::collections::BTreeMap;

use atelier_jobs::{
    ErrorBody, IdempotencyKey, JobKind, JobStatus, ModelRef, Priority, Schemas, UserId,
    kind_contracts,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{AdditionalProperties, Schema, Type};
use utoipa::openapi::{AllOfBuilder, ObjectBuilder, OneOfBuilder, Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

mod flows;
mod operations;
pub use flows::*;
pub use operations::*;

/// Every failed response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

/// `201` from `POST /v1/uploads`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadCreated {
    pub upload_id: Uuid,
    pub bytes: i64,
    /// Hex SHA-256 of the bytes as received.
    pub sha256: String,
}

/// What `POST /v1/jobs` accepts: `kind` names the contract `input` follows.
/// Its schema is one variant per kind (see [`JobSubmission`]'s schema).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// Parsed after the body, so an unknown kind is `job.unknown_kind`.
    pub kind: String,
    pub user_id: UserId,
    pub input: serde_json::Value,
    #[serde(default)]
    pub idempotency_key: Option<IdempotencyKey>,
    /// Higher runs first within the queue; default 5.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// E-mail this address once when the job ends.
    #[serde(default)]
    pub notify: Option<Notify>,
}

/// E-mail `email` when the job (or flow) ends: one message, whatever
/// path ended it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    pub email: String,
}

/// `202` from `POST /v1/jobs`.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobAccepted {
    pub job_id: Uuid,
    /// `queued` for a new job; a repeated idempotency key answers with the
    /// job's current status.
    pub status: JobStatus,
}

/// What a job has cost so far, over all its runs.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobCost {
    pub cpu_seconds: f64,
    pub wall_seconds: f64,
    pub bytes_written: i64,
    pub runs: i64,
}

/// `GET /v1/jobs/{job_id}`, any kind; the document's `JobView` adds, per
/// kind, the schema its `result` follows.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = JobViewBase)]
pub struct JobView {
    pub job_id: Uuid,
    pub kind: JobKind,
    pub user_id: String,
    pub status: JobStatus,
    /// 0–100.
    pub progress: i16,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The kind's result (every stored object in it with a fresh signed
    /// `url`), once complete.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<JobCost>,
    /// Why the job ended `error` or `dead`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// `GET /v1/ops/jobs/{job_id}`: the job view with its client and queue.
#[derive(Debug, Serialize)]
pub struct OperatorJobView {
    #[serde(flatten)]
    pub view: JobView,
    pub client_id: String,
    pub queue: String,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CancelState {
    /// The job was running: it stops at its next stage.
    Requested,
    /// The job was waiting: it ended `error` with `job.cancelled`.
    Done,
}

/// `200`/`202` from a cancel.
#[derive(Debug, Serialize, ToSchema)]
pub struct CancelAnswer {
    pub job_id: Uuid,
    pub status: JobStatus,
    pub cancel: CancelState,
}

/// `POST /v1/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub user_id: UserId,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenIssued {
    /// For `GET /v1/events?token=…`, this end user's events only.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// `POST /v1/search/similar`: exactly one of `job_id` and `text`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimilarRequest {
    /// A completed `vision.embed` job: search its modality for its vector.
    #[serde(default)]
    pub job_id: Option<String>,
    /// A text query, embedded here with the text model.
    #[serde(default)]
    pub text: Option<String>,
    /// 1–100, default 10.
    #[serde(default)]
    pub k: Option<usize>,
    /// Only this user's items.
    #[serde(default)]
    pub user_id: Option<UserId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarHit {
    /// The `vision.embed` job whose vector was found.
    pub job_id: Uuid,
    pub user_id: String,
    /// Cosine similarity.
    pub score: f32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarResults {
    /// `image` or `text`: the modality searched.
    pub modality: String,
    pub model: ModelRef,
    /// Best first.
    pub results: Vec<SimilarHit>,
    /// Vectors compared.
    pub searched: usize,
    pub took_ms: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueTotals {
    pub enqueued: u64,
    pub completed: u64,
    pub failed: u64,
    pub retried: u64,
    pub dead: u64,
    pub lease_expired: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueSettings {
    pub concurrency: u32,
    pub prefetch: u32,
    pub max_attempts: u32,
    pub lease_seconds: f64,
    pub timeout_seconds: f64,
    pub scaling: atelier_config::Scaling,
}

/// One queue, as an operator scales it.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueOverview {
    pub queue: String,
    pub priority: atelier_config::Priority,
    pub kinds: Vec<JobKind>,
    pub paused: bool,
    /// Ready plus in backoff.
    pub depth: u64,
    pub ready: u64,
    pub scheduled: u64,
    pub in_flight: u64,
    pub dead: u64,
    pub oldest_age_seconds: Option<f64>,
    pub live_workers: u64,
    /// Measured mean service time.
    pub service_time_seconds: Option<f64>,
    pub recommended_workers: u32,
    /// Why that many.
    pub recommendation: String,
    pub totals: QueueTotals,
    pub config: QueueSettings,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueList {
    pub queues: Vec<QueueOverview>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadJob {
    pub job_id: String,
    /// Null when the queued message could not be read.
    pub kind: Option<JobKind>,
    pub attempts: u32,
    pub last_error: String,
    pub died_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadList {
    pub queue: String,
    /// Newest first.
    pub jobs: Vec<DeadJob>,
}

/// Body of a dead retry or purge: `{"job_ids": [...]}` (an empty list is
/// none) or `{"all": true}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadSelection {
    #[serde(default)]
    pub job_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    pub all: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadRetried {
    pub queue: String,
    /// The jobs queued again.
    pub retried: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadPurged {
    pub queue: String,
    pub purged: Vec<String>,
}

/// One dependency's check: `seconds` when up, `error` when down.
#[derive(Debug, Serialize, ToSchema)]
pub struct DependencyCheck {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GET /v1/ops/health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` (503) when a dependency is down.
    pub status: String,
    /// `redis`, `database`, `storage`.
    pub dependencies: BTreeMap<String, DependencyCheck>,
}

/// `GET /healthz` (`ok`) and `GET /readyz` (`ready`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Probe {
    pub status: String,
}

/// Raw bytes of any type (an upload, a stored object).
pub struct RawBytes;

impl PartialSchema for RawBytes {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::{KnownFormat, SchemaFormat};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for RawBytes {}

fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

fn kind_constant(kind: JobKind) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([kind.as_str()]))
}

/// The schema of `POST /v1/jobs`'s body: one variant per kind, its
/// `input` the kind's contract.
pub struct JobSubmission;

impl PartialSchema for JobSubmission {
    fn schema() -> RefOr<Schema> {
        let mut variants = OneOfBuilder::new().description(Some(
            "A job: `kind` names the contract `input` follows (version 1)",
        ));
        for contract in kind_contracts(&mut Schemas::new()) {
            let variant = ObjectBuilder::new()
                .title(Some(contract.kind.as_str()))
                .property("kind", kind_constant(contract.kind))
                .required("kind")
                .property("user_id", reference("UserId"))
                .required("user_id")
                .property("input", reference(&contract.input))
                .required("input")
                .property("idempotency_key", reference("IdempotencyKey"))
                .property("priority", reference("Priority"))
                .property("notify", reference("Notify"))
                .additional_properties(Some(AdditionalProperties::FreeForm(false)));
            variants = variants.item(variant);
        }
        variants.into()
    }
}

impl ToSchema for JobSubmission {
    fn schemas(out: &mut Schemas) {
        kind_contracts(out);
        out.push(("Notify".into(), Notify::schema()));
        out.push(("UserId".into(), UserId::schema()));
        out.push(("IdempotencyKey".into(), IdempotencyKey::schema()));
        out.push(("Priority".into(), Priority::schema()));
    }
}

/// The job view's schema: the common fields, and per kind the schema its
/// `result` follows.
pub struct JobViewSchema;

impl PartialSchema for JobViewSchema {
    fn schema() -> RefOr<Schema> {
        let mut variants = OneOfBuilder::new();
        for contract in kind_contracts(&mut Schemas::new()) {
            variants = variants.item(
                AllOfBuilder::new().item(reference("JobViewBase")).item(
                    ObjectBuilder::new()
                        .title(Some(contract.kind.as_str()))
                        .property("kind", kind_constant(contract.kind))
                        .property("result", reference(&contract.result)),
                ),
            );
        }
        variants.into()
    }
}

impl ToSchema for JobViewSchema {
    fn name() -> std::borrow::Cow<'static, str> {
        "JobView".into()
    }

    fn schemas(out: &mut Schemas) {
        kind_contracts(out);
        out.push(("JobViewBase".into(), JobView::schema()));
        JobView::schemas(out);
    }
}

/// The operator's job view: the job view, its client and queue.
pub struct OperatorJobViewSchema;

impl PartialSchema for OperatorJobViewSchema {
    fn schema() -> RefOr<Schema> {
        AllOfBuilder::new()
            .item(reference("JobView"))
            .item(
                ObjectBuilder::new()
                    .property("client_id", String::schema())
                    .required("client_id")
                    .property("queue", String::schema())
                    .required("queue"),
            )
            .into()
    }
}

impl ToSchema for OperatorJobViewSchema {
    fn name() -> std::borrow::Cow<'static, str> {
        "OperatorJobView".into()
    }

    fn schemas(out: &mut Schemas) {
        out.push(("JobView".into(), JobViewSchema::schema()));
        JobViewSchema::schemas(out);
    }
}
