//! The signed links in a donor's email, with no password: HS256 JWTs signed by the same
//! keys as session tokens, but with claims of their own, so neither kind is ever taken for
//! the other (a session token has no `scope`, a donor link has no `roles`).
//!
//! - `donor_report`: opens one report and that donor's own gifts in its period, until it
//!   expires (`PASSAGE_DONOR_LINK_DAYS`); nothing else.
//! - `unsubscribe`: marks that donor unsubscribed (RFC 8058 one-click); it lasts longer,
//!   since an old email must still let its reader leave.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::identity::IdentityError;
use crate::identity::keys::{self, SigningKey};
use crate::store::{Db, StoreError};

pub const REPORT_SCOPE: &str = "donor_report";
pub const UNSUBSCRIBE_SCOPE: &str = "unsubscribe";

/// How long an unsubscribe link works.
pub const UNSUBSCRIBE_DAYS: i64 = 400;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DonorClaims {
    pub scope: String,
    pub donor: String,
    /// The report the link opens (`donor_report` only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub report: Option<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// Why a link was refused; every case is a 401, worded for a donor.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("this link is not valid: use the link in the email exactly as it is")]
    Invalid,
    #[error("this link has expired: the fund can send you a new one")]
    Expired,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn sign(key: &SigningKey, claims: &DonorClaims) -> Result<String, IdentityError> {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(key.secret_bytes()),
    )
    .map_err(|e| IdentityError::Hash(format!("cannot sign the link: {e}")))
}

/// The key that signs new links (the newest; generated if there is none yet).
pub async fn signing_key(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<SigningKey, IdentityError> {
    keys::current(db, config, now).await
}

/// A token that opens `report` for `donor` until `now + PASSAGE_DONOR_LINK_DAYS`.
pub fn report_token(
    key: &SigningKey,
    config: &Config,
    now: DateTime<Utc>,
    donor: &str,
    report: &str,
) -> Result<String, IdentityError> {
    let exp = now + Duration::days(i64::from(config.donor_link_days));
    sign(
        key,
        &DonorClaims {
            scope: REPORT_SCOPE.into(),
            donor: donor.into(),
            report: Some(report.into()),
            iat: now.timestamp(),
            exp: exp.timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
        },
    )
}

/// A token that unsubscribes `donor` from report emails.
pub fn unsubscribe_token(
    key: &SigningKey,
    now: DateTime<Utc>,
    donor: &str,
) -> Result<String, IdentityError> {
    let exp = now + Duration::days(UNSUBSCRIBE_DAYS);
    sign(
        key,
        &DonorClaims {
            scope: UNSUBSCRIBE_SCOPE.into(),
            donor: donor.into(),
            report: None,
            iat: now.timestamp(),
            exp: exp.timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
        },
    )
}

/// Checks a link's signature, scope and expiry (against Passage's clock).
pub async fn verify(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
    token: &str,
    scope: &str,
) -> Result<DonorClaims, LinkError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| LinkError::Invalid)?;
    if header.alg != Algorithm::HS256 {
        return Err(LinkError::Invalid);
    }
    let kid = header.kid.ok_or(LinkError::Invalid)?;
    let key = keys::find(db, config, &kid)
        .await?
        .ok_or(LinkError::Invalid)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.leeway = 0;
    validation.required_spec_claims = HashSet::new();
    let claims = jsonwebtoken::decode::<DonorClaims>(
        token,
        &DecodingKey::from_secret(key.secret_bytes()),
        &validation,
    )
    .map_err(|_| LinkError::Invalid)?
    .claims;
    if claims.scope != scope || (scope == REPORT_SCOPE && claims.report.is_none()) {
        return Err(LinkError::Invalid);
    }
    if now.timestamp() >= claims.exp {
        return Err(LinkError::Expired);
    }
    Ok(claims)
}
