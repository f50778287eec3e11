//! Which input and result types each job kind has, for the published
//! OpenAPI document: the schemas come from the types serde reads and
//! writes, so the document cannot drift from the wire.
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{PartialSchema, ToSchema};

use crate::catalogue::{
    AvatarBuildInput, EmbedInput, NotifyEmailInput, NotifyEmailResult, VisionInput,
};
use crate::export::{ExportInput, ExportResult};
use crate::{
    AvatarBuildResult, EmbedResult, JobKind, PhotoIngestInput, PhotoIngestResult, PoseResult,
    RenderStillsInput, RenderStillsResult, SegmentResult, SkinToneResult, TagResult,
    TestStagedInput, TestStagedResult, TurntableInput, TurntableResult,
};

/// A kind and the names of its input and result schemas (version 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindContract {
    pub kind: JobKind,
    pub input: String,
    pub result: String,
}

/// Named schemas, as `ToSchema::schemas` collects them.
pub type Schemas = Vec<(String, RefOr<Schema>)>;

fn named<T: ToSchema>(out: &mut Schemas) -> String {
    let name = T::name().into_owned();
    out.push((name.clone(), <T as PartialSchema>::schema()));
    T::schemas(out);
    name
}

macro_rules! contracts {
    ($($kind:expr => $input:ty, $result:ty;)*) => {
        /// Every kind (the test-only one included) with its input and
        /// result schemas; `out` receives those schemas and every schema
        /// they reference.
        pub fn kind_contracts(out: &mut Schemas) -> Vec<KindContract> {
            vec![$(KindContract {
                kind: $kind,
                input: named::<$input>(out),
                result: named::<$result>(out),
            }),*]
        }
    };
}

contracts! {
    JobKind::PhotoIngest => PhotoIngestInput, PhotoIngestResult;
    JobKind::VisionSegment => VisionInput, SegmentResult;
    JobKind::VisionPose => VisionInput, PoseResult;
    JobKind::VisionSkinTone => VisionInput, SkinToneResult;
    JobKind::VisionTag => VisionInput, TagResult;
    JobKind::VisionEmbed => EmbedInput, EmbedResult;
    JobKind::AvatarBuild => AvatarBuildInput, AvatarBuildResult;
    JobKind::RenderStills => RenderStillsInput, RenderStillsResult;
    JobKind::RenderTurntable => TurntableInput, TurntableResult;
    JobKind::Export => ExportInput, ExportResult;
    JobKind::NotifyEmail => NotifyEmailInput, NotifyEmailResult;
    JobKind::TestStaged => TestStagedInput, TestStagedResult;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_contract_whose_schemas_are_collected() {
        let mut schemas = Schemas::new();
        let contracts = kind_contracts(&mut schemas);
        let kinds: Vec<JobKind> = contracts.iter().map(|c| c.kind).collect();
        let all: Vec<JobKind> = JobKind::ALL.into_iter().chain(JobKind::TEST).collect();
        assert_eq!(kinds, all);
        let names: std::collections::HashSet<&str> =
            schemas.iter().map(|(n, _)| n.as_str()).collect();
        for c in &contracts {
            assert!(names.contains(c.input.as_str()) && names.contains(c.result.as_str()));
        }
        // Referenced types come along (a result's stored objects, a
        // design's colours).
        for dependency in ["StoredObject", "RgbaColour", "ModelRef", "DominantColour"] {
            assert!(names.contains(dependency), "{dependency} not collected");
        }
    }
}
