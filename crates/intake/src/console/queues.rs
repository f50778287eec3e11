//! Queues: every queue's state and scaling advice, the live workers, and
//! per queue its charts over the last day and its dead letters.
use std::collections::HashMap;

use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::session::{self, Session};
use super::view::Col;
use super::view::{self, csrf};
use super::{ConsoleError, Page};
use crate::api::QueueOverview;
use crate::error::ApiError;
use crate::live::Patch;
use crate::routes::queues::{overview as queue_overview, queue as find_queue};
use crate::state::AppState;

#[derive(Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

async fn overviews(state: &AppState) -> Result<Vec<QueueOverview>, ApiError> {
    let mut all = Vec::new();
    for spec in &state.queues_config.queues {
        all.push(queue_overview(&state.queues[&spec.name]).await?);
    }
    Ok(all)
}

fn age(seconds: Option<f64>) -> String {
    seconds.map_or("—".into(), |s| view::duration_ms(s * 1000.0))
}

fn pause_form(session: &Session, q: &QueueOverview) -> Markup {
    let (verb, label) = if q.paused {
        ("resume", "Resume")
    } else {
        ("pause", "Pause")
    };
    html! {
        @if session.can_act() {
            form.inline method="post" action={ "/console/queues/" (q.queue) "/" (verb) } {
                (csrf(session))
                button type="submit" aria-label={ (label) " " (q.queue) } { (label) }
            }
        }
    }
}

fn queue_table(
    session: &Session,
    queues: &[QueueOverview],
    waiting: &HashMap<String, i64>,
) -> Markup {
    html! {
        div.scroll {
        table #queues-table {
            caption.sr { "Queues" }
            (view::header(&[Col::Text("Queue"), Col::Text("State"), Col::Num("Depth"), Col::Num("In flight"), Col::Num("Waiting on dependencies"), Col::Num("Dead"), Col::Num("Oldest waiting"), Col::Num("Live workers"), Col::Num("Service time"), Col::Text("Recommended workers"), Col::Unseen("Actions")]))
            tbody {
                @for q in queues {
                    tr data-queue=(q.queue) {
                        th scope="row" { a href={ "/console/queues/" (q.queue) } { (q.queue) } }
                        td { @if q.paused { span.status.s-paused { "paused" } } @else { span.status.s-running { "running" } } }
                        td.num data-field="depth" { (q.depth) }
                        td.num { (q.in_flight) }
                        td.num { (waiting.get(&q.queue).copied().unwrap_or(0)) }
                        td.num { @if q.dead > 0 { a href={ "/console/queues/" (q.queue) "#dead" } { (q.dead) } } @else { "0" } }
                        td.num { (age(q.oldest_age_seconds)) }
                        td.num { (q.live_workers) }
                        td.num { (age(q.service_time_seconds)) }
                        td { strong { (q.recommended_workers) } " " span.muted.small { (q.recommendation) } }
                        td { (pause_form(session, q)) }
                    }
                }
            }
        }
        }
    }
}

fn workers_table(workers: &[atelier_queue::workers::WorkerReport]) -> Markup {
    let now = chrono::Utc::now().timestamp_millis().max(0) as u64;
    html! {
        @if workers.is_empty() {
            p #workers-table .muted { "No worker has reported in the last minute." }
        } @else {
            div.scroll {
            table #workers-table {
                caption.sr { "Live workers" }
                (view::header(&[Col::Text("Worker"), Col::Text("Queues"), Col::Text("Jobs in hand"), Col::Num("Memory (RSS)"), Col::Num("Up for"), Col::Num("Last report")]))
                tbody {
                    @for w in workers {
                        tr {
                            th scope="row" { code { (w.worker) } }
                            td { (w.queues.join(", ")) }
                            td {
                                @if w.in_hand.is_empty() { span.muted { "idle" } }
                                @for (queue, n) in &w.in_hand { (queue) ": " (n) " " }
                            }
                            td.num { (w.rss_bytes.map_or("—".into(), |b| format!("{:.0} MiB", b as f64 / 1_048_576.0))) }
                            td.num { (view::duration_ms(now.saturating_sub(w.started_ms) as f64)) }
                            td.num { (view::duration_ms(now.saturating_sub(w.seen_ms) as f64)) " ago" }
                        }
                    }
                }
            }
            }
        }
    }
}

async fn workers(state: &AppState) -> Vec<atelier_queue::workers::WorkerReport> {
    let since = (chrono::Utc::now().timestamp_millis() - 60_000).max(0) as u64;
    match atelier_queue::workers::live(&state.redis, &state.config.redis.prefix, since).await {
        Ok(w) => w,
        Err(error) => {
            tracing::warn!(%error, "worker reports unreadable");
            Vec::new()
        }
    }
}

async fn overview_parts(
    state: &AppState,
    session: &Session,
) -> Result<(Markup, Markup), ConsoleError> {
    let queues = overviews(state).await?;
    let waiting = crate::history::waiting_by_queue(state).await?;
    let workers = workers(state).await;
    Ok((
        queue_table(session, &queues, &waiting),
        workers_table(&workers),
    ))
}

/// `GET /console/queues`
pub(crate) async fn overview(
    State(state): State<AppState>,
    session: Session,
    Query(done): Query<Done>,
) -> Page {
    let (queues, workers) = overview_parts(&state, &session).await?;
    Ok(view::page(
        &session,
        "Queues",
        "queues",
        Some("queues"),
        html! {
            (view::flash(done.done.as_deref()))
            section aria-labelledby="queues-h" {
                h2 #queues-h .sr { "Every queue" }
                div data-region="queues" { (queues) }
            }
            section aria-labelledby="workers-h" {
                h2 #workers-h { "Workers" }
                div data-region="workers" { (workers) }
            }
        },
    ))
}

/// The live parts of `/console/queues` (the tables drawn for `session`'s
/// role: a viewer's have no buttons).
pub(crate) async fn live_overview(
    state: &AppState,
    session: &Session,
) -> Result<Vec<Patch>, ConsoleError> {
    let (queues, workers) = overview_parts(state, session).await?;
    Ok(vec![
        Patch::html("queues", queues),
        Patch::html("workers", workers),
    ])
}

fn stats(q: &QueueOverview, waiting: i64) -> Markup {
    html! {
        dl.stats #queue-stats {
            div { dt { "State" } dd { @if q.paused { "paused" } @else { "running" } } }
            div { dt { "Depth" } dd data-field="depth" { (q.depth) } }
            div { dt { "Ready" } dd { (q.ready) } }
            div { dt { "In backoff" } dd { (q.scheduled) } }
            div { dt { "In flight" } dd { (q.in_flight) } }
            div { dt { "Waiting on dependencies" } dd { (waiting) } }
            div { dt { "Dead" } dd { (q.dead) } }
            div { dt { "Oldest waiting" } dd { (age(q.oldest_age_seconds)) } }
            div { dt { "Live workers" } dd { (q.live_workers) } }
            div { dt { "Service time" } dd { (age(q.service_time_seconds)) } }
            div.wide { dt { "Recommended workers" } dd { strong { (q.recommended_workers) } " — " (q.recommendation) } }
            div { dt { "Completed (total)" } dd { (q.totals.completed) } }
            div { dt { "Failed (total)" } dd { (q.totals.failed) } }
        }
    }
}

/// The queue's state now, as the charts' live point.
fn now_point(q: &QueueOverview, waiting: i64) -> serde_json::Value {
    json!({
        "at": chrono::Utc::now().timestamp_millis() as f64 / 1000.0,
        "depth": q.depth,
        "in_flight": q.in_flight,
        "dead": q.dead,
        "waiting": waiting,
        "oldest_age_s": q.oldest_age_seconds,
        "service_time_s": q.service_time_seconds,
        "completed_total": q.totals.completed,
        "failed_total": q.totals.failed,
    })
}

fn dead_list(session: &Session, queue: &str, dead: &[crate::api::DeadJob]) -> Markup {
    html! {
        @if dead.is_empty() {
            p #dead-list .muted { "No dead jobs." }
        } @else {
            form #dead-list method="post" action={ "/console/queues/" (queue) "/dead" } {
                (csrf(session))
                div.scroll {
                table {
                    caption.sr { "Dead jobs" }
                    (view::header(&[Col::Unseen("Select"), Col::Text("Job"), Col::Text("Kind"), Col::Num("Attempts"), Col::Text("Last error"), Col::Text("Died")]))
                    tbody {
                        @for d in dead {
                            tr {
                                td { input type="checkbox" name="job_id" value=(d.job_id) aria-label={ "Select " (d.job_id) } disabled[!session.can_act()]; }
                                td { a href={ "/console/jobs/" (d.job_id) } { code { (d.job_id) } } }
                                td { (d.kind.map_or("?", |k| k.as_str())) }
                                td.num { (d.attempts) }
                                td.error-text { (d.last_error) }
                                td { (view::maybe_time(d.died_at)) }
                            }
                        }
                    }
                }
                }
                @if session.can_act() {
                    div.actions {
                        button type="submit" name="op" value="retry" { "Retry selected" }
                        button type="submit" name="op" value="purge" { "Purge selected" }
                        label { input type="checkbox" name="all" value="yes"; " all " (dead.len()) " shown and any more, not only the selected (confirm)" }
                    }
                }
            }
        }
    }
}

async fn detail_parts(
    state: &AppState,
    session: &Session,
    name: &str,
) -> Result<(Markup, Markup, serde_json::Value), ConsoleError> {
    let q = find_queue(state, name)?;
    let o = queue_overview(q).await?;
    let waiting = crate::history::waiting_by_queue(state)
        .await?
        .get(name)
        .copied()
        .unwrap_or(0);
    let dead = q
        .dead_list(200)
        .await
        .map_err(ApiError::queue_unavailable)?
        .into_iter()
        .map(|d| {
            let message: Option<atelier_jobs::QueueMessage> = serde_json::from_str(&d.payload).ok();
            crate::api::DeadJob {
                job_id: d.id,
                kind: message.map(|m| m.kind),
                attempts: d.attempts,
                last_error: d.last_error,
                died_at: chrono::DateTime::from_timestamp_millis(d.died_at_ms as i64),
            }
        })
        .collect::<Vec<_>>();
    Ok((
        stats(&o, waiting),
        dead_list(session, name, &dead),
        now_point(&o, waiting),
    ))
}

/// `GET /console/queues/{queue}`: its numbers, charts of the last day
/// (live), its dead letters.
pub(crate) async fn detail(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    Query(done): Query<Done>,
) -> Page {
    let (stats, dead, now) = detail_parts(&state, &session, &name).await?;
    let history = crate::history::history(&state, &name, None).await?;
    let o = queue_overview(find_queue(&state, &name)?).await?;
    let live = format!("queue:{name}");
    Ok(view::page(
        &session,
        &format!("Queue {name}"),
        "queues",
        Some(&live),
        html! {
            (view::flash(done.done.as_deref()))
            p { a href="/console/queues" { "← All queues" } }
            div.actions { (pause_form(&session, &o)) }
            div data-region="queue-stats" { (stats) }
            (view::data("history", &serde_json::to_value(&history).unwrap_or_default()))
            (view::data("queue-now", &now))
            section.charts aria-label="The last 24 hours" {
                figure { figcaption { "Throughput (jobs per minute)" } div.chart data-chart="throughput" role="img" aria-label="Completed and failed jobs per minute over the last 24 hours" {} }
                figure { figcaption { "Depth" } div.chart data-chart="depth" role="img" aria-label="Depth, in flight, waiting and dead over the last 24 hours" {} }
                figure { figcaption { "Latency (seconds)" } div.chart data-chart="latency" role="img" aria-label="Oldest waiting age and service time over the last 24 hours" {} }
            }
            section #dead aria-labelledby="dead-h" {
                h2 #dead-h { "Dead letters" }
                div data-region="dead" { (dead) }
            }
        },
    ))
}

pub(crate) async fn live_detail(
    state: &AppState,
    session: &Session,
    name: &str,
) -> Result<Vec<Patch>, ConsoleError> {
    let (stats, dead, now) = detail_parts(state, session, name).await?;
    Ok(vec![
        Patch::html("queue-stats", stats),
        Patch::html("dead", dead),
        Patch::data("queue-now", now),
    ])
}

async fn set_paused(
    state: AppState,
    session: Session,
    name: String,
    request: Request,
    pause: bool,
) -> Page {
    session::action(&state, &session, request, false).await?;
    let q = find_queue(&state, &name)?;
    let result = if pause {
        q.pause().await
    } else {
        q.resume().await
    };
    result.map_err(ApiError::queue_unavailable)?;
    let action = if pause { "queue.pause" } else { "queue.resume" };
    session::record(&state, &session, action, Some(&name), &[], json!({})).await?;
    let done = if pause {
        "Paused: running jobs finish, no new ones start."
    } else {
        "Resumed."
    };
    Ok(Redirect::to(&format!("/console/queues/{name}?done={}", urlencode(done))).into_response())
}

pub(crate) async fn pause(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    request: Request,
) -> Page {
    set_paused(state, session, name, request, true).await
}

pub(crate) async fn resume(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    request: Request,
) -> Page {
    set_paused(state, session, name, request, false).await
}

/// `POST /console/queues/{queue}/dead` `op=retry|purge` with the selected
/// `job_id`s, or `all=yes` for every dead job of the queue.
pub(crate) async fn dead_action(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    request: Request,
) -> Page {
    let form = session::action(&state, &session, request, false).await?;
    let q = find_queue(&state, &name)?.clone();
    let all = form.get("all") == Some("yes");
    let ids: Vec<String> = form
        .all("job_id")
        .into_iter()
        .filter_map(|id| id.parse::<Uuid>().ok())
        .map(|id| id.to_string())
        .collect();
    if !all && ids.is_empty() {
        return Err(ApiError::invalid("select dead jobs, or tick \"all\"").into());
    }
    let which = if all {
        atelier_queue::Dead::All
    } else {
        atelier_queue::Dead::Only(&ids)
    };
    let (action, touched) = match form.get("op") {
        Some("retry") => (
            "dead.retry",
            crate::jobs::retry_dead(&state, &q, which).await?,
        ),
        Some("purge") => (
            "dead.purge",
            q.dead_purge(which)
                .await
                .map_err(ApiError::queue_unavailable)?,
        ),
        _ => return Err(ApiError::invalid("op: retry or purge").into()),
    };
    let touched: Vec<Uuid> = touched.iter().filter_map(|id| id.parse().ok()).collect();
    session::record(
        &state,
        &session,
        action,
        Some(&name),
        &touched,
        json!({"all": all}),
    )
    .await?;
    let done = format!(
        "{} {} dead job{}.",
        if action == "dead.retry" {
            "Queued again:"
        } else {
            "Purged:"
        },
        touched.len(),
        if touched.len() == 1 { "" } else { "s" }
    );
    Ok(Redirect::to(&format!(
        "/console/queues/{name}?done={}#dead",
        urlencode(&done)
    ))
    .into_response())
}

pub(crate) fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .map(|s| s.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}
