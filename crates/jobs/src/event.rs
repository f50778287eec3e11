use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Event types the gateway delivers. Domain events sit beside the job ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub job_id: Uuid,
    pub user_id: String,
    pub at: DateTime<Utc>,
    pub data: serde_json::Value,
}
