//! `vision.pose`: BlazePose-33 keypoints in the photo's pixels. Two passes:
//! the whole photo letterboxed, then a square crop around the first pass's
//! confident points. A photo without a person ends `vision.no_person`.
use std::sync::Arc;

use atelier_db::JobRow;
use atelier_inference::Model;
use atelier_jobs::{ErrorCode, VisionInput};
use atelier_vision::{PoseOutput, Rect, crop_around, decode_pose, letterbox_tensor};
use serde_json::json;

use crate::failure::JobFailure;
use crate::run::{Progress, WorkerContext};

const SIZE: u32 = 256;

fn pass(
    model: &Model,
    photo: &atelier_media::RgbPhoto,
    region: Option<Rect>,
) -> Result<PoseOutput, JobFailure> {
    let (tensor, letterbox) = letterbox_tensor(
        &photo.data,
        photo.width,
        photo.height,
        region,
        SIZE,
        (1.0, 0.0),
    );
    let view = ndarray::ArrayViewD::from_shape(vec![1, 3, SIZE as usize, SIZE as usize], &tensor)
        .expect("tensor has its shape");
    let out = model
        .run_f32("input_1", view)
        .map_err(|e| JobFailure::retry(ErrorCode::Internal, e.to_string()))?;
    let get = |name: &str| {
        out.get(name).ok_or_else(|| {
            JobFailure::retry(ErrorCode::Internal, format!("pose model gave no {name}"))
        })
    };
    let landmarks = get("Identity")?;
    let presence = get("Identity_1")?.iter().copied().next().unwrap_or(0.0);
    let mask = get("Identity_2")?;
    Ok(decode_pose(
        landmarks.as_slice().unwrap_or(&[]),
        presence,
        mask.as_slice().unwrap_or(&[]),
        &letterbox,
    ))
}

pub(crate) async fn run(
    ctx: &WorkerContext,
    job: &JobRow,
    progress: &Progress<'_>,
) -> Result<serde_json::Value, JobFailure> {
    let models = ctx.models.clone().ok_or_else(|| {
        JobFailure::retry(
            ErrorCode::Internal,
            "this worker has no vision models loaded",
        )
    })?;
    let input: VisionInput = crate::run::input(job)?;
    let (_, bytes) = crate::run::owned_upload(ctx, job, input.upload_id).await?;
    progress.report(10, "fetched").await?;

    let options = crate::photo_ingest::options(ctx);
    let pose_model = Arc::clone(&models);
    let (outcome, cpu) = tokio::task::spawn_blocking(move || {
        let cpu = cpu_time::ThreadTime::now();
        let outcome = (|| {
            let photo = atelier_media::decode_rgb(&bytes, &options)?;
            let first = pass(&pose_model.pose, &photo, None)?;
            if !first.has_person() {
                return Ok((photo, first, None));
            }
            let second = match crop_around(&first.keypoints) {
                Some(region) => Some(pass(&pose_model.pose, &photo, Some(region))?),
                None => None,
            };
            Ok::<_, JobFailure>((photo, first, second))
        })();
        (outcome, cpu.elapsed())
    })
    .await
    .map_err(|e| JobFailure::retry(ErrorCode::Internal, format!("pose task: {e}")))?;
    progress.cost.add_cpu(cpu);
    let (photo, first, second) = outcome?;
    if !first.has_person() {
        return Err(JobFailure::abort(
            ErrorCode::VisionNoPerson,
            format!(
                "no person found (presence {:.2}, person mask covers {:.0}% of the photo)",
                first.presence,
                first.mask_coverage * 100.0
            ),
        ));
    }
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
    });
    atelier_db::jobs::complete(&ctx.pool, job.id, &result).await?;
    Ok(result)
}
