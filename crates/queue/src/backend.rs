//! The apalis side: a [`Backend`] that leases jobs from one or more
//! [`RedisQueue`]s when the worker has a free slot (apalis polls the backend
//! only once its service is ready), highest queue priority first. It
//! prefetches up to each queue's `prefetch` per round trip; prefetched jobs
//! are renewed like running ones and handed back, attempt uncounted, when the
//! worker shuts down.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use apalis_core::backend::finalize::Ephemeral;
use apalis_core::backend::{Backend, BackendConfig};
use apalis_core::task::Task;
use apalis_core::task::task_id::RandomId;
use apalis_core::worker::context::WorkerContext;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc::UnboundedSender;
use tower_layer::Identity;

use crate::held::{InFlight, renew_leases};
use crate::lease::{Handoff, Lease, Settling, settle_batches};
use crate::queue::LeasedJob;
use crate::{DeadJob, QueueError, RedisQueue};

const MIN_IDLE: Duration = Duration::from_millis(2);

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
    /// Consumers of one queue lease next jobs in the settle round trip.
    handoff: Option<Arc<Handoff>>,
    closing: Arc<AtomicBool>,
    settling: Arc<Settling>,
}

impl QueueConsumer {
    /// Settles this consumer's leases send in the background.
    pub fn settling(&self) -> Arc<Settling> {
        self.settling.clone()
    }

    /// Set once shutdown begins: settles stop leasing further jobs.
    pub fn closing_flag(&self) -> Arc<AtomicBool> {
        self.closing.clone()
    }

    fn handoff_weak(&self) -> Weak<Handoff> {
        self.handoff.as_ref().map_or_else(Weak::new, Arc::downgrade)
    }

    /// Move jobs leased by settles into the buffer.
    fn take_handoff(&mut self) {
        if let Some(handoff) = &self.handoff {
            let mut leases = handoff.leases.lock().expect("handoff");
            self.buffer.extend(leases.drain(..));
        }
    }

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
            .collect::<Vec<Source>>();
        let wake: Arc<tokio::sync::Notify> = Arc::default();
        let closing: Arc<AtomicBool> = Arc::default();
        let settling: Arc<Settling> = Arc::default();
        // With several queues the next job must come from the highest one
        // with work, which only a full fetch decides.
        let handoff = (sources.len() == 1).then(|| {
            let (settles, waiting) = tokio::sync::mpsc::unbounded_channel();
            let handoff = Arc::new(Handoff {
                leases: Mutex::default(),
                settles,
                wake: wake.clone(),
                closing: closing.clone(),
                worker: worker.clone(),
                dead: dead.clone(),
            });
            tokio::spawn(settle_batches(
                sources[0].queue.clone(),
                sources[0].in_flight.clone(),
                Arc::downgrade(&handoff),
                settling.clone(),
                waiting,
            ));
            handoff
        });
        QueueConsumer {
            sources,
            worker,
            dead,
            max_idle: max_idle.max(MIN_IDLE),
            idle: MIN_IDLE,
            buffer: VecDeque::new(),
            fetching: None,
            releasing: None,
            wake,
            handoff,
            closing,
            settling,
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
        let handoff = self.handoff_weak();
        let settling = self.settling.clone();
        async move {
            let mut failed = false;
            for (queue, in_flight) in sources {
                let spec = queue.spec();
                // A job settled in the background has let its slot go, but
                // Redis holds it leased until the settle lands: past one
                // slot's worth each, they count as held, so a settler that
                // falls behind slows the fetching instead of letting the
                // worker hoard leases (each one a rerun if it dies).
                let settles_behind = settling
                    .in_flight()
                    .saturating_sub(spec.concurrency as usize);
                let room =
                    (spec.concurrency as usize).saturating_sub(in_flight.len() + settles_behind);
                if room == 0 {
                    continue;
                }
                let max = room.min(spec.prefetch as usize).max(1);
                let sent = Instant::now();
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
                                    Lease::new(
                                        job,
                                        &queue,
                                        &in_flight,
                                        sent,
                                        handoff.clone(),
                                        &settling,
                                    )
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
            self.take_handoff();
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
            self.closing.store(true, Ordering::Relaxed);
            self.take_handoff();
            let unstarted: Vec<Lease> = self.buffer.drain(..).collect();
            if unstarted.is_empty() {
                return Poll::Ready(Ok(()));
            }
            self.releasing = Some(
                async move {
                    let mut by_queue: Vec<(RedisQueue, Vec<&LeasedJob>)> = Vec::new();
                    for lease in &unstarted {
                        match by_queue.iter_mut().find(|(q, _)| q.name() == lease.queue().name()) {
                            Some((_, jobs)) => jobs.push(&lease.job),
                            None => by_queue.push((lease.queue().clone(), vec![&lease.job])),
                        }
                    }
                    for (queue, jobs) in by_queue {
                        match queue.release(&jobs).await {
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
