//! `photo.ingest`: keep the original, write variants and a thumbnail, record
//! the photo. Keys derive from the job, so a re-run overwrites, never adds.
use atelier_db::{JobRow, PhotoRow};
use atelier_jobs::{ErrorCode, EventType, PhotoIngestInput, PhotoIngestResult, StoredObject};
use atelier_media::{IngestOptions, Rendition};
use atelier_storage::content_type;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::failure::JobFailure;
use crate::run::{Progress, WorkerContext};

pub(crate) fn options(ctx: &WorkerContext) -> IngestOptions {
    let m = &ctx.config.media;
    IngestOptions {
        max_bytes: ctx.config.intake.max_upload_bytes,
        max_pixels: m.max_pixels,
        max_dimension: m.max_dimension,
        widths: m.variant_widths.clone(),
        thumbnail_size: m.thumbnail_size,
        jpeg_quality: m.jpeg_quality,
        webp_quality: m.webp_quality,
    }
}

pub(crate) async fn run(
    ctx: &WorkerContext,
    job: &JobRow,
    progress: &Progress<'_>,
) -> Result<serde_json::Value, JobFailure> {
    let input: PhotoIngestInput = crate::run::input(job)?;
    let (upload, original) = crate::run::owned_upload(ctx, job, input.upload_id).await?;
    progress.report(10, "fetched").await?;

    let options = options(ctx);
    let bytes = original.clone();
    let (photo, cpu) = tokio::task::spawn_blocking(move || {
        let cpu = cpu_time::ThreadTime::now();
        let photo = atelier_media::ingest(&bytes, &options);
        (photo, cpu.elapsed())
    })
    .await
    .map_err(|e| JobFailure::retry(ErrorCode::Internal, format!("ingest task: {e}")))?;
    progress.cost.add_cpu(cpu);
    let photo = photo?;
    progress.report(60, "rendered").await?;

    let photo_id = job.id;
    let avatar_id = input
        .avatar_id
        .unwrap_or_else(|| Uuid::new_v5(&Uuid::NAMESPACE_OID, job.id.as_bytes()));
    let user = &job.user_id;
    let original_key = format!(
        "avatars/photos/original/{user}/{avatar_id}/{photo_id}.{}",
        photo.format.extension()
    );
    let processed = format!("avatars/photos/processed/{user}/{avatar_id}/{photo_id}");

    ctx.storage
        .put(
            &original_key,
            original.clone(),
            content_type(photo.format.name()),
        )
        .await?;
    progress.cost.add_bytes(original.len() as u64);
    let mut variants = Vec::with_capacity(photo.variants.len());
    for r in &photo.variants {
        let ext = if r.format == "jpeg" { "jpg" } else { r.format };
        let key = format!("{processed}/w{}.{ext}", r.width);
        variants.push(store(ctx, progress, key, r).await?);
    }
    let thumbnail = store(
        ctx,
        progress,
        format!("{processed}/thumb.jpg"),
        &photo.thumbnail,
    )
    .await?;
    progress.report(90, "stored").await?;

    let result = PhotoIngestResult {
        photo_id,
        avatar_id,
        sha256: hex::encode(Sha256::digest(&original)),
        original: StoredObject {
            key: original_key.clone(),
            format: photo.format.name().to_owned(),
            width: photo.width,
            height: photo.height,
            bytes: original.len() as u64,
        },
        variants,
        thumbnail,
        exif: photo.exif,
    };
    let result_json = serde_json::to_value(&result).expect("results serialise");
    let row = PhotoRow {
        id: photo_id,
        user_id: user.clone(),
        avatar_id,
        upload_id: upload.id,
        sha256: result.sha256.clone(),
        format: result.original.format.clone(),
        width: photo.width as i32,
        height: photo.height as i32,
        original_key,
        variants: serde_json::to_value(&result.variants).expect("variants serialise"),
        exif: serde_json::to_value(&result.exif).expect("exif serialises"),
    };
    atelier_db::jobs::complete_photo(&ctx.pool, job.id, &result_json, &row).await?;
    progress
        .announce(
            EventType::PhotoIngested,
            serde_json::json!({"photo_id": photo_id, "avatar_id": avatar_id,
                               "thumbnail_key": result.thumbnail.key}),
        )
        .await;
    Ok(result_json)
}

async fn store(
    ctx: &WorkerContext,
    progress: &Progress<'_>,
    key: String,
    r: &Rendition,
) -> Result<StoredObject, JobFailure> {
    ctx.storage
        .put(&key, Bytes::from(r.bytes.clone()), content_type(r.format))
        .await?;
    progress.cost.add_bytes(r.bytes.len() as u64);
    Ok(StoredObject {
        key,
        format: r.format.to_owned(),
        width: r.width,
        height: r.height,
        bytes: r.bytes.len() as u64,
    })
}
