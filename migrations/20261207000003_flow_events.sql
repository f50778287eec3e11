-- A flow's events (issue 19), logged with the user's other events in the
-- transaction that moves the flow, whatever path moves it (a worker, a
-- cancel, the reconciler, an operator): `flow.progress` for each node that
-- ends, then one `flow.completed` / `flow.failed` / `flow.cancelled` when
-- the flow ends, and its e-mail when one was asked for. These triggers are
-- deferred to the commit, so they run after every release the transaction
-- made, in the order the moves happened: a node's progress before the
-- nodes its end released or skipped, the flow's end last.
ALTER TABLE flows ADD COLUMN notify_email text, ADD COLUMN notify_queue text;

-- Log an event from SQL and announce it on `atelier_events` (each intake
-- routes it to its sockets of that user; the payload is the live channel's
-- `id audience envelope-without-id`). Not trimmed by count here: the
-- appends from the services do that, and the reconciler trims by age.
CREATE FUNCTION event_announce(p_client text, p_user text, p_type text, p_job uuid, p_data jsonb)
RETURNS bigint AS $$
DECLARE
    at timestamptz := date_trunc('milliseconds', clock_timestamp());
    n  bigint;
BEGIN
    n := event_append(p_client, p_user, p_type, p_job, at, p_data, NULL);
    PERFORM pg_notify('atelier_events', n || ' ' || p_client || '/' || p_user || ' ' ||
        jsonb_build_object('type', p_type, 'job_id', p_job, 'user_id', p_user,
                           'at', at, 'data', p_data)::text);
    RETURN n;
END
$$ LANGUAGE plpgsql;

-- `flow.progress` when a node ends: the node that moved, and how many of
-- the flow's nodes have ended once this transaction's moves are done.
CREATE FUNCTION flow_node_event() RETURNS trigger AS $$
DECLARE
    f record;
BEGIN
    SELECT id, client_id, user_id, nodes_done, nodes_total INTO f FROM flows WHERE id = NEW.flow_id;
    PERFORM event_announce(f.client_id, f.user_id, 'flow.progress', f.id,
        jsonb_build_object('flow_id', f.id, 'node', NEW.node, 'node_job_id', NEW.id,
                           'kind', NEW.kind, 'status', NEW.status,
                           'done', f.nodes_done, 'total', f.nodes_total)
        || CASE WHEN NEW.error_code IS NULL THEN '{}'::jsonb
                ELSE jsonb_build_object('error', jsonb_build_object(
                         'code', NEW.error_code, 'message', coalesce(NEW.error_message, '')))
           END);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER flow_node_event AFTER UPDATE OF status ON jobs
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.flow_id IS NOT NULL
          AND NEW.status IN ('complete', 'error', 'dead', 'skipped')
          AND OLD.status NOT IN ('complete', 'error', 'dead', 'skipped'))
    EXECUTE FUNCTION flow_node_event();

-- The flow's end: its event, and its one e-mail (a deterministic id per
-- end, so a repeated end inserts nothing; a retried flow that ends again
-- sends again).
CREATE FUNCTION flow_end_event() RETURNS trigger AS $$
DECLARE
    f      record;
    failed jsonb;
BEGIN
    SELECT * INTO f FROM flows WHERE id = NEW.id;
    IF f.status = 'running' THEN
        -- Retried again in the same transaction: no end to tell.
        RETURN NULL;
    END IF;
    SELECT coalesce(jsonb_agg(node ORDER BY node_index), '[]'::jsonb) INTO failed
      FROM jobs
     WHERE flow_id = f.id AND status IN ('error', 'dead')
       AND error_code IS DISTINCT FROM 'flow.dependency_failed'
       AND error_code IS DISTINCT FROM 'job.cancelled';
    PERFORM event_announce(f.client_id, f.user_id,
        'flow.' || CASE f.status WHEN 'complete' THEN 'completed' ELSE f.status END, f.id,
        jsonb_build_object('flow_id', f.id, 'status', f.status, 'done', f.nodes_done,
                           'total', f.nodes_total, 'failed_nodes', failed));
    IF f.notify_email IS NOT NULL AND f.notify_queue IS NOT NULL THEN
        INSERT INTO jobs (id, kind, contract_version, queue, client_id, user_id,
                          priority, request_hash, input)
        VALUES (md5(f.id::text || ':notify.email:' || coalesce(f.finished_at, f.updated_at)::text)::uuid,
                'notify.email', 1, f.notify_queue, f.client_id, f.user_id, 5,
                'notify:' || f.id::text,
                jsonb_build_object('to', f.notify_email, 'about_flow_id', f.id))
        ON CONFLICT (id) DO NOTHING;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER flow_end_event AFTER UPDATE OF status ON flows
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.status = 'running' AND NEW.status <> 'running')
    EXECUTE FUNCTION flow_end_event();

-- An operator's retry of a dead node (`requeue_dead`: `dead` → `queued`)
-- re-opens its flow: the nodes after it that did not complete (failed by
-- its failure, skipped, or failed after continuing past it) wait again,
-- each on those of its dependencies that have not ended, and the flow runs
-- again, so it ends again once they have.
CREATE FUNCTION flow_reopen() RETURNS trigger AS $$
DECLARE
    downstream uuid[];
BEGIN
    PERFORM 1 FROM flows WHERE id = NEW.flow_id FOR UPDATE;
    WITH RECURSIVE after(id) AS (
        SELECT e.job_id FROM flow_edges e WHERE e.depends_on = NEW.id
        UNION
        SELECT e.job_id FROM flow_edges e JOIN after a ON e.depends_on = a.id
    )
    SELECT array_agg(a.id) INTO downstream FROM after a JOIN jobs j ON j.id = a.id
     WHERE j.status IN ('error', 'dead', 'skipped');
    downstream := coalesce(downstream, ARRAY[]::uuid[]);
    UPDATE jobs SET status = 'waiting', attempts = 0, progress = 0, result = NULL,
           error_code = NULL, error_message = NULL, started_at = NULL, finished_at = NULL,
           enqueued_at = NULL, lease_token = NULL, updated_at = now()
     WHERE id = ANY(downstream);
    UPDATE jobs j SET waiting_on = (
               SELECT count(*) FROM flow_edges e JOIN jobs d ON d.id = e.depends_on
                WHERE e.job_id = j.id
                  AND d.status NOT IN ('complete', 'error', 'dead', 'skipped'))
     WHERE j.id = ANY(downstream);
    UPDATE flows SET status = 'running', finished_at = NULL, updated_at = now()
     WHERE id = NEW.flow_id AND status <> 'cancelled';
    PERFORM flow_recount(NEW.flow_id);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER flow_reopen AFTER UPDATE OF status ON jobs
    FOR EACH ROW
    WHEN (OLD.status = 'dead' AND NEW.status = 'queued' AND NEW.flow_id IS NOT NULL)
    EXECUTE FUNCTION flow_reopen();

-- Lists of a client's flows, newest first (GET /v1/flows, /v1/ops/flows).
CREATE INDEX flows_client ON flows (client_id, created_at DESC);
