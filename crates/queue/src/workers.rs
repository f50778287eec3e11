//! What each worker process says about itself (`{prefix}:workers`, a HASH
//! of worker name → JSON report), for operators: its queues, the jobs in its
//! hands, its memory. Written by the worker every few seconds, removed when
//! it stops; a report not refreshed within a lease is a worker gone.
use std::collections::BTreeMap;

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use crate::{Conn, QueueError};

/// One worker's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerReport {
    pub worker: String,
    pub queues: Vec<String>,
    /// Jobs running now, per queue.
    pub in_hand: BTreeMap<String, u64>,
    pub rss_bytes: Option<u64>,
    /// Unix milliseconds.
    pub started_ms: u64,
    pub seen_ms: u64,
}

fn key(prefix: &str) -> String {
    format!("{prefix}:workers")
}

/// Write (or refresh) `report`.
pub async fn report(conn: &Conn, prefix: &str, report: &WorkerReport) -> Result<(), QueueError> {
    let json = serde_json::to_string(report).expect("a report serialises");
    conn.clone()
        .hset::<_, _, _, ()>(key(prefix), &report.worker, json)
        .await?;
    Ok(())
}

/// Remove `worker`'s report (it stopped).
pub async fn withdraw(conn: &Conn, prefix: &str, worker: &str) -> Result<(), QueueError> {
    conn.clone().hdel::<_, _, ()>(key(prefix), worker).await?;
    Ok(())
}

/// The reports refreshed at or after `since_ms`, by name; older ones (a
/// worker killed without a word) are deleted once an hour stale.
pub async fn live(
    conn: &Conn,
    prefix: &str,
    since_ms: u64,
) -> Result<Vec<WorkerReport>, QueueError> {
    let all: BTreeMap<String, String> = conn.clone().hgetall(key(prefix)).await?;
    let mut live = Vec::new();
    let mut gone = Vec::new();
    for (name, json) in all {
        match serde_json::from_str::<WorkerReport>(&json) {
            Ok(r) if r.seen_ms >= since_ms => live.push(r),
            Ok(r) if r.seen_ms + 3_600_000 < since_ms => gone.push(name),
            Ok(_) => {}
            Err(_) => gone.push(name),
        }
    }
    if !gone.is_empty() {
        conn.clone().hdel::<_, _, ()>(key(prefix), gone).await?;
    }
    Ok(live)
}
