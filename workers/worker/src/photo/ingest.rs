//! `photo.ingest`: keep the original, write variants and a thumbnail, record
//! the photo. Keys derive from the job, so a re-run overwrites, never adds.
use atelier_config::AppConfig;
use atelier_db::PhotoRow;
use atelier_jobs::{EventType, JobKind, PhotoIngestInput, PhotoIngestResult, StoredObject};
use atelier_media::{IngestOptions, Rendition};
use atelier_runtime::{Handler, JobContext, JobFailure};
use atelier_storage::content_type;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The decode bounds and renditions every photo job applies.
pub(crate) fn options(config: &AppConfig) -> IngestOptions {
    let m = &config.media;
    IngestOptions {
        max_bytes: config.intake.max_upload_bytes,
        max_pixels: m.max_pixels,
        max_dimension: m.max_dimension,
        widths: m.variant_widths.clone(),
        thumbnail_size: m.thumbnail_size,
        jpeg_quality: m.jpeg_quality,
        webp_quality: m.webp_quality,
    }
}

pub struct Ingest;

#[async_trait::async_trait]
impl Handler for Ingest {
    fn kind(&self) -> JobKind {
        JobKind::PhotoIngest
    }

    async fn run(&self, ctx: &JobContext<'_>) -> Result<serde_json::Value, JobFailure> {
        run(ctx).await
    }
}

async fn run(ctx: &JobContext<'_>) -> Result<serde_json::Value, JobFailure> {
    let job = ctx.job();
    let input: PhotoIngestInput = ctx.input()?;
    let (upload, original) = ctx.owned_upload(input.upload_id).await?;
    ctx.report(10, "fetched").await?;

    let options = options(ctx.config());
    let bytes = original.clone();
    let photo = ctx
        .blocking(move || Ok(atelier_media::ingest(&bytes, &options)?))
        .await?;
    ctx.report(60, "rendered").await?;

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

    ctx.put(
        &original_key,
        original.clone(),
        content_type(photo.format.name()),
    )
    .await?;
    let mut variants = Vec::with_capacity(photo.variants.len());
    for r in &photo.variants {
        let ext = if r.format == "jpeg" { "jpg" } else { r.format };
        let key = format!("{processed}/w{}.{ext}", r.width);
        variants.push(store(ctx, key, r).await?);
    }
    let thumbnail = store(ctx, format!("{processed}/thumb.jpg"), &photo.thumbnail).await?;
    ctx.report(90, "stored").await?;

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
            url: None,
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
    atelier_db::jobs::complete_photo(ctx.pool(), ctx.fence(), &result_json, &row).await?;
    ctx.announce(
        EventType::PhotoIngested,
        atelier_jobs::event_data(&atelier_jobs::PhotoIngestedData {
            photo_id,
            avatar_id,
            thumbnail_key: result.thumbnail.key.clone(),
        }),
    )
    .await;
    Ok(result_json)
}

async fn store(
    ctx: &JobContext<'_>,
    key: String,
    r: &Rendition,
) -> Result<StoredObject, JobFailure> {
    ctx.put(&key, Bytes::from(r.bytes.clone()), content_type(r.format))
        .await?;
    Ok(StoredObject {
        key,
        format: r.format.to_owned(),
        width: r.width,
        height: r.height,
        bytes: r.bytes.len() as u64,
        url: None,
    })
}
