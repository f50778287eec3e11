//! Cameras: named presets framed automatically from the scene's bounds, and
//! explicit ones. Pure maths; +Y is up and models face +Z (glTF's convention).
use glam::{Mat4, Vec3};

use crate::error::{RenderError, Result};

/// Vertical field of view of framed cameras.
pub const DEFAULT_FOV_DEG: f32 = 30.0;
/// Fraction of the frame left free on each side of the model.
pub const FRAME_MARGIN: f32 = 0.06;
/// Framed cameras look slightly down at the model, as a studio camera does.
const ELEVATION_DEG: f32 = 8.0;

/// Axis-aligned bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub min: Vec3,
    pub max: Vec3,
}

impl Bounds {
    pub fn centre(&self) -> Vec3 {
        (self.min + self.max) * 0.5
    }

    pub fn radius(&self) -> f32 {
        (self.max - self.min).length() * 0.5
    }

    pub fn corners(&self) -> [Vec3; 8] {
        let (a, b) = (self.min, self.max);
        [
            Vec3::new(a.x, a.y, a.z),
            Vec3::new(b.x, a.y, a.z),
            Vec3::new(a.x, b.y, a.z),
            Vec3::new(b.x, b.y, a.z),
            Vec3::new(a.x, a.y, b.z),
            Vec3::new(b.x, a.y, b.z),
            Vec3::new(a.x, b.y, b.z),
            Vec3::new(b.x, b.y, b.z),
        ]
    }

    pub fn contains(&self, p: Vec3) -> bool {
        p.cmpge(self.min).all() && p.cmple(self.max).all()
    }
}

/// A named view of the model; `front` looks at its front (+Z).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Front,
    Back,
    Left,
    Right,
    ThreeQuarter,
}

impl Preset {
    pub const ALL: [Preset; 5] = [
        Preset::Front,
        Preset::Back,
        Preset::Left,
        Preset::Right,
        Preset::ThreeQuarter,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Preset::Front => "front",
            Preset::Back => "back",
            Preset::Left => "left",
            Preset::Right => "right",
            Preset::ThreeQuarter => "three_quarter",
        }
    }

    /// Azimuth in degrees, counter-clockwise seen from above, 0 = front.
    pub fn azimuth_deg(self) -> f32 {
        match self {
            Preset::Front => 0.0,
            // Sides are the model's own: glTF models face +Z with their
            // left at +X, so the left view looks from +X.
            Preset::Left => 90.0,
            Preset::Right => -90.0,
            Preset::Back => 180.0,
            Preset::ThreeQuarter => 35.0,
        }
    }
}

/// A resolved camera: where it is, where it looks, its lens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    pub eye: Vec3,
    pub target: Vec3,
    pub fov_y_deg: f32,
    pub near: f32,
    pub far: f32,
}

impl Camera {
    pub fn view(&self) -> Mat4 {
        let forward = (self.target - self.eye).normalize();
        let up = if forward.cross(Vec3::Y).length_squared() < 1e-6 {
            Vec3::Z
        } else {
            Vec3::Y
        };
        Mat4::look_at_rh(self.eye, self.target, up)
    }

    pub fn projection(&self, aspect: f32) -> Mat4 {
        Mat4::perspective_rh(self.fov_y_deg.to_radians(), aspect, self.near, self.far)
    }

    /// An explicit camera; refused when it sits inside the model's bounds
    /// (it would see the inside of the mesh) or looks at itself.
    pub fn explicit(
        name: &str,
        eye: Vec3,
        target: Vec3,
        fov_y_deg: f32,
        bounds: &Bounds,
    ) -> Result<Camera> {
        if !eye.is_finite() || !target.is_finite() || (eye - target).length() < 1e-4 {
            return Err(RenderError::BadRequest(format!(
                "camera {name:?}: eye and target must be distinct finite points"
            )));
        }
        if !(5.0..=120.0).contains(&fov_y_deg) {
            return Err(RenderError::BadRequest(format!(
                "camera {name:?}: fov must be between 5 and 120 degrees"
            )));
        }
        if bounds.contains(eye) {
            return Err(RenderError::CameraInsideModel(name.to_owned()));
        }
        Ok(Camera {
            eye,
            target,
            fov_y_deg,
            ..near_far(eye, bounds)
        })
    }

    /// The camera at `azimuth_deg` around the vertical axis through the
    /// bounds' centre that shows every corner of `bounds` with the margin.
    /// With `turntable`, the framing holds for every azimuth (the bounds'
    /// cylinder), so frames of a turntable do not zoom.
    pub fn framed(bounds: &Bounds, azimuth_deg: f32, aspect: f32, turntable: bool) -> Camera {
        let centre = bounds.centre();
        let (az, el) = (azimuth_deg.to_radians(), ELEVATION_DEG.to_radians());
        let dir = Vec3::new(az.sin() * el.cos(), el.sin(), az.cos() * el.cos());
        let right = Vec3::Y.cross(dir).normalize();
        let up = dir.cross(right);
        let tan_v = (DEFAULT_FOV_DEG.to_radians() * 0.5).tan() * (1.0 - 2.0 * FRAME_MARGIN);
        let tan_h = tan_v * aspect;
        let points: Vec<Vec3> = if turntable {
            // Corners of the bounding cylinder's square at every azimuth:
            // sample the circle finely.
            let half = bounds.max - centre;
            let radius = (half.x * half.x + half.z * half.z).sqrt();
            (0..32)
                .flat_map(|i| {
                    let a = i as f32 / 32.0 * std::f32::consts::TAU;
                    let off = Vec3::new(a.cos() * radius, 0.0, a.sin() * radius);
                    [
                        centre + off + Vec3::Y * half.y,
                        centre + off - Vec3::Y * half.y,
                    ]
                })
                .collect()
        } else {
            bounds.corners().to_vec()
        };
        let distance = points
            .iter()
            .map(|p| {
                let r = *p - centre;
                let depth_offset = r.dot(dir);
                (r.dot(right).abs() / tan_h).max(r.dot(up).abs() / tan_v) + depth_offset
            })
            .fold(0.0f32, f32::max)
            .max(bounds.radius() * 0.1)
            .max(1e-3);
        let eye = centre + dir * distance;
        Camera {
            eye,
            target: centre,
            fov_y_deg: DEFAULT_FOV_DEG,
            ..near_far(eye, bounds)
        }
    }
}

fn near_far(eye: Vec3, bounds: &Bounds) -> Camera {
    let distance = (eye - bounds.centre()).length();
    let radius = bounds.radius().max(1e-3);
    // The ground plane extends beyond the model: keep it inside the far plane.
    let far = distance + radius * 8.0;
    let near = (distance - radius * 1.5).max(far / 5000.0).max(1e-4);
    Camera {
        eye,
        target: bounds.centre(),
        fov_y_deg: DEFAULT_FOV_DEG,
        near,
        far,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tall() -> Bounds {
        Bounds {
            min: Vec3::new(-0.3, 0.0, -0.2),
            max: Vec3::new(0.3, 1.8, 0.2),
        }
    }

    fn project(camera: &Camera, aspect: f32, p: Vec3) -> Vec3 {
        (camera.projection(aspect) * camera.view()).project_point3(p)
    }

    #[test]
    fn framed_cameras_keep_every_corner_inside_the_margin_and_one_edge_on_it() {
        for aspect in [1.0, 16.0 / 9.0, 0.5] {
            for preset in Preset::ALL {
                let b = tall();
                let cam = Camera::framed(&b, preset.azimuth_deg(), aspect, false);
                let ndc: Vec<Vec3> = b
                    .corners()
                    .iter()
                    .map(|c| project(&cam, aspect, *c))
                    .collect();
                let extent = ndc
                    .iter()
                    .map(|p| p.x.abs().max(p.y.abs()))
                    .fold(0.0f32, f32::max);
                let limit = 1.0 - 2.0 * FRAME_MARGIN;
                assert!(extent <= limit + 1e-3, "{preset:?} {aspect}: {extent}");
                assert!(
                    extent >= limit - 0.02,
                    "{preset:?} {aspect}: too loose {extent}"
                );
                assert!(
                    ndc.iter().all(|p| (0.0..=1.0).contains(&p.z)),
                    "{preset:?} depth"
                );
            }
        }
    }

    #[test]
    fn turntable_framing_does_not_change_with_the_angle() {
        let b = tall();
        let d: Vec<f32> = (0..8)
            .map(|i| {
                let c = Camera::framed(&b, i as f32 * 45.0, 16.0 / 9.0, true);
                (c.eye - c.target).length()
            })
            .collect();
        assert!(d.iter().all(|x| (x - d[0]).abs() < 1e-4), "{d:?}");
        // Every corner stays in frame at every angle.
        for i in 0..72 {
            let cam = Camera::framed(&b, i as f32 * 5.0, 16.0 / 9.0, true);
            for c in b.corners() {
                let p = project(&cam, 16.0 / 9.0, c);
                assert!(p.x.abs() <= 1.0 && p.y.abs() <= 1.0, "angle {i}: {p}");
            }
        }
    }

    #[test]
    fn an_explicit_camera_inside_the_model_is_refused() {
        let b = tall();
        let inside = Camera::explicit("in", Vec3::new(0.0, 1.0, 0.0), Vec3::ZERO, 40.0, &b);
        assert_eq!(inside, Err(RenderError::CameraInsideModel("in".into())));
        assert!(Camera::explicit("out", Vec3::new(0.0, 1.0, 4.0), Vec3::Y, 40.0, &b).is_ok());
        assert!(Camera::explicit("same", Vec3::Y * 3.0, Vec3::Y * 3.0, 40.0, &b).is_err());
    }
}
