//! `render.turntable`: the design turned a full circle in N frames at a
//! constant step (frame i at i·360°/N, so the loop has no repeated frame),
//! framed once for every angle, each frame streamed into one `ffmpeg` per
//! output (MP4/H.264, WebM/VP9, an animated WebP preview) while the next is
//! drawn. Two resumable stages: `render` (frames and encoding; outputs kept
//! under the job's stage keys) and `publish` (copied to
//! `designs/renders/{userId}/{designId}/turntable.{ext}`), so a worker killed
//! after encoding does not render again.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use atelier_jobs::design::{Quality, VideoFormat};
use atelier_jobs::{
    ErrorCode, JobKind, RendererInfo, StoredVideo, TurntableInput, TurntableResult,
};
use atelier_render::{Background, Camera, FrameSpec};
use atelier_runtime::{Handler, JobContext, JobFailure, StageSpec};
use atelier_video::{Codec, EncodeSpec, Encoder, Level, VideoError};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    RenderShared, Timings, background, design::hydrate, failure, lighting, render_quality,
};

pub struct Turntable(pub Arc<RenderShared>);

/// Each run's encoder outputs go to a temporary directory named so.
pub const WORK_DIR_PREFIX: &str = "atelier-turntable-";

/// State of the `render` stage: the encoded outputs under stage keys.
#[derive(Serialize, Deserialize)]
struct Rendered {
    videos: Vec<StoredVideo>,
    triangles: u64,
    renderer: RendererInfo,
    timings_ms: BTreeMap<String, u64>,
}

fn codec(format: VideoFormat) -> Codec {
    match format {
        VideoFormat::Mp4 => Codec::H264,
        VideoFormat::Webm => Codec::Vp9,
        VideoFormat::Webp => Codec::WebpPreview,
        VideoFormat::Gif => Codec::Gif,
    }
}

pub fn level(quality: Quality) -> Level {
    match quality {
        Quality::Draft => Level::Draft,
        Quality::Standard => Level::Standard,
        Quality::High => Level::High,
        Quality::Ultra => Level::Ultra,
    }
}

fn encode_failure(error: VideoError) -> JobFailure {
    JobFailure::retry(ErrorCode::VideoEncodeFailed, error.to_string())
}

/// The azimuth of frame `i` of `n`: a constant step, 0 (the front) first,
/// never 360 (that would repeat frame 0 when the video loops).
pub fn azimuth_deg(i: u32, n: u32) -> f32 {
    (f64::from(i) * 360.0 / f64::from(n)) as f32
}

#[async_trait::async_trait]
impl Handler for Turntable {
    fn kind(&self) -> JobKind {
        JobKind::RenderTurntable
    }

    async fn run(&self, ctx: &JobContext<'_>) -> Result<serde_json::Value, JobFailure> {
        let input: TurntableInput = ctx.input()?;
        let mut stages = ctx
            .stages(vec![
                StageSpec::new("render", 1),
                StageSpec::new("publish", 1),
            ])
            .await?;
        let stage_keys: Vec<String> = input
            .formats
            .iter()
            .map(|f| stages.key("render", &format!("turntable.{}", f.extension())))
            .collect();
        let rendered: Rendered = stages
            .run("render", || self.render(ctx, &input, &stage_keys))
            .await?;
        let prefix = format!(
            "designs/renders/{}/{}",
            ctx.job().user_id,
            input.design.design_id
        );
        let start = Instant::now();
        let videos: Vec<StoredVideo> = stages
            .run("publish", || async {
                let mut published = Vec::new();
                for video in &rendered.videos {
                    let bytes = ctx.storage().get(&video.key).await?;
                    let key = format!("{prefix}/turntable.{}", video.format);
                    ctx.put(&key, bytes, atelier_storage::content_type(&video.format))
                        .await?;
                    published.push(StoredVideo {
                        key,
                        ..video.clone()
                    });
                }
                Ok(published)
            })
            .await?;
        let mut timings = rendered.timings_ms;
        timings.insert("store".into(), start.elapsed().as_millis() as u64);
        let result = TurntableResult {
            design_id: input.design.design_id,
            frames: input.frames,
            fps: input.fps,
            step_deg: 360.0 / f64::from(input.frames),
            videos,
            triangles: rendered.triangles,
            renderer: rendered.renderer,
            timings_ms: timings,
        };
        let result = serde_json::to_value(result).expect("results serialise");
        atelier_db::jobs::complete(ctx.pool(), ctx.fence(), &result).await?;
        Ok(result)
    }
}

impl Turntable {
    async fn render(
        &self,
        ctx: &JobContext<'_>,
        input: &TurntableInput,
        stage_keys: &[String],
    ) -> Result<Rendered, JobFailure> {
        let mut timings = Timings::default();
        let start = Instant::now();
        let scene = hydrate(ctx, &self.0, &input.design).await?;
        let triangles = scene.triangles();
        let shared = self.0.clone();
        let gpu = ctx
            .blocking(move || Ok(shared.renderer.upload(&scene)))
            .await?;
        timings.since("load", start);

        let specs = specs_of(input);
        let video = VideoJob {
            frames: input.frames,
            design: &input.design,
            quality: input.quality,
            specs: specs.clone(),
            watermark: None,
        };
        let encoded = encode_turntable(ctx, &self.0, gpu, video).await?;
        timings.0.insert("render".into(), encoded.render_ms);
        timings.0.insert("encode".into(), encoded.encode_ms);

        let frames = input.frames;
        let mut videos = Vec::new();
        for (((format, spec), (path, bytes)), key) in input
            .formats
            .iter()
            .zip(&specs)
            .zip(&encoded.files)
            .zip(stage_keys)
        {
            let data = tokio::fs::read(path)
                .await
                .map_err(|e| JobFailure::retry(ErrorCode::Internal, format!("read output: {e}")))?;
            ctx.put(key, Bytes::from(data), spec.codec.content_type())
                .await?;
            let (out_width, out_height) = spec.output_size();
            videos.push(StoredVideo {
                key: key.clone(),
                format: format.extension().to_owned(),
                codec: spec.codec.name().to_owned(),
                width: out_width,
                height: out_height,
                frames: spec.output_frames(frames),
                fps: spec.output_fps(),
                duration_s: f64::from(frames) / f64::from(input.fps),
                bytes: *bytes,
                url: None,
            });
        }
        Ok(Rendered {
            videos,
            triangles,
            renderer: self.0.info(),
            timings_ms: timings.0,
        })
    }
}

/// A logo laid over every frame: the scaled logo, where, how opaque.
pub type FrameWatermark = (atelier_media::Logo, atelier_media::Corner, f32);

/// What to turn and encode.
pub struct VideoJob<'a> {
    pub frames: u32,
    pub design: &'a atelier_jobs::Design,
    pub quality: Quality,
    /// One `ffmpeg` per spec; all share the first spec's size and rate.
    pub specs: Vec<EncodeSpec>,
    pub watermark: Option<FrameWatermark>,
}

/// Encoded outputs in a work directory removed when this is dropped.
pub struct Encoded {
    /// Removes the outputs when the run is done with them.
    pub _dir: tempfile::TempDir,
    /// Path and size of each spec's output, in order.
    pub files: Vec<(PathBuf, u64)>,
    pub render_ms: u64,
    /// Waiting on the encoders after the last frame was drawn.
    pub encode_ms: u64,
}

/// Turn `gpu` a full circle in `job.frames` frames and stream every frame
/// into one `ffmpeg` per spec, reporting frames done (every 6) as progress
/// and stopping within a frame when the job is cancelled or its lease lost.
pub async fn encode_turntable(
    ctx: &JobContext<'_>,
    shared: &Arc<RenderShared>,
    gpu: atelier_render::GpuScene,
    job: VideoJob<'_>,
) -> Result<Encoded, JobFailure> {
    let first = job
        .specs
        .first()
        .copied()
        .ok_or_else(|| JobFailure::abort(ErrorCode::RequestInvalid, "no output format"))?;
    let (width, height) = (first.width, first.height);
    let frames = job.frames;
    // Videos have no alpha: a transparent design turns on white.
    let background = match background(job.design) {
        Background::Transparent => Background::Solid([255, 255, 255]),
        solid => solid,
    };
    let base = FrameSpec {
        width,
        height,
        camera: Camera::framed(gpu.bounds(), 0.0, 1.0, true),
        background,
        lighting: lighting(job.design),
        quality: render_quality(job.quality),
    };
    let dir = tempfile::Builder::new()
        .prefix(WORK_DIR_PREFIX)
        .tempdir()
        .map_err(|e| JobFailure::retry(ErrorCode::Internal, format!("temp dir: {e}")))?;
    let paths: Vec<PathBuf> = job
        .specs
        .iter()
        .map(|s| {
            dir.path()
                .join(format!("turntable.{}", s.codec.extension()))
        })
        .collect();

    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<u32>();
    let stop = Arc::new(AtomicBool::new(false));
    let stop_render = stop.clone();
    let renderer_shared = shared.clone();
    let ffmpeg = shared.config.ffmpeg.clone();
    let encode_paths = paths.clone();
    let specs = job.specs.clone();
    let watermark = job.watermark;
    let work = ctx.blocking(move || {
        let renderer = &renderer_shared.renderer;
        let target = renderer
            .target(width, height, base.quality)
            .map_err(failure)?;
        let encoders = specs
            .iter()
            .zip(&encode_paths)
            .map(|(spec, path)| Encoder::start(&ffmpeg, *spec, path))
            .collect::<Result<Vec<_>, _>>()
            .map_err(encode_failure)?;
        // Frames stream to the encoders from a feeder thread, so the next
        // frame is drawn while ffmpeg encodes this one.
        let (frame_tx, frame_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
        let feeder = std::thread::spawn(move || {
            let mut encoders = encoders;
            for frame in frame_rx {
                for encoder in &mut encoders {
                    encoder.push(&frame)?;
                }
            }
            Ok::<_, VideoError>(encoders)
        });
        let render_start = Instant::now();
        let aspect = width as f32 / height as f32;
        for i in 0..frames {
            if stop_render.load(Ordering::Relaxed) {
                // Cancelled or the lease lost: the encoders are killed
                // when the feeder drops them.
                return Err(JobFailure::Stale);
            }
            let spec = FrameSpec {
                camera: Camera::framed(gpu.bounds(), azimuth_deg(i, frames), aspect, true),
                ..base
            };
            let mut frame = renderer.render(&gpu, &target, &spec).map_err(failure)?;
            if let Some((logo, corner, opacity)) = &watermark {
                logo.overlay(&mut frame.rgba, width, height, *corner, *opacity);
            }
            if frame_tx.send(frame.rgba).is_err() {
                break; // the feeder stopped: its error is below
            }
            let _ = done_tx.send(i + 1);
        }
        drop(frame_tx);
        let render_ms = render_start.elapsed().as_millis() as u64;
        let wait = Instant::now();
        let encoders = feeder
            .join()
            .map_err(|_| JobFailure::retry(ErrorCode::Internal, "encoder feeder panicked"))?
            .map_err(encode_failure)?;
        let sizes = encoders
            .into_iter()
            .map(|e| e.finish().map(|(_, bytes)| bytes))
            .collect::<Result<Vec<u64>, _>>()
            .map_err(encode_failure)?;
        Ok((sizes, render_ms, wait.elapsed().as_millis() as u64))
    });
    let progress = async {
        while let Some(done) = done_rx.recv().await {
            if done % 6 != 0 && done != frames {
                continue;
            }
            let percent = (5 + 85 * done / frames) as i16;
            let data = json!({"frames_done": done, "frames": frames});
            if let Err(e) = ctx.report_with(percent, "render", data).await {
                stop.store(true, Ordering::Relaxed);
                return Err(e);
            }
        }
        Ok(())
    };
    let turn = shared.slot().await;
    let (work, progress) = tokio::join!(work, progress);
    drop(turn);
    progress?;
    let (sizes, render_ms, encode_ms) = work?;
    Ok(Encoded {
        _dir: dir,
        files: paths.into_iter().zip(sizes).collect(),
        render_ms,
        encode_ms,
    })
}

fn specs_of(input: &TurntableInput) -> Vec<EncodeSpec> {
    let (width, height) = input.resolution.size();
    input
        .formats
        .iter()
        .map(|f| EncodeSpec {
            codec: codec(*f),
            width,
            height,
            fps: input.fps,
            level: level(input.quality),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::azimuth_deg;

    #[test]
    fn frames_step_evenly_and_never_repeat_the_first() {
        for n in [24, 36, 72] {
            let step = 360.0 / n as f32;
            for i in 0..n {
                assert!((azimuth_deg(i, n) - i as f32 * step).abs() < 1e-3);
            }
            assert!(azimuth_deg(n - 1, n) < 360.0 - step / 2.0);
        }
    }
}
