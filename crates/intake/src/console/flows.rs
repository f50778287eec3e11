//! Flows: the newest flows, and each as a graph of its nodes coloured by
//! state (live), with cancel and the retry modes.
use std::collections::HashMap;

use atelier_jobs::flow::{FlowStatus, RetryMode};
use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::queues::urlencode;
use super::session::{self, Session};
use super::view::Col;
use super::view::{self, csrf};
use super::{ConsoleError, Page};
use crate::api::{FlowListQuery, FlowNodeView, FlowView};
use crate::error::ApiError;
use crate::live::Patch;
use crate::state::AppState;

#[derive(Deserialize, Default)]
pub(crate) struct ListForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    done: String,
}

/// `GET /console/flows`
pub(crate) async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(form): Query<ListForm>,
) -> Page {
    let text = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    let status = match text(&form.status) {
        Some(s) => Some(
            serde_json::from_value::<FlowStatus>(json!(s))
                .map_err(|_| ApiError::invalid("status: running, complete, failed or cancelled"))?,
        ),
        None => None,
    };
    let flows = crate::flows::list(
        &state,
        None,
        FlowListQuery {
            user_id: text(&form.user_id),
            status,
            client_id: text(&form.client_id),
            limit: Some(100),
        },
    )
    .await?;
    Ok(view::page(
        &session,
        "Flows",
        "flows",
        None,
        html! {
            (view::flash(Some(form.done.as_str()).filter(|d| !d.is_empty())))
            form.search method="get" action="/console/flows" role="search" aria-label="Filter flows" {
                label { span { "Status" } select name="status" {
                    option value="" { "any" }
                    @for s in ["running", "complete", "failed", "cancelled"] { option value=(s) selected[form.status == s] { (s) } }
                } }
                label { span { "User" } input type="text" name="user_id" value=(form.user_id); }
                label { span { "Client" } input type="text" name="client_id" value=(form.client_id); }
                div.actions { button type="submit" { "Filter" } }
            }
            @if flows.flows.is_empty() { p.muted { "No flows." } }
            @else {
                div.scroll {
                table {
                    caption.sr { "Flows, newest first" }
                    (view::header(&[Col::Text("Flow"), Col::Text("Status"), Col::Num("Nodes done"), Col::Text("User"), Col::Text("Client"), Col::Text("Created"), Col::Text("Finished")]))
                    tbody {
                        @for f in &flows.flows {
                            tr {
                                td { a href={ "/console/flows/" (f.flow_id) } { code { (f.flow_id.to_string()[..8]) } } }
                                td { (view::status(f.status.as_str())) }
                                td.num { (f.nodes_done) " / " (f.nodes_total) }
                                td { (f.user_id) } td { (f.client_id) }
                                td { (view::time(f.created_at)) } td { (view::maybe_time(f.finished_at)) }
                            }
                        }
                    }
                }
                }
            }
        },
    ))
}

/// Each node's column: the longest chain of dependencies before it.
fn depths(nodes: &[FlowNodeView]) -> HashMap<&str, usize> {
    let by_name: HashMap<&str, &FlowNodeView> =
        nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    let mut depth: HashMap<&str, usize> = HashMap::new();
    fn visit<'a>(
        name: &'a str,
        by_name: &HashMap<&'a str, &'a FlowNodeView>,
        depth: &mut HashMap<&'a str, usize>,
        guard: usize,
    ) -> usize {
        if let Some(d) = depth.get(name) {
            return *d;
        }
        let d = match by_name.get(name) {
            Some(node) if guard < 10_000 => node
                .depends_on
                .iter()
                .map(|dep| visit(dep, by_name, depth, guard + 1) + 1)
                .max()
                .unwrap_or(0),
            _ => 0,
        };
        depth.insert(name, d);
        d
    }
    for n in nodes {
        visit(&n.name, &by_name, &mut depth, 0);
    }
    depth
}

/// The flow as a graph: columns by depth, an arrow per dependency, each
/// node a link to its job, coloured (and labelled) by status.
fn graph(flow: &FlowView) -> Markup {
    const W: f64 = 150.0;
    const H: f64 = 44.0;
    const GAP_X: f64 = 60.0;
    const GAP_Y: f64 = 18.0;
    let depth = depths(&flow.nodes);
    let mut rows: HashMap<usize, usize> = HashMap::new();
    let mut at: HashMap<&str, (f64, f64)> = HashMap::new();
    for n in &flow.nodes {
        let col = depth.get(n.name.as_str()).copied().unwrap_or(0);
        let row = rows.entry(col).or_default();
        at.insert(
            &n.name,
            (
                10.0 + col as f64 * (W + GAP_X),
                10.0 + *row as f64 * (H + GAP_Y),
            ),
        );
        *row += 1;
    }
    let cols = depth.values().max().map_or(1, |d| d + 1);
    let max_rows = rows.values().max().copied().unwrap_or(1);
    let width = 20.0 + cols as f64 * (W + GAP_X) - GAP_X;
    let height = 20.0 + max_rows as f64 * (H + GAP_Y) - GAP_Y;
    html! {
        svg.flow viewBox={ "0 0 " (width) " " (height) } width=(width) role="group" aria-label={ "Flow graph: " (flow.nodes.len()) " nodes" } {
            defs { marker #arrow viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse" { path d="M 0 0 L 10 5 L 0 10 z" {} } }
            @for n in &flow.nodes {
                @for dep in &n.depends_on {
                    @if let (Some((x0, y0)), Some((x1, y1))) = (at.get(dep.as_str()), at.get(n.name.as_str())) {
                        line.edge x1=(x0 + W) y1=(y0 + H / 2.0) x2=(*x1) y2=(y1 + H / 2.0) marker-end="url(#arrow)" {}
                    }
                }
            }
            @for n in &flow.nodes {
                @if let Some((x, y)) = at.get(n.name.as_str()) {
                    a href={ "/console/jobs/" (n.job_id) } {
                        g class={ "node s-" (n.status.as_str()) } data-node=(n.name) data-status=(n.status.as_str()) {
                            rect x=(*x) y=(*y) width=(W) height=(H) rx="6" {}
                            text x=(x + 8.0) y=(y + 18.0) { (n.name) }
                            text.small x=(x + 8.0) y=(y + 35.0) { (n.status.as_str()) " · " (n.kind.as_str()) }
                        }
                    }
                }
            }
        }
    }
}

fn actions(session: &Session, flow: &FlowView) -> Markup {
    html! {
        @if session.can_act() {
            div.actions {
                @if flow.status == FlowStatus::Running {
                    form.inline method="post" action={ "/console/flows/" (flow.flow_id) "/cancel" } {
                        (csrf(session)) button type="submit" { "Cancel the flow" }
                    }
                } @else {
                    form.inline method="post" action={ "/console/flows/" (flow.flow_id) "/retry" } {
                        (csrf(session))
                        label { span.sr { "Retry mode" } select name="mode" {
                            option value="failed_only" { "failed nodes only" }
                            option value="failed_and_downstream" { "failed nodes and what follows them" }
                            option value="all" { "every node" }
                        } }
                        button type="submit" { "Retry" }
                    }
                }
            }
        }
    }
}

async fn parts(state: &AppState, session: &Session, id: &str) -> Result<Markup, ConsoleError> {
    let (flow, nodes) = crate::flows::load(state, None, id).await?;
    let view = crate::flows::view(state, flow, nodes).await?;
    Ok(html! {
        dl.stats {
            div { dt { "Status" } dd { (view::status(view.status.as_str())) } }
            div { dt { "Nodes done" } dd { (view.nodes_done) " / " (view.nodes_total) } }
            div { dt { "User" } dd { (view.user_id) } }
            div { dt { "Created" } dd { (view::time(view.created_at)) } }
            div { dt { "Finished" } dd { (view::maybe_time(view.finished_at)) } }
        }
        (actions(session, &view))
        div.scroll { (graph(&view)) }
        div.scroll {
        table {
            caption { "Nodes" }
            (view::header(&[Col::Text("Node"), Col::Text("Kind"), Col::Text("Status"), Col::Num("Attempts"), Col::Text("After"), Col::Text("Error")]))
            tbody {
                @for n in &view.nodes {
                    tr {
                        td { a href={ "/console/jobs/" (n.job_id) } { (n.name) } }
                        td { (n.kind.as_str()) }
                        td { (view::status(n.status.as_str())) }
                        td.num { (n.attempts) }
                        td { (n.depends_on.join(", ")) }
                        td { @if let Some(e) = &n.error { code { (e.code.as_str()) } } }
                    }
                }
            }
        }
        }
    })
}

/// `GET /console/flows/{id}` (live).
pub(crate) async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(form): Query<ListForm>,
) -> Page {
    let body = parts(&state, &session, &id).await?;
    let live = format!("flow:{id}");
    Ok(view::page(
        &session,
        &format!("Flow {}", id.get(..8).unwrap_or(&id)),
        "flows",
        Some(&live),
        html! {
            (view::flash(Some(form.done.as_str()).filter(|d| !d.is_empty())))
            p.muted { code { (id) } }
            div data-region="flow" { (body) }
        },
    ))
}

pub(crate) async fn live_flow(
    state: &AppState,
    session: &Session,
    id: Uuid,
) -> Result<Vec<Patch>, ConsoleError> {
    Ok(vec![Patch::html(
        "flow",
        parts(state, session, &id.to_string()).await?,
    )])
}

/// `POST /console/flows/{id}/cancel`
pub(crate) async fn cancel(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    request: Request,
) -> Page {
    session::action(&state, &session, request, false).await?;
    let (flow, _) = crate::flows::load(&state, None, &id).await?;
    let answer = crate::flows::cancel(&state, flow).await?;
    let mut touched = answer.ended.clone();
    touched.extend(&answer.stopping);
    session::record(
        &state,
        &session,
        "flow.cancel",
        None,
        &touched,
        json!({"flow_id": answer.flow_id}),
    )
    .await?;
    Ok(Redirect::to(&format!(
        "/console/flows/{id}?done={}",
        urlencode("Flow cancelled.")
    ))
    .into_response())
}

/// `POST /console/flows/{id}/retry` `mode=…`
pub(crate) async fn retry(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    request: Request,
) -> Page {
    let form = session::action(&state, &session, request, false).await?;
    let mode: RetryMode = serde_json::from_value(json!(form.get("mode").unwrap_or("failed_only")))
        .map_err(|_| ApiError::invalid("mode: failed_only, failed_and_downstream or all"))?;
    let (flow, nodes) = crate::flows::load(&state, None, &id).await?;
    let answer = crate::flows::retry(&state, flow, nodes, mode).await?;
    session::record(
        &state,
        &session,
        "flow.retry",
        None,
        &[],
        json!({"flow_id": answer.flow_id, "mode": mode.as_str(), "nodes_retried": answer.nodes_retried}),
    )
    .await?;
    let done = format!("Retrying {} node(s).", answer.nodes_retried);
    Ok(Redirect::to(&format!("/console/flows/{id}?done={}", urlencode(&done))).into_response())
}
