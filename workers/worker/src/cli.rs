//! Command line of `atelier-worker`, in the library so test harnesses can
//! build the very same binary.
use std::path::PathBuf;

use atelier_config::{QueuesConfig, load_app_config};
use clap::Parser;

#[derive(Parser)]
#[command(version, about = "Job worker of the atelier backbone")]
struct Cli {
    /// Config file (TOML); built-in defaults apply without one.
    #[arg(long, env = "ATELIER_CONFIG")]
    config: Option<PathBuf>,
    /// Queues to consume (comma-separated), overriding worker.queues; all by default.
    #[arg(long, value_delimiter = ',')]
    queues: Vec<String>,
    /// queues.toml, overriding queues_file.
    #[arg(long)]
    queues_file: Option<PathBuf>,
}

/// Parse flags, load config, run until SIGTERM or Ctrl-C.
#[tokio::main]
pub async fn main() -> anyhow::Result<()> {
    atelier_telemetry::init_tracing();
    let cli = Cli::parse();
    let mut config = load_app_config(cli.config.as_deref(), std::env::vars())?;
    if !cli.queues.is_empty() {
        config.worker.queues = cli.queues;
    }
    if let Some(path) = cli.queues_file {
        config.queues_file.0 = path;
    }
    config
        .check_secrets(atelier_config::Role::Worker)
        .map_err(anyhow::Error::msg)?;
    let queues = QueuesConfig::load(&config.queues_file.0)?;
    tracing::info!(config = %config.redacted(), "starting worker");
    crate::run(config, queues, atelier_telemetry::shutdown_signal()).await
}
