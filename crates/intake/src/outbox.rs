//! The outbox relay: pushes jobs that were recorded but never confirmed as
//! enqueued (the intake died, or Redis refused the push), and flow nodes
//! as the database releases them (announced at the releasing commit; the
//! relay's passes catch any announcement missed).
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

/// Pushes of released nodes under way at once: a fan-out's thousand
/// nodes released by one end go out side by side, not one after another.
const RELEASE_PUSHES: usize = 32;

/// Push each flow node the database announces as released, as it is
/// announced (up to [`RELEASE_PUSHES`] at a time); reconnects after a lost
/// connection (what was announced meanwhile the relay's next pass pushes).
pub(crate) async fn follow_releases(state: AppState) {
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(RELEASE_PUSHES));
    loop {
        match atelier_db::flows::Released::listen(&state.pool).await {
            Ok(mut released) => loop {
                match released.next().await {
                    Ok(Some(id)) => {
                        let slot = slots.clone().acquire_owned().await.expect("never closed");
                        let state = state.clone();
                        tokio::spawn(async move {
                            push_released(&state, id).await;
                            drop(slot);
                        });
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::warn!(%error, "lost the flow release announcements; reconnecting");
                        break;
                    }
                }
            },
            Err(error) => tracing::warn!(%error, "cannot listen for flow releases"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

async fn push_released(state: &AppState, id: uuid::Uuid) {
    match atelier_db::jobs::get(&state.pool, id).await {
        Ok(Some(job))
            if job.status == atelier_jobs::JobStatus::Queued && job.enqueued_at.is_none() =>
        {
            if crate::jobs::enqueue(state, &job).await {
                // `updated_at` is the releasing transaction's start.
                let latency = (chrono::Utc::now() - job.updated_at).num_microseconds();
                state.metrics.observe(
                    &atelier_telemetry::metrics::FLOW_RELEASE_LATENCY,
                    &[job.kind.as_str()],
                    latency.unwrap_or(0).max(0) as f64 / 1e6,
                );
            }
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(job_id = %id, %error, "released node not loaded; the relay will push it")
        }
    }
}
