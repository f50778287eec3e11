//! Object storage: the local filesystem (the embedded default) or any S3
//! endpoint, behind `object_store`'s one trait. Objects are private; clients
//! read them through signed URLs that expire.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::Duration;

use atelier_config::{StorageBackend, StorageConfig};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use hmac::{Hmac, Mac};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{
    Attribute, Attributes, ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions,
    PutPayload, WriteMultipart,
};
use sha2::{Digest, Sha256};

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
        let opts = PutOptions {
            attributes: self.attributes(content_type),
            ..Default::default()
        };
        self.store
            .put_opts(&path, PutPayload::from_bytes(bytes), opts)
            .await
            .map_err(|e| classify(key, e))?;
        Ok(())
    }

    /// The content type, where the store keeps one (S3).
    fn attributes(&self, content_type: &str) -> Attributes {
        let mut attributes = Attributes::new();
        if self.backend == StorageBackend::S3 {
            attributes.insert(Attribute::ContentType, content_type.to_owned().into());
        }
        attributes
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        let path = object_path(key)?;
        let result = self.store.get(&path).await.map_err(|e| classify(key, e))?;
        result.bytes().await.map_err(|e| classify(key, e))
    }

    /// The object at `key` as a stream of chunks, with its length: read
    /// without holding the whole object in memory.
    pub async fn get_stream(
        &self,
        key: &str,
    ) -> Result<
        (
            u64,
            futures_util::stream::BoxStream<'static, Result<Bytes, StorageError>>,
        ),
        StorageError,
    > {
        let path = object_path(key)?;
        let result = self.store.get(&path).await.map_err(|e| classify(key, e))?;
        let size = result.meta.size;
        let owned = key.to_owned();
        Ok((
            size,
            result
                .into_stream()
                .map_err(move |e| classify(&owned, e))
                .boxed(),
        ))
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

/// What a streamed write stored: its length and SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub bytes: u64,
    pub sha256: String,
}

/// Why a streamed write stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum StreamError<E> {
    #[error("the body is larger than {0} bytes")]
    TooLarge(u64),
    #[error("reading the body: {0}")]
    Source(E),
    #[error(transparent)]
    Storage(StorageError),
}

impl Storage {
    /// Write what `body` yields at `key` while hashing it, holding at most
    /// about two parts in memory (S3 parts are 5 MiB, its least; local ones
    /// 1 MiB): a body that fits in one part is one plain write, a longer
    /// one a multipart upload. Past `limit` bytes, a failed read or a
    /// failed write, the upload is aborted and nothing is left at `key`.
    pub async fn put_stream<S, E>(
        &self,
        key: &str,
        content_type: &str,
        mut body: S,
        limit: u64,
    ) -> Result<Written, StreamError<E>>
    where
        S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
    {
        let path = object_path(key).map_err(StreamError::Storage)?;
        let part = if self.backend == StorageBackend::S3 {
            5 * 1024 * 1024
        } else {
            1024 * 1024
        };
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        let mut first: Vec<Bytes> = Vec::new();
        let mut buffered = 0usize;
        let mut writer: Option<WriteMultipart> = None;
        let failure = loop {
            let chunk = match body.next().await {
                None => break None,
                Some(Err(e)) => break Some(StreamError::Source(e)),
                Some(Ok(chunk)) => chunk,
            };
            total += chunk.len() as u64;
            if total > limit {
                break Some(StreamError::TooLarge(limit));
            }
            hasher.update(&chunk);
            match writer.as_mut() {
                Some(w) => {
                    if let Err(e) = w.wait_for_capacity(1).await {
                        break Some(StreamError::Storage(classify(key, e)));
                    }
                    w.put(chunk);
                }
                None => {
                    buffered += chunk.len();
                    first.push(chunk);
                    if buffered >= part {
                        let opts = PutMultipartOptions {
                            attributes: self.attributes(content_type),
                            ..Default::default()
                        };
                        match self.store.put_multipart_opts(&path, opts).await {
                            Ok(upload) => {
                                let mut w = WriteMultipart::new_with_chunk_size(upload, part);
                                for b in first.drain(..) {
                                    w.put(b);
                                }
                                writer = Some(w);
                            }
                            Err(e) => break Some(StreamError::Storage(classify(key, e))),
                        }
                    }
                }
            }
        };
        if let Some(failure) = failure {
            if let Some(w) = writer {
                // Best effort: a store that cannot abort expires the parts
                // itself (S3 lifecycle rules); nothing is at `key` either way.
                let _ = w.abort().await;
            }
            return Err(failure);
        }
        match writer {
            Some(w) => {
                w.finish()
                    .await
                    .map_err(|e| StreamError::Storage(classify(key, e)))?;
            }
            None => {
                let payload: PutPayload = first.into_iter().collect();
                let opts = PutOptions {
                    attributes: self.attributes(content_type),
                    ..Default::default()
                };
                self.store
                    .put_opts(&path, payload, opts)
                    .await
                    .map_err(|e| StreamError::Storage(classify(key, e)))?;
            }
        }
        Ok(Written {
            bytes: total,
            sha256: hex::encode(hasher.finalize()),
        })
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

    /// Bodies in 64 KiB chunks: one under a part (a plain write), one of
    /// three and a half parts (multipart), one past the limit and one whose
    /// reading fails (both aborted: nothing at the key).
    #[tokio::test]
    async fn streamed_writes_hash_what_they_store_and_leave_nothing_when_they_fail() {
        let dir = std::env::temp_dir().join(format!("atelier-stream-{}", std::process::id()));
        let storage = local(&dir);
        let body = |n: usize| -> Vec<u8> { (0..n).map(|i| (i * 31 % 251) as u8).collect() };
        let chunks = |bytes: &[u8]| {
            let parts: Vec<Result<Bytes, String>> = bytes
                .chunks(64 * 1024)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            futures_util::stream::iter(parts)
        };
        for n in [10, 3 * 1024 * 1024 + 512 * 1024] {
            let data = body(n);
            let key = format!("s/{n}");
            let written = storage
                .put_stream(&key, "application/octet-stream", chunks(&data), 32 << 20)
                .await
                .unwrap();
            assert_eq!(written.bytes, n as u64);
            assert_eq!(written.sha256, hex::encode(Sha256::digest(&data)));
            assert_eq!(storage.get(&key).await.unwrap(), Bytes::from(data));
        }
        let data = body(3 * 1024 * 1024);
        let err = storage
            .put_stream("s/big", "x", chunks(&data), 2 * 1024 * 1024)
            .await
            .unwrap_err();
        assert!(matches!(err, StreamError::TooLarge(_)), "{err}");
        let failing = chunks(&data[..2 * 1024 * 1024])
            .chain(futures_util::stream::iter([Err("reset".to_owned())]));
        let err = storage
            .put_stream("s/cut", "x", failing, 32 << 20)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StreamError::Source(ref e) if e == "reset"),
            "{err}"
        );
        for key in ["s/big", "s/cut"] {
            assert!(!storage.exists(key).await.unwrap(), "{key}");
        }
        let _ = std::fs::remove_dir_all(&dir);
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
