use serde::{Deserialize, Serialize};

use crate::Letterbox;
use crate::detect::sigmoid;

/// BlazePose's 33 body points, in output order.
pub const BLAZEPOSE_KEYPOINTS: [&str; 33] = [
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
];

/// One body point in photo pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keypoint {
    pub name: String,
    pub x: f32,
    pub y: f32,
    /// Depth relative to the hips, in the same pixel scale (smaller: nearer).
    pub z: f32,
    /// Probability the point is visible.
    pub visibility: f32,
}

/// One pass of the landmark model, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct PoseOutput {
    pub keypoints: Vec<Keypoint>,
    /// The model's pose-present probability.
    pub presence: f32,
    /// Share of the photo content the person mask covers.
    pub mask_coverage: f32,
}

/// Decode `landmarks` (`[195]`: 39 × x, y, z, visibility logit, presence
/// logit), `presence` (`[1]`, a probability) and `mask` (`[size²]` logits)
/// of one pass through `letterbox`.
pub fn decode_pose(
    landmarks: &[f32],
    presence: f32,
    mask: &[f32],
    letterbox: &Letterbox,
) -> PoseOutput {
    let keypoints = BLAZEPOSE_KEYPOINTS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let p = &landmarks[i * 5..i * 5 + 5];
            let (x, y) = letterbox.to_photo(p[0], p[1]);
            Keypoint {
                name: (*name).to_owned(),
                x,
                y,
                z: p[2] / letterbox.scale,
                visibility: sigmoid(p[3]),
            }
        })
        .collect();
    let (cx, cy, cw, ch) = letterbox.content();
    let size = letterbox.size;
    let mut covered = 0usize;
    for y in cy..(cy + ch).min(size) {
        for x in cx..(cx + cw).min(size) {
            if mask[(y * size + x) as usize] > 0.0 {
                covered += 1;
            }
        }
    }
    PoseOutput {
        keypoints,
        presence,
        mask_coverage: covered as f32 / (cw * ch) as f32,
    }
}
