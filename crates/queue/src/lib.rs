//! The job queue on Redis, and the apalis backend that feeds workers from it.
//!
//! Only this crate knows Redis's queue layout and apalis. Layout, per queue
//! (all keys share one hash tag so a queue lives on one cluster slot):
//!
//! - `ready`   ZSET  id → priority band × 10¹³ + sequence (pop lowest first)
//! - `delayed` ZSET  id → due time (ms), retries waiting out their backoff
//! - `leased`  ZSET  id → lease deadline (ms); expired leases are re-queued
//! - `dead`    ZSET  id → time of death (ms)
//! - `enq`     ZSET  id → first enqueue time of every waiting job (oldest age)
//! - `job:ID`  HASH  payload, attempts, max_attempts, priority, worker, token
//!   (the current lease's fencing token), …
//! - `stats`   HASH  enqueued / completed / failed / retried / dead counters
//!
//! Beside the queues, `{prefix}:workers` holds each worker's own report
//! ([`workers`]).
//!
//! Every state change is one Lua script, so a job is always in exactly one of
//! ready, delayed, leased or dead (or gone, once settled).
//!
//! On a Redis Cluster every key a script touches is in the queue's hash
//! slot: keys known before the call are declared in `KEYS` (so the cluster
//! routes the call to that slot's master); the job hashes a script finds
//! itself (leasing pops ids from `ready`, dead-letter calls without ids
//! take them from `dead`) are built from the same hash-tagged prefix, so
//! they are in the same slot.
#![forbid(unsafe_code)]

mod backend;
mod consume;
mod held;
mod lease;
mod lock;
mod operate;
mod queue;
mod ratelimit;
mod scaling;
pub mod workers;

pub use backend::QueueConsumer;
pub use consume::{ConsumeOptions, LeaseHandler, consume};
pub use held::InFlight;
pub use lease::{Lease, Settling};
pub use lock::RoleLock;
pub use operate::{CancelOutcome, Dead, DeadEntry};
pub use queue::{
    DeadJob, Deferred, LeaseBatch, LeasedJob, Presence, QueueStats, RedisQueue, RetryOutcome,
    Settled,
};
pub use ratelimit::{Admission, RateLimiter};
pub use scaling::{Recommendation, ScaleInput, recommend};

/// Queue failures. All of them are transient from a job's point of view.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("unexpected reply from the queue script: {0}")]
    Protocol(String),
}

pub use atelier_redis::Conn;

/// Connect to Redis (one server, or a cluster when `cluster`) with bounded
/// waits, so an outage surfaces as an error in seconds instead of a hung
/// request: 2 s to connect, 5 s per reply. The connection reconnects by
/// itself when Redis comes back.
pub async fn connect(url: &str, cluster: bool) -> Result<(redis::Client, Conn), QueueError> {
    Ok(atelier_redis::connect(url, cluster).await?)
}
