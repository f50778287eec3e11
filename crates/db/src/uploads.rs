use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::DbError;

pub struct NewUpload<'a> {
    pub id: Uuid,
    pub client_id: &'a str,
    pub user_id: &'a str,
    pub content_type: &'a str,
    pub bytes: i64,
    pub sha256: &'a str,
    pub storage_key: &'a str,
}

#[derive(Debug, Clone)]
pub struct UploadRow {
    pub id: Uuid,
    pub client_id: String,
    pub user_id: String,
    pub content_type: String,
    pub bytes: i64,
    pub sha256: String,
    pub storage_key: String,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_upload(pool: &PgPool, u: &NewUpload<'_>) -> Result<(), DbError> {
    sqlx::query!(
        "INSERT INTO uploads (id, client_id, user_id, content_type, bytes, sha256, storage_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        u.id,
        u.client_id,
        u.user_id,
        u.content_type,
        u.bytes,
        u.sha256,
        u.storage_key
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn get_upload(pool: &PgPool, id: Uuid) -> Result<Option<UploadRow>, DbError> {
    Ok(sqlx::query_as!(
        UploadRow,
        "SELECT id, client_id, user_id, content_type, bytes, sha256, storage_key, created_at
         FROM uploads WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await?)
}

pub use get_upload as get;
pub use insert_upload as insert;
