//! Similarity search over the embeddings `vision.embed` stores. Each intake
//! keeps, per API client and modality, an in-memory index
//! ([`atelier_search::VectorIndex`], 8-bit codes) split by model version; a
//! query first loads the rows added since its last look (`seq` order), then
//! scans. Text queries are embedded here with the same MiniLM model the
//! workers use, loaded on the first text query.
use std::collections::HashMap;
use std::sync::Arc;

use atelier_db::PgPool;
use atelier_inference::TextEncoder;
use atelier_search::{Hit, VectorIndex};
use tokio::sync::{Mutex, OnceCell, RwLock};
use uuid::Uuid;

/// Rows read per round trip while catching up.
const LOAD_BATCH: i64 = 5_000;

/// Items of one model version.
struct Space {
    index: VectorIndex,
    users: Vec<String>,
}

#[derive(Default)]
struct Loaded {
    last_seq: i64,
    /// By (model, version).
    spaces: HashMap<(String, String), Space>,
}

/// What a query found, and how much it searched.
pub struct Found {
    pub hits: Vec<(Hit, String)>,
    pub searched: usize,
}

/// One client's index of one modality, shared by concurrent queries.
type SharedLoaded = Arc<RwLock<Loaded>>;

#[derive(Default)]
pub struct SearchIndexes {
    /// By (client, modality).
    loaded: Mutex<HashMap<(String, String), SharedLoaded>>,
    text: OnceCell<Result<Arc<TextEncoder>, String>>,
}

impl SearchIndexes {
    async fn space_set(&self, client: &str, modality: &str) -> Arc<RwLock<Loaded>> {
        self.loaded
            .lock()
            .await
            .entry((client.to_owned(), modality.to_owned()))
            .or_default()
            .clone()
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
        loop {
            let rows =
                atelier_db::embeddings::since(pool, client, modality, loaded.last_seq, LOAD_BATCH)
                    .await?;
            let count = rows.len();
            for row in rows {
                loaded.last_seq = loaded.last_seq.max(row.seq);
                let space = loaded
                    .spaces
                    .entry((row.model.clone(), row.model_version.clone()))
                    .or_insert_with(|| Space {
                        index: VectorIndex::new(row.vector.len()),
                        users: Vec::new(),
                    });
                match space.index.push(row.job_id, &row.vector) {
                    Ok(_) => space.users.push(row.user_id),
                    Err(error) => {
                        tracing::warn!(job = %row.job_id, %error, "embedding skipped by the index")
                    }
                }
            }
            if (count as i64) < LOAD_BATCH {
                break;
            }
        }
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
        let loaded = set.read().await;
        let Some(space) = loaded.spaces.get(&(model.0.to_owned(), model.1.to_owned())) else {
            return Ok(Found {
                hits: Vec::new(),
                searched: 0,
            });
        };
        let keep = |i: usize| {
            !exclude.contains(&space.index.id(i)) && user.is_none_or(|u| space.users[i] == u)
        };
        let hits = space
            .index
            .search(query, k, keep)
            .unwrap_or_default()
            .into_iter()
            .map(|h| {
                let user = space.users[h.index].clone();
                (h, user)
            })
            .collect();
        Ok(Found {
            hits,
            searched: space.index.len(),
        })
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
