//! Staff accounts. Password hashes never leave this module except to the verifier.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::{IdentityError, new_id, orgs, password};
use crate::audit::{self, Actor};
use crate::domain::{Email, Language, Password, Role, Roles};
use crate::store::{Db, StoreError};
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

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    email: String,
    display_name: Option<String>,
    language: String,
    roles: String,
    org_id: Option<String>,
    active: bool,
    created_at: DateTime<Utc>,
    tokens_not_before: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "id, email, display_name, language, roles, org_id, active, created_at, tokens_not_before";

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<User, StoreError> {
        let roles = Roles::parse_list(&r.roles)
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
    }
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
    write_tx!(db, |tx| {
        async {
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
            "INSERT INTO users (id, email, display_name, language, roles, org_id, password_hash, active, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE, $8)"
        )
        .bind(&id)
        .bind(new.email.as_str())
        .bind(&new.display_name)
        .bind(new.language.as_str())
        .bind(new.roles.to_list())
        .bind(&new.org_id)
        .bind(&hash)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))
        .map_err(StoreError::from)?;
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
    }
    .await
    })
}

pub async fn find(db: &Db, id: &str) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    let row: Option<UserRow> =
        on_db!(db, p => sqlx::query_as(&sql).bind(id).fetch_optional(p).await)?;
    row.map(User::try_from).transpose()
}

/// Where a token stands, read on every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenStanding {
    /// The token `jti` was signed out.
    pub revoked: bool,
    /// The key that signed it was retired (`passage keys retire`).
    pub key_retired: bool,
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
    }
    let sql = format!(
        "SELECT {COLUMNS}, EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $2) AS revoked,
                EXISTS (SELECT 1 FROM signing_keys WHERE kid = $3 AND retired_at IS NOT NULL)
                    AS key_retired
         FROM users WHERE id = $1"
    );
    let row: Option<Row> = on_db!(db, p => sqlx::query_as(&sql)
        .bind(id)
        .bind(jti)
        .bind(kid)
        .fetch_optional(p)
        .await)?;
    row.map(|r| {
        Ok((
            User::try_from(r.user)?,
            TokenStanding {
                revoked: r.revoked,
                key_retired: r.key_retired,
            },
        ))
    })
    .transpose()
}

/// The user with this email and their password hash, for sign-in only.
pub async fn find_for_login(db: &Db, email: &Email) -> Result<Option<(User, String)>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
    let row: Option<UserRow> =
        on_db!(db, p => sqlx::query_as(&sql).bind(email.as_str()).fetch_optional(p).await)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let id = row.id.clone();
    let hash: String = on_db!(db, p => sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(&id)
        .fetch_one(p)
        .await)?;
    Ok(Some((User::try_from(row)?, hash)))
}

pub async fn list(db: &Db) -> Result<Vec<User>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM users ORDER BY email");
    let rows: Vec<UserRow> = on_db!(db, p => sqlx::query_as(&sql).fetch_all(p).await)?;
    rows.into_iter().map(User::try_from).collect()
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
    write_tx!(db, |tx| async {
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
    }
    .await)?;
    find(db, id)
        .await?
        .ok_or_else(|| IdentityError::UnknownUser(id.to_string()))
}

/// Puts a treasurer on call (urgent requests are emailed to them first) or takes them off.
pub async fn set_on_call(
    db: &Db,
    now: DateTime<Utc>,
    actor: &Actor,
    id: &str,
    on_call: bool,
) -> Result<(), IdentityError> {
    write_tx!(db, |tx| async {
        let changed = on_tx!(tx, c => sqlx::query("UPDATE users SET on_call = $1 WHERE id = $2")
            .bind(on_call)
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
            "user.on_call",
            &format!("user:{id}"),
            &json!({"on_call": on_call}),
        )
        .await?;
        Ok(())
    }
    .await)
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
    write_tx!(db, |tx| {
        async {
        if let Some(org) = org_id
            && !orgs::exists(tx, org).await? {
                return Err(IdentityError::UnknownOrg(org.to_string()));
            }
        let changed = on_tx!(tx, c => sqlx::query("UPDATE users SET roles = $1, org_id = $2 WHERE id = $3")
            .bind(roles.to_list())
            .bind(org_id)
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        if changed == 0 {
            return Err(IdentityError::UnknownUser(id.to_string()));
        }
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
    }
    .await
    })?;
    find(db, id)
        .await?
        .ok_or_else(|| IdentityError::UnknownUser(id.to_string()))
}

/// Whether anyone can administer Passage yet.
pub async fn any_active_admin(db: &Db) -> Result<bool, StoreError> {
    let rows: Vec<String> = on_db!(db, p => sqlx::query_scalar(
        "SELECT roles FROM users WHERE active = TRUE"
    )
    .fetch_all(p)
    .await)?;
    Ok(rows
        .iter()
        .filter_map(|r| Roles::parse_list(r).ok())
        .any(|r| r.contains(Role::Admin)))
}
