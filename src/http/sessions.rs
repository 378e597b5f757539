//! The second factor (enrolment, the second step of signing in, an admin's reset) and
//! sessions (one's own, ending them; an admin ending someone's).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{SignedIn, signed_in};
use super::error::{ApiError, Json, Path};
use super::extractor::{Admin, AuthUser, Authorized, ClientIp, Enrolling};
use super::openapi::{
    BadRequest, Conflict, Forbidden, Invalid, NotFound, TooLarge, TooManyRequests, Unauthorized,
    Unavailable,
};
use crate::audit::Actor;
use crate::identity::second_factor;
use crate::identity::sessions::{self, Ending};
use crate::identity::users;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(enrol))
        .routes(routes!(confirm))
        .routes(routes!(second_step))
        .routes(routes!(list, end_others))
        .routes(routes!(end_one))
        .routes(routes!(end_users_sessions))
        .routes(routes!(reset_factor))
}

/// What enrolment shows once. No `Debug`: the secret and the codes must never be printed.
#[derive(Serialize, ToSchema)]
struct Enrolment {
    /// The TOTP secret in base32, to type into an authenticator app by hand.
    secret: String,
    /// `otpauth://totp/Passage:EMAIL?secret=...&issuer=Passage`: what a QR code holds.
    otpauth_uri: String,
    /// Ten single-use codes for when the phone is lost; shown only now.
    recovery_codes: Vec<String>,
}

/// Starts setting up a second factor (TOTP, RFC 6238: SHA-1, 6 digits, 30 s): answers the
/// secret and ten recovery codes, once. It takes effect when confirmed with a code. Asking
/// again before confirming starts over; once confirmed, 409 (an admin resets a factor).
#[utoipa::path(
    post,
    path = "/api/v1/auth/totp",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, body = Enrolment), Unauthorized, Conflict, Unavailable),
)]
async fn enrol(
    State(state): State<AppState>,
    Enrolling(auth): Enrolling,
) -> Result<Json<Enrolment>, ApiError> {
    let user = users::find(&state.db, &auth.id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("this account is not active: ask an admin".into()))?;
    let e = second_factor::start(&state.db, &state.config, state.clock.now(), &user).await?;
    Ok(Json(Enrolment {
        secret: e.secret,
        otpauth_uri: e.otpauth_uri,
        recovery_codes: e.recovery_codes,
    }))
}

/// No `Debug`: the code must never be printed.
#[derive(Deserialize, ToSchema)]
struct CodeBody {
    /// The 6 digits the authenticator app shows now.
    #[schema(example = "123456")]
    code: String,
}

/// Confirms the second factor with the first code of the app: from now on signing in
/// asks for a code. A wrong or reused code is 422 (`code`) and counts against the
/// throttle (429).
#[utoipa::path(
    post,
    path = "/api/v1/auth/totp/confirm",
    tag = "auth",
    security(("bearer" = [])),
    request_body = CodeBody,
    responses(
        (status = 204, description = "The second factor is set up"),
        BadRequest,
        Unauthorized,
        Conflict,
        TooLarge,
        Invalid,
        TooManyRequests,
        Unavailable,
    ),
)]
async fn confirm(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Enrolling(auth): Enrolling,
    Json(body): Json<CodeBody>,
) -> Result<StatusCode, ApiError> {
    second_factor::confirm(
        &state.db,
        &state.config,
        state.clock.now(),
        &auth.id,
        &body.code,
        &ip,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// No `Debug`: the challenge and the code must never be printed.
#[derive(Deserialize, ToSchema)]
struct SecondStep {
    /// The `challenge` the sign-in answered.
    challenge: String,
    /// A TOTP code (6 digits) or a recovery code (`XXXX-XXXX-XXXX-XXXX`).
    code: String,
}

/// The second step of signing in, for an account with a second factor: the sign-in's
/// challenge (five minutes, once) and a code give the token. A wrong, reused or
/// recovery code already used is 422 (`code`), throttled like sign-in (429); a used or
/// expired challenge is 422 (`challenge`): sign in again.
#[utoipa::path(
    post,
    path = "/api/v1/auth/second-factor",
    tag = "auth",
    request_body = SecondStep,
    responses(
        (status = 200, body = SignedIn),
        BadRequest,
        TooLarge,
        Invalid,
        TooManyRequests,
        Unavailable,
    ),
)]
async fn second_step(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<SecondStep>,
) -> Result<Json<SignedIn>, ApiError> {
    let (user, issued) = second_factor::complete(
        &state.db,
        &state.config,
        state.clock.now(),
        &body.challenge,
        &body.code,
        &ip,
    )
    .await?;
    Ok(Json(signed_in(user, issued)))
}

#[derive(Serialize, ToSchema)]
struct Session {
    id: String,
    /// The session this request came with.
    current: bool,
    /// The browser or program, in plain words ("Firefox on Android").
    device: String,
    /// The address it signed in from.
    address: String,
    first_seen: DateTime<Utc>,
    /// Written at most once a minute.
    last_seen: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
struct Sessions {
    items: Vec<Session>,
}

/// The signed-in user's active sessions, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/auth/sessions",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, body = Sessions), Unauthorized, Forbidden),
)]
async fn list(State(state): State<AppState>, auth: AuthUser) -> Result<Json<Sessions>, ApiError> {
    let lines = sessions::list(&state.db, &state.activity, &auth.id, state.clock.now()).await?;
    Ok(Json(Sessions {
        items: lines
            .into_iter()
            .map(|l| Session {
                current: l.id == auth.jti,
                id: l.id,
                device: l.device,
                address: l.address,
                first_seen: l.first_seen,
                last_seen: l.last_seen,
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
struct Ended {
    /// How many sessions ended.
    ended: u64,
}

/// Ends every session of the signed-in user but this one ("sign out everywhere else").
#[utoipa::path(
    delete,
    path = "/api/v1/auth/sessions",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, body = Ended), Unauthorized, Forbidden),
)]
async fn end_others(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<Json<Ended>, ApiError> {
    let ended = sessions::end(
        &state.db,
        state.clock.now(),
        &Actor(format!("user:{}", auth.id)),
        &auth.id,
        None,
        Some(&auth.jti),
        Ending::ByUser,
    )
    .await?;
    Ok(Json(Ended { ended }))
}

/// Ends one of the signed-in user's sessions (this one too, if named): its token is
/// refused from the next request on. 404 when the user has no such active session.
#[utoipa::path(
    delete,
    path = "/api/v1/auth/sessions/{id}",
    tag = "auth",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The session's id")),
    responses(
        (status = 204, description = "The session ended"),
        Unauthorized,
        Forbidden,
        NotFound,
    ),
)]
async fn end_one(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let ended = sessions::end(
        &state.db,
        state.clock.now(),
        &Actor(format!("user:{}", auth.id)),
        &auth.id,
        Some(&id),
        None,
        Ending::ByUser,
    )
    .await?;
    if ended == 0 {
        return Err(ApiError::NotFound(
            "you have no active session with this id: GET /api/v1/auth/sessions lists them".into(),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of a user (admins): a lost phone, someone leaving. 404 for an
/// unknown user.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}/sessions",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, body = Ended), Unauthorized, Forbidden, NotFound),
)]
async fn end_users_sessions(
    State(state): State<AppState>,
    auth: Authorized<Admin>,
    Path(id): Path<String>,
) -> Result<Json<Ended>, ApiError> {
    if users::find(&state.db, &id).await?.is_none() {
        return Err(crate::identity::IdentityError::UnknownUser(id).into());
    }
    let ended = sessions::end(
        &state.db,
        state.clock.now(),
        &Actor(format!("user:{}", auth.id)),
        &id,
        None,
        None,
        Ending::ByAdmin,
    )
    .await?;
    Ok(Json(Ended { ended }))
}

/// Takes a user's second factor away (admins): a lost phone and no recovery code left.
/// The user sets up a new one on their next sign-in (treasurers and admins must). 404
/// for an unknown user.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/second-factor/reset",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The user's id")),
    responses(
        (status = 204, description = "The user has no second factor now"),
        Unauthorized,
        Forbidden,
        NotFound,
    ),
)]
async fn reset_factor(
    State(state): State<AppState>,
    auth: Authorized<Admin>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    second_factor::reset(
        &state.db,
        state.clock.now(),
        &Actor(format!("user:{}", auth.id)),
        &id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
