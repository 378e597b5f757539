//! Session tokens: HS256 JWTs with `sub`, `roles`, `org`, `iat`, `exp`, `jti` and the
//! signing key's id in the header.
//!
//! Expiry is checked against Passage's [`Clock`](crate::clock::Clock), not the system
//! time, so tests can move time; jsonwebtoken's own `exp` check is turned off for that
//! reason. Only HS256 is accepted: `alg: none` and every other algorithm are refused.
//! A token is refused too when its signing key is retired, or is a stored key while a
//! secret is configured ([`keys::verifies_sessions`]), when it claims to last longer than
//! `PASSAGE_TOKEN_HOURS` (`exp - iat`), and when it claims to be issued more than
//! [`MAX_CLOCK_SKEW_SECS`] ahead of the clock: Passage never signs such a token, so one
//! can only come from a leaked key or from before the setting was lowered.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::sessions::{self, Origin};
use super::users::{self, TokenStanding, User};
use super::{IdentityError, keys};
use crate::config::Config;
use crate::domain::Role;
use crate::store::{Db, StoreError};
use crate::write_tx;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub roles: Vec<Role>,
    pub org: Option<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

#[derive(Debug, Clone)]
pub struct Issued {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub jti: String,
}

/// How far ahead of this instance's clock a token's `iat` may be: instances sharing a
/// database sign each other's tokens, and their clocks differ a little (NTP).
pub const MAX_CLOCK_SKEW_SECS: i64 = 60;

/// Why a token was refused. Every case is a 401 over HTTP.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not valid: sign in again")]
    Invalid,
    #[error("the session has expired: sign in again")]
    Expired,
    #[error("the session was signed out: sign in again")]
    Revoked,
    #[error("the token's signing key was retired and is no longer in use: sign in again")]
    KeyRetired,
    #[error(
        "the token claims to last longer than a session on this server (PASSAGE_TOKEN_HOURS): sign in again"
    )]
    TooLong,
    #[error(
        "the token claims to be issued in the future (ahead of this server's clock by more than a minute): sign in again"
    )]
    FromTheFuture,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Signs a token for `user` with the newest key, as a session of an unknown origin (the
/// CLI, tests).
pub async fn issue(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
    user: &User,
) -> Result<Issued, IdentityError> {
    issue_session(db, config, now, user, &Origin::unknown()).await
}

/// Signs a token for `user` with the newest key and stores its session (id = the token's
/// `jti`), which the token needs to be accepted.
pub async fn issue_session(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
    user: &User,
    origin: &Origin,
) -> Result<Issued, IdentityError> {
    let key = keys::current(db, config, now).await?;
    let expires_at = now + Duration::hours(i64::from(config.token_hours));
    let claims = Claims {
        sub: user.id.clone(),
        roles: user.roles.iter().collect(),
        org: user.org_id.clone(),
        iat: now.timestamp(),
        exp: expires_at.timestamp(),
        jti: uuid::Uuid::new_v4().to_string(),
    };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.kid.clone());
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(key.secret_bytes()),
    )
    .map_err(|e| IdentityError::Hash(format!("cannot sign the token: {e}")))?;
    write_tx!(db, |tx| -> Result<(), StoreError> async {
        sessions::create(tx, &claims.jti, &user.id, origin, now, expires_at).await
    })?;
    Ok(Issued {
        token,
        expires_at,
        jti: claims.jti,
    })
}

/// Checks the signature (with the key the header names), that the key may verify sessions
/// and is not retired, the lifetime and expiry against `now`, the revocation list and the
/// session, and answers the claims with the user they name (`None` when no user has that
/// id) and where the token stands (its session's last-seen time, whether the user has a
/// second factor). All of that is read in one query: every request is checked this way.
pub async fn verify(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
    token: &str,
) -> Result<(Claims, Option<(User, TokenStanding)>), TokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
    if header.alg != Algorithm::HS256 {
        return Err(TokenError::Invalid);
    }
    let kid = header.kid.ok_or(TokenError::Invalid)?;
    let key = keys::find(db, config, &kid)
        .await?
        .ok_or(TokenError::Invalid)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.leeway = 0;
    validation.required_spec_claims = HashSet::new();
    let data = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(key.secret_bytes()),
        &validation,
    )
    .map_err(|_| TokenError::Invalid)?;
    let claims = data.claims;
    if !keys::verifies_sessions(config, &kid) {
        return Err(TokenError::KeyRetired);
    }
    if claims.iat > now.timestamp().saturating_add(MAX_CLOCK_SKEW_SECS) {
        return Err(TokenError::FromTheFuture);
    }
    if claims.exp.saturating_sub(claims.iat) > i64::from(config.token_hours) * 3600 {
        return Err(TokenError::TooLong);
    }
    if now.timestamp() >= claims.exp {
        return Err(TokenError::Expired);
    }
    match users::find_with_revocation(db, &claims.sub, &claims.jti, &kid).await? {
        Some((_, standing)) if standing.key_retired => Err(TokenError::KeyRetired),
        Some((_, standing)) if standing.revoked || standing.session_last_seen.is_none() => {
            Err(TokenError::Revoked)
        }
        Some((user, standing)) => Ok((claims, Some((user, standing)))),
        None => Ok((claims, None)),
    }
}

/// Signs a token out before it expires, ending its session. Rows of tokens that have expired anyway are
/// removed on the way: an expired token is refused without them.
pub async fn revoke(
    db: &Db,
    now: DateTime<Utc>,
    jti: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    write_tx!(db, |tx| -> Result<(), StoreError> async {
        crate::on_tx!(tx, c => sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
            .bind(now)
            .execute(c)
            .await
            .map(|_| ()))?;
        crate::on_tx!(tx, c => sqlx::query(
            "UPDATE sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL"
        )
        .bind(now)
        .bind(jti)
        .execute(c)
        .await
        .map(|_| ()))?;
        crate::on_tx!(tx, c => sqlx::query(
            "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING"
        )
        .bind(jti)
        .bind(expires_at)
        .execute(c)
        .await
        .map(|_| ()))?;
        Ok(())
    })
}

impl From<sqlx::Error> for TokenError {
    fn from(e: sqlx::Error) -> Self {
        TokenError::Store(e.into())
    }
}
