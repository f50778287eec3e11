//! The job runtime every worker binary uses.
//!
//! A worker binary builds its [`Handlers`] (one per job kind, from its
//! registry) and calls [`run`]: the runtime connects to Redis, PostgreSQL and
//! storage, leases jobs of the configured queues through `atelier-queue`
//! (fenced leases, renewed while held), runs each in a [`JobContext`]
//! (input, owner, progress, cancellation, metered storage and CPU, stages),
//! classifies failures ([`JobFailure`]), settles, meters, and stops cleanly
//! on SIGTERM or past `worker.max_rss`.
#![forbid(unsafe_code)]

mod context;
mod failure;
mod handler;
mod lifecycle;
pub mod memory;
mod meter;
mod stages;

pub use context::{JobContext, Services};
pub use failure::JobFailure;
pub use handler::{Handler, Handlers};
pub use lifecycle::Runtime;
pub use meter::CostMeter;
pub use stages::{StageSpec, Stages, reusable};

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use atelier_config::{AppConfig, QueueSpec, QueuesConfig};
use atelier_events::EventLog;
use atelier_jobs::JobKind;
use atelier_queue::{ConsumeOptions, LeaseHandler, RedisQueue};
use atelier_storage::Storage;
use futures_util::FutureExt;

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

/// The queues a worker consumes: `worker.queues`, or every queue.
fn selected_queues(config: &AppConfig, queues: &QueuesConfig) -> anyhow::Result<Vec<QueueSpec>> {
    if config.worker.queues.is_empty() {
        return Ok(queues.queues.clone());
    }
    config
        .worker
        .queues
        .iter()
        .map(|name| {
            queues
                .get(name)
                .cloned()
                .with_context(|| format!("worker.queues: no queue named {name:?} in queues.toml"))
        })
        .collect()
}

/// The kinds a worker on `queues` runs: what they carry, without the
/// test-only kinds unless `worker.test_kinds` is on.
fn served_kinds(config: &AppConfig, queues: &[QueueSpec]) -> Vec<JobKind> {
    let mut kinds: Vec<JobKind> = queues
        .iter()
        .flat_map(|q| q.kinds.iter().copied())
        .filter(|k| config.worker.test_kinds || !k.is_test())
        .collect();
    kinds.sort_by_key(|k| k.as_str());
    kinds.dedup();
    kinds
}

/// Jobs this process runs at once: `worker.concurrency`, or by default the
/// largest concurrency among its queues (so queues compete for slots and
/// priority decides); each queue stays within its own concurrency.
fn worker_slots(configured: Option<u32>, queues: &[QueueSpec]) -> usize {
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
    let mut delay = Duration::from_secs(1);
    loop {
        match connect().await {
            Err(error) if transient(&error) => {
                tracing::warn!(server, %error, ?delay, "server unreachable at start-up; waiting");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            other => return other,
        }
    }
}

/// Run the worker until `shutdown` resolves (or `worker.max_rss` is passed),
/// then let in-flight jobs finish (up to `worker.shutdown_timeout`).
///
/// `build` makes the handlers of the kinds this worker serves (it runs on
/// the blocking pool: loading models takes seconds); kinds without one end
/// `job.kind_not_available`.
pub async fn run<B>(
    config: AppConfig,
    queues_config: QueuesConfig,
    build: B,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()>
where
    B: FnOnce(&AppConfig, &[JobKind]) -> anyhow::Result<Handlers> + Send + 'static,
{
    let selected = selected_queues(&config, &queues_config)?;
    // A worker started during an outage waits for its servers instead of
    // exiting (and crash-looping under an orchestrator); a malformed URL or a
    // failed migration still stops it at once.
    let (client, redis) = until_reachable(
        "redis",
        || atelier_queue::connect(config.redis.url.expose(), config.redis.cluster),
        |e| matches!(e, atelier_queue::QueueError::Redis(r) if r.is_io_error() || r.is_timeout() || r.is_connection_refusal() || r.is_connection_dropped()),
    )
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
    let events = EventLog::new(
        redis.clone(),
        pool.clone(),
        &config.redis.prefix,
        &config.events,
    );
    let metrics = Arc::new(atelier_telemetry::Registry::with(
        atelier_telemetry::metrics::ALL,
    )?);
    if let Some(addr) = config.worker.metrics_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("worker.metrics_listen {addr}"))?;
        tracing::info!(address = %listener.local_addr()?, "worker metrics listening");
        tokio::spawn(atelier_telemetry::serve_metrics(listener, metrics.clone()));
    }
    let kinds = served_kinds(&config, &selected);
    let handlers = tokio::task::spawn_blocking({
        let config = config.clone();
        move || build(&config, &kinds)
    })
    .await
    .context("building handlers")??;
    tracing::info!(kinds = ?handlers.kinds().iter().map(|k| k.as_str()).collect::<Vec<_>>(), "handlers ready");

    let name = worker_name(&config.worker.name);
    let options = ConsumeOptions {
        worker: name.clone(),
        slots: worker_slots(config.worker.concurrency, &selected),
        max_idle: config.worker.max_poll_interval.get(),
        drain: config.worker.shutdown_timeout.get(),
        wakeups: Some(client.clone()),
    };
    let prefix = config.redis.prefix.clone();
    let max_rss = config.worker.max_rss;
    let runtime = Arc::new(Runtime {
        services: Services {
            config,
            pool,
            storage,
            events,
            metrics,
            worker: name,
            busy: Arc::default(),
        },
        handlers,
    });

    let (dead_tx, mut dead_rx) = tokio::sync::mpsc::unbounded_channel();
    let dead_runtime = runtime.clone();
    tokio::spawn(async move {
        while let Some(dead) = dead_rx.recv().await {
            lifecycle::record_dead(&dead_runtime.services, dead).await;
        }
    });

    let queues: Vec<RedisQueue> = selected
        .iter()
        .map(|spec| RedisQueue::new(redis.clone(), &prefix, spec.clone()))
        .collect();
    tracing::info!(
        queues = ?selected.iter().map(|q| q.name.as_str()).collect::<Vec<_>>(),
        slots = options.slots,
        "consuming"
    );
    let reporter = tokio::spawn(report_self(
        redis.clone(),
        prefix.clone(),
        runtime.services.worker.clone(),
        selected.iter().map(|q| q.name.clone()).collect(),
        runtime.services.busy.clone(),
    ));
    let (report_conn, report_name) = (redis.clone(), runtime.services.worker.clone());
    let handler: LeaseHandler = Arc::new(move |lease| {
        let runtime = runtime.clone();
        async move { runtime.run_lease(lease).await }.boxed()
    });
    let stop = async move {
        match max_rss {
            Some(limit) => tokio::select! {
                () = shutdown => {}
                () = memory::exceeded(limit.0, Duration::from_secs(1)) => {}
            },
            None => shutdown.await,
        }
    };
    let consumed = atelier_queue::consume(queues, options, dead_tx, handler, stop).await;
    reporter.abort();
    if let Err(error) = atelier_queue::workers::withdraw(&report_conn, &prefix, &report_name).await
    {
        tracing::warn!(%error, "worker report not withdrawn");
    }
    consumed.context("consuming")?;
    tracing::info!("worker stopped");
    Ok(())
}

/// Every 2 s, this worker's report for operators (its queues, jobs in hand,
/// RSS); a Redis that cannot take it is only logged.
async fn report_self(
    redis: atelier_queue::Conn,
    prefix: String,
    worker: String,
    queues: Vec<String>,
    busy: Arc<meter::Busy>,
) {
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    };
    let started_ms = now_ms();
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tick.tick().await;
        let report = atelier_queue::workers::WorkerReport {
            worker: worker.clone(),
            queues: queues.clone(),
            in_hand: busy.snapshot(),
            rss_bytes: memory::rss_bytes(),
            started_ms,
            seen_ms: now_ms(),
        };
        if let Err(error) = atelier_queue::workers::report(&redis, &prefix, &report).await {
            tracing::debug!(%error, "worker report not written");
        }
    }
}
