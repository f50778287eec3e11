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
    let (status, body) = env
        .post_json(
            "/v1/jobs",
            &json!({"kind": kind, "user_id": user, "input": {"upload_id": upload}}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["job_id"].as_str().unwrap().to_owned()
}

async fn pose(env: &TestEnv, user: &str, photo: &str) -> String {
    submit(env, "vision.pose", user, photo).await
}

/// Download a stored object through its signed URL and decode it.
async fn image_at(env: &TestEnv, object: &Value) -> image::DynamicImage {
    let url = object["url"].as_str().expect("a signed url");
    let bytes = env
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
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
    for (x, y) in [(0, 0), (511, 0)] {
        if x < bx as u32 || x >= (bx + bw) as u32 || y < by as u32 {
            assert_eq!(cutout.get_pixel(x, y).0[3], 0, "({x},{y}) is background");
        }
    }

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
