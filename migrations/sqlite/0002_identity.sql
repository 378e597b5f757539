-- Identity: organisations, users, signing keys, revoked tokens, login throttling.
-- The same SQL as migrations/postgres/0002_identity.sql except the signing key sequence.

CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL CHECK (type IN ('shelter', 'youth', 'legal_aid', 'victim_services',
        'immigrant_support', 'sex_worker_support', 'labour_rights', 'indigenous', 'health',
        'coalition', 'other')),
    province TEXT NOT NULL CHECK (province IN ('AB', 'BC', 'MB', 'NB', 'NL', 'NS', 'NT',
        'NU', 'ON', 'PE', 'QC', 'SK', 'YT')),
    created_at TIMESTAMPTZ NOT NULL
);

-- Staff accounts. `roles` is a sorted comma list (`caseworker,treasurer`); the email is
-- kept trimmed and in lower case. A caseworker always belongs to an organisation.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT,
    language TEXT NOT NULL CHECK (language IN ('fr', 'en')),
    roles TEXT NOT NULL CHECK (roles <> ''),
    org_id TEXT REFERENCES orgs (id),
    password_hash TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    -- Set on reactivation: tokens issued before it stay refused, so reactivating an
    -- account does not bring back the sessions it had when it was deactivated.
    tokens_not_before TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    CHECK (org_id IS NOT NULL OR (',' || roles || ',') NOT LIKE '%,caseworker,%')
);

-- Tokens signed out before they expire; a row may go once its token has expired.
CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);

-- Sign-in attempts that did not succeed (or have not yet), per `email:<address>` and per
-- `ip:<address>`, for throttling. An attempt is written before its password is checked
-- and removed if it succeeds, so parallel guesses cannot slip past the limit. Rows older
-- than the window are removed as new attempts come in.
CREATE TABLE login_failures (
    scope TEXT NOT NULL,
    attempt TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_failures_by_scope ON login_failures (scope, at);
CREATE INDEX login_failures_by_attempt ON login_failures (attempt);

-- One row whose lock orders the admission of sign-in attempts across instances.
CREATE TABLE login_throttle_lock (
    id INTEGER PRIMARY KEY CHECK (id = 1)
);
INSERT INTO login_throttle_lock (id) VALUES (1);

-- HS256 keys for tokens. The newest (highest seq) signs; every key verifies, so a token
-- signed before a rotation stays valid until it expires. Keys are never updated.
CREATE TABLE signing_keys (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kid TEXT NOT NULL UNIQUE,
    secret TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
