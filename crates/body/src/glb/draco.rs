//! The Draco variant: the primitive compressed with
//! `KHR_draco_mesh_compression` (encoded by `draco-core`, byte-compatible
//! with Google's Draco 1.5.7).
use std::collections::BTreeMap;

use gltf_json as json;
use json::validation::Checked;
use json::{accessor, mesh};
use serde_json::{Value, json as value};

use super::builder::{Builder, Stream, finish, weights_u8};
use super::{Compression, Look};
use crate::mesh::AvatarMesh;
use crate::rig::INFLUENCES;

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
        b.accessor(None, count, component, kind, false, min, max)
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
    b.require("KHR_draco_mesh_compression");
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
