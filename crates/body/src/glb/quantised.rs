//! The meshopt variant's attributes, quantised as gltfpack does
//! (`KHR_mesh_quantization`): 14-bit positions whose dequantisation is
//! folded into the skin's inverse bind matrices, 8-bit octahedral normals,
//! UVs with 12 bits of mantissa, 8-bit joints and weights; each stream
//! compressed with meshoptimizer's codecs when asked.
use std::collections::BTreeMap;

use gltf_json as json;
use json::validation::Checked;
use json::{Index, accessor, buffer, mesh};
use serde_json::json as value;

use super::builder::{Builder, Stream, bytes, finish, weights_u8};
use super::{Compression, Look, POSITION_BITS, UV_BITS};
use crate::mesh::AvatarMesh;
use crate::rig::INFLUENCES;

use accessor::{ComponentType as C, Type as T};

type Accessor = Index<accessor::Accessor>;

/// `mesh` as one GLB: a skinned mesh, its skeleton's joint nodes and one
/// skin material.
pub fn write_glb(mesh: &AvatarMesh, look: &Look, compression: Compression) -> Vec<u8> {
    let mut b = Builder::new(compression);
    let (position, lo, step) = positions(&mut b, mesh);
    let normal = normals(&mut b, mesh, compression);
    let uv = uvs(&mut b, mesh, compression);
    let (joints, weights) = skin(&mut b, mesh);
    let indices = indices(&mut b, mesh);
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
    b.require("KHR_mesh_quantization");
    if b.fallback > 0 {
        b.require("EXT_meshopt_compression");
    }
    finish(b, mesh, look, attributes, indices, None, dequantise)
}

/// Positions: 14-bit unsigned integers over the bounding box, one scale for
/// all three axes so the shape keeps its proportions. Also the box's corner
/// and the step, which the inverse bind matrices undo.
fn positions(b: &mut Builder, mesh: &AvatarMesh) -> (Accessor, [f32; 3], f32) {
    let n = mesh.positions.len();
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
        Some(view),
        n,
        C::U16,
        T::Vec3,
        false,
        Some(value!(qmin)),
        Some(value!(qmax)),
    );

    (position, lo, step)
}

/// Normals: 8-bit, octahedral-encoded when compressed (the codec's filter
/// decodes them to unit vectors).
fn normals(b: &mut Builder, mesh: &AvatarMesh, compression: Compression) -> Accessor {
    let n = mesh.positions.len();
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
    b.accessor(Some(view), n, C::I8, T::Vec3, true, None, None)
}

/// UVs: floats, [`UV_BITS`] of mantissa under one exponent per component
/// when compressed (the exponential filter), so they stay true 0..1
/// texture coordinates without a texture transform.
fn uvs(b: &mut Builder, mesh: &AvatarMesh, compression: Compression) -> Accessor {
    let n = mesh.positions.len();
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
    b.accessor(Some(view), n, C::F32, T::Vec2, false, None, None)
}

/// Joints and weights as bytes; quantised weights first: a bone whose
/// weight rounds to nothing is named as joint 0, as the validator expects.
fn skin(b: &mut Builder, mesh: &AvatarMesh) -> (Accessor, Accessor) {
    let n = mesh.positions.len();
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
    let joints = b.accessor(Some(view), n, C::U8, T::Vec4, false, None, None);
    let view = b.view(
        &bytes(&weights, |c| vec![c]),
        n,
        Stream::Attributes {
            stride: 4,
            filter: None,
        },
        Some(buffer::Target::ArrayBuffer),
    );
    let weights = b.accessor(Some(view), n, C::U8, T::Vec4, true, None, None);
    (joints, weights)
}

/// Triangle indices, 16-bit where the vertices allow.
fn indices(b: &mut Builder, mesh: &AvatarMesh) -> Accessor {
    let n = mesh.positions.len();
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
    b.accessor(
        Some(view),
        mesh.indices.len(),
        index_type,
        T::Scalar,
        false,
        None,
        None,
    )
}
