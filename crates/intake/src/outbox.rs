//! The outbox relay: pushes jobs that were recorded but never confirmed as
//! enqueued (the intake died, or Redis refused the push).
use crate::state::AppState;

/// One pass; returns how many jobs were pushed.
pub async fn relay_once(state: &AppState) -> Result<usize, atelier_db::DbError> {
    let grace = state.config.intake.outbox_grace.get();
    let pending = atelier_db::jobs::unenqueued(&state.pool, grace, 500).await?;
    let mut pushed = 0;
    for job in &pending {
        if crate::jobs::enqueue(state, job).await {
            pushed += 1;
        }
    }
    if pushed > 0 {
        tracing::info!(pushed, "outbox relay enqueued recorded jobs");
        state.metrics.add(
            &atelier_telemetry::metrics::OUTBOX_RELAYED,
            &[],
            pushed as f64,
        );
    }
    Ok(pushed)
}

pub(crate) async fn run(state: AppState) {
    let every = state.config.intake.outbox_interval.get();
    loop {
        tokio::time::sleep(every).await;
        if let Err(error) = relay_once(&state).await {
            tracing::warn!(%error, "outbox relay pass failed");
        }
    }
}
