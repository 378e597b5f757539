//! Staff accounts. Password hashes never leave this module except to the verifier.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::{IdentityError, new_id, orgs, password};
use crate::audit::{self, Actor};
use crate::domain::page::{Cursor, Page, PageRequest};
use crate::domain::{Email, Language, Password, Role, Roles};
use crate::store::{Db, StoreError, Tx};
use crate::{on_db, on_tx, write_tx};

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub password: Password,
    pub roles: Roles,
    pub org_id: Option<String>,
    pub language: Language,
    pub display_name: Option<String>,
}

pub const MAX_DISPLAY_NAME_CHARS: usize = 100;

/// Trims a display name; empty means none.
pub fn parse_display_name(s: Option<&str>) -> Result<Option<String>, IdentityError> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(n) if n.chars().count() > MAX_DISPLAY_NAME_CHARS => Err(IdentityError::invalid(
            "display_name",
            "must be at most 100 characters",
        )),
        Some(n) => Ok(Some(n.to_string())),
    }
}

/// A user as the rest of Passage sees them: no password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: String,
    pub email: String,
    pub display_name: Option<String>,
    #[schema(value_type = crate::domain::Language)]
    pub language: String,
    #[schema(value_type = Vec<crate::domain::Role>)]
    pub roles: Roles,
    pub org_id: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    /// Tokens issued before this (the last reactivation) are refused.
    #[serde(skip)]
    pub tokens_not_before: Option<DateTime<Utc>>,
}

/// One row per role a user holds (`users` joined to `user_roles`), folded into [`User`]s
/// by [`fold`]; the rows of one user come together because every query orders by user.
#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    email: String,
    display_name: Option<String>,
    language: String,
    org_id: Option<String>,
    active: bool,
    created_at: DateTime<Utc>,
    tokens_not_before: Option<DateTime<Utc>>,
    role: Option<Role>,
}

const COLUMNS: &str = "u.id, u.email, u.display_name, u.language, u.org_id, u.active, \
     u.created_at, u.tokens_not_before, r.role";

/// Users with their roles: `users u` joined to `user_roles r`.
const FROM: &str = "users u LEFT JOIN user_roles r ON r.user_id = u.id";

/// Folds the rows of [`COLUMNS`] (one per role, a user's rows next to each other) into
/// users. A user with no role at all cannot be stored by Passage: it is a decode error.
fn fold(rows: Vec<UserRow>) -> Result<Vec<User>, StoreError> {
    let mut users: Vec<(UserRow, Vec<Role>)> = Vec::new();
    for mut row in rows {
        let role = row.role.take();
        match users.last_mut() {
            Some((last, roles)) if last.id == row.id => roles.extend(role),
            _ => users.push((row, role.into_iter().collect())),
        }
    }
    users
        .into_iter()
        .map(|(r, roles)| {
            let roles = Roles::new(roles)
                .map_err(|e| StoreError::Sqlx(sqlx::Error::Decode(Box::new(e))))?;
            Ok(User {
                id: r.id,
                email: r.email,
                display_name: r.display_name,
                language: r.language,
                roles,
                org_id: r.org_id,
                active: r.active,
                created_at: r.created_at,
                tokens_not_before: r.tokens_not_before,
            })
        })
        .collect()
}

/// Takes every role from user `id`.
pub(super) async fn clear_roles(tx: &mut Tx, id: &str) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
        .bind(id)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Gives user `id` these roles (it holds none yet).
pub(super) async fn add_roles(tx: &mut Tx, id: &str, roles: &Roles) -> Result<(), StoreError> {
    for role in roles.iter() {
        on_tx!(tx, c => sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
            .bind(id)
            .bind(role)
            .execute(c)
            .await
            .map(|_| ()))?;
    }
    Ok(())
}

/// Hashes the password (outside the transaction: it is slow), then stores the user.
pub async fn create(
    db: &Db,
    now: DateTime<Utc>,
    actor: &Actor,
    new: NewUser,
) -> Result<String, IdentityError> {
    if new.roles.contains(Role::Caseworker) && new.org_id.is_none() {
        return Err(IdentityError::invalid(
            "org_id",
            "is required for a caseworker: a caseworker belongs to one organisation",
        ));
    }
    let hash = password::hash(new.password.clone()).await?;
    let id = new_id();
    write_tx!(db, |tx| -> Result<String, IdentityError> async {
        if let Some(org) = &new.org_id
            && !orgs::exists(tx, org).await? {
                return Err(IdentityError::UnknownOrg(org.clone()));
            }
        let taken: Option<String> = on_tx!(tx, c => sqlx::query_scalar(
            "SELECT id FROM users WHERE email = $1"
        )
        .bind(new.email.as_str())
        .fetch_optional(c)
        .await)
        .map_err(StoreError::from)?;
        if taken.is_some() {
            return Err(IdentityError::DuplicateEmail);
        }
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO users (id, email, display_name, language, org_id, password_hash, active, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7)"
        )
        .bind(&id)
        .bind(new.email.as_str())
        .bind(&new.display_name)
        .bind(new.language.as_str())
        .bind(&new.org_id)
        .bind(&hash)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))
        .map_err(StoreError::from)?;
        add_roles(tx, &id, &new.roles).await?;
        // Never the password or its hash.
        audit::append(
            tx,
            now,
            actor,
            "user.create",
            &format!("user:{id}"),
            &json!({
                "email": new.email.as_str(),
                "roles": new.roles.to_list(),
                "org_id": new.org_id,
                "language": new.language.as_str(),
            }),
        )
        .await?;
        Ok(id.clone())
    })
}

pub async fn find(db: &Db, id: &str) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE u.id = $1 ORDER BY r.role");
    let rows: Vec<UserRow> = on_db!(db, p => sqlx::query_as(&sql).bind(id).fetch_all(p).await)?;
    Ok(fold(rows)?.pop())
}

/// Where a token stands, read on every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenStanding {
    /// The token `jti` was signed out.
    pub revoked: bool,
    /// The key that signed it was retired (`passage keys retire`).
    pub key_retired: bool,
    /// When its session was last seen by the database; `None` when it has no session, or
    /// the session ended.
    pub session_last_seen: Option<DateTime<Utc>>,
    /// The user has a confirmed second factor.
    pub enrolled: bool,
}

/// The user with this id (`None` when there is none), whether the token `jti` was signed
/// out and whether its signing key `kid` was retired, in one query: every request asks.
pub async fn find_with_revocation(
    db: &Db,
    id: &str,
    jti: &str,
    kid: &str,
) -> Result<Option<(User, TokenStanding)>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: UserRow,
        revoked: bool,
        key_retired: bool,
        session_last_seen: Option<DateTime<Utc>>,
        enrolled: bool,
    }
    let sql = format!(
        "SELECT {COLUMNS}, EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $2) AS revoked,
                EXISTS (SELECT 1 FROM signing_keys WHERE kid = $3 AND retired_at IS NOT NULL)
                    AS key_retired,
                (SELECT s.last_seen FROM sessions s
                 WHERE s.id = $2 AND s.user_id = $1 AND s.ended_at IS NULL) AS session_last_seen,
                EXISTS (SELECT 1 FROM second_factors f
                        WHERE f.user_id = $1 AND f.confirmed_at IS NOT NULL) AS enrolled
         FROM {FROM} WHERE u.id = $1 ORDER BY r.role"
    );
    // A read on the readers' pool: every request makes it, and on SQLite it then never
    // takes a connection the writers need.
    let rows: Vec<Row> = crate::on_read!(db, p => sqlx::query_as(&sql)
        .bind(id)
        .bind(jti)
        .bind(kid)
        .fetch_all(p)
        .await)?;
    let Some(standing) = rows.first().map(|r| TokenStanding {
        revoked: r.revoked,
        key_retired: r.key_retired,
        session_last_seen: r.session_last_seen,
        enrolled: r.enrolled,
    }) else {
        return Ok(None);
    };
    let user = fold(rows.into_iter().map(|r| r.user).collect())?.pop();
    Ok(user.map(|u| (u, standing)))
}

/// The user with this email and their password hash, for sign-in only.
pub async fn find_for_login(db: &Db, email: &Email) -> Result<Option<(User, String)>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE u.email = $1 ORDER BY r.role");
    let rows: Vec<UserRow> =
        on_db!(db, p => sqlx::query_as(&sql).bind(email.as_str()).fetch_all(p).await)?;
    let Some(user) = fold(rows)?.pop() else {
        return Ok(None);
    };
    let id = user.id.clone();
    let hash: String = on_db!(db, p => sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(&id)
        .fetch_one(p)
        .await)?;
    Ok(Some((user, hash)))
}

/// Replaces user `id`'s password hash and records `user.password_changed` (never the
/// password or its hash).
pub async fn set_password_hash(
    db: &Db,
    now: DateTime<Utc>,
    actor: &Actor,
    id: &str,
    hash: &str,
) -> Result<(), IdentityError> {
    write_tx!(db, |tx| -> Result<(), IdentityError> async {
        let changed = on_tx!(tx, c => sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))
        .map_err(StoreError::from)?;
        if changed == 0 {
            return Err(IdentityError::UnknownUser(id.to_string()));
        }
        audit::append(
            tx,
            now,
            actor,
            "user.password_changed",
            &format!("user:{id}"),
            &json!({}),
        )
        .await?;
        Ok(())
    })
}

/// One page of the users, newest first, optionally of one organisation
/// (`GET /api/v1/users`, the admin page).
pub async fn page(
    db: &Db,
    org: Option<&str>,
    page: &PageRequest,
) -> Result<Page<User>, StoreError> {
    let (cursor, _) = page.bound();
    let (keyset, order) =
        crate::domain::page::keyset_sql(page, false, "0", "p.created_at", "p.id", 3);
    let (_, outer) = crate::domain::page::keyset_sql(page, false, "0", "u.created_at", "u.id", 3);
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM}
         WHERE u.id IN (SELECT p.id FROM users p WHERE ($2 IS NULL OR p.org_id = $2)
                        AND {keyset} ORDER BY {order} LIMIT $1)
         ORDER BY {outer}, r.role"
    );
    let rows: Vec<UserRow> = on_db!(db, p => sqlx::query_as(&sql)
        .bind(page.fetch())
        .bind(org)
        .bind(cursor.map(|c| c.rank))
        .bind(cursor.map(|c| c.at))
        .bind(cursor.map(|c| c.id.clone()))
        .fetch_all(p)
        .await)?;
    Ok(Page::from_rows(fold(rows)?, page, |u| Cursor {
        rank: 0,
        at: u.created_at,
        id: u.id.clone(),
    }))
}

pub async fn list(db: &Db) -> Result<Vec<User>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} ORDER BY u.email, r.role");
    let rows: Vec<UserRow> = on_db!(db, p => sqlx::query_as(&sql).fetch_all(p).await)?;
    fold(rows)
}

/// Deactivates or reactivates a user. A deactivated user's tokens are refused from the
/// next request on, because every request reads the user's state.
pub async fn set_active(
    db: &Db,
    now: DateTime<Utc>,
    actor: &Actor,
    actor_id: Option<&str>,
    id: &str,
    active: bool,
) -> Result<User, IdentityError> {
    if !active && actor_id == Some(id) {
        return Err(IdentityError::SelfDeactivation);
    }
    write_tx!(db, |tx| -> Result<(), IdentityError> async {
        // Reactivation starts afresh: tokens from before it stay refused.
        let changed = on_tx!(tx, c => sqlx::query(
            "UPDATE users SET active = $1,
                 tokens_not_before = CASE WHEN $1 THEN $3 ELSE tokens_not_before END
             WHERE id = $2"
        )
            .bind(active)
            .bind(id)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))
        .map_err(StoreError::from)?;
        if changed == 0 {
            return Err(IdentityError::UnknownUser(id.to_string()));
        }
        let action = if active {
            "user.reactivate"
        } else {
            "user.deactivate"
        };
        audit::append(
            tx,
            now,
            actor,
            action,
            &format!("user:{id}"),
            &json!({"active": active}),
        )
        .await?;
        Ok(())
    })?;
    find(db, id)
        .await?
        .ok_or_else(|| IdentityError::UnknownUser(id.to_string()))
}

/// Puts a treasurer on call (urgent requests are emailed to them first) or takes them off.
/// Whether it changed anything: setting someone as they already are writes nothing and
/// appends no audit event (a second tap, a retry), and the caller says "already".
pub async fn set_on_call(
    db: &Db,
    now: DateTime<Utc>,
    actor: &Actor,
    id: &str,
    on_call: bool,
) -> Result<bool, IdentityError> {
    write_tx!(db, |tx| -> Result<bool, IdentityError> async {
        let was: Option<bool> = on_tx!(tx, c => sqlx::query_scalar(
            "SELECT on_call FROM users WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(c)
        .await)
        .map_err(StoreError::from)?;
        match was {
            None => return Err(IdentityError::UnknownUser(id.to_string())),
            Some(was) if was == on_call => return Ok(false),
            Some(_) => {}
        }
        // Only if no one changed it since: two taps racing write one event.
        let changed = on_tx!(tx, c => sqlx::query(
            "UPDATE users SET on_call = $1 WHERE id = $2 AND on_call <> $1"
        )
            .bind(on_call)
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))
        .map_err(StoreError::from)?;
        if changed == 0 {
            return Ok(false);
        }
        audit::append(
            tx,
            now,
            actor,
            "user.on_call",
            &format!("user:{id}"),
            &json!({"on_call": on_call}),
        )
        .await?;
        Ok(true)
    })
}

/// Whether `actor_id`, holding `actor_roles`, may put `target_id` on call or take them
/// off: an admin anyone, a treasurer themselves. The API and the pages both ask this.
pub fn may_set_on_call(actor_id: &str, actor_roles: &Roles, target_id: &str) -> bool {
    actor_roles.contains(Role::Admin)
        || (actor_roles.contains(Role::Treasurer) && actor_id == target_id)
}

/// A treasurer on the on-call page.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OnCallLine {
    pub id: String,
    /// The display name, else the email.
    pub name: String,
    pub on_call: bool,
}

/// The active treasurers and whether each is on call, by name.
pub async fn on_call_roster(db: &Db) -> Result<Vec<OnCallLine>, StoreError> {
    crate::read_tx!(db, |tx| -> Result<Vec<OnCallLine>, StoreError> async {
        Ok(on_tx!(tx, c => sqlx::query_as(
            "SELECT u.id, COALESCE(u.display_name, u.email) AS name, u.on_call FROM users u
             WHERE u.active
               AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = $1)
             ORDER BY name",
        )
        .bind(Role::Treasurer)
        .fetch_all(c)
        .await)?)
    })
}

/// Sets the language a user reads the pages and their mail in (a user's own choice, so
/// no audit event: it moves no money and changes no right).
pub async fn set_language(db: &Db, id: &str, language: Language) -> Result<(), IdentityError> {
    on_db!(db, p => sqlx::query("UPDATE users SET language = $1 WHERE id = $2")
        .bind(language.as_str())
        .bind(id)
        .execute(p)
        .await
        .map(|_| ()))
    .map_err(StoreError::from)?;
    Ok(())
}

/// An admin sets the language someone reads the pages and their mail in: audited as
/// `user.language` (someone else's setting), unlike a user's own choice.
pub async fn set_language_of(
    db: &Db,
    now: DateTime<Utc>,
    actor: &Actor,
    id: &str,
    language: Language,
) -> Result<User, IdentityError> {
    write_tx!(db, |tx| -> Result<(), IdentityError> async {
        let changed = on_tx!(tx, c => sqlx::query("UPDATE users SET language = $1 WHERE id = $2")
            .bind(language.as_str())
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))
        .map_err(StoreError::from)?;
        if changed == 0 {
            return Err(IdentityError::UnknownUser(id.to_string()));
        }
        audit::append(
            tx,
            now,
            actor,
            "user.language",
            &format!("user:{id}"),
            &json!({"language": language.as_str()}),
        )
        .await?;
        Ok(())
    })?;
    find(db, id)
        .await?
        .ok_or_else(|| IdentityError::UnknownUser(id.to_string()))
}

/// Whether user `id` is on call.
pub async fn is_on_call(db: &Db, id: &str) -> Result<bool, StoreError> {
    let on: Option<bool> = on_db!(db, p => sqlx::query_scalar("SELECT on_call FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(p)
        .await)?;
    Ok(on.unwrap_or(false))
}

/// Replaces a user's roles and organisation. Takes effect on the user's next request,
/// because every request reads the roles from here, not from the token.
pub async fn set_roles(
    db: &Db,
    now: DateTime<Utc>,
    actor: &Actor,
    actor_id: Option<&str>,
    id: &str,
    roles: &Roles,
    org_id: Option<&str>,
) -> Result<User, IdentityError> {
    if roles.contains(Role::Caseworker) && org_id.is_none() {
        return Err(IdentityError::invalid(
            "org_id",
            "is required for a caseworker: a caseworker belongs to one organisation",
        ));
    }
    if actor_id == Some(id) && !roles.contains(Role::Admin) {
        return Err(IdentityError::SelfDemotion);
    }
    write_tx!(db, |tx| -> Result<(), IdentityError> async {
        if let Some(org) = org_id
            && !orgs::exists(tx, org).await?
        {
            return Err(IdentityError::UnknownOrg(org.to_string()));
        }
        // The old roles go before the organisation changes and the new ones come after:
        // the database refuses a caseworker without an organisation at every step.
        clear_roles(tx, id).await?;
        let changed = on_tx!(tx, c => sqlx::query("UPDATE users SET org_id = $1 WHERE id = $2")
        .bind(org_id)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if changed == 0 {
            return Err(IdentityError::UnknownUser(id.to_string()));
        }
        add_roles(tx, id, roles).await?;
        audit::append(
            tx,
            now,
            actor,
            "user.roles",
            &format!("user:{id}"),
            &json!({"roles": roles.to_list(), "org_id": org_id}),
        )
        .await?;
        Ok(())
    })?;
    find(db, id)
        .await?
        .ok_or_else(|| IdentityError::UnknownUser(id.to_string()))
}

/// Whether anyone can administer Passage yet.
pub async fn any_active_admin(db: &Db) -> Result<bool, StoreError> {
    Ok(on_db!(db, p => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM users u JOIN user_roles r ON r.user_id = u.id
                        WHERE u.active = TRUE AND r.role = $1)"
    )
    .bind(Role::Admin)
    .fetch_one(p)
    .await)?)
}
