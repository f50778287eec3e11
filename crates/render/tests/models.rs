//! Loading real glTF files: the committed test models and the malformed
//! ones in tests/data/bad (made by tests/data/make_models.py).
use atelier_render::model::embedded_only;
use atelier_render::{Limits, RenderError, load};

fn data(path: &str) -> Vec<u8> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data");
    std::fs::read(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_test_models_load_with_their_geometry_and_materials() {
    let dress = load(
        &data("models/dress.glb"),
        &embedded_only,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(dress.meshes.len(), 1);
    assert_eq!(dress.triangles(), 11 * 48 * 2);
    assert_eq!(dress.textures.len(), 1, "the striped fabric");
    assert_eq!(
        (dress.textures[0].width, dress.textures[0].height),
        (64, 64)
    );
    let m = &dress.meshes[0].material;
    assert_eq!(m.base_colour_texture, Some(0));
    assert!(m.double_sided && m.metallic == 0.0);
    let (lo, hi) = dress.bounds().unwrap();
    assert!(
        (hi.y - 1.42).abs() < 1e-4 && (lo.y - 0.46).abs() < 1e-4,
        "{lo} {hi}"
    );

    // KHR_mesh_quantization: int16 positions scaled by the node, int8 normals.
    let hat = load(&data("models/hat.glb"), &embedded_only, &Limits::default()).unwrap();
    let (lo, hi) = hat.bounds().unwrap();
    assert!(
        (hi.x - 0.34).abs() < 2e-3 && (lo.x + 0.34).abs() < 2e-3,
        "{lo} {hi}"
    );
    assert!((hi.y - 0.16).abs() < 2e-3, "{hi}");
    for n in &hat.meshes[0].normals {
        let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
        assert!((len - 1.0).abs() < 1e-3);
    }
}

#[test]
fn external_buffers_come_only_from_the_resolver() {
    let gltf = data("models/dress.gltf");
    let bin = data("models/dress.bin");
    let resolve = |uri: &str| (uri == "dress.bin").then(|| bin.clone());
    let model = load(&gltf, &resolve, &Limits::default()).unwrap();
    assert_eq!(model.triangles(), 11 * 48 * 2);
    let err = load(&gltf, &embedded_only, &Limits::default()).unwrap_err();
    assert!(
        matches!(&err, RenderError::InvalidModel(m) if m.contains("dress.bin")),
        "{err}"
    );
}

#[test]
fn malformed_models_fail_with_their_own_error_and_never_read_outside_the_upload() {
    let limits = Limits::default();
    type Expect = fn(&RenderError) -> bool;
    let cases: [(&str, Expect); 11] = [
        ("bad/not-gltf.glb", |e| {
            matches!(e, RenderError::InvalidModel(_))
        }),
        ("bad/truncated.glb", |e| {
            matches!(e, RenderError::InvalidModel(_))
        }),
        (
            "bad/outside-buffer.gltf",
            |e| matches!(e, RenderError::InvalidModel(m) if m.contains("etc/passwd")),
        ),
        (
            "bad/network-buffer.gltf",
            |e| matches!(e, RenderError::InvalidModel(m) if m.contains("169.254")),
        ),
        (
            "bad/ten-million-triangles.glb",
            |e| matches!(e, RenderError::ModelTooLarge(m) if m.contains("10000000 triangles")),
        ),
        (
            "bad/texture-16k.glb",
            |e| matches!(e, RenderError::ModelTooLarge(m) if m.contains("16384")),
        ),
        (
            "bad/texture-bomb.glb",
            |e| matches!(e, RenderError::ModelTooLarge(m) if m.contains("50000")),
        ),
        ("bad/texture-not-image.glb", |e| {
            matches!(e, RenderError::TextureUnsupported { .. })
        }),
        (
            "bad/nan-positions.glb",
            |e| matches!(e, RenderError::InvalidModel(m) if m.contains("NaN")),
        ),
        (
            "bad/missing-indices.glb",
            |e| matches!(e, RenderError::InvalidModel(m) if m.contains("indices")),
        ),
        ("bad/empty.jpg", |e| {
            matches!(e, RenderError::InvalidModel(_))
        }),
    ];
    for (file, expected) in cases {
        // A resolver that would hand out anything proves the loader asks it
        // (and the worker's refuses); the loader itself opens no file.
        let err = load(&data(file), &embedded_only, &limits).unwrap_err();
        assert!(expected(&err), "{file}: {err:?}");
    }
    // An empty scene is valid glTF with nothing in it.
    let empty = load(&data("bad/empty-scene.glb"), &embedded_only, &limits).unwrap();
    assert_eq!(empty.triangles(), 0);
}

#[test]
fn meshopt_compressed_models_read_back_as_their_originals() {
    // tests/data/models/*-meshopt.glb: gltfpack 0.18 `-cc` of the originals
    // (EXT_meshopt_compression with the octahedral filter, quantised
    // positions and UVs with KHR_texture_transform).
    for (original, packed) in [
        ("models/dress.glb", "models/dress-meshopt.glb"),
        ("models/hat.glb", "models/hat-meshopt.glb"),
    ] {
        let a = load(&data(original), &embedded_only, &Limits::default()).unwrap();
        let b = load(&data(packed), &embedded_only, &Limits::default()).unwrap();
        let (alo, ahi) = a.bounds().unwrap();
        let (blo, bhi) = b.bounds().unwrap();
        assert!(
            (alo - blo).abs().max_element() < 2e-3 && (ahi - bhi).abs().max_element() < 2e-3,
            "{packed}: bounds {blo} {bhi} vs {alo} {ahi}"
        );
        let (ta, tb) = (a.triangles() as f64, b.triangles() as f64);
        assert!(
            tb >= ta * 0.9 && tb <= ta,
            "{packed}: {tb} triangles vs {ta}"
        );
        for n in b.meshes.iter().flat_map(|m| &m.normals) {
            let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
            assert!((len - 1.0).abs() < 1e-3, "{packed}: normal {n:?}");
        }
    }
}

#[test]
fn a_composed_scene_written_as_glb_loads_back_the_same() {
    use atelier_render::{Item, MaterialOverride, Placement, Scene};
    let dress = load(
        &data("models/dress.glb"),
        &embedded_only,
        &Limits::default(),
    )
    .unwrap();
    let hat = load(
        &data("models/hat-meshopt.glb"),
        &embedded_only,
        &Limits::default(),
    )
    .unwrap();
    let scene = Scene::compose(vec![
        Item {
            model: dress,
            placement: Placement::default(),
            material: MaterialOverride::default(),
        },
        Item {
            model: hat,
            placement: Placement {
                translation: [0.0, 1.42, 0.0],
                scale: [0.8; 3],
                ..Default::default()
            },
            material: MaterialOverride {
                base_colour: Some([31, 42, 90, 255]),
                ..Default::default()
            },
        },
    ])
    .unwrap();
    let glb = atelier_render::glb::write_glb(&scene);
    std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("design.glb"),
        &glb,
    )
    .unwrap();
    // Valid glTF (the crate's validator runs in `load`), same geometry.
    let back = load(&glb, &embedded_only, &Limits::default()).unwrap();
    assert_eq!(back.triangles(), scene.triangles());
    let (lo, hi) = back.bounds().unwrap();
    assert!((lo - scene.bounds.min).abs().max_element() < 1e-5);
    assert!((hi - scene.bounds.max).abs().max_element() < 1e-5);
    assert_eq!(back.textures.len(), 1, "the fabric");
    let hat = back
        .meshes
        .iter()
        .find(|m| m.positions.iter().any(|p| p[1] > 1.5))
        .expect("the hat");
    let hat_colour = hat.material.base_colour;
    assert!(
        (hat_colour[2] - atelier_render::scene::srgb_to_linear(90)).abs() < 1e-4,
        "baked override"
    );
}
