-- A case's rolling window (what it spent or holds since a moment) is summed before every
-- decision. Summed from its requests, that cost grows with every request the case had in
-- the window. These per-day totals, kept by a trigger whatever path changes a request,
-- make it a few rows per case: whole days from here, and from the requests only the part
-- of the day the window begins in. A request counts on the UTC day it was decided, for
-- what it spent once settled, else its amount, while approved or settled.
CREATE TABLE case_days (
    case_code TEXT NOT NULL REFERENCES cases (code),
    day DATE NOT NULL,
    cents BIGINT NOT NULL,
    PRIMARY KEY (case_code, day)
);

INSERT INTO case_days (case_code, day, cents)
SELECT case_code, (decided_at AT TIME ZONE 'UTC')::date, SUM(COALESCE(spent, amount))
FROM requests
WHERE status IN ('approved', 'settled') AND decided_at IS NOT NULL
GROUP BY case_code, (decided_at AT TIME ZONE 'UTC')::date;

CREATE FUNCTION case_days_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF OLD.status IN ('approved', 'settled') AND OLD.decided_at IS NOT NULL THEN
            UPDATE case_days SET cents = cents - COALESCE(OLD.spent, OLD.amount)
            WHERE case_code = OLD.case_code
              AND day = (OLD.decided_at AT TIME ZONE 'UTC')::date;
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        IF NEW.status IN ('approved', 'settled') AND NEW.decided_at IS NOT NULL THEN
            INSERT INTO case_days (case_code, day, cents)
            VALUES (NEW.case_code, (NEW.decided_at AT TIME ZONE 'UTC')::date,
                    COALESCE(NEW.spent, NEW.amount))
            ON CONFLICT (case_code, day) DO UPDATE SET cents = case_days.cents + EXCLUDED.cents;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER case_days_follow
AFTER INSERT OR UPDATE OF case_code, status, amount, spent, decided_at OR DELETE ON requests
FOR EACH ROW EXECUTE FUNCTION case_days_follow();
