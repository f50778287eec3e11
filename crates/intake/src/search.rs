//! Similarity search over the embeddings `vision.embed` stores. Each intake
//! keeps, per API client and modality, an in-memory index
//! ([`atelier_search::VectorIndex`], 8-bit codes) split by model version; a
//! query first loads the rows written since its last look's visibility
//! horizon (so rows of transactions that committed out of `seq` order are
//! never missed; a re-run's row replaces the job's item in place), then
//! scans on a blocking thread. An index no query used for
//! `intake.search_idle_eviction` is dropped (the next query loads it again). Text
//! queries are embedded here with the same MiniLM model the workers use,
//! loaded on the first text query, at most [`TEXT_AT_ONCE`] at a time.
use std::collections::HashMap;
use std::sync::Arc;

use atelier_db::PgPool;
use atelier_inference::TextEncoder;
use atelier_search::{Hit, VectorIndex};
use tokio::sync::{Mutex, OnceCell, RwLock};
use uuid::Uuid;

/// Rows read per round trip while catching up.
const LOAD_BATCH: i64 = 5_000;

/// Text queries embedded at once (each a model run on a blocking thread).
pub const TEXT_AT_ONCE: usize = 2;

/// Items of one model version.
struct Space {
    index: VectorIndex,
    users: Vec<String>,
    /// False where the job's row moved to another space (a re-run under
    /// another model version).
    live: Vec<bool>,
}

type SpaceKey = (String, String);

#[derive(Default)]
struct Loaded {
    /// Transactions from this one on may still add rows.
    horizon: i64,
    /// By (model, version).
    spaces: HashMap<SpaceKey, Space>,
    /// Where each job's item is, and the transaction that wrote it.
    items: HashMap<Uuid, (SpaceKey, usize, i64)>,
}

impl Loaded {
    /// Add a row, or replace the job's item when a later transaction wrote
    /// it again; a row already held is skipped.
    fn take(&mut self, tx: i64, row: atelier_db::embeddings::EmbeddingRow) {
        let key = (row.model.clone(), row.model_version.clone());
        if let Some((held, index, written)) = self.items.get(&row.job_id).cloned() {
            if written == tx {
                return;
            }
            if held == key {
                let space = self.spaces.get_mut(&key).expect("held space");
                match space.index.set(index, &row.vector) {
                    Ok(()) => {
                        space.users[index] = row.user_id;
                        self.items.insert(row.job_id, (key, index, tx));
                    }
                    Err(error) => {
                        tracing::warn!(job = %row.job_id, %error, "embedding skipped by the index")
                    }
                }
                return;
            }
            if let Some(space) = self.spaces.get_mut(&held) {
                space.live[index] = false;
            }
            self.items.remove(&row.job_id);
        }
        let space = self.spaces.entry(key.clone()).or_insert_with(|| Space {
            index: VectorIndex::new(row.vector.len()),
            users: Vec::new(),
            live: Vec::new(),
        });
        match space.index.push(row.job_id, &row.vector) {
            Ok(index) => {
                space.users.push(row.user_id);
                space.live.push(true);
                self.items.insert(row.job_id, (key, index, tx));
            }
            Err(error) => {
                tracing::warn!(job = %row.job_id, %error, "embedding skipped by the index")
            }
        }
    }
}

/// What a query found, and how much it searched.
pub struct Found {
    pub hits: Vec<(Hit, String)>,
    pub searched: usize,
}

/// One client's index of one modality, shared by concurrent queries.
type SharedLoaded = Arc<RwLock<Loaded>>;

pub struct SearchIndexes {
    /// By (client, modality), with when a query last used it.
    loaded: Mutex<HashMap<(String, String), (SharedLoaded, std::time::Instant)>>,
    idle_eviction: std::time::Duration,
    text: OnceCell<Result<Arc<TextEncoder>, String>>,
    /// Text queries being embedded ([`TEXT_AT_ONCE`]).
    pub text_slots: tokio::sync::Semaphore,
}

impl SearchIndexes {
    /// Indexes dropped once no query used them for `idle_eviction`.
    pub fn new(idle_eviction: std::time::Duration) -> Self {
        SearchIndexes {
            loaded: Mutex::default(),
            idle_eviction,
            text: OnceCell::new(),
            text_slots: tokio::sync::Semaphore::new(TEXT_AT_ONCE),
        }
    }

    /// A client's index of `modality`, marked used now; indexes idle past
    /// `idle_eviction` (and in no query's hands) are dropped on the way.
    async fn space_set(&self, client: &str, modality: &str) -> Arc<RwLock<Loaded>> {
        let now = std::time::Instant::now();
        let mut loaded = self.loaded.lock().await;
        loaded.retain(|_, (set, used)| {
            Arc::strong_count(set) > 1 || now.duration_since(*used) < self.idle_eviction
        });
        let entry = loaded
            .entry((client.to_owned(), modality.to_owned()))
            .or_insert_with(|| (Arc::default(), now));
        entry.1 = now;
        entry.0.clone()
    }

    /// How many (client, modality) indexes this process holds.
    pub async fn held(&self) -> usize {
        self.loaded.lock().await.len()
    }

    /// Bring a client's index of `modality` up to date with PostgreSQL.
    async fn refresh(
        &self,
        pool: &PgPool,
        client: &str,
        modality: &str,
    ) -> Result<Arc<RwLock<Loaded>>, atelier_db::DbError> {
        let set = self.space_set(client, modality).await;
        let mut loaded = set.write().await;
        // Taken before reading: a row this refresh does not see was written
        // by a transaction at or after it, and the next refresh starts there.
        let horizon = atelier_db::embeddings::horizon(pool).await?;
        let mut after = (loaded.horizon, -1);
        loop {
            let rows =
                atelier_db::embeddings::written_since(pool, client, modality, after, LOAD_BATCH)
                    .await?;
            let count = rows.len();
            for (tx, row) in rows {
                after = (tx, row.seq);
                loaded.take(tx, row);
            }
            if (count as i64) < LOAD_BATCH {
                break;
            }
        }
        loaded.horizon = horizon;
        drop(loaded);
        Ok(set)
    }

    /// The `k` nearest items of `client` in the space of (`modality`,
    /// `model`, `version`), optionally of one user, never the `exclude`d jobs.
    #[allow(clippy::too_many_arguments)]
    pub async fn nearest(
        &self,
        pool: &PgPool,
        client: &str,
        modality: &str,
        model: (&str, &str),
        query: &[f32],
        k: usize,
        user: Option<&str>,
        exclude: &[Uuid],
    ) -> Result<Found, atelier_db::DbError> {
        let set = self.refresh(pool, client, modality).await?;
        let loaded = set.read_owned().await;
        let (model, query) = ((model.0.to_owned(), model.1.to_owned()), query.to_vec());
        let (user, exclude) = (user.map(str::to_owned), exclude.to_vec());
        // The scan is CPU work over every item: off the async threads.
        let found = tokio::task::spawn_blocking(move || {
            let Some(space) = loaded.spaces.get(&model) else {
                return Found {
                    hits: Vec::new(),
                    searched: 0,
                };
            };
            let keep = |i: usize| {
                space.live[i]
                    && !exclude.contains(&space.index.id(i))
                    && user.as_deref().is_none_or(|u| space.users[i] == u)
            };
            let hits = space
                .index
                .search(&query, k, keep)
                .unwrap_or_default()
                .into_iter()
                .map(|h| {
                    let user = space.users[h.index].clone();
                    (h, user)
                })
                .collect();
            Found {
                hits,
                searched: space.live.iter().filter(|&&l| l).count(),
            }
        })
        .await
        .expect("the scan does not panic");
        Ok(found)
    }

    /// The text model, loaded once on first use; `Err` says why it is not
    /// available.
    pub async fn text_encoder(
        &self,
        config: &atelier_config::ModelsConfig,
    ) -> Result<Arc<TextEncoder>, String> {
        self.text
            .get_or_init(|| async {
                let config = config.clone();
                let loaded = tokio::task::spawn_blocking(move || {
                    let dir = config
                        .dir
                        .clone()
                        .unwrap_or_else(atelier_inference::models_dir);
                    TextEncoder::from_dirs(&config.manifests, &dir, config.threads as usize)
                })
                .await;
                match loaded {
                    Ok(Ok(encoder)) => Ok(Arc::new(encoder)),
                    Ok(Err(error)) => {
                        tracing::error!(%error, "text search model unavailable");
                        Err(error.to_string())
                    }
                    Err(error) => Err(error.to_string()),
                }
            })
            .await
            .clone()
    }
}

/// The job whose embedding row holds `job`'s vector: itself, or the job a
/// cached answer points at.
pub(crate) fn vector_job(job: &atelier_db::JobRow) -> uuid::Uuid {
    job.result
        .as_ref()
        .and_then(|r| r.pointer("/cache/job_id"))
        .and_then(serde_json::Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(job.id)
}
