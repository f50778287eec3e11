use crate::MediaError;

/// Formats accepted for ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoFormat {
    Jpeg,
    Png,
    Webp,
}

impl PhotoFormat {
    pub fn name(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "jpeg",
            PhotoFormat::Png => "png",
            PhotoFormat::Webp => "webp",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "jpg",
            PhotoFormat::Png => "png",
            PhotoFormat::Webp => "webp",
        }
    }

    pub(crate) fn image_format(self) -> image::ImageFormat {
        match self {
            PhotoFormat::Jpeg => image::ImageFormat::Jpeg,
            PhotoFormat::Png => image::ImageFormat::Png,
            PhotoFormat::Webp => image::ImageFormat::WebP,
        }
    }
}

/// Identify the format from the bytes alone (names and declared content
/// types are not trusted).
pub fn sniff(bytes: &[u8]) -> Result<PhotoFormat, MediaError> {
    if bytes.is_empty() {
        return Err(MediaError::Corrupt("the file is empty".into()));
    }
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Ok(PhotoFormat::Jpeg);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Ok(PhotoFormat::Png);
    }
    if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Ok(PhotoFormat::Webp);
    }
    Err(MediaError::UnsupportedFormat {
        detected: refused_format(bytes),
    })
}

/// Name a format we refuse, for the error message.
fn refused_format(bytes: &[u8]) -> &'static str {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return "gif";
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return match &bytes[8..12] {
            b"avif" | b"avis" => "avif",
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"mif1" | b"msf1" => "heic",
            _ => "iso-bmff",
        };
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return "tiff";
    }
    if starts(b"BM") {
        return "bmp";
    }
    if starts(b"%PDF") {
        return "pdf";
    }
    if starts(&[0, 0, 1, 0]) {
        return "ico";
    }
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text: Vec<u8> = text
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(256)
        .map(u8::to_ascii_lowercase)
        .collect();
    if text.starts_with(b"<svg") || (text.starts_with(b"<?xml") && contains(&text, b"<svg")) {
        return "svg";
    }
    "unknown"
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A JPEG whose entropy-coded data never reaches its end-of-image marker was
/// cut off; decoders fill the missing part with grey rather than fail, so we
/// check for the marker after the first start-of-scan ourselves.
pub(crate) fn jpeg_is_truncated(bytes: &[u8]) -> bool {
    let Some(sos) = bytes.windows(2).position(|w| w == [0xFF, 0xDA]) else {
        return true;
    };
    !contains(&bytes[sos..], &[0xFF, 0xD9])
}
