//! Metrics as operators scrape them, checked by promtool, and per-job cost.
use std::time::Duration;

use atelier_tests::{EnvOptions, TestEnv, fixture};

const WAIT: Duration = Duration::from_secs(30);

/// `promtool check metrics` (from Debian's prometheus package) must accept it.
fn promtool_accepts(name: &str, exposition: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool not found: install Debian's prometheus package (scripts/setup.sh does)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "{name}: promtool says:\n{report}\n---\n{exposition}"
    );
}

fn value(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .unwrap_or_else(|| panic!("no series {series} in\n{exposition}"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_and_worker_metrics_pass_promtool_and_jobs_carry_their_cost() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    env.spawn_worker_with(&[("ATELIER__WORKER__METRICS_LISTEN", &listen)])
        .unwrap();
    let job_id = env.ingest("olga", fixture("samples/astronaut.png")).await;
    let bad = env
        .ingest("olga", fixture("tests/data/bad/animation.gif"))
        .await;
    env.wait_final(&job_id, WAIT).await;
    env.wait_final(&bad, WAIT).await;
    env.wait_settled("ingest", 2, WAIT).await;
    let job = env.job(&job_id).await;

    // Cost: measured CPU, wall time, and exactly the bytes the result stored.
    let cost = &job["cost"];
    let result = &job["result"];
    let stored: u64 = std::iter::once(&result["original"])
        .chain(result["variants"].as_array().unwrap())
        .chain([&result["thumbnail"]])
        .map(|o| o["bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(cost["bytes_written"].as_u64(), Some(stored), "{cost}");
    assert!(cost["cpu_seconds"].as_f64().unwrap() > 0.0, "{cost}");
    assert!(
        cost["wall_seconds"].as_f64().unwrap() >= cost["cpu_seconds"].as_f64().unwrap() * 0.5,
        "{cost}"
    );
    assert_eq!(cost["runs"], 1);

    let worker = env
        .http
        .get(format!("http://{listen}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    promtool_accepts("worker", &worker);
    let l = r#"queue="ingest",kind="photo.ingest""#;
    assert_eq!(
        value(
            &worker,
            &format!("atelier_jobs_total{{{l},outcome=\"completed\"}}")
        ),
        1.0
    );
    assert_eq!(
        value(
            &worker,
            &format!("atelier_jobs_total{{{l},outcome=\"failed\"}}")
        ),
        1.0
    );
    assert_eq!(
        value(
            &worker,
            &format!("atelier_job_duration_seconds_count{{{l}}}")
        ),
        2.0
    );
    assert_eq!(
        value(&worker, &format!("atelier_job_attempts_total{{{l}}}")),
        2.0
    );
    assert_eq!(
        value(&worker, &format!("atelier_job_bytes_written_total{{{l}}}")),
        stored as f64
    );
    assert_eq!(
        value(&worker, "atelier_worker_busy_ratio{queue=\"ingest\"}"),
        0.0
    );

    let intake = env.intake_metrics().await;
    promtool_accepts("intake", &intake);
    assert_eq!(
        value(&intake, "atelier_queue_live_workers{queue=\"ingest\"}"),
        1.0
    );
    assert_eq!(
        value(
            &intake,
            "atelier_queue_recommended_workers{queue=\"ingest\"}"
        ),
        1.0
    );
    assert!(
        value(
            &intake,
            "atelier_queue_service_time_seconds{queue=\"ingest\"}"
        ) > 0.0
    );
    env.finish().await;
}
