-- Fencing: the token of the lease whose run may write the job's row. A run
-- that lost its lease (a stall longer than the lease, after which the job was
-- handed to another worker) can no longer complete, fail, reschedule or move
-- the progress of the job: every such write compares this token, with the
-- status still `processing`.
ALTER TABLE jobs ADD COLUMN lease_token text;

-- Resumable stages: a finished stage's small state, checkpointed so a re-run
-- (SIGKILL, timeout, lost lease) resumes after the last finished stage. Large
-- outputs live in object storage under keys derived from the job and stage.
CREATE TABLE job_stages (
    job_id      uuid        NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    position    integer     NOT NULL CHECK (position >= 0),
    stage       text        NOT NULL,
    version     integer     NOT NULL,
    state       jsonb       NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, position)
);

-- The reconciler looks for rows that have waited or run for long.
CREATE INDEX jobs_unsettled ON jobs (updated_at) WHERE status IN ('queued', 'processing');
