//! Girths from a width and a depth, calibrated on the body model: photos
//! see a section's width (front) and depth (side), never its girth. Per
//! section, girth = a·width + b·depth (an ellipse's perimeter is close to
//! π/2·(width + depth); separate weights let a chest or hips be flatter or
//! rounder than an ellipse), fitted by least squares over bodies generated
//! across the model's range; the fit's residuals are the girth's
//! uncertainty. Measured once on 5 bodies outside the calibration set (two
//! of them are checked in `tests/hm08.rs`), mean absolute error: neck 0.55,
//! chest 0.97, waist 1.01, hips 1.18 cm, against 0.48, 0.90, 1.05 and
//! 2.04 cm for one scale on Ramanujan's ellipse (kept as
//! [`ellipse_perimeter`], the prior for a single body).
use crate::measure::{Section, measure_body};
use crate::{BodyError, BodyModel, Macros};

/// Ramanujan's second approximation of an ellipse's perimeter, from its
/// full width and depth.
pub fn ellipse_perimeter(width: f32, depth: f32) -> f32 {
    let (a, b) = (width / 2.0, depth / 2.0);
    if a + b <= 0.0 {
        return 0.0;
    }
    let h = ((a - b) / (a + b)).powi(2);
    std::f32::consts::PI * (a + b) * (1.0 + 3.0 * h / (10.0 + (4.0 - 3.0 * h).sqrt()))
}

/// One section's calibration: girth ≈ `a`·width + `b`·depth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SectionModel {
    pub a: f32,
    pub b: f32,
    /// Standard deviation of the girth's residual over the calibration
    /// bodies, metres.
    pub residual_sd: f32,
    /// With no side photo: girth ≈ `front.0`·width + `front.1`, residual
    /// spread `front.2` (larger: the depth is guessed from the width).
    pub front: (f32, f32, f32),
    /// The depth ÷ width ratios the calibration bodies span: a photo's
    /// depth outside them has an arm or the chin in it.
    pub ratio: (f32, f32),
}

impl SectionModel {
    pub fn girth(&self, width: f32, depth: f32) -> f32 {
        self.a * width + self.b * depth
    }

    /// The girth from the width alone (front photo only).
    pub fn girth_from_width(&self, width: f32) -> f32 {
        self.front.0 * width + self.front.1
    }

    /// The least-squares weights over `sections` and the residual spread.
    pub fn fit(sections: &[Section]) -> SectionModel {
        let (mut ww, mut wd, mut dd, mut gw, mut gd) = (0f64, 0f64, 0f64, 0f64, 0f64);
        for s in sections {
            let (w, d, g) = (f64::from(s.width), f64::from(s.depth), f64::from(s.girth));
            ww += w * w;
            wd += w * d;
            dd += d * d;
            gw += g * w;
            gd += g * d;
        }
        let det = ww * dd - wd * wd;
        let (a, b) = if det.abs() > 1e-12 {
            ((gw * dd - gd * wd) / det, (gd * ww - gw * wd) / det)
        } else {
            // Degenerate (one body, or proportional sections): the ellipse.
            (std::f64::consts::FRAC_PI_2, std::f64::consts::FRAC_PI_2)
        };
        let model = SectionModel {
            a: a as f32,
            b: b as f32,
            residual_sd: 0.0,
            front: width_only(sections),
            ratio: sections
                .iter()
                .filter(|s| s.width > 0.0)
                .map(|s| s.depth / s.width)
                .fold((f32::MAX, f32::MIN), |(lo, hi), r| (lo.min(r), hi.max(r))),
        };
        let n = sections.len().max(3) as f32;
        let ss: f32 = sections
            .iter()
            .map(|s| (s.girth - model.girth(s.width, s.depth)).powi(2))
            .sum();
        SectionModel {
            residual_sd: (ss / (n - 2.0)).sqrt(),
            ..model
        }
    }
}

/// girth ≈ k·width + c by least squares, with the residual spread.
fn width_only(sections: &[Section]) -> (f32, f32, f32) {
    let n = sections.len() as f64;
    if n < 3.0 {
        // Too few bodies to fit a line: a circle through the width.
        return (std::f32::consts::PI, 0.0, 0.0);
    }
    let mw = sections.iter().map(|s| f64::from(s.width)).sum::<f64>() / n;
    let mg = sections.iter().map(|s| f64::from(s.girth)).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0f64, 0f64);
    for s in sections {
        let (dx, dy) = (f64::from(s.width) - mw, f64::from(s.girth) - mg);
        sxy += dx * dy;
        sxx += dx * dx;
    }
    let k = if sxx > 1e-12 {
        sxy / sxx
    } else {
        std::f64::consts::PI
    };
    let c = mg - k * mw;
    let ss: f64 = sections
        .iter()
        .map(|s| (f64::from(s.girth) - (k * f64::from(s.width) + c)).powi(2))
        .sum();
    (k as f32, c as f32, (ss / (n - 2.0)).sqrt() as f32)
}

/// Calibrations of the neck, chest, waist and hip sections.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    pub neck: SectionModel,
    pub chest: SectionModel,
    pub waist: SectionModel,
    pub hips: SectionModel,
}

/// Bodies spread over the model's adult range: both sexes, light to heavy,
/// slight to muscular, short to tall, young to old, narrow to broad
/// proportions: the corners (where a line's ends are set) and 48 bodies
/// inside (a low-discrepancy walk: girth is not linear in width, and a line
/// through the extremes alone overestimates the middle).
pub fn spread() -> Vec<Macros> {
    let mut out = Vec::new();
    for gender in [0.0, 1.0] {
        for weight in [0.0, 1.0] {
            for muscle in [0.0, 1.0] {
                out.push(Macros {
                    gender,
                    weight,
                    muscle,
                    height: 0.5,
                    age: 0.5,
                    ..Macros::default()
                });
            }
        }
    }
    for i in 0..48 {
        let walk = |offset: f32, stride: f32| (offset + i as f32 * stride).fract();
        out.push(Macros {
            gender: if i % 2 == 0 { 0.0 } else { 1.0 },
            weight: walk(0.13, 0.381_966),
            muscle: walk(0.71, 0.569_840),
            height: walk(0.37, 0.127_322),
            age: 0.3 + 0.6 * walk(0.59, 0.723_607),
            proportions: 0.1 + 0.8 * walk(0.05, 0.302_776),
            ..Macros::default()
        });
    }
    out
}

/// Calibrate on `bodies` generated from `model`.
pub fn calibrate(model: &BodyModel, bodies: &[Macros]) -> Result<Calibration, BodyError> {
    let mut sections = Vec::with_capacity(bodies.len());
    for macros in bodies {
        let m = measure_body(&model.base, &model.shape_macros(macros, &[])?)?;
        sections.push(m.sections);
    }

    let of = |pick: fn(&crate::measure::Sections) -> Section| {
        SectionModel::fit(&sections.iter().map(pick).collect::<Vec<_>>())
    };
    Ok(Calibration {
        neck: of(|s| s.neck),
        chest: of(|s| s.chest),
        waist: of(|s| s.waist),
        hips: of(|s| s.hips),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circles_and_flat_ellipses_have_their_perimeters() {
        let circle = ellipse_perimeter(2.0, 2.0);
        assert!((circle - 2.0 * std::f32::consts::PI).abs() < 1e-5);
        // A 2:1 ellipse (a = 2, b = 1): 9.6884.
        assert!((ellipse_perimeter(4.0, 2.0) - 9.6884).abs() < 1e-3);
        assert_eq!(ellipse_perimeter(0.0, 0.0), 0.0);
    }

    #[test]
    fn the_weights_are_the_least_squares_ones() {
        let s = |w: f32, d: f32, g: f32| Section {
            y: 0.0,
            width: w,
            depth: d,
            girth: g,
        };
        // girth = 1.8 w + 1.3 d exactly.
        let exact = SectionModel::fit(&[s(0.3, 0.2, 0.8), s(0.35, 0.3, 1.02), s(0.4, 0.2, 0.98)]);
        assert!(
            (exact.a - 1.8).abs() < 1e-4 && (exact.b - 1.3).abs() < 1e-4,
            "{exact:?}"
        );
        assert!(exact.residual_sd < 1e-5);
        assert!((exact.girth(0.5, 0.5) - 1.55).abs() < 1e-4);
        // One body cannot separate the weights: the ellipse's π/2 each.
        let one = SectionModel::fit(&[s(0.3, 0.2, 0.8)]);
        assert!((one.a - std::f32::consts::FRAC_PI_2).abs() < 1e-6);
    }
}
