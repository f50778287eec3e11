//! The web console (`/console`): sessions, roles, form tokens and the audit
//! log over HTTP; then, in Debian's Chromium (`tests/console/check.mjs`,
//! npm packages installed by scripts/test.sh), what an operator does with
//! it against the real stack, each page scanned by axe-core.
use std::time::Duration;

use atelier_tests::{API_KEY, EnvOptions, OPERATOR_KEY, StatusCode, TestEnv};
use reqwest::Method;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

const VIEWER_KEY: &str = "test-viewer-key-0001";
const WAIT: Duration = Duration::from_secs(60);

fn console_env() -> Vec<(String, String)> {
    vec![
        (
            "ATELIER__INTAKE__VIEWER_KEYS".into(),
            format!("vera:{VIEWER_KEY}"),
        ),
        ("ATELIER__INTAKE__HISTORY_INTERVAL".into(), "1s".into()),
    ]
}

/// A browser without one: redirects not followed, cookies by hand.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Sign in with `key`: the session cookie's `name=value` and its whole line.
async fn sign_in(env: &TestEnv, key: &str) -> (String, String) {
    let resp = client()
        .post(env.url("/console/sign-in"))
        .form(&[("key", key)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let line = resp.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    (line.split(';').next().unwrap().to_owned(), line)
}

async fn get(env: &TestEnv, cookie: &str, path: &str) -> (StatusCode, HeaderMap, String) {
    let resp = client()
        .get(env.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (
        resp.status(),
        resp.headers().clone(),
        resp.text().await.unwrap(),
    )
}

/// The form token in a page.
fn token(page: &str) -> String {
    let at = page.find("name=\"_csrf\" value=\"").expect("a form token") + 20;
    page[at..at + page[at..].find('"').unwrap()].to_owned()
}

async fn post(
    env: &TestEnv,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let resp = client()
        .post(env.url(path))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap();
    let code = resp
        .headers()
        .get("x-error-code")
        .map(|v| v.to_str().unwrap().to_owned())
        .or_else(|| {
            resp.headers()
                .get(LOCATION)
                .map(|v| v.to_str().unwrap().to_owned())
        })
        .unwrap_or_default();
    (resp.status(), code)
}

async fn paused(env: &TestEnv, queue: &str) -> bool {
    let (_, q) = env
        .operator(Method::GET, &format!("/v1/queues/{queue}"), None)
        .await;
    q["paused"].as_bool().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_opens_a_session_with_a_key_and_every_action_needs_its_role_and_token() {
    let env = TestEnv::start(EnvOptions {
        extra_env: console_env(),
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    // Without a session every page sends the browser to sign in.
    let (status, headers, _) = get(&env, "", "/console/queues").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[LOCATION], "/console/sign-in");
    // A key that is a client's (or nobody's) does not sign in.
    for key in [API_KEY, "not-a-key-at-all"] {
        let resp = client()
            .post(env.url("/console/sign-in"))
            .form(&[("key", key)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(resp.headers()["x-error-code"], "auth.invalid_api_key");
        assert!(resp.headers().get(SET_COOKIE).is_none());
    }

    let (viewer, line) = sign_in(&env, VIEWER_KEY).await;
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(line.contains(flag), "{line}");
    }
    assert!(!line.contains(VIEWER_KEY), "{line}");
    let (status, headers, page) = get(&env, &viewer, "/console/queues").await;
    assert_eq!(status, StatusCode::OK);
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(page.contains("vera") && page.contains("viewer"), "{page}");
    assert!(!page.contains("Pause"), "a viewer is offered an action");
    let viewer_token = token(&page);
    // Pausing the staged queue, as `cookie` with `form` (and `origin`):
    // the status and the refusal's code (or where it redirects).
    let pause =
        |cookie: String, form: Vec<(&'static str, String)>, origin: Option<&'static str>| {
            let mut request = client()
                .post(env.url("/console/queues/staged/pause"))
                .header("cookie", cookie)
                .form(&form);
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            async move {
                let resp = request.send().await.unwrap();
                let code = resp
                    .headers()
                    .get("x-error-code")
                    .or_else(|| resp.headers().get(LOCATION))
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                (resp.status(), code)
            }
        };
    let forbidden = |code: &str| (StatusCode::FORBIDDEN, code.to_owned());
    let with = |token: &str| vec![("_csrf", token.to_owned())];
    assert_eq!(
        pause(viewer.clone(), with(&viewer_token), None).await,
        forbidden("auth.forbidden")
    );
    assert!(!paused(&env, "staged").await);

    let (operator, _) = sign_in(&env, OPERATOR_KEY).await;
    let (_, _, page) = get(&env, &operator, "/console/queues").await;
    let operator_token = token(&page);
    assert_ne!(operator_token, viewer_token);
    // Forged: no token, another session's token, another site's origin.
    for (form, origin) in [
        (vec![], None),
        (with(&viewer_token), None),
        (with(&operator_token), Some("https://evil.example")),
    ] {
        assert_eq!(
            pause(operator.clone(), form, origin).await,
            forbidden("auth.csrf")
        );
    }
    assert!(!paused(&env, "staged").await);
    // With its token the operator acts, and the audit log says who did.
    let (status, location) = pause(operator.clone(), with(&operator_token), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    assert!(paused(&env, "staged").await);
    let (_, _, audit) = get(&env, &viewer, "/console/audit").await;
    assert!(
        audit.contains("queue.pause") && audit.contains("staged"),
        "{audit}"
    );
    assert!(audit.contains("sign_in"), "{audit}");

    // Signing out ends the session for good (the old cookie is refused).
    let (status, _) = post(
        &env,
        &operator,
        "/console/sign-out",
        &[("_csrf", &operator_token)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, headers, _) = get(&env, &operator, "/console/queues").await;
    assert_eq!(
        (status, &headers[LOCATION]),
        (StatusCode::SEE_OTHER, &"/console/sign-in".parse().unwrap())
    );
    // Unknown pages and jobs answer with their codes, inside the console.
    let (status, headers, page) = get(
        &env,
        &viewer,
        &format!("/console/jobs/{}", uuid::Uuid::new_v4()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["x-error-code"], "job.not_found");
    assert!(page.contains("job.not_found"));
    let (status, _, _) = get(&env, &viewer, "/console/queues/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, page) = get(&env, &viewer, "/console/jobs?status=nope").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("request.invalid"), "{page}");
    env.finish().await;
}

/// Run one scenario of `tests/console/check.mjs` in Chromium.
fn browser(env: &TestEnv, scenario: &str, vars: &[(&str, &str)]) -> Value {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "tests/console/node_modules is missing: run `bash scripts/test.sh` (it installs the console's browser checks)"
    );
    let mut command = std::process::Command::new("node");
    command
        .current_dir(&dir)
        .arg("check.mjs")
        .arg(scenario)
        .env("CONSOLE_URL", &env.base_url)
        .env("OPERATOR_KEY", OPERATOR_KEY)
        .env("VIEWER_KEY", VIEWER_KEY)
        .env("API_KEY", API_KEY);
    for (k, v) in vars {
        command.env(k, v);
    }
    let out = command.output().expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{scenario}: {}\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr),
        env.worker_logs()
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap_or(Value::Null)
}

async fn submit_staged(env: &TestEnv, stages: Value) -> String {
    env.submit("test.staged", "console-user", json!({"stages": stages}))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_an_operator_watches_queues_and_acts_on_jobs_and_flows() {
    let mut env = TestEnv::start(EnvOptions {
        lease: "2s",
        max_attempts: 2,
        extra_env: console_env(),
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    let staged = [("QUEUE", "staged")];

    // Depth and chart move while the operator watches a paused queue.
    env.operator(Method::POST, "/v1/queues/staged/pause", None)
        .await;
    let seen = browser(&env, "queue_moves", &staged);
    assert!(seen["depth"][1].as_u64().unwrap() >= 3, "{seen}");
    browser(&env, "viewer_cannot_act", &staged);

    // A search by an input field, cancelled in bulk with a confirmation.
    let mark = json!([{"name": "bulkmark", "ms": 0}]);
    let mut marked = Vec::new();
    for _ in 0..4 {
        marked.push(submit_staged(&env, mark.clone()).await);
    }
    browser(
        &env,
        "bulk_cancel",
        &[
            ("FIELD_PATH", "stages"),
            ("FIELD_VALUE", r#"[{"name": "bulkmark"}]"#),
            ("EXPECT", "4"),
        ],
    );
    for id in &marked {
        let job = env.job(id).await;
        assert_eq!(job["error"]["code"], "job.cancelled", "{job}");
    }
    env.operator(Method::POST, "/v1/queues/staged/resume", None)
        .await;

    // A worker killed mid-run: the inspector's timeline shows both runs.
    let slow = json!([{"name": "slow", "ms": 2500}]);
    let only = [("ATELIER__WORKER__QUEUES", "staged")];
    let worker = env.spawn_worker_with(&only).unwrap();
    let twice = submit_staged(&env, slow.clone()).await;
    env.wait_job(&twice, WAIT, |j| j["status"] == "processing")
        .await;
    env.kill_worker(worker).await;
    let worker = env.spawn_worker_with(&only).unwrap();
    assert_eq!(env.wait_final(&twice, WAIT).await["status"], "complete");
    browser(&env, "two_attempts", &[("JOB_ID", twice.as_str())]);
    env.kill_worker(worker).await;

    // Killed on both attempts: dead; retried from the console, complete.
    let dead = submit_staged(&env, slow).await;
    for attempt in 1..=2 {
        let worker = env.spawn_worker_with(&only).unwrap();
        env.wait_job(&dead, WAIT, |j| {
            j["attempts"] == attempt && j["status"] == "processing"
        })
        .await;
        env.kill_worker(worker).await;
    }
    env.spawn_worker_with(&only).unwrap();
    assert_eq!(env.wait_final(&dead, WAIT).await["status"], "dead");
    let seen = browser(
        &env,
        "dead_retry",
        &[("JOB_ID", dead.as_str()), ("QUEUE", "staged")],
    );
    assert_eq!(seen["runs"], 3, "{seen}");

    // A flow's graph.
    let (status, flow) = env
        .post_json(
            "/v1/flows",
            &json!({"user_id": "console-user", "nodes": [
                {"name": "a", "kind": "test.staged", "input": {"stages": []}},
                {"name": "b", "kind": "test.staged", "depends_on": ["a"], "input": {"stages": []}},
                {"name": "c", "kind": "test.staged", "depends_on": ["a"], "input": {"stages": []}},
                {"name": "d", "kind": "test.staged", "depends_on": ["b", "c"], "input": {"stages": []}},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{flow}");
    let flow_id = flow["flow_id"].as_str().unwrap().to_owned();
    let seen = browser(&env, "flow_graph", &[("FLOW_ID", flow_id.as_str())]);
    assert_eq!(seen["nodes"], 4, "{seen}");
    env.finish().await;
}

/// The playground as a platform team uses it: photos of a generated body
/// (front, side) and its height, pose, avatar and turntable picked; the
/// keypoints are drawn over the photo (read back from the canvas), the
/// avatar's 3D viewer draws a body (the canvas is not blank, no console
/// errors) and the turntable plays. Then the workers table and an image
/// embedding's nearest images.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_playground_draws_keypoints_over_an_uploaded_photo_and_the_avatar_in_3d() {
    let mut env = TestEnv::start(EnvOptions {
        extra_env: console_env(),
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    env.spawn_worker().unwrap();
    let studio = atelier_tests::studio::Studio::new()
        .expect("the body model (scripts/fetch-body.sh) and a Vulkan device");
    let who = studio
        .subject(atelier_body::Macros {
            gender: 1.0,
            height: 0.55,
            ..atelier_body::Macros::default()
        })
        .unwrap();
    let front = env.dir.join("front.png");
    let side = env.dir.join("side.png");
    std::fs::write(&front, studio.photograph(&who, 0.0, 3.0, None).unwrap()).unwrap();
    std::fs::write(&side, studio.photograph(&who, 90.0, 3.0, None).unwrap()).unwrap();
    let height = format!("{:.1}", who.truth["height"]);
    let seen = browser(
        &env,
        "playground",
        &[
            ("FRONT", front.to_str().unwrap()),
            ("SIDE", side.to_str().unwrap()),
            ("HEIGHT", height.as_str()),
            ("KINDS", "vision.pose,avatar.build,render.turntable"),
        ],
    );
    assert_eq!(seen["jobs"], 3, "{seen}");
    assert!(seen["video"]["width"].as_u64().unwrap() > 0, "{seen}");
    assert!(seen["keypoint_pixels"].as_u64().unwrap() > 200, "{seen}");
    assert!(seen["triangles"].as_f64().unwrap() > 1000.0, "{seen}");

    // An image embedding's inspector shows the client's nearest images.
    let mut embeds = Vec::new();
    for photo in ["samples/astronaut.png", "samples/franz-kafka.jpg"] {
        let upload = env
            .upload(
                "eve",
                atelier_tests::fixture(photo),
                "application/octet-stream",
            )
            .await;
        let id = env
            .submit("vision.embed", "eve", json!({"upload_id": upload}))
            .await;
        assert_eq!(env.wait_final(&id, WAIT).await["status"], "complete");
        embeds.push(id);
    }
    let (operator, _) = sign_in(&env, OPERATOR_KEY).await;
    // The worker's own report: its queues, memory.
    let (_, _, queues) = get(&env, &operator, "/console/queues").await;
    let workers = &queues[queues
        .find("id=\"workers-table\"")
        .expect("a workers table")..];
    assert!(
        workers.contains("MiB") && workers.contains("ingest"),
        "{workers}"
    );
    let (status, _, page) = get(&env, &operator, &format!("/console/jobs/{}", embeds[1])).await;
    assert_eq!(status, StatusCode::OK);
    let nearest = &page[page
        .find("id=\"nearest\"")
        .expect("a nearest-images gallery")..];
    assert!(
        nearest.contains(&format!("/console/jobs/{}", embeds[0])),
        "{nearest}"
    );
    assert!(nearest.contains("/console/objects/uploads/"), "{nearest}");
    env.finish().await;
}
