//! Contracts of the vision, avatar and e-mail kinds (the render kinds' are
//! in `design.rs`, the export's in `export.rs`).
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{JobInput, ValidationError};

/// `vision.segment`, `vision.pose`, `vision.skin_tone`, `vision.tag` v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisionInput {
    pub upload_id: Uuid,
}

impl JobInput for VisionInput {
    fn upload_ids(&self) -> Vec<Uuid> {
        vec![self.upload_id]
    }
}

/// `vision.embed` v1: an image or a text, exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbedInput {
    #[serde(default)]
    pub upload_id: Option<Uuid>,
    #[serde(default)]
    pub text: Option<String>,
}

/// The longest text `vision.embed` and text search accept, in bytes.
pub const MAX_TEXT_BYTES: usize = 2048;

/// A text to embed: not blank, at most [`MAX_TEXT_BYTES`].
pub fn validate_text(text: &str) -> Result<(), ValidationError> {
    if text.trim().is_empty() || text.len() > MAX_TEXT_BYTES {
        return Err(ValidationError::new(format!(
            "text: must be 1 to {MAX_TEXT_BYTES} bytes of text"
        )));
    }
    Ok(())
}

impl JobInput for EmbedInput {
    fn validate(&self) -> Result<(), ValidationError> {
        match (&self.upload_id, &self.text) {
            (Some(_), None) => Ok(()),
            (None, Some(t)) => {
                validate_text(t).map_err(|e| ValidationError::new(format!("input.{}", e.message)))
            }
            _ => Err(ValidationError::new(
                "input: exactly one of upload_id and text is required",
            )),
        }
    }

    fn upload_ids(&self) -> Vec<Uuid> {
        self.upload_id.into_iter().collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UnitSystem {
    #[default]
    Metric,
    Imperial,
}

/// The sex the body model starts from; `unspecified` starts between the
/// two and lets the fit decide nothing about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Female,
    Male,
    #[default]
    Unspecified,
}

/// The photos an avatar is built from: a front photo, and a side photo for
/// depths (without one, depths are estimated and the uncertainty is larger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvatarPhotos {
    pub front: Uuid,
    #[serde(default)]
    pub side: Option<Uuid>,
}

/// Options of `avatar.build`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvatarOptions {
    /// Also write a `KHR_draco_mesh_compression` variant of each GLB
    /// (`avatar.draco.glb`, `avatar-lod{k}.draco.glb`).
    #[serde(default)]
    pub draco: bool,
}

/// The stated heights an avatar can be built for, centimetres.
pub const AVATAR_HEIGHT_CM: std::ops::RangeInclusive<f32> = 50.0..=250.0;

/// `avatar.build` v1: `{avatar_id?, photos: {front, side?}, height_cm, sex?,
/// unit, options}`. The stated height is required: it fixes the scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvatarBuildInput {
    #[serde(default)]
    pub avatar_id: Option<Uuid>,
    pub photos: AvatarPhotos,
    pub height_cm: f32,
    #[serde(default)]
    pub sex: Sex,
    #[serde(default)]
    pub unit: UnitSystem,
    #[serde(default)]
    pub options: AvatarOptions,
}

impl JobInput for AvatarBuildInput {
    fn validate(&self) -> Result<(), ValidationError> {
        if !AVATAR_HEIGHT_CM.contains(&self.height_cm) {
            return Err(ValidationError::new(format!(
                "input.height_cm: must be between {} and {}",
                AVATAR_HEIGHT_CM.start(),
                AVATAR_HEIGHT_CM.end()
            )));
        }
        if self.photos.side == Some(self.photos.front) {
            return Err(ValidationError::new(
                "input.photos.side: must be another upload than the front photo",
            ));
        }
        Ok(())
    }

    fn upload_ids(&self) -> Vec<Uuid> {
        std::iter::once(self.photos.front)
            .chain(self.photos.side)
            .collect()
    }

    fn assign_ids(&mut self, new_id: &mut dyn FnMut() -> Uuid) {
        self.avatar_id.get_or_insert_with(new_id);
    }
}

/// `notify.email` v1: an e-mail about one ended job or one ended flow
/// (exactly one of `about_job_id` and `about_flow_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyEmailInput {
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about_job_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about_flow_id: Option<Uuid>,
}

impl JobInput for NotifyEmailInput {
    fn validate(&self) -> Result<(), ValidationError> {
        validate_email(&self.to)
            .map_err(|e| ValidationError::new(format!("input.to: {}", e.message)))?;
        match (self.about_job_id, self.about_flow_id) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            _ => Err(ValidationError::new(
                "input: exactly one of about_job_id and about_flow_id",
            )),
        }
    }
}

/// `notify.email` result v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NotifyEmailResult {
    pub to: String,
    /// The job it was about, and the status that job had when the e-mail
    /// was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about_job_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about_status: Option<crate::JobStatus>,
    /// The flow it was about, and the status that flow had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about_flow_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about_flow_status: Option<crate::flow::FlowStatus>,
    pub message_id: String,
    /// What the mail relay answered.
    pub relay_reply: String,
    /// Tries this delivery took (0: an earlier run had already sent it).
    pub send_attempts: u32,
    /// Whether the e-mail was sent again after a crash left its outcome
    /// unknown.
    pub resent_after_crash: bool,
}

/// An address an e-mail can go to: `local@domain.tld`, at most 254 bytes, no
/// spaces, control characters or angle brackets (nothing that could break
/// out of a header).
pub fn validate_email(address: &str) -> Result<(), ValidationError> {
    let clean = !address
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"\\".contains(c));
    let ok = address.len() <= 254
        && clean
        && address.rsplit_once('@').is_some_and(|(l, d)| {
            !l.is_empty()
                && !d.contains('@')
                && d.contains('.')
                && !d.starts_with('.')
                && !d.ends_with('.')
        });
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new("not an e-mail address"))
    }
}
