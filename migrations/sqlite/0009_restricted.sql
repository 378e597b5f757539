-- Restricted donations: a cash gift given for some categories only (say hotel and bus).
-- restricted_to lists them (comma-separated, sorted); NULL means the gift is unrestricted.
-- restricted_remaining is what of the gift the fund still holds for those categories: the
-- CHECKs make it impossible to attribute more than the gift, whatever the code does.
ALTER TABLE donations ADD COLUMN restricted_to TEXT
    CHECK (restricted_to IS NULL OR kind = 'cash');
ALTER TABLE donations ADD COLUMN restricted_remaining BIGINT NOT NULL DEFAULT 0
    CHECK (restricted_remaining >= 0 AND restricted_remaining <= amount);
CREATE INDEX donations_restricted_left ON donations (created_at)
    WHERE restricted_remaining > 0;

-- Which restricted gifts a request's money came from: written when its hold is placed,
-- reduced when a receipt releases part of it, removed when the hold is released.
CREATE TABLE restricted_draws (
    request_id TEXT NOT NULL REFERENCES requests (id),
    donation_id TEXT NOT NULL REFERENCES donations (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    PRIMARY KEY (request_id, donation_id)
);
CREATE INDEX restricted_draws_by_donation ON restricted_draws (donation_id);
