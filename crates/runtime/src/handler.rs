//! What a job kind implements: one [`Handler`] per kind, built by the worker
//! binary's registry and looked up here by kind.
use std::collections::HashMap;
use std::sync::Arc;

use atelier_jobs::JobKind;

use crate::{JobContext, JobFailure};

/// Runs one kind of job. A handler is a leaf: it uses the [`JobContext`]
/// (input, owner, progress, storage, stages) and the pure crates, holds what
/// only it needs (models, say), and writes its result row through a fenced
/// `atelier_db` completion; it returns the result for the completion event.
#[async_trait::async_trait]
pub trait Handler: Send + Sync {
    fn kind(&self) -> JobKind;

    async fn run(&self, ctx: &JobContext<'_>) -> Result<serde_json::Value, JobFailure>;
}

/// The handlers one worker process runs, by kind.
#[derive(Clone, Default)]
pub struct Handlers(HashMap<JobKind, Arc<dyn Handler>>);

impl Handlers {
    pub fn new(handlers: impl IntoIterator<Item = Arc<dyn Handler>>) -> Self {
        Handlers(handlers.into_iter().map(|h| (h.kind(), h)).collect())
    }

    pub fn get(&self, kind: JobKind) -> Option<&Arc<dyn Handler>> {
        self.0.get(&kind)
    }

    /// The kinds served, sorted by wire name.
    pub fn kinds(&self) -> Vec<JobKind> {
        let mut kinds: Vec<JobKind> = self.0.keys().copied().collect();
        kinds.sort_by_key(|k| k.as_str());
        kinds
    }
}
