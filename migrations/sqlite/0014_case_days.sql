-- A case's rolling window (what it spent or holds since a moment) is summed before every
-- decision. Summed from its requests, that cost grows with every request the case had in
-- the window. These per-day totals, kept by triggers whatever path changes a request,
-- make it a few rows per case: whole days from here, and from the requests only the part
-- of the day the window begins in. A request counts on the UTC day it was decided, for
-- what it spent once settled, else its amount, while approved or settled.
CREATE TABLE case_days (
    case_code TEXT NOT NULL REFERENCES cases (code),
    day TEXT NOT NULL,
    cents INTEGER NOT NULL,
    PRIMARY KEY (case_code, day)
);

INSERT INTO case_days (case_code, day, cents)
SELECT case_code, substr(decided_at, 1, 10), SUM(COALESCE(spent, amount))
FROM requests
WHERE status IN ('approved', 'settled') AND decided_at IS NOT NULL
GROUP BY case_code, substr(decided_at, 1, 10);

CREATE TRIGGER case_days_on_insert AFTER INSERT ON requests
WHEN NEW.status IN ('approved', 'settled') AND NEW.decided_at IS NOT NULL
BEGIN
    INSERT INTO case_days (case_code, day, cents)
    VALUES (NEW.case_code, substr(NEW.decided_at, 1, 10), COALESCE(NEW.spent, NEW.amount))
    ON CONFLICT (case_code, day) DO UPDATE SET cents = cents + excluded.cents;
END;

CREATE TRIGGER case_days_on_update
AFTER UPDATE OF case_code, status, amount, spent, decided_at ON requests
BEGIN
    UPDATE case_days SET cents = cents - COALESCE(OLD.spent, OLD.amount)
    WHERE OLD.status IN ('approved', 'settled') AND OLD.decided_at IS NOT NULL
      AND case_code = OLD.case_code AND day = substr(OLD.decided_at, 1, 10);
    INSERT INTO case_days (case_code, day, cents)
    SELECT NEW.case_code, substr(NEW.decided_at, 1, 10), COALESCE(NEW.spent, NEW.amount)
    WHERE NEW.status IN ('approved', 'settled') AND NEW.decided_at IS NOT NULL
    ON CONFLICT (case_code, day) DO UPDATE SET cents = cents + excluded.cents;
END;

CREATE TRIGGER case_days_on_delete AFTER DELETE ON requests
WHEN OLD.status IN ('approved', 'settled') AND OLD.decided_at IS NOT NULL
BEGIN
    UPDATE case_days SET cents = cents - COALESCE(OLD.spent, OLD.amount)
    WHERE case_code = OLD.case_code AND day = substr(OLD.decided_at, 1, 10);
END;
