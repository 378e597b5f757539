//! The admin's pages: people (invite, roles, organisation, language, on call,
//! deactivate and reactivate), organisations (add, rename, type and province, with their
//! caseworkers), the keys that sign sessions (rotate, retire) and the instance's settings
//! as facts. Each form goes through the same parsing and the same `identity` step as the
//! API's route for it (named beside each handler), so a page and the API refuse alike.
//! And the invitee's page, `/invitation?token=...`, where an invited person chooses their
//! password (`POST /api/v1/auth/invitation`).

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use super::context::{Context, PageError, Path, page_id, see_other};
use super::forms::{FieldErrors, Filled, Submitted, field_errors};
use super::pager::{PageQuery, Pager};
use super::pages::{render, render_with};
use crate::config::{EngineName, KeySource, MailTransport};
use crate::domain::province::PROVINCES;
use crate::domain::{Language, OrgType, Password, PasswordError, Role, Roles};
use crate::http::error::ApiError;
use crate::identity::common_passwords;
use crate::identity::invitations::{self, InvitationError, Standing};
use crate::identity::orgs::{self, Org};
use crate::identity::users::{self, User};
use crate::identity::{IdentityError, keys};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(admin_home))
        .route("/admin/users", get(users_page).post(invite))
        .route("/admin/users/{id}", get(user_page))
        .route("/admin/users/{id}/roles", post(set_roles))
        .route("/admin/users/{id}/language", post(set_language))
        .route("/admin/users/{id}/on-call", post(set_on_call))
        .route("/admin/users/{id}/active", post(set_active))
        .route(
            "/admin/users/{id}/second-factor/reset",
            post(reset_second_factor),
        )
        .route("/admin/users/{id}/sessions/end", post(end_sessions))
        .route("/admin/orgs", get(orgs_page).post(add_org))
        .route("/admin/orgs/{id}", get(org_page).post(update_org))
        .route("/admin/keys", get(keys_page))
        .route("/admin/keys/rotate", post(rotate_key))
        .route("/admin/keys/{kid}/retire", post(retire_key))
        .route("/admin/settings", get(settings_page))
        .route("/invitation", get(invitation_form).post(accept_invitation))
}

/// The signed-in admin (403 for anyone else).
fn admin(c: &Context) -> Result<&crate::http::extractor::AuthUser, PageError> {
    c.with_role(Role::Admin)
}

async fn admin_home(c: Context) -> Result<Response, PageError> {
    admin(&c)?;
    Ok(see_other("/admin/users"))
}

/// A role, an organisation type, a province or a language as a choice in a form.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn role_choices(c: &Context, held: &[Role]) -> Vec<Choice> {
    Role::ALL
        .iter()
        .map(|r| Choice {
            value: r.as_str().into(),
            label: c.t(&format!("role-{}", r.as_str())),
            selected: held.contains(r),
        })
        .collect()
}

fn org_choices(orgs: &[Org], chosen: &str) -> Vec<Choice> {
    orgs.iter()
        .map(|o| Choice {
            value: o.id.clone(),
            label: o.name.clone(),
            selected: o.id == chosen,
        })
        .collect()
}

fn type_choices(c: &Context, chosen: &str) -> Vec<Choice> {
    OrgType::ALL
        .iter()
        .map(|t| Choice {
            value: t.as_str().into(),
            label: c.t(&format!("org-type-{}", t.as_str())),
            selected: t.as_str() == chosen,
        })
        .collect()
}

fn province_choices(c: &Context, chosen: &str) -> Vec<Choice> {
    PROVINCES
        .iter()
        .map(|p| Choice {
            value: (*p).into(),
            label: c.province(p),
            selected: *p == chosen,
        })
        .collect()
}

fn language_choices(chosen: &str) -> Vec<Choice> {
    [(Language::Fr, "Français"), (Language::En, "English")]
        .into_iter()
        .map(|(l, label)| Choice {
            value: l.as_str().into(),
            label: label.into(),
            selected: l.as_str() == chosen,
        })
        .collect()
}

/// A moment as the pages write it: the day in the reader's language, the time in UTC.
fn when(c: &Context, at: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "{} {} UTC",
        crate::i18n::date(c.language, at.date_naive()),
        at.format("%H:%M")
    )
}

/// The roles of a user in words, in the reader's language.
fn roles_words(c: &Context, roles: &Roles) -> String {
    roles
        .iter()
        .map(|r| c.t(&format!("role-{}", r.as_str())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A person on the users page.
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub roles: String,
    pub org: Option<String>,
    pub active: bool,
    /// "Invited, not accepted yet" (and until when), or "invitation expired".
    pub invitation: Option<String>,
}

fn invitation_words(c: &Context, standing: Option<&Standing>) -> Option<String> {
    standing.map(|s| match s {
        Standing::Waiting(until) => {
            c.t_with("admin-invitation-waiting", &[("until", when(c, *until))])
        }
        Standing::Expired => c.t("admin-invitation-expired"),
    })
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage<'a> {
    c: &'a Context,
    title: String,
    users: Vec<UserRow>,
    roles: Vec<Choice>,
    orgs: Vec<Choice>,
    languages: Vec<Choice>,
    form: Filled,
    /// The address just invited.
    invited: Option<String>,
    pager: Pager,
}

#[derive(Deserialize, Default)]
struct InvitedQuery {
    invited: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

async fn users_page_with(
    state: &AppState,
    c: &Context,
    form: Option<&Submitted>,
    errors: FieldErrors,
    invited: Option<String>,
    q: &PageQuery,
) -> Result<Response, PageError> {
    admin(c)?;
    let request = q.request()?;
    let listed = users::page(&state.db, None, &request).await?;
    let pager = Pager::of("/admin/users", &[], &listed);
    let all = listed.items;
    let org_list = orgs::list(&state.db).await?;
    let waiting = invitations::waiting(&state.db, state.clock.now()).await?;
    let org_names: HashMap<&str, &str> = org_list
        .iter()
        .map(|o| (o.id.as_str(), o.name.as_str()))
        .collect();
    let values = form.map(Submitted::values).unwrap_or_default();
    let chosen_roles: Vec<Role> = form
        .map(|f| f.all("roles"))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| r.parse().ok())
        .collect();
    let language = values
        .get("language")
        .cloned()
        .unwrap_or_else(|| c.lang().into());
    let org = values.get("org_id").cloned().unwrap_or_default();
    let page = UsersPage {
        title: c.t("admin-users-title"),
        users: all
            .into_iter()
            .map(|u| UserRow {
                roles: roles_words(c, &u.roles),
                org: u
                    .org_id
                    .as_deref()
                    .and_then(|o| org_names.get(o))
                    .map(|n| n.to_string()),
                invitation: invitation_words(c, waiting.get(&u.id)),
                id: u.id,
                email: u.email,
                name: u.display_name,
                active: u.active,
            })
            .collect(),
        roles: role_choices(c, &chosen_roles),
        orgs: org_choices(&org_list, &org),
        languages: language_choices(&language),
        form: Filled { values, errors },
        invited: invited.map(|email| c.t_with("admin-invited", &[("email", email)])),
        pager,
        c,
    };
    let status = if page.form.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_with(status, &page)
}

async fn users_page(
    State(state): State<AppState>,
    c: Context,
    Query(q): Query<InvitedQuery>,
) -> Result<Response, PageError> {
    users_page_with(&state, &c, None, FieldErrors::default(), q.invited, &q.page).await
}

/// Invites someone (`POST /api/v1/users/invite`).
async fn invite(
    State(state): State<AppState>,
    c: Context,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = admin(&c)?;
    let roles: Vec<String> = form.all("roles").into_iter().map(String::from).collect();
    let outcome: Result<String, ApiError> = async {
        let new = crate::http::parse_invitation(
            form.get("email"),
            &roles,
            Some(form.get("org_id").to_string()),
            Some(form.get("language")),
        )?;
        let email = new.email.as_str().to_string();
        invitations::invite(
            &state.db,
            &state.config,
            state.clock.now(),
            &user.staff().actor(),
            new,
        )
        .await?;
        Ok(email)
    }
    .await;
    match outcome {
        Ok(email) => Ok(see_other(&format!(
            "/admin/users?invited={}",
            super::pages::urlencode(&email)
        ))),
        Err(ApiError::Conflict(_)) => {
            let errors = FieldErrors(HashMap::from([(
                "email".to_string(),
                c.t("admin-invite-taken"),
            )]));
            users_page_with(&state, &c, Some(&form), errors, None, &PageQuery::default()).await
        }
        Err(e) => {
            let errors = field_errors(&c, e, "")?;
            users_page_with(&state, &c, Some(&form), errors, None, &PageQuery::default()).await
        }
    }
}

#[derive(Template)]
#[template(path = "admin_user.html")]
struct UserPage<'a> {
    c: &'a Context,
    title: String,
    user: User,
    me: bool,
    roles_words: String,
    org_name: Option<String>,
    roles: Vec<Choice>,
    orgs: Vec<Choice>,
    languages: Vec<Choice>,
    treasurer: bool,
    on_call: bool,
    invitation: Option<String>,
    /// What the last change refused, in words.
    error: Option<String>,
    /// What the last change did.
    done: Option<String>,
}

#[derive(Deserialize, Default)]
struct DoneQuery {
    done: Option<String>,
}

async fn user_page_with(
    state: &AppState,
    c: &Context,
    id: &str,
    error: Option<String>,
    done: Option<String>,
) -> Result<Response, PageError> {
    let me = admin(c)?.id.clone();
    let id = page_id(id)?;
    let user = users::find(&state.db, &id)
        .await?
        .ok_or(PageError::Refused(StatusCode::NOT_FOUND))?;
    let org_list = orgs::list(&state.db).await?;
    let waiting = invitations::waiting(&state.db, state.clock.now()).await?;
    let held: Vec<Role> = user.roles.iter().collect();
    let org = user.org_id.clone().unwrap_or_default();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = UserPage {
        title: user.email.clone(),
        me: me == user.id,
        roles_words: roles_words(c, &user.roles),
        org_name: org_list
            .iter()
            .find(|o| Some(&o.id) == user.org_id.as_ref())
            .map(|o| o.name.clone()),
        roles: role_choices(c, &held),
        orgs: org_choices(&org_list, &org),
        languages: language_choices(&user.language),
        treasurer: user.roles.contains(Role::Treasurer),
        on_call: users::is_on_call(&state.db, &user.id).await?,
        invitation: invitation_words(c, waiting.get(&user.id)),
        error,
        done: done.and_then(|d| {
            matches!(
                d.as_str(),
                "roles" | "language" | "on-call" | "active" | "second-factor" | "sessions"
            )
            .then(|| c.t(&format!("admin-user-done-{d}")))
        }),
        user,
        c,
    };
    render_with(status, &page)
}

async fn user_page(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    user_page_with(&state, &c, &id, None, q.done).await
}

/// A refusal of a change on the user page, in words, or the page for anything else.
fn user_refusal(c: &Context, e: ApiError) -> Result<String, PageError> {
    Ok(match e {
        ApiError::Conflict(message) if message.contains("deactivate your own") => {
            c.t("admin-user-not-yourself")
        }
        ApiError::Conflict(message) if message.contains("own admin role") => {
            c.t("admin-user-keep-admin")
        }
        e => {
            let errors = field_errors(c, e, "")?;
            errors.0.into_values().next().unwrap_or_default()
        }
    })
}

async fn after_change(
    state: &AppState,
    c: &Context,
    id: &str,
    outcome: Result<(), ApiError>,
    done: &str,
) -> Result<Response, PageError> {
    match outcome {
        Ok(()) => Ok(see_other(&format!("/admin/users/{id}?done={done}"))),
        Err(e) => {
            let error = user_refusal(c, e)?;
            user_page_with(state, c, id, Some(error), None).await
        }
    }
}

/// Roles and organisation (`PUT /api/v1/users/{id}/roles`).
async fn set_roles(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = admin(&c)?;
    let id = page_id(&id)?;
    let outcome: Result<(), ApiError> = async {
        let roles = Roles::parse_list(&form.all("roles").join(",")).map_err(|e| {
            ApiError::Unprocessable {
                field: "roles".into(),
                message: e.to_string(),
            }
        })?;
        let org = Some(form.get("org_id")).filter(|o| !o.is_empty());
        users::set_roles(
            &state.db,
            state.clock.now(),
            &user.staff().actor(),
            Some(&user.id),
            &id,
            &roles,
            org,
        )
        .await?;
        Ok(())
    }
    .await;
    after_change(&state, &c, &id, outcome, "roles").await
}

/// The language of their pages and mail (`PUT /api/v1/users/{id}/language`).
async fn set_language(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = admin(&c)?;
    let id = page_id(&id)?;
    let outcome: Result<(), ApiError> =
        async {
            let language: Language = form.get("language").parse().map_err(
                |e: crate::domain::identity::LanguageError| ApiError::Unprocessable {
                    field: "language".into(),
                    message: e.to_string(),
                },
            )?;
            users::set_language_of(
                &state.db,
                state.clock.now(),
                &user.staff().actor(),
                &id,
                language,
            )
            .await?;
            Ok(())
        }
        .await;
    after_change(&state, &c, &id, outcome, "language").await
}

/// On call or off (`PUT /api/v1/users/{id}/on-call`).
async fn set_on_call(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = admin(&c)?;
    let id = page_id(&id)?;
    let on_call = match form.get("on_call") {
        "true" => true,
        "false" => false,
        _ => return Err(PageError::Refused(StatusCode::UNPROCESSABLE_ENTITY)),
    };
    let outcome = users::set_on_call(
        &state.db,
        state.clock.now(),
        &user.staff().actor(),
        &id,
        on_call,
    )
    .await
    .map(|_| ())
    .map_err(ApiError::from);
    after_change(&state, &c, &id, outcome, "on-call").await
}

/// Deactivates or reactivates (`POST /api/v1/users/{id}/deactivate`, `/reactivate`).
async fn set_active(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = admin(&c)?;
    let id = page_id(&id)?;
    let active = match form.get("active") {
        "true" => true,
        "false" => false,
        _ => return Err(PageError::Refused(StatusCode::UNPROCESSABLE_ENTITY)),
    };
    let outcome = users::set_active(
        &state.db,
        state.clock.now(),
        &user.staff().actor(),
        Some(&user.id),
        &id,
        active,
    )
    .await
    .map(|_| ())
    .map_err(ApiError::from);
    after_change(&state, &c, &id, outcome, "active").await
}

/// Takes a person's second factor away (a lost phone, no recovery code left), as
/// `POST /api/v1/users/{id}/second-factor/reset` does: they set up a new one on their next
/// sign-in.
async fn reset_second_factor(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let user = admin(&c)?;
    let id = page_id(&id)?;
    let outcome = crate::identity::second_factor::reset(
        &state.db,
        state.clock.now(),
        &user.staff().actor(),
        &id,
    )
    .await
    .map(|_| ())
    .map_err(ApiError::from);
    after_change(&state, &c, &id, outcome, "second-factor").await
}

/// Ends every session of a person at once (a lost phone, a shared computer), as
/// `DELETE /api/v1/users/{id}/sessions` does.
async fn end_sessions(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let user = admin(&c)?;
    let id = page_id(&id)?;
    let outcome = crate::identity::sessions::end(
        &state.db,
        state.clock.now(),
        &user.staff().actor(),
        &id,
        None,
        None,
        crate::identity::sessions::Ending::ByAdmin,
    )
    .await
    .map(|_| ())
    .map_err(ApiError::from);
    after_change(&state, &c, &id, outcome, "sessions").await
}

/// An organisation on the organisations page, with its caseworkers.
pub struct OrgRow {
    pub id: String,
    pub name: String,
    pub org_type: String,
    pub province: String,
    pub caseworkers: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin_orgs.html")]
struct OrgsPage<'a> {
    c: &'a Context,
    title: String,
    orgs: Vec<OrgRow>,
    types: Vec<Choice>,
    provinces: Vec<Choice>,
    form: Filled,
}

/// Each organisation's active caseworkers, by name (else email).
fn caseworkers_by_org(all: &[User]) -> HashMap<String, Vec<String>> {
    let mut by_org: HashMap<String, Vec<String>> = HashMap::new();
    for u in all {
        if let Some(org) = &u.org_id
            && u.roles.contains(Role::Caseworker)
        {
            let mut label = u.display_name.clone().unwrap_or_else(|| u.email.clone());
            if !u.active {
                label.push_str(" ✕");
            }
            by_org.entry(org.clone()).or_default().push(label);
        }
    }
    by_org
}

async fn orgs_page_with(
    state: &AppState,
    c: &Context,
    form: Option<&Submitted>,
    errors: FieldErrors,
) -> Result<Response, PageError> {
    admin(c)?;
    let org_list = orgs::list(&state.db).await?;
    let mut by_org = caseworkers_by_org(&users::list(&state.db).await?);
    let values = form.map(Submitted::values).unwrap_or_default();
    let chosen = |k: &str| values.get(k).cloned().unwrap_or_default();
    let page = OrgsPage {
        title: c.t("admin-orgs-title"),
        orgs: org_list
            .into_iter()
            .map(|o| OrgRow {
                org_type: c.t(&format!("org-type-{}", o.org_type.as_str())),
                province: c.province(&o.province),
                caseworkers: by_org.remove(&o.id).unwrap_or_default(),
                id: o.id,
                name: o.name,
            })
            .collect(),
        types: type_choices(c, &chosen("type")),
        provinces: province_choices(c, &chosen("province")),
        form: Filled { values, errors },
        c,
    };
    let status = if page.form.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_with(status, &page)
}

async fn orgs_page(State(state): State<AppState>, c: Context) -> Result<Response, PageError> {
    orgs_page_with(&state, &c, None, FieldErrors::default()).await
}

/// A name already taken, under the name field; any other refusal under its field.
fn org_errors(c: &Context, e: ApiError) -> Result<FieldErrors, PageError> {
    match e {
        ApiError::Conflict(_) => Ok(FieldErrors(HashMap::from([(
            "name".to_string(),
            c.t("admin-org-name-taken"),
        )]))),
        e => field_errors(c, e, ""),
    }
}

/// Adds an organisation (`POST /api/v1/orgs`).
async fn add_org(
    State(state): State<AppState>,
    c: Context,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = admin(&c)?;
    let outcome: Result<Org, ApiError> = async {
        let new = crate::http::parse_org(form.get("name"), form.get("type"), form.get("province"))?;
        Ok(orgs::create(&state.db, state.clock.now(), &user.staff().actor(), &new).await?)
    }
    .await;
    match outcome {
        Ok(_) => Ok(see_other("/admin/orgs")),
        Err(e) => {
            let errors = org_errors(&c, e)?;
            orgs_page_with(&state, &c, Some(&form), errors).await
        }
    }
}

#[derive(Template)]
#[template(path = "admin_org.html")]
struct OrgPage<'a> {
    c: &'a Context,
    title: String,
    id: String,
    caseworkers: Vec<String>,
    types: Vec<Choice>,
    provinces: Vec<Choice>,
    form: Filled,
    saved: bool,
}

#[derive(Deserialize, Default)]
struct SavedQuery {
    saved: Option<String>,
}

async fn org_page_with(
    state: &AppState,
    c: &Context,
    id: &str,
    form: Option<&Submitted>,
    errors: FieldErrors,
    saved: bool,
) -> Result<Response, PageError> {
    admin(c)?;
    let id = page_id(id)?;
    let org = orgs::find(&state.db, &id)
        .await?
        .ok_or(PageError::Refused(StatusCode::NOT_FOUND))?;
    let mut by_org = caseworkers_by_org(&users::list(&state.db).await?);
    let values = match form {
        Some(f) => f.values(),
        None => HashMap::from([
            ("name".to_string(), org.name.clone()),
            ("type".to_string(), org.org_type.as_str().to_string()),
            ("province".to_string(), org.province.clone()),
        ]),
    };
    let chosen = |k: &str| values.get(k).cloned().unwrap_or_default();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = OrgPage {
        title: org.name.clone(),
        caseworkers: by_org.remove(&org.id).unwrap_or_default(),
        types: type_choices(c, &chosen("type")),
        provinces: province_choices(c, &chosen("province")),
        form: Filled { values, errors },
        id: org.id,
        saved,
        c,
    };
    render_with(status, &page)
}

async fn org_page(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    Query(q): Query<SavedQuery>,
) -> Result<Response, PageError> {
    org_page_with(
        &state,
        &c,
        &id,
        None,
        FieldErrors::default(),
        q.saved.is_some(),
    )
    .await
}

/// Renames an organisation, sets its type and province (`PUT /api/v1/orgs/{id}`).
async fn update_org(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = admin(&c)?;
    let id = page_id(&id)?;
    let outcome: Result<Org, ApiError> = async {
        let new = crate::http::parse_org(form.get("name"), form.get("type"), form.get("province"))?;
        Ok(orgs::update(
            &state.db,
            state.clock.now(),
            &user.staff().actor(),
            &id,
            &new,
        )
        .await?)
    }
    .await;
    match outcome {
        Ok(_) => Ok(see_other(&format!("/admin/orgs/{id}?saved=1"))),
        Err(e) => {
            let errors = org_errors(&c, e)?;
            org_page_with(&state, &c, &id, Some(&form), errors, false).await
        }
    }
}

/// A signing key as the keys page shows it.
pub struct KeyRow {
    pub kid: String,
    pub created_at: String,
    pub retired_at: Option<String>,
    pub signing: bool,
}

#[derive(Template)]
#[template(path = "admin_keys.html")]
struct KeysPage<'a> {
    c: &'a Context,
    title: String,
    keys: Vec<KeyRow>,
    /// The secret comes from the configuration: nothing to rotate or retire here.
    configured: bool,
    done: Option<String>,
}

async fn keys_page_with(
    state: &AppState,
    c: &Context,
    done: Option<String>,
) -> Result<Response, PageError> {
    admin(c)?;
    let configured = state.config.jwt_secret.is_some();
    let all = keys::list(&state.db).await?;
    let signing = all
        .iter()
        .rev()
        .find(|k| k.retired_at.is_none())
        .map(|k| k.kid.clone());
    render(&KeysPage {
        title: c.t("admin-keys-title"),
        keys: all
            .into_iter()
            .map(|k| KeyRow {
                signing: !configured && Some(&k.kid) == signing.as_ref(),
                created_at: c.t_with("admin-keys-created", &[("when", when(c, k.created_at))]),
                retired_at: k
                    .retired_at
                    .map(|at| c.t_with("admin-keys-retired", &[("when", when(c, at))])),
                kid: k.kid,
            })
            .collect(),
        configured,
        done: done.and_then(|d| {
            matches!(d.as_str(), "rotated" | "retired")
                .then(|| c.t(&format!("admin-keys-done-{d}")))
        }),
        c,
    })
}

async fn keys_page(
    State(state): State<AppState>,
    c: Context,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    keys_page_with(&state, &c, q.done).await
}

/// A new signing key (`POST /api/v1/keys/rotate`).
async fn rotate_key(
    State(state): State<AppState>,
    c: Context,
    _: Submitted,
) -> Result<Response, PageError> {
    let user = admin(&c)?;
    keys::rotate(
        &state.db,
        &state.config,
        state.clock.now(),
        &user.staff().actor(),
    )
    .await
    .map_err(ApiError::from)?;
    Ok(see_other("/admin/keys?done=rotated"))
}

/// Retires a key (`POST /api/v1/keys/{kid}/retire`): its sessions end at once.
async fn retire_key(
    State(state): State<AppState>,
    c: Context,
    Path(kid): Path<String>,
    _: Submitted,
) -> Result<Response, PageError> {
    let user = admin(&c)?;
    match keys::retire(
        &state.db,
        &state.config,
        state.clock.now(),
        &user.staff().actor(),
        &kid,
    )
    .await
    {
        Ok(_) => Ok(see_other("/admin/keys?done=retired")),
        Err(IdentityError::UnknownKey(_)) => Err(PageError::Refused(StatusCode::NOT_FOUND)),
        Err(e) => Err(ApiError::from(e).into()),
    }
}

/// One fact of the settings page.
pub struct Fact {
    pub id: &'static str,
    pub label: String,
    pub value: String,
}

#[derive(Template)]
#[template(path = "admin_settings.html")]
struct SettingsPage<'a> {
    c: &'a Context,
    title: String,
    facts: Vec<Fact>,
}

/// The instance's settings as facts (`GET /api/v1/settings`): never a password.
async fn settings_page(State(state): State<AppState>, c: Context) -> Result<Response, PageError> {
    admin(&c)?;
    let f = state.config.facts();
    let engine = match f.engine {
        EngineName::Sqlite => c.t("admin-settings-engine-sqlite"),
        EngineName::Postgres => c.t("admin-settings-engine-postgres"),
    };
    let transport = match f.mail_transport {
        MailTransport::Smtp => c.t("admin-settings-mail-smtp"),
        MailTransport::Folder => c.t("admin-settings-mail-folder"),
    };
    let keys = match f.signing_keys {
        KeySource::Database => c.t("admin-settings-keys-database"),
        KeySource::Configuration => c.t("admin-settings-keys-configuration"),
    };
    let fact = |id: &'static str, value: String| Fact {
        id,
        label: c.t(&format!("admin-settings-{id}")),
        value,
    };
    let facts = vec![
        fact("engine", engine),
        fact("database", f.database),
        fact("mail", format!("{transport} · {}", f.mail_to)),
        fact("mail-from", f.mail_from),
        fact("base-url", f.base_url),
        fact(
            "retention",
            c.count("admin-settings-days", i64::from(f.retention_days)),
        ),
        fact(
            "session",
            c.count("admin-settings-hours", i64::from(f.token_hours)),
        ),
        fact("keys", keys),
    ];
    render(&SettingsPage {
        title: c.t("admin-settings-title"),
        facts,
        c: &c,
    })
}

#[derive(Template)]
#[template(path = "invitation.html")]
struct InvitationPage<'a> {
    c: &'a Context,
    title: String,
    token: Option<String>,
    done: bool,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
struct InvitationQuery {
    token: Option<String>,
    done: Option<String>,
}

/// `/invitation?token=...`: the invitee chooses their password. Nobody is signed in.
async fn invitation_form(
    c: Context,
    Query(q): Query<InvitationQuery>,
) -> Result<Response, PageError> {
    render(&InvitationPage {
        title: c.t("invitation-title"),
        token: q.token.filter(|t| !t.is_empty()),
        done: q.done.is_some(),
        error: None,
        c: &c,
    })
}

/// Accepts the invitation (`POST /api/v1/auth/invitation`): the link is used up.
async fn accept_invitation(
    State(state): State<AppState>,
    c: Context,
    form: Submitted,
) -> Result<Response, PageError> {
    let token = form.get("token").to_string();
    let new = form.get("new");
    let refused = match Password::parse(new.to_string()) {
        Err(PasswordError::TooShort) => Some(c.t("password-too-short")),
        Err(PasswordError::TooLong) => Some(c.t("password-too-long")),
        Ok(_) if common_passwords::is_common(new) => Some(c.t("password-common")),
        Ok(_) if form.get("again") != new => Some(c.t("password-mismatch")),
        Ok(_) => None,
    };
    let page = |token: Option<String>, error: String| InvitationPage {
        title: c.t("invitation-title"),
        token,
        done: false,
        error: Some(error),
        c: &c,
    };
    if let Some(error) = refused {
        return render_with(StatusCode::UNPROCESSABLE_ENTITY, &page(Some(token), error));
    }
    match invitations::accept(&state.db, state.clock.now(), &token, new.to_string()).await {
        Ok(()) => Ok(see_other("/invitation?done=1")),
        Err(InvitationError::BadToken) => render_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page(None, c.t("invitation-bad-link")),
        ),
        Err(e) => Err(ApiError::from(e).into()),
    }
}
