//! The `flows` table and its nodes: a flow's jobs and edges are inserted
//! in one transaction; from then on the database moves it (the
//! `flow_release` trigger, migrations/20261207000001_flows.sql): the
//! transaction that ends a node releases its dependents, applying their
//! failure policy and filling in their references, and ends the flow once
//! every node has ended.
use std::collections::HashMap;

use atelier_jobs::flow::{FlowPlan, FlowStatus, RetryMode};
use atelier_jobs::{IdempotencyKey, JobSpec, UserId};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::jobs::{StoredJob, typed};
use crate::{DbError, JobRow};

/// A flow as submitted: its plan, and where each node's job goes.
pub struct NewFlow<'a> {
    pub id: Uuid,
    pub client_id: &'a str,
    pub user_id: &'a UserId,
    pub idempotency_key: Option<&'a IdempotencyKey>,
    pub request_hash: &'a str,
    pub plan: &'a FlowPlan,
    /// Each node's job id and queue, in the plan's order.
    pub jobs: Vec<(Uuid, &'a str)>,
    /// E-mail this address when the flow ends, through this queue.
    pub notify: Option<(&'a str, &'a str)>,
}

/// A flow's row.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRow {
    pub id: Uuid,
    pub client_id: String,
    pub user_id: String,
    pub status: FlowStatus,
    pub nodes_total: i32,
    pub nodes_done: i32,
    pub idempotency_key: Option<String>,
    pub request_hash: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Where its end is e-mailed.
    pub notify_email: Option<String>,
}

/// A row as the table holds it (status as text).
struct StoredFlow {
    id: Uuid,
    client_id: String,
    user_id: String,
    status: String,
    nodes_total: i32,
    nodes_done: i32,
    idempotency_key: Option<String>,
    request_hash: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    notify_email: Option<String>,
    notify_queue: Option<String>,
}

impl TryFrom<StoredFlow> for FlowRow {
    type Error = DbError;

    fn try_from(row: StoredFlow) -> Result<Self, DbError> {
        let status = row.status.parse().map_err(|_| DbError::Unreadable {
            table: "flows",
            id: row.id.to_string(),
            column: "status".into(),
            value: row.status.clone(),
        })?;
        Ok(FlowRow {
            id: row.id,
            client_id: row.client_id,
            user_id: row.user_id,
            status,
            nodes_total: row.nodes_total,
            nodes_done: row.nodes_done,
            idempotency_key: row.idempotency_key,
            request_hash: row.request_hash,
            created_at: row.created_at,
            updated_at: row.updated_at,
            finished_at: row.finished_at,
            notify_email: row.notify_email.filter(|_| row.notify_queue.is_some()),
        })
    }
}

/// Outcome of [`create`].
#[derive(Debug)]
pub enum Created {
    Created(FlowRow),
    /// The client's idempotency key was used before: that flow.
    Existing(FlowRow),
}

/// Insert the flow, every node's job (`queued` when it depends on nothing,
/// else `waiting`) and every edge, in one transaction.
pub async fn create(pool: &PgPool, flow: NewFlow<'_>) -> Result<Created, DbError> {
    let mut tx = pool.begin().await?;
    let key = flow.idempotency_key.map(IdempotencyKey::as_str);
    let inserted = sqlx::query_as!(
        StoredFlow,
        "INSERT INTO flows (id, client_id, user_id, nodes_total, idempotency_key, request_hash,
                            notify_email, notify_queue)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (client_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
         RETURNING *",
        flow.id,
        flow.client_id,
        flow.user_id.as_str(),
        flow.plan.nodes.len() as i32,
        key,
        flow.request_hash,
        flow.notify.map(|(email, _)| email),
        flow.notify.map(|(_, queue)| queue)
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = inserted else {
        let existing = sqlx::query_as!(
            StoredFlow,
            "SELECT * FROM flows WHERE client_id = $1 AND idempotency_key = $2",
            flow.client_id,
            key
        )
        .fetch_one(&mut *tx)
        .await?;
        return Ok(Created::Existing(existing.try_into()?));
    };
    let ids: HashMap<&str, Uuid> = flow
        .plan
        .nodes
        .iter()
        .zip(&flow.jobs)
        .map(|(node, (id, _))| (node.name.as_str(), *id))
        .collect();
    for (index, (node, (id, queue))) in flow.plan.nodes.iter().zip(&flow.jobs).enumerate() {
        let status = if node.depends_on.is_empty() {
            "queued"
        } else {
            "waiting"
        };
        let input = node
            .spec
            .as_ref()
            .map(JobSpec::to_json)
            .unwrap_or_else(|| node.input.clone());
        let references = serde_json::to_value(&node.references).expect("references serialise");
        sqlx::query!(
            "INSERT INTO jobs (id, kind, contract_version, queue, client_id, user_id, priority,
                               request_hash, input, status, flow_id, node, node_index,
                               waiting_on, on_dependency_failure, input_references)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            id,
            node.kind.as_str(),
            atelier_jobs::CONTRACT_VERSION as i32,
            queue,
            flow.client_id,
            flow.user_id.as_str(),
            i16::from(node.priority.get()),
            format!("flow:{}:{}", flow.id, node.name),
            input,
            status,
            flow.id,
            node.name,
            index as i32,
            node.depends_on.len() as i32,
            node.policy.as_str(),
            references
        )
        .execute(&mut *tx)
        .await?;
        for dep in &node.depends_on {
            sqlx::query!(
                "INSERT INTO flow_edges (flow_id, job_id, depends_on) VALUES ($1, $2, $3)",
                flow.id,
                id,
                ids[dep.as_str()]
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(Created::Created(row.try_into()?))
}

/// A flow and its nodes (in the plan's order).
pub async fn load(pool: &PgPool, id: Uuid) -> Result<Option<(FlowRow, Vec<JobRow>)>, DbError> {
    let flow = sqlx::query_as!(StoredFlow, "SELECT * FROM flows WHERE id = $1", id)
        .fetch_optional(pool)
        .await?;
    match flow {
        Some(flow) => Ok(Some((flow.try_into()?, nodes(pool, id).await?))),
        None => Ok(None),
    }
}

/// A flow's edges: (job, the job it depends on).
pub async fn edges(pool: &PgPool, flow_id: Uuid) -> Result<Vec<(Uuid, Uuid)>, DbError> {
    let rows = sqlx::query!(
        "SELECT job_id, depends_on FROM flow_edges WHERE flow_id = $1",
        flow_id
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.job_id, r.depends_on)).collect())
}

/// Cancel a running flow: it is `cancelled` at once (its row locked first,
/// so no end racing it can mark it `complete` or `failed`), every node
/// waiting or queued ends `error` with `job.cancelled` in the same
/// transaction, and the nodes running come back, for their runs to be
/// stopped at their next stage (they end `job.cancelled` then, and the flow
/// counts them). `None` when the flow has already ended.
pub async fn cancel(pool: &PgPool, id: Uuid) -> Result<Option<Cancelled>, DbError> {
    let mut tx = pool.begin().await?;
    let flow = sqlx::query_scalar!(
        "UPDATE flows SET status = 'cancelled', updated_at = now()
         WHERE id = $1 AND status = 'running' RETURNING id",
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    if flow.is_none() {
        return Ok(None);
    }
    let ended = sqlx::query_scalar!(
        "UPDATE jobs SET status = 'error', error_code = 'job.cancelled',
                error_message = 'cancelled with its flow', finished_at = now(), updated_at = now()
         WHERE flow_id = $1 AND status IN ('waiting', 'queued')
         RETURNING id",
        id
    )
    .fetch_all(&mut *tx)
    .await?;
    let running = sqlx::query_scalar!(
        "SELECT id FROM jobs WHERE flow_id = $1 AND status = 'processing'",
        id
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(Cancelled { ended, running }))
}

/// What [`cancel`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Cancelled {
    /// Nodes ended now.
    pub ended: Vec<Uuid>,
    /// Nodes running, to be stopped.
    pub running: Vec<Uuid>,
}

/// The channel the release trigger announces each released node on (its
/// job id), delivered when the releasing transaction commits.
pub const RELEASED_CHANNEL: &str = "atelier_flow_released";

/// Released nodes as they are announced. A notification sent while the
/// connection was down is lost: the outbox relay pushes those.
pub struct Released(sqlx::postgres::PgListener);

impl Released {
    pub async fn listen(pool: &PgPool) -> Result<Released, DbError> {
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen(RELEASED_CHANNEL).await?;
        Ok(Released(listener))
    }

    /// The next released node's job id (`None`: a payload that is not one).
    pub async fn next(&mut self) -> Result<Option<Uuid>, DbError> {
        let notification = self.0.recv().await?;
        Ok(notification.payload().parse().ok())
    }
}

/// Flows newest first: of one client (operators: any), of one user, in
/// one state, each filter when given.
pub async fn list(
    pool: &PgPool,
    client_id: Option<&str>,
    user_id: Option<&str>,
    status: Option<FlowStatus>,
    limit: i64,
) -> Result<Vec<FlowRow>, DbError> {
    let rows = sqlx::query_as!(
        StoredFlow,
        "SELECT * FROM flows
          WHERE ($1::text IS NULL OR client_id = $1)
            AND ($2::text IS NULL OR user_id = $2)
            AND ($3::text IS NULL OR status = $3)
          ORDER BY created_at DESC, id
          LIMIT $4",
        client_id,
        user_id,
        status.map(FlowStatus::as_str),
        limit
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(FlowRow::try_from).collect()
}

/// Flows by status, and nodes waiting on their dependencies by kind: what
/// the metrics report at each scrape.
pub async fn counts(pool: &PgPool) -> Result<(Vec<(String, i64)>, Vec<(String, i64)>), DbError> {
    let flows = sqlx::query!(r#"SELECT status, count(*) AS "count!" FROM flows GROUP BY status"#)
        .fetch_all(pool)
        .await?;
    let waiting = sqlx::query!(
        r#"SELECT kind, count(*) AS "count!" FROM jobs WHERE status = 'waiting' GROUP BY kind"#
    )
    .fetch_all(pool)
    .await?;
    Ok((
        flows.into_iter().map(|r| (r.status, r.count)).collect(),
        waiting.into_iter().map(|r| (r.kind, r.count)).collect(),
    ))
}

/// Retry an ended flow's nodes under `mode` (the `flow_retry` function:
/// nodes reset to wait on those retried with them, those with none left
/// released now, the flow running again). The number of nodes reset, or
/// `None` while the flow still runs.
pub async fn retry(pool: &PgPool, id: Uuid, mode: RetryMode) -> Result<Option<i32>, DbError> {
    let reset = sqlx::query_scalar!("SELECT flow_retry($1, $2)", id, mode.as_str())
        .fetch_one(pool)
        .await?;
    Ok(reset)
}

/// A flow's nodes, in the order they were submitted (dependencies first).
pub async fn nodes(pool: &PgPool, flow_id: Uuid) -> Result<Vec<JobRow>, DbError> {
    let rows = sqlx::query_as!(
        StoredJob,
        "SELECT * FROM jobs WHERE flow_id = $1 ORDER BY node_index",
        flow_id
    )
    .fetch_all(pool)
    .await?;
    typed(rows)
}

/// The jobs `job` depends on in its flow.
pub async fn dependencies(pool: &PgPool, job: Uuid) -> Result<Vec<JobRow>, DbError> {
    let rows = sqlx::query_as!(
        StoredJob,
        "SELECT j.* FROM jobs j JOIN flow_edges e ON e.depends_on = j.id
         WHERE e.job_id = $1 ORDER BY j.node_index",
        job
    )
    .fetch_all(pool)
    .await?;
    typed(rows)
}
