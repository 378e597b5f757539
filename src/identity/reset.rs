//! "Forgot your password?": a single-use link, valid one hour, mailed to the account's own
//! address; using it sets a new password and ends every session of the account.
//!
//! Asking answers the same whether or not the address has an account (the HTTP edge
//! answers one fixed 202), and is throttled by the typed address and the client's like a
//! sign-in. Both paths do the same work up to the lookup: admit the attempt, then derive a
//! token (32 random bytes and their SHA-256). A known, active account's token hash is
//! stored with the mail in the outbox and `user.password_reset_requested` in one
//! transaction; an unknown address's token is dropped, and nothing about the address is
//! stored or audited. Only the hash of a token is ever stored, never the token.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::links::{self, Link};
use super::throttle::{self, Scope, Verdict};
use super::{IdentityError, password, users};
use crate::audit::{self, Actor};
use crate::config::Config;
use crate::domain::{Email, Language};
use crate::mail::OutgoingMail;
use crate::mail::compose::PasswordReset;
use crate::store::{Contention, Db, StoreError};
use crate::{on_tx, write_tx};

/// How long a link works.
pub const LIFETIME: Duration = Duration::hours(1);

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("too many password reset requests: try again in {retry_after_secs} seconds")]
    Throttled { retry_after_secs: u64 },
    /// Unknown, used, expired or of a deactivated account: deliberately one answer.
    #[error(
        "this link does not work: it was used already, it expired (a link lasts one hour) or it \
         was cut short; ask for a new one from the sign-in page (\"Forgot your password?\")"
    )]
    BadToken,
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

impl Contention for ResetError {
    fn is_contention(&self) -> bool {
        matches!(self, ResetError::Identity(e) if e.is_contention())
    }
}

impl From<StoreError> for ResetError {
    fn from(e: StoreError) -> Self {
        ResetError::Identity(e.into())
    }
}

/// A new token and the hash stored for it.
fn derive_token() -> (String, String) {
    let token = hex::encode(rand::random::<[u8; 32]>());
    let hash = token_hash(&token);
    (token, hash)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The throttle's scopes for reset requests: the typed address's and the client's, kept
/// apart from sign-in's so that asking for a link never locks anyone out of signing in.
fn scopes(config: &Config, email: &str, client_ip: &str) -> Vec<Scope> {
    throttle::scopes(config, email, client_ip)
        .into_iter()
        .map(|s| Scope {
            key: format!("reset-{}", s.key),
            limit: s.limit,
        })
        .collect()
}

/// Asks for a reset link for the account of `email`, if there is one (see the module).
pub async fn request(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
    email: &str,
    client_ip: &str,
) -> Result<(), ResetError> {
    let scopes = scopes(config, email, client_ip);
    if let Verdict::Refused { retry_after_secs } = throttle::admit(db, config, now, &scopes).await?
    {
        return Err(ResetError::Throttled { retry_after_secs });
    }
    // Every admitted request counts against the limit: none is cleared as a success.
    // The same derivation for a known and an unknown address.
    let (token, hash) = derive_token();
    let found = match Email::parse(email) {
        Ok(email) => users::find_for_login(db, &email).await?,
        Err(_) => None,
    };
    let Some((user, _)) = found.filter(|(u, _)| u.active) else {
        // Unknown (or deactivated): the token is dropped; nothing is stored or audited.
        return Ok(());
    };
    let language: Language = user.language.parse().unwrap_or_default();
    let link = format!(
        "{}/reset?token={token}",
        config.base_url.trim_end_matches('/')
    );
    let written = PasswordReset { language, link }
        .write()
        .map_err(|e| IdentityError::Hash(e.to_string()))?;
    let mail = OutgoingMail {
        to: user.email.clone(),
        subject: written.subject,
        text: written.text,
        html: Some(written.html),
        dedupe_key: format!("password-reset:{hash}"),
        headers: Vec::new(),
    };
    write_tx!(db, |tx| -> Result<(), IdentityError> async {
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4)"
        )
        .bind(&hash)
        .bind(&user.id)
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
            &Actor::anonymous(),
            "user.password_reset_requested",
            &format!("user:{}", user.id),
            &json!({}),
        )
        .await?;
        Ok(())
    })?;
    Ok(())
}

/// Sets a new password with a reset token: the token is used up (and every other link of
/// the account with it), and every session of the account ends (tokens issued before now
/// are refused).
pub async fn confirm(
    db: &Db,
    now: DateTime<Utc>,
    token: &str,
    new_password: String,
) -> Result<(), ResetError> {
    let new_password = password::parse_new("password", new_password)?;
    let hash = token_hash(token.trim());
    // Hashed before the transaction: it is slow.
    let password_hash = password::hash(new_password).await?;
    write_tx!(db, |tx| -> Result<(), ResetError> async {
        let user_id = links::set_password(tx, now, Link::PasswordReset, &hash, &password_hash)
            .await?
            .ok_or(ResetError::BadToken)?;
        audit::append(
            tx,
            now,
            &Actor(format!("user:{user_id}")),
            "user.password_reset",
            &format!("user:{user_id}"),
            &json!({}),
        )
        .await?;
        // Every session of the account ends with the reset, by its row: `tokens_not_before`
        // alone counts in whole seconds and would spare one begun in the reset's second.
        super::sessions::end_in(
            tx,
            now,
            &Actor(format!("user:{user_id}")),
            &user_id,
            None,
            None,
            super::sessions::Ending::PasswordReset,
        )
        .await?;
        Ok(())
    })
}
