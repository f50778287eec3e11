//! `vision.pose`: BlazePose-33 keypoints in the photo's pixels. Two passes:
//! the whole photo letterboxed, then a square crop around the first pass's
//! confident points. A photo without a person ends `vision.no_person`.
use atelier_db::JobRow;
use atelier_jobs::{JobKind, VisionInput};
use atelier_vision::crop_around;
use serde_json::json;

use crate::failure::JobFailure;
use crate::run::{Progress, WorkerContext};
use crate::vision::{PhotoJob, blocking, models, no_person, pose_pass, start_photo_job};

pub(crate) async fn run(
    ctx: &WorkerContext,
    job: &JobRow,
    progress: &Progress<'_>,
) -> Result<serde_json::Value, JobFailure> {
    let models = models(ctx)?;
    let input: VisionInput = crate::run::input(job)?;
    let (bytes, key) = match start_photo_job(
        ctx,
        job,
        progress,
        JobKind::VisionPose,
        input.upload_id,
        &[&models.pose.manifest],
    )
    .await?
    {
        PhotoJob::Answered(result) => return Ok(result),
        PhotoJob::Run { bytes, key, .. } => (bytes, key),
    };

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
