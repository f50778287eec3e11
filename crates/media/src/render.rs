use std::io::Cursor;

use atelier_jobs::ExifFacts;
use fast_image_resize::images::{TypedImage, TypedImageRef};
use fast_image_resize::pixels::{U8x3, U8x4};
use fast_image_resize::{FilterType, PixelTrait, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, metadata::Orientation};

use crate::format::{PhotoFormat, jpeg_is_truncated, sniff};
use crate::{MediaError, exif};

/// Bounds and renditions of an ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub max_bytes: u64,
    pub max_pixels: u64,
    pub max_dimension: u32,
    /// Variant widths; widths above the photo's own are skipped (never upscaled).
    pub widths: Vec<u32>,
    pub thumbnail_size: u32,
    pub jpeg_quality: u8,
    pub webp_quality: u8,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            max_bytes: 25 * 1024 * 1024,
            max_pixels: 50_000_000,
            max_dimension: 16_384,
            widths: vec![256, 512, 1024, 2048],
            thumbnail_size: 256,
            jpeg_quality: 85,
            webp_quality: 80,
        }
    }
}

/// One encoded output image.
#[derive(Debug, Clone)]
pub struct Rendition {
    /// `jpeg` or `webp`.
    pub format: &'static str,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct IngestedPhoto {
    pub format: PhotoFormat,
    /// Size as displayed, after EXIF orientation.
    pub width: u32,
    pub height: u32,
    pub exif: ExifFacts,
    /// WebP and JPEG per width, widest first.
    pub variants: Vec<Rendition>,
    /// Square JPEG, centre crop.
    pub thumbnail: Rendition,
}

/// Validate and render a photo. Bounds are checked from the header before
/// any pixel is decoded, so a decompression bomb costs nothing.
pub fn ingest(bytes: &[u8], opts: &IngestOptions) -> Result<IngestedPhoto, MediaError> {
    let (format, exif, image) = decode_checked(bytes, opts)?;
    let image = normalise(image);
    let full = Pixels {
        width: image.width(),
        height: image.height(),
        alpha: image.color().has_alpha(),
        data: image.into_bytes(),
    };

    // Widest first, each resized from the smallest rendition at least twice
    // its size: a 24-megapixel photo is read once, not once per width.
    let mut rendered: Vec<Pixels> = Vec::new();
    let mut variants = Vec::new();
    for w in variant_widths(&opts.widths, full.width) {
        let h = scaled_height(full.width, full.height, w);
        let source = rendered
            .iter()
            .rev()
            .find(|p| p.width >= 2 * w)
            .unwrap_or(&full);
        let pixels = resize(source, w, h, false)?;
        variants.push(encode_webp(&pixels, opts.webp_quality));
        variants.push(encode_jpeg(&pixels, opts.jpeg_quality)?);
        rendered.push(pixels);
    }
    let side = opts.thumbnail_size.min(full.width).min(full.height);
    let source = rendered
        .iter()
        .rev()
        .find(|p| p.width.min(p.height) >= 2 * side)
        .unwrap_or(&full);
    let thumbnail = encode_jpeg(&resize(source, side, side, true)?, opts.jpeg_quality)?;

    Ok(IngestedPhoto {
        format,
        width: full.width,
        height: full.height,
        exif,
        variants,
        thumbnail,
    })
}

/// Sniff, bound, check and decode, orientation applied.
fn decode_checked(
    bytes: &[u8],
    opts: &IngestOptions,
) -> Result<(PhotoFormat, ExifFacts, DynamicImage), MediaError> {
    if bytes.len() as u64 > opts.max_bytes {
        return Err(MediaError::TooManyBytes {
            bytes: bytes.len() as u64,
            max_bytes: opts.max_bytes,
        });
    }
    let format = sniff(bytes)?;
    let reader = || ImageReader::with_format(Cursor::new(bytes), format.image_format());
    let (width, height) = reader()
        .into_dimensions()
        .map_err(|e| MediaError::Corrupt(e.to_string()))?;
    let too_large = u64::from(width) * u64::from(height) > opts.max_pixels
        || width > opts.max_dimension
        || height > opts.max_dimension;
    if too_large {
        return Err(MediaError::TooLarge {
            width,
            height,
            max_pixels: opts.max_pixels,
            max_dimension: opts.max_dimension,
        });
    }
    if width == 0 || height == 0 {
        return Err(MediaError::Corrupt(format!("image is {width}x{height}")));
    }
    if format == PhotoFormat::Jpeg && jpeg_is_truncated(bytes) {
        return Err(MediaError::Corrupt(
            "jpeg data ends before its end-of-image marker".into(),
        ));
    }
    let exif = exif::read_facts(bytes);
    let image = decode(reader(), width, height, &exif)?;
    Ok((format, exif, image))
}

/// A photo decoded for a model: 8-bit RGB, orientation applied.
#[derive(Debug, Clone)]
pub struct RgbPhoto {
    pub width: u32,
    pub height: u32,
    /// `width × height × 3` bytes, row by row.
    pub data: Vec<u8>,
}

/// Decode a photo for the vision models, with the same format, bounds and
/// corruption checks as [`ingest`].
pub fn decode_rgb(bytes: &[u8], opts: &IngestOptions) -> Result<RgbPhoto, MediaError> {
    let (_, _, image) = decode_checked(bytes, opts)?;
    let rgb = image.into_rgb8();
    Ok(RgbPhoto {
        width: rgb.width(),
        height: rgb.height(),
        data: rgb.into_raw(),
    })
}

fn decode(
    reader: ImageReader<Cursor<&[u8]>>,
    width: u32,
    height: u32,
    exif: &ExifFacts,
) -> Result<DynamicImage, MediaError> {
    let mut reader = reader;
    let mut limits = Limits::default();
    // Room for the declared size at 16 bits × 4 channels, and no more.
    limits.max_alloc = Some(u64::from(width) * u64::from(height) * 8 + (64 << 20));
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    reader.limits(limits);
    let decoder = reader
        .into_decoder()
        .map_err(|e| MediaError::Corrupt(e.to_string()))?;
    let (w, h) = decoder.dimensions();
    if (w, h) != (width, height) {
        return Err(MediaError::Corrupt(
            "header dimensions changed while decoding".into(),
        ));
    }
    let mut image =
        DynamicImage::from_decoder(decoder).map_err(|e| MediaError::Corrupt(e.to_string()))?;
    if let Some(o) = exif
        .orientation
        .and_then(|o| Orientation::from_exif(o as u8))
    {
        image.apply_orientation(o);
    }
    Ok(image)
}

/// 8-bit RGB, or RGBA when the photo has transparency.
fn normalise(image: DynamicImage) -> DynamicImage {
    if image.color().has_alpha() {
        DynamicImage::ImageRgba8(image.into_rgba8())
    } else {
        DynamicImage::ImageRgb8(image.into_rgb8())
    }
}

fn variant_widths(widths: &[u32], source: u32) -> Vec<u32> {
    let mut out: Vec<u32> = widths.iter().copied().filter(|&w| w <= source).collect();
    if out.is_empty() {
        out.push(source);
    }
    out.sort_unstable_by(|a, b| b.cmp(a));
    out.dedup();
    out
}

fn scaled_height(w: u32, h: u32, target_w: u32) -> u32 {
    ((f64::from(h) * f64::from(target_w) / f64::from(w)).round() as u32).max(1)
}

/// Decoded or resized pixels, 8-bit RGB or RGBA.
struct Pixels {
    width: u32,
    height: u32,
    alpha: bool,
    data: Vec<u8>,
}

fn resize(source: &Pixels, w: u32, h: u32, crop_to_fit: bool) -> Result<Pixels, MediaError> {
    let data = if source.alpha {
        resize_typed::<U8x4>(source, w, h, crop_to_fit)?
    } else {
        resize_typed::<U8x3>(source, w, h, crop_to_fit)?
    };
    Ok(Pixels {
        width: w,
        height: h,
        alpha: source.alpha,
        data,
    })
}

/// Lanczos3 through `fast_image_resize`, typed by pixel so only the two
/// pixel types photos have are compiled (its untyped `Resizer::resize`
/// instantiates all thirteen: minutes of build at `opt-level = 3`).
fn resize_typed<P: PixelTrait>(
    source: &Pixels,
    w: u32,
    h: u32,
    crop_to_fit: bool,
) -> Result<Vec<u8>, MediaError> {
    let corrupt = |e: &dyn std::fmt::Display| MediaError::Corrupt(e.to_string());
    let src = TypedImageRef::<P>::from_buffer(source.width, source.height, &source.data)
        .map_err(|e| corrupt(&e))?;
    let mut data = vec![0u8; w as usize * h as usize * P::size()];
    let mut dst = TypedImage::<P>::from_buffer(w, h, &mut data).map_err(|e| corrupt(&e))?;
    let mut options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    if crop_to_fit {
        options = options.fit_into_destination(Some((0.5, 0.5)));
    }
    Resizer::new()
        .resize_typed(&src, &mut dst, &options)
        .map_err(|e| corrupt(&e))?;
    Ok(data)
}

fn encode_webp(p: &Pixels, quality: u8) -> Rendition {
    let encoder = if p.alpha {
        webp::Encoder::from_rgba(&p.data, p.width, p.height)
    } else {
        webp::Encoder::from_rgb(&p.data, p.width, p.height)
    };
    Rendition {
        format: "webp",
        width: p.width,
        height: p.height,
        bytes: encoder.encode(f32::from(quality)).to_vec(),
    }
}

fn encode_jpeg(p: &Pixels, quality: u8) -> Result<Rendition, MediaError> {
    // JPEG has no alpha: composite transparent photos onto white.
    let rgb: std::borrow::Cow<[u8]> = if p.alpha {
        std::borrow::Cow::Owned(
            p.data
                .chunks_exact(4)
                .flat_map(|px| {
                    let a = u16::from(px[3]);
                    let mix = move |c: u8| ((u16::from(c) * a + 255 * (255 - a)) / 255) as u8;
                    [mix(px[0]), mix(px[1]), mix(px[2])]
                })
                .collect(),
        )
    } else {
        std::borrow::Cow::Borrowed(&p.data)
    };
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode(&rgb, p.width, p.height, image::ExtendedColorType::Rgb8)
        .map_err(|e| MediaError::Corrupt(e.to_string()))?;
    Ok(Rendition {
        format: "jpeg",
        width: p.width,
        height: p.height,
        bytes: out,
    })
}

/// Encode RGBA pixels as lossy WebP (alpha kept) at `quality` 0–100.
pub fn encode_webp_rgba(width: u32, height: u32, rgba: &[u8], quality: u8) -> Vec<u8> {
    webp::Encoder::from_rgba(rgba, width, height)
        .encode(f32::from(quality.min(100)))
        .to_vec()
}

/// Encode 8-bit pixels as PNG: one channel is grey, four are RGBA.
pub fn encode_png(width: u32, height: u32, pixels: &[u8], channels: u8) -> Vec<u8> {
    use image::ImageEncoder;
    let colour = match channels {
        1 => image::ExtendedColorType::L8,
        3 => image::ExtendedColorType::Rgb8,
        _ => image::ExtendedColorType::Rgba8,
    };
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(pixels, width, height, colour)
        .expect("the buffer matches its size");
    out
}
