-- Payout batches (issue 18): one treasurer prepares a batch of what the fund owes, to
-- replenish and to advance; another releases it; it is paid whole or line by line. A line
-- claims the ledger account it settles (`claim`) while it is open, so no other batch can
-- take the same money (the partial unique index). Paying a line, and a bounce reversing
-- it, are ledger transfers (`paid_transfer_id`, `bounce_transfer_id`).
CREATE TABLE payouts (
    id TEXT PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('prepared', 'released', 'paid', 'cancelled')),
    up_to TIMESTAMPTZ,
    total BIGINT NOT NULL CHECK (total >= 0),
    prepared_by TEXT NOT NULL REFERENCES users (id),
    prepared_at TIMESTAMPTZ NOT NULL,
    released_by TEXT REFERENCES users (id),
    released_at TIMESTAMPTZ,
    closed_at TIMESTAMPTZ
);

CREATE TABLE payout_lines (
    id TEXT PRIMARY KEY,
    payout_id TEXT NOT NULL REFERENCES payouts (id),
    payee_kind TEXT NOT NULL CHECK (payee_kind IN ('org', 'vendor')),
    payee_id TEXT NOT NULL,
    purpose TEXT NOT NULL
        CHECK (purpose IN ('reimbursement', 'replenishment', 'advance', 'vendor')),
    claim TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    method TEXT NOT NULL CHECK (method IN ('etransfer', 'eft', 'cheque', 'card', 'cash')),
    status TEXT NOT NULL CHECK (status IN ('open', 'paid', 'bounced', 'cancelled')),
    bank_reference TEXT,
    paid_transfer_id TEXT REFERENCES transfers (id),
    paid_at TIMESTAMPTZ,
    bounce_transfer_id TEXT REFERENCES transfers (id),
    bounced_at TIMESTAMPTZ
);

CREATE INDEX payout_lines_payout ON payout_lines (payout_id);
CREATE UNIQUE INDEX payout_lines_one_open_claim ON payout_lines (claim) WHERE status = 'open';
