-- Purge means gone. A stored first answer to an Idempotency-Key repeats what the request
-- said (its note among it): it names its request, so the purge can rewrite the answers
-- of the requests it purges without reading the whole table.
ALTER TABLE idempotency ADD COLUMN request_id TEXT;
UPDATE idempotency SET request_id = json_extract(response, '$.id')
WHERE route LIKE 'POST /api/v1/requests%' AND json_valid(response)
  AND json_type(response) = 'object';
CREATE INDEX idempotency_by_request ON idempotency (request_id) WHERE request_id IS NOT NULL;
