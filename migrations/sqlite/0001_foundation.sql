-- The ledger: accounts and immutable transfers, after TigerBeetle's model.
-- Amounts are integer cents. The invariants below are kept by the code in src/ledger/
-- and enforced a second time here, so no bug or hand-written SQL can break them.

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    -- The fund: its debits (holds and spending) may never exceed what was given to it.
    debits_must_not_exceed_credits BOOLEAN NOT NULL DEFAULT FALSE,
    debits_pending BIGINT NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    debits_posted BIGINT NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_pending BIGINT NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
    credits_posted BIGINT NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    created_at TIMESTAMPTZ NOT NULL,
    CHECK (NOT debits_must_not_exceed_credits
           OR debits_pending + debits_posted <= credits_posted)
);

CREATE TABLE transfers (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('single', 'pending', 'post', 'void', 'expire')),
    debit_account_id TEXT NOT NULL REFERENCES accounts (id),
    credit_account_id TEXT NOT NULL REFERENCES accounts (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    pending_id TEXT REFERENCES transfers (id),
    expires_at TIMESTAMPTZ,
    code TEXT NOT NULL,
    reference TEXT,
    request_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CHECK (debit_account_id <> credit_account_id),
    CHECK ((kind IN ('post', 'void', 'expire')) = (pending_id IS NOT NULL))
);

-- A hold is resolved (posted, voided or expired) at most once.
CREATE UNIQUE INDEX transfers_resolve_a_hold_once ON transfers (pending_id)
    WHERE pending_id IS NOT NULL;
CREATE INDEX transfers_by_expiry ON transfers (expires_at) WHERE kind = 'pending';
CREATE INDEX transfers_by_debit ON transfers (debit_account_id);
CREATE INDEX transfers_by_credit ON transfers (credit_account_id);

CREATE TRIGGER transfers_refuse_update BEFORE UPDATE ON transfers
BEGIN
    SELECT RAISE(ABORT, 'transfers are immutable: record a correction as a new transfer');
END;
CREATE TRIGGER transfers_refuse_delete BEFORE DELETE ON transfers
BEGIN
    SELECT RAISE(ABORT, 'transfers are immutable: record a correction as a new transfer');
END;

-- A transfer id that was refused stays refused: a retry gets the first answer.
CREATE TABLE transfer_failures (
    id TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- The audit trail: a hash chain, appended in the same transaction as each change.
CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY CHECK (seq > 0),
    at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    content TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TRIGGER audit_events_refuse_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
CREATE TRIGGER audit_events_refuse_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;

-- The chain's head: its one row is the lock that gives events a gap-free order.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

INSERT INTO accounts (id, debits_must_not_exceed_credits, created_at) VALUES
    ('fund', TRUE, '1970-01-01T00:00:00+00:00'),
    ('donations', FALSE, '1970-01-01T00:00:00+00:00'),
    ('spent', FALSE, '1970-01-01T00:00:00+00:00');
