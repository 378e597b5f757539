-- Donor links (to a report, to unsubscribe) are random tokens; only their SHA-256 is
-- stored, with the donor, what the link opens and until when. They do not depend on the
-- keys that sign staff sessions: rotating or retiring a key changes nothing here.
-- A withdrawn link stays (so its page can say why it no longer opens); withdrawn_by says
-- who withdrew it: a treasurer ('treasurer') or the donor's unsubscribing ('unsubscribed').
CREATE TABLE donor_links (
    token_hash TEXT PRIMARY KEY,
    donor_id TEXT NOT NULL REFERENCES donors (id),
    purpose TEXT NOT NULL CHECK (purpose IN ('report', 'unsubscribe')),
    report_id TEXT REFERENCES reports (id),
    created_at TIMESTAMPTZ NOT NULL,
    -- NULL: no expiry (an unsubscribe link).
    expires_at TIMESTAMPTZ,
    withdrawn_at TIMESTAMPTZ,
    withdrawn_by TEXT CHECK (withdrawn_by IN ('treasurer', 'unsubscribed')),
    -- A JWT link emailed by an earlier release, adopted from the outbox at start-up.
    legacy BOOLEAN NOT NULL DEFAULT FALSE,
    CHECK ((purpose = 'report') = (report_id IS NOT NULL)),
    CHECK ((withdrawn_at IS NULL) = (withdrawn_by IS NULL))
);

CREATE INDEX donor_links_by_donor ON donor_links (donor_id, purpose);
