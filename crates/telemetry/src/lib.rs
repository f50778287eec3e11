//! Logging set-up, the metric catalogue ([`metrics`]) and a small
//! Prometheus registry (text exposition format).
#![forbid(unsafe_code)]

pub mod metrics;

pub use metrics::{Metric, MetricKind};

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

struct Family {
    metric: Metric,
    series: BTreeMap<String, Series>,
}

#[derive(Default)]
struct Series {
    value: f64,
    buckets: Vec<u64>,
    count: u64,
}

/// A name registered twice with different definitions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("metric {name} is registered twice: as {first} and as {second}")]
pub struct MetricConflict {
    pub name: &'static str,
    pub first: String,
    pub second: String,
}

/// Metric families keyed by name; label sets rendered in the declared
/// order, series sorted.
#[derive(Default)]
pub struct Registry {
    families: Mutex<BTreeMap<&'static str, Family>>,
}

fn describe(m: &Metric) -> String {
    format!("{} {:?}", m.kind.as_str(), m.labels)
}

fn label_text(names: &[&str], values: &[&str]) -> String {
    if names.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = names
        .iter()
        .zip(values)
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
    /// A registry holding `catalogue` (see [`metrics::ALL`]); a name given
    /// twice with different definitions is refused, so a process with a
    /// conflicting metric does not start.
    pub fn with(catalogue: &[&'static Metric]) -> Result<Registry, MetricConflict> {
        let registry = Registry::default();
        {
            let mut families = registry.families.lock().expect("metrics lock");
            for metric in catalogue {
                register(&mut families, metric)?;
            }
        }
        Ok(registry)
    }

    fn with_series(&self, metric: &'static Metric, values: &[&str], f: impl FnOnce(&mut Series)) {
        debug_assert_eq!(
            values.len(),
            metric.labels.len(),
            "{}: label values for {:?}",
            metric.name,
            metric.labels
        );
        let mut families = self.families.lock().expect("metrics lock");
        // Metrics outside the registered catalogue join on first use, under
        // the same rule.
        if let Err(conflict) = register(&mut families, metric) {
            tracing::error!(%conflict, "metric not recorded");
            return;
        }
        let family = families.get_mut(metric.name).expect("registered");
        f(family
            .series
            .entry(label_text(metric.labels, values))
            .or_default());
    }

    /// Add to a counter.
    pub fn add(&self, metric: &'static Metric, values: &[&str], v: f64) {
        debug_assert_eq!(metric.kind, MetricKind::Counter, "{}", metric.name);
        self.with_series(metric, values, |s| s.value += v);
    }

    /// Set a gauge.
    pub fn set(&self, metric: &'static Metric, values: &[&str], v: f64) {
        debug_assert_eq!(metric.kind, MetricKind::Gauge, "{}", metric.name);
        self.with_series(metric, values, |s| s.value = v);
    }

    /// Record one observation of a histogram.
    pub fn observe(&self, metric: &'static Metric, values: &[&str], v: f64) {
        debug_assert_eq!(metric.kind, MetricKind::Histogram, "{}", metric.name);
        self.with_series(metric, values, |s| {
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

    /// Prometheus text exposition format 0.0.4: every family recorded so
    /// far (a registered family with no series yet is left out).
    pub fn render(&self) -> String {
        let families = self.families.lock().expect("metrics lock");
        let mut out = String::new();
        for (name, family) in families.iter() {
            if family.series.is_empty() {
                continue;
            }
            let kind = family.metric.kind;
            let _ = writeln!(out, "# HELP {name} {}", family.metric.help);
            let _ = writeln!(out, "# TYPE {name} {}", kind.as_str());
            for (labels, s) in &family.series {
                if kind != MetricKind::Histogram {
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

/// Register `metric` unless its name is there already with the same
/// definition.
fn register(
    families: &mut BTreeMap<&'static str, Family>,
    metric: &'static Metric,
) -> Result<(), MetricConflict> {
    match families.get(metric.name) {
        Some(family) if family.metric == *metric => Ok(()),
        Some(family) => Err(MetricConflict {
            name: metric.name,
            first: describe(&family.metric),
            second: describe(metric),
        }),
        None => {
            families.insert(
                metric.name,
                Family {
                    metric: *metric,
                    series: BTreeMap::new(),
                },
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XS: Metric = Metric {
        name: "x_total",
        kind: MetricKind::Counter,
        help: "xs",
        labels: &["kind"],
    };
    const DEPTH: Metric = Metric {
        name: "depth",
        kind: MetricKind::Gauge,
        help: "queue depth",
        labels: &["queue"],
    };
    const DURATIONS: Metric = Metric {
        name: "d_seconds",
        kind: MetricKind::Histogram,
        help: "durations",
        labels: &[],
    };

    #[test]
    fn renders_counters_gauges_and_cumulative_histograms() {
        let r = Registry::with(&[&XS, &DEPTH, &DURATIONS]).unwrap();
        assert_eq!(r.render(), "", "families without series are left out");
        r.add(&XS, &["a\"b"], 2.0);
        r.set(&DEPTH, &["ingest"], 7.0);
        r.observe(&DURATIONS, &[], 0.02);
        r.observe(&DURATIONS, &[], 3.0);
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

    #[test]
    fn a_name_registered_twice_with_another_type_is_refused() {
        const AS_GAUGE: Metric = Metric {
            name: "x_total",
            kind: MetricKind::Gauge,
            help: "xs",
            labels: &["kind"],
        };
        let conflict = Registry::with(&[&XS, &AS_GAUGE]).err().expect("refused");
        assert_eq!(conflict.name, "x_total");
        assert!(conflict.to_string().contains("counter") && conflict.to_string().contains("gauge"));
        // The same definition twice is one metric.
        assert!(Registry::with(&[&XS, &XS]).is_ok());
        // Recorded outside the catalogue under a taken name: dropped, not
        // merged into the other family.
        let r = Registry::with(&[&XS]).unwrap();
        r.set(&AS_GAUGE, &["a"], 1.0);
        assert_eq!(r.render(), "");
    }
}
