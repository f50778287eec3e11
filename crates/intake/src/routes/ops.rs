use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::api::{DependencyCheck, Health, Probe};

/// `GET /healthz`: the process is alive.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "probes",
    responses((status = 200, description = "Alive", body = Probe)))]
pub(crate) async fn healthz() -> Json<Probe> {
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
pub(crate) async fn readyz() -> Json<Probe> {
    Json(Probe {
        status: "ready".into(),
    })
}

/// Each dependency's health, checked now (bounded: a dependency that does
/// not answer within 2 s is down).
pub(crate) async fn dependencies(state: &AppState) -> Vec<(&'static str, Result<f64, String>)> {
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
        (status = 401, description = "`auth.missing_api_key`, `auth.invalid_api_key`", body = crate::api::ErrorResponse),
        (status = 403, description = "`auth.forbidden`", body = crate::api::ErrorResponse),
        (status = 429, description = "`rate.limited`", body = crate::api::ErrorResponse),
    ))]
pub(crate) async fn health(State(state): State<AppState>) -> Response {
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
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let m = &state.metrics;
    for (name, result) in dependencies(&state).await {
        let l = [("dependency", name)];
        m.gauge_set(
            "atelier_dependency_up",
            "Whether the dependency answered its check at this scrape (1) or not (0)",
            &l,
            if result.is_ok() { 1.0 } else { 0.0 },
        );
        if let Ok(seconds) = result {
            m.gauge_set(
                "atelier_dependency_check_seconds",
                "How long the dependency's check took at this scrape",
                &l,
                seconds,
            );
        }
    }
    for spec in &state.queues_config.queues {
        let Ok(s) = state.queues[&spec.name].stats().await else {
            continue;
        };
        let l = [("queue", spec.name.as_str())];
        m.gauge_set(
            "atelier_queue_depth",
            "Jobs waiting (ready or in retry backoff)",
            &l,
            s.depth() as f64,
        );
        m.gauge_set(
            "atelier_queue_in_flight",
            "Jobs leased to workers",
            &l,
            s.in_flight as f64,
        );
        m.gauge_set(
            "atelier_queue_dead",
            "Jobs in the dead set",
            &l,
            s.dead as f64,
        );
        m.gauge_set(
            "atelier_queue_oldest_age_seconds",
            "Age of the oldest waiting job",
            &l,
            s.oldest_age_ms.unwrap_or(0) as f64 / 1000.0,
        );
        m.gauge_set(
            "atelier_queue_live_workers",
            "Workers that renewed their leases within the last lease period",
            &l,
            s.live_workers as f64,
        );
        if let Some(ms) = s.service_time_ms {
            m.gauge_set(
                "atelier_queue_service_time_seconds",
                "Moving average of handler run time",
                &l,
                ms / 1000.0,
            );
        }
        m.gauge_set(
            "atelier_queue_recommended_workers",
            "Workers needed to clear the backlog within the queue's target latency (scale on this)",
            &l,
            f64::from(s.recommendation(spec).workers),
        );
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
            m.gauge_set(
                "atelier_queue_jobs_settled",
                "Jobs settled since the queue was created, by outcome (cluster-wide, read from Redis)",
                &[("queue", spec.name.as_str()), ("outcome", outcome)],
                v as f64,
            );
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

/// `GET /openapi.json`: this API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", operation_id = "getOpenApi", tag = "probes",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
pub(crate) async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::api::document_json(),
    )
        .into_response()
}
