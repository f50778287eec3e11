//! The model path of each vision job, timed the way the worker runs it
//! (decode → letterbox → run → decode outputs), next to the bare model time
//! on a ready tensor; micro-batching throughput of the classifier; and the
//! similarity index at 100k items. `benches/vision.sh` runs it beside the
//! same models in Python onnxruntime. Prints one JSON object per line.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use atelier_inference::{BatchedModel, Model, ModelManifest, Runtime, TextEncoder};
use atelier_media::{IngestOptions, RgbPhoto, decode_rgb};
use atelier_vision::face::{DETECT_SIZE, MESH_SIZE, best_face, mesh_points};
use atelier_vision::garments::{softmax, tag_garments};
use atelier_vision::{decode_pose, letterbox_tensor, upsample_mask};
use clap::{Parser, Subcommand};
use serde_json::json;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Per-model latency of the job path vs the bare model, and batching.
    Models {
        #[arg(long, default_value = "samples/astronaut.png")]
        photo: PathBuf,
        #[arg(long, default_value_t = 30)]
        iterations: usize,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        #[arg(long, default_value = "models")]
        manifests: PathBuf,
    },
    /// The person-finding models and the mask's guided filter on a photo
    /// with people in it.
    People {
        #[arg(long, default_value = "tests/data/eval/photos/pair-kafka-hopper.jpg")]
        photo: PathBuf,
        #[arg(long, default_value_t = 20)]
        iterations: usize,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        #[arg(long, default_value = "models")]
        manifests: PathBuf,
    },
    /// Build an index of N random unit vectors and time queries.
    Search {
        #[arg(long, default_value_t = 100_000)]
        items: usize,
        #[arg(long, default_value_t = 1280)]
        dim: usize,
        #[arg(long, default_value_t = 50)]
        queries: usize,
    },
}

fn median_ms(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

fn percentile_ms(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i].as_secs_f64() * 1000.0
}

fn time<T>(iterations: usize, mut f: impl FnMut() -> T) -> f64 {
    f(); // warm
    median_ms(
        (0..iterations)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn load(manifests: &Path, file: &str, threads: usize) -> anyhow::Result<Model> {
    let dir = atelier_inference::models_dir();
    let runtime = Runtime::from_dir(&dir)?;
    let manifest = ModelManifest::load(&manifests.join(file))?;
    let path = manifest.path(manifests, &dir);
    Ok(Model::load(runtime, manifest, &path, threads)?)
}

fn tensor(photo: &RgbPhoto, size: u32, norm: (f32, f32)) -> Vec<f32> {
    letterbox_tensor(&photo.data, photo.width, photo.height, None, size, norm).0
}

fn run(model: &Model, input: &str, size: u32, data: &[f32]) -> anyhow::Result<()> {
    let s = size as usize;
    let view = ndarray::ArrayViewD::from_shape(vec![1, 3, s, s], data)?;
    model.run_f32(input, view)?;
    Ok(())
}

fn report(model: &str, bare: f64, full: f64, decode: f64) {
    println!(
        "{}",
        json!({"impl": "atelier", "model": model, "bare_ms": bare, "job_path_ms": full,
               "overhead_pct": (full - bare) / bare * 100.0,
               "overhead_after_decode_pct": (full - decode - bare) / bare * 100.0})
    );
}

fn models(photo: &Path, iterations: usize, threads: usize, manifests: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(photo).with_context(|| format!("{}", photo.display()))?;
    let options = IngestOptions::default();
    let decoded = decode_rgb(&bytes, &options)?;
    let decode = time(iterations, || decode_rgb(&bytes, &options).unwrap());
    println!("{}", json!({"impl": "atelier", "decode_ms": decode}));

    // Pose (and segmentation, which adds the full-resolution mask).
    let pose = load(manifests, "pose-full.toml", threads)?;
    let t = tensor(&decoded, 256, (1.0, 0.0));
    let bare = time(iterations, || run(&pose, "input_1", 256, &t).unwrap());
    let full = time(iterations, || {
        let photo = decode_rgb(&bytes, &options).unwrap();
        let (t, lb) = letterbox_tensor(
            &photo.data,
            photo.width,
            photo.height,
            None,
            256,
            (1.0, 0.0),
        );
        let view = ndarray::ArrayViewD::from_shape(vec![1, 3, 256, 256], &t).unwrap();
        let out = pose.run_f32("input_1", view).unwrap();
        let presence = out["Identity_1"].iter().copied().next().unwrap_or(0.0);
        let mask = out["Identity_2"].as_slice().unwrap();
        let decoded = decode_pose(out["Identity"].as_slice().unwrap(), presence, mask, &lb);
        let person = upsample_mask(mask, &lb, photo.width, photo.height);
        (decoded, person)
    });
    report("pose_full (+ mask at photo size)", bare, full, decode);

    // Classifier (tag, embed).
    let classifier = load(manifests, "efficientnet-lite0.toml", threads)?;
    let t = tensor(&decoded, 224, (2.0, -1.0));
    let bare = time(iterations, || run(&classifier, "input", 224, &t).unwrap());
    let full = time(iterations, || {
        let photo = decode_rgb(&bytes, &options).unwrap();
        let t = tensor(&photo, 224, (2.0, -1.0));
        let view = ndarray::ArrayViewD::from_shape(vec![1, 3, 224, 224], &t).unwrap();
        let out = classifier.run_f32("input", view).unwrap();
        tag_garments(&softmax(out["logits"].as_slice().unwrap()))
    });
    report("efficientnet_lite0", bare, full, decode);

    // Face detection + mesh (skin tone).
    let detect = load(manifests, "face-detect-short.toml", threads)?;
    let mesh = load(manifests, "face-mesh.toml", threads)?;
    let (t, lb) = letterbox_tensor(
        &decoded.data,
        decoded.width,
        decoded.height,
        None,
        DETECT_SIZE,
        (2.0, -1.0),
    );
    // The mesh's run time depends on its input: time it on the real crop.
    let view = ndarray::ArrayViewD::from_shape(vec![1, 3, 128, 128], &t)?;
    let out = detect.run_f32("input", view)?;
    let face = best_face(
        out["regressors"].as_slice().unwrap(),
        out["classificators"].as_slice().unwrap(),
        &lb,
    )
    .context("a face in the benchmark photo")?;
    let m = face
        .mesh_crop()
        .tensor(&decoded.data, decoded.width, decoded.height, (1.0, 0.0));
    let bare = time(iterations, || {
        run(&detect, "input", DETECT_SIZE, &t).unwrap();
        run(&mesh, "input_1", MESH_SIZE, &m).unwrap();
    });
    let full = time(iterations, || {
        let photo = decode_rgb(&bytes, &options).unwrap();
        let (t, lb) = letterbox_tensor(
            &photo.data,
            photo.width,
            photo.height,
            None,
            128,
            (2.0, -1.0),
        );
        let view = ndarray::ArrayViewD::from_shape(vec![1, 3, 128, 128], &t).unwrap();
        let out = detect.run_f32("input", view).unwrap();
        let face = best_face(
            out["regressors"].as_slice().unwrap(),
            out["classificators"].as_slice().unwrap(),
            &lb,
        )
        .expect("a face in the benchmark photo");
        let crop = face.mesh_crop();
        let t = crop.tensor(&photo.data, photo.width, photo.height, (1.0, 0.0));
        let view = ndarray::ArrayViewD::from_shape(vec![1, 3, 192, 192], &t).unwrap();
        let out = mesh.run_f32("input_1", view).unwrap();
        let points = mesh_points(out["conv2d_20"].as_slice().unwrap(), &crop);
        atelier_vision::skin::sample_skin(&photo.data, photo.width, photo.height, &points)
    });
    report("face_detect + face_mesh", bare, full, decode);

    // Text.
    let dir = atelier_inference::models_dir();
    let text = TextEncoder::from_dirs(manifests, &dir, threads)?;
    let full = time(iterations, || {
        text.embed(&["red floral summer dress"]).unwrap()
    });
    println!(
        "{}",
        json!({"impl": "atelier", "model": "minilm (tokenize + run + pool)", "job_path_ms": full})
    );

    // Micro-batching: the classifier fed by 8 concurrent jobs.
    for max_batch in [1usize, 4, 8] {
        let batched = Arc::new(BatchedModel::spawn(
            load(manifests, "efficientnet-lite0.toml", threads)?,
            "input",
            &[3, 224, 224],
            max_batch,
            Duration::from_millis(5),
        ));
        let items = 64;
        let t = Arc::new(tensor(&decoded, 224, (2.0, -1.0)));
        batched.run(t.to_vec())?;
        let started = Instant::now();
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let (b, t) = (batched.clone(), t.clone());
                std::thread::spawn(move || {
                    for _ in 0..items / 8 {
                        b.run(t.to_vec()).unwrap();
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().expect("worker thread");
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{}",
            json!({"impl": "atelier", "model": "efficientnet_lite0 batched", "max_batch": max_batch,
                   "concurrent_jobs": 8, "images_per_s": items as f64 / secs})
        );
    }
    Ok(())
}

/// What finding people costs on top of the landmark model: NanoDet on the
/// whole photo, the BlazePose detector per candidate, and the guided filter
/// that refines the mask at the photo's resolution (and at 12 megapixels).
fn people(photo: &Path, iterations: usize, threads: usize, manifests: &Path) -> anyhow::Result<()> {
    use atelier_vision::person::{DETECTOR_SIZE, NANODET_SIZE, nanodet_normalise};
    let bytes = std::fs::read(photo).with_context(|| format!("{}", photo.display()))?;
    let decoded = decode_rgb(&bytes, &IngestOptions::default())?;
    let nanodet = load(manifests, "nanodet.toml", threads)?;
    let detector = load(manifests, "pose-detect.toml", threads)?;
    let mut t = tensor(&decoded, NANODET_SIZE, (255.0, 0.0));
    nanodet_normalise(&mut t);
    let ms = time(iterations, || {
        run(&nanodet, "input_1:0", NANODET_SIZE, &t).unwrap()
    });
    println!(
        "{}",
        json!({"impl": "atelier", "model": "nanodet_coco", "bare_ms": ms})
    );
    let t = tensor(&decoded, DETECTOR_SIZE, (2.0, -1.0));
    let ms = time(iterations, || {
        run(&detector, "input", DETECTOR_SIZE, &t).unwrap()
    });
    println!(
        "{}",
        json!({"impl": "atelier", "model": "mediapipe_pose_detection", "bare_ms": ms})
    );
    // The filter's cost depends on the photo's size, not its content.
    let alpha: Vec<u8> = (0..decoded.width * decoded.height)
        .map(|i| {
            if (i % decoded.width) < decoded.width / 2 {
                255
            } else {
                0
            }
        })
        .collect();
    let ms = time(iterations, || {
        atelier_vision::refine_mask(&decoded.data, decoded.width, decoded.height, &alpha)
    });
    println!(
        "{}",
        json!({"impl": "atelier", "step": "guided_filter", "width": decoded.width,
               "height": decoded.height, "ms": ms})
    );
    let (w, h) = (4000u32, 3000u32);
    let big: Vec<u8> = (0..w * h * 3).map(|i| (i % 251) as u8).collect();
    let alpha: Vec<u8> = (0..w * h)
        .map(|i| if i % w < w / 2 { 255 } else { 0 })
        .collect();
    let ms = time(iterations.min(5), || {
        atelier_vision::refine_mask(&big, w, h, &alpha)
    });
    println!(
        "{}",
        json!({"impl": "atelier", "step": "guided_filter", "width": w, "height": h, "ms": ms})
    );
    Ok(())
}

fn search(items: usize, dim: usize, queries: usize) -> anyhow::Result<()> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut unit = || {
        let mut v: Vec<f32> = (0..dim)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= n);
        v
    };
    let mut index = atelier_search::VectorIndex::new(dim);
    let started = Instant::now();
    for i in 0..items {
        index.push(uuid::Uuid::from_u128(i as u128), &unit())?;
    }
    let build = started.elapsed().as_secs_f64();
    let mut samples = Vec::with_capacity(queries);
    for _ in 0..queries {
        let q = unit();
        let t = Instant::now();
        std::hint::black_box(index.search(&q, 10, |_| true)?);
        samples.push(t.elapsed());
    }
    println!(
        "{}",
        json!({"impl": "atelier", "search_items": items, "dim": dim, "build_s": build,
               "memory_mb": index.memory_bytes() as f64 / 1e6,
               "query_p50_ms": percentile_ms(&mut samples, 0.5),
               "query_p99_ms": percentile_ms(&mut samples, 0.99)})
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().mode {
        Mode::Models {
            photo,
            iterations,
            threads,
            manifests,
        } => models(&photo, iterations, threads, &manifests),
        Mode::People {
            photo,
            iterations,
            threads,
            manifests,
        } => people(&photo, iterations, threads, &manifests),
        Mode::Search {
            items,
            dim,
            queries,
        } => search(items, dim, queries),
    }
}
