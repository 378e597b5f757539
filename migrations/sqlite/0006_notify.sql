-- Same-night notifications: which treasurers are on call, when an urgent request was
-- escalated to every treasurer, and the low-balance alert's state (once per crossing).
ALTER TABLE users ADD COLUMN on_call BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE requests ADD COLUMN escalated_at TIMESTAMPTZ;
CREATE TABLE alerts (
    kind TEXT PRIMARY KEY,
    active BOOLEAN NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL
);
