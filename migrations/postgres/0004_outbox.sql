-- The mail outbox. A row is written in the same transaction as the change it tells
-- about, so a mail exists if and only if that change committed; the delivery worker
-- (src/mail/worker.rs) sends it later, retrying with back-off, and never deletes it.

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    -- What the mail is about, chosen by the caller (e.g. `request:ID:pending:on-call`):
    -- the same key twice is the same mail, kept once.
    dedupe_key TEXT NOT NULL UNIQUE,
    -- Fixed at enqueue time and sent with every attempt, so a receiver can drop a copy.
    message_id TEXT NOT NULL UNIQUE,
    to_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    -- A deliverer that claimed the row owns it until then (a lease, not a lock held
    -- across the SMTP conversation); claim_token says which deliverer.
    claimed_until TIMESTAMPTZ,
    claim_token TEXT,
    attempts BIGINT NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error TEXT,
    sent_at TIMESTAMPTZ
);

CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL;
