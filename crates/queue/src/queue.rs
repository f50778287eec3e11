use std::collections::HashMap;
use std::time::Duration;

use atelier_config::QueueSpec;
use atelier_redis::Conn;
use redis::{Script, Value};

use crate::QueueError;

const COMMON: &str = include_str!("lua/common.lua");
const LEASE_FN: &str = include_str!("lua/lease_fn.lua");

pub(crate) fn script(body: &str) -> Script {
    Script::new(&format!("{COMMON}\n{body}"))
}

fn leasing_script(body: &str) -> Script {
    Script::new(&format!("{COMMON}\n{LEASE_FN}\n{body}"))
}

pub(crate) struct Scripts {
    enqueue: Script,
    lease: Script,
    ack_lease: Script,
    settle: Script,
    retry: Script,
    renew: Script,
    release: Script,
    stats: Script,
    pub(crate) dead_list: Script,
    pub(crate) dead_retry: Script,
    pub(crate) dead_purge: Script,
    pub(crate) cancel: Script,
    defer: Script,
    presence: Script,
}

impl Scripts {
    fn load() -> Self {
        Scripts {
            enqueue: script(include_str!("lua/enqueue.lua")),
            lease: leasing_script(include_str!("lua/lease.lua")),
            ack_lease: leasing_script(include_str!("lua/ack_lease.lua")),
            settle: script(include_str!("lua/settle.lua")),
            retry: script(include_str!("lua/retry.lua")),
            renew: script(include_str!("lua/renew.lua")),
            release: script(include_str!("lua/release.lua")),
            dead_list: script(include_str!("lua/dead_list.lua")),
            dead_retry: script(include_str!("lua/dead_retry.lua")),
            dead_purge: script(include_str!("lua/dead_purge.lua")),
            cancel: script(include_str!("lua/cancel.lua")),
            defer: script(include_str!("lua/defer.lua")),
            stats: script(include_str!("lua/stats.lua")),
            presence: script(include_str!("lua/presence.lua")),
        }
    }
}

/// Key names of one queue.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    base: String,
}

impl Keys {
    fn new(prefix: &str, queue: &str) -> Self {
        Keys {
            base: format!("{prefix}:{{q:{queue}}}"),
        }
    }
    pub(crate) fn k(&self, part: &str) -> String {
        format!("{}:{part}", self.base)
    }
    pub(crate) fn job_prefix(&self) -> String {
        format!("{}:job:", self.base)
    }
    pub(crate) fn job(&self, id: &str) -> String {
        format!("{}:job:{id}", self.base)
    }
}

/// A job handed to this worker until `deadline`; it must be settled with
/// [`RedisQueue::ack`], [`RedisQueue::fail`] or [`RedisQueue::retry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasedJob {
    pub id: String,
    pub payload: String,
    /// 1-based number of this run.
    pub attempt: u32,
    pub max_attempts: u32,
    /// Names this lease: renew, settle, retry, defer and release act only
    /// while it is the job's current lease.
    pub token: String,
}

/// A job whose worker vanished on its last allowed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadJob {
    pub id: String,
    pub payload: String,
    pub attempts: u32,
}

#[derive(Debug, Default)]
pub struct LeaseBatch {
    pub jobs: Vec<LeasedJob>,
    pub dead: Vec<DeadJob>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOutcome {
    Scheduled,
    Dead,
    /// The lease was no longer the caller's: nothing changed.
    Stale,
}

/// Where a job is in its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Not in Redis: settled, or lost by Redis.
    Absent,
    /// Ready, delayed or leased.
    Queued,
    /// In the dead set.
    Dead,
}

/// How an ack or abort ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Done,
    /// The lease was no longer the caller's (it expired and the job was
    /// handed out again, or the job left the queue): nothing changed.
    Stale,
}

/// How a deferral ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deferred {
    /// Runs again after this delay.
    After(Duration),
    Stale,
}

const STALE: i64 = -2;

/// A cheap snapshot of one queue (one script call).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct QueueStats {
    pub queue: String,
    pub ready: u64,
    pub scheduled: u64,
    pub in_flight: u64,
    pub dead: u64,
    /// Age of the oldest job waiting (ready or scheduled), in milliseconds.
    pub oldest_age_ms: Option<u64>,
    pub enqueued_total: u64,
    pub completed_total: u64,
    pub failed_total: u64,
    pub retried_total: u64,
    pub dead_total: u64,
    pub lease_expired_total: u64,
    /// Settlements refused because the caller's lease was no longer current.
    pub stale_total: u64,
    /// Runs put back because the database or storage was unreachable.
    pub deferred_total: u64,
    /// Workers that renewed their leases within the last lease period.
    pub live_workers: u64,
    /// Moving average of handler run time (ms), over settled jobs.
    pub service_time_ms: Option<f64>,
}

impl QueueStats {
    /// Jobs waiting to run: ready now or waiting out a retry backoff.
    pub fn depth(&self) -> u64 {
        self.ready + self.scheduled
    }

    /// The worker count this queue's pool should run now.
    pub fn recommendation(&self, spec: &QueueSpec) -> crate::Recommendation {
        crate::recommend(crate::ScaleInput {
            depth: self.depth(),
            in_flight: self.in_flight,
            service_time: self
                .service_time_ms
                .map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0)),
            concurrency: spec.concurrency,
            target_latency: spec.scaling.target_latency.get(),
            min_workers: spec.scaling.min_workers,
            max_workers: spec.scaling.max_workers,
        })
    }
}

/// One named queue on Redis, configured from its queues.toml entry.
#[derive(Clone)]
pub struct RedisQueue {
    pub(crate) conn: Conn,
    pub(crate) keys: Keys,
    spec: QueueSpec,
    pub(crate) scripts: std::sync::Arc<Scripts>,
}

impl RedisQueue {
    /// An invocation of `script` with this queue's keys named by `parts`.
    pub(crate) fn invoke<'a>(
        &self,
        script: &'a Script,
        parts: &[&str],
    ) -> redis::ScriptInvocation<'a> {
        let mut invocation = script.prepare_invoke();
        for part in parts {
            invocation.key(self.keys.k(part));
        }
        invocation
    }

    pub fn new(conn: Conn, prefix: &str, spec: QueueSpec) -> Self {
        RedisQueue {
            conn,
            keys: Keys::new(prefix, &spec.name),
            spec,
            scripts: std::sync::Arc::new(Scripts::load()),
        }
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn spec(&self) -> &QueueSpec {
        &self.spec
    }

    /// Pub/sub channel told about every push, for idle consumers.
    pub fn wake_channel(&self) -> String {
        self.keys.k("wake")
    }

    /// How often consumers renew leases (and so heartbeat).
    pub fn renew_interval(&self) -> Duration {
        self.spec.lease.get() / 3
    }

    /// A worker that has not heartbeaten for this long is not counted live.
    fn live_window(&self) -> Duration {
        self.spec.lease.get()
    }

    /// Queue job `id` unless a job with that id is already queued, scheduled
    /// or running; returns whether it was queued now. Priority 0–9, higher first.
    pub async fn enqueue(&self, id: &str, payload: &str, priority: u8) -> Result<bool, QueueError> {
        self.enqueue_spent(id, payload, priority, 0).await
    }

    /// [`enqueue`](Self::enqueue) for a job that already ran `spent` times
    /// (the reconciler re-pushing a job Redis lost): its next run is
    /// attempt `spent + 1`.
    pub async fn enqueue_spent(
        &self,
        id: &str,
        payload: &str,
        priority: u8,
        spent: u32,
    ) -> Result<bool, QueueError> {
        let queued: i64 = self
            .invoke(&self.scripts.enqueue, &["ready", "seq", "enq", "stats"])
            .key(self.keys.job(id))
            .arg(id)
            .arg(payload)
            .arg(self.spec.max_attempts)
            .arg(priority.min(9))
            .arg(self.wake_channel())
            .arg(spent)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(queued == 1)
    }

    /// Lease up to `max` jobs for `worker`. Also re-queues jobs whose lease
    /// expired and moves those out of attempts to the dead set.
    pub async fn lease(&self, worker: &str, max: usize) -> Result<LeaseBatch, QueueError> {
        let reply: Value = self
            .invoke(&self.scripts.lease, &LEASE_KEYS)
            .arg(self.spec.lease.get().as_millis() as u64)
            .arg(max)
            .arg(worker)
            .arg(self.keys.job_prefix())
            .arg(uuid::Uuid::new_v4().simple().to_string())
            .invoke_async(&mut self.conn.clone())
            .await?;
        parse_lease(reply)
    }

    /// Settle several jobs, each fenced by its own token, and lease up to
    /// `max_next` more for `worker`, all in one round trip.
    pub async fn settle_many_and_lease(
        &self,
        jobs: &[(&LeasedJob, &str, Option<Duration>)],
        worker: &str,
        max_next: usize,
    ) -> Result<(Vec<Settled>, LeaseBatch), QueueError> {
        let mut invocation = self.invoke(&self.scripts.ack_lease, &LEASE_KEYS);
        invocation
            .arg(self.spec.lease.get().as_millis() as u64)
            .arg(max_next)
            .arg(worker)
            .arg(self.keys.job_prefix())
            .arg(uuid::Uuid::new_v4().simple().to_string());
        for (job, outcome, ran) in jobs {
            invocation
                .key(self.keys.job(&job.id))
                .arg(&job.id)
                .arg(&job.token)
                .arg(*outcome)
                .arg(ran.map_or(-1, |d| d.as_millis() as i64));
        }
        let reply: Value = invocation.invoke_async(&mut self.conn.clone()).await?;
        let (done, leased, dead): (Vec<i64>, Value, Value) =
            redis::from_redis_value(reply).map_err(|e| QueueError::Protocol(e.to_string()))?;
        let batch = parse_lease(Value::Array(vec![leased, dead]))?;
        let settled = done
            .into_iter()
            .map(|d| {
                if d == STALE {
                    Settled::Stale
                } else {
                    Settled::Done
                }
            })
            .collect();
        Ok((settled, batch))
    }

    /// The job succeeded: forget it. `ran` (the handler's run time) feeds
    /// the service-time average of the scaling signal.
    pub async fn ack(&self, job: &LeasedJob, ran: Option<Duration>) -> Result<Settled, QueueError> {
        self.settle(job, "completed", ran).await
    }

    /// The job failed for good (bad input): forget it without retrying.
    pub async fn fail(
        &self,
        job: &LeasedJob,
        ran: Option<Duration>,
    ) -> Result<Settled, QueueError> {
        self.settle(job, "failed", ran).await
    }

    async fn settle(
        &self,
        job: &LeasedJob,
        outcome: &str,
        ran: Option<Duration>,
    ) -> Result<Settled, QueueError> {
        let done: i64 = self
            .invoke(&self.scripts.settle, &["leased", "enq", "stats"])
            .key(self.keys.job(&job.id))
            .arg(&job.id)
            .arg(outcome)
            .arg(ran.map_or(-1, |d| d.as_millis() as i64))
            .arg(&job.token)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(if done == STALE {
            Settled::Stale
        } else {
            Settled::Done
        })
    }

    /// The run failed transiently: retry after the queue's backoff, or dead.
    pub async fn retry(&self, job: &LeasedJob, error: &str) -> Result<RetryOutcome, QueueError> {
        let delay = self.spec.backoff.delay(job.attempt, rand::random::<f64>());
        self.retry_after(job, delay, error).await
    }

    /// Like [`retry`](Self::retry) with an explicit delay (retry-after errors).
    pub async fn retry_after(
        &self,
        job: &LeasedJob,
        delay: Duration,
        error: &str,
    ) -> Result<RetryOutcome, QueueError> {
        let outcome: i64 = self
            .invoke(
                &self.scripts.retry,
                &["leased", "delayed", "dead", "enq", "stats"],
            )
            .key(self.keys.job(&job.id))
            .arg(&job.id)
            .arg(delay.as_millis() as u64)
            .arg(error)
            .arg(&job.token)
            .invoke_async(&mut self.conn.clone())
            .await?;
        match outcome {
            1 => Ok(RetryOutcome::Scheduled),
            0 => Ok(RetryOutcome::Dead),
            STALE => Ok(RetryOutcome::Stale),
            other => Err(QueueError::Protocol(format!("retry returned {other}"))),
        }
    }

    /// Infrastructure was unreachable: run the job again after a growing
    /// delay (1 s doubling to 30 s) without spending an attempt.
    pub async fn defer(&self, job: &LeasedJob, error: &str) -> Result<Deferred, QueueError> {
        let delay: i64 = self
            .invoke(&self.scripts.defer, &["leased", "delayed", "enq", "stats"])
            .key(self.keys.job(&job.id))
            .arg(&job.id)
            .arg(1000)
            .arg(30_000)
            .arg(error)
            .arg(&job.token)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(match u64::try_from(delay) {
            Ok(ms) => Deferred::After(Duration::from_millis(ms)),
            Err(_) => Deferred::Stale,
        })
    }

    /// Extend the leases `(id, token)` and mark `worker` alive; returns the
    /// tokens of the leases no longer the caller's (their runs must stop).
    /// By token: a worker can hold a job's old lease (its run still
    /// stopping) and its new one at once, and only the old run must stop.
    pub async fn renew(
        &self,
        worker: &str,
        leases: &[(String, String)],
    ) -> Result<Vec<String>, QueueError> {
        let mut invocation = self.invoke(&self.scripts.renew, &["leased", "workers"]);
        invocation
            .arg(self.spec.lease.get().as_millis() as u64)
            .arg(worker);
        for (id, token) in leases {
            invocation.key(self.keys.job(id)).arg(id).arg(token);
        }
        Ok(invocation.invoke_async(&mut self.conn.clone()).await?)
    }

    /// Give back leases on jobs never started; their attempt is not counted.
    /// Leases that are no longer the caller's are left alone.
    pub async fn release(&self, jobs: &[&LeasedJob]) -> Result<u64, QueueError> {
        if jobs.is_empty() {
            return Ok(0);
        }
        let mut invocation = self.invoke(&self.scripts.release, &["ready", "leased", "enq", "seq"]);
        for job in jobs {
            invocation
                .key(self.keys.job(&job.id))
                .arg(&job.id)
                .arg(&job.token);
        }
        Ok(invocation.invoke_async(&mut self.conn.clone()).await?)
    }

    /// Where each of `ids` is (one script call).
    pub async fn presence(&self, ids: &[String]) -> Result<Vec<Presence>, QueueError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = self.invoke(&self.scripts.presence, &["dead"]);
        for id in ids {
            invocation.key(self.keys.job(id));
        }
        for id in ids {
            invocation.arg(id);
        }
        let codes: Vec<i64> = invocation.invoke_async(&mut self.conn.clone()).await?;
        Ok(codes
            .into_iter()
            .map(|c| match c {
                0 => Presence::Absent,
                2 => Presence::Dead,
                _ => Presence::Queued,
            })
            .collect())
    }

    pub async fn stats(&self) -> Result<QueueStats, QueueError> {
        let reply: Value = self
            .invoke(
                &self.scripts.stats,
                &[
                    "ready", "delayed", "leased", "dead", "enq", "stats", "workers",
                ],
            )
            .arg(self.live_window().as_millis() as u64)
            .invoke_async(&mut self.conn.clone())
            .await?;
        let (ready, scheduled, in_flight, dead, age, live_workers, counters): StatsReply =
            redis::from_redis_value(reply).map_err(|e| QueueError::Protocol(e.to_string()))?;
        let c = |k: &str| {
            counters
                .get(k)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(QueueStats {
            queue: self.spec.name.clone(),
            ready,
            scheduled,
            in_flight,
            dead,
            oldest_age_ms: u64::try_from(age).ok(),
            enqueued_total: c("enqueued"),
            completed_total: c("completed"),
            failed_total: c("failed"),
            retried_total: c("retried"),
            dead_total: c("dead"),
            lease_expired_total: c("lease_expired"),
            stale_total: c("stale"),
            deferred_total: c("deferred"),
            live_workers,
            service_time_ms: counters
                .get("service_ms_ewma")
                .and_then(|v| v.parse::<f64>().ok()),
        })
    }

    /// Stop handing out jobs (running ones finish); [`resume`](Self::resume) undoes it.
    pub async fn pause(&self) -> Result<(), QueueError> {
        let _: () = redis::cmd("SET")
            .arg(self.keys.k("paused"))
            .arg(1)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    pub async fn resume(&self) -> Result<(), QueueError> {
        let _: () = redis::cmd("DEL")
            .arg(self.keys.k("paused"))
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }
}

/// Keys of the leasing scripts, in their order.
const LEASE_KEYS: [&str; 8] = [
    "ready", "delayed", "leased", "dead", "enq", "stats", "seq", "paused",
];

type StatsReply = (u64, u64, u64, u64, i64, u64, HashMap<String, String>);

/// `{id, payload, attempt, max_attempts, token}` and `{id, payload, attempts}` rows.
type LeaseReply = (
    Vec<(String, String, u32, u32, String)>,
    Vec<(String, String, u32)>,
);

fn parse_lease(reply: Value) -> Result<LeaseBatch, QueueError> {
    let (jobs, dead): LeaseReply =
        redis::from_redis_value(reply).map_err(|e| QueueError::Protocol(e.to_string()))?;
    Ok(LeaseBatch {
        jobs: jobs
            .into_iter()
            .map(|(id, payload, attempt, max_attempts, token)| LeasedJob {
                id,
                payload,
                attempt,
                max_attempts,
                token,
            })
            .collect(),
        dead: dead
            .into_iter()
            .map(|(id, payload, attempts)| DeadJob {
                id,
                payload,
                attempts,
            })
            .collect(),
    })
}
