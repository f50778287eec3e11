//! One leased job from start to settlement.
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use atelier_config::AppConfig;
use atelier_db::{JobRow, PgPool};
use atelier_events::{Audience, EventLog};
use atelier_jobs::{ErrorCode, EventType, JobKind, JobStatus, QueueMessage};
use atelier_queue::{DeadJob, Lease, RetryOutcome};
use atelier_storage::Storage;
use futures_util::FutureExt;
use serde_json::json;
use tracing::Instrument;
use uuid::Uuid;

use crate::failure::JobFailure;
use crate::meter::{CostMeter, RunMeter};

/// What every handler may use.
pub struct WorkerContext {
    pub models: Option<std::sync::Arc<crate::models::VisionModels>>,
    pub config: AppConfig,
    pub pool: PgPool,
    pub storage: Storage,
    pub events: EventLog,
    pub metrics: std::sync::Arc<atelier_telemetry::Registry>,
    pub busy: std::sync::Arc<crate::meter::Busy>,
}

/// Reports progress of one job (the row and a `job.progress` event), and is
/// where a running job learns it was cancelled.
pub(crate) struct Progress<'a> {
    ctx: &'a WorkerContext,
    job: &'a JobRow,
    lease: &'a Lease,
    pub(crate) cost: CostMeter,
}

impl Progress<'_> {
    /// A domain event of this job (`photo.ingested`, …) for its owner.
    pub(crate) async fn announce(&self, event_type: EventType, data: serde_json::Value) {
        publish(self.ctx, self.job, event_type, data).await;
    }

    /// Record a stage; `Err` when the job was cancelled meanwhile, which the
    /// handler returns with `?` to stop.
    pub(crate) async fn report(&self, percent: i16, stage: &str) -> Result<(), JobFailure> {
        if let Ok(true) = self.lease.queue().is_cancelled(&self.lease.job.id).await {
            tracing::info!(stage, "job cancelled while running");
            return Err(JobFailure::abort(
                ErrorCode::JobCancelled,
                "cancelled by the client",
            ));
        }
        if let Err(error) =
            atelier_db::jobs::set_progress(&self.ctx.pool, self.job.id, percent).await
        {
            tracing::warn!(%error, "progress not recorded");
        }
        publish(
            self.ctx,
            self.job,
            EventType::JobProgress,
            json!({"progress": percent, "stage": stage}),
        )
        .await;
        Ok(())
    }
}

async fn publish(
    ctx: &WorkerContext,
    job: &JobRow,
    event_type: EventType,
    data: serde_json::Value,
) {
    let audience = Audience::new(&job.client_id, &job.user_id);
    if let Err(error) = ctx
        .events
        .publish(&audience, event_type, job.id, data)
        .await
    {
        tracing::warn!(%error, event = event_type.as_str(), "event not published");
    }
}

/// The job's typed input, or `request.invalid` (never retried).
pub(crate) fn input<T: serde::de::DeserializeOwned>(job: &JobRow) -> Result<T, JobFailure> {
    serde_json::from_value(job.input.clone())
        .map_err(|e| JobFailure::abort(ErrorCode::RequestInvalid, format!("input: {e}")))
}

/// An upload the job's own user made, and its bytes.
pub(crate) async fn owned_upload(
    ctx: &WorkerContext,
    job: &JobRow,
    upload_id: Uuid,
) -> Result<(atelier_db::UploadRow, bytes::Bytes), JobFailure> {
    let upload = owned_upload_row(ctx, job, upload_id).await?;
    let bytes = ctx.storage.get(&upload.storage_key).await?;
    Ok((upload, bytes))
}

/// The row of an upload the job's own user made (its hash keys results).
pub(crate) async fn owned_upload_row(
    ctx: &WorkerContext,
    job: &JobRow,
    upload_id: Uuid,
) -> Result<atelier_db::UploadRow, JobFailure> {
    atelier_db::uploads::get(&ctx.pool, upload_id)
        .await?
        .filter(|u| u.client_id == job.client_id && u.user_id == job.user_id)
        .ok_or_else(|| {
            JobFailure::abort(
                ErrorCode::UploadNotFound,
                format!("upload {upload_id} not found"),
            )
        })
}

/// Run one leased job and settle it. Never fails: every outcome is recorded.
pub async fn run_lease(ctx: &WorkerContext, lease: Lease) {
    let message: QueueMessage = match serde_json::from_str(&lease.job.payload) {
        Ok(m) => m,
        Err(error) => {
            tracing::error!(job = lease.job.id, %error, "unreadable queue message, dropped");
            settle(lease.fail(None).await);
            return;
        }
    };
    let span = tracing::info_span!(
        "job",
        job_id = %message.job_id,
        kind = message.kind.as_str(),
        queue = lease.queue().name(),
        attempt = lease.job.attempt,
        max_attempts = lease.job.max_attempts,
    );
    run_message(ctx, &lease, message).instrument(span).await;
}

async fn run_message(ctx: &WorkerContext, lease: &Lease, message: QueueMessage) {
    let started = Instant::now();
    let job = match start_attempt(ctx, lease, message.job_id).await {
        Ok(Some(job)) => job,
        Ok(None) => return redelivered(ctx, lease, message.job_id).await,
        Err(error) => {
            return retry_or_dead(ctx, lease, None, JobFailure::from(error)).await;
        }
    };
    tracing::info!("job started");
    let progress = Progress {
        ctx,
        job: &job,
        lease,
        cost: CostMeter::default(),
    };
    let spec = lease.queue().spec();
    let meter = RunMeter::start(
        ctx.metrics.clone(),
        ctx.busy.clone(),
        &spec.name,
        message.kind.as_str(),
        spec.concurrency,
    );

    let timeout = lease.queue().spec().timeout.get();
    let run = async {
        progress.report(0, "started").await?;
        dispatch(ctx, &job, message.kind, &progress).await
    };
    let handler = AssertUnwindSafe(run).catch_unwind();
    let outcome = match tokio::time::timeout(timeout, handler).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_panic)) => Err(JobFailure::retry(
            ErrorCode::Internal,
            "the handler panicked",
        )),
        Err(_) => Err(JobFailure::retry(
            ErrorCode::JobTimeout,
            format!("run exceeded the queue timeout of {}s", timeout.as_secs()),
        )),
    };
    let ran = started.elapsed();
    let elapsed = ran.as_secs_f64();
    let cost = json!({
        "cpu_seconds": progress.cost.cpu_seconds(),
        "wall_seconds": elapsed,
        "bytes_written": progress.cost.bytes(),
    });
    if let Err(error) = atelier_db::jobs::add_cost(
        &ctx.pool,
        job.id,
        progress.cost.cpu_seconds(),
        elapsed,
        progress.cost.bytes() as i64,
    )
    .await
    {
        tracing::warn!(%error, "cost not recorded");
    }
    let label = match &outcome {
        Ok(_) => "completed",
        Err(JobFailure::Abort { code, .. }) if *code == ErrorCode::JobCancelled => "cancelled",
        Err(JobFailure::Abort { .. }) => "failed",
        Err(JobFailure::Defer { .. }) => "deferred",
        Err(JobFailure::Retry { .. }) if lease.job.attempt >= lease.job.max_attempts => "dead",
        Err(JobFailure::Retry { .. }) => "retried",
    };
    meter.finish(label, ran, &progress.cost);
    match outcome {
        Ok(result) => {
            tracing::info!(elapsed, "job complete");
            publish(
                ctx,
                &job,
                EventType::JobCompleted,
                json!({"kind": job.kind, "result": result, "cost": cost}),
            )
            .await;
            settle(lease.ack(Some(ran)).await);
        }
        Err(JobFailure::Abort { code, message }) => {
            tracing::info!(
                elapsed,
                code = code.as_str(),
                message,
                "job failed, not retried"
            );
            record_failure(ctx, &job, JobStatus::Error, code, &message).await;
            settle(lease.fail(Some(ran)).await);
        }
        Err(failure) => {
            tracing::warn!(
                elapsed,
                code = failure.code().as_str(),
                message = failure.message(),
                "run failed"
            );
            retry_or_dead(ctx, lease, Some(&job), failure).await;
        }
    }
}

async fn dispatch(
    ctx: &WorkerContext,
    job: &JobRow,
    kind: JobKind,
    progress: &Progress<'_>,
) -> Result<serde_json::Value, JobFailure> {
    match kind {
        JobKind::PhotoIngest => crate::photo_ingest::run(ctx, job, progress).await,
        JobKind::VisionPose => crate::vision_pose::run(ctx, job, progress).await,
        JobKind::VisionSegment => crate::vision_segment::run(ctx, job, progress).await,
        JobKind::VisionTag => crate::vision_tag::run(ctx, job, progress).await,
        JobKind::VisionEmbed => crate::vision_embed::run(ctx, job, progress).await,
        JobKind::VisionSkinTone => crate::vision_skin_tone::run(ctx, job, progress).await,
        other => Err(JobFailure::abort(
            ErrorCode::JobKindNotAvailable,
            format!("this worker has no handler for {other}"),
        )),
    }
}

async fn retry_or_dead(
    ctx: &WorkerContext,
    lease: &Lease,
    job: Option<&JobRow>,
    failure: JobFailure,
) {
    let code = failure.code();
    let text = format!("{}: {}", code.as_str(), failure.message());
    if let JobFailure::Defer { .. } = failure {
        match lease.defer(&text).await {
            Ok(delay) => tracing::warn!(
                ?delay,
                code = code.as_str(),
                "infrastructure unreachable; job deferred, attempt not spent"
            ),
            Err(error) => {
                tracing::warn!(%error, "could not defer; the lease will expire and re-run it")
            }
        }
        return;
    }
    match lease.retry(&text).await {
        Ok(RetryOutcome::Scheduled) => {
            if let Some(job) = job {
                if let Err(error) = atelier_db::jobs::retry_scheduled(
                    &ctx.pool,
                    job.id,
                    code.as_str(),
                    failure.message(),
                )
                .await
                {
                    tracing::warn!(%error, "retry not recorded");
                }
                publish(
                    ctx,
                    job,
                    EventType::JobProgress,
                    json!({"stage": "retry_scheduled", "attempt": lease.job.attempt,
                           "error": {"code": code.as_str(), "message": failure.message()}}),
                )
                .await;
            }
        }
        Ok(RetryOutcome::Dead) => {
            tracing::warn!("attempts exhausted, job is dead");
            if let Some(job) = job {
                record_failure(ctx, job, JobStatus::Dead, code, failure.message()).await;
            }
        }
        Ok(RetryOutcome::Unknown) => tracing::warn!("job vanished from its queue"),
        Err(error) => {
            tracing::warn!(%error, "could not settle; the lease will expire and re-run it")
        }
    }
}

async fn record_failure(
    ctx: &WorkerContext,
    job: &JobRow,
    status: JobStatus,
    code: ErrorCode,
    message: &str,
) {
    if let Err(error) =
        atelier_db::jobs::finish_failed(&ctx.pool, job.id, status.as_str(), code.as_str(), message)
            .await
    {
        tracing::warn!(%error, "failure not recorded");
    }
    publish(
        ctx,
        job,
        EventType::JobFailed,
        json!({"status": status.as_str(), "error": {"code": code.as_str(), "message": message}}),
    )
    .await;
}

/// The queue handed out a job whose row is already final: a redelivery after
/// its result was written (the worker died before acknowledging). Repeat
/// the final event (events are at-least-once) and acknowledge.
/// Mark the row `processing` for this attempt; `None` when the row is final.
///
/// A row that is `dead` while its job is leased can only mean an operator
/// retried it from the dead list and the intake has not reset the row yet
/// (it moves the job in Redis first): the lease proves the retry, so the
/// worker resets the row itself rather than dropping the retried job.
async fn start_attempt(
    ctx: &WorkerContext,
    lease: &Lease,
    job_id: Uuid,
) -> Result<Option<JobRow>, atelier_db::DbError> {
    let attempt = lease.job.attempt as i32;
    if let Some(job) = atelier_db::jobs::start_attempt(&ctx.pool, job_id, attempt).await? {
        return Ok(Some(job));
    }
    let dead = atelier_db::jobs::get(&ctx.pool, job_id)
        .await?
        .is_some_and(|j| j.status == JobStatus::Dead.as_str());
    if !dead {
        return Ok(None);
    }
    tracing::info!("dead job leased again after an operator's retry; row reset");
    atelier_db::jobs::requeue_dead(&ctx.pool, &[job_id]).await?;
    atelier_db::jobs::start_attempt(&ctx.pool, job_id, attempt).await
}

async fn redelivered(ctx: &WorkerContext, lease: &Lease, job_id: Uuid) {
    match atelier_db::jobs::get(&ctx.pool, job_id).await {
        Ok(Some(job)) => {
            tracing::info!(
                status = job.status,
                "job already final; acknowledging redelivery"
            );
            let (event_type, data) = match JobStatus::parse(&job.status) {
                Some(JobStatus::Complete) => (
                    EventType::JobCompleted,
                    json!({"kind": job.kind, "result": job.result}),
                ),
                _ => (
                    EventType::JobFailed,
                    json!({"status": job.status, "error": {"code": job.error_code, "message": job.error_message}}),
                ),
            };
            publish(ctx, &job, event_type, data).await;
            settle(lease.ack(None).await);
        }
        Ok(None) => {
            tracing::error!("queued job has no row; dropped");
            settle(lease.fail(None).await);
        }
        Err(error) => retry_or_dead(ctx, lease, None, JobFailure::from(error)).await,
    }
}

fn settle(result: Result<(), atelier_queue::QueueError>) {
    if let Err(error) = result {
        tracing::warn!(%error, "could not settle; the lease will expire and re-run it");
    }
}

/// Record a job that the queue found abandoned on its last attempt.
pub async fn record_dead(ctx: &WorkerContext, dead: DeadJob) {
    let Ok(message) = serde_json::from_str::<QueueMessage>(&dead.payload) else {
        return;
    };
    let Ok(Some(job)) = atelier_db::jobs::get(&ctx.pool, message.job_id).await else {
        return;
    };
    tracing::warn!(job_id = %job.id, attempts = dead.attempts, "job dead: its worker was lost on the last attempt");
    record_failure(
        ctx,
        &job,
        JobStatus::Dead,
        ErrorCode::JobWorkerLost,
        "the worker running the job stopped (crash or kill) on its last attempt",
    )
    .await;
}
