//! Textures: each image decoded once per model, its size bounded from its
//! header first.
use super::loader::Loader;
use super::{Limits, Texture, fetch_uri, invalid};
use crate::error::{RenderError, Result};

#[derive(Default)]
pub(super) struct TextureCache {
    by_image: std::collections::HashMap<usize, usize>,
    pub(super) textures: Vec<Texture>,
}

impl TextureCache {
    pub(super) fn get(&mut self, loader: &Loader, image: usize) -> Result<usize> {
        if let Some(&i) = self.by_image.get(&image) {
            return Ok(i);
        }
        let json = &loader.document.as_json().images[image];
        let bytes: Vec<u8> = match (&json.buffer_view, &json.uri) {
            (Some(view), _) => {
                let view = loader
                    .document
                    .views()
                    .nth(view.value())
                    .ok_or_else(|| invalid(format!("image {image}: no such bufferView")))?;
                loader.view_bytes(&view)?.to_vec()
            }
            (None, Some(uri)) => fetch_uri(uri, loader.resolve)
                .map_err(|m| invalid(format!("image {image}: {m}")))?,
            (None, None) => return Err(invalid(format!("image {image}: no data"))),
        };
        let texture = decode_texture(image, &bytes, loader.limits)?;
        self.textures.push(texture);
        self.by_image.insert(image, self.textures.len() - 1);
        Ok(self.textures.len() - 1)
    }
}

/// Decode a texture, its size checked from the header before decoding.
pub fn decode_texture(image: usize, bytes: &[u8], limits: &Limits) -> Result<Texture> {
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| RenderError::TextureCorrupt {
            image,
            message: e.to_string(),
        })?;
    if reader.format().is_none() {
        return Err(RenderError::TextureUnsupported {
            image,
            message: "not a PNG, JPEG or WebP image".into(),
        });
    }
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| RenderError::TextureCorrupt {
            image,
            message: e.to_string(),
        })?;
    let max = limits.max_texture_dimension;
    if w > max || h > max {
        return Err(RenderError::ModelTooLarge(format!(
            "texture {image} is {w}×{h}; at most {max}×{max} is accepted"
        )));
    }
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| RenderError::TextureCorrupt {
            image,
            message: e.to_string(),
        })?;
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(max);
    image_limits.max_image_height = Some(max);
    image_limits.max_alloc = Some(u64::from(max) * u64::from(max) * 4 + 1);
    reader.limits(image_limits);
    let decoded = reader.decode().map_err(|e| RenderError::TextureCorrupt {
        image,
        message: e.to_string(),
    })?;
    let upload = limits.texture_upload_dimension;
    let decoded = if w > upload || h > upload {
        decoded.resize(upload, upload, image::imageops::FilterType::Triangle)
    } else {
        decoded
    };
    let rgba = decoded.into_rgba8();
    Ok(Texture {
        width: rgba.width(),
        height: rgba.height(),
        rgba: rgba.into_raw(),
    })
}
