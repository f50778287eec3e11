//! `atelier-intake`: the HTTP API and WebSocket gateway.
use std::path::PathBuf;

use anyhow::Context;
use atelier_config::{QueuesConfig, load_app_config};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    version,
    about = "Intake API and event gateway of the atelier backbone"
)]
struct Cli {
    /// Config file (TOML); built-in defaults apply without one.
    #[arg(long, env = "ATELIER_CONFIG")]
    config: Option<PathBuf>,
    /// Listen address, overriding intake.listen.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// queues.toml, overriding queues_file.
    #[arg(long)]
    queues: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the effective configuration (secrets redacted) and exit.
    Config,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    atelier_telemetry::init_tracing();
    let cli = Cli::parse();
    let mut config = load_app_config(cli.config.as_deref(), std::env::vars())?;
    if let Some(listen) = cli.listen {
        config.intake.listen = listen;
    }
    if let Some(queues) = cli.queues {
        config.queues_file.0 = queues;
    }
    let queues = QueuesConfig::load(&config.queues_file.0)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Config => {
            println!("{}", config.redacted());
            Ok(())
        }
        Command::Migrate => {
            atelier_db::connect(config.database.url.expose(), 1, true).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Serve => {
            tracing::info!(config = %config.redacted(), "starting intake");
            let listen = config.intake.listen;
            let state = atelier_intake::AppState::connect(config, queues).await?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            tracing::info!(address = %listener.local_addr()?, "intake listening");
            atelier_intake::serve(state, listener, atelier_telemetry::shutdown_signal()).await
        }
    }
}
