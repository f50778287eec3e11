//! Bilinear resizing with `fast_image_resize`, typed by pixel: only the
//! pixel types used here are compiled. (Its untyped `Resizer::resize`
//! dispatches over all thirteen pixel types it knows, each with every SIMD
//! path: at `opt-level = 3` that code cost minutes of build and was never
//! run. Measured in benches/README.md, "Build time".)
use fast_image_resize::images::{TypedImage, TypedImageRef};
use fast_image_resize::{FilterType, PixelTrait, ResizeAlg, ResizeOptions, Resizer};

pub(crate) use fast_image_resize::pixels::{U8, U8x3};

/// A source region in pixels: x, y, width, height.
pub(crate) type Crop = (f64, f64, f64, f64);

/// `src` (`w`×`h` pixels of `P`, as bytes) resized bilinearly to `dw`×`dh`:
/// the whole image, or the `crop` of it.
pub(crate) fn bilinear<P: PixelTrait>(
    src: &[u8],
    (w, h): (u32, u32),
    (dw, dh): (u32, u32),
    crop: Option<Crop>,
) -> Vec<u8> {
    let from = TypedImageRef::<P>::from_buffer(w, h, src).expect("buffer matches its size");
    let mut out = vec![0u8; dw as usize * dh as usize * P::size()];
    let mut to = TypedImage::<P>::from_buffer(dw, dh, &mut out).expect("buffer matches its size");
    let mut options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    if let Some((x, y, cw, ch)) = crop {
        options = options.crop(x, y, cw, ch);
    }
    Resizer::new()
        .resize_typed(&from, &mut to, &options)
        .expect("the crop lies within the source");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_image_stays_flat_at_any_size_and_a_crop_picks_its_region() {
        let grey = vec![77u8; 10 * 6 * 3];
        let out = bilinear::<U8x3>(&grey, (10, 6), (4, 3), None);
        assert_eq!(out, vec![77u8; 4 * 3 * 3]);
        // Black on the left, white from column 8: a crop well inside the
        // white is white, the whole is black on the left and white on the
        // right.
        let image: Vec<u8> = (0..16 * 4)
            .map(|i| if i % 16 < 8 { 0 } else { 255 })
            .collect();
        let white = bilinear::<U8>(&image, (16, 4), (2, 2), Some((11.0, 0.0, 4.0, 4.0)));
        assert_eq!(white, vec![255u8; 4]);
        let whole = bilinear::<U8>(&image, (16, 4), (4, 1), None);
        assert!(whole[0] == 0 && whole[3] == 255, "{whole:?}");
    }
}
