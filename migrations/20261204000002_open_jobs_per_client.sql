-- A client's queued and running jobs, counted at each submission against
-- its quota (intake.max_open_jobs_per_client).
CREATE INDEX jobs_client_open ON jobs (client_id) WHERE status IN ('queued', 'processing');
