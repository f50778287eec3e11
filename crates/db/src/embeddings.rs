//! Embeddings for similarity search: written with their job's completion,
//! read in `seq` order by the search index.
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
             input_sha256 = EXCLUDED.input_sha256, vector = EXCLUDED.vector",
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

/// Up to `limit` embeddings of a client's `modality` after `after_seq`, in
/// `seq` order.
pub async fn since(
    pool: &PgPool,
    client_id: &str,
    modality: &str,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<EmbeddingRow>, DbError> {
    let rows = sqlx::query_as!(
        EmbeddingRow,
        "SELECT seq, job_id, client_id, user_id, modality, model, model_version, vector
         FROM embeddings
         WHERE client_id = $1 AND modality = $2 AND seq > $3
         ORDER BY seq LIMIT $4",
        client_id,
        modality,
        after_seq,
        limit
    )
    .fetch_all(pool)
    .await?;
    Ok(rows)
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
