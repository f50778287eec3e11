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
//!
//! `silhouette.rs` reads the masks, `sections.rs` the girths, `lengths.rs`
//! the lengths, and `corrections.rs` holds every fitted value and rule with
//! where it came from.
mod corrections;
mod lengths;
mod sections;
mod silhouette;

use serde::{Deserialize, Serialize};

use crate::calibrate::Calibration;
use corrections::{
    FRONT_MIN_SPREAD, HIPS_AGREE, PHOTO, SHOULDERS_AGREE, SIDE_AGREES, SIDE_BAND, SIDE_CHECK_AT,
    SIDE_MAX_SPREAD, SIDE_MAX_WIDTH_SHARE, UPRIGHT_TORSO, Z90,
};
use lengths::Lengths;
use sections::{Section, Sections, Torso};
use silhouette::Silhouette;

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
        crate::measure::with_names([
            self.height,
            self.neck,
            self.chest,
            self.waist,
            self.hips,
            self.shoulder_width,
            self.arm_length,
            self.inseam,
        ])
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

/// The measurements from `front` (and `side`) read together.
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
    let torso = front_torso(&f, stated)?;
    if let Some(s) = &s {
        check_side(&f, s, &torso, stated)?;
    }
    let sections = Sections::new(&f, s.as_ref(), cal, &torso);
    let crotch = f.crotch().filter(|&c| c < torso.hips).ok_or_else(|| {
        PhotoError::Unreadable(
            "the legs cannot be told apart in the front photo: stand with the feet a little apart"
                .into(),
        )
    })?;
    let hips = sections.hips(crotch)?;
    let waist = sections.waist()?;
    let chest = sections.chest()?;
    let neck = sections.neck(stated)?;
    let lengths = Lengths {
        f: &f,
        sigma_scale: sections.sigma_scale,
    };
    let shoulder_width = lengths.shoulder_width()?;
    let arm_length = lengths.arm_length()?;
    let inseam = lengths.inseam(stated, crotch);

    let corrections = if s.is_some() {
        PHOTO.with_side
    } else {
        PHOTO.front_only
    };
    let estimate = |sec: Section, (bias, spread): (f32, f32)| Estimate {
        value: sec.girth - bias,
        uncertainty: Z90 * (sec.sd.powi(2) + spread.powi(2)).sqrt(),
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
        mask_softness: sections.softness,
        confidence: (1.0 - 4.0 * relative).clamp(0.0, 1.0),
    })
}

/// The front photo faces the camera and shows a person upright: its torso.
fn front_torso(f: &Silhouette, stated: f32) -> Result<Torso, PhotoError> {
    let spread = f.shoulder_spread();
    if spread.is_some_and(|x| x < FRONT_MIN_SPREAD) {
        return Err(PhotoError::PoseMismatch(format!(
            "the front photo shows the body from the side (shoulders {:.0} % of the height apart): face the camera",
            100.0 * spread.unwrap_or(0.0)
        )));
    }
    let torso = Torso {
        hips: f.hip_height(),
        shoulders: f.shoulder_height(),
    };
    if torso.shoulders <= torso.hips + UPRIGHT_TORSO * stated {
        return Err(PhotoError::Unreadable(
            "the front photo's shoulders are not above its hips: stand upright".into(),
        ));
    }
    Ok(torso)
}

/// The side photo shows the body from the side (its waist is much
/// narrower than the front's; a second front photo is as wide) and agrees
/// with the front one on where the shoulders and hips are (best effort
/// against photos of two people).
fn check_side(
    f: &Silhouette,
    s: &Silhouette,
    torso: &Torso,
    stated: f32,
) -> Result<(), PhotoError> {
    let at = torso.at(SIDE_CHECK_AT);
    if let (Some(fw), Some(sw)) = (f.width_at(at), s.width_at(at)) {
        let side_spread = s.shoulder_spread().unwrap_or(0.0);
        if sw > SIDE_MAX_WIDTH_SHARE * fw && side_spread > SIDE_MAX_SPREAD {
            return Err(PhotoError::PoseMismatch(format!(
                "the side photo shows the body from the front (waist {:.0} cm wide there, {:.0} cm in the front photo): turn 90° for it",
                100.0 * sw,
                100.0 * fw
            )));
        }
    }
    let (side_sh, side_hip) = (s.shoulder_height() / stated, s.hip_height() / stated);
    let (front_sh, front_hip) = (torso.shoulders / stated, torso.hips / stated);
    if (side_sh - front_sh).abs() > SHOULDERS_AGREE || (side_hip - front_hip).abs() > HIPS_AGREE {
        return Err(PhotoError::Disagree(format!(
            "the front and side photos disagree about the body's proportions (shoulders at {:.0} % and {:.0} % of the height, hips at {:.0} % and {:.0} %): are they of the same person?",
            100.0 * front_sh,
            100.0 * side_sh,
            100.0 * front_hip,
            100.0 * side_hip
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibrate::SectionModel;

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
