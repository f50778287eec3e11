//! glTF 2.0 / GLB into plain meshes, materials and decoded textures.
//!
//! Reads embedded and external buffers, `KHR_mesh_quantization`,
//! `EXT_meshopt_compression` (`meshopt.rs`) and `KHR_texture_transform`.
//! Every size is checked against [`Limits`] from the JSON before anything is
//! allocated for it, every accessor is bounds-checked against its buffer view,
//! and nothing is read from outside the bytes given: external URIs go through
//! the caller's resolver (which may refuse them), never to a file or the network.
use base64::Engine;
use glam::Vec3;

use crate::error::{RenderError, Result};

mod accessor;
mod loader;
mod texture;

use loader::Loader;
pub use loader::smooth_normals;
pub use texture::decode_texture;

/// Extensions this loader implements, so a model may require them.
const HANDLED_EXTENSIONS: &[&str] = &[
    "KHR_mesh_quantization",
    "KHR_materials_emissive_strength",
    "KHR_texture_transform",
    "EXT_meshopt_compression",
];
const MESHOPT: &str = "EXT_meshopt_compression";

/// Upper bounds on what one model may make us allocate.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_triangles: u64,
    pub max_vertices: u64,
    /// Width or height of any texture.
    pub max_texture_dimension: u32,
    /// Textures larger than this are downscaled before upload.
    pub texture_upload_dimension: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_triangles: 4_000_000,
            max_vertices: 4_000_000,
            max_texture_dimension: 8192,
            texture_upload_dimension: 4096,
        }
    }
}

/// An RGBA8 texture, sRGB-encoded or linear data.
#[derive(Debug, Clone)]
pub struct Texture {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AlphaMode {
    Opaque,
    Mask(f32),
    Blend,
}

/// Metal/roughness material. Texture fields index [`Model::textures`].
#[derive(Debug, Clone, PartialEq)]
pub struct Material {
    /// Linear RGBA.
    pub base_colour: [f32; 4],
    pub base_colour_texture: Option<usize>,
    pub metallic: f32,
    pub roughness: f32,
    /// Green = roughness, blue = metallic (glTF's layout).
    pub metallic_roughness_texture: Option<usize>,
    pub emissive: [f32; 3],
    pub alpha: AlphaMode,
    pub double_sided: bool,
}

impl Default for Material {
    fn default() -> Self {
        Material {
            base_colour: [1.0; 4],
            base_colour_texture: None,
            metallic: 1.0,
            roughness: 1.0,
            metallic_roughness_texture: None,
            emissive: [0.0; 3],
            alpha: AlphaMode::Opaque,
            double_sided: false,
        }
    }
}

/// One drawable triangle list, in the model's space (node transforms applied).
#[derive(Debug, Clone)]
pub struct Mesh {
    pub positions: Vec<[f32; 3]>,
    pub normals: Vec<[f32; 3]>,
    pub uvs: Vec<[f32; 2]>,
    pub indices: Vec<u32>,
    pub material: Material,
}

/// Where textures live in [`Model::textures`] is the index materials use.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub meshes: Vec<Mesh>,
    pub textures: Vec<Texture>,
}

impl Model {
    pub fn triangles(&self) -> u64 {
        self.meshes.iter().map(|m| m.indices.len() as u64 / 3).sum()
    }

    /// Axis-aligned bounds of every vertex, `None` when empty.
    pub fn bounds(&self) -> Option<(Vec3, Vec3)> {
        let mut points = self.meshes.iter().flat_map(|m| m.positions.iter());
        let first = Vec3::from(*points.next()?);
        Some(points.fold((first, first), |(lo, hi), p| {
            let p = Vec3::from(*p);
            (lo.min(p), hi.max(p))
        }))
    }
}

/// Bytes for an external URI (`scene.bin`, `textures/cloth.png`), or `None`
/// to refuse it.
pub type Resolver<'a> = &'a dyn Fn(&str) -> Option<Vec<u8>>;

/// Refuses every external URI: only embedded data is read.
pub fn embedded_only(_: &str) -> Option<Vec<u8>> {
    None
}

fn invalid(message: impl Into<String>) -> RenderError {
    RenderError::InvalidModel(message.into())
}

/// Load a `.glb` or `.gltf` from bytes.
pub fn load(bytes: &[u8], resolve: Resolver<'_>, limits: &Limits) -> Result<Model> {
    let (json, blob) = parse_container(bytes)?;
    let document = validate(json)?;
    let buffers = document
        .buffers()
        .map(|buffer| {
            // A meshopt fallback buffer holds nothing: its views are decoded.
            let fallback = buffer
                .extension_value(MESHOPT)
                .and_then(|e| e.get("fallback"))
                .and_then(|f| f.as_bool())
                == Some(true);
            if fallback {
                return Ok(Vec::new());
            }
            let data = match buffer.source() {
                gltf::buffer::Source::Bin => blob
                    .clone()
                    .ok_or_else(|| invalid("buffer 0 refers to a GLB BIN chunk that is missing"))?,
                gltf::buffer::Source::Uri(uri) => fetch_uri(uri, resolve)
                    .map_err(|m| invalid(format!("buffer {}: {m}", buffer.index())))?,
            };
            if data.len() < buffer.length() {
                return Err(invalid(format!(
                    "buffer {}: byteLength {} but only {} bytes present",
                    buffer.index(),
                    buffer.length(),
                    data.len()
                )));
            }
            Ok(data)
        })
        .collect::<Result<Vec<Vec<u8>>>>()?;
    let decoded = decode_meshopt_views(&document, &buffers)?;
    Loader {
        document: &document,
        buffers: &buffers,
        decoded: &decoded,
        resolve,
        limits,
    }
    .model()
}

/// Every `EXT_meshopt_compression` view, decoded.
fn decode_meshopt_views(
    document: &gltf::Document,
    buffers: &[Vec<u8>],
) -> Result<std::collections::HashMap<usize, Vec<u8>>> {
    let mut decoded = std::collections::HashMap::new();
    for view in document.views() {
        let Some(ext) = view.extension_value(MESHOPT) else {
            continue;
        };
        let c = crate::meshopt::Compressed::parse(view.index(), ext)?;
        let source = buffers
            .get(c.buffer)
            .and_then(|b| b.get(c.offset..c.offset.checked_add(c.length)?))
            .ok_or_else(|| {
                invalid(format!(
                    "bufferView {}: compressed data outside buffer {}",
                    view.index(),
                    c.buffer
                ))
            })?;
        decoded.insert(view.index(), c.decode(view.index(), source, view.length())?);
    }
    Ok(decoded)
}

fn parse_container(bytes: &[u8]) -> Result<(gltf::json::Root, Option<Vec<u8>>)> {
    if bytes.starts_with(b"glTF") {
        let glb = gltf::binary::Glb::from_slice(bytes)
            .map_err(|e| invalid(format!("not a valid GLB container: {e}")))?;
        let json = gltf::json::deserialize::from_slice(&glb.json)
            .map_err(|e| invalid(format!("GLB JSON chunk: {e}")))?;
        Ok((json, glb.bin.map(|b| b.into_owned())))
    } else {
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Err(invalid(
                "not glTF: neither a GLB container nor a JSON document",
            ));
        }
        let json = gltf::json::deserialize::from_slice(bytes)
            .map_err(|e| invalid(format!("glTF JSON: {e}")))?;
        Ok((json, None))
    }
}

/// The glTF schema's rules (the `gltf` crate's validator), with the
/// extensions we implement allowed as required.
fn validate(mut json: gltf::json::Root) -> Result<gltf::Document> {
    let required = std::mem::take(&mut json.extensions_required);
    for ext in &required {
        if ext == "KHR_draco_mesh_compression" {
            return Err(RenderError::UnsupportedModel(format!(
                "extension {ext} is required but not supported: decompress the model first"
            )));
        }
    }
    json.extensions_required = required
        .into_iter()
        .filter(|e| !HANDLED_EXTENSIONS.contains(&e.as_str()))
        .collect();
    gltf::Document::from_json(json).map_err(|e| match e {
        gltf::Error::Validation(errors) => match errors.first() {
            Some((path, error)) => invalid(format!("{}: {error}", path.as_str())),
            None => invalid("invalid glTF"),
        },
        other => invalid(other.to_string()),
    })
}

fn fetch_uri(uri: &str, resolve: Resolver<'_>) -> std::result::Result<Vec<u8>, String> {
    if let Some(rest) = uri.strip_prefix("data:") {
        let (_, data) = rest
            .split_once(";base64,")
            .ok_or("data URI is not base64")?;
        return base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| format!("data URI: {e}"));
    }
    resolve(uri).ok_or_else(|| format!("external URI {uri:?} is not available to this job"))
}
