//! Face detection (MediaPipe BlazeFace short range) decoded from its SSD
//! anchors, and the square crop the 468-point face mesh wants.
use crate::{Letterbox, Rect};

/// The detector's input side.
pub const DETECT_SIZE: u32 = 128;
/// The mesh model's input side.
pub const MESH_SIZE: u32 = 192;
/// A detection below this probability is not a face (MediaPipe's default).
pub const MIN_FACE_SCORE: f32 = 0.5;
/// The mesh's own face-presence probability must reach this.
pub const MIN_MESH_PRESENCE: f32 = 0.5;

/// The 896 anchor centres of the short-range model, in 0..1: a 16×16 grid
/// (stride 8) with 2 anchors per cell, then an 8×8 grid (strides 16, three
/// layers merged) with 6 per cell. Anchor sizes are fixed at 1.
pub fn short_range_anchors() -> Vec<(f32, f32)> {
    let mut anchors = Vec::with_capacity(896);
    for (grid, per_cell) in [(16u32, 2usize), (8, 6)] {
        for y in 0..grid {
            for x in 0..grid {
                let centre = (
                    (x as f32 + 0.5) / grid as f32,
                    (y as f32 + 0.5) / grid as f32,
                );
                anchors.extend(std::iter::repeat_n(centre, per_cell));
            }
        }
    }
    anchors
}

/// A detected face in photo pixels.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Face {
    pub score: f32,
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
    /// Right eye, left eye, nose tip, mouth, right ear, left ear (the
    /// subject's sides), in photo pixels.
    #[serde(skip)]
    pub keypoints: [(f32, f32); 6],
}

impl Face {
    /// The square region around the face the mesh model expects: the box
    /// centre, 1.5 × its longer side (MediaPipe's own margin).
    pub fn mesh_region(&self) -> Rect {
        let side = 1.5 * self.width.max(self.height);
        let (cx, cy) = (self.x + self.width / 2.0, self.y + self.height / 2.0);
        Rect {
            x: cx - side / 2.0,
            y: cy - side / 2.0,
            w: side,
            h: side,
        }
    }
}

fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v.clamp(-100.0, 100.0)).exp())
}

/// The best face of one detector run (`regressors` `[896×16]`,
/// `classificators` `[896]` logits), through `letterbox` back to photo
/// pixels; `None` when no anchor reaches [`MIN_FACE_SCORE`].
pub fn best_face(regressors: &[f32], logits: &[f32], letterbox: &Letterbox) -> Option<Face> {
    let anchors = short_range_anchors();
    let size = DETECT_SIZE as f32;
    let (best, logit) = logits
        .iter()
        .take(anchors.len())
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    let score = sigmoid(*logit);
    if score < MIN_FACE_SCORE || regressors.len() < anchors.len() * 16 {
        return None;
    }
    let r = &regressors[best * 16..best * 16 + 16];
    let (ax, ay) = anchors[best];
    // Model units are input pixels relative to the anchor centre.
    let point =
        |dx: f32, dy: f32| letterbox.to_photo((ax + dx / size) * size, (ay + dy / size) * size);
    let (cx, cy) = point(r[0], r[1]);
    let (w, h) = (r[2] / letterbox.scale, r[3] / letterbox.scale);
    let mut keypoints = [(0f32, 0f32); 6];
    for (k, slot) in keypoints.iter_mut().enumerate() {
        *slot = point(r[4 + 2 * k], r[5 + 2 * k]);
    }
    Some(Face {
        score,
        x: cx - w / 2.0,
        y: cy - h / 2.0,
        width: w,
        height: h,
        keypoints,
    })
}

/// 468 mesh points (`[1404]`: x, y, z in mesh-input pixels) in photo pixels.
pub fn mesh_points(raw: &[f32], letterbox: &Letterbox) -> Vec<(f32, f32)> {
    raw.chunks_exact(3)
        .take(468)
        .map(|p| letterbox.to_photo(p[0], p[1]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::letterbox_tensor;

    #[test]
    fn anchors_cover_the_two_grids() {
        let a = short_range_anchors();
        assert_eq!(a.len(), 896);
        assert_eq!(a[0], (1.0 / 32.0, 1.0 / 32.0));
        assert_eq!(a[1], a[0]);
        assert_eq!(a[2], (3.0 / 32.0, 1.0 / 32.0));
        assert_eq!(a[512], (1.0 / 16.0, 1.0 / 16.0));
        assert_eq!(a[895], (15.0 / 16.0, 15.0 / 16.0));
    }

    #[test]
    fn the_best_anchor_decodes_into_photo_pixels() {
        // A 256×256 photo: letterbox scale 0.5, no padding.
        let (_, lb) = letterbox_tensor(&vec![0u8; 256 * 256 * 3], 256, 256, None, 128, (2.0, -1.0));
        let mut regressors = vec![0f32; 896 * 16];
        let mut logits = vec![-10f32; 896];
        // Anchor 512 sits at (8, 8) model pixels; shift the box by (+4, +2)
        // and make it 20×30.
        logits[512] = 3.0;
        regressors[512 * 16..512 * 16 + 4].copy_from_slice(&[4.0, 2.0, 20.0, 30.0]);
        let face = best_face(&regressors, &logits, &lb).unwrap();
        assert!((face.score - 0.9526).abs() < 1e-3);
        assert!((face.x - (24.0 - 20.0)).abs() < 1e-3, "{face:?}");
        assert!((face.y - (20.0 - 30.0)).abs() < 1e-3, "{face:?}");
        assert!((face.width - 40.0).abs() < 1e-3 && (face.height - 60.0).abs() < 1e-3);
        assert_eq!(face.keypoints[0], (16.0, 16.0));
        let region = face.mesh_region();
        assert!((region.w - 90.0).abs() < 1e-3 && (region.x - (24.0 - 45.0)).abs() < 1e-3);
        // Nothing above the threshold: no face.
        logits[512] = -1.0;
        assert_eq!(best_face(&regressors, &logits, &lb), None);
    }
}
