//! Staff accounts, managed by admins. Password hashes never appear in an answer.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{post, put};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::{ApiError, Json};
use super::extractor::{Admin, Authorized};
use crate::app::AppState;
use crate::audit::Actor;
use crate::domain::{Email, Language, Password, Roles};
use crate::identity::users::{self, NewUser, User};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/users", post(create).get(list))
        .route("/api/v1/users/{id}/deactivate", post(deactivate))
        .route("/api/v1/users/{id}/reactivate", post(reactivate))
        .route("/api/v1/users/{id}/roles", put(set_roles))
        .route("/api/v1/users/{id}/on-call", put(set_on_call))
}

/// No `Debug`: the password must never be printed.
#[derive(Deserialize)]
struct NewUserBody {
    email: String,
    password: String,
    roles: Vec<String>,
    org_id: Option<String>,
    language: Option<String>,
    display_name: Option<String>,
}

#[derive(Serialize)]
struct Created {
    id: String,
}

fn invalid(field: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::Unprocessable {
        field: field.into(),
        message: e.to_string(),
    }
}

async fn create(
    State(state): State<AppState>,
    auth: Authorized<Admin>,
    Json(body): Json<NewUserBody>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let new = NewUser {
        email: Email::parse(&body.email).map_err(|e| invalid("email", e))?,
        password: Password::parse(body.password).map_err(|e| invalid("password", e))?,
        roles: Roles::parse_list(&body.roles.join(",")).map_err(|e| invalid("roles", e))?,
        org_id: body.org_id.filter(|o| !o.trim().is_empty()),
        language: match body.language.as_deref() {
            None => Language::default(),
            Some(l) => l.parse().map_err(|e| invalid("language", e))?,
        },
        display_name: users::parse_display_name(body.display_name.as_deref())?,
    };
    let actor = Actor(format!("user:{}", auth.id));
    let id = users::create(&state.db, state.clock.now(), &actor, new).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

#[derive(Deserialize)]
struct RolesBody {
    roles: Vec<String>,
    org_id: Option<String>,
}

async fn set_roles(
    State(state): State<AppState>,
    auth: Authorized<Admin>,
    Path(id): Path<String>,
    Json(body): Json<RolesBody>,
) -> Result<Json<Value>, ApiError> {
    let roles = Roles::parse_list(&body.roles.join(",")).map_err(|e| invalid("roles", e))?;
    let org_id = body.org_id.filter(|o| !o.trim().is_empty());
    let actor = Actor(format!("user:{}", auth.id));
    let user = users::set_roles(
        &state.db,
        state.clock.now(),
        &actor,
        Some(&auth.id),
        &id,
        &roles,
        org_id.as_deref(),
    )
    .await?;
    Ok(Json(
        json!({"id": user.id, "roles": user.roles, "org_id": user.org_id}),
    ))
}

async fn list(
    State(state): State<AppState>,
    _: Authorized<Admin>,
) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(users::list(&state.db).await?))
}

async fn set_active(
    state: AppState,
    auth: Authorized<Admin>,
    id: String,
    active: bool,
) -> Result<Json<Value>, ApiError> {
    let actor = Actor(format!("user:{}", auth.id));
    let user = users::set_active(
        &state.db,
        state.clock.now(),
        &actor,
        Some(&auth.id),
        &id,
        active,
    )
    .await?;
    Ok(Json(json!({"id": user.id, "active": user.active})))
}

async fn deactivate(
    State(state): State<AppState>,
    auth: Authorized<Admin>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_active(state, auth, id, false).await
}

async fn reactivate(
    State(state): State<AppState>,
    auth: Authorized<Admin>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_active(state, auth, id, true).await
}

/// `{"on_call": true}`: urgent requests that wait are emailed to on-call treasurers at
/// once, and to every treasurer after `escalate_after_minutes`.
async fn set_on_call(
    State(state): State<AppState>,
    auth: Authorized<Admin>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let on_call = body
        .get("on_call")
        .and_then(Value::as_bool)
        .ok_or_else(|| ApiError::Unprocessable {
            field: "on_call".into(),
            message: "must be true or false".into(),
        })?;
    let actor = crate::audit::Actor(format!("user:{}", auth.id));
    users::set_on_call(&state.db, state.clock.now(), &actor, &id, on_call).await?;
    Ok(Json(json!({"id": id, "on_call": on_call})))
}
