//! The real HM08 body model (fetched by scripts/fetch-body.sh): shapes and
//! measurements behave as a tailor would expect.
use atelier_body::measure::{girth, height};
use atelier_body::{BodyModel, Macros, UNITS_PER_METRE, default_dir};

fn model() -> BodyModel {
    BodyModel::load(&default_dir()).expect("run scripts/fetch-body.sh")
}

/// Height and the waist girth (at the spine joint above the pelvis, around
/// the torso's loop), in metres.
fn measure(m: &BodyModel, macros: &Macros, extra: &[(String, f32)]) -> (f32, f32) {
    let p = m.shape_macros(macros, extra).unwrap();
    let body = m.base.group_vertices("body").unwrap();
    let tris = m.base.triangles("body").unwrap();
    let axis = m.base.centre("joint-pelvis", &p).unwrap();
    let waist = m.base.centre("joint-spine-3", &p).unwrap();
    (
        height(&p, &body) / UNITS_PER_METRE,
        girth(&p, &tris, waist[1], axis[0], waist[2]) / UNITS_PER_METRE,
    )
}

#[test]
fn the_skin_is_the_body_group_and_every_macro_target_exists() {
    let m = model();
    assert_eq!(
        m.base.positions.len(),
        19158,
        "the whole mesh, helpers included"
    );
    let body = m.base.group_vertices("body").unwrap();
    assert_eq!(body.len(), 13380);
    assert!(m.base.groups.contains_key("joint-pelvis"));
    // Every target the macro blending names, over the corners of the
    // variables' ranges and the level boundaries, is in the data.
    for gender in [0.0, 1.0] {
        for age in [0.0, 0.1, 0.1875, 0.3, 0.5, 0.8, 1.0] {
            for (muscle, weight) in [(0.0, 1.0), (1.0, 0.0), (0.25, 0.75)] {
                for (height, proportions) in [(0.0, 1.0), (1.0, 0.0)] {
                    let macros = Macros {
                        gender,
                        age,
                        muscle,
                        weight,
                        height,
                        proportions,
                        ..Macros::default()
                    };
                    for (name, _) in macros.targets() {
                        m.target(&name).unwrap_or_else(|e| panic!("{e}"));
                    }
                }
            }
        }
    }
}

#[test]
fn macros_and_measurement_targets_move_height_and_waist_the_right_way() {
    let m = model();
    let female = Macros {
        gender: 0.0,
        ..Macros::default()
    };
    let male = Macros {
        gender: 1.0,
        ..Macros::default()
    };
    let (hf, wf) = measure(&m, &female, &[]);
    let (hm, wm) = measure(&m, &male, &[]);
    // MakeHuman's average young adults: about 1.59 m and 1.73 m.
    assert!(
        (1.5..1.7).contains(&hf) && (1.65..1.85).contains(&hm),
        "{hf} {hm}"
    );
    assert!(
        (0.6..0.9).contains(&wf) && (0.6..0.95).contains(&wm),
        "{wf} {wm}"
    );

    let (tall, _) = measure(
        &m,
        &Macros {
            height: 1.0,
            ..male
        },
        &[],
    );
    let (short, _) = measure(
        &m,
        &Macros {
            height: 0.0,
            ..male
        },
        &[],
    );
    assert!(tall - short > 0.15, "{short} → {tall}");

    let (_, heavy) = measure(
        &m,
        &Macros {
            weight: 1.0,
            ..female
        },
        &[],
    );
    let (_, light) = measure(
        &m,
        &Macros {
            weight: 0.0,
            ..female
        },
        &[],
    );
    assert!(heavy - light > 0.1, "{light} → {heavy}");

    let incr = [("torso/measure-waist-circ-incr.target.gz".to_owned(), 1.0)];
    let decr = [("torso/measure-waist-circ-decr.target.gz".to_owned(), 1.0)];
    let (h_incr, bigger) = measure(&m, &female, &incr);
    let (_, smaller) = measure(&m, &female, &decr);
    assert!(
        bigger - wf > 0.02 && wf - smaller > 0.02,
        "{smaller} {wf} {bigger}"
    );
    assert!(
        (h_incr - hf).abs() < 0.005,
        "the waist target keeps the height"
    );
}

#[test]
fn a_body_measures_like_a_person_and_measurement_targets_move_their_measure() {
    use atelier_body::measure::measure_body;
    let m = model();
    let female = Macros {
        gender: 0.0,
        ..Macros::default()
    };
    let measure = |extra: &[(String, f32)]| {
        measure_body(&m.base, &m.shape_macros(&female, extra).unwrap()).unwrap()
    };
    let base = measure(&[]);
    // MakeHuman's average young woman, within ranges a tailor would accept.
    assert!((1.5..1.7).contains(&base.height), "{base:?}");
    assert!((0.28..0.42).contains(&base.neck), "{base:?}");
    assert!((0.75..1.0).contains(&base.chest), "{base:?}");
    assert!((0.6..0.8).contains(&base.waist), "{base:?}");
    assert!((0.85..1.05).contains(&base.hips), "{base:?}");
    assert!(
        base.waist < base.chest && base.waist < base.hips,
        "{base:?}"
    );
    assert!((0.25..0.45).contains(&base.shoulder_width), "{base:?}");
    assert!((0.35..0.65).contains(&base.arm_length), "{base:?}");
    assert!((0.65..0.85).contains(&base.inseam), "{base:?}");

    for (target, pick) in [
        (
            "torso/measure-bust-circ-incr",
            (|x: &atelier_body::measure::Measurements| x.chest) as fn(&_) -> f32,
        ),
        ("torso/measure-hips-circ-incr", |x| x.hips),
        ("neck/measure-neck-circ-incr", |x| x.neck),
    ] {
        let grown = measure(&[(format!("{target}.target.gz"), 1.0)]);
        assert!(
            pick(&grown) - pick(&base) > 0.01,
            "{target}: {base:?} → {grown:?}"
        );
        assert!(
            (grown.height - base.height).abs() < 0.01,
            "{target} keeps the height"
        );
    }
}

/// A body generated at known parameters is measured, and the fit recovers
/// its measurements from those numbers alone (within 1 cm; height 0.5 cm).
#[test]
fn the_fit_recovers_a_generated_bodys_measurements() {
    use atelier_body::fit::{Goal, fit};
    use atelier_body::measure::measure_body;
    let m = model();
    let truth = Macros {
        gender: 0.0,
        height: 0.75,
        weight: 0.35,
        muscle: 0.6,
        ..Macros::default()
    };
    let extra = [
        ("torso/measure-bust-circ-incr.target.gz".to_owned(), 0.4),
        ("torso/measure-hips-circ-decr.target.gz".to_owned(), 0.3),
    ];
    let want = measure_body(&m.base, &m.shape_macros(&truth, &extra).unwrap()).unwrap();
    let goal = Goal {
        height: Some(want.height),
        neck: Some(want.neck),
        chest: Some(want.chest),
        waist: Some(want.waist),
        hips: Some(want.hips),
        shoulder_width: Some(want.shoulder_width),
        inseam: Some(want.inseam),
    };
    let got = fit(&m, 0.0, &goal).unwrap();
    let g = got.measured;
    assert!((g.height - want.height).abs() < 0.005, "{want:?}\n{got:?}");
    for (a, b) in [
        (g.neck, want.neck),
        (g.chest, want.chest),
        (g.waist, want.waist),
        (g.hips, want.hips),
        (g.shoulder_width, want.shoulder_width),
        (g.inseam, want.inseam),
    ] {
        assert!((a - b).abs() < 0.01, "{want:?}\n{got:?}");
    }
    assert!(got.rms < 0.005, "{got:?}");
}

/// Tape measurements of a real woman (a size-12 pattern's body: 168 cm,
/// bust 92, waist 74, hips 100) are reached within a centimetre.
#[test]
fn the_fit_reaches_ordinary_measurements() {
    use atelier_body::fit::{Goal, fit};
    let m = model();
    let goal = Goal {
        height: Some(1.68),
        chest: Some(0.92),
        waist: Some(0.74),
        hips: Some(1.00),
        ..Goal::default()
    };
    let got = fit(&m, 0.0, &goal).unwrap();
    let g = got.measured;
    for (a, b) in [
        (g.height, 1.68),
        (g.chest, 0.92),
        (g.waist, 0.74),
        (g.hips, 1.0),
    ] {
        assert!((a - b).abs() < 0.01, "{got:?}");
    }
}

/// The section calibration, fitted on 56 generated bodies, predicts the
/// girths of other bodies from their widths and depths alone.
#[test]
fn girths_follow_from_width_and_depth_once_calibrated_on_the_model() {
    use atelier_body::calibrate::{calibrate, spread};
    use atelier_body::measure::measure_body;
    let m = model();
    let cal = calibrate(&m, &spread()).unwrap();
    for s in [cal.neck, cal.chest, cal.waist, cal.hips] {
        // Near an ellipse's π/2 per axis, each section its own shape.
        assert!(
            (0.8..2.6).contains(&s.a) && (0.8..2.6).contains(&s.b),
            "{cal:?}"
        );
        assert!(s.residual_sd < 0.03, "{cal:?}");
    }
    // Bodies not in the calibration set.
    for macros in [
        Macros {
            gender: 0.3,
            weight: 0.7,
            muscle: 0.4,
            height: 0.6,
            ..Macros::default()
        },
        Macros {
            gender: 0.9,
            weight: 0.2,
            muscle: 0.8,
            height: 0.3,
            ..Macros::default()
        },
    ] {
        let got = measure_body(&m.base, &m.shape_macros(&macros, &[]).unwrap()).unwrap();
        let s = got.sections;
        for (model, section) in [
            (cal.waist, s.waist),
            (cal.hips, s.hips),
            (cal.chest, s.chest),
        ] {
            let predicted = model.girth(section.width, section.depth);
            let err = (predicted - section.girth).abs();
            assert!(
                err < 0.03 + 2.0 * model.residual_sd,
                "{macros:?}: {section:?} predicted {predicted}"
            );
        }
    }
}

/// The avatar's mesh: the skin only, split at UV seams, rigged, within the
/// web budget at every level of detail, and written as GLB files that get
/// smaller with each level and with compression.
#[test]
fn the_skin_becomes_rigged_levels_of_detail_in_compact_glbs() {
    use atelier_body::glb::{Compression, LOD0_MAX_TRIANGLES, Look, lods, write_glb};
    use atelier_body::measure::measure_body;
    use atelier_body::mesh::skin_mesh;
    use atelier_body::rig::Rig;
    let m = model();
    let rig = Rig::load(&default_dir(), m.base.positions.len()).unwrap();
    assert_eq!(rig.bones.len(), 53);
    assert_eq!(rig.bones[0].name, "Root");
    let macros = Macros {
        gender: 0.0,
        height: 0.6,
        ..Macros::default()
    };
    let positions = m.shape_macros(&macros, &[]).unwrap();
    let mesh = skin_mesh(&m.base, &positions, &rig).unwrap();
    // 13,378 quads of skin; seams add vertices, helpers are gone.
    assert_eq!(mesh.triangles(), 2 * 13_378);
    assert!(
        mesh.positions.len() > 13_380 && mesh.positions.len() < 16_000,
        "{}",
        mesh.positions.len()
    );
    let (lo, hi) = mesh.bounds();
    assert!(lo[1].abs() < 1e-6, "feet on the floor");
    let measured = measure_body(&m.base, &positions).unwrap();
    assert!(
        (hi[1] - measured.height).abs() < 0.005,
        "{hi:?} vs {}",
        measured.height
    );
    // Every vertex follows at least one bone; the hands follow hand bones.
    assert!(
        mesh.weights
            .iter()
            .all(|w| (w.iter().sum::<f32>() - 1.0).abs() < 1e-4)
    );
    let hand = mesh
        .skeleton
        .iter()
        .position(|j| j.name == "hand_l")
        .unwrap();
    let wrist = mesh.skeleton[hand].head;
    assert!(wrist[0] > 0.5 * hi[0], "the left hand is on +x: {wrist:?}");

    let levels = lods(&mesh);
    let tris: Vec<usize> = levels.iter().map(|l| l.triangles()).collect();
    assert!(
        tris[0] <= LOD0_MAX_TRIANGLES && tris[0] > LOD0_MAX_TRIANGLES * 9 / 10,
        "{tris:?}"
    );
    for (k, share) in [(1, 0.75), (2, 0.5)] {
        let want = tris[0] as f32 * share;
        assert!((tris[k] as f32 - want).abs() < 0.03 * want, "{tris:?}");
    }
    // The silhouette holds: each level keeps the body's extent within 1 cm.
    for l in &levels {
        let (a, b) = l.bounds();
        for k in 0..3 {
            assert!(
                (a[k] - lo[k]).abs() < 0.01 && (b[k] - hi[k]).abs() < 0.01,
                "{a:?} {b:?}"
            );
        }
    }
    let plain = write_glb(&levels[0], &Look::default(), Compression::None);
    let packed: Vec<Vec<u8>> = levels
        .iter()
        .map(|l| write_glb(l, &Look::default(), Compression::Meshopt))
        .collect();
    assert!(
        packed[0].len() * 2 < plain.len(),
        "{} vs {}",
        packed[0].len(),
        plain.len()
    );
    assert!(packed[1].len() < packed[0].len() && packed[2].len() < packed[1].len());
    assert_eq!(&packed[0][..4], b"glTF");
    // The Draco variant: smaller still, and its stream decodes back to the
    // mesh's vertices and triangles.
    let draco = atelier_body::glb::write_glb_draco(&levels[0], &Look::default()).unwrap();
    assert!(
        draco.len() < packed[0].len(),
        "{} vs {}",
        draco.len(),
        packed[0].len()
    );
    let json_len = u32::from_le_bytes(draco[12..16].try_into().unwrap()) as usize;
    let doc: serde_json::Value = serde_json::from_slice(&draco[20..20 + json_len]).unwrap();
    let ext = &doc["meshes"][0]["primitives"][0]["extensions"]["KHR_draco_mesh_compression"];
    let view = &doc["bufferViews"][ext["bufferView"].as_u64().unwrap() as usize];
    let bin = &draco[20 + json_len + 8..];
    let at = view["byteOffset"].as_u64().unwrap_or(0) as usize;
    let stream = &bin[at..at + view["byteLength"].as_u64().unwrap() as usize];
    let mut decoded = draco_core::Mesh::new();
    draco_core::MeshDecoder::new()
        .decode(&mut draco_core::DecoderBuffer::new(stream), &mut decoded)
        .unwrap();
    assert_eq!(decoded.num_faces(), levels[0].triangles());
    assert_eq!(decoded.num_attributes(), 5);
    if let Some(dir) = std::env::var_os("ATELIER_WRITE_GLB") {
        std::fs::write(std::path::PathBuf::from(&dir).join("draco.glb"), &draco).unwrap();
        let dir = std::path::PathBuf::from(dir);
        std::fs::write(dir.join("plain.glb"), &plain).unwrap();
        for (k, g) in packed.iter().enumerate() {
            std::fs::write(dir.join(format!("lod{k}.glb")), g).unwrap();
        }
    }
}
