use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize};

use crate::{HumanDuration, Secret};

/// The whole process configuration. Every field has a built-in default, so an
/// empty file (or none) is a working local set-up.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    /// Development mode: the built-in secrets are accepted (and said so at
    /// start-up). Off, a process refuses to start with a built-in, empty or
    /// short secret ([`crate::secrets`]).
    pub dev_mode: bool,
    pub queues_file: QueuesFilePath,
    pub redis: RedisConfig,
    pub database: DatabaseConfig,
    pub storage: StorageConfig,
    pub intake: IntakeConfig,
    pub worker: WorkerConfig,
    pub events: EventsConfig,
    pub media: MediaConfig,
    pub models: ModelsConfig,
    pub render: RenderConfig,
    pub email: EmailConfig,
    pub flows: FlowsConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QueuesFilePath(pub PathBuf);

impl Default for QueuesFilePath {
    fn default() -> Self {
        QueuesFilePath(PathBuf::from("queues.toml"))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// One server, or (with `cluster`) one or more seed nodes of a Redis
    /// Cluster, comma-separated.
    pub url: Secret,
    /// Prefix of every key this deployment writes, so several can share a Redis.
    pub prefix: String,
    /// `url` names a Redis Cluster.
    pub cluster: bool,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: Secret::new("redis://127.0.0.1:6379"),
            prefix: "atelier".into(),
            cluster: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: Secret,
    pub max_connections: u32,
    /// Apply pending migrations at start-up.
    pub migrate: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: Secret::new("postgres://postgres:postgres@127.0.0.1:5432/atelier"),
            max_connections: 10,
            migrate: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    #[default]
    Local,
    S3,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub backend: StorageBackend,
    /// Root directory of the local backend.
    pub local_root: PathBuf,
    /// Key for local signed URLs (S3 signs with its own credentials).
    pub signing_key: Secret,
    /// Base URL under which the intake serves locally signed objects.
    pub public_base_url: String,
    pub signed_url_ttl: HumanDuration,
    pub s3: S3Config,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            backend: StorageBackend::Local,
            local_root: PathBuf::from(".demo/objects"),
            signing_key: Secret::new("dev-signing-key-change-me"),
            public_base_url: "http://127.0.0.1:8080".into(),
            signed_url_ttl: HumanDuration::secs(900),
            s3: S3Config::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    /// Custom endpoint (MinIO, s3s, …); empty means AWS.
    pub endpoint: String,
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub allow_http: bool,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            bucket: "atelier".into(),
            region: "us-east-1".into(),
            endpoint: String::new(),
            access_key_id: Secret::default(),
            secret_access_key: Secret::default(),
            allow_http: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntakeConfig {
    pub listen: SocketAddr,
    /// Serve `/metrics` on this address instead of `listen` (an internal
    /// network only the scraper reaches); unset, on `listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// API keys accepted on `/v1`; a list, or one comma-separated string.
    /// Each `CLIENT:KEY` (the client's jobs, uploads, events and embeddings
    /// stay its own across a key rotation: list the old and the new key for
    /// one client) or a bare `KEY` (client id derived from the key).
    #[serde(deserialize_with = "string_or_list")]
    pub api_keys: Vec<Secret>,
    /// Keys of operators: queue controls and dead letters (`/v1/queues`),
    /// and the console's `operator` role (sees and acts). `NAME:KEY` names
    /// the operator in the console's audit log.
    #[serde(deserialize_with = "string_or_list")]
    pub operator_keys: Vec<Secret>,
    /// Keys that sign in to the console with the `viewer` role (sees
    /// everything, acts on nothing); `NAME:KEY` as for operators. No API
    /// route takes them.
    #[serde(deserialize_with = "string_or_list")]
    pub viewer_keys: Vec<Secret>,
    /// How long a console sign-in lasts.
    pub console_session_ttl: HumanDuration,
    /// Mark the console's session cookie `Secure` (set it where the intake
    /// is reached over TLS; a request forwarded with `X-Forwarded-Proto:
    /// https` gets it anyway).
    pub console_secure_cookie: bool,
    /// Requests per second per API key, shared by all intake replicas.
    pub rate_limit_per_second: f64,
    /// Requests an API key may make at once above the steady rate.
    pub rate_limit_burst: u32,
    /// HMAC key of the end-user WebSocket tokens.
    pub token_secret: Secret,
    pub token_ttl: HumanDuration,
    pub max_upload_bytes: u64,
    pub max_json_bytes: u64,
    /// Requests per second per client address on the routes anyone can
    /// reach (`/v1/events`, `/objects`) and for failed authentication,
    /// shared by all replicas; past it `429 rate.limited`.
    pub per_address_per_second: f64,
    pub per_address_burst: u32,
    /// The header a trusted load balancer puts the client's address in
    /// (its last entry is used: the one the balancer appended); unset, the
    /// connection's peer address.
    pub client_address_header: Option<String>,
    /// Jobs one API client may have queued or running at once; past it
    /// `429 quota.exceeded`, so one client cannot starve the others in the
    /// shared queues.
    pub max_open_jobs_per_client: u32,
    /// Requests this process serves at once; past it, `503 intake.busy`
    /// at once (health, readiness and metrics are not counted).
    pub max_in_flight: u32,
    /// Upload bodies streamed to storage at once (each holds up to two
    /// storage parts in memory: 5 MiB each on S3, 1 MiB locally); a
    /// further upload waits up to `upload_slot_wait` for a slot, then
    /// `503 intake.busy`.
    pub max_uploads_in_flight: u32,
    pub upload_slot_wait: HumanDuration,
    /// A client must send its request line and headers within this.
    pub header_timeout: HumanDuration,
    /// A request body that sends nothing for this long is cut off
    /// (`408 request.timeout`).
    pub body_idle_timeout: HumanDuration,
    /// A request must be answered within this (`408 request.timeout`);
    /// a 25 MiB upload at 2 Mbit/s takes 105 s.
    pub request_timeout: HumanDuration,
    /// How often recorded-but-not-enqueued jobs are pushed again.
    pub outbox_interval: HumanDuration,
    /// A recorded job not marked enqueued after this long is pushed again.
    pub outbox_grace: HumanDuration,
    /// How often the reconciler looks for jobs whose queue entry is gone.
    pub reconcile_interval: HumanDuration,
    /// A `queued` or `processing` row untouched for this long is checked
    /// against its queue (and pushed again when Redis lost it).
    pub reconcile_after: HumanDuration,
    /// A client's similarity-search index no query used for this long is
    /// dropped (the next query loads it again).
    pub search_idle_eviction: HumanDuration,
    /// How often each queue's state is written to its history (one replica
    /// at a time), and how long the history is kept.
    pub history_interval: HumanDuration,
    pub history_retention: HumanDuration,
    /// Accept the test-only job kinds (`test.staged`). Off in production.
    pub test_kinds: bool,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        IntakeConfig {
            listen: "127.0.0.1:8080".parse().expect("literal address"),
            metrics_listen: None,
            api_keys: vec![Secret::new("dev-api-key")],
            operator_keys: vec![Secret::new("dev-operator-key")],
            viewer_keys: Vec::new(),
            console_session_ttl: HumanDuration::secs(12 * 3600),
            console_secure_cookie: false,
            rate_limit_per_second: 1000.0,
            rate_limit_burst: 2000,
            token_secret: Secret::new("dev-token-secret-change-me"),
            token_ttl: HumanDuration::secs(900),
            max_upload_bytes: 25 * 1024 * 1024,
            max_json_bytes: 64 * 1024,
            per_address_per_second: 50.0,
            per_address_burst: 200,
            client_address_header: None,
            max_open_jobs_per_client: 10_000,
            max_in_flight: 1024,
            max_uploads_in_flight: 16,
            upload_slot_wait: HumanDuration::secs(10),
            header_timeout: HumanDuration::secs(10),
            body_idle_timeout: HumanDuration::secs(15),
            request_timeout: HumanDuration::secs(180),
            outbox_interval: HumanDuration::secs(2),
            outbox_grace: HumanDuration::secs(5),
            reconcile_interval: HumanDuration::secs(30),
            reconcile_after: HumanDuration::secs(120),
            history_interval: HumanDuration::secs(60),
            history_retention: HumanDuration::secs(48 * 3600),
            search_idle_eviction: HumanDuration::secs(600),
            test_kinds: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Queues this worker consumes; empty means every queue in queues.toml.
    #[serde(deserialize_with = "string_or_list_plain")]
    pub queues: Vec<String>,
    /// Identifies the worker in leases and logs; empty means host-pid.
    pub name: String,
    /// Longest sleep between polls of an empty queue.
    pub max_poll_interval: HumanDuration,
    /// In-flight jobs get this long to finish on SIGTERM.
    pub shutdown_timeout: HumanDuration,
    /// Where the worker serves `/metrics`; unset means no endpoint.
    pub metrics_listen: Option<SocketAddr>,
    /// Jobs this process runs at once across its queues; unset means the
    /// largest `concurrency` among them.
    pub concurrency: Option<u32>,
    /// Past this resident set size the worker stops leasing, finishes what
    /// it holds and exits 0 for its supervisor to restart it ("2GiB");
    /// unset means no bound.
    pub max_rss: Option<crate::ByteSize>,
    /// Also run the test-only job kinds (`test.staged`). Off in production.
    pub test_kinds: bool,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            queues: Vec::new(),
            name: String::new(),
            max_poll_interval: HumanDuration::millis(100),
            shutdown_timeout: HumanDuration::secs(30),
            metrics_listen: None,
            concurrency: None,
            max_rss: None,
            test_kinds: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// Events kept per user for replay on reconnect.
    pub retention_per_user: u32,
    /// A user's event log expires this long after their last event.
    pub retention_age: HumanDuration,
    /// Live events an intake buffers per user for their sockets; a socket
    /// further behind than this replays the gap from the user's log.
    pub live_buffer: u32,
    /// Sockets one end user may hold open on one intake at once.
    pub max_sockets_per_user: u32,
    /// The largest message (and frame) a socket accepts from its client.
    pub max_inbound_bytes: u32,
    /// A socket is pinged this often…
    pub ping_interval: HumanDuration,
    /// …and closed when nothing (not even a pong) came from it this long.
    pub idle_timeout: HumanDuration,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            retention_per_user: 1000,
            retention_age: HumanDuration::secs(7 * 86400),
            live_buffer: 64,
            max_sockets_per_user: 8,
            max_inbound_bytes: 4096,
            ping_interval: HumanDuration::secs(30),
            idle_timeout: HumanDuration::secs(75),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// Largest photo accepted, in pixels (width × height).
    pub max_pixels: u64,
    /// Largest side accepted, in pixels.
    pub max_dimension: u32,
    pub variant_widths: Vec<u32>,
    pub thumbnail_size: u32,
    pub jpeg_quality: u8,
    pub webp_quality: u8,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            max_pixels: 50_000_000,
            max_dimension: 16_384,
            variant_widths: vec![256, 512, 1024, 2048],
            thumbnail_size: 256,
            jpeg_quality: 85,
            webp_quality: 80,
        }
    }
}

/// `notify.email`: the SMTP relay messages go through.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    /// `smtp://host:port` (plain, for a relay on loopback or a private
    /// network), `smtp://host:587?tls=required` (STARTTLS) or
    /// `smtps://host:465`; credentials as `smtp://user:pass@host`.
    pub smtp_url: Secret,
    /// The From header.
    pub from: String,
    /// Longest wait on the relay per message.
    pub timeout: HumanDuration,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            smtp_url: Secret::new("smtp://127.0.0.1:25".to_owned()),
            from: "atelier <noreply@localhost>".into(),
            timeout: HumanDuration::secs(30),
        }
    }
}

/// The render worker: model bounds and the FFmpeg programs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RenderConfig {
    /// Most triangles one design may draw (all items together).
    pub max_triangles: u64,
    /// Largest texture side accepted; larger ones end `model.too_large`.
    pub max_texture_dimension: u32,
    /// Largest model upload read, in bytes.
    pub max_model_bytes: u64,
    /// The `ffmpeg` program turntables are encoded with.
    pub ffmpeg: PathBuf,
    /// Jobs that draw at once in one worker; the others wait their turn.
    /// On llvmpipe one frame already uses every core, so more only adds
    /// memory (an `ultra` still holds ~0.9 GB while it draws).
    pub max_parallel: u32,
}

impl Default for RenderConfig {
    fn default() -> Self {
        RenderConfig {
            max_triangles: 4_000_000,
            max_texture_dimension: 8192,
            max_model_bytes: 256 * 1024 * 1024,
            ffmpeg: PathBuf::from("ffmpeg"),
            max_parallel: 2,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelsConfig {
    /// Folder of the model manifests (and committed model files).
    pub manifests: PathBuf,
    /// Fetched models and the ONNX Runtime library; unset means
    /// `ATELIER_MODELS_DIR` or `~/.cache/atelier/models`.
    pub dir: Option<PathBuf>,
    /// Intra-op threads per model session.
    pub threads: u32,
    /// Sessions per unbatched model (pose, face): concurrent jobs run the
    /// same model in parallel up to this many. `sessions × threads` should
    /// not exceed the cores.
    pub sessions: u32,
    /// Cross-job micro-batching for models whose graph takes a batch
    /// (EfficientNet-Lite0): at most this many jobs' images per run…
    pub max_batch: u32,
    /// …and at most this long waited for more after the first arrives.
    pub max_batch_delay: HumanDuration,
    /// The person mask of `vision.segment`: `pose` (the pose model's own
    /// mask, the licence-clean default) or `isnet` (higher quality, AGPL,
    /// installed by an operator with scripts/install-isnet.sh).
    pub segmentation: String,
}

impl Default for ModelsConfig {
    fn default() -> Self {
        ModelsConfig {
            manifests: PathBuf::from("models"),
            dir: None,
            threads: 2,
            sessions: 1,
            max_batch: 4,
            max_batch_delay: HumanDuration::millis(5),
            segmentation: "pose".into(),
        }
    }
}

fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Secret>, D::Error> {
    Ok(string_or_list_plain(d)?
        .into_iter()
        .map(Secret::new)
        .collect())
}

fn string_or_list_plain<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        OneOrMany::Many(v) => v,
    })
}

impl AppConfig {
    /// The config as TOML with every secret redacted, for the start-up log.
    pub fn redacted(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("<unprintable config: {e}>"))
    }
}

/// Flows: DAGs of jobs submitted as one (`POST /v1/flows`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowsConfig {
    /// Most nodes one flow may have (1–10,000).
    pub max_nodes: u32,
}

impl Default for FlowsConfig {
    fn default() -> Self {
        FlowsConfig { max_nodes: 200 }
    }
}
