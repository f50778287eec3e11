-- Each queue's state over time (issue 20: charts of the last 24 hours that
-- survive restarts), written by one intake replica every
-- `intake.history_interval` and kept `intake.history_retention`.
CREATE TABLE queue_history (
    queue           text        NOT NULL,
    at              timestamptz NOT NULL,
    depth           bigint      NOT NULL,
    in_flight       bigint      NOT NULL,
    dead            bigint      NOT NULL,
    -- Flow nodes of the queue's kinds waiting on their dependencies.
    waiting         bigint      NOT NULL,
    oldest_age_ms   bigint,
    -- The queue's counters as Redis had them (they restart from zero when
    -- Redis loses its data; rates are taken between samples).
    completed_total bigint      NOT NULL,
    failed_total    bigint      NOT NULL,
    live_workers    bigint      NOT NULL,
    service_time_ms double precision,
    PRIMARY KEY (queue, at)
);
CREATE INDEX queue_history_at ON queue_history (at);
