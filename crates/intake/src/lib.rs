//! The intake API: uploads, typed job submission, job status, end-user event
//! sockets, signed object reads, health and metrics. The only crate that
//! knows HTTP.
#![forbid(unsafe_code)]

pub mod api;
mod auth;
mod error;
mod outbox;
mod reconcile;
mod routes;
pub mod search;
mod submit;

pub use auth::{ApiKeys, ClientId, Tokens};
pub use error::ApiError;

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use atelier_config::{AppConfig, QueuesConfig};
use atelier_db::PgPool;
use atelier_events::{EventHub, EventLog};
use atelier_queue::RedisQueue;
use atelier_storage::Storage;
use atelier_telemetry::Registry;

/// Everything a request handler may use.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: AppConfig,
    pub queues_config: QueuesConfig,
    pub pool: PgPool,
    pub redis: atelier_queue::Conn,
    pub queues: HashMap<String, RedisQueue>,
    pub storage: Storage,
    pub events: EventLog,
    pub hub: EventHub,
    pub api_keys: ApiKeys,
    pub operator_keys: ApiKeys,
    pub limiter: atelier_queue::RateLimiter,
    /// Per client address (`intake.per_address_per_second`).
    pub address_limiter: atelier_queue::RateLimiter,
    pub tokens: Tokens,
    pub metrics: Registry,
    pub search: search::SearchIndexes,
    /// Requests in flight (`intake.max_in_flight`).
    pub requests: Arc<tokio::sync::Semaphore>,
    /// Upload bodies being streamed (`intake.max_uploads_in_flight`).
    pub uploads: Arc<tokio::sync::Semaphore>,
    /// Open event sockets per audience key (`events.max_sockets_per_user`).
    pub sockets: std::sync::Mutex<HashMap<String, usize>>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Connect to Redis, Postgres (migrating when configured) and storage.
    /// Refuses unsafe secrets first (see `atelier_config::secrets`).
    pub async fn connect(config: AppConfig, queues_config: QueuesConfig) -> anyhow::Result<Self> {
        config
            .check_secrets(atelier_config::Role::Intake)
            .map_err(anyhow::Error::msg)?;
        if config.dev_mode {
            tracing::warn!(
                "DEVELOPMENT MODE: built-in secrets are accepted; never expose this intake"
            );
        }
        let (client, redis) =
            atelier_queue::connect(config.redis.url.expose(), config.redis.cluster)
                .await
                .context("connecting to redis")?;
        let pool = atelier_db::connect(
            config.database.url.expose(),
            config.database.max_connections,
            config.database.migrate,
        )
        .await
        .context("connecting to postgres")?;
        let storage = Storage::from_config(&config.storage).context("object storage")?;
        let queues = queues_config
            .queues
            .iter()
            .map(|spec| {
                let q = RedisQueue::new(redis.clone(), &config.redis.prefix, spec.clone());
                (spec.name.clone(), q)
            })
            .collect();
        let events = EventLog::new(redis.clone(), &config.redis.prefix, &config.events);
        let hub = EventHub::start(
            client,
            &config.redis.prefix,
            config.events.live_buffer as usize,
        )
        .await
        .context("subscribing to events")?;
        Ok(AppState(Arc::new(Inner {
            api_keys: ApiKeys::new(&config.intake.api_keys),
            operator_keys: ApiKeys::new(&config.intake.operator_keys),
            limiter: atelier_queue::RateLimiter::new(
                redis.clone(),
                &config.redis.prefix,
                config.intake.rate_limit_per_second,
                config.intake.rate_limit_burst,
            ),
            address_limiter: atelier_queue::RateLimiter::new(
                redis.clone(),
                &format!("{}:address", config.redis.prefix),
                config.intake.per_address_per_second,
                config.intake.per_address_burst,
            ),
            tokens: Tokens::new(&config.intake.token_secret, config.intake.token_ttl.get()),
            metrics: Registry::default(),
            search: search::SearchIndexes::new(config.intake.search_idle_eviction.get()),
            requests: Arc::new(tokio::sync::Semaphore::new(
                config.intake.max_in_flight as usize,
            )),
            uploads: Arc::new(tokio::sync::Semaphore::new(
                config.intake.max_uploads_in_flight as usize,
            )),
            sockets: std::sync::Mutex::default(),
            config,
            queues_config,
            pool,
            redis,
            queues,
            storage,
            events,
            hub,
        })))
    }

    pub fn queue(&self, name: &str) -> Option<&RedisQueue> {
        self.queues.get(name)
    }
}

/// The HTTP application.
pub fn router(state: AppState) -> axum::Router {
    routes::router(state)
}

/// Serve until `shutdown` resolves, with the outbox relay and the
/// reconciler running beside.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let relay = tokio::spawn(outbox::run(state.clone()));
    let reconciler = tokio::spawn(reconcile::run(state.clone()));
    let header_timeout = state.config.intake.header_timeout.get();
    let internal = match state.config.intake.metrics_listen {
        Some(address) => {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("binding intake.metrics_listen {address}"))?;
            tracing::info!(%address, "metrics listening");
            let app = routes::internal_router(state.clone());
            Some(tokio::spawn(accept(
                listener,
                app,
                header_timeout,
                std::future::pending(),
            )))
        }
        None => None,
    };
    accept(listener, router(state), header_timeout, shutdown).await;
    relay.abort();
    reconciler.abort();
    if let Some(internal) = internal {
        internal.abort();
    }
    Ok(())
}

/// How long open connections get to finish their requests at shutdown.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(30);

/// HTTP/1 on every accepted connection, each with `header_timeout` to send
/// its request line and headers (a client that opens sockets and sends
/// nothing is cut off: axum's own `serve` sets no such timeout), upgrades
/// kept for the WebSocket; at `shutdown` no new connections and the open
/// ones finish their requests (at most [`DRAIN`]).
async fn accept(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    header_timeout: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, say: back off instead of spinning.
                    tracing::warn!(%error, "accepting a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // Each request knows the connection's peer (the per-address limits).
        let service =
            hyper_util::service::TowerToHyperService::new(tower::ServiceExt::map_request(
                app.clone(),
                move |mut request: axum::http::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    request
                },
            ));
        let mut stopped = stopped.clone();
        connections.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout);
            let connection = builder
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stopped.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
    let _ = stop.send(true);
    let drained = tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "connections still open after the drain"
        );
    }
}

pub use outbox::relay_once;
pub use reconcile::{Reconciled, reconcile_once};
