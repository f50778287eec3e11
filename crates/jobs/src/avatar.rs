//! `avatar.build`'s result: the avatar's measurements in the unit the user
//! asked for (each with the half-width of its 90 % interval), the body
//! model's parameters, the GLB files per level of detail with their
//! figures, the preview still and the time each stage took.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Sex, StoredObject, UnitSystem};

/// Centimetres per inch.
pub const CM_PER_INCH: f32 = 2.54;

/// One measurement: the value and ± the half-width of its 90 % interval
/// (f64, so the rounded values serialise as written: 40.1, not
/// 40.10000228881836).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Measured {
    pub value: f64,
    pub uncertainty: f64,
}

impl Measured {
    /// From centimetres into `unit`, rounded to a millimetre (or a
    /// hundredth of an inch).
    pub fn from_cm(value_cm: f32, uncertainty_cm: f32, unit: UnitSystem) -> Measured {
        let (f, step) = match unit {
            UnitSystem::Metric => (1.0, 0.1),
            UnitSystem::Imperial => (1.0 / f64::from(CM_PER_INCH), 0.01),
        };
        let round = |v: f32| {
            let steps = (f64::from(v) * f / step).round();
            // Whole steps, then to the step's decimals (no binary residue).
            (steps * step * 100.0).round() / 100.0
        };
        Measured {
            value: round(value_cm),
            uncertainty: round(uncertainty_cm),
        }
    }
}

/// The avatar's measurements (4.1.3), in `unit`: `cm` or `in`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AvatarMeasurements {
    pub unit: String,
    pub height: Measured,
    pub shoulder_width: Measured,
    pub chest: Measured,
    pub waist: Measured,
    pub hips: Measured,
    pub neck: Measured,
    pub inseam: Measured,
    pub arm_length: Measured,
}

/// The fitted body model (MakeHuman HM08): macro variables in 0–1 and the
/// measurement targets' weights in −1–1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BodyParameters {
    pub model: String,
    pub sex: Sex,
    pub gender: f32,
    pub age: f32,
    pub height: f32,
    pub weight: f32,
    pub muscle: f32,
    pub proportions: f32,
    pub targets: BTreeMap<String, f32>,
    /// How far the fitted body's own measurements are from the photos'
    /// (root mean square), centimetres.
    pub fit_rms_cm: f32,
}

/// One GLB file of the avatar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AvatarModelFile {
    /// 0 (full), 1 (−25 %), 2 (−50 %); with `options.draco` each level
    /// comes twice, meshopt and Draco.
    pub lod: u8,
    pub key: String,
    /// `glb` (a stored object: the job view adds its signed `url`).
    pub format: String,
    /// `meshopt` (EXT_meshopt_compression) or `draco`.
    pub compression: String,
    pub triangles: u32,
    pub vertices: u32,
    pub bytes: u64,
    /// A signed URL to read the object, in the job view only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `avatar.build` result v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AvatarBuildResult {
    pub avatar_id: Uuid,
    /// `ready`.
    pub status: String,
    pub measurements: AvatarMeasurements,
    /// Whether a side photo gave the depths; without one the girths are
    /// inferred from widths and their intervals are wider.
    pub side_photo_used: bool,
    /// 0–1.
    pub confidence: f32,
    pub body: BodyParameters,
    pub models: Vec<AvatarModelFile>,
    pub preview: StoredObject,
    /// Milliseconds per stage (as the attempt that ran it measured).
    pub timings_ms: BTreeMap<String, u64>,
    /// The attempt that ran each stage: a run resumed after a crash shows
    /// its finished stages from the earlier attempt.
    pub stage_attempts: BTreeMap<String, u32>,
    /// The views (`front`, `side`) whose mask and keypoints came from the
    /// user's earlier `vision.segment` and `vision.pose` results.
    #[serde(default)]
    pub vision_from_cache: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imperial_is_converted_at_the_edge() {
        let m = Measured::from_cm(91.44, 2.54, UnitSystem::Imperial);
        assert!((m.value - 36.0).abs() < 1e-4 && (m.uncertainty - 1.0).abs() < 1e-4);
        let m = Measured::from_cm(91.437, 1.26, UnitSystem::Metric);
        assert!((m.value - 91.4).abs() < 1e-4 && (m.uncertainty - 1.3).abs() < 1e-4);
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"value":91.4,"uncertainty":1.3}"#
        );
    }
}
