//! What a handler sees of its job: the row and typed input, its owner's
//! uploads, progress and cancellation, storage writes that are metered,
//! blocking work with its CPU time, domain events and the fence that every
//! row write of this run carries.
use std::collections::BTreeMap;
use std::sync::Arc;

use atelier_config::AppConfig;
use atelier_db::{Fence, JobRow, PgPool, UploadRow};
use atelier_events::{Audience, EventLog};
use atelier_jobs::{ErrorCode, EventType, JobSpec, ProgressData, event_data};
use atelier_queue::Lease;
use atelier_storage::Storage;
use bytes::Bytes;
use serde_json::json;
use uuid::Uuid;

use crate::JobFailure;
use crate::meter::{Busy, CostMeter};

/// The servers and settings every run shares.
pub struct Services {
    pub config: AppConfig,
    pub pool: PgPool,
    pub storage: Storage,
    pub events: EventLog,
    pub metrics: Arc<atelier_telemetry::Registry>,
    /// This process's name (`worker_name`), recorded on each run it takes.
    pub worker: String,
    pub(crate) busy: Arc<Busy>,
}

/// One run of one job.
pub struct JobContext<'a> {
    services: &'a Services,
    job: &'a JobRow,
    lease: &'a Lease,
    pub(crate) cost: CostMeter,
}

impl<'a> JobContext<'a> {
    pub(crate) fn new(services: &'a Services, job: &'a JobRow, lease: &'a Lease) -> Self {
        JobContext {
            services,
            job,
            lease,
            cost: CostMeter::default(),
        }
    }

    pub fn job(&self) -> &JobRow {
        self.job
    }

    pub fn id(&self) -> Uuid {
        self.job.id
    }

    /// 1-based number of this run.
    pub fn attempt(&self) -> u32 {
        self.lease.job.attempt
    }

    pub fn config(&self) -> &AppConfig {
        &self.services.config
    }

    pub fn pool(&self) -> &PgPool {
        &self.services.pool
    }

    pub fn storage(&self) -> &Storage {
        &self.services.storage
    }

    pub fn cost(&self) -> &CostMeter {
        &self.cost
    }

    /// What this run's row writes carry: only the current lease may write.
    pub fn fence(&self) -> Fence<'_> {
        Fence {
            job: self.job.id,
            token: &self.lease.job.token,
        }
    }

    /// The job's typed input, or `request.invalid` (never retried). A flow
    /// node whose input took values from its dependencies' results is
    /// checked for its kind here, its first run being the first time the
    /// values are known, and gets the ids the intake fixes for other jobs,
    /// derived from its job id so that every run writes the same keys.
    pub fn input<T: serde::de::DeserializeOwned>(&self) -> Result<T, JobFailure> {
        let invalid = |message: String| JobFailure::abort(ErrorCode::RequestInvalid, message);
        let input = match &self.job.flow {
            Some(node) if !node.references.is_empty() => {
                let mut spec = JobSpec::parse(self.job.kind, self.job.input.clone())
                    .map_err(|e| invalid(e.message))?;
                let mut n = 0u32;
                spec.assign_ids(&mut || {
                    n += 1;
                    Uuid::new_v5(&self.job.id, &n.to_be_bytes())
                });
                spec.to_json()
            }
            _ => self.job.input.clone(),
        };
        serde_json::from_value(input).map_err(|e| invalid(format!("input: {e}")))
    }

    /// A flow node's dependencies by node name: each one's status, and its
    /// result or error (under `on_dependency_failure: continue` a failed one
    /// is here with its error). Empty for a job outside a flow.
    pub async fn dependencies(&self) -> Result<BTreeMap<String, JobRow>, JobFailure> {
        if self.job.flow.is_none() {
            return Ok(BTreeMap::new());
        }
        let rows = atelier_db::flows::dependencies(self.pool(), self.job.id).await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| Some((row.flow.as_ref()?.name.clone(), row)))
            .collect())
    }

    /// The row of an upload the job's own user made (its hash keys results).
    pub async fn owned_upload_row(&self, upload_id: Uuid) -> Result<UploadRow, JobFailure> {
        atelier_db::uploads::get(self.pool(), upload_id)
            .await?
            .filter(|u| u.client_id == self.job.client_id && u.user_id == self.job.user_id)
            .ok_or_else(|| {
                JobFailure::abort(
                    ErrorCode::UploadNotFound,
                    format!("upload {upload_id} not found"),
                )
            })
    }

    /// An upload the job's own user made, and its bytes.
    pub async fn owned_upload(&self, upload_id: Uuid) -> Result<(UploadRow, Bytes), JobFailure> {
        let upload = self.owned_upload_row(upload_id).await?;
        let bytes = self.storage().get(&upload.storage_key).await?;
        Ok((upload, bytes))
    }

    /// A stored object a completed job of this job's user wrote (its
    /// result names the key), and its bytes: a design's model taken from
    /// an earlier job (an avatar's GLB).
    pub async fn owned_object(
        &self,
        source: &atelier_jobs::StoredSource,
    ) -> Result<Bytes, JobFailure> {
        let writer = atelier_db::jobs::object_writer(
            self.pool(),
            &self.job.client_id,
            &self.job.user_id,
            source.job_id,
            &source.key,
        )
        .await?;
        if writer.is_none() {
            return Err(JobFailure::abort(
                ErrorCode::SourceNotFound,
                format!("no completed job of this user wrote {:?}", source.key),
            ));
        }
        Ok(self.storage().get(&source.key).await?)
    }

    /// Store an object; its size counts as this job's cost.
    pub async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<u64, JobFailure> {
        let size = bytes.len() as u64;
        self.storage().put(key, bytes, content_type).await?;
        self.cost.add_bytes(size);
        Ok(size)
    }

    /// Record progress (the row and a `job.progress` event with
    /// `data.stage`); `Err` when the job was cancelled or this run lost its
    /// lease meanwhile, which the handler returns with `?` to stop.
    pub async fn report(&self, percent: i16, stage: &str) -> Result<(), JobFailure> {
        self.report_with(percent, stage, json!({})).await
    }

    /// [`report`](Self::report) with more fields in the event's `data`
    /// (`frames_done`, …).
    pub async fn report_with(
        &self,
        percent: i16,
        stage: &str,
        extra: serde_json::Value,
    ) -> Result<(), JobFailure> {
        if self.lease.is_lost() {
            return Err(JobFailure::Stale);
        }
        if let Ok(true) = self.lease.queue().is_cancelled(&self.lease.job.id).await {
            tracing::info!(stage, "job cancelled while running");
            return Err(JobFailure::abort(
                ErrorCode::JobCancelled,
                "cancelled by the client",
            ));
        }
        // The row's progress only grows: 0 would change nothing (the run's
        // start wrote the row already), so it costs no round trip.
        if percent > 0 {
            match atelier_db::jobs::set_progress(self.pool(), self.fence(), percent).await {
                Ok(()) => {}
                Err(atelier_db::DbError::Stale) => return Err(JobFailure::Stale),
                Err(error) => tracing::warn!(%error, "progress not recorded"),
            }
        }
        let data = ProgressData {
            progress: Some(percent),
            stage: stage.to_owned(),
            detail: match extra {
                serde_json::Value::Object(map) => map.into_iter().collect(),
                _ => Default::default(),
            },
            ..ProgressData::default()
        };
        self.announce(EventType::JobProgress, event_data(&data))
            .await;
        Ok(())
    }

    /// A domain event of this job (`photo.ingested`, …) for its owner.
    pub async fn announce(&self, event_type: EventType, data: serde_json::Value) {
        publish(&self.services.events, self.job, event_type, data).await;
    }

    /// Run CPU-bound work on the blocking pool; its CPU time is the job's
    /// cost.
    pub async fn blocking<T, F>(&self, work: F) -> Result<T, JobFailure>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, JobFailure> + Send + 'static,
    {
        let (outcome, cpu) = tokio::task::spawn_blocking(move || {
            let cpu = cpu_time::ThreadTime::now();
            let outcome = work();
            (outcome, cpu.elapsed())
        })
        .await
        .map_err(|e| JobFailure::retry(ErrorCode::Internal, format!("blocking task: {e}")))?;
        self.cost.add_cpu(cpu);
        outcome
    }
}

/// Publish `event_type` for the owner of `job`; a failure is logged (events
/// are at-least-once and replayable, never a reason to fail the job).
pub(crate) async fn publish(
    events: &EventLog,
    job: &JobRow,
    event_type: EventType,
    data: serde_json::Value,
) {
    let audience = Audience::new(&job.client_id, &job.user_id);
    if let Err(error) = events.publish(&audience, event_type, job.id, data).await {
        tracing::warn!(%error, event = event_type.as_str(), "event not published");
    }
}
