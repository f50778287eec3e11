//! `vision.segment`: the person cut out. The pose model's mask is brought to
//! the photo's resolution (bilinear on the logits: smooth edges), stored as a
//! grey mask PNG and an RGBA cut-out PNG, with coverage and bounding box.
//! A photo without a person ends `vision.no_person`.
use atelier_db::JobRow;
use atelier_jobs::{JobKind, StoredObject, VisionInput};
use atelier_storage::content_type;
use atelier_vision::upsample_mask;
use bytes::Bytes;
use serde_json::json;

use crate::failure::JobFailure;
use crate::run::{Progress, WorkerContext};
use crate::vision::{answer_from_cache, blocking, cache_key, models, no_person, pose_pass};

pub(crate) async fn run(
    ctx: &WorkerContext,
    job: &JobRow,
    progress: &Progress<'_>,
) -> Result<serde_json::Value, JobFailure> {
    let models = models(ctx)?;
    let input: VisionInput = crate::run::input(job)?;
    let upload = crate::run::owned_upload_row(ctx, job, input.upload_id).await?;
    let key = cache_key(
        JobKind::VisionSegment,
        &upload.sha256,
        &[&models.pose.manifest],
    );
    if let Some(result) = answer_from_cache(ctx, job, &key).await? {
        return Ok(result);
    }
    let bytes = ctx.storage.get(&upload.storage_key).await?;
    progress.report(10, "fetched").await?;

    let options = crate::photo_ingest::options(ctx);
    let pose_models = models.clone();
    let (width, height, mask_png, cutout_png, coverage, bbox) = blocking(progress, move || {
        let photo = atelier_media::decode_rgb(&bytes, &options)?;
        let pass = pose_pass(&pose_models.pose, &photo, None)?;
        if !pass.output.has_person() {
            return Err(no_person(&pass.output));
        }
        let mask = upsample_mask(&pass.mask, &pass.letterbox, photo.width, photo.height);
        let (w, h) = (photo.width, photo.height);
        let mask_png = atelier_media::encode_png(w, h, &mask.alpha, 1);
        let cutout_png = atelier_media::encode_png(w, h, &mask.cut_out(&photo.data), 4);
        Ok((
            w,
            h,
            mask_png,
            cutout_png,
            mask.coverage(),
            mask.bounding_box(),
        ))
    })
    .await?;
    progress.report(70, "segmented").await?;

    let manifest = &models.pose.manifest;
    // Keyed by input and model version: a re-run writes the same objects.
    let prefix = format!(
        "vision/segment/{}/{}/{}-{}",
        job.user_id, input.upload_id, manifest.name, manifest.version
    );
    let mut stored = Vec::with_capacity(2);
    for (name, png) in [("mask", mask_png), ("cutout", cutout_png)] {
        let key = format!("{prefix}/{name}.png");
        let size = png.len() as u64;
        ctx.storage
            .put(&key, Bytes::from(png), content_type("png"))
            .await?;
        progress.cost.add_bytes(size);
        stored.push(StoredObject {
            key,
            format: "png".into(),
            width,
            height,
            bytes: size,
        });
    }
    progress.report(90, "stored").await?;
    let result = json!({
        "person_present": true,
        "mask": stored[0],
        "cutout": stored[1],
        "coverage": coverage,
        "bbox": bbox,
        "image": {"width": width, "height": height},
        "model": {"name": manifest.name, "version": manifest.version},
        "cache": {"hit": false},
    });
    atelier_db::jobs::complete_keyed(&ctx.pool, job.id, &result, &key).await?;
    Ok(result)
}
