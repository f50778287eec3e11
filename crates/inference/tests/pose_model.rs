//! The real BlazePose model through ONNX Runtime: a person where there is one,
//! none where there is not. Needs scripts/fetch-models.sh (the runtime).
use std::path::{Path, PathBuf};

use atelier_inference::{Model, ModelManifest, Runtime};
use ndarray::Array4;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn pose_model() -> Model {
    let runtime = Runtime::load(&Runtime::default_dylib()).expect("run scripts/fetch-models.sh");
    let manifest = ModelManifest::load(&repo("models/pose-full.toml")).unwrap();
    let path = manifest.path(&repo("models"), Path::new("/nonexistent"));
    Model::load(runtime, manifest, &path, 2).unwrap()
}

/// Letterbox into 256×256, RGB scaled to 0..1, NCHW.
fn tensor(photo: &str) -> Array4<f32> {
    let img = image::open(repo(photo)).unwrap().to_rgb8();
    let scale = 256.0 / img.width().max(img.height()) as f32;
    let (w, h) = (
        (img.width() as f32 * scale) as u32,
        (img.height() as f32 * scale) as u32,
    );
    let resized = image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle);
    let (ox, oy) = ((256 - w) / 2, (256 - h) / 2);
    let mut t = Array4::<f32>::zeros((1, 3, 256, 256));
    for (x, y, p) in resized.enumerate_pixels() {
        for c in 0..3 {
            t[[0, c, (y + oy) as usize, (x + ox) as usize]] = f32::from(p[c]) / 255.0;
        }
    }
    t
}

fn presence(model: &Model, photo: &str) -> f32 {
    let out = model
        .run_f32("input_1", tensor(photo).into_dyn().view())
        .unwrap();
    out["Identity_1"].iter().copied().next().unwrap()
}

/// The landmark model's own presence output, without the person detector
/// MediaPipe runs first: people score far above objects, but a cup still
/// scores 0.57, so the vision jobs decide who is a person with the person
/// detectors first (`workers/worker/src/vision/people.rs`), as MediaPipe's
/// own pipeline does.
#[test]
fn people_score_far_above_objects_on_the_raw_presence_output() {
    let model = pose_model();
    assert_eq!(model.input_names(), ["input_1"]);
    let people = [
        presence(&model, "samples/astronaut.png"),
        presence(&model, "samples/franz-kafka.jpg"),
    ];
    let objects = [
        presence(&model, "samples/coffee.png"),
        presence(&model, "samples/chelsea.png"),
    ];
    let lowest_person = people.iter().copied().fold(f32::MAX, f32::min);
    let highest_object = objects.iter().copied().fold(f32::MIN, f32::max);
    assert!(lowest_person > 0.9, "{people:?}");
    assert!(
        lowest_person > highest_object + 0.2,
        "people {people:?} objects {objects:?}"
    );
}

#[test]
fn a_missing_runtime_is_a_clear_error() {
    let err = Runtime::load(Path::new("/nonexistent/libonnxruntime.so"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("fetch-models"), "{err}");
}
