-- The same-night path: cases, donors and donations, policy versions, requests and their
-- approvals, and idempotency records. The same SQL on both engines.
-- Nothing here can hold a name, birth date, phone, address, nationality or immigration
-- status of a person helped: a case is a random code, its organisation and its province.

CREATE TABLE cases (
    code TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    province TEXT NOT NULL CHECK (province IN ('AB', 'BC', 'MB', 'NB', 'NL', 'NS', 'NT',
        'NU', 'ON', 'PE', 'QC', 'SK', 'YT')),
    status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    opened_at TIMESTAMPTZ NOT NULL,
    closed_at TIMESTAMPTZ
);
CREATE INDEX cases_by_org ON cases (org_id);

-- An interprovincial hand-off: the receiving organisation sees the case too.
CREATE TABLE case_shares (
    case_code TEXT NOT NULL REFERENCES cases (code),
    org_id TEXT NOT NULL REFERENCES orgs (id),
    shared_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (case_code, org_id)
);

CREATE TABLE donors (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    language TEXT NOT NULL CHECK (language IN ('fr', 'en')),
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE donations (
    id TEXT PRIMARY KEY,
    donor_id TEXT NOT NULL REFERENCES donors (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    received_on TEXT NOT NULL,
    -- in_kind: a donated seat or hotel night, at an estimated value; it moves no cash.
    kind TEXT NOT NULL CHECK (kind IN ('cash', 'in_kind')),
    description TEXT,
    transfer_id TEXT REFERENCES transfers (id),
    created_at TIMESTAMPTZ NOT NULL,
    CHECK ((kind = 'cash') = (transfer_id IS NOT NULL))
);

-- Every version of the approval rules, kept and readable.
CREATE TABLE policies (
    version BIGINT PRIMARY KEY CHECK (version > 0),
    document TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

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
        'cancelled', 'expired')),
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
    CHECK (spent IS NULL OR spent <= amount)
);
CREATE INDEX requests_by_case ON requests (case_code);
CREATE INDEX requests_by_status ON requests (status);
CREATE UNIQUE INDEX requests_by_hold ON requests (hold_id) WHERE hold_id IS NOT NULL;

-- Treasurers' approvals; two distinct ones above dual_approval_above.
CREATE TABLE request_approvals (
    request_id TEXT NOT NULL REFERENCES requests (id),
    treasurer_id TEXT NOT NULL REFERENCES users (id),
    approved_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (request_id, treasurer_id)
);

-- The first answer to each Idempotency-Key, per user, written in the same transaction as
-- the change it answers.
CREATE TABLE idempotency (
    user_id TEXT NOT NULL,
    key TEXT NOT NULL,
    route TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    status BIGINT NOT NULL,
    response TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, key)
);
