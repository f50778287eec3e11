-- Avatars built by avatar.build: one row per avatar (its status, the body
-- model's parameters, the GLB files and their figures), its measurements
-- (metric; the unit the user asked for is converted at the edge) and the
-- photos it was measured from. A re-run of the same avatar replaces its
-- measurements and photos.
CREATE TABLE avatars (
    id          uuid        PRIMARY KEY,
    client_id   text        NOT NULL,
    user_id     text        NOT NULL,
    job_id      uuid        NOT NULL REFERENCES jobs (id),
    status      text        NOT NULL CHECK (status IN ('processing', 'ready', 'error')),
    height_cm   real        NOT NULL,
    sex         text        NOT NULL,
    unit        text        NOT NULL,
    confidence  real,
    body        jsonb,
    models      jsonb,
    error_code  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX avatars_owner ON avatars (client_id, user_id);

CREATE TABLE avatar_measurements (
    avatar_id      uuid NOT NULL REFERENCES avatars (id) ON DELETE CASCADE,
    name           text NOT NULL,
    value_cm       real NOT NULL,
    uncertainty_cm real NOT NULL,
    PRIMARY KEY (avatar_id, name)
);

CREATE TABLE avatar_photos (
    avatar_id uuid    NOT NULL REFERENCES avatars (id) ON DELETE CASCADE,
    view      text    NOT NULL CHECK (view IN ('front', 'side')),
    upload_id uuid    NOT NULL REFERENCES uploads (id),
    sha256    text    NOT NULL,
    width     integer NOT NULL,
    height    integer NOT NULL,
    PRIMARY KEY (avatar_id, view)
);
