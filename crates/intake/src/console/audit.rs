//! The audit log: every console action and sign-in, newest first.
use axum::extract::{Query, State};
use maud::html;
use serde::Deserialize;

use super::session::Session;
use super::view::Col;
use super::{Page, view};
use crate::state::AppState;

#[derive(Deserialize)]
pub(crate) struct Before {
    before: Option<i64>,
}

/// `GET /console/audit?before=ID`
pub(crate) async fn page(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<Before>,
) -> Page {
    let entries = atelier_db::console::audit_log(&state.pool, q.before, 100).await?;
    let next = (entries.len() == 100)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(view::page(
        &session,
        "Audit log",
        "audit",
        None,
        html! {
            @if entries.is_empty() { p.muted { "Nothing yet." } }
            @else {
                div.scroll {
                table #audit {
                    caption.sr { "Actions, newest first" }
                    (view::header(&[Col::Text("When"), Col::Text("Who"), Col::Text("Role"), Col::Text("Action"), Col::Text("Queue"), Col::Text("Jobs"), Col::Text("Detail"), Col::Text("From")]))
                    tbody {
                        @for e in &entries {
                            tr {
                                td { (view::time(e.at)) }
                                td { (e.operator) }
                                td { (e.role) }
                                td { code { (e.action) } }
                                td { (e.queue.as_deref().unwrap_or("")) }
                                td {
                                    @for id in e.job_ids.iter().take(5) { a href={ "/console/jobs/" (id) } { code { (id.to_string()[..8]) } } " " }
                                    @if e.job_ids.len() > 5 { span.muted { "and " (e.job_ids.len() - 5) " more" } }
                                }
                                td { @if e.detail.as_object().is_some_and(|o| !o.is_empty()) { code.small { (e.detail) } } }
                                td.muted { (e.address.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
                }
            }
            @if let Some(next) = next { nav.pager aria-label="Pages" { a rel="next" href={ "/console/audit?before=" (next) } { "Older →" } } }
        },
    ))
}
