-- A flag on the next-day review carries the reason the treasurer typed: free text, scanned
-- like a note when typed and purged with the request's other free text (see
-- lifecycle::purge_closed), cleared with the flag. The audit page filters events by
-- action, newest first: an index on (action, seq) answers that without reading the chain.
ALTER TABLE requests ADD COLUMN flag_reason TEXT;
CREATE INDEX audit_events_by_action ON audit_events (action, seq);
