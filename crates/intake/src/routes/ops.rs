use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use atelier_telemetry::metrics;
use utoipa_axum::routes;

use crate::api::{DependencyCheck, ErrorResponse, Health, Probe};
use crate::route::{Access, Route};
use crate::state::AppState;

/// `GET /healthz`: the process is alive.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "probes",
    responses((status = 200, description = "Alive", body = Probe)))]
async fn healthz() -> Json<Probe> {
    Json(Probe {
        status: "ok".into(),
    })
}

/// `GET /readyz`: whether this process can serve, which is not whether
/// every dependency is up: a Redis or PostgreSQL outage is answered per
/// request with its 503 code (`queue.unavailable`, `database.unavailable`,
/// `storage.unavailable`) while the outbox keeps recorded jobs, so one
/// outage must not take every replica out of the load balancer.
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "probes",
    responses((status = 200, description = "This process can serve", body = Probe)))]
async fn readyz() -> Json<Probe> {
    Json(Probe {
        status: "ready".into(),
    })
}

/// Each dependency's health, checked now (bounded: a dependency that does
/// not answer within 2 s is down).
async fn dependencies(state: &AppState) -> Vec<(&'static str, Result<f64, String>)> {
    async fn timed<F, E>(check: F) -> Result<f64, String>
    where
        F: std::future::Future<Output = Result<(), E>>,
        E: std::fmt::Display,
    {
        let started = std::time::Instant::now();
        match tokio::time::timeout(std::time::Duration::from_secs(2), check).await {
            Ok(Ok(())) => Ok(started.elapsed().as_secs_f64()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("no answer within 2 s".into()),
        }
    }
    let redis = timed(async {
        redis::cmd("PING")
            .query_async::<String>(&mut state.redis.clone())
            .await
            .map(|_| ())
    });
    let database = timed(atelier_db::ping(&state.pool));
    let storage = timed(state.storage.ping());
    let (redis, database, storage) = tokio::join!(redis, database, storage);
    vec![
        ("redis", redis),
        ("database", database),
        ("storage", storage),
    ]
}

/// `GET /v1/ops/health` (operators): each dependency up or down with the
/// check's latency or error; 503 when any is down.
#[utoipa::path(get, path = "/v1/ops/health", operation_id = "getHealth", tag = "operators",
    security(("operator_key" = [])),
    responses(
        (status = 200, description = "Every dependency answered", body = Health),
        (status = 503, description = "`degraded`: a dependency is down", body = Health),
        (status = 401, description = "`auth.missing_api_key`, `auth.invalid_api_key`", body = ErrorResponse),
        (status = 403, description = "`auth.forbidden`", body = ErrorResponse),
        (status = 429, description = "`rate.limited`", body = ErrorResponse),
    ))]
async fn health(State(state): State<AppState>) -> Response {
    let checks = dependencies(&state).await;
    let up = checks.iter().all(|(_, r)| r.is_ok());
    let dependencies: BTreeMap<String, DependencyCheck> = checks
        .into_iter()
        .map(|(name, r)| {
            let check = match r {
                Ok(seconds) => DependencyCheck {
                    ok: true,
                    seconds: Some(seconds),
                    error: None,
                },
                Err(error) => DependencyCheck {
                    ok: false,
                    seconds: None,
                    error: Some(error),
                },
            };
            (name.to_owned(), check)
        })
        .collect();
    let status = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let health = Health {
        status: if up { "ok" } else { "degraded" }.into(),
        dependencies,
    };
    (status, Json(health)).into_response()
}

/// Prometheus text format: queue gauges read from Redis at scrape time, plus
/// this process's counters.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "probes",
    description = "Prometheus text exposition. Served on `intake.metrics_listen` instead \
                   when that is set (then this listener answers 404 `route.not_found`).",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<AppState>) -> Response {
    let m = &state.metrics;
    for (name, result) in dependencies(&state).await {
        m.set(
            &metrics::DEPENDENCY_UP,
            &[name],
            if result.is_ok() { 1.0 } else { 0.0 },
        );
        if let Ok(seconds) = result {
            m.set(&metrics::DEPENDENCY_CHECK, &[name], seconds);
        }
    }
    if let Ok((flows, waiting)) = atelier_db::flows::counts(&state.pool).await {
        for status in atelier_jobs::flow::FlowStatus::ALL {
            let n = flows
                .iter()
                .find(|(s, _)| s == status.as_str())
                .map_or(0, |f| f.1);
            m.set(&metrics::FLOWS, &[status.as_str()], n as f64);
        }
        for kind in atelier_jobs::JobKind::every() {
            let n = waiting
                .iter()
                .find(|(k, _)| k == kind.as_str())
                .map_or(0, |w| w.1);
            m.set(&metrics::FLOW_NODES_WAITING, &[kind.as_str()], n as f64);
        }
    }
    for spec in &state.queues_config.queues {
        let Ok(s) = state.queues[&spec.name].stats().await else {
            continue;
        };
        let q = [spec.name.as_str()];
        m.set(&metrics::QUEUE_DEPTH, &q, s.depth() as f64);
        m.set(&metrics::QUEUE_IN_FLIGHT, &q, s.in_flight as f64);
        m.set(&metrics::QUEUE_DEAD, &q, s.dead as f64);
        let oldest = s.oldest_age_ms.unwrap_or(0) as f64 / 1000.0;
        m.set(&metrics::QUEUE_OLDEST_AGE, &q, oldest);
        m.set(&metrics::QUEUE_LIVE_WORKERS, &q, s.live_workers as f64);
        if let Some(ms) = s.service_time_ms {
            m.set(&metrics::QUEUE_SERVICE_TIME, &q, ms / 1000.0);
        }
        let workers = f64::from(s.recommendation(spec).workers);
        m.set(&metrics::QUEUE_RECOMMENDED_WORKERS, &q, workers);
        for (outcome, v) in [
            ("completed", s.completed_total),
            ("failed", s.failed_total),
            ("retried", s.retried_total),
            ("dead", s.dead_total),
            ("lease_expired", s.lease_expired_total),
            ("deferred", s.deferred_total),
            // Settlements refused because the worker's lease was no longer
            // current (it stalled past its lease): fencing at work.
            ("stale", s.stale_total),
        ] {
            m.set(&metrics::QUEUE_JOBS_SETTLED, &[q[0], outcome], v as f64);
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        m.render(),
    )
        .into_response()
}

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new(Access::Operator, routes!(health)),
        Route::new(Access::Probe, routes!(healthz)),
        Route::new(Access::Probe, routes!(readyz)),
        Route::new(Access::Metrics, routes!(metrics)),
    ]
}
