//! Who is asking, and whether they may: the one place where authentication and roles are
//! checked.
//!
//! A handler that takes [`AuthUser`] cannot run without a valid, unexpired, unrevoked
//! token of an active user. A handler that takes [`Authorized<R>`] also cannot run unless
//! the user holds one of the roles `R` names, so each route states its roles in its
//! signature. The roles come from the database on every request, not from the token, so
//! removing a role or deactivating a user takes effect at once.

use std::marker::PhantomData;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::{DateTime, TimeZone, Utc};

use super::error::ApiError;
use crate::config::{Config, SecondFactor};
use crate::domain::{Role, Roles};
use crate::identity::tokens;
use crate::state::AppState;

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: String,
    pub roles: Roles,
    pub org_id: Option<String>,
    /// The language the user chose; the web pages speak it.
    pub language: crate::domain::Language,
    /// How pages name the user: their display name, else their email.
    pub label: String,
    /// The token's id (its session's id) and expiry, for signing out.
    pub jti: String,
    pub expires_at: DateTime<Utc>,
    /// When the session was last seen before this request (the pages' idle check).
    pub last_seen: DateTime<Utc>,
    /// The user has a confirmed second factor.
    pub enrolled: bool,
    /// A treasurer or admin without a second factor while one is required: the session
    /// opens nothing but enrolment and signing out ([`Enrolling`]).
    pub must_enrol: bool,
}

impl AuthUser {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(role)
    }

    /// Ok when the user holds any of `allowed`; 403 otherwise.
    pub fn require(&self, allowed: &[Role]) -> Result<(), ApiError> {
        if allowed.iter().any(|r| self.has(*r)) {
            Ok(())
        } else {
            let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
            Err(ApiError::Forbidden(format!(
                "this needs the role {}: ask an admin if you should have it",
                names.join(" or ")
            )))
        }
    }

    /// The user as the request lifecycle sees them.
    pub fn staff(&self) -> crate::cases::Staff {
        crate::cases::Staff {
            user_id: self.id.clone(),
            org_id: self.org_id.clone(),
            treasurer: self.has(Role::Treasurer),
            caseworker: self.has(Role::Caseworker),
        }
    }
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let missing = || {
        ApiError::Unauthorized(
            "sign in first (POST /api/v1/auth/login) and send the token as `Authorization: Bearer TOKEN`"
                .into(),
        )
    };
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(missing)?;
    let (scheme, token) = value.split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(missing());
    }
    Ok(token.trim())
}

/// Whether a user holding `roles` must enrol a second factor before anything else.
pub fn must_enrol(config: &Config, roles: &Roles, enrolled: bool) -> bool {
    config.second_factor == SecondFactor::Required
        && !enrolled
        && (roles.contains(Role::Treasurer) || roles.contains(Role::Admin))
}

/// The user a token belongs to, if the token is valid, unexpired and unrevoked, its
/// session not ended, and the user is active. The JSON API reads the token from
/// `Authorization`, the web pages from their session cookie; both come here. The session's
/// use is recorded in memory ([`crate::identity::sessions::Activity`]), not written.
pub async fn authenticate(state: &AppState, token: &str) -> Result<AuthUser, ApiError> {
    let now = state.clock.now();
    let (claims, found) = tokens::verify(&state.db, &state.config, now, token).await?;
    let (user, standing) = found
        .filter(|(u, _)| u.active)
        .ok_or_else(|| ApiError::Unauthorized("this account is not active: ask an admin".into()))?;
    if user
        .tokens_not_before
        .is_some_and(|nb| claims.iat < nb.timestamp())
    {
        return Err(ApiError::Unauthorized(
            "this session began before the account was reactivated: sign in again".into(),
        ));
    }
    let stored = standing.session_last_seen.unwrap_or(now);
    let last_seen = state
        .activity
        .last_seen(&claims.jti)
        .map_or(stored, |seen| seen.max(stored));
    state.activity.touch(&claims.jti, now);
    Ok(AuthUser {
        must_enrol: must_enrol(&state.config, &user.roles, standing.enrolled),
        enrolled: standing.enrolled,
        last_seen,
        language: user.language.parse().unwrap_or_default(),
        label: user.display_name.unwrap_or(user.email),
        id: user.id,
        roles: user.roles,
        org_id: user.org_id,
        jti: claims.jti,
        expires_at: Utc
            .timestamp_opt(claims.exp, 0)
            .single()
            .unwrap_or_else(|| state.clock.now()),
    })
}

/// What a treasurer or admin who must enrol is told on every other route.
pub const ENROL_FIRST: &str = "treasurers and admins set up a second factor before anything else: \
     POST /api/v1/auth/totp, then POST /api/v1/auth/totp/confirm with a code from your app \
     (on the pages: /account/second-factor)";

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = authenticate(state, bearer(parts)?).await?;
        if user.must_enrol {
            return Err(ApiError::EnrolmentRequired(ENROL_FIRST.into()));
        }
        Ok(user)
    }
}

/// A signed-in user, enrolled or not: for the routes a treasurer or admin who must still
/// set up a second factor may use (enrolment, signing out).
pub struct Enrolling(pub AuthUser);

impl FromRequestParts<AppState> for Enrolling {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Enrolling(authenticate(state, bearer(parts)?).await?))
    }
}

/// A set of roles a route accepts.
pub trait Allowed {
    const ROLES: &'static [Role];
}

/// Admins only: users, organisations, keys.
pub struct Admin;
impl Allowed for Admin {
    const ROLES: &'static [Role] = &[Role::Admin];
}

/// Admins and treasurers (treasurers see everything).
pub struct AdminOrTreasurer;
impl Allowed for AdminOrTreasurer {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Treasurer];
}

/// Treasurers only: money decisions.
pub struct Treasurer;
impl Allowed for Treasurer {
    const ROLES: &'static [Role] = &[Role::Treasurer];
}

/// Caseworkers and treasurers: reading cases and requests, receipts, cancelling.
pub struct CaseworkerOrTreasurer;
impl Allowed for CaseworkerOrTreasurer {
    const ROLES: &'static [Role] = &[Role::Caseworker, Role::Treasurer];
}

/// Caseworkers only: opening cases and asking for money.
pub struct Caseworker;
impl Allowed for Caseworker {
    const ROLES: &'static [Role] = &[Role::Caseworker];
}

/// A signed-in user who holds one of the roles `R` allows.
pub struct Authorized<R: Allowed>(pub AuthUser, PhantomData<R>);

impl<R: Allowed> std::ops::Deref for Authorized<R> {
    type Target = AuthUser;
    fn deref(&self) -> &AuthUser {
        &self.0
    }
}

impl<R: Allowed + Send + Sync> FromRequestParts<AppState> for Authorized<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        user.require(R::ROLES)?;
        Ok(Authorized(user, PhantomData))
    }
}

/// The address the request came from, for sign-in throttling. Behind a reverse proxy
/// this is the proxy's address (forwarded headers are not trusted).
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(roles: &[Role], org: Option<&str>) -> AuthUser {
        AuthUser {
            id: "u".into(),
            roles: Roles::new(roles.to_vec()).unwrap(),
            org_id: org.map(Into::into),
            language: crate::domain::Language::En,
            label: "u@example.org".into(),
            jti: "j".into(),
            expires_at: Utc::now(),
            last_seen: Utc::now(),
            enrolled: false,
            must_enrol: false,
        }
    }

    #[test]
    fn require_refuses_a_user_without_the_role() {
        let t = user(&[Role::Treasurer], None);
        assert!(t.require(&[Role::Admin, Role::Treasurer]).is_ok());
        assert_eq!(
            t.require(&[Role::Admin]).unwrap_err().status(),
            axum::http::StatusCode::FORBIDDEN
        );
    }
}
