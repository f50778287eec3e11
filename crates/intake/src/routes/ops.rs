use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::AppState;

pub(super) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: whether this process can serve, which is not whether
/// every dependency is up: a Redis or PostgreSQL outage is answered per
/// request with its 503 code (`queue.unavailable`, `database.unavailable`,
/// `storage.unavailable`) while the outbox keeps recorded jobs, so one
/// outage must not take every replica out of the load balancer.
pub(super) async fn readyz() -> Json<serde_json::Value> {
    Json(json!({"status": "ready"}))
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
pub(super) async fn health(State(state): State<AppState>) -> Response {
    let checks = dependencies(&state).await;
    let up = checks.iter().all(|(_, r)| r.is_ok());
    let body: serde_json::Map<String, serde_json::Value> = checks
        .into_iter()
        .map(|(name, r)| {
            let v = match r {
                Ok(seconds) => json!({"ok": true, "seconds": seconds}),
                Err(error) => json!({"ok": false, "error": error}),
            };
            (name.to_owned(), v)
        })
        .collect();
    let status = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({"status": if up { "ok" } else { "degraded" }, "dependencies": body})),
    )
        .into_response()
}

/// Prometheus text format: queue gauges read from Redis at scrape time, plus
/// this process's counters.
pub(super) async fn metrics(State(state): State<AppState>) -> Response {
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
