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

-- A node all of whose dependencies have ended: under its policy it ends
-- (`error` with `flow.dependency_failed`, or `skipped`) when one of them
-- did not complete, else it is released: its references filled in from
-- the results, `queued`, announced on `atelier_flow_released` (delivered at
-- commit: the intake pushes it at once, the outbox relay if it missed the
-- announcement). A reference to nothing ends it `error` with
-- `flow.reference_unresolved`. Returns whether the node ended.
CREATE FUNCTION flow_release_node(node_id uuid) RETURNS boolean AS $$
DECLARE
    dep      record;
    failed   text;
    ref      record;
    value    jsonb;
    fill     jsonb;
    unfilled text;
BEGIN
    SELECT id, flow_id, on_dependency_failure, input, input_references INTO dep
    FROM jobs WHERE id = node_id;
    SELECT p.node INTO failed
    FROM flow_edges e JOIN jobs p ON p.id = e.depends_on
    WHERE e.job_id = node_id AND p.status <> 'complete'
    ORDER BY p.finished_at, p.node LIMIT 1;
    IF failed IS NOT NULL AND dep.on_dependency_failure = 'fail' THEN
        UPDATE jobs SET status = 'error', error_code = 'flow.dependency_failed',
               error_message = format('the node %s it depends on failed', failed),
               finished_at = now(), updated_at = now()
        WHERE id = node_id;
        RETURN true;
    ELSIF failed IS NOT NULL AND dep.on_dependency_failure = 'skip' THEN
        UPDATE jobs SET status = 'skipped', finished_at = now(), updated_at = now()
        WHERE id = node_id;
        RETURN true;
    END IF;
    fill := dep.input;
    FOR ref IN
        SELECT r->>'at' AS at, r->>'from' AS from_node, r->>'pointer' AS pointer
        FROM jsonb_array_elements(coalesce(dep.input_references, '[]')) AS r
    LOOP
        SELECT p.result #> json_pointer_path(ref.pointer) INTO value
        FROM jobs p WHERE p.flow_id = dep.flow_id AND p.node = ref.from_node;
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
        WHERE id = node_id;
        RETURN true;
    END IF;
    UPDATE jobs SET status = 'queued', input = fill, enqueued_at = NULL, updated_at = now()
    WHERE id = node_id;
    PERFORM pg_notify('atelier_flow_released', node_id::text);
    RETURN false;
END
$$ LANGUAGE plpgsql;

-- The flow's count of ended nodes, and its end once all have: `failed` when
-- a node failed and not every node depending on it skipped or continued
-- past it (a cancelled flow stays `cancelled`).
CREATE FUNCTION flow_recount(p_flow uuid) RETURNS void AS $$
    UPDATE flows f SET
        nodes_done = c.done,
        status = CASE
            WHEN c.done < f.nodes_total OR f.status <> 'running' THEN f.status
            WHEN c.unabsorbed > 0 THEN 'failed'
            ELSE 'complete' END,
        finished_at = CASE WHEN c.done < f.nodes_total THEN NULL
                           ELSE coalesce(f.finished_at, now()) END,
        updated_at = now()
    FROM (
        SELECT count(*) FILTER (WHERE j.status IN ('complete', 'error', 'dead', 'skipped')) AS done,
               count(*) FILTER (WHERE j.status IN ('error', 'dead') AND (
                   j.error_code = 'flow.dependency_failed' OR NOT EXISTS (
                       SELECT 1 FROM flow_edges e WHERE e.depends_on = j.id)
                   OR EXISTS (
                       SELECT 1 FROM flow_edges e JOIN jobs d ON d.id = e.job_id
                       WHERE e.depends_on = j.id AND d.on_dependency_failure = 'fail')))
                   AS unabsorbed
        FROM jobs j WHERE j.flow_id = p_flow
    ) c
    WHERE f.id = p_flow
$$ LANGUAGE sql;

-- Nodes that ended: each one's dependents count it, and those with no
-- dependency left are released or ended by their policy, which may end
-- more: a loop, not trigger recursion, so a failure runs down a chain of
-- any length in one statement.
CREATE FUNCTION flow_propagate(p_flow uuid, ended uuid[]) RETURNS void AS $$
DECLARE
    current uuid;
    dep     record;
BEGIN
    WHILE array_length(ended, 1) > 0 LOOP
        current := ended[1];
        ended := ended[2:];
        FOR dep IN
            UPDATE jobs d SET waiting_on = d.waiting_on - 1, updated_at = now()
            FROM flow_edges e
            WHERE e.depends_on = current AND d.id = e.job_id AND d.status = 'waiting'
            RETURNING d.id, d.waiting_on
        LOOP
            IF dep.waiting_on = 0 AND flow_release_node(dep.id) THEN
                ended := ended || dep.id;
            END IF;
        END LOOP;
    END LOOP;
    PERFORM flow_recount(p_flow);
END
$$ LANGUAGE plpgsql;

-- When a flow's job first ends (whatever path ends it), its flow moves:
-- one end at a time per flow (the flow's row locked: the counts then see
-- every end committed before, read committed taking a snapshot per
-- statement). Updates made by these functions fire this trigger again;
-- the outer call handles them.
CREATE FUNCTION flow_release() RETURNS trigger AS $$
BEGIN
    IF pg_trigger_depth() > 1 OR NEW.flow_id IS NULL
       OR NEW.status NOT IN ('complete', 'error', 'dead', 'skipped')
       OR OLD.status IN ('complete', 'error', 'dead', 'skipped') THEN
        RETURN NEW;
    END IF;
    PERFORM 1 FROM flows WHERE id = NEW.flow_id FOR UPDATE;
    PERFORM flow_propagate(NEW.flow_id, ARRAY[NEW.id]);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER flow_release AFTER UPDATE OF status ON jobs
    FOR EACH ROW EXECUTE FUNCTION flow_release();

-- Retry an ended flow's nodes (River's modes): `failed_only` the nodes
-- that failed themselves (not those failed by a dependency's failure),
-- `failed_and_downstream` those and every node after them that did not
-- complete, `all` every node. Each is reset (attempts, result and error
-- cleared; references filled in again at release) to wait on those of its
-- dependencies retried with it; those with none left are released (or
-- ended by their policy) now, and the flow runs again. Returns how many
-- nodes were reset; NULL when the flow is still running.
CREATE FUNCTION flow_retry(p_flow uuid, p_mode text) RETURNS integer AS $$
DECLARE
    reset  uuid[];
    node   record;
BEGIN
    PERFORM 1 FROM flows WHERE id = p_flow AND status <> 'running' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF p_mode = 'all' THEN
        SELECT array_agg(id) INTO reset FROM jobs WHERE flow_id = p_flow;
    ELSE
        SELECT array_agg(id) INTO reset FROM jobs
        WHERE flow_id = p_flow AND status IN ('error', 'dead')
          AND error_code IS DISTINCT FROM 'flow.dependency_failed';
        IF p_mode = 'failed_and_downstream' THEN
            WITH RECURSIVE after(id) AS (
                SELECT unnest(coalesce(reset, ARRAY[]::uuid[]))
                UNION
                SELECT e.job_id FROM flow_edges e JOIN after a ON e.depends_on = a.id
            )
            SELECT array_agg(a.id) INTO reset FROM after a JOIN jobs j ON j.id = a.id
            WHERE j.status <> 'complete' OR a.id = ANY(reset);
        END IF;
    END IF;
    reset := coalesce(reset, ARRAY[]::uuid[]);
    UPDATE jobs j SET status = 'waiting', attempts = 0, progress = 0, result = NULL,
           error_code = NULL, error_message = NULL, started_at = NULL, finished_at = NULL,
           enqueued_at = NULL, lease_token = NULL, cost = NULL, updated_at = now(),
           waiting_on = (SELECT count(*) FROM flow_edges e
                         WHERE e.job_id = j.id AND e.depends_on = ANY(reset))
    WHERE j.id = ANY(reset);
    UPDATE flows SET status = 'running', finished_at = NULL, updated_at = now()
    WHERE id = p_flow;
    -- A node ended here by its policy fires the release trigger, which
    -- moves what depends on it.
    FOR node IN SELECT id FROM jobs WHERE id = ANY(reset) AND waiting_on = 0 ORDER BY node_index LOOP
        IF NOT EXISTS (SELECT 1 FROM flow_edges WHERE job_id = node.id) THEN
            -- A root: nothing to wait for or fill in.
            UPDATE jobs SET status = 'queued' WHERE id = node.id;
            PERFORM pg_notify('atelier_flow_released', node.id::text);
        ELSE
            PERFORM flow_release_node(node.id);
        END IF;
    END LOOP;
    PERFORM flow_recount(p_flow);
    RETURN coalesce(array_length(reset, 1), 0);
END
$$ LANGUAGE plpgsql;
