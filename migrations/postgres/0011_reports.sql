-- Donor reports: a period's summary computed from the ledger, frozen and hashed by a
-- treasurer, co-signed by a second one, then emailed to donors through the outbox.
-- Once frozen (hash set) a report never changes: the trigger below refuses it whatever
-- the code does; a correction is a new report that names the one it supersedes.

CREATE TABLE reports (
    id TEXT PRIMARY KEY,
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    -- Events up to and including this moment are in the report.
    cutoff TIMESTAMPTZ NOT NULL,
    schedule TEXT NOT NULL CHECK (schedule IN ('manual', 'monthly', 'quarterly')),
    -- draft: figures computed on demand; awaiting_cosign: frozen by a first treasurer;
    -- sealed: co-signed by a second, distinct treasurer, and may be sent.
    status TEXT NOT NULL CHECK (status IN ('draft', 'awaiting_cosign', 'sealed')),
    min_cell BIGINT NOT NULL CHECK (min_cell >= 3),
    supersedes TEXT REFERENCES reports (id),
    superseded_by TEXT REFERENCES reports (id),
    summary TEXT,
    hash TEXT,
    audit_seq BIGINT,
    audit_hash TEXT,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    sealed_by TEXT REFERENCES users (id),
    sealed_at TIMESTAMPTZ,
    cosigned_by TEXT REFERENCES users (id),
    cosigned_at TIMESTAMPTZ,
    send_requested_at TIMESTAMPTZ,
    reminded_at TIMESTAMPTZ,
    CHECK (period_start <= period_end),
    CHECK ((status = 'draft') = (hash IS NULL)),
    CHECK ((hash IS NULL) = (summary IS NULL) AND (hash IS NULL) = (sealed_by IS NULL)),
    CHECK ((status = 'sealed') = (cosigned_by IS NOT NULL)),
    CHECK (cosigned_by IS NULL OR cosigned_by <> sealed_by)
);
-- The sweeper drafts each month and quarter once, whatever the number of instances.
CREATE UNIQUE INDEX reports_scheduled_once ON reports (schedule, period_start)
    WHERE schedule <> 'manual';
CREATE UNIQUE INDEX reports_superseded_once ON reports (supersedes)
    WHERE supersedes IS NOT NULL;

CREATE FUNCTION passage_report_frozen() RETURNS trigger AS $$
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
        OR (OLD.cosigned_by IS NOT NULL AND NEW.cosigned_by IS DISTINCT FROM OLD.cosigned_by)
        OR NEW.status = 'draft') THEN
        RAISE EXCEPTION 'a sealed report never changes: make a correction that supersedes it';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER reports_frozen BEFORE UPDATE OR DELETE ON reports
    FOR EACH ROW EXECUTE FUNCTION passage_report_frozen();

-- One row whose lock orders sealings, so each report is compared with every report
-- frozen before it (suppression against the previous reports).
CREATE TABLE report_seal_lock (
    id INTEGER PRIMARY KEY CHECK (id = 1)
);
INSERT INTO report_seal_lock (id) VALUES (1);

-- One email per report and donor: the row and its outbox mail are written in the same
-- transaction, so sending twice (or after a crash) never mails a donor twice.
CREATE TABLE report_sends (
    report_id TEXT NOT NULL REFERENCES reports (id),
    donor_id TEXT NOT NULL REFERENCES donors (id),
    dedupe_key TEXT NOT NULL,
    queued_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (report_id, donor_id)
);

ALTER TABLE donors ADD COLUMN unsubscribed_at TIMESTAMPTZ;

-- Extra headers of a mail (List-Unsubscribe and List-Unsubscribe-Post), as a JSON list of
-- [name, value] pairs.
ALTER TABLE outbox ADD COLUMN headers TEXT;
