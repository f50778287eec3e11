//! The job runtime under failure: fenced leases when a worker's Redis
//! stalls, resumable stages after SIGKILL, the reconciler after Redis loses
//! a queue, and the memory guard. Jobs are the test-only `test.staged` kind
//! (stages that sleep, checkpoint and write one object each), served by
//! workers on the `staged` queue alone (no models to load).
use std::time::{Duration, Instant};

use atelier_db::{DbError, Fence};
use atelier_jobs::{Ended, ErrorBody, ErrorCode, JobStatus};
use atelier_tests::{EnvOptions, StatusCode, TestEnv};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(90);
const STAGED_ONLY: (&str, &str) = ("ATELIER__WORKER__QUEUES", "staged");

async fn submit(env: &TestEnv, user: &str, stages: &[(&str, u64)]) -> String {
    submit_at(env, user, stages, 5).await
}

/// [`submit`] at a priority (0–9).
async fn submit_at(env: &TestEnv, user: &str, stages: &[(&str, u64)], priority: u8) -> String {
    let stages: Vec<Value> = stages
        .iter()
        .map(|(name, ms)| json!({"name": name, "ms": ms}))
        .collect();
    let (status, body) = env
        .post_json(
            "/v1/jobs",
            &json!({"kind": "test.staged", "user_id": user, "priority": priority,
                    "input": {"stages": stages}}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["job_id"].as_str().unwrap().to_owned()
}

/// `(stage, attempt)` of each stage in the result.
fn stage_attempts(job: &Value) -> Vec<(String, u64)> {
    job["result"]["stages"]
        .as_array()
        .unwrap_or_else(|| panic!("no stages in {job}"))
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["attempt"].as_u64().unwrap(),
            )
        })
        .collect()
}

async fn stage_objects(env: &TestEnv, job_id: &str) -> Vec<String> {
    let mut keys = env
        .state
        .storage
        .list(&format!("jobs/{job_id}/stages"))
        .await
        .unwrap();
    keys.sort();
    keys
}

/// A worker's Redis stalls (connections open, nothing moving) for longer
/// than the lease while its job runs; a second worker takes the job over and
/// resumes it after its last checkpoint. The stalled run stops before Redis
/// could hand its job out (it never writes again), and when the stall ends
/// its late commands change nothing: one completion, one set of objects,
/// attempts counted right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_redis_stalls_past_its_lease_loses_the_job_to_another_once() {
    let mut env = TestEnv::start(EnvOptions {
        lease: "2s",
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    let (stalled, proxy) = env.spawn_worker_behind_proxy(&[STAGED_ONLY]).await.unwrap();
    env.wait_live_workers("staged", 1, WAIT).await;
    let mut socket = env.socket(&env.token("rio").await, None).await;
    let job_id = submit(
        &env,
        "rio",
        &[("s1", 600), ("s2", 1500), ("s3", 1500), ("s4", 600)],
    )
    .await;
    // s2 has started (s1 is checkpointed): cut the worker off from Redis.
    env.wait_job(&job_id, WAIT, |j| j["progress"].as_i64() >= Some(25))
        .await;
    proxy.stall();
    let stalled_at = Instant::now();
    env.spawn_worker_with(&[STAGED_ONLY]).unwrap();
    let job = env.wait_final(&job_id, WAIT).await;
    let took_over = stalled_at.elapsed();
    proxy.resume();

    assert_eq!(job["status"], "complete", "{job}");
    assert_eq!(job["attempts"], 2, "{job}");
    // Stages finished by the stalled run are not run again; the rest are
    // the second run's. Every stage ran exactly once.
    let runs = stage_attempts(&job);
    let names: Vec<&str> = runs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["s1", "s2", "s3", "s4"]);
    assert_eq!(runs[0].1, 1, "s1 finished before the stall: {runs:?}");
    assert_eq!(runs[3].1, 2, "s4 is the new holder's: {runs:?}");
    assert!(
        runs.windows(2).all(|w| w[0].1 <= w[1].1),
        "first run's stages, then the second's: {runs:?}"
    );
    // Both runs' costs are accounted (each is written as its run ends).
    env.wait_job(&job_id, WAIT, |j| j["cost"]["runs"] == 2)
        .await;
    // One object per stage, the ones the result names.
    let expected: Vec<String> = job["result"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap().to_owned())
        .collect();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(stage_objects(&env, &job_id).await, expected_sorted);
    assert!(took_over < Duration::from_secs(30), "{took_over:?}");

    // The stalled worker's late commands arrive now: nothing changes.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = env.job(&job_id).await;
    assert_eq!(
        (after["status"].clone(), after["attempts"].clone()),
        (json!("complete"), json!(2))
    );
    let stats = env.state.queues["staged"].stats().await.unwrap();
    assert_eq!(
        (stats.completed_total, stats.in_flight, stats.depth()),
        (1, 0, 0),
        "{stats:?}"
    );
    let log = env.worker_log(stalled);
    assert!(
        log.contains("lease not renewed within its term")
            && log.contains("run stopped: its lease was lost"),
        "{log}"
    );
    // Exactly one completion event reached the owner.
    let events = socket.until("job.completed", &job_id, WAIT).await;
    assert!(!events.is_empty());
    while let Some(event) = socket.next(Duration::from_secs(2)).await {
        assert!(
            !(event["type"] == "job.completed" && event["job_id"] == job_id.as_str()),
            "a second completion: {event}"
        );
    }
    env.finish().await;
}

/// A run that finishes while its Redis is stalled completes the row (it
/// still holds it), but its acknowledgement arrives only after the lease
/// expired and another worker acknowledged the redelivery: the queue refuses
/// it as stale and counts it, and the job stays complete, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_settlement_from_a_stalled_worker_is_refused_and_counted() {
    let mut env = TestEnv::start(EnvOptions {
        lease: "6s",
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    let (stalled, proxy) = env.spawn_worker_behind_proxy(&[STAGED_ONLY]).await.unwrap();
    env.wait_live_workers("staged", 1, WAIT).await;
    let job_id = submit(&env, "sol", &[("s1", 200), ("s2", 1500)]).await;
    env.wait_job(&job_id, WAIT, |j| j["progress"].as_i64() >= Some(50))
        .await;
    proxy.stall();
    // The run finishes during the stall and completes its row.
    let job = env.wait_final(&job_id, WAIT).await;
    assert_eq!(job["status"], "complete", "{job}");
    env.spawn_worker_with(&[STAGED_ONLY]).unwrap();
    // The second worker gets the job once its lease expires, finds the row
    // final and acknowledges it.
    env.wait_settled("staged", 1, WAIT).await;
    proxy.resume();
    let deadline = Instant::now() + WAIT;
    let stats = loop {
        let stats = env.state.queues["staged"].stats().await.unwrap();
        if stats.stale_total >= 1 {
            break stats;
        }
        assert!(
            Instant::now() < deadline,
            "no stale settlement counted: {stats:?}\n{}",
            env.worker_logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (stats.completed_total, stats.in_flight),
        (1, 0),
        "{stats:?}"
    );
    let job = env.job(&job_id).await;
    assert_eq!(job["status"], "complete");
    assert_eq!(job["attempts"], 1, "the redelivery did not run: {job}");
    assert_eq!(
        stage_attempts(&job),
        [("s1".to_owned(), 1), ("s2".to_owned(), 1)],
        "the redelivery ran nothing"
    );
    assert!(env.worker_is_running(stalled));
    env.finish().await;
}

/// Every row write of a run is fenced by its lease token: a run that lost
/// its lease cannot complete, fail, reschedule or checkpoint the job, nor
/// move it out of a state an operator or the queue put it in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writes_of_a_run_that_lost_its_lease_are_refused() {
    let env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let pool = &env.state.pool;
    let id: uuid::Uuid = submit(&env, "tia", &[("s1", 0)]).await.parse().unwrap();
    let old = Fence {
        job: id,
        token: "old:1",
    };
    let new = Fence {
        job: id,
        token: "new:1",
    };
    assert!(
        atelier_db::jobs::start_attempt(pool, old, 1, "w-old")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        atelier_db::jobs::start_attempt(pool, new, 2, "w-new")
            .await
            .unwrap()
            .is_some()
    );
    let result = json!({"stages": []});
    let stale = |r: Result<(), DbError>| matches!(r, Err(DbError::Stale));
    assert!(stale(atelier_db::jobs::complete(pool, old, &result).await));
    assert!(stale(atelier_db::jobs::set_progress(pool, old, 50).await));
    assert!(stale(
        atelier_db::jobs::fail_run(
            pool,
            old,
            Ended::Error,
            &ErrorBody::new(ErrorCode::ImageCorrupt, "x")
        )
        .await
    ));
    assert!(stale(
        atelier_db::jobs::retry_scheduled(pool, old, &ErrorBody::new(ErrorCode::Internal, "x"))
            .await
    ));
    assert!(stale(
        atelier_db::stages::record(pool, old, 0, "s1", 1, &json!(1)).await
    ));
    assert!(
        atelier_db::stages::finished(pool, id)
            .await
            .unwrap()
            .is_empty()
    );
    let row = atelier_db::jobs::get(pool, id).await.unwrap().unwrap();
    assert_eq!((row.status, row.progress), (JobStatus::Processing, 0));
    // The holder's writes go through, once.
    atelier_db::jobs::complete(pool, new, &result)
        .await
        .unwrap();
    assert!(stale(atelier_db::jobs::complete(pool, new, &result).await));

    // Cancelled, or dead-lettered, while a run still holds its lease: the
    // run's completion cannot undo it.
    for (ended, code) in [
        (Ended::Error, ErrorCode::JobCancelled),
        (Ended::Dead, ErrorCode::JobWorkerLost),
    ] {
        let id: uuid::Uuid = submit(&env, "tia", &[("s1", 0)]).await.parse().unwrap();
        let run = Fence {
            job: id,
            token: "run:1",
        };
        atelier_db::jobs::start_attempt(pool, run, 1, "w")
            .await
            .unwrap();
        let error = ErrorBody::new(code, "by the operator");
        atelier_db::jobs::finish_failed(pool, id, ended, &error)
            .await
            .unwrap();
        assert!(stale(atelier_db::jobs::complete(pool, run, &result).await));
        let row = atelier_db::jobs::get(pool, id).await.unwrap().unwrap();
        assert_eq!(row.status, ended.status());
        assert_eq!(row.error, Some(error));
        assert!(row.result.is_none());
    }
    env.finish().await;
}

/// A worker SIGKILLed in the third of four stages: the next run resumes at
/// the third stage (the first two are not run again) and reports each stage
/// it runs as progress.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_in_its_third_stage_resumes_at_the_third_stage() {
    let mut env = TestEnv::start(EnvOptions {
        lease: "2s",
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    let first = env.spawn_worker_with(&[STAGED_ONLY]).unwrap();
    let mut socket = env.socket(&env.token("una").await, None).await;
    let job_id = submit(
        &env,
        "una",
        &[("fetch", 300), ("fit", 300), ("mesh", 4000), ("store", 300)],
    )
    .await;
    env.wait_job(&job_id, WAIT, |j| j["progress"].as_i64() >= Some(50))
        .await;
    env.kill_worker(first).await;
    assert_eq!(env.job(&job_id).await["status"], "processing");
    env.spawn_worker_with(&[STAGED_ONLY]).unwrap();
    let job = env.wait_final(&job_id, WAIT).await;
    assert_eq!(job["status"], "complete", "{job}");
    assert_eq!(job["attempts"], 2);
    assert_eq!(
        stage_attempts(&job),
        [
            ("fetch".to_owned(), 1),
            ("fit".to_owned(), 1),
            ("mesh".to_owned(), 2),
            ("store".to_owned(), 2)
        ]
    );
    assert_eq!(stage_objects(&env, &job_id).await.len(), 4);
    // Progress named each stage as it started: the first run's three, then
    // the second run's two, marked as a resumed run.
    let events = socket.until("job.completed", &job_id, WAIT).await;
    let stages: Vec<(String, bool)> = events
        .iter()
        .filter(|e| e["type"] == "job.progress" && e["data"]["position"].is_number())
        .map(|e| {
            (
                e["data"]["stage"].as_str().unwrap().to_owned(),
                e["data"]["resumed"].as_bool().unwrap(),
            )
        })
        .collect();
    // The kill can land between the first run's mesh stage writing its
    // progress to the row (what the test waits for) and publishing it:
    // that one event may be missing, never any of the resumed run's.
    let named = |list: &[(&str, bool)]| -> Vec<(String, bool)> {
        list.iter().map(|(s, r)| ((*s).to_owned(), *r)).collect()
    };
    let resumed = [("mesh", true), ("store", true)];
    let whole = [
        [("fetch", false), ("fit", false), ("mesh", false)].as_slice(),
        &resumed,
    ]
    .concat();
    let cut = [[("fetch", false), ("fit", false)].as_slice(), &resumed].concat();
    assert!(
        stages == named(&whole) || stages == named(&cut),
        "{stages:?}"
    );
    env.finish().await;
}

/// Redis loses a queue (its keys deleted, as after a restart without
/// persistence or a failover to a lagging replica) with 1,000 jobs waiting
/// and three running. The reconciler finds every row whose job is gone and
/// pushes it again: each job completes, once; the runs that were cut off
/// count as attempts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_whose_queue_redis_lost_are_pushed_again_and_complete_once_each() {
    let mut env = TestEnv::start(EnvOptions {
        // Renewed every 1.3 s: a 2 s lease (renewed every 0.7 s) was lost
        // once, on a 2-core machine loaded by a second test run, by a run
        // that should have completed, which then counted one attempt too
        // many.
        lease: "4s",
        extra_env: vec![
            ("ATELIER__INTAKE__RECONCILE_INTERVAL".into(), "500ms".into()),
            ("ATELIER__INTAKE__RECONCILE_AFTER".into(), "1s".into()),
        ],
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    // Everything submitted before the worker starts, the three long jobs
    // first in priority: its three slots take them, and the quick ones wait
    // however long the 1,000 submissions took on a loaded machine (with
    // the worker already running, a long job could end and a quick one
    // start, and be cut off, before the queue was lost).
    let mut running = Vec::new();
    for _ in 0..3 {
        running.push(submit_at(&env, "vic", &[("long", 15000)], 9).await);
    }
    let mut waiting = Vec::new();
    for _ in 0..1000 {
        waiting.push(submit(&env, "vic", &[("quick", 0)]).await);
    }
    env.spawn_worker_with(&[STAGED_ONLY, ("ATELIER__WORKER__CONCURRENCY", "3")])
        .unwrap();
    for id in &running {
        env.wait_job(id, WAIT, |j| j["status"] == "processing")
            .await;
    }
    // Redis loses the queue.
    let mut redis = env.state.redis.clone();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:{{q:staged}}:*", env.name))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(keys.len() > 1000, "{}", keys.len());
    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut redis)
        .await
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(300);
    for id in running.iter().chain(&waiting) {
        let left = deadline.saturating_duration_since(Instant::now());
        let job = env.wait_final(id, left).await;
        assert_eq!(
            job["status"],
            "complete",
            "{job}\n{}",
            env.worker_logs_about(id)
        );
    }
    // Costs are written before each settle: once all settled, all are there.
    env.wait_settled("staged", 1003, WAIT).await;
    for id in &running {
        let job = env.job(id).await;
        // Two runs: the one cut off and the one that completed. The cut-off
        // run counts as an attempt; so, now and then, does a lease taken
        // after the loss that expired while waiting for a slot behind the
        // 15 s runs (it never ran: its late start finds the row held by the
        // next attempt and leaves it; see the note on issue 21).
        let logs = || env.worker_logs_about(id);
        assert_eq!(job["cost"]["runs"], 2, "{job}\n{}", logs());
        let attempts = job["attempts"].as_u64().unwrap();
        assert!(
            (2..=3).contains(&attempts),
            "the cut-off run counts: {job}\n{}",
            logs()
        );
        assert_eq!(stage_attempts(&job), [("long".to_owned(), attempts)]);
    }
    for id in &waiting {
        let job = env.job(id).await;
        assert_eq!(
            (job["attempts"].clone(), job["cost"]["runs"].clone()),
            (json!(1), json!(1)),
            "ran once: {job}"
        );
    }
    let stats = env.state.queues["staged"].stats().await.unwrap();
    assert_eq!(stats.completed_total, 1003, "{stats:?}");
    env.finish().await;
}

/// Past `worker.max_rss` a worker takes no new job, finishes the one it
/// holds and exits 0, for its supervisor to start a fresh one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_past_its_memory_bound_finishes_its_job_and_exits_cleanly() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let held = submit(&env, "wes", &[("work", 2500)]).await;
    // Any process is above 1 MiB: the bound trips at the first check, a
    // second after start, while the job (leased at start) runs.
    // One slot: while the held job runs, nothing else could be leased anyway.
    let worker = env
        .spawn_worker_with(&[
            STAGED_ONLY,
            ("ATELIER__WORKER__CONCURRENCY", "1"),
            ("ATELIER__WORKER__MAX_RSS", "1MiB"),
        ])
        .unwrap();
    env.wait_job(&held, WAIT, |j| j["status"] == "processing")
        .await;
    let later = submit(&env, "wes", &[("work", 0)]).await;
    let status = tokio::time::timeout(WAIT, env.wait_worker_exit(worker))
        .await
        .unwrap_or_else(|_| panic!("worker still running\n{}", env.worker_logs()));
    assert!(status.success(), "{status:?}\n{}", env.worker_logs());
    assert_eq!(env.job(&held).await["status"], "complete");
    assert_eq!(
        env.job(&later).await["status"],
        "queued",
        "no new job after the bound"
    );
    assert!(env.worker_log(worker).contains("memory bound exceeded"));
    env.finish().await;
}

/// A job cancelled while its worker's Redis is stalled: the stalled run can
/// neither see the cancel nor finish, the job moves to a second worker once
/// the lease runs out and that run stops at its first progress report, and
/// when the stall ends nothing the first worker sends undoes the cancel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_cancelled_while_its_run_is_stalled_stays_cancelled() {
    let mut env = TestEnv::start(EnvOptions {
        lease: "2s",
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    let (_stalled, proxy) = env.spawn_worker_behind_proxy(&[STAGED_ONLY]).await.unwrap();
    env.wait_live_workers("staged", 1, WAIT).await;
    let mut socket = env.socket(&env.token("xia").await, None).await;
    let job_id = submit(&env, "xia", &[("s1", 300), ("s2", 4000), ("s3", 300)]).await;
    env.wait_job(&job_id, WAIT, |j| j["progress"].as_i64() >= Some(33))
        .await;
    proxy.stall();
    let resp = env
        .http
        .post(env.url(&format!("/v1/jobs/{job_id}/cancel")))
        .bearer_auth(atelier_tests::API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::ACCEPTED,
        "a running job is flagged"
    );
    env.spawn_worker_with(&[STAGED_ONLY]).unwrap();
    let job = env.wait_final(&job_id, WAIT).await;
    assert_eq!(
        (job["status"].clone(), job["error"]["code"].clone()),
        (json!("error"), json!("job.cancelled")),
        "{job}"
    );
    assert_eq!(job["attempts"], 2, "{job}");
    proxy.resume();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = env.job(&job_id).await;
    assert_eq!(after["status"], "error");
    assert_eq!(after["error"]["code"], "job.cancelled");
    assert!(after.get("result").is_none(), "{after}");
    let events = socket.until("job.failed", &job_id, WAIT).await;
    assert!(
        !events
            .iter()
            .any(|e| e["type"] == "job.completed" && e["job_id"] == job_id.as_str()),
        "{events:?}"
    );
    env.finish().await;
}
