//! `atelier-bench`: no-op jobs through this project's queue and worker
//! runtime (the same `RedisQueue` + `atelier_queue::consume` path the worker
//! uses, fenced leases included), for comparison with `benches/bullmq/bench.mjs` on the same Redis.
//! Prints one JSON line per run.
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use atelier_config::{EventsConfig, QueuesConfig};
use atelier_events::{Audience, EventHub, EventLog};
use atelier_jobs::EventType;
use atelier_queue::{ConsumeOptions, Lease, LeaseHandler, RedisQueue};
use clap::{Parser, Subcommand};
use futures_util::FutureExt;
use futures_util::StreamExt;
use serde_json::json;

#[derive(Parser)]
struct Cli {
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis: String,
    /// Where the latency run logs its completion events (as the intake's
    /// event log does); migrated on connect.
    #[arg(
        long,
        default_value = "postgres://postgres:postgres@127.0.0.1:5432/atelier"
    )]
    database: String,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Enqueue N no-op jobs, then drain them with one worker of concurrency C.
    Throughput {
        #[arg(long, default_value_t = 20_000)]
        jobs: usize,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// Time from SIGKILL of the worker holding a job to the job running again.
    Recovery,
    /// (Internal) hold every leased job forever; `recovery` kills this.
    Hold {
        #[arg(long)]
        prefix: String,
    },
    /// Add jobs at a steady rate; measure add → completion event.
    Latency {
        #[arg(long, default_value_t = 500)]
        rate: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
}

struct Shared {
    done: AtomicU64,
    events: Option<EventLog>,
}

/// A job that does nothing: it publishes its completion event (latency
/// mode) and settles as the worker runtime does, in the background, so the
/// slot is free while the settle (which leases the next job) is on the wire.
async fn noop(lease: Lease, shared: Arc<Shared>) {
    if let Some(events) = &shared.events {
        let id = uuid::Uuid::new_v4();
        events
            .publish(
                &Audience::new("bench", "bench"),
                EventType::JobCompleted,
                id,
                json!({"job": lease.job.id}),
            )
            .await
            .expect("publish");
    }
    lease.ack_in_background(None, move |settled| {
        settled.expect("ack");
        shared.done.fetch_add(1, Ordering::Relaxed);
    });
}

/// Run `handler` on every lease of `queue` with `concurrency` slots.
fn consume(
    queue: RedisQueue,
    worker: &str,
    concurrency: usize,
    wakeups: Option<redis::Client>,
    handler: LeaseHandler,
) -> tokio::task::JoinHandle<()> {
    let (dead_tx, _dead_rx) = tokio::sync::mpsc::unbounded_channel();
    let options = ConsumeOptions {
        worker: worker.to_owned(),
        slots: concurrency,
        max_idle: Duration::from_millis(20),
        drain: Duration::from_secs(1),
        wakeups,
    };
    tokio::spawn(async move {
        let _ = atelier_queue::consume(
            vec![queue],
            options,
            dead_tx,
            handler,
            std::future::pending(),
        )
        .await;
    })
}

/// The ingest queue's settings, tuned for many short jobs: `concurrency`
/// slots, each round trip leasing up to that many.
fn bench_queue(
    conn: atelier_queue::Conn,
    prefix: &str,
    concurrency: usize,
) -> anyhow::Result<RedisQueue> {
    let text = include_str!("../../queues.toml");
    let mut spec = QueuesConfig::parse(text, "queues.toml")?
        .get("ingest")
        .context("ingest queue")?
        .clone();
    spec.concurrency = concurrency as u32;
    // Many short jobs: lease a slot's worth per round trip and keep as many
    // waiting ahead (at least one, so even one slot never waits on Redis).
    spec.prefetch = concurrency.max(2) as u32;
    Ok(RedisQueue::new(conn, prefix, spec))
}

fn start_worker(queue: RedisQueue, concurrency: usize, shared: Arc<Shared>, client: redis::Client) {
    let handler: LeaseHandler = Arc::new(move |lease| noop(lease, shared.clone()).boxed());
    consume(queue, "bench-worker", concurrency, Some(client), handler);
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (client, conn) = atelier_queue::connect(&cli.redis, false).await?;
    let prefix = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let concurrency = match &cli.mode {
        Mode::Throughput { concurrency, .. } | Mode::Latency { concurrency, .. } => *concurrency,
        Mode::Recovery | Mode::Hold { .. } => 1,
    };
    let prefix = match &cli.mode {
        Mode::Hold { prefix } => prefix.clone(),
        _ => prefix,
    };
    let queue = bench_queue(conn.clone(), &prefix, concurrency)?;
    match cli.mode {
        Mode::Throughput { jobs, concurrency } => {
            let started = Instant::now();
            futures_util::stream::iter(0..jobs)
                .map(|i| {
                    let q = queue.clone();
                    async move { q.enqueue(&format!("j{i}"), "{}", 5).await }
                })
                .buffer_unordered(64)
                .for_each(|r| async move {
                    r.expect("enqueue");
                })
                .await;
            let enqueue_secs = started.elapsed().as_secs_f64();
            let shared = Arc::new(Shared {
                done: AtomicU64::new(0),
                events: None,
            });
            let started = Instant::now();
            start_worker(queue.clone(), concurrency, shared.clone(), client.clone());
            while shared.done.load(Ordering::Relaxed) < jobs as u64 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{}",
                json!({"system": "atelier", "mode": "throughput", "jobs": jobs, "concurrency": concurrency,
                       "enqueue_per_s": (jobs as f64 / enqueue_secs).round(),
                       "processed_per_s": (jobs as f64 / secs).round()})
            );
        }
        Mode::Hold { .. } => {
            // Hold every leased job forever (renewing it) until killed.
            let hold: LeaseHandler = Arc::new(|lease| {
                async move {
                    let _lease = lease;
                    std::future::pending::<()>().await
                }
                .boxed()
            });
            let _ = consume(queue, "bench-holder", 1, None, hold).await;
            return Ok(());
        }
        Mode::Recovery => {
            queue.enqueue("victim", "{}", 5).await?;
            let mut holder = tokio::process::Command::new(std::env::current_exe()?)
                .args(["--redis", &cli.redis, "hold", "--prefix", &prefix])
                .kill_on_drop(true)
                .spawn()?;
            while queue.stats().await?.in_flight == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // Let the holder settle into its renewal rhythm, as a busy worker would be.
            tokio::time::sleep(Duration::from_secs(2)).await;
            holder.start_kill()?;
            holder.wait().await?;
            let killed = Instant::now();
            let shared = Arc::new(Shared {
                done: AtomicU64::new(0),
                events: None,
            });
            start_worker(queue.clone(), 1, shared.clone(), client.clone());
            while shared.done.load(Ordering::Relaxed) == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            println!(
                "{}",
                json!({"system": "atelier", "mode": "recovery",
                       "lease_s": queue.spec().lease.get().as_secs_f64(),
                       "rerun_after_kill_s": (killed.elapsed().as_secs_f64() * 10.0).round() / 10.0})
            );
        }
        Mode::Latency {
            rate,
            seconds,
            concurrency,
        } => {
            let pool = atelier_db::connect(&cli.database, 8, true).await?;
            let events = EventLog::new(conn.clone(), pool, &prefix, &EventsConfig::default());
            let hub = EventHub::start(client.clone(), &prefix, 4096).await?;
            let mut live = hub.subscribe(&Audience::new("bench", "bench").key());
            let shared = Arc::new(Shared {
                done: AtomicU64::new(0),
                events: Some(events),
            });
            start_worker(queue.clone(), concurrency, shared, client.clone());
            let added: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
            let total = rate * seconds;
            let collector_added = added.clone();
            let collector = tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(total as usize);
                while (latencies.len() as u64) < total {
                    let Ok(item) = live.events.recv().await else {
                        continue;
                    };
                    let id = item.event.data["job"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    if let Some(at) = collector_added.lock().unwrap().remove(&id) {
                        latencies.push(at.elapsed().as_secs_f64() * 1000.0);
                    }
                }
                latencies
            });
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
            for i in 0..total {
                tick.tick().await;
                let id = format!("l{i}");
                added.lock().unwrap().insert(id.clone(), Instant::now());
                let q = queue.clone();
                tokio::spawn(async move { q.enqueue(&id, "{}", 5).await });
            }
            let mut latencies =
                tokio::time::timeout(Duration::from_secs(seconds + 30), collector).await??;
            latencies.sort_by(f64::total_cmp);
            println!(
                "{}",
                json!({"system": "atelier", "mode": "latency", "rate": rate, "jobs": total,
                       "concurrency": concurrency,
                       "p50_ms": (percentile(&latencies, 0.5) * 100.0).round() / 100.0,
                       "p99_ms": (percentile(&latencies, 0.99) * 100.0).round() / 100.0})
            );
        }
    }
    // Leave nothing behind in Redis.
    let mut conn = conn;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await?;
    for chunk in keys.chunks(500) {
        let _: () = redis::cmd("DEL").arg(chunk).query_async(&mut conn).await?;
    }
    Ok(())
}
