//! Girths from a width and a depth, calibrated on the body model: photos
//! see a section's width (front) and depth (side), never its girth. An
//! ellipse of those axes (Ramanujan's perimeter) is the shape prior; one
//! scale per section, fitted by least squares over bodies generated across
//! the model's range, corrects it (a chest is not an ellipse), and the fit's
//! residuals are the girth's uncertainty.
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

/// One section's calibration: girth ≈ `scale` × ellipse(width, depth).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SectionModel {
    pub scale: f32,
    /// Standard deviation of the girth's residual over the calibration
    /// bodies, metres.
    pub residual_sd: f32,
}

impl SectionModel {
    pub fn girth(&self, width: f32, depth: f32) -> f32 {
        self.scale * ellipse_perimeter(width, depth)
    }

    /// The least-squares scale over `sections` and its residual spread.
    pub fn fit(sections: &[Section]) -> SectionModel {
        let (mut gp, mut pp) = (0f64, 0f64);
        for s in sections {
            let p = f64::from(ellipse_perimeter(s.width, s.depth));
            gp += f64::from(s.girth) * p;
            pp += p * p;
        }
        let scale = if pp > 0.0 { (gp / pp) as f32 } else { 1.0 };
        let n = sections.len().max(2) as f32;
        let ss: f32 = sections
            .iter()
            .map(|s| (s.girth - scale * ellipse_perimeter(s.width, s.depth)).powi(2))
            .sum();
        SectionModel {
            scale,
            residual_sd: (ss / (n - 1.0)).sqrt(),
        }
    }
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
/// slight to muscular, short to tall, young to old.
pub fn spread() -> Vec<Macros> {
    let mut out = Vec::new();
    for gender in [0.0, 1.0] {
        for weight in [0.0, 0.5, 1.0] {
            for muscle in [0.0, 1.0] {
                for (height, age) in [(0.2, 0.5), (0.8, 0.8)] {
                    out.push(Macros {
                        gender,
                        weight,
                        muscle,
                        height,
                        age,
                        ..Macros::default()
                    });
                }
            }
        }
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
    fn the_scale_is_the_least_squares_one() {
        let s = |w: f32, d: f32, k: f32| Section {
            y: 0.0,
            width: w,
            depth: d,
            girth: k * ellipse_perimeter(w, d),
        };
        let exact = SectionModel::fit(&[s(0.3, 0.2, 1.05), s(0.35, 0.25, 1.05)]);
        assert!((exact.scale - 1.05).abs() < 1e-5 && exact.residual_sd < 1e-5);
        let noisy = SectionModel::fit(&[s(0.3, 0.2, 1.0), s(0.3, 0.2, 1.1)]);
        assert!((noisy.scale - 1.05).abs() < 1e-4);
        assert!(noisy.residual_sd > 0.01);
    }
}
