//! Scenes on the device: each mesh's vertices, indices and material bind
//! group, uploaded once and drawn from any number of cameras.
use wgpu::util::DeviceExt;

use super::{DrawUniform, Renderer, Vertex};
use crate::model::{AlphaMode, Texture};
use crate::scene::Scene;

/// A scene on the device.
pub struct GpuScene {
    pub(super) draws: Vec<GpuDraw>,
    pub(super) bounds: crate::camera::Bounds,
    triangles: u64,
}

pub(super) struct GpuDraw {
    pub(super) vertices: wgpu::Buffer,
    pub(super) indices: wgpu::Buffer,
    pub(super) count: u32,
    pub(super) bind_group: wgpu::BindGroup,
    pub(super) blend: bool,
    pub(super) double_sided: bool,
}

impl GpuScene {
    pub fn bounds(&self) -> &crate::camera::Bounds {
        &self.bounds
    }

    pub fn triangles(&self) -> u64 {
        self.triangles
    }
}

impl Renderer {
    /// Put a scene's meshes and textures on the device.
    pub fn upload(&self, scene: &Scene) -> GpuScene {
        let textures: Vec<wgpu::Texture> = scene
            .textures
            .iter()
            .map(|t| upload_texture(&self.device, &self.queue, t))
            .collect();
        let view = |t: Option<usize>, srgb: bool| {
            let texture = t.map_or(&self.white, |i| &textures[i]);
            texture.create_view(&wgpu::TextureViewDescriptor {
                format: Some(if srgb {
                    wgpu::TextureFormat::Rgba8UnormSrgb
                } else {
                    wgpu::TextureFormat::Rgba8Unorm
                }),
                ..Default::default()
            })
        };
        let draws = scene
            .meshes
            .iter()
            .map(|mesh| {
                let vertices: Vec<Vertex> = (0..mesh.positions.len())
                    .map(|i| Vertex {
                        position: mesh.positions[i],
                        normal: mesh.normals[i],
                        uv: mesh.uvs[i],
                    })
                    .collect();
                let m = &mesh.material;
                let cutoff = match m.alpha {
                    AlphaMode::Mask(c) => c,
                    _ => -1.0,
                };
                let uniform = DrawUniform {
                    base_colour: m.base_colour,
                    params: [m.metallic, m.roughness, cutoff, 0.0],
                    emissive: [m.emissive[0], m.emissive[1], m.emissive[2], 0.0],
                };
                let uniform = self
                    .device
                    .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some("draw"),
                        contents: bytemuck::bytes_of(&uniform),
                        usage: wgpu::BufferUsages::UNIFORM,
                    });
                let base = view(m.base_colour_texture, true);
                let mr = view(m.metallic_roughness_texture, false);
                let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("draw"),
                    layout: &self.layouts.draw,
                    entries: &[
                        wgpu::BindGroupEntry {
                            binding: 0,
                            resource: uniform.as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 1,
                            resource: wgpu::BindingResource::TextureView(&base),
                        },
                        wgpu::BindGroupEntry {
                            binding: 2,
                            resource: wgpu::BindingResource::TextureView(&mr),
                        },
                        wgpu::BindGroupEntry {
                            binding: 3,
                            resource: wgpu::BindingResource::Sampler(&self.tex_sampler),
                        },
                    ],
                });
                GpuDraw {
                    vertices: self
                        .device
                        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                            label: Some("vertices"),
                            contents: bytemuck::cast_slice(&vertices),
                            usage: wgpu::BufferUsages::VERTEX,
                        }),
                    indices: self
                        .device
                        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                            label: Some("indices"),
                            contents: bytemuck::cast_slice(&mesh.indices),
                            usage: wgpu::BufferUsages::INDEX,
                        }),
                    count: mesh.indices.len() as u32,
                    bind_group,
                    blend: m.alpha == AlphaMode::Blend,
                    double_sided: m.double_sided,
                }
            })
            .collect();
        GpuScene {
            draws,
            bounds: scene.bounds,
            triangles: scene.triangles(),
        }
    }
}

pub(super) fn upload_texture(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    t: &Texture,
) -> wgpu::Texture {
    device.create_texture_with_data(
        queue,
        &wgpu::TextureDescriptor {
            label: Some("texture"),
            size: wgpu::Extent3d {
                width: t.width,
                height: t.height,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::TEXTURE_BINDING,
            view_formats: &[wgpu::TextureFormat::Rgba8UnormSrgb],
        },
        wgpu::util::TextureDataOrder::LayerMajor,
        &t.rgba,
    )
}
