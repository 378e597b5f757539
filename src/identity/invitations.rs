//! Invitations: an admin invites someone by email, with their roles, organisation and
//! language; the invitee sets their own password from a link that works once, for 48
//! hours. Nobody ever types another person's password (the CLI's `user add
//! --password-stdin` stays for the first admin).
//!
//! Inviting stores the account at once (so an admin sees it, and can change its roles or
//! deactivate it before it is accepted) with a password hash of random bytes nobody knows:
//! until the invitation is accepted, signing in fails as for any wrong password, after the
//! same work. Only the hash of a token is stored, and it is hashed under its purpose
//! (`invitation:` before the token), so no token can be both a reset link's and an
//! invitation's: each is looked up only in its own table, under its own hash. Inviting
//! the same address again, while the invitation is not accepted, uses up the old link and
//! sends a new one; an account that already has a password is refused (409).

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::links::{self, Link};
use super::{IdentityError, new_id, orgs, password};
use crate::audit::{self, Actor};
use crate::config::Config;
use crate::domain::{Email, Language, Password, Role, Roles};
use crate::mail::OutgoingMail;
use crate::mail::compose::Invitation;
use crate::store::{Contention, Db, StoreError, Tx};
use crate::{on_db, on_tx, write_tx};

/// How long an invitation works.
pub const LIFETIME: Duration = Duration::hours(48);

#[derive(Debug, thiserror::Error)]
pub enum InvitationError {
    /// Unknown, used, replaced, expired or of a deactivated account: one answer.
    #[error(
        "this invitation link does not work: it was used already, it expired (an invitation \
         lasts 48 hours) or a newer invitation replaced it; ask an admin to invite you again"
    )]
    BadToken,
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

impl Contention for InvitationError {
    fn is_contention(&self) -> bool {
        matches!(self, InvitationError::Identity(e) if e.is_contention())
    }
}

impl From<StoreError> for InvitationError {
    fn from(e: StoreError) -> Self {
        InvitationError::Identity(e.into())
    }
}

/// Who is invited, as the admin said.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub email: Email,
    pub roles: Roles,
    pub org_id: Option<String>,
    pub language: Language,
}

/// The hash stored for an invitation token: bound to its purpose.
fn token_hash(token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"invitation:");
    h.update(token.as_bytes());
    hex::encode(h.finalize())
}

/// Invites `new.email`: stores the account (or, for an address invited before and not
/// accepted yet, takes the new roles, organisation and language and uses up its old
/// link), the invitation's hash, the email in the outbox and `user.invited`, in one
/// transaction. Answers the account's id.
pub async fn invite(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
    actor: &Actor,
    new: NewInvitation,
) -> Result<String, IdentityError> {
    if new.roles.contains(Role::Caseworker) && new.org_id.is_none() {
        return Err(IdentityError::invalid(
            "org_id",
            "is required for a caseworker: a caseworker belongs to one organisation",
        ));
    }
    let token = hex::encode(rand::random::<[u8; 32]>());
    let hash = token_hash(&token);
    // A password nobody knows: signing in before accepting fails like a wrong password,
    // after the same argon2 work. Hashed outside the transaction: it is slow.
    let unknown = Password::parse(hex::encode(rand::random::<[u8; 32]>()))
        .map_err(|e| IdentityError::Hash(e.to_string()))?;
    let unusable = password::hash(unknown).await?;
    let link = format!(
        "{}/invitation?token={token}",
        config.base_url.trim_end_matches('/')
    );
    let written = Invitation {
        language: new.language,
        link,
    }
    .write()
    .map_err(|e| IdentityError::Hash(e.to_string()))?;
    let mail = OutgoingMail {
        to: new.email.as_str().to_string(),
        subject: written.subject,
        text: written.text,
        html: Some(written.html),
        dedupe_key: format!("invitation:{hash}"),
        headers: Vec::new(),
    };
    write_tx!(db, |tx| -> Result<String, IdentityError> async {
        if let Some(org) = &new.org_id
            && !orgs::exists(tx, org).await?
        {
            return Err(IdentityError::UnknownOrg(org.clone()));
        }
        let existing: Option<(String, bool)> = on_tx!(tx, c => sqlx::query_as(
            "SELECT id, active FROM users WHERE email = $1"
        )
        .bind(new.email.as_str())
        .fetch_optional(c)
        .await)
        .map_err(StoreError::from)?;
        let (id, again) = match existing {
            None => {
                let id = new_id();
                on_tx!(tx, c => sqlx::query(
                    "INSERT INTO users (id, email, language, org_id, password_hash, active, created_at)
                     VALUES ($1, $2, $3, $4, $5, TRUE, $6)"
                )
                .bind(&id)
                .bind(new.email.as_str())
                .bind(new.language.as_str())
                .bind(&new.org_id)
                .bind(&unusable)
                .bind(now)
                .execute(c)
                .await
                .map(|_| ()))
                .map_err(StoreError::from)?;
                super::users::add_roles(tx, &id, &new.roles).await?;
                (id, false)
            }
            Some((id, active)) => {
                if !awaiting(tx, &id).await? {
                    return Err(IdentityError::DuplicateEmail);
                }
                if !active {
                    return Err(IdentityError::invalid(
                        "email",
                        "belongs to a deactivated account: reactivate it first, then invite again",
                    ));
                }
                // The old link stops working; the account takes what this invitation says.
                on_tx!(tx, c => sqlx::query(
                    "UPDATE invitations SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL"
                )
                .bind(&id)
                .bind(now)
                .execute(c)
                .await
                .map(|_| ()))
                .map_err(StoreError::from)?;
                super::users::clear_roles(tx, &id).await?;
                on_tx!(tx, c => sqlx::query(
                    "UPDATE users SET org_id = $2, language = $3 WHERE id = $1"
                )
                .bind(&id)
                .bind(&new.org_id)
                .bind(new.language.as_str())
                .execute(c)
                .await
                .map(|_| ()))
                .map_err(StoreError::from)?;
                super::users::add_roles(tx, &id, &new.roles).await?;
                (id, true)
            }
        };
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO invitations (token_hash, user_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4)"
        )
        .bind(&hash)
        .bind(&id)
        .bind(now)
        .bind(now + LIFETIME)
        .execute(c)
        .await
        .map(|_| ()))
        .map_err(StoreError::from)?;
        crate::mail::enqueue(tx, now, &mail).await?;
        // Never the token, its hash or the link.
        audit::append(
            tx,
            now,
            actor,
            "user.invited",
            &format!("user:{id}"),
            &json!({
                "email": new.email.as_str(),
                "roles": new.roles.to_list(),
                "org_id": new.org_id,
                "language": new.language.as_str(),
                "again": again,
            }),
        )
        .await?;
        Ok(id)
    })
}

/// Whether account `id` was invited and has not accepted yet (so it may be invited again).
async fn awaiting(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    let (invited, accepted): (i64, i64) = on_tx!(tx, c => sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN accepted THEN 1 ELSE 0 END), 0)
         FROM invitations WHERE user_id = $1"
    )
    .bind(id)
    .fetch_one(c)
    .await)?;
    Ok(invited > 0 && accepted == 0)
}

/// Sets the invitee's password with an invitation token: the link is used up (with every
/// other link of the account), tokens from before now are refused, and
/// `user.invitation_accepted` is recorded (never the token or the password).
pub async fn accept(
    db: &Db,
    now: DateTime<Utc>,
    token: &str,
    new_password: String,
) -> Result<(), InvitationError> {
    let new_password = password::parse_new("password", new_password)?;
    let hash = token_hash(token.trim());
    let password_hash = password::hash(new_password).await?;
    write_tx!(db, |tx| -> Result<(), InvitationError> async {
        let user_id = links::set_password(tx, now, Link::Invitation, &hash, &password_hash)
            .await?
            .ok_or(InvitationError::BadToken)?;
        audit::append(
            tx,
            now,
            &Actor(format!("user:{user_id}")),
            "user.invitation_accepted",
            &format!("user:{user_id}"),
            &json!({}),
        )
        .await?;
        Ok(())
    })
}

/// Where an account's invitation stands, for the admin's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Invited, not accepted; the link works until then.
    Waiting(DateTime<Utc>),
    /// Invited, not accepted, and the last link expired: invite again.
    Expired,
}

/// The accounts invited and not accepted yet, with where their invitation stands.
pub async fn waiting(
    db: &Db,
    now: DateTime<Utc>,
) -> Result<std::collections::HashMap<String, Standing>, StoreError> {
    let rows: Vec<(String, Option<DateTime<Utc>>)> = on_db!(db, p => sqlx::query_as(
        "SELECT i.user_id, MAX(CASE WHEN i.used_at IS NULL THEN i.expires_at END)
         FROM invitations i
         WHERE NOT EXISTS (SELECT 1 FROM invitations a WHERE a.user_id = i.user_id AND a.accepted)
         GROUP BY i.user_id"
    )
    .fetch_all(p)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(id, until)| {
            let standing = match until {
                Some(until) if until > now => Standing::Waiting(until),
                _ => Standing::Expired,
            };
            (id, standing)
        })
        .collect())
}
