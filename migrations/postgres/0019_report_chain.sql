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

CREATE OR REPLACE FUNCTION passage_report_frozen() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.hash IS NOT NULL THEN
            RAISE EXCEPTION 'a sealed report never changes: make a correction that supersedes it';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.hash IS NOT NULL AND (
        NEW.summary IS DISTINCT FROM OLD.summary OR NEW.hash IS DISTINCT FROM OLD.hash
        OR NEW.cutoff IS DISTINCT FROM OLD.cutoff
        OR NEW.period_start IS DISTINCT FROM OLD.period_start
        OR NEW.period_end IS DISTINCT FROM OLD.period_end
        OR NEW.min_cell IS DISTINCT FROM OLD.min_cell
        OR NEW.audit_seq IS DISTINCT FROM OLD.audit_seq
        OR NEW.audit_hash IS DISTINCT FROM OLD.audit_hash
        OR NEW.sealed_by IS DISTINCT FROM OLD.sealed_by
        OR NEW.sealed_at IS DISTINCT FROM OLD.sealed_at
        OR NEW.supersedes IS DISTINCT FROM OLD.supersedes
        OR NEW.starts_after IS DISTINCT FROM OLD.starts_after
        OR NEW.ledger_digest IS DISTINCT FROM OLD.ledger_digest
        OR (OLD.cosigned_by IS NOT NULL AND NEW.cosigned_by IS DISTINCT FROM OLD.cosigned_by)
        OR NEW.status = 'draft') THEN
        RAISE EXCEPTION 'a sealed report never changes: make a correction that supersedes it';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
