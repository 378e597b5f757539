-- Two new request statuses (DESIGN, "Request lifecycle"): `info_requested` (a treasurer
-- asked the caseworker a question) and `receipt_pending` (a receipt came after the hold
-- expired and waits for a treasurer). The same rule as migrations/sqlite/0023, which has
-- to make the table again.
ALTER TABLE requests DROP CONSTRAINT requests_status_check;
ALTER TABLE requests ADD CONSTRAINT requests_status_check CHECK (status IN ('pending',
    'approved', 'declined', 'settled', 'cancelled', 'expired', 'info_requested',
    'receipt_pending'));
