//! Job contracts: the typed, versioned wire types every other crate agrees on.
//!
//! Pure: no I/O. Every type here that is serialised is a wire contract; a
//! breaking change needs a new version number, never an edit in place.
#![forbid(unsafe_code)]

pub mod avatar;
mod catalogue;
pub mod design;
mod error;
mod event;
pub mod export;
pub mod flow;
mod kind;
mod photo;
mod results;
mod rules;
mod spec;
mod testing;

pub use avatar::{
    AvatarBuildResult, AvatarMeasurements, AvatarModelFile, BodyParameters, Measured,
};
pub use catalogue::*;
pub use design::{Design, ModelSource, RenderStillsInput, StoredSource, TurntableInput};
pub use error::{ErrorBody, ErrorCode, UnknownCode};
pub use event::{
    AvatarProcessedData, CompletedData, EVENT_MAX_NUMBERS, EventEnvelope, EventEnvelopeSchema,
    EventType, FailedData, FlowEndedData, FlowProgressData, PhotoIngestedData, ProgressData,
    RunCost, SkinToneAnalyzedData, event_data, slim_result,
};
pub use export::{ExportFile, ExportInput, ExportResult};
pub use kind::{JobKind, JobSpec, KindContract, Schemas, UnknownKind, kind_contracts};
pub use photo::{ExifFacts, PhotoIngestInput, PhotoIngestResult, StoredObject};
pub use results::*;
pub use rules::{IdempotencyKey, Priority, UserId};
pub use spec::{CONTRACT_VERSION, Ended, JobInput, JobStatus, QueueMessage, ValidationError};
pub use testing::{TestStage, TestStageRun, TestStagedInput, TestStagedResult};
