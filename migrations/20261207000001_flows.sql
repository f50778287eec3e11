-- Flows (issue 19): a DAG of jobs submitted as one. Every node is a job row
-- (with `flow_id` and its `node` name) and every dependency an edge, all
-- inserted in one transaction. A node with unfinished dependencies is
-- `waiting` here, never in a queue; the transaction that ends a job (any
-- path: a worker, a cancel, the reconciler, an operator) releases its
-- dependents whose dependencies have all ended, applying their failure
-- policy, and moves the flow to its end. Released nodes are `queued` with
-- `enqueued_at` NULL and announced on `atelier_flow_released`: the intake
-- pushes them as the transaction commits, the outbox relay if it missed
-- one.
CREATE TABLE flows (
    id              uuid        PRIMARY KEY,
    client_id       text        NOT NULL,
    user_id         text        NOT NULL,
    status          text        NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'complete', 'failed', 'cancelled')),
    nodes_total     integer     NOT NULL CHECK (nodes_total > 0),
    nodes_done      integer     NOT NULL DEFAULT 0,
    idempotency_key text,
    request_hash    text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE UNIQUE INDEX flows_idempotency ON flows (client_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX flows_user ON flows (user_id, created_at DESC);

ALTER TABLE jobs
    ADD COLUMN flow_id uuid REFERENCES flows (id),
    ADD COLUMN node text,
    -- The node's place in the flow's order (dependencies first).
    ADD COLUMN node_index integer,
    -- Dependencies not yet ended.
    ADD COLUMN waiting_on integer NOT NULL DEFAULT 0,
    ADD COLUMN on_dependency_failure text
        CHECK (on_dependency_failure IN ('fail', 'skip', 'continue')),
    -- References to fill in at release: [{at, from, pointer}] (JSON
    -- Pointers into this input and the `from` node's result).
    ADD COLUMN input_references jsonb,
    DROP CONSTRAINT jobs_status_check,
    ADD CONSTRAINT jobs_status_check CHECK (status IN
        ('waiting', 'queued', 'processing', 'complete', 'error', 'dead', 'skipped'));
CREATE UNIQUE INDEX jobs_flow_node ON jobs (flow_id, node) WHERE flow_id IS NOT NULL;
-- The metrics count waiting nodes at every scrape.
CREATE INDEX jobs_waiting ON jobs (kind) WHERE status = 'waiting';

CREATE TABLE flow_edges (
    flow_id    uuid NOT NULL REFERENCES flows (id),
    job_id     uuid NOT NULL REFERENCES jobs (id),
    depends_on uuid NOT NULL REFERENCES jobs (id),
    PRIMARY KEY (job_id, depends_on)
);
CREATE INDEX flow_edges_dependency ON flow_edges (depends_on);

-- A JSON Pointer as a jsonb path (`/a/0/b~1c` → {a,0,b/c}).
CREATE FUNCTION json_pointer_path(pointer text) RETURNS text[] AS $$
    SELECT CASE WHEN pointer = '' THEN ARRAY[]::text[] ELSE
        ARRAY(SELECT replace(replace(step, '~1', '/'), '~0', '~')
              FROM unnest(string_to_array(substr(pointer, 2), '/')) WITH ORDINALITY AS t(step, n)
              ORDER BY n)
    END
$$ LANGUAGE sql IMMUTABLE;

-- When a flow's job first ends, release what waited on it: a loop over the
-- jobs ended in this transaction (a node failed by its policy ends too,
-- and releases its own dependents), not trigger recursion, so a chain of
-- any length fails through in one statement.
CREATE FUNCTION flow_release() RETURNS trigger AS $$
DECLARE
    ended    uuid[] := ARRAY[NEW.id];
    current  uuid;
    dep      record;
    failed   text;
    ref      record;
    value    jsonb;
    fill     jsonb;
    unfilled text;
BEGIN
    -- Updates made below fire this trigger again: the outer call handles
    -- them.
    IF pg_trigger_depth() > 1 OR NEW.flow_id IS NULL
       OR NEW.status NOT IN ('complete', 'error', 'dead', 'skipped')
       OR OLD.status IN ('complete', 'error', 'dead', 'skipped') THEN
        RETURN NEW;
    END IF;
    -- One end at a time per flow: the counts below then see every end
    -- committed before (read committed takes a snapshot per statement).
    PERFORM 1 FROM flows WHERE id = NEW.flow_id FOR UPDATE;
    WHILE array_length(ended, 1) > 0 LOOP
        current := ended[1];
        ended := ended[2:];
        FOR dep IN
            UPDATE jobs d SET waiting_on = d.waiting_on - 1, updated_at = now()
            FROM flow_edges e
            WHERE e.depends_on = current AND d.id = e.job_id AND d.status = 'waiting'
            RETURNING d.id, d.waiting_on, d.on_dependency_failure, d.input, d.input_references
        LOOP
            CONTINUE WHEN dep.waiting_on > 0;
            -- Every dependency has ended: the first that did not complete.
            SELECT p.node INTO failed
            FROM flow_edges e JOIN jobs p ON p.id = e.depends_on
            WHERE e.job_id = dep.id AND p.status <> 'complete'
            ORDER BY p.finished_at, p.node LIMIT 1;
            IF failed IS NOT NULL AND dep.on_dependency_failure = 'fail' THEN
                UPDATE jobs SET status = 'error', error_code = 'flow.dependency_failed',
                       error_message = format('the node %s it depends on failed', failed),
                       finished_at = now(), updated_at = now()
                WHERE id = dep.id;
                ended := ended || dep.id;
                CONTINUE;
            ELSIF failed IS NOT NULL AND dep.on_dependency_failure = 'skip' THEN
                UPDATE jobs SET status = 'skipped', finished_at = now(), updated_at = now()
                WHERE id = dep.id;
                ended := ended || dep.id;
                CONTINUE;
            END IF;
            -- Released: its references filled in from its dependencies'
            -- results.
            fill := dep.input;
            unfilled := NULL;
            FOR ref IN
                SELECT r->>'at' AS at, r->>'from' AS from_node, r->>'pointer' AS pointer
                FROM jsonb_array_elements(coalesce(dep.input_references, '[]')) AS r
            LOOP
                SELECT p.result #> json_pointer_path(ref.pointer) INTO value
                FROM jobs p WHERE p.flow_id = NEW.flow_id AND p.node = ref.from_node;
                IF value IS NULL OR value = 'null'::jsonb THEN
                    unfilled := format('input %s: %s %s holds no value',
                                       ref.at, ref.from_node, ref.pointer);
                    EXIT;
                END IF;
                fill := CASE WHEN ref.at = '' THEN value
                        ELSE jsonb_set(fill, json_pointer_path(ref.at), value) END;
            END LOOP;
            IF unfilled IS NOT NULL THEN
                UPDATE jobs SET status = 'error', error_code = 'flow.reference_unresolved',
                       error_message = unfilled, finished_at = now(), updated_at = now()
                WHERE id = dep.id;
                ended := ended || dep.id;
            ELSE
                UPDATE jobs SET status = 'queued', input = fill, enqueued_at = NULL,
                       updated_at = now()
                WHERE id = dep.id;
                -- Delivered at commit: the intake pushes it at once (the
                -- outbox relay is the fallback).
                PERFORM pg_notify('atelier_flow_released', dep.id::text);
            END IF;
        END LOOP;
    END LOOP;
    -- The flow: how many nodes ended, and its end once all have.
    UPDATE flows f SET
        nodes_done = c.done,
        status = CASE
            WHEN c.done < f.nodes_total OR f.status <> 'running' THEN f.status
            WHEN c.unabsorbed > 0 THEN 'failed'
            ELSE 'complete' END,
        finished_at = CASE WHEN c.done = f.nodes_total AND f.finished_at IS NULL
                           THEN now() ELSE f.finished_at END,
        updated_at = now()
    FROM (
        SELECT count(*) FILTER (WHERE j.status IN ('complete', 'error', 'dead', 'skipped')) AS done,
               -- A failure fails the flow unless every node that depends on
               -- it chose to skip or continue.
               count(*) FILTER (WHERE j.status IN ('error', 'dead') AND (
                   j.error_code = 'flow.dependency_failed' OR NOT EXISTS (
                       SELECT 1 FROM flow_edges e JOIN jobs d ON d.id = e.job_id
                       WHERE e.depends_on = j.id)
                   OR EXISTS (
                       SELECT 1 FROM flow_edges e JOIN jobs d ON d.id = e.job_id
                       WHERE e.depends_on = j.id AND d.on_dependency_failure = 'fail')))
                   AS unabsorbed
        FROM jobs j WHERE j.flow_id = NEW.flow_id
    ) c
    WHERE f.id = NEW.flow_id;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER flow_release AFTER UPDATE OF status ON jobs
    FOR EACH ROW EXECUTE FUNCTION flow_release();
