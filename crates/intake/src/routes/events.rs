use std::cmp::Ordering;

use atelier_events::{Audience, compare_ids, parse_id};
use atelier_jobs::{ErrorCode, EventEnvelope, validate_user_id};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;
use crate::auth::ClientId;
use crate::error::ApiError;

/// Events replayed per round trip to Redis on reconnect.
const REPLAY_PAGE: usize = 500;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    user_id: String,
}

/// `POST /v1/tokens`: a short-lived token a platform hands its end user.
pub(super) async fn issue_token(
    State(state): State<AppState>,
    Extension(client): Extension<ClientId>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let limit = state.config.intake.max_json_bytes as usize;
    let req: TokenRequest = super::json_body(request, limit).await?;
    validate_user_id(&req.user_id).map_err(|e| ApiError::invalid(e.message))?;
    let (token, expires_at) = state.tokens.issue(&client, &req.user_id);
    Ok(Json(json!({"token": token, "expires_at": expires_at})))
}

#[derive(Deserialize)]
pub(super) struct SocketQuery {
    token: Option<String>,
    last_event_id: Option<String>,
}

/// `GET /v1/events?token=…[&last_event_id=…]`: the user's own events, live,
/// after replaying whatever followed `last_event_id`.
pub(super) async fn socket(
    State(state): State<AppState>,
    Query(query): Query<SocketQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let (client, user_id) = query
        .token
        .as_deref()
        .and_then(|t| state.tokens.verify(t))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::AuthInvalidToken,
                "missing, invalid or expired token",
            )
        })?;
    if let Some(id) = &query.last_event_id
        && parse_id(id).is_none()
    {
        return Err(ApiError::invalid("last_event_id: not an event id"));
    }
    let upgrade = upgrade.map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::RequestInvalid,
            "this route speaks WebSocket: send an upgrade request",
        )
    })?;
    let audience = Audience::new(client.0, user_id);
    Ok(upgrade.on_upgrade(move |ws| stream_events(state, audience, query.last_event_id, ws)))
}

async fn stream_events(
    state: AppState,
    audience: Audience,
    after: Option<String>,
    mut ws: WebSocket,
) {
    // Subscribe before replaying so nothing published in between is missed;
    // duplicates are dropped by id.
    let mut live = state.hub.subscribe();
    let key = audience.key();
    let mut last_sent = after;
    if let Some(from) = last_sent.clone()
        && replay(&state, &audience, from, &mut last_sent, &mut ws)
            .await
            .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            received = live.recv() => match received {
                Ok(item) => {
                    if item.audience != key {
                        continue;
                    }
                    if last_sent.as_deref().is_some_and(|l| compare_ids(&item.event.event_id, l) != Ordering::Greater) {
                        continue;
                    }
                    if send(&mut ws, &item.event).await.is_err() {
                        return;
                    }
                    last_sent = Some(item.event.event_id.clone());
                }
                Err(RecvError::Lagged(skipped)) => {
                    // This socket fell behind the live channel: catch up from the log.
                    tracing::debug!(skipped, "event socket lagged; replaying");
                    state.metrics.counter_add(
                        "atelier_event_socket_lagged_total",
                        "Times a socket fell behind the live buffer and replayed the gap from the log",
                        &[],
                        1.0,
                    );
                    let from = last_sent.clone().unwrap_or_else(|| "0-0".into());
                    if replay(&state, &audience, from, &mut last_sent, &mut ws).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            incoming = ws.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn replay(
    state: &AppState,
    audience: &Audience,
    mut from: String,
    last_sent: &mut Option<String>,
    ws: &mut WebSocket,
) -> Result<(), ()> {
    loop {
        let page = match state.events.replay(audience, &from, REPLAY_PAGE).await {
            Ok(page) => page,
            Err(error) => {
                tracing::warn!(%error, "event replay failed");
                let body = json!({"error": {"code": ErrorCode::QueueUnavailable.as_str(),
                    "message": "event log unavailable, reconnect with last_event_id"}});
                let _ = ws.send(Message::Text(body.to_string().into())).await;
                return Err(());
            }
        };
        let full = page.len() == REPLAY_PAGE;
        for event in &page {
            send(ws, event).await?;
            *last_sent = Some(event.event_id.clone());
            from = event.event_id.clone();
        }
        if !full {
            return Ok(());
        }
    }
}

async fn send(ws: &mut WebSocket, event: &EventEnvelope) -> Result<(), ()> {
    let text = serde_json::to_string(event).map_err(|_| ())?;
    ws.send(Message::Text(text.into())).await.map_err(|_| ())
}
