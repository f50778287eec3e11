//! What is built once per device: the bind group layouts, the pipelines
//! (meshes opaque and blended, single- and double-sided; the shadow map;
//! the ground) and the samplers.
use super::{COLOUR_FORMAT, DEPTH_FORMAT, Vertex};

/// The bind group layouts the shader expects.
pub(super) struct Layouts {
    /// Group 0 of the main pass: the frame's uniforms, the shadow map and
    /// its comparison sampler.
    pub(super) globals: wgpu::BindGroupLayout,
    /// Group 0 of the shadow pass, which writes the shadow map and so binds
    /// the uniforms alone.
    pub(super) uniforms: wgpu::BindGroupLayout,
    /// Group 1: one draw's material (uniform, base colour and
    /// metallic-roughness textures, their sampler).
    pub(super) draw: wgpu::BindGroupLayout,
}

fn uniform(binding: u32, visibility: wgpu::ShaderStages) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

fn texture(binding: u32, sample_type: wgpu::TextureSampleType) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::FRAGMENT,
        ty: wgpu::BindingType::Texture {
            sample_type,
            view_dimension: wgpu::TextureViewDimension::D2,
            multisampled: false,
        },
        count: None,
    }
}

fn sampler(binding: u32, kind: wgpu::SamplerBindingType) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::FRAGMENT,
        ty: wgpu::BindingType::Sampler(kind),
        count: None,
    }
}

impl Layouts {
    pub(super) fn new(device: &wgpu::Device) -> Layouts {
        let colour = wgpu::TextureSampleType::Float { filterable: true };
        let layout = |label, entries: &[wgpu::BindGroupLayoutEntry]| {
            device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(label),
                entries,
            })
        };
        Layouts {
            globals: layout(
                "globals",
                &[
                    uniform(0, wgpu::ShaderStages::VERTEX_FRAGMENT),
                    texture(1, wgpu::TextureSampleType::Depth),
                    sampler(2, wgpu::SamplerBindingType::Comparison),
                ],
            ),
            uniforms: layout(
                "uniforms",
                &[uniform(0, wgpu::ShaderStages::VERTEX_FRAGMENT)],
            ),
            draw: layout(
                "draw",
                &[
                    uniform(0, wgpu::ShaderStages::FRAGMENT),
                    texture(1, colour),
                    texture(2, colour),
                    sampler(3, wgpu::SamplerBindingType::Filtering),
                ],
            ),
        }
    }
}

/// Every pipeline a frame uses.
pub(super) struct Pipelines {
    /// Opaque meshes: back-face culled, double-sided.
    pub(super) opaque: [wgpu::RenderPipeline; 2],
    /// Blended meshes: back-face culled, double-sided.
    pub(super) blend: [wgpu::RenderPipeline; 2],
    pub(super) shadow: wgpu::RenderPipeline,
    pub(super) ground: wgpu::RenderPipeline,
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

fn colour_target(blend: Option<wgpu::BlendState>) -> Option<wgpu::ColorTargetState> {
    Some(wgpu::ColorTargetState {
        format: COLOUR_FORMAT,
        blend,
        write_mask: wgpu::ColorWrites::ALL,
    })
}

impl Pipelines {
    pub(super) fn new(device: &wgpu::Device, layouts: &Layouts, samples: u32) -> Pipelines {
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("pbr"),
            source: wgpu::ShaderSource::Wgsl(include_str!("../shader.wgsl").into()),
        });
        let pipeline_layout = |label, groups: &[Option<&wgpu::BindGroupLayout>]| {
            device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(label),
                bind_group_layouts: groups,
                immediate_size: 0,
            })
        };
        let mesh_layout = pipeline_layout("pbr", &[Some(&layouts.globals), Some(&layouts.draw)]);
        let shadow_layout = pipeline_layout("shadow", &[Some(&layouts.uniforms)]);
        let ground_layout = pipeline_layout("ground", &[Some(&layouts.globals)]);
        let vertex_layout = wgpu::VertexBufferLayout {
            array_stride: std::mem::size_of::<Vertex>() as u64,
            step_mode: wgpu::VertexStepMode::Vertex,
            attributes: &wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32x3, 2 => Float32x2],
        };
        let multisample = wgpu::MultisampleState {
            count: samples,
            ..Default::default()
        };
        let vertex = |entry_point, buffers| wgpu::VertexState {
            module: &shader,
            entry_point: Some(entry_point),
            compilation_options: Default::default(),
            buffers,
        };
        let mesh_buffers = [Some(vertex_layout.clone())];
        let mesh = |blend: bool, double_sided: bool| {
            let targets = [colour_target(
                blend.then_some(wgpu::BlendState::ALPHA_BLENDING),
            )];
            device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some("mesh"),
                layout: Some(&mesh_layout),
                vertex: vertex("vs_main", &mesh_buffers),
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
                    targets: &targets,
                }),
                multiview_mask: None,
                cache: None,
            })
        };
        let shadow = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("shadow"),
            layout: Some(&shadow_layout),
            vertex: vertex("vs_shadow", &mesh_buffers),
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
        let ground_targets = [colour_target(Some(wgpu::BlendState::ALPHA_BLENDING))];
        let ground = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("ground"),
            layout: Some(&ground_layout),
            vertex: vertex("vs_ground", &[]),
            primitive: Default::default(),
            depth_stencil: Some(depth_test(false, Default::default())),
            multisample,
            fragment: Some(wgpu::FragmentState {
                module: &shader,
                entry_point: Some("fs_ground"),
                compilation_options: Default::default(),
                targets: &ground_targets,
            }),
            multiview_mask: None,
            cache: None,
        });
        Pipelines {
            opaque: [mesh(false, false), mesh(false, true)],
            blend: [mesh(true, false), mesh(true, true)],
            shadow,
            ground,
        }
    }

    /// The pipeline a draw is drawn with.
    pub(super) fn for_draw(&self, blend: bool, double_sided: bool) -> &wgpu::RenderPipeline {
        let set = if blend { &self.blend } else { &self.opaque };
        &set[usize::from(double_sided)]
    }
}

/// The samplers: repeating bilinear for textures, a depth comparison for
/// the shadow map.
pub(super) fn samplers(device: &wgpu::Device) -> (wgpu::Sampler, wgpu::Sampler) {
    let textures = device.create_sampler(&wgpu::SamplerDescriptor {
        label: Some("textures"),
        address_mode_u: wgpu::AddressMode::Repeat,
        address_mode_v: wgpu::AddressMode::Repeat,
        mag_filter: wgpu::FilterMode::Linear,
        min_filter: wgpu::FilterMode::Linear,
        mipmap_filter: wgpu::MipmapFilterMode::Nearest,
        ..Default::default()
    });
    let shadow = device.create_sampler(&wgpu::SamplerDescriptor {
        label: Some("shadow"),
        mag_filter: wgpu::FilterMode::Linear,
        min_filter: wgpu::FilterMode::Linear,
        compare: Some(wgpu::CompareFunction::LessEqual),
        ..Default::default()
    });
    (textures, shadow)
}
