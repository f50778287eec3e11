//! `avatar.build` end to end: photos of generated bodies (known
//! measurements, rendered by the project's renderer: `support/studio.rs`)
//! and a real street photo through HTTP → worker (real models, the body
//! model, the renderer) → Postgres, S3 and the WebSocket; the GLB files
//! checked by the Khronos validator and loaded by three.js
//! (`tests/gltf/check.mjs`); bad photos refused with their codes; a worker
//! killed mid-build resumed at the stage it was in.
use std::time::Duration;

use atelier_body::Macros;
use atelier_tests::studio::{Studio, Subject};
use atelier_tests::{EnvOptions, TestEnv, fixture};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(300);

fn studio() -> Studio {
    Studio::new().expect("the body model (scripts/fetch-body.sh) and a Vulkan device")
}

fn woman(studio: &Studio) -> Subject {
    studio
        .subject(Macros {
            gender: 0.0,
            weight: 0.6,
            height: 0.45,
            ..Macros::default()
        })
        .unwrap()
}

/// A photo of the subject from `azimuth` degrees, uploaded.
async fn photographed(
    env: &TestEnv,
    studio: &Studio,
    who: &Subject,
    user: &str,
    azimuth: f32,
) -> String {
    let png = studio.photograph(who, azimuth, 3.0, None).unwrap();
    // Set to look at what the worker was given.
    if let Some(dir) = std::env::var_os("ATELIER_KEEP_PHOTOS") {
        std::fs::write(
            std::path::Path::new(&dir).join(format!("{user}-{azimuth}.png")),
            &png,
        )
        .unwrap();
    }
    env.upload(user, png, "image/png").await
}

/// What a viewer makes of a GLB: the validator's report and three.js's
/// load (`tests/gltf/check.mjs`, npm packages installed by scripts/test.sh).
fn check_glb(bytes: &[u8], dir: &std::path::Path, name: &str) -> Value {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("gltf/check.mjs");
    let out = std::process::Command::new("node")
        .arg(&script)
        .arg(&path)
        .output()
        .expect("node (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "check.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The declared stages the job's progress events named, in order.
fn stages_reported(events: &[Value], job: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for e in events {
        if e["type"] == "job.progress"
            && e["job_id"] == job
            && e["data"]["position"].is_number()
            && let Some(stage) = e["data"]["stage"].as_str()
            && seen.last().map(String::as_str) != Some(stage)
        {
            seen.push(stage.to_owned());
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_body_becomes_a_measured_rigged_avatar() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker().unwrap();
    let studio = studio();
    let who = woman(&studio);
    let t = &who.truth;
    let front = photographed(&env, &studio, &who, "ada", 0.0).await;
    let side = photographed(&env, &studio, &who, "ada", 90.0).await;
    let mut socket = env.socket(&env.token("ada").await, None).await;
    let id = env
        .submit(
            "avatar.build",
            "ada",
            json!({"photos": {"front": front, "side": side}, "height_cm": t["height"], "sex": "female",
                   "options": {"draco": true}}),
        )
        .await;
    let job = env.wait_final(&id, WAIT).await;
    assert_eq!(job["status"], "complete", "{job}\n{}", env.worker_logs());
    let r = &job["result"];
    let avatar = r["avatar_id"].as_str().unwrap().to_owned();

    // Measurements near the body's own, each with its interval.
    let m = &r["measurements"];
    assert_eq!(m["unit"], "cm");
    assert!((m["height"]["value"].as_f64().unwrap() - f64::from(t["height"])).abs() < 0.1);
    for (&name, &truth) in t {
        let (value, plus) = (
            m[name]["value"].as_f64().unwrap(),
            m[name]["uncertainty"].as_f64().unwrap(),
        );
        let allowed = match name {
            "height" => 0.1,
            "neck" | "chest" | "waist" | "hips" => 4.0,
            _ => 6.0,
        };
        assert!(
            (value - f64::from(truth)).abs() < allowed,
            "{name}: {value} ± {plus} against {truth}\n{m}\n{t:?}"
        );
        if name != "height" {
            assert!(plus > 0.0 && plus < 12.0, "{name}: ± {plus}");
        }
    }
    assert_eq!(r["side_photo_used"], true);
    assert!(r["confidence"].as_f64().unwrap() > 0.3, "{r}");
    assert!(r["body"]["fit_rms_cm"].as_f64().unwrap() < 3.0, "{r}");

    // Three levels of detail, each a valid GLB a viewer loads and poses,
    // meshopt-compressed and (asked for) Draco-compressed.
    let all = r["models"].as_array().unwrap();
    assert_eq!(all.len(), 6, "{all:?}");
    let models: Vec<&Value> = all
        .iter()
        .filter(|f| f["compression"] == "meshopt")
        .collect();
    let dracos: Vec<&Value> = all.iter().filter(|f| f["compression"] == "draco").collect();
    assert_eq!((models.len(), dracos.len()), (3, 3));
    let tris: Vec<u64> = models
        .iter()
        .map(|f| f["triangles"].as_u64().unwrap())
        .collect();
    assert!(tris[0] <= 25_000 && tris[0] > 20_000, "{tris:?}");
    assert!(
        (tris[1] as f64 / tris[0] as f64 - 0.75).abs() < 0.03,
        "{tris:?}"
    );
    assert!(
        (tris[2] as f64 / tris[0] as f64 - 0.5).abs() < 0.03,
        "{tris:?}"
    );
    let names = [
        "avatar.glb",
        "avatar-lod1.glb",
        "avatar-lod2.glb",
        "avatar.draco.glb",
        "avatar-lod1.draco.glb",
        "avatar-lod2.draco.glb",
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut sizes = Vec::new();
    for (file, name) in models.iter().chain(&dracos).zip(names) {
        assert_eq!(file["key"], format!("avatars/models/ada/{avatar}/{name}"));
        let bytes = env.object_bytes(file).await;
        sizes.push(bytes.len());
        let seen = check_glb(&bytes, dir.path(), name);
        assert_eq!(seen["validator"]["errors"], 0, "{name}: {seen}");
        let three = &seen["three"];
        assert_eq!(three["bones"], 53, "{name}: {seen}");
        assert_eq!(three["triangles"], file["triangles"], "{name}: {seen}");
        let height =
            three["rest"]["max"][1].as_f64().unwrap() - three["rest"]["min"][1].as_f64().unwrap();
        assert!(
            (100.0 * height - f64::from(t["height"])).abs() < 2.0,
            "{name}: {height} m"
        );
        assert_ne!(
            three["rest"], three["posed"],
            "turning the upper arm moves the skin"
        );
    }
    assert!(sizes[0] > sizes[1] && sizes[1] > sizes[2], "{sizes:?}");
    assert!(sizes[0] < 250_000, "{sizes:?}");
    assert!(sizes[3] < sizes[0], "Draco is the smaller: {sizes:?}");

    // The preview still shows the body on white.
    let png = env.object_bytes(&r["preview"]).await;
    let still = atelier_media::decode_rgb(&png, &Default::default()).unwrap();
    assert_eq!((still.width, still.height), (512, 512));
    let body = still
        .data
        .chunks_exact(3)
        .filter(|p| p.iter().any(|&c| c < 200))
        .count();
    assert!(body > 512 * 512 / 20, "{body} body pixels");

    // Every stage reported, the domain event delivered.
    let events = socket.until("job.completed", &id, WAIT).await;
    assert_eq!(
        stages_reported(&events, &id),
        [
            "ingest", "vision", "measure", "fit", "mesh", "lods", "compress", "store"
        ]
    );
    let processed = match events.iter().find(|e| e["type"] == "avatar.processed") {
        Some(e) => e.clone(),
        None => socket
            .until("avatar.processed", &id, WAIT)
            .await
            .pop()
            .unwrap(),
    };
    assert_eq!(processed["data"]["avatar_id"], avatar.as_str());

    // The rows: the avatar ready, its measurements and photos.
    let pool = &env.state.pool;
    let (status, confidence): (String, Option<f32>) =
        sqlx::query_as("SELECT status, confidence FROM avatars WHERE id = $1::uuid")
            .bind(&avatar)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(status, "ready");
    assert!(confidence.is_some());
    let (measured, photos): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM avatar_measurements WHERE avatar_id = $1::uuid),
                (SELECT count(*) FROM avatar_photos WHERE avatar_id = $1::uuid)",
    )
    .bind(&avatar)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!((measured, photos), (8, 2));

    assert_eq!(r["vision_from_cache"], json!([]));

    // The front photo alone, in inches: the same body, wider intervals;
    // the user's own vision.segment and vision.pose of it come first, and
    // the avatar takes its mask and keypoints from them.
    for kind in ["vision.segment", "vision.pose"] {
        let id = env.submit(kind, "ada", json!({"upload_id": front})).await;
        assert_eq!(env.wait_final(&id, WAIT).await["status"], "complete");
    }
    let id = env
        .submit(
            "avatar.build",
            "ada",
            json!({"photos": {"front": front}, "height_cm": t["height"], "sex": "female", "unit": "imperial"}),
        )
        .await;
    let job = env.wait_final(&id, WAIT).await;
    assert_eq!(job["status"], "complete", "{job}");
    let alone = &job["result"];
    assert_eq!(alone["side_photo_used"], false);
    assert_eq!(alone["vision_from_cache"], json!(["front"]));
    assert_eq!(alone["measurements"]["unit"], "in");
    for name in ["chest", "waist", "hips"] {
        let inches = alone["measurements"][name]["value"].as_f64().unwrap();
        let truth = f64::from(t[name]) / 2.54;
        assert!(
            (inches - truth).abs() < 3.0,
            "{name}: {inches} in against {truth}"
        );
        let with_side = m[name]["uncertainty"].as_f64().unwrap() / 2.54;
        let without = alone["measurements"][name]["uncertainty"].as_f64().unwrap();
        assert!(
            without > with_side,
            "{name}: ± {without} in front-only, ± {with_side} with the side"
        );
    }
    socket.close().await;
    env.finish().await;
}

/// The left man of bus.jpg (scripts/fetch-test-photos.sh), cut out of the
/// street scene with his whole body.
fn bus() -> Vec<u8> {
    let dir = std::env::var_os("ATELIER_TEST_PHOTOS_DIR").map_or_else(
        || {
            std::path::PathBuf::from(std::env::var("HOME").unwrap())
                .join(".cache/atelier/test-photos")
        },
        std::path::PathBuf::from,
    );
    std::fs::read(dir.join("bus.jpg")).expect("run scripts/fetch-test-photos.sh")
}

fn crop(photo: &[u8], x0: u32, y0: u32, x1: u32, y1: u32) -> Vec<u8> {
    let rgb = atelier_media::decode_rgb(photo, &Default::default()).unwrap();
    let (x1, y1) = (x1.min(rgb.width), y1.min(rgb.height));
    let mut out = Vec::new();
    for y in y0..y1 {
        let row = (y * rgb.width) as usize * 3;
        out.extend_from_slice(&rgb.data[row + x0 as usize * 3..row + x1 as usize * 3]);
    }
    atelier_media::encode_png(x1 - x0, y1 - y0, &out, 3)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_that_cannot_make_an_avatar_are_refused_and_a_real_one_builds() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker().unwrap();
    let studio = studio();
    let who = woman(&studio);
    let front_png = studio.photograph(&who, 0.0, 3.0, None).unwrap();
    let user = "bea";
    let up = |bytes: Vec<u8>| {
        let env = &env;
        async move { env.upload(user, bytes, "application/octet-stream").await }
    };
    let front = up(front_png.clone()).await;
    let front_again = up(front_png.clone()).await;
    let head_cut = up(crop(&front_png, 0, 260, 720, 1280)).await;
    let feet_cut = up(crop(&front_png, 0, 0, 720, 1000)).await;
    let street = up(bus()).await;
    let cat = up(fixture("tests/data/eval/photos/cat.jpg")).await;
    let h = who.truth["height"];
    let cases = [
        (
            json!({"front": street}),
            "avatar.multiple_people",
            "people in the front photo",
        ),
        (json!({"front": cat}), "vision.no_person", "front photo"),
        (
            json!({"front": front, "side": front_again}),
            "avatar.pose_mismatch",
            "side photo",
        ),
        (json!({"front": head_cut}), "avatar.body_cropped", "head"),
        (json!({"front": feet_cut}), "avatar.body_cropped", "feet"),
    ];
    let mut ids = Vec::new();
    for (photos, _, _) in &cases {
        ids.push(
            env.submit(
                "avatar.build",
                user,
                json!({"photos": photos, "height_cm": h}),
            )
            .await,
        );
    }
    for (id, (_, code, says)) in ids.iter().zip(&cases) {
        let job = env.wait_final(id, WAIT).await;
        assert_eq!(job["status"], "error", "{job}");
        assert_eq!(job["error"]["code"], *code, "{job}");
        let message = job["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{code}: {message}");
        assert_eq!(job["attempts"], 1, "bad photos are not retried: {job}");
    }
    let errors: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT status, error_code FROM avatars WHERE user_id = $1 ORDER BY error_code",
    )
    .bind(user)
    .fetch_all(&env.state.pool)
    .await
    .unwrap();
    assert_eq!(errors.len(), cases.len());
    assert!(
        errors.iter().all(|(s, c)| s == "error" && c.is_some()),
        "{errors:?}"
    );

    // A real man in a street (front only, a stated 180 cm, walking, arms
    // folded, in a thick winter coat): the worker is still up and builds
    // him. No ground truth: his lengths are a person's, his girths are the
    // coat's silhouette (at least a person's, far from a giant's).
    let man = up(crop(&bus(), 40, 330, 236, 960)).await;
    let id = env
        .submit(
            "avatar.build",
            user,
            json!({"photos": {"front": man}, "height_cm": 180.0, "sex": "male"}),
        )
        .await;
    let job = env.wait_final(&id, WAIT).await;
    assert_eq!(job["status"], "complete", "{job}\n{}", env.worker_logs());
    let m = &job["result"]["measurements"];
    for (name, lo, hi) in [
        ("height", 179.9, 180.1),
        ("shoulder_width", 25.0, 55.0),
        ("inseam", 65.0, 95.0),
        ("arm_length", 45.0, 75.0),
        ("neck", 30.0, 90.0),
        ("chest", 80.0, 150.0),
        ("waist", 65.0, 150.0),
        ("hips", 80.0, 150.0),
    ] {
        let v = m[name]["value"].as_f64().unwrap();
        assert!((lo..hi).contains(&v), "{name}: {v} cm\n{m}");
    }
    assert_eq!(job["result"]["models"].as_array().unwrap().len(), 3);
    assert!(env.worker_is_running(0));
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_build_resumes_at_the_stage_it_was_in() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let first = env.spawn_worker().unwrap();
    let studio = studio();
    let who = woman(&studio);
    let front = photographed(&env, &studio, &who, "cy", 0.0).await;
    let side = photographed(&env, &studio, &who, "cy", 90.0).await;
    let id = env
        .submit(
            "avatar.build",
            "cy",
            json!({"photos": {"front": front, "side": side}, "height_cm": who.truth["height"]}),
        )
        .await;
    // Killed once the mesh stage (5 of 8) has started: the fit is done.
    env.wait_job(&id, WAIT, |j| {
        j["progress"].as_i64() >= Some(50) || j["status"] != "queued" && j["status"] != "processing"
    })
    .await;
    env.kill_worker(first).await;
    let seen = env.job(&id).await;
    assert_eq!(
        seen["status"], "processing",
        "killed before it finished: {seen}"
    );
    env.spawn_worker().unwrap();
    let job = env.wait_final(&id, WAIT).await;
    assert_eq!(job["status"], "complete", "{job}\n{}", env.worker_logs());
    assert_eq!(job["attempts"], 2);
    let attempts = &job["result"]["stage_attempts"];
    for stage in ["ingest", "vision", "measure", "fit"] {
        assert_eq!(attempts[stage], 1, "{stage} was not redone: {attempts}");
    }
    assert_eq!(attempts["store"], 2, "{attempts}");
    assert!(
        env.worker_logs()
            .contains("resuming after the last finished stage")
    );
    env.finish().await;
}

/// `samples/pipeline.flow.json` filled in as the demo fills it.
fn pipeline_flow(fields: &[(&str, String)]) -> Value {
    let mut text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/pipeline.flow.json"),
    )
    .unwrap();
    for (name, value) in fields {
        let quoted = format!("\"{{{{{name}}}}}\"");
        let bare = format!("{{{{{name}}}}}");
        text = match value.parse::<f64>() {
            Ok(_) => text.replace(&quoted, value),
            Err(_) => text.replace(&bare, value),
        };
    }
    assert!(!text.contains("{{"), "a field left: {text}");
    serde_json::from_str(&text).unwrap()
}

/// The demo's pipeline as one flow, end to end on the real models,
/// renderer and FFmpeg: both photos ingested, the avatar built from them
/// under the front photo's avatar id, its GLB turned and photographed,
/// the sheet exported, and one e-mail about the whole flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_pipeline_runs_as_one_flow_and_emails_once() {
    let dir = tempfile::tempdir().unwrap();
    let sink = atelier_tests::SmtpSink::start(dir.path()).await;
    let mut env = TestEnv::start(sink.options()).await.unwrap();
    env.spawn_worker().unwrap();
    let studio = studio();
    let who = woman(&studio);
    let front = photographed(&env, &studio, &who, "pia", 0.0).await;
    let side = photographed(&env, &studio, &who, "pia", 90.0).await;
    let flow = pipeline_flow(&[
        ("USER_ID", "pia".into()),
        ("EMAIL", "pia@example.com".into()),
        ("FRONT", front),
        ("SIDE", side),
        ("HEIGHT_CM", who.truth["height"].to_string()),
        ("SEX", "female".into()),
        ("DESIGN_ID", uuid::Uuid::new_v4().to_string()),
    ]);
    let (status, accepted) = env.post_json("/v1/flows", &flow).await;
    assert_eq!(status, atelier_tests::StatusCode::ACCEPTED, "{accepted}");
    let id = accepted["flow_id"].as_str().unwrap().to_owned();
    let view = env
        .wait_flow(&id, WAIT * 2, |f| f["status"] != "running")
        .await;
    assert_eq!(view["status"], "complete", "{view}\n{}", env.worker_logs());
    let node = |name: &str| {
        view["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap()
            .clone()
    };
    let avatar_id = node("front")["result"]["avatar_id"].clone();
    assert_eq!(node("side")["result"]["avatar_id"], avatar_id);
    assert_eq!(node("avatar")["result"]["avatar_id"], avatar_id);
    let glb = node("avatar")["result"]["models"][0]["key"].clone();
    assert_eq!(
        node("turntable")["resolved_input"]["design"]["items"][0]["source"]["key"],
        glb
    );
    let video = &node("turntable")["result"]["videos"][0];
    assert_eq!(
        (&video["format"], &video["frames"]),
        (&json!("mp4"), &json!(24)),
        "{video}"
    );
    let still = &node("stills")["result"]["renders"][0];
    let img = image::load_from_memory(&env.object_bytes(still).await)
        .unwrap()
        .to_rgba8();
    let (w, h) = img.dimensions();
    assert_ne!(
        img.get_pixel(w / 2, h / 2).0[..3],
        [0xf4, 0xf1, 0xec],
        "the avatar drawn at the centre"
    );
    let pdf = env.object_bytes(&node("sheet")["result"]["file"]).await;
    assert!(pdf.starts_with(b"%PDF-"));

    let mail = sink.wait_for("pia@example.com", 1).await;
    assert!(mail[0].contains("Your flow is complete"), "{}", mail[0]);
    for line in [
        "- avatar (avatar.build): complete",
        "- sheet (export): complete",
    ] {
        assert!(mail[0].contains(line), "{}", mail[0]);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.messages().len(), 1, "one e-mail for the whole flow");
    env.finish().await;
}
