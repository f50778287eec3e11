//! The published contract (`openapi.json`) against real responses: every
//! documented operation is called here, on success and on the errors a
//! client meets, and each answer is checked by the harness (status listed,
//! body valid against its schema, error code named for its status, no
//! undeclared field). Every other test's responses go through the same
//! check, so each job kind's result is validated by the tests that run it
//! on its real model (vision, avatar, render, notify, runtime, end_to_end).
use std::collections::BTreeSet;
use std::time::Duration;

use atelier_tests::{
    API_KEY, EnvOptions, OPERATOR_KEY, OTHER_API_KEY, StatusCode, TestEnv, contract, fixture,
};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_answers_as_the_document_says() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let http = env.http.clone();

    // The served document is the committed one, byte for byte.
    let response = http.get(env.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let served = response.text().await.unwrap();
    assert!(
        served == include_str!("../openapi.json"),
        "the intake serves another document than openapi.json"
    );
    contract::check("GET", "/openapi.json", 200, None);
    for path in ["/healthz", "/readyz"] {
        let response = http.get(env.url(path)).send().await.unwrap();
        let (status, _) = env.answer("GET", path, response).await;
        assert_eq!(status, StatusCode::OK);
    }
    let response = http.get(env.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    contract::check("GET", "/metrics", 200, None);

    // Uploads and jobs, with the errors a client meets first.
    env.spawn_worker().unwrap();
    let photo = env
        .upload("ana", fixture("samples/franz-kafka.jpg"), "image/jpeg")
        .await;
    let response = http
        .post(env.url("/v1/uploads"))
        .bearer_auth(API_KEY)
        .body(vec![1u8, 2, 3])
        .send()
        .await
        .unwrap();
    let (status, body) = env.answer("POST", "/v1/uploads", response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    for (key, expected) in [
        (None, 401),
        (Some("not-a-key"), 401),
        (Some(OPERATOR_KEY), 403),
    ] {
        let mut request = http.get(env.url(&format!("/v1/jobs/{}", Uuid::new_v4())));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.unwrap();
        let (status, body) = env.answer("GET", "/v1/jobs/{job_id}", response).await;
        assert_eq!(status.as_u16(), expected, "{body}");
    }

    let job = env
        .submit("photo.ingest", "ana", json!({"upload_id": photo}))
        .await;
    let done = env.wait_final(&job, WAIT).await;
    assert_eq!(done["status"], "complete", "{done}");
    assert!(done["result"]["thumbnail"]["url"].is_string(), "{done}");
    let again = json!({"kind": "photo.ingest", "user_id": "ana",
                       "input": {"upload_id": photo}, "idempotency_key": "k-1"});
    let (status, first) = env.post_json("/v1/jobs", &again).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let (status, repeat) = env.post_json("/v1/jobs", &again).await;
    assert_eq!(
        (status, &repeat["job_id"]),
        (StatusCode::ACCEPTED, &first["job_id"])
    );
    let mut conflict = again.clone();
    conflict["priority"] = json!(9);
    let (status, body) = env.post_json("/v1/jobs", &conflict).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    for (bad, expected) in [
        (
            json!({"kind": "photo.teleport", "user_id": "ana", "input": {}}),
            422,
        ),
        (
            json!({"kind": "photo.ingest", "user_id": "..", "input": {"upload_id": photo}}),
            422,
        ),
        (
            json!({"kind": "photo.ingest", "user_id": "ana", "input": {"upload_id": Uuid::new_v4()}}),
            422,
        ),
    ] {
        let (status, body) = env.post_json("/v1/jobs", &bad).await;
        assert_eq!(status.as_u16(), expected, "{body}");
    }
    let response = http
        .post(env.url("/v1/jobs"))
        .bearer_auth(API_KEY)
        .header("content-type", "application/json")
        .body("{\"kind\": ")
        .send()
        .await
        .unwrap();
    let (status, _) = env.answer("POST", "/v1/jobs", response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Cancelling: a finished job refuses; a waiting one ends at once, and
    // its view carries the error.
    let (status, body) = env
        .post_json(&format!("/v1/jobs/{job}/cancel"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = env
        .operator(Method::POST, "/v1/queues/ingest/pause", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let waiting = env
        .submit("photo.ingest", "ana", json!({"upload_id": photo}))
        .await;
    let (status, body) = env
        .post_json(&format!("/v1/jobs/{waiting}/cancel"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cancelled = env.job(&waiting).await;
    assert_eq!(cancelled["error"]["code"], "job.cancelled", "{cancelled}");
    let (status, _) = env
        .operator(Method::POST, "/v1/queues/ingest/resume", None)
        .await;
    assert_eq!(status, StatusCode::OK);

    // Flows: one accepted and shown, a cycle refused naming it, another
    // client's or an unknown flow not found.
    let (status, accepted) = env
        .post_json(
            "/v1/flows",
            &json!({"user_id": "ana", "nodes": [
                {"name": "first", "kind": "photo.ingest", "input": {"upload_id": photo}},
                {"name": "second", "kind": "photo.ingest", "input": {"upload_id": photo},
                 "depends_on": ["first"]},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let flow = accepted["flow_id"].as_str().unwrap().to_owned();
    for (id, key, expected) in [
        (flow.clone(), API_KEY, 200),
        (flow.clone(), OTHER_API_KEY, 404),
        (Uuid::new_v4().to_string(), API_KEY, 404),
    ] {
        let path = format!("/v1/flows/{id}");
        let response = http
            .get(env.url(&path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let (status, body) = env.answer("GET", &path, response).await;
        assert_eq!(status.as_u16(), expected, "{body}");
    }
    // Cancelled (or already complete), then certainly not cancellable.
    let (status, body) = env
        .post_json(&format!("/v1/flows/{flow}/cancel"), &json!({}))
        .await;
    assert!(matches!(status.as_u16(), 200 | 409), "{body}");
    let (status, body) = env
        .post_json(&format!("/v1/flows/{flow}/cancel"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "flow.not_cancellable", "{body}");
    // Retried (its cancelled nodes, if any, run again), then refused while
    // it runs (or retried again, with nothing to retry); a mode that is
    // none is refused.
    let retry = format!("/v1/flows/{flow}/retry");
    let (status, body) = env.post_json(&retry, &json!({"mode": "failed_only"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = env.post_json(&retry, &json!({"mode": "all"})).await;
    assert!(matches!(status.as_u16(), 200 | 409), "{body}");
    let (status, body) = env.post_json(&retry, &json!({"mode": "some"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Lists: the client's own, filtered; another client's sees none of it;
    // `client_id` is an operator's filter.
    for (key, query, expected, listed) in [
        (API_KEY, "?user_id=ana&limit=5", 200, true),
        (OTHER_API_KEY, "", 200, false),
        (API_KEY, "?status=finished", 422, false),
        (API_KEY, "?client_id=other", 422, false),
    ] {
        let path = format!("/v1/flows{query}");
        let response = http
            .get(env.url(&path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let (status, body) = env.answer("GET", &path, response).await;
        assert_eq!(status.as_u16(), expected, "{query}: {body}");
        if expected == 200 {
            let found = body["flows"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["flow_id"] == json!(flow));
            assert_eq!(found, listed, "{query}: {body}");
        }
    }
    let (status, body) = env
        .post_json(
            "/v1/flows",
            &json!({"user_id": "ana", "nodes": [
                {"name": "a", "kind": "photo.ingest", "input": {"upload_id": photo},
                 "depends_on": ["b"]},
                {"name": "b", "kind": "photo.ingest", "input": {"upload_id": photo},
                 "depends_on": ["a"]},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("a cycle: a → b → a"),
        "{body}"
    );

    // Tokens and the event socket.
    let token = env.token("ana").await;
    let (status, body) = env.post_json("/v1/tokens", &json!({"user_id": ""})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // A socket opened without `last_event_id` hears what happens from now
    // on: the events of a job submitted after it opened.
    let mut socket = env.socket(&token, None).await;
    contract::check("GET", "/v1/events", 101, None);
    let heard = env
        .submit("photo.ingest", "ana", json!({"upload_id": photo}))
        .await;
    socket.until("job.completed", &heard, WAIT).await;
    socket.close().await;
    for (query, expected) in [
        (format!("?token={token}"), 400),
        ("?token=forged".to_owned(), 401),
        (format!("?token={token}&last_event_id=x"), 422),
    ] {
        let path = format!("/v1/events{query}");
        let response = http.get(env.url(&path)).send().await.unwrap();
        let (status, body) = env.answer("GET", &path, response).await;
        assert_eq!(status.as_u16(), expected, "{query}: {body}");
    }

    // Search: a job without an embedding, an unknown one, a bad request.
    for (query, expected) in [
        (json!({"job_id": job}), 422),
        (json!({"job_id": Uuid::new_v4()}), 404),
        (json!({"job_id": job, "text": "a red coat"}), 422),
    ] {
        let (status, body) = env.post_json("/v1/search/similar", &query).await;
        assert_eq!(status.as_u16(), expected, "{query}: {body}");
    }

    // Signed object reads refuse a forged signature.
    let path = "/objects/uploads/x/ana/y?expires=1&sig=forged";
    let response = http.get(env.url(path)).send().await.unwrap();
    let (status, _) = env.answer("GET", path, response).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Operators.
    for (method, path, body, expected) in [
        (Method::GET, "/v1/queues".to_owned(), None, 200),
        (Method::GET, "/v1/queues/ingest".to_owned(), None, 200),
        (Method::GET, "/v1/queues/nope".to_owned(), None, 404),
        (
            Method::GET,
            "/v1/queues/ingest/dead?limit=5".to_owned(),
            None,
            200,
        ),
        (
            Method::POST,
            "/v1/queues/ingest/dead/retry".to_owned(),
            Some(json!({"job_ids": []})),
            200,
        ),
        (
            Method::POST,
            "/v1/queues/ingest/dead/purge".to_owned(),
            Some(json!({"all": true})),
            200,
        ),
        (
            Method::POST,
            "/v1/queues/ingest/dead/purge".to_owned(),
            None,
            422,
        ),
        (Method::GET, format!("/v1/ops/jobs/{job}"), None, 200),
        (
            Method::POST,
            format!("/v1/ops/jobs/{job}/cancel"),
            None,
            409,
        ),
        (Method::GET, "/v1/ops/health".to_owned(), None, 200),
        (Method::GET, "/v1/ops/flows?limit=3".to_owned(), None, 200),
        (
            Method::GET,
            "/v1/ops/jobs?user_id=ana&limit=2".to_owned(),
            None,
            200,
        ),
        (
            Method::GET,
            "/v1/ops/jobs?status=finished".to_owned(),
            None,
            422,
        ),
        (
            Method::GET,
            "/v1/queues/ingest/history".to_owned(),
            None,
            200,
        ),
        (Method::GET, format!("/v1/ops/flows/{flow}"), None, 200),
        (
            Method::GET,
            format!("/v1/ops/flows/{}", Uuid::new_v4()),
            None,
            404,
        ),
        (
            Method::POST,
            format!("/v1/ops/flows/{}/cancel", Uuid::new_v4()),
            None,
            404,
        ),
        (
            Method::POST,
            format!("/v1/ops/flows/{}/retry", Uuid::new_v4()),
            Some(json!({"mode": "all"})),
            404,
        ),
    ] {
        let (status, answer) = env.operator(method.clone(), &path, body).await;
        assert_eq!(status.as_u16(), expected, "{method} {path}: {answer}");
    }
    let response = http
        .get(env.url("/v1/queues"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    let (status, _) = env.answer("GET", "/v1/queues", response).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Malformed queries and paths are answered in the contract's own
    // terms, not with axum's plain-text rejections.
    let token = env.token("ana").await;
    for (key, path, expected, code) in [
        (
            OPERATOR_KEY,
            "/v1/queues/ingest/dead?limit=many".to_owned(),
            422,
            "request.invalid",
        ),
        (API_KEY, "/v1/jobs/%FF%FE".to_owned(), 404, "job.not_found"),
        (
            OPERATOR_KEY,
            "/v1/queues/%FF".to_owned(),
            404,
            "queue.not_found",
        ),
        (
            API_KEY,
            format!("/v1/events?token={token}&token={token}"),
            422,
            "request.invalid",
        ),
        (
            API_KEY,
            "/objects/a/b?expires=soon&sig=x".to_owned(),
            403,
            "object.invalid_signature",
        ),
    ] {
        let response = http
            .get(env.url(&path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let (status, body) = env.answer("GET", &path, response).await;
        assert_eq!(status.as_u16(), expected, "{path}: {body}");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
    }

    // Every JSON body is refused the same way when it is not JSON.
    for (key, path) in [
        (API_KEY, "/v1/tokens"),
        (API_KEY, "/v1/search/similar"),
        (OPERATOR_KEY, "/v1/queues/ingest/dead/retry"),
    ] {
        let response = http
            .post(env.url(path))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body("{\"job_ids\": [")
            .send()
            .await
            .unwrap();
        let (status, body) = env.answer("POST", path, response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(
            body["error"]["code"], "request.malformed_json",
            "{path}: {body}"
        );
    }

    // Every documented operation was called.
    let called: BTreeSet<(String, String)> = contract::checked()
        .into_iter()
        .map(|(method, template, _)| (method, template))
        .collect();
    let mut missing = Vec::new();
    for (template, item) in contract::document()["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let operation = (method.to_ascii_uppercase(), template.clone());
            if !called.contains(&operation) {
                missing.push(operation);
            }
        }
    }
    assert!(missing.is_empty(), "never called: {missing:?}");
    env.finish().await;
}

/// A response that breaks the document is caught: the checks can fail.
#[test]
fn the_check_catches_a_wrong_type_a_missing_field_and_an_undeclared_one() {
    let view = json!({"$ref": "#/components/schemas/JobView"});
    let good = json!({
        "job_id": Uuid::new_v4(), "kind": "test.staged", "user_id": "u",
        "status": "complete", "progress": 100, "attempts": 1,
        "created_at": "2026-12-05T10:00:00Z", "updated_at": "2026-12-05T10:00:01Z",
        "result": {"stages": [{"name": "a", "version": 1, "attempt": 1, "key": "k"}]},
    });
    assert_eq!(contract::validate(&view, &good), Vec::<String>::new());
    let mut wrong = good.clone();
    wrong["result"]["stages"][0]["attempt"] = json!("one");
    assert!(!contract::validate(&view, &wrong).is_empty());
    let mut missing = good.clone();
    missing["result"]["stages"][0]
        .as_object_mut()
        .unwrap()
        .remove("key");
    assert!(!contract::validate(&view, &missing).is_empty());
    let mut extra = good.clone();
    extra["result"]["stages"][0]["colour"] = json!("red");
    let errors = contract::validate(&view, &extra);
    assert!(
        errors.iter().any(|e| e.contains("/result/stages/0/colour")),
        "{errors:?}"
    );
    // Another kind's result does not pass as this kind's.
    let mut other = good.clone();
    other["kind"] = json!("photo.ingest");
    assert!(!contract::validate(&view, &other).is_empty());
    // An undocumented code for a status.
    let caught = std::panic::catch_unwind(|| {
        contract::check(
            "GET",
            "/v1/jobs/x",
            404,
            Some(&json!({"error": {"code": "queue.not_found", "message": "m"}})),
        )
    });
    assert!(caught.is_err());
    let _: Value = good;
}
