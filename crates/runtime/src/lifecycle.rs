//! One leased job from start to settlement. The order of writes is what
//! keeps work safe:
//!
//! - the row is claimed for this lease (`start_attempt` stores its token),
//!   and every later row write of the run is fenced by that token; a lease
//!   older than the row's attempt (it expired waiting for a slot and the
//!   job was leased again) claims nothing and leaves the row to that run;
//! - a run whose lease is lost (renewal says so, or Redis was unreachable
//!   for a whole lease) is stopped and touches nothing;
//! - failures are recorded in PostgreSQL **before** the queue forgets the
//!   job; when that write cannot be made the job is deferred instead, so a
//!   row never stays `processing` with nothing left to run it.
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use atelier_db::{Fence, JobRow};
use atelier_jobs::{
    CompletedData, Ended, ErrorBody, ErrorCode, EventType, FailedData, JobStatus, ProgressData,
    QueueMessage, RunCost, event_data,
};
use atelier_queue::{DeadJob, Deferred, Lease, RetryOutcome, Settled};
use futures_util::FutureExt;
use tracing::Instrument;
use uuid::Uuid;

use crate::context::publish;
use crate::meter::RunMeter;
use crate::{Handlers, JobContext, JobFailure, Services};

/// Everything a worker process needs to run its jobs.
pub struct Runtime {
    pub services: Services,
    pub handlers: Handlers,
}

impl Runtime {
    /// Run one leased job and settle it. Never fails: every outcome is
    /// recorded, or left for the lease to expire and the job to run again.
    pub async fn run_lease(&self, lease: Lease) {
        let message: QueueMessage = match serde_json::from_str(&lease.job.payload) {
            Ok(m) => m,
            Err(error) => {
                tracing::error!(job = lease.job.id, %error, "unreadable queue message, dropped");
                return finish(&self.services, lease, Finish::Fail(None));
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
        if let Some(end) = self.run_message(&lease, message).instrument(span).await {
            finish(&self.services, lease, end);
        }
    }

    /// Run the job; what to tell the queue when it is over (`None`: the
    /// queue was already told, or must not be).
    async fn run_message(&self, lease: &Lease, message: QueueMessage) -> Option<Finish> {
        let services = &self.services;
        let started = Instant::now();
        let job = match start_attempt(services, lease, message.job_id).await {
            Ok(Claim::Row(job)) => *job,
            Ok(Claim::Final) => return redelivered(services, lease, message.job_id).await,
            Ok(Claim::Superseded(attempts)) => {
                tracing::warn!(
                    row_attempts = attempts,
                    "lease superseded: a later attempt already holds the row (this one expired waiting for a slot); left to it"
                );
                return None;
            }
            Err(error) => {
                retry_or_dead(services, lease, None, JobFailure::from(error)).await;
                return None;
            }
        };
        tracing::info!("job started");
        let ctx = JobContext::new(services, &job, lease);
        let spec = lease.queue().spec();
        let meter = RunMeter::start(
            services.metrics.clone(),
            services.busy.clone(),
            &spec.name,
            message.kind.as_str(),
            spec.concurrency,
        );
        let timeout = spec.timeout.get();
        let handler = self.handlers.get(message.kind).cloned();
        let run = async {
            ctx.report(0, "started").await?;
            match handler {
                Some(handler) => handler.run(&ctx).await,
                None => Err(JobFailure::abort(
                    ErrorCode::JobKindNotAvailable,
                    format!("this worker has no handler for {}", message.kind),
                )),
            }
        };
        let guarded = tokio::time::timeout(timeout, AssertUnwindSafe(run).catch_unwind());
        let outcome = tokio::select! {
            outcome = guarded => match outcome {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(_panic)) => Err(JobFailure::retry(ErrorCode::Internal, "the handler panicked")),
                Err(_) => Err(JobFailure::retry(
                    ErrorCode::JobTimeout,
                    format!("run exceeded the queue timeout of {}s", timeout.as_secs()),
                )),
            },
            // Another worker may be running the job now: stop at once.
            () = lease.lost() => Err(JobFailure::Stale),
        };
        let ran = started.elapsed();
        record_cost(services, &ctx, job.id, ran).await;
        let label = match &outcome {
            Ok(_) => "completed",
            Err(JobFailure::Abort { code, .. }) if *code == ErrorCode::JobCancelled => "cancelled",
            Err(JobFailure::Abort { .. }) => "failed",
            Err(JobFailure::Defer { .. }) => "deferred",
            Err(JobFailure::Stale) => "lease_lost",
            Err(JobFailure::Retry { .. }) if lease.job.attempt >= lease.job.max_attempts => "dead",
            Err(JobFailure::Retry { .. }) => "retried",
        };
        meter.finish(label, ran, ctx.cost());
        let cost = RunCost {
            cpu_seconds: ctx.cost().cpu_seconds(),
            wall_seconds: ran.as_secs_f64(),
            bytes_written: ctx.cost().bytes(),
        };
        let fence = ctx.fence();
        match outcome {
            Ok(result) => {
                tracing::info!(elapsed = ran.as_secs_f64(), "job complete");
                let data = CompletedData::new(job.kind, &result, Some(cost));
                publish(
                    &services.events,
                    &job,
                    EventType::JobCompleted,
                    event_data(&data),
                )
                .await;
                Some(Finish::Ack(Some(ran)))
            }
            Err(JobFailure::Stale) => {
                tracing::warn!(
                    elapsed = ran.as_secs_f64(),
                    "run stopped: its lease was lost; the job's row and queue entry are left to their new holder"
                );
                None
            }
            Err(JobFailure::Abort { code, message }) => {
                tracing::info!(code = code.as_str(), message, "job failed, not retried");
                let error = ErrorBody::new(code, message);
                match record_failure(services, &job, fence, Ended::Error, error).await {
                    Recorded::Yes => Some(Finish::Fail(Some(ran))),
                    Recorded::Stale => {
                        stale_run(&services.metrics, lease.queue().name());
                        None
                    }
                    Recorded::No => {
                        defer(lease, "database.unavailable: failure not recorded").await;
                        None
                    }
                }
            }
            Err(failure) => {
                tracing::warn!(
                    code = failure.code().as_str(),
                    message = failure.message(),
                    "run failed"
                );
                retry_or_dead(services, lease, Some((&job, fence)), failure).await;
                None
            }
        }
    }
}

/// How a run that ended for good leaves its queue.
enum Finish {
    /// Completed (or already final): forget the job. The run time feeds the
    /// queue's service-time average.
    Ack(Option<Duration>),
    /// Failed for good (its row says so): forget the job.
    Fail(Option<Duration>),
}

/// Settle in the background: the row is final already, so the slot is free
/// now; the settle (which also leases this worker's next job) completes on
/// its own, and a refused one is counted.
fn finish(services: &Services, lease: Lease, end: Finish) {
    let metrics = services.metrics.clone();
    let queue = lease.queue().name().to_owned();
    let done = move |result: Result<Settled, atelier_queue::QueueError>| match result {
        Ok(Settled::Done) => {}
        Ok(Settled::Stale) => stale_run(&metrics, &queue),
        Err(error) => {
            tracing::warn!(%error, "could not settle; the lease will expire and re-run it")
        }
    };
    match end {
        Finish::Ack(ran) => lease.ack_in_background(ran, done),
        Finish::Fail(ran) => lease.fail_in_background(ran, done),
    }
}

async fn record_cost(services: &Services, ctx: &JobContext<'_>, job: Uuid, ran: Duration) {
    // A stale run's cost was spent all the same: it is accounted.
    if let Err(error) = atelier_db::jobs::add_cost(
        &services.pool,
        job,
        ctx.cost().cpu_seconds(),
        ran.as_secs_f64(),
        ctx.cost().bytes() as i64,
    )
    .await
    {
        tracing::warn!(%error, "cost not recorded");
    }
}

/// Whether a failure made it into the row.
enum Recorded {
    Yes,
    /// The row is no longer this run's (another run, cancel, dead letter).
    Stale,
    /// PostgreSQL could not be written: the queue must keep the job.
    No,
}

async fn record_failure(
    services: &Services,
    job: &JobRow,
    fence: Fence<'_>,
    ended: Ended,
    error: ErrorBody,
) -> Recorded {
    match atelier_db::jobs::fail_run(&services.pool, fence, ended, &error).await {
        Ok(()) => {}
        Err(atelier_db::DbError::Stale) => return Recorded::Stale,
        Err(error) => {
            tracing::warn!(%error, "failure not recorded; the job stays in its queue");
            return Recorded::No;
        }
    }
    publish(
        &services.events,
        job,
        EventType::JobFailed,
        event_data(&FailedData {
            status: ended.status(),
            error,
        }),
    )
    .await;
    Recorded::Yes
}

async fn retry_or_dead(
    services: &Services,
    lease: &Lease,
    job: Option<(&JobRow, Fence<'_>)>,
    failure: JobFailure,
) {
    let code = failure.code();
    let text = format!("{}: {}", code.as_str(), failure.message());
    if let JobFailure::Defer { .. } = failure {
        return defer(lease, &text).await;
    }
    // The last attempt: the row says `dead` before the queue lets go.
    if lease.job.attempt >= lease.job.max_attempts
        && let Some((row, fence)) = job
    {
        let error = ErrorBody::new(code, failure.message());
        match record_failure(services, row, fence, Ended::Dead, error).await {
            Recorded::Yes => {}
            Recorded::Stale => return stale_run(&services.metrics, lease.queue().name()),
            Recorded::No => return defer(lease, "database.unavailable: dead not recorded").await,
        }
    }
    match lease.retry(&text).await {
        Ok(RetryOutcome::Scheduled) => {
            let Some((row, fence)) = job else { return };
            let error = ErrorBody::new(code, failure.message());
            match atelier_db::jobs::retry_scheduled(&services.pool, fence, &error).await {
                // The next run claims the row whatever it says now.
                Ok(()) | Err(atelier_db::DbError::Stale) => {}
                Err(error) => tracing::warn!(%error, "retry not recorded"),
            }
            publish(
                &services.events,
                row,
                EventType::JobProgress,
                event_data(&ProgressData {
                    stage: "retry_scheduled".into(),
                    attempt: Some(lease.job.attempt),
                    error: Some(error),
                    ..ProgressData::default()
                }),
            )
            .await;
        }
        Ok(RetryOutcome::Dead) => tracing::warn!("attempts exhausted, job is dead"),
        Ok(RetryOutcome::Stale) => stale_run(&services.metrics, lease.queue().name()),
        Err(error) => {
            tracing::warn!(%error, "could not settle; the lease will expire and re-run it")
        }
    }
}

async fn defer(lease: &Lease, text: &str) {
    match lease.defer(text).await {
        Ok(Deferred::After(delay)) => {
            tracing::warn!(?delay, reason = text, "job deferred, attempt not spent")
        }
        Ok(Deferred::Stale) => tracing::warn!("deferral refused: the lease was lost"),
        Err(error) => {
            tracing::warn!(%error, "could not defer; the lease will expire and re-run it")
        }
    }
}

fn stale_run(metrics: &atelier_telemetry::Registry, queue: &str) {
    tracing::warn!("settlement refused: this run's lease is no longer current");
    metrics.add(
        &atelier_telemetry::metrics::STALE_SETTLEMENTS,
        &[queue],
        1.0,
    );
}

/// Claim the row for this lease; `None` when the row is final.
///
/// A row that is `dead` while its job is leased can only mean an operator
/// retried it from the dead list and the intake has not reset the row yet
/// (it moves the job in Redis first): the lease proves the retry, so the
/// worker resets the row itself rather than dropping the retried job. A row
/// found `queued` on the second read was reset by that retry meanwhile, and
/// is claimed all the same.
/// What claiming the row for a lease found.
enum Claim {
    /// The row, now this lease's.
    Row(Box<JobRow>),
    /// The row is final (or gone): a redelivery.
    Final,
    /// A later attempt holds the row (its `attempts`): this lease expired
    /// before its run started (a prefetched lease waiting for a slot) and
    /// the job was leased again. Claiming would take the row from the live
    /// run, whose fenced writes would then fail and the job die.
    Superseded(i32),
}

async fn start_attempt(
    services: &Services,
    lease: &Lease,
    job_id: Uuid,
) -> Result<Claim, atelier_db::DbError> {
    let attempt = lease.job.attempt as i32;
    let fence = Fence {
        job: job_id,
        token: &lease.job.token,
    };
    let claim =
        || atelier_db::jobs::start_attempt(&services.pool, fence, attempt, &services.worker);
    if let Some(job) = claim().await? {
        return Ok(Claim::Row(Box::new(job)));
    }
    match atelier_db::jobs::get(&services.pool, job_id).await? {
        Some(row) if row.status == JobStatus::Dead => {
            tracing::info!("dead job leased again after an operator's retry; row reset");
            atelier_db::jobs::requeue_dead(&services.pool, &[job_id]).await?;
        }
        Some(row)
            if matches!(row.status, JobStatus::Queued | JobStatus::Processing)
                && row.attempts > attempt =>
        {
            return Ok(Claim::Superseded(row.attempts));
        }
        // The intake reset the row between this run's two reads (a retry
        // moves the job in Redis, then resets the row): it is this lease's
        // to take, not a final row to acknowledge.
        Some(row) if matches!(row.status, JobStatus::Queued | JobStatus::Processing) => {}
        _ => return Ok(Claim::Final),
    }
    Ok(claim()
        .await?
        .map_or(Claim::Final, |job| Claim::Row(Box::new(job))))
}

/// The queue handed out a job whose row is already final: a redelivery after
/// its result was written (the worker died before acknowledging). Repeat
/// the final event (events are at-least-once) and acknowledge.
async fn redelivered(services: &Services, lease: &Lease, job_id: Uuid) -> Option<Finish> {
    match atelier_db::jobs::get(&services.pool, job_id).await {
        Ok(Some(job)) => {
            tracing::info!(
                status = job.status.as_str(),
                "job already final; acknowledging redelivery"
            );
            let (event_type, data) = match job.status {
                JobStatus::Complete => {
                    let result = job.result.clone().unwrap_or_default();
                    let data = CompletedData::new(job.kind, &result, None);
                    (EventType::JobCompleted, event_data(&data))
                }
                status => {
                    let data = FailedData {
                        status,
                        error: job
                            .error
                            .clone()
                            .unwrap_or_else(|| ErrorBody::new(ErrorCode::Internal, "")),
                    };
                    (EventType::JobFailed, event_data(&data))
                }
            };
            publish(&services.events, &job, event_type, data).await;
            Some(Finish::Ack(None))
        }
        Ok(None) => {
            tracing::error!("queued job has no row; dropped");
            Some(Finish::Fail(None))
        }
        Err(error) => {
            retry_or_dead(services, lease, None, JobFailure::from(error)).await;
            None
        }
    }
}

/// Record a job that the queue found abandoned on its last attempt. Should
/// this write fail, the reconciler finds the row later (its job is in the
/// dead set) and records it then.
pub async fn record_dead(services: &Services, dead: DeadJob) {
    let Ok(message) = serde_json::from_str::<QueueMessage>(&dead.payload) else {
        return;
    };
    let Ok(Some(job)) = atelier_db::jobs::get(&services.pool, message.job_id).await else {
        return;
    };
    tracing::warn!(job_id = %job.id, attempts = dead.attempts, "job dead: its worker was lost on the last attempt");
    let error = ErrorBody::new(
        ErrorCode::JobWorkerLost,
        "the worker running the job stopped (crash or kill) on its last attempt",
    );
    if let Err(error) =
        atelier_db::jobs::finish_failed(&services.pool, job.id, Ended::Dead, &error).await
    {
        tracing::warn!(%error, "dead job not recorded; the reconciler will");
        return;
    }
    publish(
        &services.events,
        &job,
        EventType::JobFailed,
        event_data(&FailedData {
            status: JobStatus::Dead,
            error,
        }),
    )
    .await;
}
