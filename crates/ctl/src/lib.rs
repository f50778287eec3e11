//! The operator CLI, a client of the intake's operator API (`/v1/queues`,
//! `/v1/ops`, flows in `flows.rs`). Readable tables by default, the API's JSON with `--json`.
#![forbid(unsafe_code)]

mod flows;
mod table;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(version, about = "Operate atelier queues and jobs")]
struct Cli {
    /// Base URL of the intake API.
    #[arg(long, env = "ATELIER_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// An operator key (intake.operator_keys).
    #[arg(
        long,
        env = "ATELIER_OPERATOR_KEY",
        default_value = "dev-operator-key",
        hide_env_values = true
    )]
    operator_key: String,
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every queue: depth, age, in flight, dead, workers, service time.
    Queues,
    /// One queue in full.
    Queue { name: String },
    /// Recommended worker count per queue, and why.
    Scale,
    /// Stop starting jobs from a queue (running ones finish).
    Pause { queue: String },
    /// Start jobs from a paused queue again.
    Resume { queue: String },
    /// Dead letters.
    Dead {
        #[command(subcommand)]
        action: DeadAction,
    },
    /// Any client's job.
    Job {
        #[command(subcommand)]
        action: JobAction,
    },
    /// Any client's flows.
    Flows {
        #[command(subcommand)]
        action: FlowAction,
    },
}

#[derive(Subcommand)]
enum FlowAction {
    /// Newest first.
    List {
        /// running, complete, failed or cancelled.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        client: Option<String>,
        #[arg(long)]
        user: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// The flow as a tree, each node with its state.
    Show { flow_id: String },
    /// Cancel: waiting nodes end now, running ones at their next stage.
    Cancel { flow_id: String },
    /// Run an ended flow's failed nodes again (or those and what follows,
    /// or all).
    Retry {
        flow_id: String,
        /// failed_only, failed_and_downstream or all.
        #[arg(long, default_value = "failed_only")]
        mode: String,
    },
}

#[derive(Subcommand)]
enum DeadAction {
    /// Newest first, with the last error.
    List {
        queue: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Queue dead jobs again with a fresh attempt budget: those named, or
    /// every one with --all.
    Retry {
        queue: String,
        #[arg(required_unless_present = "all")]
        job_ids: Vec<String>,
        #[arg(long, conflicts_with = "job_ids")]
        all: bool,
    },
    /// Forget dead jobs (their rows stay `dead`): those named, or every one
    /// with --all.
    Purge {
        queue: String,
        #[arg(required_unless_present = "all")]
        job_ids: Vec<String>,
        #[arg(long, conflicts_with = "job_ids")]
        all: bool,
    },
}

#[derive(Subcommand)]
enum JobAction {
    Show { job_id: String },
    Cancel { job_id: String },
}

struct Client {
    http: reqwest::Client,
    url: String,
    key: String,
}

impl Client {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url.trim_end_matches('/')))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.url))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let code = body["error"]["code"].as_str().unwrap_or("http.error");
            let message = body["error"]["message"].as_str().unwrap_or("");
            bail!("{status}: {code}: {message}");
        }
        Ok(body)
    }
}

/// An answer as the type a table reads (an intake that renamed a field it
/// reads is an error that says which).
fn typed<T: serde::de::DeserializeOwned>(body: &Value) -> anyhow::Result<T> {
    serde_json::from_value(body.clone())
        .context("the intake's answer is not what this atelier-ctl reads")
}

fn selection(ids: &[String], all: bool) -> Option<Value> {
    Some(if all {
        json!({"all": true})
    } else {
        json!({"job_ids": ids})
    })
}

/// Parse flags, call the API, print.
#[tokio::main(flavor = "current_thread")]
pub async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let client = Client {
        http: reqwest::Client::new(),
        url: cli.url.clone(),
        key: cli.operator_key.clone(),
    };
    let (body, view): (Value, fn(&Value) -> anyhow::Result<String>) = match &cli.command {
        Command::Queues => (client.call(Method::GET, "/v1/queues", None).await?, |b| {
            Ok(table::queues(&typed(b)?))
        }),
        Command::Queue { name } => (
            client
                .call(Method::GET, &format!("/v1/queues/{name}"), None)
                .await?,
            |b| Ok(table::pretty(b)),
        ),
        Command::Scale => (client.call(Method::GET, "/v1/queues", None).await?, |b| {
            Ok(table::scale(&typed(b)?))
        }),
        Command::Pause { queue } => (
            client
                .call(Method::POST, &format!("/v1/queues/{queue}/pause"), None)
                .await?,
            |b| Ok(table::paused(&typed(b)?)),
        ),
        Command::Resume { queue } => (
            client
                .call(Method::POST, &format!("/v1/queues/{queue}/resume"), None)
                .await?,
            |b| Ok(table::paused(&typed(b)?)),
        ),
        Command::Dead { action } => match action {
            DeadAction::List { queue, limit } => (
                client
                    .call(
                        Method::GET,
                        &format!("/v1/queues/{queue}/dead?limit={limit}"),
                        None,
                    )
                    .await?,
                |b| Ok(table::dead(&typed(b)?)),
            ),
            DeadAction::Retry {
                queue,
                job_ids,
                all,
            } => (
                client
                    .call(
                        Method::POST,
                        &format!("/v1/queues/{queue}/dead/retry"),
                        selection(job_ids, *all),
                    )
                    .await?,
                |b| Ok(table::pretty(b)),
            ),
            DeadAction::Purge {
                queue,
                job_ids,
                all,
            } => (
                client
                    .call(
                        Method::POST,
                        &format!("/v1/queues/{queue}/dead/purge"),
                        selection(job_ids, *all),
                    )
                    .await?,
                |b| Ok(table::pretty(b)),
            ),
        },
        Command::Flows { action } => match action {
            FlowAction::List {
                status,
                client: owner,
                user,
                limit,
            } => (
                client
                    .call(
                        Method::GET,
                        &flows::list_path(
                            status.as_deref(),
                            owner.as_deref(),
                            user.as_deref(),
                            *limit,
                        ),
                        None,
                    )
                    .await?,
                |b| Ok(flows::list(&typed(b)?)),
            ),
            FlowAction::Show { flow_id } => (
                client
                    .call(Method::GET, &format!("/v1/ops/flows/{flow_id}"), None)
                    .await?,
                |b| Ok(flows::tree(&typed(b)?)),
            ),
            FlowAction::Cancel { flow_id } => (
                client
                    .call(
                        Method::POST,
                        &format!("/v1/ops/flows/{flow_id}/cancel"),
                        None,
                    )
                    .await?,
                |b| Ok(table::pretty(b)),
            ),
            FlowAction::Retry { flow_id, mode } => (
                client
                    .call(
                        Method::POST,
                        &format!("/v1/ops/flows/{flow_id}/retry"),
                        Some(json!({"mode": mode})),
                    )
                    .await?,
                |b| Ok(table::pretty(b)),
            ),
        },
        Command::Job { action } => match action {
            JobAction::Show { job_id } => (
                client
                    .call(Method::GET, &format!("/v1/ops/jobs/{job_id}"), None)
                    .await?,
                |b| Ok(table::pretty(b)),
            ),
            JobAction::Cancel { job_id } => (
                client
                    .call(Method::POST, &format!("/v1/ops/jobs/{job_id}/cancel"), None)
                    .await?,
                |b| Ok(table::pretty(b)),
            ),
        },
    };
    if cli.json {
        println!("{body}");
    } else {
        print!("{}", view(&body)?);
    }
    Ok(())
}
