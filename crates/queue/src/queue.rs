use std::collections::HashMap;
use std::time::Duration;

use atelier_config::QueueSpec;
use redis::aio::ConnectionManager;
use redis::{Script, Value};

use crate::QueueError;

const COMMON: &str = include_str!("lua/common.lua");

pub(crate) fn script(body: &str) -> Script {
    Script::new(&format!("{COMMON}\n{body}"))
}

pub(crate) struct Scripts {
    enqueue: Script,
    lease: Script,
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
}

impl Scripts {
    fn load() -> Self {
        Scripts {
            enqueue: script(include_str!("lua/enqueue.lua")),
            lease: script(include_str!("lua/lease.lua")),
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
    Unknown,
}

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
    pub(crate) conn: ConnectionManager,
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

    pub fn new(conn: ConnectionManager, prefix: &str, spec: QueueSpec) -> Self {
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
        let queued: i64 = self
            .invoke(&self.scripts.enqueue, &["ready", "seq", "enq", "stats"])
            .key(self.keys.job(id))
            .arg(id)
            .arg(payload)
            .arg(self.spec.max_attempts)
            .arg(priority.min(9))
            .arg(self.wake_channel())
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(queued == 1)
    }

    /// Lease up to `max` jobs for `worker`. Also re-queues jobs whose lease
    /// expired and moves those out of attempts to the dead set.
    pub async fn lease(&self, worker: &str, max: usize) -> Result<LeaseBatch, QueueError> {
        let reply: Value = self
            .invoke(
                &self.scripts.lease,
                &["ready", "delayed", "leased", "dead", "enq", "stats", "seq"],
            )
            .arg(self.spec.lease.get().as_millis() as u64)
            .arg(max)
            .arg(worker)
            .arg(self.keys.job_prefix())
            .arg(self.keys.k("paused"))
            .invoke_async(&mut self.conn.clone())
            .await?;
        parse_lease(reply)
    }

    /// The job succeeded: forget it. `ran` (the handler's run time) feeds
    /// the service-time average of the scaling signal.
    pub async fn ack(&self, id: &str, ran: Option<Duration>) -> Result<(), QueueError> {
        self.settle(id, "completed", ran).await
    }

    /// The job failed for good (bad input): forget it without retrying.
    pub async fn fail(&self, id: &str, ran: Option<Duration>) -> Result<(), QueueError> {
        self.settle(id, "failed", ran).await
    }

    async fn settle(
        &self,
        id: &str,
        outcome: &str,
        ran: Option<Duration>,
    ) -> Result<(), QueueError> {
        let _: i64 = self
            .invoke(&self.scripts.settle, &["leased", "enq", "stats"])
            .key(self.keys.job(id))
            .arg(id)
            .arg(outcome)
            .arg(ran.map_or(-1, |d| d.as_millis() as i64))
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// The run failed transiently: retry after the queue's backoff, or dead.
    pub async fn retry(
        &self,
        id: &str,
        attempt: u32,
        error: &str,
    ) -> Result<RetryOutcome, QueueError> {
        let delay = self.spec.backoff.delay(attempt, rand::random::<f64>());
        self.retry_after(id, delay, error).await
    }

    /// Like [`retry`](Self::retry) with an explicit delay (retry-after errors).
    pub async fn retry_after(
        &self,
        id: &str,
        delay: Duration,
        error: &str,
    ) -> Result<RetryOutcome, QueueError> {
        let outcome: i64 = self
            .invoke(
                &self.scripts.retry,
                &["leased", "delayed", "dead", "enq", "stats"],
            )
            .key(self.keys.job(id))
            .arg(id)
            .arg(delay.as_millis() as u64)
            .arg(error)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(match outcome {
            1 => RetryOutcome::Scheduled,
            0 => RetryOutcome::Dead,
            _ => RetryOutcome::Unknown,
        })
    }

    /// Infrastructure was unreachable: run the job again after a growing
    /// delay (1 s doubling to 30 s) without spending an attempt. Returns the
    /// delay, or `None` for an unknown job.
    pub async fn defer(&self, id: &str, error: &str) -> Result<Option<Duration>, QueueError> {
        let delay: i64 = self
            .invoke(&self.scripts.defer, &["leased", "delayed", "enq", "stats"])
            .key(self.keys.job(id))
            .arg(id)
            .arg(1000)
            .arg(30_000)
            .arg(error)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(u64::try_from(delay).ok().map(Duration::from_millis))
    }

    /// Extend the leases `worker` holds on `ids` and mark the worker alive;
    /// returns how many leases it still held.
    pub async fn renew(&self, worker: &str, ids: &[String]) -> Result<u64, QueueError> {
        let mut invocation = self.invoke(&self.scripts.renew, &["leased", "workers"]);
        invocation
            .arg(self.spec.lease.get().as_millis() as u64)
            .arg(worker)
            .arg(self.keys.job_prefix());
        for id in ids {
            invocation.arg(id);
        }
        Ok(invocation.invoke_async(&mut self.conn.clone()).await?)
    }

    /// Give back leases `worker` holds on jobs it never started; their
    /// attempt is not counted.
    pub async fn release(&self, worker: &str, ids: &[String]) -> Result<u64, QueueError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut invocation = self.invoke(&self.scripts.release, &["ready", "leased", "enq", "seq"]);
        invocation.arg(worker).arg(self.keys.job_prefix());
        for id in ids {
            invocation.arg(id);
        }
        Ok(invocation.invoke_async(&mut self.conn.clone()).await?)
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

type StatsReply = (u64, u64, u64, u64, i64, u64, HashMap<String, String>);

/// `{id, payload, attempt, max_attempts}` and `{id, payload, attempts}` rows.
type LeaseReply = (Vec<(String, String, u32, u32)>, Vec<(String, String, u32)>);

fn parse_lease(reply: Value) -> Result<LeaseBatch, QueueError> {
    let (jobs, dead): LeaseReply =
        redis::from_redis_value(reply).map_err(|e| QueueError::Protocol(e.to_string()))?;
    Ok(LeaseBatch {
        jobs: jobs
            .into_iter()
            .map(|(id, payload, attempt, max_attempts)| LeasedJob {
                id,
                payload,
                attempt,
                max_attempts,
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
