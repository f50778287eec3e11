//! What every detector's decoding shares: boxes in photo pixels, the
//! logistic function, MediaPipe's SSD anchor grids and greedy
//! non-maximum suppression.
use crate::Rect;

/// The logistic function, clamped so extreme logits stay finite.
pub fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v.clamp(-100.0, 100.0)).exp())
}

/// SSD anchor centres in 0..1 (MediaPipe's fixed-size anchors): for each
/// `(grid, per_cell)` layer, a `grid`×`grid` raster, row-major, each cell's
/// centre repeated `per_cell` times.
pub fn ssd_anchors(layers: &[(u32, usize)]) -> Vec<(f32, f32)> {
    let mut anchors = Vec::new();
    for &(grid, per_cell) in layers {
        for y in 0..grid {
            for x in 0..grid {
                let centre = (
                    (x as f32 + 0.5) / grid as f32,
                    (y as f32 + 0.5) / grid as f32,
                );
                anchors.extend(std::iter::repeat_n(centre, per_cell));
            }
        }
    }
    anchors
}

/// Greedy non-maximum suppression: highest score first, each item kept
/// unless it is `same` as one kept already.
pub fn suppress<T>(
    mut items: Vec<T>,
    score: impl Fn(&T) -> f32,
    same: impl Fn(&T, &T) -> bool,
) -> Vec<T> {
    items.sort_by(|a, b| score(b).total_cmp(&score(a)));
    let mut kept: Vec<T> = Vec::new();
    for item in items {
        if !kept.iter().any(|k| same(k, &item)) {
            kept.push(item);
        }
    }
    kept
}

/// An axis-aligned box in photo pixels, corners.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxF {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

impl BoxF {
    pub fn width(&self) -> f32 {
        (self.x1 - self.x0).max(0.0)
    }

    pub fn height(&self) -> f32 {
        (self.y1 - self.y0).max(0.0)
    }

    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    pub fn centre(&self) -> (f32, f32) {
        ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0)
    }

    pub fn contains(&self, (x, y): (f32, f32)) -> bool {
        x >= self.x0 && x <= self.x1 && y >= self.y0 && y <= self.y1
    }

    pub fn iou(&self, other: &BoxF) -> f32 {
        let w = (self.x1.min(other.x1) - self.x0.max(other.x0)).max(0.0);
        let h = (self.y1.min(other.y1) - self.y0.max(other.y0)).max(0.0);
        let inter = w * h;
        let union = self.area() + other.area() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }

    /// The square centred on the box, its longer side × `margin`.
    pub fn square(&self, margin: f32) -> Rect {
        let side = self.width().max(self.height()) * margin;
        let (cx, cy) = self.centre();
        Rect {
            x: cx - side / 2.0,
            y: cy - side / 2.0,
            w: side,
            h: side,
        }
    }

    /// Clipped to a `width`×`height` photo.
    pub fn clip(&self, width: u32, height: u32) -> BoxF {
        let (w, h) = (width as f32, height as f32);
        BoxF {
            x0: self.x0.clamp(0.0, w),
            y0: self.y0.clamp(0.0, h),
            x1: self.x1.clamp(0.0, w),
            y1: self.y1.clamp(0.0, h),
        }
    }

    /// Intersection over the smaller box's area (a box inside another
    /// overlaps it fully).
    pub fn overlap(&self, other: &BoxF) -> f32 {
        let w = (self.x1.min(other.x1) - self.x0.max(other.x0)).max(0.0);
        let h = (self.y1.min(other.y1) - self.y0.max(other.y0)).max(0.0);
        let smaller = self.area().min(other.area());
        if smaller > 0.0 { w * h / smaller } else { 0.0 }
    }
}
