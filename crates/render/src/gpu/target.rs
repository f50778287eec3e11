//! Render targets of one size (colour, MSAA, depth, shadow map, the
//! read-back buffer and the frame's uniforms), reused across the frames of
//! a turntable.
use super::{COLOUR_FORMAT, DEPTH_FORMAT, Globals, Quality, Renderer};
use crate::error::{RenderError, Result};

/// Render targets of one size, reused across frames (a turntable).
pub struct Target {
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) shadow_size: u32,
    pub(super) msaa: Option<wgpu::TextureView>,
    pub(super) resolve: wgpu::Texture,
    pub(super) depth: wgpu::TextureView,
    pub(super) shadow: wgpu::TextureView,
    pub(super) readback: wgpu::Buffer,
    pub(super) padded_row: u32,
    pub(super) globals: wgpu::Buffer,
    pub(super) globals_bind: wgpu::BindGroup,
    pub(super) uniforms_bind: wgpu::BindGroup,
}

impl Renderer {
    /// Targets for frames of `width`×`height`.
    pub fn target(&self, width: u32, height: u32, quality: Quality) -> Result<Target> {
        let max = self.device.limits().max_texture_dimension_2d;
        if width == 0 || height == 0 || width > max || height > max {
            return Err(RenderError::BadRequest(format!(
                "frame {width}×{height} is outside 1–{max} pixels a side"
            )));
        }
        let size = wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        };
        let texture = |label, format, samples, usage| {
            self.device.create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size,
                mip_level_count: 1,
                sample_count: samples,
                dimension: wgpu::TextureDimension::D2,
                format,
                usage,
                view_formats: &[],
            })
        };
        let msaa = (self.samples > 1).then(|| {
            texture(
                "msaa",
                COLOUR_FORMAT,
                self.samples,
                wgpu::TextureUsages::RENDER_ATTACHMENT,
            )
            .create_view(&Default::default())
        });
        let resolve = texture(
            "frame",
            COLOUR_FORMAT,
            1,
            wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        );
        let depth = texture(
            "depth",
            DEPTH_FORMAT,
            self.samples,
            wgpu::TextureUsages::RENDER_ATTACHMENT,
        )
        .create_view(&Default::default());
        let shadow_size = quality.shadow_map.clamp(256, max);
        let shadow = self
            .device
            .create_texture(&wgpu::TextureDescriptor {
                label: Some("shadow"),
                size: wgpu::Extent3d {
                    width: shadow_size,
                    height: shadow_size,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: DEPTH_FORMAT,
                usage: wgpu::TextureUsages::RENDER_ATTACHMENT
                    | wgpu::TextureUsages::TEXTURE_BINDING,
                view_formats: &[],
            })
            .create_view(&Default::default());
        let padded_row = (width * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT)
            * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let readback = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: u64::from(padded_row) * u64::from(height),
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        let globals = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("globals"),
            size: std::mem::size_of::<Globals>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let globals_bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("globals"),
            layout: &self.layouts.globals,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: globals.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(&shadow),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::Sampler(&self.shadow_sampler),
                },
            ],
        });
        let uniforms_bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("uniforms"),
            layout: &self.layouts.uniforms,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: globals.as_entire_binding(),
            }],
        });
        Ok(Target {
            width,
            height,
            shadow_size,
            msaa,
            resolve,
            depth,
            shadow,
            readback,
            padded_row,
            globals,
            globals_bind,
            uniforms_bind,
        })
    }
}
