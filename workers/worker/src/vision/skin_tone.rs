//! `vision.skin_tone`: skin colour per person. The detectors find the
//! people (`people.rs`); each person's face is located at any distance:
//! the short-range BlazeFace on a crop around the head the BlazePose
//! detector (or the pose's eyes, nose and ears) placed; else the
//! full-range BlazeFace over the whole photo; else the face placed from
//! the pose itself. The face crop is turned to level the eyes before the
//! 468-point face mesh; forehead and cheek skin pixels → robust CIELAB
//! colour → Monk Skin Tone, ITA, undertone, seasonal palette and
//! confidence (`atelier_vision::skin`). A photo with no person but a face
//! (a close-up) is read from the full-range detector. No face →
//! `vision.no_face`. Publishes `skin_tone.analyzed` with the primary
//! person's reading.
use atelier_jobs::{
    CacheInfo, ErrorCode, EventType, FaceBox, FoundFace, JobKind, MonkTone, Palette, PersonSkin,
    PixelBox, SkinEvidence, SkinToneResult, VisionInput,
};
use atelier_media::RgbPhoto;
use atelier_vision::colour::{Lab, delta_e2000};
use atelier_vision::face::{Face, FaceModel, MIN_MESH_PRESENCE, face_from_pose, mesh_points};
use atelier_vision::person::BoxF;
use atelier_vision::skin::{
    colour_cast, confidence, ita, ita_category, nearest_monk, robust_colour, sample_skin,
    season_palette, undertone,
};

use super::faces::{Mesh, detect, mesh};
use super::models::VisionModels;
use super::people::{People, find_people, rule_models};
use super::{PhotoJob, model_ref, pixel_box, start_photo_job, to_json};
use atelier_runtime::{JobContext, JobFailure};
use std::sync::Arc;

/// The crop the short-range detector looks for a face in: the head's
/// square × this (the model was trained on faces filling a good part of
/// its input).
const HEAD_CROP: f32 = 2.5;

fn no_face(why: String) -> JobFailure {
    JobFailure::abort(ErrorCode::VisionNoFace, why)
}

/// One face read: where it is, how it was found, and its skin.
struct Reading {
    person: Option<PixelBox>,
    face: Face,
    located_by: &'static str,
    roll: f32,
    presence: f32,
    colour: Lab,
    kept: usize,
    per_region: Vec<(&'static str, Lab)>,
    spread: f32,
}

/// A face located for a person (`None`: no person detected around it),
/// and how it was found.
struct Located {
    person: Option<BoxF>,
    face: Face,
    how: &'static str,
}

/// Each person's face (primary first), located as the module says; a
/// photo without people gets the full-range detector's faces.
fn locate(
    models: &VisionModels,
    photo: &RgbPhoto,
    people: &People,
) -> Result<Vec<Located>, JobFailure> {
    // The full-range detector already ran over the whole photo (the
    // people rule's last step).
    let whole_photo = &people.faces;
    let mut located = Vec::new();
    for person in &people.persons {
        let inside = |f: &Face| person.bbox.contains(f.centre());
        let from_pose = face_from_pose(&person.pass.output.keypoints);
        let head = person
            .detection
            .map(|d| d.head)
            .or_else(|| from_pose.as_ref().map(Face::bounds));
        if let Some(head) = head {
            let near = detect(
                models,
                photo,
                FaceModel::ShortRange,
                Some(head.square(HEAD_CROP)),
            )?;
            if let Some(face) = near.into_iter().find(|f| inside(f)) {
                located.push(Located {
                    person: Some(person.bbox),
                    face,
                    how: "detector",
                });
                continue;
            }
        }
        if let Some(face) = whole_photo.iter().find(|f| inside(f)).cloned() {
            located.push(Located {
                person: Some(person.bbox),
                face,
                how: "full_range",
            });
            continue;
        }
        if let Some(face) = from_pose {
            located.push(Located {
                person: Some(person.bbox),
                face,
                how: "pose",
            });
        }
    }
    if people.persons.is_empty() {
        for face in whole_photo.iter().cloned() {
            located.push(Located {
                person: None,
                face,
                how: "full_range",
            });
        }
    }
    Ok(located)
}

/// The mesh on the levelled face crop and the skin it outlines; `None`
/// when the mesh does not see a face there.
fn read(
    models: &VisionModels,
    photo: &RgbPhoto,
    Located { person, face, how }: Located,
) -> Result<Option<Reading>, JobFailure> {
    let crop = face.mesh_crop();
    let Mesh { raw, presence } = mesh(models, photo, &face)?;
    if presence < MIN_MESH_PRESENCE {
        return Ok(None);
    }
    let points = mesh_points(&raw, &crop);
    let regions = sample_skin(&photo.data, photo.width, photo.height, &points);
    let all: Vec<[u8; 3]> = regions
        .iter()
        .flat_map(|(_, p)| p.iter().copied())
        .collect();
    let Some((colour, kept)) = robust_colour(&all) else {
        return Ok(None);
    };
    let per_region: Vec<(&'static str, Lab)> = regions
        .iter()
        .filter_map(|(name, pixels)| robust_colour(pixels).map(|(c, _)| (*name, c)))
        .collect();
    let mut spread = 0f32;
    for (i, (_, a)) in per_region.iter().enumerate() {
        for (_, b) in &per_region[i + 1..] {
            spread = spread.max(delta_e2000(*a, *b));
        }
    }
    Ok(Some(Reading {
        person: person.map(|b| pixel_box(&b)),
        face,
        located_by: how,
        roll: crop.angle.to_degrees(),
        presence,
        colour,
        kept,
        per_region,
        spread,
    }))
}

fn found_face(r: &Reading) -> FoundFace {
    FoundFace {
        score: r.face.score,
        mesh_presence: r.presence,
        bounds: FaceBox {
            x: r.face.x,
            y: r.face.y,
            width: r.face.width,
            height: r.face.height,
        },
        located_by: r.located_by.into(),
        roll: r.roll,
    }
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
        &[rule_models(models), vec![&models.face_detect.manifest]].concat(),
    )
    .await?
    {
        PhotoJob::Answered(result) => return Ok(result),
        PhotoJob::Run { bytes, key, .. } => (bytes, key),
    };

    let options = crate::photo::ingest::options(ctx.config());
    let m = models.clone();
    let (readings, cast, person_count) = ctx
        .blocking(move || {
            let photo = atelier_media::decode_rgb(&bytes, &options)?;
            let people = find_people(&m, &photo)?;
            let located = locate(&m, &photo, &people)?;
            let tried = located.len();
            let mut readings = Vec::new();
            for face in located {
                readings.extend(read(&m, &photo, face)?);
            }
            if readings.is_empty() {
                return Err(no_face(match (people.persons.len(), tried) {
                    (0, 0) => "no face found (no person and no face detected)".into(),
                    (n, 0) => format!("no face found on the {n} people detected"),
                    (_, t) => format!(
                        "no face found: the face mesh confirmed none of the {t} face{} located",
                        if t == 1 { "" } else { "s" }
                    ),
                }));
            }
            Ok((readings, colour_cast(&photo.data), people.persons.len()))
        })
        .await?;
    ctx.report(80, "measured").await?;

    let primary = &readings[0];
    let persons: Vec<PersonSkin> = readings
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let monk = nearest_monk(r.colour);
            let tone = undertone(r.colour);
            PersonSkin {
                bounds: r.person,
                primary: i == 0,
                face: found_face(r),
                monk: MonkTone {
                    scale: monk.scale,
                    hex: monk.hex,
                    delta_e: monk.delta_e,
                },
                hex: r.colour.hex(),
                undertone: tone.into(),
                season: season_palette(r.colour, tone).season.into(),
                confidence: confidence(r.kept, cast, r.spread),
            }
        })
        .collect();
    let colour = primary.colour;
    let monk = nearest_monk(colour);
    let angle = ita(colour);
    let tone = undertone(colour);
    let palette = season_palette(colour, tone);
    let result = SkinToneResult {
        face: found_face(primary),
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
        confidence: confidence(primary.kept, cast, primary.spread),
        evidence: SkinEvidence {
            skin_pixels: primary.kept,
            regions: primary
                .per_region
                .iter()
                .map(|(name, c)| ((*name).to_owned(), c.hex()))
                .collect(),
            region_spread_delta_e: primary.spread,
            photo_colour_cast: cast,
        },
        persons,
        person_count,
        models: vec![
            model_ref(&models.person_boxes.manifest),
            model_ref(&models.pose_detect.manifest),
            model_ref(&models.pose.manifest),
            model_ref(&models.face_detect.manifest),
            model_ref(&models.face_detect_full.manifest),
            model_ref(&models.face_mesh.manifest),
        ],
        cache: CacheInfo::default(),
    };
    let event = atelier_jobs::event_data(&atelier_jobs::SkinToneAnalyzedData {
        monk: result.monk.clone(),
        hex: result.hex.clone(),
        undertone: result.undertone.clone(),
        season: result.palette.season.clone(),
        confidence: result.confidence,
        faces: result.persons.len(),
    });
    let result = to_json(&result);
    atelier_db::jobs::complete_keyed(ctx.pool(), ctx.fence(), &result, &key).await?;
    ctx.announce(EventType::SkinToneAnalyzed, event).await;
    Ok(result)
}
