use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::JobInput;

/// `photo.ingest` v1 input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhotoIngestInput {
    pub upload_id: Uuid,
    /// Filled in at intake when the client leaves it out, so a re-run of the
    /// job writes to the same keys.
    #[serde(default)]
    pub avatar_id: Option<Uuid>,
}

impl JobInput for PhotoIngestInput {
    fn upload_ids(&self) -> Vec<Uuid> {
        vec![self.upload_id]
    }

    fn assign_ids(&mut self, new_id: &mut dyn FnMut() -> Uuid) {
        self.avatar_id.get_or_insert_with(new_id);
    }
}

/// One object written to storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredObject {
    pub key: String,
    /// `jpeg`, `png` or `webp`.
    pub format: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    /// A signed URL to read the object, in the job view only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// EXIF facts kept from the original; everything else (GPS included) is
/// dropped from every derivative.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExifFacts {
    pub make: Option<String>,
    pub model: Option<String>,
    pub datetime: Option<String>,
    /// EXIF orientation 1–8 as found; derivatives are already rotated.
    pub orientation: Option<u16>,
    /// Whether the original carried GPS tags (never copied anywhere).
    pub had_gps: bool,
}

/// `photo.ingest` v1 result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PhotoIngestResult {
    pub photo_id: Uuid,
    pub avatar_id: Uuid,
    pub sha256: String,
    /// The upload as received, private.
    pub original: StoredObject,
    /// Responsive variants, WebP and JPEG at each width not above the original's.
    pub variants: Vec<StoredObject>,
    /// Square thumbnail (JPEG).
    pub thumbnail: StoredObject,
    pub exif: ExifFacts,
}
