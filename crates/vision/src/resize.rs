//! Bilinear resizing with `fast_image_resize`, typed by pixel: only the
//! pixel types used here are compiled. (Its untyped `Resizer::resize`
//! dispatches over all thirteen pixel types it knows, each with every SIMD
//! path: at `opt-level = 3` that code cost minutes of build and was never
//! run. Measured in benches/README.md, "Build time".)
use fast_image_resize::images::{TypedImage, TypedImageRef};
use fast_image_resize::{FilterType, PixelTrait, ResizeAlg, ResizeOptions, Resizer};

pub use fast_image_resize::pixels::{U8, U8x3};

/// A source region in pixels: x, y, width, height.
pub type Crop = (f64, f64, f64, f64);

/// `src` (`w`×`h` pixels of `P`, as bytes) resized bilinearly to `dw`×`dh`:
/// the whole image, or the `crop` of it.
pub fn bilinear<P: PixelTrait>(
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
