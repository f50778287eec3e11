//! `vision.segment`: the people cut out. The detectors decide whether
//! anyone is there (`vision.no_person` otherwise; `people.rs`); by default
//! the landmark model's mask of each person, from the crop around that
//! person, is brought to the photo's resolution and its edges refined along
//! the photo's own edges (a guided filter); with `models.segmentation =
//! "isnet"` the operator-installed ISNet model gives the mask instead.
//! Stored as a grey mask PNG and an RGBA cut-out PNG, with coverage,
//! bounding box and the people found.
use atelier_jobs::{
    CacheInfo, ImageSize, JobKind, PixelBox, SegmentResult, StoredObject, VisionInput,
};
use atelier_storage::content_type;
use atelier_vision::{mask_from_probabilities, refine_mask, stretch_tensor};
use bytes::Bytes;

use super::models::ISNET_SIZE;
use atelier_runtime::{JobContext, JobFailure};
use std::sync::Arc;

use super::models::VisionModels;
use super::people::find_people;
use super::{PhotoJob, found_person, model_ref, run_image, start_photo_job, to_json};

vision_handler!(Segment, VisionSegment);

/// The models a `vision.segment` result depends on (its cache key).
pub(crate) fn segment_models(models: &VisionModels) -> Vec<&atelier_inference::ModelManifest> {
    let mut used = super::people::rule_models(models);
    used.extend(models.isnet.as_ref().map(|m| &m.manifest));
    used
}

async fn run(
    ctx: &JobContext<'_>,
    models: &Arc<VisionModels>,
) -> Result<serde_json::Value, JobFailure> {
    let job = ctx.job();
    let input: VisionInput = ctx.input()?;
    // The mask's model is part of the key: switching to ISNet recomputes.
    let used = segment_models(models);
    let (bytes, key) =
        match start_photo_job(ctx, JobKind::VisionSegment, input.upload_id, &used).await? {
            PhotoJob::Answered(result) => return Ok(result),
            PhotoJob::Run { bytes, key, .. } => (bytes, key),
        };

    let options = crate::photo::ingest::options(ctx.config());
    let pose_models = models.clone();
    let (width, height, mask_png, cutout_png, coverage, bbox, persons) = ctx
        .blocking(move || {
            let photo = atelier_media::decode_rgb(&bytes, &options)?;
            let people = find_people(&pose_models, &photo)?;
            if people.persons.is_empty() {
                return Err(people.none_found());
            }
            let persons: Vec<_> = people
                .persons
                .iter()
                .enumerate()
                .map(|(i, p)| found_person(p, i == 0))
                .collect();
            let mask = match &pose_models.isnet {
                Some(isnet) => {
                    let tensor = stretch_tensor(&photo.data, photo.width, photo.height, ISNET_SIZE);
                    let probs = run_image(isnet, "input", ISNET_SIZE, &tensor)?.take("output")?;
                    mask_from_probabilities(&probs, ISNET_SIZE, photo.width, photo.height)
                }
                None => {
                    let coarse = people.mask(&photo);
                    let alpha = refine_mask(&photo.data, photo.width, photo.height, &coarse.alpha);
                    atelier_vision::PersonMask { alpha, ..coarse }
                }
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
                persons,
            ))
        })
        .await?;
    ctx.report(70, "segmented").await?;

    // The model that drew the mask names the objects and the result.
    let manifest = models
        .isnet
        .as_ref()
        .map_or(&models.pose.manifest, |m| &m.manifest);
    let edges = if models.isnet.is_some() {
        "isnet"
    } else {
        "guided_filter"
    };
    // Keyed by input, model version and edge method: a re-run writes the
    // same objects, another method others.
    let prefix = format!(
        "vision/segment/{}/{}/{}-{}-{edges}",
        job.user_id, input.upload_id, manifest.name, manifest.version
    );
    let mut stored = Vec::with_capacity(2);
    for (name, png) in [("mask", mask_png), ("cutout", cutout_png)] {
        let key = format!("{prefix}/{name}.png");
        let size = ctx.put(&key, Bytes::from(png), content_type("png")).await?;
        stored.push(StoredObject {
            key,
            format: "png".into(),
            width,
            height,
            bytes: size,
            url: None,
        });
    }
    ctx.report(90, "stored").await?;
    let result = to_json(&SegmentResult {
        person_present: true,
        cutout: stored.pop().expect("two objects stored"),
        mask: stored.pop().expect("two objects stored"),
        coverage,
        bbox: bbox.map(|b| PixelBox {
            x: b.x,
            y: b.y,
            width: b.width,
            height: b.height,
        }),
        image: ImageSize { width, height },
        person_count: persons.len(),
        persons,
        edges: edges.into(),
        model: model_ref(manifest),
        person_check: model_ref(&models.person_boxes.manifest),
        cache: CacheInfo::default(),
    });
    atelier_db::jobs::complete_keyed(ctx.pool(), ctx.fence(), &result, &key).await?;
    Ok(result)
}
