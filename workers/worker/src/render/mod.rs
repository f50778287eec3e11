//! Render jobs: design stills and 360° turntables. One [`Renderer`] (one
//! Vulkan device) per worker process, built only when the worker serves a
//! render kind; designs are hydrated from the owner's uploads in `design.rs`.
pub mod design;
pub mod export;
pub mod stills;
pub mod turntable;

use std::collections::BTreeMap;
use std::time::Instant;

use atelier_config::RenderConfig;
use atelier_jobs::ErrorCode;
use atelier_jobs::design::Quality;
use atelier_render::{RenderError, Renderer};
use atelier_runtime::JobFailure;

/// What every render handler shares.
pub struct RenderShared {
    pub renderer: Renderer,
    pub config: RenderConfig,
    /// `render.max_parallel` turns at drawing: a job holds one while it
    /// draws (a still's camera, a turntable's frames).
    pub slots: tokio::sync::Semaphore,
}

impl RenderShared {
    pub fn new(config: &RenderConfig) -> Result<RenderShared, RenderError> {
        sweep_stale_work_dirs(std::time::Duration::from_secs(3600));
        let renderer = Renderer::new()?;
        tracing::info!(
            adapter = renderer.adapter(),
            samples = renderer.samples(),
            "renderer ready"
        );
        Ok(RenderShared {
            renderer,
            config: config.clone(),
            slots: tokio::sync::Semaphore::new(config.max_parallel as usize),
        })
    }

    /// Wait for a turn at drawing.
    pub async fn slot(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.slots
            .acquire()
            .await
            .expect("the semaphore is never closed")
    }

    pub fn info(&self) -> atelier_jobs::RendererInfo {
        atelier_jobs::RendererInfo {
            adapter: self.renderer.adapter().to_owned(),
            samples: self.renderer.samples(),
        }
    }
}

/// Turntable work directories a killed worker left behind (SIGKILL runs no
/// destructor): removed once older than `age`, well past any run's timeout,
/// so a live run's directory on the same machine is never touched.
fn sweep_stale_work_dirs(age: std::time::Duration) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|elapsed| elapsed > age);
        if name
            .to_string_lossy()
            .starts_with(turntable::WORK_DIR_PREFIX)
            && stale
        {
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => {
                    tracing::info!(dir = %entry.path().display(), "removed a stale turntable work dir")
                }
                Err(error) => tracing::warn!(%error, "stale turntable work dir not removed"),
            }
        }
    }
}

/// A render error as a job failure: bad models and requests are never
/// retried; a device failure is.
pub fn failure(error: RenderError) -> JobFailure {
    let message = error.to_string();
    match error {
        RenderError::InvalidModel(_) => JobFailure::abort(ErrorCode::ModelInvalid, message),
        RenderError::ModelTooLarge(_) => JobFailure::abort(ErrorCode::ModelTooLarge, message),
        RenderError::UnsupportedModel(_) => JobFailure::abort(ErrorCode::ModelUnsupported, message),
        RenderError::EmptyScene => JobFailure::abort(ErrorCode::ModelEmpty, message),
        RenderError::TextureUnsupported { .. } => {
            JobFailure::abort(ErrorCode::ImageUnsupportedFormat, message)
        }
        RenderError::TextureCorrupt { .. } => JobFailure::abort(ErrorCode::ImageCorrupt, message),
        RenderError::CameraInsideModel(_) => {
            JobFailure::abort(ErrorCode::RenderCameraInsideModel, message)
        }
        RenderError::BadRequest(_) => JobFailure::abort(ErrorCode::RequestInvalid, message),
        RenderError::NoAdapter(_) => JobFailure::retry(ErrorCode::RenderUnavailable, message),
        RenderError::Gpu(_) => JobFailure::retry(ErrorCode::RenderFailed, message),
    }
}

/// Shadow detail per quality preset.
pub fn render_quality(quality: Quality) -> atelier_render::Quality {
    let (shadow_map, shadow_taps) = match quality {
        Quality::Draft => (1024, 8),
        Quality::Standard => (2048, 16),
        Quality::High => (2048, 24),
        Quality::Ultra => (4096, 32),
    };
    atelier_render::Quality {
        shadow_map,
        shadow_taps,
    }
}

pub fn background(design: &atelier_jobs::Design) -> atelier_render::Background {
    match design.background {
        atelier_jobs::design::Background::Transparent => atelier_render::Background::Transparent,
        atelier_jobs::design::Background::Colour(c) => atelier_render::Background::Solid(c.rgb()),
    }
}

pub fn lighting(design: &atelier_jobs::Design) -> atelier_render::Lighting {
    match design.lighting {
        atelier_jobs::design::Lighting::Studio => atelier_render::Lighting::Studio,
        atelier_jobs::design::Lighting::Environment => atelier_render::Lighting::Environment,
    }
}

/// A still frame as `ext`: `png`, `webp` (both keep alpha) or `jpg`
/// (flattened on `under`, sRGB).
pub fn encode_still(frame: &atelier_render::Frame, ext: &str, under: [u8; 3]) -> Vec<u8> {
    let (w, h, px) = (frame.width, frame.height, &frame.rgba);
    match ext {
        "webp" => atelier_media::encode_webp_rgba(w, h, px, 90),
        "jpg" => atelier_media::encode_jpeg_on(w, h, px, under, 90),
        _ => atelier_media::encode_png(w, h, px, 4),
    }
}

/// What a transparent design is flattened on where a format has no alpha.
pub fn flatten_on(design: &atelier_jobs::Design) -> [u8; 3] {
    match design.background {
        atelier_jobs::design::Background::Colour(c) => c.rgb(),
        atelier_jobs::design::Background::Transparent => [255, 255, 255],
    }
}

/// Milliseconds per named step, for results.
#[derive(Default)]
pub struct Timings(pub BTreeMap<String, u64>);

impl Timings {
    pub fn since(&mut self, step: &str, start: Instant) {
        *self.0.entry(step.to_owned()).or_default() += start.elapsed().as_millis() as u64;
    }
}
