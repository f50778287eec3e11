//! `vision.segment`: the person cut out. The pose model decides whether a
//! person is there (`vision.no_person` otherwise) and, by default, gives the
//! mask, brought to the photo's resolution with smooth edges; with
//! `models.segmentation = "isnet"` the operator-installed ISNet model gives a
//! finer mask instead. Stored as a grey mask PNG and an RGBA cut-out PNG,
//! with coverage and bounding box.
use atelier_db::JobRow;
use atelier_jobs::{JobKind, StoredObject, VisionInput};
use atelier_storage::content_type;
use atelier_vision::{mask_from_probabilities, stretch_tensor, upsample_mask};
use bytes::Bytes;
use serde_json::json;

use crate::failure::JobFailure;
use crate::models::ISNET_SIZE;
use crate::run::{Progress, WorkerContext};
use crate::vision::{PhotoJob, blocking, models, no_person, pose_pass, run_image, start_photo_job};

pub(crate) async fn run(
    ctx: &WorkerContext,
    job: &JobRow,
    progress: &Progress<'_>,
) -> Result<serde_json::Value, JobFailure> {
    let models = models(ctx)?;
    let input: VisionInput = crate::run::input(job)?;
    // The mask's model is part of the key: switching to ISNet recomputes.
    let mut used = vec![&models.pose.manifest];
    used.extend(models.isnet.as_ref().map(|m| &m.manifest));
    let (bytes, key) = match start_photo_job(
        ctx,
        job,
        progress,
        JobKind::VisionSegment,
        input.upload_id,
        &used,
    )
    .await?
    {
        PhotoJob::Answered(result) => return Ok(result),
        PhotoJob::Run { bytes, key, .. } => (bytes, key),
    };

    let options = crate::photo_ingest::options(ctx);
    let pose_models = models.clone();
    let (width, height, mask_png, cutout_png, coverage, bbox) = blocking(progress, move || {
        let photo = atelier_media::decode_rgb(&bytes, &options)?;
        let pass = pose_pass(&pose_models.pose, &photo, None)?;
        if !pass.output.has_person() {
            return Err(no_person(&pass.output));
        }
        let mask = match &pose_models.isnet {
            Some(isnet) => {
                let tensor = stretch_tensor(&photo.data, photo.width, photo.height, ISNET_SIZE);
                let probs = run_image(isnet, "input", ISNET_SIZE, &tensor)?.take("output")?;
                mask_from_probabilities(&probs, ISNET_SIZE, photo.width, photo.height)
            }
            None => upsample_mask(&pass.mask, &pass.letterbox, photo.width, photo.height),
        };
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

    // The model that drew the mask names the objects and the result.
    let manifest = models
        .isnet
        .as_ref()
        .map_or(&models.pose.manifest, |m| &m.manifest);
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
        "person_check": {"name": models.pose.manifest.name, "version": models.pose.manifest.version},
        "cache": {"hit": false},
    });
    atelier_db::jobs::complete_keyed(&ctx.pool, job.id, &result, &key).await?;
    Ok(result)
}
