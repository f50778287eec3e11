//! Outages of the real servers: jobs wait and complete afterwards, nothing is
//! lost, attempts are not burnt, and the intake answers 503 with a code
//! instead of hanging.
use std::time::{Duration, Instant};

use atelier_tests::{API_KEY, EnvOptions, StatusCode, TestEnv, fixture};
use reqwest::Method;
use serde_json::json;

const OUTAGE: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(120);

/// Submit a photo job while the ingest queue is paused, so it is waiting when
/// the outage starts and is taken by the worker during it. The worker is
/// live first: the outage must hit a running worker, not one still starting.
async fn waiting_job(env: &TestEnv, user: &str) -> String {
    env.wait_live_workers("ingest", 1, Duration::from_secs(120))
        .await;
    let (status, _) = env
        .operator(Method::POST, "/v1/queues/ingest/pause", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    env.ingest(user, fixture("samples/franz-kafka.jpg")).await
}

async fn resume(env: &TestEnv) {
    let (status, body) = env
        .operator(Method::POST, "/v1/queues/ingest/resume", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A request during an outage must fail fast with a code.
async fn fails_fast(request: reqwest::RequestBuilder, status: StatusCode, code: &str) {
    let started = Instant::now();
    let resp = request.send().await.expect("the intake answers");
    let took = started.elapsed();
    assert_eq!(resp.status(), status);
    assert!(resp.headers().contains_key("retry-after"));
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_unreachable_for_30s_delays_jobs_without_losing_them() {
    let options = EnvOptions {
        proxy_postgres: true,
        ..EnvOptions::default()
    };
    let mut env = TestEnv::start(options).await.unwrap();
    env.spawn_worker().unwrap();
    let job_id = waiting_job(&env, "pia").await;
    let upload = env
        .upload("pia", fixture("samples/astronaut.png"), "image/png")
        .await;

    let proxy = env.postgres_proxy.clone().unwrap();
    proxy.cut();
    let outage = Instant::now();
    resume(&env).await;
    let submit = env
        .http
        .post(env.url("/v1/jobs"))
        .bearer_auth(API_KEY)
        .json(&json!({"kind": "photo.ingest", "user_id": "pia", "input": {"upload_id": upload}}));
    fails_fast(
        submit,
        StatusCode::SERVICE_UNAVAILABLE,
        "database.unavailable",
    )
    .await;
    let show = env
        .http
        .get(env.url(&format!("/v1/jobs/{job_id}")))
        .bearer_auth(API_KEY);
    fails_fast(
        show,
        StatusCode::SERVICE_UNAVAILABLE,
        "database.unavailable",
    )
    .await;
    // The replica stays in the load balancer (it answers each request
    // with its 503 code); operators and metrics see the outage.
    let ready = env.http.get(env.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let (status, health) = env
        .operator(reqwest::Method::GET, "/v1/ops/health", None)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{health}");
    assert_eq!(health["dependencies"]["database"]["ok"], false, "{health}");
    assert_eq!(health["dependencies"]["redis"]["ok"], true, "{health}");
    let metrics = env.intake_metrics().await;
    assert!(
        metrics.contains("atelier_dependency_up{dependency=\"database\"} 0"),
        "{metrics}"
    );

    tokio::time::sleep(OUTAGE.saturating_sub(outage.elapsed())).await;
    proxy.restore().await.unwrap();
    let job = env.wait_final(&job_id, WAIT).await;
    assert_eq!(job["status"], "complete", "{job}");
    assert_eq!(job["attempts"], 1, "an outage spends no attempt: {job}");
    let stats = env.state.queues["ingest"].stats().await.unwrap();
    assert!(stats.deferred_total >= 1, "{stats:?}");
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_started_during_a_postgres_outage_waits_for_it() {
    let options = EnvOptions {
        proxy_postgres: true,
        ..EnvOptions::default()
    };
    let mut env = TestEnv::start(options).await.unwrap();
    let job_id = env.ingest("sol", fixture("samples/franz-kafka.jpg")).await;
    let proxy = env.postgres_proxy.clone().unwrap();
    proxy.cut();
    let index = env.spawn_worker().unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        env.worker_is_running(index),
        "the worker exited instead of waiting:\n{}",
        env.worker_logs()
    );
    proxy.restore().await.unwrap();
    let job = env.wait_final(&job_id, WAIT).await;
    assert_eq!(job["status"], "complete", "{job}");
    assert_eq!(job["attempts"], 1, "{job}");
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_storage_unreachable_for_30s_delays_jobs_without_losing_them() {
    let options = EnvOptions {
        proxy_s3: true,
        ..EnvOptions::default()
    };
    let mut env = TestEnv::start(options).await.unwrap();
    env.spawn_worker().unwrap();
    let job_id = waiting_job(&env, "quinn").await;

    let proxy = env.s3_proxy.clone().unwrap();
    proxy.cut();
    let outage = Instant::now();
    resume(&env).await;
    let upload = env
        .http
        .post(env.url("/v1/uploads"))
        .bearer_auth(API_KEY)
        .header("X-User-Id", "quinn")
        .body(fixture("samples/astronaut.png"));
    fails_fast(
        upload,
        StatusCode::SERVICE_UNAVAILABLE,
        "storage.unavailable",
    )
    .await;

    tokio::time::sleep(OUTAGE.saturating_sub(outage.elapsed())).await;
    assert_ne!(env.job(&job_id).await["status"], "complete");
    proxy.restore().await.unwrap();
    let job = env.wait_final(&job_id, WAIT).await;
    assert_eq!(job["status"], "complete", "{job}");
    assert_eq!(job["attempts"], 1, "an outage spends no attempt: {job}");
    env.finish().await;
}

/// A Redis of the test's own, persisting with AOF like the compose file's.
struct OwnRedis {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    fn start(dir: std::path::PathBuf) -> Self {
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = OwnRedis {
            port,
            dir,
            child: None,
        };
        redis.up();
        redis
    }

    fn up(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "own redis did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM: Redis flushes its AOF and exits, as on a restart.
    fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_loses_no_queued_job() {
    let dir = std::env::temp_dir().join(format!("atelier-redis-{}", uuid::Uuid::new_v4().simple()));
    let mut redis = OwnRedis::start(dir.clone());
    let options = EnvOptions {
        redis_url: Some(redis.url()),
        ..EnvOptions::default()
    };
    let mut env = TestEnv::start(options).await.unwrap();
    env.spawn_worker().unwrap();
    let queued = waiting_job(&env, "rae").await;
    let upload = env
        .upload("rae", fixture("samples/astronaut.png"), "image/png")
        .await;

    redis.down();
    // Operator views need Redis: 503 with a code, quickly.
    let queues = env
        .http
        .get(env.url("/v1/queues"))
        .bearer_auth(atelier_tests::OPERATOR_KEY);
    fails_fast(queues, StatusCode::SERVICE_UNAVAILABLE, "queue.unavailable").await;
    // A job submitted now is recorded; the outbox pushes it once Redis is back.
    let started = Instant::now();
    let (status, body) = env
        .post_json(
            "/v1/jobs",
            &json!({"kind": "photo.ingest", "user_id": "rae", "input": {"upload_id": upload}}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(started.elapsed() < Duration::from_secs(15));
    let submitted = body["job_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(2)).await;

    redis.up();
    // The AOF kept the queue, its job and even its paused flag.
    let (_, queue) = env.operator(Method::GET, "/v1/queues/ingest", None).await;
    assert_eq!(queue["paused"], true, "{queue}");
    resume(&env).await;
    for job_id in [&queued, &submitted] {
        let job = env.wait_final(job_id, WAIT).await;
        assert_eq!(job["status"], "complete", "{job}");
    }
    env.finish().await;
    drop(redis);
    let _ = std::fs::remove_dir_all(dir);
}
