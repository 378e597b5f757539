//! The treasurers' oversight pages: the flagged review items (with the flag's reason, and
//! a way to clear it), the audit events (newest first, paged, filtered by action, under the
//! chain's state) and who is on call (each treasurer for themselves, admins for anyone).
//! Each action calls the same lifecycle and identity steps as the API.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use super::caseworker::Line;
use super::context::{Context, PageError, Path, page_id, see_other};
use super::forms::Submitted;
use super::i18n;
use super::pager::{PageQuery, Pager};
use super::pages::{render, urlencode};
use crate::approval::{FlowError, lifecycle, versions};
use crate::audit;
use crate::domain::Role;
use crate::http::error::ApiError;
use crate::identity::users;
use crate::state::AppState;
use crate::write_tx;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/review/flagged", get(flagged))
        .route("/requests/{id}/unflag", post(unflag))
        .route("/audit", get(audit_events))
        .route("/on-call", get(on_call).post(set_on_call))
}

/// A time as the pages show it: the reader's date, then the hour in UTC.
fn when(c: &Context, t: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "{} {} UTC",
        i18n::date(c.language, t.date_naive()),
        t.format("%H:%M")
    )
}

/// Who did something, as a page names them: a user by their display name or email,
/// the server, the command line and someone not signed in by name.
fn who(c: &Context, names: &std::collections::HashMap<String, String>, actor: &str) -> String {
    match actor {
        "system" => c.t("actor-system"),
        "cli" => c.t("actor-cli"),
        "anonymous" => c.t("actor-anonymous"),
        other => match other.strip_prefix("user:") {
            Some(id) => names.get(id).cloned().unwrap_or_else(|| other.to_string()),
            None => other.to_string(),
        },
    }
}

async fn user_names(
    state: &AppState,
) -> Result<std::collections::HashMap<String, String>, PageError> {
    Ok(users::list(&state.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.display_name.unwrap_or(u.email)))
        .collect())
}

pub struct FlaggedRow {
    pub line: Line,
    pub reason: String,
    /// Who flagged it and when.
    pub by: String,
}

#[derive(Template)]
#[template(path = "flagged.html")]
struct FlaggedPage<'a> {
    c: &'a Context,
    title: String,
    items: Vec<FlaggedRow>,
    pager: Pager,
}

/// The automatic approvals a treasurer flagged, newest flag first, with its reason.
async fn flagged(
    State(state): State<AppState>,
    c: Context,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    c.with_role(Role::Treasurer)?;
    let now = state.clock.now();
    let policy = versions::in_force(&state.db, now).await?;
    let request = q.request()?;
    let items =
        lifecycle::flagged(&state.db, &request, policy.policy.dual_approval_above()).await?;
    let pager = Pager::of("/review/flagged", &[], &items);
    let items = items.items;
    render(&FlaggedPage {
        pager,
        title: c.t("flagged-title"),
        items: items
            .into_iter()
            .map(|f| FlaggedRow {
                line: Line::of(&c, &f.view, now),
                reason: f.reason.unwrap_or_default(),
                by: c.t_with(
                    "flagged-by",
                    &[
                        ("who", f.flagged_by.map(|p| p.name).unwrap_or_default()),
                        (
                            "when",
                            f.flagged_at.map(|t| when(&c, t)).unwrap_or_default(),
                        ),
                    ],
                ),
            })
            .collect(),
        c: &c,
    })
}

/// Clears a flag: the treasurers looked into it. Clearing one already cleared (a retry
/// on a bad network) changes nothing.
async fn unflag(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    _: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let id = page_id(&id)?;
    let staff = user.staff();
    let now = state.clock.now();
    write_tx!(&state.db, |tx| -> Result<(), FlowError> async {
        lifecycle::clear_flag(tx, now, &staff, &id).await?;
        Ok(())
    })?;
    Ok(see_other("/review/flagged"))
}

/// How many events a page of the audit trail shows, unless `limit` says fewer (or more,
/// up to [`MAX_EVENTS`]).
const EVENTS_PER_PAGE: i64 = 50;
const MAX_EVENTS: i64 = 200;

#[derive(Deserialize, Default)]
struct AuditQuery {
    /// The cursor: the events older than this one (its sequence number).
    after: Option<String>,
    limit: Option<String>,
    action: Option<String>,
}

/// An action in the reader's words (`request.approve` → "Request approved"); one the
/// catalogues do not know (a trail written by another version) as stored.
fn action_words(c: &Context, action: &str) -> String {
    let key = audit::action_key(action);
    if i18n::has(c.language, &key) {
        c.t(&key)
    } else {
        action.to_string()
    }
}

pub struct EventRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    /// As stored, for the filter and the `data-action` attribute.
    pub action: String,
    /// In the reader's words.
    pub action_label: String,
    pub subject: String,
    pub content: String,
}

pub struct ActionChoice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage<'a> {
    c: &'a Context,
    title: String,
    ok: bool,
    events: i64,
    head: String,
    broken_at: Option<i64>,
    rows: Vec<EventRow>,
    actions: Vec<ActionChoice>,
    /// The address of the next (older) page, when there is one.
    next: Option<String>,
    /// On a later page, the address of the newest events (of the same action).
    newest: Option<String>,
}

/// The audit trail: the chain's state first, then its events, newest first, a page at a
/// time, of one action or all.
async fn audit_events(
    State(state): State<AppState>,
    c: Context,
    Query(q): Query<AuditQuery>,
) -> Result<Response, PageError> {
    c.with_role(Role::Treasurer)?;
    let bad = || PageError::Refused(StatusCode::BAD_REQUEST);
    let after = match q.after.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => Some(a.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(bad)?),
    };
    let limit = match q.limit.as_deref().filter(|l| !l.is_empty()) {
        None => EVENTS_PER_PAGE,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_EVENTS).contains(n))
            .ok_or_else(bad)?,
    };
    let verification = audit::verify(&state.db).await?;
    let actions = audit::actions(&state.db).await?;
    // Only an action the trail holds filters; anything else is a mistyped address.
    let action = match q.action.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(a) if actions.iter().any(|known| known == a) => Some(a.to_string()),
        Some(_) => return Err(bad()),
    };
    let page = audit::events(&state.db, action.as_deref(), after, limit).await?;
    let names = user_names(&state).await?;
    let next = page.next.map(|seq| {
        let mut href = format!("/audit?after={seq}");
        if let Some(a) = &action {
            href.push_str(&format!("&action={}", urlencode(a)));
        }
        if limit != EVENTS_PER_PAGE {
            href.push_str(&format!("&limit={limit}"));
        }
        href
    });
    let action = action.unwrap_or_default();
    let newest = after.map(|_| {
        if action.is_empty() {
            "/audit".to_string()
        } else {
            format!("/audit?action={}", urlencode(&action))
        }
    });
    render(&AuditPage {
        title: c.t("audit-title"),
        ok: verification.ok,
        events: verification.events,
        head: verification.head,
        broken_at: verification.broken.map(|b| b.seq),
        rows: page
            .items
            .into_iter()
            .map(|e| EventRow {
                seq: e.seq,
                at: when(&c, e.at),
                actor: who(&c, &names, &e.actor),
                action_label: action_words(&c, &e.action),
                action: e.action,
                subject: e.subject,
                content: e.content,
            })
            .collect(),
        actions: actions
            .into_iter()
            .map(|a| ActionChoice {
                selected: a == action,
                label: action_words(&c, &a),
                value: a,
            })
            .collect(),
        next,
        newest,
        c: &c,
    })
}

pub struct OnCallRow {
    pub id: String,
    pub name: String,
    pub on_call: bool,
}

#[derive(Template)]
#[template(path = "on_call.html")]
struct OnCallPage<'a> {
    c: &'a Context,
    title: String,
    /// The reader, when they are a treasurer: whether they are on call.
    me: Option<OnCallRow>,
    /// For an admin: every active treasurer.
    everyone: Vec<OnCallRow>,
    escalate_after: i64,
    /// After asking for what already was: "You were already on call" (or someone was).
    already: Option<String>,
}

#[derive(Deserialize, Default)]
struct OnCallQuery {
    /// The treasurer who already was as asked (their id).
    already: Option<String>,
}

/// Who is on call: a treasurer sees (and switches) themselves; an admin sees and switches
/// every treasurer.
async fn on_call(
    State(state): State<AppState>,
    c: Context,
    Query(q): Query<OnCallQuery>,
) -> Result<Response, PageError> {
    let user = c.user()?;
    if !user.has(Role::Treasurer) && !user.has(Role::Admin) {
        return Err(PageError::Refused(StatusCode::FORBIDDEN));
    }
    let roster = users::on_call_roster(&state.db).await?;
    let row = |t: &users::OnCallLine| OnCallRow {
        id: t.id.clone(),
        name: t.name.clone(),
        on_call: t.on_call,
    };
    let me = if user.has(Role::Treasurer) {
        roster.iter().find(|t| t.id == user.id).map(row)
    } else {
        None
    };
    let everyone = if user.has(Role::Admin) {
        roster.iter().map(row).collect()
    } else {
        Vec::new()
    };
    let already = q
        .already
        .as_deref()
        .and_then(|id| roster.iter().find(|t| t.id == id))
        .filter(|t| t.id == user.id || user.has(Role::Admin))
        .map(|t| match (t.id == user.id, t.on_call) {
            (true, true) => c.t("on-call-already-you-on"),
            (true, false) => c.t("on-call-already-you-off"),
            (false, true) => c.t_with("on-call-already-on", &[("who", t.name.clone())]),
            (false, false) => c.t_with("on-call-already-off", &[("who", t.name.clone())]),
        });
    let policy = versions::in_force(&state.db, state.clock.now()).await?;
    render(&OnCallPage {
        title: c.t("on-call-title"),
        already,
        me,
        everyone,
        escalate_after: i64::from(policy.policy.escalate_after_minutes()),
        c: &c,
    })
}

/// Puts someone on call or off: a treasurer themselves, an admin anyone (the rule is
/// `users::may_set_on_call`, as for the API).
async fn set_on_call(
    State(state): State<AppState>,
    c: Context,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = c.user()?;
    let target = page_id(form.get("user_id"))?;
    let on_call = match form.get("on_call") {
        "true" => true,
        "false" => false,
        _ => return Err(PageError::Refused(StatusCode::UNPROCESSABLE_ENTITY)),
    };
    if !users::may_set_on_call(&user.id, &user.roles, &target) {
        return Err(PageError::Refused(StatusCode::FORBIDDEN));
    }
    let actor = user.staff().actor();
    let changed = users::set_on_call(&state.db, state.clock.now(), &actor, &target, on_call)
        .await
        .map_err(ApiError::from)?;
    if changed {
        Ok(see_other("/on-call"))
    } else {
        // Nothing changed and nothing was audited: the page says they already were.
        Ok(see_other(&format!("/on-call?already={target}")))
    }
}
