//! Configuration: built-in defaults → config file → environment
//! (`ATELIER__SECTION__KEY`) → command-line flags, validated once at start-up
//! into typed values. `queues.toml` is parsed and validated here too.
#![forbid(unsafe_code)]

mod app;
mod bytesize;
mod duration;
mod layer;
mod queues;
mod secret;
pub mod secrets;
mod validate;

pub use app::{
    AppConfig, DatabaseConfig, EmailConfig, EventsConfig, FlowsConfig, IntakeConfig, MediaConfig,
    ModelsConfig, RedisConfig, RenderConfig, S3Config, StorageBackend, StorageConfig, WorkerConfig,
};
pub use bytesize::{ByteSize, parse_bytes};
pub use duration::{HumanDuration, parse_duration};
pub use layer::load_app_config;
pub use queues::{Backoff, Priority, QueueSpec, QueuesConfig, Scaling};
pub use secret::Secret;
pub use secrets::Role;

/// Everything that can be wrong with configuration, with the place at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}
