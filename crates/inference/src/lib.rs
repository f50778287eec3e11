//! Model runtime: model manifests checked at start-up (a missing file or a
//! wrong checksum is an error naming the model), ONNX Runtime loaded from the
//! library the set-up script fetched, and sessions to run.
//!
//! The ONNX Runtime FFI lives in the `ort` crate; this crate has no unsafe
//! code of its own.
#![forbid(unsafe_code)]

mod batch;
mod manifest;
mod session;
mod text;

pub use batch::{BatchStats, BatchedModel, ItemOutputs};
pub use manifest::{InputSpec, ModelManifest, models_dir, verify_file};
pub use session::{Model, Runtime};
pub use text::{MAX_TOKENS, TEXT_DIM, TOKENIZER_SHA256, TextEncoder, normalise};

use std::path::PathBuf;

/// Why a model cannot be used: start-up errors, and failed runs.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InferenceError {
    #[error("model {model}: cannot read manifest {path}: {message}")]
    Manifest {
        model: String,
        path: PathBuf,
        message: String,
    },
    #[error("model {model}: file {path} is missing (run scripts/fetch-models.sh)")]
    Missing { model: String, path: PathBuf },
    #[error("model {model}: checksum of {path} is {actual}, the manifest says {expected}")]
    Checksum {
        model: String,
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("onnx runtime: cannot load {path}: {message}")]
    Runtime { path: PathBuf, message: String },
    #[error("model {model}: {message}")]
    Session { model: String, message: String },
    #[error("model {model}: running it failed: {message}")]
    Run { model: String, message: String },
}
