//! `vision.pose`: BlazePose-33 keypoints in the photo's pixels. Two passes:
//! the whole photo letterboxed, then a square crop around the first pass's
//! confident points. A photo without a person ends `vision.no_person`.
use atelier_db::JobRow;
use atelier_jobs::{JobKind, VisionInput};
use atelier_vision::crop_around;
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
        JobKind::VisionPose,
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
    let (photo, first, second) = blocking(progress, move || {
        let photo = atelier_media::decode_rgb(&bytes, &options)?;
        let first = pose_pass(&pose_models.pose, &photo, None)?.output;
        if !first.has_person() {
            return Err(no_person(&first));
        }
        let second = match crop_around(&first.keypoints) {
            Some(region) => Some(pose_pass(&pose_models.pose, &photo, Some(region))?.output),
            None => None,
        };
        Ok((photo, first, second))
    })
    .await?;
    progress.report(80, "inferred").await?;
    // The closer pass refines the points when it still sees a person.
    let best = second
        .filter(|s| s.presence >= first.presence * 0.9)
        .unwrap_or(first.clone());
    let manifest = &models.pose.manifest;
    let result = json!({
        "person_present": true,
        "score": best.presence,
        "mask_coverage": first.mask_coverage,
        "passes": if best == first { 1 } else { 2 },
        "image": {"width": photo.width, "height": photo.height},
        "keypoints": best.keypoints,
        "model": {"name": manifest.name, "version": manifest.version},
        "cache": {"hit": false},
    });
    atelier_db::jobs::complete_keyed(&ctx.pool, job.id, &result, &key).await?;
    Ok(result)
}
