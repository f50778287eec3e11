-- Operators' job search (GET /v1/ops/jobs): newest first by a keyset on
-- (created_at, id), alone or after the filters a search names most often;
-- input fragments by containment (`input @> …`).
CREATE INDEX jobs_created ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_kind_status ON jobs (kind, status, created_at DESC, id DESC);
CREATE INDEX jobs_client_created ON jobs (client_id, created_at DESC, id DESC);
CREATE INDEX jobs_error_code ON jobs (error_code, created_at DESC, id DESC)
    WHERE error_code IS NOT NULL;
CREATE INDEX jobs_input ON jobs USING gin (input jsonb_path_ops);
