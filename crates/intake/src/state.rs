//! Everything a request handler may use: the connections, the queues, the
//! keys and limiters, made once at start-up.
use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use atelier_config::{AppConfig, QueuesConfig};
use atelier_db::PgPool;
use atelier_events::{EventHub, EventLog};
use atelier_queue::RedisQueue;
use atelier_storage::Storage;
use atelier_telemetry::Registry;

use crate::auth::{ApiKeys, Tokens};
use crate::search;

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
    /// Keys that sign in to the console to look, not act.
    pub viewer_keys: ApiKeys,
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
    /// The console's live views being drawn.
    pub(crate) live: crate::live::LiveViews,
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
        let events = EventLog::new(
            redis.clone(),
            pool.clone(),
            &config.redis.prefix,
            &config.events,
        );
        let hub = EventHub::start(
            client,
            &config.redis.prefix,
            config.events.live_buffer as usize,
        )
        .await
        .context("subscribing to events")?;
        hub.follow_log(pool.clone());
        Ok(AppState(Arc::new(Inner {
            api_keys: ApiKeys::new(&config.intake.api_keys),
            operator_keys: ApiKeys::new(&config.intake.operator_keys),
            viewer_keys: ApiKeys::new(&config.intake.viewer_keys),
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
            tokens: Tokens::new(&config.intake.token_secret, config.intake.token_ttl.get())
                .context("intake.token_ttl")?,
            metrics: Registry::with(atelier_telemetry::metrics::ALL)?,
            search: search::SearchIndexes::new(config.intake.search_idle_eviction.get()),
            requests: Arc::new(tokio::sync::Semaphore::new(
                config.intake.max_in_flight as usize,
            )),
            uploads: Arc::new(tokio::sync::Semaphore::new(
                config.intake.max_uploads_in_flight as usize,
            )),
            sockets: std::sync::Mutex::default(),
            live: crate::live::LiveViews::default(),
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
