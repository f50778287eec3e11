//! A real Redis Cluster on loopback for a test: masters and replicas as
//! `redis-server --cluster-enabled yes` processes on free ports, joined by
//! `redis-cli --cluster create`, stopped when dropped.
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub struct RedisCluster {
    pub ports: Vec<u16>,
    dir: PathBuf,
    processes: Vec<tokio::process::Child>,
}

/// A port free for Redis and for its cluster bus (port + 10000).
pub(crate) fn free_ports(count: usize) -> anyhow::Result<Vec<u16>> {
    let mut ports = Vec::new();
    let mut candidate = 20_000 + (std::process::id() % 5_000) as u16 + rand_offset();
    while ports.len() < count {
        candidate = if candidate >= 29_000 {
            20_000
        } else {
            candidate + 1
        };
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(candidate) && free(candidate + 10_000) {
            ports.push(candidate);
        }
    }
    Ok(ports)
}

fn rand_offset() -> u16 {
    (uuid::Uuid::new_v4().as_u128() % 3_000) as u16
}

async fn query(port: u16, args: &[&str]) -> anyhow::Result<redis::Value> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    Ok(cmd.query_async(&mut conn).await?)
}

async fn text(port: u16, args: &[&str]) -> anyhow::Result<String> {
    Ok(redis::from_redis_value(query(port, args).await?)?)
}

impl RedisCluster {
    /// `masters` masters with `replicas` replicas each.
    pub async fn start(masters: usize, replicas: usize) -> anyhow::Result<Self> {
        let count = masters * (1 + replicas);
        let ports = free_ports(count)?;
        let dir = std::env::temp_dir().join(format!("atelier-cluster-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let mut processes = Vec::new();
        for port in &ports {
            let child = tokio::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .args(["--cluster-node-timeout", "1000"])
                .args(["--dir", &dir.display().to_string()])
                .args(["--save", "", "--appendonly", "no"])
                .args(["--logfile", &format!("redis-{port}.log")])
                .stdout(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .context("starting redis-server (Debian package redis-server)")?;
            processes.push(child);
        }
        let cluster = RedisCluster {
            ports,
            dir,
            processes,
        };
        for port in &cluster.ports {
            cluster
                .wait_for(|| async move { Ok(text(*port, &["PING"]).await? == "PONG") })
                .await?;
        }
        let nodes: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let created = tokio::process::Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .output()
            .await
            .context("redis-cli --cluster create")?;
        if !created.status.success() {
            bail!(
                "cluster create failed: {}{}",
                String::from_utf8_lossy(&created.stdout),
                String::from_utf8_lossy(&created.stderr)
            );
        }
        cluster.wait_healthy().await?;
        Ok(cluster)
    }

    /// Seed nodes, as `redis.url` takes them.
    pub fn url(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    async fn wait_for<F, Fut>(&self, check: F) -> anyhow::Result<()>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<bool>>,
    {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(true) = check().await {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("redis cluster not ready; logs in {}", self.dir.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every node says the cluster is ok and all slots are served.
    pub async fn wait_healthy(&self) -> anyhow::Result<()> {
        for port in &self.ports {
            let port = *port;
            self.wait_for(|| async move {
                let info = text(port, &["CLUSTER", "INFO"]).await?;
                Ok(info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384"))
            })
            .await?;
        }
        Ok(())
    }

    /// The master serving `key`'s slot and its replicas (ports).
    pub async fn owner_of(&self, key: &str) -> anyhow::Result<(u16, Vec<u16>)> {
        let slot: i64 =
            redis::from_redis_value(query(self.ports[0], &["CLUSTER", "KEYSLOT", key]).await?)?;
        let nodes = text(self.ports[0], &["CLUSTER", "NODES"]).await?;
        let port_of = |addr: &str| -> u16 {
            addr.split(['@', ':'])
                .nth(1)
                .and_then(|p| p.parse().ok())
                .unwrap_or(0)
        };
        let mut master = None;
        for line in nodes.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if !f[2].contains("master") {
                continue;
            }
            let serves = f[8..].iter().any(|range| {
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                matches!((a.parse::<i64>(), b.parse::<i64>()), (Ok(a), Ok(b)) if a <= slot && slot <= b)
            });
            if serves {
                master = Some((f[0].to_owned(), port_of(f[1])));
            }
        }
        let (id, port) = master.context("no master serves the slot")?;
        let replicas = nodes
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|f| f[2].contains("slave") && f[3] == id)
            .map(|f| port_of(f[1]))
            .collect();
        Ok((port, replicas))
    }

    /// Promote a replica of the master serving `key` now, without the
    /// master's agreement (`CLUSTER FAILOVER TAKEOVER`): what replication had
    /// not carried over yet is lost, as in a real failover.
    pub async fn fail_over(&self, key: &str) -> anyhow::Result<u16> {
        let (master, replicas) = self.owner_of(key).await?;
        let replica = *replicas.first().context("the master has no replica")?;
        text(replica, &["CLUSTER", "FAILOVER", "TAKEOVER"]).await?;
        self.wait_for(|| async move {
            let (now, _) = self.owner_of(key).await?;
            Ok(now == replica)
        })
        .await?;
        self.wait_healthy().await?;
        anyhow::ensure!(master != replica);
        Ok(replica)
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for p in &mut self.processes {
            let _ = p.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
