-- Vision results are keyed by input hash + model version: a completed job
-- records its cache key, and a repeat from the same client and user is
-- answered from it instead of running the model again.
ALTER TABLE jobs ADD COLUMN cache_key text;
CREATE INDEX jobs_cache ON jobs (client_id, user_id, cache_key, finished_at DESC)
    WHERE cache_key IS NOT NULL AND status = 'complete';

-- Embeddings for similarity search, one per vision.embed job. `seq` lets a
-- search index load only what is new since its last look.
CREATE TABLE embeddings (
    job_id        uuid        PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    seq           bigserial   NOT NULL UNIQUE,
    client_id     text        NOT NULL,
    user_id       text        NOT NULL,
    modality      text        NOT NULL CHECK (modality IN ('image', 'text')),
    model         text        NOT NULL,
    model_version text        NOT NULL,
    input_sha256  text        NOT NULL,
    vector        real[]      NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX embeddings_space ON embeddings (client_id, modality, seq);
