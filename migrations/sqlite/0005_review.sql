-- The next-day review of automatic approvals: a treasurer marks each reviewed or flags
-- it. Review never blocks the money.
ALTER TABLE requests ADD COLUMN reviewed_at TIMESTAMPTZ;
ALTER TABLE requests ADD COLUMN reviewed_by TEXT REFERENCES users (id);
ALTER TABLE requests ADD COLUMN flagged BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX requests_awaiting_review ON requests (automatic, reviewed_at);
