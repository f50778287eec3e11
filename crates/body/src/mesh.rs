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
