//! The worker: consumes the configured queues through apalis, runs each job's
//! handler, writes results to Postgres and objects to storage, publishes
//! events, and settles the job with its queue.
#![forbid(unsafe_code)]

pub mod cli;
mod failure;
mod meter;
mod models;
mod photo_ingest;
mod run;
mod vision;
mod vision_embed;
mod vision_pose;
mod vision_segment;
mod vision_skin_tone;
mod vision_tag;

pub use failure::JobFailure;
pub use run::WorkerContext;

use std::sync::Arc;

use anyhow::Context;
use apalis::layers::WorkerBuilderExt;
use apalis_core::error::BoxDynError;
use apalis_core::monitor::Monitor;
use apalis_core::task::data::Data;
use apalis_core::worker::builder::WorkerBuilder;
use atelier_config::{AppConfig, QueuesConfig};
use atelier_events::EventLog;
use atelier_queue::{Lease, QueueConsumer, RedisQueue};
use atelier_storage::Storage;

async fn handle(lease: Lease, ctx: Data<Arc<WorkerContext>>) -> Result<(), BoxDynError> {
    run::run_lease(&ctx, lease).await;
    Ok(())
}

/// A name unique to this process: leases are held per worker name.
pub fn worker_name(configured: &str) -> String {
    if !configured.is_empty() {
        return configured.to_owned();
    }
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "worker".into());
    format!(
        "{host}-{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    )
}

/// Jobs this process runs at once: `worker.concurrency`, or by default the
/// largest concurrency among its queues (so queues compete for slots and
/// priority decides); each queue stays within its own concurrency.
fn worker_slots(configured: Option<u32>, queues: &[atelier_config::QueueSpec]) -> usize {
    configured
        .unwrap_or_else(|| queues.iter().map(|q| q.concurrency).max().unwrap_or(1))
        .max(1) as usize
}

/// Call `connect` until it succeeds or fails in a way waiting cannot fix;
/// the delay grows from 1 s to 10 s and every wait is logged.
async fn until_reachable<T, E, F, Fut>(
    server: &str,
    mut connect: F,
    transient: impl Fn(&E) -> bool,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut delay = std::time::Duration::from_secs(1);
    loop {
        match connect().await {
            Err(error) if transient(&error) => {
                tracing::warn!(server, %error, ?delay, "server unreachable at start-up; waiting");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(10));
            }
            other => return other,
        }
    }
}

/// Run until `shutdown` resolves, then let in-flight jobs finish (up to
/// `worker.shutdown_timeout`).
pub async fn run(
    config: AppConfig,
    queues_config: QueuesConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let selected: Vec<_> = if config.worker.queues.is_empty() {
        queues_config.queues.clone()
    } else {
        config
            .worker
            .queues
            .iter()
            .map(|name| {
                queues_config.get(name).cloned().with_context(|| {
                    format!("worker.queues: no queue named {name:?} in queues.toml")
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    // A worker started during an outage waits for its servers instead of
    // exiting (and crash-looping under an orchestrator); a malformed URL or a
    // failed migration still stops it at once.
    let (client, redis) = until_reachable("redis", || {
        atelier_queue::connect(config.redis.url.expose())
    }, |e| matches!(e, atelier_queue::QueueError::Redis(r) if r.is_io_error() || r.is_timeout() || r.is_connection_refusal() || r.is_connection_dropped()))
    .await
    .context("connecting to redis")?;
    let pool = until_reachable(
        "postgres",
        || {
            atelier_db::connect(
                config.database.url.expose(),
                config.database.max_connections,
                config.database.migrate,
            )
        },
        atelier_db::DbError::is_transient,
    )
    .await
    .context("connecting to postgres")?;
    let storage = Storage::from_config(&config.storage).context("object storage")?;
    let events = EventLog::new(redis.clone(), &config.redis.prefix, &config.events);
    let name = worker_name(&config.worker.name);
    let max_idle = config.worker.max_poll_interval.get();
    let shutdown_timeout = config.worker.shutdown_timeout.get();
    let prefix = config.redis.prefix.clone();
    let metrics = Arc::new(atelier_telemetry::Registry::default());
    if let Some(addr) = config.worker.metrics_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("worker.metrics_listen {addr}"))?;
        tracing::info!(address = %listener.local_addr()?, "worker metrics listening");
        tokio::spawn(atelier_telemetry::serve_metrics(listener, metrics.clone()));
    }
    let needs_models = selected
        .iter()
        .any(|q| q.kinds.iter().any(|k| k.as_str().starts_with("vision.")));
    let models = if needs_models {
        Some(Arc::new(
            tokio::task::spawn_blocking({
                let config = config.models.clone();
                move || models::VisionModels::load(&config)
            })
            .await
            .context("loading models")??,
        ))
    } else {
        None
    };
    let ctx = Arc::new(WorkerContext {
        models,
        config,
        pool,
        storage,
        events,
        metrics,
        busy: Arc::default(),
    });

    let (dead_tx, mut dead_rx) = tokio::sync::mpsc::unbounded_channel();
    let dead_ctx = ctx.clone();
    tokio::spawn(async move {
        while let Some(dead) = dead_rx.recv().await {
            run::record_dead(&dead_ctx, dead).await;
        }
    });

    // One consumer over every selected queue: slots are shared and the
    // highest-priority queue with work is served first.
    let queues: Vec<RedisQueue> = selected
        .iter()
        .map(|spec| RedisQueue::new(redis.clone(), &prefix, spec.clone()))
        .collect();
    let slots = worker_slots(ctx.config.worker.concurrency, &selected);
    tracing::info!(
        queues = ?selected.iter().map(|q| q.name.as_str()).collect::<Vec<_>>(),
        slots,
        "consuming"
    );
    let monitor = Monitor::new()
        .shutdown_timeout(shutdown_timeout)
        .register(move |_| {
            let consumer =
                QueueConsumer::new(queues.clone(), name.clone(), max_idle, dead_tx.clone())
                    .with_wakeups(client.clone());
            WorkerBuilder::new(name.clone())
                .backend(consumer)
                .concurrency(slots)
                .data(ctx.clone())
                .build(handle)
        });
    monitor
        .run_with_signal(async move {
            shutdown.await;
            tracing::info!("draining in-flight jobs");
            Ok(())
        })
        .await
        .context("worker monitor")?;
    tracing::info!("worker stopped");
    Ok(())
}
