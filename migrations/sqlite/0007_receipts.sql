-- Receipts in full: the day paid, the caseworker's attestation (pocket money only, in place
-- of a paper receipt) and, for fares bought abroad, the original currency and amount.
ALTER TABLE requests ADD COLUMN paid_on TEXT;
ALTER TABLE requests ADD COLUMN attested BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE requests ADD COLUMN original_currency TEXT;
ALTER TABLE requests ADD COLUMN original_amount TEXT;
