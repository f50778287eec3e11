//! Upload → job → worker → Postgres row → objects in S3 → events on the
//! right user's socket, over the real HTTP and WebSocket interfaces.
use std::time::Duration;

use atelier_tests::{EnvOptions, StatusCode, TestEnv, fixture};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

fn object_keys(result: &Value) -> Vec<String> {
    let mut keys = vec![result["original"]["key"].as_str().unwrap().to_owned()];
    keys.extend(
        result["variants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["key"].as_str().unwrap().to_owned()),
    );
    keys.push(result["thumbnail"]["key"].as_str().unwrap().to_owned());
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photo_ingest_end_to_end_reaches_only_its_owner() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker().unwrap();
    let mut alice = env.socket(&env.token("alice").await, None).await;
    let mut bob = env.socket(&env.token("bob").await, None).await;
    // Another platform's "alice" (another API key) is another person.
    let mut other_alice = env
        .socket(
            &env.token_as(atelier_tests::OTHER_API_KEY, "alice").await,
            None,
        )
        .await;

    let job_id = env.ingest("alice", fixture("samples/astronaut.png")).await;
    let events = alice.until("job.completed", &job_id, WAIT).await;

    // Progress events first, rising, then completion with the result.
    let progress: Vec<i64> = events
        .iter()
        .filter(|e| e["type"] == "job.progress")
        .map(|e| e["data"]["progress"].as_i64().unwrap())
        .collect();
    assert!(progress.len() >= 3, "{events:?}");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "photo.ingested" && e["data"]["photo_id"] == job_id.as_str()),
        "{events:?}"
    );
    let completed = events.last().unwrap();
    for field in ["event_id", "type", "job_id", "user_id", "at", "data"] {
        assert!(
            completed.get(field).is_some(),
            "envelope lacks {field}: {completed}"
        );
    }
    assert_eq!(completed["user_id"], "alice");
    // Bob sees none of it, nor does the other platform's alice.
    assert_eq!(bob.next(Duration::from_millis(800)).await, None);
    assert_eq!(other_alice.next(Duration::from_millis(200)).await, None);

    let job = env.job(&job_id).await;
    assert_eq!(job["status"], "complete", "{job}");
    assert_eq!(
        (job["progress"].as_i64(), job["attempts"].as_i64()),
        (Some(100), Some(1))
    );
    let result = &job["result"];
    assert_eq!(result["photo_id"], job_id.as_str());
    let avatar = result["avatar_id"].as_str().unwrap();
    assert_eq!(
        result["original"]["key"],
        format!("avatars/photos/original/alice/{avatar}/{job_id}.png")
    );
    let sizes: Vec<(String, u64, u64)> = result["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["format"].as_str().unwrap().to_owned(),
                v["width"].as_u64().unwrap(),
                v["height"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("webp", 512, 512),
        ("jpeg", 512, 512),
        ("webp", 256, 256),
        ("jpeg", 256, 256),
    ];
    assert_eq!(sizes, expected.map(|(f, w, h)| (f.to_owned(), w, h)));
    assert_eq!(
        (
            result["thumbnail"]["width"].as_u64(),
            result["thumbnail"]["height"].as_u64()
        ),
        (Some(256), Some(256))
    );

    // Exactly these objects exist in the S3 bucket.
    let mut stored = env
        .state
        .storage
        .list(&format!("avatars/photos/original/alice/{avatar}"))
        .await
        .unwrap();
    stored.extend(
        env.state
            .storage
            .list(&format!("avatars/photos/processed/alice/{avatar}"))
            .await
            .unwrap(),
    );
    stored.sort();
    assert_eq!(stored, object_keys(result));

    // The row is written, and the signed URLs serve the real images.
    let row = atelier_db::photos::get(&env.state.pool, job_id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.user_id.as_str(), row.width, row.height),
        ("alice", 512, 512)
    );
    for v in result["variants"].as_array().unwrap() {
        let url = v["url"].as_str().unwrap();
        let resp = env.http.get(url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        let bytes = resp.bytes().await.unwrap();
        assert_eq!(bytes.len() as u64, v["bytes"].as_u64().unwrap());
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!(u64::from(img.width()), v["width"].as_u64().unwrap());
        // A tampered signature is refused by the S3 server.
        let tampered = url.replacen("X-Amz-Signature=", "X-Amz-Signature=0", 1);
        assert!(
            env.http
                .get(&tampered)
                .send()
                .await
                .unwrap()
                .status()
                .is_client_error()
        );
    }
    // Operators see the queue and the traffic, once the run is settled.
    env.wait_settled("ingest", 1, Duration::from_secs(30)).await;
    let metrics = env.intake_metrics().await;
    for needle in [
        "# TYPE atelier_queue_depth gauge",
        "atelier_queue_depth{queue=\"ingest\"} 0",
        "atelier_queue_jobs_settled{queue=\"ingest\",outcome=\"completed\"} 1",
        "atelier_jobs_submitted_total{kind=\"photo.ingest\"} 1",
        "atelier_http_requests_total{method=\"POST\",route=\"/v1/jobs\",status=\"202\"} 1",
    ] {
        assert!(metrics.contains(needle), "missing {needle} in\n{metrics}");
    }
    let ready = env.http.get(env.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let (status, health) = env
        .operator(reqwest::Method::GET, "/v1/ops/health", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{health}");
    for dependency in ["redis", "database", "storage"] {
        assert_eq!(health["dependencies"][dependency]["ok"], true, "{health}");
        assert!(
            metrics.contains(&format!(
                "atelier_dependency_up{{dependency=\"{dependency}\"}} 1"
            )),
            "{metrics}"
        );
    }
    alice.close().await;
    bob.close().await;
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_with_last_event_id_replays_what_was_missed() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker().unwrap();
    let token = env.token("carol").await;
    let mut socket = env.socket(&token, None).await;
    let first = env
        .ingest("carol", fixture("samples/franz-kafka.jpg"))
        .await;
    let seen = socket.until("job.completed", &first, WAIT).await;
    let last_id = seen.last().unwrap()["event_id"]
        .as_str()
        .unwrap()
        .to_owned();
    socket.close().await;

    // While carol is away, a second job runs to completion.
    let second = env.ingest("carol", fixture("samples/astronaut.png")).await;
    assert_eq!(env.wait_final(&second, WAIT).await["status"], "complete");

    let mut again = env.socket(&token, Some(&last_id)).await;
    let missed = again.until("job.completed", &second, WAIT).await;
    assert!(
        missed.iter().all(|e| e["job_id"] == second.as_str()),
        "{missed:?}"
    );
    assert!(missed.iter().any(|e| e["type"] == "job.progress"));
    let ids: Vec<&str> = std::iter::once(last_id.as_str())
        .chain(missed.iter().map(|e| e["event_id"].as_str().unwrap()))
        .collect();
    assert!(
        ids.windows(2)
            .all(|w| atelier_events::compare_ids(w[0], w[1]).is_lt()),
        "ids not increasing: {ids:?}"
    );
    // A fresh connection without last_event_id gets only live events.
    let mut fresh = env.socket(&token, None).await;
    assert_eq!(fresh.next(Duration::from_millis(500)).await, None);
    // A malformed last_event_id is refused before the upgrade.
    let resp = env
        .http
        .get(env.url(&format!("/v1/events?token={token}&last_event_id=yesterday")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gps_never_reaches_a_derivative_and_the_original_is_kept_as_uploaded() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker().unwrap();
    let upload = fixture("tests/data/bad/gps-orientation6.jpg");
    let job_id = env.ingest("dave", upload.clone()).await;
    let job = env.wait_final(&job_id, WAIT).await;
    assert_eq!(job["status"], "complete", "{job}");
    let result = &job["result"];
    assert_eq!(
        result["exif"],
        json!({"make": "AtelierCam", "model": "Model 7", "datetime": "2024:05:17 10:42:00",
               "orientation": 6, "had_gps": true})
    );
    // Displayed orientation: 450×655 stored, rotated to 655×450.
    assert_eq!(
        (
            result["original"]["width"].as_u64(),
            result["original"]["height"].as_u64()
        ),
        (Some(655), Some(450))
    );
    let derivatives = result["variants"]
        .as_array()
        .unwrap()
        .iter()
        .chain([&result["thumbnail"]]);
    for d in derivatives {
        let bytes = env.object_bytes(d).await;
        let exif = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(&bytes[..]));
        assert!(exif.is_err(), "{} carries EXIF", d["key"]);
        assert!(
            !bytes.windows(4).any(|w| w == b"Exif"),
            "{} carries an Exif block",
            d["key"]
        );
    }
    let original = env
        .http
        .get(result["original"]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        &original[..],
        &upload[..],
        "original must be kept byte for byte"
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_return_the_same_job_and_refuse_reuse() {
    let env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let upload = env
        .upload("erin", fixture("samples/astronaut.png"), "image/png")
        .await;
    let body = json!({"kind": "photo.ingest", "user_id": "erin", "input": {"upload_id": upload},
                      "idempotency_key": "order-17"});
    let (s1, first) = env.post_json("/v1/jobs", &body).await;
    let (s2, second) = env.post_json("/v1/jobs", &body).await;
    // A replay answers as the first call did (README: `202`, same job, its
    // current status).
    assert_eq!(s1, StatusCode::ACCEPTED);
    assert_eq!(s2, StatusCode::ACCEPTED);
    assert_eq!(first["job_id"], second["job_id"]);
    assert_eq!(second["status"], "queued");
    let mut changed = body.clone();
    changed["input"]["avatar_id"] = json!(uuid::Uuid::new_v4());
    let (s3, conflict) = env.post_json("/v1/jobs", &changed).await;
    assert_eq!(s3, StatusCode::CONFLICT);
    assert_eq!(conflict["error"]["code"], "job.idempotency_conflict");
    // The queue holds the job once.
    let stats = env.state.queues["ingest"].stats().await.unwrap();
    assert_eq!(stats.depth(), 1);
    env.finish().await;
}
