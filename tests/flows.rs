//! Flows (issue 19, in progress). In PostgreSQL: a flow's nodes and edges
//! inserted in one transaction, and the release trigger that moves it
//! whatever path ends a node (ended here with plain UPDATEs, as a cancel,
//! the reconciler or an operator would). Through the intake: a flow run by
//! a real worker, a result flowing into the next node's input.
use std::collections::BTreeMap;

use atelier_db::PgPool;
use atelier_db::flows::{Created, NewFlow};
use atelier_jobs::flow::{DependencyPolicy, FlowNodeSpec, FlowPlan, KindSchemas, plan};
use atelier_jobs::{IdempotencyKey, JobStatus, UserId};
use serde_json::{Value, json};
use uuid::Uuid;

use std::time::Duration;

use atelier_tests::{EnvOptions, StatusCode, TestEnv, postgres_base};

struct Db {
    name: String,
    pool: PgPool,
}

impl Db {
    async fn new() -> Db {
        let name = format!("flows_{}", &Uuid::new_v4().simple().to_string()[..12]);
        let pool = atelier_db::connect(&format!("{}/{name}", postgres_base()), 12, true)
            .await
            .unwrap();
        Db { name, pool }
    }

    async fn drop(self) {
        self.pool.close().await;
        let admin = atelier_db::connect(&format!("{}/postgres", postgres_base()), 1, false)
            .await
            .unwrap();
        atelier_db::drop_database(&admin, &self.name).await.unwrap();
    }

    /// Create `plan` as a flow; its nodes' job ids by name.
    async fn create(
        &self,
        plan: &FlowPlan,
        key: Option<&str>,
    ) -> (Uuid, Created, BTreeMap<String, Uuid>) {
        let id = Uuid::new_v4();
        let jobs: Vec<(Uuid, &str)> = plan.nodes.iter().map(|_| (Uuid::new_v4(), "q")).collect();
        let names = plan
            .nodes
            .iter()
            .zip(&jobs)
            .map(|(n, (j, _))| (n.name.clone(), *j))
            .collect();
        let key = key.map(|k| IdempotencyKey::try_from(k.to_owned()).unwrap());
        let user = UserId::try_from("ana".to_owned()).unwrap();
        let created = atelier_db::flows::create(
            &self.pool,
            NewFlow {
                id,
                client_id: "client",
                user_id: &user,
                idempotency_key: key.as_ref(),
                request_hash: "h",
                plan,
                jobs,
                notify: None,
            },
        )
        .await
        .unwrap();
        (id, created, names)
    }

    /// End a job as any path would: `complete` with `result`, or another
    /// final status.
    async fn end(&self, job: Uuid, status: &str, result: Value) {
        sqlx::query("UPDATE jobs SET status = $2, result = $3, finished_at = now() WHERE id = $1")
            .bind(job)
            .bind(status)
            .bind(result)
            .execute(&self.pool)
            .await
            .unwrap();
    }

    /// (status, error code, input) of every node by name, and the flow's
    /// (status, nodes_done).
    async fn state(
        &self,
        flow: Uuid,
    ) -> (
        BTreeMap<String, (JobStatus, Option<String>, Value)>,
        (String, i32),
    ) {
        let (row, nodes) = atelier_db::flows::load(&self.pool, flow)
            .await
            .unwrap()
            .unwrap();
        let nodes = nodes
            .into_iter()
            .map(|j| {
                let name = j.flow.expect("a node").name;
                (
                    name,
                    (
                        j.status,
                        j.error.map(|e| e.code.as_str().to_owned()),
                        j.input,
                    ),
                )
            })
            .collect();
        (nodes, (row.status.as_str().to_owned(), row.nodes_done))
    }
}

fn staged(name: &str, depends_on: &[&str], policy: DependencyPolicy) -> FlowNodeSpec {
    FlowNodeSpec {
        name: name.into(),
        kind: "test.staged".into(),
        input: json!({"stages": [{"name": "s", "ms": 0}]}),
        depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
        on_dependency_failure: policy,
        priority: None,
    }
}

fn planned(nodes: Vec<FlowNodeSpec>) -> FlowPlan {
    plan(nodes, 2000, &KindSchemas::new()).unwrap()
}

#[tokio::test]
async fn a_node_is_released_when_its_dependency_completes_with_its_reference_filled_in() {
    let db = Db::new().await;
    let plan = planned(vec![
        FlowNodeSpec {
            name: "front".into(),
            kind: "photo.ingest".into(),
            input: json!({"upload_id": Uuid::new_v4()}),
            depends_on: vec![],
            on_dependency_failure: DependencyPolicy::Fail,
            priority: None,
        },
        FlowNodeSpec {
            name: "avatar".into(),
            kind: "avatar.build".into(),
            input: json!({"photos": {"front": {"$from": "front", "pointer": "/photo_id"}},
                          "height_cm": 170.0}),
            depends_on: vec!["front".into()],
            on_dependency_failure: DependencyPolicy::Fail,
            priority: None,
        },
    ]);
    let (flow, created, jobs) = db.create(&plan, Some("k")).await;
    assert!(matches!(created, Created::Created(_)));
    let (nodes, state) = db.state(flow).await;
    assert_eq!(nodes["front"].0, JobStatus::Queued);
    assert_eq!(nodes["avatar"].0, JobStatus::Waiting);
    assert_eq!(state, ("running".into(), 0));
    // The same key again: the same flow, nothing inserted.
    let (_, again, _) = db.create(&plan, Some("k")).await;
    assert!(
        matches!(again, Created::Existing(ref row) if row.id == flow),
        "{again:?}"
    );

    let photo = Uuid::new_v4();
    db.end(jobs["front"], "complete", json!({"photo_id": photo}))
        .await;
    let (nodes, state) = db.state(flow).await;
    assert_eq!(nodes["avatar"].0, JobStatus::Queued, "released");
    assert_eq!(nodes["avatar"].2["photos"]["front"], json!(photo));
    assert_eq!(nodes["avatar"].2["height_cm"], json!(170.0));
    assert_eq!(state, ("running".into(), 1));
    // Not yet pushed: the outbox relay takes released nodes.
    let enqueued: Option<sqlx::types::chrono::DateTime<sqlx::types::chrono::Utc>> =
        sqlx::query_scalar("SELECT enqueued_at FROM jobs WHERE id = $1")
            .bind(jobs["avatar"])
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(enqueued.is_none());

    db.end(jobs["avatar"], "complete", json!({})).await;
    let (_, state) = db.state(flow).await;
    assert_eq!(state, ("complete".into(), 2));
    db.drop().await;
}

#[tokio::test]
async fn a_reference_to_nothing_fails_the_node_and_the_flow() {
    let db = Db::new().await;
    let mut reader = staged("b", &["a"], DependencyPolicy::Fail);
    reader.input["stages"][0]["ms"] = json!({"$from": "a", "pointer": "/stages/0/version"});
    let plan = planned(vec![staged("a", &[], DependencyPolicy::Fail), reader]);
    let (flow, _, jobs) = db.create(&plan, None).await;
    db.end(jobs["a"], "complete", json!({"stages": []})).await;
    let (nodes, state) = db.state(flow).await;
    assert_eq!(nodes["b"].0, JobStatus::Error);
    assert_eq!(nodes["b"].1.as_deref(), Some("flow.reference_unresolved"));
    assert_eq!(state, ("failed".into(), 2));
    db.drop().await;
}

#[tokio::test]
async fn each_policy_holds_when_a_dependency_fails() {
    let db = Db::new().await;
    let plan = planned(vec![
        staged("a", &[], DependencyPolicy::Fail),
        staged("ok", &[], DependencyPolicy::Fail),
        staged("fails", &["a", "ok"], DependencyPolicy::Fail),
        staged("after_fails", &["fails"], DependencyPolicy::Fail),
        staged("skips", &["a"], DependencyPolicy::Skip),
        staged("after_skips", &["skips"], DependencyPolicy::Skip),
        staged("continues", &["a", "skips"], DependencyPolicy::Continue),
    ]);
    let (flow, _, jobs) = db.create(&plan, None).await;
    db.end(jobs["ok"], "complete", json!({})).await;
    let (nodes, _) = db.state(flow).await;
    assert_eq!(nodes["fails"].0, JobStatus::Waiting, "a has not ended");
    db.end(jobs["a"], "dead", Value::Null).await;
    let (nodes, state) = db.state(flow).await;
    let status = |n: &str| (nodes[n].0, nodes[n].1.clone());
    assert_eq!(
        status("fails"),
        (JobStatus::Error, Some("flow.dependency_failed".into()))
    );
    // Its failure fails what depends on it in turn, in the same statement.
    assert_eq!(
        status("after_fails"),
        (JobStatus::Error, Some("flow.dependency_failed".into()))
    );
    assert_eq!(status("skips"), (JobStatus::Skipped, None));
    assert_eq!(status("after_skips"), (JobStatus::Skipped, None));
    assert_eq!(status("continues"), (JobStatus::Queued, None));
    assert_eq!(state, ("running".into(), 6), "continues still to run");
    db.end(jobs["continues"], "complete", json!({})).await;
    let (_, state) = db.state(flow).await;
    assert_eq!(state, ("failed".into(), 7));
    db.drop().await;
}

#[tokio::test]
async fn a_failure_every_dependent_skips_or_continues_past_does_not_fail_the_flow() {
    let db = Db::new().await;
    let plan = planned(vec![
        staged("a", &[], DependencyPolicy::Fail),
        staged("skips", &["a"], DependencyPolicy::Skip),
        staged("continues", &["a"], DependencyPolicy::Continue),
    ]);
    let (flow, _, jobs) = db.create(&plan, None).await;
    db.end(jobs["a"], "error", Value::Null).await;
    db.end(jobs["continues"], "complete", json!({})).await;
    let (_, state) = db.state(flow).await;
    assert_eq!(state, ("complete".into(), 3));
    db.drop().await;
}

/// A flow's events are logged with the user's others in the transaction
/// that moves it: a progress event per node that ended, in the order they
/// moved (the failed node before the one its failure skipped), then one
/// end event naming the node that failed; a flow with `notify` queues one
/// e-mail job at its end.
#[tokio::test]
async fn a_flow_logs_its_progress_in_order_and_its_end_once() {
    let db = Db::new().await;
    let plan = planned(vec![
        staged("a", &[], DependencyPolicy::Fail),
        staged("skips", &["a"], DependencyPolicy::Skip),
        staged("other", &[], DependencyPolicy::Fail),
    ]);
    let (flow, _, jobs) = db.create(&plan, None).await;
    sqlx::query(
        "UPDATE flows SET notify_email = 'ana@example.com', notify_queue = 'email' WHERE id = $1",
    )
    .bind(flow)
    .execute(&db.pool)
    .await
    .unwrap();
    db.end(jobs["other"], "complete", json!({})).await;
    db.end(jobs["a"], "error", Value::Null).await;
    let events = atelier_db::events::after(&db.pool, "client", "ana", 0, 100)
        .await
        .unwrap();
    let seen: Vec<(String, Value, Value)> = events
        .iter()
        .map(|e| {
            (
                e.event_type.clone(),
                e.data["node"].clone(),
                e.data["status"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("flow.progress".into(), json!("other"), json!("complete")),
            ("flow.progress".into(), json!("a"), json!("error")),
            ("flow.progress".into(), json!("skips"), json!("skipped")),
            ("flow.completed".into(), Value::Null, json!("complete")),
        ]
    );
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4],
        "numbered in order"
    );
    assert!(
        events.iter().all(|e| e.job_id == flow),
        "job_id is the flow's id"
    );
    let end = &events[3].data;
    assert_eq!(
        (&end["done"], &end["total"], &end["failed_nodes"]),
        (&json!(3), &json!(3), &json!(["a"]))
    );
    assert_eq!(events[0].data["done"], 1);
    let emails: Vec<Value> = sqlx::query_scalar(
        "SELECT input FROM jobs WHERE kind = 'notify.email' AND client_id = 'client'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        emails,
        [json!({"to": "ana@example.com", "about_flow_id": flow})]
    );
    db.drop().await;
}

/// An operator's retry of a dead node re-opens its ended flow: what its
/// death failed waits again, and the flow ends again when they have run.
#[tokio::test]
async fn a_dead_node_retried_from_the_dead_letters_reopens_its_flow() {
    let db = Db::new().await;
    let plan = planned(vec![
        staged("a", &[], DependencyPolicy::Fail),
        staged("b", &["a"], DependencyPolicy::Fail),
        staged("c", &["b"], DependencyPolicy::Skip),
        staged("d", &[], DependencyPolicy::Fail),
    ]);
    let (flow, _, jobs) = db.create(&plan, None).await;
    db.end(jobs["d"], "complete", json!({})).await;
    db.end(jobs["a"], "dead", Value::Null).await;
    let (nodes, state) = db.state(flow).await;
    assert_eq!(state, ("failed".into(), 4));
    assert_eq!(nodes["c"].0, JobStatus::Skipped);

    assert_eq!(
        atelier_db::jobs::requeue_dead(&db.pool, &[jobs["a"]])
            .await
            .unwrap(),
        1
    );
    let (nodes, state) = db.state(flow).await;
    assert_eq!(state, ("running".into(), 1), "only d still counts as ended");
    assert_eq!(nodes["a"].0, JobStatus::Queued);
    assert_eq!(
        (nodes["b"].0, nodes["b"].1.clone()),
        (JobStatus::Waiting, None)
    );
    assert_eq!(nodes["c"].0, JobStatus::Waiting);
    assert_eq!(nodes["d"].0, JobStatus::Complete, "what completed stays");

    db.end(jobs["a"], "complete", json!({})).await;
    assert_eq!(db.state(flow).await.0["b"].0, JobStatus::Queued);
    db.end(jobs["b"], "complete", json!({})).await;
    db.end(jobs["c"], "complete", json!({})).await;
    assert_eq!(db.state(flow).await.1, ("complete".into(), 4));
    let ends: Vec<String> = atelier_db::events::after(&db.pool, "client", "ana", 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .filter(|t| t != "flow.progress")
        .collect();
    assert_eq!(ends, ["flow.failed", "flow.completed"]);
    db.drop().await;
}

/// A chain of 1,000 whose first node fails: the release loop (not trigger
/// recursion) fails all 999 in one statement, and the flow ends.
#[tokio::test]
async fn a_long_chain_fails_through_in_one_statement() {
    let db = Db::new().await;
    let names: Vec<String> = (0..1000).map(|i| format!("n{i}")).collect();
    let nodes = (0..1000)
        .map(|i| {
            let deps: Vec<&str> = if i == 0 {
                vec![]
            } else {
                vec![names[i - 1].as_str()]
            };
            staged(&names[i], &deps, DependencyPolicy::Fail)
        })
        .collect();
    let (flow, _, jobs) = db.create(&planned(nodes), None).await;
    db.end(jobs["n0"], "error", Value::Null).await;
    let (nodes, state) = db.state(flow).await;
    assert_eq!(state, ("failed".into(), 1000));
    assert!(
        nodes
            .values()
            .skip(1)
            .all(|(s, code, _)| *s == JobStatus::Error
                && code.as_deref() == Some("flow.dependency_failed"))
    );
    db.drop().await;
}

/// 1 → 50 → 1, the 50 ended from 10 connections at once: the last node is
/// released exactly once, and the flow counts every end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_in_ended_concurrently_releases_once_and_counts_every_end() {
    let db = Db::new().await;
    let middle: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
    let mut nodes = vec![staged("start", &[], DependencyPolicy::Fail)];
    nodes.extend(
        middle
            .iter()
            .map(|m| staged(m, &["start"], DependencyPolicy::Fail)),
    );
    let refs: Vec<&str> = middle.iter().map(String::as_str).collect();
    nodes.push(staged("end", &refs, DependencyPolicy::Fail));
    let (flow, _, jobs) = db.create(&planned(nodes), None).await;
    db.end(jobs["start"], "complete", json!({})).await;
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in middle.chunks(5) {
        let pool = db.pool.clone();
        let ids: Vec<Uuid> = chunk.iter().map(|m| jobs[m]).collect();
        tasks.spawn(async move {
            for id in ids {
                sqlx::query("UPDATE jobs SET status = 'complete', result = '{}' WHERE id = $1")
                    .bind(id)
                    .execute(&pool)
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let (nodes, state) = db.state(flow).await;
    assert_eq!(nodes["end"].0, JobStatus::Queued);
    assert_eq!(state, ("running".into(), 51));
    let waiting_on: i32 = sqlx::query_scalar("SELECT waiting_on FROM jobs WHERE id = $1")
        .bind(jobs["end"])
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(waiting_on, 0, "each end counted once");
    db.end(jobs["end"], "complete", json!({})).await;
    assert_eq!(db.state(flow).await.1, ("complete".into(), 52));
    db.drop().await;
}

/// An intake with a worker on the test kinds' queue.
async fn staged_env(options: EnvOptions) -> TestEnv {
    let mut env = TestEnv::start(options).await.unwrap();
    env.spawn_worker_with(&[("ATELIER__WORKER__QUEUES", "staged")])
        .unwrap();
    env
}

/// The node `name` of a flow's view.
fn node(flow: &Value, name: &str) -> Value {
    flow["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no node {name} in {flow}"))
        .clone()
}

/// a → b → c through the intake and a worker: b's stage version comes
/// from a's result, c's from b's; each node runs once, after its
/// dependency, and the flow completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_runs_its_nodes_in_order_with_results_flowing_into_inputs() {
    let env = staged_env(EnvOptions::default()).await;
    let stage = |version: Value| json!({"stages": [{"name": "s", "version": version, "ms": 50}]});
    let (status, accepted) = env
        .post_json(
            "/v1/flows",
            &json!({"user_id": "vic", "idempotency_key": "f-1", "nodes": [
                {"name": "c", "kind": "test.staged", "depends_on": ["b"],
                 "input": stage(json!({"$from": "b", "pointer": "/stages/0/version"}))},
                {"name": "a", "kind": "test.staged", "input": stage(json!(7))},
                {"name": "b", "kind": "test.staged", "depends_on": ["a"],
                 "input": stage(json!({"$from": "a", "pointer": "/stages/0/version"}))},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let order: Vec<&str> = accepted["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["a", "b", "c"]);
    assert_eq!(accepted["nodes"][0]["status"], "queued");
    assert_eq!(accepted["nodes"][1]["status"], "waiting");
    let id = accepted["flow_id"].as_str().unwrap().to_owned();

    let flow = env
        .wait_flow(&id, Duration::from_secs(60), |f| f["status"] != "running")
        .await;
    assert_eq!(flow["status"], "complete", "{flow}");
    assert_eq!(
        (flow["nodes_done"].clone(), flow["nodes_total"].clone()),
        (json!(3), json!(3))
    );
    let node = |name: &str| node(&flow, name);
    for name in ["b", "c"] {
        let n = node(name);
        assert_eq!(n["resolved_input"]["stages"][0]["version"], 7, "{n}");
        assert_eq!(n["result"]["stages"][0]["version"], 7, "{n}");
    }
    for (before, after) in [("a", "b"), ("b", "c")] {
        let ended = node(before)["finished_at"].as_str().unwrap().to_owned();
        let started = node(after)["started_at"].as_str().unwrap().to_owned();
        let ended: sqlx::types::chrono::DateTime<sqlx::types::chrono::Utc> = ended.parse().unwrap();
        let started: sqlx::types::chrono::DateTime<sqlx::types::chrono::Utc> =
            started.parse().unwrap();
        assert!(
            started >= ended,
            "{after} started before {before} ended: {flow}"
        );
        assert_eq!(node(after)["depends_on"], json!([before]));
    }
    assert!(
        flow["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["attempts"] == 1),
        "{flow}"
    );

    // The same key again answers with the same flow.
    let (status, again) = env
        .post_json(
            "/v1/flows",
            &json!({"user_id": "vic", "idempotency_key": "f-1", "nodes": [
                {"name": "c", "kind": "test.staged", "depends_on": ["b"],
                 "input": stage(json!({"$from": "b", "pointer": "/stages/0/version"}))},
                {"name": "a", "kind": "test.staged", "input": stage(json!(7))},
                {"name": "b", "kind": "test.staged", "depends_on": ["a"],
                 "input": stage(json!({"$from": "a", "pointer": "/stages/0/version"}))},
            ]}),
        )
        .await;
    assert_eq!(
        (status, &again["flow_id"]),
        (StatusCode::ACCEPTED, &json!(id))
    );
    // A reference whose type does not fit is refused at submission.
    let (status, body) = env
        .post_json(
            "/v1/flows",
            &json!({"user_id": "vic", "nodes": [
                {"name": "a", "kind": "test.staged", "input": stage(json!(1))},
                {"name": "b", "kind": "test.staged", "depends_on": ["a"],
                 "input": stage(json!({"$from": "a", "pointer": "/stages/0/key"}))},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"]["message"],
        "nodes[1].input.stages[0].version: a /stages/0/key: a test.staged result has string there, the test.staged input wants integer"
    );
    env.finish().await;
}

/// A cancel while a node runs: the flow is `cancelled` at once, the node
/// waiting on it ends now, the running one at its next stage; a second
/// cancel is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_flow_ends_its_waiting_nodes_now_and_its_running_ones_at_their_next_stage() {
    let env = staged_env(EnvOptions::default()).await;
    let (status, accepted) = env
        .post_json(
            "/v1/flows",
            &json!({"user_id": "vic", "nodes": [
                {"name": "long", "kind": "test.staged",
                 "input": {"stages": [{"name": "s1", "ms": 2000}, {"name": "s2", "ms": 2000}]}},
                {"name": "after", "kind": "test.staged", "depends_on": ["long"],
                 "input": {"stages": [{"name": "s", "ms": 0}]}},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let id = accepted["flow_id"].as_str().unwrap().to_owned();
    let long = accepted["nodes"][0]["job_id"].as_str().unwrap().to_owned();
    let after = accepted["nodes"][1]["job_id"].as_str().unwrap().to_owned();
    env.wait_job(&long, Duration::from_secs(30), |j| {
        j["status"] == "processing"
    })
    .await;
    let (status, answer) = env
        .post_json(&format!("/v1/flows/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], "cancelled");
    assert_eq!(answer["ended"], json!([after]));
    assert_eq!(answer["stopping"], json!([long]));
    let flow = env
        .wait_flow(&id, Duration::from_secs(30), |f| f["nodes_done"] == 2)
        .await;
    assert_eq!(flow["status"], "cancelled", "{flow}");
    assert!(flow["finished_at"].is_string(), "{flow}");
    for node in flow["nodes"].as_array().unwrap() {
        assert_eq!(node["status"], "error", "{node}");
        assert_eq!(node["error"]["code"], "job.cancelled", "{node}");
    }
    let (status, body) = env
        .post_json(&format!("/v1/flows/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Retried with what followed: both nodes run again, the flow completes.
    let (status, answer) = env
        .post_json(
            &format!("/v1/flows/{id}/retry"),
            &json!({"mode": "failed_and_downstream"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (answer["status"].clone(), answer["nodes_retried"].clone()),
        (json!("running"), json!(2))
    );
    let flow = env
        .wait_flow(&id, Duration::from_secs(30), |f| f["status"] != "running")
        .await;
    assert_eq!(flow["status"], "complete", "{flow}");
    assert!(
        flow["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["attempts"] == 1),
        "{flow}"
    );
    env.finish().await;
}

/// With the outbox relay's passes an hour apart, a chain still runs: each
/// released node is pushed as the releasing transaction commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn released_nodes_are_pushed_at_once_not_at_the_relays_next_pass() {
    let env = staged_env(EnvOptions {
        extra_env: vec![("ATELIER__INTAKE__OUTBOX_INTERVAL".into(), "1h".into())],
        ..EnvOptions::default()
    })
    .await;
    let nodes: Vec<Value> = (0..5)
        .map(|i| {
            let depends_on: Vec<String> = if i == 0 {
                vec![]
            } else {
                vec![format!("n{}", i - 1)]
            };
            json!({"name": format!("n{i}"), "kind": "test.staged", "depends_on": depends_on,
                   "input": {"stages": [{"name": "s", "ms": 0}]}})
        })
        .collect();
    let (status, accepted) = env
        .post_json("/v1/flows", &json!({"user_id": "vic", "nodes": nodes}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let id = accepted["flow_id"].as_str().unwrap().to_owned();
    let flow = env
        .wait_flow(&id, Duration::from_secs(30), |f| f["status"] != "running")
        .await;
    assert_eq!(flow["status"], "complete", "{flow}");
    // Each of the four releases was measured, and the flow is counted.
    let metrics = env.intake_metrics().await;
    assert!(
        metrics.contains("atelier_flow_release_latency_seconds_count{kind=\"test.staged\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("atelier_flows{status=\"complete\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("atelier_flow_nodes_waiting{kind=\"test.staged\"} 0"),
        "{metrics}"
    );
    env.finish().await;
}

/// A dependency cancelled before it ran: the node that continues past it
/// runs and its handler sees the dependency's end in the runtime's
/// dependency map; the one that fails with it ends
/// `flow.dependency_failed`; the flow fails (not every dependent absorbed
/// the failure).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_continues_past_a_failed_dependency_sees_it_in_its_dependency_map() {
    let env = staged_env(EnvOptions::default()).await;
    let (status, _) = env
        .operator(reqwest::Method::POST, "/v1/queues/staged/pause", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let stage = json!({"stages": [{"name": "s", "ms": 0}]});
    let (status, accepted) = env
        .post_json(
            "/v1/flows",
            &json!({"user_id": "vic", "nodes": [
                {"name": "a", "kind": "test.staged", "input": stage},
                {"name": "ok", "kind": "test.staged", "input": stage},
                {"name": "goes_on", "kind": "test.staged", "depends_on": ["a", "ok"],
                 "on_dependency_failure": "continue", "input": stage},
                {"name": "stops", "kind": "test.staged", "depends_on": ["a"], "input": stage},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let id = accepted["flow_id"].as_str().unwrap().to_owned();
    let a = accepted["nodes"][0]["job_id"].as_str().unwrap().to_owned();
    let (status, body) = env
        .post_json(&format!("/v1/jobs/{a}/cancel"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = env
        .operator(reqwest::Method::POST, "/v1/queues/staged/resume", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let flow = env
        .wait_flow(&id, Duration::from_secs(30), |f| f["status"] != "running")
        .await;
    assert_eq!(flow["status"], "failed", "{flow}");
    let node = |name: &str| node(&flow, name);
    assert_eq!(node("goes_on")["status"], "complete", "{flow}");
    assert_eq!(
        node("goes_on")["result"]["dependencies"],
        json!({"a": "error", "ok": "complete"})
    );
    assert_eq!(
        node("stops")["error"]["code"],
        "flow.dependency_failed",
        "{flow}"
    );
    assert!(
        node("stops")["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the node a"),
        "{flow}"
    );
    env.finish().await;
}

/// A value that fits the field's type but breaks the kind's rule (a stage
/// of 70 s where at most 60 s is allowed) is refused when the node runs,
/// the first time the value is known: `request.invalid`, never retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filled_in_input_is_checked_for_its_kind_when_the_node_runs() {
    let env = staged_env(EnvOptions::default()).await;
    let (status, accepted) = env
        .post_json(
            "/v1/flows",
            &json!({"user_id": "vic", "nodes": [
                {"name": "a", "kind": "test.staged",
                 "input": {"stages": [{"name": "s", "version": 70000, "ms": 0}]}},
                {"name": "b", "kind": "test.staged", "depends_on": ["a"],
                 "input": {"stages": [{"name": "s",
                     "ms": {"$from": "a", "pointer": "/stages/0/version"}}]}},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let id = accepted["flow_id"].as_str().unwrap().to_owned();
    let flow = env
        .wait_flow(&id, Duration::from_secs(30), |f| f["status"] != "running")
        .await;
    assert_eq!(flow["status"], "failed", "{flow}");
    let b = &flow["nodes"][1];
    assert_eq!(b["error"]["code"], "request.invalid", "{flow}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ms at most 60000"),
        "{flow}"
    );
    assert_eq!(b["attempts"], 1, "{flow}");
    env.finish().await;
}

/// a → b → c failed through from a, x completed: a failed flow.
async fn failed_flow(db: &Db) -> (Uuid, BTreeMap<String, Uuid>) {
    use atelier_jobs::flow::RetryMode;
    let plan = planned(vec![
        staged("a", &[], DependencyPolicy::Fail),
        staged("b", &["a"], DependencyPolicy::Fail),
        staged("c", &["b"], DependencyPolicy::Fail),
        staged("x", &[], DependencyPolicy::Fail),
    ]);
    let (flow, _, jobs) = db.create(&plan, None).await;
    let running = atelier_db::flows::retry(&db.pool, flow, RetryMode::All)
        .await
        .unwrap();
    assert_eq!(running, None, "no retry while it runs");
    db.end(jobs["x"], "complete", json!({})).await;
    db.end(jobs["a"], "error", Value::Null).await;
    assert_eq!(db.state(flow).await.1, ("failed".into(), 4));
    (flow, jobs)
}

/// River's three retry modes on a failed flow (a → b → c failed through
/// from a; x completed), and no retry while a flow runs.
#[tokio::test]
async fn a_retry_runs_again_the_failed_nodes_what_follows_them_or_all() {
    use atelier_db::flows::retry;
    use atelier_jobs::flow::RetryMode;
    let db = Db::new().await;
    let statuses = |nodes: &BTreeMap<String, (JobStatus, Option<String>, Value)>| {
        ["a", "b", "c", "x"].map(|n| nodes[n].0)
    };
    use JobStatus::{Complete, Error, Queued, Waiting};

    // failed_only: a alone runs again; b and c stay failed, so the flow
    // fails again once a completes.
    let (flow, jobs) = failed_flow(&db).await;
    assert_eq!(
        retry(&db.pool, flow, RetryMode::FailedOnly).await.unwrap(),
        Some(1)
    );
    let (nodes, state) = db.state(flow).await;
    assert_eq!(statuses(&nodes), [Queued, Error, Error, Complete]);
    assert_eq!(state, ("running".into(), 3));
    db.end(jobs["a"], "complete", json!({})).await;
    assert_eq!(db.state(flow).await.1, ("failed".into(), 4));

    // failed_and_downstream: a, b and c run again, in order; x is kept.
    let (flow, jobs) = failed_flow(&db).await;
    assert_eq!(
        retry(&db.pool, flow, RetryMode::FailedAndDownstream)
            .await
            .unwrap(),
        Some(3)
    );
    let (nodes, _) = db.state(flow).await;
    assert_eq!(statuses(&nodes), [Queued, Waiting, Waiting, Complete]);
    assert_eq!(nodes["b"].1, None, "its error is cleared");
    for node in ["a", "b", "c"] {
        db.end(jobs[node], "complete", json!({})).await;
    }
    assert_eq!(db.state(flow).await.1, ("complete".into(), 4));

    // all: every node, the completed one too.
    let (flow, _) = failed_flow(&db).await;
    assert_eq!(
        retry(&db.pool, flow, RetryMode::All).await.unwrap(),
        Some(4)
    );
    let (nodes, state) = db.state(flow).await;
    assert_eq!(statuses(&nodes), [Queued, Waiting, Waiting, Queued]);
    assert_eq!(state, ("running".into(), 0));
    db.drop().await;
}

/// Every event of a user's socket until `quiet` passes without one.
async fn drain(socket: &mut atelier_tests::EventSocket, quiet: Duration) -> Vec<Value> {
    let mut events = Vec::new();
    while let Some(event) = socket.next(quiet).await {
        events.push(event);
    }
    events
}

/// A flow with `notify`: its socket hears each node's progress and one
/// `flow.completed`, last; one e-mail about the whole flow reaches the
/// SMTP server, not one per node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notified_flow_tells_its_progress_its_end_once_and_emails_once() {
    let dir = tempfile::tempdir().unwrap();
    let sink = atelier_tests::SmtpSink::start(dir.path()).await;
    let mut env = TestEnv::start(sink.options()).await.unwrap();
    env.spawn_worker_with(&[("ATELIER__WORKER__QUEUES", "staged,email")])
        .unwrap();
    let mut socket = env.socket(&env.token("flo").await, None).await;
    let stage = json!({"stages": [{"name": "s", "ms": 200}]});
    let (status, accepted) = env
        .post_json(
            "/v1/flows",
            &json!({"user_id": "flo", "notify": {"email": "flo@example.com"}, "nodes": [
                {"name": "a", "kind": "test.staged", "input": stage},
                {"name": "b", "kind": "test.staged", "depends_on": ["a"], "input": stage},
                {"name": "c", "kind": "test.staged", "depends_on": ["a"], "input": stage},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let id = accepted["flow_id"].as_str().unwrap().to_owned();
    let flow = env
        .wait_flow(&id, Duration::from_secs(60), |f| f["status"] != "running")
        .await;
    assert_eq!(flow["status"], "complete", "{flow}");
    assert_eq!(flow["notify_email"], "flo@example.com");
    // Operators see it drawn as a tree, and in the list.
    let shown = env.ctl(&["flows", "show", &id]).await;
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains(&format!("flow {id} (user flo): complete 3/3"))
            && shown.contains("└─ a [test.staged] complete")
            && shown.contains("   ├─ b [test.staged] complete")
            && shown.contains("   └─ c [test.staged] complete"),
        "{shown}"
    );
    let listed = env
        .ctl(&["flows", "list", "--user", "flo", "--status", "complete"])
        .await;
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains(&id),
        "{listed:?}"
    );

    let events = drain(&mut socket, Duration::from_secs(2)).await;
    let flow_events: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"].as_str().unwrap().starts_with("flow."))
        .collect();
    let kinds: Vec<&str> = flow_events
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "flow.progress",
            "flow.progress",
            "flow.progress",
            "flow.completed"
        ],
        "{events:?}"
    );
    assert_eq!(flow_events[0]["data"]["node"], "a");
    assert!(flow_events.iter().all(|e| e["job_id"] == json!(id)));
    assert_eq!(flow_events[3]["data"]["done"], 3);
    // The nodes' own job events reach the same socket.
    let completed = events
        .iter()
        .filter(|e| e["type"] == "job.completed" && e["data"]["kind"] == "test.staged")
        .count();
    assert_eq!(completed, 3, "{events:?}");

    let mail = sink.wait_for("flo@example.com", 1).await;
    assert!(mail[0].contains("Your flow is complete"), "{}", mail[0]);
    for name in ["- a (test.staged): complete", "- b (test.staged): complete"] {
        assert!(mail[0].contains(name), "{}", mail[0]);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.messages().len(), 1, "one e-mail per flow");
    env.finish().await;
}

/// Redis is killed and comes back empty while flows run: the reconciler
/// and the outbox push again what it lost, every flow still completes, and
/// a socket that reconnects with its last `event_id` receives every job
/// and flow event, because the log is in PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_empty_loses_no_flow_and_no_event() {
    let mut redis = atelier_tests::RedisServer::start().await.unwrap();
    let mut env = TestEnv::start(EnvOptions {
        redis_url: Some(redis.url()),
        lease: "4s",
        extra_env: vec![
            ("ATELIER__INTAKE__RECONCILE_INTERVAL".into(), "500ms".into()),
            ("ATELIER__INTAKE__RECONCILE_AFTER".into(), "1s".into()),
        ],
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    env.spawn_worker_with(&[
        ("ATELIER__WORKER__QUEUES", "staged"),
        ("ATELIER__WORKER__CONCURRENCY", "4"),
    ])
    .unwrap();
    let mut socket = env.socket(&env.token("rae").await, Some("0")).await;
    let stage = json!({"stages": [{"name": "s", "ms": 100}]});
    let mut flows = Vec::new();
    for _ in 0..12 {
        let (status, accepted) = env
            .post_json(
                "/v1/flows",
                &json!({"user_id": "rae", "nodes": [
                    {"name": "a", "kind": "test.staged", "input": stage},
                    {"name": "b", "kind": "test.staged", "depends_on": ["a"], "input": stage},
                    {"name": "c", "kind": "test.staged", "depends_on": ["b"], "input": stage},
                ]}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        flows.push(accepted["flow_id"].as_str().unwrap().to_owned());
    }
    // Midway: some events heard, Redis gone and back empty.
    let mut heard = Vec::new();
    while heard.len() < 8 {
        heard.push(
            socket
                .next(Duration::from_secs(30))
                .await
                .expect("events before the loss"),
        );
    }
    drop(socket);
    redis
        .restart_empty(Duration::from_millis(500))
        .await
        .unwrap();
    for id in &flows {
        let flow = env
            .wait_flow(id, Duration::from_secs(120), |f| f["status"] != "running")
            .await;
        assert_eq!(flow["status"], "complete", "{flow}");
    }
    let last = heard.last().unwrap()["event_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut socket = env.socket(&env.token("rae").await, Some(&last)).await;
    heard.extend(drain(&mut socket, Duration::from_secs(2)).await);
    let ids: Vec<u64> = heard
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in order, once: {ids:?}"
    );
    let count = |kind: &str| heard.iter().filter(|e| e["type"] == kind).count();
    let jobs_completed: std::collections::BTreeSet<&str> = heard
        .iter()
        .filter(|e| e["type"] == "job.completed")
        .map(|e| e["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(jobs_completed.len(), 36, "every node's completion");
    assert_eq!(count("flow.progress"), 36);
    assert_eq!(count("flow.completed"), 12);
    env.finish().await;
}

/// One random flow: `n` nodes, each depending on up to three earlier ones
/// under a random policy, one in eight failing by itself.
fn random_flow(rng: &mut rand::rngs::StdRng, user: &str, n: usize) -> Value {
    use rand::Rng;
    let policies = ["fail", "skip", "continue"];
    let nodes: Vec<Value> = (0..n)
        .map(|i| {
            let mut deps: Vec<String> = Vec::new();
            if i > 0 {
                for _ in 0..rng.random_range(0..=3) {
                    let d = format!("n{}", rng.random_range(0..i));
                    if !deps.contains(&d) {
                        deps.push(d);
                    }
                }
            }
            json!({"name": format!("n{i}"), "kind": "test.staged", "depends_on": deps,
                   "on_dependency_failure": policies[rng.random_range(0..3)],
                   "input": {"stages": [{"name": "s", "ms": rng.random_range(20..=300)}],
                             "fail": rng.random_ratio(1, 8)}})
        })
        .collect();
    json!({"user_id": user, "nodes": nodes})
}

/// What must hold of an ended flow, whatever happened to it: every node
/// ended; none started before each of its dependencies had ended; each
/// node's end follows its own input and its dependencies' ends under its
/// policy; the flow's state follows its nodes'.
fn check_ended_flow(submitted: &Value, view: &Value, cancelled: bool) {
    let ended = ["complete", "error", "dead", "skipped"];
    let node = |name: &str| node(view, name);
    let at = |v: &Value| -> Option<sqlx::types::chrono::DateTime<sqlx::types::chrono::Utc>> {
        v.as_str().map(|s| s.parse().unwrap())
    };
    let mut unabsorbed = false;
    for spec in submitted["nodes"].as_array().unwrap() {
        let name = spec["name"].as_str().unwrap();
        let n = node(name);
        let status = n["status"].as_str().unwrap();
        let code = n["error"]["code"].as_str().unwrap_or("");
        assert!(ended.contains(&status), "{name} did not end: {view}");
        let deps: Vec<Value> = spec["depends_on"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| node(d.as_str().unwrap()))
            .collect();
        if let Some(started) = at(&n["started_at"]) {
            for d in &deps {
                let finished = at(&d["finished_at"]).expect("a dependency that ended");
                assert!(
                    finished <= started,
                    "{name} started before {} ended: {view}",
                    d["name"]
                );
            }
        }
        if code == "job.cancelled" {
            assert!(
                cancelled,
                "{name} cancelled in a flow nobody cancelled: {view}"
            );
            continue;
        }
        let all_complete = deps.iter().all(|d| d["status"] == "complete");
        let policy = spec["on_dependency_failure"].as_str().unwrap();
        let ran = match (all_complete, policy) {
            (true, _) | (false, "continue") => true,
            (false, "skip") => {
                assert_eq!(status, "skipped", "{name} under skip: {view}");
                false
            }
            (false, _) => {
                assert_eq!(code, "flow.dependency_failed", "{name} under fail: {view}");
                false
            }
        };
        if ran {
            let expected = if spec["input"]["fail"] == true {
                "error"
            } else {
                "complete"
            };
            assert!(
                status == expected || status == "dead",
                "{name} ran and ended {status}, not {expected}: {view}"
            );
        }
        if matches!(status, "error" | "dead") {
            let dependents: Vec<&Value> = submitted["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["depends_on"].as_array().unwrap().contains(&json!(name)))
                .collect();
            unabsorbed |= code == "flow.dependency_failed"
                || dependents.is_empty()
                || dependents
                    .iter()
                    .any(|s| s["on_dependency_failure"] == "fail");
        }
    }
    let expected = if cancelled {
        "cancelled"
    } else if unabsorbed {
        "failed"
    } else {
        "complete"
    };
    assert_eq!(view["status"], expected, "{view}");
}

/// Random DAGs of up to 50 nodes with random failures, run by workers
/// SIGKILLed mid-run, one flow cancelled and then retried: every flow ends,
/// in the state its nodes give it; no node starts before its dependencies
/// end; each policy holds; and each node runs to completion at most once.
/// `ATELIER_FLOW_SEED` replays a seed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_flows_through_kills_cancels_and_retries_always_end_as_their_policies_say() {
    use rand::{Rng, SeedableRng};
    let seed: u64 = std::env::var("ATELIER_FLOW_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("ATELIER_FLOW_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut env = TestEnv::start(EnvOptions {
        lease: "3s",
        extra_env: vec![
            ("ATELIER__INTAKE__RECONCILE_INTERVAL".into(), "500ms".into()),
            ("ATELIER__INTAKE__RECONCILE_AFTER".into(), "2s".into()),
        ],
        ..EnvOptions::default()
    })
    .await
    .unwrap();
    let worker = [
        ("ATELIER__WORKER__QUEUES", "staged"),
        ("ATELIER__WORKER__CONCURRENCY", "4"),
    ];
    let mut current = env.spawn_worker_with(&worker).unwrap();
    let mut flows = Vec::new();
    for i in 0..5 {
        let n = rng.random_range(5..=50);
        let submitted = random_flow(&mut rng, "pat", n);
        let (status, accepted) = env.post_json("/v1/flows", &submitted).await;
        assert_eq!(status, StatusCode::ACCEPTED, "flow {i}: {accepted}");
        flows.push((accepted["flow_id"].as_str().unwrap().to_owned(), submitted));
    }
    // Mid-run: the first flow cancelled, the worker killed twice and
    // replaced.
    tokio::time::sleep(Duration::from_millis(rng.random_range(200..800))).await;
    let (status, body) = env
        .post_json(&format!("/v1/flows/{}/cancel", flows[0].0), &json!({}))
        .await;
    assert!(matches!(status.as_u16(), 200 | 409), "{body}");
    let cancelled = status == StatusCode::OK;
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..1500))).await;
        env.kill_worker(current).await;
        current = env.spawn_worker_with(&worker).unwrap();
    }
    let mut views = Vec::new();
    for (i, (id, submitted)) in flows.iter().enumerate() {
        let view = env
            .wait_flow(id, Duration::from_secs(180), |f| f["status"] != "running")
            .await;
        check_ended_flow(submitted, &view, i == 0 && cancelled);
        views.push(view);
    }
    // The cancelled (or else the first) flow retried in full: it ends again,
    // as if nobody had cancelled it.
    let complete = |view: &Value| {
        view["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["status"] == "complete")
            .count() as u64
    };
    let (status, body) = env
        .post_json(
            &format!("/v1/flows/{}/retry", flows[0].0),
            &json!({"mode": "all"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    views[0] = env
        .wait_flow(&flows[0].0, Duration::from_secs(180), |f| {
            f["status"] != "running"
        })
        .await;
    check_ended_flow(&flows[0].1, &views[0], false);
    // Each complete node ran to completion once: one run recorded its cost
    // (a run killed after its completion and before its cost records none;
    // a second completion would be a second run; a retry starts the count
    // again). Queue acknowledgements are no measure: a completion whose
    // worker died before acknowledging it is acknowledged again on
    // redelivery.
    let ids: Vec<Uuid> = flows.iter().map(|(id, _)| id.parse().unwrap()).collect();
    let runs: Vec<(String, i64)> = sqlx::query_as(
        "SELECT node, coalesce((cost->>'runs')::int8, 0) FROM jobs
          WHERE flow_id = ANY($1) AND status = 'complete'",
    )
    .bind(&ids)
    .fetch_all(&env.state.pool)
    .await
    .unwrap();
    assert_eq!(runs.len() as u64, views.iter().map(complete).sum::<u64>());
    assert!(
        runs.iter().all(|(_, n)| *n <= 1),
        "seed {seed}: completed more than once: {:?}",
        runs.iter().filter(|(_, n)| *n > 1).collect::<Vec<_>>()
    );
    env.finish().await;
}
