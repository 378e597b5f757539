-- Late receipts and the hold reminder (issue 17). A receipt entered after its hold expired
-- waits for a treasurer (`receipt_pending`): who entered it and when, so the queue marks it
-- late and its enterer cannot also approve it. Approved, it is paid by a hold of its own
-- posted at once: `hold_id` then names that hold and `expired_hold_id` the one that
-- expired, so every hold still belongs to its request. `hold_reminded_at` claims the one
-- reminder sent 12 hours before a hold expires, in the transaction that writes its mail.
ALTER TABLE requests ADD COLUMN late_receipt_at TIMESTAMPTZ;
ALTER TABLE requests ADD COLUMN late_receipt_by TEXT REFERENCES users (id);
ALTER TABLE requests ADD COLUMN late_declined_at TIMESTAMPTZ;
ALTER TABLE requests ADD COLUMN expired_hold_id TEXT REFERENCES transfers (id);
ALTER TABLE requests ADD COLUMN hold_reminded_at TIMESTAMPTZ;
