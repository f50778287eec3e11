//! Jobs: search by id, kind, status, user, client, error code, flow, time
//! range and a field of the input or result; the inspector (input, every
//! run on a timeline, stages, cost, events, the result drawn); retry and
//! cancel, one job or in bulk (a selection or a whole search, bounded and
//! confirmed).
use std::collections::BTreeMap;

use atelier_jobs::{JobKind, JobStatus};
use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Redirect};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::queues::urlencode;
use super::session::{self, Form, Session};
use super::view::Col;
use super::view::{self, csrf};
use super::{ConsoleError, Page, draw};
use crate::api::{JobSearchQuery, JobSummary};
use crate::error::ApiError;
use crate::live::Patch;
use crate::state::AppState;

/// The most jobs one bulk action touches.
pub(crate) const BULK_LIMIT: usize = 1000;

/// The search form as sent (every field text; empty is "any").
#[derive(Debug, Default, Deserialize, Clone)]
pub(crate) struct SearchForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    flow_id: String,
    #[serde(default)]
    created_after: String,
    #[serde(default)]
    created_before: String,
    /// `a.b.c` in the input, and the value it must hold.
    #[serde(default)]
    input_path: String,
    #[serde(default)]
    input_value: String,
    #[serde(default)]
    result_path: String,
    #[serde(default)]
    result_value: String,
    #[serde(default)]
    cursor: String,
    #[serde(default)]
    done: String,
}

const FIELDS: [&str; 13] = [
    "q",
    "kind",
    "status",
    "client_id",
    "user_id",
    "error_code",
    "flow_id",
    "created_after",
    "created_before",
    "input_path",
    "input_value",
    "result_path",
    "result_value",
];

impl SearchForm {
    fn field(&self, name: &str) -> &str {
        match name {
            "q" => &self.q,
            "kind" => &self.kind,
            "status" => &self.status,
            "client_id" => &self.client_id,
            "user_id" => &self.user_id,
            "error_code" => &self.error_code,
            "flow_id" => &self.flow_id,
            "created_after" => &self.created_after,
            "created_before" => &self.created_before,
            "input_path" => &self.input_path,
            "input_value" => &self.input_value,
            "result_path" => &self.result_path,
            "result_value" => &self.result_value,
            _ => "",
        }
    }

    fn from_form(form: &Form) -> SearchForm {
        let pairs: Vec<(&str, &str)> = form
            .0
            .iter()
            .filter(|(k, _)| FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let text = serde_urlencoded::to_string(pairs).unwrap_or_default();
        serde_urlencoded::from_str(&text).unwrap_or_default()
    }

    /// The filters as a query string (for paging and bulk actions).
    fn query_string(&self) -> String {
        let pairs: Vec<(&str, &str)> = FIELDS
            .iter()
            .map(|f| (*f, self.field(f)))
            .filter(|(_, v)| !v.trim().is_empty())
            .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }

    fn is_empty(&self) -> bool {
        FIELDS.iter().all(|f| self.field(f).trim().is_empty())
    }

    /// The API's query for this form; `request.invalid` names the field.
    fn to_query(&self, cursor: Option<String>, limit: usize) -> Result<JobSearchQuery, ApiError> {
        let text = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
        let kind = match text(&self.kind) {
            Some(k) => Some(
                k.parse::<JobKind>()
                    .map_err(|_| ApiError::invalid(format!("kind: no kind {k:?}")))?,
            ),
            None => None,
        };
        let status = match text(&self.status) {
            Some(s) => Some(
                s.parse::<JobStatus>()
                    .map_err(|_| ApiError::invalid(format!("status: no status {s:?}")))?,
            ),
            None => None,
        };
        let flow_id = match text(&self.flow_id) {
            Some(f) => Some(
                f.parse::<Uuid>()
                    .map_err(|_| ApiError::invalid("flow_id: a flow's id (a UUID)"))?,
            ),
            None => None,
        };
        Ok(JobSearchQuery {
            kind,
            status,
            client_id: text(&self.client_id),
            user_id: text(&self.user_id),
            error_code: text(&self.error_code),
            flow_id,
            created_after: moment("created_after", &self.created_after)?,
            created_before: moment("created_before", &self.created_before)?,
            input: containment("input", &self.input_path, &self.input_value)?,
            result: containment("result", &self.result_path, &self.result_value)?,
            cursor,
            limit: Some(limit),
        })
    }
}

/// A moment from the form: RFC 3339, or a `datetime-local` value (UTC).
fn moment(name: &str, text: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.to_utc()));
    }
    for format in [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(at) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Ok(Some(at.and_utc()));
        }
    }
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(0, 0, 0).map(|at| at.and_utc()));
    }
    Err(ApiError::invalid(format!(
        "{name}: a moment like 2026-12-07T14:30 (UTC) or RFC 3339"
    )))
}

/// `garment.colour` = `red` as the JSON object the API searches by
/// (`{"garment": {"colour": "red"}}`); a value that reads as JSON (a
/// number, `true`, `"quoted"`, an object) is taken as that JSON.
pub(crate) fn containment(name: &str, path: &str, value: &str) -> Result<Option<String>, ApiError> {
    let (path, value) = (path.trim(), value.trim());
    if path.is_empty() && value.is_empty() {
        return Ok(None);
    }
    if path.is_empty() {
        return Err(ApiError::invalid(format!(
            "{name}_path: the field to look in, like garment.colour"
        )));
    }
    let mut leaf =
        serde_json::from_str::<Value>(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    let parts: Vec<&str> = path.trim_start_matches("$.").split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ApiError::invalid(format!(
            "{name}_path: names joined by dots, like garment.colour"
        )));
    }
    for part in parts.iter().rev() {
        leaf = json!({ *part: leaf });
    }
    Ok(Some(leaf.to_string()))
}

fn select(name: &str, label: &str, options: &[&str], current: &str) -> Markup {
    html! {
        label {
            span { (label) }
            select name=(name) {
                option value="" selected[current.is_empty()] { "any" }
                @for o in options {
                    option value=(o) selected[*o == current] { (o) }
                }
            }
        }
    }
}

fn text_input(name: &str, label: &str, value: &str, placeholder: &str) -> Markup {
    html! {
        label {
            span { (label) }
            input type="text" name=(name) value=(value) placeholder=(placeholder);
        }
    }
}

fn search_form(f: &SearchForm) -> Markup {
    let kinds: Vec<&str> = JobKind::every().map(JobKind::as_str).collect();
    let statuses: Vec<&str> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
    html! {
        form.search method="get" action="/console/jobs" role="search" aria-label="Search jobs" {
            (text_input("q", "Job id", &f.q, "a job's id"))
            (select("kind", "Kind", &kinds, &f.kind))
            (select("status", "Status", &statuses, &f.status))
            (text_input("user_id", "User", &f.user_id, ""))
            (text_input("client_id", "Client", &f.client_id, ""))
            (text_input("error_code", "Error code", &f.error_code, "e.g. input.no_person"))
            (text_input("flow_id", "Flow", &f.flow_id, "a flow's id"))
            label { span { "Created after (UTC)" } input type="datetime-local" name="created_after" value=(f.created_after); }
            label { span { "Created before (UTC)" } input type="datetime-local" name="created_before" value=(f.created_before); }
            fieldset {
                legend { "Input field" }
                (text_input("input_path", "Path", &f.input_path, "e.g. upload_id"))
                (text_input("input_value", "Equals", &f.input_value, ""))
            }
            fieldset {
                legend { "Result field" }
                (text_input("result_path", "Path", &f.result_path, "e.g. person_present"))
                (text_input("result_value", "Equals", &f.result_value, "e.g. true"))
            }
            div.actions { button type="submit" { "Search" } a href="/console/jobs" { "Clear" } }
        }
    }
}

fn results_table(session: &Session, jobs: &[JobSummary], selectable: bool) -> Markup {
    html! {
        div.scroll {
        table #jobs-table {
            caption.sr { "Jobs, newest first" }
            thead { tr {
                @if selectable { th scope="col" { input type="checkbox" data-select-all aria-label="Select every job on this page" disabled[!session.can_act()]; } }
                th scope="col" { "Job" }
                th scope="col" { "Kind" }
                th scope="col" { "Status" }
                th scope="col" { "User" }
                th scope="col" { "Client" }
                th scope="col" .num { "Attempts" }
                th scope="col" { "Error" }
                th scope="col" { "Created" }
            } }
            tbody {
                @for j in jobs {
                    tr {
                        @if selectable {
                            td { input type="checkbox" name="job_id" value=(j.job_id) form="bulk" aria-label={ "Select " (j.job_id) } disabled[!session.can_act()]; }
                        }
                        td { a href={ "/console/jobs/" (j.job_id) } { code { (j.job_id.to_string()[..8]) } } }
                        td { (j.kind.as_str()) }
                        td { (view::status(j.status.as_str())) }
                        td { (j.user_id) }
                        td { (j.client_id) }
                        td.num { (j.attempts) }
                        td { @if let Some(code) = &j.error_code { code { (code) } } }
                        td { (view::time(j.created_at)) }
                    }
                }
            }
        }
        }
    }
}

fn bulk_form(session: &Session, f: &SearchForm, shown: usize) -> Markup {
    html! {
        @if session.can_act() && shown > 0 {
            form #bulk .actions method="post" action="/console/jobs/bulk" {
                (csrf(session))
                @for name in FIELDS {
                    @if !f.field(name).trim().is_empty() {
                        input type="hidden" name=(name) value=(f.field(name));
                    }
                }
                label {
                    span { "Act on" }
                    select name="scope" {
                        option value="selected" { "the selected jobs" }
                        option value="search" { "every job this search finds (up to " (BULK_LIMIT) ")" }
                    }
                }
                button type="submit" name="op" value="cancel" { "Cancel…" }
                button type="submit" name="op" value="retry" { "Retry dead…" }
                button type="submit" name="op" value="purge" { "Purge dead…" }
            }
        }
    }
}

/// `GET /console/jobs`: the search and a page of its jobs.
pub(crate) async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(form): Query<SearchForm>,
) -> Page {
    if let Ok(id) = form.q.trim().parse::<Uuid>() {
        return Ok(Redirect::to(&format!("/console/jobs/{id}")).into_response());
    }
    let cursor = Some(form.cursor.clone()).filter(|c| !c.is_empty());
    let found = match form.to_query(cursor, 50) {
        _ if !form.q.trim().is_empty() => Err(ApiError::invalid(
            "job id: a job's id is a UUID, like 0b6f1c1e-3c39-4a6e-9a51-2f4c5e7d8a90",
        )),
        Ok(query) => crate::jobs::search(&state, query).await,
        Err(e) => Err(e),
    };
    let (jobs, next, error) = match found {
        Ok(list) => (list.jobs, list.next_cursor, None),
        Err(e) if e.code == atelier_jobs::ErrorCode::RequestInvalid => {
            (Vec::new(), None, Some(e.message))
        }
        Err(e) => return Err(e.into()),
    };
    let query = form.query_string();
    Ok(view::page(
        &session,
        "Jobs",
        "jobs",
        None,
        html! {
            (view::flash(Some(form.done.as_str()).filter(|d| !d.is_empty())))
            (search_form(&form))
            @if let Some(error) = error {
                p.error role="alert" { code { "request.invalid" } ": " (error) }
            }
            (bulk_form(&session, &form, jobs.len()))
            @if jobs.is_empty() {
                p.muted { @if form.is_empty() { "No jobs yet." } @else { "No job matches." } }
            } @else {
                (results_table(&session, &jobs, true))
            }
            nav.pager aria-label="Pages" {
                @if !form.cursor.is_empty() { a href={ "/console/jobs?" (query) } { "Newest" } }
                @if let Some(next) = next { a rel="next" href={ "/console/jobs?" (query) "&cursor=" (urlencode(&next)) } { "Older →" } }
            }
        },
    ))
}

/// The jobs a bulk action is for: the selection, or the search's first
/// [`BULK_LIMIT`].
async fn bulk_targets(state: &AppState, form: &Form) -> Result<(Vec<Uuid>, bool), ConsoleError> {
    if form.get("scope") == Some("search") {
        let search = SearchForm::from_form(form);
        let mut ids = Vec::new();
        let mut cursor = None;
        loop {
            let page = crate::jobs::search(state, search.to_query(cursor, 200)?).await?;
            ids.extend(page.jobs.iter().map(|j| j.job_id));
            match page.next_cursor {
                Some(next) if ids.len() < BULK_LIMIT => cursor = Some(next),
                more => {
                    let truncated = more.is_some() || ids.len() > BULK_LIMIT;
                    ids.truncate(BULK_LIMIT);
                    return Ok((ids, truncated));
                }
            }
        }
    }
    let ids: Vec<Uuid> = form
        .all("job_id")
        .iter()
        .filter_map(|id| id.parse().ok())
        .collect();
    if ids.is_empty() {
        return Err(ApiError::invalid("select jobs first (or act on the whole search)").into());
    }
    if ids.len() > BULK_LIMIT {
        return Err(ApiError::invalid(format!("at most {BULK_LIMIT} jobs at once")).into());
    }
    Ok((ids, false))
}

/// What one job's retry, cancel or purge did.
enum Outcome {
    Done,
    Skipped(String),
}

async fn cancel_one(state: &AppState, id: Uuid) -> Result<Outcome, ConsoleError> {
    let job = crate::jobs::load(state, None, &id.to_string()).await?;
    if job.status.is_final() {
        return Ok(Outcome::Skipped(format!("already {}", job.status)));
    }
    crate::jobs::cancel(state, job).await?;
    Ok(Outcome::Done)
}

/// Dead jobs leave their queues' dead sets: queued again (`retry`) or
/// forgotten (`purge`, rows stay `dead`). Jobs not dead are skipped.
async fn dead_many(
    state: &AppState,
    ids: &[Uuid],
    retry: bool,
) -> Result<BTreeMap<Uuid, Outcome>, ConsoleError> {
    let mut by_queue: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut outcomes = BTreeMap::new();
    for id in ids {
        let job = crate::jobs::load(state, None, &id.to_string()).await?;
        if job.status == JobStatus::Dead {
            by_queue.entry(job.queue).or_default().push(id.to_string());
        } else {
            outcomes.insert(*id, Outcome::Skipped(format!("{} (not dead)", job.status)));
        }
    }
    for (queue, ids) in by_queue {
        let q = crate::routes::queues::queue(state, &queue)?;
        let which = atelier_queue::Dead::Only(&ids);
        let touched = if retry {
            crate::jobs::retry_dead(state, q, which).await?
        } else {
            q.dead_purge(which)
                .await
                .map_err(ApiError::queue_unavailable)?
        };
        let uuids: Vec<Uuid> = touched.iter().filter_map(|id| id.parse().ok()).collect();
        for id in ids.iter().filter_map(|id| id.parse::<Uuid>().ok()) {
            let outcome = if uuids.contains(&id) {
                Outcome::Done
            } else {
                Outcome::Skipped("not in its queue's dead set".into())
            };
            outcomes.insert(id, outcome);
        }
    }
    Ok(outcomes)
}

/// `POST /console/jobs/bulk`: first a confirmation page naming how many
/// jobs the action would touch; with `confirm=yes`, the action.
pub(crate) async fn bulk(
    State(state): State<AppState>,
    session: Session,
    request: Request,
) -> Page {
    let form = session::action(&state, &session, request, false).await?;
    let op = match form.get("op") {
        Some(op @ ("cancel" | "retry" | "purge")) => op.to_owned(),
        _ => return Err(ApiError::invalid("op: cancel, retry or purge").into()),
    };
    let (ids, truncated) = bulk_targets(&state, &form).await?;
    if form.get("confirm") != Some("yes") {
        return Ok(view::page(
            &session,
            "Confirm",
            "jobs",
            None,
            html! {
                form.card method="post" action="/console/jobs/bulk" {
                    (csrf(&session))
                    p role="alert" {
                        strong { (op) " " (ids.len()) " job" @if ids.len() != 1 { "s" } }
                        @if truncated { " (the search finds more; only the first " (BULK_LIMIT) ")" }
                        "? This cannot be undone."
                    }
                    input type="hidden" name="op" value=(op);
                    input type="hidden" name="scope" value="selected";
                    @for id in &ids { input type="hidden" name="job_id" value=(id); }
                    button type="submit" name="confirm" value="yes" { "Yes, " (op) " " (ids.len()) }
                    " " a href="/console/jobs" { "No, go back" }
                }
            },
        ));
    }
    let outcomes: BTreeMap<Uuid, Outcome> = match op.as_str() {
        "cancel" => {
            let mut out = BTreeMap::new();
            for id in &ids {
                out.insert(*id, cancel_one(&state, *id).await?);
            }
            out
        }
        "retry" => dead_many(&state, &ids, true).await?,
        _ => dead_many(&state, &ids, false).await?,
    };
    let done: Vec<Uuid> = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Done))
        .map(|(id, _)| *id)
        .collect();
    let skipped = outcomes.len() - done.len();
    session::record(
        &state,
        &session,
        &format!("jobs.{op}"),
        None,
        &done,
        json!({"asked": ids.len(), "skipped": skipped}),
    )
    .await?;
    let message = format!("{op}: {} job(s) done, {skipped} skipped.", done.len());
    Ok(Redirect::to(&format!("/console/jobs?done={}", urlencode(&message))).into_response())
}

/// `POST /console/jobs/{id}/cancel`
pub(crate) async fn cancel(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    request: Request,
) -> Page {
    session::action(&state, &session, request, false).await?;
    let job = crate::jobs::load(&state, None, &id.to_string()).await?;
    let queue = job.queue.clone();
    let answer = crate::jobs::cancel(&state, job).await?;
    session::record(
        &state,
        &session,
        "job.cancel",
        Some(&queue),
        &[id],
        json!({}),
    )
    .await?;
    let done = match answer.cancel {
        crate::api::CancelState::Done => "Cancelled.",
        crate::api::CancelState::Requested => "Cancel requested: it stops at its next stage.",
    };
    Ok(Redirect::to(&format!("/console/jobs/{id}?done={}", urlencode(done))).into_response())
}

/// `POST /console/jobs/{id}/retry`: a dead job runs again with a fresh
/// attempt budget.
pub(crate) async fn retry(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<Uuid>,
    request: Request,
) -> Page {
    session::action(&state, &session, request, false).await?;
    let job = crate::jobs::load(&state, None, &id.to_string()).await?;
    let queue = job.queue.clone();
    let outcome = dead_many(&state, &[id], true).await?;
    let done = match outcome.get(&id) {
        Some(Outcome::Done) => "Queued again with a fresh attempt budget.".to_owned(),
        Some(Outcome::Skipped(why)) => {
            return Err(ApiError::invalid(format!(
                "only a dead job can be retried; this one is {why}"
            ))
            .into());
        }
        None => "Nothing to do.".to_owned(),
    };
    session::record(
        &state,
        &session,
        "job.retry",
        Some(&queue),
        &[id],
        json!({}),
    )
    .await?;
    Ok(Redirect::to(&format!("/console/jobs/{id}?done={}", urlencode(&done))).into_response())
}

/// The runs on a time axis (SVG: no inline style under the CSP).
fn timeline(
    runs: &[atelier_db::console::RunRow],
    created: chrono::DateTime<chrono::Utc>,
) -> Markup {
    let now = chrono::Utc::now();
    let end = runs
        .iter()
        .map(|r| r.ended_at.unwrap_or(now))
        .max()
        .unwrap_or(now)
        .max(created + chrono::Duration::milliseconds(1));
    let span = (end - created).num_milliseconds().max(1) as f64;
    let x = |at: chrono::DateTime<chrono::Utc>| {
        4.0 + 592.0 * ((at - created).num_milliseconds() as f64 / span)
    };
    let height = 24 * runs.len().max(1) + 8;
    html! {
        svg.timeline viewBox={ "0 0 600 " (height) } role="img" aria-label={ (runs.len()) " runs on a time line from the job's creation" } {
            @for (i, r) in runs.iter().enumerate() {
                @let x0 = x(r.started_at);
                @let x1 = x(r.ended_at.unwrap_or(now)).max(x0 + 3.0);
                rect class={ "run o-" (r.outcome.as_deref().unwrap_or("running")) } x=(format!("{x0:.1}")) y=(4 + 24 * i) width=(format!("{:.1}", x1 - x0)) height="18" rx="3" {
                    title { "Attempt " (r.attempt) ": " (r.outcome.as_deref().unwrap_or("running")) }
                }
            }
        }
    }
}

fn runs_table(runs: &[atelier_db::console::RunRow]) -> Markup {
    html! {
        div.scroll {
        table #runs {
            caption { "Runs" }
            (view::header(&[Col::Num("Attempt"), Col::Text("Worker"), Col::Text("Started"), Col::Text("Ended"), Col::Num("Took"), Col::Text("Outcome"), Col::Text("Error")]))
            tbody {
                @for r in runs {
                    tr.run {
                        td.num { (r.attempt) }
                        td { code { (r.worker.as_deref().unwrap_or("?")) } }
                        td { (view::time(r.started_at)) }
                        td { (view::maybe_time(r.ended_at)) }
                        td.num { (view::between(r.started_at, r.ended_at)) }
                        td { (view::status(r.outcome.as_deref().unwrap_or("running"))) }
                        td { @if let Some(code) = &r.error_code { code { (code) } " " (r.error_message.as_deref().unwrap_or("")) } }
                    }
                }
            }
        }
        }
    }
}

fn stages_table(
    stages: &[atelier_db::console::StageTiming],
    runs: &[atelier_db::console::RunRow],
) -> Markup {
    html! {
        @if !stages.is_empty() {
            div.scroll {
            table #stages {
                caption { "Stages (checkpointed; a re-run resumes after the last)" }
                (view::header(&[Col::Num("#"), Col::Text("Stage"), Col::Num("Run"), Col::Text("Finished"), Col::Num("Took")]))
                tbody {
                    @for (i, s) in stages.iter().enumerate() {
                        @let run_start = runs.iter().filter(|r| Some(r.attempt) == s.attempt).map(|r| r.started_at).next_back();
                        @let before = if i > 0 && stages[i - 1].attempt == s.attempt { Some(stages[i - 1].finished_at) } else { run_start };
                        tr {
                            td.num { (s.position) }
                            td { (s.stage) }
                            td.num { (s.attempt.map_or("?".into(), |a| a.to_string())) }
                            td { (view::time(s.finished_at)) }
                            td.num { (before.map_or("—".into(), |b| view::between(b, Some(s.finished_at)))) }
                        }
                    }
                }
            }
            }
        }
    }
}

fn events_list(events: &[atelier_db::console::JobEvent]) -> Markup {
    html! {
        @if events.is_empty() { p.muted { "No events yet." } }
        @else {
            ol.events {
                @for e in events {
                    li { (view::time(e.at)) " " code { (e.event_type) } " " span.muted.small { (e.data.to_string().chars().take(160).collect::<String>()) } }
                }
            }
        }
    }
}

fn actions(session: &Session, job: &atelier_db::JobRow) -> Markup {
    html! {
        @if session.can_act() {
            div.actions {
                @if !job.status.is_final() {
                    form.inline method="post" action={ "/console/jobs/" (job.id) "/cancel" } {
                        (csrf(session)) button type="submit" { "Cancel" }
                    }
                }
                @if job.status == JobStatus::Dead {
                    form.inline method="post" action={ "/console/jobs/" (job.id) "/retry" } {
                        (csrf(session)) button type="submit" { "Retry" }
                    }
                }
            }
        }
    }
}

async fn inspector_parts(
    state: &AppState,
    session: &Session,
    id: Uuid,
) -> Result<(Markup, Markup, Markup), ConsoleError> {
    let job = crate::jobs::load(state, None, &id.to_string()).await?;
    let runs = atelier_db::console::runs(&state.pool, id).await?;
    let stages = atelier_db::console::stages(&state.pool, id).await?;
    let events = atelier_db::console::job_events(&state.pool, id, 200).await?;
    let summary = html! {
        dl.stats {
            div { dt { "Status" } dd #job-status { (view::status(job.status.as_str())) } }
            div { dt { "Progress" } dd { progress max="100" value=(job.progress) aria-label="Progress" { (job.progress) " %" } " " (job.progress) " %" } }
            div { dt { "Attempts" } dd { (job.attempts) } }
            div { dt { "Queue" } dd { a href={ "/console/queues/" (job.queue) } { (job.queue) } } }
            div { dt { "Client" } dd { (job.client_id) } }
            div { dt { "User" } dd { (job.user_id) } }
            div { dt { "Created" } dd { (view::time(job.created_at)) } }
            div { dt { "Started" } dd { (view::maybe_time(job.started_at)) } }
            div { dt { "Finished" } dd { (view::maybe_time(job.finished_at)) } }
            div { dt { "Worker" } dd { code { (job.worker.as_deref().unwrap_or("—")) } } }
            @if let Some(flow) = &job.flow {
                div { dt { "Flow" } dd { a href={ "/console/flows/" (flow.flow_id) } { "node " (flow.name) } } }
            }
        }
        @if let Some(error) = &job.error {
            p.error role="alert" { code { (error.code.as_str()) } ": " (error.message) }
        }
        (actions(session, &job))
    };
    let history = html! {
        h2 { "Timeline" }
        @if runs.is_empty() { p.muted { "Not run yet." } }
        @else { (timeline(&runs, job.created_at)) (runs_table(&runs)) }
        (stages_table(&stages, &runs))
        @if let Some(cost) = &job.cost {
            h2 { "Cost" }
            (view::json(cost))
        }
        h2 { "Events" }
        (events_list(&events))
    };
    let result = match draw::job_result(state, &job).await? {
        Some((drawn, result)) => html! {
            h2 { "Result" }
            (drawn)
            details { summary { "Result as JSON" } (view::json(&result)) }
        },
        None => html! {},
    };
    Ok((summary, history, result))
}

/// The images nearest an image embedding among its client's (drawn once
/// with the page, not in its live parts: a search scans the client's
/// index).
async fn nearest(state: &AppState, job: &atelier_db::JobRow) -> Result<Markup, ConsoleError> {
    if job.kind != JobKind::VisionEmbed || job.status != JobStatus::Complete {
        return Ok(html! {});
    }
    let source = crate::search::vector_job(job);
    let Some(row) = atelier_db::embeddings::for_job(&state.pool, source).await? else {
        return Ok(html! {});
    };
    if row.modality != "image" {
        return Ok(html! {});
    }
    let found = state
        .search
        .nearest(
            &state.pool,
            &job.client_id,
            &row.modality,
            (&row.model, &row.model_version),
            &row.vector,
            6,
            None,
            &[job.id, source],
        )
        .await?;
    let mut hits = Vec::new();
    for (hit, _) in &found.hits {
        let Some(other) = atelier_db::jobs::get(&state.pool, hit.id).await? else {
            continue;
        };
        hits.push((
            hit.id,
            hit.score,
            draw::upload_key(state, &other.input).await,
        ));
    }
    Ok(html! {
        h2 { "Nearest images (of " (found.searched) " of this client's)" }
        @if hits.is_empty() { p.muted { "None yet." } }
        div.gallery #nearest {
            @for (id, score, key) in &hits {
                figure {
                    @if let Some(key) = key { img src=(draw::object_url(key)) alt="A similar image" width="160"; }
                    figcaption { a href={ "/console/jobs/" (id) } { code { (id.to_string()[..8]) } } " · " (format!("{score:.3}")) }
                }
            }
        }
    })
}

/// `GET /console/jobs/{id}`: the inspector (live while the page shows).
pub(crate) async fn inspect(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(done): Query<SearchForm>,
) -> Page {
    let id: Uuid = id
        .parse()
        .map_err(|_| ApiError::new(atelier_jobs::ErrorCode::JobNotFound, "no job has that id"))?;
    let job = crate::jobs::load(&state, None, &id.to_string()).await?;
    let (summary, history, result) = inspector_parts(&state, &session, id).await?;
    let nearest = nearest(&state, &job).await?;
    let references = job
        .flow
        .as_ref()
        .map(|f| f.references.clone())
        .unwrap_or_default();
    let live = format!("job:{id}");
    Ok(view::page(
        &session,
        &format!("{} job {}", job.kind.as_str(), &id.to_string()[..8]),
        "jobs",
        Some(&live),
        html! {
            (view::flash(Some(done.done.as_str()).filter(|d| !d.is_empty())))
            p.muted { code { (id) } }
            div data-region="job-summary" { (summary) }
            div data-region="job-history" { (history) }
            div data-region="job-result" { (result) }
            (nearest)
            h2 { @if references.is_empty() { "Input" } @else { "Input (as it ran: references filled in at release)" } }
            @if !references.is_empty() {
                ul.references {
                    @for r in &references {
                        li { code { (r.at) } " ← node " strong { (r.from) } "'s result at " code { (r.pointer) } }
                    }
                }
            }
            (view::json(&job.input))
        },
    ))
}

pub(crate) async fn live_job(
    state: &AppState,
    session: &Session,
    id: Uuid,
) -> Result<Vec<Patch>, ConsoleError> {
    let (summary, history, result) = inspector_parts(state, session, id).await?;
    Ok(vec![
        Patch::html("job-summary", summary),
        Patch::html("job-history", history),
        Patch::html("job-result", result),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_and_its_value_become_the_object_searched_for() {
        assert_eq!(
            containment("input", "garment.colour", "red")
                .unwrap()
                .unwrap(),
            r#"{"garment":{"colour":"red"}}"#
        );
        assert_eq!(
            containment("result", "person_present", "true")
                .unwrap()
                .unwrap(),
            r#"{"person_present":true}"#
        );
        assert_eq!(containment("input", "", "").unwrap(), None);
        assert!(containment("input", "", "x").is_err());
        assert!(containment("input", "a..b", "x").is_err());
    }

    #[test]
    fn moments_read_as_the_browser_sends_them() {
        let at = moment("created_after", "2026-12-07T14:30")
            .unwrap()
            .unwrap();
        assert_eq!(at.to_rfc3339(), "2026-12-07T14:30:00+00:00");
        assert!(moment("created_after", "yesterday").is_err());
        assert_eq!(moment("created_after", " ").unwrap(), None);
    }
}
