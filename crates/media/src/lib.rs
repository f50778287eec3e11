//! Photo ingest: sniff, bound, read EXIF, orient, and render responsive
//! variants; and the export's PDF sheet, JPEG flattening and logo
//! watermarks. Pure: bytes in, encoded bytes out; no storage, no network.
//!
//! Architecture invariant: renditions are re-encoded from decoded pixels, so
//! no metadata of the original (GPS included) can reach any of them.

mod exif;
mod format;
mod render;
mod sheet;
mod text;

pub use format::{PhotoFormat, sniff};
pub use render::{
    IngestOptions, IngestedPhoto, Rendition, RgbPhoto, decode_rgb, encode_png, encode_webp_rgba,
    ingest,
};
pub use sheet::{Corner, Logo, Sheet, SheetImage, encode_jpeg_on, sheet_pdf};
pub use text::text_logo;

use atelier_jobs::ErrorCode;

/// Why a photo cannot be ingested. None of these get better on retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("unsupported image format {detected} (accepted: jpeg, png, webp)")]
    UnsupportedFormat { detected: &'static str },
    #[error(
        "image is {width}x{height} pixels, above the limit of {max_pixels} pixels or {max_dimension} px per side"
    )]
    TooLarge {
        width: u32,
        height: u32,
        max_pixels: u64,
        max_dimension: u32,
    },
    #[error("file is {bytes} bytes, above the limit of {max_bytes}")]
    TooManyBytes { bytes: u64, max_bytes: u64 },
    #[error("corrupt image: {0}")]
    Corrupt(String),
}

impl MediaError {
    pub fn code(&self) -> ErrorCode {
        match self {
            MediaError::UnsupportedFormat { .. } => ErrorCode::ImageUnsupportedFormat,
            MediaError::TooLarge { .. } | MediaError::TooManyBytes { .. } => {
                ErrorCode::ImageTooLarge
            }
            MediaError::Corrupt(_) => ErrorCode::ImageCorrupt,
        }
    }
}
