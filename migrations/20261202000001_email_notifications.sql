-- E-mail on job end. A job submitted with `notify: {email}` keeps the
-- address and the queue that carries notify.email at submission time. When
-- its status first becomes final, a trigger inserts its notify.email job in
-- the same transaction (a deterministic id, so at most one per job, whatever
-- path ended it: a worker, a cancel, the reconciler); the outbox relay
-- queues it.
ALTER TABLE jobs ADD COLUMN notify_email text, ADD COLUMN notify_queue text;

CREATE FUNCTION jobs_notify_on_end() RETURNS trigger AS $$
BEGIN
    IF NEW.status IN ('complete', 'error', 'dead')
       AND OLD.status NOT IN ('complete', 'error', 'dead')
       AND NEW.notify_email IS NOT NULL AND NEW.notify_queue IS NOT NULL THEN
        INSERT INTO jobs (id, kind, contract_version, queue, client_id, user_id,
                          priority, request_hash, input)
        VALUES (md5(NEW.id::text || ':notify.email')::uuid, 'notify.email', 1,
                NEW.notify_queue, NEW.client_id, NEW.user_id, 5,
                'notify:' || NEW.id::text,
                jsonb_build_object('to', NEW.notify_email, 'about_job_id', NEW.id))
        ON CONFLICT (id) DO NOTHING;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER jobs_notify_on_end AFTER UPDATE OF status ON jobs
    FOR EACH ROW EXECUTE FUNCTION jobs_notify_on_end();

-- One row per notify.email job: written before the SMTP send ('sending') and
-- after it ('sent'), so a re-run never sends a message the relay accepted.
CREATE TABLE email_deliveries (
    job_id        uuid        PRIMARY KEY,
    about_job_id  uuid        NOT NULL,
    recipient     text        NOT NULL,
    message_id    text        NOT NULL,
    state         text        NOT NULL CHECK (state IN ('sending', 'sent')),
    tries         integer     NOT NULL DEFAULT 1,
    reply         text,
    started_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz
);
