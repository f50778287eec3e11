//! The Redis connection the queue, the event log, the rate limiter and the
//! intake share: one server, or a Redis Cluster (`redis.cluster = true`,
//! `redis.url` one or more seed nodes, comma-separated).
//!
//! Everything that runs on it works on a cluster because every script's keys
//! share one hash slot: a queue's keys carry the hash tag `{q:NAME}`, a
//! user's event log and a rate-limit bucket are one key each. Pub/sub
//! (push wake-ups, live events) goes through one node: classic PUBLISH
//! reaches every node of a cluster.
#![forbid(unsafe_code)]

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to one Redis server or to a cluster; cheap to clone, and
/// reconnecting by itself when a server comes back.
#[derive(Clone)]
pub enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// Connect with bounded waits (2 s to connect, 5 s per reply), so an outage
/// surfaces as an error in seconds instead of a hung request. Returns the
/// client used for pub/sub (the first node) and the shared connection.
pub async fn connect(url: &str, cluster: bool) -> RedisResult<(redis::Client, Conn)> {
    let nodes: Vec<&str> = url
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    let first = nodes.first().copied().unwrap_or(url);
    let client = redis::Client::open(first)?;
    if !cluster {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1));
        let manager = ConnectionManager::new_with_config(client.clone(), config).await?;
        return Ok((client, Conn::Single(manager)));
    }
    let cluster = redis::cluster::ClusterClientBuilder::new(nodes)
        .connection_timeout(CONNECT_TIMEOUT)
        .response_timeout(RESPONSE_TIMEOUT)
        .retries(3)
        .build()?;
    let conn = cluster.get_async_connection().await?;
    Ok((client, Conn::Cluster(conn)))
}
