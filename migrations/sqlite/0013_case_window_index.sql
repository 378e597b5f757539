-- A case's rolling window (what it spent or holds since a moment) is summed before every
-- decision. This index holds every column that sum reads, so it is answered from the index
-- alone, without a visit to each of the case's requests; it also serves every look-up by
-- case, which the index it replaces did.
CREATE INDEX requests_case_window ON requests (case_code, decided_at, status, amount, spent);
DROP INDEX requests_by_case;
