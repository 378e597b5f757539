-- Password reset links (issue 19): only the SHA-256 of the token is kept; a link is
-- single-use (used_at) and valid one hour (expires_at). Unknown addresses leave no row.
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);
CREATE INDEX password_resets_by_user ON password_resets (user_id);
