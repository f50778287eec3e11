use sqlx::PgPool;
use uuid::Uuid;

use crate::DbError;

/// One ingested photo; `id` is the job id.
#[derive(Debug, Clone)]
pub struct PhotoRow {
    pub id: Uuid,
    pub user_id: String,
    pub avatar_id: Uuid,
    pub upload_id: Uuid,
    pub sha256: String,
    pub format: String,
    pub width: i32,
    pub height: i32,
    pub original_key: String,
    pub variants: serde_json::Value,
    pub exif: serde_json::Value,
}

pub async fn get_photo(pool: &PgPool, id: Uuid) -> Result<Option<PhotoRow>, DbError> {
    Ok(sqlx::query_as!(
        PhotoRow,
        "SELECT id, user_id, avatar_id, upload_id, sha256, format, width, height, original_key,
                variants, exif
         FROM photos WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await?)
}

pub use get_photo as get;
