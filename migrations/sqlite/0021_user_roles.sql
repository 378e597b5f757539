-- Roles: one row per user and role in `user_roles`, found by `role = $1`, instead of a
-- comma list in `users.roles` searched with LIKE. The same rules as
-- migrations/postgres/0021_user_roles.sql; only the way the column goes differs.
--
-- SQLite cannot drop a column a table CHECK names, so `users` is made again without it.
-- Foreign keys cannot be turned off inside the migration's transaction; they are deferred
-- instead: dropping `users` counts one violation per row that points at a user, and
-- putting each user back under the same id counts it off again, so the commit finds none
-- (and would fail if a user were lost).
PRAGMA defer_foreign_keys = ON;

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL CHECK (role IN ('caseworker', 'treasurer', 'admin')),
    PRIMARY KEY (user_id, role)
);
INSERT INTO user_roles (user_id, role)
SELECT u.id, x.role
  FROM users u
  JOIN (SELECT 'caseworker' AS role UNION ALL SELECT 'treasurer' UNION ALL SELECT 'admin') x
    ON (',' || REPLACE(u.roles, ' ', '') || ',') LIKE '%,' || x.role || ',%';

CREATE TABLE users_before AS
SELECT id, email, display_name, language, org_id, password_hash, active,
       tokens_not_before, created_at, on_call
  FROM users;
DROP TABLE users;
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT,
    language TEXT NOT NULL CHECK (language IN ('fr', 'en')),
    org_id TEXT REFERENCES orgs (id),
    password_hash TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    -- Set on reactivation: tokens issued before it stay refused, so reactivating an
    -- account does not bring back the sessions it had when it was deactivated.
    tokens_not_before TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    on_call BOOLEAN NOT NULL DEFAULT FALSE
);
INSERT INTO users (id, email, display_name, language, org_id, password_hash, active,
                   tokens_not_before, created_at, on_call)
SELECT id, email, display_name, language, org_id, password_hash, active,
       tokens_not_before, created_at, on_call
  FROM users_before;
DROP TABLE users_before;

-- A caseworker always belongs to an organisation (the CHECK that went with the column).
CREATE TRIGGER user_roles_caseworker_has_org BEFORE INSERT ON user_roles
WHEN NEW.role = 'caseworker' AND (SELECT org_id FROM users WHERE id = NEW.user_id) IS NULL
BEGIN
    SELECT RAISE(ABORT, 'a caseworker belongs to an organisation');
END;
CREATE TRIGGER user_roles_caseworker_keeps_role BEFORE UPDATE ON user_roles
WHEN NEW.role = 'caseworker' AND (SELECT org_id FROM users WHERE id = NEW.user_id) IS NULL
BEGIN
    SELECT RAISE(ABORT, 'a caseworker belongs to an organisation');
END;
CREATE TRIGGER users_caseworker_keeps_org BEFORE UPDATE OF org_id ON users
WHEN NEW.org_id IS NULL
 AND EXISTS (SELECT 1 FROM user_roles WHERE user_id = NEW.id AND role = 'caseworker')
BEGIN
    SELECT RAISE(ABORT, 'a caseworker belongs to an organisation');
END;
