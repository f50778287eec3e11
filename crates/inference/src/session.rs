use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

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

/// A verified model with a pool of sessions ready to run: concurrent jobs
/// take a free session, and wait for one only when all are busy.
pub struct Model {
    pub manifest: ModelManifest,
    sessions: Vec<Mutex<Session>>,
    next: AtomicUsize,
    /// Sessions running now, and the most that ever ran at once.
    in_use: AtomicUsize,
    peak: AtomicUsize,
}

/// A session taken from the pool; counted as in use until dropped.
struct Taken<'a> {
    guard: MutexGuard<'a, Session>,
    in_use: &'a AtomicUsize,
}

impl std::ops::Deref for Taken<'_> {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.guard
    }
}

impl std::ops::DerefMut for Taken<'_> {
    fn deref_mut(&mut self) -> &mut Session {
        &mut self.guard
    }
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        self.in_use.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Model {
    /// Verify the file against its manifest and open one session with
    /// `threads` intra-op threads.
    pub fn load(
        runtime: &Runtime,
        manifest: ModelManifest,
        path: &Path,
        threads: usize,
    ) -> Result<Model, InferenceError> {
        Model::load_pool(runtime, manifest, path, threads, 1)
    }

    /// Verify the file and open `sessions` sessions of `threads` intra-op
    /// threads each.
    pub fn load_pool(
        runtime: &Runtime,
        manifest: ModelManifest,
        path: &Path,
        threads: usize,
        sessions: usize,
    ) -> Result<Model, InferenceError> {
        manifest.verify(path)?;
        let sessions = (0..sessions.max(1))
            .map(|_| open_session(runtime, &manifest, path, threads).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Model {
            manifest,
            sessions,
            next: AtomicUsize::new(0),
            in_use: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        })
    }

    /// Run every session of the pool once on zeros of `shape`: the first run
    /// allocates and plans, so pay it before any job.
    pub fn warm_up(&self, input: &str, shape: &[usize]) -> Result<(), InferenceError> {
        let zeros = vec![0f32; shape.iter().product()];
        for session in &self.sessions {
            let mut session = session.lock().expect("session lock");
            let view = ArrayViewD::from_shape(shape.to_vec(), &zeros).map_err(|e| {
                InferenceError::Run {
                    model: self.manifest.name.clone(),
                    message: e.to_string(),
                }
            })?;
            let value = TensorRef::from_array_view(view).map_err(|e| InferenceError::Run {
                model: self.manifest.name.clone(),
                message: e.to_string(),
            })?;
            session
                .run(ort::inputs![input => value])
                .map_err(|e| InferenceError::Run {
                    model: self.manifest.name.clone(),
                    message: e.to_string(),
                })?;
        }
        Ok(())
    }

    /// How many sessions the pool holds.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// The most sessions that ran at once since the model was loaded.
    pub fn peak_concurrency(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// A free session, or (all busy) the next one in turn.
    fn session(&self) -> Taken<'_> {
        let n = self.sessions.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let guard = (0..n)
            .find_map(|i| self.sessions[(start + i) % n].try_lock().ok())
            .unwrap_or_else(|| self.sessions[start % n].lock().expect("session lock"));
        let now = self.in_use.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        Taken {
            guard,
            in_use: &self.in_use,
        }
    }

    pub fn input_names(&self) -> Vec<String> {
        let session = self.session();
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
        let mut session = self.session();
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
        let mut session = self.session();
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

fn open_session(
    runtime: &Runtime,
    manifest: &ModelManifest,
    path: &Path,
    threads: usize,
) -> Result<Session, InferenceError> {
    let fail = |message: String| InferenceError::Session {
        model: manifest.name.clone(),
        message,
    };
    Session::builder(&runtime.env)
        .map_err(|e| fail(e.to_string()))?
        .with_intra_threads(threads.max(1))
        .map_err(|e| fail(e.to_string()))?
        // A worker holds several sessions on few cores: threads that spin
        // after a run would steal the cores the next model (or the job's own
        // pre- and post-processing) needs. Measured in benches/README.md.
        .with_intra_op_spinning(false)
        .map_err(|e| fail(e.to_string()))?
        .commit_from_file(path)
        .map_err(|e| fail(e.to_string()))
}
