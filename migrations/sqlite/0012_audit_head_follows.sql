-- The audit chain's head takes each new event's hash from the event itself, in the same
-- statement that appends it: one round trip less for every event, and the head can never
-- name a hash the chain does not hold.
CREATE TRIGGER audit_head_follows AFTER INSERT ON audit_events
BEGIN
    UPDATE audit_head SET hash = NEW.hash WHERE id = 1;
END;
