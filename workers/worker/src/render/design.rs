//! Hydrating a design: every item's model (and its external resources and
//! texture override) read from the owner's uploads, or from an object an
//! earlier job of the owner wrote (an avatar's GLB), loaded within the
//! configured bounds, placed and composed into one scene. The loader never
//! opens a file or a URL: external URIs resolve only to uploads the item
//! names in `source.resources`.
use std::collections::HashMap;

use atelier_jobs::{Design, ErrorCode, ModelSource};
use atelier_render::model::decode_texture;
use atelier_render::{Item, Limits, MaterialOverride, Placement, RenderError, Scene};
use atelier_runtime::{JobContext, JobFailure};
use bytes::Bytes;

use super::{RenderShared, failure};

struct Fetched {
    model: Bytes,
    resources: HashMap<String, Bytes>,
    texture: Option<Bytes>,
}

/// The design's scene, or the first item's failure (`items[i]: …`).
pub async fn hydrate(
    ctx: &JobContext<'_>,
    shared: &RenderShared,
    design: &Design,
) -> Result<Scene, JobFailure> {
    let max_bytes = shared.config.max_model_bytes;
    let mut fetched = Vec::with_capacity(design.items.len());
    for (i, item) in design.items.iter().enumerate() {
        let (model, resources) = match &item.source {
            ModelSource::Upload {
                upload_id,
                resources: named,
            } => {
                let (_, model) = ctx.owned_upload(*upload_id).await?;
                let mut resources = HashMap::new();
                for (uri, id) in named {
                    resources.insert(uri.clone(), ctx.owned_upload(*id).await?.1);
                }
                (model, resources)
            }
            ModelSource::Stored(stored) => (ctx.owned_object(stored).await?, HashMap::new()),
        };
        if model.len() as u64 > max_bytes {
            return Err(JobFailure::abort(
                ErrorCode::ModelTooLarge,
                format!(
                    "items[{i}]: the model is {} bytes; at most {max_bytes}",
                    model.len()
                ),
            ));
        }
        let texture = match item.material.texture {
            Some(id) => Some(ctx.owned_upload(id).await?.1),
            None => None,
        };
        fetched.push(Fetched {
            model,
            resources,
            texture,
        });
    }
    let limits = Limits {
        max_triangles: shared.config.max_triangles,
        max_vertices: shared.config.max_triangles,
        max_texture_dimension: shared.config.max_texture_dimension,
        ..Limits::default()
    };
    let items = design.items.clone();
    ctx.blocking(move || {
        let mut placed = Vec::with_capacity(items.len());
        for (i, (item, f)) in items.into_iter().zip(fetched).enumerate() {
            let at = |e: RenderError| {
                let f = failure(e);
                JobFailure::abort(f.code(), format!("items[{i}]: {}", f.message()))
            };
            let resolve = |uri: &str| {
                f.resources
                    .get(uri)
                    .or_else(|| f.resources.get(&percent_decode(uri)))
                    .map(|b| b.to_vec())
            };
            let model = atelier_render::load(&f.model, &resolve, &limits).map_err(at)?;
            let texture = f
                .texture
                .map(|t| decode_texture(0, &t, &limits))
                .transpose()
                .map_err(|e| match e {
                    RenderError::TextureUnsupported { .. } => JobFailure::abort(
                        ErrorCode::ImageUnsupportedFormat,
                        format!("items[{i}].material.texture: not a PNG, JPEG or WebP image"),
                    ),
                    RenderError::TextureCorrupt { message, .. } => JobFailure::abort(
                        ErrorCode::ImageCorrupt,
                        format!("items[{i}].material.texture: {message}"),
                    ),
                    other => at(other),
                })?;
            let t = item.transform;
            placed.push(Item {
                model,
                placement: Placement {
                    translation: t.translation,
                    rotation: t.rotation,
                    scale: t.scale,
                },
                material: MaterialOverride {
                    base_colour: item.material.base_colour.map(|c| c.0),
                    texture,
                    roughness: item.material.roughness,
                    metallic: item.material.metallic,
                },
            });
        }
        let triangles: u64 = placed.iter().map(|i| i.model.triangles()).sum();
        if triangles > limits.max_triangles {
            return Err(JobFailure::abort(
                ErrorCode::ModelTooLarge,
                format!(
                    "the design has {triangles} triangles; at most {} are rendered",
                    limits.max_triangles
                ),
            ));
        }
        Scene::compose(placed).map_err(failure)
    })
    .await
}

/// `%20` → space, for URIs written percent-encoded in the glTF.
fn percent_decode(uri: &str) -> String {
    percent_encoding::percent_decode_str(uri)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn percent_encoded_uris_decode() {
        assert_eq!(super::percent_decode("my%20dress.bin"), "my dress.bin");
        assert_eq!(super::percent_decode("plain.bin"), "plain.bin");
        assert_eq!(super::percent_decode("bad%2"), "bad%2");
    }
}
