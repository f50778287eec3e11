//! Object storage: the local filesystem (the embedded default) or any S3
//! endpoint, behind `object_store`'s one trait. Objects are private; clients
//! read them through signed URLs that expire.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::Duration;

use atelier_config::{StorageBackend, StorageConfig};
use bytes::Bytes;
use futures_util::TryStreamExt;
use hmac::{Hmac, Mac};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{Attribute, Attributes, ObjectStore, ObjectStoreExt, PutOptions, PutPayload};
use sha2::Sha256;

/// Storage failures. `Unavailable` is worth retrying; the others are not.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("object {0} not found")]
    NotFound(String),
    #[error("invalid object key {0:?}")]
    InvalidKey(String),
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] object_store::Error),
    #[error("storage misconfigured: {0}")]
    Config(String),
}

impl StorageError {
    pub fn is_transient(&self) -> bool {
        matches!(self, StorageError::Unavailable(_))
    }
}

fn classify(key: &str, e: object_store::Error) -> StorageError {
    match e {
        object_store::Error::NotFound { .. } => StorageError::NotFound(key.to_owned()),
        other => StorageError::Unavailable(other),
    }
}

#[derive(Debug, Clone)]
enum UrlSigner {
    /// HMAC over key and expiry; the intake serves `/objects/{key}`.
    Local {
        key: Vec<u8>,
        base_url: String,
    },
    S3(Arc<AmazonS3>),
}

/// The configured object store.
#[derive(Debug, Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    signer: UrlSigner,
    backend: StorageBackend,
    url_ttl: Duration,
}

impl Storage {
    pub fn from_config(config: &StorageConfig) -> Result<Self, StorageError> {
        match config.backend {
            StorageBackend::Local => {
                std::fs::create_dir_all(&config.local_root).map_err(|e| {
                    StorageError::Config(format!("{}: {e}", config.local_root.display()))
                })?;
                let store = LocalFileSystem::new_with_prefix(&config.local_root)
                    .map_err(|e| StorageError::Config(e.to_string()))?
                    .with_automatic_cleanup(true);
                Ok(Storage {
                    store: Arc::new(store),
                    signer: UrlSigner::Local {
                        key: config.signing_key.expose().as_bytes().to_vec(),
                        base_url: config.public_base_url.trim_end_matches('/').to_owned(),
                    },
                    backend: StorageBackend::Local,
                    url_ttl: config.signed_url_ttl.get(),
                })
            }
            StorageBackend::S3 => {
                let s3 = &config.s3;
                // Bounded waits: an unreachable store fails a request in seconds
                // (and the job is deferred) instead of retrying for minutes.
                let retry = object_store::RetryConfig {
                    max_retries: 2,
                    retry_timeout: Duration::from_secs(10),
                    ..Default::default()
                };
                let client = object_store::ClientOptions::new()
                    .with_allow_http(s3.allow_http)
                    .with_connect_timeout(Duration::from_secs(3))
                    .with_timeout(Duration::from_secs(30));
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(&s3.bucket)
                    .with_region(&s3.region)
                    .with_allow_http(s3.allow_http)
                    .with_retry(retry)
                    .with_client_options(client);
                if !s3.endpoint.is_empty() {
                    builder = builder
                        .with_endpoint(&s3.endpoint)
                        .with_virtual_hosted_style_request(false);
                }
                if !s3.access_key_id.expose().is_empty() {
                    builder = builder
                        .with_access_key_id(s3.access_key_id.expose())
                        .with_secret_access_key(s3.secret_access_key.expose());
                }
                let store = Arc::new(
                    builder
                        .build()
                        .map_err(|e| StorageError::Config(e.to_string()))?,
                );
                Ok(Storage {
                    store: store.clone(),
                    signer: UrlSigner::S3(store),
                    backend: StorageBackend::S3,
                    url_ttl: config.signed_url_ttl.get(),
                })
            }
        }
    }

    pub fn backend(&self) -> StorageBackend {
        self.backend
    }

    /// Write `bytes` at `key`, replacing what was there: writing the same key
    /// twice leaves one object.
    pub async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), StorageError> {
        let path = object_path(key)?;
        let mut opts = PutOptions::default();
        if self.backend == StorageBackend::S3 {
            let mut attributes = Attributes::new();
            attributes.insert(Attribute::ContentType, content_type.to_owned().into());
            opts.attributes = attributes;
        }
        self.store
            .put_opts(&path, PutPayload::from_bytes(bytes), opts)
            .await
            .map_err(|e| classify(key, e))?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        let path = object_path(key)?;
        let result = self.store.get(&path).await.map_err(|e| classify(key, e))?;
        result.bytes().await.map_err(|e| classify(key, e))
    }

    pub async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        let path = object_path(key)?;
        match self.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(StorageError::Unavailable(e)),
        }
    }

    /// Every key under `prefix`, sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let path = object_path(prefix)?;
        let mut keys: Vec<String> = self
            .store
            .list(Some(&path))
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .map_err(|e| classify(prefix, e))?;
        keys.sort();
        Ok(keys)
    }

    /// Round trip to the store for `/readyz`.
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.exists("readyz/probe").await.map(|_| ())
    }

    /// A URL that lets anyone holding it read `key` until it expires.
    pub async fn signed_url(&self, key: &str) -> Result<String, StorageError> {
        let path = object_path(key)?;
        match &self.signer {
            UrlSigner::S3(s3) => s3
                .signed_url(object_store::signer::Method::GET, &path, self.url_ttl)
                .await
                .map(|u| u.to_string())
                .map_err(|e| classify(key, e)),
            UrlSigner::Local {
                key: secret,
                base_url,
            } => {
                let expires = chrono::Utc::now().timestamp() + self.url_ttl.as_secs() as i64;
                let sig = local_signature(secret, key, expires);
                Ok(format!(
                    "{base_url}/objects/{key}?expires={expires}&sig={sig}"
                ))
            }
        }
    }

    /// Check a locally signed URL's parameters (constant-time comparison).
    pub fn verify_local_signature(&self, key: &str, expires: i64, sig: &str) -> bool {
        let UrlSigner::Local { key: secret, .. } = &self.signer else {
            return false;
        };
        if expires < chrono::Utc::now().timestamp() {
            return false;
        }
        let expected = local_signature(secret, key, expires);
        subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), sig.as_bytes()).into()
    }
}

fn local_signature(secret: &[u8], key: &str, expires: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("hmac takes any key length");
    mac.update(key.as_bytes());
    mac.update(b"\n");
    mac.update(expires.to_string().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Keys are relative paths of safe segments: no `..`, no empty segments.
fn object_path(key: &str) -> Result<Path, StorageError> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.ends_with('/')
        || key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == ".." || s.contains('\\'));
    if bad {
        return Err(StorageError::InvalidKey(key.to_owned()));
    }
    Path::parse(key).map_err(|_| StorageError::InvalidKey(key.to_owned()))
}

/// Content type for a stored format name.
pub fn content_type(format: &str) -> &'static str {
    match format {
        "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "gif" => "image/gif",
        "pdf" => "application/pdf",
        "glb" => "model/gltf-binary",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atelier_config::Secret;

    fn local(dir: &std::path::Path) -> Storage {
        let config = StorageConfig {
            local_root: dir.to_owned(),
            signing_key: Secret::new("k"),
            ..StorageConfig::default()
        };
        Storage::from_config(&config).unwrap()
    }

    #[test]
    fn keys_that_escape_the_root_are_refused() {
        for key in ["", "/etc/passwd", "a/../b", "a//b", "a/", "./a", "a\\b"] {
            assert!(object_path(key).is_err(), "{key:?}");
        }
        assert!(object_path("avatars/photos/original/u/a/p.jpg").is_ok());
    }

    #[tokio::test]
    async fn local_put_get_list_and_signatures() {
        let dir = std::env::temp_dir().join(format!("atelier-storage-{}", std::process::id()));
        let storage = local(&dir);
        storage
            .put("a/b/c.txt", Bytes::from_static(b"hi"), "text/plain")
            .await
            .unwrap();
        storage
            .put("a/b/c.txt", Bytes::from_static(b"hi"), "text/plain")
            .await
            .unwrap();
        assert_eq!(
            storage.get("a/b/c.txt").await.unwrap(),
            Bytes::from_static(b"hi")
        );
        assert_eq!(storage.list("a").await.unwrap(), ["a/b/c.txt"]);
        assert!(matches!(
            storage.get("a/nope").await,
            Err(StorageError::NotFound(_))
        ));

        let url = storage.signed_url("a/b/c.txt").await.unwrap();
        let query = url.split_once('?').unwrap().1;
        let (e, s) = query.split_once('&').unwrap();
        let expires: i64 = e.trim_start_matches("expires=").parse().unwrap();
        let sig = s.trim_start_matches("sig=");
        assert!(storage.verify_local_signature("a/b/c.txt", expires, sig));
        assert!(!storage.verify_local_signature("a/b/d.txt", expires, sig));
        assert!(!storage.verify_local_signature("a/b/c.txt", expires + 1, sig));
        assert!(!storage.verify_local_signature("a/b/c.txt", 1, sig));
        std::fs::remove_dir_all(dir).ok();
    }
}
