//! Event delivery edges and signed reads: a socket that falls behind the live
//! buffer, the retention of a user's log, and the local backend's signed
//! `/objects` URLs.
use std::collections::HashSet;
use std::time::Duration;

use atelier_events::Audience;
use atelier_jobs::EventType;
use atelier_tests::{API_KEY, EnvOptions, StatusCode, TestEnv};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

fn audience(env: &TestEnv, user: &str) -> Audience {
    let client = env.state.api_keys.check(API_KEY).expect("test key").0;
    Audience::new(&client, user)
}

/// With a live buffer of one event, a burst of 300 leaves the socket behind
/// many times; each time it replays the gap from the user's log, so the
/// client still gets every event once, in log order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_falls_behind_the_live_buffer_replays_the_gap() {
    let env = TestEnv::start(EnvOptions {
        extra_env: vec![("ATELIER__EVENTS__LIVE_BUFFER".into(), "1".into())],
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    let mut socket = env.socket(&env.token("lag").await, None).await;
    let to = audience(&env, "lag");
    let job = uuid::Uuid::new_v4();
    // Wait until the socket is subscribed: an event published before the
    // subscription is not live for it, so a warm-up event goes out until
    // one arrives; then a marker, read past the warm-ups still in flight.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        env.state
            .events
            .publish(
                &to,
                EventType::JobProgress,
                job,
                json!({"stage": "test", "n": -1}),
            )
            .await
            .unwrap();
        if socket.next(Duration::from_millis(500)).await.is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the socket never subscribed"
        );
    }
    env.state
        .events
        .publish(
            &to,
            EventType::JobProgress,
            job,
            json!({"stage": "test", "n": -2}),
        )
        .await
        .unwrap();
    while socket.next(WAIT).await.unwrap()["data"]["n"] != -2 {}

    let publishers: Vec<_> = (0..4)
        .map(|p| {
            let events = env.state.events.clone();
            let to = to.clone();
            tokio::spawn(async move {
                for i in 0..75 {
                    events
                        .publish(
                            &to,
                            EventType::JobProgress,
                            job,
                            json!({"stage": "test", "n": p * 75 + i}),
                        )
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for p in publishers {
        p.await.unwrap();
    }
    let mut ids = Vec::new();
    let mut seen = HashSet::new();
    while seen.len() < 300 {
        let event = socket
            .next(WAIT)
            .await
            .unwrap_or_else(|| panic!("stopped after {} events", seen.len()));
        assert!(
            seen.insert(event["data"]["n"].as_i64().unwrap()),
            "delivered twice: {event}"
        );
        ids.push(event["event_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, (0..300).collect::<HashSet<i64>>());
    // Log order: the user's event numbers only grow.
    let key = |id: &str| id.parse::<u64>().unwrap();
    assert!(ids.windows(2).all(|w| key(&w[0]) < key(&w[1])));
    assert_eq!(socket.next(Duration::from_millis(300)).await, None);
    // And it did fall behind: the replay path ran.
    let metrics = env.intake_metrics().await;
    let lagged: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("atelier_event_socket_lagged_total "))
        .unwrap_or_else(|| panic!("no lag counter:\n{metrics}"))
        .parse()
        .unwrap();
    assert!(lagged >= 1.0, "{lagged}");
    env.finish().await;
}

/// A user's log keeps about `events.retention_per_user` of the newest
/// events (trimmed every 64 appends) and, at the reconciler's passes,
/// none older than `events.retention_age`; ids go on from where they
/// were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_log_keeps_the_newest_events_and_expires() {
    let env = TestEnv::start(EnvOptions {
        extra_env: vec![
            ("ATELIER__EVENTS__RETENTION_PER_USER".into(), "10".into()),
            ("ATELIER__EVENTS__RETENTION_AGE".into(), "2s".into()),
        ],
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    let to = audience(&env, "ret");
    let job = uuid::Uuid::new_v4();
    for n in 0..1000 {
        env.state
            .events
            .publish(
                &to,
                EventType::JobProgress,
                job,
                json!({"stage": "test", "n": n}),
            )
            .await
            .unwrap();
    }
    let kept = env.state.events.replay(&to, "0", 2000).await.unwrap();
    assert!(
        (10..=74).contains(&kept.len()),
        "kept {} of 1000",
        kept.len()
    );
    // What is kept is the newest, ending with the last event.
    let ns: Vec<i64> = kept.iter().map(|e| e.data["n"].as_i64().unwrap()).collect();
    assert_eq!(*ns.last().unwrap(), 999);
    assert!(
        ns.windows(2).all(|w| w[1] == w[0] + 1),
        "contiguous: {ns:?}"
    );
    assert_eq!(kept.last().unwrap().event_id, "1000");
    // Past the retention age, the reconciler's pass deletes them.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    // (The intake's own reconciler may hold the role: its pass prunes too.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !env
        .state
        .events
        .replay(&to, "0", 10)
        .await
        .unwrap()
        .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "old events never pruned"
        );
        atelier_intake::reconcile_once(&env.state).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let next = env
        .state
        .events
        .publish(&to, EventType::JobProgress, job, json!({"stage": "test"}))
        .await
        .unwrap();
    assert_eq!(next.event_id, "1001", "numbering goes on");
    env.finish().await;
}

/// On the local storage backend a result's object is read through the
/// intake's `/objects` route with an HMAC-signed, expiring URL: the signed
/// URL serves the bytes with their type; a changed key or signature is
/// refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_backend_serves_signed_object_urls_and_refuses_tampered_ones() {
    let root = std::env::temp_dir().join(format!("atelier-local-{}", uuid::Uuid::new_v4()));
    let env = TestEnv::start(EnvOptions {
        extra_env: vec![
            ("ATELIER__STORAGE__BACKEND".into(), "local".into()),
            (
                "ATELIER__STORAGE__LOCAL_ROOT".into(),
                root.display().to_string(),
            ),
        ],
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    let storage = &env.state.storage;
    let png = atelier_tests::fixture("samples/astronaut.png");
    storage
        .put(
            "designs/renders/ann/d1/front.png",
            bytes::Bytes::from(png.clone()),
            "image/png",
        )
        .await
        .unwrap();
    storage
        .put(
            "designs/renders/bob/d1/front.png",
            bytes::Bytes::from_static(b"bob's"),
            "image/png",
        )
        .await
        .unwrap();
    let url = storage
        .signed_url("designs/renders/ann/d1/front.png")
        .await
        .unwrap();
    assert!(url.starts_with(&env.base_url), "{url}");

    let resp = env.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        resp.headers()["content-length"],
        png.len().to_string().as_str()
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), png.as_slice());

    // The same signature does not open another user's object.
    let other = url.replace("/ann/", "/bob/");
    let resp = env.http.get(&other).send().await.unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "object.invalid_signature");
    // Nor does a changed expiry.
    let (base, query) = url.split_once('?').unwrap();
    let stretched: String = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some(("expires", v)) => format!("expires={}", v.parse::<i64>().unwrap() + 3600),
            _ => kv.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    let resp = env
        .http
        .get(format!("{base}?{stretched}"))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());
    env.finish().await;
    let _ = std::fs::remove_dir_all(root);
}
