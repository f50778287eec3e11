//! Mask edges that follow the photo: a colour guided filter (He, Sun and
//! Tang, 2013) run with the photo as the guide. Within each window the
//! refined mask is a linear function of the photo's colour, so an edge the
//! coarse mask only roughly places snaps to the colour edge nearby: the
//! background beside a shoulder drops out, hair keeps its soft rim.
//!
//! The coefficients are solved at a working resolution of at most
//! [`WORK_SIDE`] pixels and interpolated back to the photo (the "fast"
//! guided filter), so time and memory stay bounded for any photo size.
use crate::resize::{U8, U8x3, bilinear};

/// The longer side the filter's coefficients are solved at (the
/// coefficients are window averages, smooth by construction, so solving
/// them at a quarter of a 2-megapixel photo's pixels loses nothing the
/// evaluation measures, and keeps the filter near 40 ms there).
pub const WORK_SIDE: u32 = 512;
/// The window radius at [`WORK_SIDE`] (scaled with smaller photos): 1/64
/// of the longer side. Measured on the labelled masks of `tests/data/eval`
/// (at 1024 px): radius 4 → 16 and ε 1e-4 → 1e-2 all help; 16 with 1e-3
/// helped most.
pub const RADIUS: u32 = 8;
/// Regularisation: larger keeps the coarse mask, smaller follows colour
/// (colours in 0..1).
pub const EPSILON: f32 = 1e-3;

/// `alpha` (one byte per pixel of a `width`×`height` photo) refined along
/// the colour edges of `rgb`.
pub fn refine_mask(rgb: &[u8], width: u32, height: u32, alpha: &[u8]) -> Vec<u8> {
    let n = (width as usize) * (height as usize);
    if n == 0 || rgb.len() < n * 3 || alpha.len() < n {
        return alpha.to_vec();
    }
    let k = (WORK_SIDE as f32 / width.max(height) as f32).min(1.0);
    let (ww, wh) = (
        ((width as f32 * k).round() as u32).max(1),
        ((height as f32 * k).round() as u32).max(1),
    );
    let radius = ((RADIUS as f32 * ww.max(wh) as f32 / WORK_SIDE as f32).round() as usize).max(2);
    let small_rgb = resize::<U8x3>(rgb, width, height, ww, wh);
    let small_alpha = resize::<U8>(alpha, width, height, ww, wh);
    let (w, h) = (ww as usize, wh as usize);
    let plane = |c: usize| -> Vec<f32> {
        small_rgb
            .chunks_exact(3)
            .map(|px| f32::from(px[c]) / 255.0)
            .collect()
    };
    let guide = [plane(0), plane(1), plane(2)];
    let p: Vec<f32> = small_alpha.iter().map(|&a| f32::from(a) / 255.0).collect();
    let mean = |v: &[f32]| box_mean(v, w, h, radius);
    let product =
        |a: &[f32], b: &[f32]| -> Vec<f32> { a.iter().zip(b).map(|(x, y)| x * y).collect() };

    let mean_i = [mean(&guide[0]), mean(&guide[1]), mean(&guide[2])];
    let mean_p = mean(&p);
    let mut cov_ip: Vec<Vec<f32>> = Vec::with_capacity(3);
    for c in 0..3 {
        let mut m = mean(&product(&guide[c], &p));
        for (v, (mi, mp)) in m.iter_mut().zip(mean_i[c].iter().zip(&mean_p)) {
            *v -= mi * mp;
        }
        cov_ip.push(m);
    }
    // The guide's covariance: rr, rg, rb, gg, gb, bb.
    let pairs = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)];
    let mut var: Vec<Vec<f32>> = Vec::with_capacity(6);
    for (i, j) in pairs {
        let mut m = mean(&product(&guide[i], &guide[j]));
        for (v, (a, b)) in m.iter_mut().zip(mean_i[i].iter().zip(&mean_i[j])) {
            *v -= a * b;
        }
        var.push(m);
    }
    let mut a = [vec![0f32; w * h], vec![0f32; w * h], vec![0f32; w * h]];
    let mut b = vec![0f32; w * h];
    for px in 0..w * h {
        let (rr, rg, rb) = (var[0][px] + EPSILON, var[1][px], var[2][px]);
        let (gg, gb, bb) = (var[3][px] + EPSILON, var[4][px], var[5][px] + EPSILON);
        // The symmetric 3×3 inverse by cofactors.
        let (c00, c01, c02) = (gg * bb - gb * gb, gb * rb - rg * bb, rg * gb - gg * rb);
        let (c11, c12, c22) = (rr * bb - rb * rb, rg * rb - rr * gb, rr * gg - rg * rg);
        let det = rr * c00 + rg * c01 + rb * c02;
        let (x, y, z) = (cov_ip[0][px], cov_ip[1][px], cov_ip[2][px]);
        let (ar, ag, ab) = if det.abs() > 1e-12 {
            (
                (c00 * x + c01 * y + c02 * z) / det,
                (c01 * x + c11 * y + c12 * z) / det,
                (c02 * x + c12 * y + c22 * z) / det,
            )
        } else {
            (0.0, 0.0, 0.0)
        };
        a[0][px] = ar;
        a[1][px] = ag;
        a[2][px] = ab;
        b[px] = mean_p[px] - ar * mean_i[0][px] - ag * mean_i[1][px] - ab * mean_i[2][px];
    }
    let mean_a = [mean(&a[0]), mean(&a[1]), mean(&a[2])];
    let mean_b = mean(&b);

    // Back at the photo's resolution: q = ā·I + b̄, the coefficients
    // sampled bilinearly from the working grid (rows interpolated once per
    // photo row, columns by precomputed neighbours and weights).
    let (sx, sy) = (ww as f32 / width as f32, wh as f32 / height as f32);
    let columns: Vec<(usize, usize, f32)> = (0..width as usize)
        .map(|x| {
            let fx = ((x as f32 + 0.5) * sx - 0.5).clamp(0.0, (w - 1) as f32);
            let x0 = fx.floor() as usize;
            (x0, (x0 + 1).min(w - 1), fx - x0 as f32)
        })
        .collect();
    let planes = [&mean_a[0], &mean_a[1], &mean_a[2], &mean_b];
    let mut row = [vec![0f32; w], vec![0f32; w], vec![0f32; w], vec![0f32; w]];
    let mut out = vec![0u8; n];
    for y in 0..height as usize {
        let fy = ((y as f32 + 0.5) * sy - 0.5).clamp(0.0, (h - 1) as f32);
        let y0 = fy.floor() as usize;
        let (y1, ty) = ((y0 + 1).min(h - 1), fy - y0 as f32);
        for (dst, src) in row.iter_mut().zip(planes) {
            let (top, bottom) = (&src[y0 * w..(y0 + 1) * w], &src[y1 * w..(y1 + 1) * w]);
            for ((d, &t), &b) in dst.iter_mut().zip(top).zip(bottom) {
                *d = t + (b - t) * ty;
            }
        }
        let line = &rgb[y * width as usize * 3..(y + 1) * width as usize * 3];
        let dst = &mut out[y * width as usize..(y + 1) * width as usize];
        for ((o, px), &(x0, x1, tx)) in dst.iter_mut().zip(line.chunks_exact(3)).zip(&columns) {
            let at = |v: &[f32]| v[x0] + (v[x1] - v[x0]) * tx;
            let q = (at(&row[0]) * f32::from(px[0])
                + at(&row[1]) * f32::from(px[1])
                + at(&row[2]) * f32::from(px[2]))
                / 255.0
                + at(&row[3]);
            *o = (q.clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    }
    out
}

/// The coarse mask's value at or above which a pixel is its confident core
/// (0.8). The pose model's mask is near 1 over the body and drops through
/// 0.5–0.7 where it guesses: hair it imagines on a bald head, backdrop
/// between an arm and the chest.
pub const CORE: u8 = 204;

/// `refined` cut back to what lies within half the filter's window of the
/// coarse mask's confident core ([`CORE`]): the filter may move an edge that
/// far, but it may not grow the mask over a region the coarse mask was only
/// half sure of and whose colours happen to fit (measured on the avatar
/// benchmark's cluttered backdrops: foliage beside a side view's chest,
/// imagined hair beside a neck). For measuring a body, where a wide mask is
/// a wrong girth; a cut-out keeps [`refine_mask`]'s softer rule.
pub fn keep_near_core(refined: &mut [u8], coarse: &[u8], width: u32, height: u32) {
    let (w, h) = (width as usize, height as usize);
    if refined.len() < w * h || coarse.len() < w * h || w * h == 0 {
        return;
    }
    // The filter's window radius at the photo's resolution, halved.
    let r = (RADIUS as f32 * width.max(height) as f32 / WORK_SIDE as f32 / 2.0)
        .round()
        .max(2.0) as usize;
    let core: Vec<bool> = coarse[..w * h].iter().map(|&a| a >= CORE).collect();
    let near = dilate(&dilate_rows(&core, w, h, r), w, h, r);
    for (a, keep) in refined.iter_mut().zip(near) {
        if !keep {
            *a = 0;
        }
    }
}

/// Each row's set pixels widened by `r` on either side (a running count).
fn dilate_rows(src: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    let mut out = vec![false; w * h];
    for (line, dst) in src.chunks_exact(w).zip(out.chunks_exact_mut(w)) {
        let mut count = line[..r.min(w)].iter().filter(|&&b| b).count();
        for x in 0..w {
            if x + r < w && line[x + r] {
                count += 1;
            }
            if x > r && line[x - r - 1] {
                count -= 1;
            }
            dst[x] = count > 0;
        }
    }
    out
}

/// Each column's set pixels widened by `r` up and down.
fn dilate(src: &[bool], w: usize, h: usize, r: usize) -> Vec<bool> {
    let mut out = vec![false; w * h];
    let mut count = vec![0usize; w];
    for y in 0..r.min(h) {
        for (c, &b) in count.iter_mut().zip(&src[y * w..(y + 1) * w]) {
            *c += usize::from(b);
        }
    }
    for y in 0..h {
        if y + r < h {
            for (c, &b) in count.iter_mut().zip(&src[(y + r) * w..(y + r + 1) * w]) {
                *c += usize::from(b);
            }
        }
        if y > r {
            for (c, &b) in count.iter_mut().zip(&src[(y - r - 1) * w..(y - r) * w]) {
                *c -= usize::from(b);
            }
        }
        for (o, &c) in out[y * w..(y + 1) * w].iter_mut().zip(&count) {
            *o = c > 0;
        }
    }
    out
}

fn resize<P: fast_image_resize::PixelTrait>(
    src: &[u8],
    w: u32,
    h: u32,
    dw: u32,
    dh: u32,
) -> Vec<u8> {
    if (w, h) == (dw, dh) {
        return src.to_vec();
    }
    bilinear::<P>(src, (w, h), (dw, dh), None)
}

/// The mean over each pixel's (2r+1)² window, clipped at the borders
/// (divided by the pixels inside): a sliding sum along each row, then
/// running column sums down the rows, O(1) per pixel whatever the radius and
/// in memory order.
pub fn box_mean(src: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut rows = vec![0f32; w * h];
    for (line, out) in src.chunks_exact(w).zip(rows.chunks_exact_mut(w)) {
        let mut sum: f64 = line[..(r + 1).min(w)].iter().map(|&v| f64::from(v)).sum();
        for x in 0..w {
            let (lo, hi) = (x.saturating_sub(r), (x + r + 1).min(w));
            out[x] = (sum / (hi - lo) as f64) as f32;
            if x + r + 1 < w {
                sum += f64::from(line[x + r + 1]);
            }
            if x >= r {
                sum -= f64::from(line[x - r]);
            }
        }
    }
    let mut out = vec![0f32; w * h];
    let mut acc = vec![0f64; w];
    for row in rows.chunks_exact(w).take(r + 1) {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a += f64::from(v);
        }
    }
    for y in 0..h {
        let n = ((y + r + 1).min(h) - y.saturating_sub(r)) as f64;
        for (o, a) in out[y * w..(y + 1) * w].iter_mut().zip(&acc) {
            *o = (a / n) as f32;
        }
        if y + r + 1 < h {
            for (a, &v) in acc.iter_mut().zip(&rows[(y + r + 1) * w..(y + r + 2) * w]) {
                *a += f64::from(v);
            }
        }
        if y >= r {
            for (a, &v) in acc.iter_mut().zip(&rows[(y - r) * w..(y - r + 1) * w]) {
                *a -= f64::from(v);
            }
        }
    }
    out
}
