use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::AppState;

pub(super) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready when Redis, Postgres and object storage all answer.
pub(super) async fn readyz(State(state): State<AppState>) -> Response {
    let redis = redis::cmd("PING")
        .query_async::<String>(&mut state.redis.clone())
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    let database = atelier_db::ping(&state.pool)
        .await
        .map_err(|e| e.to_string());
    let storage = state.storage.ping().await.map_err(|e| e.to_string());
    let check = |r: &Result<(), String>| match r {
        Ok(()) => json!({"ok": true}),
        Err(e) => json!({"ok": false, "error": e}),
    };
    let ready = redis.is_ok() && database.is_ok() && storage.is_ok();
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "checks": {"redis": check(&redis), "database": check(&database), "storage": check(&storage)},
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Prometheus text format: queue gauges read from Redis at scrape time, plus
/// this process's counters.
pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    let m = &state.metrics;
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
