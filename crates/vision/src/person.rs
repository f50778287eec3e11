//! Finding the people in a photo before anything looks at one, the way
//! MediaPipe's own pipeline does: a detector first, then the landmark model
//! on a crop around each person.
//!
//! 1. **Candidates**: NanoDet (COCO, 80 classes) over the whole photo,
//!    letterboxed to 416 px; boxes of class *person* scoring at least
//!    [`MIN_CANDIDATE`], after non-maximum suppression.
//! 2. **Confirmation**: MediaPipe's BlazePose person detector on a square
//!    crop around each candidate. It finds a person by the head and
//!    shoulders and answers with alignment points (hips and the body's
//!    extent) that place the landmark model's crop. A candidate is a person
//!    when a detection scoring at least [`MIN_CONFIRMATION`] has its head
//!    inside the candidate's box.
//! 3. **Seen from behind**: the BlazePose detector needs a head it can see;
//!    a candidate it does not confirm still counts when NanoDet is sure
//!    ([`MIN_UNCONFIRMED`]) and the landmark model, run on the candidate's
//!    crop, finds a pose ([`MIN_BACK_PRESENCE`]).
//!
//! Measured on `tests/data/eval` (see `benches/README.md`): every person
//! scored ≥ 0.40 by NanoDet and ≥ 0.6 by the detector on its crop; the
//! negatives (animals, vehicles, signs with pictograms, buildings) gave no
//! candidate, or one the detector did not confirm (a castle sign's walking
//! pictogram: NanoDet 0.47, detector 0.0).
pub use crate::detect::BoxF;
use crate::detect::{sigmoid, ssd_anchors, suppress};
use crate::{Letterbox, Rect};

/// NanoDet's input side; it is letterboxed, so wide group photos keep
/// their people's shapes.
pub const NANODET_SIZE: u32 = 416;
/// NanoDet's strides; one output pair (class scores, box distributions)
/// per stride, cells row-major.
pub const NANODET_STRIDES: [u32; 3] = [8, 16, 32];
const NANODET_CLASSES: usize = 80;
const NANODET_BINS: usize = 11;
/// COCO class indices NanoDet scores.
pub const COCO_PERSON: usize = 0;
/// NanoDet's per-channel normalisation (BGR order), as trained.
pub const NANODET_MEAN_BGR: [f32; 3] = [103.53, 116.28, 123.675];
pub const NANODET_STD_BGR: [f32; 3] = [57.375, 57.12, 58.395];

/// A person candidate needs this NanoDet score.
pub const MIN_CANDIDATE: f32 = 0.4;
/// Candidates overlapping more than this (IoU) are one.
pub const CANDIDATE_NMS_IOU: f32 = 0.6;
/// The BlazePose detector's input side.
pub const DETECTOR_SIZE: u32 = 224;
/// MediaPipe's own threshold for a pose detection.
pub const MIN_CONFIRMATION: f32 = 0.5;
const DETECTOR_NMS_IOU: f32 = 0.3;
/// The crop the detector confirms a candidate on: the candidate's box, its
/// longer side × this, centred.
pub const CONFIRM_MARGIN: f32 = 1.2;
/// An unconfirmed candidate (a back view) needs this NanoDet score …
pub const MIN_UNCONFIRMED: f32 = 0.75;
/// … and this landmark-model presence on its crop.
pub const MIN_BACK_PRESENCE: f32 = 0.5;
/// MediaPipe's landmark crop: twice the hips-to-extent distance, × 1.25.
const LANDMARK_SCALE: f32 = 2.5;

/// A NanoDet person box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub score: f32,
    pub bbox: BoxF,
}

/// NanoDet's input: the photo letterboxed (black padding), BGR, normalised
/// per channel. `rgb255` is `letterbox_tensor`'s output with `(255, 0)`:
/// RGB planes in 0..255.
pub fn nanodet_normalise(rgb255: &mut [f32]) {
    let plane = rgb255.len() / 3;
    // RGB planes → BGR planes.
    let (r, rest) = rgb255.split_at_mut(plane);
    let b = &mut rest[plane..];
    r.swap_with_slice(b);
    for (c, values) in rgb255.chunks_exact_mut(plane).enumerate() {
        for v in values {
            *v = (*v - NANODET_MEAN_BGR[c]) / NANODET_STD_BGR[c];
        }
    }
}

/// Person candidates from NanoDet's outputs: per stride, `scores`
/// (`[cells × 80]`, already sigmoid) and `dists` (`[cells × 44]`: 4 sides ×
/// 11 bins, softmax → expected distance in strides from the cell centre),
/// through `letterbox` into photo pixels, highest first, suppressed at
/// [`CANDIDATE_NMS_IOU`].
pub fn nanodet_persons(levels: &[(&[f32], &[f32]); 3], letterbox: &Letterbox) -> Vec<Candidate> {
    let mut found = Vec::new();
    for (&stride, (scores, dists)) in NANODET_STRIDES.iter().zip(levels) {
        let grid = (NANODET_SIZE / stride) as usize;
        let cells = (grid * grid)
            .min(scores.len() / NANODET_CLASSES)
            .min(dists.len() / (4 * NANODET_BINS));
        for cell in 0..cells {
            let score = scores[cell * NANODET_CLASSES + COCO_PERSON];
            if score < MIN_CANDIDATE {
                continue;
            }
            let d = &dists[cell * 4 * NANODET_BINS..(cell + 1) * 4 * NANODET_BINS];
            let side: Vec<f32> = d
                .chunks_exact(NANODET_BINS)
                .map(|bins| expected_bin(bins) * stride as f32)
                .collect();
            let gx = ((cell % grid) as f32 + 0.5) * stride as f32;
            let gy = ((cell / grid) as f32 + 0.5) * stride as f32;
            let (x0, y0) = letterbox.to_photo(gx - side[0], gy - side[1]);
            let (x1, y1) = letterbox.to_photo(gx + side[2], gy + side[3]);
            found.push(Candidate {
                score,
                bbox: BoxF { x0, y0, x1, y1 },
            });
        }
    }
    suppress(
        found,
        |c| c.score,
        |a, b| a.bbox.iou(&b.bbox) > CANDIDATE_NMS_IOU,
    )
}

/// The expectation of a softmax over bins 0..n.
fn expected_bin(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let (mut sum, mut weighted) = (0f32, 0f32);
    for (i, &l) in logits.iter().enumerate() {
        let e = (l - max).exp();
        sum += e;
        weighted += e * i as f32;
    }
    weighted / sum
}

/// The 2254 anchor centres of the BlazePose detector (0..1): 28×28 cells ×
/// 2 (stride 8), 14×14 × 2 (stride 16), 7×7 × 6 (stride 32, three layers).
pub fn detector_anchors() -> Vec<(f32, f32)> {
    ssd_anchors(&[(28, 2), (14, 2), (7, 6)])
}

/// One BlazePose detection, in photo pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoseDetection {
    pub score: f32,
    /// The head the detection is anchored on.
    pub head: BoxF,
    /// Mid-hip centre.
    pub hips: (f32, f32),
    /// A point at the body's full extent from the hips (sets size and
    /// rotation).
    pub extent: (f32, f32),
}

impl PoseDetection {
    /// The square the landmark model should see (MediaPipe's rule): centred
    /// on the hips, 2.5 × the hips-to-extent distance. Parts outside the
    /// photo are padding.
    pub fn landmark_region(&self) -> Rect {
        let d = ((self.extent.0 - self.hips.0).powi(2) + (self.extent.1 - self.hips.1).powi(2))
            .sqrt()
            .max(1.0);
        let side = LANDMARK_SCALE * d;
        Rect {
            x: self.hips.0 - side / 2.0,
            y: self.hips.1 - side / 2.0,
            w: side,
            h: side,
        }
    }
}

/// Detections of one BlazePose detector run (`raw`: `[2254 × 13]` = score
/// logit, box cx, cy, w, h, then 4 keypoints × x, y, in input pixels
/// relative to the anchor) through `letterbox`, at least
/// [`MIN_CONFIRMATION`], suppressed, best first.
pub fn pose_detections(raw: &[f32], letterbox: &Letterbox) -> Vec<PoseDetection> {
    let size = DETECTOR_SIZE as f32;
    let anchors = detector_anchors();
    let mut found = Vec::new();
    for (i, &(ax, ay)) in anchors.iter().enumerate() {
        let Some(r) = raw.get(i * 13..i * 13 + 13) else {
            break;
        };
        let score = sigmoid(r[0]);
        if score < MIN_CONFIRMATION {
            continue;
        }
        let point = |dx: f32, dy: f32| letterbox.to_photo(ax * size + dx, ay * size + dy);
        let (x0, y0) = point(r[1] - r[3] / 2.0, r[2] - r[4] / 2.0);
        let (x1, y1) = point(r[1] + r[3] / 2.0, r[2] + r[4] / 2.0);
        found.push(PoseDetection {
            score,
            head: BoxF { x0, y0, x1, y1 },
            hips: point(r[5], r[6]),
            extent: point(r[7], r[8]),
        });
    }
    suppress(
        found,
        |d| d.score,
        |a, b| a.head.iou(&b.head) > DETECTOR_NMS_IOU,
    )
}

/// The detection confirming `candidate`: of the heads inside the
/// candidate's box, the one nearest where its own head should be (centred,
/// near the top: people overlapping in a photo put another person's head
/// inside one's box too).
pub fn confirming(candidate: &Candidate, detections: &[PoseDetection]) -> Option<PoseDetection> {
    let b = candidate.bbox;
    let expected = ((b.x0 + b.x1) / 2.0, b.y0 + 0.15 * b.height());
    let distance = |d: &PoseDetection| {
        let (x, y) = d.head.centre();
        (x - expected.0).powi(2) + (y - expected.1).powi(2)
    };
    detections
        .iter()
        .filter(|d| b.contains(d.head.centre()))
        .min_by(|a, c| distance(a).total_cmp(&distance(c)))
        .copied()
}

/// The primary person among `boxes` in a `width`×`height` photo: the
/// largest, discounted by distance from the centre (a person at a corner
/// weighs half as much as the same person centred).
pub fn primary(boxes: &[BoxF], width: u32, height: u32) -> Option<usize> {
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    let half_diagonal = (cx * cx + cy * cy).sqrt().max(1.0);
    boxes
        .iter()
        .map(|b| {
            let clipped = b.clip(width, height);
            let (bx, by) = clipped.centre();
            let off = ((bx - cx).powi(2) + (by - cy).powi(2)).sqrt() / half_diagonal;
            clipped.area() * (1.0 - 0.5 * off)
        })
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}
