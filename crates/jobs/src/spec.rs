use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::catalogue::{AvatarBuildInput, EmbedInput, NotifyEmailInput, VisionInput};
use crate::design::{RenderStillsInput, TurntableInput};
use crate::export::ExportInput;
use crate::{JobKind, PhotoIngestInput, TestStagedInput};

/// Lifecycle of a job as clients see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Processing,
    Complete,
    Error,
    Dead,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Processing => "processing",
            JobStatus::Complete => "complete",
            JobStatus::Error => "error",
            JobStatus::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        [
            JobStatus::Queued,
            JobStatus::Processing,
            JobStatus::Complete,
            JobStatus::Error,
            JobStatus::Dead,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// A terminal job never runs again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Complete | JobStatus::Error | JobStatus::Dead
        )
    }
}

/// Input that failed its contract. `field` names the JSON path at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    pub message: String,
}

impl ValidationError {
    pub fn new(message: impl Into<String>) -> Self {
        ValidationError {
            message: message.into(),
        }
    }
}

/// A validated job input, one variant per kind. Version 1 of every contract.
#[derive(Debug, Clone, PartialEq)]
pub enum JobSpec {
    PhotoIngest(PhotoIngestInput),
    Vision(JobKind, VisionInput),
    Embed(EmbedInput),
    AvatarBuild(AvatarBuildInput),
    RenderStills(RenderStillsInput),
    Turntable(TurntableInput),
    Export(ExportInput),
    NotifyEmail(NotifyEmailInput),
    TestStaged(TestStagedInput),
}

/// Current contract version of every input; stored with each job.
pub const CONTRACT_VERSION: u32 = 1;

/// The typed input, or an error naming the field at fault
/// (`input.design.items[0].transform.scale: …`).
fn typed<T: DeserializeOwned>(input: serde_json::Value) -> Result<T, ValidationError> {
    serde_path_to_error::deserialize(input).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ValidationError::new(format!("input: {inner}"))
        } else {
            ValidationError::new(format!("input.{path}: {inner}"))
        }
    })
}

impl JobSpec {
    /// Parse and validate `input` against the contract of `kind`.
    pub fn parse(kind: JobKind, input: serde_json::Value) -> Result<JobSpec, ValidationError> {
        let spec = match kind {
            JobKind::PhotoIngest => JobSpec::PhotoIngest(typed(input)?),
            JobKind::VisionSegment
            | JobKind::VisionPose
            | JobKind::VisionSkinTone
            | JobKind::VisionTag => JobSpec::Vision(kind, typed(input)?),
            JobKind::VisionEmbed => JobSpec::Embed(typed(input)?),
            JobKind::AvatarBuild => JobSpec::AvatarBuild(typed(input)?),
            JobKind::RenderStills => JobSpec::RenderStills(typed(input)?),
            JobKind::RenderTurntable => JobSpec::Turntable(typed(input)?),
            JobKind::Export => JobSpec::Export(typed(input)?),
            JobKind::NotifyEmail => JobSpec::NotifyEmail(typed(input)?),
            JobKind::TestStaged => JobSpec::TestStaged(typed(input)?),
        };
        spec.validate()?;
        Ok(spec)
    }

    pub fn kind(&self) -> JobKind {
        match self {
            JobSpec::PhotoIngest(_) => JobKind::PhotoIngest,
            JobSpec::Vision(kind, _) => *kind,
            JobSpec::Embed(_) => JobKind::VisionEmbed,
            JobSpec::AvatarBuild(_) => JobKind::AvatarBuild,
            JobSpec::RenderStills(_) => JobKind::RenderStills,
            JobSpec::Turntable(_) => JobKind::RenderTurntable,
            JobSpec::Export(_) => JobKind::Export,
            JobSpec::NotifyEmail(_) => JobKind::NotifyEmail,
            JobSpec::TestStaged(_) => JobKind::TestStaged,
        }
    }

    /// Uploads the job reads; intake checks they exist and belong to the user.
    pub fn upload_ids(&self) -> Vec<Uuid> {
        match self {
            JobSpec::PhotoIngest(i) => vec![i.upload_id],
            JobSpec::Vision(_, i) => vec![i.upload_id],
            JobSpec::Embed(i) => i.upload_id.into_iter().collect(),
            JobSpec::AvatarBuild(i) => std::iter::once(i.photos.front)
                .chain(i.photos.side)
                .collect(),
            JobSpec::RenderStills(i) => i.design.upload_ids(),
            JobSpec::Turntable(i) => i.design.upload_ids(),
            JobSpec::Export(i) => i.upload_ids(),
            _ => Vec::new(),
        }
    }

    fn validate(&self) -> Result<(), ValidationError> {
        match self {
            JobSpec::PhotoIngest(_) | JobSpec::Vision(..) => Ok(()),
            JobSpec::Embed(i) => i.validate(),
            JobSpec::AvatarBuild(i) => i.validate(),
            JobSpec::RenderStills(i) => i.validate(),
            JobSpec::Turntable(i) => i.validate(),
            JobSpec::Export(i) => i.validate(),
            JobSpec::NotifyEmail(i) => i.validate(),
            JobSpec::TestStaged(i) => i.validate(),
        }
    }

    /// The input as stored: the typed value, defaults filled in.
    pub fn to_json(&self) -> serde_json::Value {
        let value = match self {
            JobSpec::PhotoIngest(i) => serde_json::to_value(i),
            JobSpec::Vision(_, i) => serde_json::to_value(i),
            JobSpec::Embed(i) => serde_json::to_value(i),
            JobSpec::AvatarBuild(i) => serde_json::to_value(i),
            JobSpec::RenderStills(i) => serde_json::to_value(i),
            JobSpec::Turntable(i) => serde_json::to_value(i),
            JobSpec::Export(i) => serde_json::to_value(i),
            JobSpec::NotifyEmail(i) => serde_json::to_value(i),
            JobSpec::TestStaged(i) => serde_json::to_value(i),
        };
        value.expect("job inputs always serialise")
    }
}

/// What travels through the queue: only the id and kind. The job row in
/// Postgres is the source of truth for input and status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueMessage {
    pub job_id: Uuid,
    pub kind: JobKind,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn photo_ingest_accepts_its_contract_and_rejects_strays() {
        let id = Uuid::new_v4();
        let spec = JobSpec::parse(JobKind::PhotoIngest, json!({"upload_id": id})).unwrap();
        assert_eq!(spec.kind(), JobKind::PhotoIngest);
        assert_eq!(spec.upload_ids(), vec![id]);

        let err = JobSpec::parse(JobKind::PhotoIngest, json!({"upload": id})).unwrap_err();
        assert!(err.message.contains("upload"), "{err}");
        let err = JobSpec::parse(JobKind::PhotoIngest, json!({"upload_id": "nope"})).unwrap_err();
        assert!(err.message.contains("UUID"), "{err}");
    }

    #[test]
    fn catalogue_contracts_validate_ranges() {
        let up = Uuid::new_v4();
        let spec = JobSpec::parse(
            JobKind::AvatarBuild,
            json!({"photos": {"front": up}, "height_cm": 172.0, "sex": "female"}),
        )
        .unwrap();
        assert_eq!(spec.upload_ids(), vec![up]);
        // A child's height is fine; 20 cm or 3 m is not.
        for (h, ok) in [
            (50.0, true),
            (120.0, true),
            (250.0, true),
            (20.0, false),
            (300.0, false),
        ] {
            let got = JobSpec::parse(
                JobKind::AvatarBuild,
                json!({"photos": {"front": up}, "height_cm": h}),
            );
            assert_eq!(got.is_ok(), ok, "{h}: {got:?}");
            if let Err(err) = got {
                assert!(err.message.contains("height_cm"), "{err}");
            }
        }
        let side = Uuid::new_v4();
        let spec = JobSpec::parse(
            JobKind::AvatarBuild,
            json!({"photos": {"front": up, "side": side}, "height_cm": 172.0,
                   "unit": "imperial", "options": {"draco": true}}),
        )
        .unwrap();
        assert_eq!(spec.upload_ids(), vec![up, side]);
        let err = JobSpec::parse(
            JobKind::AvatarBuild,
            json!({"photos": {"front": up, "side": up}, "height_cm": 172.0}),
        )
        .unwrap_err();
        assert!(err.message.contains("photos.side"), "{err}");
        let err = JobSpec::parse(
            JobKind::AvatarBuild,
            json!({"photos": {"front": up}, "height_cm": 172.0, "sex": "other"}),
        )
        .unwrap_err();
        assert!(err.message.contains("sex"), "{err}");
        let err = JobSpec::parse(JobKind::VisionEmbed, json!({})).unwrap_err();
        assert!(err.message.contains("exactly one"));
    }

    #[test]
    fn status_parse_round_trips() {
        for s in ["queued", "processing", "complete", "error", "dead"] {
            assert_eq!(JobStatus::parse(s).unwrap().as_str(), s);
        }
        assert!(JobStatus::parse("done").is_none());
        assert!(JobStatus::Dead.is_terminal() && !JobStatus::Queued.is_terminal());
    }
}

/// End-user ids are the platforms' own: 1–128 characters of
/// `[A-Za-z0-9_.@:+-]` (no `/`, no spaces, so they embed safely in keys).
pub fn validate_user_id(user_id: &str) -> Result<(), ValidationError> {
    // `.` and `..` are path steps in every object key they would name.
    let ok = (1..=128).contains(&user_id.len())
        && user_id != "."
        && user_id != ".."
        && user_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.@:+-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            "user_id: 1-128 characters of letters, digits and _.@:+-, not \".\" or \"..\"",
        ))
    }
}

#[cfg(test)]
mod user_id_tests {
    use super::validate_user_id;

    #[test]
    fn user_ids_are_key_safe() {
        assert!(validate_user_id("user-42@example.com").is_ok());
        assert!(validate_user_id("a..b").is_ok() && validate_user_id("...").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "../x", &"x".repeat(129)] {
            assert!(validate_user_id(bad).is_err(), "{bad:?}");
        }
    }
}
