//! `notify` on a job: one e-mail when it ends, through a real SMTP server on
//! loopback (Debian's aiosmtpd writing a Maildir), exactly once per job.

use std::time::{Duration, Instant};

use atelier_tests::{SmtpSink, StatusCode, TestEnv, fixture};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

async fn submit_notified(env: &TestEnv, user: &str, photo: &str, email: &str) -> String {
    let upload = env
        .upload(user, fixture(photo), "application/octet-stream")
        .await;
    let (status, body) = env
        .post_json(
            "/v1/jobs",
            &json!({"kind": "photo.ingest", "user_id": user, "input": {"upload_id": upload},
                    "notify": {"email": email}}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["job_id"].as_str().unwrap().to_owned()
}

/// The notify.email job the database queued for `job`, once it exists.
async fn notify_job_of(env: &TestEnv, job: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let id: Option<uuid::Uuid> = sqlx::query_scalar(
            "SELECT id FROM jobs WHERE kind = 'notify.email' AND input->>'about_job_id' = $1",
        )
        .bind(job)
        .fetch_optional(&env.state.pool)
        .await
        .unwrap();
        if let Some(id) = id {
            return id.to_string();
        }
        assert!(Instant::now() < deadline, "no notify.email job for {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Deliver a finished job again, as the queue would after a worker died
/// between its side effect and its settle.
async fn deliver_again(env: &TestEnv, job: &str, queue: &str) {
    let id = uuid::Uuid::parse_str(job).unwrap();
    sqlx::query("UPDATE jobs SET status = 'queued' WHERE id = $1")
        .bind(id)
        .execute(&env.state.pool)
        .await
        .unwrap();
    let message = json!({"job_id": id, "kind": "notify.email"}).to_string();
    let pushed = env.state.queues[queue]
        .enqueue_spent(job, &message, 5, 1)
        .await
        .unwrap();
    assert!(pushed, "the queue took the job again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notified_job_sends_one_email_when_it_ends_and_never_twice() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start(dir.path()).await;
    let mut env = TestEnv::start(sink.options()).await.unwrap();
    env.spawn_worker_with(&[("ATELIER__WORKER__QUEUES", "ingest,email")])
        .unwrap();

    // Completed: one message with a signed link to every stored object.
    let good = submit_notified(
        &env,
        "ursula",
        "samples/franz-kafka.jpg",
        "ursula@example.com",
    )
    .await;
    assert_eq!(env.wait_final(&good, WAIT).await["status"], "complete");
    let mail = sink.wait_for("ursula@example.com", 1).await;
    let text = &mail[0];
    assert!(
        text.contains("Subject: Your photo.ingest job is complete"),
        "{text}"
    );
    assert!(text.contains(&good), "names the job: {text}");
    assert!(
        text.contains("result.original: http"),
        "links the original: {text}"
    );
    assert!(text.contains("result.thumbnail: http"), "{text}");

    // Failed: the code and the reason.
    let bad = submit_notified(
        &env,
        "ursula",
        "tests/data/bad/truncated.jpg",
        "victor@example.com",
    )
    .await;
    assert_eq!(env.wait_final(&bad, WAIT).await["status"], "error");
    let mail = sink.wait_for("victor@example.com", 1).await;
    assert!(
        mail[0].contains("Subject: Your photo.ingest job failed (image.corrupt)"),
        "{}",
        mail[0]
    );

    // The notify job ran once and recorded its delivery.
    let notify_id = notify_job_of(&env, &good).await;
    let notify = env.wait_final(&notify_id, WAIT).await;
    assert_eq!(notify["status"], "complete", "{notify}");
    assert_eq!(notify["result"]["send_attempts"], 1);
    let about = uuid::Uuid::parse_str(&good).unwrap();
    assert_eq!(
        atelier_db::emails::sent_count(&env.state.pool, about)
            .await
            .unwrap(),
        1
    );

    // Delivered again (a redelivery after a crash past the send): the
    // recorded delivery stops a second message.
    deliver_again(&env, &notify_id, "email").await;
    let again = env
        .wait_job(&notify_id, WAIT, |j| {
            j["status"] == "complete" && j["attempts"] == 2
        })
        .await;
    assert_eq!(again["result"]["send_attempts"], 0, "nothing sent: {again}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sink.wait_for("ursula@example.com", 1).await.len(),
        1,
        "sent once"
    );
    assert_eq!(
        atelier_db::emails::sent_count(&env.state.pool, about)
            .await
            .unwrap(),
        1
    );

    // A bad address is refused at the intake.
    let (status, body) = env
        .post_json(
            "/v1/jobs",
            &json!({"kind": "photo.ingest", "user_id": "ursula",
                    "input": {"upload_id": uuid::Uuid::new_v4()}, "notify": {"email": "not an address"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("notify.email")
    );
    drop(sink);
    env.finish().await;
}
