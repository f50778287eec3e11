//! Avatars: the row `avatar.build` opens when it starts, fills when it is
//! ready (with its measurements and photos, in the transaction that
//! completes the job) or marks `error` when the photos cannot make one.
//! Every write goes through the run's [`Fence`].
use sqlx::PgPool;
use uuid::Uuid;

use crate::{DbError, Fence};

/// What an avatar is built for, known when the job starts.
#[derive(Debug, Clone)]
pub struct NewAvatar<'a> {
    pub id: Uuid,
    pub client_id: &'a str,
    pub user_id: &'a str,
    pub height_cm: f32,
    pub sex: &'a str,
    pub unit: &'a str,
}

/// One measurement, metric.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasurementRow {
    pub name: String,
    pub value_cm: f32,
    pub uncertainty_cm: f32,
}

/// A photo the avatar was measured from.
#[derive(Debug, Clone, PartialEq)]
pub struct AvatarPhotoRow {
    pub view: String,
    pub upload_id: Uuid,
    pub sha256: String,
    pub width: i32,
    pub height: i32,
}

/// A finished avatar.
#[derive(Debug, Clone)]
pub struct ReadyAvatar {
    pub confidence: f32,
    pub body: serde_json::Value,
    pub models: serde_json::Value,
    pub measurements: Vec<MeasurementRow>,
    pub photos: Vec<AvatarPhotoRow>,
}

/// Open (or re-open, on a re-run or a rebuild) the avatar as `processing`
/// under this run. `false` when the id is another owner's avatar: nothing
/// is written.
pub async fn open(
    pool: &PgPool,
    fence: Fence<'_>,
    avatar: &NewAvatar<'_>,
) -> Result<bool, DbError> {
    let mut tx = Fence::hold(pool, fence).await?;
    let owned = sqlx::query_scalar!(
        "INSERT INTO avatars (id, client_id, user_id, job_id, status, height_cm, sex, unit)
         VALUES ($1, $2, $3, $4, 'processing', $5, $6, $7)
         ON CONFLICT (id) DO UPDATE
         SET job_id = EXCLUDED.job_id, status = 'processing', height_cm = EXCLUDED.height_cm,
             sex = EXCLUDED.sex, unit = EXCLUDED.unit, error_code = NULL, updated_at = now()
         WHERE avatars.client_id = EXCLUDED.client_id AND avatars.user_id = EXCLUDED.user_id
         RETURNING id",
        avatar.id,
        avatar.client_id,
        avatar.user_id,
        fence.job,
        avatar.height_cm,
        avatar.sex,
        avatar.unit
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(owned.is_some())
}

/// The avatar ready, its measurements and photos replaced, and the job
/// completed with `result`: one transaction, under the fence.
pub async fn finish(
    pool: &PgPool,
    fence: Fence<'_>,
    id: Uuid,
    ready: &ReadyAvatar,
    result: &serde_json::Value,
) -> Result<(), DbError> {
    let mut tx = Fence::hold(pool, fence).await?;
    sqlx::query!(
        "UPDATE avatars SET status = 'ready', confidence = $2, body = $3, models = $4,
                error_code = NULL, updated_at = now()
         WHERE id = $1",
        id,
        ready.confidence,
        ready.body,
        ready.models
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("DELETE FROM avatar_measurements WHERE avatar_id = $1", id)
        .execute(&mut *tx)
        .await?;
    for m in &ready.measurements {
        sqlx::query!(
            "INSERT INTO avatar_measurements (avatar_id, name, value_cm, uncertainty_cm)
             VALUES ($1, $2, $3, $4)",
            id,
            m.name,
            m.value_cm,
            m.uncertainty_cm
        )
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query!("DELETE FROM avatar_photos WHERE avatar_id = $1", id)
        .execute(&mut *tx)
        .await?;
    for p in &ready.photos {
        sqlx::query!(
            "INSERT INTO avatar_photos (avatar_id, view, upload_id, sha256, width, height)
             VALUES ($1, $2, $3, $4, $5, $6)",
            id,
            p.view,
            p.upload_id,
            p.sha256,
            p.width,
            p.height
        )
        .execute(&mut *tx)
        .await?;
    }
    crate::jobs::complete_in(&mut tx, fence, result, None).await?;
    tx.commit().await?;
    Ok(())
}

/// The avatar could not be built from its photos: `error`, with the code.
pub async fn fail(
    pool: &PgPool,
    fence: Fence<'_>,
    id: Uuid,
    code: atelier_jobs::ErrorCode,
) -> Result<(), DbError> {
    let mut tx = Fence::hold(pool, fence).await?;
    sqlx::query!(
        "UPDATE avatars SET status = 'error', error_code = $2, updated_at = now() WHERE id = $1",
        id,
        code.as_str()
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
