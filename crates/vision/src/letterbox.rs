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
