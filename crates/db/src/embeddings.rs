//! Embeddings for similarity search: written with their job's completion,
//! read by the search index in the order of the transactions that wrote
//! them, from a visibility horizon (see [`written_since`]).
use sqlx::PgPool;
use uuid::Uuid;

use crate::DbError;

pub struct NewEmbedding<'a> {
    pub job_id: Uuid,
    pub client_id: &'a str,
    pub user_id: &'a str,
    /// `image` or `text`.
    pub modality: &'a str,
    pub model: &'a str,
    pub model_version: &'a str,
    pub input_sha256: &'a str,
    pub vector: &'a [f32],
}

#[derive(Debug, Clone)]
pub struct EmbeddingRow {
    pub seq: i64,
    pub job_id: Uuid,
    pub client_id: String,
    pub user_id: String,
    pub modality: String,
    pub model: String,
    pub model_version: String,
    pub vector: Vec<f32>,
}

/// Complete the job and store its embedding in one transaction; a re-run
/// overwrites the same row.
pub async fn complete_with_embedding(
    pool: &PgPool,
    token: &str,
    result: &serde_json::Value,
    cache_key: &str,
    e: &NewEmbedding<'_>,
) -> Result<(), DbError> {
    let mut tx = pool.begin().await?;
    let fence = crate::Fence {
        job: e.job_id,
        token,
    };
    crate::jobs::complete_in(&mut tx, fence, result, Some(cache_key)).await?;
    sqlx::query!(
        "INSERT INTO embeddings
             (job_id, client_id, user_id, modality, model, model_version, input_sha256, vector)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (job_id) DO UPDATE
         SET model = EXCLUDED.model, model_version = EXCLUDED.model_version,
             input_sha256 = EXCLUDED.input_sha256, vector = EXCLUDED.vector,
             tx = pg_current_xact_id()",
        e.job_id,
        e.client_id,
        e.user_id,
        e.modality,
        e.model,
        e.model_version,
        e.input_sha256,
        e.vector
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The visibility horizon now: every transaction older than it has
/// finished (committed or rolled back), so its rows are all visible; a row
/// not visible yet was written by a transaction at or after it.
pub async fn horizon(pool: &PgPool) -> Result<i64, DbError> {
    let horizon = sqlx::query_scalar!(
        r#"SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS "horizon!""#
    )
    .fetch_one(pool)
    .await?;
    Ok(horizon)
}

/// Up to `limit` embeddings of a client's `modality` written after
/// (`after_tx`, `after_seq`) in (writing transaction, `seq`) order, each
/// with its transaction. Start at (a previous [`horizon`], −1) and every
/// row committed since that horizon was taken is among them, whatever
/// order the transactions committed in (rows from before it may come
/// again: dedupe by job).
pub async fn written_since(
    pool: &PgPool,
    client_id: &str,
    modality: &str,
    (after_tx, after_seq): (i64, i64),
    limit: i64,
) -> Result<Vec<(i64, EmbeddingRow)>, DbError> {
    let rows = sqlx::query!(
        r#"SELECT seq, job_id, client_id, user_id, modality, model, model_version, vector,
                  tx::text::bigint AS "tx!"
           FROM embeddings
           WHERE client_id = $1 AND modality = $2
             AND (tx, seq) > ((($3::bigint)::text)::xid8, $4::bigint)
           ORDER BY tx, seq LIMIT $5"#,
        client_id,
        modality,
        after_tx,
        after_seq,
        limit
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.tx,
                EmbeddingRow {
                    seq: r.seq,
                    job_id: r.job_id,
                    client_id: r.client_id,
                    user_id: r.user_id,
                    modality: r.modality,
                    model: r.model,
                    model_version: r.model_version,
                    vector: r.vector,
                },
            )
        })
        .collect())
}

/// The embedding a job computed, if any.
pub async fn for_job(pool: &PgPool, job_id: Uuid) -> Result<Option<EmbeddingRow>, DbError> {
    let row = sqlx::query_as!(
        EmbeddingRow,
        "SELECT seq, job_id, client_id, user_id, modality, model, model_version, vector
         FROM embeddings WHERE job_id = $1",
        job_id
    )
    .fetch_optional(pool)
    .await?;
    Ok(row)
}
