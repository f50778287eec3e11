//! The middleware in front of each access (`route::Access`): an API key or
//! an operator key, the rate limits per key and per client address (failed
//! authentication spends from the address's bucket, so key guessing ends
//! in `429`).
use atelier_jobs::ErrorCode;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ApiError;
use crate::state::AppState;

fn bearer(request: &Request) -> Result<&str, ApiError> {
    let value = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::AuthMissingApiKey,
                "missing Authorization: Bearer <api key>",
            )
        })?;
    Ok(value.strip_prefix("Bearer ").unwrap_or("").trim())
}

/// Take a token from `id`'s bucket in `limiter`, or 429 with
/// `Retry-After`. When Redis cannot answer, the request goes through: a
/// limiter outage must not become an API outage.
async fn admit(limiter: &atelier_queue::RateLimiter, id: &str) -> Result<(), ApiError> {
    match limiter.admit(id).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(wait)) => Err(ApiError::rate_limited(wait)),
        Err(error) => {
            tracing::warn!(%error, "rate limiter unavailable; admitting");
            Ok(())
        }
    }
}

/// The client's address: the last entry of `intake.client_address_header`
/// when a trusted balancer sets one, else the connection's peer.
pub(crate) fn client_address(state: &AppState, request: &Request) -> Option<String> {
    if let Some(header) = &state.config.intake.client_address_header {
        return request
            .headers()
            .get(header.as_str())
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
    }
    request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// Take a token from the address's bucket (none known: nothing to limit).
pub(crate) async fn limit_address(state: &AppState, address: Option<&str>) -> Result<(), ApiError> {
    match address {
        Some(address) => admit(&state.address_limiter, address).await,
        None => Ok(()),
    }
}

/// The presented key; without one, the 401 after spending from the
/// address's bucket (or its 429).
async fn presented(
    state: &AppState,
    bearer: Result<&str, ApiError>,
    address: Option<&str>,
) -> Result<String, ApiError> {
    match bearer {
        Ok(key) => Ok(key.to_owned()),
        Err(missing) => {
            limit_address(state, address).await?;
            Err(missing)
        }
    }
}

/// Middleware for the routes anyone can reach (`/v1/events`, `/objects`):
/// the per-address limit.
pub(crate) async fn limit_by_address(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let address = client_address(&state, &request);
    limit_address(&state, address.as_deref()).await?;
    Ok(next.run(request).await)
}

/// `/v1` middleware: `Authorization: Bearer <api key>` or 401; then the
/// key's rate limit. A failed attempt spends from the address's bucket:
/// guessing keys is limited per address, then answered 429.
pub(crate) async fn require_api_key(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let address = client_address(&state, &request);
    let key = presented(&state, bearer(&request), address.as_deref()).await?;
    let key = key.as_str();
    let Some(client) = state.api_keys.check(key) else {
        limit_address(&state, address.as_deref()).await?;
        return Err(if state.operator_keys.check(key).is_some() {
            ApiError::new(ErrorCode::AuthForbidden, "operator keys do not submit jobs")
        } else {
            ApiError::new(ErrorCode::AuthInvalidApiKey, "invalid api key")
        });
    };
    admit(&state.limiter, &client.0).await?;
    request.extensions_mut().insert(client);
    Ok(next.run(request).await)
}

/// Operator routes (`/v1/queues…`): an operator key, or 401/403.
pub(crate) async fn require_operator_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let address = client_address(&state, &request);
    let key = presented(&state, bearer(&request), address.as_deref()).await?;
    let key = key.as_str();
    let Some(operator) = state.operator_keys.check(key) else {
        limit_address(&state, address.as_deref()).await?;
        if state.api_keys.check(key).is_some() {
            return Err(ApiError::new(
                ErrorCode::AuthForbidden,
                "this route needs an operator key",
            ));
        }
        return Err(ApiError::new(
            ErrorCode::AuthInvalidApiKey,
            "invalid api key",
        ));
    };
    admit(&state.limiter, &operator.0).await?;
    Ok(next.run(request).await)
}
