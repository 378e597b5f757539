-- Purge means gone. A stored first answer to an Idempotency-Key repeats what the request
-- said (its note among it): it names its request, so the purge can rewrite the answers
-- of the requests it purges without reading the whole table.
ALTER TABLE idempotency ADD COLUMN request_id TEXT;
UPDATE idempotency SET request_id = response::jsonb ->> 'id'
WHERE route LIKE 'POST /api/v1/requests%' AND jsonb_typeof(response::jsonb) = 'object';
CREATE INDEX idempotency_by_request ON idempotency (request_id) WHERE request_id IS NOT NULL;

-- ANALYZE keeps samples of a column's values (most common values, histogram bounds) in
-- pg_statistic, where no purge reaches them: free text is never sampled.
ALTER TABLE requests ALTER COLUMN note SET STATISTICS 0;
ALTER TABLE requests ALTER COLUMN origin_city SET STATISTICS 0;
ALTER TABLE requests ALTER COLUMN destination_city SET STATISTICS 0;
ALTER TABLE requests ALTER COLUMN vendor SET STATISTICS 0;
ALTER TABLE requests ALTER COLUMN receipt_reference SET STATISTICS 0;
ALTER TABLE requests ALTER COLUMN decision_reason SET STATISTICS 0;
ALTER TABLE idempotency ALTER COLUMN response SET STATISTICS 0;
ALTER TABLE outbox ALTER COLUMN body_text SET STATISTICS 0;
ALTER TABLE outbox ALTER COLUMN body_html SET STATISTICS 0;
