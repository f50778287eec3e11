//! The avatar as web-ready GLB files: levels of detail simplified with
//! meshoptimizer (attribute-aware, so UV seams and the silhouette hold),
//! vertex-cache and vertex-fetch order, attributes quantised
//! (`KHR_mesh_quantization`: 14-bit positions whose dequantisation is folded
//! into the skin's inverse bind matrices, 8-bit normals, 12-bit UVs, 8-bit
//! joints and weights) and, by default, streams compressed with
//! meshoptimizer's codecs (`EXT_meshopt_compression`, the form `gltfpack
//! -cc` writes). The document is built with `gltf-json`.
use std::collections::BTreeMap;

use gltf_json as json;
use json::validation::{Checked, USize64};
use json::{Index, accessor, buffer, mesh};
use serde_json::{Value, json as value};

use crate::mesh::AvatarMesh;
use crate::rig::INFLUENCES;

/// The most triangles the full level of detail keeps (a web avatar's
/// budget, as Ready Player Me's).
pub const LOD0_MAX_TRIANGLES: usize = 25_000;

/// Each level's share of the full level's triangles: LOD1 −25 %, LOD2 −50 %.
pub const LOD_SHARES: [f32; 3] = [1.0, 0.75, 0.5];

/// Bits per position component (gltfpack's default).
const POSITION_BITS: u32 = 14;
/// Bits per texture coordinate (gltfpack's default).
const UV_BITS: u32 = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Quantised attributes, streams stored as they are.
    None,
    /// Quantised attributes, streams compressed with meshoptimizer's codecs.
    Meshopt,
}

/// What the GLB looks like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Look {
    /// Linear RGBA base colour of the skin material.
    pub base_colour: [f32; 4],
    pub roughness: f32,
}

impl Default for Look {
    fn default() -> Self {
        Look {
            base_colour: [0.62, 0.42, 0.33, 1.0],
            roughness: 0.6,
        }
    }
}

/// The mesh with only the vertices `indices` use, in the order they are
/// first fetched, after the triangles are reordered for the vertex cache.
fn compact(mesh: &AvatarMesh, indices: Vec<u32>) -> AvatarMesh {
    // Strip order: a little worse for the vertex cache, better for the
    // index codec (what gltfpack does when it compresses).
    let mut indices = meshopt::optimize_vertex_cache_strip(&indices, mesh.positions.len());
    // New numbers in first-use order (meshoptimizer's vertex-fetch order;
    // the crate's own remap is cut to the vertices used, so it cannot be
    // indexed by the old numbers).
    let mut remap = vec![u32::MAX; mesh.positions.len()];
    let mut used = 0usize;
    for &i in &indices {
        if remap[i as usize] == u32::MAX {
            remap[i as usize] = used as u32;
            used += 1;
        }
    }
    fn take<T: Copy + Default>(from: &[T], remap: &[u32], used: usize) -> Vec<T> {
        let mut out = vec![T::default(); used];
        for (old, &new) in remap.iter().enumerate() {
            if new != u32::MAX {
                out[new as usize] = from[old];
            }
        }
        out
    }
    for i in &mut indices {
        *i = remap[*i as usize];
    }
    AvatarMesh {
        positions: take(&mesh.positions, &remap, used),
        normals: take(&mesh.normals, &remap, used),
        uvs: take(&mesh.uvs, &remap, used),
        joints: take(&mesh.joints, &remap, used),
        weights: take(&mesh.weights, &remap, used),
        indices,
        skeleton: mesh.skeleton.clone(),
    }
}

/// `mesh` simplified to at most `target` triangles: positions, normals and
/// UVs weigh in the error, borders (the eye and mouth openings) stay put.
pub fn simplify(mesh: &AvatarMesh, target: usize) -> AvatarMesh {
    if mesh.triangles() <= target {
        return compact(mesh, mesh.indices.clone());
    }
    let positions: Vec<u8> = mesh
        .positions
        .iter()
        .flat_map(|p| p.iter().flat_map(|c| c.to_le_bytes()))
        .collect();
    let adapter = meshopt::VertexDataAdapter::new(&positions, 12, 0).expect("12-byte positions");
    let attributes: Vec<f32> = mesh
        .normals
        .iter()
        .zip(&mesh.uvs)
        .flat_map(|(n, uv)| [n[0], n[1], n[2], uv[0], uv[1]])
        .collect();
    let weights = [0.5, 0.5, 0.5, 1.0, 1.0];
    let locks = vec![false; mesh.positions.len()];
    let indices = meshopt::simplify_with_attributes_and_locks(
        &mesh.indices,
        &adapter,
        &attributes,
        &weights,
        5 * 4,
        &locks,
        target * 3,
        1.0,
        meshopt::SimplifyOptions::LockBorder,
        None,
    );
    compact(mesh, indices)
}

/// The levels of detail: the full mesh within [`LOD0_MAX_TRIANGLES`], then
/// [`LOD_SHARES`] of it.
pub fn lods(mesh: &AvatarMesh) -> Vec<AvatarMesh> {
    let lod0 = simplify(mesh, LOD0_MAX_TRIANGLES);
    let full = lod0.triangles();
    let mut out = vec![lod0];
    for share in &LOD_SHARES[1..] {
        let lod = simplify(&out[0], (full as f32 * share) as usize);
        out.push(lod);
    }
    out
}

/// The bytes of the BIN chunk and the document's views into it.
struct Builder {
    root: json::Root,
    /// Buffer 0: what the GLB's BIN chunk holds.
    bin: Vec<u8>,
    /// Length of the uncompressed data (buffer 1, the fallback) when
    /// streams are compressed.
    fallback: usize,
    compression: Compression,
}

fn pad4(bytes: &mut Vec<u8>, with: u8) {
    while !bytes.len().is_multiple_of(4) {
        bytes.push(with);
    }
}

/// How a stream is compressed (`EXT_meshopt_compression`'s modes).
enum Stream {
    /// Vertex attributes, decoded by `filter` when one is named.
    Attributes {
        stride: usize,
        filter: Option<&'static str>,
    },
    Triangles {
        stride: usize,
    },
    /// 4×4 float matrices (not a vertex stream: the view has no stride).
    Matrices,
    /// Bytes stored as they are (a Draco stream).
    Raw,
}

impl Builder {
    fn new(compression: Compression) -> Builder {
        Builder {
            root: json::Root {
                asset: json::Asset {
                    generator: Some(format!("atelier-body {}", env!("CARGO_PKG_VERSION"))),
                    copyright: Some("Body model: MakeHuman HM08 (CC0)".into()),
                    ..json::Asset::default()
                },
                ..Default::default()
            },
            bin: Vec::new(),
            fallback: 0,
            compression,
        }
    }

    fn view(
        &mut self,
        data: &[u8],
        count: usize,
        stream: Stream,
        target: Option<buffer::Target>,
    ) -> Index<buffer::View> {
        let stride = match stream {
            Stream::Attributes { stride, .. } => Some(stride),
            _ => None,
        };
        let compressed = match (&stream, self.compression) {
            (_, Compression::None) | (Stream::Raw, _) => None,
            (Stream::Matrices, Compression::Meshopt) => {
                Some(("ATTRIBUTES", None, 64, encode_attributes(data, 64)))
            }
            (Stream::Attributes { stride, filter }, Compression::Meshopt) => Some((
                "ATTRIBUTES",
                *filter,
                *stride,
                encode_attributes(data, *stride),
            )),
            (Stream::Triangles { stride }, Compression::Meshopt) => {
                let indices: Vec<u32> = if *stride == 2 {
                    data.chunks_exact(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]]) as u32)
                        .collect()
                } else {
                    data.chunks_exact(4)
                        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect()
                };
                let vertices = indices.iter().max().map_or(0, |m| *m as usize + 1);
                let encoded = meshopt::encode_index_buffer(&indices, vertices)
                    .expect("indices within the vertex count");
                Some(("TRIANGLES", None, *stride, encoded))
            }
        };
        let mut view = buffer::View {
            buffer: Index::new(0),
            byte_length: USize64::from(data.len()),
            byte_offset: None,
            byte_stride: stride.map(buffer::Stride),
            name: None,
            target: target.map(Checked::Valid),
            extensions: None,
            extras: Default::default(),
        };
        match compressed {
            None => {
                pad4(&mut self.bin, 0);
                view.byte_offset = Some(USize64::from(self.bin.len()));
                self.bin.extend_from_slice(data);
            }
            Some((mode, filter, stride, encoded)) => {
                pad4(&mut self.bin, 0);
                let offset = self.bin.len();
                self.bin.extend_from_slice(&encoded);
                self.fallback = self.fallback.next_multiple_of(4);
                view.buffer = Index::new(1);
                view.byte_offset = Some(USize64::from(self.fallback));
                self.fallback += data.len();
                let mut ext = value!({
                    "buffer": 0,
                    "byteOffset": offset,
                    "byteLength": encoded.len(),
                    "byteStride": stride,
                    "count": count,
                    "mode": mode,
                });
                if let Some(filter) = filter {
                    ext["filter"] = value!(filter);
                }
                let mut others = serde_json::Map::new();
                others.insert("EXT_meshopt_compression".into(), ext);
                view.extensions = Some(json::extensions::buffer::View { others });
            }
        }
        self.root.push(view)
    }

    #[allow(clippy::too_many_arguments)]
    fn accessor(
        &mut self,
        view: Index<buffer::View>,
        count: usize,
        component: accessor::ComponentType,
        kind: accessor::Type,
        normalized: bool,
        min: Option<Value>,
        max: Option<Value>,
    ) -> Index<accessor::Accessor> {
        self.root.push(accessor::Accessor {
            buffer_view: Some(view),
            byte_offset: None,
            count: USize64::from(count),
            component_type: Checked::Valid(accessor::GenericComponentType(component)),
            extensions: None,
            extras: Default::default(),
            type_: Checked::Valid(kind),
            min,
            max,
            name: None,
            normalized,
            sparse: None,
        })
    }
}

/// Attribute data in `stride`-byte vertices, meshoptimizer-encoded (codec
/// version 0, the one `EXT_meshopt_compression` specifies).
fn encode_attributes(data: &[u8], stride: usize) -> Vec<u8> {
    macro_rules! encode {
        ($n:literal) => {{
            let vertices: Vec<[u8; $n]> = data
                .chunks_exact($n)
                .map(|c| c.try_into().expect("chunk of the stride"))
                .collect();
            meshopt::encode_vertex_buffer_level(&vertices, 2, Some(0)).expect("bounded output")
        }};
    }
    match stride {
        4 => encode!(4),
        8 => encode!(8),
        64 => encode!(64),
        other => unreachable!("no {other}-byte vertex stream is written"),
    }
}

fn bytes<T: Copy, const N: usize>(items: &[[T; N]], to: impl Fn(T) -> Vec<u8>) -> Vec<u8> {
    items
        .iter()
        .flat_map(|v| v.iter().flat_map(|&c| to(c)))
        .collect()
}

/// `mesh` as one GLB: a skinned mesh, its skeleton's joint nodes and one
/// skin material.
pub fn write_glb(mesh: &AvatarMesh, look: &Look, compression: Compression) -> Vec<u8> {
    let mut b = Builder::new(compression);
    let n = mesh.positions.len();
    use accessor::{ComponentType as C, Type as T};

    // Positions: 14-bit unsigned integers over the bounding box, one scale
    // for all three axes so the shape keeps its proportions.
    let (lo, hi) = mesh.bounds();
    let extent = (0..3).map(|k| hi[k] - lo[k]).fold(0f32, f32::max).max(1e-6);
    let step = extent / ((1u32 << POSITION_BITS) - 1) as f32;
    let quantised: Vec<[u16; 4]> = mesh
        .positions
        .iter()
        .map(|p| {
            let q = |k: usize| ((p[k] - lo[k]) / step).round() as u16;
            [q(0), q(1), q(2), 0]
        })
        .collect();
    let (qmin, qmax) = quantised
        .iter()
        .fold(([u16::MAX; 3], [0u16; 3]), |(lo, hi), q| {
            (
                [lo[0].min(q[0]), lo[1].min(q[1]), lo[2].min(q[2])],
                [hi[0].max(q[0]), hi[1].max(q[1]), hi[2].max(q[2])],
            )
        });
    let view = b.view(
        &bytes(&quantised, |c| c.to_le_bytes().to_vec()),
        n,
        Stream::Attributes {
            stride: 8,
            filter: None,
        },
        Some(buffer::Target::ArrayBuffer),
    );
    let position = b.accessor(
        view,
        n,
        C::U16,
        T::Vec3,
        false,
        Some(value!(qmin)),
        Some(value!(qmax)),
    );

    // Normals: 8-bit, octahedral-encoded when compressed (the codec's
    // filter decodes them to unit vectors).
    let normals: Vec<[i8; 4]> = match compression {
        Compression::Meshopt => {
            let unit: Vec<[f32; 4]> = mesh
                .normals
                .iter()
                .map(|v| [v[0], v[1], v[2], 0.0])
                .collect();
            meshopt::encode_filter_oct(&unit, 8)
        }
        Compression::None => mesh
            .normals
            .iter()
            .map(|v| {
                let q = |c: f32| meshopt::quantize_snorm(c, 8) as i8;
                [q(v[0]), q(v[1]), q(v[2]), 0]
            })
            .collect(),
    };
    let view = b.view(
        &bytes(&normals, |c| c.to_le_bytes().to_vec()),
        n,
        Stream::Attributes {
            stride: 4,
            filter: Some("OCTAHEDRAL"),
        },
        Some(buffer::Target::ArrayBuffer),
    );
    let normal = b.accessor(view, n, C::I8, T::Vec3, true, None, None);

    // UVs: floats, [`UV_BITS`] of mantissa under one exponent per component
    // when compressed (the exponential filter), so they stay true 0..1
    // texture coordinates without a texture transform.
    let uv_bytes = match compression {
        Compression::Meshopt => {
            let encoded = meshopt::encode_filter_exp(
                &mesh.uvs,
                UV_BITS as i32,
                meshopt::EncodeExpMode::SharedComponent,
            );
            bytes(&encoded, |c| c.to_le_bytes().to_vec())
        }
        Compression::None => bytes(&mesh.uvs, |c| c.to_le_bytes().to_vec()),
    };
    let view = b.view(
        &uv_bytes,
        n,
        Stream::Attributes {
            stride: 8,
            filter: Some("EXPONENTIAL"),
        },
        Some(buffer::Target::ArrayBuffer),
    );
    let uv = b.accessor(view, n, C::F32, T::Vec2, false, None, None);

    // Quantised weights first: a bone whose weight rounds to nothing is
    // named as joint 0, as the validator expects.
    let weights: Vec<[u8; INFLUENCES]> = mesh.weights.iter().map(|w| weights_u8(*w)).collect();
    let joint_ids: Vec<[u8; INFLUENCES]> = mesh
        .joints
        .iter()
        .zip(&weights)
        .map(|(j, w)| std::array::from_fn(|k| if w[k] == 0 { 0 } else { j[k] }))
        .collect();
    let view = b.view(
        &bytes(&joint_ids, |c| vec![c]),
        n,
        Stream::Attributes {
            stride: 4,
            filter: None,
        },
        Some(buffer::Target::ArrayBuffer),
    );
    let joints = b.accessor(view, n, C::U8, T::Vec4, false, None, None);
    let view = b.view(
        &bytes(&weights, |c| vec![c]),
        n,
        Stream::Attributes {
            stride: 4,
            filter: None,
        },
        Some(buffer::Target::ArrayBuffer),
    );
    let weights = b.accessor(view, n, C::U8, T::Vec4, true, None, None);

    let (index_bytes, index_type, index_stride) = if n <= u16::MAX as usize {
        (
            mesh.indices
                .iter()
                .flat_map(|&i| (i as u16).to_le_bytes())
                .collect::<Vec<u8>>(),
            C::U16,
            2,
        )
    } else {
        (
            mesh.indices.iter().flat_map(|&i| i.to_le_bytes()).collect(),
            C::U32,
            4,
        )
    };
    let view = b.view(
        &index_bytes,
        mesh.indices.len(),
        Stream::Triangles {
            stride: index_stride,
        },
        Some(buffer::Target::ElementArrayBuffer),
    );
    let indices = b.accessor(
        view,
        mesh.indices.len(),
        index_type,
        T::Scalar,
        false,
        None,
        None,
    );

    // A joint's inverse bind matrix moves its head to the origin after
    // dequantising the position (step, then offset).
    let dequantise = |head: [f32; 3]| {
        let t = [lo[0] - head[0], lo[1] - head[1], lo[2] - head[2]];
        [
            step, 0.0, 0.0, 0.0, 0.0, step, 0.0, 0.0, 0.0, 0.0, step, 0.0, t[0], t[1], t[2], 1.0,
        ]
    };
    let attributes = BTreeMap::from([
        (Checked::Valid(mesh::Semantic::Positions), position),
        (Checked::Valid(mesh::Semantic::Normals), normal),
        (Checked::Valid(mesh::Semantic::TexCoords(0)), uv),
        (Checked::Valid(mesh::Semantic::Joints(0)), joints),
        (Checked::Valid(mesh::Semantic::Weights(0)), weights),
    ]);
    b.root.extensions_used.push("KHR_mesh_quantization".into());
    b.root
        .extensions_required
        .push("KHR_mesh_quantization".into());
    if b.fallback > 0 {
        b.root
            .extensions_used
            .push("EXT_meshopt_compression".into());
        b.root
            .extensions_required
            .push("EXT_meshopt_compression".into());
    }
    finish(b, mesh, look, attributes, indices, None, dequantise)
}

/// What every variant shares: the inverse bind matrices (`ibm` of each
/// joint's head), the skin material, the mesh with its one primitive, the
/// skeleton's nodes (translated from their parents, no rotation in the
/// bind pose), the scene, the buffers and the GLB container.
fn finish(
    mut b: Builder,
    mesh: &AvatarMesh,
    look: &Look,
    attributes: BTreeMap<Checked<mesh::Semantic>, Index<accessor::Accessor>>,
    indices: Index<accessor::Accessor>,
    primitive_extensions: Option<json::extensions::mesh::Primitive>,
    ibm: impl Fn([f32; 3]) -> [f32; 16],
) -> Vec<u8> {
    use accessor::{ComponentType as C, Type as T};
    let ibm: Vec<[f32; 16]> = mesh.skeleton.iter().map(|j| ibm(j.head)).collect();
    let view = b.view(
        &bytes(&ibm, |c| c.to_le_bytes().to_vec()),
        ibm.len(),
        Stream::Matrices,
        None,
    );
    let ibm = b.accessor(
        view,
        mesh.skeleton.len(),
        C::F32,
        T::Mat4,
        false,
        None,
        None,
    );

    let material = b.root.push(json::Material {
        name: Some("skin".into()),
        pbr_metallic_roughness: json::material::PbrMetallicRoughness {
            base_color_factor: json::material::PbrBaseColorFactor(look.base_colour),
            metallic_factor: json::material::StrengthFactor(0.0),
            roughness_factor: json::material::StrengthFactor(look.roughness),
            ..Default::default()
        },
        ..Default::default()
    });
    let body = b.root.push(json::Mesh {
        extensions: None,
        extras: Default::default(),
        name: Some("body".into()),
        primitives: vec![mesh::Primitive {
            attributes,
            extensions: primitive_extensions,
            extras: Default::default(),
            indices: Some(indices),
            material: Some(material),
            mode: Checked::Valid(mesh::Mode::Triangles),
            targets: None,
        }],
        weights: None,
    });
    // Node 0 carries the skinned mesh; joints follow, node 1 the root bone.
    let skin_node = b.root.push(json::Node {
        mesh: Some(body),
        name: Some("avatar".into()),
        ..Default::default()
    });
    let first = b.root.nodes.len() as u32;
    for j in &mesh.skeleton {
        let parent = j.parent.map_or([0.0; 3], |p| mesh.skeleton[p].head);
        let children: Vec<Index<json::Node>> = mesh
            .skeleton
            .iter()
            .enumerate()
            .filter(|(_, c)| c.parent.is_some_and(|p| mesh.skeleton[p].name == j.name))
            .map(|(i, _)| Index::new(first + i as u32))
            .collect();
        b.root.push(json::Node {
            name: Some(j.name.clone()),
            translation: Some([
                j.head[0] - parent[0],
                j.head[1] - parent[1],
                j.head[2] - parent[2],
            ]),
            children: (!children.is_empty()).then_some(children),
            ..Default::default()
        });
    }
    let roots: Vec<Index<json::Node>> = mesh
        .skeleton
        .iter()
        .enumerate()
        .filter(|(_, j)| j.parent.is_none())
        .map(|(i, _)| Index::new(first + i as u32))
        .collect();
    let skin = b.root.push(json::Skin {
        extensions: None,
        extras: Default::default(),
        inverse_bind_matrices: Some(ibm),
        joints: (0..mesh.skeleton.len() as u32)
            .map(|i| Index::new(first + i))
            .collect(),
        name: Some("game_engine".into()),
        skeleton: roots.first().copied(),
    });
    b.root.nodes[skin_node.value()].skin = Some(skin);
    let mut scene_nodes = vec![skin_node];
    scene_nodes.extend(roots);
    let scene = b.root.push(json::Scene {
        extensions: None,
        extras: Default::default(),
        name: None,
        nodes: scene_nodes,
    });
    b.root.scene = Some(scene);

    pad4(&mut b.bin, 0);
    b.root.push(json::Buffer {
        byte_length: USize64::from(b.bin.len()),
        name: None,
        uri: None,
        extensions: None,
        extras: Default::default(),
    });
    if b.fallback > 0 {
        let mut others = serde_json::Map::new();
        others.insert("EXT_meshopt_compression".into(), value!({"fallback": true}));
        b.root.push(json::Buffer {
            byte_length: USize64::from(b.fallback.next_multiple_of(4)),
            name: None,
            uri: None,
            extensions: Some(json::extensions::buffer::Buffer { others }),
            extras: Default::default(),
        });
    }
    let text = serde_json::to_vec(&b.root).expect("a glTF document serialises");
    container(text, b.bin)
}

/// `mesh` as one GLB whose primitive is Draco-compressed
/// (`KHR_draco_mesh_compression`, encoded by `draco-core`, byte-compatible
/// with Google's Draco 1.5.7): positions at 14 bits, normals 10, UVs 12 and
/// weights 10 inside the Draco stream, joints as bytes; the skin and
/// material as in [`write_glb`], with plain inverse bind matrices.
pub fn write_glb_draco(mesh: &AvatarMesh, look: &Look) -> Result<Vec<u8>, String> {
    use draco_core::{
        DataType, EncoderBuffer, EncoderOptions, GeometryAttributeType as G, Mesh, MeshEncoder,
        PointAttribute,
    };
    let n = mesh.positions.len();
    let mut draco = Mesh::new();
    let mut add = |kind: G, components: u8, data: DataType, bytes: Vec<u8>| {
        let mut a = PointAttribute::new();
        a.init(kind, components, data, false, n);
        a.buffer_mut().write(0, &bytes);
        draco.add_attribute(a)
    };
    let floats = |v: Vec<f32>| v.iter().flat_map(|c| c.to_le_bytes()).collect::<Vec<u8>>();
    let position = add(
        G::Position,
        3,
        DataType::Float32,
        floats(mesh.positions.iter().flatten().copied().collect()),
    );
    let normal = add(
        G::Normal,
        3,
        DataType::Float32,
        floats(mesh.normals.iter().flatten().copied().collect()),
    );
    let uv = add(
        G::TexCoord,
        2,
        DataType::Float32,
        floats(mesh.uvs.iter().flatten().copied().collect()),
    );
    let joints = add(
        G::Generic,
        INFLUENCES as u8,
        DataType::Uint8,
        mesh.joints.iter().flatten().copied().collect(),
    );
    let weights = add(
        G::Generic,
        INFLUENCES as u8,
        DataType::Float32,
        floats(
            mesh.weights
                .iter()
                .flat_map(|w| weights_u8(*w).map(|q| f32::from(q) / 255.0))
                .collect(),
        ),
    );
    draco.set_num_faces(mesh.triangles());
    draco.set_faces_from_flat_indices(&mesh.indices);
    let mut options = EncoderOptions::new();
    for (id, bits) in [(position, 14), (normal, 10), (uv, 12), (weights, 10)] {
        options.set_attribute_int(id, "quantization_bits", bits);
    }
    let mut encoder = MeshEncoder::new();
    encoder.set_mesh(draco);
    let mut out = EncoderBuffer::new();
    encoder
        .encode(&options, &mut out)
        .map_err(|e| format!("Draco encoding: {e}"))?;

    let mut b = Builder::new(Compression::None);
    use accessor::{ComponentType as C, Type as T};
    let stream = b.view(out.data(), 1, Stream::Raw, None);
    // Accessors without views: the loader fills them from the Draco stream.
    let mut bare = |component: C, kind: T, min: Option<Value>, max: Option<Value>, count: usize| {
        b.root.push(accessor::Accessor {
            buffer_view: None,
            byte_offset: None,
            count: USize64::from(count),
            component_type: Checked::Valid(accessor::GenericComponentType(component)),
            extensions: None,
            extras: Default::default(),
            type_: Checked::Valid(kind),
            min,
            max,
            name: None,
            normalized: false,
            sparse: None,
        })
    };
    let (lo, hi) = mesh.bounds();
    let attributes = BTreeMap::from([
        (
            Checked::Valid(mesh::Semantic::Positions),
            bare(C::F32, T::Vec3, Some(value!(lo)), Some(value!(hi)), n),
        ),
        (
            Checked::Valid(mesh::Semantic::Normals),
            bare(C::F32, T::Vec3, None, None, n),
        ),
        (
            Checked::Valid(mesh::Semantic::TexCoords(0)),
            bare(C::F32, T::Vec2, None, None, n),
        ),
        (
            Checked::Valid(mesh::Semantic::Joints(0)),
            bare(C::U8, T::Vec4, None, None, n),
        ),
        (
            Checked::Valid(mesh::Semantic::Weights(0)),
            bare(C::F32, T::Vec4, None, None, n),
        ),
    ]);
    let index_type = if n <= u16::MAX as usize {
        C::U16
    } else {
        C::U32
    };
    let indices = bare(index_type, T::Scalar, None, None, mesh.indices.len());
    let mut others = serde_json::Map::new();
    others.insert(
        "KHR_draco_mesh_compression".into(),
        value!({
            "bufferView": stream.value(),
            "attributes": {
                "POSITION": position, "NORMAL": normal, "TEXCOORD_0": uv,
                "JOINTS_0": joints, "WEIGHTS_0": weights,
            },
        }),
    );
    b.root
        .extensions_used
        .push("KHR_draco_mesh_compression".into());
    b.root
        .extensions_required
        .push("KHR_draco_mesh_compression".into());
    let inverse_translation = |head: [f32; 3]| {
        [
            1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, -head[0], -head[1],
            -head[2], 1.0,
        ]
    };
    Ok(finish(
        b,
        mesh,
        look,
        attributes,
        indices,
        Some(json::extensions::mesh::Primitive { others }),
        inverse_translation,
    ))
}

/// Weights as normalised bytes that sum to exactly 255 (the rounding error
/// goes to the strongest bone).
fn weights_u8(w: [f32; INFLUENCES]) -> [u8; INFLUENCES] {
    let sum: f32 = w.iter().sum();
    if sum <= 0.0 {
        return [255, 0, 0, 0];
    }
    let mut out = w.map(|x| (x / sum * 255.0).round() as i32);
    let strongest = (0..INFLUENCES).max_by_key(|&i| out[i]).unwrap_or(0);
    out[strongest] += 255 - out.iter().sum::<i32>();
    out.map(|x| x.clamp(0, 255) as u8)
}

/// The GLB container: header, JSON chunk (space-padded), BIN chunk.
fn container(mut text: Vec<u8>, bin: Vec<u8>) -> Vec<u8> {
    pad4(&mut text, b' ');
    let total = 12 + 8 + text.len() + 8 + bin.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"glTF");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(&text);
    out.extend_from_slice(&(bin.len() as u32).to_le_bytes());
    out.extend_from_slice(b"BIN\0");
    out.extend_from_slice(&bin);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_255() {
        for w in [
            [0.5, 0.3, 0.2, 0.0],
            [1.0 / 3.0; 3]
                .into_iter()
                .chain([0.0])
                .collect::<Vec<_>>()
                .try_into()
                .unwrap(),
            [0.0; 4],
        ] {
            let q = weights_u8(w);
            assert_eq!(
                q.iter().map(|&x| x as u32).sum::<u32>(),
                255,
                "{w:?} → {q:?}"
            );
        }
        assert_eq!(weights_u8([0.0; 4]), [255, 0, 0, 0]);
    }
}
