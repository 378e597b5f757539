-- A late receipt's own approvals (issue 17). Paying a late receipt takes a treasurer, two
-- distinct ones above dual_approval_above, as approving a request does; its approvals are
-- kept apart from the request's, so a treasurer who approved the request may approve its
-- late receipt too, and neither counts for the other.
CREATE TABLE late_receipt_approvals (
    request_id TEXT NOT NULL REFERENCES requests (id),
    treasurer_id TEXT NOT NULL REFERENCES users (id),
    approved_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (request_id, treasurer_id)
);

-- The approvals that count for a request now: its late receipt's while one waits
-- (receipt_pending), its own otherwise. The lifecycle and the pages count and list
-- approvals from here only. (A later migration that makes `requests` again on SQLite
-- makes this view again after it.)
CREATE VIEW approvals_now AS
    SELECT a.request_id, a.treasurer_id, a.approved_at
    FROM request_approvals a JOIN requests r ON r.id = a.request_id
    WHERE r.status <> 'receipt_pending'
    UNION ALL
    SELECT a.request_id, a.treasurer_id, a.approved_at
    FROM late_receipt_approvals a JOIN requests r ON r.id = a.request_id
    WHERE r.status = 'receipt_pending';
