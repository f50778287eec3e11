//! One Redis server of a test's own on a free loopback port, without
//! persistence, that the test can restart empty (as a Redis without
//! persistence comes back after a crash).
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub struct RedisServer {
    pub port: u16,
    process: Option<tokio::process::Child>,
}

impl RedisServer {
    pub async fn start() -> anyhow::Result<RedisServer> {
        let port = crate::cluster::free_ports(1)?[0];
        let mut server = RedisServer {
            port,
            process: None,
        };
        server.spawn().await?;
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let child = tokio::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting redis-server (Debian package redis-server)")?;
        self.process = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                bail!("redis-server on {} did not start", self.port);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// SIGKILL the server and start it again on the same port, empty;
    /// `down` is how long nothing listens.
    pub async fn restart_empty(&mut self, down: Duration) -> anyhow::Result<()> {
        if let Some(mut child) = self.process.take() {
            child.kill().await?;
        }
        tokio::time::sleep(down).await;
        self.spawn().await
    }
}
