-- A signing key can be retired: from that moment no token it signed opens anything, on
-- every instance (each checks this column on every request), and it signs nothing.
-- The key stays, so the audit trail's key ids keep naming something.
ALTER TABLE signing_keys ADD COLUMN retired_at TIMESTAMPTZ;
