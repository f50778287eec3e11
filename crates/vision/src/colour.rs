//! Colour science: sRGB ↔ CIELAB (D65), CIEDE2000 distance, named colours and
//! k-means dominant colours. Plain formulas, no tables beyond the names.
use serde::Serialize;

/// A CIELAB colour (D65 white).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lab {
    pub l: f32,
    pub a: f32,
    pub b: f32,
}

fn to_linear(c: u8) -> f32 {
    let v = f32::from(c) / 255.0;
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

fn to_gamma(v: f32) -> u8 {
    let v = v.clamp(0.0, 1.0);
    let c = if v <= 0.003_130_8 {
        v * 12.92
    } else {
        1.055 * v.powf(1.0 / 2.4) - 0.055
    };
    (c * 255.0).round() as u8
}

const WHITE: [f32; 3] = [0.950_47, 1.0, 1.088_83];

fn f(t: f32) -> f32 {
    if t > 216.0 / 24389.0 {
        t.cbrt()
    } else {
        (24389.0 / 27.0 * t + 16.0) / 116.0
    }
}

fn f_inv(t: f32) -> f32 {
    if t.powi(3) > 216.0 / 24389.0 {
        t.powi(3)
    } else {
        (116.0 * t - 16.0) * 27.0 / 24389.0
    }
}

impl Lab {
    pub fn from_rgb([r, g, b]: [u8; 3]) -> Lab {
        let (r, g, b) = (to_linear(r), to_linear(g), to_linear(b));
        let x = 0.412_456_4 * r + 0.357_576_1 * g + 0.180_437_5 * b;
        let y = 0.212_672_9 * r + 0.715_152_2 * g + 0.072_175 * b;
        let z = 0.019_333_9 * r + 0.119_192 * g + 0.950_304_1 * b;
        let (fx, fy, fz) = (f(x / WHITE[0]), f(y / WHITE[1]), f(z / WHITE[2]));
        Lab {
            l: 116.0 * fy - 16.0,
            a: 500.0 * (fx - fy),
            b: 200.0 * (fy - fz),
        }
    }

    pub fn from_hex(hex: &str) -> Option<Lab> {
        let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).ok()?;
        Some(Lab::from_rgb([(v >> 16) as u8, (v >> 8) as u8, v as u8]))
    }

    pub fn to_rgb(self) -> [u8; 3] {
        let fy = (self.l + 16.0) / 116.0;
        let fx = fy + self.a / 500.0;
        let fz = fy - self.b / 200.0;
        let (x, y, z) = (
            f_inv(fx) * WHITE[0],
            f_inv(fy) * WHITE[1],
            f_inv(fz) * WHITE[2],
        );
        let r = 3.240_454_2 * x - 1.537_138_5 * y - 0.498_531_4 * z;
        let g = -0.969_266 * x + 1.876_010_8 * y + 0.041_556 * z;
        let b = 0.055_643_4 * x - 0.204_025_9 * y + 1.057_225_2 * z;
        [to_gamma(r), to_gamma(g), to_gamma(b)]
    }

    /// `#rrggbb`, lower case.
    pub fn hex(self) -> String {
        let [r, g, b] = self.to_rgb();
        format!("#{r:02x}{g:02x}{b:02x}")
    }

    pub fn chroma(self) -> f32 {
        self.a.hypot(self.b)
    }

    /// Hue angle in degrees, 0..360.
    pub fn hue(self) -> f32 {
        self.b.atan2(self.a).to_degrees().rem_euclid(360.0)
    }
}

/// CIEDE2000 colour difference (kL = kC = kH = 1).
pub fn delta_e2000(x: Lab, y: Lab) -> f32 {
    let (l1, a1, b1) = (f64::from(x.l), f64::from(x.a), f64::from(x.b));
    let (l2, a2, b2) = (f64::from(y.l), f64::from(y.a), f64::from(y.b));
    let c1 = a1.hypot(b1);
    let c2 = a2.hypot(b2);
    let c_bar = (c1 + c2) / 2.0;
    let g = 0.5 * (1.0 - (c_bar.powi(7) / (c_bar.powi(7) + 25f64.powi(7))).sqrt());
    let (a1p, a2p) = ((1.0 + g) * a1, (1.0 + g) * a2);
    let (c1p, c2p) = (a1p.hypot(b1), a2p.hypot(b2));
    let hue = |b: f64, a: f64| {
        if b == 0.0 && a == 0.0 {
            0.0
        } else {
            b.atan2(a).to_degrees().rem_euclid(360.0)
        }
    };
    let (h1p, h2p) = (hue(b1, a1p), hue(b2, a2p));
    let dl = l2 - l1;
    let dc = c2p - c1p;
    let dh = if c1p * c2p == 0.0 {
        0.0
    } else if (h2p - h1p).abs() <= 180.0 {
        h2p - h1p
    } else if h2p - h1p > 180.0 {
        h2p - h1p - 360.0
    } else {
        h2p - h1p + 360.0
    };
    let d_h = 2.0 * (c1p * c2p).sqrt() * (dh / 2.0).to_radians().sin();
    let l_bar = (l1 + l2) / 2.0;
    let cp_bar = (c1p + c2p) / 2.0;
    let hp_bar = if c1p * c2p == 0.0 {
        h1p + h2p
    } else if (h1p - h2p).abs() <= 180.0 {
        (h1p + h2p) / 2.0
    } else if h1p + h2p < 360.0 {
        (h1p + h2p + 360.0) / 2.0
    } else {
        (h1p + h2p - 360.0) / 2.0
    };
    let t = 1.0 - 0.17 * (hp_bar - 30.0).to_radians().cos()
        + 0.24 * (2.0 * hp_bar).to_radians().cos()
        + 0.32 * (3.0 * hp_bar + 6.0).to_radians().cos()
        - 0.20 * (4.0 * hp_bar - 63.0).to_radians().cos();
    let d_theta = 30.0 * (-((hp_bar - 275.0) / 25.0).powi(2)).exp();
    let r_c = 2.0 * (cp_bar.powi(7) / (cp_bar.powi(7) + 25f64.powi(7))).sqrt();
    let s_l = 1.0 + 0.015 * (l_bar - 50.0).powi(2) / (20.0 + (l_bar - 50.0).powi(2)).sqrt();
    let s_c = 1.0 + 0.045 * cp_bar;
    let s_h = 1.0 + 0.015 * cp_bar * t;
    let r_t = -(2.0 * d_theta).to_radians().sin() * r_c;
    ((dl / s_l).powi(2) + (dc / s_c).powi(2) + (d_h / s_h).powi(2) + r_t * (dc / s_c) * (d_h / s_h))
        .sqrt() as f32
}

/// Names a shopper would use, with a representative sRGB value each.
const NAMED: &[(&str, &str)] = &[
    ("black", "111111"),
    ("charcoal", "36454f"),
    ("grey", "808080"),
    ("silver", "c0c0c0"),
    ("white", "f8f8f8"),
    ("ivory", "fffff0"),
    ("cream", "f3e5c0"),
    ("beige", "e1c699"),
    ("camel", "c19a6b"),
    ("tan", "d2b48c"),
    ("khaki", "a99a6b"),
    ("brown", "6f4e37"),
    ("chocolate", "3f2a1e"),
    ("rust", "b7410e"),
    ("orange", "f28c28"),
    ("coral", "ff7f50"),
    ("peach", "ffcba4"),
    ("mustard", "e1ad01"),
    ("yellow", "ffde21"),
    ("olive", "708238"),
    ("green", "228b22"),
    ("mint", "98ff98"),
    ("teal", "008080"),
    ("turquoise", "40e0d0"),
    ("light blue", "a7c7e7"),
    ("denim", "3b5b8c"),
    ("blue", "1f51ff"),
    ("navy", "1b2a4a"),
    ("purple", "6a0dad"),
    ("lavender", "b57edc"),
    ("burgundy", "800020"),
    ("red", "d0312d"),
    ("pink", "f4a6c0"),
    ("fuchsia", "e0218a"),
];

/// The nearest shopper's colour name by CIEDE2000.
pub fn colour_name(colour: Lab) -> &'static str {
    NAMED
        .iter()
        .map(|(name, hex)| {
            let reference = Lab::from_hex(hex).expect("valid table hex");
            (*name, delta_e2000(colour, reference))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(name, _)| name)
        .expect("table is not empty")
}

/// One dominant colour of a region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DominantColour {
    pub hex: String,
    pub name: &'static str,
    /// Share of the region's pixels, 0..1.
    pub share: f32,
    pub lab: [f32; 3],
}

/// At most `k` dominant colours of `pixels` by k-means in CIELAB
/// (deterministic farthest-point seeding, at most 20 000 pixels sampled
/// evenly), largest share first. Clusters under 2 % are dropped.
pub fn dominant_colours(pixels: &[[u8; 3]], k: usize) -> Vec<DominantColour> {
    if pixels.is_empty() || k == 0 {
        return Vec::new();
    }
    let step = pixels.len().div_ceil(20_000);
    let points: Vec<Lab> = pixels
        .iter()
        .step_by(step)
        .map(|&p| Lab::from_rgb(p))
        .collect();
    let dist = |a: &Lab, b: &Lab| (a.l - b.l).powi(2) + (a.a - b.a).powi(2) + (a.b - b.b).powi(2);
    // Seeds: the mean, then repeatedly the point farthest from every seed.
    let n = points.len() as f32;
    let mut centres = vec![Lab {
        l: points.iter().map(|p| p.l).sum::<f32>() / n,
        a: points.iter().map(|p| p.a).sum::<f32>() / n,
        b: points.iter().map(|p| p.b).sum::<f32>() / n,
    }];
    let mut nearest: Vec<f32> = points.iter().map(|p| dist(p, &centres[0])).collect();
    while centres.len() < k {
        let (far, &d) = nearest
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .expect("points exist");
        if d < 4.0 {
            break; // every point is already within ΔE≈2 of a seed
        }
        centres.push(points[far]);
        for (i, p) in points.iter().enumerate() {
            nearest[i] = nearest[i].min(dist(p, &points[far]));
        }
    }
    let mut assignment = vec![0usize; points.len()];
    for _ in 0..20 {
        let mut changed = false;
        for (i, p) in points.iter().enumerate() {
            let best = (0..centres.len())
                .min_by(|&a, &b| dist(p, &centres[a]).total_cmp(&dist(p, &centres[b])))
                .expect("centres exist");
            if assignment[i] != best {
                assignment[i] = best;
                changed = true;
            }
        }
        let mut sums = vec![(0f32, 0f32, 0f32, 0usize); centres.len()];
        for (p, &c) in points.iter().zip(&assignment) {
            let s = &mut sums[c];
            s.0 += p.l;
            s.1 += p.a;
            s.2 += p.b;
            s.3 += 1;
        }
        for (centre, s) in centres.iter_mut().zip(&sums) {
            if s.3 > 0 {
                let m = s.3 as f32;
                *centre = Lab {
                    l: s.0 / m,
                    a: s.1 / m,
                    b: s.2 / m,
                };
            }
        }
        if !changed {
            break;
        }
    }
    let mut counts = vec![0usize; centres.len()];
    for &c in &assignment {
        counts[c] += 1;
    }
    let mut out: Vec<DominantColour> = centres
        .iter()
        .zip(&counts)
        .filter(|(_, count)| **count as f32 / n >= 0.02)
        .map(|(c, count)| DominantColour {
            hex: c.hex(),
            name: colour_name(*c),
            share: *count as f32 / n,
            lab: [c.l, c.a, c.b],
        })
        .collect();
    out.sort_by(|a, b| b.share.total_cmp(&a.share));
    out
}
