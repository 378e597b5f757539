-- How money reaches the organisations (issue 18). Each organisation has a payment mode:
-- `reimbursement` (it pays, the fund owes it), `advance` (the fund keeps `advance_level`
-- cents at it; receipts draw the advance down) or `fund_pays` (a treasurer paid the
-- vendor: receipts make the fund owe `default_vendor_id`), and how it is paid (`method`,
-- `payee_details`). An organisation without a row is paid by reimbursement, by e-transfer.
-- Vendors are the accounts the treasurers keep ("VIA Rail account", "the fund's Visa").
-- A receipt records who paid (`paid_by`: org, advance, vendor and `paid_by_vendor_id`).
-- What the fund owes is in the ledger (liabilities:owed:..., assets:advances:...), never
-- here.
CREATE TABLE vendors (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    method TEXT NOT NULL DEFAULT 'etransfer'
        CHECK (method IN ('etransfer', 'eft', 'cheque', 'card', 'cash')),
    payee_details TEXT,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE org_payment (
    org_id TEXT PRIMARY KEY REFERENCES orgs (id),
    mode TEXT NOT NULL DEFAULT 'reimbursement'
        CHECK (mode IN ('reimbursement', 'advance', 'fund_pays')),
    advance_level BIGINT CHECK (advance_level IS NULL OR advance_level > 0),
    default_vendor_id TEXT REFERENCES vendors (id),
    method TEXT NOT NULL DEFAULT 'etransfer'
        CHECK (method IN ('etransfer', 'eft', 'cheque', 'card', 'cash')),
    payee_details TEXT,
    updated_at TIMESTAMPTZ NOT NULL,
    CHECK (mode <> 'advance' OR advance_level IS NOT NULL),
    CHECK (mode <> 'fund_pays' OR default_vendor_id IS NOT NULL)
);

ALTER TABLE requests ADD COLUMN paid_by TEXT
    CHECK (paid_by IS NULL OR paid_by IN ('org', 'advance', 'vendor'));
ALTER TABLE requests ADD COLUMN paid_by_vendor_id TEXT REFERENCES vendors (id);
