//! Plain-text views of API answers.
use serde_json::Value;

/// Left-aligned columns, two spaces apart.
fn render(header: &[&str], rows: Vec<Vec<String>>) -> String {
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

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.2}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn queue_list(body: &Value) -> &[Value] {
    body["queues"].as_array().map(Vec::as_slice).unwrap_or(&[])
}

pub(crate) fn queues(body: &Value) -> String {
    let rows = queue_list(body)
        .iter()
        .map(|q| {
            vec![
                cell(&q["queue"]),
                cell(&q["priority"]),
                if q["paused"] == true {
                    "paused".into()
                } else {
                    "running".into()
                },
                cell(&q["depth"]),
                cell(&q["oldest_age_seconds"]),
                cell(&q["in_flight"]),
                cell(&q["dead"]),
                cell(&q["live_workers"]),
                cell(&q["service_time_seconds"]),
                cell(&q["recommended_workers"]),
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

pub(crate) fn scale(body: &Value) -> String {
    let rows = queue_list(body)
        .iter()
        .map(|q| {
            let s = &q["config"]["scaling"];
            vec![
                cell(&q["queue"]),
                cell(&q["live_workers"]),
                cell(&q["recommended_workers"]),
                format!("{}-{}", cell(&s["min_workers"]), cell(&s["max_workers"])),
                cell(&q["recommendation"]),
            ]
        })
        .collect();
    render(&["QUEUE", "WORKERS", "RECOMMENDED", "BOUNDS", "WHY"], rows)
}

pub(crate) fn dead(body: &Value) -> String {
    let rows = body["jobs"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|j| {
            vec![
                cell(&j["job_id"]),
                cell(&j["kind"]),
                cell(&j["attempts"]),
                cell(&j["died_at"]),
                cell(&j["last_error"]),
            ]
        })
        .collect();
    render(&["JOB", "KIND", "ATTEMPTS", "DIED_AT", "LAST_ERROR"], rows)
}

pub(crate) fn paused(body: &Value) -> String {
    let state = if body["paused"] == true {
        "paused"
    } else {
        "running"
    };
    format!("{} {state}\n", cell(&body["queue"]))
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

    #[test]
    fn columns_align_and_missing_values_show_a_dash() {
        let text = queues(&json!({"queues": [
            {"queue": "ingest", "priority": "high", "paused": false, "depth": 12,
             "oldest_age_seconds": 3.5, "in_flight": 4, "dead": 0, "live_workers": 2,
             "service_time_seconds": null, "recommended_workers": 3},
            {"queue": "email", "priority": "low", "paused": true, "depth": 0,
             "oldest_age_seconds": null, "in_flight": 0, "dead": 1, "live_workers": 0,
             "service_time_seconds": 0.25, "recommended_workers": 1}
        ]}));
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
    }
}
