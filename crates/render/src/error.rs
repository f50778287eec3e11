/// What went wrong loading or rendering a model. Each variant maps to one
/// stable wire code in the worker (`model.invalid`, `model.too_large`, …).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    /// Not a glTF 2.0 model, or one that breaks the specification.
    #[error("{0}")]
    InvalidModel(String),
    /// Bounded before allocation: triangles, vertices, bytes or texture size.
    #[error("{0}")]
    ModelTooLarge(String),
    /// Valid glTF that uses something this renderer cannot draw.
    #[error("{0}")]
    UnsupportedModel(String),
    /// Nothing to draw: no triangles in the scene.
    #[error("the scene has no triangles to draw")]
    EmptyScene,
    /// A texture whose bytes are not an image format we decode.
    #[error("texture {image}: {message}")]
    TextureUnsupported { image: usize, message: String },
    /// A texture whose bytes are a broken image.
    #[error("texture {image}: {message}")]
    TextureCorrupt { image: usize, message: String },
    /// An explicit camera placed inside the model's bounds.
    #[error("camera {0:?} is inside the model")]
    CameraInsideModel(String),
    /// A camera or frame request that cannot be honoured.
    #[error("{0}")]
    BadRequest(String),
    /// No Vulkan adapter (no GPU and no Mesa CPU driver): a machine problem.
    #[error("no Vulkan adapter: {0}")]
    NoAdapter(String),
    /// The device failed while rendering (device lost, out of memory).
    #[error("gpu: {0}")]
    Gpu(String),
}

pub type Result<T> = std::result::Result<T, RenderError>;
