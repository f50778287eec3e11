//! `render.stills`: the design from each camera (presets framed on the
//! design's bounds, or explicit ones), square at the quality's size, as PNG
//! and/or WebP under `designs/renders/{userId}/{designId}/{camera}.{ext}`.
use std::sync::Arc;
use std::time::Instant;

use atelier_jobs::design::{CameraPreset, CameraSpec, StillFormat};
use atelier_jobs::{JobKind, RenderStillsInput, RenderStillsResult, RenderedStill, StoredObject};
use atelier_render::{Camera, FrameSpec, Preset};
use atelier_runtime::{Handler, JobContext, JobFailure};
use bytes::Bytes;
use serde_json::json;

use super::{
    RenderShared, Timings, background, design::hydrate, encode_still, failure, lighting,
    render_quality,
};

pub struct Stills(pub Arc<RenderShared>);

pub fn preset(p: CameraPreset) -> Preset {
    match p {
        CameraPreset::Front => Preset::Front,
        CameraPreset::Back => Preset::Back,
        CameraPreset::Left => Preset::Left,
        CameraPreset::Right => Preset::Right,
        CameraPreset::ThreeQuarter => Preset::ThreeQuarter,
    }
}

/// The camera `spec` resolves to for a scene of `bounds` at `aspect`.
pub fn camera(
    spec: &CameraSpec,
    bounds: &atelier_render::Bounds,
    aspect: f32,
) -> Result<Camera, JobFailure> {
    match spec {
        CameraSpec::Preset(p) => Ok(Camera::framed(
            bounds,
            preset(*p).azimuth_deg(),
            aspect,
            false,
        )),
        CameraSpec::Explicit(c) => {
            Camera::explicit(&c.name, c.eye.into(), c.target.into(), c.fov_deg, bounds)
                .map_err(failure)
        }
    }
}

#[async_trait::async_trait]
impl Handler for Stills {
    fn kind(&self) -> JobKind {
        JobKind::RenderStills
    }

    async fn run(&self, ctx: &JobContext<'_>) -> Result<serde_json::Value, JobFailure> {
        let input: RenderStillsInput = ctx.input()?;
        let mut timings = Timings::default();
        ctx.report(5, "load").await?;
        let start = Instant::now();
        let scene = hydrate(ctx, &self.0, &input.design).await?;
        let triangles = scene.triangles();
        let bounds = scene.bounds;
        // Every camera is checked before the first frame is drawn.
        let cameras = input
            .cameras
            .iter()
            .map(|c| Ok((c.name().to_owned(), camera(c, &bounds, 1.0)?)))
            .collect::<Result<Vec<_>, JobFailure>>()?;
        let shared = self.0.clone();
        let gpu = Arc::new(
            ctx.blocking(move || Ok(shared.renderer.upload(&scene)))
                .await?,
        );
        timings.since("load", start);

        let size = input.quality.still_size();
        let prefix = format!(
            "designs/renders/{}/{}",
            ctx.job().user_id,
            input.design.design_id
        );
        let mut renders = Vec::new();
        let n = cameras.len();
        for (i, (name, camera)) in cameras.into_iter().enumerate() {
            ctx.report_with(
                (10 + 85 * i / n) as i16,
                "render",
                json!({"camera": name, "position": i + 1, "of": n}),
            )
            .await?;
            let spec = FrameSpec {
                width: size,
                height: size,
                camera,
                background: background(&input.design),
                lighting: lighting(&input.design),
                quality: render_quality(input.quality),
            };
            let (shared, gpu, formats) = (self.0.clone(), gpu.clone(), input.formats.clone());
            let turn = self.0.slot().await;
            let (encoded, render_ms, encode_ms) = ctx
                .blocking(move || {
                    let start = Instant::now();
                    let frame = shared.renderer.render_once(&gpu, &spec).map_err(failure)?;
                    let render_ms = start.elapsed().as_millis() as u64;
                    let start = Instant::now();
                    let encoded: Vec<(&str, Vec<u8>)> = formats
                        .iter()
                        .map(|f| {
                            let ext = match f {
                                StillFormat::Png => "png",
                                StillFormat::Webp => "webp",
                            };
                            (ext, encode_still(&frame, ext, [255; 3]))
                        })
                        .collect();
                    Ok((encoded, render_ms, start.elapsed().as_millis() as u64))
                })
                .await?;
            drop(turn);
            *timings.0.entry("render".into()).or_default() += render_ms;
            *timings.0.entry("encode".into()).or_default() += encode_ms;
            let start = Instant::now();
            for (ext, bytes) in encoded {
                let key = format!("{prefix}/{name}.{ext}");
                let stored = ctx
                    .put(&key, Bytes::from(bytes), atelier_storage::content_type(ext))
                    .await?;
                renders.push(RenderedStill {
                    camera: name.clone(),
                    object: StoredObject {
                        key,
                        format: ext.to_owned(),
                        width: size,
                        height: size,
                        bytes: stored,
                        url: None,
                    },
                });
            }
            timings.since("store", start);
        }
        let result = RenderStillsResult {
            design_id: input.design.design_id,
            quality: input.quality,
            renders,
            triangles,
            renderer: self.0.info(),
            timings_ms: timings.0,
        };
        let result = serde_json::to_value(result).expect("results serialise");
        atelier_db::jobs::complete(ctx.pool(), ctx.fence(), &result).await?;
        Ok(result)
    }
}
