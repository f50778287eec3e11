use atelier_events::{Audience, parse_id};
use atelier_jobs::{ErrorCode, EventEnvelope};
use atelier_telemetry::metrics;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use utoipa_axum::routes;

use crate::api::{ErrorResponse, TokenIssued, TokenRequest};
use crate::auth::ClientId;
use crate::error::ApiError;
use crate::extract::{Params, json_body};
use crate::route::{Access, Route};
use crate::state::AppState;

/// Events replayed per round trip to Redis on reconnect.
const REPLAY_PAGE: usize = 500;

/// `POST /v1/tokens`: a short-lived token a platform hands its end user.
#[utoipa::path(post, path = "/v1/tokens", operation_id = "issueToken", tag = "events",
    security(("api_key" = [])),
    request_body = TokenRequest,
    responses(
        (status = 200, description = "A token for this end user's events", body = TokenIssued),
    ))]
async fn issue_token(
    State(state): State<AppState>,
    Extension(client): Extension<ClientId>,
    request: Request,
) -> Result<Json<TokenIssued>, ApiError> {
    let limit = state.config.intake.max_json_bytes as usize;
    let req: TokenRequest = json_body(request, limit).await?;
    let (token, expires_at) = state.tokens.issue(&client, req.user_id.as_str());
    Ok(Json(TokenIssued { token, expires_at }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SocketQuery {
    /// From `POST /v1/tokens`.
    token: Option<String>,
    /// Replay every event after this one first.
    last_event_id: Option<String>,
}

/// `GET /v1/events?token=…[&last_event_id=…]`: the user's own events, live,
/// after replaying whatever followed `last_event_id`. At most
/// `events.max_sockets_per_user` sockets per user on this intake; inbound
/// messages of at most `events.max_inbound_bytes`; pinged every
/// `events.ping_interval`, closed after `events.idle_timeout` of silence
/// and when the token expires (close code 4001).
#[utoipa::path(get, path = "/v1/events", operation_id = "openEventSocket", tag = "events",
    description = "A WebSocket of the end user's own events (messages are `EventEnvelope`s), \
        replaying what followed `last_event_id` first. Closes: 1001 idle past \
        `events.idle_timeout`, 1009 an inbound message over `events.max_inbound_bytes`, \
        4001 the token expired (reconnect with a new token and the last `event_id`).",
    params(SocketQuery),
    responses(
        (status = 101, description = "Switching to WebSocket; each message is an `EventEnvelope`"),
        (status = 400, description = "`request.invalid`: not a WebSocket handshake", body = ErrorResponse),
        (status = 401, description = "`auth.invalid_token`", body = ErrorResponse),
        (status = 422, description = "`request.invalid`: a malformed query or `last_event_id`", body = ErrorResponse),
        (status = 429, description = "`events.too_many_sockets`", body = ErrorResponse),
    ))]
async fn socket(
    State(state): State<AppState>,
    Params(query): Params<SocketQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let (client, user_id, expires) = query
        .token
        .as_deref()
        .and_then(|t| state.tokens.verify_until(t))
        .ok_or_else(|| {
            ApiError::new(
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
        // The one code answered with another status than its own: a
        // request that is not a WebSocket handshake is malformed HTTP here.
        let mut error = ApiError::new(
            ErrorCode::RequestInvalid,
            "this route speaks WebSocket: send an upgrade request",
        );
        error.status = StatusCode::BAD_REQUEST;
        error
    })?;
    let audience = Audience::new(client.0, user_id);
    let cap = state.config.events.max_sockets_per_user as usize;
    let held = SocketSlot::take(&state, audience.key(), cap).ok_or_else(|| {
        ApiError::new(
            ErrorCode::EventsTooManySockets,
            format!("this user already has {cap} event sockets open; close one first"),
        )
    })?;
    let inbound = state.config.events.max_inbound_bytes as usize;
    Ok(upgrade
        .max_message_size(inbound)
        .max_frame_size(inbound)
        .on_upgrade(move |ws| async move {
            stream_events(state, audience, query.last_event_id, expires, ws).await;
            drop(held);
        }))
}

/// One of a user's sockets on this intake, counted until dropped.
struct SocketSlot {
    state: AppState,
    key: String,
}

impl SocketSlot {
    fn take(state: &AppState, key: String, cap: usize) -> Option<Self> {
        let mut open = state.sockets.lock().expect("sockets lock");
        let n = open.entry(key.clone()).or_default();
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(SocketSlot {
            state: state.clone(),
            key,
        })
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.state.sockets.lock().expect("sockets lock");
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Close code sent when the socket's token expires.
const TOKEN_EXPIRED: u16 = 4001;

async fn stream_events(
    state: AppState,
    audience: Audience,
    after: Option<String>,
    expires: chrono::DateTime<chrono::Utc>,
    mut ws: WebSocket,
) {
    // Subscribe before replaying so nothing published in between is missed;
    // duplicates are dropped by id.
    let mut live = state.hub.subscribe(&audience.key());
    let mut last_sent = after;
    if let Some(from) = last_sent.clone()
        && replay(&state, &audience, from, &mut last_sent, &mut ws)
            .await
            .is_err()
    {
        return;
    }
    // Where a replay starts should the live subscription be lost before
    // this socket sent anything: the newest event it did not need.
    let baseline = match &last_sent {
        Some(_) => None,
        None => state.events.latest(&audience).await.ok(),
    };
    let events = &state.config.events;
    let until_expiry = (expires - chrono::Utc::now()).to_std().unwrap_or_default();
    let expiry = tokio::time::sleep(until_expiry);
    tokio::pin!(expiry);
    let mut ping = tokio::time::interval(events.ping_interval.get());
    ping.tick().await;
    let idle = events.idle_timeout.get();
    let mut heard = tokio::time::Instant::now();
    loop {
        tokio::select! {
            received = live.events.recv() => match received {
                Ok(item) => match follows(&item.event.event_id, last_sent.as_deref(), baseline.as_deref()) {
                    Follows::Seen => continue,
                    Follows::Next => {
                        if send(&mut ws, &item.event).await.is_err() {
                            return;
                        }
                        last_sent = Some(item.event.event_id.clone());
                    }
                    Follows::After(from) => {
                        // Events committed before this one have not come
                        // live (yet, or ever): the log has them all.
                        if replay(&state, &audience, from, &mut last_sent, &mut ws).await.is_err() {
                            return;
                        }
                    }
                },
                Err(RecvError::Lagged(skipped)) => {
                    // This socket fell behind the live channel: catch up from the log.
                    tracing::debug!(skipped, "event socket lagged; replaying");
                    state.metrics.add(&metrics::EVENT_SOCKET_LAGGED, &[], 1.0);
                    let from = last_sent.clone().or_else(|| baseline.clone()).unwrap_or_else(|| "0".into());
                    if replay(&state, &audience, from, &mut last_sent, &mut ws).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            changed = live.resubscribed.changed() => {
                if changed.is_err() {
                    return;
                }
                // The live subscription was lost and is back: what was
                // published meanwhile reached no socket. Replay it.
                state.metrics.add(&metrics::EVENT_SOCKET_RESUBSCRIBED, &[], 1.0);
                let Some(from) = last_sent.clone().or_else(|| baseline.clone()) else {
                    continue;
                };
                if replay(&state, &audience, from, &mut last_sent, &mut ws).await.is_err() {
                    return;
                }
            }
            incoming = ws.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => heard = tokio::time::Instant::now(),
            },
            _ = ping.tick() => {
                if heard.elapsed() >= idle {
                    let _ = ws.send(Message::Close(Some(CloseFrame {
                        code: 1001,
                        reason: "idle".into(),
                    }))).await;
                    return;
                }
                if ws.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
            () = &mut expiry => {
                let _ = ws.send(Message::Close(Some(CloseFrame {
                    code: TOKEN_EXPIRED,
                    reason: "token expired: reconnect with a new token and last_event_id".into(),
                }))).await;
                return;
            }
        }
    }
}

/// Where a live event stands for a socket that last sent `last_sent` (or,
/// having sent nothing, started after `baseline`): a user's event ids are
/// consecutive numbers, so one past the next shows events it missed.
#[derive(Debug, PartialEq, Eq)]
enum Follows {
    /// Already sent (a replay overtook the live copy).
    Seen,
    /// Send it.
    Next,
    /// Replay the log from this id first.
    After(String),
}

fn follows(id: &str, last_sent: Option<&str>, baseline: Option<&str>) -> Follows {
    let Some(n) = parse_id(id) else {
        return Follows::Next;
    };
    let reference = last_sent.or(baseline).and_then(|r| Some((r, parse_id(r)?)));
    match reference {
        Some((_, m)) if last_sent.is_some() && n <= m => Follows::Seen,
        Some((r, m)) if n > m + 1 => Follows::After(r.to_owned()),
        _ => Follows::Next,
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
        // A few tries: after a Redis blip the connection comes back on the
        // next command.
        let mut tries = 0;
        let page = loop {
            match state.events.replay(audience, &from, REPLAY_PAGE).await {
                Ok(page) => break Ok(page),
                Err(error) if tries < 4 => {
                    tracing::debug!(%error, tries, "event replay failed; trying again");
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100 << tries)).await;
                }
                Err(error) => break Err(error),
            }
        };
        let page = match page {
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

pub(crate) fn routes() -> Vec<Route> {
    vec![
        Route::new(Access::Client, routes!(issue_token)),
        Route::new(Access::Address, routes!(socket)),
    ]
}

#[cfg(test)]
mod tests {
    use super::{Follows, follows};

    #[test]
    fn a_live_event_past_the_next_replays_the_gap_first() {
        assert_eq!(follows("5", Some("4"), None), Follows::Next);
        assert_eq!(follows("4", Some("4"), None), Follows::Seen);
        assert_eq!(follows("7", Some("4"), None), Follows::After("4".into()));
        // Nothing sent yet: live events at or before the start still go out,
        // a gap after it is replayed.
        assert_eq!(follows("3", None, Some("4")), Follows::Next);
        assert_eq!(follows("5", None, Some("4")), Follows::Next);
        assert_eq!(follows("6", None, Some("4")), Follows::After("4".into()));
        assert_eq!(follows("6", None, None), Follows::Next);
    }
}
