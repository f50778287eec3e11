//! The models a vision worker holds: verified against their manifests and
//! warmed up at start-up, so a missing or corrupt model stops the worker with
//! an error naming it instead of failing jobs later.
use std::path::PathBuf;

use atelier_config::ModelsConfig;
use atelier_inference::{InferenceError, Model, ModelManifest, Runtime};

pub struct VisionModels {
    pub pose: Model,
}

impl VisionModels {
    pub fn load(config: &ModelsConfig) -> Result<Self, InferenceError> {
        let dir = config
            .dir
            .clone()
            .unwrap_or_else(atelier_inference::models_dir);
        let dylib = std::env::var_os("ORT_DYLIB_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| dir.join("libonnxruntime.so.1.31.1"));
        let runtime = Runtime::load(&dylib)?;
        let manifest = ModelManifest::load(&config.manifests.join("pose-full.toml"))?;
        let path = manifest.path(&config.manifests, &dir);
        let pose = Model::load(runtime, manifest, &path, config.threads as usize)?;
        // Warm-up: the first run allocates and plans; pay it before any job.
        let zeros = vec![0f32; 3 * 256 * 256];
        let view = ndarray::ArrayViewD::from_shape(vec![1, 3, 256, 256], &zeros).expect("shape");
        pose.run_f32("input_1", view)?;
        tracing::info!(
            model = pose.manifest.name,
            version = pose.manifest.version,
            "model loaded and warm"
        );
        Ok(VisionModels { pose })
    }
}
