//! Operator controls through the API: dead letters, pause/resume, cancel,
//! rate limits.
use std::time::Duration;

use atelier_tests::{API_KEY, EnvOptions, StatusCode, TestEnv, fixture, large_photo};
use reqwest::Method;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_keeps_killing_its_worker_ends_dead_and_can_be_retried() {
    let options = EnvOptions {
        lease: "2s",
        max_attempts: 2,
        ..EnvOptions::default()
    };
    let mut env = TestEnv::start(options).await.unwrap();
    let job_id = env.ingest("kim", large_photo()).await;
    for attempt in 1..=2 {
        let worker = env.spawn_worker().unwrap();
        env.wait_job(&job_id, WAIT, |j| {
            j["attempts"] == attempt && j["status"] == "processing"
        })
        .await;
        env.kill_worker(worker).await;
    }
    // A healthy worker finds the abandoned lease on its last attempt: dead, not a loop.
    env.spawn_worker().unwrap();
    let job = env.wait_final(&job_id, WAIT).await;
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(job["error"]["code"], "job.worker_lost");

    let (status, dead) = env
        .operator(Method::GET, "/v1/queues/ingest/dead", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{dead}");
    let listed = &dead["jobs"][0];
    assert_eq!(listed["job_id"], job_id.as_str());
    assert_eq!(listed["kind"], "photo.ingest");
    assert_eq!(listed["attempts"], 2);
    assert!(
        listed["last_error"]
            .as_str()
            .unwrap()
            .starts_with("worker.lost"),
        "{listed}"
    );

    // An empty list is no job, and "all" has to be said: neither a stray
    // empty list nor an empty body retries or forgets every dead job.
    for path in [
        "/v1/queues/ingest/dead/retry",
        "/v1/queues/ingest/dead/purge",
    ] {
        let (status, none) = env
            .operator(Method::POST, path, Some(json!({"job_ids": []})))
            .await;
        assert_eq!(status, StatusCode::OK, "{none}");
        assert!(
            none["retried"] == json!([]) || none["purged"] == json!([]),
            "{none}"
        );
        for body in [
            None,
            Some(json!({})),
            Some(json!({"job_ids": [job_id], "all": true})),
        ] {
            let (status, refused) = env.operator(Method::POST, path, body).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
            assert_eq!(refused["error"]["code"], "request.invalid");
        }
    }
    let (_, dead) = env
        .operator(Method::GET, "/v1/queues/ingest/dead", None)
        .await;
    assert_eq!(dead["jobs"][0]["job_id"], job_id.as_str(), "still dead");

    let (status, retried) = env
        .operator(
            Method::POST,
            "/v1/queues/ingest/dead/retry",
            Some(json!({"job_ids": [job_id]})),
        )
        .await;
    assert_eq!(
        (status, retried["retried"].clone()),
        (StatusCode::OK, json!([job_id]))
    );
    let job = env.wait_final(&job_id, WAIT).await;
    assert_eq!(job["status"], "complete", "{job}");
    assert_eq!(
        job["attempts"], 1,
        "a retried dead job starts a fresh budget"
    );
    let (_, dead) = env
        .operator(Method::GET, "/v1/queues/ingest/dead", None)
        .await;
    assert_eq!(dead["jobs"], json!([]));
    env.finish().await;
}

/// The intake retries a dead job in Redis first, then resets its row; a
/// worker can lease it in between, or the intake can die there. Either way
/// the retried job runs: the lease proves the operator's retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_job_retried_in_the_queue_runs_even_before_its_row_is_reset() {
    let options = EnvOptions {
        lease: "2s",
        max_attempts: 1,
        ..EnvOptions::default()
    };
    let mut env = TestEnv::start(options).await.unwrap();
    let job_id = env.ingest("ola", large_photo()).await;
    let worker = env.spawn_worker().unwrap();
    env.wait_job(&job_id, WAIT, |j| j["status"] == "processing")
        .await;
    env.kill_worker(worker).await;
    env.spawn_worker().unwrap();
    let job = env.wait_final(&job_id, WAIT).await;
    assert_eq!(job["status"], "dead", "{job}");

    // Only the queue half of a retry, as if the intake died before the row.
    let retried = env.state.queues["ingest"]
        .dead_retry(atelier_queue::Dead::Only(std::slice::from_ref(&job_id)))
        .await
        .unwrap();
    assert_eq!(retried, vec![job_id.clone()]);
    let job = env
        .wait_job(&job_id, WAIT, |j| j["status"] == "complete")
        .await;
    assert_eq!(job["attempts"], 1, "{job}");
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_jobs_cancel_removes_one_and_resume_runs_the_rest() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker().unwrap();
    let (status, paused) = env
        .operator(Method::POST, "/v1/queues/ingest/pause", None)
        .await;
    assert_eq!(
        (status, paused["paused"].clone()),
        (StatusCode::OK, json!(true))
    );
    let mut socket = env.socket(&env.token("lea").await, None).await;
    let cancelled = env.ingest("lea", fixture("samples/astronaut.png")).await;
    let kept = env.ingest("lea", fixture("samples/franz-kafka.jpg")).await;
    // The worker is up (models loaded) and taking work: a job of another
    // queue, submitted after the paused ones, completes.
    env.wait_live_workers("ingest", 1, WAIT).await;
    let (status, other) = env
        .post_json(
            "/v1/jobs",
            &json!({"kind": "test.staged", "user_id": "lea",
                    "input": {"stages": [{"name": "probe", "ms": 0}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{other}");
    let other = env
        .wait_final(other["job_id"].as_str().unwrap(), WAIT)
        .await;
    assert_eq!(other["status"], "complete", "{other}");
    assert_eq!(
        env.job(&kept).await["status"],
        "queued",
        "a paused queue starts nothing"
    );
    let (_, queue) = env.operator(Method::GET, "/v1/queues/ingest", None).await;
    assert_eq!(
        (queue["depth"].clone(), queue["paused"].clone()),
        (json!(2), json!(true))
    );

    let resp = env
        .http
        .post(env.url(&format!("/v1/jobs/{cancelled}/cancel")))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let job = env.job(&cancelled).await;
    assert_eq!(
        (job["status"].clone(), job["error"]["code"].clone()),
        (json!("error"), json!("job.cancelled"))
    );
    let failed = socket.until("job.failed", &cancelled, WAIT).await;
    assert_eq!(
        failed.last().unwrap()["data"]["error"]["code"],
        "job.cancelled"
    );
    // Cancelling again is refused: the job is final.
    let again = env
        .http
        .post(env.url(&format!("/v1/jobs/{cancelled}/cancel")))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);

    env.operator(Method::POST, "/v1/queues/ingest/resume", None)
        .await;
    assert_eq!(env.wait_final(&kept, WAIT).await["status"], "complete");
    let job = env.job(&cancelled).await;
    assert_eq!(
        (job["status"].clone(), job["attempts"].clone()),
        (json!("error"), json!(0)),
        "never ran"
    );

    // Operator routes are for operator keys only.
    let resp = env
        .http
        .get(env.url("/v1/queues"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let (status, body) = env
        .operator(Method::POST, "/v1/queues/nope/pause", None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("queue.not_found"))
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_stops_at_its_next_stage_when_cancelled() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker().unwrap();
    let job_id = env.ingest("max", large_photo()).await;
    env.wait_job(&job_id, WAIT, |j| j["status"] == "processing")
        .await;
    let resp = env
        .http
        .post(env.url(&format!("/v1/jobs/{job_id}/cancel")))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let job = env.wait_final(&job_id, WAIT).await;
    assert_eq!(
        (job["status"].clone(), job["error"]["code"].clone()),
        (json!("error"), json!("job.cancelled")),
        "{job}"
    );
    let row = atelier_db::photos::get(&env.state.pool, job_id.parse().unwrap())
        .await
        .unwrap();
    assert!(row.is_none(), "a cancelled ingest writes no photo");
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_over_its_rate_gets_429_with_retry_after() {
    let options = EnvOptions {
        extra_env: vec![
            ("ATELIER__INTAKE__RATE_LIMIT_PER_SECOND".into(), "1".into()),
            ("ATELIER__INTAKE__RATE_LIMIT_BURST".into(), "3".into()),
        ],
        ..EnvOptions::default()
    };
    let env = TestEnv::start(options).await.unwrap();
    let url = env.url(&format!("/v1/jobs/{}", uuid::Uuid::new_v4()));
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let resp = env
            .http
            .get(&url)
            .bearer_auth(API_KEY)
            .send()
            .await
            .unwrap();
        statuses.push(resp.status());
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry_after: u64 = resp.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=2).contains(&retry_after), "{retry_after}");
            let body: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(body["error"]["code"], "rate.limited");
        }
    }
    assert_eq!(&statuses[..3], [StatusCode::NOT_FOUND; 3]);
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS);
    // Another key has its own bucket.
    let other = env
        .http
        .get(&url)
        .bearer_auth(atelier_tests::OTHER_API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    env.finish().await;
}

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_cli_shows_queues_scales_pauses_and_cancels() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker().unwrap();
    let done = env.ingest("nia", fixture("samples/astronaut.png")).await;
    assert_eq!(env.wait_final(&done, WAIT).await["status"], "complete");
    // The row completes before the worker settles the lease (which records
    // the service time): wait for the settle, as an operator would see it.
    env.wait_settled("ingest", 1, WAIT).await;

    let table = stdout(&env.ctl(&["queues"]).await);
    assert!(table.starts_with("QUEUE"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("ingest ") && l.contains("running")),
        "{table}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&env.ctl(&["--json", "queues"]).await)).unwrap();
    let ingest = json["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "ingest")
        .unwrap();
    assert_eq!(ingest["live_workers"], 1, "{ingest}");
    assert!(
        ingest["service_time_seconds"].as_f64().unwrap() > 0.0,
        "{ingest}"
    );
    assert_eq!(ingest["recommended_workers"], 1, "idle: the pool minimum");
    assert!(stdout(&env.ctl(&["scale"]).await).contains("idle"));

    assert_eq!(
        stdout(&env.ctl(&["pause", "ingest"]).await),
        "ingest paused\n"
    );
    let waiting = env.ingest("nia", fixture("samples/franz-kafka.jpg")).await;
    let shown: serde_json::Value = serde_json::from_str(&stdout(
        &env.ctl(&["--json", "job", "show", &waiting]).await,
    ))
    .unwrap();
    assert_eq!(
        (shown["status"].clone(), shown["queue"].clone()),
        (json!("queued"), json!("ingest"))
    );
    stdout(&env.ctl(&["job", "cancel", &waiting]).await);
    assert_eq!(env.job(&waiting).await["error"]["code"], "job.cancelled");
    assert_eq!(
        stdout(&env.ctl(&["resume", "ingest"]).await),
        "ingest running\n"
    );
    assert_eq!(
        stdout(&env.ctl(&["dead", "list", "ingest"]).await)
            .lines()
            .count(),
        1,
        "header only"
    );

    let failed = env.ctl(&["pause", "nope"]).await;
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("queue.not_found"));
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_over_the_queue_timeout_is_stopped_and_retried_then_dead() {
    // A 24 MP ingest takes about half a second; the queue allows 150 ms.
    let options = EnvOptions {
        timeout: "150ms",
        max_attempts: 2,
        ..EnvOptions::default()
    };
    let mut env = TestEnv::start(options).await.unwrap();
    let worker = env.spawn_worker().unwrap();
    let job_id = env.ingest("uma", large_photo()).await;
    let job = env.wait_final(&job_id, WAIT).await;
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(job["attempts"], 2, "{job}");
    assert_eq!(job["error"]["code"], "job.timeout", "{job}");
    // The worker survives its stuck runs and keeps serving (a job of
    // another queue, whose timeout no machine's load can trip).
    assert!(env.worker_is_running(worker));
    let (status, body) = env
        .post_json(
            "/v1/jobs",
            &json!({"kind": "vision.embed", "user_id": "uma", "input": {"text": "linen shirt"}}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let next = body["job_id"].as_str().unwrap();
    assert_eq!(env.wait_final(next, WAIT).await["status"], "complete");
    env.finish().await;
}

/// Operators search every client's jobs: by user, kind, status and error
/// code, by a fragment of the input, newest first, page after page by
/// cursor without a row twice; a malformed search is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_search_jobs_by_any_filter_and_page_through_them() {
    let env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let input = |name: &str| json!({"stages": [{"name": name, "ms": 0}]});
    let mut sams = Vec::new();
    for i in 0..5 {
        sams.push(
            env.submit("test.staged", "sam", input(&format!("a{i}")))
                .await,
        );
    }
    env.submit("test.staged", "tom", input("a3")).await;
    // No worker runs them: one ends only by its cancel.
    let (status, body) = env
        .post_json(&format!("/v1/jobs/{}/cancel", sams[1]), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let search = |query: String| {
        let env = &env;
        async move {
            let (status, body) = env
                .operator(Method::GET, &format!("/v1/ops/jobs{query}"), None)
                .await;
            (status, body)
        }
    };
    let ids = |body: &serde_json::Value| -> Vec<String> {
        body["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["job_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let newest_first: Vec<String> = sams.iter().rev().cloned().collect();
    let (status, body) = search("?user_id=sam".into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids(&body), newest_first);
    assert!(body.get("next_cursor").is_none(), "{body}");

    // Two at a time: every row once, in order, then no cursor.
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, body) = search(format!("?user_id=sam&limit=2{cursor}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        paged.extend(ids(&body));
        match body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(paged, newest_first);

    // The input fragment, encoded as a query's value.
    let fragment =
        reqwest::Url::parse_with_params("http://x/", &[("input", r#"{"stages":[{"name":"a3"}]}"#)])
            .unwrap()
            .query()
            .unwrap()
            .to_owned();
    let (_, body) = search(format!("?{fragment}")).await;
    assert_eq!(
        body["jobs"].as_array().unwrap().len(),
        2,
        "sam's and tom's: {body}"
    );
    let (_, body) = search(format!("?user_id=tom&{fragment}")).await;
    assert_eq!(body["jobs"][0]["user_id"], "tom", "{body}");
    let (_, body) = search("?kind=test.staged&status=error&error_code=job.cancelled".into()).await;
    assert_eq!(ids(&body), [sams[1].clone()], "{body}");
    assert_eq!(body["jobs"][0]["error_code"], "job.cancelled");

    for bad in [
        "?status=finished",
        "?kind=nope",
        "?input=%5B1%5D",
        "?cursor=x",
    ] {
        let (status, body) = search(bad.into()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
    env.finish().await;
}

/// `GET /v1/queues/{queue}/history` until one of its points satisfies `found`.
async fn history_until(
    env: &TestEnv,
    found: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (status, body) = env
            .operator(Method::GET, "/v1/queues/staged/history", None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["points"].as_array().unwrap().iter().any(&found) {
            return body;
        }
        assert!(std::time::Instant::now() < deadline, "never: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A queue's state is sampled into PostgreSQL: its history shows the jobs
/// waiting while no worker runs, then the queue drained and its
/// completions per minute once one does; an unknown queue or a malformed
/// `since` is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queues_history_shows_its_depth_and_throughput_over_time() {
    let mut env = TestEnv::start(EnvOptions {
        extra_env: vec![("ATELIER__INTAKE__HISTORY_INTERVAL".into(), "200ms".into())],
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    for i in 0..4 {
        env.submit(
            "test.staged",
            "hal",
            json!({"stages": [{"name": format!("s{i}"), "ms": 0}]}),
        )
        .await;
    }
    let body = history_until(&env, |p| p["depth"] == 4).await;
    assert!(body["interval_seconds"].as_f64().unwrap() < 1.0, "{body}");
    env.spawn_worker_with(&[("ATELIER__WORKER__QUEUES", "staged")])
        .unwrap();
    let body = history_until(&env, |p| {
        p["depth"] == 0 && p["completed_per_min"].as_f64().is_some_and(|r| r > 0.0)
    })
    .await;
    // Oldest first.
    let times: Vec<&str> = body["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    let (status, _) = env
        .operator(Method::GET, "/v1/queues/nope/history", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = env
        .operator(
            Method::GET,
            "/v1/queues/staged/history?since=yesterday",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    env.finish().await;
}
