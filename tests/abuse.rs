//! The intake under abuse: unsafe secrets, key rotation.
use std::time::Duration;

use atelier_tests::{EnvOptions, StatusCode, TestEnv, fixture};
use serde_json::{Value, json};

fn with_env(pairs: &[(&str, &str)]) -> EnvOptions {
    EnvOptions {
        extra_env: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..EnvOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_refuse_to_start_on_built_in_empty_or_short_secrets() {
    for (var, value, named) in [
        (
            "ATELIER__INTAKE__TOKEN_SECRET",
            "dev-token-secret-change-me",
            "intake.token_secret is a built-in development value",
        ),
        (
            "ATELIER__INTAKE__OPERATOR_KEYS",
            "dev-operator-key",
            "intake.operator_keys is a built-in development value",
        ),
        (
            "ATELIER__INTAKE__TOKEN_SECRET",
            "",
            "intake.token_secret is empty",
        ),
        (
            "ATELIER__INTAKE__API_KEYS",
            "acme:only-12-chars",
            "intake.api_keys is shorter than 16 characters",
        ),
    ] {
        let refused = match TestEnv::start(with_env(&[(var, value)])).await {
            Ok(_) => panic!("the intake started with {var}={value:?}"),
            Err(e) => format!("{e:#}"),
        };
        assert!(refused.contains(named), "{refused}");
        assert!(refused.contains("ATELIER__DEV_MODE"), "{refused}");
        if !value.is_empty() {
            assert!(
                !refused.contains(value),
                "the value itself is not printed: {refused}"
            );
        }
    }

    // Development mode, said explicitly, accepts the built-in secrets.
    let env = TestEnv::start(with_env(&[
        ("ATELIER__DEV_MODE", "true"),
        (
            "ATELIER__INTAKE__TOKEN_SECRET",
            "dev-token-secret-change-me",
        ),
    ]))
    .await
    .unwrap();

    // A worker signing local object URLs with the built-in key stops at
    // once, naming it; with a real key it runs.
    let root = env.dir.join("objects").display().to_string();
    let local = [
        ("ATELIER__STORAGE__BACKEND", "local"),
        ("ATELIER__STORAGE__LOCAL_ROOT", root.as_str()),
        ("ATELIER__DEV_MODE", "false"),
    ];
    let built_in = [
        local[0],
        local[1],
        local[2],
        ("ATELIER__STORAGE__SIGNING_KEY", "dev-signing-key-change-me"),
    ];
    let (status, log) = env
        .worker_exit(&built_in, Duration::from_secs(60))
        .await
        .expect("the worker refused to start");
    assert!(!status.success());
    assert!(
        log.contains("storage.signing_key is a built-in development value"),
        "{log}"
    );
    let signed = [
        local[0],
        local[1],
        local[2],
        (
            "ATELIER__STORAGE__SIGNING_KEY",
            "0123456789abcdef0123456789abcdef",
        ),
    ];
    assert!(
        env.worker_exit(&signed, Duration::from_secs(3))
            .await
            .is_none(),
        "a worker with a real signing key keeps running"
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_keeps_its_clients_jobs_and_uploads() {
    const OLD: &str = "acme-key-2025-0123456789";
    const NEW: &str = "acme-key-2026-9876543210";
    const OTHER: &str = "globex-key-0123456789";
    let keys = format!("acme:{OLD},acme:{NEW},globex:{OTHER}");
    let env = TestEnv::start(with_env(&[("ATELIER__INTAKE__API_KEYS", &keys)]))
        .await
        .unwrap();
    let http = &env.http;
    let upload: Value = http
        .post(env.url("/v1/uploads"))
        .bearer_auth(OLD)
        .header("X-User-Id", "rita")
        .header("Content-Type", "image/jpeg")
        .body(fixture("samples/franz-kafka.jpg"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let upload_id = upload["upload_id"].as_str().expect("upload id").to_owned();
    let submit = |key: &'static str| {
        http.post(env.url("/v1/jobs"))
            .bearer_auth(key)
            .json(&json!({"kind": "photo.ingest", "user_id": "rita", "input": {"upload_id": upload_id}}))
            .send()
    };
    // The upload made with the old key is the client's under the new one.
    let resp = submit(NEW).await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let job: Value = resp.json().await.unwrap();
    let job_id = job["job_id"].as_str().unwrap();
    for (key, status) in [
        (OLD, StatusCode::OK),
        (NEW, StatusCode::OK),
        (OTHER, StatusCode::NOT_FOUND),
    ] {
        let resp = http
            .get(env.url(&format!("/v1/jobs/{job_id}")))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{key}");
    }
    // Another client cannot use the upload.
    let resp = submit(OTHER).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    env.finish().await;
}
