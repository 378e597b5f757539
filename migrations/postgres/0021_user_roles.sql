-- Roles: one row per user and role in `user_roles`, found by `role = $1`, instead of a
-- comma list in `users.roles` searched with LIKE. The same rules as
-- migrations/sqlite/0021_user_roles.sql, which has to rebuild `users` to drop the column.
CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL CHECK (role IN ('caseworker', 'treasurer', 'admin')),
    PRIMARY KEY (user_id, role)
);
INSERT INTO user_roles (user_id, role)
SELECT u.id, x.role
  FROM users u
  JOIN (VALUES ('caseworker'), ('treasurer'), ('admin')) AS x (role)
    ON (',' || REPLACE(u.roles, ' ', '') || ',') LIKE '%,' || x.role || ',%';

-- Drops the table CHECK that names the column with it.
ALTER TABLE users DROP COLUMN roles;

-- A caseworker always belongs to an organisation (the CHECK that went with the column).
CREATE FUNCTION passage_caseworker_has_org() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'user_roles' THEN
        IF NEW.role = 'caseworker'
           AND (SELECT org_id FROM users WHERE id = NEW.user_id) IS NULL THEN
            RAISE EXCEPTION 'a caseworker belongs to an organisation' USING ERRCODE = '23514';
        END IF;
    ELSIF NEW.org_id IS NULL
          AND EXISTS (SELECT 1 FROM user_roles WHERE user_id = NEW.id AND role = 'caseworker') THEN
        RAISE EXCEPTION 'a caseworker belongs to an organisation' USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER user_roles_caseworker_has_org BEFORE INSERT OR UPDATE ON user_roles
    FOR EACH ROW EXECUTE FUNCTION passage_caseworker_has_org();
CREATE TRIGGER users_caseworker_keeps_org BEFORE UPDATE OF org_id ON users
    FOR EACH ROW EXECUTE FUNCTION passage_caseworker_has_org();
