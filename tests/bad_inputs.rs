//! Bad input through the whole path: each ends in its documented code, the
//! upload is kept, and the worker keeps serving.
use std::time::Duration;

use atelier_tests::{API_KEY, EnvOptions, OTHER_API_KEY, StatusCode, TestEnv, fixture};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_photos_end_in_their_codes_and_the_worker_keeps_serving() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let worker = env.spawn_worker().unwrap();
    let mut socket = env.socket(&env.token("frank").await, None).await;
    let cases = [
        ("tests/data/bad/empty.jpg", "image.corrupt"),
        ("tests/data/bad/truncated.jpg", "image.corrupt"),
        ("tests/data/bad/bomb.png", "image.too_large"),
        ("tests/data/bad/animation.gif", "image.unsupported_format"),
        ("tests/data/bad/random.jpg", "image.unsupported_format"),
    ];
    for (path, code) in cases {
        let job_id = env.ingest("frank", fixture(path)).await;
        let job = env.wait_final(&job_id, WAIT).await;
        assert_eq!(job["status"], "error", "{path}: {job}");
        assert_eq!(job["error"]["code"], code, "{path}: {job}");
        assert!(!job["error"]["message"].as_str().unwrap().is_empty());
        // Bad input is never retried.
        assert_eq!(job["attempts"], 1, "{path}");
        let events = socket.until("job.failed", &job_id, WAIT).await;
        assert_eq!(events.last().unwrap()["data"]["error"]["code"], code);
    }
    // Nothing is lost: every upload is still stored as sent.
    assert_eq!(
        env.state.storage.list("uploads").await.unwrap().len(),
        cases.len()
    );
    assert!(env.worker_is_running(worker), "{}", env.worker_log(worker));
    let good = env
        .ingest("frank", fixture("samples/franz-kafka.jpg"))
        .await;
    assert_eq!(env.wait_final(&good, WAIT).await["status"], "complete");
    env.finish().await;
}

async fn error_of(resp: reqwest::Response) -> (StatusCode, String) {
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .unwrap_or_else(|e| panic!("{status}: body is not JSON: {e}"));
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code: {body}"));
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    (status, code.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_contract_refuses_bad_requests_with_codes() {
    let options = EnvOptions {
        extra_env: vec![("ATELIER__INTAKE__MAX_UPLOAD_BYTES".into(), "100000".into())],
        ..EnvOptions::default()
    };
    let env = TestEnv::start(options).await.unwrap();
    let http = &env.http;
    let jobs = env.url("/v1/jobs");
    let upload = env
        .upload("gina", fixture("samples/franz-kafka.jpg"), "image/jpeg")
        .await;

    let send_json = |body: String, key: Option<&str>| {
        let mut req = http
            .post(&jobs)
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        req.send()
    };
    let cases: Vec<(String, Option<&str>, StatusCode, &str)> = vec![
        ("{\"kind\": \"photo.ingest\",".into(), Some(API_KEY), StatusCode::BAD_REQUEST, "request.malformed_json"),
        (json!({"kind": "photo.resize", "user_id": "gina", "input": {}}).to_string(), Some(API_KEY),
            StatusCode::UNPROCESSABLE_ENTITY, "job.unknown_kind"),
        (json!({"kind": "photo.ingest", "user_id": "gina"}).to_string(), Some(API_KEY),
            StatusCode::UNPROCESSABLE_ENTITY, "request.invalid"),
        (json!({"kind": "photo.ingest", "user_id": "gina", "input": {}}).to_string(), Some(API_KEY),
            StatusCode::UNPROCESSABLE_ENTITY, "request.invalid"),
        (json!({"kind": "photo.ingest", "user_id": "a/b", "input": {"upload_id": upload}}).to_string(),
            Some(API_KEY), StatusCode::UNPROCESSABLE_ENTITY, "request.invalid"),
        // `.` and `..` would be path steps in the user's object keys.
        (json!({"kind": "photo.ingest", "user_id": ".", "input": {"upload_id": upload}}).to_string(),
            Some(API_KEY), StatusCode::UNPROCESSABLE_ENTITY, "request.invalid"),
        (json!({"kind": "photo.ingest", "user_id": "..", "input": {"upload_id": upload}}).to_string(),
            Some(API_KEY), StatusCode::UNPROCESSABLE_ENTITY, "request.invalid"),
        (json!({"kind": "photo.ingest", "user_id": "gina", "input": {"upload_id": uuid::Uuid::new_v4()}}).to_string(),
            Some(API_KEY), StatusCode::UNPROCESSABLE_ENTITY, "upload.not_found"),
        // Someone else's upload is as good as none.
        (json!({"kind": "photo.ingest", "user_id": "hugo", "input": {"upload_id": upload}}).to_string(),
            Some(API_KEY), StatusCode::UNPROCESSABLE_ENTITY, "upload.not_found"),
        (json!({"kind": "photo.ingest", "user_id": "gina", "input": {"upload_id": upload}}).to_string(),
            Some(OTHER_API_KEY), StatusCode::UNPROCESSABLE_ENTITY, "upload.not_found"),
        (json!({"kind": "avatar.build", "user_id": "hugo", "input": {"photos": {"front": upload}, "height_cm": 170.0}}).to_string(),
            Some(API_KEY), StatusCode::UNPROCESSABLE_ENTITY, "upload.not_found"),
        // A stated height outside 50–250 cm is refused at the intake.
        (json!({"kind": "avatar.build", "user_id": "gina", "input": {"photos": {"front": upload}, "height_cm": 20.0}}).to_string(),
            Some(API_KEY), StatusCode::UNPROCESSABLE_ENTITY, "request.invalid"),
        (json!({"kind": "photo.ingest", "user_id": "gina", "input": {"upload_id": upload}}).to_string(),
            None, StatusCode::UNAUTHORIZED, "auth.missing_api_key"),
        (json!({"kind": "photo.ingest", "user_id": "gina", "input": {"upload_id": upload}}).to_string(),
            Some("not-a-real-key"), StatusCode::UNAUTHORIZED, "auth.invalid_api_key"),
        (format!("{{\"kind\":\"photo.ingest\",\"pad\":\"{}\"}}", "x".repeat(70_000)), Some(API_KEY),
            StatusCode::PAYLOAD_TOO_LARGE, "request.too_large"),
    ];
    for (body, key, status, code) in cases {
        let shown: String = body.chars().take(80).collect();
        // Oversized bodies are refused unread: retry a connection reset.
        let mut got = None;
        for _ in 0..5 {
            if let Ok(resp) = send_json(body.clone(), key).await {
                got = Some(error_of(resp).await);
                break;
            }
        }
        assert_eq!(got, Some((status, code.to_owned())), "{shown}");
    }

    let checks = [
        (
            http.post(env.url("/v1/uploads"))
                .bearer_auth(API_KEY)
                .body("abc"),
            StatusCode::BAD_REQUEST,
            "upload.missing_user",
        ),
        (
            http.post(env.url("/v1/uploads"))
                .bearer_auth(API_KEY)
                .header("X-User-Id", "..")
                .body("abc"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid",
        ),
        (
            http.get(env.url("/v1/jobs/not-a-uuid"))
                .bearer_auth(API_KEY),
            StatusCode::NOT_FOUND,
            "job.not_found",
        ),
        (
            http.get(env.url(&format!("/v1/jobs/{}", uuid::Uuid::new_v4())))
                .bearer_auth(API_KEY),
            StatusCode::NOT_FOUND,
            "job.not_found",
        ),
        (
            http.get(env.url("/v1/nothing-here")),
            StatusCode::NOT_FOUND,
            "route.not_found",
        ),
        (
            http.delete(env.url("/v1/jobs")).bearer_auth(API_KEY),
            StatusCode::METHOD_NOT_ALLOWED,
            "method.not_allowed",
        ),
        (
            http.get(env.url("/v1/events?token=forged.token")),
            StatusCode::UNAUTHORIZED,
            "auth.invalid_token",
        ),
        (
            http.get(env.url("/objects/uploads/x?expires=9999999999&sig=00")),
            StatusCode::FORBIDDEN,
            "object.invalid_signature",
        ),
    ];
    for (request, status, code) in checks {
        assert_eq!(
            error_of(request.send().await.unwrap()).await,
            (status, code.to_owned())
        );
    }

    // Refused from Content-Length before reading: the client may see the
    // connection reset before it reads the 413, so a reset is retried. The
    // server closes that connection with the body unread: a client of its
    // own (no pooled connections) keeps it from being reused for the
    // requests below.
    let unpooled = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut refused = None;
    for _ in 0..5 {
        let sent = unpooled
            .post(env.url("/v1/uploads"))
            .bearer_auth(API_KEY)
            .header("X-User-Id", "gina")
            .body(vec![0u8; 100_001])
            .send()
            .await;
        if let Ok(resp) = sent {
            refused = Some(error_of(resp).await);
            break;
        }
    }
    assert_eq!(
        refused,
        Some((StatusCode::PAYLOAD_TOO_LARGE, "upload.too_large".to_owned()))
    );

    // A job is visible only to the API client that submitted it.
    let (_, accepted) = env
        .post_json(
            "/v1/jobs",
            &json!({"kind": "photo.ingest", "user_id": "gina", "input": {"upload_id": upload}}),
        )
        .await;
    let url = env.url(&format!(
        "/v1/jobs/{}",
        accepted["job_id"].as_str().unwrap()
    ));
    let resp = http
        .get(&url)
        .bearer_auth(OTHER_API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(resp).await,
        (StatusCode::NOT_FOUND, "job.not_found".to_owned())
    );
    assert_eq!(
        http.get(&url)
            .bearer_auth(API_KEY)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_photos_end_in_their_codes_in_every_vision_job() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let worker = env.spawn_worker().unwrap();
    let cases = [
        ("tests/data/bad/empty.jpg", "image.corrupt"),
        ("tests/data/bad/truncated.jpg", "image.corrupt"),
        ("tests/data/bad/bomb.png", "image.too_large"),
        ("tests/data/bad/animation.gif", "image.unsupported_format"),
        ("tests/data/bad/random.jpg", "image.unsupported_format"),
    ];
    let kinds = [
        "vision.pose",
        "vision.segment",
        "vision.skin_tone",
        "vision.tag",
        "vision.embed",
    ];
    let mut jobs = Vec::new();
    for (path, code) in cases {
        let upload = env
            .upload("vic", fixture(path), "application/octet-stream")
            .await;
        for kind in kinds {
            let (status, body) = env
                .post_json(
                    "/v1/jobs",
                    &json!({"kind": kind, "user_id": "vic", "input": {"upload_id": upload}}),
                )
                .await;
            assert_eq!(status, StatusCode::ACCEPTED, "{kind} {path}: {body}");
            jobs.push((
                kind,
                path,
                code,
                body["job_id"].as_str().unwrap().to_owned(),
            ));
        }
    }
    for (kind, path, code, job_id) in jobs {
        let job = env.wait_final(&job_id, WAIT).await;
        assert_eq!(
            (job["status"].as_str(), job["error"]["code"].as_str()),
            (Some("error"), Some(code)),
            "{kind} {path}: {job}"
        );
        assert_eq!(
            job["attempts"], 1,
            "{kind} {path}: bad input is not retried"
        );
    }
    // Text input is checked at intake: empty, too long, or both inputs.
    for input in [
        json!({"text": "   "}),
        json!({"text": "x".repeat(2049)}),
        json!({"text": "dress", "upload_id": uuid::Uuid::new_v4()}),
        json!({}),
    ] {
        let (status, body) = env
            .post_json(
                "/v1/jobs",
                &json!({"kind": "vision.embed", "user_id": "vic", "input": input}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{input}: {body}");
        assert_eq!(body["error"]["code"], "request.invalid", "{input}: {body}");
    }
    assert!(env.worker_is_running(worker), "{}", env.worker_log(worker));
    env.finish().await;
}
