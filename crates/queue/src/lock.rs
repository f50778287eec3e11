//! A lease on a named role (one active reconciler among intake replicas):
//! `SET NX PX` with a random token; released or extended only by its holder.
use std::time::Duration;

use atelier_redis::Conn;

use crate::QueueError;

const RELEASE: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/// A role held until [`release`](RoleLock::release) or its time runs out.
pub struct RoleLock {
    conn: Conn,
    key: String,
    token: String,
}

impl RoleLock {
    /// Take the role `{prefix}:role:{name}` for `ttl` unless another process
    /// holds it.
    pub async fn try_acquire(
        conn: Conn,
        prefix: &str,
        name: &str,
        ttl: Duration,
    ) -> Result<Option<RoleLock>, QueueError> {
        let key = format!("{prefix}:role:{name}");
        let token = uuid::Uuid::new_v4().simple().to_string();
        let taken: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64)
            .query_async(&mut conn.clone())
            .await?;
        Ok(taken.map(|_| RoleLock { conn, key, token }))
    }

    pub async fn release(self) -> Result<(), QueueError> {
        let _: i64 = redis::Script::new(RELEASE)
            .key(&self.key)
            .arg(&self.token)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }
}
