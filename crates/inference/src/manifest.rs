use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::InferenceError;

/// How the model's input is laid out and normalised.
#[derive(Debug, Clone, Deserialize)]
pub struct InputSpec {
    pub name: String,
    pub shape: Vec<toml::Value>,
    pub layout: String,
    pub normalisation: String,
}

/// One `models/*.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelManifest {
    pub name: String,
    pub version: String,
    pub file: String,
    pub sha256: String,
    /// `committed` (in the repository's `models/`) or `fetched` (by
    /// scripts/fetch-models.sh into the models cache).
    pub obtain: String,
    pub source: String,
    pub licence: String,
    pub input: InputSpec,
    pub outputs: BTreeMap<String, String>,
}

/// Where fetched models and the runtime live: `ATELIER_MODELS_DIR`, or
/// `~/.cache/atelier/models` as scripts/fetch-models.sh writes them.
pub fn models_dir() -> PathBuf {
    std::env::var_os("ATELIER_MODELS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/atelier/models"))
        })
        .unwrap_or_else(|| PathBuf::from(".cache/atelier/models"))
}

impl ModelManifest {
    pub fn load(path: &Path) -> Result<Self, InferenceError> {
        let model = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let fail = |message: String| InferenceError::Manifest {
            model: model.clone(),
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        toml::from_str(&text).map_err(|e| fail(e.to_string()))
    }

    /// The model file: next to the manifest when committed, in
    /// `fetched_dir` when fetched.
    pub fn path(&self, manifest_dir: &Path, fetched_dir: &Path) -> PathBuf {
        if self.obtain == "fetched" {
            fetched_dir.join(&self.file)
        } else {
            manifest_dir.join(&self.file)
        }
    }

    /// Check the file exists and has the manifest's checksum.
    pub fn verify(&self, path: &Path) -> Result<(), InferenceError> {
        verify_file(&self.name, path, &self.sha256)
    }
}

/// Check `path` has SHA-256 `expected`; errors name `model`.
pub fn verify_file(model: &str, path: &Path, expected: &str) -> Result<(), InferenceError> {
    let mut file = std::fs::File::open(path).map_err(|_| InferenceError::Missing {
        model: model.to_owned(),
        path: path.to_owned(),
    })?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|_| InferenceError::Missing {
            model: model.to_owned(),
            path: path.to_owned(),
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let actual = hex::encode(hasher.finalize());
    if actual != expected {
        return Err(InferenceError::Checksum {
            model: model.to_owned(),
            path: path.to_owned(),
            expected: expected.to_owned(),
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_models() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models")
    }

    #[test]
    fn every_shipped_manifest_parses_and_committed_files_verify() {
        let mut seen = Vec::new();
        // The operator-installed models under optional/ are manifests too.
        for dir in [repo_models(), repo_models().join("optional")] {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_none_or(|e| e != "toml") {
                    continue;
                }
                let m = ModelManifest::load(&path).unwrap();
                assert_eq!(m.sha256.len(), 64, "{}", m.name);
                assert!(!m.outputs.is_empty() && !m.licence.is_empty(), "{}", m.name);
                if m.obtain == "committed" {
                    m.verify(&m.path(&repo_models(), Path::new("/nonexistent")))
                        .unwrap();
                }
                seen.push(
                    path.strip_prefix(repo_models())
                        .unwrap()
                        .display()
                        .to_string(),
                );
            }
        }
        seen.sort();
        assert_eq!(
            seen,
            [
                "efficientnet-lite0.toml",
                "face-detect-full.toml",
                "face-detect-short.toml",
                "face-mesh.toml",
                "minilm.toml",
                "nanodet.toml",
                "optional/isnet.toml",
                "pose-detect.toml",
                "pose-full.toml",
                "pose-lite.toml",
            ]
        );
    }

    #[test]
    fn a_wrong_checksum_or_missing_file_names_the_model() {
        let m = ModelManifest::load(&repo_models().join("pose-lite.toml")).unwrap();
        let path = m.path(&repo_models(), Path::new("/nonexistent"));
        let err = verify_file(&m.name, &path, &"0".repeat(64))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mediapipe_pose_landmark_lite") && err.contains("checksum"),
            "{err}"
        );
        let err = verify_file(&m.name, Path::new("/nonexistent/x.onnx"), &m.sha256)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing") && err.contains("mediapipe_pose_landmark_lite"),
            "{err}"
        );
    }
}
