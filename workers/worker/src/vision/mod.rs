//! The vision handlers (one file per kind) and what they share: the loaded
//! models (`models.rs`), single-image model runs, the pose pass that finds
//! (and masks) the person, result keys and the result cache.

use atelier_inference::{InferenceError, Model, ModelManifest};
use atelier_jobs::{ErrorCode, JobKind};
use atelier_media::RgbPhoto;
use atelier_runtime::{JobContext, JobFailure};
use atelier_vision::person::BoxF;
use atelier_vision::{Letterbox, PoseOutput, Rect, decode_pose, letterbox_tensor};

pub(crate) const POSE_SIZE: u32 = 256;

/// The handler of one vision kind: a struct holding the shared models whose
/// `Handler::run` is the file's `run(ctx, models)`.
macro_rules! vision_handler {
    ($name:ident, $kind:ident) => {
        pub struct $name(pub std::sync::Arc<super::models::VisionModels>);

        #[async_trait::async_trait]
        impl atelier_runtime::Handler for $name {
            fn kind(&self) -> atelier_jobs::JobKind {
                atelier_jobs::JobKind::$kind
            }

            async fn run(
                &self,
                ctx: &atelier_runtime::JobContext<'_>,
            ) -> Result<serde_json::Value, atelier_runtime::JobFailure> {
                run(ctx, &self.0).await
            }
        }
    };
}

pub mod embed;
pub(crate) mod faces;
pub mod models;
pub(crate) mod people;
pub mod pose;
pub mod segment;
pub mod skin_tone;
pub mod tag;

/// The name and version a result names its model by.
pub(crate) fn model_ref(m: &ModelManifest) -> atelier_jobs::ModelRef {
    atelier_jobs::ModelRef {
        name: m.name.clone(),
        version: m.version.clone(),
    }
}

/// A typed result as the row and the completion event carry it.
pub(crate) fn to_json<T: serde::Serialize>(result: &T) -> serde_json::Value {
    serde_json::to_value(result).expect("results serialise")
}

pub(crate) fn model_failure(e: InferenceError) -> JobFailure {
    JobFailure::retry(ErrorCode::Internal, e.to_string())
}

/// A model's outputs of one run, flattened, taken by name.
pub(crate) struct ModelOutputs {
    model: String,
    values: std::collections::HashMap<String, Vec<f32>>,
}

impl ModelOutputs {
    pub(crate) fn take(&mut self, name: &str) -> Result<Vec<f32>, JobFailure> {
        self.values.remove(name).ok_or_else(|| {
            JobFailure::retry(
                ErrorCode::Internal,
                format!("model {} gave no {name}", self.model),
            )
        })
    }
}

/// One square image tensor (`[1, 3, size, size]`) through `model`.
pub(crate) fn run_image(
    model: &Model,
    input: &str,
    size: u32,
    tensor: &[f32],
) -> Result<ModelOutputs, JobFailure> {
    let s = size as usize;
    let view =
        ndarray::ArrayViewD::from_shape(vec![1, 3, s, s], tensor).expect("tensor has its shape");
    let out = model.run_f32(input, view).map_err(model_failure)?;
    Ok(ModelOutputs {
        model: model.manifest.name.clone(),
        values: out
            .into_iter()
            .map(|(name, array)| (name, array.into_raw_vec_and_offset().0))
            .collect(),
    })
}

/// One pass of the pose model, decoded, with the raw mask logits kept for
/// segmentation.
pub(crate) struct PosePass {
    pub output: PoseOutput,
    pub mask: Vec<f32>,
    pub letterbox: Letterbox,
}

pub(crate) fn pose_pass(
    model: &Model,
    photo: &RgbPhoto,
    region: Option<Rect>,
) -> Result<PosePass, JobFailure> {
    let (tensor, letterbox) = letterbox_tensor(
        &photo.data,
        photo.width,
        photo.height,
        region,
        POSE_SIZE,
        (1.0, 0.0),
    );
    let mut out = run_image(model, "input_1", POSE_SIZE, &tensor)?;
    let landmarks = out.take("Identity")?;
    let presence = out.take("Identity_1")?.first().copied().unwrap_or(0.0);
    let mask = out.take("Identity_2")?;
    let output = decode_pose(&landmarks, presence, &mask, &letterbox);
    Ok(PosePass {
        output,
        mask,
        letterbox,
    })
}

/// A box in photo pixels as results carry it.
pub(crate) fn pixel_box(b: &BoxF) -> atelier_jobs::PixelBox {
    let (x0, y0) = (b.x0.max(0.0).round(), b.y0.max(0.0).round());
    atelier_jobs::PixelBox {
        x: x0 as u32,
        y: y0 as u32,
        width: (b.x1.round() - x0).max(0.0) as u32,
        height: (b.y1.round() - y0).max(0.0) as u32,
    }
}

/// Where a person is and how sure each detector was, as results carry it.
pub(crate) fn found_person(p: &people::Person, primary: bool) -> atelier_jobs::FoundPerson {
    atelier_jobs::FoundPerson {
        bounds: pixel_box(&p.bbox),
        score: p.score,
        detector_score: p.detection.map(|d| d.score),
        primary,
    }
}

/// The detectors every person-finding job names (the people rule's).
pub(crate) fn detector_refs(models: &models::VisionModels) -> Vec<atelier_jobs::ModelRef> {
    vec![
        model_ref(&models.person_boxes.manifest),
        model_ref(&models.pose_detect.manifest),
        model_ref(&models.face_detect_full.manifest),
    ]
}

/// Results are keyed by what went in and what computed it: the job kind, the
/// input's SHA-256 and every model's name and version.
pub(crate) fn cache_key(kind: JobKind, input_sha256: &str, models: &[&ModelManifest]) -> String {
    let models: Vec<String> = models
        .iter()
        .map(|m| format!("{}@{}", m.name, m.version))
        .collect();
    format!(
        "{kind}:{input_sha256}:{}:rule-{}",
        models.join("+"),
        people::RULE_VERSION
    )
}

/// Answer from a stored result of the same client and user under `key`,
/// without running any model: the job completes with that result, marked
/// with the job that computed it.
pub(crate) async fn answer_from_cache(
    ctx: &JobContext<'_>,
    key: &str,
) -> Result<Option<serde_json::Value>, JobFailure> {
    let job = ctx.job();
    let Some((source, mut result)) =
        atelier_db::jobs::cached_result(ctx.pool(), &job.client_id, &job.user_id, key).await?
    else {
        return Ok(None);
    };
    // A cached answer names the job that computed it, never a chain.
    let origin = result
        .pointer("/cache/job_id")
        .cloned()
        .unwrap_or_else(|| serde_json::json!(source));
    result["cache"] = serde_json::json!({"hit": true, "job_id": origin});
    atelier_db::jobs::complete_keyed(ctx.pool(), ctx.fence(), &result, key).await?;
    tracing::info!(%source, "answered from the result cache");
    Ok(Some(result))
}

/// A photo's person as the user's earlier `vision.segment` and
/// `vision.pose` jobs found them (both answered by the same models, from
/// the result cache): the stored mask and the primary person's keypoints.
pub(crate) struct CachedPerson {
    pub persons: usize,
    pub mask_key: String,
    pub width: u32,
    pub height: u32,
    /// Name, x, y, visibility (photo pixels).
    pub keypoints: Vec<(String, f32, f32, f32)>,
}

/// The cached person of the photo whose SHA-256 is `sha256`, when both a
/// segment and a pose result of the current models are stored for this
/// client and user.
pub(crate) async fn cached_person(
    ctx: &JobContext<'_>,
    models: &models::VisionModels,
    sha256: &str,
) -> Result<Option<CachedPerson>, JobFailure> {
    let job = ctx.job();
    let lookup = |kind: JobKind, used: Vec<&ModelManifest>| {
        let key = cache_key(kind, sha256, &used);
        async move {
            atelier_db::jobs::cached_result(ctx.pool(), &job.client_id, &job.user_id, &key).await
        }
    };
    let Some((_, segment)) =
        lookup(JobKind::VisionSegment, segment::segment_models(models)).await?
    else {
        return Ok(None);
    };
    let Some((_, pose)) = lookup(JobKind::VisionPose, people::rule_models(models)).await? else {
        return Ok(None);
    };
    let (Ok(segment), Ok(pose)) = (
        serde_json::from_value::<atelier_jobs::SegmentResult>(segment),
        serde_json::from_value::<atelier_jobs::PoseResult>(pose),
    ) else {
        // A result of an older shape: run the models instead.
        return Ok(None);
    };
    Ok(Some(CachedPerson {
        persons: segment.person_count.max(pose.person_count),
        mask_key: segment.mask.key,
        width: segment.image.width,
        height: segment.image.height,
        keypoints: pose
            .keypoints
            .into_iter()
            .map(|k| (k.name, k.x, k.y, k.visibility))
            .collect(),
    }))
}

/// How a photo job starts: answered from a stored result, or with the
/// photo's bytes and the key its result will be stored under.
pub(crate) enum PhotoJob {
    Answered(serde_json::Value),
    Run {
        bytes: bytes::Bytes,
        key: String,
        sha256: String,
    },
}

/// The shared start of every photo-based vision job: the job's own upload,
/// its result key (kind + photo hash + the `used` models), the cache, then
/// the photo's bytes.
pub(crate) async fn start_photo_job(
    ctx: &JobContext<'_>,
    kind: JobKind,
    upload_id: uuid::Uuid,
    used: &[&ModelManifest],
) -> Result<PhotoJob, JobFailure> {
    let upload = ctx.owned_upload_row(upload_id).await?;
    let key = cache_key(kind, &upload.sha256, used);
    if let Some(result) = answer_from_cache(ctx, &key).await? {
        return Ok(PhotoJob::Answered(result));
    }
    let bytes = ctx.storage().get(&upload.storage_key).await?;
    ctx.report(10, "fetched").await?;
    Ok(PhotoJob::Run {
        bytes,
        key,
        sha256: upload.sha256,
    })
}
