//! Real files in, expected outcome out; and the crate's behaviour through
//! its public interface (tests here link the optimised library instead of
//! building it a second time for unit tests: a minute of every fresh build).
use std::io::Cursor;

use atelier_jobs::ErrorCode;
use atelier_media::{
    Corner, IngestOptions, Logo, MediaError, PhotoFormat, Sheet, ingest, sheet_pdf, sniff,
    text_logo,
};

fn read(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn malformed_files_end_in_their_documented_codes() {
    let cases = [
        ("tests/data/bad/empty.jpg", ErrorCode::ImageCorrupt),
        ("tests/data/bad/truncated.jpg", ErrorCode::ImageCorrupt),
        ("tests/data/bad/bomb.png", ErrorCode::ImageTooLarge),
        (
            "tests/data/bad/animation.gif",
            ErrorCode::ImageUnsupportedFormat,
        ),
        (
            "tests/data/bad/random.jpg",
            ErrorCode::ImageUnsupportedFormat,
        ),
    ];
    for (path, code) in cases {
        let err = ingest(&read(path), &IngestOptions::default()).unwrap_err();
        assert_eq!(err.code(), code, "{path}: {err}");
    }
}

#[test]
fn exif_is_read_orientation_applied_and_nothing_copied() {
    let photo = ingest(
        &read("tests/data/bad/gps-orientation6.jpg"),
        &IngestOptions::default(),
    )
    .unwrap();
    assert_eq!(photo.format, PhotoFormat::Jpeg);
    assert_eq!(photo.exif.make.as_deref(), Some("AtelierCam"));
    assert_eq!(photo.exif.model.as_deref(), Some("Model 7"));
    assert_eq!(photo.exif.datetime.as_deref(), Some("2024:05:17 10:42:00"));
    assert_eq!(photo.exif.orientation, Some(6));
    assert!(photo.exif.had_gps);
    // 450×655 stored, orientation 6: displayed rotated to 655×450.
    assert_eq!((photo.width, photo.height), (655, 450));
    for r in photo.variants.iter().chain([&photo.thumbnail]) {
        let found = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(&r.bytes));
        assert!(found.is_err(), "{} {}px carries EXIF", r.format, r.width);
        let decoded = image::load_from_memory(&r.bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (r.width, r.height));
    }
    let widest = &photo.variants[0];
    assert_eq!((widest.width, widest.height), (512, 352));
}

#[test]
fn sample_photos_ingest() {
    let png = ingest(&read("samples/astronaut.png"), &IngestOptions::default()).unwrap();
    assert_eq!(
        (png.format, png.width, png.height),
        (PhotoFormat::Png, 512, 512)
    );
    assert_eq!(png.variants.len(), 4);
    assert!(!png.exif.had_gps);
}

fn refused(bytes: &[u8]) -> &'static str {
    match sniff(bytes) {
        Err(MediaError::UnsupportedFormat { detected }) => detected,
        other => panic!("expected refusal, got {other:?}"),
    }
}

#[test]
fn formats_are_told_by_their_magic_bytes_and_refusals_name_them() {
    assert_eq!(
        sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]).unwrap(),
        PhotoFormat::Jpeg
    );
    assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0").unwrap(), PhotoFormat::Png);
    assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 ").unwrap(), PhotoFormat::Webp);
    assert_eq!(refused(b"GIF89a\x01\0\x01\0"), "gif");
    assert_eq!(refused(b"\0\0\0\x18ftypheic\0\0\0\0"), "heic");
    assert_eq!(refused(b"\0\0\0\x1cftypavif\0\0\0\0"), "avif");
    assert_eq!(refused(b"II*\0\x08\0\0\0"), "tiff");
    assert_eq!(
        refused(b"  <svg xmlns='http://www.w3.org/2000/svg'/>"),
        "svg"
    );
    assert_eq!(refused(b"<?xml version='1.0'?><svg/>"), "svg");
    assert_eq!(refused(b"\x13\x37random bytes"), "unknown");
    assert!(matches!(sniff(b""), Err(MediaError::Corrupt(_))));
}

#[test]
fn a_jpeg_without_its_end_is_corrupt() {
    let whole = read("samples/franz-kafka.jpg");
    assert!(ingest(&whole, &IngestOptions::default()).is_ok());
    let cut = &whole[..whole.len() - 2];
    let err = ingest(cut, &IngestOptions::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ImageCorrupt, "{err}");
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[test]
fn variants_are_never_upscaled_and_the_thumbnail_is_square() {
    let photo = ingest(&png(600, 400), &IngestOptions::default()).unwrap();
    assert_eq!((photo.width, photo.height), (600, 400));
    let sizes: Vec<(&str, u32, u32)> = photo
        .variants
        .iter()
        .map(|v| (v.format, v.width, v.height))
        .collect();
    assert_eq!(
        sizes,
        [
            ("webp", 512, 341),
            ("jpeg", 512, 341),
            ("webp", 256, 171),
            ("jpeg", 256, 171)
        ]
    );
    assert_eq!((photo.thumbnail.width, photo.thumbnail.height), (256, 256));
    for v in &photo.variants {
        let decoded = image::load_from_memory(&v.bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (v.width, v.height));
    }
    // Narrower than every configured width: one variant at its own width,
    // and a height of at least a pixel however flat.
    let small = ingest(&png(100, 80), &IngestOptions::default()).unwrap();
    let widths: Vec<u32> = small.variants.iter().map(|v| v.width).collect();
    assert_eq!(widths, [100, 100]);
    let opts = IngestOptions {
        widths: vec![256],
        ..IngestOptions::default()
    };
    let flat = ingest(&png(1000, 1), &opts).unwrap();
    assert_eq!((flat.variants[0].width, flat.variants[0].height), (256, 1));
}

#[test]
fn pixel_and_byte_bounds_apply_before_decoding() {
    let opts = IngestOptions {
        max_pixels: 1000,
        ..IngestOptions::default()
    };
    let err = ingest(&png(40, 30), &opts).unwrap_err();
    assert!(matches!(
        err,
        MediaError::TooLarge {
            width: 40,
            height: 30,
            ..
        }
    ));
    let opts = IngestOptions {
        max_bytes: 10,
        ..IngestOptions::default()
    };
    assert!(matches!(
        ingest(&png(4, 4), &opts),
        Err(MediaError::TooManyBytes { .. })
    ));
}

#[test]
fn a_logo_lands_in_its_corner_at_its_opacity() {
    let logo = Logo {
        width: 2,
        height: 2,
        rgba: [255, 0, 0, 255].repeat(4),
    };
    let (w, h) = (100, 50);
    let mut frame = vec![255u8; (w * h * 4) as usize];
    logo.overlay(&mut frame, w, h, Corner::BottomRight, 0.5);
    let at = |x: u32, y: u32| &frame[((y * w + x) * 4) as usize..((y * w + x) * 4 + 4) as usize];
    // margin 3 px: the logo covers x 95..97, y 45..47.
    assert_eq!(at(95, 45), [255, 128, 128, 255]);
    assert_eq!(at(10, 10), [255, 255, 255, 255]);
}

#[test]
fn a_sheet_escapes_its_strings_and_stays_latin1() {
    let pdf = sheet_pdf(&Sheet {
        title: "a(b)\\c".into(),
        subtitle: "é✓".into(),
        images: Vec::new(),
        lines: Vec::new(),
        swatches: Vec::new(),
    });
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("(a\\(b\\)\\\\c)"), "{text}");
    assert!(text.contains("(\\351?)"), "{text}");
}

#[test]
fn text_is_drawn_at_the_asked_width_in_its_colour() {
    let logo = text_logo("atelier", 200, [255, 255, 255]);
    assert!((190..=215).contains(&logo.width), "{}", logo.width);
    let opaque_white = logo
        .rgba
        .chunks_exact(4)
        .filter(|p| p[3] == 255 && p[0] == 255)
        .count();
    assert!(opaque_white > 200, "glyphs drawn: {opaque_white}");
    let empty = text_logo("", 100, [0, 0, 0]);
    assert!(empty.rgba.iter().all(|&b| b == 0));
}
