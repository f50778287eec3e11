-- Which transaction wrote each embedding (a re-run writes it again), so a
-- search index loads every row committed since its last look whatever
-- order the transactions committed in: `seq` is taken at insert, and two
-- workers can commit out of its order.
ALTER TABLE embeddings ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX embeddings_written ON embeddings (client_id, modality, tx, seq);
