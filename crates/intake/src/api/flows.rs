//! The flow routes' requests and answers (`POST /v1/flows` and the routes
//! under `/v1/flows/{flow_id}`).
use atelier_jobs::flow::{DependencyPolicy, FlowNodeSpec, FlowStatus, RetryMode};
use atelier_jobs::{ErrorBody, IdempotencyKey, JobKind, JobStatus, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// `POST /v1/flows`: a DAG of jobs submitted as one.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowRequest {
    pub user_id: UserId,
    /// At most `flows.max_nodes` (200 by default), each after the nodes
    /// it depends on have ended.
    pub nodes: Vec<FlowNodeSpec>,
    #[serde(default)]
    pub idempotency_key: Option<IdempotencyKey>,
    /// One e-mail when the flow ends (not one per node).
    #[serde(default)]
    pub notify: Option<super::Notify>,
}

/// A node's job and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowNodeState {
    pub name: String,
    pub job_id: Uuid,
    pub status: JobStatus,
}

/// `202` from `POST /v1/flows`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowAccepted {
    pub flow_id: Uuid,
    pub status: FlowStatus,
    /// In an order where every node follows those it depends on.
    pub nodes: Vec<FlowNodeState>,
}

/// One node of `GET /v1/flows/{flow_id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowNodeView {
    pub name: String,
    pub job_id: Uuid,
    pub kind: JobKind,
    pub status: JobStatus,
    pub attempts: i32,
    pub depends_on: Vec<String>,
    pub on_dependency_failure: DependencyPolicy,
    /// The input as it ran: references filled in once released.
    #[schema(value_type = Object)]
    pub resolved_input: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Its kind's result (stored objects with fresh signed `url`s).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// `GET /v1/flows/{flow_id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowView {
    pub flow_id: Uuid,
    pub user_id: String,
    pub status: FlowStatus,
    pub nodes_total: i32,
    /// Nodes that have ended.
    pub nodes_done: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Where the flow's end is e-mailed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_email: Option<String>,
    pub nodes: Vec<FlowNodeView>,
}

/// `POST /v1/flows/{flow_id}/cancel`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowCancelAnswer {
    pub flow_id: Uuid,
    /// `cancelled`.
    pub status: FlowStatus,
    /// Nodes that were waiting or queued: ended now, `job.cancelled`.
    pub ended: Vec<Uuid>,
    /// Nodes that were running: each stops at its next stage.
    pub stopping: Vec<Uuid>,
}

/// `POST /v1/flows/{flow_id}/retry`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowRetryRequest {
    pub mode: RetryMode,
}

/// `200` from `POST /v1/flows/{flow_id}/retry`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowRetryAnswer {
    pub flow_id: Uuid,
    /// `running` (or at once `complete` when nothing was to retry).
    pub status: FlowStatus,
    /// Nodes that will run again.
    pub nodes_retried: i32,
}

/// The query of `GET /v1/flows` and `GET /v1/ops/flows`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FlowListQuery {
    /// Only this user's flows.
    pub user_id: Option<String>,
    /// Only flows in this state.
    pub status: Option<FlowStatus>,
    /// Operators only: only this client's flows.
    pub client_id: Option<String>,
    /// At most this many (default 50, at most 500), newest first.
    pub limit: Option<usize>,
}

/// One flow of a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FlowSummary {
    pub flow_id: Uuid,
    pub client_id: String,
    pub user_id: String,
    pub status: FlowStatus,
    pub nodes_total: i32,
    pub nodes_done: i32,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

/// `GET /v1/flows`, `GET /v1/ops/flows`: newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FlowList {
    pub flows: Vec<FlowSummary>,
}
