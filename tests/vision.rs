//! Vision jobs on the real models, through HTTP → worker → Postgres →
//! WebSocket.
use std::time::Duration;

use atelier_tests::{EnvOptions, StatusCode, TestEnv, fixture};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

async fn submit(env: &TestEnv, kind: &str, user: &str, photo: &str) -> String {
    let upload = env
        .upload(user, fixture(photo), "application/octet-stream")
        .await;
    env.submit(kind, user, json!({"upload_id": upload})).await
}

async fn pose(env: &TestEnv, user: &str, photo: &str) -> String {
    submit(env, "vision.pose", user, photo).await
}

/// Download a stored object through its signed URL and decode it.
async fn image_at(env: &TestEnv, object: &Value) -> image::DynamicImage {
    let bytes = env.object_bytes(object).await;
    assert_eq!(bytes.len() as u64, object["bytes"].as_u64().unwrap());
    image::load_from_memory(&bytes).unwrap()
}

fn point<'a>(result: &'a Value, name: &str) -> &'a Value {
    result["keypoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == name)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pose_keypoints_land_on_the_body_and_objects_have_no_person() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker().unwrap();
    let mut socket = env.socket(&env.token("vera").await, None).await;
    for (photo, (w, h)) in [
        ("samples/astronaut.png", (512.0, 512.0)),
        ("samples/franz-kafka.jpg", (450.0, 655.0)),
    ] {
        let job_id = pose(&env, "vera", photo).await;
        let events = socket.until("job.completed", &job_id, WAIT).await;
        let job = env.job(&job_id).await;
        assert_eq!(job["status"], "complete", "{photo}: {job}");
        let result = &job["result"];
        assert_eq!(result["keypoints"].as_array().unwrap().len(), 33);
        assert_eq!(result["model"]["name"], "mediapipe_pose_landmark_full");
        assert_eq!(
            events.last().unwrap()["data"]["result"]["score"],
            result["score"]
        );
        let nose = point(result, "nose");
        let (nx, ny) = (nose["x"].as_f64().unwrap(), nose["y"].as_f64().unwrap());
        assert!(
            nx > 0.0 && nx < w && ny > 0.0 && ny < h * 0.6,
            "{photo}: nose {nose}"
        );
        for side in ["left_shoulder", "right_shoulder"] {
            let s = point(result, side);
            assert!(s["visibility"].as_f64().unwrap() > 0.5, "{photo}: {s}");
            assert!(
                s["y"].as_f64().unwrap() > ny,
                "{photo}: {side} above the nose: {s}"
            );
        }
        // Shoulders on either side of the nose.
        let (lx, rx) = (
            point(result, "left_shoulder")["x"].as_f64().unwrap(),
            point(result, "right_shoulder")["x"].as_f64().unwrap(),
        );
        assert!(
            lx.min(rx) < nx && nx < lx.max(rx),
            "{photo}: nose {nx} not between shoulders {lx} {rx}"
        );
    }
    for photo in ["samples/coffee.png", "samples/chelsea.png"] {
        let job_id = pose(&env, "vera", photo).await;
        let job = env.wait_final(&job_id, WAIT).await;
        assert_eq!(
            (job["status"].clone(), job["error"]["code"].clone()),
            (json!("error"), json!("vision.no_person")),
            "{photo}: {job}"
        );
    }
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segmentation_cuts_the_person_out_at_full_resolution() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker().unwrap();
    let mut socket = env.socket(&env.token("wren").await, None).await;
    let job_id = submit(&env, "vision.segment", "wren", "samples/astronaut.png").await;
    socket.until("job.completed", &job_id, WAIT).await;
    let job = env.job(&job_id).await;
    assert_eq!(job["status"], "complete", "{job}");
    let result = &job["result"];
    let coverage = result["coverage"].as_f64().unwrap();
    assert!((0.2..0.9).contains(&coverage), "{result}");
    let bbox = &result["bbox"];
    let (bx, by, bw, bh) = (
        bbox["x"].as_u64().unwrap(),
        bbox["y"].as_u64().unwrap(),
        bbox["width"].as_u64().unwrap(),
        bbox["height"].as_u64().unwrap(),
    );
    assert!(
        bx + bw <= 512 && by + bh <= 512 && bw > 100 && bh > 100,
        "{bbox}"
    );

    // The mask is the photo's size, and agrees with the reported coverage.
    let mask = image_at(&env, &result["mask"]).await.to_luma8();
    assert_eq!(mask.dimensions(), (512, 512));
    let on = mask.pixels().filter(|p| p.0[0] >= 128).count() as f64;
    assert!((on / (512.0 * 512.0) - coverage).abs() < 0.005);
    // Edges are smooth: some pixels are neither person nor background.
    assert!(mask.pixels().any(|p| p.0[0] > 20 && p.0[0] < 235));

    // The cut-out keeps the photo's pixels where the person is, and is
    // transparent outside the person's box.
    let cutout = image_at(&env, &result["cutout"]).await.to_rgba8();
    let photo = image::load_from_memory(&fixture("samples/astronaut.png"))
        .unwrap()
        .to_rgb8();
    let (cx, cy) = ((bx + bw / 2) as u32, (by + bh / 2) as u32);
    let centre = cutout.get_pixel(cx, cy).0;
    assert_eq!(centre[3], mask.get_pixel(cx, cy).0[0]);
    assert_eq!(&centre[..3], &photo.get_pixel(cx, cy).0[..]);
    // Outside the person's box nothing is more than half opaque, and that
    // is a real part of the photo.
    let outside: Vec<u8> = cutout
        .enumerate_pixels()
        .filter(|(x, y, _)| {
            let (x, y) = (u64::from(*x), u64::from(*y));
            x < bx || x >= bx + bw || y < by || y >= by + bh
        })
        .map(|(_, _, p)| p.0[3])
        .collect();
    assert!(!outside.is_empty());
    assert!(outside.iter().all(|&a| a < 128));
    assert_eq!(result["edges"], "guided_filter");
    assert_eq!(result["person_count"], 1, "{result}");
    assert_eq!(result["persons"][0]["primary"], true, "{result}");

    // The same photo again is answered from the stored result: the same
    // objects, no model run.
    let again = submit(&env, "vision.segment", "wren", "samples/astronaut.png").await;
    let repeat = env.wait_final(&again, WAIT).await;
    assert_eq!(
        repeat["result"]["cache"],
        json!({"hit": true, "job_id": job_id})
    );
    assert_eq!(repeat["result"]["mask"]["key"], result["mask"]["key"]);
    assert_eq!(repeat["result"]["coverage"], result["coverage"]);

    let job_id = submit(&env, "vision.segment", "wren", "samples/coffee.png").await;
    let job = env.wait_final(&job_id, WAIT).await;
    assert_eq!(job["error"]["code"], "vision.no_person", "{job}");
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tagging_finds_the_suit_its_colours_and_a_season() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker().unwrap();
    let mut socket = env.socket(&env.token("yara").await, None).await;
    let job_id = submit(&env, "vision.tag", "yara", "samples/franz-kafka.jpg").await;
    let events = socket.until("job.completed", &job_id, WAIT).await;
    let job = env.job(&job_id).await;
    assert_eq!(job["status"], "complete", "{job}");
    let result = &job["result"];
    assert_eq!(events.last().unwrap()["data"]["result"], *result);
    assert_eq!(result["region"], "person");
    assert_eq!(result["categories"][0]["category"], "tops", "{result}");
    let garments: Vec<&str> = result["garments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["label"].as_str().unwrap())
        .collect();
    assert!(garments.contains(&"suit"), "{result}");
    let colours = result["colours"].as_array().unwrap();
    assert!(!colours.is_empty() && colours.len() <= 5, "{result}");
    let share: f64 = colours.iter().map(|c| c["share"].as_f64().unwrap()).sum();
    assert!((0.9..=1.0001).contains(&share), "{share}");
    for c in colours {
        let hex = c["hex"].as_str().unwrap();
        assert!(hex.len() == 7 && hex.starts_with('#'), "{c}");
        assert!(!c["name"].as_str().unwrap().is_empty());
    }
    // A dark suit in an old sepia portrait: the largest colour is dark, and
    // the dark colours hold most of the person.
    let dark: f64 = colours
        .iter()
        .filter(|c| c["lab"][0].as_f64().unwrap() < 40.0)
        .map(|c| c["share"].as_f64().unwrap())
        .sum();
    assert!(colours[0]["lab"][0].as_f64().unwrap() < 40.0, "{result}");
    assert!(dark > 0.6, "{result}");
    let season = result["season"]["season"].as_str().unwrap();
    assert!(["spring_summer", "fall_winter"].contains(&season));
    assert!(!result["season"]["reason"].as_str().unwrap().is_empty());

    // A product shot without a person: the whole photo, no garment.
    let job_id = submit(&env, "vision.tag", "yara", "samples/coffee.png").await;
    let job = env.wait_final(&job_id, WAIT).await;
    assert_eq!(job["status"], "complete", "{job}");
    let result = &job["result"];
    assert_eq!(result["region"], "whole_image");
    assert_eq!(result["categories"], json!([]), "{result}");
    assert_eq!(result["imagenet_top5"][0]["label"], "espresso", "{result}");
    env.finish().await;
}

async fn embed_text(env: &TestEnv, user: &str, text: &str) -> String {
    let (status, body) = env
        .post_json(
            "/v1/jobs",
            &json!({"kind": "vision.embed", "user_id": user, "input": {"text": text}}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["job_id"].as_str().unwrap().to_owned()
}

async fn embed_bytes(env: &TestEnv, user: &str, bytes: Vec<u8>) -> String {
    let upload = env.upload(user, bytes, "application/octet-stream").await;
    let (status, body) = env
        .post_json(
            "/v1/jobs",
            &json!({"kind": "vision.embed", "user_id": user, "input": {"upload_id": upload}}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["job_id"].as_str().unwrap().to_owned()
}

async fn vector(env: &TestEnv, job_id: &str) -> (Value, Vec<f32>) {
    let job = env.wait_final(job_id, WAIT).await;
    assert_eq!(job["status"], "complete", "{job}");
    let v: Vec<f32> = job["result"]["vector"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    (job["result"].clone(), v)
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn result_ids(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["job_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_find_near_copies_and_paraphrases_and_repeats_hit_the_cache() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker().unwrap();
    let mut socket = env.socket(&env.token("zoe").await, None).await;

    // Images: the astronaut, a resized copy of it, a cat and a cup.
    let astronaut = fixture("samples/astronaut.png");
    let small = image::load_from_memory(&astronaut).unwrap().resize(
        300,
        300,
        image::imageops::FilterType::Lanczos3,
    );
    let mut resized = Vec::new();
    small
        .write_to(
            &mut std::io::Cursor::new(&mut resized),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    let original = embed_bytes(&env, "zoe", astronaut.clone()).await;
    let copy = embed_bytes(&env, "zoe", resized).await;
    let cat = embed_bytes(&env, "zoe", fixture("samples/chelsea.png")).await;
    let cup = embed_bytes(&env, "zoe", fixture("samples/coffee.png")).await;
    socket.until("job.completed", &original, WAIT).await;
    let (result, v_original) = vector(&env, &original).await;
    assert_eq!(result["modality"], "image");
    assert_eq!(result["dim"], 1280);
    assert_eq!(result["model"]["name"], "efficientnet_lite0_imagenet");
    assert!((cosine(&v_original, &v_original) - 1.0).abs() < 1e-3);
    let v_copy = vector(&env, &copy).await.1;
    let v_cat = vector(&env, &cat).await.1;
    let v_cup = vector(&env, &cup).await.1;
    let near = cosine(&v_original, &v_copy);
    assert!(
        near > cosine(&v_original, &v_cat) && near > cosine(&v_original, &v_cup),
        "copy {near}, cat {}, cup {}",
        cosine(&v_original, &v_cat),
        cosine(&v_original, &v_cup)
    );

    // Search by the image job: the copy first, the query itself never.
    let (status, body) = env
        .post_json("/v1/search/similar", &json!({"job_id": original, "k": 3}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["modality"], "image");
    assert_eq!(body["searched"], 4);
    let ids = result_ids(&body);
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], copy, "{body}");
    assert!(!ids.contains(&original));
    let score = body["results"][0]["score"].as_f64().unwrap() as f32;
    assert!((score - near).abs() < 0.02, "{score} vs {near}");

    // Text: a paraphrase is nearer than an unrelated sentence.
    let dress = embed_text(&env, "zoe", "red floral summer dress").await;
    let sundress = embed_text(&env, "zoe", "crimson flowery sundress").await;
    let tax = embed_text(&env, "zoe", "the quarterly tax return is due on Monday").await;
    let (result, v_dress) = vector(&env, &dress).await;
    assert_eq!(
        (result["modality"].clone(), result["dim"].clone()),
        (json!("text"), json!(384))
    );
    let (_, v_sundress) = vector(&env, &sundress).await;
    let (_, v_tax) = vector(&env, &tax).await;
    assert!(cosine(&v_dress, &v_sundress) > cosine(&v_dress, &v_tax) + 0.2);
    let (_, body) = env
        .post_json("/v1/search/similar", &json!({"job_id": dress, "k": 2}))
        .await;
    assert_eq!(
        result_ids(&body),
        vec![sundress.clone(), tax.clone()],
        "{body}"
    );
    let (status, body) = env
        .post_json(
            "/v1/search/similar",
            &json!({"text": "a flowery red dress for summer", "k": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        result_ids(&body)[0] == dress || result_ids(&body)[0] == sundress,
        "{body}"
    );
    // Items of another user only when asked for them.
    let (_, body) = env
        .post_json(
            "/v1/search/similar",
            &json!({"text": "dress", "user_id": "someone-else"}),
        )
        .await;
    assert_eq!(body["results"], json!([]), "{body}");

    // Repeats are answered from the stored result: same text, and the same
    // photo bytes under a new upload.
    let again = embed_text(&env, "zoe", "crimson flowery sundress").await;
    let (result, v_again) = vector(&env, &again).await;
    assert_eq!(result["cache"], json!({"hit": true, "job_id": sundress}));
    assert_eq!(v_again, v_sundress);
    let photo_again = embed_bytes(&env, "zoe", astronaut).await;
    let (result, _) = vector(&env, &photo_again).await;
    assert_eq!(result["cache"], json!({"hit": true, "job_id": original}));
    // A cached job searches like its source, excluding both.
    let (_, body) = env
        .post_json(
            "/v1/search/similar",
            &json!({"job_id": photo_again, "k": 1}),
        )
        .await;
    assert_eq!(result_ids(&body), vec![copy.clone()], "{body}");

    // Clear errors for bad queries.
    for (query, status, code) in [
        (
            json!({"job_id": uuid::Uuid::new_v4()}),
            StatusCode::NOT_FOUND,
            "job.not_found",
        ),
        (
            json!({"job_id": dress, "text": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid",
        ),
        (
            json!({}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid",
        ),
        (
            json!({"text": "x", "k": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid",
        ),
        (
            json!({"text": "x", "k": 101}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid",
        ),
        (
            json!({"text": "x", "colour": "red"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid",
        ),
    ] {
        let (got, body) = env.post_json("/v1/search/similar", &query).await;
        assert_eq!(
            (got, body["error"]["code"].as_str().unwrap()),
            (status, code),
            "{query}: {body}"
        );
    }
    let pose_job = pose(&env, "zoe", "samples/astronaut.png").await;
    env.wait_final(&pose_job, WAIT).await;
    let (status, body) = env
        .post_json("/v1/search/similar", &json!({"job_id": pose_job}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("search.no_embedding")
        )
    );
    // Another API client cannot search from this client's job.
    let resp = env
        .http
        .post(env.url("/v1/search/similar"))
        .bearer_auth(atelier_tests::OTHER_API_KEY)
        .json(&json!({"job_id": original}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skin_tone_reads_faces_on_the_monk_scale_and_refuses_photos_without_one() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    env.spawn_worker().unwrap();
    let mut socket = env.socket(&env.token("ama").await, None).await;
    let mut results = Vec::new();
    for (photo, (w, h)) in [
        ("samples/astronaut.png", (512.0, 512.0)),
        ("samples/franz-kafka.jpg", (450.0, 655.0)),
    ] {
        let job_id = submit(&env, "vision.skin_tone", "ama", photo).await;
        let events = socket.until("job.completed", &job_id, WAIT).await;
        let job = env.job(&job_id).await;
        assert_eq!(job["status"], "complete", "{photo}: {job}");
        let result = job["result"].clone();
        // The domain event arrived before completion, with the reading.
        let analyzed = events
            .iter()
            .find(|e| e["type"] == "skin_tone.analyzed")
            .unwrap_or_else(|| panic!("{photo}: no skin_tone.analyzed in {events:?}"));
        assert_eq!(analyzed["data"]["monk"], result["monk"]);
        // The face box sits in the upper part of the photo, inside it.
        let b = &result["face"]["box"];
        let (x, y, bw, bh) = (
            b["x"].as_f64().unwrap(),
            b["y"].as_f64().unwrap(),
            b["width"].as_f64().unwrap(),
            b["height"].as_f64().unwrap(),
        );
        assert!(
            x > 0.0 && x + bw < w && y >= 0.0 && y + bh < h * 0.7,
            "{photo}: {b}"
        );
        assert!(bw > w * 0.1 && bh > h * 0.05, "{photo}: {b}");
        let scale = result["monk"]["scale"].as_u64().unwrap();
        assert!((1..=10).contains(&scale));
        for field in ["hex", "undertone", "ita_category"] {
            assert!(result[field].is_string(), "{photo}: {field} in {result}");
        }
        let hex = result["monk"]["hex"].as_str().unwrap();
        assert!(hex.starts_with('#') && hex.len() == 7);
        let palette = &result["palette"];
        assert!(
            ["spring", "summer", "autumn", "winter"].contains(&palette["season"].as_str().unwrap())
        );
        assert!(palette["recommended"].as_array().unwrap().len() >= 5);
        assert!(!palette["avoid"].as_array().unwrap().is_empty());
        let confidence = result["confidence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&confidence));
        results.push(result);
    }
    // The astronaut is a light-skinned woman in even light: one of the
    // lighter Monk tones (1–5), a light or very light ITA, a confident
    // reading.
    let astronaut = &results[0];
    assert!(
        astronaut["monk"]["scale"].as_u64().unwrap() <= 5,
        "{astronaut}"
    );
    assert!(astronaut["ita"].as_f64().unwrap() > 41.0, "{astronaut}");
    assert!(
        astronaut["confidence"].as_f64().unwrap() >= 0.5,
        "{astronaut}"
    );
    // The sepia print has a cast and a shadowed cheek: its confidence is lower.
    assert!(
        results[1]["confidence"].as_f64().unwrap() < astronaut["confidence"].as_f64().unwrap(),
        "{}",
        results[1]
    );

    for photo in ["samples/coffee.png", "samples/chelsea.png"] {
        let job_id = submit(&env, "vision.skin_tone", "ama", photo).await;
        let job = env.wait_final(&job_id, WAIT).await;
        assert_eq!(
            (job["status"].clone(), job["error"]["code"].clone()),
            (json!("error"), json!("vision.no_face")),
            "{photo}: {job}"
        );
    }
    env.finish().await;
}

async fn segment_upload(env: &TestEnv, user: &str, upload: &str) -> Value {
    let body = json!({"kind": "vision.segment", "user_id": user, "input": {"upload_id": upload}});
    let (status, body) = env.post_json("/v1/jobs", &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let job = env
        .wait_final(body["job_id"].as_str().unwrap(), Duration::from_secs(120))
        .await;
    assert_eq!(job["status"], "complete", "{job}");
    job["result"].clone()
}

/// Share of pixels where two masks agree on person (≥ 128) over their union.
fn iou(a: &image::GrayImage, b: &image::GrayImage) -> f64 {
    let (mut both, mut either) = (0usize, 0usize);
    for (p, q) in a.pixels().zip(b.pixels()) {
        let (x, y) = (p.0[0] >= 128, q.0[0] >= 128);
        both += usize::from(x && y);
        either += usize::from(x || y);
    }
    both as f64 / either.max(1) as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_can_switch_segmentation_to_isnet() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let pose_worker = env.spawn_worker().unwrap();
    let upload = env
        .upload("iris", fixture("samples/astronaut.png"), "image/png")
        .await;
    let by_pose = segment_upload(&env, "iris", &upload).await;
    assert_eq!(by_pose["model"]["name"], "mediapipe_pose_landmark_full");
    env.kill_worker(pose_worker).await;

    // The same photo again, now with ISNet chosen: a different model is a
    // different cache key, so it is computed, not answered from the cache.
    env.spawn_worker_with(&[("ATELIER__MODELS__SEGMENTATION", "isnet")])
        .unwrap();
    let by_isnet = segment_upload(&env, "iris", &upload).await;
    assert_eq!(
        by_isnet["model"]["name"],
        "isnet_fp16",
        "{by_isnet}\n{}",
        env.worker_logs()
    );
    assert_eq!(by_isnet["cache"]["hit"], false);
    assert_eq!(by_isnet["person_check"]["name"], "nanodet_coco");
    assert_eq!(by_isnet["edges"], "isnet");
    assert_ne!(by_isnet["mask"]["key"], by_pose["mask"]["key"]);
    let a = image_at(&env, &by_pose["mask"]).await.to_luma8();
    let b = image_at(&env, &by_isnet["mask"]).await.to_luma8();
    assert_eq!(b.dimensions(), (512, 512));
    // Two different models, one person: the masks agree (the pose model's
    // mask, refined along the photo's edges, against ISNet's, which also
    // keeps the helmet she holds: 0.82 measured).
    let agreement = iou(&a, &b);
    assert!(agreement > 0.75, "IoU {agreement}");
    let coverage = by_isnet["coverage"].as_f64().unwrap();
    assert!((0.2..0.9).contains(&coverage), "{by_isnet}");
    env.finish().await;
}
