//! Past one Redis: the queue, events and rate limiter on a Redis Cluster of
//! three masters (each with a replica) started on loopback for the test, and
//! a failover of the master holding a queue while its jobs run.
use std::time::{Duration, Instant};

use atelier_tests::{EnvOptions, RedisCluster, StatusCode, TestEnv, fixture};
use reqwest::Method;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(90);
const QUEUES: (&str, &str) = ("ATELIER__WORKER__QUEUES", "ingest,staged");

async fn on_cluster(cluster: &RedisCluster, extra: &[(&str, &str)]) -> TestEnv {
    let mut extra_env = vec![("ATELIER__REDIS__CLUSTER".to_owned(), "true".to_owned())];
    extra_env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    TestEnv::start(EnvOptions {
        lease: "2s",
        redis_url: Some(cluster.url()),
        extra_env,
        ..EnvOptions::default()
    })
    .await
    .unwrap()
}

/// Submit a staged job, retrying `503` as a client would (a failover makes
/// Redis briefly unavailable to the intake's rate limiter).
async fn staged(env: &TestEnv, user: &str, ms: u64) -> String {
    let body = json!({"kind": "test.staged", "user_id": user,
                      "input": {"stages": [{"name": "a", "ms": ms}, {"name": "b", "ms": 0}]}});
    for _ in 0..100 {
        let (status, reply) = env.post_json("/v1/jobs", &body).await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
        return reply["job_id"].as_str().unwrap().to_owned();
    }
    panic!("the intake stayed unavailable");
}

/// The core of the end-to-end suite on a cluster: a photo ingest with its
/// events over the socket and a replay after reconnecting, a staged job,
/// pause / cancel / resume, queue stats and the rate limiter's bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_core_of_the_backbone_runs_on_a_three_master_cluster() {
    let cluster = RedisCluster::start(3, 1).await.unwrap();
    let mut env = on_cluster(&cluster, &[]).await;
    env.spawn_worker_with(&[QUEUES]).unwrap();
    env.wait_live_workers("ingest", 1, WAIT).await;

    // A photo, end to end, its events live on the socket.
    let mut socket = env.socket(&env.token("cleo").await, None).await;
    let photo = env.ingest("cleo", fixture("samples/astronaut.png")).await;
    let events = socket.until("job.completed", &photo, WAIT).await;
    assert!(events.iter().any(|e| e["type"] == "photo.ingested"));
    let job = env.job(&photo).await;
    assert_eq!(job["status"], "complete", "{job}");
    let thumb = job["result"]["thumbnail"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = env.http.get(&thumb).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // Reconnecting after the first event replays the rest, in order.
    let first_id = events[0]["event_id"].as_str().unwrap();
    let mut again = env.socket(&env.token("cleo").await, Some(first_id)).await;
    let replayed = again.until("job.completed", &photo, WAIT).await;
    assert_eq!(replayed.len(), events.len() - 1);

    // A staged job; then pause, cancel one waiting job, resume.
    let done = staged(&env, "cleo", 0).await;
    assert_eq!(env.wait_final(&done, WAIT).await["status"], "complete");
    env.operator(Method::POST, "/v1/queues/staged/pause", None)
        .await;
    let cancelled = staged(&env, "cleo", 0).await;
    let kept = staged(&env, "cleo", 0).await;
    let resp = env
        .http
        .post(env.url(&format!("/v1/jobs/{cancelled}/cancel")))
        .bearer_auth(atelier_tests::API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (_, queue) = env.operator(Method::GET, "/v1/queues/staged", None).await;
    assert_eq!(
        (queue["depth"].clone(), queue["paused"].clone()),
        (json!(1), json!(true))
    );
    env.operator(Method::POST, "/v1/queues/staged/resume", None)
        .await;
    assert_eq!(env.wait_final(&kept, WAIT).await["status"], "complete");
    assert_eq!(env.job(&cancelled).await["error"]["code"], "job.cancelled");

    // The row is final before the worker settles in Redis: wait for that.
    env.wait_settled("staged", 2, WAIT).await;
    let stats = env.state.queues["staged"].stats().await.unwrap();
    assert_eq!(
        (stats.completed_total, stats.in_flight, stats.depth()),
        (2, 0, 0),
        "{stats:?}"
    );

    // The shared token bucket lives on the cluster too.
    let limiter = atelier_queue::RateLimiter::new(env.state.redis.clone(), &env.name, 1.0, 3);
    for _ in 0..3 {
        assert_eq!(limiter.admit("k").await.unwrap(), Ok(()));
    }
    assert!(limiter.admit("k").await.unwrap().is_err());
    env.finish().await;
}

/// The master holding the staged queue fails over (its replica takes over
/// at once; what was not replicated yet is lost) while 200 jobs run and
/// arrive. Workers and intake follow the new master, the reconciler pushes
/// again whatever the failover lost, and every job completes, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_of_the_master_holding_a_queue_loses_no_job() {
    let cluster = RedisCluster::start(3, 1).await.unwrap();
    let mut env = on_cluster(
        &cluster,
        &[
            ("ATELIER__INTAKE__RECONCILE_INTERVAL", "500ms"),
            ("ATELIER__INTAKE__RECONCILE_AFTER", "2s"),
        ],
    )
    .await;
    env.spawn_worker_with(&[QUEUES]).unwrap();
    env.wait_live_workers("staged", 1, WAIT).await;
    let mut jobs = Vec::new();
    for i in 0..200 {
        jobs.push(staged(&env, "dora", 20).await);
        if i == 80 {
            let key = format!("{}:{{q:staged}}:ready", env.name);
            let (before, _) = cluster.owner_of(&key).await.unwrap();
            let after = cluster.fail_over(&key).await.unwrap();
            assert_ne!(before, after, "the queue's slot moved to the replica");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(240);
    for id in &jobs {
        let left = deadline.saturating_duration_since(Instant::now());
        let job: Value = env.wait_final(id, left).await;
        assert_eq!(job["status"], "complete", "{job}");
        // The run's cost is written just after the row completes.
        let job = env
            .wait_job(id, WAIT, |j| j["cost"]["runs"].is_number())
            .await;
        // Stage outputs were written once per stage that ran; a run cut off
        // by the failover may have run again, never more.
        assert!(job["cost"]["runs"].as_i64().unwrap() <= 2, "{job}");
        assert_eq!(job["result"]["stages"].as_array().unwrap().len(), 2);
    }
    env.finish().await;
}
