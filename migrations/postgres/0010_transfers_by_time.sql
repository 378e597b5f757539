-- The ledger in time order: exports stream it from here without sorting every transfer
-- first, and period reports read ranges of it.
CREATE INDEX transfers_by_time ON transfers (created_at);
