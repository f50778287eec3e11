//! A view's silhouette: the person's mask cleaned of specks, the rows they
//! span (head to floor), the scale those give, and the body's axis, with
//! the widths and heights the measurements read from it.
use super::corrections::{HEEL_HEIGHT, INSIDE, MIN_PERSON_PX};
use super::{PhotoError, View, mid};

/// A view's silhouette: the person's rows, the scale and the body's axis.
pub(super) struct Silhouette<'a> {
    pub(super) view: View<'a>,
    /// The mask without specks (see [`clean`]).
    alpha: Vec<u8>,
    pub(super) top: usize,
    pub(super) bottom: usize,
    /// Metres per pixel: the stated height over the silhouette's height.
    pub(super) scale: f32,
    /// The shoulder and hip keypoints' midpoints.
    pub(super) shoulders: [f32; 2],
    pub(super) hips: [f32; 2],
}

impl<'a> Silhouette<'a> {
    pub(super) fn new(view: View<'a>, stated: f32, which: &str) -> Result<Self, PhotoError> {
        let (w, h) = (view.width as usize, view.height as usize);
        if view.alpha.len() != w * h || w < 8 || h < 32 {
            return Err(PhotoError::Unreadable(format!(
                "the {which} photo's mask is unusable"
            )));
        }
        // Specks a textured backdrop leaves around the body (the guided
        // filter follows the backdrop's edges too) would widen the runs:
        // opened away, about 0.25 % of the photo's height across.
        let alpha = clean(view.alpha, w, h, (h / 400).max(1));
        let row_has = |y: usize| alpha[y * w..(y + 1) * w].iter().any(|&a| a >= INSIDE);
        let Some(top) = (0..h).find(|&y| row_has(y)) else {
            return Err(PhotoError::Unreadable(format!(
                "the {which} photo's mask is empty"
            )));
        };
        let bottom = (0..h).rev().find(|&y| row_has(y)).unwrap_or(top);
        let l = view.landmarks;
        if top <= 1 || l.nose.is_none() {
            return Err(PhotoError::Cropped(format!(
                "the {which} photo cuts off the head: the whole body, head to feet, must be in the photo"
            )));
        }
        if bottom + 2 >= h || (l.ankles[0].is_none() && l.ankles[1].is_none()) {
            return Err(PhotoError::Cropped(format!(
                "the {which} photo cuts off the feet: the whole body, head to feet, must be in the photo"
            )));
        }
        let (Some(shoulders), Some(hips)) = (
            mid(l.shoulders[0], l.shoulders[1]),
            mid(l.hips[0], l.hips[1]),
        ) else {
            return Err(PhotoError::Unreadable(format!(
                "the {which} photo shows no shoulders or hips to measure from"
            )));
        };
        // The floor under the body: the silhouette's lowest row is the toes,
        // which reach towards the camera and so sit lower in the photo than
        // the floor under the body's own plane; the heels are on that plane
        // (their keypoint sits about 1.5 % of the height above the floor).
        let bottom = match (l.heels[0], l.heels[1]) {
            (None, None) => bottom,
            (a, b) => {
                let heel = a
                    .map_or(f32::MIN, |p| p[1])
                    .max(b.map_or(f32::MIN, |p| p[1]));
                let floor = heel + HEEL_HEIGHT * (heel - top as f32);
                (floor.round().max(top as f32 + 1.0) as usize).min(bottom)
            }
        };
        let pixels = (bottom - top + 1) as f32;
        if pixels < MIN_PERSON_PX {
            return Err(PhotoError::Unreadable(format!(
                "the person in the {which} photo is {pixels:.0} px tall; at least {MIN_PERSON_PX} px are needed"
            )));
        }
        Ok(Silhouette {
            view,
            alpha,
            top,
            bottom,
            scale: stated / pixels,
            shoulders,
            hips,
        })
    }

    pub(super) fn pixels(&self) -> f32 {
        (self.bottom - self.top + 1) as f32
    }

    /// Height above the floor of a row's centre, metres.
    pub(super) fn height_of(&self, row: usize) -> f32 {
        (self.bottom as f32 + 0.5 - row as f32) * self.scale
    }

    /// The row at `metres` above the floor.
    fn row_at(&self, metres: f32) -> usize {
        let r = self.bottom as f32 + 0.5 - metres / self.scale;
        (r.round().max(self.top as f32) as usize).min(self.bottom)
    }

    /// The body's axis at `row`: from the hips' midpoint to the shoulders'.
    fn axis(&self, row: usize) -> f32 {
        let (s, h) = (self.shoulders, self.hips);
        let y = row as f32;
        if (h[1] - s[1]).abs() < 1.0 {
            return (s[0] + h[0]) / 2.0;
        }
        let t = ((y - s[1]) / (h[1] - s[1])).clamp(0.0, 1.0);
        s[0] + t * (h[0] - s[0])
    }

    /// The width in pixels of the run of `row` that holds (or is nearest to)
    /// `x`, soft edges counted by their alpha.
    fn run_width(&self, row: usize, x: f32) -> Option<f32> {
        let w = self.view.width as usize;
        let line = &self.alpha[row * w..(row + 1) * w];
        let mut best: Option<(f32, usize, usize)> = None;
        let mut i = 0;
        while i < w {
            if line[i] >= INSIDE {
                let start = i;
                while i < w && line[i] >= INSIDE {
                    i += 1;
                }
                let end = i - 1;
                let d = if (start as f32) <= x && x <= end as f32 + 1.0 {
                    0.0
                } else {
                    (start as f32 - x).abs().min((end as f32 + 1.0 - x).abs())
                };
                if best.is_none_or(|b| d < b.0) {
                    best = Some((d, start, end));
                }
            } else {
                i += 1;
            }
        }
        let (_, start, end) = best?;
        let soft = |k: Option<usize>| {
            k.and_then(|k| line.get(k))
                .map_or(0.0, |&a| f32::from(a) / 255.0)
        };
        Some((end - start + 1) as f32 + soft(start.checked_sub(1)) + soft(Some(end + 1)))
    }

    /// The run width averaged over three rows around the one at `metres`.
    pub(super) fn width_at(&self, metres: f32) -> Option<f32> {
        let row = self.row_at(metres);
        let rows = row.saturating_sub(1).max(self.top)..=(row + 1).min(self.bottom);
        let widths: Vec<f32> = rows
            .filter_map(|r| self.run_width(r, self.axis(r)))
            .collect();
        (!widths.is_empty()).then(|| widths.iter().sum::<f32>() / widths.len() as f32 * self.scale)
    }

    /// How soft the mask's edges are along the torso, 0 (crisp) to 1.
    pub(super) fn softness(&self) -> f32 {
        let w = self.view.width as usize;
        let (from, to) = (
            self.shoulders[1].max(0.0) as usize,
            self.hips[1].max(0.0) as usize,
        );
        let (mut soft, mut edge) = (0usize, 0usize);
        for row in from.max(self.top)..=to.min(self.bottom) {
            let line = &self.alpha[row * w..(row + 1) * w];
            for a in line {
                if (16..240).contains(a) {
                    soft += 1;
                }
            }
            edge += 4;
        }
        if edge == 0 {
            return 1.0;
        }
        (soft as f32 / edge as f32 / 4.0).min(1.0)
    }

    /// How far apart the shoulder keypoints are, as a share of the
    /// height: which way the photo faces.
    pub(super) fn shoulder_spread(&self) -> Option<f32> {
        let l = self.view.landmarks;
        match (l.shoulders[0], l.shoulders[1]) {
            (Some(a), Some(b)) => Some((a[0] - b[0]).abs() / self.pixels()),
            _ => None,
        }
    }

    /// Height above the floor of the shoulder keypoints, metres.
    pub(super) fn shoulder_height(&self) -> f32 {
        self.height_of(self.shoulders[1].round().max(0.0) as usize)
    }

    /// Height above the floor of the hip keypoints, metres.
    pub(super) fn hip_height(&self) -> f32 {
        self.height_of(self.hips[1].round().max(0.0) as usize)
    }

    /// The crotch: going up the axis from the ankles, the first row inside
    /// the mask (legs apart below it); metres above the floor.
    pub(super) fn crotch(&self) -> Option<f32> {
        let l = self.view.landmarks;
        let ankles = mid(l.ankles[0], l.ankles[1])?;
        let w = self.view.width as usize;
        let from = (ankles[1].max(0.0) as usize).min(self.bottom);
        let to = (self.hips[1].max(0.0) as usize).max(self.top);
        (to..=from).rev().find_map(|row| {
            let x = self.axis(row).round().clamp(0.0, (w - 1) as f32) as usize;
            (self.alpha[row * w + x] >= INSIDE).then(|| self.height_of(row))
        })
    }
}

/// `alpha` with what a morphological opening of its inside (a square of
/// side 2·`r` + 1) removes set to 0: specks and threads thinner than the
/// square go, the body and its soft edge (the pixels beside what stays)
/// remain.
fn clean(alpha: &[u8], w: usize, h: usize, r: usize) -> Vec<u8> {
    let inside: Vec<bool> = alpha.iter().map(|&a| a >= INSIDE).collect();
    let eroded = square(&inside, w, h, r, true);
    let opened = square(&eroded, w, h, r, false);
    let near = square(&opened, w, h, 1, false);
    alpha
        .iter()
        .zip(near)
        .map(|(&a, keep)| if keep { a } else { 0 })
        .collect()
}

/// Whether all (`all`) or any of the pixels within `r` (a square) are set:
/// a row pass then a column pass, each a running count.
fn square(src: &[bool], w: usize, h: usize, r: usize, all: bool) -> Vec<bool> {
    let line = |get: &dyn Fn(usize) -> bool, n: usize, put: &mut dyn FnMut(usize, bool)| {
        let mut count = 0usize;
        let window = |i: usize| (i.saturating_sub(r), (i + r).min(n - 1));
        for k in 0..=r.min(n - 1) {
            count += usize::from(get(k));
        }
        for i in 0..n {
            let (lo, hi) = window(i);
            if i > 0 {
                if hi > window(i - 1).1 {
                    count += usize::from(get(hi));
                }
                if lo > window(i - 1).0 {
                    count -= usize::from(get(lo - 1));
                }
            }
            put(i, if all { count == hi - lo + 1 } else { count > 0 });
        }
    };
    let mut rows = vec![false; src.len()];
    for y in 0..h {
        line(&|x| src[y * w + x], w, &mut |x, v| rows[y * w + x] = v);
    }
    let mut out = vec![false; src.len()];
    for x in 0..w {
        line(&|y| rows[y * w + x], h, &mut |y, v| out[y * w + x] = v);
    }
    out
}

#[cfg(test)]
mod clean_tests {
    use super::*;

    #[test]
    fn specks_go_and_the_body_with_its_soft_edge_stays() {
        let (w, h) = (40, 40);
        let mut alpha = vec![0u8; w * h];
        for y in 10..30 {
            for x in 10..30 {
                alpha[y * w + x] = 255;
            }
            alpha[y * w + 30] = 100; // the soft edge
        }
        alpha[5 * w + 5] = 255; // a speck
        alpha[5 * w + 6] = 200;
        let cleaned = clean(&alpha, w, h, 2);
        assert_eq!(cleaned[5 * w + 5], 0);
        assert_eq!(cleaned[5 * w + 6], 0);
        assert_eq!(cleaned[20 * w + 20], 255);
        assert_eq!(cleaned[10 * w + 10], 255, "corners survive an opening");
        assert_eq!(cleaned[20 * w + 30], 100, "the soft edge stays");
    }
}
