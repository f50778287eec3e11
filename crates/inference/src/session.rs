use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ndarray::{ArrayD, ArrayViewD};
use ort::environment::Environment;
use ort::session::Session;
use ort::value::TensorRef;

use crate::{InferenceError, ModelManifest};

/// The loaded ONNX Runtime: one per process.
pub struct Runtime {
    env: Environment,
}

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

impl Runtime {
    /// Load `libonnxruntime` from `dylib` (once per process; later calls
    /// return the first result).
    pub fn load(dylib: &Path) -> Result<&'static Runtime, InferenceError> {
        let fail = |message: String| InferenceError::Runtime {
            path: dylib.to_owned(),
            message,
        };
        if !dylib.exists() {
            return Err(fail("file not found (run scripts/fetch-models.sh)".into()));
        }
        RUNTIME
            .get_or_init(|| {
                let builder = ort::init_from(dylib).map_err(|e| e.to_string())?;
                let env = builder
                    .with_name("atelier")
                    .build()
                    .map_err(|e| e.to_string())?;
                Ok(Runtime { env })
            })
            .as_ref()
            .map_err(|e| fail(e.clone()))
    }

    /// The runtime from `ORT_DYLIB_PATH`, or the library the set-up script
    /// fetched into the models cache `dir`.
    pub fn from_dir(dir: &Path) -> Result<&'static Runtime, InferenceError> {
        let dylib = std::env::var_os("ORT_DYLIB_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| dir.join("libonnxruntime.so.1.31.1"));
        Runtime::load(&dylib)
    }

    /// The library the set-up script fetched: `ORT_DYLIB_PATH`, or the models
    /// cache.
    pub fn default_dylib() -> PathBuf {
        std::env::var_os("ORT_DYLIB_PATH")
            .map(PathBuf::from)
            .unwrap_or_else(|| crate::models_dir().join("libonnxruntime.so.1.31.1"))
    }
}

/// A verified model with a session ready to run.
pub struct Model {
    pub manifest: ModelManifest,
    session: Mutex<Session>,
}

impl Model {
    /// Verify the file against its manifest and open a session with
    /// `threads` intra-op threads.
    pub fn load(
        runtime: &Runtime,
        manifest: ModelManifest,
        path: &Path,
        threads: usize,
    ) -> Result<Model, InferenceError> {
        manifest.verify(path)?;
        let fail = |message: String| InferenceError::Session {
            model: manifest.name.clone(),
            message,
        };
        let session = Session::builder(&runtime.env)
            .map_err(|e| fail(e.to_string()))?
            .with_intra_threads(threads.max(1))
            .map_err(|e| fail(e.to_string()))?
            // A worker holds several sessions on few cores: threads that
            // spin after a run would steal the cores the next model (or the
            // job's own pre- and post-processing) needs. Measured in
            // benches/README.md.
            .with_intra_op_spinning(false)
            .map_err(|e| fail(e.to_string()))?
            .commit_from_file(path)
            .map_err(|e| fail(e.to_string()))?;
        Ok(Model {
            manifest,
            session: Mutex::new(session),
        })
    }

    pub fn input_names(&self) -> Vec<String> {
        let session = self.session.lock().expect("session lock");
        session
            .inputs()
            .iter()
            .map(|i| i.name().to_owned())
            .collect()
    }

    /// Run with one f32 input; every f32 output comes back by name.
    pub fn run_f32(
        &self,
        input: &str,
        tensor: ArrayViewD<'_, f32>,
    ) -> Result<HashMap<String, ArrayD<f32>>, InferenceError> {
        let fail = |message: String| InferenceError::Run {
            model: self.manifest.name.clone(),
            message,
        };
        let value = TensorRef::from_array_view(tensor).map_err(|e| fail(e.to_string()))?;
        let mut session = self.session.lock().expect("session lock");
        let outputs = session
            .run(ort::inputs![input => value])
            .map_err(|e| fail(e.to_string()))?;
        let mut out = HashMap::new();
        for (name, value) in outputs.iter() {
            if let Ok(array) = value.try_extract_array::<f32>() {
                out.insert(name.to_string(), array.to_owned());
            }
        }
        Ok(out)
    }

    /// Run with named i64 inputs (token ids, masks); every f32 output comes
    /// back by name.
    pub fn run_i64(
        &self,
        inputs: &[(&str, ArrayViewD<'_, i64>)],
    ) -> Result<HashMap<String, ArrayD<f32>>, InferenceError> {
        let fail = |message: String| InferenceError::Run {
            model: self.manifest.name.clone(),
            message,
        };
        let values = inputs
            .iter()
            .map(|(name, view)| {
                TensorRef::from_array_view(view.view())
                    .map(|v| (*name, v))
                    .map_err(|e| fail(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut session = self.session.lock().expect("session lock");
        let outputs = session.run(values).map_err(|e| fail(e.to_string()))?;
        let mut out = HashMap::new();
        for (name, value) in outputs.iter() {
            if let Ok(array) = value.try_extract_array::<f32>() {
                out.insert(name.to_string(), array.to_owned());
            }
        }
        Ok(out)
    }
}
