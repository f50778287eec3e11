//! Operators' views over time and at scale: `GET /v1/ops/jobs` (search over
//! every client's jobs) and `GET /v1/queues/{queue}/history`.
use atelier_jobs::{JobKind, JobStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// The query of `GET /v1/ops/jobs`: every filter given must hold.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobSearchQuery {
    pub kind: Option<JobKind>,
    pub status: Option<JobStatus>,
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    /// The failed jobs with this error code.
    pub error_code: Option<String>,
    pub flow_id: Option<Uuid>,
    /// Created at or after.
    pub created_after: Option<DateTime<Utc>>,
    /// Created before.
    pub created_before: Option<DateTime<Utc>>,
    /// A JSON object the input contains (`{"upload_id": "…"}`, nested
    /// objects too).
    pub input: Option<String>,
    /// A JSON object the result contains.
    pub result: Option<String>,
    /// The `next_cursor` of the page before.
    pub cursor: Option<String>,
    /// At most this many (default 50, at most 200), newest first.
    pub limit: Option<usize>,
}

/// One job of a search.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobSummary {
    pub job_id: Uuid,
    pub kind: JobKind,
    pub status: JobStatus,
    pub client_id: String,
    pub user_id: String,
    pub queue: String,
    pub attempts: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

/// `GET /v1/ops/jobs`: newest first; `next_cursor` when more may follow.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobList {
    pub jobs: Vec<JobSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The query of `GET /v1/queues/{queue}/history`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// From this moment (default: 24 hours ago).
    pub since: Option<DateTime<Utc>>,
}

/// One sample of a queue's history.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HistoryPoint {
    pub at: DateTime<Utc>,
    pub depth: i64,
    pub in_flight: i64,
    pub dead: i64,
    pub waiting_on_dependencies: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_age_ms: Option<i64>,
    pub live_workers: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_time_ms: Option<f64>,
    /// Since the sample before (absent on the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_per_min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_per_min: Option<f64>,
}

/// `GET /v1/queues/{queue}/history`: oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QueueHistory {
    pub queue: String,
    /// How often samples are taken (`intake.history_interval`).
    pub interval_seconds: f64,
    pub points: Vec<HistoryPoint>,
}
