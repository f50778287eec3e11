//! Test harness: a whole backbone per test, on the real servers.
//!
//! Each [`TestEnv`] gets its own PostgreSQL database, its own Redis key
//! prefix, its own S3-protocol server (s3s-fs over a temp directory, with
//! signature checks on), an intake API served in-process on a free port, and
//! worker processes started from the real worker binary.
mod cluster;
pub mod contract;
mod proxy;
mod redis_server;
mod smtp;
pub mod studio;

pub use cluster::RedisCluster;
pub use proxy::Proxy;
pub use redis_server::RedisServer;
pub use smtp::SmtpSink;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use atelier_config::{AppConfig, HumanDuration, QueuesConfig, load_app_config, parse_duration};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

pub use reqwest::StatusCode;

pub const API_KEY: &str = "test-api-key-0001";
pub const OTHER_API_KEY: &str = "test-api-key-0002";
pub const OPERATOR_KEY: &str = "test-operator-key-0001";
/// The end-user token secret of test intakes (32 characters or more, as
/// outside development mode).
pub const TOKEN_SECRET: &str = "test-token-secret-0123456789abcdef";
pub const S3_KEY: &str = "test-access-key";
pub const S3_SECRET: &str = "test-secret-key";

/// A repository file (sample photos, malformed inputs).
pub fn fixture(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

pub fn redis_url() -> String {
    std::env::var("ATELIER_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub fn postgres_base() -> String {
    std::env::var("ATELIER_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432".into())
}

/// Start an S3-protocol server over `root`; returns its endpoint URL.
pub async fn start_s3(root: &std::path::Path, bucket: &str) -> anyhow::Result<String> {
    serve_s3(root, bucket, "127.0.0.1:0").await
}

/// [`start_s3`] on `address` (`host:port`), for a server outside a test
/// (`atelier-s3-under-test`, the intake benchmark's S3 run); access key
/// [`S3_KEY`], secret [`S3_SECRET`].
pub async fn serve_s3(
    root: &std::path::Path,
    bucket: &str,
    address: &str,
) -> anyhow::Result<String> {
    std::fs::create_dir_all(root.join(bucket))?;
    let fs = s3s_fs::FileSystem::new(root).map_err(|e| anyhow::anyhow!("s3s-fs: {e:?}"))?;
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(S3_KEY, S3_SECRET));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind(address).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let service = service.clone();
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                .await;
            });
        }
    });
    Ok(format!("http://{addr}"))
}

/// A 24-megapixel JPEG: about half a second of ingest work, enough to
/// signal a worker in the middle of it. Made once per test binary.
pub fn large_photo() -> Vec<u8> {
    static PHOTO: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    PHOTO
        .get_or_init(|| {
            let img = image::RgbImage::from_fn(6000, 4000, |x, y| {
                image::Rgb([(x / 24) as u8, (y / 16) as u8, ((x + y) / 40) as u8])
            });
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
                .encode_image(&img)
                .unwrap();
            out
        })
        .clone()
}

/// Knobs a test may turn. `lease`, `max_attempts`, `timeout` and the short
/// retry backoff apply to the queues tests drive runs through: `ingest` and
/// `staged` (the test-only `test.staged` kind); the other queues keep the
/// shipped values.
#[derive(Clone)]
pub struct EnvOptions {
    /// Lease (the crash-recovery bound).
    pub lease: &'static str,
    pub max_attempts: u32,
    /// Extra `ATELIER__…` settings for intake and workers.
    pub extra_env: Vec<(String, String)>,
    /// Reach PostgreSQL through a [`Proxy`] the test can cut.
    pub proxy_postgres: bool,
    /// Reach the S3 server through a [`Proxy`] the test can cut.
    pub proxy_s3: bool,
    /// Another Redis (a test's own server) instead of the shared one.
    pub redis_url: Option<String>,
    /// Per-run timeout.
    pub timeout: &'static str,
}

/// The queues tests drive runs through, with `options` applied by value.
fn test_queues(options: &EnvOptions) -> anyhow::Result<QueuesConfig> {
    let shipped =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../queues.toml"))?;
    let mut queues = QueuesConfig::parse(&shipped, "queues.toml")?;
    let mut staged = queues.get("ingest").context("ingest queue")?.clone();
    staged.name = "staged".into();
    staged.kinds = vec![atelier_jobs::JobKind::TestStaged];
    queues.queues.push(staged);
    for name in ["ingest", "staged"] {
        let q = queues.get_mut(name).expect("added above");
        q.lease = HumanDuration(parse_duration(options.lease).map_err(anyhow::Error::msg)?);
        q.timeout = HumanDuration(parse_duration(options.timeout).map_err(anyhow::Error::msg)?);
        q.max_attempts = options.max_attempts;
        q.backoff.initial = HumanDuration::millis(200);
    }
    // Written out and parsed back: the workers read the very same file.
    Ok(QueuesConfig::parse(&queues.to_toml(), "test queues.toml")?)
}

impl Default for EnvOptions {
    fn default() -> Self {
        EnvOptions {
            lease: "3s",
            max_attempts: 3,
            extra_env: Vec::new(),
            proxy_postgres: false,
            proxy_s3: false,
            redis_url: None,
            timeout: "2m",
        }
    }
}

pub struct TestEnv {
    pub name: String,
    pub dir: PathBuf,
    pub env: Vec<(String, String)>,
    pub config: AppConfig,
    pub queues: QueuesConfig,
    pub base_url: String,
    pub http: reqwest::Client,
    pub state: atelier_intake::AppState,
    pub postgres_proxy: Option<Arc<Proxy>>,
    pub s3_proxy: Option<Arc<Proxy>>,
    intake: tokio::task::JoinHandle<()>,
    workers: Vec<tokio::process::Child>,
}

impl TestEnv {
    pub async fn start(options: EnvOptions) -> anyhow::Result<Self> {
        let name = format!("it_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let dir = std::env::temp_dir().join(format!("atelier-{name}"));
        std::fs::create_dir_all(&dir)?;
        let mut endpoint = start_s3(&dir.join("s3"), "atelier").await?;
        let s3_proxy = if options.proxy_s3 {
            let upstream = endpoint.trim_start_matches("http://").parse()?;
            let proxy = Proxy::start(upstream).await?;
            endpoint = format!("http://{}", proxy.addr);
            Some(proxy)
        } else {
            None
        };
        let mut pg_base = postgres_base();
        let postgres_proxy = if options.proxy_postgres {
            let proxy = Proxy::start("127.0.0.1:5432".parse()?).await?;
            pg_base = format!("postgres://postgres:postgres@{}", proxy.addr);
            Some(proxy)
        } else {
            None
        };

        let queues = test_queues(&options)?;
        let queues_path = dir.join("queues.toml");
        std::fs::write(&queues_path, queues.to_toml())?;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let mut env: Vec<(String, String)> = [
            ("QUEUES_FILE", queues_path.display().to_string()),
            (
                "REDIS__URL",
                options.redis_url.clone().unwrap_or_else(redis_url),
            ),
            ("REDIS__PREFIX", name.clone()),
            ("DATABASE__URL", format!("{pg_base}/{name}")),
            ("DATABASE__MAX_CONNECTIONS", "5".into()),
            ("STORAGE__BACKEND", "s3".into()),
            ("STORAGE__PUBLIC_BASE_URL", base_url.clone()),
            ("STORAGE__S3__BUCKET", "atelier".into()),
            ("STORAGE__S3__ENDPOINT", endpoint),
            ("STORAGE__S3__ACCESS_KEY_ID", S3_KEY.into()),
            ("STORAGE__S3__SECRET_ACCESS_KEY", S3_SECRET.into()),
            ("STORAGE__S3__ALLOW_HTTP", "true".into()),
            ("INTAKE__API_KEYS", format!("{API_KEY},{OTHER_API_KEY}")),
            ("INTAKE__OPERATOR_KEYS", OPERATOR_KEY.into()),
            ("INTAKE__TOKEN_SECRET", TOKEN_SECRET.into()),
            (
                "STORAGE__SIGNING_KEY",
                "test-signing-key-0123456789abcdef".into(),
            ),
            ("INTAKE__OUTBOX_INTERVAL", "200ms".into()),
            ("INTAKE__OUTBOX_GRACE", "1s".into()),
            ("INTAKE__MAX_UPLOAD_BYTES", (40 * 1024 * 1024).to_string()),
            ("WORKER__MAX_POLL_INTERVAL", "50ms".into()),
            (
                "MODELS__MANIFESTS",
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../models")
                    .display()
                    .to_string(),
            ),
            ("WORKER__SHUTDOWN_TIMEOUT", "10s".into()),
            ("INTAKE__TEST_KINDS", "true".into()),
            ("WORKER__TEST_KINDS", "true".into()),
        ]
        .into_iter()
        .map(|(k, v)| (format!("ATELIER__{k}"), v))
        .collect();
        env.extend(options.extra_env.iter().cloned());

        let config = load_app_config(None, env.clone())?;
        let state = atelier_intake::AppState::connect(config.clone(), queues.clone()).await?;
        let serve_state = state.clone();
        let intake = tokio::spawn(async move {
            let _ = atelier_intake::serve(serve_state, listener, std::future::pending()).await;
        });
        Ok(TestEnv {
            name,
            dir,
            env,
            config,
            queues,
            base_url,
            http: reqwest::Client::new(),
            state,
            postgres_proxy,
            s3_proxy,
            intake,
            workers: Vec::new(),
        })
    }

    /// Start a worker process (the real binary) on every queue.
    pub fn spawn_worker(&mut self) -> anyhow::Result<usize> {
        self.spawn_worker_with(&[])
    }

    /// Start a worker with extra `ATELIER__…` settings of its own.
    pub fn spawn_worker_with(&mut self, extra: &[(&str, &str)]) -> anyhow::Result<usize> {
        let index = self.workers.len();
        let log = std::fs::File::create(self.dir.join(format!("worker-{index}.log")))?;
        let child = tokio::process::Command::new(worker_binary())
            .envs(self.env.iter().cloned())
            .env("ATELIER__WORKER__NAME", format!("{}-w{index}", self.name))
            .env("RUST_LOG", "info")
            .envs(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("spawning the worker")?;
        self.workers.push(child);
        Ok(index)
    }

    /// Run a worker with extra settings and wait up to `within` for it to
    /// exit: its exit status and log, or `None` (and it is stopped) when it
    /// is still running by then.
    pub async fn worker_exit(
        &self,
        extra: &[(&str, &str)],
        within: Duration,
    ) -> Option<(std::process::ExitStatus, String)> {
        let mut child = tokio::process::Command::new(worker_binary())
            .envs(self.env.iter().cloned())
            .envs(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawning the worker");
        let mut stderr = child.stderr.take().expect("piped stderr");
        match tokio::time::timeout(within, child.wait()).await {
            Ok(status) => {
                let mut log = String::new();
                tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut log)
                    .await
                    .expect("worker log");
                Some((status.expect("worker exit status"), log))
            }
            Err(_) => {
                let _ = child.kill().await;
                None
            }
        }
    }

    /// Start a worker whose Redis connections go through a [`Proxy`] of its
    /// own, so a test can stall or cut Redis for this worker alone.
    pub async fn spawn_worker_behind_proxy(
        &mut self,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<(usize, Arc<Proxy>)> {
        let url = self.config.redis.url.expose().to_owned();
        let upstream = url
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .parse()
            .context("redis url as host:port")?;
        let proxy = Proxy::start(upstream).await?;
        let via = format!("redis://{}", proxy.addr);
        let mut settings: Vec<(&str, &str)> = vec![("ATELIER__REDIS__URL", &via)];
        settings.extend_from_slice(extra);
        let index = self.spawn_worker_with(&settings)?;
        Ok((index, proxy))
    }

    /// Wait until `count` workers renew their heartbeat on `queue`: they are
    /// connected, have loaded their models and are taking work.
    pub async fn wait_live_workers(&self, queue: &str, count: u64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let stats = self.state.queues[queue].stats().await.expect("queue stats");
            if stats.live_workers >= count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{count} worker(s) not live on {queue} in {within:?}\n{}",
                self.worker_logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn worker_pid(&self, index: usize) -> u32 {
        self.workers[index].id().expect("worker running")
    }

    /// SIGKILL: no chance to settle anything.
    pub async fn kill_worker(&mut self, index: usize) {
        let child = &mut self.workers[index];
        child.start_kill().expect("kill");
        let _ = child.wait().await;
    }

    /// The index of the worker holding `job_id`'s lease on `queue`.
    pub async fn lease_holder(&self, queue: &str, job_id: &str) -> usize {
        let mut redis = self.state.redis.clone();
        let name: Option<String> = redis::cmd("HGET")
            .arg(format!("{}:{{q:{queue}}}:job:{job_id}", self.name))
            .arg("worker")
            .query_async(&mut redis)
            .await
            .expect("job hash");
        let name = name.unwrap_or_else(|| panic!("{job_id} is not leased"));
        name.rsplit("-w")
            .next()
            .and_then(|i| i.parse().ok())
            .unwrap_or_else(|| panic!("worker name {name}"))
    }

    /// Wait for a worker to exit by itself.
    pub async fn wait_worker_exit(&mut self, index: usize) -> std::process::ExitStatus {
        self.workers[index]
            .wait()
            .await
            .expect("worker exit status")
    }

    /// SIGTERM and wait for the exit status.
    pub async fn terminate_worker(&mut self, index: usize) -> std::process::ExitStatus {
        let pid = self.worker_pid(index);
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill -TERM");
        self.workers[index].wait().await.expect("worker exit")
    }

    /// Run the operator CLI against this environment.
    pub async fn ctl(&self, args: &[&str]) -> std::process::Output {
        tokio::process::Command::new(sibling_binary("atelier-ctl-under-test"))
            .args(["--url", &self.base_url, "--operator-key", OPERATOR_KEY])
            .args(args)
            .output()
            .await
            .expect("running atelier-ctl")
    }

    pub fn worker_is_running(&mut self, index: usize) -> bool {
        matches!(self.workers[index].try_wait(), Ok(None))
    }

    pub fn worker_log(&self, index: usize) -> String {
        std::fs::read_to_string(self.dir.join(format!("worker-{index}.log"))).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A response's status and JSON body (null when it has none), checked
    /// against `openapi.json` (see [`contract`]).
    pub async fn answer(
        &self,
        method: &str,
        path: &str,
        response: reqwest::Response,
    ) -> (StatusCode, Value) {
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let checked = (!body.is_null()).then_some(&body);
        contract::check(method, path, status.as_u16(), checked);
        (status, body)
    }

    /// `POST /v1/uploads`; returns the upload id.
    /// Submit a job (`202 Accepted` asserted) and return its id.
    pub async fn submit(&self, kind: &str, user: &str, input: Value) -> String {
        let (status, body) = self
            .post_json(
                "/v1/jobs",
                &json!({"kind": kind, "user_id": user, "input": input}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body["job_id"].as_str().unwrap().to_owned()
    }

    /// `GET /v1/flows/{id}` as the client sees it (checked against the
    /// contract).
    pub async fn flow(&self, id: &str) -> Value {
        let path = format!("/v1/flows/{id}");
        let response = self
            .http
            .get(self.url(&path))
            .bearer_auth(API_KEY)
            .send()
            .await
            .expect("the intake answers");
        let (status, flow) = self.answer("GET", &path, response).await;
        assert_eq!(status, StatusCode::OK, "{flow}");
        flow
    }

    /// The flow once `done` holds of its view; a panic after `within`.
    pub async fn wait_flow(
        &self,
        id: &str,
        within: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let flow = self.flow(id).await;
            if done(&flow) {
                return flow;
            }
            assert!(
                Instant::now() < deadline,
                "flow not done in {within:?}: {flow}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A stored object's bytes, read through the signed `url` a result
    /// gives for it.
    pub async fn object_bytes(&self, object: &Value) -> Vec<u8> {
        let url = object["url"].as_str().expect("a signed url");
        let response = self.http.get(url).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.bytes().await.unwrap().to_vec()
    }

    pub async fn upload(&self, user: &str, bytes: Vec<u8>, content_type: &str) -> String {
        self.upload_as(API_KEY, user, bytes, content_type).await
    }

    /// `POST /v1/uploads` with the API key `key`; returns the upload id.
    pub async fn upload_as(
        &self,
        key: &str,
        user: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> String {
        let resp = self
            .http
            .post(self.url("/v1/uploads"))
            .bearer_auth(key)
            .header("X-User-Id", user)
            .header("Content-Type", content_type)
            .body(bytes)
            .send()
            .await
            .expect("upload request");
        let (status, body) = self.answer("POST", "/v1/uploads", resp).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["upload_id"].as_str().unwrap().to_owned()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let resp = self
            .http
            .post(self.url(path))
            .bearer_auth(API_KEY)
            .json(body)
            .send()
            .await
            .expect("request");
        self.answer("POST", path, resp).await
    }

    /// Upload a file and submit `photo.ingest` for it; returns the job id.
    pub async fn ingest(&self, user: &str, bytes: Vec<u8>) -> String {
        let upload = self.upload(user, bytes, "application/octet-stream").await;
        let (status, body) = self
            .post_json(
                "/v1/jobs",
                &json!({"kind": "photo.ingest", "user_id": user, "input": {"upload_id": upload}}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body["job_id"].as_str().unwrap().to_owned()
    }

    /// An operator call: `(status, body)`.
    pub async fn operator(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method.clone(), self.url(path))
            .bearer_auth(OPERATOR_KEY);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("operator request");
        self.answer(method.as_str(), path, resp).await
    }

    /// The intake's `/metrics` exposition.
    pub async fn intake_metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics request")
            .text()
            .await
            .expect("metrics text")
    }

    /// Poll until `check` accepts the job view.
    pub async fn wait_job(
        &self,
        id: &str,
        within: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let job = self.job(id).await;
            if check(&job) {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} never matched in {within:?}: {job}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn job(&self, id: &str) -> Value {
        let path = format!("/v1/jobs/{id}");
        let resp = self
            .http
            .get(self.url(&path))
            .bearer_auth(API_KEY)
            .send()
            .await
            .expect("job request");
        self.answer("GET", &path, resp).await.1
    }

    /// Poll until the job is complete, error or dead.
    pub async fn wait_final(&self, id: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let job = self.job(id).await;
            if matches!(job["status"].as_str(), Some("complete" | "error" | "dead")) {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} not final in {within:?}: {job}\n{}",
                self.worker_logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The tail of every worker's log, for a failure message: CI keeps no
    /// files, so what a worker saw must travel in the panic.
    pub fn worker_logs(&self) -> String {
        let mut out = String::new();
        for index in 0..self.workers.len() {
            let path = self.dir.join(format!("worker-{index}.log"));
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            out.push_str(&format!(
                "--- worker-{index}.log (last {} lines)\n",
                tail.len()
            ));
            for line in tail {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// Every worker's log lines that mention `needle` (a job id): the
    /// whole story of one job, which the last lines may have lost.
    pub fn worker_logs_about(&self, needle: &str) -> String {
        let mut out = String::new();
        for index in 0..self.workers.len() {
            let path = self.dir.join(format!("worker-{index}.log"));
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            out.push_str(&format!("--- worker-{index}.log, lines naming {needle}\n"));
            for line in text.lines().filter(|l| l.contains(needle)) {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// Wait until `queue` has settled `count` runs and holds nothing: a
    /// worker writes the job row first, then its cost, metrics, event and
    /// finally the settle, so a final row alone does not mean all of that
    /// is visible yet.
    pub async fn wait_settled(&self, queue: &str, count: u64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let s = self.state.queues[queue].stats().await.expect("queue stats");
            let settled = s.completed_total + s.failed_total + s.dead_total;
            if settled >= count && s.in_flight == 0 && s.depth() == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{queue} did not settle {count} runs in {within:?}: {s:?}\n{}",
                self.worker_logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn token(&self, user: &str) -> String {
        self.token_as(API_KEY, user).await
    }

    /// A token for `user` of the API client behind `api_key` (another
    /// platform's user of the same name is another person).
    pub async fn token_as(&self, api_key: &str, user: &str) -> String {
        let resp = self
            .http
            .post(self.url("/v1/tokens"))
            .bearer_auth(api_key)
            .json(&json!({"user_id": user}))
            .send()
            .await
            .expect("token request");
        let (status, body) = self.answer("POST", "/v1/tokens", resp).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn socket(&self, token: &str, last_event_id: Option<&str>) -> EventSocket {
        let mut url = format!(
            "{}/v1/events?token={token}",
            self.base_url.replacen("http", "ws", 1)
        );
        if let Some(id) = last_event_id {
            url.push_str(&format!("&last_event_id={id}"));
        }
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket");
        EventSocket { ws }
    }

    /// Drop the test database and temp files (call at the end of a test).
    pub async fn finish(mut self) {
        for child in &mut self.workers {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        self.intake.abort();
        // Leave nothing behind in Redis.
        let mut redis = self.state.redis.clone();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.name))
            .query_async(&mut redis)
            .await
            .unwrap_or_default();
        for chunk in keys.chunks(500) {
            let _: Result<(), _> = redis::cmd("DEL").arg(chunk).query_async(&mut redis).await;
        }
        let pool = self.state.pool.clone();
        pool.close().await;
        let admin = format!("{}/postgres", postgres_base());
        if let Ok(pool) = atelier_db::connect(&admin, 1, false).await {
            let _ = atelier_db::drop_database(&pool, &self.name).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A binary cargo built beside this test executable
/// (`target/<profile>/deps/<test>` → `target/<profile>/<name>`).
fn sibling_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = profile_dir.join(name);
    assert!(
        bin.exists(),
        "{} missing: run through cargo test",
        bin.display()
    );
    bin
}

fn worker_binary() -> PathBuf {
    sibling_binary("atelier-worker-under-test")
}

pub struct EventSocket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl EventSocket {
    /// The next event, or `None` if none arrives within `within`.
    pub async fn next(&mut self, within: Duration) -> Option<Value> {
        loop {
            match tokio::time::timeout(within, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    let message: Value = serde_json::from_str(&text).unwrap();
                    // Events follow the document's `EventEnvelope`.
                    if message.get("event_id").is_some() {
                        contract::check_event(&message);
                    }
                    return Some(message);
                }
                Ok(Some(Ok(_))) => continue,
                _ => return None,
            }
        }
    }

    /// Events until one of `type` for `job_id` arrives (inclusive).
    pub async fn until(&mut self, event_type: &str, job_id: &str, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = self.next(left).await.unwrap_or_else(|| {
                panic!("no {event_type} for {job_id} within {within:?}; saw {seen:?}")
            });
            let done = event["type"] == event_type && event["job_id"] == job_id;
            seen.push(event);
            if done {
                return seen;
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.send(Message::Close(None)).await;
    }
}
