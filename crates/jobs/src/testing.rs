//! `test.staged`: a job kind for testing the runtime itself (resumable
//! stages, lease fencing). Off unless `test_kinds` is set.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{JobInput, ValidationError};

/// One declared stage: name, version and how long it works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestStage {
    pub name: String,
    #[serde(default = "one")]
    pub version: u32,
    /// Milliseconds the stage works (in steps of at most 100 ms).
    #[serde(default)]
    pub ms: u64,
}

fn one() -> u32 {
    1
}

/// `test.staged` v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestStagedInput {
    pub stages: Vec<TestStage>,
    /// After its stages, fail (`internal`, not retried): a failure to
    /// order for the flows' tests.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fail: bool,
}

impl JobInput for TestStagedInput {
    fn validate(&self) -> Result<(), ValidationError> {
        if self.stages.len() > 16 {
            return Err(ValidationError::new(
                "input.stages: at most 16 stages (none: a job that does nothing)",
            ));
        }
        let mut names: Vec<&str> = self.stages.iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        if names.len() != self.stages.len()
            || self.stages.iter().any(|s| {
                s.name.is_empty()
                    || s.name.len() > 32
                    || !s
                        .name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_')
                    || s.ms > 60_000
            })
        {
            return Err(ValidationError::new(
                "input.stages: distinct names of 1-32 letters, digits or _, ms at most 60000",
            ));
        }
        Ok(())
    }
}

/// What each stage recorded: the attempt that ran it and the object it wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TestStageRun {
    pub name: String,
    pub version: u32,
    pub attempt: u32,
    pub key: String,
}

/// `test.staged` result v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TestStagedResult {
    pub stages: Vec<TestStageRun>,
    /// As a flow's node: how each dependency ended, by node name (what
    /// the runtime's dependency map gave the handler).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dependencies: BTreeMap<String, crate::JobStatus>,
}
