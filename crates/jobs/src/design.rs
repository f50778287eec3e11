//! The design contract (v1) that `render.stills`, `render.turntable` and
//! `export` take: items (uploaded glTF/GLB models) placed and recoloured, a
//! background and a light rig; and the render kinds' inputs around it.
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::{JobInput, ValidationError};

/// Most items one design may hold.
pub const MAX_ITEMS: usize = 16;
/// Most external resources (buffers, images) one `.gltf` item may name.
pub const MAX_RESOURCES: usize = 32;

fn invalid(path: &str, message: &str) -> ValidationError {
    ValidationError::new(format!("{path}: {message}"))
}

/// An sRGB colour with alpha, written `#rrggbb` or `#rrggbbaa`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour(pub [u8; 4]);

impl Colour {
    pub fn parse(s: &str) -> Option<Colour> {
        let hex = s.strip_prefix('#')?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        // `#rgb` and `#rgba` as CSS writes them.
        if hex.len() == 3 || hex.len() == 4 {
            let long: String = hex.chars().flat_map(|c| [c, c]).collect();
            return Colour::parse(&format!("#{long}"));
        }
        if !(hex.len() == 6 || hex.len() == 8) {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        let alpha = if hex.len() == 8 { byte(6)? } else { 255 };
        Some(Colour([byte(0)?, byte(2)?, byte(4)?, alpha]))
    }

    pub fn rgb(self) -> [u8; 3] {
        [self.0[0], self.0[1], self.0[2]]
    }
}

impl std::fmt::Display for Colour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [r, g, b, a] = self.0;
        if a == 255 {
            write!(f, "#{r:02x}{g:02x}{b:02x}")
        } else {
            write!(f, "#{r:02x}{g:02x}{b:02x}{a:02x}")
        }
    }
}

impl Serialize for Colour {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl utoipa::PartialSchema for Colour {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^#([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$"))
            .description(Some(
                "An sRGB colour, `#rrggbb` or `#rrggbbaa` (`#rgb`, `#rgba` accepted)",
            ))
            .examples(["#1f3a5c"])
            .into()
    }
}

impl utoipa::ToSchema for Colour {
    fn name() -> std::borrow::Cow<'static, str> {
        "RgbaColour".into()
    }
}

impl<'de> Deserialize<'de> for Colour {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Colour::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("{s:?} is not a colour: use #rrggbb or #rrggbbaa"))
        })
    }
}

/// `"transparent"` or an opaque colour `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Background {
    Transparent,
    Colour(Colour),
}

impl Default for Background {
    fn default() -> Self {
        Background::Colour(Colour([255, 255, 255, 255]))
    }
}

impl Serialize for Background {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Background::Transparent => s.serialize_str("transparent"),
            Background::Colour(c) => c.serialize(s),
        }
    }
}

impl utoipa::PartialSchema for Background {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^(transparent|#([0-9a-fA-F]{3}|[0-9a-fA-F]{6}))$"))
            .description(Some("`transparent` or an opaque colour `#rrggbb`"))
            .into()
    }
}

impl utoipa::ToSchema for Background {}

impl<'de> Deserialize<'de> for Background {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "transparent" {
            return Ok(Background::Transparent);
        }
        match Colour::parse(&s) {
            Some(c) if c.0[3] == 255 => Ok(Background::Colour(c)),
            _ => Err(serde::de::Error::custom(format!(
                "{s:?} is not a background: use \"transparent\" or an opaque #rrggbb"
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Lighting {
    /// Key, fill and rim lights with a soft ground shadow.
    #[default]
    Studio,
    /// A bright sky-and-ground environment: softer, flatter.
    Environment,
}

/// Where an item's model comes from: an upload of the same end user (a
/// `.glb`, or a `.gltf` whose external buffers and images are uploads too,
/// named in `resources` by the URI the file uses), or a stored object an
/// earlier job of the same user wrote (an avatar's GLB: `{"job_id"?,
/// "key"}`, the job found by the key when not named). A bare upload id
/// string is accepted for `{"upload_id": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ModelSource {
    Upload {
        upload_id: Uuid,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        resources: BTreeMap<String, Uuid>,
    },
    Stored(StoredSource),
}

/// An object a job of the same user wrote, by its storage key (as that
/// job's result names it), and optionally the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<Uuid>,
    pub key: String,
}

/// The longest storage key a stored source may name.
pub const MAX_KEY_BYTES: usize = 1024;

impl ModelSource {
    /// The uploads this source reads.
    pub fn upload_ids(&self) -> Vec<Uuid> {
        match self {
            ModelSource::Upload {
                upload_id,
                resources,
            } => std::iter::once(*upload_id)
                .chain(resources.values().copied())
                .collect(),
            ModelSource::Stored(_) => Vec::new(),
        }
    }

    /// How it is named in a sheet or a log line.
    pub fn describe(&self) -> String {
        match self {
            ModelSource::Upload { upload_id, .. } => format!("model upload {upload_id}"),
            ModelSource::Stored(stored) => format!("stored model {}", stored.key),
        }
    }
}

impl utoipa::PartialSchema for ModelSource {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, KnownFormat, SchemaFormat, Type};
        use utoipa::openapi::{ObjectBuilder, OneOfBuilder};
        let upload = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
        };
        let full = ObjectBuilder::new()
            .property("upload_id", upload())
            .required("upload_id")
            .property(
                "resources",
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .additional_properties(Some(upload())),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        let stored = ObjectBuilder::new()
            .property(
                "job_id",
                upload().description(Some(
                    "The job that wrote it (found by the key when left out)",
                )),
            )
            .property(
                "key",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(MAX_KEY_BYTES))
                    .description(Some("Its storage key, as that job's result names it")),
            )
            .required("key")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        OneOfBuilder::new()
            .item(upload().description(Some("The upload id of a `.glb`")))
            .item(full)
            .item(stored)
            .description(Some(
                "An upload of the same end user (a `.glb`, or a `.gltf` whose external \
                 buffers and images are uploads named in `resources` by the URI the file \
                 uses), or a stored object a job of the same user wrote (an avatar's GLB)",
            ))
            .into()
    }
}

impl utoipa::ToSchema for ModelSource {}

impl<'de> Deserialize<'de> for ModelSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            upload_id: Uuid,
            #[serde(default)]
            resources: BTreeMap<String, Uuid>,
        }
        use serde::de::Error;
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(id) => Ok(ModelSource::Upload {
                upload_id: id
                    .parse()
                    .map_err(|_| D::Error::custom(format!("source: {id:?} is not an upload id")))?,
                resources: BTreeMap::new(),
            }),
            serde_json::Value::Object(map) if map.contains_key("key") => {
                let stored: StoredSource = serde_json::from_value(serde_json::Value::Object(map))
                    .map_err(|e| D::Error::custom(format!("source: {e}")))?;
                Ok(ModelSource::Stored(stored))
            }
            other => {
                let full: Full = serde_json::from_value(other)
                    .map_err(|e| D::Error::custom(format!("source: {e}")))?;
                Ok(ModelSource::Upload {
                    upload_id: full.upload_id,
                    resources: full.resources,
                })
            }
        }
    }
}

/// Placement in metres: translation, rotation as a unit quaternion
/// `[x, y, z, w]`, scale per axis.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transform {
    #[serde(default)]
    pub translation: [f32; 3],
    #[serde(default = "identity_rotation")]
    pub rotation: [f32; 4],
    #[serde(default = "unit_scale")]
    pub scale: [f32; 3],
}

fn identity_rotation() -> [f32; 4] {
    [0.0, 0.0, 0.0, 1.0]
}

fn unit_scale() -> [f32; 3] {
    [1.0; 3]
}

impl Default for Transform {
    fn default() -> Self {
        Transform {
            translation: [0.0; 3],
            rotation: identity_rotation(),
            scale: unit_scale(),
        }
    }
}

/// Material changes applied to every mesh of an item.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaterialOverrides {
    /// Replaces the base colour (and the model's own base-colour texture,
    /// unless `texture` is given: then the colour tints it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_colour: Option<Colour>,
    /// An uploaded PNG, JPEG or WebP image used as the base-colour texture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub texture: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roughness: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metallic: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DesignItem {
    pub source: ModelSource,
    #[serde(default)]
    pub transform: Transform,
    #[serde(default, alias = "material_overrides", alias = "overrides")]
    pub material: MaterialOverrides,
}

/// A design, v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Design {
    pub design_id: Uuid,
    pub name: String,
    pub items: Vec<DesignItem>,
    #[serde(default)]
    pub background: Background,
    #[serde(default)]
    pub lighting: Lighting,
}

impl Design {
    pub fn validate(&self, path: &str) -> Result<(), ValidationError> {
        let name = self.name.trim();
        if name.is_empty() || self.name.chars().count() > 200 {
            return Err(invalid(
                &format!("{path}.name"),
                "must be 1 to 200 characters",
            ));
        }
        if self.items.is_empty() || self.items.len() > MAX_ITEMS {
            return Err(invalid(
                &format!("{path}.items"),
                &format!("must hold 1 to {MAX_ITEMS} items"),
            ));
        }
        for (i, item) in self.items.iter().enumerate() {
            let at = format!("{path}.items[{i}]");
            match &item.source {
                ModelSource::Upload { resources, .. } => {
                    if resources.len() > MAX_RESOURCES {
                        return Err(invalid(
                            &format!("{at}.source.resources"),
                            &format!("at most {MAX_RESOURCES} resources"),
                        ));
                    }
                    if let Some(uri) = resources.keys().find(|u| u.is_empty() || u.len() > 512) {
                        return Err(invalid(
                            &format!("{at}.source.resources"),
                            &format!("{uri:?} is not a resource URI"),
                        ));
                    }
                }
                ModelSource::Stored(stored) => {
                    let key = &stored.key;
                    let clean = !key.is_empty()
                        && key.len() <= MAX_KEY_BYTES
                        && !key.starts_with('/')
                        && !key.chars().any(char::is_control)
                        && key.split('/').all(|part| part != ".." && part != ".");
                    if !clean {
                        return Err(invalid(
                            &format!("{at}.source.key"),
                            &format!("{key:?} is not a storage key"),
                        ));
                    }
                }
            }
            let t = &item.transform;
            let finite = t
                .translation
                .iter()
                .chain(&t.rotation)
                .chain(&t.scale)
                .all(|v| v.is_finite());
            if !finite || t.translation.iter().any(|v| v.abs() > 1000.0) {
                return Err(invalid(
                    &format!("{at}.transform.translation"),
                    "must be finite and within 1000 m",
                ));
            }
            let norm = t.rotation.iter().map(|v| v * v).sum::<f32>().sqrt();
            if !(0.5..=1.5).contains(&norm) {
                return Err(invalid(
                    &format!("{at}.transform.rotation"),
                    "must be a unit quaternion [x, y, z, w]",
                ));
            }
            if t.scale.iter().any(|s| !(0.001..=1000.0).contains(&s.abs())) {
                return Err(invalid(
                    &format!("{at}.transform.scale"),
                    "each axis must be between 0.001 and 1000 (negative mirrors)",
                ));
            }
            let m = &item.material;
            for (field, v) in [("roughness", m.roughness), ("metallic", m.metallic)] {
                if v.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
                    return Err(invalid(
                        &format!("{at}.material.{field}"),
                        "must be between 0 and 1",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every stored object the design reads as a model.
    pub fn stored_sources(&self) -> Vec<&StoredSource> {
        self.items
            .iter()
            .filter_map(|item| match &item.source {
                ModelSource::Stored(stored) => Some(stored),
                ModelSource::Upload { .. } => None,
            })
            .collect()
    }

    /// Every upload the design reads: models, their resources, textures.
    pub fn upload_ids(&self) -> Vec<Uuid> {
        let mut ids = BTreeSet::new();
        for item in &self.items {
            ids.extend(item.source.upload_ids());
            ids.extend(item.material.texture);
        }
        ids.into_iter().collect()
    }
}

/// Output quality. Stills: `draft` 512 px, `standard` 1024, `high` 2048,
/// `ultra` 4096 on the long side, with finer shadows at each step; videos:
/// the encoder's quality (CRF) and shadow detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Quality {
    Draft,
    #[default]
    Standard,
    High,
    Ultra,
}

impl Quality {
    pub fn still_size(self) -> u32 {
        match self {
            Quality::Draft => 512,
            Quality::Standard => 1024,
            Quality::High => 2048,
            Quality::Ultra => 4096,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Draft => "draft",
            Quality::Standard => "standard",
            Quality::High => "high",
            Quality::Ultra => "ultra",
        }
    }
}

/// A named preset camera framed on the design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CameraPreset {
    Front,
    Back,
    Left,
    Right,
    #[serde(alias = "three-quarter", alias = "threequarter")]
    ThreeQuarter,
}

impl CameraPreset {
    pub fn as_str(self) -> &'static str {
        match self {
            CameraPreset::Front => "front",
            CameraPreset::Back => "back",
            CameraPreset::Left => "left",
            CameraPreset::Right => "right",
            CameraPreset::ThreeQuarter => "three_quarter",
        }
    }
}

/// An explicit camera: where it stands and looks, in the design's metres.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplicitCamera {
    /// Names the output file: `[a-z0-9_-]`, 1 to 32 characters.
    pub name: String,
    pub eye: [f32; 3],
    pub target: [f32; 3],
    #[serde(default = "default_fov")]
    pub fov_deg: f32,
}

fn default_fov() -> f32 {
    30.0
}

/// `"front"`, …, or an explicit camera object.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum CameraSpec {
    Preset(CameraPreset),
    Explicit(ExplicitCamera),
}

impl<'de> Deserialize<'de> for CameraSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(name) => {
                serde_json::from_value(serde_json::Value::String(name.clone()))
                    .map(CameraSpec::Preset)
                    .map_err(|_| {
                        D::Error::custom(format!(
                            "cameras: {name:?} is not a preset (front, back, left, right, \
                             three_quarter); explicit cameras are {{\"name\", \"eye\", \"target\"}}"
                        ))
                    })
            }
            object @ serde_json::Value::Object(_) => serde_json::from_value(object)
                .map(CameraSpec::Explicit)
                .map_err(|e| D::Error::custom(format!("cameras: {e}"))),
            _ => Err(D::Error::custom(
                "cameras: each is a preset name or a {\"name\", \"eye\", \"target\"} object",
            )),
        }
    }
}

impl CameraSpec {
    pub fn name(&self) -> &str {
        match self {
            CameraSpec::Preset(p) => p.as_str(),
            CameraSpec::Explicit(c) => &c.name,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StillFormat {
    Png,
    Webp,
}

fn default_cameras() -> Vec<CameraSpec> {
    vec![
        CameraSpec::Preset(CameraPreset::Front),
        CameraSpec::Preset(CameraPreset::Back),
    ]
}

fn default_still_formats() -> Vec<StillFormat> {
    vec![StillFormat::Png]
}

/// `render.stills` v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderStillsInput {
    pub design: Design,
    #[serde(default = "default_cameras")]
    pub cameras: Vec<CameraSpec>,
    #[serde(default)]
    pub quality: Quality,
    #[serde(default = "default_still_formats")]
    pub formats: Vec<StillFormat>,
}

impl JobInput for RenderStillsInput {
    fn upload_ids(&self) -> Vec<Uuid> {
        self.design.upload_ids()
    }

    fn stored_sources(&self) -> Vec<StoredSource> {
        self.design.stored_sources().into_iter().cloned().collect()
    }

    fn validate(&self) -> Result<(), ValidationError> {
        self.design.validate("input.design")?;
        if self.cameras.is_empty() || self.cameras.len() > 8 {
            return Err(invalid("input.cameras", "must hold 1 to 8 cameras"));
        }
        let mut names = BTreeSet::new();
        for (i, camera) in self.cameras.iter().enumerate() {
            let name = camera.name();
            let ok = !name.is_empty()
                && name.len() <= 32
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            if !ok {
                return Err(invalid(
                    &format!("input.cameras[{i}].name"),
                    "must be 1 to 32 of a-z, 0-9, _ and -",
                ));
            }
            if !names.insert(name) {
                return Err(invalid(
                    &format!("input.cameras[{i}]"),
                    &format!("camera name {name:?} is used twice"),
                ));
            }
            if let CameraSpec::Explicit(c) = camera {
                let finite = c.eye.iter().chain(&c.target).all(|v| v.is_finite());
                if !finite || c.eye == c.target {
                    return Err(invalid(
                        &format!("input.cameras[{i}]"),
                        "eye and target must be distinct finite points",
                    ));
                }
                if !(5.0..=120.0).contains(&c.fov_deg) {
                    return Err(invalid(
                        &format!("input.cameras[{i}].fov_deg"),
                        "must be between 5 and 120",
                    ));
                }
            }
        }
        if self.formats.is_empty() {
            return Err(invalid("input.formats", "at least one of png and webp"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum VideoFormat {
    /// H.264, yuv420p, `+faststart`.
    Mp4,
    /// VP9.
    Webm,
    /// A short, small animated WebP preview.
    Webp,
    /// An animated GIF, like the WebP preview (for places WebP does not play).
    Gif,
}

impl VideoFormat {
    pub fn extension(self) -> &'static str {
        match self {
            VideoFormat::Gif => "gif",
            VideoFormat::Mp4 => "mp4",
            VideoFormat::Webm => "webm",
            VideoFormat::Webp => "webp",
        }
    }
}

/// Frame size of a turntable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Resolution {
    #[serde(rename = "480p")]
    P480,
    #[default]
    #[serde(rename = "720p")]
    P720,
    #[serde(rename = "1080p")]
    P1080,
    /// 1024 × 1024, for product pages' square players.
    #[serde(rename = "square")]
    Square,
}

impl Resolution {
    pub fn size(self) -> (u32, u32) {
        match self {
            Resolution::P480 => (854, 480),
            Resolution::P720 => (1280, 720),
            Resolution::P1080 => (1920, 1080),
            Resolution::Square => (1024, 1024),
        }
    }
}

fn default_frames() -> u32 {
    72
}

fn default_fps() -> u32 {
    24
}

fn default_video_formats() -> Vec<VideoFormat> {
    vec![VideoFormat::Mp4, VideoFormat::Webm, VideoFormat::Webp]
}

/// `render.turntable` v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TurntableInput {
    pub design: Design,
    /// 24, 36 or 72 frames at a constant step; the loop has no repeated frame.
    #[serde(default = "default_frames")]
    pub frames: u32,
    #[serde(default = "default_fps")]
    pub fps: u32,
    #[serde(default)]
    pub resolution: Resolution,
    #[serde(default)]
    pub quality: Quality,
    #[serde(default = "default_video_formats")]
    pub formats: Vec<VideoFormat>,
}

impl JobInput for TurntableInput {
    fn upload_ids(&self) -> Vec<Uuid> {
        self.design.upload_ids()
    }

    fn stored_sources(&self) -> Vec<StoredSource> {
        self.design.stored_sources().into_iter().cloned().collect()
    }

    fn validate(&self) -> Result<(), ValidationError> {
        self.design.validate("input.design")?;
        if ![24, 36, 72].contains(&self.frames) {
            return Err(invalid("input.frames", "must be 24, 36 or 72"));
        }
        if !(1..=60).contains(&self.fps) {
            return Err(invalid("input.fps", "must be between 1 and 60"));
        }
        let distinct: BTreeSet<_> = self.formats.iter().map(|f| f.extension()).collect();
        if self.formats.is_empty() || distinct.len() != self.formats.len() {
            return Err(invalid(
                "input.formats",
                "one or more distinct formats of mp4, webm, webp and gif",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn design() -> serde_json::Value {
        json!({
            "design_id": Uuid::nil(),
            "name": "Summer dress",
            "items": [
                {"source": {"upload_id": Uuid::nil()}},
                {"source": {"upload_id": Uuid::from_u128(2)},
                 "transform": {"translation": [0, 1.4, 0], "scale": [0.8, 0.8, 0.8]},
                 "material": {"base_colour": "#1f2a5aff", "roughness": 0.4}}
            ]
        })
    }

    #[test]
    fn a_design_parses_with_defaults_and_round_trips() {
        let d: Design = serde_json::from_value(design()).unwrap();
        d.validate("design").unwrap();
        assert_eq!(
            d.background,
            Background::Colour(Colour([255, 255, 255, 255]))
        );
        assert_eq!(d.lighting, Lighting::Studio);
        assert_eq!(d.items[0].transform, Transform::default());
        assert_eq!(
            d.items[1].material.base_colour,
            Some(Colour([0x1f, 0x2a, 0x5a, 255]))
        );
        assert_eq!(d.upload_ids().len(), 2);
        let back: Design = serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();
        assert_eq!(back, d);
        assert_eq!(
            serde_json::to_value(d.items[1].material.base_colour).unwrap(),
            json!("#1f2a5a")
        );
    }

    #[test]
    fn friendly_spellings_are_accepted() {
        let mut v = design();
        v["items"][0]["source"] = json!(Uuid::from_u128(7).to_string());
        v["items"][1]["overrides"] = v["items"][1]["material"].take();
        v["items"][1].as_object_mut().unwrap().remove("material");
        v["background"] = json!("#fff");
        let d: Design = serde_json::from_value(v).unwrap();
        assert_eq!(d.items[0].source.upload_ids(), [Uuid::from_u128(7)]);
        assert_eq!(d.items[1].material.roughness, Some(0.4));
        assert_eq!(
            d.background,
            Background::Colour(Colour([255, 255, 255, 255]))
        );
        let p: CameraPreset = serde_json::from_value(json!("three-quarter")).unwrap();
        assert_eq!(p, CameraPreset::ThreeQuarter);
        assert_eq!(Colour::parse("#1f2"), Some(Colour([0x11, 0xff, 0x22, 255])));
        assert_eq!(Colour::parse("#12"), None);
    }

    #[test]
    fn bad_designs_name_the_field_at_fault() {
        let cases = [
            (json!({"items": []}), "items"),
            (json!({"name": " "}), "name"),
            (json!({"background": "#12345"}), "background"),
            (json!({"background": "#11223344"}), "background"),
        ];
        for (patch, field) in cases {
            let mut v = design();
            for (k, val) in patch.as_object().unwrap() {
                v[k] = val.clone();
            }
            let err = serde_json::from_value::<Design>(v)
                .map_err(|e| e.to_string())
                .and_then(|d| d.validate("design").map_err(|e| e.message));
            let err = err.unwrap_err();
            assert!(err.contains(field), "{field}: {err}");
        }
        let mut v = design();
        v["items"][1]["transform"]["scale"] = json!([0, 1, 1]);
        let d: Design = serde_json::from_value(v).unwrap();
        assert!(
            d.validate("d")
                .unwrap_err()
                .message
                .contains("items[1].transform.scale")
        );
        let mut v = design();
        v["items"][0]["material"] = json!({"metallic": 2});
        let d: Design = serde_json::from_value(v).unwrap();
        assert!(d.validate("d").unwrap_err().message.contains("metallic"));
    }

    #[test]
    fn stills_cameras_are_presets_or_explicit_and_uniquely_named() {
        let input = |cameras| {
            serde_json::from_value::<RenderStillsInput>(
                json!({"design": design(), "cameras": cameras}),
            )
            .map_err(|e| e.to_string())
            .and_then(|i| i.validate().map(|_| i).map_err(|e| e.message))
        };
        let ok = input(json!(["front", "three_quarter", {"name": "detail", "eye": [0, 1, 2], "target": [0, 1, 0]}])).unwrap();
        assert_eq!(ok.cameras[2].name(), "detail");
        assert_eq!(ok.quality, Quality::Standard);
        assert!(
            input(json!(["front", "front"]))
                .unwrap_err()
                .contains("twice")
        );
        assert!(input(json!(["top"])).is_err());
        assert!(
            input(json!([{"name": "Bad Name", "eye": [0, 1, 2], "target": [0, 0, 0]}]))
                .unwrap_err()
                .contains("name")
        );
        assert!(
            input(json!([{"name": "x", "eye": [0, 1, 2], "target": [0, 1, 2]}]))
                .unwrap_err()
                .contains("distinct")
        );
        let defaults: RenderStillsInput =
            serde_json::from_value(json!({"design": design()})).unwrap();
        assert_eq!(defaults.cameras.len(), 2);
    }

    #[test]
    fn turntable_frames_and_formats_are_checked() {
        let input = |patch: serde_json::Value| {
            let mut v = json!({"design": design()});
            for (k, val) in patch.as_object().unwrap() {
                v[k] = val.clone();
            }
            serde_json::from_value::<TurntableInput>(v)
                .map_err(|e| e.to_string())
                .and_then(|i| i.validate().map(|_| i).map_err(|e| e.message))
        };
        let d = input(json!({})).unwrap();
        assert_eq!(
            (d.frames, d.fps, d.resolution.size()),
            (72, 24, (1280, 720))
        );
        assert_eq!(d.formats.len(), 3);
        assert!(input(json!({"frames": 73})).unwrap_err().contains("frames"));
        assert!(
            input(json!({"formats": ["mp4", "mp4"]}))
                .unwrap_err()
                .contains("formats")
        );
        assert!(input(json!({"resolution": "4k"})).is_err());
        assert_eq!(
            input(json!({"resolution": "1080p"}))
                .unwrap()
                .resolution
                .size(),
            (1920, 1080)
        );
    }
}
