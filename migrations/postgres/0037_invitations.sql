-- Invitations (issue 19): an admin invites someone by email; the invitee sets their own
-- password from a link that works once, for 48 hours. Only the SHA-256 of the token is
-- kept (hashed under its purpose, so it can never be a reset link's hash). Inviting the
-- same address again uses up the old link (replaced_at) and sends a new one.
CREATE TABLE invitations (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    accepted BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX invitations_by_user ON invitations (user_id);
