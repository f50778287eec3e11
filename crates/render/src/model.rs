//! glTF 2.0 / GLB into plain meshes, materials and decoded textures.
//!
//! Reads embedded and external buffers, `KHR_mesh_quantization`,
//! `EXT_meshopt_compression` (`meshopt.rs`) and `KHR_texture_transform`.
//! Every size is checked against [`Limits`] from the JSON before anything is
//! allocated for it, every accessor is bounds-checked against its buffer view,
//! and nothing is read from outside the bytes given: external URIs go through
//! the caller's resolver (which may refuse them), never to a file or the network.
use base64::Engine;
use glam::{Mat4, Vec3};
use gltf::accessor::{DataType, Dimensions};
use gltf::mesh::{Mode, Semantic};

use crate::error::{RenderError, Result};

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

struct Loader<'a> {
    document: &'a gltf::Document,
    buffers: &'a [Vec<u8>],
    /// Views stored with EXT_meshopt_compression, decoded.
    decoded: &'a std::collections::HashMap<usize, Vec<u8>>,
    resolve: Resolver<'a>,
    limits: &'a Limits,
}

impl Loader<'_> {
    fn model(&self) -> Result<Model> {
        let roots: Vec<gltf::Node> = match self
            .document
            .default_scene()
            .or_else(|| self.document.scenes().next())
        {
            Some(scene) => scene.nodes().collect(),
            // No scene: every node that is nobody's child.
            None => {
                let children: std::collections::HashSet<usize> = self
                    .document
                    .nodes()
                    .flat_map(|n| n.children().map(|c| c.index()).collect::<Vec<_>>())
                    .collect();
                self.document
                    .nodes()
                    .filter(|n| !children.contains(&n.index()))
                    .collect()
            }
        };
        // Instances first, so the size check runs before any vertex is read.
        let mut instances = Vec::new();
        let mut worlds = std::collections::HashMap::new();
        let mut visited = 0usize;
        let mut stack: Vec<(gltf::Node, Mat4, usize)> =
            roots.into_iter().map(|n| (n, Mat4::IDENTITY, 0)).collect();
        while let Some((node, parent, depth)) = stack.pop() {
            visited += 1;
            if depth > 64 || instances.len() > 100_000 || visited > 1_000_000 {
                return Err(invalid("node hierarchy is cyclic or too deep"));
            }
            let local = Mat4::from_cols_array_2d(&node.transform().matrix());
            let world = parent * local;
            worlds.insert(node.index(), world);
            if let Some(mesh) = node.mesh() {
                // A skinned mesh is placed by its skin, not its node (glTF
                // ignores the node's transform); see `skin_matrices`.
                let (transform, skin) = match node.skin() {
                    Some(skin) => (Mat4::IDENTITY, Some(skin)),
                    None => (world, None),
                };
                instances.push((mesh, transform, skin));
            }
            stack.extend(node.children().map(|c| (c, world, depth + 1)));
        }
        let sizes: Vec<(gltf::Mesh, Mat4)> =
            instances.iter().map(|(m, t, _)| (m.clone(), *t)).collect();
        self.check_size(&sizes)?;

        let mut textures = TextureCache::default();
        let mut meshes = Vec::new();
        for (mesh, transform, skin) in &instances {
            let joints = skin
                .as_ref()
                .map(|s| self.skin_matrices(s, &worlds))
                .transpose()?;
            for primitive in mesh.primitives() {
                if let Some(m) =
                    self.primitive(&primitive, *transform, joints.as_deref(), &mut textures)?
                {
                    meshes.push(m);
                }
            }
        }
        Ok(Model {
            meshes,
            textures: textures.textures,
        })
    }

    fn check_size(&self, instances: &[(gltf::Mesh, Mat4)]) -> Result<()> {
        let (mut triangles, mut vertices) = (0u64, 0u64);
        for (mesh, _) in instances {
            for p in mesh.primitives() {
                let verts = p.get(&Semantic::Positions).map_or(0, |a| a.count() as u64);
                let idx = p.indices().map_or(verts, |a| a.count() as u64);
                triangles += idx / 3;
                vertices += verts;
            }
        }
        if triangles > self.limits.max_triangles || vertices > self.limits.max_vertices {
            return Err(RenderError::ModelTooLarge(format!(
                "{triangles} triangles and {vertices} vertices; at most {} and {} are rendered",
                self.limits.max_triangles, self.limits.max_vertices
            )));
        }
        Ok(())
    }

    /// A skin's joint matrices (each joint's world transform times its
    /// inverse bind matrix): what places a skinned mesh in its bind pose.
    /// Quantised skinned meshes (gltfpack's, the avatars') fold their
    /// dequantisation into the inverse bind matrices, so drawing the stored
    /// vertices as they are would draw them at the wrong scale.
    fn skin_matrices(
        &self,
        skin: &gltf::Skin,
        worlds: &std::collections::HashMap<usize, Mat4>,
    ) -> Result<Vec<Mat4>> {
        let joints: Vec<gltf::Node> = skin.joints().collect();
        let inverse = match skin.inverse_bind_matrices() {
            Some(a) => {
                let m = self.read::<16>(&a)?;
                if m.len() < joints.len() {
                    return Err(invalid(format!(
                        "skin {}: {} inverse bind matrices for {} joints",
                        skin.index(),
                        m.len(),
                        joints.len()
                    )));
                }
                m.into_iter().map(|c| Mat4::from_cols_array(&c)).collect()
            }
            None => vec![Mat4::IDENTITY; joints.len()],
        };
        Ok(joints
            .iter()
            .zip(inverse)
            .map(|(j, ibm)| {
                let world = worlds
                    .get(&j.index())
                    .copied()
                    .unwrap_or_else(|| Mat4::from_cols_array_2d(&j.transform().matrix()));
                world * ibm
            })
            .collect())
    }

    /// Positions and normals moved by their joints' matrices, blended by
    /// weight (linear blend skinning).
    fn skinned(
        &self,
        primitive: &gltf::Primitive,
        joints: &[Mat4],
        positions: &mut [[f32; 3]],
        normals: &mut [[f32; 3]],
    ) -> Result<()> {
        let (Some(j), Some(w)) = (
            primitive.get(&Semantic::Joints(0)),
            primitive.get(&Semantic::Weights(0)),
        ) else {
            return Ok(());
        };
        let (ids, weights) = (self.read::<4>(&j)?, self.read::<4>(&w)?);
        if ids.len() != positions.len() || weights.len() != positions.len() {
            return Err(invalid(format!(
                "accessors {} and {}: joints and weights do not match the positions",
                j.index(),
                w.index()
            )));
        }
        for (i, (id, weight)) in ids.iter().zip(&weights).enumerate() {
            let mut m = Mat4::ZERO;
            let mut total = 0.0;
            for k in 0..4 {
                if weight[k] <= 0.0 {
                    continue;
                }
                let joint = joints.get(id[k] as usize).ok_or_else(|| {
                    invalid(format!(
                        "accessor {}: joint {} of a skin with {}",
                        j.index(),
                        id[k],
                        joints.len()
                    ))
                })?;
                m += *joint * weight[k];
                total += weight[k];
            }
            if total <= 0.0 {
                continue;
            }
            let m = m * (1.0 / total);
            positions[i] = m.transform_point3(Vec3::from(positions[i])).to_array();
            normals[i] = m
                .transform_vector3(Vec3::from(normals[i]))
                .normalize_or(Vec3::Y)
                .to_array();
        }
        Ok(())
    }

    fn primitive(
        &self,
        primitive: &gltf::Primitive,
        transform: Mat4,
        joints: Option<&[Mat4]>,
        textures: &mut TextureCache,
    ) -> Result<Option<Mesh>> {
        let Some(pos_accessor) = primitive.get(&Semantic::Positions) else {
            return Ok(None);
        };
        let mut positions = self.read::<3>(&pos_accessor)?;
        if positions.iter().flatten().any(|v| !v.is_finite()) {
            return Err(invalid(format!(
                "accessor {}: a position is NaN or infinite",
                pos_accessor.index()
            )));
        }
        let vertex_count = positions.len();
        let sequential = || (0..vertex_count as u32).collect::<Vec<u32>>();
        let raw_indices = match primitive.indices() {
            Some(a) => self
                .read::<1>(&a)?
                .into_iter()
                .map(|[i]| i as u32)
                .collect(),
            None => sequential(),
        };
        if let Some(bad) = raw_indices.iter().find(|&&i| i as usize >= vertex_count) {
            return Err(invalid(format!(
                "mesh index {bad} is out of range for {vertex_count} vertices"
            )));
        }
        let indices = match primitive.mode() {
            Mode::Triangles => raw_indices[..raw_indices.len() / 3 * 3].to_vec(),
            Mode::TriangleStrip => (2..raw_indices.len())
                .flat_map(|i| {
                    let (a, b, c) = (raw_indices[i - 2], raw_indices[i - 1], raw_indices[i]);
                    if i % 2 == 0 { [a, b, c] } else { [b, a, c] }
                })
                .collect(),
            Mode::TriangleFan => (2..raw_indices.len())
                .flat_map(|i| [raw_indices[0], raw_indices[i - 1], raw_indices[i]])
                .collect(),
            // Points and lines have no surface to shade.
            _ => return Ok(None),
        };
        if indices.is_empty() {
            return Ok(None);
        }

        let normals = match primitive.get(&Semantic::Normals) {
            Some(a) => {
                let n = self.read::<3>(&a)?;
                if n.len() != vertex_count {
                    return Err(invalid(format!(
                        "accessor {}: {} normals for {vertex_count} positions",
                        a.index(),
                        n.len()
                    )));
                }
                n
            }
            None => smooth_normals(&positions, &indices),
        };
        let mut normals = normals;
        if let Some(joints) = joints {
            self.skinned(primitive, joints, &mut positions, &mut normals)?;
        }
        let uvs = match primitive.get(&Semantic::TexCoords(0)) {
            Some(a) => {
                let uv = self.read::<2>(&a)?;
                if uv.len() != vertex_count {
                    return Err(invalid(format!(
                        "accessor {}: {} texture coordinates for {vertex_count} positions",
                        a.index(),
                        uv.len()
                    )));
                }
                uv
            }
            None => vec![[0.0, 0.0]; vertex_count],
        };

        // KHR_texture_transform (gltfpack stores quantised UVs with one):
        // the base colour texture's transform applies to the mesh's UVs.
        let uvs = match primitive
            .material()
            .pbr_metallic_roughness()
            .base_color_texture()
            .and_then(|info| info.texture_transform())
        {
            Some(t) => {
                let ([ox, oy], r, [sx, sy]) = (t.offset(), t.rotation(), t.scale());
                let (sin, cos) = r.sin_cos();
                uvs.into_iter()
                    .map(|[u, v]| {
                        // The extension's matrix: T(offset) · R(rotation) · S(scale).
                        let (u, v) = (u * sx, v * sy);
                        [cos * u - sin * v + ox, sin * u + cos * v + oy]
                    })
                    .collect()
            }
            None => uvs,
        };
        let normal_matrix = transform.inverse().transpose();
        let flip = transform.determinant() < 0.0;
        let positions: Vec<[f32; 3]> = positions
            .into_iter()
            .map(|p| transform.transform_point3(Vec3::from(p)).to_array())
            .collect();
        if positions.iter().flatten().any(|v| !v.is_finite()) {
            return Err(invalid("a node transform makes positions non-finite"));
        }
        let normals = normals
            .into_iter()
            .map(|n| {
                normal_matrix
                    .transform_vector3(Vec3::from(n))
                    .normalize_or(Vec3::Y)
                    .to_array()
            })
            .collect();
        let indices = if flip {
            indices.chunks(3).flat_map(|t| [t[0], t[2], t[1]]).collect()
        } else {
            indices
        };
        let material = self.material(primitive.material(), textures)?;
        Ok(Some(Mesh {
            positions,
            normals,
            uvs,
            indices,
            material,
        }))
    }

    fn material(&self, m: gltf::Material, textures: &mut TextureCache) -> Result<Material> {
        let pbr = m.pbr_metallic_roughness();
        let base_colour_texture = match pbr.base_color_texture() {
            Some(info) => Some(textures.get(self, info.texture().source().index())?),
            None => None,
        };
        let metallic_roughness_texture = match pbr.metallic_roughness_texture() {
            Some(info) => Some(textures.get(self, info.texture().source().index())?),
            None => None,
        };
        let strength = m.emissive_strength().unwrap_or(1.0);
        Ok(Material {
            base_colour: pbr.base_color_factor(),
            base_colour_texture,
            metallic: pbr.metallic_factor().clamp(0.0, 1.0),
            roughness: pbr.roughness_factor().clamp(0.0, 1.0),
            metallic_roughness_texture,
            emissive: m.emissive_factor().map(|c| c * strength),
            alpha: match m.alpha_mode() {
                gltf::material::AlphaMode::Opaque => AlphaMode::Opaque,
                gltf::material::AlphaMode::Mask => AlphaMode::Mask(m.alpha_cutoff().unwrap_or(0.5)),
                gltf::material::AlphaMode::Blend => AlphaMode::Blend,
            },
            double_sided: m.double_sided(),
        })
    }

    /// The bytes of a buffer view, bounds-checked.
    fn view_bytes(&self, view: &gltf::buffer::View) -> Result<&[u8]> {
        if let Some(bytes) = self.decoded.get(&view.index()) {
            return Ok(bytes);
        }
        let buffer = &self.buffers[view.buffer().index()];
        let end = view.offset().checked_add(view.length());
        match end {
            Some(end) if end <= buffer.len() => Ok(&buffer[view.offset()..end]),
            _ => Err(invalid(format!(
                "bufferView {} reaches past the end of buffer {}",
                view.index(),
                view.buffer().index()
            ))),
        }
    }

    /// An accessor as `N` floats per element, normalised integers mapped to
    /// [0, 1] / [-1, 1] (KHR_mesh_quantization stores positions, normals and
    /// texture coordinates as integers).
    fn read<const N: usize>(&self, accessor: &gltf::Accessor) -> Result<Vec<[f32; N]>> {
        let components = match accessor.dimensions() {
            Dimensions::Scalar => 1,
            Dimensions::Vec2 => 2,
            Dimensions::Vec3 => 3,
            Dimensions::Vec4 => 4,
            Dimensions::Mat4 => 16,
            other => {
                return Err(invalid(format!(
                    "accessor {}: type {other:?} where a vector was expected",
                    accessor.index()
                )));
            }
        };
        if components < N {
            return Err(invalid(format!(
                "accessor {}: {components} components where {N} were expected",
                accessor.index()
            )));
        }
        if accessor.sparse().is_some() {
            return Err(RenderError::UnsupportedModel(format!(
                "accessor {}: sparse accessors are not supported",
                accessor.index()
            )));
        }
        let count = accessor.count();
        let Some(view) = accessor.view() else {
            return Ok(vec![[0.0; N]; count]);
        };
        let bytes = self.view_bytes(&view)?;
        let size = accessor.data_type().size();
        let element = size * components;
        let stride = view.stride().unwrap_or(element);
        let offset = accessor.offset();
        let needed = count.checked_sub(1).map_or(Some(0), |last| {
            last.checked_mul(stride)
                .and_then(|s| s.checked_add(offset))
                .and_then(|s| s.checked_add(element))
        });
        if !matches!(needed, Some(n) if n <= bytes.len()) || stride < element {
            return Err(invalid(format!(
                "accessor {}: {count} elements do not fit in bufferView {}",
                accessor.index(),
                view.index()
            )));
        }
        let normalized = accessor.normalized();
        let kind = accessor.data_type();
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let at = offset + i * stride;
            let mut v = [0.0f32; N];
            for (c, slot) in v.iter_mut().enumerate() {
                let b = &bytes[at + c * size..at + (c + 1) * size];
                *slot = component(kind, b, normalized);
            }
            out.push(v);
        }
        Ok(out)
    }
}

fn component(kind: DataType, b: &[u8], normalized: bool) -> f32 {
    match kind {
        DataType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        DataType::U32 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32,
        DataType::I8 => {
            let v = b[0] as i8 as f32;
            if normalized { (v / 127.0).max(-1.0) } else { v }
        }
        DataType::U8 => {
            let v = b[0] as f32;
            if normalized { v / 255.0 } else { v }
        }
        DataType::I16 => {
            let v = i16::from_le_bytes([b[0], b[1]]) as f32;
            if normalized {
                (v / 32767.0).max(-1.0)
            } else {
                v
            }
        }
        DataType::U16 => {
            let v = u16::from_le_bytes([b[0], b[1]]) as f32;
            if normalized { v / 65535.0 } else { v }
        }
    }
}

/// Area-weighted vertex normals, for models that carry none.
pub fn smooth_normals(positions: &[[f32; 3]], indices: &[u32]) -> Vec<[f32; 3]> {
    let mut acc = vec![Vec3::ZERO; positions.len()];
    for t in indices.chunks_exact(3) {
        let [a, b, c] = [t[0], t[1], t[2]].map(|i| Vec3::from(positions[i as usize]));
        let n = (b - a).cross(c - a);
        for &i in t {
            acc[i as usize] += n;
        }
    }
    acc.into_iter()
        .map(|n| n.normalize_or(Vec3::Y).to_array())
        .collect()
}

#[derive(Default)]
struct TextureCache {
    by_image: std::collections::HashMap<usize, usize>,
    textures: Vec<Texture>,
}

impl TextureCache {
    fn get(&mut self, loader: &Loader, image: usize) -> Result<usize> {
        if let Some(&i) = self.by_image.get(&image) {
            return Ok(i);
        }
        let json = &loader.document.as_json().images[image];
        let bytes: Vec<u8> = match (&json.buffer_view, &json.uri) {
            (Some(view), _) => {
                let view = loader
                    .document
                    .views()
                    .nth(view.value())
                    .ok_or_else(|| invalid(format!("image {image}: no such bufferView")))?;
                loader.view_bytes(&view)?.to_vec()
            }
            (None, Some(uri)) => fetch_uri(uri, loader.resolve)
                .map_err(|m| invalid(format!("image {image}: {m}")))?,
            (None, None) => return Err(invalid(format!("image {image}: no data"))),
        };
        let texture = decode_texture(image, &bytes, loader.limits)?;
        self.textures.push(texture);
        self.by_image.insert(image, self.textures.len() - 1);
        Ok(self.textures.len() - 1)
    }
}

/// Decode a texture, its size checked from the header before decoding.
pub fn decode_texture(image: usize, bytes: &[u8], limits: &Limits) -> Result<Texture> {
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| RenderError::TextureCorrupt {
            image,
            message: e.to_string(),
        })?;
    if reader.format().is_none() {
        return Err(RenderError::TextureUnsupported {
            image,
            message: "not a PNG, JPEG or WebP image".into(),
        });
    }
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| RenderError::TextureCorrupt {
            image,
            message: e.to_string(),
        })?;
    let max = limits.max_texture_dimension;
    if w > max || h > max {
        return Err(RenderError::ModelTooLarge(format!(
            "texture {image} is {w}×{h}; at most {max}×{max} is accepted"
        )));
    }
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| RenderError::TextureCorrupt {
            image,
            message: e.to_string(),
        })?;
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(max);
    image_limits.max_image_height = Some(max);
    image_limits.max_alloc = Some(u64::from(max) * u64::from(max) * 4 + 1);
    reader.limits(image_limits);
    let decoded = reader.decode().map_err(|e| RenderError::TextureCorrupt {
        image,
        message: e.to_string(),
    })?;
    let upload = limits.texture_upload_dimension;
    let decoded = if w > upload || h > upload {
        decoded.resize(upload, upload, image::imageops::FilterType::Triangle)
    } else {
        decoded
    };
    let rgba = decoded.into_rgba8();
    Ok(Texture {
        width: rgba.width(),
        height: rgba.height(),
        rgba: rgba.into_raw(),
    })
}
