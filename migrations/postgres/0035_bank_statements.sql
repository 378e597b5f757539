-- The bank statement (issue 18): a treasurer imports the coalition's statement (CSV in a
-- bank's layout, or OFX/QFX); each line is matched to what it is in the books (a donation,
-- a payout line paid or bounced), recorded as what it is (a fee, interest, a gift nobody
-- recorded, a bounce: a ledger transfer), or left unmatched. A line is never added twice:
-- the same OFX FITID, or the same date, amount and running balance (`seen_key`), from any
-- format. Dates are ISO text (`2026-11-30`), amounts signed cents (deposits positive).
-- A fee needs a second treasurer: the first proposes it (`proposed_by`), another confirms.
-- A reconciliation, once made, is frozen: its figures are kept as they were.
CREATE TABLE bank_statements (
    id TEXT PRIMARY KEY,
    format TEXT NOT NULL CHECK (format IN ('csv', 'ofx')),
    layout TEXT,
    file_hash TEXT NOT NULL,
    lines BIGINT NOT NULL CHECK (lines >= 0),
    first_on TEXT,
    last_on TEXT,
    imported_by TEXT NOT NULL REFERENCES users (id),
    imported_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE bank_lines (
    id TEXT PRIMARY KEY,
    statement_id TEXT NOT NULL REFERENCES bank_statements (id),
    seq BIGINT NOT NULL UNIQUE,
    posted_on TEXT NOT NULL,
    description TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount <> 0),
    balance BIGINT,
    fitid TEXT,
    seen_key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('unmatched', 'matched', 'recorded', 'proposed')),
    match_kind TEXT CHECK (match_kind IS NULL OR match_kind IN ('donation', 'payout_line', 'payout_bounce')),
    match_id TEXT,
    recorded_kind TEXT CHECK (recorded_kind IS NULL OR recorded_kind IN ('fee', 'interest', 'donation', 'bounce')),
    transfer_id TEXT REFERENCES transfers (id),
    proposed_by TEXT REFERENCES users (id),
    decided_by TEXT REFERENCES users (id),
    decided_at TIMESTAMPTZ,
    CHECK ((match_kind IS NULL) = (match_id IS NULL))
);

CREATE UNIQUE INDEX bank_lines_fitid ON bank_lines (fitid) WHERE fitid IS NOT NULL;
CREATE UNIQUE INDEX bank_lines_one_match ON bank_lines (match_kind, match_id) WHERE match_id IS NOT NULL;
CREATE INDEX bank_lines_statement ON bank_lines (statement_id, seq);
CREATE INDEX bank_lines_posted ON bank_lines (posted_on, seq);

CREATE TABLE bank_reconciliations (
    id TEXT PRIMARY KEY,
    as_of TEXT NOT NULL UNIQUE,
    statement_balance BIGINT NOT NULL,
    book_balance BIGINT NOT NULL,
    outstanding BIGINT NOT NULL,
    unexplained BIGINT NOT NULL CHECK (unexplained = 0),
    detail TEXT NOT NULL,
    reconciled_by TEXT NOT NULL REFERENCES users (id),
    reconciled_at TIMESTAMPTZ NOT NULL
);
