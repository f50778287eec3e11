use std::sync::Arc;
use std::time::Duration;

use atelier_jobs::EventEnvelope;
use futures_util::StreamExt;
use tokio::sync::broadcast;

use crate::{EventLog, decode};

/// In-process fan-out of the live channel: one Redis subscription per
/// gateway process, any number of WebSocket clients.
#[derive(Clone)]
pub struct EventHub {
    tx: broadcast::Sender<Arc<LiveEvent>>,
}

/// An event on the live channel with the audience key it is for.
#[derive(Debug)]
pub struct LiveEvent {
    pub audience: String,
    pub event: EventEnvelope,
}

impl EventHub {
    /// Subscribe to the live channel, reconnecting for as long as the process
    /// runs. Clients that fall behind are told they lagged and replay from the
    /// log, so a slow socket never loses events.
    /// `buffer` live events are kept for slow sockets (4096 by default).
    pub async fn start(
        client: redis::Client,
        prefix: &str,
        buffer: usize,
    ) -> Result<Self, redis::RedisError> {
        let (tx, _) = broadcast::channel(buffer.max(1));
        let channel = EventLog::channel(prefix);
        // The first subscription happens before returning, so events
        // published after start() are never missed.
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&channel).await?;
        let hub = EventHub { tx: tx.clone() };
        tokio::spawn(async move {
            loop {
                forward(&mut pubsub, &tx).await;
                tracing::warn!("event subscription lost, reconnecting");
                loop {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    if let Ok(mut p) = client.get_async_pubsub().await
                        && p.subscribe(&channel).await.is_ok()
                    {
                        pubsub = p;
                        break;
                    }
                }
            }
        });
        Ok(hub)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.tx.subscribe()
    }
}

async fn forward(pubsub: &mut redis::aio::PubSub, tx: &broadcast::Sender<Arc<LiveEvent>>) {
    let mut messages = pubsub.on_message();
    while let Some(msg) = messages.next().await {
        let Ok(payload) = msg.get_payload::<String>() else {
            continue;
        };
        let mut parts = payload.splitn(3, ' ');
        let (Some(id), Some(audience), Some(json)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        match decode(id.to_owned(), json) {
            Ok(event) => {
                let _ = tx.send(Arc::new(LiveEvent {
                    audience: audience.to_owned(),
                    event,
                }));
            }
            Err(error) => tracing::warn!(%error, "dropping malformed live event"),
        }
    }
}
