//! `vision.skin_tone`: face detection (BlazeFace short range) → 468-point
//! face mesh on a square crop around the face → forehead and cheek skin
//! pixels → robust CIELAB colour → Monk Skin Tone, ITA, undertone, seasonal
//! palette and confidence (`atelier_vision::skin`). No face →
//! `vision.no_face`. Publishes `skin_tone.analyzed`.
use atelier_jobs::{
    CacheInfo, ErrorCode, EventType, FaceBox, FoundFace as FaceFound, JobKind, MonkTone, Palette,
    SkinEvidence, SkinToneResult, VisionInput,
};
use atelier_vision::colour::{Lab, delta_e2000};
use atelier_vision::face::{
    DETECT_SIZE, Face, MESH_SIZE, MIN_MESH_PRESENCE, best_face, mesh_points,
};
use atelier_vision::letterbox_tensor;
use atelier_vision::skin::{
    colour_cast, confidence, ita, ita_category, nearest_monk, robust_colour, sample_skin,
    season_palette, undertone,
};
use serde_json::json;

use super::models::VisionModels;
use super::{PhotoJob, model_ref, run_image, start_photo_job, to_json};
use atelier_runtime::{JobContext, JobFailure};
use std::sync::Arc;

fn no_face(why: String) -> JobFailure {
    JobFailure::abort(ErrorCode::VisionNoFace, why)
}

/// A detected face, its 468 mesh points in photo pixels, and the mesh's own
/// face-presence probability.
struct FoundFace {
    face: Face,
    points: Vec<(f32, f32)>,
    presence: f32,
}

fn find_face(
    models: &VisionModels,
    photo: &atelier_media::RgbPhoto,
) -> Result<FoundFace, JobFailure> {
    let (tensor, lb) = letterbox_tensor(
        &photo.data,
        photo.width,
        photo.height,
        None,
        DETECT_SIZE,
        (2.0, -1.0),
    );
    let mut out = run_image(&models.face_detect, "input", DETECT_SIZE, &tensor)?;
    let regressors = out.take("regressors")?;
    let logits = out.take("classificators")?;
    let face = best_face(&regressors, &logits, &lb).ok_or_else(|| {
        let best = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        no_face(format!(
            "no face found (best detector score {:.2})",
            1.0 / (1.0 + (-best).exp())
        ))
    })?;
    let (tensor, lb) = letterbox_tensor(
        &photo.data,
        photo.width,
        photo.height,
        Some(face.mesh_region()),
        MESH_SIZE,
        (1.0, 0.0),
    );
    let mut out = run_image(&models.face_mesh, "input_1", MESH_SIZE, &tensor)?;
    let raw = out.take("conv2d_20")?;
    let presence_logit = out
        .take("conv2d_30")?
        .first()
        .copied()
        .unwrap_or(f32::NEG_INFINITY);
    let presence = 1.0 / (1.0 + (-presence_logit).exp());
    if presence < MIN_MESH_PRESENCE {
        return Err(no_face(format!(
            "the face mesh does not confirm the face (presence {presence:.2})"
        )));
    }
    Ok(FoundFace {
        face,
        points: mesh_points(&raw, &lb),
        presence,
    })
}

vision_handler!(SkinTone, VisionSkinTone);

async fn run(
    ctx: &JobContext<'_>,
    models: &Arc<VisionModels>,
) -> Result<serde_json::Value, JobFailure> {
    let input: VisionInput = ctx.input()?;
    let (bytes, key) = match start_photo_job(
        ctx,
        JobKind::VisionSkinTone,
        input.upload_id,
        &[&models.face_detect.manifest, &models.face_mesh.manifest],
    )
    .await?
    {
        PhotoJob::Answered(result) => return Ok(result),
        PhotoJob::Run { bytes, key, .. } => (bytes, key),
    };

    let options = crate::photo::ingest::options(ctx.config());
    let m = models.clone();
    let reading = ctx
        .blocking(move || {
            let photo = atelier_media::decode_rgb(&bytes, &options)?;
            let FoundFace {
                face,
                points,
                presence,
            } = find_face(&m, &photo)?;
            let regions = sample_skin(&photo.data, photo.width, photo.height, &points);
            let all: Vec<[u8; 3]> = regions
                .iter()
                .flat_map(|(_, p)| p.iter().copied())
                .collect();
            let (colour, kept) = robust_colour(&all)
                .ok_or_else(|| no_face("no skin pixels inside the photo".into()))?;
            let per_region: Vec<(&str, Lab)> = regions
                .iter()
                .filter_map(|(name, pixels)| robust_colour(pixels).map(|(c, _)| (*name, c)))
                .collect();
            let mut spread = 0f32;
            for (i, (_, a)) in per_region.iter().enumerate() {
                for (_, b) in &per_region[i + 1..] {
                    spread = spread.max(delta_e2000(*a, *b));
                }
            }
            let cast = colour_cast(&photo.data);
            Ok((face, presence, colour, kept, per_region, spread, cast))
        })
        .await?;
    let (face, presence, colour, kept, per_region, spread, cast) = reading;
    ctx.report(80, "measured").await?;

    let monk = nearest_monk(colour);
    let angle = ita(colour);
    let tone = undertone(colour);
    let palette = season_palette(colour, tone);
    let result = SkinToneResult {
        face: FaceFound {
            score: face.score,
            mesh_presence: presence,
            bounds: FaceBox {
                x: face.x,
                y: face.y,
                width: face.width,
                height: face.height,
            },
        },
        monk: MonkTone {
            scale: monk.scale,
            hex: monk.hex,
            delta_e: monk.delta_e,
        },
        hex: colour.hex(),
        lab: [colour.l, colour.a, colour.b],
        ita: angle,
        ita_category: ita_category(angle).into(),
        undertone: tone.into(),
        palette: Palette {
            season: palette.season.into(),
            sub_season: palette.sub_season.into(),
            recommended: palette.recommended.iter().map(|c| (*c).into()).collect(),
            avoid: palette.avoid.iter().map(|c| (*c).into()).collect(),
        },
        confidence: confidence(kept, cast, spread),
        evidence: SkinEvidence {
            skin_pixels: kept,
            regions: per_region
                .iter()
                .map(|(name, c)| ((*name).to_owned(), c.hex()))
                .collect(),
            region_spread_delta_e: spread,
            photo_colour_cast: cast,
        },
        models: vec![
            model_ref(&models.face_detect.manifest),
            model_ref(&models.face_mesh.manifest),
        ],
        cache: CacheInfo::default(),
    };
    let event = json!({"monk": result.monk, "hex": result.hex, "undertone": result.undertone,
                       "season": result.palette.season, "confidence": result.confidence});
    let result = to_json(&result);
    atelier_db::jobs::complete_keyed(ctx.pool(), ctx.fence(), &result, &key).await?;
    ctx.announce(EventType::SkinToneAnalyzed, event).await;
    Ok(result)
}
