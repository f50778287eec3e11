//! `vision.pose`: BlazePose-33 keypoints in the photo's pixels. Two passes:
//! the whole photo letterboxed, then a square crop around the first pass's
//! confident points. A photo without a person ends `vision.no_person`.
use atelier_jobs::{BodyKeypoint, CacheInfo, ImageSize, JobKind, PoseResult, VisionInput};
use atelier_vision::crop_around;

use atelier_runtime::{JobContext, JobFailure};
use std::sync::Arc;

use super::models::VisionModels;
use super::{PhotoJob, model_ref, no_person, pose_pass, start_photo_job, to_json};

vision_handler!(Pose, VisionPose);

async fn run(
    ctx: &JobContext<'_>,
    models: &Arc<VisionModels>,
) -> Result<serde_json::Value, JobFailure> {
    let input: VisionInput = ctx.input()?;
    let (bytes, key) = match start_photo_job(
        ctx,
        JobKind::VisionPose,
        input.upload_id,
        &[&models.pose.manifest],
    )
    .await?
    {
        PhotoJob::Answered(result) => return Ok(result),
        PhotoJob::Run { bytes, key, .. } => (bytes, key),
    };

    let options = crate::photo::ingest::options(ctx.config());
    let pose_models = models.clone();
    let (photo, first, second) = ctx
        .blocking(move || {
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
    ctx.report(80, "inferred").await?;
    // The closer pass refines the points when it still sees a person.
    let best = second
        .filter(|s| s.presence >= first.presence * 0.9)
        .unwrap_or(first.clone());
    let result = to_json(&PoseResult {
        person_present: true,
        score: best.presence,
        mask_coverage: first.mask_coverage,
        passes: if best == first { 1 } else { 2 },
        image: ImageSize {
            width: photo.width,
            height: photo.height,
        },
        keypoints: best
            .keypoints
            .into_iter()
            .map(|k| BodyKeypoint {
                name: k.name,
                x: k.x,
                y: k.y,
                z: k.z,
                visibility: k.visibility,
            })
            .collect(),
        model: model_ref(&models.pose.manifest),
        cache: CacheInfo::default(),
    });
    atelier_db::jobs::complete_keyed(ctx.pool(), ctx.fence(), &result, &key).await?;
    Ok(result)
}
