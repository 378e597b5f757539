-- The DESIGN defaults are version 1 of the policy from the start, stored here rather than
-- by the first read of the policy, which made that read a write: pages and GET routes now
-- read in read-only transactions. The document is canonical_json(Policy::default()) as it
-- stood when this was written; the version is by 'system' and in force since 1970-01-01,
-- before any version a treasurer or the server's shell puts in force, whatever its clock.
--
-- A database that already has a policy (stored on a first read before this migration)
-- keeps it as it is: nothing is added.
INSERT INTO policies (version, document, created_by, created_at, in_force_at)
SELECT 1, '{"auto_approve":{"bus":{"max_amount":"250.00"},"food":{"max_amount":"150.00"},"hotel":{"max_nightly_rate":"225.00","max_nights":3},"local_transport":{"max_amount":"75.00"},"phone_card":{"max_amount":"50.00"},"train":{"max_amount":"350.00"}},"case_auto_cap":{"amount":"1000.00","days":7},"dual_approval_above":"1000.00","escalate_after_minutes":20,"hold_hours":72,"report_cadence":"month","reserve_floor":"1000.00"}', 'system', '1970-01-01T00:00:00+00:00', '1970-01-01T00:00:00+00:00'
WHERE NOT EXISTS (SELECT 1 FROM policies);

-- Its audit event, as versions::apply would have appended it: the first of the chain, so
-- its hash (passage-audit-v1 over seq 1, the time above, 'system', 'policy.apply',
-- 'policy:1', the document and the genesis hash) is known here; tests/reads.rs checks it
-- with `audit::verify`. The head takes the hash by trigger (0012_audit_head_follows).
-- A database that had events but no policy gets the version without an event: the hash
-- of an event after others cannot be computed in SQLite's SQL.
INSERT INTO audit_events (seq, at, actor, action, subject, content, prev_hash, hash)
SELECT 1, '1970-01-01T00:00:00+00:00', 'system', 'policy.apply', 'policy:1', document,
       '0000000000000000000000000000000000000000000000000000000000000000',
       '51586d1a2301187bcdb052a68110caa20d5263b779a2dec0429476002dc06cad'
FROM policies
WHERE version = 1 AND created_by = 'system' AND in_force_at = '1970-01-01T00:00:00+00:00'
  AND NOT EXISTS (SELECT 1 FROM audit_events)
  AND (SELECT seq FROM audit_head WHERE id = 1) = 0;
UPDATE audit_head SET seq = 1
WHERE id = 1 AND seq = 0 AND EXISTS (SELECT 1 FROM audit_events WHERE seq = 1);
