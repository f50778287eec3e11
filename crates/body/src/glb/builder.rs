//! The glTF document and its BIN chunk as they are built: buffer views
//! (compressed with meshoptimizer's codecs or stored as they are),
//! accessors, and what every variant shares (skin, material, skeleton
//! nodes, scene, buffers, the GLB container).
use std::collections::BTreeMap;

use gltf_json as json;
use json::validation::{Checked, USize64};
use json::{Index, accessor, buffer, mesh};
use serde_json::{Value, json as value};

use super::{Compression, Look};
use crate::mesh::AvatarMesh;
use crate::rig::INFLUENCES;

/// The bytes of the BIN chunk and the document's views into it.
pub(super) struct Builder {
    pub(super) root: json::Root,
    /// Buffer 0: what the GLB's BIN chunk holds.
    pub(super) bin: Vec<u8>,
    /// Length of the uncompressed data (buffer 1, the fallback) when
    /// streams are compressed.
    pub(super) fallback: usize,
    compression: Compression,
}

pub(super) fn pad4(bytes: &mut Vec<u8>, with: u8) {
    while !bytes.len().is_multiple_of(4) {
        bytes.push(with);
    }
}

/// How a stream is compressed (`EXT_meshopt_compression`'s modes).
pub(super) enum Stream {
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
    pub(super) fn new(compression: Compression) -> Builder {
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

    /// An extension the file uses and a loader must know.
    pub(super) fn require(&mut self, extension: &str) {
        self.root.extensions_used.push(extension.into());
        self.root.extensions_required.push(extension.into());
    }

    pub(super) fn view(
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

    /// An accessor into `view`, or with none (`None`: a Draco primitive's,
    /// which the loader fills from the Draco stream).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn accessor(
        &mut self,
        view: Option<Index<buffer::View>>,
        count: usize,
        component: accessor::ComponentType,
        kind: accessor::Type,
        normalized: bool,
        min: Option<Value>,
        max: Option<Value>,
    ) -> Index<accessor::Accessor> {
        self.root.push(accessor::Accessor {
            buffer_view: view,
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

pub(super) fn bytes<T: Copy, const N: usize>(
    items: &[[T; N]],
    to: impl Fn(T) -> Vec<u8>,
) -> Vec<u8> {
    items
        .iter()
        .flat_map(|v| v.iter().flat_map(|&c| to(c)))
        .collect()
}

/// What every variant shares: the inverse bind matrices (`ibm` of each
/// joint's head), the skin material, the mesh with its one primitive, the
/// skeleton's nodes (translated from their parents, no rotation in the
/// bind pose), the scene, the buffers and the GLB container.
pub(super) fn finish(
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
        Some(view),
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

/// Weights as normalised bytes that sum to exactly 255 (the rounding error
/// goes to the strongest bone).
pub(super) fn weights_u8(w: [f32; INFLUENCES]) -> [u8; INFLUENCES] {
    let sum: f32 = w.iter().sum();
    if sum <= 0.0 {
        return [255, 0, 0, 0];
    }
    let mut out = w.map(|x| (x / sum * 255.0).round() as i32);
    let strongest = (0..INFLUENCES).max_by_key(|&i| out[i]).unwrap_or(0);
    out[strongest] += 255 - out.iter().sum::<i32>();
    out.map(|x| x.clamp(0, 255) as u8)
}

/// The GLB container (header, JSON chunk, BIN chunk), written by the
/// `gltf` crate.
fn container(text: Vec<u8>, bin: Vec<u8>) -> Vec<u8> {
    gltf::binary::Glb {
        header: gltf::binary::Header {
            magic: *b"glTF",
            version: 2,
            length: 0,
        },
        json: text.into(),
        bin: Some(bin.into()),
    }
    .to_vec()
    .expect("a GLB is written to memory")
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
