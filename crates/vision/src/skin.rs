//! Skin tone from the 468-point face mesh: skin pixels from the forehead and
//! both cheeks, a robust colour in CIELAB (highlights and shadows trimmed),
//! the nearest Monk Skin Tone by CIEDE2000, the ITA angle, the undertone, a
//! seasonal palette and a confidence.
use serde::Serialize;

use crate::colour::{Lab, delta_e2000};

/// The ten Monk Skin Tone reference colours, MST 1 to 10 (defined with
/// the result's contract, where the console draws the scale from too).
pub use atelier_jobs::MONK_SCALE as MONK;

/// Where skin is sampled: disks around these mesh points (MediaPipe's
/// canonical face mesh), clear of eyes, brows, nostrils, lips and hair.
pub const REGIONS: [(&str, &[usize]); 3] = [
    ("forehead", &[151, 9]),
    ("right_cheek", &[205, 50]),
    ("left_cheek", &[425, 280]),
];
/// Mesh points at the face's outer edges at cheek height, for its width.
const FACE_EDGES: (usize, usize) = (234, 454);

/// Skin pixels per region, sampled from `rgb` (`width`×`height`) around the
/// mesh `points` (photo pixels): disks of 6 % of the face's width.
pub fn sample_skin(
    rgb: &[u8],
    width: u32,
    height: u32,
    points: &[(f32, f32)],
) -> Vec<(&'static str, Vec<[u8; 3]>)> {
    if points.len() < 468 {
        return Vec::new();
    }
    let (a, b) = (points[FACE_EDGES.0], points[FACE_EDGES.1]);
    let radius = (0.06 * (a.0 - b.0).hypot(a.1 - b.1)).max(2.0);
    REGIONS
        .iter()
        .map(|(name, centres)| {
            let mut pixels = Vec::new();
            for &c in *centres {
                let (cx, cy) = points[c];
                let (x0, x1) = ((cx - radius).floor().max(0.0), (cx + radius).ceil());
                let (y0, y1) = ((cy - radius).floor().max(0.0), (cy + radius).ceil());
                for y in y0 as u32..(y1 as u32).min(height) {
                    for x in x0 as u32..(x1 as u32).min(width) {
                        let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                        if dx.hypot(dy) <= radius {
                            let i = ((y * width + x) * 3) as usize;
                            pixels.push([rgb[i], rgb[i + 1], rgb[i + 2]]);
                        }
                    }
                }
            }
            (*name, pixels)
        })
        .collect()
}

fn median(values: &mut [f32]) -> f32 {
    values.sort_by(f32::total_cmp);
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The robust colour of skin pixels: the pixels between the 15th and 85th
/// percentiles of lightness (specular highlights and shadows out), then the
/// per-channel median. Returns the colour and the pixels kept.
pub fn robust_colour(pixels: &[[u8; 3]]) -> Option<(Lab, usize)> {
    if pixels.is_empty() {
        return None;
    }
    let mut labs: Vec<Lab> = pixels.iter().map(|&p| Lab::from_rgb(p)).collect();
    labs.sort_by(|x, y| x.l.total_cmp(&y.l));
    let n = labs.len();
    let kept = &labs[n * 15 / 100..(n * 85 / 100).max(n * 15 / 100 + 1)];
    let mut l: Vec<f32> = kept.iter().map(|c| c.l).collect();
    let mut a: Vec<f32> = kept.iter().map(|c| c.a).collect();
    let mut b: Vec<f32> = kept.iter().map(|c| c.b).collect();
    Some((
        Lab {
            l: median(&mut l),
            a: median(&mut a),
            b: median(&mut b),
        },
        kept.len(),
    ))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonkMatch {
    /// MST 1 (lightest) to 10 (deepest).
    pub scale: u8,
    pub hex: String,
    pub delta_e: f32,
}

/// The nearest Monk Skin Tone by CIEDE2000.
pub fn nearest_monk(colour: Lab) -> MonkMatch {
    let (i, d) = MONK
        .iter()
        .map(|hex| delta_e2000(colour, Lab::from_hex(hex).expect("valid table hex")))
        .enumerate()
        .min_by(|x, y| x.1.total_cmp(&y.1))
        .expect("ten references");
    MonkMatch {
        scale: i as u8 + 1,
        hex: format!("#{}", MONK[i]),
        delta_e: d,
    }
}

/// Individual Typology Angle, degrees: atan((L − 50) / b).
pub fn ita(colour: Lab) -> f32 {
    (colour.l - 50.0).atan2(colour.b).to_degrees()
}

/// The ITA category (Chardon et al.): very light > 55° > light > 41° >
/// intermediate > 28° > tan > 10° > brown > −30° > dark.
pub fn ita_category(angle: f32) -> &'static str {
    match angle {
        a if a > 55.0 => "very_light",
        a if a > 41.0 => "light",
        a if a > 28.0 => "intermediate",
        a if a > 10.0 => "tan",
        a if a > -30.0 => "brown",
        _ => "dark",
    }
}

/// Warm (golden: hue ≥ 60°), cool (pink: hue ≤ 50°) or neutral, from the
/// CIELAB hue angle of the skin colour.
pub fn undertone(colour: Lab) -> &'static str {
    let hue = colour.hue();
    if hue >= 60.0 {
        "warm"
    } else if hue <= 50.0 {
        "cool"
    } else {
        "neutral"
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeasonPalette {
    pub season: &'static str,
    pub sub_season: &'static str,
    pub recommended: Vec<&'static str>,
    pub avoid: Vec<&'static str>,
}

/// The seasonal colour analysis by rules: undertone picks warm (spring,
/// autumn) or cool (summer, winter) seasons, lightness picks light (spring,
/// summer) or deep (autumn, winter); a neutral undertone goes by chroma
/// (clear → spring/winter, soft → summer/autumn). The sub-season is the
/// strongest trait: light, deep, soft, bright, or the true warm/cool.
pub fn season_palette(colour: Lab, undertone: &str) -> SeasonPalette {
    let light = colour.l >= 60.0;
    let chroma = colour.chroma();
    let warm = match undertone {
        "warm" => true,
        "cool" => false,
        _ => (chroma >= 20.0) == light,
    };
    let season = match (warm, light) {
        (true, true) => "spring",
        (true, false) => "autumn",
        (false, true) => "summer",
        (false, false) => "winter",
    };
    let sub_season = match season {
        "spring" if colour.l >= 72.0 => "light_spring",
        "spring" if chroma >= 22.0 => "bright_spring",
        "spring" => "warm_spring",
        "summer" if colour.l >= 72.0 => "light_summer",
        "summer" if chroma < 15.0 => "soft_summer",
        "summer" => "cool_summer",
        "autumn" if colour.l < 45.0 => "deep_autumn",
        "autumn" if chroma < 18.0 => "soft_autumn",
        "autumn" => "warm_autumn",
        _ if colour.l < 40.0 => "deep_winter",
        _ if chroma >= 20.0 => "bright_winter",
        _ => "cool_winter",
    };
    let (recommended, avoid): (&[&str], &[&str]) = match season {
        "spring" => (
            &[
                "#ffcba4", "#ff7f50", "#ffd35c", "#40e0d0", "#c8a165", "#7cb342", "#fffff0",
                "#f28c28",
            ],
            &["#000000", "#8e8e8e", "#800020", "#d6ecef", "#4b0082"],
        ),
        "summer" => (
            &[
                "#b0c4de", "#b57edc", "#e8a1b0", "#8e4585", "#6a7ba2", "#f5f5f5", "#c7a2b0",
                "#8fbc8f",
            ],
            &["#ff8c00", "#e1ad01", "#000000", "#c19a6b", "#b7410e"],
        ),
        "autumn" => (
            &[
                "#b7410e", "#708238", "#e1ad01", "#c19a6b", "#008080", "#7b3f00", "#e2725b",
                "#f3e5c0",
            ],
            &["#e0218a", "#d6ecef", "#ffffff", "#c0c0c0", "#b0c4de"],
        ),
        _ => (
            &[
                "#000000", "#ffffff", "#4169e1", "#009b77", "#e0218a", "#dc143c", "#f8c8dc",
                "#36454f",
            ],
            &["#ff8c00", "#c19a6b", "#e1ad01", "#708238", "#ffcba4"],
        ),
    };
    SeasonPalette {
        season,
        sub_season,
        recommended: recommended.to_vec(),
        avoid: avoid.to_vec(),
    }
}

/// How far to trust the reading, 0..1: it drops with few skin pixels (under
/// 300 kept), a strong colour cast over the whole photo (grey-world chroma
/// above 5), and regions that disagree (CIEDE2000 spread above 5).
pub fn confidence(kept: usize, photo_cast: f32, region_spread: f32) -> f32 {
    let pixels = (kept as f32 / 300.0).min(1.0);
    let cast = (1.0 - (photo_cast - 5.0).max(0.0) / 20.0).clamp(0.2, 1.0);
    let agreement = (1.0 - (region_spread - 5.0).max(0.0) / 20.0).clamp(0.3, 1.0);
    pixels * cast * agreement
}

/// A photo's colour cast: the chroma of the mean colour of its near-neutral
/// pixels (CIELAB chroma under 20, lightness 15–95: the whites, greys and
/// blacks that a cast tints), over at most ~10,000 evenly spaced pixels.
/// A colourful scene without neutrals falls back to the whole photo's mean
/// (grey world).
pub fn colour_cast(rgb: &[u8]) -> f32 {
    let n = rgb.len() / 3;
    if n == 0 {
        return 0.0;
    }
    let step = n.div_ceil(10_000);
    let (mut neutral, mut all) = ((0f32, 0f32, 0f32), (0f32, 0f32, 0f32));
    for px in rgb.chunks_exact(3).step_by(step) {
        let c = Lab::from_rgb([px[0], px[1], px[2]]);
        all = (all.0 + c.a, all.1 + c.b, all.2 + 1.0);
        if c.chroma() < 20.0 && (15.0..=95.0).contains(&c.l) {
            neutral = (neutral.0 + c.a, neutral.1 + c.b, neutral.2 + 1.0);
        }
    }
    let (a, b, count) = if neutral.2 >= all.2 * 0.01 {
        neutral
    } else {
        all
    };
    (a / count).hypot(b / count)
}
