//! The avatar pipeline (`avatar.build`, `build.rs`): what it shares across
//! jobs: the vision models that find and mask the person, the renderer for
//! the preview still, and the body model with its rig and its girth
//! calibration (computed once at start-up on generated bodies).
pub mod build;

use std::sync::Arc;

use anyhow::Context;
use atelier_body::calibrate::{Calibration, calibrate, spread};
use atelier_body::rig::Rig;
use atelier_body::{BodyModel, default_dir};

use crate::render::RenderShared;
use crate::vision::models::VisionModels;

/// The body model, its skeleton and the girth calibration.
pub struct BodyKit {
    pub model: BodyModel,
    pub rig: Rig,
    pub calibration: Calibration,
}

impl BodyKit {
    /// From `ATELIER_BODY_DIR` (or `~/.cache/atelier/body`), where
    /// scripts/fetch-body.sh extracts the model.
    pub fn load() -> anyhow::Result<BodyKit> {
        let dir = default_dir();
        let model = BodyModel::load(&dir)
            .with_context(|| format!("loading the body model from {}", dir.display()))?;
        let rig = Rig::load(&dir, model.base.positions.len()).context("loading the body rig")?;
        let start = std::time::Instant::now();
        let calibration = calibrate(&model, &spread()).context("calibrating girths")?;
        tracing::info!(
            ms = start.elapsed().as_millis() as u64,
            "body model ready, girths calibrated"
        );
        Ok(BodyKit {
            model,
            rig,
            calibration,
        })
    }
}

/// What `avatar.build` runs on.
pub struct AvatarShared {
    pub vision: Arc<VisionModels>,
    pub render: Arc<RenderShared>,
    pub body: Arc<BodyKit>,
}
