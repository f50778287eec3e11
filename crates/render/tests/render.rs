//! The renderer on the machine's Vulkan driver (llvmpipe without a GPU).
use atelier_render::scene::cube;
use atelier_render::{
    Background, Camera, FrameSpec, Item, Lighting, MaterialOverride, Placement, Preset, Quality,
    Renderer, Scene,
};

fn renderer() -> Renderer {
    Renderer::new().expect("a Vulkan adapter (install mesa-vulkan-drivers)")
}

fn red_cube_scene() -> Scene {
    Scene::compose(vec![Item {
        model: cube([0.8, 0.05, 0.05, 1.0]),
        placement: Placement {
            translation: [0.0, 0.5, 0.0],
            ..Default::default()
        },
        material: MaterialOverride::default(),
    }])
    .unwrap()
}

fn px(frame: &atelier_render::Frame, x: u32, y: u32) -> [u8; 4] {
    let i = ((y * frame.width + x) * 4) as usize;
    frame.rgba[i..i + 4].try_into().unwrap()
}

#[test]
fn a_cube_renders_centred_lit_and_on_its_background() {
    let r = renderer();
    let scene = red_cube_scene();
    let gpu = r.upload(&scene);
    let (w, h) = (256, 192);
    let spec = |background| FrameSpec {
        width: w,
        height: h,
        camera: Camera::framed(
            &scene.bounds,
            Preset::ThreeQuarter.azimuth_deg(),
            w as f32 / h as f32,
            false,
        ),
        background,
        lighting: Lighting::Studio,
        quality: Quality::default(),
    };
    let solid = r
        .render_once(&gpu, &spec(Background::Solid([255, 255, 255])))
        .unwrap();
    assert_eq!(solid.rgba.len(), (w * h * 4) as usize);
    let centre = px(&solid, w / 2, h / 2);
    assert!(
        centre[0] > 100 && centre[1] < 80 && centre[2] < 80,
        "centre {centre:?}"
    );
    assert_eq!(
        px(&solid, 0, 0),
        [255, 255, 255, 255],
        "corner is the background"
    );
    // The ground shadow darkens some background pixels below the cube.
    let darkest_background = (0..w)
        .flat_map(|x| (h * 3 / 4..h).map(move |y| (x, y)))
        .map(|(x, y)| px(&solid, x, y))
        .filter(|p| p[0].abs_diff(p[1]) < 8 && p[1].abs_diff(p[2]) < 8)
        .map(|p| p[0])
        .min()
        .unwrap();
    assert!(
        darkest_background < 230,
        "no ground shadow: {darkest_background}"
    );

    let clear = r.render_once(&gpu, &spec(Background::Transparent)).unwrap();
    assert_eq!(px(&clear, 0, 0)[3], 0, "transparent corner");
    assert_eq!(px(&clear, w / 2, h / 2)[3], 255, "opaque model");
    std::fs::create_dir_all(env!("CARGO_TARGET_TMPDIR")).ok();
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cube.png");
    image::save_buffer(&out, &solid.rgba, w, h, image::ExtendedColorType::Rgba8).unwrap();
}

#[test]
fn presets_see_different_sides() {
    let r = renderer();
    // A cube whose +Z (front) half is blue and -Z (back) half is yellow.
    let front = Item {
        model: cube([0.05, 0.1, 0.9, 1.0]),
        placement: Placement {
            translation: [0.0, 0.5, 0.25],
            scale: [1.0, 1.0, 0.5],
            ..Default::default()
        },
        material: MaterialOverride::default(),
    };
    let back = Item {
        model: cube([0.9, 0.8, 0.05, 1.0]),
        placement: Placement {
            translation: [0.0, 0.5, -0.25],
            scale: [1.0, 1.0, 0.5],
            ..Default::default()
        },
        material: MaterialOverride::default(),
    };
    let scene = Scene::compose(vec![front, back]).unwrap();
    let gpu = r.upload(&scene);
    let shot = |preset: Preset| {
        let f = r
            .render_once(
                &gpu,
                &FrameSpec {
                    width: 64,
                    height: 64,
                    camera: Camera::framed(&scene.bounds, preset.azimuth_deg(), 1.0, false),
                    background: Background::Solid([0, 0, 0]),
                    lighting: Lighting::Studio,
                    quality: Quality::default(),
                },
            )
            .unwrap();
        px(&f, 32, 32)
    };
    let f = shot(Preset::Front);
    let b = shot(Preset::Back);
    assert!(f[2] > f[0], "front is blue: {f:?}");
    assert!(b[0] > b[2], "back is yellow: {b:?}");
}

#[test]
fn a_design_of_two_models_renders_with_its_texture_and_overrides() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/models");
    let load = |f: &str| {
        atelier_render::load(
            &std::fs::read(root.join(f)).unwrap(),
            &atelier_render::model::embedded_only,
            &Default::default(),
        )
        .unwrap()
    };
    let r = renderer();
    let scene = Scene::compose(vec![
        Item {
            model: load("dress.glb"),
            placement: Placement::default(),
            material: MaterialOverride::default(),
        },
        Item {
            model: load("hat.glb"),
            placement: Placement {
                translation: [0.0, 1.42, 0.0],
                rotation: [0.0, 0.0, 0.087, 0.996],
                scale: [0.8, 0.8, 0.8],
            },
            material: MaterialOverride {
                base_colour: Some([20, 30, 90, 255]),
                ..Default::default()
            },
        },
    ])
    .unwrap();
    let gpu = r.upload(&scene);
    let (w, h) = (384, 512);
    let frame = r
        .render_once(
            &gpu,
            &FrameSpec {
                width: w,
                height: h,
                camera: Camera::framed(
                    &scene.bounds,
                    Preset::ThreeQuarter.azimuth_deg(),
                    w as f32 / h as f32,
                    false,
                ),
                background: Background::Solid([240, 240, 240]),
                lighting: Lighting::Studio,
                quality: Quality::default(),
            },
        )
        .unwrap();
    // The stripes: along a row through the skirt both the red and the cream
    // of the fabric appear.
    let row = h * 3 / 4;
    let pixels: Vec<[u8; 4]> = (0..w).map(|x| px(&frame, x, row)).collect();
    assert!(
        pixels.iter().any(|p| p[0] > 120 && p[1] < 60),
        "no red stripe"
    );
    assert!(
        pixels
            .iter()
            .any(|p| p[0] > 150 && p[1] > 130 && p[2] > 110 && p[2] < 200),
        "no cream stripe"
    );
    // The recoloured hat near the top is dark blue.
    let hat: Vec<[u8; 4]> = (0..w)
        .flat_map(|x| (h / 20..h / 6).map(move |y| (x, y)))
        .map(|(x, y)| px(&frame, x, y))
        .collect();
    assert!(
        hat.iter()
            .any(|p| u16::from(p[2]) > u16::from(p[0]) + 20 && p[2] > 40),
        "no blue hat"
    );
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("design.png");
    image::save_buffer(&out, &frame.rgba, w, h, image::ExtendedColorType::Rgba8).unwrap();
}

#[test]
fn a_meshopt_compressed_model_renders_like_its_original() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/models");
    let r = renderer();
    let frame = |file: &str| {
        let model = atelier_render::load(
            &std::fs::read(root.join(file)).unwrap(),
            &atelier_render::model::embedded_only,
            &Default::default(),
        )
        .unwrap();
        let scene = Scene::compose(vec![Item {
            model,
            placement: Placement::default(),
            material: MaterialOverride::default(),
        }])
        .unwrap();
        // The original's bounds frame both, so the views are the same.
        let gpu = r.upload(&scene);
        (scene.bounds, gpu)
    };
    let (bounds, original) = frame("dress.glb");
    let (_, packed) = frame("dress-meshopt.glb");
    let spec = FrameSpec {
        width: 192,
        height: 256,
        camera: Camera::framed(&bounds, 20.0, 0.75, false),
        background: Background::Solid([255, 255, 255]),
        lighting: Lighting::Studio,
        quality: Quality::default(),
    };
    let a = r.render_once(&original, &spec).unwrap();
    let b = r.render_once(&packed, &spec).unwrap();
    let diff: u64 = a
        .rgba
        .iter()
        .zip(&b.rgba)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    let mean = diff as f64 / a.rgba.len() as f64;
    // Wrong texture coordinates would move the stripes: tens of levels.
    assert!(mean < 2.0, "mean difference {mean:.2}");
}
