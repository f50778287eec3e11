//! Fitting the body to measurements: bounded least squares over the macro
//! variables and the measurement targets, measured on the mesh exactly as
//! `measure_body` measures (so a photo's measurements and the fitted body's
//! agree by construction). Levenberg–Marquardt with a forward-difference
//! Jacobian, each step clamped to the variables' bounds.
use crate::measure::{Measurements, measure_body};
use crate::{BodyError, BodyModel, Macros};

/// What to fit: any measurement left `None` is free.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Goal {
    pub height: Option<f32>,
    pub neck: Option<f32>,
    pub chest: Option<f32>,
    pub waist: Option<f32>,
    pub hips: Option<f32>,
    pub shoulder_width: Option<f32>,
    pub inseam: Option<f32>,
}

impl Goal {
    fn pairs(&self, m: &Measurements) -> Vec<(f32, f32)> {
        [
            (self.height, m.height),
            (self.neck, m.neck),
            (self.chest, m.chest),
            (self.waist, m.waist),
            (self.hips, m.hips),
            (self.shoulder_width, m.shoulder_width),
            (self.inseam, m.inseam),
        ]
        .into_iter()
        .filter_map(|(goal, got)| goal.map(|g| (g, got)))
        .collect()
    }
}

/// The variables: macro variables in 0..1, then measurement targets in
/// −1..1 (negative: the `decr` target, positive: `incr`).
const MACROS: [&str; 4] = ["height", "weight", "muscle", "proportions"];
const TARGETS: [&str; 6] = [
    "torso/measure-bust-circ",
    "torso/measure-waist-circ",
    "torso/measure-hips-circ",
    "neck/measure-neck-circ",
    "torso/measure-shoulder-dist",
    "legs/measure-upperleg-height",
];

/// A fitted body.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub macros: Macros,
    /// Measurement targets and their weights (path under `targets/`).
    pub targets: Vec<(String, f32)>,
    pub measured: Measurements,
    /// Root-mean-square difference from the goal, metres.
    pub rms: f32,
    pub iterations: usize,
}

fn unpack(gender: f32, x: &[f32]) -> (Macros, Vec<(String, f32)>) {
    let macros = Macros {
        gender,
        height: x[0],
        weight: x[1],
        muscle: x[2],
        proportions: x[3],
        ..Macros::default()
    };
    let targets = TARGETS
        .iter()
        .zip(&x[MACROS.len()..])
        .filter(|(_, w)| w.abs() > 1e-4)
        .map(|(t, &w)| {
            let side = if w > 0.0 { "incr" } else { "decr" };
            (format!("{t}-{side}.target.gz"), w.abs())
        })
        .collect();
    (macros, targets)
}

fn bounds(i: usize) -> (f32, f32) {
    if i < MACROS.len() {
        (0.0, 1.0)
    } else {
        (-1.0, 1.0)
    }
}

/// Fit `goal` for a body of `gender` (0 female … 1 male).
pub fn fit(model: &BodyModel, gender: f32, goal: &Goal) -> Result<Fit, BodyError> {
    fit_within(model, gender, goal, 1e-4)
}

/// [`fit`], stopping once the root-mean-square difference from the goal is
/// under `tolerance` metres or a step improves it by less than 1 %: a
/// photo's measurements are known to a centimetre or so, and each
/// iteration costs 11 shapes and measurements.
pub fn fit_within(
    model: &BodyModel,
    gender: f32,
    goal: &Goal,
    tolerance: f32,
) -> Result<Fit, BodyError> {
    let n = MACROS.len() + TARGETS.len();
    let evaluate = |x: &[f32]| -> Result<(Measurements, Vec<f32>), BodyError> {
        let (macros, targets) = unpack(gender, x);
        let m = measure_body(&model.base, &model.shape_macros(&macros, &targets)?)?;
        let r = goal.pairs(&m).iter().map(|(g, got)| got - g).collect();
        Ok((m, r))
    };
    let cost = |r: &[f32]| r.iter().map(|v| v * v).sum::<f32>();
    let mut x = vec![0.5f32; MACROS.len()];
    x.extend(std::iter::repeat_n(0.0, TARGETS.len()));
    let (mut measured, mut r) = evaluate(&x)?;
    let mut lambda = 1e-3f32;
    let mut iterations = 0;
    for _ in 0..20 {
        iterations += 1;
        if (cost(&r) / r.len().max(1) as f32).sqrt() < tolerance {
            break;
        }
        // Forward differences, stepping inward at a bound.
        let mut jac = vec![vec![0f32; n]; r.len()];
        for j in 0..n {
            let (lo, hi) = bounds(j);
            let h = if x[j] + 0.02 <= hi { 0.02 } else { -0.02 };
            let mut xj = x.clone();
            xj[j] = (x[j] + h).clamp(lo, hi);
            let (_, rj) = evaluate(&xj)?;
            for i in 0..r.len() {
                jac[i][j] = (rj[i] - r[i]) / h;
            }
        }
        let mut improved = false;
        let mut stalled = false;
        for _ in 0..6 {
            let step = solve_damped(&jac, &r, lambda);
            let trial: Vec<f32> = x
                .iter()
                .zip(&step)
                .enumerate()
                .map(|(j, (v, d))| {
                    let (lo, hi) = bounds(j);
                    (v + d).clamp(lo, hi)
                })
                .collect();
            let (m, rt) = evaluate(&trial)?;
            if cost(&rt) < cost(&r) {
                stalled = tolerance > 1e-4 && cost(&rt) > 0.98 * cost(&r);
                (x, measured, r) = (trial, m, rt);
                lambda = (lambda * 0.3).max(1e-6);
                improved = true;
                break;
            }
            lambda *= 10.0;
        }
        if !improved || stalled {
            break;
        }
    }
    let (macros, targets) = unpack(gender, &x);
    Ok(Fit {
        macros,
        targets,
        measured,
        rms: (cost(&r) / r.len().max(1) as f32).sqrt(),
        iterations,
    })
}

/// The Levenberg–Marquardt step: (JᵀJ + λ·diag(JᵀJ) + λ·I) δ = −Jᵀr.
fn solve_damped(jac: &[Vec<f32>], r: &[f32], lambda: f32) -> Vec<f32> {
    let n = jac.first().map_or(0, Vec::len);
    let mut a = vec![vec![0f64; n + 1]; n];
    for (row, &ri) in jac.iter().zip(r) {
        for p in 0..n {
            for q in 0..n {
                a[p][q] += f64::from(row[p]) * f64::from(row[q]);
            }
            a[p][n] -= f64::from(row[p]) * f64::from(ri);
        }
    }
    for (p, row) in a.iter_mut().enumerate() {
        row[p] += f64::from(lambda) * (row[p] + 1.0);
    }
    // Gaussian elimination with partial pivoting.
    for c in 0..n {
        let pivot = (c..n)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap_or(c);
        a.swap(c, pivot);
        if a[c][c].abs() < 1e-12 {
            continue;
        }
        let pivot_row = a[c].clone();
        for (i, row) in a.iter_mut().enumerate() {
            if i != c {
                let f = row[c] / pivot_row[c];
                for (v, p) in row.iter_mut().zip(&pivot_row).skip(c) {
                    *v -= f * p;
                }
            }
        }
    }
    (0..n)
        .map(|i| {
            if a[i][i].abs() < 1e-12 {
                0.0
            } else {
                (a[i][n] / a[i][i]) as f32
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_damped_step_solves_a_linear_problem() {
        // r(x) = J x − b with J = diag(2, 4): from x = 0, r = −b.
        let jac = vec![vec![2.0, 0.0], vec![0.0, 4.0]];
        let r = vec![-2.0, -8.0];
        let step = solve_damped(&jac, &r, 1e-6);
        assert!(
            (step[0] - 1.0).abs() < 1e-3 && (step[1] - 2.0).abs() < 1e-3,
            "{step:?}"
        );
    }

    #[test]
    fn variables_unpack_into_macros_and_signed_targets() {
        let (m, t) = unpack(0.0, &[0.7, 0.3, 0.5, 0.5, 0.4, -0.25, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!((m.gender, m.height, m.weight), (0.0, 0.7, 0.3));
        assert_eq!(
            t,
            vec![
                ("torso/measure-bust-circ-incr.target.gz".to_owned(), 0.4),
                ("torso/measure-waist-circ-decr.target.gz".to_owned(), 0.25)
            ]
        );
    }
}
