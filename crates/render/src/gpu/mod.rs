//! The wgpu renderer: one device, pipelines built once, scenes uploaded once
//! and drawn from any number of cameras. Vulkan only: a GPU where there is
//! one, Mesa's llvmpipe (a CPU Vulkan driver) where there is not.
use bytemuck::{Pod, Zeroable};
use glam::{Mat4, Vec3};
use wgpu::util::DeviceExt;

use crate::camera::Camera;
use crate::error::{RenderError, Result};
use crate::model::{AlphaMode, Texture};
use crate::scene::{Background, Lighting, Scene, srgb_to_linear};

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
    globals_layout: wgpu::BindGroupLayout,
    uniforms_layout: wgpu::BindGroupLayout,
    draw_layout: wgpu::BindGroupLayout,
    pipelines: Pipelines,
    shadow_pipeline: wgpu::RenderPipeline,
    ground_pipeline: wgpu::RenderPipeline,
    tex_sampler: wgpu::Sampler,
    shadow_sampler: wgpu::Sampler,
    white: wgpu::Texture,
}

/// Opaque / blended × back-face culled / double-sided.
struct Pipelines {
    opaque: [wgpu::RenderPipeline; 2],
    blend: [wgpu::RenderPipeline; 2],
}

/// A scene on the device.
pub struct GpuScene {
    draws: Vec<GpuDraw>,
    bounds: crate::camera::Bounds,
    triangles: u64,
}

struct GpuDraw {
    vertices: wgpu::Buffer,
    indices: wgpu::Buffer,
    count: u32,
    bind_group: wgpu::BindGroup,
    blend: bool,
    double_sided: bool,
}

impl GpuScene {
    pub fn bounds(&self) -> &crate::camera::Bounds {
        &self.bounds
    }

    pub fn triangles(&self) -> u64 {
        self.triangles
    }
}

/// Render targets of one size, reused across frames (a turntable).
pub struct Target {
    width: u32,
    height: u32,
    shadow_size: u32,
    msaa: Option<wgpu::TextureView>,
    resolve: wgpu::Texture,
    depth: wgpu::TextureView,
    shadow: wgpu::TextureView,
    readback: wgpu::Buffer,
    padded_row: u32,
    globals: wgpu::Buffer,
    globals_bind: wgpu::BindGroup,
    uniforms_bind: wgpu::BindGroup,
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

    fn build(device: wgpu::Device, queue: wgpu::Queue, adapter: String, samples: u32) -> Renderer {
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("pbr"),
            source: wgpu::ShaderSource::Wgsl(include_str!("shader.wgsl").into()),
        });
        let uniform = |binding, visibility| wgpu::BindGroupLayoutEntry {
            binding,
            visibility,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let texture = |binding| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable: true },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            count: None,
        };
        let globals_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("globals"),
            entries: &[
                uniform(0, wgpu::ShaderStages::VERTEX_FRAGMENT),
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Depth,
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 2,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Comparison),
                    count: None,
                },
            ],
        });
        let draw_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("draw"),
            entries: &[
                uniform(0, wgpu::ShaderStages::FRAGMENT),
                texture(1),
                texture(2),
                wgpu::BindGroupLayoutEntry {
                    binding: 3,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
            ],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("pbr"),
            bind_group_layouts: &[Some(&globals_layout), Some(&draw_layout)],
            immediate_size: 0,
        });
        // The shadow pass writes the shadow map, so it binds the uniforms alone.
        let uniforms_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("uniforms"),
            entries: &[uniform(0, wgpu::ShaderStages::VERTEX_FRAGMENT)],
        });
        let shadow_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("shadow"),
            bind_group_layouts: &[Some(&uniforms_layout)],
            immediate_size: 0,
        });
        let ground_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("ground"),
            bind_group_layouts: &[Some(&globals_layout)],
            immediate_size: 0,
        });
        let vertex_layout = wgpu::VertexBufferLayout {
            array_stride: std::mem::size_of::<Vertex>() as u64,
            step_mode: wgpu::VertexStepMode::Vertex,
            attributes: &wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32x3, 2 => Float32x2],
        };
        let multisample = wgpu::MultisampleState {
            count: samples,
            ..Default::default()
        };
        let mesh_pipeline = |blend: bool, double_sided: bool| {
            device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some("mesh"),
                layout: Some(&layout),
                vertex: wgpu::VertexState {
                    module: &shader,
                    entry_point: Some("vs_main"),
                    compilation_options: Default::default(),
                    buffers: &[Some(vertex_layout.clone())],
                },
                primitive: wgpu::PrimitiveState {
                    cull_mode: (!double_sided).then_some(wgpu::Face::Back),
                    ..Default::default()
                },
                depth_stencil: Some(depth_test(!blend, Default::default())),
                multisample,
                fragment: Some(wgpu::FragmentState {
                    module: &shader,
                    entry_point: Some("fs_main"),
                    compilation_options: Default::default(),
                    targets: &[Some(wgpu::ColorTargetState {
                        format: COLOUR_FORMAT,
                        blend: blend.then_some(wgpu::BlendState::ALPHA_BLENDING),
                        write_mask: wgpu::ColorWrites::ALL,
                    })],
                }),
                multiview_mask: None,
                cache: None,
            })
        };
        let pipelines = Pipelines {
            opaque: [mesh_pipeline(false, false), mesh_pipeline(false, true)],
            blend: [mesh_pipeline(true, false), mesh_pipeline(true, true)],
        };
        let shadow_pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("shadow"),
            layout: Some(&shadow_layout),
            vertex: wgpu::VertexState {
                module: &shader,
                entry_point: Some("vs_shadow"),
                compilation_options: Default::default(),
                buffers: &[Some(vertex_layout.clone())],
            },
            primitive: Default::default(),
            // Slope-scaled bias keeps surfaces from shadowing themselves.
            depth_stencil: Some(depth_test(
                true,
                wgpu::DepthBiasState {
                    constant: 2,
                    slope_scale: 2.0,
                    clamp: 0.0,
                },
            )),
            multisample: Default::default(),
            fragment: None,
            multiview_mask: None,
            cache: None,
        });
        let ground_pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("ground"),
            layout: Some(&ground_layout),
            vertex: wgpu::VertexState {
                module: &shader,
                entry_point: Some("vs_ground"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            primitive: Default::default(),
            depth_stencil: Some(depth_test(false, Default::default())),
            multisample,
            fragment: Some(wgpu::FragmentState {
                module: &shader,
                entry_point: Some("fs_ground"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: COLOUR_FORMAT,
                    blend: Some(wgpu::BlendState::ALPHA_BLENDING),
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        let tex_sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("textures"),
            address_mode_u: wgpu::AddressMode::Repeat,
            address_mode_v: wgpu::AddressMode::Repeat,
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            mipmap_filter: wgpu::MipmapFilterMode::Nearest,
            ..Default::default()
        });
        let shadow_sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("shadow"),
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            compare: Some(wgpu::CompareFunction::LessEqual),
            ..Default::default()
        });
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
            globals_layout,
            uniforms_layout,
            draw_layout,
            pipelines,
            shadow_pipeline,
            ground_pipeline,
            tex_sampler,
            shadow_sampler,
            white,
        }
    }

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
                    layout: &self.draw_layout,
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
            layout: &self.globals_layout,
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
            layout: &self.uniforms_layout,
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

    /// Draw one frame and read it back.
    pub fn render(&self, scene: &GpuScene, target: &Target, spec: &FrameSpec) -> Result<Frame> {
        if (spec.width, spec.height) != (target.width, target.height) {
            return Err(RenderError::BadRequest(
                "frame size differs from the target's".into(),
            ));
        }
        // Device errors become values, not panics: a bad frame fails its job.
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let memory = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let globals = globals(scene, target, spec);
        self.queue
            .write_buffer(&target.globals, 0, bytemuck::bytes_of(&globals));
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("frame"),
            });
        {
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("shadow"),
                color_attachments: &[],
                depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                    view: &target.shadow,
                    depth_ops: Some(wgpu::Operations {
                        load: wgpu::LoadOp::Clear(1.0),
                        store: wgpu::StoreOp::Store,
                    }),
                    stencil_ops: None,
                }),
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            pass.set_pipeline(&self.shadow_pipeline);
            pass.set_bind_group(0, &target.uniforms_bind, &[]);
            for draw in scene.draws.iter().filter(|d| !d.blend) {
                pass.set_vertex_buffer(0, draw.vertices.slice(..));
                pass.set_index_buffer(draw.indices.slice(..), wgpu::IndexFormat::Uint32);
                pass.draw_indexed(0..draw.count, 0, 0..1);
            }
        }
        {
            let clear = match spec.background {
                Background::Transparent => wgpu::Color::TRANSPARENT,
                Background::Solid(c) => wgpu::Color {
                    r: f64::from(srgb_to_linear(c[0])),
                    g: f64::from(srgb_to_linear(c[1])),
                    b: f64::from(srgb_to_linear(c[2])),
                    a: 1.0,
                },
            };
            let resolve_view = target.resolve.create_view(&Default::default());
            let (view, resolve_target) = match &target.msaa {
                Some(msaa) => (msaa, Some(&resolve_view)),
                None => (&resolve_view, None),
            };
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("main"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view,
                    depth_slice: None,
                    resolve_target,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(clear),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                    view: &target.depth,
                    depth_ops: Some(wgpu::Operations {
                        load: wgpu::LoadOp::Clear(1.0),
                        store: wgpu::StoreOp::Discard,
                    }),
                    stencil_ops: None,
                }),
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            pass.set_bind_group(0, &target.globals_bind, &[]);
            let draw_all = |blend: bool, pass: &mut wgpu::RenderPass| {
                for draw in scene.draws.iter().filter(|d| d.blend == blend) {
                    let set = if blend {
                        &self.pipelines.blend
                    } else {
                        &self.pipelines.opaque
                    };
                    pass.set_pipeline(&set[usize::from(draw.double_sided)]);
                    pass.set_bind_group(1, &draw.bind_group, &[]);
                    pass.set_vertex_buffer(0, draw.vertices.slice(..));
                    pass.set_index_buffer(draw.indices.slice(..), wgpu::IndexFormat::Uint32);
                    pass.draw_indexed(0..draw.count, 0, 0..1);
                }
            };
            draw_all(false, &mut pass);
            pass.set_pipeline(&self.ground_pipeline);
            pass.draw(0..6, 0..1);
            draw_all(true, &mut pass);
        }
        encoder.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo {
                texture: &target.resolve,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::TexelCopyBufferInfo {
                buffer: &target.readback,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(target.padded_row),
                    rows_per_image: Some(target.height),
                },
            },
            wgpu::Extent3d {
                width: target.width,
                height: target.height,
                depth_or_array_layers: 1,
            },
        );
        let submission = self.queue.submit([encoder.finish()]);
        let out_of_memory = pollster::block_on(memory.pop());
        let invalid = pollster::block_on(validation.pop());
        if let Some(e) = out_of_memory.or(invalid) {
            return Err(RenderError::Gpu(e.to_string()));
        }
        let (tx, rx) = std::sync::mpsc::channel();
        target
            .readback
            .map_async(wgpu::MapMode::Read, .., move |r| {
                let _ = tx.send(r);
            });
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submission),
                timeout: None,
            })
            .map_err(|e| RenderError::Gpu(e.to_string()))?;
        rx.recv()
            .map_err(|e| RenderError::Gpu(e.to_string()))?
            .map_err(|e| RenderError::Gpu(e.to_string()))?;
        let mut rgba = Vec::with_capacity((target.width * target.height * 4) as usize);
        {
            let mapped = target
                .readback
                .get_mapped_range(..)
                .map_err(|e| RenderError::Gpu(e.to_string()))?;
            for row in mapped.chunks(target.padded_row as usize) {
                rgba.extend_from_slice(&row[..(target.width * 4) as usize]);
            }
        }
        target.readback.unmap();
        if spec.background == Background::Transparent {
            unpremultiply(&mut rgba);
        }
        Ok(Frame {
            width: target.width,
            height: target.height,
            rgba,
        })
    }

    /// One frame, targets made for it.
    pub fn render_once(&self, scene: &GpuScene, spec: &FrameSpec) -> Result<Frame> {
        let target = self.target(spec.width, spec.height, spec.quality)?;
        self.render(scene, &target, spec)
    }
}

/// Depth-tested (nearer or equal passes), written or not.
fn depth_test(write: bool, bias: wgpu::DepthBiasState) -> wgpu::DepthStencilState {
    wgpu::DepthStencilState {
        format: DEPTH_FORMAT,
        depth_write_enabled: Some(write),
        depth_compare: Some(wgpu::CompareFunction::LessEqual),
        stencil: Default::default(),
        bias,
    }
}

fn upload_texture(device: &wgpu::Device, queue: &wgpu::Queue, t: &Texture) -> wgpu::Texture {
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

/// Transparent frames are blended onto (0, 0, 0, 0): divide the colour by
/// coverage so edges keep their colour when composited.
fn unpremultiply(rgba: &mut [u8]) {
    for px in rgba.chunks_exact_mut(4) {
        let a = px[3];
        if a != 0 && a != 255 {
            for c in &mut px[..3] {
                *c = ((u32::from(*c) * 255 + u32::from(a) / 2) / u32::from(a)).min(255) as u8;
            }
        }
    }
}

/// Rotate a light direction given as (azimuth, elevation) relative to the
/// camera's azimuth, so the rig turns with the camera: a turntable's lighting
/// is that of a model spinning under fixed lights.
fn rig_dir(camera_azimuth: f32, azimuth_deg: f32, elevation_deg: f32) -> [f32; 4] {
    let az = camera_azimuth + azimuth_deg.to_radians();
    let el = elevation_deg.to_radians();
    let v = Vec3::new(az.sin() * el.cos(), el.sin(), az.cos() * el.cos()).normalize();
    [v.x, v.y, v.z, 0.0]
}

fn globals(scene: &GpuScene, target: &Target, spec: &FrameSpec) -> Globals {
    let aspect = spec.width as f32 / spec.height as f32;
    let cam = &spec.camera;
    let view_proj = cam.projection(aspect) * cam.view();
    let look = cam.eye - cam.target;
    let camera_azimuth = look.x.atan2(look.z);
    let (key, fill, rim, sky, ground, shadow_strength) = match spec.lighting {
        Lighting::Studio => (
            (rig_dir(camera_azimuth, 35.0, 50.0), [2.6, 2.5, 2.35, 0.0]),
            (rig_dir(camera_azimuth, -55.0, 20.0), [0.75, 0.8, 0.9, 0.0]),
            (rig_dir(camera_azimuth, 165.0, 35.0), [1.6, 1.6, 1.6, 0.0]),
            [0.32, 0.33, 0.36, 0.0],
            [0.16, 0.15, 0.14, 0.0],
            0.55,
        ),
        Lighting::Environment => (
            (rig_dir(camera_azimuth, 20.0, 65.0), [1.2, 1.18, 1.1, 0.0]),
            (rig_dir(camera_azimuth, -90.0, 10.0), [0.2, 0.2, 0.22, 0.0]),
            (rig_dir(camera_azimuth, 180.0, 30.0), [0.4, 0.4, 0.4, 0.0]),
            [0.85, 0.9, 1.0, 0.0],
            [0.35, 0.32, 0.3, 0.0],
            0.35,
        ),
    };
    let b = scene.bounds;
    let centre = b.centre();
    let radius = b.radius().max(1e-3);
    let key_dir = Vec3::new(key.0[0], key.0[1], key.0[2]);
    let light_eye = centre + key_dir * radius * 3.0;
    let light_view = Mat4::look_at_rh(light_eye, centre, Vec3::Y);
    let light_proj = Mat4::orthographic_rh(-radius, radius, -radius, radius, 0.0, radius * 12.0);
    let taps = spec.quality.shadow_taps.clamp(1, 32);
    Globals {
        view_proj: view_proj.to_cols_array_2d(),
        light_view_proj: (light_proj * light_view).to_cols_array_2d(),
        camera_pos: [cam.eye.x, cam.eye.y, cam.eye.z, 1.0],
        key_dir: key.0,
        key_colour: key.1,
        fill_dir: fill.0,
        fill_colour: fill.1,
        rim_dir: rim.0,
        rim_colour: rim.1,
        sky,
        ground_ambient: ground,
        ground: [b.min.y, radius * 3.0, centre.x, centre.z],
        shadow: [
            1.0 / target.shadow_size as f32,
            taps as f32,
            // Penumbra of about 1.5 % of the scene's size.
            radius * 0.03 / (2.0 * radius) * target.shadow_size as f32,
            shadow_strength,
        ],
    }
}
