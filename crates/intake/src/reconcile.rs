//! The reconciler: repairs jobs whose queue entry is gone. Redis can lose
//! acknowledged writes (failover to a lagging replica, `appendfsync
//! everysec`, a restart without persistence); then a row stays `queued` or
//! `processing` with nothing left to run it. Every `reconcile_interval` one
//! intake replica (a Redis role lock) pages through rows untouched for
//! `reconcile_after` and asks their queue where each job is:
//!
//! - absent: pushed again (idempotent by id), with the attempts the row has
//!   already spent, so the attempt budget holds across the loss;
//! - dead in Redis but not in the row (the dead-recording write failed):
//!   the row is marked `dead`;
//! - in the queue: left alone.
use std::collections::HashMap;
use std::time::Duration;

use atelier_db::JobRow;
use atelier_jobs::{Ended, ErrorBody, ErrorCode, QueueMessage};
use atelier_queue::{Presence, RoleLock};

use crate::state::AppState;

const PAGE: i64 = 500;
/// Rows looked at per pass at most; the rest wait for the next pass.
const MAX_PER_PASS: usize = 20_000;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    /// Rows looked at.
    pub checked: usize,
    /// Jobs pushed again because their queue had lost them.
    pub repushed: usize,
    /// Rows marked dead to match their queue.
    pub dead: usize,
    /// Events older than `events.retention_age` deleted from the log.
    pub events_pruned: u64,
}

/// One pass, if no other replica is running one (`None` then).
pub async fn reconcile_once(state: &AppState) -> anyhow::Result<Option<Reconciled>> {
    let hold = state
        .config
        .intake
        .reconcile_interval
        .get()
        .max(Duration::from_secs(10))
        * 3;
    let Some(lock) = RoleLock::try_acquire(
        state.redis.clone(),
        &state.config.redis.prefix,
        "reconciler",
        hold,
    )
    .await?
    else {
        return Ok(None);
    };
    let outcome = pass(state).await;
    if let Err(error) = lock.release().await {
        tracing::debug!(%error, "reconciler role not released; it times out");
    }
    let done = outcome?;
    if done.repushed + done.dead > 0 {
        tracing::warn!(
            repushed = done.repushed,
            dead = done.dead,
            checked = done.checked,
            "reconciler repaired jobs whose queue entry was gone"
        );
    }
    let m = &state.metrics;
    let repaired = &atelier_telemetry::metrics::RECONCILED_JOBS;
    m.add(repaired, &["repushed"], done.repushed as f64);
    m.add(repaired, &["dead"], done.dead as f64);
    Ok(Some(done))
}

async fn pass(state: &AppState) -> anyhow::Result<Reconciled> {
    let idle = state.config.intake.reconcile_after.get();
    let mut done = Reconciled::default();
    let mut after = None;
    while done.checked < MAX_PER_PASS {
        let rows = atelier_db::jobs::unsettled(&state.pool, idle, after, PAGE).await?;
        let Some(last) = rows.last() else { break };
        after = Some((last.updated_at, last.id));
        let full_page = rows.len() as i64 == PAGE;
        done.checked += rows.len();
        let mut by_queue: HashMap<&str, Vec<&JobRow>> = HashMap::new();
        for row in &rows {
            by_queue.entry(row.queue.as_str()).or_default().push(row);
        }
        for (queue_name, rows) in by_queue {
            let Some(queue) = state.queue(queue_name) else {
                tracing::error!(queue = queue_name, "rows name a queue not in queues.toml");
                continue;
            };
            let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
            let presence = queue.presence(&ids).await?;
            let mut touched = Vec::new();
            for (row, place) in rows.into_iter().zip(presence) {
                match place {
                    Presence::Queued => {}
                    Presence::Absent => {
                        if repush(state, queue, row).await? {
                            done.repushed += 1;
                            touched.push(row.id);
                        }
                    }
                    Presence::Dead => {
                        record_dead(state, row).await?;
                        done.dead += 1;
                    }
                }
            }
            // Re-pushed rows start their clock again.
            atelier_db::jobs::touch(&state.pool, &touched).await?;
        }
        if !full_page {
            break;
        }
    }
    // The event log's age limit; its per-user count is kept as it grows.
    done.events_pruned = state
        .events
        .prune(state.config.events.retention_age.get())
        .await?;
    Ok(done)
}

async fn repush(
    state: &AppState,
    queue: &atelier_queue::RedisQueue,
    row: &JobRow,
) -> anyhow::Result<bool> {
    // The row may have settled since it was read (a worker finishing, a
    // cancel): only a row still unsettled is pushed.
    let Some(current) = atelier_db::jobs::get(&state.pool, row.id).await? else {
        return Ok(false);
    };
    if current.status.is_final() {
        return Ok(false);
    }
    let payload = serde_json::to_string(&QueueMessage {
        job_id: row.id,
        kind: row.kind,
    })?;
    let pushed = queue
        .enqueue_spent(
            &row.id.to_string(),
            &payload,
            row.priority.clamp(0, 9) as u8,
            current.attempts.max(0) as u32,
        )
        .await?;
    if pushed {
        tracing::warn!(job_id = %row.id, queue = queue.name(), status = current.status.as_str(), attempts = current.attempts,
            "job missing from its queue; pushed again");
    }
    Ok(pushed)
}

async fn record_dead(state: &AppState, row: &JobRow) -> anyhow::Result<()> {
    let error = ErrorBody::new(
        ErrorCode::JobWorkerLost,
        "the job ran out of attempts; its last failure was not recorded in time",
    );
    crate::jobs::end(state, row, Ended::Dead, error).await?;
    Ok(())
}

pub(crate) async fn run(state: AppState) {
    let every = state.config.intake.reconcile_interval.get();
    loop {
        tokio::time::sleep(every).await;
        if let Err(error) = reconcile_once(&state).await {
            tracing::warn!(%error, "reconciler pass failed");
        }
    }
}
