//! Running handlers over leased jobs: the one place apalis is wired (its
//! monitor drains in-flight jobs on shutdown and its worker limits
//! concurrency), so nothing outside this crate knows it.
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use apalis::layers::WorkerBuilderExt;
use apalis_core::error::BoxDynError;
use apalis_core::monitor::Monitor;
use apalis_core::task::data::Data;
use apalis_core::worker::builder::WorkerBuilder;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc::UnboundedSender;

use crate::{DeadJob, Lease, QueueConsumer, QueueError, RedisQueue};

/// What runs one leased job; it settles the lease itself.
pub type LeaseHandler = Arc<dyn Fn(Lease) -> BoxFuture<'static, ()> + Send + Sync>;

/// How one consuming process behaves.
#[derive(Clone)]
pub struct ConsumeOptions {
    /// Leases are held per worker name: unique per process.
    pub worker: String,
    /// Jobs run at once, over all queues (each queue also keeps to its own
    /// concurrency).
    pub slots: usize,
    /// Longest pause between polls of idle queues.
    pub max_idle: Duration,
    /// How long in-flight jobs may take to finish after shutdown begins.
    pub drain: Duration,
    /// Wake idle polling on pushes (Redis pub/sub); polling alone without.
    pub wakeups: Option<redis::Client>,
}

async fn run_lease(lease: Lease, handler: Data<LeaseHandler>) -> Result<(), BoxDynError> {
    (handler)(lease).await;
    Ok(())
}

/// Lease jobs from `queues` (highest priority first) and run `handler` on
/// each until `shutdown` resolves; then stop leasing, let in-flight jobs
/// finish (up to `drain`) and hand back prefetched ones. Jobs found
/// abandoned on their last attempt go to `dead`.
pub async fn consume(
    queues: Vec<RedisQueue>,
    options: ConsumeOptions,
    dead: UnboundedSender<DeadJob>,
    handler: LeaseHandler,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), QueueError> {
    let ConsumeOptions {
        worker,
        slots,
        max_idle,
        drain,
        wakeups,
    } = options;
    let closing: Arc<std::sync::Mutex<Vec<Arc<AtomicBool>>>> = Arc::default();
    let flags = closing.clone();
    let settling: Arc<std::sync::Mutex<Vec<Arc<crate::Settling>>>> = Arc::default();
    let settles = settling.clone();
    let monitor = Monitor::new().shutdown_timeout(drain).register(move |_| {
        let mut consumer =
            QueueConsumer::new(queues.clone(), worker.clone(), max_idle, dead.clone());
        flags.lock().expect("flags").push(consumer.closing_flag());
        settles.lock().expect("settles").push(consumer.settling());
        if let Some(client) = &wakeups {
            consumer = consumer.with_wakeups(client.clone());
        }
        WorkerBuilder::new(worker.clone())
            .backend(consumer)
            .concurrency(slots.max(1))
            .data(handler.clone())
            .build(run_lease)
    });
    monitor
        .run_with_signal(async move {
            shutdown.await;
            // Jobs finishing from now on lease nothing more.
            for flag in closing.lock().expect("flags").iter() {
                flag.store(true, Ordering::Relaxed);
            }
            tracing::info!("draining in-flight jobs");
            Ok(())
        })
        .await
        .map_err(|e| QueueError::Protocol(format!("worker monitor: {e}")))?;
    // Settles sent in the background finish before the process goes.
    let pending: Vec<_> = settling.lock().expect("settles").clone();
    for s in pending {
        s.wait_idle(Duration::from_secs(5)).await;
    }
    Ok(())
}
