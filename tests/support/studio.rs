//! Photographs of generated bodies, for measurements with ground truth: a
//! MakeHuman body shaped at known macro values is measured on its mesh
//! (`measure_body`, the truth), written as a GLB and photographed by the
//! project's renderer from the front and the side, at a chosen distance,
//! on a plain backdrop or composited over a real photo (clutter). Used by
//! `tests/avatar.rs` and the avatar benchmark (`benches/avatar`).
use atelier_body::glb::{Compression, Look, write_glb};
use atelier_body::measure::measure_body;
use atelier_body::mesh::skin_mesh;
use atelier_body::rig::Rig;
use atelier_body::{BodyModel, Macros, default_dir};
use atelier_render::{Background, Camera, FrameSpec, Item, Lighting, Limits, Renderer, Scene};
use glam::Vec3;

/// A body's tape measurements by their names in the API
/// ([`Measurements::named`](atelier_body::measure::Measurements::named)),
/// centimetres.
pub type Truth = std::collections::BTreeMap<&'static str, f32>;

pub struct Subject {
    pub macros: Macros,
    pub truth: Truth,
    /// The body as a GLB (quantised, uncompressed), in its bind pose.
    pub glb: Vec<u8>,
}

pub struct Studio {
    pub model: BodyModel,
    pub rig: Rig,
    pub renderer: Renderer,
}

/// Photo size: portrait, as a phone takes it.
pub const PHOTO_WIDTH: u32 = 720;
pub const PHOTO_HEIGHT: u32 = 1280;

impl Studio {
    pub fn new() -> anyhow::Result<Studio> {
        let dir = default_dir();
        let model = BodyModel::load(&dir)?;
        let rig = Rig::load(&dir, model.base.positions.len())?;
        Ok(Studio {
            model,
            rig,
            renderer: Renderer::new()?,
        })
    }

    /// A body at `macros`, measured.
    pub fn subject(&self, macros: Macros) -> anyhow::Result<Subject> {
        let positions = self.model.shape_macros(&macros, &[])?;
        let m = measure_body(&self.model.base, &positions)?;
        let truth: Truth = m.named().into_iter().map(|(n, v)| (n, 100.0 * v)).collect();
        let mesh = skin_mesh(&self.model.base, &positions, &self.rig)?;
        let glb = write_glb(&mesh, &Look::default(), Compression::None);
        Ok(Subject { macros, truth, glb })
    }

    /// The subject photographed from `azimuth_deg` (0 front, 90 its left
    /// side) by a camera `distance` metres away at chest height, framed so
    /// the body fills about 80 % of the photo's height; over `backdrop`
    /// (RGB, any size, stretched) or a light grey wall. PNG bytes.
    pub fn photograph(
        &self,
        subject: &Subject,
        azimuth_deg: f32,
        distance: f32,
        backdrop: Option<(&[u8], u32, u32)>,
    ) -> anyhow::Result<Vec<u8>> {
        Ok(self
            .photograph_with_mask(subject, azimuth_deg, distance, backdrop)?
            .0)
    }

    /// As [`Studio::photograph`], with the body's exact mask (a grey PNG,
    /// 255 where the body covers the backdrop at least half; the ground's
    /// shadow, drawn black with partial alpha, is not the body).
    pub fn photograph_with_mask(
        &self,
        subject: &Subject,
        azimuth_deg: f32,
        distance: f32,
        backdrop: Option<(&[u8], u32, u32)>,
    ) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
        let model = atelier_render::load(&subject.glb, &|_| None, &Limits::default())?;
        let scene = Scene::compose(vec![Item {
            model,
            placement: Default::default(),
            material: Default::default(),
        }])?;
        let h = subject.truth["height"] / 100.0;
        let az = azimuth_deg.to_radians();
        let eye = Vec3::new(az.sin() * distance, 0.72 * h, az.cos() * distance);
        let target = Vec3::new(0.0, 0.5 * h, 0.0);
        let fov = 2.0 * (0.62 * h / distance).atan().to_degrees();
        let camera = Camera::explicit("photo", eye, target, fov, &scene.bounds)?;
        let gpu = self.renderer.upload(&scene);
        let frame = self.renderer.render_once(
            &gpu,
            &FrameSpec {
                width: PHOTO_WIDTH,
                height: PHOTO_HEIGHT,
                camera,
                background: Background::Transparent,
                lighting: Lighting::Studio,
                quality: Default::default(),
            },
        )?;
        let (w, h) = (frame.width as usize, frame.height as usize);
        let mut rgb = vec![0u8; w * h * 3];
        let mask: Vec<u8> = frame
            .rgba
            .chunks_exact(4)
            .map(|p| {
                let shadow = p[0].max(p[1]).max(p[2]) < 24;
                if p[3] >= 128 && !shadow { 255 } else { 0 }
            })
            .collect();
        for y in 0..h {
            for x in 0..w {
                let p = &frame.rgba[(y * w + x) * 4..(y * w + x) * 4 + 4];
                let under = match backdrop {
                    Some((pixels, bw, bh)) => {
                        let (sx, sy) = (x * bw as usize / w, y * bh as usize / h);
                        let i = (sy * bw as usize + sx) * 3;
                        [pixels[i], pixels[i + 1], pixels[i + 2]]
                    }
                    None => [236, 234, 230],
                };
                let a = f32::from(p[3]) / 255.0;
                for c in 0..3 {
                    rgb[(y * w + x) * 3 + c] =
                        (f32::from(p[c]) * a + f32::from(under[c]) * (1.0 - a)).round() as u8;
                }
            }
        }
        Ok((
            atelier_media::encode_png(frame.width, frame.height, &rgb, 3),
            atelier_media::encode_png(frame.width, frame.height, &mask, 1),
        ))
    }
}
