//! What every job shares: its status, its contract version, how its input
//! is checked ([`JobInput`]) and what travels through the queue.
use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::JobKind;

/// Lifecycle of a job as clients see it. A flow's node is `waiting` until
/// the nodes it depends on have ended, and `skipped` when one failed and
/// its policy was to skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Waiting,
    Queued,
    Processing,
    Complete,
    Error,
    Dead,
    Skipped,
}

impl JobStatus {
    pub const ALL: [JobStatus; 7] = [
        JobStatus::Waiting,
        JobStatus::Queued,
        JobStatus::Processing,
        JobStatus::Complete,
        JobStatus::Error,
        JobStatus::Dead,
        JobStatus::Skipped,
    ];

    /// The wire name (and the `jobs.status` column's value).
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Waiting => "waiting",
            JobStatus::Queued => "queued",
            JobStatus::Processing => "processing",
            JobStatus::Complete => "complete",
            JobStatus::Error => "error",
            JobStatus::Dead => "dead",
            JobStatus::Skipped => "skipped",
        }
    }

    /// A final job never runs again (unless an operator retries a dead one).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Complete | JobStatus::Error | JobStatus::Dead | JobStatus::Skipped
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| ValidationError::new(format!("unknown job status {s:?}")))
    }
}

/// How a job that did not complete ended: `error` (it will never succeed,
/// or it was cancelled) or `dead` (out of attempts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Error,
    Dead,
}

impl Ended {
    pub fn status(self) -> JobStatus {
        match self {
            Ended::Error => JobStatus::Error,
            Ended::Dead => JobStatus::Dead,
        }
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

/// Current contract version of every input; stored with each job.
pub const CONTRACT_VERSION: u32 = 1;

/// The typed input, or an error naming the field at fault
/// (`input.design.items[0].transform.scale: …`).
pub(crate) fn typed<T: DeserializeOwned>(input: serde_json::Value) -> Result<T, ValidationError> {
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

/// What a kind's input does beyond its serde contract; each kind's input
/// type implements it (the defaults: nothing more to check, no uploads, no
/// ids to fix).
pub trait JobInput: Serialize + DeserializeOwned {
    /// Checks serde cannot express (ranges, exactly-one-of), naming the
    /// field at fault (`input.height_cm: …`).
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }

    /// The uploads the job reads.
    fn upload_ids(&self) -> Vec<Uuid> {
        Vec::new()
    }

    /// The stored objects of earlier jobs the job reads (a design's
    /// models).
    fn stored_sources(&self) -> Vec<crate::design::StoredSource> {
        Vec::new()
    }

    /// Fix, with `new_id`, the ids the job will write under that the
    /// client left out, so every run of the job writes the same keys.
    fn assign_ids(&mut self, new_id: &mut dyn FnMut() -> Uuid) {
        let _ = new_id;
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
    use crate::JobSpec;
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
            assert_eq!(s.parse::<JobStatus>().unwrap().as_str(), s);
            let json = serde_json::to_string(&s.parse::<JobStatus>().unwrap()).unwrap();
            assert_eq!(json, format!("\"{s}\""));
        }
        assert!("done".parse::<JobStatus>().is_err());
        assert!(JobStatus::Dead.is_final() && !JobStatus::Queued.is_final());
        assert_eq!(Ended::Dead.status(), JobStatus::Dead);
    }
}
