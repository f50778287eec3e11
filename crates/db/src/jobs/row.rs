//! A job's row as callers see it ([`JobRow`], typed) and as the table
//! holds it (text columns, typed here before anyone else sees them).
use atelier_jobs::flow::{DependencyPolicy, Reference};
use atelier_jobs::{ErrorBody, IdempotencyKey, JobKind, JobStatus, Priority, UserId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::DbError;

/// A job as submitted at intake.
pub struct NewJob<'a> {
    pub id: Uuid,
    pub kind: JobKind,
    pub contract_version: i32,
    pub queue: &'a str,
    pub client_id: &'a str,
    pub user_id: &'a UserId,
    pub priority: Priority,
    pub idempotency_key: Option<&'a IdempotencyKey>,
    /// Hash of what the client sent, to tell a retry from a conflicting reuse
    /// of the same idempotency key.
    pub request_hash: &'a str,
    pub input: serde_json::Value,
    /// E-mail the end of this job to this address, through the named queue
    /// (the one carrying `notify.email`).
    pub notify: Option<(&'a str, &'a str)>,
}

/// A job's row.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: Uuid,
    pub kind: JobKind,
    pub contract_version: i32,
    pub queue: String,
    pub client_id: String,
    pub user_id: String,
    pub status: JobStatus,
    pub progress: i16,
    pub attempts: i32,
    pub priority: i16,
    pub idempotency_key: Option<String>,
    pub request_hash: String,
    pub input: serde_json::Value,
    pub result: Option<serde_json::Value>,
    /// Why it ended `error` or `dead`, or the last failure of a run that
    /// will be retried.
    pub error: Option<ErrorBody>,
    pub enqueued_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub cost: Option<serde_json::Value>,
    /// Input hash + model version of a vision result, for the result cache.
    pub cache_key: Option<String>,
    /// The lease whose run may write this row (see [`Fence`]).
    pub lease_token: Option<String>,
    /// Where to e-mail the job's end, and the queue of that `notify.email`.
    pub notify_email: Option<String>,
    pub notify_queue: Option<String>,
    /// The flow this job is a node of.
    pub flow: Option<FlowNode>,
    /// The worker that took the current (or last) run.
    pub worker: Option<String>,
}

/// A job's place in its flow.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowNode {
    pub flow_id: Uuid,
    pub name: String,
    /// Its place in the flow's order (dependencies first).
    pub index: i32,
    /// Dependencies not yet ended.
    pub waiting_on: i32,
    pub policy: DependencyPolicy,
    /// Filled in when the node was released (the input holds the values).
    pub references: Vec<Reference>,
}

/// A row as the table holds it (text columns), read by the queries and
/// typed into a [`JobRow`] before anyone else sees it.
#[derive(sqlx::FromRow)]
pub(crate) struct StoredJob {
    pub(crate) id: Uuid,
    pub(crate) kind: String,
    pub(crate) contract_version: i32,
    pub(crate) queue: String,
    pub(crate) client_id: String,
    pub(crate) user_id: String,
    pub(crate) status: String,
    pub(crate) progress: i16,
    pub(crate) attempts: i32,
    pub(crate) priority: i16,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) request_hash: String,
    pub(crate) input: serde_json::Value,
    pub(crate) result: Option<serde_json::Value>,
    pub(crate) error_code: Option<String>,
    pub(crate) error_message: Option<String>,
    pub(crate) enqueued_at: Option<DateTime<Utc>>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) started_at: Option<DateTime<Utc>>,
    pub(crate) finished_at: Option<DateTime<Utc>>,
    pub(crate) cost: Option<serde_json::Value>,
    pub(crate) cache_key: Option<String>,
    pub(crate) lease_token: Option<String>,
    pub(crate) notify_email: Option<String>,
    pub(crate) notify_queue: Option<String>,
    pub(crate) flow_id: Option<Uuid>,
    pub(crate) node: Option<String>,
    pub(crate) node_index: Option<i32>,
    pub(crate) waiting_on: i32,
    pub(crate) on_dependency_failure: Option<String>,
    pub(crate) input_references: Option<serde_json::Value>,
    pub(crate) worker: Option<String>,
}

impl TryFrom<StoredJob> for JobRow {
    type Error = DbError;

    fn try_from(row: StoredJob) -> Result<Self, DbError> {
        let unreadable = |column: &str, value: &str| DbError::Unreadable {
            table: "jobs",
            id: row.id.to_string(),
            column: column.to_owned(),
            value: value.to_owned(),
        };
        let kind = row
            .kind
            .parse()
            .map_err(|_| unreadable("kind", &row.kind))?;
        let status = row
            .status
            .parse()
            .map_err(|_| unreadable("status", &row.status))?;
        let error = match &row.error_code {
            Some(code) => Some(ErrorBody {
                code: code.parse().map_err(|_| unreadable("error_code", code))?,
                message: row.error_message.clone().unwrap_or_default(),
            }),
            None => None,
        };
        let flow = match (row.flow_id, &row.node) {
            (Some(flow_id), Some(name)) => {
                let policy = row.on_dependency_failure.as_deref().unwrap_or("fail");
                let policy = policy
                    .parse()
                    .map_err(|_| unreadable("on_dependency_failure", policy))?;
                let references = match &row.input_references {
                    Some(refs) => serde_json::from_value(refs.clone())
                        .map_err(|_| unreadable("input_references", &refs.to_string()))?,
                    None => Vec::new(),
                };
                Some(FlowNode {
                    flow_id,
                    name: name.clone(),
                    index: row.node_index.unwrap_or_default(),
                    waiting_on: row.waiting_on,
                    policy,
                    references,
                })
            }
            _ => None,
        };
        Ok(JobRow {
            id: row.id,
            kind,
            contract_version: row.contract_version,
            queue: row.queue,
            client_id: row.client_id,
            user_id: row.user_id,
            status,
            progress: row.progress,
            attempts: row.attempts,
            priority: row.priority,
            idempotency_key: row.idempotency_key,
            request_hash: row.request_hash,
            input: row.input,
            result: row.result,
            error,
            enqueued_at: row.enqueued_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            cost: row.cost,
            cache_key: row.cache_key,
            lease_token: row.lease_token,
            notify_email: row.notify_email,
            notify_queue: row.notify_queue,
            flow,
            worker: row.worker,
        })
    }
}

pub(crate) fn typed(rows: Vec<StoredJob>) -> Result<Vec<JobRow>, DbError> {
    rows.into_iter().map(JobRow::try_from).collect()
}

pub(super) fn typed_one(row: Option<StoredJob>) -> Result<Option<JobRow>, DbError> {
    row.map(JobRow::try_from).transpose()
}

/// The kinds this release knows, as the `kind` column holds them: the
/// outbox and the reconciler page through these only, so a row of a kind
/// from a newer release waits for a process that can read it.
pub(super) fn known_kinds() -> Vec<String> {
    JobKind::every().map(|k| k.as_str().to_owned()).collect()
}
