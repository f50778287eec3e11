//! The wgpu renderer: one device, pipelines built once (`pipelines.rs`),
//! scenes uploaded once (`scene.rs`) and drawn from any number of cameras
//! into reusable targets (`target.rs`, `frame.rs`). Vulkan only: a GPU where
//! there is one, Mesa's llvmpipe (a CPU Vulkan driver) where there is not.
mod frame;
mod pipelines;
mod scene;
mod target;

use bytemuck::{Pod, Zeroable};

use crate::camera::Camera;
use crate::error::{RenderError, Result};
use crate::model::Texture;
use crate::scene::{Background, Lighting};
use pipelines::{Layouts, Pipelines, samplers};
use scene::upload_texture;

pub use scene::GpuScene;
pub use target::Target;

const COLOUR_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8UnormSrgb;
const DEPTH_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;

/// Image quality knobs beyond the resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quality {
    /// Side of the key light's shadow map, in texels.
    pub shadow_map: u32,
    /// Shadow filter taps per pixel (at most 32).
    pub shadow_taps: u32,
}

impl Default for Quality {
    fn default() -> Self {
        Quality {
            shadow_map: 2048,
            shadow_taps: 16,
        }
    }
}

/// One frame to draw.
#[derive(Debug, Clone, Copy)]
pub struct FrameSpec {
    pub width: u32,
    pub height: u32,
    pub camera: Camera,
    pub background: Background,
    pub lighting: Lighting,
    pub quality: Quality,
}

/// A rendered frame: RGBA8, sRGB, straight (not premultiplied) alpha, rows
/// top to bottom without padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Vertex {
    position: [f32; 3],
    normal: [f32; 3],
    uv: [f32; 2],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Globals {
    view_proj: [[f32; 4]; 4],
    light_view_proj: [[f32; 4]; 4],
    camera_pos: [f32; 4],
    key_dir: [f32; 4],
    key_colour: [f32; 4],
    fill_dir: [f32; 4],
    fill_colour: [f32; 4],
    rim_dir: [f32; 4],
    rim_colour: [f32; 4],
    sky: [f32; 4],
    ground_ambient: [f32; 4],
    ground: [f32; 4],
    shadow: [f32; 4],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct DrawUniform {
    base_colour: [f32; 4],
    params: [f32; 4],
    emissive: [f32; 4],
}

/// The device and everything built once per process.
pub struct Renderer {
    device: wgpu::Device,
    queue: wgpu::Queue,
    adapter: String,
    samples: u32,
    layouts: Layouts,
    pipelines: Pipelines,
    tex_sampler: wgpu::Sampler,
    shadow_sampler: wgpu::Sampler,
    /// Stands in for a material without a texture.
    white: wgpu::Texture,
}

impl Renderer {
    /// Open the most capable Vulkan adapter: a discrete GPU before an
    /// integrated one, Mesa's llvmpipe when there is no GPU.
    pub fn new() -> Result<Renderer> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        desc.backends = wgpu::Backends::VULKAN;
        let instance = wgpu::Instance::new(desc);
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        }))
        .map_err(|e| RenderError::NoAdapter(e.to_string()))?;
        let info = adapter.get_info();
        let adapter_name = format!("{} ({:?}, {})", info.name, info.device_type, info.driver);
        let limits = wgpu::Limits {
            max_texture_dimension_2d: 8192,
            ..wgpu::Limits::downlevel_defaults()
        }
        .using_resolution(adapter.limits());
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("atelier-render"),
            required_limits: limits,
            ..Default::default()
        }))
        .map_err(|e| RenderError::NoAdapter(e.to_string()))?;
        // Errors outside a frame's error scope are logged, never a panic.
        device.on_uncaptured_error(std::sync::Arc::new(|e: wgpu::Error| {
            tracing::error!(error = %e, "wgpu error outside a frame");
        }));
        let samples = if adapter
            .get_texture_format_features(COLOUR_FORMAT)
            .flags
            .sample_count_supported(4)
        {
            4
        } else {
            1
        };
        Ok(Self::build(device, queue, adapter_name, samples))
    }

    /// The adapter in use, e.g. `llvmpipe (LLVM 15.0.6, 256 bits) (Cpu, llvmpipe)`.
    pub fn adapter(&self) -> &str {
        &self.adapter
    }

    /// MSAA samples per pixel (4 where the adapter supports it).
    pub fn samples(&self) -> u32 {
        self.samples
    }

    /// Everything built once per device.
    fn build(device: wgpu::Device, queue: wgpu::Queue, adapter: String, samples: u32) -> Renderer {
        let layouts = Layouts::new(&device);
        let pipelines = Pipelines::new(&device, &layouts, samples);
        let (tex_sampler, shadow_sampler) = samplers(&device);
        let white = upload_texture(
            &device,
            &queue,
            &Texture {
                width: 1,
                height: 1,
                rgba: vec![255; 4],
            },
        );
        Renderer {
            device,
            queue,
            adapter,
            samples,
            layouts,
            pipelines,
            tex_sampler,
            shadow_sampler,
            white,
        }
    }

    /// One frame, targets made for it.
    pub fn render_once(&self, scene: &GpuScene, spec: &FrameSpec) -> Result<Frame> {
        let target = self.target(spec.width, spec.height, spec.quality)?;
        self.render(scene, &target, spec)
    }
}
