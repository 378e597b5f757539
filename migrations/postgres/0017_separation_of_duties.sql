-- Separation of duties (DESIGN.md): a policy version is proposed by one treasurer and
-- takes force when a second, distinct treasurer co-signs it (or at once when applied from
-- the server's shell). The version in force is the one that took force last.
ALTER TABLE policies ADD COLUMN in_force_at TIMESTAMPTZ;
ALTER TABLE policies ADD COLUMN cosigned_by TEXT;
ALTER TABLE policies ADD COLUMN cosigned_at TIMESTAMPTZ;
-- Every version stored before this change took force when it was saved.
UPDATE policies SET in_force_at = created_at;
CREATE INDEX policies_in_force ON policies (in_force_at, version);

-- Whether whoever made a request held the treasurer role when they made it: its automatic
-- approval is then marked on the review list.
ALTER TABLE requests ADD COLUMN requested_by_treasurer BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE requests SET requested_by_treasurer = TRUE
 WHERE requested_by IN (SELECT id FROM users WHERE (',' || roles || ',') LIKE '%,treasurer,%');
