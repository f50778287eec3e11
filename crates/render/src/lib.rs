//! Offscreen rendering of glTF 2.0 models: loading (bounded, no file or
//! network access), scene composition, automatic framing, and a physically
//! based wgpu renderer on Vulkan (a GPU, or Mesa's CPU driver llvmpipe).
//! Pure of Redis, PostgreSQL and HTTP: frames come back as RGBA buffers.
pub mod camera;
mod error;
pub mod glb;
mod gpu;
mod meshopt;
pub mod model;
pub mod scene;

pub use camera::{Bounds, Camera, Preset};
pub use error::{RenderError, Result};
pub use gpu::{Frame, FrameSpec, GpuScene, Quality, Renderer, Target};
pub use model::{Limits, Model, load};
pub use scene::{Background, Item, Lighting, MaterialOverride, Placement, Scene};
