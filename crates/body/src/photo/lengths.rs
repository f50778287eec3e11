//! The lengths: shoulder width and arm length from the pose keypoints, the
//! inseam from where the hips sit between the floor and the nose.
use super::corrections::{INSEAM_FIT, KEYPOINT_PX, PHOTO, Z90};
use super::silhouette::Silhouette;
use super::{Estimate, PhotoError, dist};

/// Reads lengths off the front silhouette's keypoints.
pub(super) struct Lengths<'s, 'a> {
    pub(super) f: &'s Silhouette<'a>,
    /// The scale's relative 1 σ (see `Sections`).
    pub(super) sigma_scale: f32,
}

impl Lengths<'_, '_> {
    /// A length from keypoints: [`KEYPOINT_PX`] per keypoint (1 σ), and
    /// how far the pose model's joints sit from the body model's (the
    /// correction's spread).
    fn length(&self, value: f32, joints: f32, (bias, spread): (f32, f32)) -> Estimate {
        let keypoint = KEYPOINT_PX * self.f.scale;
        let sd = ((joints.sqrt() * keypoint).powi(2)
            + (value * self.sigma_scale).powi(2)
            + spread.powi(2))
        .sqrt();
        Estimate {
            value: value - bias,
            uncertainty: Z90 * sd,
        }
    }

    pub(super) fn shoulder_width(&self) -> Result<Estimate, PhotoError> {
        match self.f.view.landmarks.shoulders {
            [Some(a), Some(b)] => {
                Ok(self.length(dist(a, b) * self.f.scale, 2.0, PHOTO.shoulder_width))
            }
            _ => Err(PhotoError::Unreadable(
                "the front photo shows only one shoulder".into(),
            )),
        }
    }

    /// Shoulder → elbow → wrist, averaged over the whole arms.
    pub(super) fn arm_length(&self) -> Result<Estimate, PhotoError> {
        let l = self.f.view.landmarks;
        let arms: Vec<f32> = (0..2)
            .filter_map(|k| {
                let (sh, el, wr) = (l.shoulders[k]?, l.elbows[k]?, l.wrists[k]?);
                Some((dist(sh, el) + dist(el, wr)) * self.f.scale)
            })
            .collect();
        if arms.is_empty() {
            return Err(PhotoError::Unreadable(
                "neither arm is whole in the front photo".into(),
            ));
        }
        Ok(self.length(
            arms.iter().sum::<f32>() / arms.len() as f32,
            3.0,
            PHOTO.arm_length,
        ))
    }

    /// The inseam from where the hips sit between the floor and the nose
    /// (the silhouette's crotch is too low wherever the thighs touch): a
    /// line fitted on photos of generated bodies ([`INSEAM_FIT`], residual
    /// 1.0 % of the height); `crotch` (metres up) only sizes the scale's
    /// share of the uncertainty.
    pub(super) fn inseam(&self, stated: f32, crotch: f32) -> Estimate {
        let f = self.f;
        let nose_row = f.view.landmarks.nose.map_or(f.top as f32, |n| n[1]);
        let floor_row = f.bottom as f32 + 0.5;
        let hip_share = (floor_row - f.hips[1]) / (floor_row - nose_row).max(1.0);
        Estimate {
            value: stated * (INSEAM_FIT.0 + INSEAM_FIT.1 * hip_share) - PHOTO.inseam.0,
            uncertainty: Z90
                * ((INSEAM_FIT.2 * stated).powi(2)
                    + (crotch * self.sigma_scale).powi(2)
                    + PHOTO.inseam.1.powi(2))
                .sqrt(),
        }
    }
}
