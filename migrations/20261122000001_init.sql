-- Uploads: files received by the intake API, kept as uploaded (private).
CREATE TABLE uploads (
    id           uuid        PRIMARY KEY,
    client_id    text        NOT NULL,
    user_id      text        NOT NULL,
    content_type text        NOT NULL,
    bytes        bigint      NOT NULL CHECK (bytes >= 0),
    sha256       text        NOT NULL,
    storage_key  text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX uploads_user ON uploads (user_id, created_at DESC);

-- Jobs: the source of truth for every job's input, status and result. The
-- queue in Redis carries only ids. `enqueued_at` stays NULL until the queue
-- has the job: the intake's outbox relay pushes every row still NULL after a
-- grace period, so a crash between insert and push loses nothing.
CREATE TABLE jobs (
    id               uuid        PRIMARY KEY,
    kind             text        NOT NULL,
    contract_version integer     NOT NULL,
    queue            text        NOT NULL,
    client_id        text        NOT NULL,
    user_id          text        NOT NULL,
    status           text        NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'processing', 'complete', 'error', 'dead')),
    progress         smallint    NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    attempts         integer     NOT NULL DEFAULT 0,
    priority         smallint    NOT NULL DEFAULT 5 CHECK (priority BETWEEN 0 AND 9),
    idempotency_key  text,
    request_hash     text        NOT NULL,
    input            jsonb       NOT NULL,
    result           jsonb,
    error_code       text,
    error_message    text,
    enqueued_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
);
CREATE UNIQUE INDEX jobs_idempotency ON jobs (client_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_outbox ON jobs (created_at) WHERE enqueued_at IS NULL;
CREATE INDEX jobs_user ON jobs (user_id, created_at DESC);

-- Photos: one row per ingested photo; the id is the job id, so a re-run of
-- the same job writes the same row.
CREATE TABLE photos (
    id           uuid        PRIMARY KEY REFERENCES jobs (id),
    user_id      text        NOT NULL,
    avatar_id    uuid        NOT NULL,
    upload_id    uuid        NOT NULL REFERENCES uploads (id),
    sha256       text        NOT NULL,
    format       text        NOT NULL,
    width        integer     NOT NULL,
    height       integer     NOT NULL,
    original_key text        NOT NULL,
    variants     jsonb       NOT NULL,
    exif         jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX photos_avatar ON photos (user_id, avatar_id);
