//! Flows as the intake handles them: submission (check the DAG, record
//! the flow, its jobs and edges in one transaction, push the nodes that
//! depend on nothing), finding a flow for its client, and its view. From
//! then on the database releases nodes as their dependencies end, and the
//! outbox relay pushes them (`atelier_db::flows`).
use std::collections::HashMap;
use std::sync::OnceLock;

use atelier_db::JobRow;
use atelier_db::flows::{Created, FlowRow, NewFlow};
use atelier_jobs::flow::{FlowStatus, KindSchemas, RetryMode, plan};
use atelier_jobs::{Ended, ErrorBody, ErrorCode};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api::{
    FlowAccepted, FlowCancelAnswer, FlowList, FlowListQuery, FlowNodeState, FlowNodeView,
    FlowRequest, FlowRetryAnswer, FlowSummary, FlowView,
};
use crate::auth::ClientId;
use crate::error::ApiError;
use crate::jobs;
use crate::state::AppState;

/// The kinds' schemas, which references are checked against.
fn schemas() -> &'static KindSchemas {
    static SCHEMAS: OnceLock<KindSchemas> = OnceLock::new();
    SCHEMAS.get_or_init(KindSchemas::new)
}

/// Check a flow, record it and push the nodes that can run now. A
/// repeated idempotency key answers with the first flow.
pub(crate) async fn submit(
    state: &AppState,
    client: &ClientId,
    req: FlowRequest,
) -> Result<FlowAccepted, ApiError> {
    let notify_email = req.notify.as_ref().map(|n| n.email.as_str());
    if let Some(email) = notify_email {
        atelier_jobs::validate_email(email)
            .map_err(|e| ApiError::invalid(format!("notify.email: {}", e.message)))?;
    }
    let notify_queue = match notify_email {
        Some(_) => Some(jobs::queue_for(state, atelier_jobs::JobKind::NotifyEmail)?),
        None => None,
    };
    // (Without notify, hashed as before notify was accepted.)
    let hashed = match notify_email {
        None => serde_json::to_vec(&(&req.user_id, &req.nodes)),
        Some(email) => serde_json::to_vec(&(&req.user_id, &req.nodes, email)),
    };
    let request_hash = hex::encode(Sha256::digest(hashed.expect("requests serialise")));
    for node in &req.nodes {
        // Unknown and switched-off kinds answer as they do for one job.
        if node.kind.parse::<atelier_jobs::JobKind>().is_ok() {
            jobs::accepted_kind(state, &node.kind)?;
        }
    }
    let max_nodes = state.config.flows.max_nodes as usize;
    let mut plan =
        plan(req.nodes, max_nodes, schemas()).map_err(|e| ApiError::invalid(e.message))?;
    let mut queues = Vec::with_capacity(plan.nodes.len());
    for node in &mut plan.nodes {
        queues.push((Uuid::new_v4(), jobs::queue_for(state, node.kind)?));
        if let Some(spec) = &mut node.spec {
            jobs::check_reads(state, client, &req.user_id, spec).await?;
            // Ids the job will write under, fixed now (as for one job).
            spec.assign_ids(&mut Uuid::new_v4);
        }
    }
    let created = atelier_db::flows::create(
        &state.pool,
        NewFlow {
            id: Uuid::new_v4(),
            client_id: &client.0,
            user_id: &req.user_id,
            idempotency_key: req.idempotency_key.as_ref(),
            request_hash: &request_hash,
            plan: &plan,
            jobs: queues,
            notify: notify_email.zip(notify_queue),
        },
    )
    .await?;
    let flow = match created {
        Created::Created(flow) => flow,
        Created::Existing(flow) if flow.request_hash != request_hash => {
            return Err(ApiError::new(
                ErrorCode::JobIdempotencyConflict,
                "idempotency_key was already used for a different flow",
            ));
        }
        Created::Existing(flow) => flow,
    };
    let nodes = atelier_db::flows::nodes(&state.pool, flow.id).await?;
    for job in &nodes {
        if job.status == atelier_jobs::JobStatus::Queued && job.enqueued_at.is_none() {
            jobs::enqueue(state, job).await;
        }
    }
    tracing::info!(flow_id = %flow.id, nodes = nodes.len(), user_id = flow.user_id, "flow accepted");
    Ok(FlowAccepted {
        flow_id: flow.id,
        status: flow.status,
        nodes: nodes
            .into_iter()
            .map(|job| FlowNodeState {
                name: job.flow.map(|f| f.name).unwrap_or_default(),
                job_id: job.id,
                status: job.status,
            })
            .collect(),
    })
}

/// The flow and its nodes, if `owner` may see it (`None`: an operator,
/// who sees every client's).
pub(crate) async fn load(
    state: &AppState,
    owner: Option<&ClientId>,
    flow_id: &str,
) -> Result<(FlowRow, Vec<JobRow>), ApiError> {
    let not_found = || ApiError::new(ErrorCode::FlowNotFound, "flow not found");
    let id: Uuid = flow_id.parse().map_err(|_| not_found())?;
    atelier_db::flows::load(&state.pool, id)
        .await?
        .filter(|(flow, _)| owner.is_none_or(|o| flow.client_id == o.0))
        .ok_or_else(not_found)
}

/// Flows newest first, `owner`'s only (`None`: an operator's list, which
/// may name a client).
pub(crate) async fn list(
    state: &AppState,
    owner: Option<&ClientId>,
    query: FlowListQuery,
) -> Result<FlowList, ApiError> {
    if owner.is_some() && query.client_id.is_some() {
        return Err(ApiError::invalid(
            "client_id: only operators list other clients' flows",
        ));
    }
    let client = owner.map(|o| o.0.as_str()).or(query.client_id.as_deref());
    let limit = query.limit.unwrap_or(50).clamp(1, 500) as i64;
    let rows = atelier_db::flows::list(
        &state.pool,
        client,
        query.user_id.as_deref(),
        query.status,
        limit,
    )
    .await?;
    Ok(FlowList {
        flows: rows
            .into_iter()
            .map(|f| FlowSummary {
                flow_id: f.id,
                client_id: f.client_id,
                user_id: f.user_id,
                status: f.status,
                nodes_total: f.nodes_total,
                nodes_done: f.nodes_done,
                created_at: f.created_at,
                finished_at: f.finished_at,
            })
            .collect(),
    })
}

/// What a client sees of a flow: every node's status, attempts, timings,
/// input as it ran and result (stored objects signed afresh).
pub(crate) async fn view(
    state: &AppState,
    flow: FlowRow,
    nodes: Vec<JobRow>,
) -> Result<FlowView, ApiError> {
    let names: HashMap<Uuid, String> = nodes
        .iter()
        .filter_map(|j| j.flow.as_ref().map(|f| (j.id, f.name.clone())))
        .collect();
    let mut depends_on: HashMap<Uuid, Vec<String>> = HashMap::new();
    for (job, dep) in atelier_db::flows::edges(&state.pool, flow.id).await? {
        depends_on.entry(job).or_default().push(names[&dep].clone());
    }
    let mut views = Vec::with_capacity(nodes.len());
    for job in nodes {
        let node = job.flow.expect("a flow's jobs are nodes");
        let result = match job.result {
            Some(mut result) => {
                jobs::sign_objects(state, &mut result).await?;
                Some(result)
            }
            None => None,
        };
        let mut deps = depends_on.remove(&job.id).unwrap_or_default();
        deps.sort();
        views.push(FlowNodeView {
            name: node.name,
            job_id: job.id,
            kind: job.kind,
            status: job.status,
            attempts: job.attempts,
            depends_on: deps,
            on_dependency_failure: node.policy,
            resolved_input: job.input,
            started_at: job.started_at,
            finished_at: job.finished_at,
            result,
            error: job.error,
        });
    }
    Ok(FlowView {
        flow_id: flow.id,
        user_id: flow.user_id,
        status: flow.status,
        nodes_total: flow.nodes_total,
        nodes_done: flow.nodes_done,
        created_at: flow.created_at,
        updated_at: flow.updated_at,
        finished_at: flow.finished_at,
        notify_email: flow.notify_email.clone(),
        nodes: views,
    })
}

/// Cancel a running flow: every waiting or queued node ends now, every
/// running one is asked to stop at its next stage.
pub(crate) async fn cancel(state: &AppState, flow: FlowRow) -> Result<FlowCancelAnswer, ApiError> {
    let Some(cancelled) = atelier_db::flows::cancel(&state.pool, flow.id).await? else {
        return Err(ApiError::new(
            ErrorCode::FlowNotCancellable,
            format!("flow is already {}", flow.status.as_str()),
        ));
    };
    for id in &cancelled.running {
        let Some(job) = atelier_db::jobs::get(&state.pool, *id).await? else {
            continue;
        };
        match state.queue(&job.queue) {
            Some(queue) => {
                if let Err(error) = queue.cancel(&id.to_string()).await {
                    tracing::warn!(job_id = %id, %error, "could not ask a flow's running node to stop");
                }
            }
            None => {
                tracing::error!(job_id = %id, queue = job.queue, "node names a queue not in queues.toml")
            }
        }
    }
    let error = ErrorBody::new(ErrorCode::JobCancelled, "cancelled with its flow");
    for id in &cancelled.ended {
        if let Some(job) = atelier_db::jobs::get(&state.pool, *id).await? {
            jobs::publish_failed(state, &job, Ended::Error, error.clone()).await;
        }
    }
    tracing::info!(flow_id = %flow.id, ended = cancelled.ended.len(), stopping = cancelled.running.len(), "flow cancelled");
    Ok(FlowCancelAnswer {
        flow_id: flow.id,
        status: FlowStatus::Cancelled,
        ended: cancelled.ended,
        stopping: cancelled.running,
    })
}

/// Retry an ended flow's nodes under `mode`. Nodes dead in their queue's
/// dead set leave it first, so that they can be queued again.
pub(crate) async fn retry(
    state: &AppState,
    flow: FlowRow,
    nodes: Vec<JobRow>,
    mode: RetryMode,
) -> Result<FlowRetryAnswer, ApiError> {
    if flow.status == FlowStatus::Running {
        return Err(ApiError::new(
            ErrorCode::FlowRunning,
            "the flow is still running: cancel it, or retry once it has ended",
        ));
    }
    for job in nodes
        .iter()
        .filter(|j| j.status == atelier_jobs::JobStatus::Dead)
    {
        let Some(queue) = state.queue(&job.queue) else {
            continue;
        };
        let id = job.id.to_string();
        queue
            .dead_purge(atelier_queue::Dead::Only(std::slice::from_ref(&id)))
            .await
            .map_err(ApiError::queue_unavailable)?;
    }
    let Some(retried) = atelier_db::flows::retry(&state.pool, flow.id, mode).await? else {
        return Err(ApiError::new(
            ErrorCode::FlowRunning,
            "the flow is running again",
        ));
    };
    let status = atelier_db::flows::load(&state.pool, flow.id)
        .await?
        .map_or(FlowStatus::Running, |(f, _)| f.status);
    tracing::info!(flow_id = %flow.id, mode = mode.as_str(), retried, "flow retried");
    Ok(FlowRetryAnswer {
        flow_id: flow.id,
        status,
        nodes_retried: retried,
    })
}
