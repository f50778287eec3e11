//! Turntable benchmark: the bench design (the dress and the hat of
//! tests/data/models) rendered N frames around and encoded to H.264 by the
//! same code path as `render.turntable` (renderer → frames streamed into
//! `ffmpeg` from a feeder thread). Prints one JSON line: wall time, render
//! and encode split, per-frame render times, peak memory of this process and
//! of ffmpeg; writes the MP4, the front still (PNG) and the scene's camera
//! (JSON) that the peers reproduce.
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use atelier_render::{
    Background, Camera, FrameSpec, Item, Lighting, MaterialOverride, Placement, Quality, Renderer,
    Scene,
};
use atelier_video::{Codec, EncodeSpec, Encoder, Level};
use clap::Parser;
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 72)]
    frames: u32,
    #[arg(long, default_value_t = 1280)]
    width: u32,
    #[arg(long, default_value_t = 720)]
    height: u32,
    #[arg(long, default_value_t = 24)]
    fps: u32,
    /// Folder with dress.glb and hat.glb.
    #[arg(long, default_value = "tests/data/models")]
    models: PathBuf,
    /// Shadow map side (the `standard` quality's by default).
    #[arg(long, default_value_t = 2048)]
    shadow_map: u32,
    /// Shadow filter taps.
    #[arg(long, default_value_t = 16)]
    shadow_taps: u32,
    /// Where the MP4, the still and the camera go.
    #[arg(long, default_value = "target/render-bench")]
    out: PathBuf,
}

/// Peak resident memory of this process, in kB (ffmpeg's is the other
/// process `run.sh` measures with `time -v`).
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let start = Instant::now();
    let load = |name: &str| -> anyhow::Result<atelier_render::Model> {
        let bytes = std::fs::read(args.models.join(name)).with_context(|| name.to_owned())?;
        Ok(atelier_render::load(
            &bytes,
            &atelier_render::model::embedded_only,
            &Default::default(),
        )?)
    };
    let scene = Scene::compose(vec![
        Item {
            model: load("dress.glb")?,
            placement: Placement::default(),
            material: MaterialOverride::default(),
        },
        Item {
            model: load("hat.glb")?,
            placement: Placement {
                translation: [0.0, 1.42, 0.0],
                scale: [0.8; 3],
                ..Default::default()
            },
            material: MaterialOverride::default(),
        },
    ])?;
    let renderer = Renderer::new()?;
    let gpu = renderer.upload(&scene);
    let quality = Quality {
        shadow_map: args.shadow_map,
        shadow_taps: args.shadow_taps,
    };
    let target = renderer.target(args.width, args.height, quality)?;
    let setup_ms = start.elapsed().as_secs_f64() * 1e3;
    let aspect = args.width as f32 / args.height as f32;
    let spec_at = |azimuth: f32| FrameSpec {
        width: args.width,
        height: args.height,
        camera: Camera::framed(&scene.bounds, azimuth, aspect, true),
        background: Background::Solid([255, 255, 255]),
        lighting: Lighting::Studio,
        quality,
    };

    // The camera the peers reproduce (frame 0, the front).
    let cam = spec_at(0.0).camera;
    std::fs::write(
        args.out.join("camera.json"),
        serde_json::to_string_pretty(&json!({
            "eye": cam.eye.to_array(), "target": cam.target.to_array(),
            "fov_y_deg": cam.fov_y_deg, "near": cam.near, "far": cam.far,
            "ground_y": scene.bounds.min.y,
            "width": args.width, "height": args.height, "frames": args.frames,
        }))?,
    )?;

    let mp4 = args.out.join(format!("ours-{}p.mp4", args.height));
    let encoder = Encoder::start(
        std::path::Path::new("ffmpeg"),
        EncodeSpec {
            codec: Codec::H264,
            width: args.width,
            height: args.height,
            fps: args.fps,
            level: Level::Standard,
        },
        &mp4,
    )?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
    let feeder = std::thread::spawn(move || {
        let mut encoder = encoder;
        for frame in rx {
            encoder.push(&frame)?;
        }
        encoder.finish()
    });
    let loop_start = Instant::now();
    let mut frame_ms = Vec::with_capacity(args.frames as usize);
    for i in 0..args.frames {
        let t = Instant::now();
        let azimuth = i as f32 * 360.0 / args.frames as f32;
        let frame = renderer.render(&gpu, &target, &spec_at(azimuth))?;
        frame_ms.push(t.elapsed().as_secs_f64() * 1e3);
        if i == 0 {
            let png = atelier_media::encode_png(frame.width, frame.height, &frame.rgba, 4);
            std::fs::write(
                args.out.join(format!("ours-front-{}p.png", args.height)),
                png,
            )?;
        }
        tx.send(frame.rgba).ok();
    }
    drop(tx);
    let render_ms = loop_start.elapsed().as_secs_f64() * 1e3;
    let wait = Instant::now();
    let (_, bytes) = feeder.join().expect("feeder")?;
    let encode_tail_ms = wait.elapsed().as_secs_f64() * 1e3;
    let total_ms = start.elapsed().as_secs_f64() * 1e3;
    let mut sorted = frame_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let own_kb = peak_rss_kb();
    println!(
        "{}",
        json!({
            "system": "ours",
            "adapter": renderer.adapter(),
            "msaa": renderer.samples(),
            "width": args.width, "height": args.height, "frames": args.frames,
            "total_s": total_ms / 1e3,
            "setup_ms": setup_ms,
            "render_loop_s": render_ms / 1e3,
            "encode_tail_ms": encode_tail_ms,
            "frame_ms_mean": frame_ms.iter().sum::<f64>() / frame_ms.len() as f64,
            "frame_ms_p50": sorted[sorted.len() / 2],
            "frame_ms_max": sorted[sorted.len() - 1],
            "peak_rss_mb": own_kb as f64 / 1024.0,
            "mp4_bytes": bytes,
            "mp4": mp4,
        })
    );
    Ok(())
}
