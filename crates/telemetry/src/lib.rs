//! Logging set-up and a small Prometheus registry (text exposition format).
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Structured logs to stderr. `RUST_LOG` filters (default `info`);
/// `ATELIER_LOG_FORMAT=json` switches to one JSON object per line.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if std::env::var("ATELIER_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}

/// Resolves on SIGTERM or Ctrl-C: the start of a graceful shutdown.
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutdown signal received");
}

/// Serve `GET /metrics` (and `/healthz`) from `registry` on `listener`, for
/// processes whose own work is not HTTP (workers).
pub async fn serve_metrics(listener: tokio::net::TcpListener, registry: std::sync::Arc<Registry>) {
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let registry = registry.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        registry.render(),
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }));
    if let Err(error) = axum::serve(listener, app).await {
        tracing::warn!(%error, "metrics endpoint stopped");
    }
}

/// Default histogram buckets for job and request durations, in seconds.
pub const DURATION_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

struct Family {
    help: &'static str,
    kind: Kind,
    series: BTreeMap<String, Series>,
}

#[derive(Default)]
struct Series {
    value: f64,
    buckets: Vec<u64>,
    count: u64,
}

/// Metric families keyed by name; label sets rendered in sorted order.
#[derive(Default)]
pub struct Registry {
    families: Mutex<BTreeMap<&'static str, Family>>,
}

fn label_text(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

impl Registry {
    fn with_series(
        &self,
        name: &'static str,
        help: &'static str,
        kind: Kind,
        labels: &[(&str, &str)],
        f: impl FnOnce(&mut Series),
    ) {
        let mut families = self.families.lock().expect("metrics lock");
        let family = families.entry(name).or_insert_with(|| Family {
            help,
            kind,
            series: BTreeMap::new(),
        });
        f(family.series.entry(label_text(labels)).or_default());
    }

    pub fn counter_add(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
        v: f64,
    ) {
        self.with_series(name, help, Kind::Counter, labels, |s| s.value += v);
    }

    pub fn gauge_set(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
        v: f64,
    ) {
        self.with_series(name, help, Kind::Gauge, labels, |s| s.value = v);
    }

    pub fn observe(&self, name: &'static str, help: &'static str, labels: &[(&str, &str)], v: f64) {
        self.with_series(name, help, Kind::Histogram, labels, |s| {
            if s.buckets.is_empty() {
                s.buckets = vec![0; DURATION_BUCKETS.len()];
            }
            for (i, bound) in DURATION_BUCKETS.iter().enumerate() {
                if v <= *bound {
                    s.buckets[i] += 1;
                }
            }
            s.count += 1;
            s.value += v;
        });
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let families = self.families.lock().expect("metrics lock");
        let mut out = String::new();
        for (name, family) in families.iter() {
            let kind = match family.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram => "histogram",
            };
            let _ = writeln!(out, "# HELP {name} {}", family.help);
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, s) in &family.series {
                if family.kind != Kind::Histogram {
                    let _ = writeln!(out, "{name}{labels} {}", s.value);
                    continue;
                }
                let inner = labels.trim_start_matches('{').trim_end_matches('}');
                let sep = if inner.is_empty() { "" } else { "," };
                for (bound, n) in DURATION_BUCKETS.iter().zip(&s.buckets) {
                    let _ = writeln!(out, "{name}_bucket{{{inner}{sep}le=\"{bound}\"}} {n}");
                }
                let _ = writeln!(out, "{name}_bucket{{{inner}{sep}le=\"+Inf\"}} {}", s.count);
                let _ = writeln!(out, "{name}_sum{labels} {}", s.value);
                let _ = writeln!(out, "{name}_count{labels} {}", s.count);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_cumulative_histograms() {
        let r = Registry::default();
        r.counter_add("x_total", "xs", &[("kind", "a\"b")], 2.0);
        r.gauge_set("depth", "queue depth", &[("queue", "ingest")], 7.0);
        r.observe("d_seconds", "durations", &[], 0.02);
        r.observe("d_seconds", "durations", &[], 3.0);
        let text = r.render();
        assert!(
            text.contains("# TYPE x_total counter\nx_total{kind=\"a\\\"b\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("depth{queue=\"ingest\"} 7"));
        assert!(text.contains("d_seconds_bucket{le=\"0.01\"} 0"));
        assert!(text.contains("d_seconds_bucket{le=\"0.025\"} 1"));
        assert!(text.contains("d_seconds_bucket{le=\"5\"} 2"));
        assert!(text.contains("d_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("d_seconds_count 2"));
    }
}
