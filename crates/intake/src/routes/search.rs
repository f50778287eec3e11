//! `POST /v1/search/similar`: the nearest stored embeddings of the calling
//! API client, for an embedded image or text job, or for a text query.
use std::time::Instant;

use atelier_jobs::{ErrorCode, JobKind, ModelRef};
use axum::Extension;
use axum::Json;
use axum::extract::{Request, State};

use utoipa_axum::routes;

use crate::api::{ErrorResponse, SimilarHit, SimilarRequest, SimilarResults};
use crate::auth::ClientId;
use crate::error::ApiError;
use crate::extract::json_body;
use crate::route::{Access, Route};
use crate::state::AppState;

pub const MAX_K: usize = 100;

/// `POST /v1/search/similar`: the client's stored embeddings nearest a
/// completed `vision.embed` job's vector or a text query.
#[utoipa::path(post, path = "/v1/search/similar", operation_id = "searchSimilar", tag = "search",
    security(("api_key" = [])),
    request_body = SimilarRequest,
    responses(
        (status = 200, description = "Nearest first", body = SimilarResults),
        (status = 404, description = "`job.not_found`", body = ErrorResponse),
        (status = 422, description = "`request.invalid`, `search.no_embedding`", body = ErrorResponse),
        (status = 503, description = "`search.unavailable`, `database.unavailable`", body = ErrorResponse),
    ))]
async fn similar(
    State(state): State<AppState>,
    Extension(client): Extension<ClientId>,
    request: Request,
) -> Result<Json<SimilarResults>, ApiError> {
    let started = Instant::now();
    let limit = state.config.intake.max_json_bytes as usize;
    let req: SimilarRequest = json_body(request, limit).await?;
    let k = req.k.unwrap_or(10);
    if !(1..=MAX_K).contains(&k) {
        return Err(ApiError::invalid(format!("k: 1 to {MAX_K}")));
    }
    let (modality, model, vector, exclude) = match (req.job_id, req.text) {
        (Some(job_id), None) => {
            let job = crate::jobs::load(&state, Some(&client), &job_id).await?;
            let id = job.id;
            let no_embedding =
                |why: &str| ApiError::new(ErrorCode::SearchNoEmbedding, format!("job {id} {why}"));
            if job.kind != JobKind::VisionEmbed {
                return Err(no_embedding("is not a vision.embed job"));
            }
            let source = crate::search::vector_job(&job);
            let row = atelier_db::embeddings::for_job(&state.pool, source)
                .await?
                .ok_or_else(|| no_embedding("has no stored embedding (not complete yet?)"))?;
            (
                row.modality,
                (row.model, row.model_version),
                row.vector,
                vec![id, source],
            )
        }
        (None, Some(text)) => {
            atelier_jobs::validate_text(&text).map_err(|e| ApiError::invalid(e.message))?;
            let encoder = state
                .search
                .text_encoder(&state.config.models)
                .await
                .map_err(|e| {
                    let mut error = ApiError::new(
                        ErrorCode::SearchUnavailable,
                        format!("text search is unavailable: {e}"),
                    );
                    error.retry_after = Some(60);
                    error
                })?;
            let model = (
                encoder.model.manifest.name.clone(),
                encoder.model.manifest.version.clone(),
            );
            // A bounded number of text embeddings at once: each takes a
            // blocking thread and a model run.
            let _slot = state
                .search
                .text_slots
                .acquire()
                .await
                .map_err(ApiError::internal)?;
            let mut vectors = tokio::task::spawn_blocking(move || encoder.embed(&[&text]))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
            ("text".to_owned(), model, vectors.remove(0), Vec::new())
        }
        _ => {
            return Err(ApiError::invalid(
                "exactly one of job_id and text is required",
            ));
        }
    };
    let found = state
        .search
        .nearest(
            &state.pool,
            &client.0,
            &modality,
            (&model.0, &model.1),
            &vector,
            k,
            req.user_id.as_ref().map(|u| u.as_str()),
            &exclude,
        )
        .await?;
    let results = found
        .hits
        .iter()
        .map(|(hit, user)| SimilarHit {
            job_id: hit.id,
            user_id: user.clone(),
            score: hit.score,
        })
        .collect();
    Ok(Json(SimilarResults {
        modality,
        model: ModelRef {
            name: model.0,
            version: model.1,
        },
        results,
        searched: found.searched,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
    }))
}

pub(crate) fn routes() -> Vec<Route> {
    vec![Route::new(Access::Client, routes!(similar))]
}
