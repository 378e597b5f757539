-- Paging by cursor (src/domain/page.rs): each list is read in a stable order, newest first
-- (`(rank, at, id)`), from just after the last row of the page before. These indexes
-- serve those orders, so a page costs the same on the first day and after ten years.

-- Requests: urgent first, then newest first (GET /api/v1/requests); the treasurers'
-- queue: pending, urgent first, then oldest first; one organisation's requests.
CREATE INDEX requests_page ON requests ((CASE WHEN urgent THEN 1 ELSE 0 END), created_at, id);
CREATE INDEX requests_queue_page
    ON requests (status, (CASE WHEN urgent THEN 0 ELSE 1 END), created_at, id);
CREATE INDEX requests_org_page ON requests (org_id, created_at, id);
-- The next-day review (oldest first) and the flags (newest flag first).
CREATE INDEX requests_review_page ON requests (created_at, id)
    WHERE automatic AND reviewed_at IS NULL;
CREATE INDEX requests_flagged_page ON requests (reviewed_at, id) WHERE flagged;

-- Cases, newest opened first; one organisation's.
CREATE INDEX cases_page ON cases (opened_at, code);
CREATE INDEX cases_org_page ON cases (org_id, opened_at, code);

-- The other collections, newest first.
CREATE INDEX orgs_page ON orgs (created_at, id);
CREATE INDEX users_page ON users (created_at, id);
CREATE INDEX users_org_page ON users (org_id, created_at, id);
CREATE INDEX payouts_page ON payouts (prepared_at, id);
CREATE INDEX reports_page ON reports (created_at, id);
CREATE INDEX bank_statements_page ON bank_statements (imported_at, id);
