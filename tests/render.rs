//! Design renders end to end: uploaded GLB models → `render.stills` and
//! `render.turntable` on the real renderer (llvmpipe here) and FFmpeg →
//! objects behind signed URLs, checked with an image decoder and ffprobe,
//! with progress and completion over the WebSocket.
use std::path::Path;
use std::time::Duration;

use atelier_tests::{EnvOptions, StatusCode, TestEnv, fixture};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(180);

async fn upload_model(env: &TestEnv, user: &str, path: &str) -> String {
    env.upload(user, fixture(path), "model/gltf-binary").await
}

/// A design of the dress and the hat (recoloured, tilted to one side on
/// top, so the front and back views mirror each other, not repeat).
fn design(dress: &str, hat: &str) -> Value {
    json!({
        "design_id": uuid::Uuid::new_v4(),
        "name": "Summer look",
        "items": [
            {"source": {"upload_id": dress}},
            {"source": {"upload_id": hat},
             "transform": {"translation": [0.04, 1.42, 0], "rotation": [0, 0, 0.2588, 0.9659], "scale": [0.8, 0.8, 0.8]},
             "material": {"base_colour": "#1f2a5a"}}
        ],
        "background": "#f0f0f0"
    })
}

async fn submit(env: &TestEnv, kind: &str, user: &str, input: Value) -> String {
    env.submit(kind, user, input).await
}

async fn download(env: &TestEnv, object: &Value) -> Vec<u8> {
    let bytes = env.object_bytes(object).await;
    assert_eq!(bytes.len() as u64, object["bytes"].as_u64().unwrap());
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_item_design_renders_stills_and_a_turntable_end_to_end() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker_with(&[("ATELIER__WORKER__QUEUES", "render")])
        .unwrap();
    let user = "dora";
    let mut socket = env.socket(&env.token(user).await, None).await;
    let dress = upload_model(&env, user, "tests/data/models/dress.glb").await;
    let hat = upload_model(&env, user, "tests/data/models/hat.glb").await;
    let design = design(&dress, &hat);
    let design_id = design["design_id"].as_str().unwrap().to_owned();

    // Stills: three presets and an explicit close-up, PNG and WebP.
    let stills = submit(
        &env,
        "render.stills",
        user,
        json!({
            "design": design,
            "cameras": ["front", "back", "three_quarter",
                        {"name": "hat-detail", "eye": [0.0, 1.9, 1.2], "target": [0.0, 1.45, 0.0], "fov_deg": 35}],
            "quality": "draft",
            "formats": ["png", "webp"]
        }),
    )
    .await;
    let events = socket.until("job.completed", &stills, WAIT).await;
    let cameras: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "job.progress" && e["data"]["stage"] == "render")
        .filter_map(|e| e["data"]["camera"].as_str())
        .collect();
    assert_eq!(cameras, ["front", "back", "three_quarter", "hat-detail"]);
    let job = env.job(&stills).await;
    assert_eq!(job["status"], "complete", "{job}");
    let result = &job["result"];
    assert_eq!(result["design_id"], design_id.as_str());
    assert!(result["renderer"]["adapter"].as_str().unwrap().len() > 3);
    assert_eq!(result["triangles"], 11 * 48 * 2 + 5 * 48 * 2);
    let renders = result["renders"].as_array().unwrap();
    assert_eq!(renders.len(), 8);
    let mut front_png = None;
    for r in renders {
        let key = r["key"].as_str().unwrap();
        let camera = r["camera"].as_str().unwrap();
        let ext = r["format"].as_str().unwrap();
        assert_eq!(
            key,
            format!("designs/renders/{user}/{design_id}/{camera}.{ext}")
        );
        let bytes = download(&env, r).await;
        let img = image::load_from_memory(&bytes).unwrap().to_rgba8();
        assert_eq!(img.dimensions(), (512, 512), "{key}");
        // The background at the corner, the design in the middle.
        assert_eq!(img.get_pixel(2, 2).0[..3], [240, 240, 240], "{key}");
        if camera != "hat-detail" {
            let centre = img.get_pixel(256, 300).0;
            assert!(
                centre[..3] != [240, 240, 240],
                "{key}: nothing drawn at the centre"
            );
        }
        if let Ok(dir) = std::env::var("ATELIER_TEST_OUTPUT") {
            std::fs::write(Path::new(&dir).join(format!("{camera}.{ext}")), &bytes).unwrap();
        }
        if camera == "front" && ext == "png" {
            front_png = Some(img);
        }
    }
    // The back differs from the front (the model is seen from another side).
    let front = front_png.unwrap();
    let back = renders
        .iter()
        .find(|r| r["camera"] == "back" && r["format"] == "png")
        .unwrap();
    let back = image::load_from_memory(&download(&env, back).await)
        .unwrap()
        .to_rgba8();
    let differing = front
        .pixels()
        .zip(back.pixels())
        .filter(|(a, b)| a.0.iter().zip(b.0).any(|(x, y)| x.abs_diff(y) > 30))
        .count();
    assert!(
        differing > 1000,
        "front and back look the same ({differing})"
    );

    // A turntable: 24 frames at 480p, every format.
    let turntable = submit(
        &env,
        "render.turntable",
        user,
        json!({"design": design, "frames": 24, "fps": 24, "resolution": "480p", "quality": "draft"}),
    )
    .await;
    let events = socket.until("job.completed", &turntable, WAIT).await;
    let done: Vec<u64> = events
        .iter()
        .filter(|e| e["type"] == "job.progress" && e["job_id"] == turntable.as_str())
        .filter_map(|e| e["data"]["frames_done"].as_u64())
        .collect();
    assert_eq!(done, [6, 12, 18, 24], "progress reports frames done");
    let job = env.job(&turntable).await;
    assert_eq!(job["status"], "complete", "{job}");
    let result = &job["result"];
    assert_eq!(result["step_deg"], 15.0);
    let videos = result["videos"].as_array().unwrap();
    let formats: Vec<&str> = videos
        .iter()
        .map(|v| v["format"].as_str().unwrap())
        .collect();
    assert_eq!(formats, ["mp4", "webm", "webp"]);
    let dir = tempfile::tempdir().unwrap();
    for v in videos {
        let ext = v["format"].as_str().unwrap();
        assert_eq!(
            v["key"],
            format!("designs/renders/{user}/{design_id}/turntable.{ext}")
        );
        let bytes = download(&env, v).await;
        let path = dir.path().join(format!("t.{ext}"));
        std::fs::write(&path, &bytes).unwrap();
        if ext == "webp" {
            assert_eq!(&bytes[..4], b"RIFF");
            assert!(bytes.windows(4).any(|w| w == b"ANIM"), "an animated WebP");
            assert_eq!(v["frames"], 12);
            continue;
        }
        let probe = atelier_video::probe(Path::new("ffprobe"), &path).unwrap();
        assert_eq!(probe.codec, v["codec"].as_str().unwrap());
        assert_eq!(probe.pixel_format, "yuv420p");
        assert_eq!((probe.width, probe.height), (854, 480));
        assert_eq!(
            probe.frames, 24,
            "{ext}: no duplicated end frame, none lost"
        );
        assert!((probe.duration_s - 1.0).abs() < 0.05, "{ext}: {probe:?}");
        if ext == "mp4" {
            // +faststart: the index (moov) comes before the media data.
            let moov = bytes.windows(4).position(|w| w == b"moov").unwrap();
            let mdat = bytes.windows(4).position(|w| w == b"mdat").unwrap();
            assert!(moov < mdat, "moov atom after mdat: not faststart");
        }
    }
    socket.close().await;
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_models_end_in_their_codes_and_the_render_worker_keeps_serving() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let worker = env
        .spawn_worker_with(&[("ATELIER__WORKER__QUEUES", "render")])
        .unwrap();
    let user = "mallory";
    let still = |upload: &str| {
        json!({"design": {"design_id": uuid::Uuid::new_v4(), "name": "bad",
                          "items": [{"source": {"upload_id": upload}}]},
               "cameras": ["front"], "quality": "draft"})
    };
    let cases = [
        ("tests/data/bad/not-gltf.glb", "model.invalid"),
        ("tests/data/bad/truncated.glb", "model.invalid"),
        ("tests/data/bad/outside-buffer.gltf", "model.invalid"),
        ("tests/data/bad/network-buffer.gltf", "model.invalid"),
        ("tests/data/bad/nan-positions.glb", "model.invalid"),
        ("tests/data/bad/missing-indices.glb", "model.invalid"),
        (
            "tests/data/bad/ten-million-triangles.glb",
            "model.too_large",
        ),
        ("tests/data/bad/texture-16k.glb", "model.too_large"),
        ("tests/data/bad/texture-bomb.glb", "model.too_large"),
        (
            "tests/data/bad/texture-not-image.glb",
            "image.unsupported_format",
        ),
        ("tests/data/bad/empty-scene.glb", "model.empty"),
        ("tests/data/bad/empty.jpg", "model.invalid"),
    ];
    let mut jobs = Vec::new();
    for (path, code) in cases {
        let upload = upload_model(&env, user, path).await;
        jobs.push((
            path,
            code,
            submit(&env, "render.stills", user, still(&upload)).await,
        ));
    }
    // A camera inside the model, and a texture override that is not an image.
    let dress = upload_model(&env, user, "tests/data/models/dress.glb").await;
    let mut inside = still(&dress);
    inside["cameras"] =
        json!([{"name": "inside", "eye": [0.0, 1.0, 0.0], "target": [0.0, 1.0, 1.0]}]);
    jobs.push((
        "camera inside",
        "render.camera_inside_model",
        submit(&env, "render.stills", user, inside).await,
    ));
    let noise = env
        .upload(user, fixture("tests/data/bad/random.jpg"), "image/jpeg")
        .await;
    let mut texture = still(&dress);
    texture["design"]["items"][0]["material"] = json!({"texture": noise});
    jobs.push((
        "texture override",
        "image.unsupported_format",
        submit(&env, "render.stills", user, texture).await,
    ));
    // The same external-buffer escape as a turntable: refused the same way.
    let escape = upload_model(&env, user, "tests/data/bad/outside-buffer.gltf").await;
    let mut tt = still(&escape);
    tt.as_object_mut().unwrap().remove("cameras");
    tt["frames"] = json!(24);
    jobs.push((
        "turntable escape",
        "model.invalid",
        submit(&env, "render.turntable", user, tt).await,
    ));

    for (what, code, job_id) in &jobs {
        let job = env.wait_final(job_id, WAIT).await;
        assert_eq!(job["status"], "error", "{what}: {job}");
        assert_eq!(job["error"]["code"], *code, "{what}: {job}");
        assert!(!job["error"]["message"].as_str().unwrap().is_empty());
        assert_eq!(job["attempts"], 1, "{what}: bad input is never retried");
    }
    let mut messages = Vec::new();
    for (_, _, job_id) in &jobs {
        let job = env.job(job_id).await;
        messages.push(job["error"]["message"].as_str().unwrap().to_owned());
    }
    assert!(
        messages[2].contains("etc/passwd"),
        "says which URI was refused: {}",
        messages[2]
    );
    assert!(
        messages[6].contains("10000000 triangles"),
        "{}",
        messages[6]
    );
    assert!(env.worker_is_running(worker), "{}", env.worker_log(worker));

    // The worker still renders a good design.
    let good = submit(&env, "render.stills", user, still(&dress)).await;
    let job = env.wait_final(&good, WAIT).await;
    assert_eq!(job["status"], "complete", "{job}");
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_intake_checks_the_design_contract_and_upload_ownership() {
    let env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let mine = upload_model(&env, "olga", "tests/data/models/dress.glb").await;
    let theirs = upload_model(&env, "pavel", "tests/data/models/hat.glb").await;
    let post = |input: Value| {
        let env = &env;
        async move {
            env.post_json(
                "/v1/jobs",
                &json!({"kind": "render.stills", "user_id": "olga", "input": input}),
            )
            .await
        }
    };
    let (status, body) = post(json!({"design": design(&mine, &mine)})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let cases = [
        (
            json!({"design": {"design_id": uuid::Uuid::new_v4(), "name": "x", "items": []}}),
            "items",
        ),
        (
            json!({"design": design(&mine, &mine), "cameras": ["top"]}),
            "cameras",
        ),
        (
            json!({"design": design(&mine, &mine), "quality": "cinema"}),
            "quality",
        ),
        (
            json!({"design": {"design_id": uuid::Uuid::new_v4(), "name": "x",
                           "items": [{"source": {"upload_id": mine}, "transform": {"scale": [0, 1, 1]}}]}}),
            "scale",
        ),
        (
            json!({"design": {"design_id": uuid::Uuid::new_v4(), "name": "x", "background": "blue",
                           "items": [{"source": {"upload_id": mine}}]}}),
            "background",
        ),
    ];
    for (input, field) in cases {
        let (status, body) = post(input).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        assert_eq!(body["error"]["code"], "request.invalid", "{field}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{field}: {message}");
    }
    // Another user's upload, as an item or as a texture, is not found.
    let (status, body) = post(json!({"design": design(&mine, &theirs)})).await;
    assert_eq!(body["error"]["code"], "upload.not_found", "{status} {body}");
    let mut d = design(&mine, &mine);
    d["items"][0]["material"] = json!({"texture": theirs});
    let (_, body) = post(json!({"design": d})).await;
    assert_eq!(body["error"]["code"], "upload.not_found", "{body}");
    env.finish().await;
}

/// Only render workers open a Vulkan device: with no Vulkan driver reachable,
/// an ingest worker starts and serves, and a render worker refuses to start
/// and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_render_workers_open_a_vulkan_device() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let no_vulkan = [
        ("VK_ICD_FILENAMES", "/nonexistent/icd.json"),
        ("VK_DRIVER_FILES", "/nonexistent/icd.json"),
    ];
    let mut ingest_env = no_vulkan.to_vec();
    ingest_env.push(("ATELIER__WORKER__QUEUES", "ingest"));
    let ingest = env.spawn_worker_with(&ingest_env).unwrap();
    let job = env.ingest("nina", fixture("samples/franz-kafka.jpg")).await;
    assert_eq!(env.wait_final(&job, WAIT).await["status"], "complete");
    assert!(env.worker_is_running(ingest));

    let mut render_env = no_vulkan.to_vec();
    render_env.push(("ATELIER__WORKER__QUEUES", "render"));
    let render = env.spawn_worker_with(&render_env).unwrap();
    let status = tokio::time::timeout(WAIT, env.wait_worker_exit(render))
        .await
        .expect("a render worker without Vulkan exits");
    assert!(!status.success());
    let log = env.worker_log(render);
    assert!(log.contains("opening the renderer"), "{log}");
    env.finish().await;
}

/// The encoders of a turntable run: `ffmpeg` processes whose parent is the
/// worker `pid`.
fn encoders_of(pid: u32) -> usize {
    let out = std::process::Command::new("pgrep")
        .args(["-P", &pid.to_string(), "ffmpeg"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// A turntable cancelled while it renders stops within a frame or two, its
/// encoders are killed, and the job ends `job.cancelled`; one whose worker is
/// killed mid-render runs again on another worker and completes whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turntable_stops_when_cancelled_and_survives_a_killed_worker() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let first = env
        .spawn_worker_with(&[("ATELIER__WORKER__QUEUES", "render")])
        .unwrap();
    let user = "tess";
    let mut socket = env.socket(&env.token(user).await, None).await;
    let dress = upload_model(&env, user, "tests/data/models/dress.glb").await;
    let hat = upload_model(&env, user, "tests/data/models/hat.glb").await;
    let input = json!({"design": design(&dress, &hat), "frames": 72, "resolution": "720p"});

    let job = submit(&env, "render.turntable", user, input.clone()).await;
    let first_frames =
        |e: &Value| e["job_id"] == job.as_str() && e["data"]["frames_done"].as_u64().is_some();
    loop {
        let e = socket.next(WAIT).await.expect("progress");
        if first_frames(&e) {
            break;
        }
    }
    assert!(
        encoders_of(env.worker_pid(first)) > 0,
        "encoders run while frames are drawn"
    );
    let (status, body) = env
        .post_json(&format!("/v1/jobs/{job}/cancel"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let view = env.wait_final(&job, Duration::from_secs(30)).await;
    assert_eq!(view["status"], "error", "{view}");
    assert_eq!(view["error"]["code"], "job.cancelled");
    let pid = env.worker_pid(first);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while encoders_of(pid) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "ffmpeg outlived its cancelled job"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Killed mid-render: the job is leased again and completes on a second worker.
    let job = submit(&env, "render.turntable", user, input).await;
    loop {
        let e = socket.next(WAIT).await.expect("progress");
        if e["job_id"] == job.as_str() && e["data"]["frames_done"].as_u64() >= Some(12) {
            break;
        }
    }
    env.kill_worker(first).await;
    env.spawn_worker_with(&[("ATELIER__WORKER__QUEUES", "render")])
        .unwrap();
    let view = env.wait_final(&job, WAIT).await;
    assert_eq!(view["status"], "complete", "{view}");
    assert_eq!(view["attempts"], 2);
    let mp4 = &view["result"]["videos"][0];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.mp4");
    std::fs::write(&path, download(&env, mp4).await).unwrap();
    let probe = atelier_video::probe(Path::new("ffprobe"), &path).unwrap();
    assert_eq!(probe.frames, 72, "the re-run wrote the whole video");
    socket.close().await;
    env.finish().await;
}

/// A small opaque red PNG, to use as a logo.
fn red_logo() -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(64, 32, image::Rgba([220, 20, 20, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_design_exports_as_image_video_model_and_pdf() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker_with(&[("ATELIER__WORKER__QUEUES", "render,export")])
        .unwrap();
    let user = "wanda";
    let dress = upload_model(&env, user, "tests/data/models/dress.glb").await;
    let hat = upload_model(&env, user, "tests/data/models/hat-meshopt.glb").await;
    let logo = env.upload(user, red_logo(), "image/png").await;
    let design = design(&dress, &hat);
    let design_id = design["design_id"].as_str().unwrap().to_owned();
    let export = |input: Value| {
        let env = &env;
        async move {
            let job = submit(env, "export", user, input).await;
            let view = env.wait_final(&job, WAIT).await;
            assert_eq!(view["status"], "complete", "{view}");
            view["result"].clone()
        }
    };
    let key_of = |r: &Value| {
        let ext = r["file"]["key"]
            .as_str()
            .unwrap()
            .rsplit('.')
            .next()
            .unwrap()
            .to_owned();
        assert_eq!(
            r["file"]["key"],
            format!(
                "designs/exports/{user}/{design_id}/{}.{ext}",
                r["export_id"].as_str().unwrap()
            )
        );
    };

    // Image: PNG with a logo in the bottom-right corner; the export id given.
    let export_id = uuid::Uuid::new_v4();
    let r = export(json!({"design": design, "type": "image", "quality": "draft", "export_id": export_id,
                          "watermark": {"logo": logo, "position": "bottom_right", "opacity": 1.0, "width": 0.25}}))
    .await;
    assert_eq!(r["export_id"], export_id.to_string());
    key_of(&r);
    let img = image::load_from_memory(&download(&env, &r["file"]).await)
        .unwrap()
        .to_rgba8();
    assert_eq!(img.dimensions(), (512, 512));
    // The logo: 128 px wide, 3 % from the right and bottom edges.
    assert_eq!(
        img.get_pixel(512 - 15 - 64, 512 - 15 - 32).0,
        [220, 20, 20, 255]
    );
    assert_eq!(img.get_pixel(5, 5).0[..3], [240, 240, 240]);
    // JPEG of the back.
    let r = export(json!({"design": design, "type": "image", "format": "jpeg", "quality": "draft", "camera": "back"})).await;
    key_of(&r);
    assert_eq!(r["file"]["format"], "jpg");
    let jpeg = download(&env, &r["file"]).await;
    assert_eq!(
        image::guess_format(&jpeg).unwrap(),
        image::ImageFormat::Jpeg
    );

    // Video: an animated GIF of the turntable (draft: 480p source, 36 frames).
    let r = export(
        json!({"design": design, "type": "video", "format": "gif", "quality": "draft",
                          "watermark": {"logo": logo}}),
    )
    .await;
    key_of(&r);
    let dir = tempfile::tempdir().unwrap();
    let gif = dir.path().join("e.gif");
    std::fs::write(&gif, download(&env, &r["file"]).await).unwrap();
    let probe = atelier_video::probe(Path::new("ffprobe"), &gif).unwrap();
    assert_eq!(
        (probe.codec.as_str(), probe.width, probe.frames),
        ("gif", 480, 36),
        "{probe:?}"
    );

    // Model: the placed, recoloured design as one GLB that loads back.
    let r = export(json!({"design": design, "type": "model"})).await;
    key_of(&r);
    let glb = download(&env, &r["file"]).await;
    let model = atelier_render::load(
        &glb,
        &atelier_render::model::embedded_only,
        &Default::default(),
    )
    .unwrap();
    assert!(model.triangles() > 1400, "{}", model.triangles());
    let (_, hi) = model.bounds().unwrap();
    assert!(hi.y > 1.5, "the hat sits on top: {hi}");

    // PDF: one page naming the design, with both views.
    let r = export(json!({"design": design, "type": "pdf", "quality": "draft"})).await;
    key_of(&r);
    let pdf = dir.path().join("sheet.pdf");
    std::fs::write(&pdf, download(&env, &r["file"]).await).unwrap();
    let info = std::process::Command::new("pdfinfo")
        .arg(&pdf)
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    let pages = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .map(str::trim);
    assert_eq!(pages, Some("1"), "{info}");
    let text = std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    for expected in ["Summer look", "front", "back", "Item 2", "#1f2a5a"] {
        assert!(
            text.contains(expected),
            "{expected:?} not in the sheet: {text}"
        );
    }
    let images = std::process::Command::new("pdfimages")
        .arg("-list")
        .arg(&pdf)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&images.stdout).lines().count(),
        2 + 2,
        "two pictures"
    );

    // Contract errors at the intake.
    for (input, field) in [
        (
            json!({"design": design, "type": "image", "format": "mp4"}),
            "format",
        ),
        (
            json!({"design": design, "type": "model", "watermark": {"logo": logo}}),
            "watermark",
        ),
        (
            json!({"design": design, "type": "pdf", "camera": "front"}),
            "camera",
        ),
    ] {
        let (status, body) = env
            .post_json(
                "/v1/jobs",
                &json!({"kind": "export", "user_id": user, "input": input}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{body}"
        );
    }
    env.finish().await;
}

/// A design item may be a stored object an earlier job of the same user
/// wrote: in a flow, an exported model renders as the stills' only item
/// (its key taken from the export's result); as one job, `{job_id, key}`
/// of that export. Another user's object, a key no job wrote, or a key
/// that is not one, are refused at submission.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_object_of_an_earlier_job_renders_as_a_design_item() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker_with(&[("ATELIER__WORKER__QUEUES", "render,export")])
        .unwrap();
    let user = "sofia";
    let dress = upload_model(&env, user, "tests/data/models/dress.glb").await;
    let hat = upload_model(&env, user, "tests/data/models/hat.glb").await;
    let (status, accepted) = env
        .post_json(
            "/v1/flows",
            &json!({"user_id": user, "nodes": [
                {"name": "model", "kind": "export",
                 "input": {"design": design(&dress, &hat), "type": "model"}},
                {"name": "stills", "kind": "render.stills", "depends_on": ["model"],
                 "input": {"design": {"design_id": uuid::Uuid::new_v4(), "name": "As exported",
                                      "items": [{"source": {"key": {"$from": "model", "pointer": "/file/key"}}}],
                                      "background": "#f0f0f0"},
                           "cameras": ["front"], "quality": "draft", "formats": ["png"]}},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let node_job = |name: &str| {
        accepted["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap()["job_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let stills = env.wait_final(&node_job("stills"), WAIT).await;
    assert_eq!(stills["status"], "complete", "{stills}");
    let exported = env.job(&node_job("model")).await;
    let key = exported["result"]["file"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let flow = env.flow(accepted["flow_id"].as_str().unwrap()).await;
    assert_eq!(flow["status"], "complete", "{flow}");
    assert_eq!(
        flow["nodes"][1]["resolved_input"]["design"]["items"][0]["source"],
        json!({"key": key}),
        "the reference filled in: {flow}"
    );
    // The same triangles as the design it was exported from.
    assert_eq!(stills["result"]["triangles"], 11 * 48 * 2 + 5 * 48 * 2);
    let front = &stills["result"]["renders"][0];
    let img = image::load_from_memory(&download(&env, front).await)
        .unwrap()
        .to_rgba8();
    assert_ne!(img.get_pixel(256, 300).0[..3], [240, 240, 240], "drawn");

    // As one job, naming the export; refused for another user, for a key
    // no job wrote and for a key that is not one.
    let item = |source: Value| {
        json!({"design": {"design_id": uuid::Uuid::new_v4(), "name": "x",
                          "items": [{"source": source}]},
               "cameras": ["front"], "quality": "draft"})
    };
    let model_job = node_job("model");
    for (owner, source, expected) in [
        (user, json!({"job_id": model_job, "key": key}), "accepted"),
        (
            "someone-else",
            json!({"job_id": model_job, "key": key}),
            "source.not_found",
        ),
        (
            user,
            json!({"key": format!("{key}.other")}),
            "source.not_found",
        ),
        (user, json!({"key": "../uploads/x"}), "request.invalid"),
    ] {
        let (status, body) = env
            .post_json(
                "/v1/jobs",
                &json!({"kind": "render.stills", "user_id": owner, "input": item(source.clone())}),
            )
            .await;
        if expected == "accepted" {
            assert_eq!(status, StatusCode::ACCEPTED, "{source}: {body}");
            let job = env.wait_final(body["job_id"].as_str().unwrap(), WAIT).await;
            assert_eq!(job["status"], "complete", "{job}");
        } else {
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{source}: {body}");
            assert_eq!(body["error"]["code"], expected, "{source}: {body}");
        }
    }
    env.finish().await;
}
