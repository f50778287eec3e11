//! The job kinds: one row each in [`job_kinds!`]'s table below (variant,
//! wire name, input type, result type). Everything per kind is derived from
//! it: [`JobKind`] and its lists, wire names and parsing, [`JobSpec`] (a
//! validated input, one variant per kind) and the kinds' contracts in the
//! OpenAPI document ([`kind_contracts`]).
//!
//! Adding a kind: its input and result types (with a [`JobInput`] impl),
//! one row here, its handler and registry row in `atelier-worker`, its queue
//! in `queues.toml` (ARCHITECTURE.md, "Adding a job kind").
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

use crate::catalogue::{
    AvatarBuildInput, EmbedInput, NotifyEmailInput, NotifyEmailResult, VisionInput,
};
use crate::export::{ExportInput, ExportResult};
use crate::spec::{JobInput, ValidationError, typed};
use crate::{
    AvatarBuildResult, EmbedResult, PhotoIngestInput, PhotoIngestResult, PoseResult,
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

macro_rules! job_kinds {
    (
        production { $($(#[doc = $doc:literal])* $variant:ident = $name:literal: $input:ty => $result:ty;)* }
        test { $($(#[doc = $tdoc:literal])* $tvariant:ident = $tname:literal: $tinput:ty => $tresult:ty;)* }
    ) => {
        /// Every job kind the backbone knows. The string form is the wire name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum JobKind {
            $($(#[doc = $doc])* $variant,)*
            $($(#[doc = $tdoc])* $tvariant,)*
        }

        impl JobKind {
            /// The production kinds, in declaration order.
            pub const ALL: &'static [JobKind] = &[$(JobKind::$variant),*];

            /// Kinds for tests of the runtime itself: the intake accepts them
            /// and workers run them only when `test_kinds` is on.
            pub const TEST: &'static [JobKind] = &[$(JobKind::$tvariant),*];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(JobKind::$variant => $name,)*
                    $(JobKind::$tvariant => $tname,)*
                }
            }
        }

        /// A validated job input, one variant per kind (version 1 of every
        /// contract).
        #[derive(Debug, Clone, PartialEq)]
        pub enum JobSpec {
            $($variant($input),)*
            $($tvariant($tinput),)*
        }

        impl JobSpec {
            /// Parse and validate `input` against the contract of `kind`.
            pub fn parse(kind: JobKind, input: serde_json::Value) -> Result<JobSpec, ValidationError> {
                let spec = match kind {
                    $(JobKind::$variant => JobSpec::$variant(typed(input)?),)*
                    $(JobKind::$tvariant => JobSpec::$tvariant(typed(input)?),)*
                };
                match &spec {
                    $(JobSpec::$variant(i) => i.validate()?,)*
                    $(JobSpec::$tvariant(i) => i.validate()?,)*
                }
                Ok(spec)
            }

            pub fn kind(&self) -> JobKind {
                match self {
                    $(JobSpec::$variant(_) => JobKind::$variant,)*
                    $(JobSpec::$tvariant(_) => JobKind::$tvariant,)*
                }
            }

            /// Uploads the job reads; intake checks they exist and belong
            /// to the user.
            pub fn upload_ids(&self) -> Vec<Uuid> {
                match self {
                    $(JobSpec::$variant(i) => i.upload_ids(),)*
                    $(JobSpec::$tvariant(i) => i.upload_ids(),)*
                }
            }

            /// Stored objects of earlier jobs the job reads; intake checks
            /// a job of the same user wrote each.
            pub fn stored_sources(&self) -> Vec<crate::design::StoredSource> {
                match self {
                    $(JobSpec::$variant(i) => i.stored_sources(),)*
                    $(JobSpec::$tvariant(i) => i.stored_sources(),)*
                }
            }

            /// Fix the ids the job will write under (see
            /// [`JobInput::assign_ids`]).
            pub fn assign_ids(&mut self, new_id: &mut dyn FnMut() -> Uuid) {
                match self {
                    $(JobSpec::$variant(i) => i.assign_ids(new_id),)*
                    $(JobSpec::$tvariant(i) => i.assign_ids(new_id),)*
                }
            }

            /// The input as stored: the typed value, defaults filled in.
            pub fn to_json(&self) -> serde_json::Value {
                let value = match self {
                    $(JobSpec::$variant(i) => serde_json::to_value(i),)*
                    $(JobSpec::$tvariant(i) => serde_json::to_value(i),)*
                };
                value.expect("job inputs always serialise")
            }
        }

        /// Every kind (the test-only ones included) with its input and
        /// result schemas; `out` receives those schemas and every schema
        /// they reference.
        pub fn kind_contracts(out: &mut Schemas) -> Vec<KindContract> {
            vec![
                $(KindContract {
                    kind: JobKind::$variant,
                    input: named::<$input>(out),
                    result: named::<$result>(out),
                },)*
                $(KindContract {
                    kind: JobKind::$tvariant,
                    input: named::<$tinput>(out),
                    result: named::<$tresult>(out),
                },)*
            ]
        }
    };
}

job_kinds! {
    production {
        PhotoIngest = "photo.ingest": PhotoIngestInput => PhotoIngestResult;
        VisionSegment = "vision.segment": VisionInput => SegmentResult;
        VisionPose = "vision.pose": VisionInput => PoseResult;
        VisionSkinTone = "vision.skin_tone": VisionInput => SkinToneResult;
        VisionTag = "vision.tag": VisionInput => TagResult;
        VisionEmbed = "vision.embed": EmbedInput => EmbedResult;
        AvatarBuild = "avatar.build": AvatarBuildInput => AvatarBuildResult;
        RenderStills = "render.stills": RenderStillsInput => RenderStillsResult;
        RenderTurntable = "render.turntable": TurntableInput => TurntableResult;
        Export = "export": ExportInput => ExportResult;
        NotifyEmail = "notify.email": NotifyEmailInput => NotifyEmailResult;
    }
    test {
        /// A staged job (sleeps, checkpoints, writes small objects): it
        /// exercises the runtime's resumable stages and lease fencing.
        TestStaged = "test.staged": TestStagedInput => TestStagedResult;
    }
}

impl JobKind {
    /// Every kind, production then test-only.
    pub fn every() -> impl Iterator<Item = JobKind> {
        JobKind::ALL.iter().chain(JobKind::TEST).copied()
    }

    pub fn is_test(self) -> bool {
        JobKind::TEST.contains(&self)
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not a kind's wire name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown job kind {0:?}")]
pub struct UnknownKind(pub String);

impl FromStr for JobKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobKind::every()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

impl Serialize for JobKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for JobKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<str>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// In the OpenAPI document: the wire names.
impl PartialSchema for JobKind {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::ObjectBuilder;
        use utoipa::openapi::schema::Type;
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "Every job kind the backbone knows. The string form is the wire name.",
            ))
            .enum_values(Some(JobKind::every().map(JobKind::as_str)))
            .into()
    }
}

impl ToSchema for JobKind {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_through_serde_and_from_str() {
        for kind in JobKind::every() {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<JobKind>(&json).unwrap(), kind);
            assert_eq!(kind.as_str().parse::<JobKind>().unwrap(), kind);
        }
        assert!("photo.ingest ".parse::<JobKind>().is_err());
        assert!(serde_json::from_str::<JobKind>("\"photo.resize\"").is_err());
    }

    #[test]
    fn every_kind_has_one_contract_whose_schemas_are_collected() {
        let mut schemas = Schemas::new();
        let contracts = kind_contracts(&mut schemas);
        let kinds: Vec<JobKind> = contracts.iter().map(|c| c.kind).collect();
        assert_eq!(kinds, JobKind::every().collect::<Vec<_>>());
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

    #[test]
    fn a_spec_is_of_the_kind_it_was_parsed_for() {
        let upload = Uuid::new_v4();
        for kind in [
            JobKind::VisionSegment,
            JobKind::VisionPose,
            JobKind::VisionSkinTone,
            JobKind::VisionTag,
        ] {
            let spec = JobSpec::parse(kind, serde_json::json!({"upload_id": upload})).unwrap();
            assert_eq!(spec.kind(), kind);
            assert_eq!(spec.upload_ids(), vec![upload]);
        }
    }
}
