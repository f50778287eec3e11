//! The HTTP contract: the types every route reads and writes, and the
//! OpenAPI 3.1 document generated from them and from the job contracts
//! (`atelier_jobs::contract`). Served at `GET /openapi.json` and committed
//! as `openapi.json` (a test keeps the two equal).
use std::collections::BTreeMap;
use std::sync::OnceLock;

use atelier_jobs::contract::{Schemas, kind_contracts};
use atelier_jobs::{ErrorBody, JobKind, JobStatus, ModelRef};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{AdditionalProperties, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{AllOfBuilder, ObjectBuilder, OneOfBuilder, OpenApi as Document, Ref, RefOr};
use utoipa::{OpenApi, PartialSchema, ToSchema};
use uuid::Uuid;

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
    pub kind: String,
    pub user_id: String,
    pub input: serde_json::Value,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// 0–9, higher runs first within the queue; default 5.
    #[serde(default)]
    pub priority: Option<u8>,
    /// E-mail this address once when the job ends.
    #[serde(default)]
    pub notify: Option<Notify>,
}

#[derive(Debug, Deserialize, ToSchema)]
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
    #[schema(value_type = JobKind)]
    pub kind: String,
    pub user_id: String,
    #[schema(value_type = JobStatus)]
    pub status: String,
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
    pub user_id: String,
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
    pub user_id: Option<String>,
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
                .property(
                    "user_id",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some("^[A-Za-z0-9_.@:+-]{1,128}$"))
                        .description(Some("The platform's own end-user id (not `.` or `..`)")),
                )
                .required("user_id")
                .property("input", reference(&contract.input))
                .required("input")
                .property(
                    "idempotency_key",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(1))
                        .max_length(Some(255))
                        .description(Some(
                            "The same key (per client) answers as the first call did",
                        )),
                )
                .property(
                    "priority",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0))
                        .maximum(Some(9))
                        .description(Some("Higher runs first within the queue; default 5")),
                )
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

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |what: &str| {
            let mut http = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build();
            http.description = Some(what.to_owned());
            SecurityScheme::Http(http)
        };
        components.add_security_scheme(
            "api_key",
            bearer("An API key (`intake.api_keys`): its client's jobs, uploads and events"),
        );
        components.add_security_scheme(
            "operator_key",
            bearer("An operator key (`intake.operator_keys`): every client's jobs and queues"),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "atelier intake",
        description = "Uploads, typed jobs, their results and events, and the operators' \
                       queue controls. Every failed response is `{\"error\": {\"code\", \
                       \"message\"}}`; each response lists the codes it may carry, and the \
                       `ErrorCode` schema gives every code's HTTP status."
    ),
    paths(
        crate::routes::uploads::create,
        crate::routes::jobs::submit,
        crate::routes::jobs::show,
        crate::routes::jobs::cancel,
        crate::routes::events::issue_token,
        crate::routes::events::socket,
        crate::routes::search::similar,
        crate::routes::queues::list,
        crate::routes::queues::show,
        crate::routes::queues::pause,
        crate::routes::queues::resume,
        crate::routes::queues::dead_list,
        crate::routes::queues::dead_retry,
        crate::routes::queues::dead_purge,
        crate::routes::jobs::operator_show,
        crate::routes::jobs::operator_cancel,
        crate::routes::ops::health,
        crate::routes::objects::read,
        crate::routes::ops::healthz,
        crate::routes::ops::readyz,
        crate::routes::ops::metrics,
        crate::routes::ops::openapi_json,
    ),
    components(schemas(atelier_jobs::EventEnvelopeSchema, atelier_jobs::ErrorCode, CancelAnswer)),
    modifiers(&Security),
    tags(
        (name = "jobs", description = "Uploads, jobs and their results (API keys)"),
        (name = "events", description = "End users' events over WebSocket"),
        (name = "search", description = "Similarity search over stored embeddings"),
        (name = "operators", description = "Queues and any client's jobs (operator keys)"),
        (name = "probes", description = "Health, readiness, metrics and this document"),
    )
)]
struct ApiDoc;

/// Responses every operation of a kind gives whatever its handler does: the
/// bounds on every non-probe route, authentication and rate limits where
/// they apply, and the refusals of a JSON body.
fn common_responses(path: &str, operation: &serde_json::Value) -> Vec<(u16, &'static str)> {
    let tags = operation["tags"].as_array();
    if tags.is_some_and(|t| t.iter().any(|t| t == "probes")) {
        return Vec::new();
    }
    let mut out = vec![(408, "request.timeout"), (503, "intake.busy")];
    if operation.get("security").is_some() {
        out.extend([
            (401, "auth.missing_api_key"),
            (401, "auth.invalid_api_key"),
            (403, "auth.forbidden"),
            (429, "rate.limited"),
        ]);
    }
    if matches!(path, "/v1/events" | "/objects/{key}") {
        out.push((429, "rate.limited"));
    }
    // Every JSON body is read and parsed the same way.
    if operation["requestBody"]["content"]
        .get("application/json")
        .is_some()
    {
        out.extend([
            (400, "request.malformed_json"),
            (413, "request.too_large"),
            (422, "request.invalid"),
        ]);
    }
    out
}

/// Add `code` to the operation's response for `status`: a new error
/// response, or the code appended to an existing one (whose body may then
/// be an error too).
fn add_response(operation: &mut serde_json::Value, status: u16, code: &str) {
    use serde_json::json;
    let error = json!({"$ref": "#/components/schemas/ErrorResponse"});
    let responses = &mut operation["responses"];
    let key = status.to_string();
    let named = format!("`{code}`");
    match responses.get_mut(&key) {
        None => {
            responses[&key] = json!({
                "description": named,
                "content": {"application/json": {"schema": error}},
            });
        }
        Some(response) => {
            let description = response["description"].as_str().unwrap_or("").to_owned();
            if !description.contains(&named) {
                response["description"] = json!(format!("{description}; {named}"));
            }
            let schema = &mut response["content"]["application/json"]["schema"];
            if *schema != error {
                *schema = json!({"oneOf": [schema.take(), error]});
            }
        }
    }
}

/// The document, built once: generated from the types, then the
/// middleware's responses added to every operation.
pub fn document() -> &'static serde_json::Value {
    static DOCUMENT: OnceLock<serde_json::Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
        doc.info.license = Some(utoipa::openapi::License::new("Apache-2.0"));
        let mut doc = serde_json::to_value(doc).expect("the document serialises");
        let paths = doc["paths"].as_object_mut().expect("paths");
        for (path, item) in paths.iter_mut() {
            for operation in item.as_object_mut().expect("path item").values_mut() {
                for (status, code) in common_responses(path, operation) {
                    add_response(operation, status, code);
                }
            }
        }
        doc
    })
}

/// The document as committed and served: pretty JSON, a final newline.
pub fn document_json() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let mut text = serde_json::to_string_pretty(document()).expect("the document serialises");
        text.push('\n');
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed `openapi.json` is the generated one. After changing a
    /// wire type: `ATELIER_WRITE_OPENAPI=1 cargo test -p atelier-intake openapi`.
    #[test]
    fn the_committed_openapi_document_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json");
        let generated = document_json();
        if std::env::var_os("ATELIER_WRITE_OPENAPI").is_some() {
            std::fs::write(path, generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "openapi.json is stale: run ATELIER_WRITE_OPENAPI=1 cargo test -p atelier-intake openapi"
        );
    }

    #[test]
    fn every_reference_resolves_and_every_kind_has_its_result() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let text = doc.to_string();
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = &piece[..piece.find('"').unwrap()];
            assert!(
                schemas.contains_key(name),
                "{name} is referenced, not defined"
            );
        }
        let view = &schemas["JobView"]["oneOf"];
        let kinds: Vec<&str> = view
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                v["allOf"][1]["properties"]["kind"]["enum"][0]
                    .as_str()
                    .unwrap()
            })
            .collect();
        let all: Vec<&str> = JobKind::ALL
            .into_iter()
            .chain(JobKind::TEST)
            .map(JobKind::as_str)
            .collect();
        assert_eq!(kinds, all);
        let ids: Vec<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .map(|op| op["operationId"].as_str().unwrap())
            .collect();
        let unique: std::collections::HashSet<&&str> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "operation ids repeat: {ids:?}");
        // Every code, with its status.
        let codes = schemas["ErrorCode"]["oneOf"].as_array().unwrap();
        assert_eq!(codes.len(), atelier_jobs::ErrorCode::ALL.len());
        assert_eq!(codes[0]["description"], "In a failed job's `error` only");
    }
}
