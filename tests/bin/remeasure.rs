//! Re-measure a benchmark run offline: the masks and keypoints its vision
//! stages stored, through the current `atelier_body::photo`, against the
//! generated bodies' truth, section by section (width and depth at the
//! mesh's own section heights beside the mesh's). For working on the
//! measurement rules without re-running the models or the fit.
//! `atelier-remeasure STATES.jsonl OBJECTS_DIR TRUTH.json` where each line
//! of STATES is `{"user": "bench-{id}", "state": <vision stage state>}`.
use atelier_body::calibrate::{calibrate, spread};
use atelier_body::measure::measure_body;
use atelier_body::photo::{Landmarks, View, measure_photos, widths_at};
use atelier_body::{BodyModel, Macros, default_dir};
use serde_json::Value;

fn landmarks(points: &Value) -> Landmarks {
    Landmarks::from_named(|name| {
        points
            .as_array()?
            .iter()
            .find(|p| p[0] == name)
            .map(|p| [p[1].as_f64().unwrap() as f32, p[2].as_f64().unwrap() as f32])
    })
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [states, objects, truth] = &args[..] else {
        anyhow::bail!("usage: atelier-remeasure STATES.jsonl OBJECTS_DIR TRUTH.json");
    };
    let model = BodyModel::load(&default_dir())?;
    let cal = calibrate(&model, &spread())?;
    eprintln!("{cal:?}");
    let truth: Vec<Value> = serde_json::from_slice(&std::fs::read(truth)?)?;
    let mut errors: std::collections::BTreeMap<String, Vec<f32>> = Default::default();
    for line in std::fs::read_to_string(states)?.lines() {
        let row: Value = serde_json::from_str(line)?;
        // Benchmark users are `bench-{id}`; anyone else is not ours.
        let Some(Ok(id)) = row["user"]
            .as_str()
            .and_then(|u| u.strip_prefix("bench-"))
            .map(str::parse::<i64>)
        else {
            continue;
        };
        let Some(body) = truth.iter().find(|b| b["id"] == id) else {
            continue;
        };
        let views: Vec<(String, u32, u32, Vec<u8>, Landmarks)> = row["state"]["out"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                let png = std::fs::read(
                    std::path::Path::new(objects).join(v["mask_key"].as_str().unwrap()),
                )?;
                let rgb = atelier_media::decode_rgb(&png, &Default::default())?;
                Ok((
                    v["view"].as_str().unwrap().to_owned(),
                    rgb.width,
                    rgb.height,
                    rgb.data.chunks_exact(3).map(|p| p[0]).collect(),
                    landmarks(&v["keypoints"]),
                ))
            })
            .collect::<anyhow::Result<_>>()?;
        let view = |name: &str| {
            views.iter().find(|v| v.0 == name).map(|v| View {
                width: v.1,
                height: v.2,
                alpha: &v.3,
                landmarks: &v.4,
            })
        };
        let macros: Macros = serde_json::from_value(body["macros"].clone())?;
        let mesh = measure_body(&model.base, &model.shape_macros(&macros, &[])?)?;
        let t = &body["truth_cm"];
        let stated = t["height"].as_f64().unwrap() as f32 / 100.0;
        let variant = if view("side").is_some() {
            "front+side"
        } else {
            "front"
        };
        match measure_photos(view("front").unwrap(), view("side"), stated, &cal) {
            Ok(p) => {
                let mut line = format!(
                    "{id:>3} {variant:<10} {:>4} {:<10}",
                    body["distance_m"],
                    body["backdrop"].as_str().unwrap_or("")
                );
                // The truth as this code measures the mesh (the
                // benchmark's truth.json may predate a definition).
                for ((name, e), (_, truth)) in p.named().into_iter().zip(mesh.named()).skip(1) {
                    let err = 100.0 * (e.value - truth);
                    line += &format!(" {}:{err:+5.1}", &name[..4]);
                    errors
                        .entry(format!("{variant} {name}"))
                        .or_default()
                        .push(err);
                }
                let s = mesh.sections;
                line += &format!(
                    "  | mesh w/d cm chest {:.1}/{:.1} waist {:.1}/{:.1} hips {:.1}/{:.1} neck {:.1}/{:.1}",
                    100.0 * s.chest.width,
                    100.0 * s.chest.depth,
                    100.0 * s.waist.width,
                    100.0 * s.waist.depth,
                    100.0 * s.hips.width,
                    100.0 * s.hips.depth,
                    100.0 * s.neck.width,
                    100.0 * s.neck.depth
                );
                println!("{line}");
                let heights = [s.neck.y, s.chest.y, s.waist.y, s.hips.y];
                if let Ok(seen) = widths_at(view("front").unwrap(), view("side"), stated, &heights)
                {
                    let mut diff = String::from("      photo − mesh (cm) w/d:");
                    for (name, (sec, (w, d))) in ["neck", "chest", "waist", "hips"]
                        .iter()
                        .zip([s.neck, s.chest, s.waist, s.hips].iter().zip(seen))
                    {
                        let dw = w.map_or(f32::NAN, |w| 100.0 * (w - sec.width));
                        let dd = d.map_or(f32::NAN, |d| 100.0 * (d - sec.depth));
                        diff += &format!(" {name} {dw:+.1}/{dd:+.1}");
                        errors.entry(format!("width {name}")).or_default().push(dw);
                        if d.is_some() {
                            errors.entry(format!("depth {name}")).or_default().push(dd);
                        }
                    }
                    println!("{diff}");
                }
            }
            Err(e) => println!("{id:>3} {variant:<10} refused: {e}"),
        }
    }
    for (k, v) in errors {
        let n = v.len() as f32;
        let bias = v.iter().sum::<f32>() / n;
        let mae = v.iter().map(|e| e.abs()).sum::<f32>() / n;
        let sd = (v.iter().map(|e| (e - bias).powi(2)).sum::<f32>() / (n - 1.0).max(1.0)).sqrt();
        println!("{k:<26} bias {bias:+5.2} MAE {mae:5.2} SD {sd:5.2}");
    }
    Ok(())
}
