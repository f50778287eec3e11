//! The apalis side: a [`Backend`] that leases jobs from one or more
//! [`RedisQueue`]s when the worker has a free slot (apalis polls the backend
//! only once its service is ready), highest queue priority first. It
//! prefetches up to each queue's `prefetch` per round trip; prefetched jobs
//! are renewed like running ones and handed back, attempt uncounted, when the
//! worker shuts down.
use std::collections::{HashMap, VecDeque};
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
use tokio_util::sync::CancellationToken;
use tower_layer::Identity;

use crate::queue::LeasedJob;
use crate::{DeadJob, Deferred, QueueError, RedisQueue, RetryOutcome, Settled};

const MIN_IDLE: Duration = Duration::from_millis(2);

/// The leases this process holds (running or prefetched), by token; each is
/// renewed until the [`Lease`] holding it is dropped, however the handler
/// ends.
#[derive(Clone, Default)]
pub struct InFlight(Arc<Mutex<HashMap<String, Held>>>);

struct Held {
    id: String,
    /// Fired when the lease is lost: the run must stop.
    lost: CancellationToken,
    /// When the last renewal that reached Redis was sent (or the lease
    /// taken): Redis's deadline is at least this plus the lease.
    renewed: Instant,
}

impl InFlight {
    /// Hold `job`, leased by a request sent at `sent` (Redis's deadline is
    /// at least that plus the lease).
    fn hold(&self, job: &LeasedJob, sent: Instant) -> (InFlightGuard, CancellationToken) {
        let lost = CancellationToken::new();
        self.0.lock().expect("in-flight set").insert(
            job.token.clone(),
            Held {
                id: job.id.clone(),
                lost: lost.clone(),
                renewed: sent,
            },
        );
        let guard = InFlightGuard {
            set: self.clone(),
            token: job.token.clone(),
        };
        (guard, lost)
    }

    /// `(id, token)` of every lease held.
    pub fn leases(&self) -> Vec<(String, String)> {
        self.0
            .lock()
            .expect("in-flight set")
            .iter()
            .map(|(token, held)| (held.id.clone(), token.clone()))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.0.lock().expect("in-flight set").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A renewal sent at `sent` reached Redis: the leases in `sent_for`
    /// are extended, except `lost` ones, whose runs are told to stop.
    fn renewed(&self, sent: Instant, sent_for: &[(String, String)], lost: &[String]) {
        let mut set = self.0.lock().expect("in-flight set");
        for (id, token) in sent_for {
            let Some(held) = set.get_mut(token) else {
                continue;
            };
            if lost.contains(id) {
                if !held.lost.is_cancelled() {
                    tracing::warn!(job = %id, "lease lost: the job was handed to another worker or left the queue");
                }
                held.lost.cancel();
            } else {
                held.renewed = held.renewed.max(sent);
            }
        }
    }

    /// A lease not renewed for `term` may soon run elsewhere: its run is
    /// told to stop.
    fn expire_unrenewed(&self, term: Duration) {
        let set = self.0.lock().expect("in-flight set");
        for held in set.values() {
            if held.renewed.elapsed() >= term && !held.lost.is_cancelled() {
                tracing::warn!(job = %held.id, "lease not renewed within its term; stopping the run");
                held.lost.cancel();
            }
        }
    }

    /// When the first held lease not yet lost runs out of `term`.
    fn earliest_deadline(&self, term: Duration) -> Option<Instant> {
        let set = self.0.lock().expect("in-flight set");
        set.values()
            .filter(|h| !h.lost.is_cancelled())
            .map(|h| h.renewed + term)
            .min()
    }
}

struct InFlightGuard {
    set: InFlight,
    token: String,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Ok(mut set) = self.set.0.lock() {
            set.remove(&self.token);
        }
    }
}

/// A job leased to this worker. Settle it with [`ack`](Lease::ack),
/// [`fail`](Lease::fail), [`retry`](Lease::retry) or [`defer`](Lease::defer);
/// each acts only while the lease is still this worker's and says `Stale`
/// otherwise. A lease dropped without settling stops being renewed and the
/// job runs again after the lease time.
pub struct Lease {
    pub job: LeasedJob,
    queue: RedisQueue,
    lost: CancellationToken,
    /// Where a settle hands the next jobs it leased (single-queue consumers).
    handoff: Weak<Handoff>,
    in_flight: InFlight,
    settling: Arc<Settling>,
    _guard: InFlightGuard,
}

/// Settle `job` (`completed` or `failed`); a consumer of one queue leases
/// its next jobs in the same round trip. It holds at most `concurrency +
/// prefetch - 1` jobs (running, waiting for a slot, or about to come back
/// with other settles in flight): with `prefetch = 1` never more than its
/// slots, with more some jobs wait ahead so short jobs never wait on Redis.
/// `freeing` is 1 while the settled job still holds its slot (a settle the
/// handler awaits), 0 once it has let it go (a background settle, counted in
/// `settling`).
#[allow(clippy::too_many_arguments)]
async fn settle_with(
    job: &LeasedJob,
    queue: &RedisQueue,
    in_flight: &InFlight,
    handoff: &Weak<Handoff>,
    settling: &Arc<Settling>,
    outcome: &str,
    ran: Option<Duration>,
    freeing: usize,
) -> Result<Settled, QueueError> {
    let Some(target) = handoff
        .upgrade()
        .filter(|h| !h.closing.load(Ordering::Relaxed))
    else {
        return match outcome {
            "completed" => queue.ack(job, ran).await,
            _ => queue.fail(job, ran).await,
        };
    };
    let spec = queue.spec();
    let cap = (spec.concurrency + spec.prefetch).saturating_sub(1) as usize;
    let others_in_flight = settling.in_flight().saturating_sub(1 - freeing);
    let held = in_flight.len().saturating_sub(freeing) + others_in_flight;
    let max_next = cap.saturating_sub(held).min(spec.prefetch as usize);
    let sent = Instant::now();
    let (settled, batch) = queue
        .settle_and_lease(job, outcome, ran, &target.worker, max_next)
        .await?;
    for dead in batch.dead {
        let _ = target.dead.send(dead);
    }
    if !batch.jobs.is_empty() {
        let mut leases = target.leases.lock().expect("handoff");
        for next in batch.jobs {
            leases.push_back(Lease::new(
                next,
                queue,
                in_flight,
                sent,
                handoff.clone(),
                settling,
            ));
        }
        drop(leases);
        target.wake.notify_one();
    }
    Ok(settled)
}

type SettleDone = Box<dyn FnOnce(Result<Settled, QueueError>) + Send>;

/// A background settle waiting for the consumer's settler.
struct PendingSettle {
    job: LeasedJob,
    outcome: &'static str,
    ran: Option<Duration>,
    done: SettleDone,
}

/// Most settles one round trip carries.
const SETTLE_BATCH: usize = 64;

/// The settler of a single-queue consumer: takes every background settle
/// waiting (up to [`SETTLE_BATCH`]), settles them in one script call with
/// the jobs that replace them (within `concurrency + prefetch - 1` held),
/// and hands those to the consumer.
async fn settle_batches(
    queue: RedisQueue,
    in_flight: InFlight,
    handoff: Weak<Handoff>,
    settling: Arc<Settling>,
    mut waiting: tokio::sync::mpsc::UnboundedReceiver<PendingSettle>,
) {
    while let Some(first) = waiting.recv().await {
        let mut batch = vec![first];
        while batch.len() < SETTLE_BATCH {
            match waiting.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let target = handoff.upgrade();
        let (worker, closing) = match &target {
            Some(t) => (t.worker.clone(), t.closing.load(Ordering::Relaxed)),
            None => (String::new(), true),
        };
        let spec = queue.spec();
        let cap = (spec.concurrency + spec.prefetch).saturating_sub(1) as usize;
        let held = in_flight.len() + settling.in_flight().saturating_sub(batch.len());
        let max_next = if closing {
            0
        } else {
            cap.saturating_sub(held)
                .min((spec.prefetch as usize).max(batch.len()))
        };
        let jobs: Vec<(&LeasedJob, &str, Option<Duration>)> =
            batch.iter().map(|p| (&p.job, p.outcome, p.ran)).collect();
        let sent = Instant::now();
        match queue.settle_many_and_lease(&jobs, &worker, max_next).await {
            Ok((settled, leased)) => {
                if let Some(target) = &target {
                    for dead in leased.dead {
                        let _ = target.dead.send(dead);
                    }
                    if !leased.jobs.is_empty() {
                        let mut leases = target.leases.lock().expect("handoff");
                        for next in leased.jobs {
                            leases.push_back(Lease::new(
                                next,
                                &queue,
                                &in_flight,
                                sent,
                                handoff.clone(),
                                &settling,
                            ));
                        }
                        drop(leases);
                        target.wake.notify_one();
                    }
                }
                for (pending, outcome) in batch.into_iter().zip(settled) {
                    (pending.done)(Ok(outcome));
                    settling.finished();
                }
            }
            Err(error) => {
                let message = error.to_string();
                for pending in batch {
                    (pending.done)(Err(QueueError::Protocol(message.clone())));
                    settling.finished();
                }
            }
        }
    }
}

/// Settles in flight (sent in the background), so a stopping consumer can
/// wait for them.
#[derive(Default)]
pub struct Settling {
    count: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

impl Settling {
    /// Background settles not finished yet.
    fn in_flight(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    fn started(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    fn finished(&self) {
        if self.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }

    /// Wait (at most `within`) until no settle is in flight.
    pub async fn wait_idle(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.count.load(Ordering::SeqCst) > 0 {
            let idle = self.idle.notified();
            if self.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return;
            }
        }
    }
}

/// Jobs leased in a settle's round trip, waiting for the consumer to hand
/// them to free slots.
pub(crate) struct Handoff {
    leases: Mutex<VecDeque<Lease>>,
    settles: tokio::sync::mpsc::UnboundedSender<PendingSettle>,
    wake: Arc<tokio::sync::Notify>,
    closing: Arc<AtomicBool>,
    worker: String,
    dead: UnboundedSender<DeadJob>,
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

    /// Resolves once the lease is lost (handed to another worker, the job
    /// gone from the queue, or not renewable within its term): a run must
    /// stop and leave the job's row alone.
    pub async fn lost(&self) {
        self.lost.cancelled().await
    }

    pub fn is_lost(&self) -> bool {
        self.lost.is_cancelled()
    }

    /// Completed; `ran` is the handler's run time. A consumer of one queue
    /// leases its next jobs in the same round trip.
    pub async fn ack(&self, ran: Option<Duration>) -> Result<Settled, QueueError> {
        self.settle("completed", ran).await
    }

    /// Failed for good; `ran` is the handler's run time.
    pub async fn fail(&self, ran: Option<Duration>) -> Result<Settled, QueueError> {
        self.settle("failed", ran).await
    }

    async fn settle(&self, outcome: &str, ran: Option<Duration>) -> Result<Settled, QueueError> {
        settle_with(
            &self.job,
            &self.queue,
            &self.in_flight,
            &self.handoff,
            &self.settling,
            outcome,
            ran,
            1,
        )
        .await
    }

    /// Settle as completed without waiting for Redis: the slot is free at
    /// once (the worker may start its next job while the settle, which also
    /// leases the next jobs of a single-queue consumer, is on the wire), and
    /// `done` gets the outcome. The consumer waits for settles in flight
    /// before it stops.
    pub fn ack_in_background<F>(self, ran: Option<Duration>, done: F)
    where
        F: FnOnce(Result<Settled, QueueError>) + Send + 'static,
    {
        self.settle_in_background("completed", ran, done)
    }

    /// [`ack_in_background`](Self::ack_in_background), failed for good.
    pub fn fail_in_background<F>(self, ran: Option<Duration>, done: F)
    where
        F: FnOnce(Result<Settled, QueueError>) + Send + 'static,
    {
        self.settle_in_background("failed", ran, done)
    }

    fn settle_in_background<F>(self, outcome: &'static str, ran: Option<Duration>, done: F)
    where
        F: FnOnce(Result<Settled, QueueError>) + Send + 'static,
    {
        let Lease {
            job,
            queue,
            handoff,
            in_flight,
            settling,
            _guard: guard,
            ..
        } = self;
        // The job is done: it stops counting against the worker's slots.
        drop(guard);
        settling.started();
        // A consumer of one queue settles in batches: whatever settles are
        // waiting go in one round trip, with the jobs that replace them.
        let mut pending = PendingSettle {
            job,
            outcome,
            ran,
            done: Box::new(done),
        };
        if let Some(target) = handoff.upgrade() {
            match target.settles.send(pending) {
                Ok(()) => return,
                Err(tokio::sync::mpsc::error::SendError(back)) => pending = back,
            }
        }
        let PendingSettle {
            job,
            outcome,
            ran,
            done,
        } = pending;
        tokio::spawn(async move {
            let result = settle_with(
                &job, &queue, &in_flight, &handoff, &settling, outcome, ran, 0,
            )
            .await;
            done(result);
            settling.finished();
        });
    }

    fn new(
        job: LeasedJob,
        queue: &RedisQueue,
        in_flight: &InFlight,
        sent: Instant,
        handoff: Weak<Handoff>,
        settling: &Arc<Settling>,
    ) -> Lease {
        let (guard, lost) = in_flight.hold(&job, sent);
        Lease {
            job,
            queue: queue.clone(),
            lost,
            handoff,
            in_flight: in_flight.clone(),
            settling: settling.clone(),
            _guard: guard,
        }
    }

    pub async fn retry(&self, error: &str) -> Result<RetryOutcome, QueueError> {
        self.queue.retry(&self.job, error).await
    }

    /// Infrastructure unreachable: run again later, attempt not spent.
    pub async fn defer(&self, error: &str) -> Result<Deferred, QueueError> {
        self.queue.defer(&self.job, error).await
    }

    pub async fn retry_after(
        &self,
        delay: Duration,
        error: &str,
    ) -> Result<RetryOutcome, QueueError> {
        self.queue.retry_after(&self.job, delay, error).await
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
                let room = (spec.concurrency as usize).saturating_sub(in_flight.len());
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

/// How long before Redis's deadline a holder stops a run it could not
/// renew: a tenth of the lease, at most a second.
fn safety_margin(lease: Duration) -> Duration {
    (lease / 10).min(Duration::from_secs(1))
}

/// Renew every held lease each lease/3; tell runs whose lease was lost to
/// stop, and, while Redis cannot be reached, stop each run shortly before
/// its lease could have expired in Redis (by then another worker may hold
/// the job). The loop wakes at the next renewal or the earliest such
/// deadline, whichever comes first.
async fn renew_leases(queue: RedisQueue, worker: String, in_flight: InFlight) {
    let every = queue.renew_interval();
    let lease = queue.spec().lease.get();
    let term = lease.saturating_sub(safety_margin(lease));
    let mut next_renewal = Instant::now();
    loop {
        if Instant::now() >= next_renewal {
            let leases = in_flight.leases();
            let sent = Instant::now();
            next_renewal = sent + every;
            // Bounded so a stalled connection cannot hold back the expiry
            // check below past the earliest deadline.
            let wait = in_flight
                .earliest_deadline(term)
                .map_or(every, |d| d.saturating_duration_since(sent).min(every))
                .max(Duration::from_millis(10));
            match tokio::time::timeout(wait, queue.renew(&worker, &leases)).await {
                Ok(Ok(lost)) => in_flight.renewed(sent, &leases, &lost),
                Ok(Err(error)) => {
                    tracing::warn!(queue = queue.name(), %error, "lease renewal failed")
                }
                Err(_) => tracing::warn!(queue = queue.name(), "lease renewal timed out"),
            }
        }
        in_flight.expire_unrenewed(term);
        let wake = in_flight
            .earliest_deadline(term)
            .map_or(next_renewal, |d| d.min(next_renewal));
        tokio::time::sleep_until(wake.into()).await;
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
                        match by_queue.iter_mut().find(|(q, _)| q.name() == lease.queue.name()) {
                            Some((_, jobs)) => jobs.push(&lease.job),
                            None => by_queue.push((lease.queue.clone(), vec![&lease.job])),
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
