//! `vision.tag`: garments and colours. The detectors look for people
//! first (`people.rs`); when someone is there, the classifier sees the
//! primary person's box and the colours come from that person's mask,
//! otherwise (a product shot) the whole photo. EfficientNet-Lite0's ImageNet classes are mapped to six categories
//! (`atelier_vision::garments`), colours are k-means in CIELAB, and a season
//! is suggested with its reason.
use atelier_jobs::{
    CacheInfo, CategoryScore, ClassScore, Colour, ErrorCode, GarmentScore, JobKind,
    SeasonSuggestion, TagResult, VisionInput,
};
use atelier_vision::colour::dominant_colours;
use atelier_vision::garments::{softmax, suggest_season, tag_garments};
use atelier_vision::{Rect, letterbox_tensor, upsample_mask};

use atelier_runtime::{JobContext, JobFailure};
use std::sync::Arc;

use super::models::VisionModels;
use super::people::{find_people, rule_models};
use super::{PhotoJob, model_failure, model_ref, start_photo_job, to_json};

const CLASSIFIER_SIZE: u32 = 224;
const COLOURS: usize = 5;

vision_handler!(Tag, VisionTag);

async fn run(
    ctx: &JobContext<'_>,
    models: &Arc<VisionModels>,
) -> Result<serde_json::Value, JobFailure> {
    let input: VisionInput = ctx.input()?;
    let (bytes, key) = match start_photo_job(
        ctx,
        JobKind::VisionTag,
        input.upload_id,
        &[rule_models(models), vec![&models.classifier.manifest]].concat(),
    )
    .await?
    {
        PhotoJob::Answered(result) => return Ok(result),
        PhotoJob::Run { bytes, key, .. } => (bytes, key),
    };

    let options = crate::photo::ingest::options(ctx.config());
    let m = models.clone();
    let (probs, colours, person_count) = ctx
        .blocking(move || {
            let photo = atelier_media::decode_rgb(&bytes, &options)?;
            let people = find_people(&m, &photo)?;
            let primary = people.primary();
            let mask = primary
                .map(|p| upsample_mask(&p.pass.mask, &p.pass.letterbox, photo.width, photo.height));
            let region = primary.map(|p| {
                // A little context around the person helps the classifier.
                let margin = 0.05 * p.bbox.width().max(p.bbox.height());
                let (w, h) = (photo.width as f32, photo.height as f32);
                let (x0, y0) = ((p.bbox.x0 - margin).max(0.0), (p.bbox.y0 - margin).max(0.0));
                let (x1, y1) = ((p.bbox.x1 + margin).min(w), (p.bbox.y1 + margin).min(h));
                Rect {
                    x: x0,
                    y: y0,
                    w: (x1 - x0).max(1.0),
                    h: (y1 - y0).max(1.0),
                }
            });
            let (tensor, _) = letterbox_tensor(
                &photo.data,
                photo.width,
                photo.height,
                region,
                CLASSIFIER_SIZE,
                (2.0, -1.0),
            );
            let out = m.classifier.run(tensor).map_err(model_failure)?;
            let logits = out.get("logits").ok_or_else(|| {
                JobFailure::retry(ErrorCode::Internal, "classifier gave no logits")
            })?;
            let probs = softmax(logits);
            let pixels: Vec<[u8; 3]> = photo
                .data
                .chunks_exact(3)
                .enumerate()
                .filter(|(i, _)| mask.as_ref().is_none_or(|m| m.alpha[*i] >= 128))
                .map(|(_, p)| [p[0], p[1], p[2]])
                .collect();
            let person_count = people.persons.len();
            Ok((probs, dominant_colours(&pixels, COLOURS), person_count))
        })
        .await?;
    ctx.report(80, "classified").await?;

    let tags = tag_garments(&probs);
    let season = suggest_season(&probs, &colours);
    let result = to_json(&TagResult {
        region: if person_count > 0 {
            "person"
        } else {
            "whole_image"
        }
        .into(),
        person_count,
        categories: tags
            .categories
            .iter()
            .map(|c| CategoryScore {
                category: c.category.as_str().into(),
                score: c.score,
            })
            .collect(),
        garments: tags
            .garments
            .iter()
            .map(|g| GarmentScore {
                label: g.label.into(),
                imagenet_class: g.imagenet_class,
                category: g.category.as_str().into(),
                score: g.score,
            })
            .collect(),
        imagenet_top5: tags
            .imagenet_top5
            .iter()
            .map(|c| ClassScore {
                label: c.label.into(),
                imagenet_class: c.imagenet_class,
                score: c.score,
            })
            .collect(),
        colours: colours
            .iter()
            .map(|c| Colour {
                hex: c.hex.clone(),
                name: c.name.into(),
                share: c.share,
                lab: c.lab,
            })
            .collect(),
        season: SeasonSuggestion {
            season: season.season.into(),
            reason: season.reason,
        },
        model: model_ref(&models.classifier.manifest),
        cache: CacheInfo::default(),
    });
    atelier_db::jobs::complete_keyed(ctx.pool(), ctx.fence(), &result, &key).await?;
    Ok(result)
}
