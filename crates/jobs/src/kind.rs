use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Every job kind the backbone knows. The string form is the wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum JobKind {
    #[serde(rename = "photo.ingest")]
    PhotoIngest,
    #[serde(rename = "vision.segment")]
    VisionSegment,
    #[serde(rename = "vision.pose")]
    VisionPose,
    #[serde(rename = "vision.skin_tone")]
    VisionSkinTone,
    #[serde(rename = "vision.tag")]
    VisionTag,
    #[serde(rename = "vision.embed")]
    VisionEmbed,
    #[serde(rename = "avatar.build")]
    AvatarBuild,
    #[serde(rename = "render.stills")]
    RenderStills,
    #[serde(rename = "render.turntable")]
    RenderTurntable,
    #[serde(rename = "export")]
    Export,
    #[serde(rename = "notify.email")]
    NotifyEmail,
    /// A test-only staged job (sleeps, checkpoints, writes small objects):
    /// it exercises the runtime's resumable stages and lease fencing. Not in
    /// [`JobKind::ALL`]; intake accepts it and workers run it only when
    /// their `test_kinds` setting is on.
    #[serde(rename = "test.staged")]
    TestStaged,
}

impl JobKind {
    pub const ALL: [JobKind; 11] = [
        JobKind::PhotoIngest,
        JobKind::VisionSegment,
        JobKind::VisionPose,
        JobKind::VisionSkinTone,
        JobKind::VisionTag,
        JobKind::VisionEmbed,
        JobKind::AvatarBuild,
        JobKind::RenderStills,
        JobKind::RenderTurntable,
        JobKind::Export,
        JobKind::NotifyEmail,
    ];

    /// Kinds for tests of the runtime itself, off in production.
    pub const TEST: [JobKind; 1] = [JobKind::TestStaged];

    pub fn is_test(self) -> bool {
        JobKind::TEST.contains(&self)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::PhotoIngest => "photo.ingest",
            JobKind::VisionSegment => "vision.segment",
            JobKind::VisionPose => "vision.pose",
            JobKind::VisionSkinTone => "vision.skin_tone",
            JobKind::VisionTag => "vision.tag",
            JobKind::VisionEmbed => "vision.embed",
            JobKind::AvatarBuild => "avatar.build",
            JobKind::RenderStills => "render.stills",
            JobKind::RenderTurntable => "render.turntable",
            JobKind::Export => "export",
            JobKind::NotifyEmail => "notify.email",
            JobKind::TestStaged => "test.staged",
        }
    }

    /// Whether a worker in this release has a handler for the kind. Intake
    /// refuses kinds without one rather than queue work nobody will run.
    pub fn has_handler(self) -> bool {
        matches!(
            self,
            JobKind::PhotoIngest
                | JobKind::AvatarBuild
                | JobKind::VisionPose
                | JobKind::VisionSegment
                | JobKind::VisionTag
                | JobKind::VisionEmbed
                | JobKind::VisionSkinTone
                | JobKind::RenderStills
                | JobKind::RenderTurntable
                | JobKind::Export
                | JobKind::NotifyEmail
                | JobKind::TestStaged
        )
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name was not one of [`JobKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown job kind {0:?}")]
pub struct UnknownKind(pub String);

impl FromStr for JobKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobKind::ALL
            .into_iter()
            .chain(JobKind::TEST)
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_through_serde_and_from_str() {
        for kind in JobKind::ALL.into_iter().chain(JobKind::TEST) {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<JobKind>(&json).unwrap(), kind);
            assert_eq!(kind.as_str().parse::<JobKind>().unwrap(), kind);
        }
        assert!("photo.ingest ".parse::<JobKind>().is_err());
    }
}
