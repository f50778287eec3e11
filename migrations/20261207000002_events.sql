-- Each user's events, durable where the job rows are (issue 19): a Redis
-- that loses its data loses only the live fan-out, never what a reconnecting
-- socket replays.
--
-- An event's id is its number in its user's sequence. `event_users` holds
-- the last number given; taking the next one locks that row until the
-- appending transaction commits, so a user's events commit in the order of
-- their numbers, the numbers have no gaps, and "everything after n" read at
-- any moment misses nothing that a later read would find before n. The
-- counter rows are never deleted (a restarted sequence would hide new events
-- from a socket holding a higher id).
CREATE TABLE event_users (
    client_id text   NOT NULL,
    user_id   text   NOT NULL,
    last_seq  bigint NOT NULL,
    PRIMARY KEY (client_id, user_id)
);

CREATE TABLE events (
    client_id text        NOT NULL,
    user_id   text        NOT NULL,
    seq       bigint      NOT NULL,
    type      text        NOT NULL,
    job_id    uuid        NOT NULL,
    at        timestamptz NOT NULL,
    data      jsonb       NOT NULL,
    PRIMARY KEY (client_id, user_id, seq)
);
CREATE INDEX events_at ON events (at);

-- Append one event and return its number; every 64th append of a user
-- trims what lies past `keep` events behind (so about `keep` to `keep + 63`
-- are kept). Age is trimmed by the intake's reconciler.
CREATE FUNCTION event_append(p_client text, p_user text, p_type text, p_job uuid,
                             p_at timestamptz, p_data jsonb, p_keep bigint)
RETURNS bigint AS $$
DECLARE
    n bigint;
BEGIN
    INSERT INTO event_users (client_id, user_id, last_seq) VALUES (p_client, p_user, 1)
    ON CONFLICT (client_id, user_id) DO UPDATE SET last_seq = event_users.last_seq + 1
    RETURNING last_seq INTO n;
    INSERT INTO events (client_id, user_id, seq, type, job_id, at, data)
    VALUES (p_client, p_user, n, p_type, p_job, p_at, p_data);
    IF n % 64 = 0 THEN
        DELETE FROM events
         WHERE client_id = p_client AND user_id = p_user AND seq <= n - p_keep;
    END IF;
    RETURN n;
END
$$ LANGUAGE plpgsql;
