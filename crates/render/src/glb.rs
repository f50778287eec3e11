//! A scene written back as one GLB: every item placed (world space), its
//! material overrides baked in, textures as PNG. What a design export of type
//! `model` delivers: one file any glTF viewer opens.
use serde_json::{Value, json};

use crate::model::AlphaMode;
use crate::scene::Scene;

const ARRAY_BUFFER: u32 = 34962;
const ELEMENT_ARRAY_BUFFER: u32 = 34963;
const FLOAT: u32 = 5126;
const UNSIGNED_INT: u32 = 5125;

struct Writer {
    bin: Vec<u8>,
    views: Vec<Value>,
    accessors: Vec<Value>,
}

impl Writer {
    fn view(&mut self, bytes: &[u8], target: Option<u32>) -> usize {
        while !self.bin.len().is_multiple_of(4) {
            self.bin.push(0);
        }
        let mut view =
            json!({"buffer": 0, "byteOffset": self.bin.len(), "byteLength": bytes.len()});
        if let Some(t) = target {
            view["target"] = json!(t);
        }
        self.bin.extend_from_slice(bytes);
        self.views.push(view);
        self.views.len() - 1
    }

    fn accessor(
        &mut self,
        bytes: &[u8],
        component: u32,
        kind: &str,
        count: usize,
        target: u32,
    ) -> usize {
        let view = self.view(bytes, Some(target));
        self.accessors.push(json!({
            "bufferView": view, "componentType": component, "count": count, "type": kind
        }));
        self.accessors.len() - 1
    }
}

/// The scene as a GLB (glTF 2.0 binary).
pub fn write_glb(scene: &Scene) -> Vec<u8> {
    let mut w = Writer {
        bin: Vec::new(),
        views: Vec::new(),
        accessors: Vec::new(),
    };
    let mut images = Vec::new();
    for texture in &scene.textures {
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image_rgba(texture)
            .expect("texture buffers match their size");
        let view = w.view(&png, None);
        images.push(json!({"bufferView": view, "mimeType": "image/png"}));
    }
    let textures: Vec<Value> = (0..images.len()).map(|i| json!({"source": i})).collect();
    let mut meshes = Vec::new();
    let mut materials = Vec::new();
    let mut nodes = Vec::new();
    for mesh in &scene.meshes {
        let n = mesh.positions.len();
        let (mut lo, mut hi) = ([f32::MAX; 3], [f32::MIN; 3]);
        for p in &mesh.positions {
            for i in 0..3 {
                lo[i] = lo[i].min(p[i]);
                hi[i] = hi[i].max(p[i]);
            }
        }
        let position = w.accessor(
            bytemuck::cast_slice(&mesh.positions),
            FLOAT,
            "VEC3",
            n,
            ARRAY_BUFFER,
        );
        w.accessors[position]["min"] = json!(lo);
        w.accessors[position]["max"] = json!(hi);
        let normal = w.accessor(
            bytemuck::cast_slice(&mesh.normals),
            FLOAT,
            "VEC3",
            n,
            ARRAY_BUFFER,
        );
        let uv = w.accessor(
            bytemuck::cast_slice(&mesh.uvs),
            FLOAT,
            "VEC2",
            n,
            ARRAY_BUFFER,
        );
        let indices = w.accessor(
            bytemuck::cast_slice(&mesh.indices),
            UNSIGNED_INT,
            "SCALAR",
            mesh.indices.len(),
            ELEMENT_ARRAY_BUFFER,
        );
        let m = &mesh.material;
        let mut pbr = json!({
            "baseColorFactor": m.base_colour,
            "metallicFactor": m.metallic,
            "roughnessFactor": m.roughness,
        });
        if let Some(t) = m.base_colour_texture {
            pbr["baseColorTexture"] = json!({"index": t});
        }
        if let Some(t) = m.metallic_roughness_texture {
            pbr["metallicRoughnessTexture"] = json!({"index": t});
        }
        let mut material = json!({"pbrMetallicRoughness": pbr, "doubleSided": m.double_sided});
        if m.emissive != [0.0; 3] {
            material["emissiveFactor"] = json!(m.emissive.map(|c| c.min(1.0)));
        }
        match m.alpha {
            AlphaMode::Opaque => {}
            AlphaMode::Mask(cutoff) => {
                material["alphaMode"] = json!("MASK");
                material["alphaCutoff"] = json!(cutoff);
            }
            AlphaMode::Blend => material["alphaMode"] = json!("BLEND"),
        }
        materials.push(material);
        meshes.push(json!({"primitives": [{
            "attributes": {"POSITION": position, "NORMAL": normal, "TEXCOORD_0": uv},
            "indices": indices,
            "material": materials.len() - 1,
        }]}));
        nodes.push(json!({"mesh": meshes.len() - 1}));
    }
    while !w.bin.len().is_multiple_of(4) {
        w.bin.push(0);
    }
    let mut root = json!({
        "asset": {"version": "2.0", "generator": "atelier-render"},
        "scene": 0,
        "scenes": [{"nodes": (0..nodes.len()).collect::<Vec<_>>()}],
        "nodes": nodes,
        "meshes": meshes,
        "materials": materials,
        "accessors": w.accessors,
        "bufferViews": w.views,
        "buffers": [{"byteLength": w.bin.len()}],
    });
    if !images.is_empty() {
        root["images"] = json!(images);
        root["textures"] = json!(textures);
    }
    // The container (header, padded JSON and BIN chunks) by the `gltf` crate.
    gltf::binary::Glb {
        header: gltf::binary::Header {
            magic: *b"glTF",
            version: 2,
            length: 0,
        },
        json: serde_json::to_vec(&root).expect("json serialises").into(),
        bin: Some(w.bin.into()),
    }
    .to_vec()
    .expect("a GLB is written to memory")
}

trait WriteRgba {
    fn write_image_rgba(self, t: &crate::model::Texture) -> image::ImageResult<()>;
}

impl<W: std::io::Write> WriteRgba for image::codecs::png::PngEncoder<W> {
    fn write_image_rgba(self, t: &crate::model::Texture) -> image::ImageResult<()> {
        use image::ImageEncoder;
        self.write_image(&t.rgba, t.width, t.height, image::ExtendedColorType::Rgba8)
    }
}
