//! Text watermarks: a line of text rasterised with DejaVu Sans Bold (the
//! font ships in `data/fonts/` with its licence), sized to a width, with a
//! soft dark shadow so it reads on light and dark frames alike.
use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};

use crate::Logo;

static FONT: &[u8] = include_bytes!("../data/fonts/DejaVuSans-Bold.ttf");

/// `text` as an RGBA [`Logo`] about `width` pixels wide, in `colour` (sRGB).
pub fn text_logo(text: &str, width: u32, colour: [u8; 3]) -> Logo {
    let font = FontRef::try_from_slice(FONT).expect("the bundled font parses");
    let advance = |scale: PxScale| {
        let scaled = font.as_scaled(scale);
        let mut x = 0.0f32;
        let mut prev = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                x += scaled.kern(p, id);
            }
            x += scaled.h_advance(id);
            prev = Some(id);
        }
        x
    };
    let reference = advance(PxScale::from(100.0)).max(1.0);
    let px = (100.0 * width.max(8) as f32 / reference).clamp(6.0, 512.0);
    let scale = PxScale::from(px);
    let scaled = font.as_scaled(scale);
    let shadow = (px / 24.0).ceil().max(1.0) as u32;
    let (w, h) = (
        advance(scale).ceil() as u32 + 2 + shadow,
        (scaled.ascent() - scaled.descent()).ceil() as u32 + 2 + shadow,
    );
    let mut coverage = vec![0f32; (w * h) as usize];
    let mut x = 1.0f32;
    let mut prev = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(p) = prev {
            x += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(scale, point(x, 1.0 + scaled.ascent()));
        if let Some(outlined) = font.outline_glyph(glyph) {
            let b = outlined.px_bounds();
            outlined.draw(|gx, gy, c| {
                let (px, py) = (
                    b.min.x as i64 + i64::from(gx),
                    b.min.y as i64 + i64::from(gy),
                );
                if px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                    let i = (py as u32 * w + px as u32) as usize;
                    coverage[i] = coverage[i].max(c);
                }
            });
        }
        x += scaled.h_advance(id);
        prev = Some(id);
    }
    let mut rgba = vec![0u8; (w * h * 4) as usize];
    for y in 0..h {
        for x in 0..w {
            let i = (y * w + x) as usize;
            let text_a = coverage[i];
            let shadow_a = if x >= shadow && y >= shadow {
                coverage[((y - shadow) * w + (x - shadow)) as usize] * 0.6
            } else {
                0.0
            };
            // Text over its shadow (black).
            let a = text_a + shadow_a * (1.0 - text_a);
            if a <= 0.0 {
                continue;
            }
            for c in 0..3 {
                rgba[i * 4 + c] = (f32::from(colour[c]) * text_a / a).round() as u8;
            }
            rgba[i * 4 + 3] = (a * 255.0).round() as u8;
        }
    }
    Logo {
        width: w,
        height: h,
        rgba,
    }
}
