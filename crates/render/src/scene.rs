//! A scene: the items of a design placed and recoloured, with a background
//! and a light rig. Pure data; [`crate::Renderer`] draws it.
use glam::{Mat4, Quat, Vec3};

use crate::camera::Bounds;
use crate::error::{RenderError, Result};
use crate::model::{Mesh, Model, Texture, smooth_normals};

/// Placement of an item: translation (metres), rotation (unit quaternion
/// x, y, z, w), scale per axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    pub translation: [f32; 3],
    pub rotation: [f32; 4],
    pub scale: [f32; 3],
}

impl Default for Placement {
    fn default() -> Self {
        Placement {
            translation: [0.0; 3],
            rotation: [0.0, 0.0, 0.0, 1.0],
            scale: [1.0; 3],
        }
    }
}

impl Placement {
    pub fn matrix(&self) -> Mat4 {
        Mat4::from_scale_rotation_translation(
            Vec3::from(self.scale),
            Quat::from_array(self.rotation).normalize(),
            Vec3::from(self.translation),
        )
    }
}

/// Material changes a design makes to every mesh of one item.
#[derive(Debug, Clone, Default)]
pub struct MaterialOverride {
    /// sRGB colour with alpha, 0–255. Replaces the base colour; the model's own
    /// base-colour texture is dropped unless `texture` is given (then it tints it).
    pub base_colour: Option<[u8; 4]>,
    pub texture: Option<Texture>,
    pub roughness: Option<f32>,
    pub metallic: Option<f32>,
}

/// One item of a scene.
#[derive(Debug, Clone)]
pub struct Item {
    pub model: Model,
    pub placement: Placement,
    pub material: MaterialOverride,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Background {
    Transparent,
    /// sRGB.
    Solid([u8; 3]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lighting {
    /// Key, fill and rim lights with a soft key shadow on the ground.
    Studio,
    /// A bright sky-and-ground environment with a weak sun: flatter, softer.
    Environment,
}

/// Everything to draw, in world space.
#[derive(Debug, Clone)]
pub struct Scene {
    pub meshes: Vec<Mesh>,
    pub textures: Vec<Texture>,
    pub bounds: Bounds,
}

pub fn srgb_to_linear(c: u8) -> f32 {
    let c = f32::from(c) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

impl Scene {
    /// Place the items. Fails with [`RenderError::EmptyScene`] when nothing
    /// has a triangle.
    pub fn compose(items: Vec<Item>) -> Result<Scene> {
        let mut meshes = Vec::new();
        let mut textures = Vec::new();
        for item in items {
            let base = textures.len();
            textures.extend(item.model.textures);
            let override_texture = item.material.texture.map(|t| {
                textures.push(t);
                textures.len() - 1
            });
            let m = item.placement.matrix();
            if !m.is_finite() || m.determinant().abs() < 1e-12 {
                return Err(RenderError::BadRequest(
                    "an item's transform is degenerate (zero scale or not finite)".into(),
                ));
            }
            let normal_matrix = m.inverse().transpose();
            let flip = m.determinant() < 0.0;
            for mut mesh in item.model.meshes {
                for p in &mut mesh.positions {
                    *p = m.transform_point3(Vec3::from(*p)).to_array();
                }
                for n in &mut mesh.normals {
                    *n = normal_matrix
                        .transform_vector3(Vec3::from(*n))
                        .normalize_or(Vec3::Y)
                        .to_array();
                }
                if flip {
                    for t in mesh.indices.chunks_mut(3) {
                        t.swap(1, 2);
                    }
                }
                let mat = &mut mesh.material;
                mat.base_colour_texture = mat.base_colour_texture.map(|t| t + base);
                mat.metallic_roughness_texture = mat.metallic_roughness_texture.map(|t| t + base);
                if let Some(c) = item.material.base_colour {
                    mat.base_colour = [
                        srgb_to_linear(c[0]),
                        srgb_to_linear(c[1]),
                        srgb_to_linear(c[2]),
                        f32::from(c[3]) / 255.0,
                    ];
                    mat.base_colour_texture = None;
                }
                if let Some(t) = override_texture {
                    mat.base_colour_texture = Some(t);
                }
                if let Some(r) = item.material.roughness {
                    mat.roughness = r.clamp(0.0, 1.0);
                    mat.metallic_roughness_texture = None;
                }
                if let Some(metallic) = item.material.metallic {
                    mat.metallic = metallic.clamp(0.0, 1.0);
                    mat.metallic_roughness_texture = None;
                }
                meshes.push(mesh);
            }
        }
        meshes.retain(|m| !m.indices.is_empty());
        let mut points = meshes.iter().flat_map(|m| m.positions.iter());
        let Some(first) = points.next() else {
            return Err(RenderError::EmptyScene);
        };
        let first = Vec3::from(*first);
        let (min, max) = points.fold((first, first), |(lo, hi), p| {
            (lo.min(Vec3::from(*p)), hi.max(Vec3::from(*p)))
        });
        if !(min.is_finite() && max.is_finite()) {
            return Err(RenderError::InvalidModel(
                "placed positions are not finite".into(),
            ));
        }
        if (max - min).max_element() <= 0.0 {
            return Err(RenderError::EmptyScene);
        }
        Ok(Scene {
            meshes,
            textures,
            bounds: Bounds { min, max },
        })
    }

    pub fn triangles(&self) -> u64 {
        self.meshes.iter().map(|m| m.indices.len() as u64 / 3).sum()
    }
}

/// A unit cube of side 1 centred at the origin, for tests and examples.
pub fn cube(colour: [f32; 4]) -> Model {
    let mut positions = Vec::new();
    let mut indices = Vec::new();
    let faces = [
        (Vec3::X, Vec3::Y),
        (-Vec3::X, Vec3::Y),
        (Vec3::Y, Vec3::Z),
        (-Vec3::Y, Vec3::Z),
        (Vec3::Z, Vec3::Y),
        (-Vec3::Z, Vec3::Y),
    ];
    for (n, up) in faces {
        let right = up.cross(n);
        let base = positions.len() as u32;
        for (u, v) in [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)] {
            positions.push((n * 0.5 + right * 0.5 * u + up * 0.5 * v).to_array());
        }
        indices.extend([base, base + 1, base + 2, base, base + 2, base + 3]);
    }
    let normals = smooth_normals(&positions, &indices);
    let uvs = vec![[0.0, 0.0]; positions.len()];
    Model {
        meshes: vec![Mesh {
            positions,
            normals,
            uvs,
            indices,
            material: crate::model::Material {
                base_colour: colour,
                metallic: 0.0,
                roughness: 0.6,
                ..Default::default()
            },
        }],
        textures: Vec::new(),
    }
}
