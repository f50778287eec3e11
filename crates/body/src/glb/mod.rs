//! The avatar as web-ready GLB files: levels of detail simplified with
//! meshoptimizer (attribute-aware, so UV seams and the silhouette hold),
//! vertex-cache and vertex-fetch order, attributes quantised
//! (`KHR_mesh_quantization`: 14-bit positions whose dequantisation is folded
//! into the skin's inverse bind matrices, 8-bit normals, 12-bit UVs, 8-bit
//! joints and weights) and, by default, streams compressed with
//! meshoptimizer's codecs (`EXT_meshopt_compression`, the form `gltfpack
//! -cc` writes), or the primitive Draco-compressed instead. The document
//! is built with `gltf-json` (`builder.rs`: views, accessors and what
//! every variant shares), the attributes by `quantised.rs` and `draco.rs`.
mod builder;
mod draco;
mod quantised;

use crate::mesh::AvatarMesh;

pub use draco::write_glb_draco;
pub use quantised::write_glb;

/// The most triangles the full level of detail keeps (a web avatar's
/// budget, as Ready Player Me's).
pub const LOD0_MAX_TRIANGLES: usize = 25_000;

/// Each level's share of the full level's triangles: LOD1 −25 %, LOD2 −50 %.
pub const LOD_SHARES: [f32; 3] = [1.0, 0.75, 0.5];

/// Bits per position component (gltfpack's default).
pub(crate) const POSITION_BITS: u32 = 14;
/// Bits per texture coordinate (gltfpack's default).
pub(crate) const UV_BITS: u32 = 12;

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
