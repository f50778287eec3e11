//! The models a vision worker holds: verified against their manifests and
//! warmed up at start-up, so a missing or corrupt model stops the worker with
//! an error naming it instead of failing jobs later.
use atelier_config::ModelsConfig;
use atelier_inference::{BatchedModel, InferenceError, Model, ModelManifest, Runtime, TextEncoder};

/// ISNet's input side.
pub const ISNET_SIZE: u32 = 1024;

pub struct VisionModels {
    /// NanoDet (COCO): person candidates over the whole photo.
    pub person_boxes: Model,
    /// MediaPipe's BlazePose person detector: confirms each candidate and
    /// places the landmark model's crop.
    pub pose_detect: Model,
    /// BlazePose full: keypoints, presence and the person mask.
    pub pose: Model,
    /// EfficientNet-Lite0: ImageNet logits and a 1280-d embedding. Its graph
    /// takes a batch, so jobs share runs (cross-job micro-batching); the
    /// MediaPipe graphs are fixed at batch 1 and run per job.
    pub classifier: BatchedModel,
    /// BlazeFace short range: the face on a crop around a person's head.
    pub face_detect: Model,
    /// BlazeFace full range: small faces anywhere in the photo.
    pub face_detect_full: Model,
    /// The 468-point face mesh.
    pub face_mesh: Model,
    /// all-MiniLM-L6-v2: 384-d sentence embeddings.
    pub text: TextEncoder,
    /// ISNet, when an operator installed it and chose it for segmentation.
    pub isnet: Option<Model>,
}

impl VisionModels {
    pub fn load(config: &ModelsConfig) -> Result<Self, InferenceError> {
        let dir = config
            .dir
            .clone()
            .unwrap_or_else(atelier_inference::models_dir);
        let runtime = Runtime::from_dir(&dir)?;
        let load = |manifest: &str, input: &str, shape: [usize; 4], sessions: u32| {
            let manifest = ModelManifest::load(&config.manifests.join(manifest))?;
            let path = manifest.path(&config.manifests, &dir);
            let model = Model::load_pool(
                runtime,
                manifest,
                &path,
                config.threads as usize,
                sessions as usize,
            )?;
            model.warm_up(input, &shape)?;
            tracing::info!(
                model = model.manifest.name,
                version = model.manifest.version,
                sessions = model.sessions(),
                "model loaded and warm"
            );
            Ok::<_, InferenceError>(model)
        };
        let text = TextEncoder::from_dirs(&config.manifests, &dir, config.threads as usize)?;
        tracing::info!(model = text.model.manifest.name, "model loaded and warm");
        let isnet = if config.segmentation == "isnet" {
            Some(load(
                "optional/isnet.toml",
                "input",
                [1, 3, ISNET_SIZE as usize, ISNET_SIZE as usize],
                1,
            )?)
        } else {
            None
        };
        Ok(VisionModels {
            isnet,
            person_boxes: load(
                "nanodet.toml",
                "input_1:0",
                [1, 3, 416, 416],
                config.sessions,
            )?,
            pose_detect: load(
                "pose-detect.toml",
                "input",
                [1, 3, 224, 224],
                config.sessions,
            )?,
            pose: load(
                "pose-full.toml",
                "input_1",
                [1, 3, 256, 256],
                config.sessions,
            )?,
            classifier: BatchedModel::spawn(
                // One session: the batching thread runs one batch at a time.
                load("efficientnet-lite0.toml", "input", [1, 3, 224, 224], 1)?,
                "input",
                &[3, 224, 224],
                config.max_batch as usize,
                config.max_batch_delay.get(),
            ),
            face_detect: load(
                "face-detect-short.toml",
                "input",
                [1, 3, 128, 128],
                config.sessions,
            )?,
            face_detect_full: load(
                "face-detect-full.toml",
                "input",
                [1, 3, 192, 192],
                config.sessions,
            )?,
            face_mesh: load(
                "face-mesh.toml",
                "input_1",
                [1, 3, 192, 192],
                config.sessions,
            )?,
            text,
        })
    }
}
