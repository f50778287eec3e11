//! Flows in PostgreSQL (issue 19, first part: no route takes one yet): a
//! flow's nodes and edges inserted in one transaction, and the release
//! trigger that moves it whatever path ends a node. Nodes are ended here
//! with plain UPDATEs, as a cancel, the reconciler or an operator would.
use std::collections::BTreeMap;

use atelier_db::PgPool;
use atelier_db::flows::{Created, NewFlow};
use atelier_jobs::flow::{DependencyPolicy, FlowNodeSpec, FlowPlan, KindSchemas, plan};
use atelier_jobs::{IdempotencyKey, JobStatus, UserId};
use serde_json::{Value, json};
use uuid::Uuid;

use atelier_tests::postgres_base;

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
        (nodes, (row.status, row.nodes_done))
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
