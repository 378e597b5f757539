-- Column mappings saved per bank (issue 18): a treasurer whose bank's CSV export no preset
-- reads (generic, rbc, td, desjardins) saves which column holds the date, the
-- description, the withdrawal and the deposit (or one signed amount) and the balance,
-- counted from 1; whether the file begins with a header row; and how it writes dates.
-- A statement is then imported with `layout=<name>`. Names are unique whatever their case
-- (`name_key` is the lowercased name) and never a preset's. Saving and deleting are
-- audited (bank.layout_saved, bank.layout_deleted); a statement keeps the layout's name.
CREATE TABLE bank_layouts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    header BOOLEAN NOT NULL,
    date_column BIGINT NOT NULL CHECK (date_column BETWEEN 1 AND 50),
    description_column BIGINT NOT NULL CHECK (description_column BETWEEN 1 AND 50),
    withdrawal_column BIGINT CHECK (withdrawal_column BETWEEN 1 AND 50),
    deposit_column BIGINT CHECK (deposit_column BETWEEN 1 AND 50),
    amount_column BIGINT CHECK (amount_column BETWEEN 1 AND 50),
    balance_column BIGINT CHECK (balance_column BETWEEN 1 AND 50),
    date_order TEXT NOT NULL CHECK (date_order IN ('ymd', 'mdy', 'dmy')),
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL,
    CHECK ((amount_column IS NULL AND withdrawal_column IS NOT NULL AND deposit_column IS NOT NULL)
        OR (amount_column IS NOT NULL AND withdrawal_column IS NULL AND deposit_column IS NULL))
);
