//! A body shaped from the base mesh and weighted morph targets (base +
//! Σ wᵢ·targetᵢ: the model is linear), targets loaded once and shared.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::{BaseMesh, BodyError, Macros, Target};

pub struct BodyModel {
    dir: PathBuf,
    pub base: BaseMesh,
    targets: Mutex<HashMap<String, Arc<Target>>>,
}

impl BodyModel {
    /// The model in `dir` (the extracted `mpfb2` folder).
    pub fn load(dir: &Path) -> Result<Self, BodyError> {
        Ok(BodyModel {
            dir: dir.to_owned(),
            base: BaseMesh::load(&dir.join("3dobjs/base.obj"))?,
            targets: Mutex::new(HashMap::new()),
        })
    }

    /// A target by its path under `targets/`.
    pub fn target(&self, name: &str) -> Result<Arc<Target>, BodyError> {
        if let Some(t) = self.targets.lock().expect("not poisoned").get(name) {
            return Ok(t.clone());
        }
        let t = Arc::new(Target::load(&self.dir.join("targets").join(name))?);
        self.targets
            .lock()
            .expect("not poisoned")
            .insert(name.to_owned(), t.clone());
        Ok(t)
    }

    /// Every vertex of the body shaped by `weights` (target path, weight).
    pub fn shape(&self, weights: &[(String, f32)]) -> Result<Vec<[f32; 3]>, BodyError> {
        let mut positions = self.base.positions.clone();
        for (name, w) in weights {
            self.target(name)?.apply(&mut positions, *w);
        }
        Ok(positions)
    }

    /// The body of `macros` plus further weighted targets (measurement
    /// targets such as `torso/measure-waist-circ-incr.target.gz`).
    pub fn shape_macros(
        &self,
        macros: &Macros,
        extra: &[(String, f32)],
    ) -> Result<Vec<[f32; 3]>, BodyError> {
        let mut weights = macros.targets();
        weights.extend_from_slice(extra);
        self.shape(&weights)
    }
}
