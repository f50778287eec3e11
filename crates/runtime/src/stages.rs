//! Resumable stages. A handler declares its ordered, versioned stages; each
//! finished stage's small state is checkpointed in PostgreSQL (fenced by the
//! run's lease) and its large outputs go to object storage under keys derived
//! from the job and stage ([`Stages::key`]). A re-run (SIGKILL, timeout, lost
//! lease) returns the checkpointed state of every finished stage without
//! running it and resumes at the first unfinished one. A stage whose version
//! changed is run again, and so is every stage after it.
use std::collections::BTreeMap;
use std::time::Instant;

use atelier_db::stages::StageRow;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{JobContext, JobFailure};
use atelier_jobs::ErrorCode;

/// One declared stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageSpec {
    pub name: String,
    /// Bump when the stage's code changes what it produces.
    pub version: u32,
}

impl StageSpec {
    pub fn new(name: impl Into<String>, version: u32) -> Self {
        StageSpec {
            name: name.into(),
            version,
        }
    }
}

/// How many of the stored checkpoints still hold: the longest prefix whose
/// positions, names and versions match the declared stages. Pure.
pub fn reusable(declared: &[StageSpec], stored: &[StageRow]) -> usize {
    declared
        .iter()
        .zip(stored)
        .enumerate()
        .take_while(|(i, (d, s))| {
            s.position == *i as i32 && s.stage == d.name && s.version == d.version as i32
        })
        .count()
}

/// The stages of one run, with the checkpoints it may reuse.
pub struct Stages<'c, 'a> {
    ctx: &'c JobContext<'a>,
    declared: Vec<StageSpec>,
    saved: Vec<serde_json::Value>,
    next: usize,
    /// Each [`timed`](Stages::timed) stage: which attempt ran it and how
    /// long it took, in order.
    timed: Vec<(String, u32, u64)>,
}

/// A timed stage's checkpoint: its output, the attempt that ran it and how
/// long it took.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Timed<T> {
    attempt: u32,
    ms: u64,
    out: T,
}

impl<'a> JobContext<'a> {
    /// Declare this job's stages, in order; checkpoints of an earlier run
    /// that no longer match them are dropped (with none declared, none are
    /// read or written).
    pub async fn stages<'c>(
        &'c self,
        declared: Vec<StageSpec>,
    ) -> Result<Stages<'c, 'a>, JobFailure> {
        // No stages, nothing to resume: no checkpoint to read.
        let stored = if declared.is_empty() {
            Vec::new()
        } else {
            atelier_db::stages::finished(self.pool(), self.id()).await?
        };
        let keep = reusable(&declared, &stored);
        if keep < stored.len() {
            atelier_db::stages::invalidate_from(self.pool(), self.id(), keep as i32).await?;
        }
        if keep > 0 {
            tracing::info!(
                resumed_after = declared[keep - 1].name,
                finished = keep,
                of = declared.len(),
                "resuming after the last finished stage"
            );
        }
        Ok(Stages {
            ctx: self,
            declared,
            saved: stored.into_iter().take(keep).map(|s| s.state).collect(),
            next: 0,
            timed: Vec::new(),
        })
    }
}

impl Stages<'_, '_> {
    /// Where stage `name` keeps a large output `file`: derived from the job
    /// and the stage's version, so a re-run overwrites the same object.
    pub fn key(&self, name: &str, file: &str) -> String {
        let version = self
            .declared
            .iter()
            .find(|s| s.name == name)
            .map_or(0, |s| s.version);
        format!("jobs/{}/stages/{name}-v{version}/{file}", self.ctx.id())
    }

    /// Whether the next stage to [`run`](Self::run) was finished by an
    /// earlier run.
    pub fn resumes_next(&self) -> bool {
        self.next < self.saved.len()
    }

    /// Run the next declared stage, which must be `name`: its checkpointed
    /// state when an earlier run finished it, otherwise `work`'s state,
    /// checkpointed before it is returned. Progress is reported as each
    /// stage starts (`data.stage`, `data.position`, `data.of`).
    pub async fn run<T, F, Fut>(&mut self, name: &str, work: F) -> Result<T, JobFailure>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, JobFailure>>,
    {
        let position = self.next;
        let Some(spec) = self.declared.get(position).cloned() else {
            return Err(internal(format!("stage {name} was not declared")));
        };
        if spec.name != name {
            return Err(internal(format!(
                "stage {name} run out of order: {} is next",
                spec.name
            )));
        }
        self.next += 1;
        let of = self.declared.len();
        if let Some(state) = self.saved.get(position) {
            tracing::debug!(stage = name, "stage already finished");
            return serde_json::from_value(state.clone())
                .map_err(|e| internal(format!("checkpoint of stage {name}: {e}")));
        }
        let percent = (position * 100 / of).min(99) as i16;
        self.ctx
            .report_with(
                percent,
                name,
                json!({"position": position + 1, "of": of, "resumed": !self.saved.is_empty()}),
            )
            .await?;
        let state = work().await?;
        let value = serde_json::to_value(&state)
            .map_err(|e| internal(format!("state of stage {name}: {e}")))?;
        atelier_db::stages::record(
            self.ctx.pool(),
            self.ctx.fence(),
            position as i32,
            name,
            spec.version as i32,
            &value,
        )
        .await?;
        tracing::info!(stage = name, position = position + 1, of, "stage finished");
        Ok(state)
    }
}

impl Stages<'_, '_> {
    /// [`run`](Self::run) the next stage, noting which attempt ran it and
    /// how long it took (kept in its checkpoint, so a resumed run reports
    /// the run that did the work): see [`timings_ms`](Self::timings_ms) and
    /// [`attempts`](Self::attempts).
    pub async fn timed<T, F, Fut>(&mut self, name: &str, work: F) -> Result<T, JobFailure>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, JobFailure>>,
    {
        let attempt = self.ctx.attempt();
        let done: Timed<T> = self
            .run(name, || async move {
                let start = Instant::now();
                let out = work().await?;
                Ok(Timed {
                    attempt,
                    ms: start.elapsed().as_millis() as u64,
                    out,
                })
            })
            .await?;
        self.timed.push((name.to_owned(), done.attempt, done.ms));
        Ok(done.out)
    }

    /// Milliseconds each timed stage took, by name.
    pub fn timings_ms(&self) -> BTreeMap<String, u64> {
        self.timed
            .iter()
            .map(|(name, _, ms)| (name.clone(), *ms))
            .collect()
    }

    /// The attempt that ran each timed stage, by name.
    pub fn attempts(&self) -> BTreeMap<String, u32> {
        self.timed
            .iter()
            .map(|(name, attempt, _)| (name.clone(), *attempt))
            .collect()
    }
}

fn internal(message: String) -> JobFailure {
    JobFailure::retry(ErrorCode::Internal, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn row(position: i32, stage: &str, version: i32) -> StageRow {
        StageRow {
            position,
            stage: stage.into(),
            version,
            state: json!(null),
        }
    }

    fn declared(specs: &[(&str, u32)]) -> Vec<StageSpec> {
        specs.iter().map(|(n, v)| StageSpec::new(*n, *v)).collect()
    }

    #[test]
    fn a_rerun_resumes_after_the_last_finished_stage() {
        let d = declared(&[("fetch", 1), ("fit", 1), ("mesh", 1), ("store", 1)]);
        assert_eq!(reusable(&d, &[]), 0);
        assert_eq!(reusable(&d, &[row(0, "fetch", 1), row(1, "fit", 1)]), 2);
    }

    #[test]
    fn a_new_version_invalidates_the_stage_and_every_later_one() {
        let d = declared(&[("fetch", 1), ("fit", 2), ("mesh", 1)]);
        let stored = [row(0, "fetch", 1), row(1, "fit", 1), row(2, "mesh", 1)];
        assert_eq!(reusable(&d, &stored), 1, "fit changed: fit and mesh rerun");
        // A renamed or reordered stage does not match either.
        let d = declared(&[("fetch", 1), ("mesh", 1), ("fit", 1)]);
        assert_eq!(reusable(&d, &stored), 1);
    }

    proptest! {
        #[test]
        fn reuse_never_exceeds_either_list_and_is_a_matching_prefix(
            stored_versions in proptest::collection::vec(1u32..3, 0..6),
            declared_versions in proptest::collection::vec(1u32..3, 0..6),
        ) {
            let names = ["a", "b", "c", "d", "e", "f"];
            let d: Vec<StageSpec> = declared_versions.iter().enumerate()
                .map(|(i, v)| StageSpec::new(names[i], *v)).collect();
            let s: Vec<StageRow> = stored_versions.iter().enumerate()
                .map(|(i, v)| row(i as i32, names[i], *v as i32)).collect();
            let n = reusable(&d, &s);
            prop_assert!(n <= d.len() && n <= s.len());
            for i in 0..n {
                prop_assert_eq!(d[i].version as i32, s[i].version);
            }
            if n < d.len() && n < s.len() {
                prop_assert_ne!(d[n].version as i32, s[n].version);
            }
        }
    }
}
