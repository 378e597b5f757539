-- What a treasurer decides with, and how (issue 17; DESIGN "What a treasurer sees"). The
-- same columns as migrations/sqlite/0024.
--
-- decided_window_cents, decided_open_cents: the figures the automatic decision read when
-- the request was submitted (what its case had received or held within the rolling
-- window, and the money open to it), so a treasurer reads by how much it went past the
-- rule that sent it to them. Amounts only.
-- decided_by, decline_code: who approved or declined it last, and why a treasurer
-- declined (the typed reason stays in decision_reason, purged with it).
-- question, asked_by, asked_at, answer, answered_at: a treasurer's question to the
-- caseworker (status info_requested) and the answer that puts the request back in the
-- queue. Free text, scanned like a note and purged with it.
ALTER TABLE requests ADD COLUMN decided_window_cents BIGINT;
ALTER TABLE requests ADD COLUMN decided_open_cents BIGINT;
ALTER TABLE requests ADD COLUMN decided_by TEXT REFERENCES users (id);
ALTER TABLE requests ADD COLUMN decline_code TEXT
    CHECK (decline_code IS NULL
        OR decline_code IN ('cheaper_option', 'not_covered', 'duplicate', 'other'));
ALTER TABLE requests ADD COLUMN question TEXT;
ALTER TABLE requests ADD COLUMN asked_by TEXT REFERENCES users (id);
ALTER TABLE requests ADD COLUMN asked_at TIMESTAMPTZ;
ALTER TABLE requests ADD COLUMN answer TEXT;
ALTER TABLE requests ADD COLUMN answered_at TIMESTAMPTZ;
