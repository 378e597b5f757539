-- Reports form one chain in time (DESIGN "Reports form one chain"): a frozen report covers
-- from the cut-off of the frozen report before it to its own cut-off, and keeps a digest of
-- the ledger entries it covers, so it can be verified without recomputing its figures.
--
-- starts_after: the cut-off of the report before it in the chain (its window starts the
--   moment after); NULL for the first report, which covers from the fund's first event.
-- ledger_digest: SHA-256 of the canonical lines of what the report covers; NULL for a draft
--   and for a report frozen before this release (verified by recomputing it instead).
ALTER TABLE reports ADD COLUMN starts_after TIMESTAMPTZ;
ALTER TABLE reports ADD COLUMN ledger_digest TEXT;

-- The chain ends at the latest frozen cut-off.
CREATE INDEX reports_frozen_by_cutoff ON reports (cutoff) WHERE hash IS NOT NULL;

DROP TRIGGER reports_frozen_never_change;
CREATE TRIGGER reports_frozen_never_change BEFORE UPDATE ON reports
WHEN OLD.hash IS NOT NULL AND (
    NEW.summary IS NOT OLD.summary OR NEW.hash IS NOT OLD.hash
    OR NEW.cutoff IS NOT OLD.cutoff OR NEW.period_start IS NOT OLD.period_start
    OR NEW.period_end IS NOT OLD.period_end OR NEW.min_cell IS NOT OLD.min_cell
    OR NEW.audit_seq IS NOT OLD.audit_seq OR NEW.audit_hash IS NOT OLD.audit_hash
    OR NEW.sealed_by IS NOT OLD.sealed_by OR NEW.sealed_at IS NOT OLD.sealed_at
    OR NEW.supersedes IS NOT OLD.supersedes
    OR NEW.starts_after IS NOT OLD.starts_after OR NEW.ledger_digest IS NOT OLD.ledger_digest
    OR (OLD.cosigned_by IS NOT NULL AND NEW.cosigned_by IS NOT OLD.cosigned_by)
    OR NEW.status = 'draft')
BEGIN
    SELECT RAISE(ABORT, 'a sealed report never changes: make a correction that supersedes it');
END;
