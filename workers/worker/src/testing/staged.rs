//! `test.staged`: runs its declared stages in order, each working (sleeping)
//! for its `ms` and writing one small object under its stage key, checkpointing which attempt ran it. A
//! run killed in stage 3 shows stages 1–2 from the first attempt and 3 on
//! from the second.
use atelier_jobs::{JobKind, TestStageRun, TestStagedInput, TestStagedResult};
use atelier_runtime::{Handler, JobContext, JobFailure, StageSpec};
use bytes::Bytes;
use std::time::Duration;

pub struct Staged;

#[async_trait::async_trait]
impl Handler for Staged {
    fn kind(&self) -> JobKind {
        JobKind::TestStaged
    }

    async fn run(&self, ctx: &JobContext<'_>) -> Result<serde_json::Value, JobFailure> {
        let input: TestStagedInput = ctx.input()?;
        let mut stages = ctx
            .stages(
                input
                    .stages
                    .iter()
                    .map(|s| StageSpec::new(&s.name, s.version))
                    .collect(),
            )
            .await?;
        let mut runs = Vec::with_capacity(input.stages.len());
        for stage in &input.stages {
            let key = stages.key(&stage.name, "output.txt");
            let run = stages
                .run(&stage.name, || async {
                    let mut left = stage.ms;
                    while left > 0 {
                        let step = left.min(100);
                        tokio::time::sleep(Duration::from_millis(step)).await;
                        left -= step;
                    }
                    let body = format!(
                        "{} v{} attempt {}\n",
                        stage.name,
                        stage.version,
                        ctx.attempt()
                    );
                    ctx.put(&key, Bytes::from(body), "text/plain").await?;
                    Ok(TestStageRun {
                        name: stage.name.clone(),
                        version: stage.version,
                        attempt: ctx.attempt(),
                        key: key.clone(),
                    })
                })
                .await?;
            runs.push(run);
        }
        if input.fail {
            return Err(JobFailure::abort(
                atelier_jobs::ErrorCode::Internal,
                "test.staged: failed as its input asked",
            ));
        }
        let dependencies = ctx
            .dependencies()
            .await?
            .into_iter()
            .map(|(name, row)| (name, row.status))
            .collect();
        let result = serde_json::to_value(TestStagedResult {
            stages: runs,
            dependencies,
        })
        .expect("results serialise");
        atelier_db::jobs::complete(ctx.pool(), ctx.fence(), &result).await?;
        Ok(result)
    }
}
