use crate::resize::{U8x3, bilinear};

/// A region of the photo, in its pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

/// How model-input pixels map back to photo pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    /// Model pixels per photo pixel.
    pub scale: f32,
    /// Where the photo region starts in the model input.
    pub pad_x: f32,
    pub pad_y: f32,
    /// The photo region the input shows.
    pub region: Rect,
    pub size: u32,
}

impl Letterbox {
    /// A model-input point in photo pixels.
    pub fn to_photo(&self, x: f32, y: f32) -> (f32, f32) {
        (
            self.region.x + (x - self.pad_x) / self.scale,
            self.region.y + (y - self.pad_y) / self.scale,
        )
    }

    /// The model-input rectangle that holds photo pixels (not padding),
    /// inside the square (as `letterbox_tensor` drew it, even for a region
    /// reaching far past the photo).
    pub fn content(&self) -> (u32, u32, u32, u32) {
        let (x, y) = (self.pad_x as u32, self.pad_y as u32);
        let w = ((self.region.w * self.scale).round() as u32)
            .clamp(1, self.size.saturating_sub(x).max(1));
        let h = ((self.region.h * self.scale).round() as u32)
            .clamp(1, self.size.saturating_sub(y).max(1));
        (x, y, w, h)
    }
}

/// `region` of an RGB8 photo (`w`×`h`), fitted into a `size`×`size` square
/// without distortion and centred, as an NCHW f32 tensor scaled by `1/255`
/// then mapped by `a·v + b` (0..1: a=1, b=0; −1..1: a=2, b=−1). Parts of
/// the square the photo does not fill (the region's aspect, or a region
/// reaching past the photo's edge: a crop around a person's hips below the
/// frame) are black padding, so the model sees the region where it asked
/// for it. `None` is the whole photo.
pub fn letterbox_tensor(
    rgb: &[u8],
    w: u32,
    h: u32,
    region: Option<Rect>,
    size: u32,
    (a, b): (f32, f32),
) -> (Vec<f32>, Letterbox) {
    let wanted = region.unwrap_or(Rect {
        x: 0.0,
        y: 0.0,
        w: w as f32,
        h: h as f32,
    });
    let wanted = Rect {
        w: wanted.w.max(1.0),
        h: wanted.h.max(1.0),
        ..wanted
    };
    let scale = size as f32 / wanted.w.max(wanted.h);
    // Where the wanted region's corner lands: centred in the square.
    let (ox, oy) = (
        (size as f32 - wanted.w * scale) / 2.0,
        (size as f32 - wanted.h * scale) / 2.0,
    );
    let visible = clamp(wanted, w, h);
    let pad_x = (ox + (visible.x - wanted.x) * scale)
        .round()
        .clamp(0.0, (size - 1) as f32);
    let pad_y = (oy + (visible.y - wanted.y) * scale)
        .round()
        .clamp(0.0, (size - 1) as f32);
    let rw = ((visible.w * scale).round() as u32).clamp(1, size - pad_x as u32);
    let rh = ((visible.h * scale).round() as u32).clamp(1, size - pad_y as u32);
    let crop = (
        f64::from(visible.x),
        f64::from(visible.y),
        // In f64 the corner plus the size may round past the edge.
        f64::from(visible.w).min(f64::from(w) - f64::from(visible.x)),
        f64::from(visible.h).min(f64::from(h) - f64::from(visible.y)),
    );
    let resized = bilinear::<U8x3>(rgb, (w, h), (rw, rh), Some(crop));
    let (px, py) = (pad_x as u32, pad_y as u32);
    let plane = (size * size) as usize;
    let mut tensor = vec![b; 3 * plane];
    let pixels = &resized;
    for y in 0..rh {
        for x in 0..rw {
            let i = ((y * rw + x) * 3) as usize;
            let o = ((y + py) * size + (x + px)) as usize;
            for c in 0..3 {
                tensor[c * plane + o] = a * f32::from(pixels[i + c]) / 255.0 + b;
            }
        }
    }
    let letterbox = Letterbox {
        scale,
        pad_x,
        pad_y,
        region: visible,
        size,
    };
    (tensor, letterbox)
}

fn clamp(r: Rect, w: u32, h: u32) -> Rect {
    let x0 = r.x.clamp(0.0, w as f32 - 1.0);
    let y0 = r.y.clamp(0.0, h as f32 - 1.0);
    let x1 = (r.x + r.w).clamp(x0 + 1.0, w as f32);
    let y1 = (r.y + r.h).clamp(y0 + 1.0, h as f32);
    Rect {
        x: x0,
        y: y0,
        w: x1 - x0,
        h: y1 - y0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wide_photo_is_padded_top_and_bottom_and_maps_back() {
        let (w, h) = (400u32, 200u32);
        let rgb = vec![255u8; (w * h * 3) as usize];
        let (t, lb) = letterbox_tensor(&rgb, w, h, None, 256, (1.0, 0.0));
        assert_eq!(t.len(), 3 * 256 * 256);
        assert_eq!((lb.pad_x, lb.pad_y), (0.0, 64.0));
        assert_eq!(t[0], 0.0, "padding");
        assert!((t[128 * 256 + 128] - 1.0).abs() < 1e-6, "content");
        let (x, y) = lb.to_photo(128.0, 128.0);
        assert!(
            (x - 200.0).abs() < 0.5 && (y - 100.0).abs() < 0.5,
            "{x} {y}"
        );
        assert_eq!(lb.content(), (0, 64, 256, 128));
    }

    #[test]
    fn a_crop_maps_back_into_the_photo() {
        let rgb = vec![10u8; 300 * 300 * 3];
        let region = Rect {
            x: 100.0,
            y: 50.0,
            w: 100.0,
            h: 100.0,
        };
        let (_, lb) = letterbox_tensor(&rgb, 300, 300, Some(region), 256, (2.0, -1.0));
        let (x, y) = lb.to_photo(0.0, 256.0);
        assert!(
            (x - 100.0).abs() < 0.5 && (y - 150.0).abs() < 0.5,
            "{x} {y}"
        );
        // A region past the edge is clamped to the photo.
        let (_, lb) = letterbox_tensor(
            &rgb,
            300,
            300,
            Some(Rect {
                x: 250.0,
                y: -20.0,
                w: 100.0,
                h: 100.0,
            }),
            256,
            (1.0, 0.0),
        );
        assert_eq!(
            lb.region,
            Rect {
                x: 250.0,
                y: 0.0,
                w: 50.0,
                h: 80.0
            }
        );
    }

    /// A region wholly outside the photo (found by the property test
    /// below): the content stays inside the square.
    #[test]
    fn a_region_wholly_outside_the_photo_stays_inside_the_square() {
        let region = Rect {
            x: 0.0,
            y: -372.6,
            w: 0.0,
            h: 0.0,
        };
        let (t, lb) = letterbox_tensor(&[5u8; 3], 1, 1, Some(region), 64, (1.0, 0.0));
        assert_eq!(t.len(), 3 * 64 * 64);
        let (cx, cy, cw, ch) = lb.content();
        assert!(cx + cw <= 64 && cy + ch <= 64, "{lb:?}");
    }

    #[test]
    fn a_region_past_the_edge_keeps_its_place_with_padding() {
        // A 100×100 square whose top-left quarter is the photo's bottom
        // right corner: that quarter fills the input's top-left quarter.
        let rgb = vec![200u8; 100 * 100 * 3];
        let region = Rect {
            x: 50.0,
            y: 50.0,
            w: 100.0,
            h: 100.0,
        };
        let (t, lb) = letterbox_tensor(&rgb, 100, 100, Some(region), 64, (1.0, 0.0));
        assert_eq!((lb.pad_x, lb.pad_y), (0.0, 0.0));
        assert_eq!(lb.content(), (0, 0, 32, 32));
        assert!((t[10 * 64 + 10] - 200.0 / 255.0).abs() < 1e-3, "photo");
        assert_eq!(t[40 * 64 + 40], 0.0, "padding past the photo");
        // Input corners map to the wanted region's corners.
        assert_eq!(lb.to_photo(0.0, 0.0), (50.0, 50.0));
        assert_eq!(lb.to_photo(64.0, 64.0), (150.0, 150.0));
        // The same region starting above-left of the photo pads first.
        let region = Rect {
            x: -50.0,
            y: -50.0,
            w: 100.0,
            h: 100.0,
        };
        let (_, lb) = letterbox_tensor(&rgb, 100, 100, Some(region), 64, (1.0, 0.0));
        assert_eq!((lb.pad_x, lb.pad_y), (32.0, 32.0));
        assert_eq!(lb.to_photo(0.0, 0.0), (-50.0, -50.0));
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// Any region, however it sits on the photo (fractional corners
            /// at the edge, partly or wholly outside), gives a tensor: a
            /// crop never panics (a person's crop at the photo's edge used
            /// to round past it).
            #[test]
            fn any_region_crops(w in 1u32..300, h in 1u32..300, x in -400f32..400.0, y in -400f32..400.0,
                                rw in 0f32..600.0, rh in 0f32..600.0, frac in 0f32..1.0) {
                let rgb = vec![9u8; (w * h * 3) as usize];
                let region = Rect { x: x + frac, y: y - frac, w: rw, h: rh };
                let (tensor, lb) = letterbox_tensor(&rgb, w, h, Some(region), 64, (1.0, 0.0));
                prop_assert_eq!(tensor.len(), 3 * 64 * 64);
                let (cx, cy, cw, ch) = lb.content();
                prop_assert!(cx + cw <= 64 && cy + ch <= 64, "{:?}", lb);
                prop_assert!(lb.region.x >= 0.0 && lb.region.x + lb.region.w <= w as f32 + 1e-3);
            }

            /// The letterbox keeps the photo's aspect, stays inside the
            /// square, and its corners map back to the photo's corners.
            #[test]
            fn the_content_maps_back_onto_the_whole_photo(w in 1u32..400, h in 1u32..400, size in 16u32..320) {
                let rgb = vec![128u8; (w * h * 3) as usize];
                let (tensor, lb) = letterbox_tensor(&rgb, w, h, None, size, (1.0, 0.0));
                prop_assert_eq!(tensor.len(), (3 * size * size) as usize);
                let (cx, cy, cw, ch) = lb.content();
                prop_assert!(cx + cw <= size && cy + ch <= size);
                // The longer side fills the square.
                prop_assert!(cw == size || ch == size, "{cw}x{ch} in {size}");
                let (x0, y0) = lb.to_photo(cx as f32, cy as f32);
                let (x1, y1) = lb.to_photo((cx + cw) as f32, (cy + ch) as f32);
                // Within a model pixel of the photo's corners.
                let tol = 1.0 / lb.scale + 1e-3;
                prop_assert!(x0.abs() <= tol && y0.abs() <= tol, "{x0},{y0}");
                prop_assert!((x1 - w as f32).abs() <= tol && (y1 - h as f32).abs() <= tol, "{x1},{y1} vs {w}x{h}");
                // Padding is black (b = 0), the content is the photo's grey.
                let mid = (cy + ch / 2) * size + cx + cw / 2;
                prop_assert!((tensor[mid as usize] - 128.0 / 255.0).abs() < 0.02);
            }
        }
    }
}
