//! Which secrets a process may start with, and which client each API key
//! speaks for.
//!
//! Outside development mode (`dev_mode = true`, `ATELIER__DEV_MODE=true`) a
//! process refuses to start with a built-in development secret, an empty
//! one or a short one: with the default operator key anyone could read and
//! cancel every client's jobs, with the default token secret forge any end
//! user's WebSocket token.
use crate::{AppConfig, Secret, StorageBackend};

/// The built-in development secrets: never accepted outside development
/// mode, whatever field they are set in.
pub const DEVELOPMENT_SECRETS: [&str; 4] = [
    "dev-api-key",
    "dev-operator-key",
    "dev-token-secret-change-me",
    "dev-signing-key-change-me",
];

/// The shortest API or operator key accepted outside development mode.
pub const MIN_KEY_CHARS: usize = 16;
/// The shortest HMAC key (token secret, signing key) accepted outside
/// development mode: 256 bits as hex.
pub const MIN_HMAC_CHARS: usize = 32;

/// Which process is starting: each checks the secrets it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The intake: API and operator keys, the token secret, the signing
    /// key of local object URLs.
    Intake,
    /// A worker: the signing key (e-mails carry signed links).
    Worker,
}

/// One configured API key and the client it speaks for: `CLIENT:KEY`, or a
/// bare `KEY` whose client id is derived from the key's hash (rotating a
/// bare key changes its client; name the client to rotate without that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyEntry<'a> {
    pub client: Option<&'a str>,
    pub key: &'a str,
}

/// A client id: 1–64 letters, digits and `_.-`, not `.` or `..`.
pub fn valid_client_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// `entry` read as `CLIENT:KEY` or a bare `KEY` (keys of bare entries
/// cannot hold `:`).
pub fn parse_api_key(entry: &Secret) -> Result<ApiKeyEntry<'_>, String> {
    match entry.expose().split_once(':') {
        Some((client, key)) if valid_client_id(client) => Ok(ApiKeyEntry {
            client: Some(client),
            key,
        }),
        Some(_) => Err(
            "intake.api_keys: an entry with ':' is CLIENT:KEY, the client id 1-64 letters, digits and _.-"
                .into(),
        ),
        None => Ok(ApiKeyEntry {
            client: None,
            key: entry.expose(),
        }),
    }
}

impl AppConfig {
    /// Whether `role` may start with the configured secrets; the error names
    /// every field at fault and what to do.
    pub fn check_secrets(&self, role: Role) -> Result<(), String> {
        if self.dev_mode {
            return Ok(());
        }
        let mut checked: Vec<(&str, &str, usize)> = Vec::new();
        let mut faults = Vec::new();
        if role == Role::Intake {
            if self.intake.api_keys.is_empty() {
                faults.push("intake.api_keys is empty".to_owned());
            }
            for entry in &self.intake.api_keys {
                let key = parse_api_key(entry).map_or(entry.expose(), |e| e.key);
                checked.push(("intake.api_keys", key, MIN_KEY_CHARS));
            }
            for key in &self.intake.operator_keys {
                let key = parse_api_key(key).map_or(key.expose(), |e| e.key);
                checked.push(("intake.operator_keys", key, MIN_KEY_CHARS));
            }
            for key in &self.intake.viewer_keys {
                let key = parse_api_key(key).map_or(key.expose(), |e| e.key);
                checked.push(("intake.viewer_keys", key, MIN_KEY_CHARS));
            }
            checked.push((
                "intake.token_secret",
                self.intake.token_secret.expose(),
                MIN_HMAC_CHARS,
            ));
        }
        if self.storage.backend == StorageBackend::Local {
            checked.push((
                "storage.signing_key",
                self.storage.signing_key.expose(),
                MIN_HMAC_CHARS,
            ));
        }
        for (field, value, min) in checked {
            if value.is_empty() {
                faults.push(format!("{field} is empty"));
            } else if DEVELOPMENT_SECRETS.contains(&value) {
                faults.push(format!("{field} is a built-in development value"));
            } else if value.chars().count() < min {
                faults.push(format!("{field} is shorter than {min} characters"));
            }
        }
        if faults.is_empty() {
            return Ok(());
        }
        faults.dedup();
        Err(format!(
            "refusing to start with unsafe secrets: {}. Set each to a random value \
             (`openssl rand -hex 32`), e.g. ATELIER__INTAKE__TOKEN_SECRET, or set \
             ATELIER__DEV_MODE=true for a development set-up on the built-in values",
            faults.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strong() -> AppConfig {
        let mut c = AppConfig::default();
        c.intake.api_keys = vec![
            Secret::new("acme:0123456789abcdef0123"),
            Secret::new("fedcba9876543210fedc"),
        ];
        c.intake.operator_keys = vec![Secret::new("operator-0123456789ab")];
        c.intake.token_secret = Secret::new("t".repeat(32));
        c.storage.signing_key = Secret::new("s".repeat(32));
        c
    }

    #[test]
    fn built_in_empty_and_short_secrets_are_refused_outside_development_mode() {
        let defaults = AppConfig::default();
        let err = defaults.check_secrets(Role::Intake).unwrap_err();
        for field in [
            "intake.api_keys",
            "intake.operator_keys",
            "intake.token_secret",
            "storage.signing_key",
        ] {
            assert!(err.contains(field), "{err}");
        }
        assert!(err.contains("ATELIER__DEV_MODE"), "{err}");
        assert!(
            !err.contains("dev-api-key"),
            "the message names fields, not values"
        );
        assert_eq!(
            defaults
                .check_secrets(Role::Worker)
                .unwrap_err()
                .matches(';')
                .count(),
            0,
            "a worker checks only the signing key"
        );

        assert_eq!(strong().check_secrets(Role::Intake), Ok(()));
        let mut c = strong();
        c.intake.token_secret = Secret::new("");
        assert!(
            c.check_secrets(Role::Intake)
                .unwrap_err()
                .contains("token_secret is empty")
        );
        let mut c = strong();
        c.intake.api_keys.push(Secret::new("acme:short-key"));
        assert!(
            c.check_secrets(Role::Intake)
                .unwrap_err()
                .contains("shorter than 16")
        );
        let mut c = strong();
        c.intake.api_keys = vec![];
        assert!(c.check_secrets(Role::Intake).is_err());
        let mut c = strong();
        c.intake.operator_keys = vec![Secret::new("dev-api-key")];
        assert!(
            c.check_secrets(Role::Intake)
                .unwrap_err()
                .contains("development value")
        );
        // S3 signs with its own credentials: the local signing key is unused.
        let mut c = strong();
        c.storage.signing_key = Secret::new("dev-signing-key-change-me");
        assert!(c.check_secrets(Role::Worker).is_err());
        c.storage.backend = StorageBackend::S3;
        assert_eq!(c.check_secrets(Role::Worker), Ok(()));

        let dev = AppConfig {
            dev_mode: true,
            ..AppConfig::default()
        };
        assert_eq!(dev.check_secrets(Role::Intake), Ok(()));
    }

    #[test]
    fn api_keys_name_their_client_or_stand_alone() {
        let named = Secret::new("acme-eu:k3y-with:colons");
        assert_eq!(
            parse_api_key(&named),
            Ok(ApiKeyEntry {
                client: Some("acme-eu"),
                key: "k3y-with:colons"
            })
        );
        let bare = Secret::new("0123456789abcdef");
        assert_eq!(parse_api_key(&bare).unwrap().client, None);
        for bad in ["a b:key", ":key", "..:key", "x/y:key"] {
            assert!(parse_api_key(&Secret::new(bad)).is_err(), "{bad}");
        }
    }
}
