//! `vision.embed`: an image's 1280-d EfficientNet-Lite0 embedding (global
//! average pool, L2-normalised) or a text's 384-d MiniLM embedding, stored in
//! PostgreSQL with the model version for `POST /v1/search/similar`.
use atelier_db::embeddings::NewEmbedding;
use atelier_inference::normalise;
use atelier_jobs::{CacheInfo, EmbedInput, EmbedResult, ErrorCode, JobKind};
use atelier_vision::letterbox_tensor;
use sha2::{Digest, Sha256};

use atelier_runtime::{JobContext, JobFailure};
use std::sync::Arc;

use super::models::VisionModels;
use super::{
    PhotoJob, answer_from_cache, cache_key, model_failure, model_ref, start_photo_job, to_json,
};

const IMAGE_SIZE: u32 = 224;

vision_handler!(Embed, VisionEmbed);

async fn run(
    ctx: &JobContext<'_>,
    models: &Arc<VisionModels>,
) -> Result<serde_json::Value, JobFailure> {
    let job = ctx.job();
    let input: EmbedInput = ctx.input()?;
    let m = models.clone();
    let (modality, sha256, key, manifest, vector) = match (input.upload_id, input.text) {
        (Some(upload_id), _) => {
            let (bytes, key, sha256) = match start_photo_job(
                ctx,
                JobKind::VisionEmbed,
                upload_id,
                &[&models.classifier.manifest],
            )
            .await?
            {
                PhotoJob::Answered(result) => return Ok(result),
                PhotoJob::Run { bytes, key, sha256 } => (bytes, key, sha256),
            };
            let options = crate::photo::ingest::options(ctx.config());
            let vector = ctx
                .blocking(move || {
                    let photo = atelier_media::decode_rgb(&bytes, &options)?;
                    let (tensor, _) = letterbox_tensor(
                        &photo.data,
                        photo.width,
                        photo.height,
                        None,
                        IMAGE_SIZE,
                        (2.0, -1.0),
                    );
                    let mut out = m.classifier.run(tensor).map_err(model_failure)?;
                    let embedding = out.remove("embedding").ok_or_else(|| {
                        JobFailure::retry(ErrorCode::Internal, "classifier gave no embedding")
                    })?;
                    Ok(normalise(embedding))
                })
                .await?;
            let manifest = models.classifier.manifest.clone();
            ("image", sha256, key, manifest, vector)
        }
        (None, Some(text)) => {
            let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
            let key = cache_key(
                JobKind::VisionEmbed,
                &sha256,
                &[&models.text.model.manifest],
            );
            if let Some(result) = answer_from_cache(ctx, &key).await? {
                return Ok(result);
            }
            let mut vectors = ctx
                .blocking(move || m.text.embed(&[&text]).map_err(model_failure))
                .await?;
            let manifest = models.text.model.manifest.clone();
            ("text", sha256, key, manifest, vectors.remove(0))
        }
        (None, None) => {
            return Err(JobFailure::abort(
                ErrorCode::RequestInvalid,
                "input: exactly one of upload_id and text is required",
            ));
        }
    };
    ctx.report(80, "embedded").await?;
    let result = to_json(&EmbedResult {
        modality: modality.into(),
        dim: vector.len(),
        vector: vector.clone(),
        input_sha256: sha256.clone(),
        model: model_ref(&manifest),
        cache: CacheInfo::default(),
    });
    atelier_db::embeddings::complete_with_embedding(
        ctx.pool(),
        ctx.fence().token,
        &result,
        &key,
        &NewEmbedding {
            job_id: job.id,
            client_id: &job.client_id,
            user_id: &job.user_id,
            modality,
            model: &manifest.name,
            model_version: &manifest.version,
            input_sha256: &sha256,
            vector: &vector,
        },
    )
    .await?;
    Ok(result)
}
