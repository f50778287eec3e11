//! `export` v1: a design exported as an image, a video, a model or a PDF
//! sheet, at a quality, optionally watermarked with an uploaded logo.
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::design::{CameraSpec, Design, Quality};
use crate::{JobInput, ValidationError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportType {
    Image,
    Video,
    Model,
    Pdf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Png,
    #[serde(alias = "jpg")]
    Jpeg,
    Webp,
    Mp4,
    Webm,
    Gif,
    Glb,
    Pdf,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Png => "png",
            ExportFormat::Jpeg => "jpg",
            ExportFormat::Webp => "webp",
            ExportFormat::Mp4 => "mp4",
            ExportFormat::Webm => "webm",
            ExportFormat::Gif => "gif",
            ExportFormat::Glb => "glb",
            ExportFormat::Pdf => "pdf",
        }
    }

    /// The type a format belongs to.
    pub fn export_type(self) -> ExportType {
        match self {
            ExportFormat::Png | ExportFormat::Jpeg | ExportFormat::Webp => ExportType::Image,
            ExportFormat::Mp4 | ExportFormat::Webm | ExportFormat::Gif => ExportType::Video,
            ExportFormat::Glb => ExportType::Model,
            ExportFormat::Pdf => ExportType::Pdf,
        }
    }
}

impl ExportType {
    pub fn default_format(self) -> ExportFormat {
        match self {
            ExportType::Image => ExportFormat::Png,
            ExportType::Video => ExportFormat::Mp4,
            ExportType::Model => ExportFormat::Glb,
            ExportType::Pdf => ExportFormat::Pdf,
        }
    }
}

/// The exported file: a stored object (the job view adds its signed `url`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExportFile {
    pub key: String,
    /// The file's extension: `png`, `jpg`, `webp`, `mp4`, `webm`, `gif`,
    /// `glb` or `pdf`.
    pub format: String,
    pub bytes: u64,
    /// Pixels, for images and videos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// A signed URL to read the file, in the job view only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `export` result v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExportResult {
    pub export_id: Uuid,
    pub design_id: Uuid,
    #[serde(rename = "type")]
    pub export_type: ExportType,
    pub format: ExportFormat,
    pub quality: Quality,
    /// `complete`.
    pub status: String,
    pub file: ExportFile,
    /// The file's bytes (as `file.bytes`).
    pub size: u64,
    pub renderer: crate::RendererInfo,
    /// Milliseconds per step: `load`, `render`, `encode`, `store`.
    pub timings_ms: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WatermarkPosition {
    #[serde(alias = "top-left")]
    TopLeft,
    #[serde(alias = "top-right")]
    TopRight,
    #[serde(alias = "bottom-left")]
    BottomLeft,
    #[default]
    #[serde(alias = "bottom-right")]
    BottomRight,
    #[serde(alias = "center")]
    Centre,
}

fn default_opacity() -> f32 {
    0.5
}

fn default_logo_width() -> f32 {
    0.2
}

fn white() -> crate::design::Colour {
    crate::design::Colour([255, 255, 255, 255])
}

/// A logo (an uploaded PNG) or a line of text laid over images and every
/// video frame; exactly one of `logo` and `text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Watermark {
    /// Upload id of a PNG (its alpha is kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<Uuid>,
    /// 1 to 100 characters, drawn in DejaVu Sans Bold with a soft shadow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The text's colour (`#rrggbb`), white by default.
    #[serde(default = "white")]
    pub colour: crate::design::Colour,
    #[serde(default)]
    pub position: WatermarkPosition,
    /// 0 (invisible) to 1.
    #[serde(default = "default_opacity")]
    pub opacity: f32,
    /// The logo's (or text's) width as a fraction of the frame's, 0.05 to 0.5.
    #[serde(default = "default_logo_width")]
    pub width: f32,
}

/// `export` v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportInput {
    pub design: Design,
    #[serde(rename = "type")]
    pub export_type: ExportType,
    /// Default per type: png, mp4, glb, pdf.
    #[serde(default)]
    pub format: Option<ExportFormat>,
    #[serde(default)]
    pub quality: Quality,
    /// Images: the camera (default `front`).
    #[serde(default)]
    pub camera: Option<CameraSpec>,
    #[serde(default)]
    pub watermark: Option<Watermark>,
    /// Fixed by the intake when absent, so every run writes the same key.
    #[serde(default)]
    pub export_id: Option<Uuid>,
}

impl ExportInput {
    pub fn format(&self) -> ExportFormat {
        self.format
            .unwrap_or_else(|| self.export_type.default_format())
    }
}

impl JobInput for ExportInput {
    fn validate(&self) -> Result<(), ValidationError> {
        self.design.validate("input.design")?;
        if self.format().export_type() != self.export_type {
            return Err(ValidationError::new(format!(
                "input.format: {:?} is not a format of type {:?}",
                self.format(),
                self.export_type
            )));
        }
        if self.camera.is_some() && self.export_type != ExportType::Image {
            return Err(ValidationError::new(
                "input.camera: only image exports take a camera",
            ));
        }
        if let Some(w) = &self.watermark {
            if !matches!(self.export_type, ExportType::Image | ExportType::Video) {
                return Err(ValidationError::new(
                    "input.watermark: only images and videos are watermarked",
                ));
            }
            match (&w.logo, &w.text) {
                (Some(_), None) => {}
                (None, Some(t)) if !t.trim().is_empty() && t.chars().count() <= 100 => {}
                (None, Some(_)) => {
                    return Err(ValidationError::new(
                        "input.watermark.text: 1 to 100 characters",
                    ));
                }
                _ => {
                    return Err(ValidationError::new(
                        "input.watermark: exactly one of logo and text",
                    ));
                }
            }
            if !(0.0..=1.0).contains(&w.opacity) {
                return Err(ValidationError::new(
                    "input.watermark.opacity: must be between 0 and 1",
                ));
            }
            if !(0.05..=0.5).contains(&w.width) {
                return Err(ValidationError::new(
                    "input.watermark.width: must be between 0.05 and 0.5",
                ));
            }
        }
        Ok(())
    }

    fn stored_sources(&self) -> Vec<crate::design::StoredSource> {
        self.design.stored_sources().into_iter().cloned().collect()
    }

    fn upload_ids(&self) -> Vec<Uuid> {
        let mut ids = self.design.upload_ids();
        ids.extend(self.watermark.as_ref().and_then(|w| w.logo));
        ids
    }

    fn assign_ids(&mut self, new_id: &mut dyn FnMut() -> Uuid) {
        self.export_id.get_or_insert_with(new_id);
    }
}
