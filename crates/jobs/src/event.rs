use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
        }
    }
}

/// The one envelope every event travels in, v1.
///
/// `event_id` is assigned by the event log when the event is appended; it is
/// opaque to clients, increases per user, and is what a reconnecting client
/// hands back as `last_event_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventEnvelope {
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub job_id: Uuid,
    pub user_id: String,
    pub at: DateTime<Utc>,
    pub data: serde_json::Value,
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
