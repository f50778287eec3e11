//! Results of the vision kinds, version 1: typed so every handler writes the
//! same shape the API documents (`README.md`, "Results"), and so clients in
//! Rust can read them back. `photo.ingest`'s result is in `photo.rs`.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::StoredObject;

/// The model (name and version) that computed a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelRef {
    pub name: String,
    pub version: String,
}

/// Whether the result was answered from a stored one (same client and user,
/// same input bytes, same model versions), and which job computed it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CacheInfo {
    pub hit: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImageSize {
    pub width: u32,
    pub height: u32,
}

/// A body point in photo pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BodyKeypoint {
    pub name: String,
    pub x: f32,
    pub y: f32,
    /// Depth relative to the hips, same pixel scale (smaller: nearer).
    pub z: f32,
    /// Probability the point is visible.
    pub visibility: f32,
}

/// `vision.pose` result v1. The single-person fields describe the primary
/// person (the largest, most central); `persons` lists everyone, primary
/// first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PoseResult {
    pub person_present: bool,
    pub person_count: usize,
    /// The landmark model's pose-present probability for the primary person.
    pub score: f32,
    /// Share of the primary person's crop the landmark model's mask covers.
    pub mask_coverage: f32,
    /// Landmark-model passes per person (1: on the detector's crop).
    pub passes: u8,
    pub image: ImageSize,
    pub keypoints: Vec<BodyKeypoint>,
    pub persons: Vec<PersonPose>,
    pub model: ModelRef,
    /// The person detector and the detector that confirms each person.
    pub detectors: Vec<ModelRef>,
    pub cache: CacheInfo,
}

/// Where a person is and how sure each model was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FoundPerson {
    #[serde(rename = "box")]
    pub bounds: PixelBox,
    /// The person detector's score (NanoDet).
    pub score: f32,
    /// The BlazePose detector's score on the person's crop; null for a
    /// person accepted without it (seen from behind).
    pub detector_score: Option<f32>,
    pub primary: bool,
}

/// One person of a `vision.pose` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PersonPose {
    #[serde(flatten)]
    pub person: FoundPerson,
    /// The landmark model's pose-present probability.
    pub presence: f32,
    pub keypoints: Vec<BodyKeypoint>,
}

/// A box in photo pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PixelBox {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// `vision.segment` result v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SegmentResult {
    pub person_present: bool,
    /// Grey PNG, 255 = person.
    pub mask: StoredObject,
    /// RGBA PNG, alpha = mask.
    pub cutout: StoredObject,
    pub coverage: f32,
    pub bbox: Option<PixelBox>,
    pub image: ImageSize,
    pub person_count: usize,
    /// Everyone the mask covers, primary first.
    pub persons: Vec<FoundPerson>,
    /// How the mask's edges were placed: `guided_filter` (the landmark
    /// model's masks refined along the photo's edges) or `isnet`.
    pub edges: String,
    /// The model that drew the mask.
    pub model: ModelRef,
    /// The model that decided a person is there (the person detector).
    pub person_check: ModelRef,
    pub cache: CacheInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CategoryScore {
    /// tops, bottoms, dresses, outerwear, footwear or accessories.
    pub category: String,
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GarmentScore {
    pub label: String,
    pub imagenet_class: usize,
    pub category: String,
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClassScore {
    pub label: String,
    pub imagenet_class: usize,
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = DominantColour)]
pub struct Colour {
    pub hex: String,
    pub name: String,
    /// Share of the region's pixels, 0..1.
    pub share: f32,
    pub lab: [f32; 3],
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SeasonSuggestion {
    /// `spring_summer` or `fall_winter`.
    pub season: String,
    pub reason: String,
}

/// `vision.tag` result v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TagResult {
    /// `person` (the person's box and mask) or `whole_image`.
    pub region: String,
    /// How many people the photo shows (the rule every vision job shares);
    /// the tags describe the primary one.
    #[serde(default)]
    pub person_count: usize,
    pub categories: Vec<CategoryScore>,
    pub garments: Vec<GarmentScore>,
    pub imagenet_top5: Vec<ClassScore>,
    pub colours: Vec<Colour>,
    pub season: SeasonSuggestion,
    pub model: ModelRef,
    pub cache: CacheInfo,
}

/// `vision.embed` result v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmbedResult {
    /// `image` or `text`.
    pub modality: String,
    pub dim: usize,
    /// Unit length.
    pub vector: Vec<f32>,
    pub input_sha256: String,
    pub model: ModelRef,
    pub cache: CacheInfo,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FaceBox {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FoundFace {
    /// The face detector's score; 0 for a face placed from the body pose.
    pub score: f32,
    pub mesh_presence: f32,
    #[serde(rename = "box")]
    pub bounds: FaceBox,
    /// `detector` (short range, on the person's head), `full_range` (the
    /// whole photo) or `pose` (the body landmarks' eyes, nose and ears).
    pub located_by: String,
    /// Degrees the face was turned to level the eyes before the mesh.
    pub roll: f32,
}

/// The ten Monk Skin Tone reference colours, MST 1 to 10 (`monk.scale`
/// indexes them from 1).
pub const MONK_SCALE: [&str; 10] = [
    "f6ede4", "f3e7db", "f7ead0", "eadaba", "d7bd96", "a07e56", "825c43", "604134", "3a312a",
    "292420",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MonkTone {
    /// MST 1 (lightest) to 10 (deepest).
    pub scale: u8,
    pub hex: String,
    pub delta_e: f32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Palette {
    pub season: String,
    pub sub_season: String,
    pub recommended: Vec<String>,
    pub avoid: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SkinEvidence {
    pub skin_pixels: usize,
    /// Region name → its colour (hex).
    pub regions: BTreeMap<String, String>,
    pub region_spread_delta_e: f32,
    pub photo_colour_cast: f32,
}

/// One person's skin reading in a `vision.skin_tone` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PersonSkin {
    /// The person's box; null for a face found with no person detected
    /// around it (a close-up).
    #[serde(rename = "box")]
    pub bounds: Option<PixelBox>,
    pub primary: bool,
    pub face: FoundFace,
    pub monk: MonkTone,
    pub hex: String,
    pub undertone: String,
    pub season: String,
    pub confidence: f32,
}

/// `vision.skin_tone` result v1. The single-person fields are the primary
/// person's reading (the largest, most central person whose face could be
/// read); `persons` has everyone's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SkinToneResult {
    pub face: FoundFace,
    pub monk: MonkTone,
    pub hex: String,
    pub lab: [f32; 3],
    pub ita: f32,
    pub ita_category: String,
    pub undertone: String,
    pub palette: Palette,
    pub confidence: f32,
    pub evidence: SkinEvidence,
    /// Everyone whose face could be read (the primary first).
    pub persons: Vec<PersonSkin>,
    /// How many people the photo shows (the rule every vision job shares),
    /// whether or not each face could be read.
    #[serde(default)]
    pub person_count: usize,
    pub models: Vec<ModelRef>,
    pub cache: CacheInfo,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cache_miss_serialises_without_a_job_id_and_a_hit_with_one() {
        assert_eq!(
            serde_json::to_value(CacheInfo::default()).unwrap(),
            json!({"hit": false})
        );
        let id = Uuid::nil();
        let hit = CacheInfo {
            hit: true,
            job_id: Some(id),
        };
        assert_eq!(
            serde_json::to_value(&hit).unwrap(),
            json!({"hit": true, "job_id": id})
        );
    }

    #[test]
    fn the_face_box_keeps_its_documented_name() {
        let face = FoundFace {
            score: 0.9,
            mesh_presence: 0.99,
            bounds: FaceBox {
                x: 1.0,
                y: 2.0,
                width: 3.0,
                height: 4.0,
            },
            located_by: "pose".into(),
            roll: 0.0,
        };
        let v = serde_json::to_value(&face).unwrap();
        assert_eq!(v["box"]["width"], 3.0);
    }

    #[test]
    fn a_person_pose_flattens_where_the_person_is() {
        let person = PersonPose {
            person: FoundPerson {
                bounds: PixelBox {
                    x: 1,
                    y: 2,
                    width: 3,
                    height: 4,
                },
                score: 0.8,
                detector_score: None,
                primary: true,
            },
            presence: 0.9,
            keypoints: vec![],
        };
        let v = serde_json::to_value(&person).unwrap();
        assert_eq!(v["box"]["height"], 4);
        assert_eq!(v["detector_score"], serde_json::Value::Null);
        assert_eq!(v["primary"], true);
        assert_eq!(serde_json::from_value::<PersonPose>(v).unwrap(), person);
    }
}

/// The renderer that drew a result: its adapter (a GPU, or `llvmpipe` on
/// machines without one) and MSAA samples per pixel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RendererInfo {
    pub adapter: String,
    pub samples: u32,
}

/// One camera's still, as PNG or WebP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RenderedStill {
    pub camera: String,
    #[serde(flatten)]
    pub object: StoredObject,
}

/// `render.stills` result v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RenderStillsResult {
    pub design_id: Uuid,
    pub quality: crate::design::Quality,
    pub renders: Vec<RenderedStill>,
    pub triangles: u64,
    pub renderer: RendererInfo,
    /// Milliseconds spent per step: `load`, `render`, `encode`, `store`.
    pub timings_ms: BTreeMap<String, u64>,
}

/// A stored video (or animated preview) and what `ffprobe` would say of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredVideo {
    pub key: String,
    /// `mp4`, `webm` or `webp`.
    pub format: String,
    /// `h264`, `vp9` or `webp`.
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub frames: u32,
    pub fps: u32,
    pub duration_s: f64,
    pub bytes: u64,
    /// A signed URL to read the object, in the job view only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `render.turntable` result v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TurntableResult {
    pub design_id: Uuid,
    pub frames: u32,
    pub fps: u32,
    /// Degrees the model turns between frames (360 / frames).
    pub step_deg: f64,
    pub videos: Vec<StoredVideo>,
    pub triangles: u64,
    pub renderer: RendererInfo,
    /// Milliseconds: `load`, `render` (all frames), `encode` (waiting on the
    /// encoders after the last frame), `store`.
    pub timings_ms: BTreeMap<String, u64>,
}
