//! The intake under abuse: unsafe secrets, key rotation, slow clients,
//! load shedding, streamed uploads.
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
    let upload_id = env
        .upload_as(
            OLD,
            "rita",
            fixture("samples/franz-kafka.jpg"),
            "image/jpeg",
        )
        .await;
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

/// Bytes the server sends back on `stream` until it closes it or `within`
/// passes (then `None`).
async fn read_until_closed(stream: &mut tokio::net::TcpStream, within: Duration) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut seen = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&seen).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_a_full_intake_sheds_load() {
    use tokio::io::AsyncWriteExt;
    let env = TestEnv::start(with_env(&[
        ("ATELIER__INTAKE__BODY_IDLE_TIMEOUT", "1s"),
        ("ATELIER__INTAKE__HEADER_TIMEOUT", "1s"),
        ("ATELIER__INTAKE__MAX_IN_FLIGHT", "1"),
    ]))
    .await
    .unwrap();
    let address = env.base_url.trim_start_matches("http://").to_owned();

    // An upload that announces 1 MB, sends 10 bytes and stalls: it holds
    // the one request slot until the body's idle timeout cuts it off.
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nX-User-Id: sam\r\nContent-Length: 1000000\r\n\r\n0123456789",
        atelier_tests::API_KEY
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let job = format!("/v1/jobs/{}", uuid::Uuid::new_v4());
    let show_job = || {
        env.http
            .get(env.url(&job))
            .bearer_auth(atelier_tests::API_KEY)
            .send()
    };
    let busy = show_job().await.unwrap();
    assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(busy.headers()["retry-after"], "1");
    let body: Value = busy.json().await.unwrap();
    assert_eq!(body["error"]["code"], "intake.busy");
    let health = env.http.get(env.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK, "probes are not shed");

    let answer = read_until_closed(&mut slow, Duration::from_secs(10))
        .await
        .expect("the stalled upload is answered and closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request.timeout"), "{answer}");
    // Nothing was kept of it, and the intake serves again.
    let served = show_job().await.unwrap();
    assert_eq!(served.status(), StatusCode::NOT_FOUND);
    let kept = env.state.storage.list("uploads").await.unwrap_or_default();
    assert!(kept.is_empty(), "{kept:?}");

    // A client that opens a socket and never finishes its headers is cut
    // off after the header timeout.
    let mut mute = tokio::net::TcpStream::connect(&address).await.unwrap();
    mute.write_all(b"GET /healthz HTTP/1.1\r\nHo")
        .await
        .unwrap();
    let closed = read_until_closed(&mut mute, Duration::from_secs(10)).await;
    assert!(closed.is_some(), "a socket without headers stays open");
    env.finish().await;
}

/// A 12 MiB upload goes to S3 in parts (5 MiB, the least S3 takes) while
/// hashed: what is stored and the hash returned are the body's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_upload_streams_to_storage_in_parts() {
    use sha2::Digest;
    let env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let body: Vec<u8> = (0..12 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let upload = env
        .upload("lee", body.clone(), "application/octet-stream")
        .await;
    let row = env
        .http
        .post(env.url("/v1/jobs"))
        .bearer_auth(atelier_tests::API_KEY)
        .json(&json!({"kind": "photo.ingest", "user_id": "lee", "input": {"upload_id": upload}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        row.status(),
        StatusCode::ACCEPTED,
        "the upload is the user's"
    );
    let keys = env.state.storage.list("uploads").await.unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let stored = env.state.storage.get(&keys[0]).await.unwrap();
    assert_eq!(stored.len(), body.len());
    assert!(stored == body.as_slice(), "the stored bytes are the body's");
    let hash = hex::encode(sha2::Sha256::digest(&body));
    let recorded: (String, i64) = sqlx::query_as("select sha256, bytes from uploads where id = $1")
        .bind(uuid::Uuid::parse_str(&upload).unwrap())
        .fetch_one(&env.state.pool)
        .await
        .unwrap();
    assert_eq!(recorded, (hash, body.len() as i64));
    env.finish().await;
}

/// `/metrics` on an internal listener of its own: not on the public one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_move_to_an_internal_listener() {
    let internal = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let env = TestEnv::start(with_env(&[("ATELIER__INTAKE__METRICS_LISTEN", &internal)]))
        .await
        .unwrap();
    let public = env.http.get(env.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    let mut scraped = None;
    for _ in 0..50 {
        if let Ok(r) = env
            .http
            .get(format!("http://{internal}/metrics"))
            .send()
            .await
        {
            scraped = Some(r.text().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let scraped = scraped.expect("the internal listener answers");
    assert!(scraped.contains("atelier_queue_depth"), "{scraped}");
    assert!(
        scraped.contains("atelier_dependency_up{dependency=\"redis\"} 1"),
        "{scraped}"
    );
    env.finish().await;
}

/// A completed `vision.embed` job of `client` and its embedding, written in
/// `tx` (committed by the caller).
async fn embedded(
    tx: &mut sqlx::PgConnection,
    client: &str,
    version: &str,
    vector: &[f32],
) -> uuid::Uuid {
    let id = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO jobs (id, kind, contract_version, queue, client_id, user_id, status, request_hash, input)
         VALUES ($1, 'vision.embed', 1, 'vision', $2, 'ida', 'complete', 'h', '{}')",
    )
    .bind(id)
    .bind(client)
    .execute(&mut *tx)
    .await
    .unwrap();
    reembed(tx, id, client, version, vector).await;
    id
}

/// Store (or re-store, as a re-run does) the job's embedding.
async fn reembed(
    tx: &mut sqlx::PgConnection,
    id: uuid::Uuid,
    client: &str,
    version: &str,
    vector: &[f32],
) {
    sqlx::query(
        "INSERT INTO embeddings (job_id, client_id, user_id, modality, model, model_version, input_sha256, vector)
         VALUES ($1, $2, 'ida', 'image', 'm', $3, 's', $4)
         ON CONFLICT (job_id) DO UPDATE SET model_version = EXCLUDED.model_version,
             vector = EXCLUDED.vector, tx = pg_current_xact_id()",
    )
    .bind(id)
    .bind(client)
    .bind(version)
    .bind(vector)
    .execute(&mut *tx)
    .await
    .unwrap();
}

/// Two workers' transactions commit out of `seq` order, and jobs are
/// re-run: search sees every committed embedding once, as last written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_misses_no_embedding_committed_out_of_order() {
    let env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let client =
        atelier_intake::ApiKeys::new(&[atelier_config::Secret::new(atelier_tests::API_KEY)])
            .check(atelier_tests::API_KEY)
            .unwrap()
            .0;
    let pool = &env.state.pool;
    let mut conn = pool.acquire().await.unwrap();
    let query = embedded(&mut conn, &client, "1", &[1.0, 0.0, 0.0, 0.0]).await;
    let search = || async {
        let resp = env
            .http
            .post(env.url("/v1/search/similar"))
            .bearer_auth(atelier_tests::API_KEY)
            .json(&json!({"job_id": query, "k": 10}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        let mut found: Vec<(String, f64)> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["job_id"].as_str().unwrap().to_owned(),
                    r["score"].as_f64().unwrap(),
                )
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    };
    assert!(search().await.is_empty());

    // The first takes its seq, the second a later one and commits first.
    let mut first = pool.begin().await.unwrap();
    let a = embedded(&mut first, &client, "1", &[0.9, 0.1, 0.0, 0.0]).await;
    let mut second = pool.begin().await.unwrap();
    let b = embedded(&mut second, &client, "1", &[0.6, 0.8, 0.0, 0.0]).await;
    second.commit().await.unwrap();
    let seen = search().await;
    assert_eq!(
        seen.iter().map(|s| s.0.clone()).collect::<Vec<_>>(),
        [b.to_string()]
    );
    first.commit().await.unwrap();
    let seen = search().await;
    let mut both = vec![a.to_string(), b.to_string()];
    both.sort();
    assert_eq!(
        seen.iter().map(|s| s.0.clone()).collect::<Vec<_>>(),
        both,
        "{seen:?}"
    );

    // A re-run writes b's vector again: updated in place, still once.
    let before = seen.iter().find(|s| s.0 == b.to_string()).unwrap().1;
    reembed(&mut conn, b, &client, "1", &[1.0, 0.0, 0.0, 0.0]).await;
    let seen = search().await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    let after = seen.iter().find(|s| s.0 == b.to_string()).unwrap().1;
    assert!(after > before + 0.3, "{before} → {after}");
    // A re-run under another model version leaves this version's space.
    reembed(&mut conn, a, &client, "2", &[0.9, 0.1, 0.0, 0.0]).await;
    let seen = search().await;
    assert_eq!(
        seen.iter().map(|s| s.0.clone()).collect::<Vec<_>>(),
        [b.to_string()]
    );
    drop(conn);
    env.finish().await;
}

/// A client's search index that no query used for
/// `intake.search_idle_eviction` leaves memory; one in use stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_search_indexes_are_evicted() {
    let env = TestEnv::start(with_env(&[("ATELIER__INTAKE__SEARCH_IDLE_EVICTION", "1s")]))
        .await
        .unwrap();
    let client_of = |key: &str| {
        atelier_intake::ApiKeys::new(&[atelier_config::Secret::new(key)])
            .check(key)
            .unwrap()
            .0
    };
    let mut conn = env.state.pool.acquire().await.unwrap();
    let ours = embedded(
        &mut conn,
        &client_of(atelier_tests::API_KEY),
        "1",
        &[1.0, 0.0],
    )
    .await;
    let theirs = embedded(
        &mut conn,
        &client_of(atelier_tests::OTHER_API_KEY),
        "1",
        &[0.0, 1.0],
    )
    .await;
    let search = |key: &'static str, job: uuid::Uuid| {
        let env = &env;
        async move {
            let resp = env
                .http
                .post(env.url("/v1/search/similar"))
                .bearer_auth(key)
                .json(&json!({"job_id": job}))
                .send()
                .await
                .unwrap();
            let (status, body) = env.answer("POST", "/v1/search/similar", resp).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    search(atelier_tests::API_KEY, ours).await;
    assert_eq!(env.state.search.held().await, 1);
    search(atelier_tests::OTHER_API_KEY, theirs).await;
    assert_eq!(env.state.search.held().await, 2, "both in use");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The next query drops what idled past the eviction time.
    search(atelier_tests::OTHER_API_KEY, theirs).await;
    assert_eq!(
        env.state.search.held().await,
        1,
        "the idle index was dropped"
    );
    search(atelier_tests::API_KEY, ours).await;
    assert_eq!(
        env.state.search.held().await,
        2,
        "and loads again when asked"
    );
    drop(conn);
    env.finish().await;
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_socket(
    env: &TestEnv,
    token: &str,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let url = format!(
        "{}/v1/events?token={token}",
        env.base_url.replacen("http", "ws", 1)
    );
    tokio_tungstenite::connect_async(url)
        .await
        .map(|(ws, _)| ws)
}

/// The close code the server ends `ws` with (1006 when the connection ends
/// without one); `None` when it stays open `within`.
async fn closed_with(ws: &mut Ws, within: Duration) -> Option<u16> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return None,
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Some(frame.map_or(1005, |f| f.code.into()));
            }
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_)) | None) => return Some(1006),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_sockets_are_capped_bounded_pinged_and_expire() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let env = TestEnv::start(with_env(&[
        ("ATELIER__EVENTS__MAX_SOCKETS_PER_USER", "2"),
        ("ATELIER__EVENTS__MAX_INBOUND_BYTES", "1024"),
        ("ATELIER__EVENTS__PING_INTERVAL", "200ms"),
        ("ATELIER__EVENTS__IDLE_TIMEOUT", "1s"),
    ]))
    .await
    .unwrap();
    let token = env.token("uma").await;

    // Two sockets per user; the third is refused until one closes.
    let mut first = open_socket(&env, &token).await.unwrap();
    let second = open_socket(&env, &token).await.unwrap();
    match open_socket(&env, &token).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
            let body: Value =
                serde_json::from_slice(resp.body().as_deref().unwrap_or(b"{}")).unwrap();
            assert_eq!(body["error"]["code"], "events.too_many_sockets");
        }
        other => panic!("a third socket: {other:?}"),
    }
    // Events go to the user's sockets only: this intake routes one audience.
    assert_eq!(env.state.hub.audiences(), 1);
    drop(second);
    let mut third = None;
    for _ in 0..50 {
        if let Ok(ws) = open_socket(&env, &token).await {
            third = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut third = third.expect("a slot frees when a socket closes");

    // An inbound message over the bound ends the socket (1009: too big).
    first.send(Message::text("x".repeat(4096))).await.unwrap();
    let code = closed_with(&mut first, Duration::from_secs(5)).await;
    assert!(matches!(code, Some(1009) | Some(1006)), "{code:?}");

    // A client that answers nothing (it never reads, so never pongs) is
    // closed as idle.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    // (1001 "idle"; or 1006 when the pongs the client queues on reading
    // the buffered pings meet the closed connection first.)
    let code = closed_with(&mut third, Duration::from_secs(5)).await;
    assert!(matches!(code, Some(1001) | Some(1006)), "idle: {code:?}");
    env.finish().await;

    // A socket is closed when its token expires (4001), though it pongs.
    let env = TestEnv::start(with_env(&[("ATELIER__INTAKE__TOKEN_TTL", "2s")]))
        .await
        .unwrap();
    let token = env.token("uma").await;
    let mut ws = open_socket(&env, &token).await.unwrap();
    let code = closed_with(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(code, Some(4001));
    assert_eq!(env.state.hub.audiences(), 0, "nobody listens any more");
    env.finish().await;
}

/// The intake's live subscription is cut while an event is published: when
/// it is back, the socket replays from the last event it sent, so the event
/// still arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_published_during_a_redis_blip_still_reaches_the_socket() {
    use atelier_jobs::EventType;
    let upstream = atelier_tests::redis_url();
    let address = upstream
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let proxy = atelier_tests::Proxy::start(address).await.unwrap();
    let env = TestEnv::start(EnvOptions {
        redis_url: Some(format!("redis://{}", proxy.addr)),
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    // A publisher that does not go through the proxy, as a worker's would not.
    let (_, direct) = atelier_queue::connect(&upstream, false).await.unwrap();
    let events = atelier_events::EventLog::new(
        direct,
        env.state.pool.clone(),
        &env.name,
        &env.config.events,
    );
    let client = env.state.api_keys.check(atelier_tests::API_KEY).unwrap().0;
    let to = atelier_events::Audience::new(&client, "vic");
    let job = uuid::Uuid::new_v4();
    let mut socket = env.socket(&env.token("vic").await, None).await;
    // Until the socket is live: warm-ups, then a marker.
    loop {
        events
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
    }
    events
        .publish(
            &to,
            EventType::JobProgress,
            job,
            json!({"stage": "test", "n": -2}),
        )
        .await
        .unwrap();
    while socket.next(Duration::from_secs(10)).await.unwrap()["data"]["n"] != -2 {}

    proxy.cut();
    tokio::time::sleep(Duration::from_millis(300)).await;
    events
        .publish(
            &to,
            EventType::JobProgress,
            job,
            json!({"stage": "test", "n": 7}),
        )
        .await
        .unwrap();
    assert!(
        socket.next(Duration::from_millis(700)).await.is_none(),
        "nothing live while the subscription is cut"
    );
    proxy.restore().await.unwrap();
    let event = socket
        .next(Duration::from_secs(15))
        .await
        .expect("the missed event, replayed after the subscription came back");
    assert_eq!(event["data"]["n"], 7, "{event}");
    env.finish().await;
}

/// One client at its quota of open jobs is refused more (429
/// quota.exceeded), however many submissions race for the last places;
/// a repeated idempotent request still gets its job; another client still
/// submits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_at_its_quota_of_open_jobs_cannot_starve_the_others() {
    let env = TestEnv::start(with_env(&[(
        "ATELIER__INTAKE__MAX_OPEN_JOBS_PER_CLIENT",
        "3",
    )]))
    .await
    .unwrap();
    let upload = env
        .upload("kai", fixture("samples/franz-kafka.jpg"), "image/jpeg")
        .await;
    let submit = |key: &'static str, upload: String, idempotency: String| {
        env.http
            .post(env.url("/v1/jobs"))
            .bearer_auth(key)
            .json(&json!({"kind": "photo.ingest", "user_id": "kai",
                          "input": {"upload_id": upload}, "idempotency_key": idempotency}))
            .send()
    };
    // 24 at once for 3 places (no worker runs, so none finishes).
    let racing = (0..24).map(|i| submit(atelier_tests::API_KEY, upload.clone(), format!("k{i}")));
    let mut accepted = Vec::new();
    for (i, resp) in futures_util::future::join_all(racing)
        .await
        .into_iter()
        .enumerate()
    {
        let resp = resp.unwrap();
        let (status, body) = env.answer("POST", "/v1/jobs", resp).await;
        match status {
            StatusCode::ACCEPTED => accepted.push((i, body["job_id"].clone())),
            StatusCode::TOO_MANY_REQUESTS => assert_eq!(body["error"]["code"], "quota.exceeded"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(
        accepted.len(),
        3,
        "the quota held under a race: {accepted:?}"
    );
    let refused = submit(atelier_tests::API_KEY, upload.clone(), "late".into())
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    // A repeat of an accepted request is that job, not a new one.
    let (i, job_id) = &accepted[0];
    let repeat = submit(atelier_tests::API_KEY, upload.clone(), format!("k{i}"))
        .await
        .unwrap();
    let (status, body) = env.answer("POST", "/v1/jobs", repeat).await;
    assert_eq!((status, &body["job_id"]), (StatusCode::ACCEPTED, job_id));

    let theirs = env
        .upload_as(
            atelier_tests::OTHER_API_KEY,
            "kai",
            fixture("samples/franz-kafka.jpg"),
            "image/jpeg",
        )
        .await;
    let other = submit(atelier_tests::OTHER_API_KEY, theirs, "k0".into())
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        StatusCode::ACCEPTED,
        "the other client is not starved"
    );
    env.finish().await;
}

/// Failed authentication and the unauthenticated routes spend from one
/// bucket per client address: past it, 429 instead of another try.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_keys_and_unauthenticated_routes_are_limited_per_address() {
    let env = TestEnv::start(with_env(&[
        ("ATELIER__INTAKE__PER_ADDRESS_PER_SECOND", "0.1"),
        ("ATELIER__INTAKE__PER_ADDRESS_BURST", "3"),
    ]))
    .await
    .unwrap();
    let guess = |key: &'static str| {
        env.http
            .get(env.url(&format!("/v1/jobs/{}", uuid::Uuid::new_v4())))
            .bearer_auth(key)
            .send()
    };
    for _ in 0..3 {
        assert_eq!(
            guess("wrong-key-0123456789").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = guess("wrong-key-0123456789").await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate.limited");
    // The same address's unauthenticated reads share the bucket…
    let objects = env
        .http
        .get(env.url("/objects/uploads/x?expires=9999999999&sig=00"))
        .send()
        .await
        .unwrap();
    assert_eq!(objects.status(), StatusCode::TOO_MANY_REQUESTS);
    // …while a valid key is limited by its own rate only.
    let valid = guess(atelier_tests::API_KEY).await.unwrap();
    assert_eq!(valid.status(), StatusCode::NOT_FOUND);
    env.finish().await;
}
