//! The avatar pipeline (`avatar.build`: `build.rs` sequences the stages of
//! `stages.rs`), and what it shares across jobs: the vision models that
//! find and mask the person, the renderer for the preview still, and the
//! body model with its rig and its girth calibration (computed by the first
//! avatar job).
pub mod build;
mod stages;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use atelier_body::calibrate::{Calibration, calibrate, spread};
use atelier_body::rig::Rig;
use atelier_body::{BodyModel, default_dir};

use atelier_jobs::ErrorCode;
use atelier_runtime::JobFailure;

use crate::render::RenderShared;
use crate::vision::models::VisionModels;

/// The body model, its skeleton and the girth calibration, loaded by the
/// first avatar job that needs them (parsing the rig and calibrating on
/// generated bodies takes seconds: a worker that never builds an avatar,
/// or one starting up, should not pay for it).
pub struct BodyKit {
    dir: PathBuf,
    loaded: OnceLock<Result<Loaded, String>>,
}

pub struct Loaded {
    pub model: BodyModel,
    pub rig: Rig,
    pub calibration: Calibration,
}

impl BodyKit {
    /// From `ATELIER_BODY_DIR` (or `~/.cache/atelier/body`), where
    /// scripts/fetch-body.sh extracts the model: refused at start-up when
    /// the model is not there.
    pub fn open() -> anyhow::Result<BodyKit> {
        let dir = default_dir();
        let base = dir.join("3dobjs/base.obj");
        anyhow::ensure!(
            base.is_file(),
            "the body model is not in {} (run scripts/fetch-body.sh)",
            dir.display()
        );
        Ok(BodyKit {
            dir,
            loaded: OnceLock::new(),
        })
    }

    /// The loaded kit; the first call loads it (blocking: call it on the
    /// blocking pool).
    pub fn get(&self) -> Result<&Loaded, JobFailure> {
        self.loaded
            .get_or_init(|| {
                let start = std::time::Instant::now();
                let model = BodyModel::load(&self.dir).map_err(|e| e.to_string())?;
                let rig =
                    Rig::load(&self.dir, model.base.positions.len()).map_err(|e| e.to_string())?;
                let calibration = calibrate(&model, &spread()).map_err(|e| e.to_string())?;
                tracing::info!(
                    ms = start.elapsed().as_millis() as u64,
                    "body model loaded, girths calibrated"
                );
                Ok(Loaded {
                    model,
                    rig,
                    calibration,
                })
            })
            .as_ref()
            .map_err(|e| JobFailure::retry(ErrorCode::Internal, format!("the body model: {e}")))
    }
}

/// What `avatar.build` runs on.
pub struct AvatarShared {
    pub vision: Arc<VisionModels>,
    pub render: Arc<RenderShared>,
    pub body: Arc<BodyKit>,
}
