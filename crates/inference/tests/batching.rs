//! Cross-job micro-batching on the real EfficientNet-Lite0: concurrent
//! callers share one run, and each gets exactly the outputs it would have
//! got alone.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use atelier_inference::{BatchedModel, Model, ModelManifest, Runtime};

fn classifier() -> Model {
    let runtime = Runtime::load(&Runtime::default_dylib()).expect("run scripts/fetch-models.sh");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let manifest = ModelManifest::load(&dir.join("efficientnet-lite0.toml")).unwrap();
    let path = manifest.path(&dir, Path::new("/nonexistent"));
    Model::load(runtime, manifest, &path, 2).unwrap()
}

/// A different, deterministic input per item.
fn item(seed: usize) -> Vec<f32> {
    (0..3 * 224 * 224)
        .map(|i| (((i * 31 + seed * 977) % 255) as f32 / 127.5) - 1.0)
        .collect()
}

#[test]
fn concurrent_items_share_a_run_and_get_their_own_rows() {
    // Expected outputs, one item at a time on a separate session.
    let alone = classifier();
    let expected: Vec<Vec<f32>> = (0..4)
        .map(|seed| {
            let input = item(seed);
            let view = ndarray::ArrayViewD::from_shape(vec![1, 3, 224, 224], &input).unwrap();
            alone.run_f32("input", view).unwrap()["logits"]
                .iter()
                .copied()
                .collect()
        })
        .collect();

    let batched = Arc::new(BatchedModel::spawn(
        classifier(),
        "input",
        &[3, 224, 224],
        4,
        // Generous: the batch closes as soon as all four arrive.
        Duration::from_secs(2),
    ));
    let threads: Vec<_> = (0..4)
        .map(|seed| {
            let batched = batched.clone();
            std::thread::spawn(move || batched.run(item(seed)).unwrap())
        })
        .collect();
    let outputs: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        batched.stats.runs.load(Ordering::Relaxed),
        1,
        "one run for four jobs"
    );
    assert_eq!(batched.stats.items.load(Ordering::Relaxed), 4);
    for (seed, out) in outputs.iter().enumerate() {
        assert_eq!(out["embedding"].len(), 1280);
        let logits = &out["logits"];
        assert_eq!(logits.len(), 1000);
        let worst = logits
            .iter()
            .zip(&expected[seed])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-3, "item {seed} differs by {worst}");
    }
    // A lone item runs after the delay, alone; a wrong size is refused.
    batched.run(item(9)).unwrap();
    assert_eq!(batched.stats.runs.load(Ordering::Relaxed), 2);
    assert!(batched.run(vec![0.0; 10]).is_err());
}

#[test]
fn a_pool_of_sessions_serves_concurrent_callers_with_equal_results() {
    let runtime = Runtime::load(&Runtime::default_dylib()).unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let manifest = ModelManifest::load(&dir.join("efficientnet-lite0.toml")).unwrap();
    let path = manifest.path(&dir, Path::new("/nonexistent"));
    let pool = Arc::new(Model::load_pool(runtime, manifest, &path, 1, 2).unwrap());
    pool.warm_up("input", &[1, 3, 224, 224]).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|seed| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let input = item(seed % 2);
                let mut last = Vec::new();
                for _ in 0..5 {
                    let view =
                        ndarray::ArrayViewD::from_shape(vec![1, 3, 224, 224], &input).unwrap();
                    last = pool.run_f32("input", view).unwrap()["logits"]
                        .iter()
                        .copied()
                        .collect::<Vec<f32>>();
                }
                last
            })
        })
        .collect();
    let out: Vec<Vec<f32>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    // The same input gives the same logits whichever session ran it.
    for (a, b) in [(0, 2), (1, 3)] {
        let worst = out[a]
            .iter()
            .zip(&out[b])
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-4, "{worst}");
    }
    assert_ne!(out[0], out[1]);
    // Four callers on two sessions: two runs really went at once, never more.
    assert_eq!(pool.peak_concurrency(), 2);
}
