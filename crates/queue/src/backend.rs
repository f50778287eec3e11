//! The apalis side: a [`Backend`] that leases jobs from one or more
//! [`RedisQueue`]s when the worker has a free slot (apalis polls the backend
//! only once its service is ready), highest queue priority first. It
//! prefetches up to each queue's `prefetch` per round trip; prefetched jobs
//! are renewed like running ones and handed back, attempt uncounted, when the
//! worker shuts down.
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use apalis_core::backend::finalize::Ephemeral;
use apalis_core::backend::{Backend, BackendConfig};
use apalis_core::task::Task;
use apalis_core::task::task_id::RandomId;
use apalis_core::worker::context::WorkerContext;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc::UnboundedSender;
use tower_layer::Identity;

use crate::queue::LeasedJob;
use crate::{DeadJob, QueueError, RedisQueue, RetryOutcome};

const MIN_IDLE: Duration = Duration::from_millis(2);

/// Ids of the jobs this process is running; their leases are renewed until
/// the [`Lease`] holding them is dropped, however the handler ends.
#[derive(Clone, Default)]
pub struct InFlight(Arc<Mutex<HashSet<String>>>);

impl InFlight {
    fn hold(&self, id: &str) -> InFlightGuard {
        self.0.lock().expect("in-flight set").insert(id.to_owned());
        InFlightGuard {
            set: self.clone(),
            id: id.to_owned(),
        }
    }

    pub fn ids(&self) -> Vec<String> {
        self.0
            .lock()
            .expect("in-flight set")
            .iter()
            .cloned()
            .collect()
    }

    pub fn len(&self) -> usize {
        self.0.lock().expect("in-flight set").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct InFlightGuard {
    set: InFlight,
    id: String,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Ok(mut set) = self.set.0.lock() {
            set.remove(&self.id);
        }
    }
}

/// A job leased to this worker. Settle it with [`ack`](Lease::ack),
/// [`fail`](Lease::fail) or [`retry`](Lease::retry); a lease dropped without
/// settling stops being renewed and the job runs again after the lease time.
pub struct Lease {
    pub job: LeasedJob,
    queue: RedisQueue,
    _guard: InFlightGuard,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("queue", &self.queue.name())
            .field("job", &self.job)
            .finish()
    }
}

impl Lease {
    pub fn queue(&self) -> &RedisQueue {
        &self.queue
    }

    /// Completed; `ran` is the handler's run time.
    pub async fn ack(&self, ran: Option<Duration>) -> Result<(), QueueError> {
        self.queue.ack(&self.job.id, ran).await
    }

    /// Failed for good; `ran` is the handler's run time.
    pub async fn fail(&self, ran: Option<Duration>) -> Result<(), QueueError> {
        self.queue.fail(&self.job.id, ran).await
    }

    pub async fn retry(&self, error: &str) -> Result<RetryOutcome, QueueError> {
        self.queue
            .retry(&self.job.id, self.job.attempt, error)
            .await
    }

    /// Infrastructure unreachable: run again later, attempt not spent.
    pub async fn defer(&self, error: &str) -> Result<Option<Duration>, QueueError> {
        self.queue.defer(&self.job.id, error).await
    }

    pub async fn retry_after(
        &self,
        delay: Duration,
        error: &str,
    ) -> Result<RetryOutcome, QueueError> {
        self.queue.retry_after(&self.job.id, delay, error).await
    }
}

/// One queue a consumer leases from, with the jobs it holds from it.
struct Source {
    queue: RedisQueue,
    in_flight: InFlight,
}

/// Feeds one apalis worker from one or more queues: each fetch leases from
/// the highest-priority queue that has work and room under its own
/// `concurrency`, so under backlog a higher queue is always served first.
pub struct QueueConsumer {
    sources: Vec<Source>,
    worker: String,
    dead: UnboundedSender<DeadJob>,
    max_idle: Duration,
    idle: Duration,
    buffer: VecDeque<Lease>,
    fetching: Option<BoxFuture<'static, Vec<Lease>>>,
    releasing: Option<BoxFuture<'static, ()>>,
    wake: Arc<tokio::sync::Notify>,
}

impl QueueConsumer {
    /// Wake from idle as soon as a job is pushed to any of this consumer's
    /// queues (Redis pub/sub), instead of waiting out the poll interval.
    /// Polling stays as the fallback, so a lost message costs only latency.
    pub fn with_wakeups(self, client: redis::Client) -> Self {
        let channels: Vec<String> = self
            .sources
            .iter()
            .map(|s| s.queue.wake_channel())
            .collect();
        tokio::spawn(listen_for_pushes(client, channels, self.wake.clone()));
        self
    }

    /// `dead` receives jobs found abandoned on their last attempt, so the
    /// caller can record them; lease renewal (and the worker heartbeat)
    /// starts here for every queue and runs for the life of the process.
    pub fn new(
        queues: Vec<RedisQueue>,
        worker: impl Into<String>,
        max_idle: Duration,
        dead: UnboundedSender<DeadJob>,
    ) -> Self {
        let worker = worker.into();
        let mut queues = queues;
        // Stable: equal priorities keep their given order.
        queues.sort_by_key(|q| std::cmp::Reverse(q.spec().priority));
        let sources = queues
            .into_iter()
            .map(|queue| {
                let in_flight = InFlight::default();
                tokio::spawn(renew_leases(
                    queue.clone(),
                    worker.clone(),
                    in_flight.clone(),
                ));
                Source { queue, in_flight }
            })
            .collect();
        QueueConsumer {
            sources,
            worker,
            dead,
            max_idle: max_idle.max(MIN_IDLE),
            idle: MIN_IDLE,
            buffer: VecDeque::new(),
            fetching: None,
            releasing: None,
            wake: Arc::default(),
        }
    }

    /// Jobs held (running or prefetched) across all queues.
    pub fn in_flight(&self) -> usize {
        self.sources.iter().map(|s| s.in_flight.len()).sum()
    }

    fn fetch_once(&self) -> BoxFuture<'static, Vec<Lease>> {
        let sources: Vec<(RedisQueue, InFlight)> = self
            .sources
            .iter()
            .map(|s| (s.queue.clone(), s.in_flight.clone()))
            .collect();
        let worker = self.worker.clone();
        let dead = self.dead.clone();
        let idle = self.idle;
        let wake = self.wake.clone();
        async move {
            let mut failed = false;
            for (queue, in_flight) in sources {
                let spec = queue.spec();
                let room = (spec.concurrency as usize).saturating_sub(in_flight.len());
                if room == 0 {
                    continue;
                }
                let max = room.min(spec.prefetch as usize).max(1);
                match queue.lease(&worker, max).await {
                    Ok(batch) => {
                        for job in batch.dead {
                            let _ = dead.send(job);
                        }
                        if !batch.jobs.is_empty() {
                            return batch
                                .jobs
                                .into_iter()
                                .map(|job| {
                                    let guard = in_flight.hold(&job.id);
                                    Lease {
                                        job,
                                        queue: queue.clone(),
                                        _guard: guard,
                                    }
                                })
                                .collect();
                        }
                    }
                    Err(error) => {
                        tracing::warn!(queue = queue.name(), %error, "lease failed, retrying");
                        failed = true;
                    }
                }
            }
            if failed {
                tokio::time::sleep(Duration::from_secs(1)).await;
            } else {
                tokio::select! {
                    _ = tokio::time::sleep(idle) => {}
                    _ = wake.notified() => {}
                }
            }
            Vec::new()
        }
        .boxed()
    }
}

async fn listen_for_pushes(
    client: redis::Client,
    channels: Vec<String>,
    wake: Arc<tokio::sync::Notify>,
) {
    use futures_util::StreamExt;
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                let mut subscribed = true;
                for channel in &channels {
                    subscribed &= pubsub.subscribe(channel).await.is_ok();
                }
                if subscribed {
                    let mut messages = pubsub.on_message();
                    while messages.next().await.is_some() {
                        wake.notify_one();
                    }
                }
            }
            Err(error) => tracing::debug!(%error, "push notifications unavailable; polling"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn renew_leases(queue: RedisQueue, worker: String, in_flight: InFlight) {
    let every = queue.renew_interval();
    loop {
        let ids = in_flight.ids();
        if let Err(error) = queue.renew(&worker, &ids).await {
            tracing::warn!(queue = queue.name(), %error, "lease renewal failed");
        }
        tokio::time::sleep(every).await;
    }
}

impl Backend for QueueConsumer {
    type Task = Task<Lease>;
    type Error = QueueError;

    fn poll_ready(
        &mut self,
        _cx: &mut Context<'_>,
        _worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        _worker: &WorkerContext,
    ) -> Poll<Option<Result<Self::Task, Self::Error>>> {
        loop {
            if let Some(lease) = self.buffer.pop_front() {
                return Poll::Ready(Some(Ok(Task::new(lease))));
            }
            let fut = match self.fetching.as_mut() {
                Some(f) => f,
                None => {
                    let f = self.fetch_once();
                    self.fetching.insert(f)
                }
            };
            match fut.poll_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(leases) => {
                    self.fetching = None;
                    if leases.is_empty() {
                        self.idle = (self.idle * 2).min(self.max_idle);
                    } else {
                        self.idle = MIN_IDLE;
                        self.buffer.extend(leases);
                    }
                }
            }
        }
    }

    /// Hand back prefetched jobs that never started.
    fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        _worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        if self.releasing.is_none() {
            let unstarted: Vec<Lease> = self.buffer.drain(..).collect();
            if unstarted.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let worker = self.worker.clone();
            self.releasing = Some(
                async move {
                    let mut by_queue: Vec<(RedisQueue, Vec<String>)> = Vec::new();
                    for lease in &unstarted {
                        match by_queue.iter_mut().find(|(q, _)| q.name() == lease.queue.name()) {
                            Some((_, ids)) => ids.push(lease.job.id.clone()),
                            None => by_queue.push((lease.queue.clone(), vec![lease.job.id.clone()])),
                        }
                    }
                    for (queue, ids) in by_queue {
                        match queue.release(&worker, &ids).await {
                            Ok(n) => tracing::info!(queue = queue.name(), released = n, "prefetched jobs handed back"),
                            Err(error) => tracing::warn!(queue = queue.name(), %error,
                                "could not hand back prefetched jobs; they run again after the lease"),
                        }
                    }
                    drop(unstarted);
                }
                .boxed(),
            );
        }
        let fut = self.releasing.as_mut().expect("set above");
        match fut.poll_unpin(cx) {
            Poll::Ready(()) => {
                self.releasing = None;
                Poll::Ready(Ok(()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl BackendConfig for QueueConsumer {
    type Args = Lease;
    type Id = RandomId;
    type Kind = Ephemeral;
    type Config = ();
    type Layer = Identity;

    fn config(&self) -> &Self::Config {
        &()
    }

    fn middleware(&mut self, _worker: &mut WorkerContext) -> Self::Layer {
        Identity::new()
    }
}
