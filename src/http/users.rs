//! Staff accounts, managed by admins. Password hashes never appear in an answer.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json, Path, Query};
use super::extractor::{Admin, AdminOrTreasurer, Authorized};
use super::fields;
use super::openapi::{
    BadRequest, Conflict, Created, EmailAddress, Forbidden, Invalid, NotFound, TooLarge,
    Unauthorized,
};
use super::paging::{self, Paged};
use crate::audit::Actor;
use crate::domain::{Email, Language, Role, Roles};
use crate::identity::invitations::{self, NewInvitation};
use crate::identity::users::{self, NewUser, User};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(invite))
        .routes(routes!(deactivate))
        .routes(routes!(reactivate))
        .routes(routes!(set_roles))
        .routes(routes!(set_on_call))
        .routes(routes!(set_language))
}

/// No `Debug`: the password must never be printed.
#[derive(Deserialize, ToSchema)]
struct NewUserBody {
    #[schema(value_type = EmailAddress)]
    email: String,
    #[schema(format = Password, min_length = 12, max_length = 1024)]
    password: String,
    #[schema(value_type = Vec<Role>, min_items = 1)]
    roles: Vec<String>,
    /// Required for a caseworker: the organisation they work for.
    org_id: Option<String>,
    #[schema(value_type = Option<Language>)]
    language: Option<String>,
    #[schema(max_length = 100)]
    display_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct UserRoles {
    id: String,
    #[schema(value_type = Vec<Role>)]
    roles: Roles,
    org_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct UserActive {
    id: String,
    active: bool,
}

#[derive(Serialize, ToSchema)]
struct OnCall {
    id: String,
    on_call: bool,
    /// False when they already were as asked: nothing was written, nothing audited.
    changed: bool,
    /// What happened, in words: "already on call" (or off call) when nothing changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

// Read field by field by `set_on_call`, which takes the fields it accepts from here.
/// The body of `PUT /api/v1/users/{id}/on-call`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "a schema only: the handler reads the body field by field"
)]
struct OnCallBody {
    on_call: bool,
}

fn invalid(field: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::Unprocessable {
        field: field.into(),
        message: e.to_string(),
    }
}

/// Adds a staff account.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "users",
    security(("bearer" = [])),
    request_body = NewUserBody,
    responses(
        (status = 201, body = Created),
        BadRequest,
        Unauthorized,
        Forbidden,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn create(
    State(state): State<AppState>,
    auth: Authorized<Admin>,
    Json(body): Json<NewUserBody>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let new = NewUser {
        email: Email::parse(&body.email).map_err(|e| invalid("email", e))?,
        password: crate::identity::password::parse_new("password", body.password)?,
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

#[derive(Deserialize, ToSchema)]
struct InviteBody {
    #[schema(value_type = EmailAddress)]
    email: String,
    #[schema(value_type = Vec<Role>, min_items = 1)]
    roles: Vec<String>,
    /// Required for a caseworker: the organisation they work for.
    org_id: Option<String>,
    /// The language of the invitation email and of the pages (French by default).
    #[schema(value_type = Option<Language>)]
    language: Option<String>,
}

/// The fields of an invitation, parsed as the pages parse them too.
pub(crate) fn parse_invitation(
    email: &str,
    roles: &[String],
    org_id: Option<String>,
    language: Option<&str>,
) -> Result<NewInvitation, ApiError> {
    Ok(NewInvitation {
        email: Email::parse(email).map_err(|e| invalid("email", e))?,
        roles: Roles::parse_list(&roles.join(",")).map_err(|e| invalid("roles", e))?,
        org_id: org_id.filter(|o| !o.trim().is_empty()),
        language: match language {
            None | Some("") => Language::default(),
            Some(l) => l.parse().map_err(|e| invalid("language", e))?,
        },
    })
}

/// Invites someone by email: the account is made with these roles and no password they
/// know, and a link to choose one goes to the address (in its language, through the
/// outbox); it works once, for 48 hours (`POST /api/v1/auth/invitation`). Inviting an
/// address again before it is accepted replaces the link (and takes the new roles); an
/// address that already has an account with a password is 409.
#[utoipa::path(
    post,
    path = "/api/v1/users/invite",
    tag = "users",
    security(("bearer" = [])),
    request_body = InviteBody,
    responses(
        (status = 201, body = Created),
        BadRequest,
        Unauthorized,
        Forbidden,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn invite(
    State(state): State<AppState>,
    auth: Authorized<Admin>,
    Json(body): Json<InviteBody>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let new = parse_invitation(
        &body.email,
        &body.roles,
        body.org_id,
        body.language.as_deref(),
    )?;
    let actor = Actor(format!("user:{}", auth.id));
    let id = invitations::invite(&state.db, &state.config, state.clock.now(), &actor, new).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

#[derive(Deserialize, ToSchema)]
struct RolesBody {
    #[schema(value_type = Vec<Role>, min_items = 1)]
    roles: Vec<String>,
    /// Required when the roles include caseworker.
    org_id: Option<String>,
}

/// Replaces a user's roles (and organisation).
#[utoipa::path(
    put,
    path = "/api/v1/users/{id}/roles",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The user's id")),
    request_body = RolesBody,
    responses(
        (status = 200, body = UserRoles),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn set_roles(
    State(state): State<AppState>,
    auth: Authorized<Admin>,
    Path(id): Path<String>,
    Json(body): Json<RolesBody>,
) -> Result<Json<UserRoles>, ApiError> {
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
    Ok(Json(UserRoles {
        id: user.id,
        roles: user.roles,
        org_id: user.org_id,
    }))
}

#[derive(Deserialize, ToSchema)]
struct LanguageBody {
    #[schema(value_type = Language)]
    language: String,
}

/// Sets the language a user reads the pages and their mail in (audited: someone else's
/// setting; a user's own switch on the pages is not).
#[utoipa::path(
    put,
    path = "/api/v1/users/{id}/language",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The user's id")),
    request_body = LanguageBody,
    responses(
        (status = 200, body = User),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        TooLarge,
        Invalid,
    ),
)]
async fn set_language(
    State(state): State<AppState>,
    auth: Authorized<Admin>,
    Path(id): Path<String>,
    Json(body): Json<LanguageBody>,
) -> Result<Json<User>, ApiError> {
    let language: Language = body.language.parse().map_err(|e| invalid("language", e))?;
    let actor = Actor(format!("user:{}", auth.id));
    let user = users::set_language_of(&state.db, state.clock.now(), &actor, &id, language).await?;
    Ok(Json(user))
}

/// A staff account as the list shows it: with where its invitation stands.
#[derive(Serialize, ToSchema)]
struct Listed {
    #[serde(flatten)]
    user: User,
    /// Set while the account was invited and has not accepted (no password of its own
    /// yet); null otherwise.
    invitation: Option<Waiting>,
}

#[derive(Serialize, ToSchema)]
struct Waiting {
    /// Until when the emailed link works; null when it expired: invite the address again.
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Lists the staff accounts (never a password hash), newest first, a page at a time,
/// with the invitations that wait.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    security(("bearer" = [])),
    params(UsersQuery),
    responses((status = 200, body = Paged<Listed>), BadRequest, Unauthorized, Forbidden, Invalid),
)]
async fn list(
    State(state): State<AppState>,
    _: Authorized<Admin>,
    Query(query): Query<UsersQuery>,
) -> Result<Json<Paged<Listed>>, ApiError> {
    let request = paging::page_request(query.after.as_deref(), query.limit.as_deref())?;
    let org = query
        .org
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty());
    let waiting = invitations::waiting(&state.db, state.clock.now()).await?;
    Ok(Json(
        users::page(&state.db, org, &request)
            .await?
            .map(|user| Listed {
                invitation: waiting.get(&user.id).map(|s| Waiting {
                    expires_at: match s {
                        invitations::Standing::Waiting(until) => Some(*until),
                        invitations::Standing::Expired => None,
                    },
                }),
                user,
            })
            .into(),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UsersQuery {
    /// Only this organisation's people.
    org: Option<String>,
    /// The `next` of the previous page; left out, the list starts from the newest.
    after: Option<String>,
    /// How many people a page holds: 1 to 200, 50 when left out.
    limit: Option<String>,
}

async fn set_active(
    state: AppState,
    auth: Authorized<Admin>,
    id: String,
    active: bool,
) -> Result<Json<UserActive>, ApiError> {
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
    Ok(Json(UserActive {
        id: user.id,
        active: user.active,
    }))
}

/// Deactivates an account: its tokens stop working at once.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/deactivate",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The user's id")),
    responses(
        (status = 200, body = UserActive),
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
    ),
)]
async fn deactivate(
    State(state): State<AppState>,
    auth: Authorized<Admin>,
    Path(id): Path<String>,
) -> Result<Json<UserActive>, ApiError> {
    set_active(state, auth, id, false).await
}

/// Reactivates an account; tokens issued before stay refused.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/reactivate",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The user's id")),
    responses(
        (status = 200, body = UserActive),
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
    ),
)]
async fn reactivate(
    State(state): State<AppState>,
    auth: Authorized<Admin>,
    Path(id): Path<String>,
) -> Result<Json<UserActive>, ApiError> {
    set_active(state, auth, id, true).await
}

/// Puts a treasurer on call or off: urgent requests that wait are emailed to on-call
/// treasurers at once, and to every treasurer after `escalate_after_minutes`. An admin sets
/// anyone; a treasurer sets themselves only (`users::may_set_on_call`, as the page does).
/// Asking for what already is changes nothing and is not audited: `changed: false`, and a
/// `message` that says so.
#[utoipa::path(
    put,
    path = "/api/v1/users/{id}/on-call",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The user's id")),
    request_body = OnCallBody,
    responses(
        (status = 200, body = OnCall),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        TooLarge,
        Invalid,
    ),
)]
async fn set_on_call(
    State(state): State<AppState>,
    auth: Authorized<AdminOrTreasurer>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<OnCall>, ApiError> {
    if !users::may_set_on_call(&auth.id, &auth.roles, &id) {
        return Err(ApiError::Forbidden(
            "a treasurer puts only themselves on call: ask an admin to change someone else".into(),
        ));
    }
    fields::only_of::<OnCallBody>(&body)?;
    let on_call = fields::optional(&body, "on_call")
        .and_then(Value::as_bool)
        .ok_or_else(|| fields::invalid("on_call", "must be true or false"))?;
    let actor = crate::audit::Actor(format!("user:{}", auth.id));
    let changed = users::set_on_call(&state.db, state.clock.now(), &actor, &id, on_call).await?;
    let message = (!changed).then(|| {
        if on_call {
            "already on call: nothing changed".to_string()
        } else {
            "already off call: nothing changed".to_string()
        }
    });
    Ok(Json(OnCall {
        id,
        on_call,
        changed,
        message,
    }))
}
