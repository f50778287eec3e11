//! `avatar.build`'s stages, one function each. A stage's output is its
//! checkpoint (small: keys, numbers); large outputs go to storage under the
//! stage's keys, which the build names before calling it. `build.rs`
//! sequences them.
use atelier_body::Macros;
use atelier_body::fit::{Goal, fit_within};
use atelier_body::glb::{Compression, Look, lods, write_glb, write_glb_draco};
use atelier_body::mesh::{AvatarMesh, skin_mesh};
use atelier_body::photo::{Landmarks, PhotoError, PhotoMeasurements, View, measure_photos};
use atelier_jobs::{AvatarModelFile, ErrorCode, Sex, StoredObject};
use atelier_media::IngestOptions;
use atelier_render::{Background, Camera, FrameSpec, Item, Lighting, Limits, Scene};
use atelier_runtime::{JobContext, JobFailure, Stages};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::BodyKit;
use crate::render::RenderShared;
use crate::vision::cached_person;
use crate::vision::models::VisionModels;
use crate::vision::people::find_people;

/// The side of the preview still, pixels.
pub(super) const PREVIEW_SIZE: u32 = 512;

/// The levels of detail written.
pub(super) const LEVELS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum ViewName {
    Front,
    Side,
}

impl ViewName {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            ViewName::Front => "front",
            ViewName::Side => "side",
        }
    }
}

/// One photo as the `ingest` stage checked it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Photo {
    pub(super) view: ViewName,
    pub(super) upload_id: Uuid,
    pub(super) sha256: String,
    pub(super) width: u32,
    pub(super) height: u32,
}

/// A keypoint the measurements may use: name, x, y (photo pixels).
type Point = (String, f32, f32);

/// One photo as the `vision` stage saw it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Looked {
    pub(super) view: ViewName,
    width: u32,
    height: u32,
    mask_key: String,
    keypoints: Vec<Point>,
    /// Taken from the user's earlier vision.segment and vision.pose results.
    #[serde(default)]
    pub(super) from_cache: bool,
}

/// The body model's parameters for the measurements (`fit`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Fitted {
    pub(super) macros: Macros,
    pub(super) targets: Vec<(String, f32)>,
    pub(super) rms: f32,
}

/// A mesh or GLB a stage stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Stored {
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

/// Where each stage keeps its large outputs (derived from the job and the
/// stage's version, so a re-run overwrites the same objects).
pub(super) struct Keys {
    /// `vision`: each view's mask.
    pub(super) masks: Vec<String>,
    /// `mesh`: the rigged skin.
    pub(super) mesh: String,
    /// `lods`: each level.
    pub(super) lods: Vec<String>,
    /// `compress`: each level × compression (meshopt always, Draco too when
    /// asked).
    pub(super) glbs: Vec<(usize, &'static str, String)>,
}

impl Keys {
    pub(super) fn new(stages: &Stages<'_, '_>, views: &[(ViewName, Uuid)], draco: bool) -> Keys {
        let variants: &[&'static str] = if draco {
            &["meshopt", "draco"]
        } else {
            &["meshopt"]
        };
        Keys {
            masks: views
                .iter()
                .map(|(v, _)| stages.key("vision", &format!("{}-mask.png", v.as_str())))
                .collect(),
            mesh: stages.key("mesh", "mesh.bin"),
            lods: (0..LEVELS)
                .map(|k| stages.key("lods", &format!("lod{k}.bin")))
                .collect(),
            glbs: (0..LEVELS)
                .flat_map(|k| variants.iter().map(move |v| (k, *v)))
                .map(|(k, v)| {
                    let draco = if v == "draco" { ".draco" } else { "" };
                    let name = format!("avatar-lod{k}{draco}.glb");
                    (k, v, stages.key("compress", &name))
                })
                .collect(),
        }
    }
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

/// A failure about one photo names it.
fn in_photo(f: JobFailure, view: ViewName) -> JobFailure {
    match f {
        JobFailure::Abort { code, message } => {
            JobFailure::abort(code, format!("{} photo: {message}", view.as_str()))
        }
        other => other,
    }
}

fn multiple_people(n: usize, view: ViewName) -> JobFailure {
    JobFailure::abort(
        ErrorCode::AvatarMultiplePeople,
        format!(
            "{n} people in the {} photo: an avatar is built from photos of one person alone",
            view.as_str()
        ),
    )
}

/// 1. `ingest`: the photos are the user's and decode within the photo
///    limits.
pub(super) async fn ingest(
    ctx: &JobContext<'_>,
    views: &[(ViewName, Uuid)],
    options: &IngestOptions,
) -> Result<Vec<Photo>, JobFailure> {
    let mut photos = Vec::new();
    for (view, upload_id) in views {
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
}

/// 2. `vision`: one person per photo, masked (`{view}-mask.png` under
///    `mask_keys`) and posed; or the user's own `vision.segment` and
///    `vision.pose` results of the photo by the same models.
pub(super) async fn vision(
    ctx: &JobContext<'_>,
    models: &std::sync::Arc<VisionModels>,
    views: &[(ViewName, Uuid)],
    mask_keys: &[String],
    options: &IngestOptions,
) -> Result<Vec<Looked>, JobFailure> {
    let mut looked = Vec::new();
    for ((view, upload_id), mask_key) in views.iter().zip(mask_keys) {
        let (row, bytes) = ctx.owned_upload(*upload_id).await?;
        if let Some(cached) = cached_person(ctx, models, &row.sha256).await? {
            if cached.persons > 1 {
                return Err(multiple_people(cached.persons, *view));
            }
            let (w, h) = (cached.width as f32, cached.height as f32);
            tracing::info!(
                view = view.as_str(),
                "person mask and pose from the result cache"
            );
            looked.push(Looked {
                view: *view,
                width: cached.width,
                height: cached.height,
                mask_key: cached.mask_key,
                keypoints: cached
                    .keypoints
                    .into_iter()
                    .filter(|k| k.3 >= 0.5 && (0.0..w).contains(&k.1) && (0.0..h).contains(&k.2))
                    .map(|k| (k.0, k.1, k.2))
                    .collect(),
                from_cache: true,
            });
            continue;
        }
        let (models, opts, view) = (models.clone(), options.clone(), *view);
        let (width, height, png, keypoints) = ctx
            .blocking(move || {
                let photo = atelier_media::decode_rgb(&bytes, &opts)?;
                let people = find_people(&models, &photo)?;
                match people.persons.len() {
                    0 => return Err(people.none_found()),
                    1 => {}
                    n => return Err(multiple_people(n, view)),
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
                        k.visibility >= 0.5 && (0.0..w).contains(&k.x) && (0.0..h).contains(&k.y)
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
}

/// 3. `measure`: measurements from the masks and keypoints, scaled by the
///    stated height (`stated`, metres).
pub(super) async fn measure(
    ctx: &JobContext<'_>,
    body: &std::sync::Arc<BodyKit>,
    looked: &[Looked],
    stated: f32,
    options: &IngestOptions,
) -> Result<PhotoMeasurements, JobFailure> {
    let mut masks = Vec::new();
    for l in looked {
        let png = ctx.storage().get(&l.mask_key).await?;
        masks.push((l.clone(), png));
    }
    let (body, opts) = (body.clone(), options.clone());
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
        measure_photos(front, view_of(ViewName::Side), stated, calibration).map_err(photo_failure)
    })
    .await
}

/// 4. `fit`: the body model's parameters for the measurements.
pub(super) async fn fit(
    ctx: &JobContext<'_>,
    body: &std::sync::Arc<BodyKit>,
    m: &PhotoMeasurements,
    sex: Sex,
) -> Result<Fitted, JobFailure> {
    let gender = match sex {
        Sex::Female => 0.0,
        Sex::Male => 1.0,
        Sex::Unspecified => 0.5,
    };
    let body = body.clone();
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
}

/// 5. `mesh`: the fitted skin, rigged, stored at `key`.
pub(super) async fn mesh(
    ctx: &JobContext<'_>,
    body: &std::sync::Arc<BodyKit>,
    fitted: &Fitted,
    key: &str,
) -> Result<String, JobFailure> {
    let (body, f) = (body.clone(), fitted.clone());
    let bytes = ctx
        .blocking(move || {
            let body = body.get()?;
            let positions = body
                .model
                .shape_macros(&f.macros, &f.targets)
                .map_err(internal)?;
            let mesh = skin_mesh(&body.model.base, &positions, &body.rig).map_err(internal)?;
            Ok(mesh.to_bytes())
        })
        .await?;
    ctx.put(key, Bytes::from(bytes), "application/octet-stream")
        .await?;
    Ok(key.to_owned())
}

/// 6. `lods`: the levels of detail of the mesh at `mesh_key`, stored at
///    `keys` (one per level).
pub(super) async fn lods_of(
    ctx: &JobContext<'_>,
    mesh_key: &str,
    keys: &[String],
) -> Result<Vec<Stored>, JobFailure> {
    let bytes = ctx.storage().get(mesh_key).await?;
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
    for (k, ((triangles, vertices, bytes), key)) in levels.into_iter().zip(keys).enumerate() {
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
}

/// 7. `compress`: each level as a GLB per compression (`glbs`: level,
///    compression, key).
pub(super) async fn compress(
    ctx: &JobContext<'_>,
    levels: &[Stored],
    glbs: &[(usize, &str, String)],
) -> Result<Vec<Stored>, JobFailure> {
    let mut out = Vec::new();
    for (k, variant, key) in glbs {
        let level = &levels[*k];
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
}

/// 8. `store`: the GLBs under `prefix` where users find them, and a
///    preview still of LOD0.
pub(super) async fn store(
    ctx: &JobContext<'_>,
    render: &std::sync::Arc<RenderShared>,
    glbs: &[Stored],
    prefix: &str,
) -> Result<(Vec<AvatarModelFile>, StoredObject), JobFailure> {
    let mut files = Vec::new();
    let mut lod0 = Bytes::new();
    for glb in glbs {
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
    let png = preview(ctx, render, lod0).await?;
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
}

/// LOD0 rendered from the front, studio-lit on white.
async fn preview(
    ctx: &JobContext<'_>,
    render: &std::sync::Arc<RenderShared>,
    glb: Bytes,
) -> Result<Vec<u8>, JobFailure> {
    let shared = render.clone();
    let turn = render.slot().await;
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
