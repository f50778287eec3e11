//! Photographs of generated bodies with their ground truth, for the avatar
//! benchmark (benches/avatar/run.sh): `atelier-studio OUT_DIR [BODIES]
//! [FIRST] [VIEWS]` writes bodies FIRST.. (default 100: bodies 0–11 are the
//! ones the inseam's keypoint line was fitted on) as `{i}-front.png`,
//! `{i}-side.png` (VIEWS, default `front,side`; `back` too for the vision
//! evaluation set), each with its exact body mask `{i}-{view}-mask.png`,
//! and `truth.json` (each body's
//! macro values, tape measurements in cm, camera distance and backdrop).
//! Bodies spread over sex, height, weight, muscle and proportions; camera
//! distances cycle through 2.5, 3.5 and 5 m; every third pair is
//! composited over a real street or park photo (clutter).
use atelier_body::Macros;
use atelier_tests::studio::Studio;
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(args.next().unwrap_or_else(|| ".avatar-bench".into()));
    let bodies: usize = args.next().map_or(Ok(30), |n| n.parse())?;
    let first: usize = args.next().map_or(Ok(100), |n| n.parse())?;
    let views: Vec<(String, f32)> = args
        .next()
        .unwrap_or_else(|| "front,side".into())
        .split(',')
        .map(|view| match view {
            "front" => Ok((view.to_owned(), 0.0)),
            "side" => Ok((view.to_owned(), 90.0)),
            "back" => Ok((view.to_owned(), 180.0)),
            other => Err(anyhow::anyhow!(
                "unknown view {other:?} (front, side, back)"
            )),
        })
        .collect::<anyhow::Result<_>>()?;
    std::fs::create_dir_all(&out)?;
    let studio = Studio::new()?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let backdrops: Vec<(String, atelier_media::RgbPhoto)> = ["street.jpg", "park.jpg"]
        .iter()
        .map(|name| {
            let bytes = std::fs::read(root.join("data/eval/photos").join(name))?;
            Ok((
                name.to_string(),
                atelier_media::decode_rgb(&bytes, &Default::default())?,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut truth = Vec::new();
    for i in first..first + bodies {
        // A low-discrepancy spread: each variable walks its range at its
        // own stride, so 30 bodies cover the corners and the middle.
        let walk = |stride: f32| (0.5 + i as f32 * stride).fract();
        let macros = Macros {
            gender: if i % 2 == 0 { 0.0 } else { 1.0 },
            height: 0.1 + 0.8 * walk(0.618_034),
            weight: 0.15 + 0.7 * walk(0.414_214),
            muscle: 0.1 + 0.8 * walk(0.732_051),
            proportions: 0.2 + 0.6 * walk(0.236_068),
            age: 0.35 + 0.3 * walk(0.847_759),
            ..Macros::default()
        };
        let subject = studio.subject(macros)?;
        let distance = [2.5, 3.5, 5.0][i % 3];
        let backdrop = (i % 3 == 2).then(|| &backdrops[(i / 3) % backdrops.len()]);
        for (view, azimuth) in &views {
            let (png, mask) = studio.photograph_with_mask(
                &subject,
                *azimuth,
                distance,
                backdrop.map(|(_, p)| (p.data.as_slice(), p.width, p.height)),
            )?;
            std::fs::write(out.join(format!("{i}-{view}.png")), png)?;
            std::fs::write(out.join(format!("{i}-{view}-mask.png")), mask)?;
        }
        truth.push(json!({
            "id": i,
            "sex": if macros.gender < 0.5 { "female" } else { "male" },
            "macros": macros,
            "truth_cm": subject.truth,
            "distance_m": distance,
            "backdrop": backdrop.map_or("plain", |(name, _)| name.as_str()),
        }));
        eprintln!("body {i}: {:?}", subject.truth);
    }
    std::fs::write(out.join("truth.json"), serde_json::to_vec_pretty(&truth)?)?;
    Ok(())
}
