-- A second factor and sessions (issue 19).
--
-- One TOTP factor per user. `secret` is `plain:BASE32` or, when the instance has
-- PASSAGE_TOTP_KEY, `sealed:NONCE:CIPHERTEXT` (XChaCha20-Poly1305, the user's id as
-- associated data), so a copy of the database alone gives no codes. `confirmed_at` is NULL
-- while enrolment waits for its first code. `last_step` is the 30-second step of the last
-- code accepted: a code of that step or an earlier one is refused (a code works once).
CREATE TABLE second_factors (
    user_id TEXT PRIMARY KEY REFERENCES users(id),
    secret TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    confirmed_at TIMESTAMPTZ,
    last_step BIGINT NOT NULL DEFAULT 0
);

-- Ten single-use recovery codes per factor: only the SHA-256 of the user's id and the code
-- (80 random bits: a fast hash is enough, see identity::second_factor).
CREATE TABLE recovery_codes (
    code_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    used_at TIMESTAMPTZ
);
CREATE INDEX recovery_codes_by_user ON recovery_codes (user_id);

-- The step between a right password and a second factor: only the SHA-256 of the
-- challenge is kept; it lasts five minutes and is used up by the sign-in it completes.
CREATE TABLE second_factor_challenges (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    device TEXT NOT NULL,
    address TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);
CREATE INDEX second_factor_challenges_by_user ON second_factor_challenges (user_id);

-- One row per sign-in; `id` is the token's `jti`. A token whose row is gone or ended is
-- refused. `last_seen` is written at most once a minute (identity::sessions).
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    device TEXT NOT NULL,
    address TEXT NOT NULL,
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    ended_at TIMESTAMPTZ
);
CREATE INDEX sessions_by_user ON sessions (user_id);
