//! Each queue's history: one replica at a time samples every queue's state
//! into PostgreSQL every `intake.history_interval` (so charts survive
//! restarts and Redis losing its data) and forgets samples older than
//! `intake.history_retention`; `GET /v1/queues/{queue}/history` reads it
//! back with rates between samples.
use std::collections::HashMap;
use std::time::Duration;

use atelier_db::history::QueueSample;
use atelier_queue::RoleLock;
use chrono::Utc;

use crate::api::{HistoryPoint, QueueHistory};
use crate::error::ApiError;
use crate::state::AppState;

/// The most samples one answer carries (a day at one a minute is 1,440).
const MAX_POINTS: i64 = 10_000;

/// One sample of every queue, if no other replica is taking it.
pub async fn sample_once(state: &AppState) -> anyhow::Result<bool> {
    let every = state.config.intake.history_interval.get();
    let Some(lock) = RoleLock::try_acquire(
        state.redis.clone(),
        &state.config.redis.prefix,
        "history",
        every.max(Duration::from_secs(1)),
    )
    .await?
    else {
        return Ok(false);
    };
    let waiting = waiting_by_queue(state).await?;
    let at = Utc::now();
    let mut samples = Vec::with_capacity(state.queues.len());
    for (name, queue) in &state.queues {
        let s = queue.stats().await?;
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        samples.push(QueueSample {
            queue: name.clone(),
            at,
            depth: n(s.depth()),
            in_flight: n(s.in_flight),
            dead: n(s.dead),
            waiting: waiting.get(name.as_str()).copied().unwrap_or(0),
            oldest_age_ms: s.oldest_age_ms.map(n),
            completed_total: n(s.completed_total),
            failed_total: n(s.failed_total),
            live_workers: n(s.live_workers),
            service_time_ms: s.service_time_ms,
        });
    }
    atelier_db::history::record(&state.pool, &samples).await?;
    let keep = chrono::Duration::from_std(state.config.intake.history_retention.get())
        .unwrap_or(chrono::Duration::MAX);
    atelier_db::history::prune(&state.pool, at - keep).await?;
    if let Err(error) = lock.release().await {
        tracing::debug!(%error, "history role not released; it times out");
    }
    Ok(true)
}

/// Flow nodes waiting on their dependencies, per queue of their kind.
pub(crate) async fn waiting_by_queue(
    state: &AppState,
) -> Result<HashMap<String, i64>, atelier_db::DbError> {
    let (_, waiting_by_kind) = atelier_db::flows::counts(&state.pool).await?;
    let mut waiting: HashMap<String, i64> = HashMap::new();
    for (kind, n) in &waiting_by_kind {
        let queue = kind
            .parse()
            .ok()
            .and_then(|k| state.queues_config.find_for_kind(k));
        if let Some(queue) = queue {
            *waiting.entry(queue.name.clone()).or_default() += n;
        }
    }
    Ok(waiting)
}

pub(crate) async fn run(state: AppState) {
    let every = state.config.intake.history_interval.get();
    loop {
        tokio::time::sleep(every).await;
        if let Err(error) = sample_once(&state).await {
            tracing::warn!(%error, "queue history not sampled");
        }
    }
}

/// `queue`'s samples since `since` (default: the last 24 hours), with the
/// completions and failures per minute since the sample before.
pub(crate) async fn history(
    state: &AppState,
    queue: &str,
    since: Option<chrono::DateTime<Utc>>,
) -> Result<QueueHistory, ApiError> {
    if state.queue(queue).is_none() {
        return Err(ApiError::new(
            atelier_jobs::ErrorCode::QueueNotFound,
            format!("no queue {queue:?}"),
        ));
    }
    let since = since.unwrap_or_else(|| Utc::now() - chrono::Duration::hours(24));
    let samples = atelier_db::history::since(&state.pool, queue, since, MAX_POINTS).await?;
    let mut points = Vec::with_capacity(samples.len());
    let mut before: Option<&QueueSample> = None;
    for s in &samples {
        // Counters restart from zero when Redis loses its data: a drop is
        // no negative rate.
        let rate = |now: i64, then: i64, minutes: f64| ((now - then).max(0) as f64) / minutes;
        let (completed, failed) = match before {
            Some(b) => {
                let minutes = (s.at - b.at).num_milliseconds().max(1) as f64 / 60_000.0;
                (
                    Some(rate(s.completed_total, b.completed_total, minutes)),
                    Some(rate(s.failed_total, b.failed_total, minutes)),
                )
            }
            None => (None, None),
        };
        points.push(HistoryPoint {
            at: s.at,
            depth: s.depth,
            in_flight: s.in_flight,
            dead: s.dead,
            waiting_on_dependencies: s.waiting,
            oldest_age_ms: s.oldest_age_ms,
            live_workers: s.live_workers,
            service_time_ms: s.service_time_ms,
            completed_per_min: completed,
            failed_per_min: failed,
        });
        before = Some(s);
    }
    Ok(QueueHistory {
        queue: queue.to_owned(),
        interval_seconds: state.config.intake.history_interval.get().as_secs_f64(),
        points,
    })
}
