//! Session tokens: HS256 JWTs with `sub`, `roles`, `org`, `iat`, `exp`, `jti` and the
//! signing key's id in the header.
//!
//! Expiry is checked against Passage's [`Clock`](crate::clock::Clock), not the system
//! time, so tests can move time; jsonwebtoken's own `exp` check is turned off for that
//! reason. Only HS256 is accepted: `alg: none` and every other algorithm are refused.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::users::{self, User};
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

/// Why a token was refused. Every case is a 401 over HTTP.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not valid: sign in again")]
    Invalid,
    #[error("the session has expired: sign in again")]
    Expired,
    #[error("the session was signed out: sign in again")]
    Revoked,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Signs a token for `user` with the newest key.
pub async fn issue(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
    user: &User,
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
    Ok(Issued {
        token,
        expires_at,
        jti: claims.jti,
    })
}

/// Checks the signature (with the key the header names), the expiry against `now` and
/// the revocation list, and answers the claims with the user they name (`None` when no
/// user has that id). The revocation list and the user are read in one query: every
/// request is checked this way, so that is one round trip instead of two.
pub async fn verify(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
    token: &str,
) -> Result<(Claims, Option<User>), TokenError> {
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
    if now.timestamp() >= claims.exp {
        return Err(TokenError::Expired);
    }
    match users::find_with_revocation(db, &claims.sub, &claims.jti).await? {
        Some((_, true)) => Err(TokenError::Revoked),
        Some((user, false)) => Ok((claims, Some(user))),
        None => Ok((claims, None)),
    }
}

/// Signs a token out before it expires. Rows of tokens that have expired anyway are
/// removed on the way: an expired token is refused without them.
pub async fn revoke(
    db: &Db,
    now: DateTime<Utc>,
    jti: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    write_tx!(db, |tx| {
        async {
        crate::on_tx!(tx, c => sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
            .bind(now)
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
        Ok::<_, StoreError>(())
    }
    .await
    })
}

impl From<sqlx::Error> for TokenError {
    fn from(e: sqlx::Error) -> Self {
        TokenError::Store(e.into())
    }
}
