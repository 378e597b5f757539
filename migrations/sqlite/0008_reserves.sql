-- Operation reserves: a block a treasurer pre-authorises for one organisation (a planned
-- operation, a group of people freed at once). That organisation's requests draw on it with
-- automatic approval until it is spent or expires; then what is left is available again.
CREATE TABLE reserves (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    drawn BIGINT NOT NULL DEFAULT 0 CHECK (drawn >= 0),
    expires_at TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL,
    CHECK (drawn <= amount)
);
CREATE INDEX reserves_by_org ON reserves (org_id, expires_at);
ALTER TABLE requests ADD COLUMN reserve_id TEXT REFERENCES reserves (id);
