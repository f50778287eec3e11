//! The pose model's person mask brought to the photo's resolution:
//! probabilities resized bilinearly through the letterbox, so edges stay
//! smooth instead of showing the model's 256-px grid.
use crate::resize::{U8, U8x3, bilinear};

use crate::Letterbox;

/// A person mask with one alpha byte per photo pixel (255 = person).
#[derive(Debug, Clone, PartialEq)]
pub struct PersonMask {
    pub width: u32,
    pub height: u32,
    pub alpha: Vec<u8>,
}

/// A box in photo pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PixelBox {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl PersonMask {
    /// Share of the photo where the mask is at least half on.
    pub fn coverage(&self) -> f32 {
        let on = self.alpha.iter().filter(|&&a| a >= 128).count();
        on as f32 / self.alpha.len().max(1) as f32
    }

    /// The smallest box holding every pixel at least half on.
    pub fn bounding_box(&self) -> Option<PixelBox> {
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
        for (i, &a) in self.alpha.iter().enumerate() {
            if a >= 128 {
                let (x, y) = (i as u32 % self.width, i as u32 / self.width);
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x);
                y1 = y1.max(y);
            }
        }
        (x0 <= x1).then(|| PixelBox {
            x: x0,
            y: y0,
            width: x1 - x0 + 1,
            height: y1 - y0 + 1,
        })
    }

    /// RGBA pixels: the photo where the person is, transparent elsewhere.
    pub fn cut_out(&self, rgb: &[u8]) -> Vec<u8> {
        let mut rgba = Vec::with_capacity(self.alpha.len() * 4);
        for (px, &a) in rgb.chunks_exact(3).zip(&self.alpha) {
            rgba.extend_from_slice(&[px[0], px[1], px[2], a]);
        }
        rgba
    }
}

/// Upsample a pass's `size`×`size` mask logits to a `width`×`height` photo.
/// The sigmoid runs on the model's grid (65k values, not one per photo
/// pixel); the probabilities are then resized bilinearly with
/// `fast_image_resize` (SIMD) from the letterbox's content to the pass's
/// region of the photo. Photo pixels outside the region are background.
pub fn upsample_mask(logits: &[f32], letterbox: &Letterbox, width: u32, height: u32) -> PersonMask {
    let size = letterbox.size;
    let mut alpha = vec![0u8; (width * height) as usize];
    if logits.len() < (size * size) as usize {
        return PersonMask {
            width,
            height,
            alpha,
        };
    }
    // Only the content: the padding must not bleed into the photo's edges.
    let (cx, cy, cw, ch) = letterbox.content();
    let (cw, ch) = (cw.min(size - cx), ch.min(size - cy));
    let mut grid = Vec::with_capacity((cw * ch) as usize);
    for y in cy..cy + ch {
        let row = &logits[(y * size + cx) as usize..(y * size + cx + cw) as usize];
        grid.extend(
            row.iter()
                .map(|&v| (255.0 / (1.0 + (-v).exp())).round() as u8),
        );
    }
    let r = letterbox.region;
    let (x0, y0) = (r.x.round().max(0.0) as u32, r.y.round().max(0.0) as u32);
    if x0 < width && y0 < height {
        let rw = (r.w.round() as u32).clamp(1, width - x0);
        let rh = (r.h.round() as u32).clamp(1, height - y0);
        let resized = bilinear::<U8>(&grid, (cw, ch), (rw, rh), None);
        for (row, line) in resized.chunks_exact(rw as usize).enumerate() {
            let start = ((y0 + row as u32) * width + x0) as usize;
            alpha[start..start + rw as usize].copy_from_slice(line);
        }
    }
    PersonMask {
        width,
        height,
        alpha,
    }
}

/// The photo stretched (not letterboxed) to `size`×`size` as an NCHW
/// tensor normalised `(v − 128) / 256`: the input ISNet was trained on.
pub fn stretch_tensor(rgb: &[u8], width: u32, height: u32, size: u32) -> Vec<f32> {
    let resized = bilinear::<U8x3>(rgb, (width, height), (size, size), None);
    let plane = (size * size) as usize;
    let mut tensor = vec![0f32; 3 * plane];
    for (i, px) in resized.chunks_exact(3).enumerate() {
        for c in 0..3 {
            tensor[c * plane + i] = (f32::from(px[c]) - 128.0) / 256.0;
        }
    }
    tensor
}

/// A `size`×`size` foreground probability map (0..1) stretched back to the
/// photo: the mask ISNet gives, at the photo's resolution.
pub fn mask_from_probabilities(probs: &[f32], size: u32, width: u32, height: u32) -> PersonMask {
    let grid: Vec<u8> = probs
        .iter()
        .take((size * size) as usize)
        .map(|p| (p.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    if grid.len() < (size * size) as usize {
        return PersonMask {
            width,
            height,
            alpha: vec![0; (width * height) as usize],
        };
    }
    PersonMask {
        width,
        height,
        alpha: bilinear::<U8>(&grid, (size, size), (width, height), None),
    }
}
