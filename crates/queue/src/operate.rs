//! Operator controls of a queue: dead letters, cancellation, pause state.
use redis::Value;

use crate::{QueueError, RedisQueue};

/// A job in the dead set, with why it died.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeadEntry {
    pub id: String,
    pub payload: String,
    pub attempts: u32,
    pub last_error: String,
    /// When it died, Unix milliseconds.
    pub died_at_ms: u64,
}

/// What [`RedisQueue::cancel`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// It was waiting; it left the queue.
    Removed,
    /// It is running; its handler stops at its next progress report.
    Flagged,
    /// The queue does not hold it (finished, dead, or never pushed).
    Unknown,
}

impl RedisQueue {
    /// Newest dead jobs first, up to `limit`.
    pub async fn dead_list(&self, limit: usize) -> Result<Vec<DeadEntry>, QueueError> {
        let reply: Value = self
            .invoke(&self.scripts.dead_list, &["dead"])
            .arg(self.keys.job_prefix())
            .arg(limit.max(1))
            .invoke_async(&mut self.conn.clone())
            .await?;
        let rows: Vec<(String, String, u32, String, u64)> =
            redis::from_redis_value(reply).map_err(|e| QueueError::Protocol(e.to_string()))?;
        Ok(rows
            .into_iter()
            .map(
                |(id, payload, attempts, last_error, died_at_ms)| DeadEntry {
                    id,
                    payload,
                    attempts,
                    last_error,
                    died_at_ms,
                },
            )
            .collect())
    }

    /// Queue dead jobs again with a fresh attempt budget: those named (an
    /// empty list is none), or every one (up to 1000 per call). Returns the
    /// ids queued.
    pub async fn dead_retry(&self, which: Dead<'_>) -> Result<Vec<String>, QueueError> {
        let Some(ids) = which.ids_or_all() else {
            return Ok(Vec::new());
        };
        let mut invocation = self.invoke(
            &self.scripts.dead_retry,
            &["dead", "ready", "enq", "seq", "stats"],
        );
        invocation.arg(self.keys.job_prefix());
        for id in ids {
            invocation.arg(id);
        }
        Ok(invocation.invoke_async(&mut self.conn.clone()).await?)
    }

    /// Forget dead jobs: those named (an empty list is none), or every one
    /// (up to 1000 per call). Returns the ids forgotten.
    pub async fn dead_purge(&self, which: Dead<'_>) -> Result<Vec<String>, QueueError> {
        let Some(ids) = which.ids_or_all() else {
            return Ok(Vec::new());
        };
        let mut invocation = self.invoke(&self.scripts.dead_purge, &["dead"]);
        invocation.arg(self.keys.job_prefix());
        for id in ids {
            invocation.arg(id);
        }
        Ok(invocation.invoke_async(&mut self.conn.clone()).await?)
    }

    pub async fn cancel(&self, id: &str) -> Result<CancelOutcome, QueueError> {
        let outcome: String = self
            .invoke(
                &self.scripts.cancel,
                &["ready", "delayed", "leased", "enq", "stats"],
            )
            .key(self.keys.job(id))
            .arg(id)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(match outcome.as_str() {
            "removed" => CancelOutcome::Removed,
            "flagged" => CancelOutcome::Flagged,
            _ => CancelOutcome::Unknown,
        })
    }

    /// Whether someone asked a running job to stop.
    pub async fn is_cancelled(&self, id: &str) -> Result<bool, QueueError> {
        let flag: Option<String> = redis::cmd("HGET")
            .arg(self.keys.job(id))
            .arg("cancel")
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(flag.is_some())
    }

    pub async fn is_paused(&self) -> Result<bool, QueueError> {
        let exists: bool = redis::cmd("EXISTS")
            .arg(self.keys.k("paused"))
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(exists)
    }
}

/// Which dead jobs a retry or purge acts on. "All" is said, never implied
/// by an empty list (the scripts read no ids as every job).
#[derive(Debug, Clone, Copy)]
pub enum Dead<'a> {
    All,
    Only(&'a [String]),
}

impl<'a> Dead<'a> {
    /// The ids to pass the script (none: every job), or `None` when there
    /// is nothing to do.
    fn ids_or_all(self) -> Option<&'a [String]> {
        match self {
            Dead::All => Some(&[]),
            Dead::Only([]) => None,
            Dead::Only(ids) => Some(ids),
        }
    }
}
