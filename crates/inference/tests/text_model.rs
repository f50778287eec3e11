//! The real all-MiniLM-L6-v2 with its tokenizer: paraphrases land near each
//! other, unrelated sentences far. Needs scripts/fetch-models.sh.
use std::path::PathBuf;

use atelier_inference::{ModelManifest, Runtime, TEXT_DIM, TextEncoder, models_dir};

fn encoder() -> TextEncoder {
    let runtime = Runtime::load(&Runtime::default_dylib()).expect("run scripts/fetch-models.sh");
    let manifests = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let manifest = ModelManifest::load(&manifests.join("minilm.toml")).unwrap();
    let path = manifest.path(&manifests, &models_dir());
    TextEncoder::load(
        runtime,
        manifest,
        &path,
        &models_dir().join("tokenizer.json"),
        2,
    )
    .unwrap()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn paraphrases_are_nearer_than_unrelated_sentences() {
    let encoder = encoder();
    let v = encoder
        .embed(&[
            "red floral summer dress",
            "crimson flowery sundress",
            "the quarterly tax return is due on Monday",
        ])
        .unwrap();
    assert_eq!(v.len(), 3);
    for e in &v {
        assert_eq!(e.len(), TEXT_DIM);
        assert!((cosine(e, e) - 1.0).abs() < 1e-4, "unit length");
    }
    let near = cosine(&v[0], &v[1]);
    let far = cosine(&v[0], &v[2]);
    assert!(near > 0.4 && near > far + 0.3, "near {near}, far {far}");
    // Batched and alone give the same vector (padding is masked out).
    let alone = encoder.embed(&["crimson flowery sundress"]).unwrap();
    assert!(cosine(&alone[0], &v[1]) > 0.999);
}

#[test]
fn a_tampered_tokenizer_is_refused_by_name() {
    let runtime = Runtime::load(&Runtime::default_dylib()).unwrap();
    let manifests = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let manifest = ModelManifest::load(&manifests.join("minilm.toml")).unwrap();
    let path = manifest.path(&manifests, &models_dir());
    let dir = std::env::temp_dir().join(format!("atelier-tok-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fake = dir.join("tokenizer.json");
    std::fs::write(&fake, b"{}").unwrap();
    let error = TextEncoder::load(runtime, manifest, &path, &fake, 1)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        error.contains("all-MiniLM-L6-v2_int8") && error.contains("checksum"),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
