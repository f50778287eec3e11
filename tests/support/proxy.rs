//! A TCP proxy a test can cut and restore: the application sees its server
//! vanish (connections reset, new ones refused) and come back on the same
//! address, which is what an outage looks like from the outside.
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

pub struct Proxy {
    pub addr: SocketAddr,
    upstream: SocketAddr,
    running: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<Arc<Proxy>> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let proxy = Arc::new(Proxy {
            addr: listener.local_addr()?,
            upstream,
            running: Mutex::new(None),
        });
        proxy.serve(listener);
        Ok(proxy)
    }

    fn serve(&self, listener: TcpListener) {
        let upstream = self.upstream;
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                connections.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
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
