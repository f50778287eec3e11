//! Vision jobs on the real models, through HTTP → worker → Postgres →
//! WebSocket.
use std::time::Duration;

use atelier_tests::{EnvOptions, StatusCode, TestEnv, fixture};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

async fn pose(env: &TestEnv, user: &str, photo: &str) -> String {
    let upload = env
        .upload(user, fixture(photo), "application/octet-stream")
        .await;
    let (status, body) = env
        .post_json(
            "/v1/jobs",
            &json!({"kind": "vision.pose", "user_id": user, "input": {"upload_id": upload}}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["job_id"].as_str().unwrap().to_owned()
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
