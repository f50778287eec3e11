//! The document's default scene walked into world-space meshes: node
//! transforms, skins in their bind pose, primitives (bounded, quantised or
//! not) and materials.
use glam::{Mat4, Vec3};
use gltf::mesh::{Mode, Semantic};

use super::texture::TextureCache;
use super::{AlphaMode, Limits, Material, Mesh, Model, Resolver, invalid};
use crate::error::{RenderError, Result};

pub(super) struct Loader<'a> {
    pub(super) document: &'a gltf::Document,
    pub(super) buffers: &'a [Vec<u8>],
    /// Views stored with EXT_meshopt_compression, decoded.
    pub(super) decoded: &'a std::collections::HashMap<usize, Vec<u8>>,
    pub(super) resolve: Resolver<'a>,
    pub(super) limits: &'a Limits,
}

impl Loader<'_> {
    pub(super) fn model(&self) -> Result<Model> {
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
