//! API keys for platforms, short-lived signed tokens for their end users
//! (the middleware that checks them is `guard.rs`).
use atelier_config::Secret;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

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
    ttl: chrono::Duration,
}

impl Tokens {
    /// Tokens that live `ttl` (refused when no date could hold it; the
    /// config bounds `intake.token_ttl` well within).
    pub fn new(secret: &Secret, ttl: std::time::Duration) -> Result<Self, chrono::OutOfRangeError> {
        Ok(Tokens {
            secret: secret.expose().as_bytes().to_vec(),
            ttl: chrono::Duration::from_std(ttl)?,
        })
    }

    fn mac(&self, payload: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("any key length");
        mac.update(payload.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    pub fn issue(&self, client: &ClientId, user_id: &str) -> (String, DateTime<Utc>) {
        let expires = Utc::now() + self.ttl;
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
        let tokens = Tokens::new(&Secret::new("s"), std::time::Duration::from_secs(60)).unwrap();
        let client = ClientId("client-x".into());
        let (token, _) = tokens.issue(&client, "u1");
        assert_eq!(tokens.verify(&token), Some((client.clone(), "u1".into())));
        let (payload, sig) = token.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"c":"client-x","u":"u2","e":99999999999}"#);
        assert!(tokens.verify(&format!("{forged}.{sig}")).is_none());
        assert!(tokens.verify(payload).is_none());
        let other = Tokens::new(&Secret::new("t"), std::time::Duration::from_secs(60)).unwrap();
        assert!(other.verify(&token).is_none());
        let expired = Tokens::new(&Secret::new("s"), std::time::Duration::ZERO).unwrap();
        let (token, _) = expired.issue(&client, "u1");
        assert!(tokens.verify(&token).is_none());
    }
}
