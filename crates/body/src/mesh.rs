//! The avatar's mesh: the skin of a shaped body (the `body` group; helper
//! geometry for clothes, hair, eyes and teeth left out), triangulated, split
//! where the UV map has seams, with smooth normals, the rig's joints placed
//! on the shape and each vertex's four strongest bone weights. Metres, y up,
//! facing +z, feet on y = 0, the pelvis over the origin: what a glTF viewer
//! expects.
use crate::rig::{INFLUENCES, Joint, Rig};
use crate::{BaseMesh, BodyError, UNITS_PER_METRE};

#[derive(Debug, Clone, PartialEq)]
pub struct AvatarMesh {
    pub positions: Vec<[f32; 3]>,
    pub normals: Vec<[f32; 3]>,
    /// glTF's convention: v grows downwards.
    pub uvs: Vec<[f32; 2]>,
    pub joints: Vec<[u8; INFLUENCES]>,
    pub weights: Vec<[f32; INFLUENCES]>,
    pub indices: Vec<u32>,
    pub skeleton: Vec<Joint>,
}

impl AvatarMesh {
    pub fn triangles(&self) -> usize {
        self.indices.len() / 3
    }

    /// Lowest and highest corner of the positions.
    pub fn bounds(&self) -> ([f32; 3], [f32; 3]) {
        self.positions
            .iter()
            .fold(([f32::MAX; 3], [f32::MIN; 3]), |(lo, hi), p| {
                (
                    [lo[0].min(p[0]), lo[1].min(p[1]), lo[2].min(p[2])],
                    [hi[0].max(p[0]), hi[1].max(p[1]), hi[2].max(p[2])],
                )
            })
    }
}

/// What [`AvatarMesh::to_bytes`] writes first.
const MAGIC: &[u8; 4] = b"AVM1";

impl AvatarMesh {
    /// The mesh as bytes (a stage's stored output): a header, the skeleton
    /// as JSON, then each attribute array little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let skeleton = serde_json::to_vec(&self.skeleton).expect("joints serialise");
        let n = self.positions.len();
        let mut out = Vec::with_capacity(16 + skeleton.len() + n * 56 + self.indices.len() * 4);
        out.extend_from_slice(MAGIC);
        for count in [skeleton.len(), n, self.indices.len()] {
            out.extend_from_slice(&(count as u32).to_le_bytes());
        }
        out.extend_from_slice(&skeleton);
        let floats = self
            .positions
            .iter()
            .flatten()
            .chain(self.normals.iter().flatten())
            .chain(self.uvs.iter().flatten())
            .chain(self.weights.iter().flatten());
        for f in floats {
            out.extend_from_slice(&f.to_le_bytes());
        }
        out.extend(self.joints.iter().flatten());
        for i in &self.indices {
            out.extend_from_slice(&i.to_le_bytes());
        }
        out
    }

    /// A mesh [`to_bytes`](Self::to_bytes) wrote; `None` for anything else.
    pub fn from_bytes(bytes: &[u8]) -> Option<AvatarMesh> {
        let word = |at: usize| -> Option<usize> {
            Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize)
        };
        if bytes.get(..4)? != MAGIC {
            return None;
        }
        let (json, n, indices) = (word(4)?, word(8)?, word(12)?);
        let mut at: usize = 16;
        let skeleton: Vec<Joint> =
            serde_json::from_slice(bytes.get(at..at.checked_add(json)?)?).ok()?;
        at += json;
        let expected = n
            .checked_mul((3 + 3 + 2 + INFLUENCES) * 4 + INFLUENCES)?
            .checked_add(indices.checked_mul(4)?)?
            .checked_add(at)?;
        if bytes.len() != expected {
            return None;
        }
        let mut floats = bytes[at..at + n * (8 + INFLUENCES) * 4]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        let mut take = |k: usize| -> Vec<f32> { floats.by_ref().take(k).collect() };
        fn group<const N: usize>(v: Vec<f32>) -> Vec<[f32; N]> {
            v.chunks_exact(N)
                .map(|c| c.try_into().expect("N floats"))
                .collect()
        }
        let positions = group::<3>(take(n * 3));
        let normals = group::<3>(take(n * 3));
        let uvs = group::<2>(take(n * 2));
        let weights = group::<INFLUENCES>(take(n * INFLUENCES));
        at += n * (8 + INFLUENCES) * 4;
        let joints = bytes[at..at + n * INFLUENCES]
            .chunks_exact(INFLUENCES)
            .map(|c| c.try_into().expect("4 bytes"))
            .collect();
        at += n * INFLUENCES;
        let indices: Vec<u32> = bytes[at..]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if indices.iter().any(|&i| i as usize >= n) {
            return None;
        }
        Some(AvatarMesh {
            positions,
            normals,
            uvs,
            joints,
            weights,
            indices,
            skeleton,
        })
    }
}

fn sub(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// The skin of `positions` (a shape of `base`), rigged with `rig`.
pub fn skin_mesh(
    base: &BaseMesh,
    positions: &[[f32; 3]],
    rig: &Rig,
) -> Result<AvatarMesh, BodyError> {
    let faces = base.group("body")?;
    let body = base.group_vertices("body")?;
    let pelvis = base.centre("joint-pelvis", positions)?;
    let floor = body
        .iter()
        .map(|&i| positions[i as usize][1])
        .fold(f32::MAX, f32::min);
    let origin = [pelvis[0], floor, pelvis[2]];
    let place = |p: [f32; 3]| sub(p, origin).map(|c| c / UNITS_PER_METRE);

    // Smooth normals over the welded surface (area-weighted), so UV seams
    // do not show as creases.
    let mut smooth = vec![[0f32; 3]; positions.len()];
    for tri in base.triangles("body")? {
        let [a, b, c] = tri.map(|i| positions[i as usize]);
        let n = cross(sub(b, a), sub(c, a));
        for i in tri {
            for k in 0..3 {
                smooth[i as usize][k] += n[k];
            }
        }
    }

    // One output vertex per (position, uv) pair a face corner uses.
    let mut index = std::collections::HashMap::new();
    let mut mesh = AvatarMesh {
        positions: Vec::new(),
        normals: Vec::new(),
        uvs: Vec::new(),
        joints: Vec::new(),
        weights: Vec::new(),
        indices: Vec::with_capacity(faces.len() * 6),
        skeleton: Vec::new(),
    };
    for face in faces {
        if face.uvs.len() != face.vertices.len() {
            return Err(BodyError::Parse {
                what: "base.obj".into(),
                line: 0,
                message: "a skin face without UVs on every corner".into(),
            });
        }
        let mut corners = Vec::with_capacity(face.vertices.len());
        for (&v, &t) in face.vertices.iter().zip(&face.uvs) {
            let next = mesh.positions.len() as u32;
            let id = *index.entry((v, t)).or_insert_with(|| {
                let [u, w] = base.uvs[t as usize];
                let n = smooth[v as usize];
                let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
                mesh.positions.push(place(positions[v as usize]));
                mesh.normals.push(if len > 0.0 {
                    n.map(|c| c / len)
                } else {
                    [0.0, 1.0, 0.0]
                });
                mesh.uvs.push([u, 1.0 - w]);
                let inf = rig.influences(v);
                mesh.joints.push(inf.map(|p| p.0));
                mesh.weights.push(inf.map(|p| p.1));
                next
            });
            corners.push(id);
        }
        for k in 1..corners.len() - 1 {
            mesh.indices
                .extend([corners[0], corners[k], corners[k + 1]]);
        }
    }
    mesh.skeleton = rig
        .place(base, positions)?
        .into_iter()
        .map(|j| Joint {
            head: place(j.head),
            ..j
        })
        .collect();
    Ok(mesh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mesh_survives_its_bytes_and_damage_is_refused() {
        let mesh = AvatarMesh {
            positions: vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.5, 0.25]],
            normals: vec![[0.0, 0.0, 1.0]; 3],
            uvs: vec![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]],
            joints: vec![[0, 1, 0, 0]; 3],
            weights: vec![[0.75, 0.25, 0.0, 0.0]; 3],
            indices: vec![0, 1, 2],
            skeleton: vec![Joint {
                name: "Root".into(),
                parent: None,
                head: [0.0, 0.1, 0.0],
            }],
        };
        let bytes = mesh.to_bytes();
        assert_eq!(AvatarMesh::from_bytes(&bytes), Some(mesh));
        assert_eq!(AvatarMesh::from_bytes(&bytes[..bytes.len() - 1]), None);
        assert_eq!(AvatarMesh::from_bytes(b"glTF"), None);
        let mut bad = bytes.clone();
        let last = bad.len() - 4;
        bad[last..].copy_from_slice(&7u32.to_le_bytes());
        assert_eq!(
            AvatarMesh::from_bytes(&bad),
            None,
            "an index past the vertices"
        );
    }
}
