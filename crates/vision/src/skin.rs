//! Skin tone from the 468-point face mesh: skin pixels from the forehead and
//! both cheeks, a robust colour in CIELAB (highlights and shadows trimmed),
//! the nearest Monk Skin Tone by CIEDE2000, the ITA angle, the undertone, a
//! seasonal palette and a confidence.
use serde::Serialize;

use crate::colour::{Lab, delta_e2000};

/// The ten Monk Skin Tone reference colours, MST 1 to 10.
pub const MONK: [&str; 10] = [
    "f6ede4", "f3e7db", "f7ead0", "eadaba", "d7bd96", "a07e56", "825c43", "604134", "3a312a",
    "292420",
];

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monk_references_match_themselves_and_order_light_to_deep() {
        for (i, hex) in MONK.iter().enumerate() {
            let m = nearest_monk(Lab::from_hex(hex).unwrap());
            assert_eq!(m.scale as usize, i + 1);
            assert!(m.delta_e < 1e-3);
        }
        let ls: Vec<f32> = MONK.iter().map(|h| Lab::from_hex(h).unwrap().l).collect();
        assert!(
            ls.windows(2).filter(|w| w[0] >= w[1]).count() >= 8,
            "{ls:?}"
        );
    }

    #[test]
    fn ita_and_undertone_follow_their_definitions() {
        let light = Lab {
            l: 70.0,
            a: 10.0,
            b: 15.0,
        };
        assert!((ita(light) - 53.13).abs() < 0.01);
        assert_eq!(ita_category(ita(light)), "light");
        assert_eq!(ita_category(-45.0), "dark");
        // Hue atan2(15, 10) = 56.3°: between pink and golden.
        assert_eq!(undertone(light), "neutral");
        let golden = Lab {
            l: 70.0,
            a: 6.0,
            b: 20.0,
        };
        assert_eq!(undertone(golden), "warm");
        let pink = Lab {
            l: 70.0,
            a: 14.0,
            b: 12.0,
        };
        assert_eq!(undertone(pink), "cool");
    }

    #[test]
    fn highlights_and_shadows_do_not_move_the_colour() {
        let skin = [200u8, 160, 130];
        let mut pixels = vec![skin; 70];
        pixels.extend(vec![[255u8, 255, 255]; 15]); // specular
        pixels.extend(vec![[20u8, 15, 10]; 15]); // shadow
        let (colour, kept) = robust_colour(&pixels).unwrap();
        assert_eq!(kept, 70);
        assert!(delta_e2000(colour, Lab::from_rgb(skin)) < 0.5);
        assert_eq!(robust_colour(&[]), None);
    }

    #[test]
    fn seasons_and_confidence() {
        let golden_light = Lab {
            l: 75.0,
            a: 8.0,
            b: 22.0,
        };
        let light = season_palette(golden_light, undertone(golden_light));
        assert_eq!((light.season, light.sub_season), ("spring", "light_spring"));
        assert!(!light.recommended.is_empty() && !light.avoid.is_empty());
        // What a palette recommends it never also says to avoid.
        assert!(light.recommended.iter().all(|c| !light.avoid.contains(c)));
        let deep_cool = Lab {
            l: 30.0,
            a: 12.0,
            b: 8.0,
        };
        let p = season_palette(deep_cool, undertone(deep_cool));
        assert_eq!((p.season, p.sub_season), ("winter", "deep_winter"));
        assert!(p.recommended.iter().all(|c| !p.avoid.contains(c)));
        // Opposite seasons get different colours.
        assert_ne!(p.recommended, light.recommended);
        assert!((confidence(1000, 2.0, 1.0) - 1.0).abs() < 1e-6);
        assert!(confidence(150, 2.0, 1.0) < 0.6);
        assert!(confidence(1000, 25.0, 1.0) < 0.3);
        assert!(confidence(1000, 2.0, 25.0) < 0.4);
    }

    #[test]
    fn a_cast_tints_the_neutrals_and_colourful_scenes_are_not_a_cast() {
        // Greys and a saturated red: no cast.
        let mut clean = Vec::new();
        for v in [40u8, 120, 200] {
            clean.extend([v, v, v].repeat(100));
        }
        clean.extend([220u8, 30, 30].repeat(300));
        assert!(colour_cast(&clean) < 1.0, "{}", colour_cast(&clean));
        // The same greys through a sepia tint.
        let mut sepia = Vec::new();
        for v in [40u8, 120, 200] {
            sepia.extend([v.saturating_add(20), v, v.saturating_sub(25)].repeat(100));
        }
        assert!(colour_cast(&sepia) > 10.0, "{}", colour_cast(&sepia));
    }

    #[test]
    fn samples_come_from_disks_around_the_points() {
        let (w, h) = (100u32, 100u32);
        let mut rgb = vec![0u8; (w * h * 3) as usize];
        for px in rgb.chunks_exact_mut(3) {
            px.copy_from_slice(&[180, 140, 120]);
        }
        let mut points = vec![(50.0f32, 50.0f32); 468];
        points[234] = (0.0, 50.0);
        points[454] = (100.0, 50.0);
        let regions = sample_skin(&rgb, w, h, &points);
        assert_eq!(regions.len(), 3);
        // Radius 6 px: about π·36 ≈ 113 pixels per point, two points each.
        for (_, pixels) in &regions {
            assert!((200..260).contains(&pixels.len()), "{}", pixels.len());
            assert!(pixels.iter().all(|p| *p == [180, 140, 120]));
        }
        assert!(sample_skin(&rgb, w, h, &points[..10]).is_empty());
    }
}
