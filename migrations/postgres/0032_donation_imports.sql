-- Donations from a file (POST /api/v1/donations/import): each imported file's SHA-256,
-- so the same file adds nothing twice, and each imported line's reference, so the same
-- gift in another file adds nothing either. A reference is the fund's own receipt number
-- (checked like a receipt's: never a card or document number), never a person's data.

CREATE TABLE donation_imports (
    id TEXT PRIMARY KEY,
    file_hash TEXT NOT NULL UNIQUE,
    recorded BIGINT NOT NULL DEFAULT 0 CHECK (recorded >= 0),
    skipped BIGINT NOT NULL DEFAULT 0 CHECK (skipped >= 0),
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE donation_import_lines (
    reference TEXT PRIMARY KEY,
    import_id TEXT NOT NULL REFERENCES donation_imports (id),
    line BIGINT NOT NULL CHECK (line > 1),
    donation_id TEXT REFERENCES donations (id)
);
