//! Finding jobs for operators: any mix of kind, status, client, user,
//! error code, flow, creation time and a fragment of the input or result
//! (JSON containment), newest first, paged by a keyset (no OFFSET: a page
//! deep in a million rows costs what the first does).
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::row::{StoredJob, typed};
use crate::{DbError, JobRow};

/// What to look for; every filter given must hold.
#[derive(Debug, Clone, Default)]
pub struct JobSearch {
    pub kind: Option<String>,
    pub status: Option<String>,
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    pub error_code: Option<String>,
    pub flow_id: Option<Uuid>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    /// The input contains this JSON (`@>`: `{"upload_id": "…"}`).
    pub input: Option<serde_json::Value>,
    /// The result contains this JSON.
    pub result: Option<serde_json::Value>,
    /// Rows older than this one (the last of the page before).
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

/// The page of rows matching `search`, newest first.
pub async fn search(pool: &PgPool, search: &JobSearch) -> Result<Vec<JobRow>, DbError> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new("SELECT * FROM jobs WHERE true");
    if let Some(kind) = &search.kind {
        q.push(" AND kind = ").push_bind(kind);
    }
    if let Some(status) = &search.status {
        q.push(" AND status = ").push_bind(status);
    }
    if let Some(client) = &search.client_id {
        q.push(" AND client_id = ").push_bind(client);
    }
    if let Some(user) = &search.user_id {
        q.push(" AND user_id = ").push_bind(user);
    }
    if let Some(code) = &search.error_code {
        q.push(" AND error_code = ").push_bind(code);
    }
    if let Some(flow) = search.flow_id {
        q.push(" AND flow_id = ").push_bind(flow);
    }
    if let Some(after) = search.created_after {
        q.push(" AND created_at >= ").push_bind(after);
    }
    if let Some(before) = search.created_before {
        q.push(" AND created_at < ").push_bind(before);
    }
    if let Some(input) = &search.input {
        q.push(" AND input @> ").push_bind(input);
    }
    if let Some(result) = &search.result {
        q.push(" AND result @> ").push_bind(result);
    }
    if let Some((at, id)) = search.after {
        q.push(" AND (created_at, id) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(search.limit);
    let rows: Vec<StoredJob> = q.build_query_as().fetch_all(pool).await?;
    typed(rows)
}
