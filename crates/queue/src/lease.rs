//! A job leased to this worker and every way it can be settled: awaited,
//! or in the background (the slot is free at once), batched with other
//! settles and folded with the lease of the jobs that replace them.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::held::{InFlight, InFlightGuard};
use crate::queue::LeasedJob;
use crate::{DeadJob, Deferred, QueueError, RedisQueue, RetryOutcome, Settled};

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
    settling: Arc<Settling>,
    _guard: InFlightGuard,
}

type SettleDone = Box<dyn FnOnce(Result<Settled, QueueError>) + Send>;

/// A settle waiting for the consumer's settler.
pub(crate) struct PendingSettle {
    job: LeasedJob,
    outcome: &'static str,
    ran: Option<Duration>,
    /// Sent by `*_in_background`: the job let its slot go and is counted in
    /// [`Settling`]; otherwise the handler awaits it and still holds its slot.
    background: bool,
    done: SettleDone,
}

/// Settle without the settler (a consumer of several queues, or one that is
/// gone): no next jobs are leased in the round trip.
async fn settle_alone(
    queue: &RedisQueue,
    job: &LeasedJob,
    outcome: &str,
    ran: Option<Duration>,
) -> Result<Settled, QueueError> {
    match outcome {
        "completed" => queue.ack(job, ran).await,
        _ => queue.fail(job, ran).await,
    }
}

/// Most settles one round trip carries.
const SETTLE_BATCH: usize = 64;

/// The settler of a single-queue consumer, the one place settles lease the
/// next jobs: it takes every settle waiting (up to [`SETTLE_BATCH`]),
/// settles them in one script call with the jobs that replace them, and
/// hands those to the consumer. A worker holds at most `concurrency +
/// prefetch - 1` jobs (running, waiting for a slot, or about to come back
/// with settles still queued): with `prefetch = 1` never more than its
/// slots, with more some wait ahead so short jobs never wait on Redis.
pub(crate) async fn settle_batches(
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
        // Awaited settles in the batch still hold their slots (counted in
        // `in_flight`); background ones are counted in `settling`.
        let awaited = batch.iter().filter(|p| !p.background).count();
        let background = batch.len() - awaited;
        let held = in_flight.len().saturating_sub(awaited)
            + settling.in_flight().saturating_sub(background);
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
                    pending.finish(&settling, Ok(outcome));
                }
            }
            Err(error) => {
                let message = error.to_string();
                for pending in batch {
                    pending.finish(&settling, Err(QueueError::Protocol(message.clone())));
                }
            }
        }
    }
}

impl PendingSettle {
    fn finish(self, settling: &Settling, result: Result<Settled, QueueError>) {
        let background = self.background;
        (self.done)(result);
        if background {
            settling.finished();
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
    pub(crate) fn in_flight(&self) -> usize {
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
    pub(crate) leases: Mutex<VecDeque<Lease>>,
    pub(crate) settles: tokio::sync::mpsc::UnboundedSender<PendingSettle>,
    pub(crate) wake: Arc<tokio::sync::Notify>,
    pub(crate) closing: Arc<AtomicBool>,
    pub(crate) worker: String,
    pub(crate) dead: UnboundedSender<DeadJob>,
}

/// Give `pending` to the consumer's settler; it comes back when there is
/// none (a consumer of several queues) or it is gone.
fn to_settler(handoff: &Weak<Handoff>, pending: PendingSettle) -> Option<PendingSettle> {
    match handoff.upgrade() {
        Some(target) => target.settles.send(pending).err().map(|e| e.0),
        None => Some(pending),
    }
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

    async fn settle(
        &self,
        outcome: &'static str,
        ran: Option<Duration>,
    ) -> Result<Settled, QueueError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let pending = PendingSettle {
            job: self.job.clone(),
            outcome,
            ran,
            background: false,
            done: Box::new(move |result| {
                let _ = tx.send(result);
            }),
        };
        match to_settler(&self.handoff, pending) {
            None => rx
                .await
                .unwrap_or_else(|_| Err(QueueError::Protocol("the settler stopped".into()))),
            Some(_) => settle_alone(&self.queue, &self.job, outcome, ran).await,
        }
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
            settling,
            _guard: guard,
            ..
        } = self;
        // The job is done: it stops counting against the worker's slots.
        drop(guard);
        settling.started();
        let pending = PendingSettle {
            job,
            outcome,
            ran,
            background: true,
            done: Box::new(done),
        };
        let Some(pending) = to_settler(&handoff, pending) else {
            return;
        };
        tokio::spawn(async move {
            let result = settle_alone(&queue, &pending.job, outcome, ran).await;
            pending.finish(&settling, result);
        });
    }

    pub(crate) fn new(
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
