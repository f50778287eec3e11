//! One frame: the shadow map from the key light, the main pass (opaque
//! meshes, the shadow-catching ground, blended meshes; 4× MSAA resolved),
//! and the read-back as straight-alpha RGBA. Device errors are values
//! (error scopes), never panics: a bad frame fails its job.
use glam::{Mat4, Vec3};

use super::{Frame, FrameSpec, Globals, GpuScene, Renderer, Target};
use crate::error::{RenderError, Result};
use crate::scene::{Background, Lighting, srgb_to_linear};

impl Renderer {
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
        self.shadow_pass(&mut encoder, scene, target);
        self.main_pass(&mut encoder, scene, target, spec.background);
        copy_out(&mut encoder, target);
        let submission = self.queue.submit([encoder.finish()]);
        let out_of_memory = pollster::block_on(memory.pop());
        let invalid = pollster::block_on(validation.pop());
        if let Some(e) = out_of_memory.or(invalid) {
            return Err(RenderError::Gpu(e.to_string()));
        }
        let mut rgba = self.read_back(target, submission)?;
        if spec.background == Background::Transparent {
            unpremultiply(&mut rgba);
        }
        Ok(Frame {
            width: target.width,
            height: target.height,
            rgba,
        })
    }

    /// The key light's depth from the opaque meshes.
    fn shadow_pass(&self, encoder: &mut wgpu::CommandEncoder, scene: &GpuScene, target: &Target) {
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
        pass.set_pipeline(&self.pipelines.shadow);
        pass.set_bind_group(0, &target.uniforms_bind, &[]);
        for draw in scene.draws.iter().filter(|d| !d.blend) {
            pass.set_vertex_buffer(0, draw.vertices.slice(..));
            pass.set_index_buffer(draw.indices.slice(..), wgpu::IndexFormat::Uint32);
            pass.draw_indexed(0..draw.count, 0, 0..1);
        }
    }

    /// Opaque meshes, then the ground, then blended meshes, over the
    /// background.
    fn main_pass(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        scene: &GpuScene,
        target: &Target,
        background: Background,
    ) {
        let clear = match background {
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
                pass.set_pipeline(self.pipelines.for_draw(blend, draw.double_sided));
                pass.set_bind_group(1, &draw.bind_group, &[]);
                pass.set_vertex_buffer(0, draw.vertices.slice(..));
                pass.set_index_buffer(draw.indices.slice(..), wgpu::IndexFormat::Uint32);
                pass.draw_indexed(0..draw.count, 0, 0..1);
            }
        };
        draw_all(false, &mut pass);
        pass.set_pipeline(&self.pipelines.ground);
        pass.draw(0..6, 0..1);
        draw_all(true, &mut pass);
    }

    /// Wait for `submission`, then the frame's rows without their padding.
    fn read_back(&self, target: &Target, submission: wgpu::SubmissionIndex) -> Result<Vec<u8>> {
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
        Ok(rgba)
    }
}

/// The resolved frame into the read-back buffer.
fn copy_out(encoder: &mut wgpu::CommandEncoder, target: &Target) {
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
