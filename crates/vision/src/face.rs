//! Face detection (MediaPipe BlazeFace, short and full range) decoded from
//! its SSD anchors, a face placed from body landmarks when no detector sees
//! it, and the crop the 468-point face mesh wants: square, turned so the
//! eyes are level.
use crate::detect::{BoxF, sigmoid, ssd_anchors, suppress};
use crate::{Keypoint, Letterbox, Rect};

/// The short-range detector's input side.
pub const DETECT_SIZE: u32 = 128;
/// The full-range detector's input side.
pub const FULL_RANGE_SIZE: u32 = 192;
/// The mesh model's input side.
pub const MESH_SIZE: u32 = 192;
/// A detection below this probability is not a face (MediaPipe's default).
pub const MIN_FACE_SCORE: f32 = 0.5;
/// The mesh's own face-presence probability must reach this.
pub const MIN_MESH_PRESENCE: f32 = 0.5;

/// The 896 anchor centres of the short-range model: a 16×16 grid (stride
/// 8) with 2 anchors per cell, then an 8×8 grid (strides 16, three layers
/// merged) with 6 per cell. Anchor sizes are fixed at 1.
pub fn short_range_anchors() -> Vec<(f32, f32)> {
    ssd_anchors(&[(16, 2), (8, 6)])
}

/// The 2304 anchor centres of the full-range model: a 48×48 grid (stride
/// 4), one anchor per cell.
pub fn full_range_anchors() -> Vec<(f32, f32)> {
    ssd_anchors(&[(48, 1)])
}

/// Which of the two BlazeFace models produced an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceModel {
    /// 128 px input, faces filling a good part of the image (a crop around
    /// a head).
    ShortRange,
    /// 192 px input, small faces anywhere in a photo.
    FullRange,
}

impl FaceModel {
    pub fn size(self) -> u32 {
        match self {
            FaceModel::ShortRange => DETECT_SIZE,
            FaceModel::FullRange => FULL_RANGE_SIZE,
        }
    }

    fn anchors(self) -> Vec<(f32, f32)> {
        match self {
            FaceModel::ShortRange => short_range_anchors(),
            FaceModel::FullRange => full_range_anchors(),
        }
    }
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

/// The faces of one detector run (`regressors` `[anchors×16]`,
/// `classificators` `[anchors]` logits) of `model`, through `letterbox`
/// back to photo pixels: every anchor at least [`MIN_FACE_SCORE`], overlaps
/// suppressed, best first.
pub fn faces(
    model: FaceModel,
    regressors: &[f32],
    logits: &[f32],
    letterbox: &Letterbox,
) -> Vec<Face> {
    let anchors = model.anchors();
    let size = model.size() as f32;
    if regressors.len() < anchors.len() * 16 {
        return Vec::new();
    }
    let mut found: Vec<Face> = Vec::new();
    for i in (0..anchors.len().min(logits.len())).filter(|&i| sigmoid(logits[i]) >= MIN_FACE_SCORE)
    {
        let r = &regressors[i * 16..i * 16 + 16];
        let (ax, ay) = anchors[i];
        // Model units are input pixels relative to the anchor centre.
        let point = |dx: f32, dy: f32| letterbox.to_photo(ax * size + dx, ay * size + dy);
        let (cx, cy) = point(r[0], r[1]);
        let (w, h) = (r[2] / letterbox.scale, r[3] / letterbox.scale);
        let mut keypoints = [(0f32, 0f32); 6];
        for (k, slot) in keypoints.iter_mut().enumerate() {
            *slot = point(r[4 + 2 * k], r[5 + 2 * k]);
        }
        let face = Face {
            score: sigmoid(logits[i]),
            x: cx - w / 2.0,
            y: cy - h / 2.0,
            width: w,
            height: h,
            keypoints,
        };
        found.push(face);
    }
    suppress(
        found,
        |f| f.score,
        |a, b| a.bounds().overlap(&b.bounds()) >= 0.3,
    )
}

/// The best face of one short-range detector run, or `None` when no anchor
/// reaches [`MIN_FACE_SCORE`].
pub fn best_face(regressors: &[f32], logits: &[f32], letterbox: &Letterbox) -> Option<Face> {
    faces(FaceModel::ShortRange, regressors, logits, letterbox)
        .into_iter()
        .next()
}

/// A face placed from a body pose's head points when no detector found
/// one: centred between the eyes and the nose, as wide as the ears are apart
/// (or 2.5 × the eyes' distance when an ear is hidden). `None` unless both
/// eyes and the nose are visible.
pub fn face_from_pose(keypoints: &[Keypoint]) -> Option<Face> {
    let sure = |name: &str| {
        keypoints
            .iter()
            .find(|k| k.name == name && k.visibility >= 0.5)
            .map(|k| (k.x, k.y))
    };
    let (nose, left_eye, right_eye) = (sure("nose")?, sure("left_eye")?, sure("right_eye")?);
    let dist = |a: (f32, f32), b: (f32, f32)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
    let eyes = dist(left_eye, right_eye);
    let side = match (sure("left_ear"), sure("right_ear")) {
        (Some(l), Some(r)) => dist(l, r).max(2.5 * eyes),
        _ => 2.5 * eyes,
    }
    .max(4.0);
    let eye_mid = (
        (left_eye.0 + right_eye.0) / 2.0,
        (left_eye.1 + right_eye.1) / 2.0,
    );
    let centre = ((eye_mid.0 + nose.0) / 2.0, (eye_mid.1 + nose.1) / 2.0);
    let mouth = sure("mouth_left")
        .zip(sure("mouth_right"))
        .map(|(l, r)| ((l.0 + r.0) / 2.0, (l.1 + r.1) / 2.0))
        .unwrap_or(nose);
    Some(Face {
        score: 0.0,
        x: centre.0 - side / 2.0,
        y: centre.1 - side / 2.0,
        width: side,
        height: side,
        keypoints: [
            right_eye,
            left_eye,
            nose,
            mouth,
            sure("right_ear").unwrap_or(right_eye),
            sure("left_ear").unwrap_or(left_eye),
        ],
    })
}

impl Face {
    /// The face's box, corners.
    pub fn bounds(&self) -> BoxF {
        BoxF {
            x0: self.x,
            y0: self.y,
            x1: self.x + self.width,
            y1: self.y + self.height,
        }
    }

    pub fn centre(&self) -> (f32, f32) {
        (self.x + self.width / 2.0, self.y + self.height / 2.0)
    }

    /// The crop the mesh model wants: [`Face::mesh_region`]'s square,
    /// turned so the eyes lie level.
    pub fn mesh_crop(&self) -> RotatedCrop {
        let (right, left) = (self.keypoints[0], self.keypoints[1]);
        let angle = (left.1 - right.1).atan2(left.0 - right.0);
        let (cx, cy) = self.centre();
        RotatedCrop {
            cx,
            cy,
            side: 1.5 * self.width.max(self.height),
            angle: if angle.is_finite() { angle } else { 0.0 },
            size: MESH_SIZE,
        }
    }
}

/// A square of the photo centred at (`cx`, `cy`), `side` pixels wide,
/// turned by `angle` radians (its x axis along that direction in the
/// photo), sampled into a `size`×`size` model input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RotatedCrop {
    pub cx: f32,
    pub cy: f32,
    pub side: f32,
    pub angle: f32,
    pub size: u32,
}

impl RotatedCrop {
    /// A model-input point in photo pixels.
    pub fn to_photo(&self, x: f32, y: f32) -> (f32, f32) {
        let s = self.side / self.size as f32;
        let half = self.size as f32 / 2.0;
        let (u, v) = ((x - half) * s, (y - half) * s);
        let (sin, cos) = self.angle.sin_cos();
        (self.cx + u * cos - v * sin, self.cy + u * sin + v * cos)
    }

    /// The crop as an NCHW tensor (RGB / 255, then `a·v + b`), bilinear;
    /// outside the photo is black.
    pub fn tensor(&self, rgb: &[u8], w: u32, h: u32, (a, b): (f32, f32)) -> Vec<f32> {
        let size = self.size as usize;
        let plane = size * size;
        let mut tensor = vec![b; 3 * plane];
        let at = |x: i64, y: i64, c: usize| -> f32 {
            if x < 0 || y < 0 || x >= i64::from(w) || y >= i64::from(h) {
                0.0
            } else {
                f32::from(rgb[((y as usize) * w as usize + x as usize) * 3 + c])
            }
        };
        for y in 0..size {
            for x in 0..size {
                let (px, py) = self.to_photo(x as f32 + 0.5, y as f32 + 0.5);
                let (fx, fy) = (px - 0.5, py - 0.5);
                let (x0, y0) = (fx.floor(), fy.floor());
                let (tx, ty) = (fx - x0, fy - y0);
                let (x0, y0) = (x0 as i64, y0 as i64);
                for c in 0..3 {
                    let v = (at(x0, y0, c) * (1.0 - tx) + at(x0 + 1, y0, c) * tx) * (1.0 - ty)
                        + (at(x0, y0 + 1, c) * (1.0 - tx) + at(x0 + 1, y0 + 1, c) * tx) * ty;
                    tensor[c * plane + y * size + x] = a * v / 255.0 + b;
                }
            }
        }
        tensor
    }
}

/// 468 mesh points (`[1404]`: x, y, z in mesh-input pixels) in photo pixels.
pub fn mesh_points(raw: &[f32], crop: &RotatedCrop) -> Vec<(f32, f32)> {
    raw.chunks_exact(3)
        .take(468)
        .map(|p| crop.to_photo(p[0], p[1]))
        .collect()
}
