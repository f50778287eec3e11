//! The pose model's person mask brought to the photo's resolution: logits
//! sampled bilinearly through the letterbox, then squashed, so edges stay
//! smooth instead of showing the model's 256-px grid.
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
/// Photo pixels outside the pass's region are background.
pub fn upsample_mask(logits: &[f32], letterbox: &Letterbox, width: u32, height: u32) -> PersonMask {
    let size = letterbox.size as usize;
    let (cx, cy, cw, ch) = letterbox.content();
    // Sample only within the content, so padding never bleeds into edges.
    let (min_x, max_x) = (cx as f32, (cx + cw).min(letterbox.size) as f32 - 1.0);
    let (min_y, max_y) = (cy as f32, (cy + ch).min(letterbox.size) as f32 - 1.0);
    let at = |x: usize, y: usize| logits[y * size + x];
    let r = letterbox.region;
    let mut alpha = vec![0u8; (width * height) as usize];
    for py in 0..height {
        let fy = py as f32 + 0.5;
        if fy < r.y || fy > r.y + r.h {
            continue;
        }
        let my = (letterbox.pad_y + (fy - r.y) * letterbox.scale - 0.5).clamp(min_y, max_y);
        let (y0, ty) = (my.floor() as usize, my.fract());
        let y1 = (y0 + 1).min(max_y as usize);
        let row = &mut alpha[(py * width) as usize..((py + 1) * width) as usize];
        for (px, out) in row.iter_mut().enumerate() {
            let fx = px as f32 + 0.5;
            if fx < r.x || fx > r.x + r.w {
                continue;
            }
            let mx = (letterbox.pad_x + (fx - r.x) * letterbox.scale - 0.5).clamp(min_x, max_x);
            let (x0, tx) = (mx.floor() as usize, mx.fract());
            let x1 = (x0 + 1).min(max_x as usize);
            let top = at(x0, y0) * (1.0 - tx) + at(x1, y0) * tx;
            let bottom = at(x0, y1) * (1.0 - tx) + at(x1, y1) * tx;
            let logit = top * (1.0 - ty) + bottom * ty;
            *out = (255.0 / (1.0 + (-logit).exp())).round() as u8;
        }
    }
    PersonMask {
        width,
        height,
        alpha,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::letterbox_tensor;

    #[test]
    fn a_mask_maps_back_onto_the_photo_with_soft_edges() {
        // A 400×200 photo letterboxed into 256: content rows 64..192.
        let (w, h) = (400u32, 200u32);
        let (_, lb) = letterbox_tensor(
            &vec![0u8; (w * h * 3) as usize],
            w,
            h,
            None,
            256,
            (1.0, 0.0),
        );
        // The person is the model's left half of the content: x < 128.
        let mut logits = vec![-8f32; 256 * 256];
        for y in 64..192 {
            for x in 0..128 {
                logits[y * 256 + x] = 8.0;
            }
        }
        let mask = upsample_mask(&logits, &lb, w, h);
        assert_eq!(mask.alpha.len(), (w * h) as usize);
        assert!((mask.coverage() - 0.5).abs() < 0.01, "{}", mask.coverage());
        let bbox = mask.bounding_box().unwrap();
        assert_eq!((bbox.x, bbox.y, bbox.height), (0, 0, 200));
        assert!((199..=201).contains(&bbox.width), "{bbox:?}");
        // Deep inside and far outside are hard; the edge is a ramp.
        assert_eq!(mask.alpha[(100 * w + 50) as usize], 255);
        assert_eq!(mask.alpha[(100 * w + 350) as usize], 0);
        let ramp: Vec<u8> = (196..204)
            .map(|x| mask.alpha[(100 * w + x) as usize])
            .collect();
        assert!(ramp.iter().any(|&a| a > 0 && a < 255), "{ramp:?}");
        assert!(ramp.windows(2).all(|p| p[0] >= p[1]), "{ramp:?}");

        let rgb = vec![7u8; (w * h * 3) as usize];
        let rgba = mask.cut_out(&rgb);
        assert_eq!(&rgba[..4], &[7, 7, 7, 255]);
        let last = rgba.len() - 4;
        assert_eq!(&rgba[last..], &[7, 7, 7, 0]);
    }

    #[test]
    fn an_empty_mask_has_no_box() {
        let (_, lb) = letterbox_tensor(&[0u8; 30], 5, 2, None, 256, (1.0, 0.0));
        let mask = upsample_mask(&vec![-5f32; 256 * 256], &lb, 5, 2);
        assert_eq!(mask.coverage(), 0.0);
        assert_eq!(mask.bounding_box(), None);
    }
}
