-- The console (issue 20): its sign-in sessions, the audit log of what
-- operators did, and each job's runs for the inspector's timeline.

-- A signed-in browser. The cookie holds a random token; only its SHA-256
-- is stored, so a read of this table signs nobody in. `csrf` is the token
-- every console form must carry.
CREATE TABLE console_sessions (
    token_hash bytea       PRIMARY KEY,
    operator   text        NOT NULL,
    role       text        NOT NULL CHECK (role IN ('viewer', 'operator')),
    csrf       text        NOT NULL,
    address    text,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- Every action taken from the console (and its sign-ins): who, what, when,
-- on which queue and jobs.
CREATE TABLE audit_log (
    id       bigserial   PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    operator text        NOT NULL,
    role     text        NOT NULL,
    action   text        NOT NULL,
    queue    text,
    job_ids  uuid[]      NOT NULL DEFAULT '{}',
    detail   jsonb       NOT NULL DEFAULT '{}',
    address  text
);
CREATE INDEX audit_log_at ON audit_log (at DESC);

-- The worker holding the job's current run (set with its lease token).
ALTER TABLE jobs ADD COLUMN worker text;

-- Each run of a job: opened when a run takes the row under a new lease
-- token, closed when the row leaves `processing` (its outcome) or when a
-- later run takes the row (`lost`: the worker vanished or stalled past its
-- lease). Kept by a trigger, so every path that moves a row (workers, the
-- reconciler, dead letters, cancellation) is recorded the same way.
CREATE TABLE job_runs (
    job_id        uuid        NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    lease_token   text        NOT NULL,
    attempt       integer     NOT NULL,
    worker        text,
    started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    ended_at      timestamptz,
    outcome       text CHECK (outcome IN ('complete', 'error', 'dead', 'retry', 'lost', 'skipped')),
    error_code    text,
    error_message text,
    PRIMARY KEY (job_id, lease_token)
);

CREATE FUNCTION job_runs_follow() RETURNS trigger AS $$
BEGIN
    IF NEW.lease_token IS NOT NULL AND NEW.lease_token IS DISTINCT FROM OLD.lease_token THEN
        UPDATE job_runs SET ended_at = clock_timestamp(), outcome = 'lost'
         WHERE job_id = NEW.id AND ended_at IS NULL;
        INSERT INTO job_runs (job_id, lease_token, attempt, worker)
        VALUES (NEW.id, NEW.lease_token, NEW.attempts, NEW.worker)
        ON CONFLICT DO NOTHING;
    ELSIF OLD.status = 'processing' AND NEW.status <> 'processing' THEN
        UPDATE job_runs
           SET ended_at = clock_timestamp(),
               outcome = CASE NEW.status WHEN 'queued' THEN 'retry' ELSE NEW.status END,
               error_code = CASE WHEN NEW.status = 'complete' THEN NULL ELSE NEW.error_code END,
               error_message = CASE WHEN NEW.status = 'complete' THEN NULL ELSE NEW.error_message END
         WHERE job_id = NEW.id AND ended_at IS NULL;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER jobs_runs AFTER UPDATE OF status, lease_token ON jobs
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.lease_token IS DISTINCT FROM NEW.lease_token)
    EXECUTE FUNCTION job_runs_follow();

-- Which run finished each stage (the inspector's "which run did each").
ALTER TABLE job_stages ADD COLUMN attempt integer;
CREATE FUNCTION job_stages_attempt() RETURNS trigger AS $$
BEGIN
    NEW.attempt := (SELECT attempts FROM jobs WHERE id = NEW.job_id);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER job_stages_attempt BEFORE INSERT OR UPDATE ON job_stages
    FOR EACH ROW EXECUTE FUNCTION job_stages_attempt();

-- The inspector lists a job's events.
CREATE INDEX events_job ON events (job_id, at);
