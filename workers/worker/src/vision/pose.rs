//! `vision.pose`: BlazePose-33 keypoints in the photo's pixels for every
//! person the detectors find (`people.rs`), each from the landmark model
//! on the crop the BlazePose detector places. The primary person fills the
//! single-person fields. A photo without a person ends `vision.no_person`.
use atelier_jobs::{
    BodyKeypoint, CacheInfo, ImageSize, JobKind, PersonPose, PoseResult, VisionInput,
};
use atelier_vision::Keypoint;

use atelier_runtime::{JobContext, JobFailure};
use std::sync::Arc;

use super::models::VisionModels;
use super::people::find_people;
use super::{PhotoJob, detector_refs, found_person, model_ref, start_photo_job, to_json};

vision_handler!(Pose, VisionPose);

fn body_keypoints(points: &[Keypoint]) -> Vec<BodyKeypoint> {
    points
        .iter()
        .map(|k| BodyKeypoint {
            name: k.name.clone(),
            x: k.x,
            y: k.y,
            z: k.z,
            visibility: k.visibility,
        })
        .collect()
}

async fn run(
    ctx: &JobContext<'_>,
    models: &Arc<VisionModels>,
) -> Result<serde_json::Value, JobFailure> {
    let input: VisionInput = ctx.input()?;
    let (bytes, key) = match start_photo_job(
        ctx,
        JobKind::VisionPose,
        input.upload_id,
        &super::people::rule_models(models),
    )
    .await?
    {
        PhotoJob::Answered(result) => return Ok(result),
        PhotoJob::Run { bytes, key, .. } => (bytes, key),
    };

    let options = crate::photo::ingest::options(ctx.config());
    let m = models.clone();
    let (image, people) = ctx
        .blocking(move || {
            let photo = atelier_media::decode_rgb(&bytes, &options)?;
            let people = find_people(&m, &photo)?;
            if people.persons.is_empty() {
                return Err(people.none_found());
            }
            let image = ImageSize {
                width: photo.width,
                height: photo.height,
            };
            Ok((image, people))
        })
        .await?;
    ctx.report(80, "inferred").await?;
    let primary = people.primary().expect("at least one person");
    let result = to_json(&PoseResult {
        person_present: true,
        person_count: people.persons.len(),
        score: primary.pass.output.presence,
        mask_coverage: primary.pass.output.mask_coverage,
        passes: 1,
        image,
        keypoints: body_keypoints(&primary.pass.output.keypoints),
        persons: people
            .persons
            .iter()
            .enumerate()
            .map(|(i, p)| PersonPose {
                person: found_person(p, i == 0),
                presence: p.pass.output.presence,
                keypoints: body_keypoints(&p.pass.output.keypoints),
            })
            .collect(),
        model: model_ref(&models.pose.manifest),
        detectors: detector_refs(models),
        cache: CacheInfo::default(),
    });
    atelier_db::jobs::complete_keyed(ctx.pool(), ctx.fence(), &result, &key).await?;
    Ok(result)
}
