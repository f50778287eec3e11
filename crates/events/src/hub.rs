use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atelier_jobs::EventEnvelope;
use futures_util::StreamExt;
use tokio::sync::{broadcast, watch};

use crate::{EventLog, decode};

/// In-process fan-out of the live channel: one Redis subscription per
/// gateway process, each event routed to its audience's sockets only (a
/// socket is not woken for anyone else's events).
#[derive(Clone)]
pub struct EventHub {
    inner: Arc<Inner>,
}

struct Inner {
    /// Per audience key, while anyone listens.
    routes: Mutex<HashMap<String, broadcast::Sender<Arc<LiveEvent>>>>,
    buffer: usize,
    /// Bumped each time the live subscription is made again after a loss:
    /// whatever was published meanwhile reached no socket, so every socket
    /// replays from the last event it sent.
    resubscribed: watch::Sender<u64>,
}

/// An event on the live channel with the audience key it is for.
#[derive(Debug)]
pub struct LiveEvent {
    pub audience: String,
    pub event: EventEnvelope,
}

/// One socket's share of the hub: its audience's live events, and word of
/// a re-subscription. Dropping it stops the routing when it was the last.
pub struct Subscription {
    pub events: broadcast::Receiver<Arc<LiveEvent>>,
    pub resubscribed: watch::Receiver<u64>,
    hub: EventHub,
    audience: String,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut routes = self.hub.inner.routes.lock().expect("routes lock");
        // This receiver still counts until dropped: it was the last when
        // it is the only one.
        if routes
            .get(&self.audience)
            .is_some_and(|tx| tx.receiver_count() <= 1)
        {
            routes.remove(&self.audience);
        }
    }
}

impl EventHub {
    /// Subscribe to the live channel, reconnecting for as long as the process
    /// runs. Sockets that fall behind are told they lagged and replay from the
    /// log, so a slow socket never loses events.
    /// `buffer` live events are kept per audience for slow sockets.
    pub async fn start(
        client: redis::Client,
        prefix: &str,
        buffer: usize,
    ) -> Result<Self, redis::RedisError> {
        let channel = EventLog::channel(prefix);
        // The first subscription happens before returning, so events
        // published after start() are never missed.
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&channel).await?;
        let hub = EventHub {
            inner: Arc::new(Inner {
                routes: Mutex::default(),
                buffer: buffer.max(1),
                resubscribed: watch::channel(0).0,
            }),
        };
        let routing = hub.clone();
        tokio::spawn(async move {
            loop {
                routing.forward(&mut pubsub).await;
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
                routing.inner.resubscribed.send_modify(|n| *n += 1);
            }
        });
        Ok(hub)
    }

    /// The live events of one audience (its `Audience::key`).
    pub fn subscribe(&self, audience: &str) -> Subscription {
        let events = self
            .inner
            .routes
            .lock()
            .expect("routes lock")
            .entry(audience.to_owned())
            .or_insert_with(|| broadcast::channel(self.inner.buffer).0)
            .subscribe();
        Subscription {
            events,
            resubscribed: self.inner.resubscribed.subscribe(),
            hub: self.clone(),
            audience: audience.to_owned(),
        }
    }

    /// Audiences with a socket listening in this process.
    pub fn audiences(&self) -> usize {
        self.inner.routes.lock().expect("routes lock").len()
    }

    async fn forward(&self, pubsub: &mut redis::aio::PubSub) {
        let mut messages = pubsub.on_message();
        while let Some(msg) = messages.next().await {
            if let Ok(payload) = msg.get_payload::<String>() {
                self.route(&payload);
            }
        }
    }

    /// Also route the events the database logs itself (a flow's), as it
    /// announces them; a lost connection counts as a lost subscription
    /// (every socket replays from its last event).
    pub fn follow_log(&self, pool: atelier_db::PgPool) {
        let hub = self.clone();
        tokio::spawn(async move {
            loop {
                match atelier_db::events::Announced::listen(&pool).await {
                    Ok(mut announced) => loop {
                        match announced.next().await {
                            Ok(Some(payload)) => hub.route(&payload),
                            Ok(None) => {
                                tracing::warn!("event announcements lost, listening again");
                                hub.inner.resubscribed.send_modify(|n| *n += 1);
                            }
                            Err(error) => {
                                tracing::warn!(%error, "event announcements failed");
                                break;
                            }
                        }
                    },
                    Err(error) => tracing::debug!(%error, "event announcements: not listening"),
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                hub.inner.resubscribed.send_modify(|n| *n += 1);
            }
        });
    }

    /// One live message (`id audience envelope-without-id`) to its
    /// audience's sockets in this process.
    fn route(&self, payload: &str) {
        let mut parts = payload.splitn(3, ' ');
        let (Some(id), Some(audience), Some(json)) = (parts.next(), parts.next(), parts.next())
        else {
            return;
        };
        let route = self
            .inner
            .routes
            .lock()
            .expect("routes lock")
            .get(audience)
            .cloned();
        // Nobody of this audience listens here: nothing to decode.
        let Some(route) = route else {
            return;
        };
        match decode(id.to_owned(), json) {
            Ok(event) => {
                let live = Arc::new(LiveEvent {
                    audience: audience.to_owned(),
                    event,
                });
                if route.send(live).is_err() {
                    // Its last sockets left together: forget the route.
                    let mut routes = self.inner.routes.lock().expect("routes lock");
                    if routes
                        .get(audience)
                        .is_some_and(|tx| tx.receiver_count() == 0)
                    {
                        routes.remove(audience);
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "dropping malformed live event"),
        }
    }
}
