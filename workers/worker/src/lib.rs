//! The worker binary's library: its command line, and the registry of the
//! handlers it runs, one per job kind (photo ingest, the vision kinds, the
//! avatar build, the render kinds and export, the e-mail notice, the
//! test-only kinds), on the shared job runtime (`atelier-runtime`).
#![forbid(unsafe_code)]

mod avatar;
pub mod cli;
mod notify;
mod photo;
pub mod registry;
mod render;
mod testing;
mod vision;

use atelier_config::{AppConfig, QueuesConfig};

/// Run until `shutdown` resolves, then let in-flight jobs finish (up to
/// `worker.shutdown_timeout`).
pub async fn run(
    config: AppConfig,
    queues: QueuesConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    atelier_runtime::run(config, queues, registry::build, shutdown).await
}
