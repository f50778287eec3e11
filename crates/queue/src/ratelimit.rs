//! A token bucket per API client, in Redis so every intake replica shares it.
use std::time::Duration;

use atelier_redis::Conn;
use redis::Script;

use crate::QueueError;

pub struct RateLimiter {
    conn: Conn,
    prefix: String,
    per_second: f64,
    burst: u32,
    script: Script,
}

/// `Err(retry_after)` when the bucket is empty.
pub type Admission = Result<(), Duration>;

impl RateLimiter {
    pub fn new(conn: Conn, prefix: &str, per_second: f64, burst: u32) -> Self {
        RateLimiter {
            conn,
            prefix: prefix.to_owned(),
            per_second,
            burst: burst.max(1),
            script: crate::queue::script(include_str!("lua/rate_limit.lua")),
        }
    }

    /// Take one token for `client`.
    pub async fn admit(&self, client: &str) -> Result<Admission, QueueError> {
        let (allowed, wait_ms): (i64, u64) = self
            .script
            .key(format!("{}:ratelimit:{client}", self.prefix))
            .arg(self.per_second)
            .arg(self.burst)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(if allowed == 1 {
            Ok(())
        } else {
            Err(Duration::from_millis(wait_ms.max(1)))
        })
    }
}
