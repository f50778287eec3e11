//! Measurements from a front (and optionally a side) photo: the person's
//! mask and pose keypoints, scaled by the stated height. Widths come from
//! the front silhouette, depths from the side one, at the same heights
//! above the floor; a girth is the section's calibrated model of the two
//! ([`crate::calibrate`], fitted on generated bodies), or of the width
//! alone when there is no side photo. Sections are found the way
//! [`crate::measure::measure_body`] finds them on a mesh: the widest girth
//! between the crotch and the hips, the narrowest above, the widest of the
//! chest below where the arms join, the narrowest of the neck. Each value
//! carries an uncertainty: the half-width of a 90 % interval combining the
//! calibration's residual spread, the mask's edge quality and the scale's
//! precision.
use serde::{Deserialize, Serialize};

use crate::calibrate::{Calibration, SectionModel};

/// A keypoint in photo pixels, when the pose model saw it in the photo.
pub type Point = Option<[f32; 2]>;

/// The pose keypoints the measurements use, each pair (left, right) of the
/// person's own sides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Landmarks {
    pub nose: Point,
    pub shoulders: [Point; 2],
    pub elbows: [Point; 2],
    pub wrists: [Point; 2],
    pub hips: [Point; 2],
    pub knees: [Point; 2],
    pub ankles: [Point; 2],
    pub heels: [Point; 2],
}

impl Landmarks {
    /// From the pose model's keypoints by name (`nose`, `left_shoulder`,
    /// `right_heel`, … as BlazePose names them): `get` gives a keypoint's
    /// position when it was seen.
    pub fn from_named(get: impl Fn(&str) -> Point) -> Landmarks {
        let pair = |what: &str| [get(&format!("left_{what}")), get(&format!("right_{what}"))];
        Landmarks {
            nose: get("nose"),
            shoulders: pair("shoulder"),
            elbows: pair("elbow"),
            wrists: pair("wrist"),
            hips: pair("hip"),
            knees: pair("knee"),
            ankles: pair("ankle"),
            heels: pair("heel"),
        }
    }
}

/// One photo of the person: their mask (0–255 per pixel, row-major) and
/// their keypoints.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub width: u32,
    pub height: u32,
    pub alpha: &'a [u8],
    pub landmarks: &'a Landmarks,
}

/// A measured value and the half-width of its 90 % interval, metres.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub value: f32,
    pub uncertainty: f32,
}

/// z for a two-sided 90 % interval.
const Z90: f32 = 1.645;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PhotoMeasurements {
    pub height: Estimate,
    pub neck: Estimate,
    pub chest: Estimate,
    pub waist: Estimate,
    pub hips: Estimate,
    pub shoulder_width: Estimate,
    pub arm_length: Estimate,
    pub inseam: Estimate,
    /// Whether a side photo gave the depths (otherwise they are inferred
    /// from the widths and every girth is less certain).
    pub side_used: bool,
    /// 0–1: how soft the mask's edges are (0 crisp).
    pub mask_softness: f32,
    /// 0–1, from the girths' relative uncertainties.
    pub confidence: f32,
}

impl PhotoMeasurements {
    /// Each measurement by its name in the API (as
    /// [`Measurements::named`](crate::measure::Measurements::named)).
    pub fn named(&self) -> [(&'static str, Estimate); 8] {
        [
            ("height", self.height),
            ("neck", self.neck),
            ("chest", self.chest),
            ("waist", self.waist),
            ("hips", self.hips),
            ("shoulder_width", self.shoulder_width),
            ("arm_length", self.arm_length),
            ("inseam", self.inseam),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PhotoError {
    /// The head or the feet are outside the photo.
    #[error("{0}")]
    Cropped(String),
    /// A photo shows the body from the wrong side.
    #[error("{0}")]
    PoseMismatch(String),
    /// The front and side photos disagree about the body's proportions.
    #[error("{0}")]
    Disagree(String),
    /// The mask or keypoints cannot carry measurements.
    #[error("{0}")]
    Unreadable(String),
}

fn mid(a: Point, b: Point) -> Option<[f32; 2]> {
    match (a, b) {
        (Some(a), Some(b)) => Some([(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0]),
        (a, b) => a.or(b),
    }
}

fn dist(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// Inseam ÷ height = a + b · (floor → hip keypoints) ÷ (floor → nose), and
/// the residual spread, fitted on the front photos of 12 generated bodies
/// (`atelier-studio`, bodies 0–11; the benchmark scores 30 others).
const INSEAM_FIT: (f32, f32, f32) = (0.0757, 0.7240, 0.0103);

/// What photos add to the body model's own calibration, metres: per
/// measurement the median error and its robust spread (1.4826 × median
/// absolute deviation) of the rules above on rendered photos of 30
/// generated bodies (`atelier-remeasure` on benchmark bodies 100–129: plain
/// and cluttered backdrops, 2.5–5 m away); the value is corrected by the
/// median and the spread joins the interval. The benchmark table is on
/// other bodies (200–229). The silhouette reads a little wide (soft mask
/// edges, arms close to the chest) and the chest most of all.
struct PhotoCorrections {
    /// Neck, chest, waist, hips with a side photo…
    with_side: [(f32, f32); 4],
    /// …and with the front photo alone.
    front_only: [(f32, f32); 4],
    shoulder_width: (f32, f32),
    arm_length: (f32, f32),
    inseam: (f32, f32),
}

const PHOTO: PhotoCorrections = PhotoCorrections {
    with_side: [
        (0.0035, 0.0111),
        (0.0325, 0.0282),
        (0.0205, 0.0185),
        (0.011, 0.0148),
    ],
    front_only: [
        (0.027, 0.0222),
        (0.0335, 0.0252),
        (0.018, 0.0096),
        (0.04, 0.0163),
    ],
    shoulder_width: (-0.004, 0.020),
    arm_length: (0.003, 0.023),
    inseam: (0.010, 0.031),
};

/// How far a girth read with the side photo and the same girth from the
/// front photo alone stray apart when both photos are sound, metres (neck,
/// chest, waist, hips): the root mean square of their difference on the
/// plain-backdrop bodies among 100–129 (20 bodies; the cluttered ones, where
/// the side view's mask takes in backdrop, strayed up to 13.5 cm at the
/// chest). Apart by more than [`SIDE_BAND`] times it, the side reading is
/// dropped for the front's.
const SIDE_AGREES: [f32; 4] = [0.0138, 0.0422, 0.0112, 0.0125];

/// The multiple of [`SIDE_AGREES`] past which the side reading is dropped,
/// chosen on the same bodies: of 1.645, 2 and 2.5 (and no such bound), 2.5
/// gave the least girth error summed over the four (MAE 8.8 → 7.0 cm; the
/// chest 3.1 → 1.9).
const SIDE_BAND: f32 = 2.5;

/// The heel keypoint's height above the floor, as a share of the height.
const HEEL_HEIGHT: f32 = 0.015;

/// Pixels at or above this alpha are the person's.
const INSIDE: u8 = 128;

/// A view's silhouette: the person's rows, the scale and the body's axis.
struct Silhouette<'a> {
    view: View<'a>,
    /// The mask without specks (see [`clean`]).
    alpha: Vec<u8>,
    top: usize,
    bottom: usize,
    /// Metres per pixel: the stated height over the silhouette's height.
    scale: f32,
    shoulders: [f32; 2],
    hips: [f32; 2],
}

impl<'a> Silhouette<'a> {
    fn new(view: View<'a>, stated: f32, which: &str) -> Result<Self, PhotoError> {
        let (w, h) = (view.width as usize, view.height as usize);
        if view.alpha.len() != w * h || w < 8 || h < 32 {
            return Err(PhotoError::Unreadable(format!(
                "the {which} photo's mask is unusable"
            )));
        }
        // Specks a textured backdrop leaves around the body (the guided
        // filter follows the backdrop's edges too) would widen the runs:
        // opened away, about 0.25 % of the photo's height across.
        let alpha = clean(view.alpha, w, h, (h / 400).max(1));
        let row_has = |y: usize| alpha[y * w..(y + 1) * w].iter().any(|&a| a >= INSIDE);
        let Some(top) = (0..h).find(|&y| row_has(y)) else {
            return Err(PhotoError::Unreadable(format!(
                "the {which} photo's mask is empty"
            )));
        };
        let bottom = (0..h).rev().find(|&y| row_has(y)).unwrap_or(top);
        let l = view.landmarks;
        if top <= 1 || l.nose.is_none() {
            return Err(PhotoError::Cropped(format!(
                "the {which} photo cuts off the head: the whole body, head to feet, must be in the photo"
            )));
        }
        if bottom + 2 >= h || (l.ankles[0].is_none() && l.ankles[1].is_none()) {
            return Err(PhotoError::Cropped(format!(
                "the {which} photo cuts off the feet: the whole body, head to feet, must be in the photo"
            )));
        }
        let (Some(shoulders), Some(hips)) = (
            mid(l.shoulders[0], l.shoulders[1]),
            mid(l.hips[0], l.hips[1]),
        ) else {
            return Err(PhotoError::Unreadable(format!(
                "the {which} photo shows no shoulders or hips to measure from"
            )));
        };
        // The floor under the body: the silhouette's lowest row is the toes,
        // which reach towards the camera and so sit lower in the photo than
        // the floor under the body's own plane; the heels are on that plane
        // (their keypoint sits about 1.5 % of the height above the floor).
        let bottom = match (l.heels[0], l.heels[1]) {
            (None, None) => bottom,
            (a, b) => {
                let heel = a
                    .map_or(f32::MIN, |p| p[1])
                    .max(b.map_or(f32::MIN, |p| p[1]));
                let floor = heel + HEEL_HEIGHT * (heel - top as f32);
                (floor.round().max(top as f32 + 1.0) as usize).min(bottom)
            }
        };
        let pixels = (bottom - top + 1) as f32;
        if pixels < 200.0 {
            return Err(PhotoError::Unreadable(format!(
                "the person in the {which} photo is {pixels:.0} px tall; at least 200 px are needed"
            )));
        }
        Ok(Silhouette {
            view,
            alpha,
            top,
            bottom,
            scale: stated / pixels,
            shoulders,
            hips,
        })
    }

    fn pixels(&self) -> f32 {
        (self.bottom - self.top + 1) as f32
    }

    /// Height above the floor of a row's centre, metres.
    fn height_of(&self, row: usize) -> f32 {
        (self.bottom as f32 + 0.5 - row as f32) * self.scale
    }

    /// The row at `metres` above the floor.
    fn row_at(&self, metres: f32) -> usize {
        let r = self.bottom as f32 + 0.5 - metres / self.scale;
        (r.round().max(self.top as f32) as usize).min(self.bottom)
    }

    /// The body's axis at `row`: from the hips' midpoint to the shoulders'.
    fn axis(&self, row: usize) -> f32 {
        let (s, h) = (self.shoulders, self.hips);
        let y = row as f32;
        if (h[1] - s[1]).abs() < 1.0 {
            return (s[0] + h[0]) / 2.0;
        }
        let t = ((y - s[1]) / (h[1] - s[1])).clamp(0.0, 1.0);
        s[0] + t * (h[0] - s[0])
    }

    /// The width in pixels of the run of `row` that holds (or is nearest to)
    /// `x`, soft edges counted by their alpha.
    fn run_width(&self, row: usize, x: f32) -> Option<f32> {
        let w = self.view.width as usize;
        let line = &self.alpha[row * w..(row + 1) * w];
        let mut best: Option<(f32, usize, usize)> = None;
        let mut i = 0;
        while i < w {
            if line[i] >= INSIDE {
                let start = i;
                while i < w && line[i] >= INSIDE {
                    i += 1;
                }
                let end = i - 1;
                let d = if (start as f32) <= x && x <= end as f32 + 1.0 {
                    0.0
                } else {
                    (start as f32 - x).abs().min((end as f32 + 1.0 - x).abs())
                };
                if best.is_none_or(|b| d < b.0) {
                    best = Some((d, start, end));
                }
            } else {
                i += 1;
            }
        }
        let (_, start, end) = best?;
        let soft = |k: Option<usize>| {
            k.and_then(|k| line.get(k))
                .map_or(0.0, |&a| f32::from(a) / 255.0)
        };
        Some((end - start + 1) as f32 + soft(start.checked_sub(1)) + soft(Some(end + 1)))
    }

    /// The run width averaged over three rows around the one at `metres`.
    fn width_at(&self, metres: f32) -> Option<f32> {
        let row = self.row_at(metres);
        let rows = row.saturating_sub(1).max(self.top)..=(row + 1).min(self.bottom);
        let widths: Vec<f32> = rows
            .filter_map(|r| self.run_width(r, self.axis(r)))
            .collect();
        (!widths.is_empty()).then(|| widths.iter().sum::<f32>() / widths.len() as f32 * self.scale)
    }

    /// How soft the mask's edges are along the torso, 0 (crisp) to 1.
    fn softness(&self) -> f32 {
        let w = self.view.width as usize;
        let (from, to) = (
            self.shoulders[1].max(0.0) as usize,
            self.hips[1].max(0.0) as usize,
        );
        let (mut soft, mut edge) = (0usize, 0usize);
        for row in from.max(self.top)..=to.min(self.bottom) {
            let line = &self.alpha[row * w..(row + 1) * w];
            for a in line {
                if (16..240).contains(a) {
                    soft += 1;
                }
            }
            edge += 4;
        }
        if edge == 0 {
            return 1.0;
        }
        (soft as f32 / edge as f32 / 4.0).min(1.0)
    }

    /// The crotch: going up the axis from the ankles, the first row inside
    /// the mask (legs apart below it); metres above the floor.
    fn crotch(&self) -> Option<f32> {
        let l = self.view.landmarks;
        let ankles = mid(l.ankles[0], l.ankles[1])?;
        let w = self.view.width as usize;
        let from = (ankles[1].max(0.0) as usize).min(self.bottom);
        let to = (self.hips[1].max(0.0) as usize).max(self.top);
        (to..=from).rev().find_map(|row| {
            let x = self.axis(row).round().clamp(0.0, (w - 1) as f32) as usize;
            (self.alpha[row * w + x] >= INSIDE).then(|| self.height_of(row))
        })
    }
}

/// A silhouette's width and depth at one height, where it has them.
pub type WidthDepth = (Option<f32>, Option<f32>);

/// The silhouettes' widths (front) and depths (side) at `heights` metres
/// above the floor, as the measurements see them: for comparing with a
/// mesh's own sections (benchmarks, calibration).
pub fn widths_at(
    front: View,
    side: Option<View>,
    stated: f32,
    heights: &[f32],
) -> Result<Vec<WidthDepth>, PhotoError> {
    let f = Silhouette::new(front, stated, "front")?;
    let s = side
        .map(|v| Silhouette::new(v, stated, "side"))
        .transpose()?;
    Ok(heights
        .iter()
        .map(|&h| (f.width_at(h), s.as_ref().and_then(|s| s.width_at(h))))
        .collect())
}

/// `alpha` with what a morphological opening of its inside (a square of
/// side 2·`r` + 1) removes set to 0: specks and threads thinner than the
/// square go, the body and its soft edge (the pixels beside what stays)
/// remain.
fn clean(alpha: &[u8], w: usize, h: usize, r: usize) -> Vec<u8> {
    let inside: Vec<bool> = alpha.iter().map(|&a| a >= INSIDE).collect();
    let eroded = square(&inside, w, h, r, true);
    let opened = square(&eroded, w, h, r, false);
    let near = square(&opened, w, h, 1, false);
    alpha
        .iter()
        .zip(near)
        .map(|(&a, keep)| if keep { a } else { 0 })
        .collect()
}

/// Whether all (`all`) or any of the pixels within `r` (a square) are set:
/// a row pass then a column pass, each a running count.
fn square(src: &[bool], w: usize, h: usize, r: usize, all: bool) -> Vec<bool> {
    let line = |get: &dyn Fn(usize) -> bool, n: usize, put: &mut dyn FnMut(usize, bool)| {
        let mut count = 0usize;
        let window = |i: usize| (i.saturating_sub(r), (i + r).min(n - 1));
        for k in 0..=r.min(n - 1) {
            count += usize::from(get(k));
        }
        for i in 0..n {
            let (lo, hi) = window(i);
            if i > 0 {
                if hi > window(i - 1).1 {
                    count += usize::from(get(hi));
                }
                if lo > window(i - 1).0 {
                    count -= usize::from(get(lo - 1));
                }
            }
            put(i, if all { count == hi - lo + 1 } else { count > 0 });
        }
    };
    let mut rows = vec![false; src.len()];
    for y in 0..h {
        line(&|x| src[y * w + x], w, &mut |x, v| rows[y * w + x] = v);
    }
    let mut out = vec![false; src.len()];
    for x in 0..w {
        line(&|y| rows[y * w + x], h, &mut |y, v| out[y * w + x] = v);
    }
    out
}

#[cfg(test)]
mod clean_tests {
    use super::*;

    #[test]
    fn specks_go_and_the_body_with_its_soft_edge_stays() {
        let (w, h) = (40, 40);
        let mut alpha = vec![0u8; w * h];
        for y in 10..30 {
            for x in 10..30 {
                alpha[y * w + x] = 255;
            }
            alpha[y * w + 30] = 100; // the soft edge
        }
        alpha[5 * w + 5] = 255; // a speck
        alpha[5 * w + 6] = 200;
        let cleaned = clean(&alpha, w, h, 2);
        assert_eq!(cleaned[5 * w + 5], 0);
        assert_eq!(cleaned[5 * w + 6], 0);
        assert_eq!(cleaned[20 * w + 20], 255);
        assert_eq!(cleaned[10 * w + 10], 255, "corners survive an opening");
        assert_eq!(cleaned[20 * w + 30], 100, "the soft edge stays");
    }
}

/// A girth at one height and its 1-σ uncertainty.
fn girth(
    model: &SectionModel,
    width: f32,
    depth: Option<f32>,
    sigma_width: f32,
    sigma_scale: f32,
) -> (f32, f32) {
    match depth {
        Some(d) => {
            let g = model.girth(width, d);
            let var = model.residual_sd.powi(2)
                + (model.a * sigma_width).powi(2)
                + (model.b * sigma_width).powi(2)
                + (g * sigma_scale).powi(2);
            (g, var.sqrt())
        }
        None => {
            let g = model.girth_from_width(width);
            let var = model.front.2.powi(2)
                + (model.front.0 * sigma_width).powi(2)
                + (g * sigma_scale).powi(2);
            (g, var.sqrt())
        }
    }
}

/// Measure the person in `front` (and `side`) whose stated height is
/// `stated` metres.
pub fn measure_photos(
    front: View,
    side: Option<View>,
    stated: f32,
    cal: &Calibration,
) -> Result<PhotoMeasurements, PhotoError> {
    let both = measure_views(front, side, stated, cal)?;
    if side.is_none() {
        return Ok(both);
    }
    // Each girth also from the front photo alone: where the two disagree by
    // more than sound photos do ([`SIDE_AGREES`]) or than their intervals
    // allow, the side photo's depth is the suspect (an arm, the chin or the
    // backdrop in its silhouette: measured on cluttered backdrops) and the
    // front-only reading stands.
    let alone = measure_views(front, None, stated, cal)?;
    let pick = |a: Estimate, b: Estimate, agree: f32| {
        let allowed = (a.uncertainty.powi(2) + b.uncertainty.powi(2))
            .sqrt()
            .min(SIDE_BAND * agree);
        if (a.value - b.value).abs() > allowed {
            b
        } else {
            a
        }
    };
    Ok(PhotoMeasurements {
        neck: pick(both.neck, alone.neck, SIDE_AGREES[0]),
        chest: pick(both.chest, alone.chest, SIDE_AGREES[1]),
        waist: pick(both.waist, alone.waist, SIDE_AGREES[2]),
        hips: pick(both.hips, alone.hips, SIDE_AGREES[3]),
        ..both
    })
}

fn measure_views(
    front: View,
    side: Option<View>,
    stated: f32,
    cal: &Calibration,
) -> Result<PhotoMeasurements, PhotoError> {
    let f = Silhouette::new(front, stated, "front")?;
    let s = side
        .map(|v| Silhouette::new(v, stated, "side"))
        .transpose()?;
    let fl = front.landmarks;

    // Which way each photo faces: the shoulders' spread against the height.
    let spread = |sil: &Silhouette, l: &Landmarks| match (l.shoulders[0], l.shoulders[1]) {
        (Some(a), Some(b)) => Some((a[0] - b[0]).abs() / sil.pixels()),
        _ => None,
    };
    let front_spread = spread(&f, fl);
    if front_spread.is_some_and(|x| x < 0.07) {
        return Err(PhotoError::PoseMismatch(format!(
            "the front photo shows the body from the side (shoulders {:.0} % of the height apart): face the camera",
            100.0 * front_spread.unwrap_or(0.0)
        )));
    }

    let shoulder_h = f.height_of(f.shoulders[1].round().max(0.0) as usize);
    let hip_h = f.height_of(f.hips[1].round().max(0.0) as usize);
    if shoulder_h <= hip_h + 0.05 * stated {
        return Err(PhotoError::Unreadable(
            "the front photo's shoulders are not above its hips: stand upright".into(),
        ));
    }
    let torso = |t: f32| hip_h + t * (shoulder_h - hip_h);

    if let Some(s) = &s {
        let sl = side.map(|v| v.landmarks).unwrap_or(fl);
        // A side photo's silhouette at the waist is much narrower than the
        // front's; a second front photo is as wide.
        let at = torso(0.35);
        if let (Some(fw), Some(sw)) = (f.width_at(at), s.width_at(at)) {
            let side_spread = spread(s, sl).unwrap_or(0.0);
            if sw > 0.85 * fw && side_spread > 0.1 {
                return Err(PhotoError::PoseMismatch(format!(
                    "the side photo shows the body from the front (waist {:.0} cm wide there, {:.0} cm in the front photo): turn 90° for it",
                    100.0 * sw,
                    100.0 * fw
                )));
            }
        }
        // Best effort against two different people: both views must agree
        // where the shoulders and hips are, as shares of the height.
        let side_sh = s.height_of(s.shoulders[1].round().max(0.0) as usize) / stated;
        let side_hip = s.height_of(s.hips[1].round().max(0.0) as usize) / stated;
        let (front_sh, front_hip) = (shoulder_h / stated, hip_h / stated);
        if (side_sh - front_sh).abs() > 0.05 || (side_hip - front_hip).abs() > 0.06 {
            return Err(PhotoError::Disagree(format!(
                "the front and side photos disagree about the body's proportions (shoulders at {:.0} % and {:.0} % of the height, hips at {:.0} % and {:.0} %): are they of the same person?",
                100.0 * front_sh,
                100.0 * side_sh,
                100.0 * front_hip,
                100.0 * side_hip
            )));
        }
    }

    let softness = f.softness().max(s.as_ref().map_or(0.0, |s| s.softness()));
    // One edge is placed within this many pixels (1 σ).
    let edge_px = 0.7 + 2.0 * softness;
    let sigma_width = std::f32::consts::SQRT_2 * edge_px * f.scale;
    let sigma_depth = s
        .as_ref()
        .map(|s| std::f32::consts::SQRT_2 * edge_px * s.scale);
    // Head top and soles each within 2 px, and 1 % for the camera's
    // perspective: the scale's relative 1 σ.
    let sigma_scale =
        ((2.0 * std::f32::consts::SQRT_2 / f.pixels()).powi(2) + 0.01f32.powi(2)).sqrt();
    let sigma_w = sigma_depth.map_or(sigma_width, |d| sigma_width.max(d));

    // The girth at a height; None where the silhouettes have no run.
    // A section's depth ÷ width stays within what the calibration bodies
    // span (widened by a tenth): an arm beside the chest in the front photo,
    // or a forearm or the chin in front of the body in the side photo, is
    // cut back to it, and the girth is less certain for it.
    let section_capped = |model: &SectionModel, h: f32, cap: f32| -> Option<(f32, f32, f32)> {
        let w = f.width_at(h)?.min(cap);
        let d = match &s {
            Some(s) => Some(s.width_at(h)?),
            None => None,
        };
        let (lo, hi) = (0.9 * model.ratio.0, 1.1 * model.ratio.1);
        let (w, d, clamped) = match d {
            Some(d) if lo > 0.0 && d > hi * w => (w, Some(hi * w), true),
            Some(d) if lo > 0.0 && d < lo * w => (d / lo, Some(d), true),
            other => (w, other, false),
        };
        let (g, sd) = girth(model, w, d, sigma_w, sigma_scale);
        let sd = if clamped {
            (sd.powi(2) + (0.03 * g).powi(2)).sqrt()
        } else {
            sd
        };
        Some((g, sd, w))
    };
    let section = |model: &SectionModel, h: f32| section_capped(model, h, f32::MAX);
    let band = |from: f32, to: f32| {
        let step = f.scale.max(0.003);
        let n = ((to - from) / step).ceil().max(1.0) as usize;
        (0..=n).map(move |k| from + (to - from) * k as f32 / n as f32)
    };
    let crotch = f.crotch().filter(|&c| c < hip_h).ok_or_else(|| {
        PhotoError::Unreadable(
            "the legs cannot be told apart in the front photo: stand with the feet a little apart"
                .into(),
        )
    })?;

    let widest = |a: Option<(f32, f32, f32)>, b: Option<(f32, f32, f32)>| match (a, b) {
        (Some(a), Some(b)) => Some(if b.0 > a.0 { b } else { a }),
        (a, b) => a.or(b),
    };
    let hips = band(crotch + 0.01, torso(0.1))
        .map(|h| section(&cal.hips, h))
        .fold(None, widest)
        .ok_or_else(|| PhotoError::Unreadable("no hip section in the photos".into()))?;
    let waist = band(torso(0.15), torso(0.6))
        .filter_map(|h| section(&cal.waist, h))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .ok_or_else(|| PhotoError::Unreadable("no waist section in the photos".into()))?;
    // Up the chest until the arms join the front silhouette (a jump of more
    // than 10 % in width from one step to the next).
    let mut chest: Option<(f32, f32, f32)> = None;
    let mut last: Option<f32> = None;
    // The shoulder keypoints' spread bounds a chest the arms have not
    // joined (a busy backdrop can bridge the gap under the arms).
    let shoulders_apart = match (fl.shoulders[0], fl.shoulders[1]) {
        (Some(a), Some(b)) => dist(a, b) * f.scale,
        _ => f32::MAX,
    };
    for h in band(torso(0.45), torso(0.95)) {
        let Some(sec) = section(&cal.chest, h) else {
            continue;
        };
        if last.is_some_and(|l| sec.2 > 1.1 * l) || sec.2 > 1.25 * shoulders_apart {
            break;
        }
        last = Some(sec.2);
        chest = widest(chest, Some(sec));
    }
    // Arms folded across the chest from its first row: the chest at 60 %
    // up the torso, no wider than the shoulder keypoints, and less certain.
    let chest = match chest {
        Some(c) => c,
        None => section_capped(&cal.chest, torso(0.6), shoulders_apart)
            .map(|(g, sd, w)| (g, (sd.powi(2) + (0.05 * g).powi(2)).sqrt(), w))
            .ok_or_else(|| PhotoError::Unreadable("no chest section in the photos".into()))?,
    };
    // The neck at its narrowest between the shoulders and halfway to the
    // nose, as on the mesh.
    let head = fl.nose.map_or(stated * 0.93, |n| {
        f.height_of(n[1].round().max(0.0) as usize)
    });
    // The height comes from the front silhouette alone: from the side, the
    // chin reaches over the upper neck.
    let neck = band(shoulder_h, shoulder_h + 0.5 * (head - shoulder_h).max(0.0))
        .filter_map(|h| f.width_at(h).map(|w| (h, w)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .and_then(|(h, _)| section(&cal.neck, h))
        .ok_or_else(|| PhotoError::Unreadable("no neck section in the photos".into()))?;

    // Lengths from keypoints: 3 px per keypoint (1 σ), and how far the
    // pose model's joints sit from the body model's (a fixed allowance).
    let keypoint_px = 3.0 * f.scale;
    let length = |value: f32, joints: f32, (bias, spread): (f32, f32)| {
        let sd = ((joints.sqrt() * keypoint_px).powi(2)
            + (value * sigma_scale).powi(2)
            + spread.powi(2))
        .sqrt();
        Estimate {
            value: value - bias,
            uncertainty: Z90 * sd,
        }
    };
    let shoulder_width = match (fl.shoulders[0], fl.shoulders[1]) {
        (Some(a), Some(b)) => length(dist(a, b) * f.scale, 2.0, PHOTO.shoulder_width),
        _ => {
            return Err(PhotoError::Unreadable(
                "the front photo shows only one shoulder".into(),
            ));
        }
    };
    let arms: Vec<f32> = (0..2)
        .filter_map(|k| {
            let (sh, el, wr) = (fl.shoulders[k]?, fl.elbows[k]?, fl.wrists[k]?);
            Some((dist(sh, el) + dist(el, wr)) * f.scale)
        })
        .collect();
    if arms.is_empty() {
        return Err(PhotoError::Unreadable(
            "neither arm is whole in the front photo".into(),
        ));
    }
    let arm_length = length(
        arms.iter().sum::<f32>() / arms.len() as f32,
        3.0,
        PHOTO.arm_length,
    );
    // The inseam from where the hips sit between the floor and the nose
    // (the silhouette's crotch is too low wherever the thighs touch): a
    // line fitted on photos of 12 generated bodies (INSEAM_FIT, residual
    // 1.0 % of the height).
    let nose_row = fl.nose.map_or(f.top as f32, |n| n[1]);
    let floor_row = f.bottom as f32 + 0.5;
    let hip_share = (floor_row - f.hips[1]) / (floor_row - nose_row).max(1.0);
    let inseam = Estimate {
        value: stated * (INSEAM_FIT.0 + INSEAM_FIT.1 * hip_share) - PHOTO.inseam.0,
        uncertainty: Z90
            * ((INSEAM_FIT.2 * stated).powi(2)
                + (crotch * sigma_scale).powi(2)
                + PHOTO.inseam.1.powi(2))
            .sqrt(),
    };

    let corrections = if s.is_some() {
        PHOTO.with_side
    } else {
        PHOTO.front_only
    };
    let estimate = |(g, sd, _): (f32, f32, f32), (bias, spread): (f32, f32)| Estimate {
        value: g - bias,
        uncertainty: Z90 * (sd.powi(2) + spread.powi(2)).sqrt(),
    };
    let girths = [
        estimate(neck, corrections[0]),
        estimate(chest, corrections[1]),
        estimate(waist, corrections[2]),
        estimate(hips, corrections[3]),
    ];
    let relative = girths
        .iter()
        .map(|e| e.uncertainty / e.value.max(1e-3))
        .sum::<f32>()
        / 4.0;
    Ok(PhotoMeasurements {
        height: Estimate {
            value: stated,
            uncertainty: 0.0,
        },
        neck: girths[0],
        chest: girths[1],
        waist: girths[2],
        hips: girths[3],
        shoulder_width,
        arm_length,
        inseam,
        side_used: s.is_some(),
        mask_softness: softness,
        confidence: (1.0 - 4.0 * relative).clamp(0.0, 1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: usize = 600;
    const H: usize = 900;

    /// A drawn person: head, neck, a torso with chest, waist and hips,
    /// arms apart from it, legs apart below the crotch (row 480). `scale_x`
    /// narrows the body (a side view), `top` moves it down.
    fn figure(scale_x: f32, top: usize) -> Vec<u8> {
        let mut a = vec![0u8; W * H];
        let mut fill = |y0: usize, y1: usize, x0: f32, x1: f32| {
            for y in (y0 + top - 50)..=(y1 + top - 50).min(H - 1) {
                for x in x0.round() as usize..=x1.round() as usize {
                    a[y * W + x] = 255;
                }
            }
        };
        let c = 300.0;
        let half = |w: f32| (c - w * scale_x / 2.0, c + w * scale_x / 2.0);
        let (x0, x1) = half(90.0);
        fill(50, 150, x0, x1);
        let (x0, x1) = half(60.0);
        fill(150, 175, x0, x1);
        for (y0, y1, w) in [
            (175, 200, 230.0),
            (200, 300, 200.0),
            (300, 320, 185.0),
            (320, 380, 170.0),
            (380, 420, 195.0),
            (420, 480, 220.0),
        ] {
            let (x0, x1) = half(w);
            fill(y0, y1, x0, x1);
        }
        if scale_x > 0.9 {
            fill(185, 500, 150.0, 180.0);
            fill(185, 500, 420.0, 450.0);
            fill(480, 849, 210.0, 290.0);
            fill(480, 849, 310.0, 390.0);
        } else {
            let (x0, x1) = half(160.0);
            fill(480, 849, x0, x1);
        }
        a
    }

    fn points(spread: f32, top: usize) -> Landmarks {
        let dy = top as f32 - 50.0;
        let p = |x: f32, y: f32| Some([300.0 + (x - 300.0) * spread, y + dy]);
        Landmarks {
            nose: p(300.0, 110.0),
            shoulders: [p(390.0, 190.0), p(210.0, 190.0)],
            elbows: [p(435.0, 340.0), p(165.0, 340.0)],
            wrists: [p(435.0, 490.0), p(165.0, 490.0)],
            hips: [p(350.0, 450.0), p(250.0, 450.0)],
            knees: [p(350.0, 650.0), p(250.0, 650.0)],
            ankles: [p(350.0, 830.0), p(250.0, 830.0)],
            heels: [None, None],
        }
    }

    /// A section model whose guess from the width alone agrees with the
    /// drawn side view (0.6 times as deep as wide), so the side reading
    /// stands.
    fn calibration() -> Calibration {
        let m = SectionModel {
            a: 1.7,
            b: 1.4,
            residual_sd: 0.01,
            front: (1.7 + 1.4 * 0.6, 0.0, 0.03),
            ratio: (0.0, 0.0),
        };
        Calibration {
            neck: m,
            chest: m,
            waist: m,
            hips: m,
        }
    }

    fn view<'a>(alpha: &'a [u8], l: &'a Landmarks) -> View<'a> {
        View {
            width: W as u32,
            height: H as u32,
            alpha,
            landmarks: l,
        }
    }

    #[test]
    fn girths_follow_the_silhouettes_and_scale_with_the_stated_height() {
        let (fa, fl) = (figure(1.0, 50), points(1.0, 50));
        let (sa, sl) = (figure(0.6, 50), points(0.05, 50));
        let cal = calibration();
        let m = measure_photos(view(&fa, &fl), Some(view(&sa, &sl)), 1.6, &cal).unwrap();
        // 800 px tall at 1.6 m: 2 mm per pixel. The waist run is 171 px
        // wide (170 + the drawn edge) in front and 103 px deep from the side.
        let px = 1.6 / 800.0;
        let waist = cal.waist.girth(171.0 * px, 103.0 * px) - PHOTO.with_side[2].0;
        assert!((m.waist.value - waist).abs() < 0.01, "{m:?} vs {waist}");
        assert!(
            m.hips.value > m.waist.value && m.chest.value > m.waist.value,
            "{m:?}"
        );
        assert!(m.neck.value < m.waist.value);
        assert!((m.inseam.value - 370.0 * px).abs() < 0.01, "{m:?}");
        assert!((m.shoulder_width.value - (180.0 * px - PHOTO.shoulder_width.0)).abs() < 1e-3);
        assert!(m.side_used && m.mask_softness == 0.0);
        let taller = measure_photos(view(&fa, &fl), Some(view(&sa, &sl)), 1.76, &cal).unwrap();
        // Scaled with the height (the photo corrections are fixed lengths).
        for (a, b, bias) in [
            (m.waist, taller.waist, PHOTO.with_side[2].0),
            (m.hips, taller.hips, PHOTO.with_side[3].0),
            (m.inseam, taller.inseam, PHOTO.inseam.0),
        ] {
            let ratio = (b.value + bias) / (a.value + bias);
            assert!((ratio - 1.1).abs() < 0.01, "{a:?} {b:?}");
        }
        // Without the side photo the depths are guessed: wider intervals.
        let front = measure_photos(view(&fa, &fl), None, 1.6, &cal).unwrap();
        assert!(!front.side_used);
        assert!(front.waist.uncertainty > m.waist.uncertainty);
        assert!(front.confidence < m.confidence);
    }

    /// Backdrop taken into the side view's mask in front of the chest (a
    /// 60-px shelf, rows 200–300): the chest from the side photo strays
    /// from the front photo's far past what sound photos do, so the front
    /// photo's reading stands; the waist keeps the side photo's depth.
    #[test]
    fn a_side_reading_the_backdrop_widened_gives_way_to_the_front_photo() {
        let (fa, fl) = (figure(1.0, 50), points(1.0, 50));
        let (mut sa, sl) = (figure(0.6, 50), points(0.05, 50));
        for y in 200..=300 {
            sa[y * W + 360..=y * W + 420].fill(255);
        }
        let cal = calibration();
        let m = measure_photos(view(&fa, &fl), Some(view(&sa, &sl)), 1.6, &cal).unwrap();
        let alone = measure_photos(view(&fa, &fl), None, 1.6, &cal).unwrap();
        let both = measure_views(view(&fa, &fl), Some(view(&sa, &sl)), 1.6, &cal).unwrap();
        assert!(both.chest.value > alone.chest.value + 0.05, "{both:?}");
        assert_eq!(m.chest, alone.chest);
        assert_eq!(m.waist, both.waist);
        assert_ne!(m.waist, alone.waist);
    }

    #[test]
    fn cropped_turned_and_mismatched_photos_are_refused_with_reasons() {
        let cal = calibration();
        let (sa, sl) = (figure(0.6, 50), points(0.05, 50));
        // The head at the top edge.
        let (fa, fl) = (figure(1.0, 1), points(1.0, 1));
        let err = measure_photos(view(&fa, &fl), None, 1.7, &cal).unwrap_err();
        assert!(
            matches!(err, PhotoError::Cropped(ref m) if m.contains("head")),
            "{err}"
        );
        // The feet past the bottom edge.
        let (fa, fl) = (figure(1.0, 120), points(1.0, 120));
        let err = measure_photos(view(&fa, &fl), None, 1.7, &cal).unwrap_err();
        assert!(
            matches!(err, PhotoError::Cropped(ref m) if m.contains("feet")),
            "{err}"
        );
        // A front photo given as the side one.
        let (fa, fl) = (figure(1.0, 50), points(1.0, 50));
        let err = measure_photos(view(&fa, &fl), Some(view(&fa, &fl)), 1.7, &cal).unwrap_err();
        assert!(
            matches!(err, PhotoError::PoseMismatch(ref m) if m.contains("side photo")),
            "{err}"
        );
        // A side photo given as the front one.
        let err = measure_photos(view(&sa, &sl), None, 1.7, &cal).unwrap_err();
        assert!(
            matches!(err, PhotoError::PoseMismatch(ref m) if m.contains("front photo")),
            "{err}"
        );
        // Views whose proportions disagree.
        let mut other = points(0.05, 50);
        for p in other.hips.iter_mut().flatten() {
            p[1] -= 80.0;
        }
        let err = measure_photos(view(&fa, &fl), Some(view(&sa, &other)), 1.7, &cal).unwrap_err();
        assert!(matches!(err, PhotoError::Disagree(_)), "{err}");
        // An empty mask.
        let empty = vec![0u8; W * H];
        let err = measure_photos(view(&empty, &fl), None, 1.7, &cal).unwrap_err();
        assert!(matches!(err, PhotoError::Unreadable(_)), "{err}");
    }
}
