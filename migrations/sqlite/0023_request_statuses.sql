-- Two new request statuses (DESIGN, "Request lifecycle"): `info_requested` (a treasurer
-- asked the caseworker a question) and `receipt_pending` (a receipt came after the hold
-- expired and waits for a treasurer). The same rule as migrations/postgres/0023.
--
-- SQLite cannot change a column's CHECK, so `requests` is made again with the wider one,
-- the way 0021 made `users` again: foreign keys are deferred (they cannot be turned off
-- inside the migration's transaction); dropping `requests` counts one violation per row
-- that points at a request, putting each request back under the same id counts it off,
-- so the commit finds none (and would fail if a request were lost). Its indexes and
-- triggers go with the table and are made again after the rows are back, so the
-- case_days triggers do not count the copied rows twice.
PRAGMA defer_foreign_keys = ON;

CREATE TABLE requests_before AS SELECT * FROM requests;
DROP TABLE requests;
CREATE TABLE requests (
    id TEXT PRIMARY KEY,
    case_code TEXT NOT NULL REFERENCES cases (code),
    org_id TEXT NOT NULL REFERENCES orgs (id),
    requested_by TEXT NOT NULL REFERENCES users (id),
    category TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    needed_by TEXT NOT NULL,
    urgent BOOLEAN NOT NULL,
    -- Purged once the request is closed and the retention period has passed.
    note TEXT,
    origin_city TEXT,
    origin_province TEXT,
    origin_country TEXT,
    destination_city TEXT,
    destination_province TEXT,
    destination_country TEXT,
    travel_date TEXT,
    reason TEXT,
    scope TEXT,
    nights BIGINT,
    nightly_rate BIGINT,
    party_size BIGINT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'declined', 'settled',
        'cancelled', 'expired', 'info_requested', 'receipt_pending')),
    rule TEXT NOT NULL,
    decision_reason TEXT,
    policy_version BIGINT NOT NULL REFERENCES policies (version),
    automatic BOOLEAN NOT NULL,
    hold_id TEXT REFERENCES transfers (id),
    settlement_id TEXT REFERENCES transfers (id),
    spent BIGINT CHECK (spent IS NULL OR spent > 0),
    vendor TEXT,
    receipt_reference TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    decided_at TIMESTAMPTZ,
    closed_at TIMESTAMPTZ,
    reviewed_at TIMESTAMPTZ,
    reviewed_by TEXT REFERENCES users (id),
    flagged BOOLEAN NOT NULL DEFAULT FALSE,
    escalated_at TIMESTAMPTZ,
    paid_on TEXT,
    attested BOOLEAN NOT NULL DEFAULT FALSE,
    original_currency TEXT,
    original_amount TEXT,
    reserve_id TEXT REFERENCES reserves (id),
    requested_by_treasurer BOOLEAN NOT NULL DEFAULT FALSE,
    CHECK (spent IS NULL OR spent <= amount)
);
INSERT INTO requests SELECT * FROM requests_before;
DROP TABLE requests_before;

CREATE INDEX requests_by_status ON requests (status);
CREATE UNIQUE INDEX requests_by_hold ON requests (hold_id) WHERE hold_id IS NOT NULL;
CREATE INDEX requests_awaiting_review ON requests (automatic, reviewed_at);
CREATE INDEX requests_case_window ON requests (case_code, decided_at, status, amount, spent);
CREATE TRIGGER case_days_on_insert AFTER INSERT ON requests
WHEN NEW.status IN ('approved', 'settled') AND NEW.decided_at IS NOT NULL
BEGIN
    INSERT INTO case_days (case_code, day, cents)
    VALUES (NEW.case_code, substr(NEW.decided_at, 1, 10), COALESCE(NEW.spent, NEW.amount))
    ON CONFLICT (case_code, day) DO UPDATE SET cents = cents + excluded.cents;
END;
CREATE TRIGGER case_days_on_update
AFTER UPDATE OF case_code, status, amount, spent, decided_at ON requests
BEGIN
    UPDATE case_days SET cents = cents - COALESCE(OLD.spent, OLD.amount)
    WHERE OLD.status IN ('approved', 'settled') AND OLD.decided_at IS NOT NULL
      AND case_code = OLD.case_code AND day = substr(OLD.decided_at, 1, 10);
    INSERT INTO case_days (case_code, day, cents)
    SELECT NEW.case_code, substr(NEW.decided_at, 1, 10), COALESCE(NEW.spent, NEW.amount)
    WHERE NEW.status IN ('approved', 'settled') AND NEW.decided_at IS NOT NULL
    ON CONFLICT (case_code, day) DO UPDATE SET cents = cents + excluded.cents;
END;
CREATE TRIGGER case_days_on_delete AFTER DELETE ON requests
WHEN OLD.status IN ('approved', 'settled') AND OLD.decided_at IS NOT NULL
BEGIN
    UPDATE case_days SET cents = cents - COALESCE(OLD.spent, OLD.amount)
    WHERE case_code = OLD.case_code AND day = substr(OLD.decided_at, 1, 10);
END;
