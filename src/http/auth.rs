//! Signing in and out.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json};
use super::extractor::{AuthUser, ClientIp};
use super::openapi::{BadRequest, Invalid, TooLarge, TooManyRequests, Unauthorized};
use crate::app::AppState;
use crate::domain::{Email, Role};
use crate::identity::throttle::{self, Verdict};
use crate::identity::{password, tokens, users};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
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
struct SignedIn {
    /// Send it as `Authorization: Bearer TOKEN`.
    token: String,
    expires_at: DateTime<Utc>,
    user: SignedInUser,
}

#[derive(Serialize, ToSchema)]
struct SignedInUser {
    id: String,
    roles: Vec<Role>,
    org_id: Option<String>,
}

fn refused() -> ApiError {
    ApiError::Unauthorized("the email or the password is wrong".into())
}

/// Signs in with an email and a password and answers a token.
///
/// Every failure (unknown email, wrong password, deactivated account) does the same
/// work (one argon2 verification), records the same failure and waits the same delay,
/// so neither the answer nor its timing tells which it was.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = Credentials,
    responses(
        (status = 200, body = SignedIn),
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
    Json(body): Json<Credentials>,
) -> Result<Json<SignedIn>, ApiError> {
    let now = state.clock.now();
    let config = &state.config;
    let scopes = throttle::scopes(config, &body.email, &ip);
    let (attempt, failures) = match throttle::admit(&state.db, config, now, &scopes).await? {
        Verdict::Refused { retry_after_secs } => {
            return Err(ApiError::TooManyRequests {
                message: format!(
                    "too many failed sign-ins: try again in {retry_after_secs} seconds"
                ),
                retry_after_secs,
            });
        }
        Verdict::Admitted { attempt, failures } => (attempt, failures),
    };
    let found = match Email::parse(&body.email) {
        Ok(email) => users::find_for_login(&state.db, &email).await?,
        Err(_) => None,
    };
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let matches = password::verify(body.password, hash).await;
    let user = match user {
        Some(user) if matches && user.active => user,
        _ => {
            // The attempt is already recorded as a failure.
            tokio::time::sleep(throttle::failure_delay(config, failures)).await;
            return Err(refused());
        }
    };
    throttle::succeeded(&state.db, &attempt, &scopes[0]).await?;
    let issued = tokens::issue(&state.db, config, now, &user).await?;
    Ok(Json(SignedIn {
        token: issued.token,
        expires_at: issued.expires_at,
        user: SignedInUser {
            id: user.id,
            roles: user.roles.iter().collect(),
            org_id: user.org_id,
        },
    }))
}

/// Signs out: revokes the token the request came with; other sessions of the user stay.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 204, description = "Signed out"), Unauthorized),
)]
async fn logout(State(state): State<AppState>, auth: AuthUser) -> Result<StatusCode, ApiError> {
    tokens::revoke(&state.db, state.clock.now(), &auth.jti, auth.expires_at).await?;
    Ok(StatusCode::NO_CONTENT)
}
