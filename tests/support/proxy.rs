//! A TCP proxy a test can cut, stall and restore. Cut: the application sees
//! its server vanish (connections reset, new ones refused) and come back on
//! the same address, which is what an outage looks like from the outside.
//! Stall: connections stay open but nothing moves, and what was sent during
//! the stall arrives after it, late: a network partition or a stuck server.
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub struct Proxy {
    pub addr: SocketAddr,
    upstream: SocketAddr,
    running: Mutex<Option<tokio::task::JoinHandle<()>>>,
    stalled: watch::Sender<bool>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<Arc<Proxy>> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let proxy = Arc::new(Proxy {
            addr: listener.local_addr()?,
            upstream,
            running: Mutex::new(None),
            stalled: watch::channel(false).0,
        });
        proxy.serve(listener);
        Ok(proxy)
    }

    fn serve(&self, listener: TcpListener) {
        let upstream = self.upstream;
        let stalled = self.stalled.subscribe();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let stalled = stalled.clone();
                connections.spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::select! {
                        () = pump(client_read, server_write, stalled.clone()) => {}
                        () = pump(server_read, client_write, stalled) => {}
                    }
                });
            }
        });
        *self.running.lock().unwrap() = Some(task);
    }

    /// The server is gone: open connections are cut, new ones refused.
    pub fn cut(&self) {
        if let Some(task) = self.running.lock().unwrap().take() {
            // Dropping the task drops the listener and every connection.
            task.abort();
        }
    }

    /// Nothing moves either way until [`resume`](Self::resume); connections
    /// stay open and what was sent meanwhile is delivered afterwards.
    pub fn stall(&self) {
        self.stalled.send_replace(true);
    }

    pub fn resume(&self) {
        self.stalled.send_replace(false);
    }

    /// The server is back on the same address.
    pub async fn restore(&self) -> anyhow::Result<()> {
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        self.serve(listener);
        Ok(())
    }
}

/// Copy `from` to `to`, holding every chunk while the proxy is stalled.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut stalled: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while *stalled.borrow_and_update() {
            if stalled.changed().await.is_err() {
                return;
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
