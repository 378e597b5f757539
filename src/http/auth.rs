//! Signing in and out.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json};
use axum::http::HeaderMap;
use axum::http::header::USER_AGENT;

use super::extractor::{AuthUser, ClientIp, Enrolling};
use super::openapi::{BadRequest, Invalid, TooLarge, TooManyRequests, Unauthorized};
use crate::domain::Role;
use crate::identity::sessions::Origin;
use crate::identity::users::User;
use crate::identity::{invitations, reset, sign_in, tokens};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(change_password))
        .routes(routes!(reset_request))
        .routes(routes!(reset_confirm))
        .routes(routes!(accept_invitation))
}

/// No `Debug`: the token and the password must never be printed.
#[derive(Deserialize, ToSchema)]
struct InvitationAcceptance {
    /// The `token` of the emailed invitation link.
    token: String,
    /// 12 to 1024 characters, not one of the 100,000 most common passwords.
    #[schema(format = Password, min_length = 12, max_length = 1024)]
    password: String,
}

/// Accepts an invitation: sets the invitee's first password with the emailed link's
/// token, which is used up. A used, replaced, expired or unknown token (or a reset
/// link's) is 422 on `token`; a password too short, too long or common is 422 on
/// `password` and leaves the link usable. Then sign in as usual.
#[utoipa::path(
    post,
    path = "/api/v1/auth/invitation",
    tag = "auth",
    request_body = InvitationAcceptance,
    responses(
        (status = 204, description = "The password is set: sign in with it"),
        BadRequest,
        TooLarge,
        Invalid,
    ),
)]
async fn accept_invitation(
    State(state): State<AppState>,
    Json(body): Json<InvitationAcceptance>,
) -> Result<StatusCode, ApiError> {
    invitations::accept(&state.db, state.clock.now(), &body.token, body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
struct ResetRequest {
    #[schema(example = "caseworker@example.org")]
    email: String,
}

/// The one answer to a reset request, whoever asks about whatever address.
#[derive(Serialize, ToSchema)]
struct ResetRequested {
    #[schema(
        example = "If an account has this address, a link to set a new password is on its way: it works once, for one hour."
    )]
    message: &'static str,
}

const RESET_REQUESTED: &str = "If an account has this address, a link to set a new password is on its way: it works once, for one hour.";

/// Asks for a link to set a new password. The same 202, body and headers whether or not
/// the address has an account; throttled (429) by the typed address and the client's.
#[utoipa::path(
    post,
    path = "/api/v1/auth/reset",
    tag = "auth",
    request_body = ResetRequest,
    responses(
        (status = 202, body = ResetRequested),
        BadRequest,
        TooLarge,
        Invalid,
        TooManyRequests,
    ),
)]
async fn reset_request(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<ResetRequest>,
) -> Result<(StatusCode, Json<ResetRequested>), ApiError> {
    reset::request(
        &state.db,
        &state.config,
        state.clock.now(),
        &body.email,
        &ip,
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ResetRequested {
            message: RESET_REQUESTED,
        }),
    ))
}

/// No `Debug`: the token and the password must never be printed.
#[derive(Deserialize, ToSchema)]
struct ResetConfirm {
    /// The `token` of the emailed link.
    token: String,
    /// 12 to 1024 characters, not one of the 100,000 most common passwords.
    #[schema(format = Password, min_length = 12, max_length = 1024)]
    password: String,
}

/// Sets a new password with an emailed link's token: the link is used up and every
/// session of the account ends. A used, expired or unknown token is 422 on `token`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/reset/confirm",
    tag = "auth",
    request_body = ResetConfirm,
    responses(
        (status = 204, description = "The new password is set"),
        BadRequest,
        TooLarge,
        Invalid,
    ),
)]
async fn reset_confirm(
    State(state): State<AppState>,
    Json(body): Json<ResetConfirm>,
) -> Result<StatusCode, ApiError> {
    reset::confirm(&state.db, state.clock.now(), &body.token, body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// No `Debug`: the passwords must never be printed.
#[derive(Deserialize, ToSchema)]
struct PasswordChange {
    /// The password the user signs in with now.
    #[schema(format = Password)]
    current: String,
    /// 12 to 1024 characters, not one of the 100,000 most common passwords.
    #[schema(format = Password, min_length = 12, max_length = 1024)]
    new: String,
}

/// Changes the signed-in user's own password; the current one is required. A wrong
/// current password answers 422 (field `current`) and counts as a failed sign-in, so it is
/// throttled (429) like sign-in; a new password that is too short, too long or one of the
/// 100,000 most common answers 422 (field `new`). The user's sessions stay signed in.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password",
    tag = "auth",
    security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed"),
        BadRequest,
        Unauthorized,
        TooLarge,
        Invalid,
        TooManyRequests,
    ),
)]
async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    auth: AuthUser,
    Json(body): Json<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    sign_in::change_password(
        &state.db,
        &state.config,
        state.clock.now(),
        &auth.id,
        body.current,
        body.new,
        &ip,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// No `Debug`: the password must never be printed.
#[derive(Deserialize, ToSchema)]
struct Credentials {
    #[schema(example = "treasurer@example.org")]
    email: String,
    #[schema(format = Password)]
    password: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct SignedIn {
    /// Send it as `Authorization: Bearer TOKEN`.
    token: String,
    expires_at: DateTime<Utc>,
    user: SignedInUser,
}

#[derive(Serialize, ToSchema)]
pub(super) struct SignedInUser {
    id: String,
    roles: Vec<Role>,
    org_id: Option<String>,
}

pub(super) fn signed_in(user: User, issued: tokens::Issued) -> SignedIn {
    SignedIn {
        token: issued.token,
        expires_at: issued.expires_at,
        user: SignedInUser {
            id: user.id,
            roles: user.roles.iter().collect(),
            org_id: user.org_id,
        },
    }
}

/// The account has a second factor: no token yet.
#[derive(Serialize, ToSchema)]
struct SecondFactorRequired {
    /// Always true.
    second_factor_required: bool,
    /// Send it with a code to POST /api/v1/auth/second-factor within five minutes; it
    /// works once and opens nothing else.
    challenge: String,
}

/// What a right password answers: a token, or (with a second factor) a challenge.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
enum LoginAnswer {
    SignedIn(SignedIn),
    SecondFactorRequired(SecondFactorRequired),
}

/// Signs in with an email and a password and answers a token; for an account with a
/// second factor, `{"second_factor_required": true, "challenge": ...}` instead, and
/// POST /api/v1/auth/second-factor gives the token.
/// Every failure answers the same 401 after the same work (see `identity::sign_in`).
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = Credentials,
    responses(
        (status = 200, body = LoginAnswer),
        BadRequest,
        Unauthorized,
        TooLarge,
        Invalid,
        TooManyRequests,
    ),
)]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<Credentials>,
) -> Result<Json<LoginAnswer>, ApiError> {
    let origin = Origin::new(headers.get(USER_AGENT).and_then(|v| v.to_str().ok()), &ip);
    let answer = match sign_in::sign_in(
        &state.db,
        &state.config,
        state.clock.now(),
        &body.email,
        body.password,
        &origin,
    )
    .await?
    {
        sign_in::SignedIn::Session(user, issued) => LoginAnswer::SignedIn(signed_in(*user, issued)),
        sign_in::SignedIn::SecondFactor { challenge } => {
            LoginAnswer::SecondFactorRequired(SecondFactorRequired {
                second_factor_required: true,
                challenge,
            })
        }
    };
    Ok(Json(answer))
}

/// Signs out: revokes the token the request came with and ends its session; other
/// sessions of the user stay.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 204, description = "Signed out"), Unauthorized),
)]
async fn logout(
    State(state): State<AppState>,
    Enrolling(auth): Enrolling,
) -> Result<StatusCode, ApiError> {
    tokens::revoke(&state.db, state.clock.now(), &auth.jti, auth.expires_at).await?;
    Ok(StatusCode::NO_CONTENT)
}
