//! API keys for platforms, short-lived signed tokens for their end users.
use atelier_config::Secret;
use atelier_jobs::ErrorCode;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::ApiError;

/// The API client a request came from: the client the key names
/// (`CLIENT:KEY` in `intake.api_keys`), or an id derived from a bare key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId(pub String);

/// Configured keys, kept only as SHA-256 hashes, each with its client.
pub struct ApiKeys {
    keys: Vec<([u8; 32], ClientId)>,
}

impl ApiKeys {
    pub fn new(entries: &[Secret]) -> Self {
        ApiKeys {
            keys: entries
                .iter()
                .map(|entry| {
                    let parsed = atelier_config::secrets::parse_api_key(entry).ok();
                    let key = parsed.as_ref().map_or(entry.expose(), |p| p.key);
                    let hash: [u8; 32] = Sha256::digest(key.as_bytes()).into();
                    let client = match parsed.and_then(|p| p.client) {
                        Some(name) => ClientId(name.to_owned()),
                        None => ClientId(format!("client-{}", hex::encode(&hash[..6]))),
                    };
                    (hash, client)
                })
                .collect(),
        }
    }

    /// The client id for `presented`, comparing every configured hash in
    /// constant time (no early exit).
    pub fn check(&self, presented: &str) -> Option<ClientId> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (hash, client) in &self.keys {
            if bool::from(hash.ct_eq(&digest)) {
                found = Some(client.clone());
            }
        }
        found
    }
}

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
pub fn client_address(state: &AppState, request: &Request) -> Option<String> {
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
async fn limit_address(state: &AppState, address: Option<&str>) -> Result<(), ApiError> {
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
pub async fn limit_by_address(
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
pub async fn require_api_key(
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
pub async fn require_operator_key(
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

#[derive(Serialize, Deserialize)]
struct Claims {
    /// Client id.
    c: String,
    /// User id.
    u: String,
    /// Expiry, unix seconds.
    e: i64,
}

/// Signs and checks end-user WebSocket tokens: `base64(claims).base64(hmac)`.
pub struct Tokens {
    secret: Vec<u8>,
    ttl: std::time::Duration,
}

impl Tokens {
    pub fn new(secret: &Secret, ttl: std::time::Duration) -> Self {
        Tokens {
            secret: secret.expose().as_bytes().to_vec(),
            ttl,
        }
    }

    fn mac(&self, payload: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("any key length");
        mac.update(payload.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    pub fn issue(&self, client: &ClientId, user_id: &str) -> (String, DateTime<Utc>) {
        let expires = Utc::now() + chrono::Duration::from_std(self.ttl).expect("ttl fits");
        let claims = Claims {
            c: client.0.clone(),
            u: user_id.to_owned(),
            e: expires.timestamp(),
        };
        let payload =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("claims serialise"));
        let sig = URL_SAFE_NO_PAD.encode(self.mac(&payload));
        (format!("{payload}.{sig}"), expires)
    }

    /// `(client, user)` of a valid, unexpired token.
    pub fn verify(&self, token: &str) -> Option<(ClientId, String)> {
        self.verify_until(token).map(|(c, u, _)| (c, u))
    }

    /// `(client, user, expiry)` of a valid, unexpired token: a socket
    /// opened with it is closed at its expiry.
    pub fn verify_until(&self, token: &str) -> Option<(ClientId, String, DateTime<Utc>)> {
        let (payload, sig) = token.split_once('.')?;
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        if !bool::from(self.mac(payload).ct_eq(&sig)) {
            return None;
        }
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let expires = DateTime::from_timestamp(claims.e, 0)?;
        (expires > Utc::now()).then_some((ClientId(claims.c), claims.u, expires))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_keys_speak_for_their_client_through_a_rotation() {
        let keys = ApiKeys::new(&[
            Secret::new("acme:old-key-0123456789"),
            Secret::new("acme:new-key-0123456789"),
            Secret::new("globex:another-key-0123"),
        ]);
        let acme = Some(ClientId("acme".into()));
        assert_eq!(keys.check("old-key-0123456789"), acme);
        assert_eq!(keys.check("new-key-0123456789"), acme);
        assert_eq!(
            keys.check("another-key-0123"),
            Some(ClientId("globex".into()))
        );
        assert!(keys.check("acme:old-key-0123456789").is_none());
    }

    #[test]
    fn api_keys_map_to_stable_client_ids() {
        let keys = ApiKeys::new(&[Secret::new("key-one-123"), Secret::new("key-two-456")]);
        let a = keys.check("key-one-123").unwrap();
        assert_eq!(keys.check("key-one-123"), Some(a.clone()));
        assert_ne!(keys.check("key-two-456"), Some(a));
        assert!(keys.check("key-one-12").is_none());
        assert!(keys.check("").is_none());
    }

    #[test]
    fn tokens_verify_and_reject_tampering_and_expiry() {
        let tokens = Tokens::new(&Secret::new("s"), std::time::Duration::from_secs(60));
        let client = ClientId("client-x".into());
        let (token, _) = tokens.issue(&client, "u1");
        assert_eq!(tokens.verify(&token), Some((client.clone(), "u1".into())));
        let (payload, sig) = token.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"c":"client-x","u":"u2","e":99999999999}"#);
        assert!(tokens.verify(&format!("{forged}.{sig}")).is_none());
        assert!(tokens.verify(payload).is_none());
        let other = Tokens::new(&Secret::new("t"), std::time::Duration::from_secs(60));
        assert!(other.verify(&token).is_none());
        let expired = Tokens::new(&Secret::new("s"), std::time::Duration::ZERO);
        let (token, _) = expired.issue(&client, "u1");
        assert!(tokens.verify(&token).is_none());
    }
}
