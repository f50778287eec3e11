use std::path::Path;

use toml::Value;

use crate::{AppConfig, ConfigError};

/// Environment variables with this prefix override config file values:
/// `ATELIER__STORAGE__BACKEND=s3` sets `storage.backend`.
pub const ENV_PREFIX: &str = "ATELIER__";

/// Defaults → optional file → environment, validated.
///
/// `env` is passed in (rather than read here) so tests can layer without
/// touching the process environment.
pub fn load_app_config(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<AppConfig, ConfigError> {
    let mut root = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.display().to_string(),
                source,
            })?;
            text.parse::<toml::Table>()
                .map_err(|e| ConfigError::Parse {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?
        }
        None => toml::Table::new(),
    };
    for (var, raw) in env {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::Env {
                var,
                message: "empty path segment".into(),
            });
        }
        set_path(&mut root, &path, env_value(&raw)).map_err(|message| ConfigError::Env {
            var: var.clone(),
            message,
        })?;
    }
    let origin = file
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "config".into());
    let config: AppConfig = Value::Table(root)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Parse {
            path: origin.clone(),
            message: e.to_string(),
        })?;
    config.validate().map_err(|message| ConfigError::Invalid {
        path: origin,
        message,
    })?;
    Ok(config)
}

/// An environment value is TOML when it parses as one (`true`, `5`,
/// `["a","b"]`), a plain string otherwise.
fn env_value(raw: &str) -> Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(raw.to_owned()))
}

fn set_path(table: &mut toml::Table, path: &[String], value: Value) -> Result<(), String> {
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut cur = table;
    for seg in parents {
        let entry = cur
            .entry(seg.clone())
            .or_insert_with(|| Value::Table(toml::Table::new()));
        cur = entry
            .as_table_mut()
            .ok_or_else(|| format!("{seg} is not a section"))?;
    }
    cur.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StorageBackend;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_then_file_then_env() {
        let dir = std::env::temp_dir().join(format!("atelier-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.toml");
        std::fs::write(
            &file,
            "[storage]\nbackend = \"s3\"\n[media]\njpeg_quality = 70\n",
        )
        .unwrap();
        let cfg = load_app_config(
            Some(&file),
            env(&[
                ("ATELIER__MEDIA__JPEG_QUALITY", "90"),
                ("ATELIER__INTAKE__API_KEYS", "key-one-xx, key-two-xx"),
                ("ATELIER__STORAGE__S3__ALLOW_HTTP", "true"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(cfg.storage.backend, StorageBackend::S3);
        assert_eq!(cfg.media.jpeg_quality, 90);
        assert!(cfg.storage.s3.allow_http);
        let keys: Vec<&str> = cfg.intake.api_keys.iter().map(|k| k.expose()).collect();
        assert_eq!(keys, ["key-one-xx", "key-two-xx"]);
        assert_eq!(cfg.media.variant_widths, [256, 512, 1024, 2048]);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_naming_them() {
        let err = load_app_config(None, env(&[("ATELIER__MEDIA__JPEG_QUALTY", "9")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("jpeg_qualty"), "{err}");
        let err = load_app_config(None, env(&[("ATELIER__MEDIA__JPEG_QUALITY", "0")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("jpeg_quality"), "{err}");
        for (key, value, named) in [
            (
                "ATELIER__MODELS__SEGMENTATION",
                "sam",
                "models.segmentation",
            ),
            ("ATELIER__MODELS__MAX_BATCH", "0", "models.max_batch"),
            ("ATELIER__MODELS__SESSIONS", "0", "models.sessions"),
            (
                "ATELIER__MODELS__MAX_BATCH_DELAY",
                "5s",
                "models.max_batch_delay",
            ),
        ] {
            let err = load_app_config(None, env(&[(key, value)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(named), "{key}={value}: {err}");
        }
        let cfg =
            load_app_config(None, env(&[("ATELIER__MODELS__SEGMENTATION", "isnet")])).unwrap();
        assert_eq!(cfg.models.segmentation, "isnet");
    }

    #[test]
    fn durations_and_sizes_out_of_range_stop_the_start_naming_the_field() {
        for (key, value, named) in [
            // Once a panic at the first token request.
            (
                "ATELIER__INTAKE__TOKEN_TTL",
                "9999999999d",
                "intake.token_ttl",
            ),
            ("ATELIER__INTAKE__TOKEN_TTL", "0s", "intake.token_ttl"),
            (
                "ATELIER__STORAGE__SIGNED_URL_TTL",
                "30d",
                "storage.signed_url_ttl",
            ),
            (
                "ATELIER__EVENTS__PING_INTERVAL",
                "0s",
                "events.ping_interval",
            ),
            (
                "ATELIER__INTAKE__MAX_JSON_BYTES",
                "10",
                "intake.max_json_bytes",
            ),
            ("ATELIER__WORKER__MAX_RSS", "\"2048GiB\"", "worker.max_rss"),
        ] {
            let err = load_app_config(None, env(&[(key, value)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(named), "{key}={value}: {err}");
        }
        // Past what a duration can hold: refused while parsing, named.
        let err = load_app_config(
            None,
            env(&[(
                "ATELIER__INTAKE__TOKEN_TTL",
                &format!("{}d", "9".repeat(30)),
            )]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("token_ttl") && err.contains("too long"),
            "{err}"
        );
        let cfg = load_app_config(None, env(&[("ATELIER__INTAKE__TOKEN_TTL", "30d")])).unwrap();
        assert_eq!(cfg.intake.token_ttl.get().as_secs(), 30 * 86_400);
    }

    #[test]
    fn redacted_dump_hides_secrets() {
        let cfg = load_app_config(
            None,
            env(&[("ATELIER__INTAKE__TOKEN_SECRET", "super-secret-value")]),
        )
        .unwrap();
        let dump = cfg.redacted();
        assert!(!dump.contains("super-secret-value"));
        assert!(!dump.contains("dev-api-key"));
        assert!(dump.contains("<redacted>"));
    }
}
