//! Crashes and signals: nothing lost, nothing done twice.
use std::time::{Duration, Instant};

use atelier_tests::{EnvOptions, TestEnv, fixture, large_photo};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

async fn wait_processing(env: &TestEnv, job_id: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let job = env.job(job_id).await;
        match job["status"].as_str() {
            Some("processing") => return,
            Some("queued") => {}
            _ => panic!("job left processing before the signal: {job}"),
        }
        assert!(Instant::now() < deadline, "job never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn stored_keys(env: &TestEnv, result: &Value) -> Vec<String> {
    let avatar = result["avatar_id"].as_str().unwrap();
    let mut keys = env
        .state
        .storage
        .list(&format!("avatars/photos/original/ivy/{avatar}"))
        .await
        .unwrap();
    keys.extend(
        env.state
            .storage
            .list(&format!("avatars/photos/processed/ivy/{avatar}"))
            .await
            .unwrap(),
    );
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_has_its_job_run_again_once() {
    let mut env = TestEnv::start(EnvOptions {
        lease: "3s",
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    // Both workers are up (models loaded) before the job arrives, so what is
    // measured after the kill is the lease, not a start-up.
    env.spawn_worker().unwrap();
    env.spawn_worker().unwrap();
    env.wait_live_workers("ingest", 2, WAIT).await;
    let job_id = env.ingest("ivy", large_photo()).await;
    wait_processing(&env, &job_id).await;
    let holder = env.lease_holder("ingest", &job_id).await;
    env.kill_worker(holder).await;
    let killed_at = Instant::now();
    let rerun = env
        .wait_job(&job_id, WAIT, |j| {
            j["attempts"] == 2 || j["status"] != "processing"
        })
        .await;
    let recovered = killed_at.elapsed();
    assert_eq!(rerun["attempts"], 2, "{rerun}");
    // The run starts again within the lease (3 s) and a little slack for a
    // loaded machine.
    assert!(recovered < Duration::from_secs(3 + 3), "{recovered:?}");
    let job = env.wait_final(&job_id, WAIT).await;
    assert_eq!(job["status"], "complete", "{job}");
    assert_eq!(job["attempts"], 2, "the killed run counts as an attempt");

    // One row, and exactly the result's objects: the re-run overwrote, never added.
    let row = atelier_db::photos::get(&env.state.pool, job_id.parse().unwrap())
        .await
        .unwrap();
    assert!(row.is_some());
    let result = &job["result"];
    let mut expected: Vec<String> = std::iter::once(&result["original"])
        .chain(result["variants"].as_array().unwrap())
        .chain([&result["thumbnail"]])
        .map(|o| o["key"].as_str().unwrap().to_owned())
        .collect();
    expected.sort();
    let mut stored = stored_keys(&env, result).await;
    stored.sort();
    assert_eq!(stored, expected);
    assert_eq!(stored.len(), 1 + 4 * 2 + 1);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_in_flight_job_finish_before_exit() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let worker = env.spawn_worker().unwrap();
    let job_id = env.ingest("ivy", large_photo()).await;
    wait_processing(&env, &job_id).await;
    let status = env.terminate_worker(worker).await;
    assert!(
        status.success(),
        "worker exit {status:?}: {}",
        env.worker_log(worker)
    );
    // No other worker runs: the job finished inside the draining one.
    let job = env.job(&job_id).await;
    assert_eq!(job["status"], "complete", "{job}");
    assert_eq!(job["attempts"], 1);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_recording_and_enqueueing_loses_no_job() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let upload = env
        .upload("jude", fixture("samples/astronaut.png"), "image/png")
        .await;
    // Exactly what the intake does first; then it "dies" before the push.
    let id = uuid::Uuid::new_v4();
    let input = serde_json::json!({"upload_id": upload, "avatar_id": uuid::Uuid::new_v4()});
    let client = env.state.api_keys.check(atelier_tests::API_KEY).unwrap();
    atelier_db::jobs::submit(
        &env.state.pool,
        atelier_db::NewJob {
            id,
            kind: atelier_jobs::JobKind::PhotoIngest,
            contract_version: 1,
            queue: "ingest",
            client_id: &client.0,
            user_id: &"jude".parse().unwrap(),
            priority: atelier_jobs::Priority::default(),
            idempotency_key: None,
            request_hash: "h",
            input,
            notify: None,
        },
        i64::MAX,
    )
    .await
    .unwrap();
    assert_eq!(env.state.queues["ingest"].stats().await.unwrap().depth(), 0);
    env.spawn_worker().unwrap();
    // The outbox relay pushes it after the grace period; the worker runs it.
    let job = env.wait_final(&id.to_string(), WAIT).await;
    assert_eq!(job["status"], "complete", "{job}");
    let row = atelier_db::jobs::get(&env.state.pool, id)
        .await
        .unwrap()
        .unwrap();
    assert!(row.enqueued_at.is_some());
    // Relaying again pushes nothing: the job is already accounted for.
    assert_eq!(atelier_intake::relay_once(&env.state).await.unwrap(), 0);
    env.finish().await;
}
