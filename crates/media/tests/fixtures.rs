//! Real files in, expected outcome out.
use atelier_jobs::ErrorCode;
use atelier_media::{IngestOptions, PhotoFormat, ingest};

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
