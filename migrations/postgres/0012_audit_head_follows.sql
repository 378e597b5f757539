-- The audit chain's head takes each new event's hash from the event itself, in the same
-- statement that appends it: one round trip less for every event, and the head can never
-- name a hash the chain does not hold.
CREATE FUNCTION passage_audit_head_follows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_head SET hash = NEW.hash WHERE id = 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER audit_head_follows AFTER INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION passage_audit_head_follows();
