//! Plain-text views of API answers, read into the types below first.
use serde::Deserialize;
use serde_json::Value;

/// Left-aligned columns, two spaces apart.
pub(crate) fn render(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

/// A measure that may be missing, two decimals.
fn seconds(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |f| format!("{f:.2}"))
}

/// `GET /v1/queues`, as far as the tables read it: every field named here
/// is required, so an intake that renamed one is an error, not a column
/// of dashes.
#[derive(Debug, Deserialize)]
pub(crate) struct QueueList {
    queues: Vec<Queue>,
}

#[derive(Debug, Deserialize)]
struct Queue {
    queue: String,
    priority: String,
    paused: bool,
    depth: u64,
    oldest_age_seconds: Option<f64>,
    in_flight: u64,
    dead: u64,
    live_workers: u64,
    service_time_seconds: Option<f64>,
    recommended_workers: u32,
    recommendation: String,
    config: QueueSettings,
}

#[derive(Debug, Deserialize)]
struct QueueSettings {
    scaling: Scaling,
}

#[derive(Debug, Deserialize)]
struct Scaling {
    min_workers: u32,
    max_workers: u32,
}

/// `GET /v1/queues/{queue}/dead`.
#[derive(Debug, Deserialize)]
pub(crate) struct DeadList {
    jobs: Vec<DeadJob>,
}

#[derive(Debug, Deserialize)]
struct DeadJob {
    job_id: String,
    kind: Option<String>,
    attempts: u32,
    died_at: Option<String>,
    last_error: String,
}

/// A queue overview answering pause and resume.
#[derive(Debug, Deserialize)]
pub(crate) struct PauseState {
    queue: String,
    paused: bool,
}

fn state(paused: bool) -> String {
    if paused { "paused" } else { "running" }.into()
}

pub(crate) fn queues(body: &QueueList) -> String {
    let rows = body
        .queues
        .iter()
        .map(|q| {
            vec![
                q.queue.clone(),
                q.priority.clone(),
                state(q.paused),
                q.depth.to_string(),
                seconds(q.oldest_age_seconds),
                q.in_flight.to_string(),
                q.dead.to_string(),
                q.live_workers.to_string(),
                seconds(q.service_time_seconds),
                q.recommended_workers.to_string(),
            ]
        })
        .collect();
    render(
        &[
            "QUEUE",
            "PRIORITY",
            "STATE",
            "DEPTH",
            "OLDEST_S",
            "IN_FLIGHT",
            "DEAD",
            "WORKERS",
            "SERVICE_S",
            "RECOMMENDED",
        ],
        rows,
    )
}

pub(crate) fn scale(body: &QueueList) -> String {
    let rows = body
        .queues
        .iter()
        .map(|q| {
            let s = &q.config.scaling;
            vec![
                q.queue.clone(),
                q.live_workers.to_string(),
                q.recommended_workers.to_string(),
                format!("{}-{}", s.min_workers, s.max_workers),
                q.recommendation.clone(),
            ]
        })
        .collect();
    render(&["QUEUE", "WORKERS", "RECOMMENDED", "BOUNDS", "WHY"], rows)
}

pub(crate) fn dead(body: &DeadList) -> String {
    let rows = body
        .jobs
        .iter()
        .map(|j| {
            vec![
                j.job_id.clone(),
                j.kind.clone().unwrap_or_else(|| "-".into()),
                j.attempts.to_string(),
                j.died_at.clone().unwrap_or_else(|| "-".into()),
                j.last_error.clone(),
            ]
        })
        .collect();
    render(&["JOB", "KIND", "ATTEMPTS", "DIED_AT", "LAST_ERROR"], rows)
}

pub(crate) fn paused(body: &PauseState) -> String {
    format!("{} {}\n", body.queue, state(body.paused))
}

pub(crate) fn pretty(body: &Value) -> String {
    format!(
        "{}\n",
        serde_json::to_string_pretty(body).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn queue(name: &str, paused: bool, depth: u64, oldest: Value, service: Value) -> Value {
        json!({"queue": name, "priority": "high", "paused": paused, "depth": depth,
               "oldest_age_seconds": oldest, "in_flight": 4, "dead": 0, "live_workers": 2,
               "service_time_seconds": service, "recommended_workers": 3,
               "recommendation": "idle", "config": {"scaling": {"min_workers": 1, "max_workers": 4}}})
    }

    #[test]
    fn columns_align_and_missing_values_show_a_dash() {
        let list: QueueList = serde_json::from_value(json!({"queues": [
            queue("ingest", false, 12, json!(3.5), Value::Null),
            queue("email", true, 0, Value::Null, json!(0.25)),
        ]}))
        .unwrap();
        let text = queues(&list);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[1].starts_with("ingest  high      running  12"),
            "{text}"
        );
        assert!(
            lines[2].contains("paused") && lines[2].contains("0.25"),
            "{text}"
        );
        assert!(lines[1].contains(" - "), "{text}");
        let header_depth = lines[0].find("DEPTH").unwrap();
        assert_eq!(&lines[1][header_depth..header_depth + 2], "12");
        assert!(scale(&list).contains("1-4"));
    }

    #[test]
    fn a_renamed_field_is_an_error_not_a_dash() {
        let mut renamed = queue("ingest", false, 1, Value::Null, Value::Null);
        let depth = renamed.as_object_mut().unwrap().remove("depth").unwrap();
        renamed["queue_depth"] = depth;
        let err = serde_json::from_value::<QueueList>(json!({"queues": [renamed]})).unwrap_err();
        assert!(err.to_string().contains("depth"), "{err}");
    }
}
