//! What else an admin does: the keys that sign sessions (`passage keys` on the command
//! line does the same) and the instance's settings, read-only.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json, Path};
use super::extractor::{Admin, Authorized};
use super::openapi::{Conflict, Forbidden, NotFound, Unauthorized};
use crate::audit::Actor;
use crate::config::Facts;
use crate::identity::keys::{self, Retirement};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys))
        .routes(routes!(rotate_key))
        .routes(routes!(retire_key))
        .routes(routes!(settings))
}

/// A signing key, never its secret.
#[derive(Serialize, ToSchema)]
struct KeyView {
    kid: String,
    created_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
    /// Whether it signs new sessions (the newest unretired key, when no secret is set).
    signing: bool,
}

/// The stored keys, oldest first, and which one signs.
async fn key_views(state: &AppState) -> Result<Vec<KeyView>, ApiError> {
    let all = keys::list(&state.db).await?;
    let configured = state.config.jwt_secret.is_some();
    let signing = all
        .iter()
        .rev()
        .find(|k| k.retired_at.is_none())
        .map(|k| k.kid.clone());
    Ok(all
        .into_iter()
        .map(|k| KeyView {
            signing: !configured && Some(&k.kid) == signing.as_ref(),
            kid: k.kid,
            created_at: k.created_at,
            retired_at: k.retired_at,
        })
        .collect())
}

/// Lists the signing keys stored in the database (never a secret).
#[utoipa::path(
    get,
    path = "/api/v1/keys",
    tag = "keys",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<KeyView>), Unauthorized, Forbidden),
)]
async fn list_keys(
    State(state): State<AppState>,
    _: Authorized<Admin>,
) -> Result<Json<Vec<KeyView>>, ApiError> {
    Ok(Json(key_views(&state).await?))
}

#[derive(Serialize, ToSchema)]
struct Rotated {
    /// The new key, which signs from now on; older keys keep verifying.
    kid: String,
}

/// Adds a key that signs new sessions from now on; sessions signed before stay valid
/// until they expire. 409 when `PASSAGE_JWT_SECRET` or `PASSAGE_JWT_KEY_FILE` is set.
#[utoipa::path(
    post,
    path = "/api/v1/keys/rotate",
    tag = "keys",
    security(("bearer" = [])),
    responses((status = 201, body = Rotated), Unauthorized, Forbidden, Conflict),
)]
async fn rotate_key(
    State(state): State<AppState>,
    auth: Authorized<Admin>,
) -> Result<(StatusCode, Json<Rotated>), ApiError> {
    let actor = Actor(format!("user:{}", auth.id));
    let kid = keys::rotate(&state.db, &state.config, state.clock.now(), &actor).await?;
    Ok((StatusCode::CREATED, Json(Rotated { kid })))
}

#[derive(Serialize, ToSchema)]
struct Retired {
    kid: String,
    retired_at: DateTime<Utc>,
    /// False when it was retired already: nothing changed.
    changed: bool,
    /// The key made to sign in its place, when it was the one signing.
    signing: Option<String>,
}

/// Retires a key: every session it signed ends at once, on every instance (retiring the
/// key that signs makes a new one first). Retiring a retired key changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/keys/{kid}/retire",
    tag = "keys",
    security(("bearer" = [])),
    params(("kid" = String, Path, description = "The key's id")),
    responses((status = 200, body = Retired), Unauthorized, Forbidden, NotFound, Conflict),
)]
async fn retire_key(
    State(state): State<AppState>,
    auth: Authorized<Admin>,
    Path(kid): Path<String>,
) -> Result<Json<Retired>, ApiError> {
    let actor = Actor(format!("user:{}", auth.id));
    let now = state.clock.now();
    Ok(Json(
        match keys::retire(&state.db, &state.config, now, &actor, &kid).await? {
            Retirement::Retired { signing } => Retired {
                kid,
                retired_at: now,
                changed: true,
                signing,
            },
            Retirement::Already(at) => Retired {
                kid,
                retired_at: at,
                changed: false,
                signing: None,
            },
        },
    ))
}

/// The instance's settings as facts: the engine, the mail transport (never a password),
/// the retention, the base URL. Set them in the environment or `PASSAGE_CONFIG`.
#[utoipa::path(
    get,
    path = "/api/v1/settings",
    tag = "settings",
    security(("bearer" = [])),
    responses((status = 200, body = Facts), Unauthorized, Forbidden),
)]
async fn settings(State(state): State<AppState>, _: Authorized<Admin>) -> Json<Facts> {
    Json(state.config.facts())
}
