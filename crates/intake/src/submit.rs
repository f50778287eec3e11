//! Recording and enqueueing jobs.
//!
//! Architecture invariant: a job is recorded in Postgres before it is pushed
//! to Redis, and the push is idempotent by job id. A crash between the two
//! leaves a row with `enqueued_at IS NULL`, which the outbox relay pushes; a
//! duplicate push of a job already queued is a no-op, and a redelivery of a
//! finished job is acknowledged without running it again.
use atelier_db::JobRow;
use atelier_jobs::{JobKind, QueueMessage};

use crate::AppState;

/// Push a recorded job to its queue and mark it enqueued. Errors are
/// logged, not returned: the outbox relay retries.
pub(crate) async fn enqueue(state: &AppState, job: &JobRow) -> bool {
    let Ok(kind) = job.kind.parse::<JobKind>() else {
        tracing::error!(job_id = %job.id, kind = job.kind, "recorded job has an unknown kind");
        return false;
    };
    let message = QueueMessage {
        job_id: job.id,
        kind,
    };
    let payload = serde_json::to_string(&message).expect("queue messages serialise");
    let Some(queue) = state.queue(&job.queue) else {
        tracing::error!(job_id = %job.id, queue = job.queue, "recorded job names a queue not in queues.toml");
        return false;
    };
    match queue
        .enqueue(
            &job.id.to_string(),
            &payload,
            job.priority.clamp(0, 9) as u8,
        )
        .await
    {
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(job_id = %job.id, %error, "enqueue failed; the outbox will retry");
            return false;
        }
    }
    if let Err(error) = atelier_db::jobs::mark_enqueued(&state.pool, job.id).await {
        tracing::warn!(job_id = %job.id, %error, "could not mark enqueued; the outbox will retry");
    }
    true
}
