//! `export`: a design as an image (PNG, JPEG, WebP from a camera), a video
//! (a turntable as MP4, WebM or GIF), a model (the placed, recoloured design
//! as one GLB) or a PDF sheet (front and back stills, the design's name, its
//! items and their colour swatches); images and videos optionally carry an
//! uploaded logo as a watermark. Stored at
//! `designs/exports/{userId}/{designId}/{exportId}.{ext}`.
use std::sync::Arc;
use std::time::Instant;

use atelier_jobs::design::{CameraPreset, CameraSpec, Quality, Resolution};
use atelier_jobs::export::{
    ExportFile, ExportFormat, ExportInput, ExportResult, ExportType, WatermarkPosition,
};
use atelier_jobs::{ErrorCode, JobKind};
use atelier_media::{Corner, Logo, Sheet, SheetImage};
use atelier_render::FrameSpec;
use atelier_runtime::{Handler, JobContext, JobFailure};
use atelier_video::{Codec, EncodeSpec};
use bytes::Bytes;

use super::stills::camera;
use super::turntable::{VideoJob, encode_turntable, level};
use super::{
    RenderShared, Timings, background, design::hydrate, encode_still, failure, flatten_on,
    lighting, render_quality,
};

pub struct Export(pub Arc<RenderShared>);

/// A watermark before it is sized to a frame.
enum Mark {
    Logo(Logo),
    Text(String, [u8; 3]),
}

impl Mark {
    /// The mark as an RGBA image `width` pixels wide.
    fn sized(&self, width: u32) -> Logo {
        match self {
            Mark::Logo(logo) => logo.scaled(width),
            Mark::Text(text, colour) => atelier_media::text_logo(text, width, *colour),
        }
    }
}

fn corner(p: WatermarkPosition) -> Corner {
    match p {
        WatermarkPosition::TopLeft => Corner::TopLeft,
        WatermarkPosition::TopRight => Corner::TopRight,
        WatermarkPosition::BottomLeft => Corner::BottomLeft,
        WatermarkPosition::BottomRight => Corner::BottomRight,
        WatermarkPosition::Centre => Corner::Centre,
    }
}

fn video_size(quality: Quality) -> (u32, u32) {
    match quality {
        Quality::Draft => Resolution::P480.size(),
        Quality::Standard => Resolution::P720.size(),
        Quality::High | Quality::Ultra => Resolution::P1080.size(),
    }
}

/// A watermark as asked: the mark, its corner, opacity and width (a share
/// of the frame's).
type Watermark = (Mark, Corner, f32, f32);

/// One exported file before it is stored.
struct Exported {
    bytes: Vec<u8>,
    /// Pixels; 0 for a model or a sheet.
    width: u32,
    height: u32,
    content_type: &'static str,
}

#[async_trait::async_trait]
impl Handler for Export {
    fn kind(&self) -> JobKind {
        JobKind::Export
    }

    async fn run(&self, ctx: &JobContext<'_>) -> Result<serde_json::Value, JobFailure> {
        let input: ExportInput = ctx.input()?;
        let format = input.format();
        let export_id = input.export_id.unwrap_or_else(|| ctx.id());
        let key = format!(
            "designs/exports/{}/{}/{export_id}.{}",
            ctx.job().user_id,
            input.design.design_id,
            format.extension()
        );
        let mut timings = Timings::default();
        ctx.report(5, "load").await?;
        let start = Instant::now();
        let mark = self.watermark(ctx, &input).await?;
        let scene = hydrate(ctx, &self.0, &input.design).await?;
        timings.since("load", start);
        let out = match input.export_type {
            ExportType::Model => {
                let glb = ctx
                    .blocking(move || Ok(atelier_render::glb::write_glb(&scene)))
                    .await?;
                Exported {
                    bytes: glb,
                    width: 0,
                    height: 0,
                    content_type: "model/gltf-binary",
                }
            }
            ExportType::Image => self.image(ctx, &input, scene, mark).await?,
            ExportType::Video => self.video(ctx, &input, scene, mark, &mut timings).await?,
            ExportType::Pdf => self.pdf(ctx, &input, scene).await?,
        };
        let start = Instant::now();
        let stored = ctx
            .put(&key, Bytes::from(out.bytes), out.content_type)
            .await?;
        timings.since("store", start);
        let sized = (out.width > 0).then_some((out.width, out.height));
        let result = serde_json::to_value(ExportResult {
            export_id,
            design_id: input.design.design_id,
            export_type: input.export_type,
            format,
            quality: input.quality,
            status: "complete".into(),
            file: ExportFile {
                key,
                format: format.extension().into(),
                bytes: stored,
                width: sized.map(|s| s.0),
                height: sized.map(|s| s.1),
                url: None,
            },
            size: stored,
            renderer: self.0.info(),
            timings_ms: timings.0,
        })
        .expect("a result always serialises");
        atelier_db::jobs::complete(ctx.pool(), ctx.fence(), &result).await?;
        Ok(result)
    }
}

impl Export {
    /// The watermark asked for: an uploaded logo (decoded within the
    /// texture bound) or a text.
    async fn watermark(
        &self,
        ctx: &JobContext<'_>,
        input: &ExportInput,
    ) -> Result<Option<Watermark>, JobFailure> {
        let Some(w) = &input.watermark else {
            return Ok(None);
        };
        let mark = match (&w.logo, &w.text) {
            (Some(upload), _) => {
                let (_, bytes) = ctx.owned_upload(*upload).await?;
                let max = self.0.config.max_texture_dimension;
                Mark::Logo(
                    ctx.blocking(move || {
                        Logo::decode(&bytes, max).map_err(|e| {
                            JobFailure::abort(e.code(), format!("input.watermark.logo: {e}"))
                        })
                    })
                    .await?,
                )
            }
            (None, Some(text)) => Mark::Text(text.clone(), w.colour.rgb()),
            (None, None) => {
                return Err(JobFailure::abort(
                    ErrorCode::RequestInvalid,
                    "input.watermark: exactly one of logo and text",
                ));
            }
        };
        Ok(Some((mark, corner(w.position), w.opacity, w.width)))
    }

    /// A still from the camera asked (`front` by default), watermarked.
    async fn image(
        &self,
        ctx: &JobContext<'_>,
        input: &ExportInput,
        scene: atelier_render::Scene,
        mark: Option<Watermark>,
    ) -> Result<Exported, JobFailure> {
        let format = input.format();
        let spec = input
            .camera
            .clone()
            .unwrap_or(CameraSpec::Preset(CameraPreset::Front));
        let cam = camera(&spec, &scene.bounds, 1.0)?;
        let size = input.quality.still_size();
        let frame_spec = FrameSpec {
            width: size,
            height: size,
            camera: cam,
            background: background(&input.design),
            lighting: lighting(&input.design),
            quality: render_quality(input.quality),
        };
        let under = flatten_on(&input.design);
        ctx.report(30, "render").await?;
        let shared = self.0.clone();
        let turn = self.0.slot().await;
        let bytes = ctx
            .blocking(move || {
                let gpu = shared.renderer.upload(&scene);
                let mut frame = shared
                    .renderer
                    .render_once(&gpu, &frame_spec)
                    .map_err(failure)?;
                if let Some((mark, corner, opacity, frac)) = &mark {
                    let sized = mark.sized((size as f32 * frac) as u32);
                    sized.overlay(&mut frame.rgba, size, size, *corner, *opacity);
                }
                Ok(encode_still(&frame, format.extension(), under))
            })
            .await?;
        drop(turn);
        let content_type = match format {
            ExportFormat::Jpeg => "image/jpeg",
            other => atelier_storage::content_type(other.extension()),
        };
        Ok(Exported {
            bytes,
            width: size,
            height: size,
            content_type,
        })
    }

    /// A 72-frame turntable in one format, watermarked.
    async fn video(
        &self,
        ctx: &JobContext<'_>,
        input: &ExportInput,
        scene: atelier_render::Scene,
        mark: Option<Watermark>,
        timings: &mut Timings,
    ) -> Result<Exported, JobFailure> {
        let (w, h) = video_size(input.quality);
        let codec = match input.format() {
            ExportFormat::Webm => Codec::Vp9,
            ExportFormat::Gif => Codec::Gif,
            _ => Codec::H264,
        };
        let spec = EncodeSpec {
            codec,
            width: w,
            height: h,
            fps: 24,
            level: level(input.quality),
        };
        let shared = self.0.clone();
        let gpu = ctx
            .blocking(move || Ok(shared.renderer.upload(&scene)))
            .await?;
        let watermark = mark.map(|(mark, corner, opacity, frac)| {
            (mark.sized((w as f32 * frac) as u32), corner, opacity)
        });
        let job = VideoJob {
            frames: 72,
            design: &input.design,
            quality: input.quality,
            specs: vec![spec],
            watermark,
        };
        let encoded = encode_turntable(ctx, &self.0, gpu, job).await?;
        timings.0.insert("render".into(), encoded.render_ms);
        timings.0.insert("encode".into(), encoded.encode_ms);
        let path = &encoded.files[0].0;
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| JobFailure::retry(ErrorCode::Internal, format!("read output: {e}")))?;
        let (width, height) = spec.output_size();
        Ok(Exported {
            bytes,
            width,
            height,
            content_type: codec.content_type(),
        })
    }

    /// The one-page PDF sheet.
    async fn pdf(
        &self,
        ctx: &JobContext<'_>,
        input: &ExportInput,
        scene: atelier_render::Scene,
    ) -> Result<Exported, JobFailure> {
        ctx.report(30, "render").await?;
        let size = input.quality.still_size().min(2048);
        let shared = self.0.clone();
        let design = input.design.clone();
        let quality = input.quality;
        let turn = self.0.slot().await;
        let pdf = ctx
            .blocking(move || sheet(&shared, &design, scene, size, quality))
            .await?;
        drop(turn);
        Ok(Exported {
            bytes: pdf,
            width: 0,
            height: 0,
            content_type: "application/pdf",
        })
    }
}

/// The PDF sheet: front and back stills, the name, the items, swatches.
fn sheet(
    shared: &RenderShared,
    design: &atelier_jobs::Design,
    scene: atelier_render::Scene,
    size: u32,
    quality: Quality,
) -> Result<Vec<u8>, JobFailure> {
    let gpu = shared.renderer.upload(&scene);
    let on = flatten_on(design);
    let mut images = Vec::new();
    for preset in [CameraPreset::Front, CameraPreset::Back] {
        let cam = camera(&CameraSpec::Preset(preset), &scene.bounds, 0.75)?;
        let (w, h) = (size * 3 / 4, size);
        let frame = shared
            .renderer
            .render_once(
                &gpu,
                &FrameSpec {
                    width: w,
                    height: h,
                    camera: cam,
                    background: background(design),
                    lighting: lighting(design),
                    quality: render_quality(quality),
                },
            )
            .map_err(failure)?;
        images.push(SheetImage {
            label: preset.as_str().replace('_', " "),
            width: w,
            height: h,
            jpeg: atelier_media::encode_jpeg_on(w, h, &frame.rgba, on, 88),
        });
    }
    let mut lines = Vec::new();
    let mut swatches = Vec::new();
    for (i, item) in design.items.iter().enumerate() {
        let colour = item.material.base_colour.map(|c| c.rgb());
        lines.push(format!(
            "Item {}: {}{}",
            i + 1,
            item.source.describe(),
            colour
                .map(|c| format!(", colour #{:02x}{:02x}{:02x}", c[0], c[1], c[2]))
                .unwrap_or_default()
        ));
        if let Some(c) = colour {
            swatches.push((
                format!("Item {} #{:02x}{:02x}{:02x}", i + 1, c[0], c[1], c[2]),
                c,
            ));
        }
    }
    // The scene's own material colours (the models' base colours), as
    // swatches too, deduplicated.
    for mesh in &scene.meshes {
        let c = mesh.material.base_colour;
        let rgb = [0, 1, 2].map(|i| (linear_to_srgb(c[i]) * 255.0).round() as u8);
        let label = format!("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
        if mesh.material.base_colour_texture.is_none()
            && !swatches.iter().any(|(l, _)| l.ends_with(&label))
        {
            swatches.push((format!("Material {label}"), rgb));
        }
    }
    Ok(atelier_media::sheet_pdf(&Sheet {
        title: design.name.clone(),
        subtitle: format!(
            "Design {} - {} item(s), {} triangles",
            design.design_id,
            design.items.len(),
            scene.triangles()
        ),
        images,
        lines,
        swatches,
    }))
}

fn linear_to_srgb(c: f32) -> f32 {
    let c = c.clamp(0.0, 1.0);
    if c <= 0.0031308 {
        c * 12.92
    } else {
        1.055 * c.powf(1.0 / 2.4) - 0.055
    }
}
