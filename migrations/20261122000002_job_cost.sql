-- What each job cost: CPU seconds, wall seconds, bytes written (summed over
-- its runs), for per-client accounting.
ALTER TABLE jobs ADD COLUMN cost jsonb;
