use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::schema::{Schema, Type};
use utoipa::openapi::{AllOfBuilder, ObjectBuilder, OneOfBuilder, Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

use crate::{
    AvatarMeasurements, AvatarModelFile, ErrorBody, JobKind, JobStatus, MonkTone, StoredObject,
};

/// Event types the gateway delivers. Domain events sit beside the job ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventType {
    #[serde(rename = "job.progress")]
    JobProgress,
    #[serde(rename = "job.completed")]
    JobCompleted,
    #[serde(rename = "job.failed")]
    JobFailed,
    #[serde(rename = "photo.ingested")]
    PhotoIngested,
    #[serde(rename = "skin_tone.analyzed")]
    SkinToneAnalyzed,
    #[serde(rename = "avatar.processed")]
    AvatarProcessed,
    #[serde(rename = "flow.progress")]
    FlowProgress,
    #[serde(rename = "flow.completed")]
    FlowCompleted,
    #[serde(rename = "flow.failed")]
    FlowFailed,
    #[serde(rename = "flow.cancelled")]
    FlowCancelled,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::JobProgress => "job.progress",
            EventType::JobCompleted => "job.completed",
            EventType::JobFailed => "job.failed",
            EventType::PhotoIngested => "photo.ingested",
            EventType::SkinToneAnalyzed => "skin_tone.analyzed",
            EventType::AvatarProcessed => "avatar.processed",
            EventType::FlowProgress => "flow.progress",
            EventType::FlowCompleted => "flow.completed",
            EventType::FlowFailed => "flow.failed",
            EventType::FlowCancelled => "flow.cancelled",
        }
    }
}

/// The one envelope every event travels in, v1.
///
/// `event_id` is assigned by the event log when the event is appended; it is
/// opaque to clients, increases per user, and is what a reconnecting client
/// hands back as `last_event_id`. A `flow.*` event's `job_id` is its
/// flow's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = EventEnvelopeBase)]
pub struct EventEnvelope {
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub job_id: Uuid,
    pub user_id: String,
    pub at: DateTime<Utc>,
    pub data: serde_json::Value,
}

/// `job.progress` data.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct ProgressData {
    /// 0–100 (absent when a retry was scheduled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<i16>,
    /// The stage now running; `retry_scheduled` when a failed run will run
    /// again.
    pub stage: String,
    /// The attempt that failed (`retry_scheduled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// Why it failed (`retry_scheduled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
    /// The handler's own details: a still's `camera`, `position` and `of`,
    /// a turntable's `frames_done` and `frames`.
    #[serde(flatten)]
    pub detail: BTreeMap<String, Value>,
}

/// What a run cost (`job.completed`); the job view sums every run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunCost {
    pub cpu_seconds: f64,
    pub wall_seconds: f64,
    pub bytes_written: u64,
}

/// `job.completed` data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompletedData {
    pub kind: JobKind,
    /// The kind's result, slim: arrays of more than 32 numbers (an
    /// embedding's vector) are null; the job view has them.
    #[schema(value_type = Option<Object>)]
    pub result: Value,
    pub result_slimmed: bool,
    /// This run's cost (absent when a finished job's event is repeated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<RunCost>,
}

impl CompletedData {
    /// The event of a job of `kind` that completed with `result`.
    pub fn new(kind: JobKind, result: &Value, cost: Option<RunCost>) -> Self {
        let (result, result_slimmed) = slim_result(result);
        CompletedData {
            kind,
            result,
            result_slimmed,
            cost,
        }
    }
}

/// `job.failed` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FailedData {
    /// `error` (not retried) or `dead` (attempts exhausted).
    pub status: JobStatus,
    pub error: ErrorBody,
}

/// `photo.ingested` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PhotoIngestedData {
    pub photo_id: Uuid,
    pub avatar_id: Uuid,
    pub thumbnail_key: String,
}

/// `skin_tone.analyzed` data: the primary person's reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SkinToneAnalyzedData {
    pub monk: MonkTone,
    pub hex: String,
    pub undertone: String,
    pub season: String,
    pub confidence: f32,
    /// Faces read in the photo.
    pub faces: usize,
}

/// `avatar.processed` data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AvatarProcessedData {
    pub avatar_id: Uuid,
    /// `ready`.
    pub status: String,
    pub confidence: f32,
    pub measurements: AvatarMeasurements,
    pub models: Vec<AvatarModelFile>,
    pub preview: StoredObject,
}

/// `flow.progress` data: a node of the flow ended (written by the
/// database in the transaction that ended it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FlowProgressData {
    pub flow_id: Uuid,
    /// The node that moved, its job and how it ended.
    pub node: String,
    pub node_job_id: Uuid,
    pub kind: JobKind,
    pub status: JobStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
    /// The flow's nodes that have ended, and all of them.
    pub done: i32,
    pub total: i32,
}

/// `flow.completed`, `flow.failed` and `flow.cancelled` data: the flow
/// ended (once per end; a retried flow ends again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FlowEndedData {
    pub flow_id: Uuid,
    /// `complete`, `failed` or `cancelled`.
    pub status: crate::flow::FlowStatus,
    pub done: i32,
    pub total: i32,
    /// The nodes that failed themselves (not by a dependency's failure or
    /// the flow's cancel), in the flow's order.
    pub failed_nodes: Vec<String>,
}

/// An event's data as JSON (every data type serialises).
pub fn event_data<T: Serialize>(data: &T) -> Value {
    serde_json::to_value(data).expect("event data serialises")
}

/// The envelope's schema in the OpenAPI document: one variant per event
/// type, its `data` that type's.
pub struct EventEnvelopeSchema;

macro_rules! event_data_types {
    ($($event:expr => $data:ty,)*) => {
        impl PartialSchema for EventEnvelopeSchema {
            fn schema() -> RefOr<Schema> {
                let mut variants = OneOfBuilder::new().description(Some(
                    "A WebSocket message of `GET /v1/events`: one variant per event type",
                ));
                $(
                    variants = variants.item(
                        AllOfBuilder::new()
                            .item(RefOr::Ref(Ref::from_schema_name("EventEnvelopeBase")))
                            .item(
                                ObjectBuilder::new()
                                    .title(Some($event.as_str()))
                                    .property(
                                        "type",
                                        ObjectBuilder::new()
                                            .schema_type(Type::String)
                                            .enum_values(Some([$event.as_str()])),
                                    )
                                    .property("data", RefOr::Ref(Ref::from_schema_name(<$data>::name()))),
                            ),
                    );
                )*
                variants.into()
            }
        }

        impl ToSchema for EventEnvelopeSchema {
            fn name() -> std::borrow::Cow<'static, str> {
                "EventEnvelope".into()
            }

            fn schemas(out: &mut Vec<(String, RefOr<Schema>)>) {
                out.push(("EventEnvelopeBase".into(), <EventEnvelope as PartialSchema>::schema()));
                <EventEnvelope as ToSchema>::schemas(out);
                $(
                    out.push((<$data>::name().into(), <$data as PartialSchema>::schema()));
                    <$data as ToSchema>::schemas(out);
                )*
            }
        }
    };
}

event_data_types! {
    EventType::JobProgress => ProgressData,
    EventType::JobCompleted => CompletedData,
    EventType::JobFailed => FailedData,
    EventType::PhotoIngested => PhotoIngestedData,
    EventType::SkinToneAnalyzed => SkinToneAnalyzedData,
    EventType::AvatarProcessed => AvatarProcessedData,
    EventType::FlowProgress => FlowProgressData,
    EventType::FlowCompleted => FlowEndedData,
    EventType::FlowFailed => FlowEndedData,
    EventType::FlowCancelled => FlowEndedData,
}

/// The longest array of numbers a completion event carries: longer ones
/// (an embedding's 1,280 floats) are left out of the event, which says so;
/// the job's view has the whole result.
pub const EVENT_MAX_NUMBERS: usize = 32;

/// `result` as a completion event carries it: every array of more than
/// [`EVENT_MAX_NUMBERS`] numbers replaced by `null`; and whether anything
/// was left out.
pub fn slim_result(result: &serde_json::Value) -> (serde_json::Value, bool) {
    use serde_json::Value;
    fn walk(v: &Value, cut: &mut bool) -> Value {
        match v {
            Value::Array(items)
                if items.len() > EVENT_MAX_NUMBERS && items.iter().all(Value::is_number) =>
            {
                *cut = true;
                Value::Null
            }
            Value::Array(items) => Value::Array(items.iter().map(|i| walk(i, cut)).collect()),
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), walk(v, cut))).collect())
            }
            other => other.clone(),
        }
    }
    let mut cut = false;
    let slim = walk(result, &mut cut);
    (slim, cut)
}

#[cfg(test)]
mod slim_tests {
    use serde_json::json;

    #[test]
    fn long_number_arrays_leave_the_event_and_it_says_so() {
        let vector: Vec<f32> = vec![0.5; 1280];
        let result = json!({"embedding": {"vector": vector, "dim": 1280}, "tags": ["a", "b"], "box": [1, 2, 3, 4]});
        let (slim, cut) = super::slim_result(&result);
        assert!(cut);
        assert_eq!(
            slim,
            json!({"embedding": {"vector": null, "dim": 1280}, "tags": ["a", "b"], "box": [1, 2, 3, 4]})
        );
        let small = json!({"box": [1, 2, 3, 4]});
        assert_eq!(super::slim_result(&small), (small.clone(), false));
    }
}
