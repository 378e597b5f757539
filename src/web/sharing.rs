//! What the organisation that owns a case (or a treasurer) does with it from its page:
//! share it with another organisation, stop sharing it, close it and reopen it. Who may is
//! `cases::access`, asked by the same `cases` steps as the API's; an organisation the case
//! was shared with sees none of these buttons, and is refused if it posts them anyway.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;

use super::context::{Context, PageError, Path, see_other};
use super::forms::Submitted;
use crate::cases::{self, CaseError};
use crate::domain::case_code::CaseCode;
use crate::identity::orgs::Org;
use crate::state::AppState;
use crate::write_tx;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cases/{code}/share", post(share))
        .route("/cases/{code}/unshare", post(unshare))
        .route("/cases/{code}/close", post(close))
        .route("/cases/{code}/reopen", post(reopen))
}

/// An organisation on the case page: one it is shared with, or one it could be.
pub struct OrgChoice {
    pub id: String,
    pub name: String,
}

/// What the owner of a case sees under it.
pub struct Controls {
    pub shared_with: Vec<OrgChoice>,
    /// The organisations it could still be shared with.
    pub others: Vec<OrgChoice>,
}

impl Controls {
    /// The case page's controls for a case shared with `shared_with`, among `orgs`.
    pub fn new(case_org: &str, shared_with: &[String], orgs: Vec<Org>) -> Controls {
        let (shared, others): (Vec<Org>, Vec<Org>) = orgs
            .into_iter()
            .filter(|o| o.id != case_org)
            .partition(|o| shared_with.contains(&o.id));
        let choice = |o: Org| OrgChoice {
            id: o.id,
            name: o.name,
        };
        Controls {
            shared_with: shared.into_iter().map(choice).collect(),
            others: others.into_iter().map(choice).collect(),
        }
    }
}

fn parse_code(raw: &str) -> Result<CaseCode, PageError> {
    CaseCode::parse(raw).map_err(|_| PageError::Refused(StatusCode::NOT_FOUND))
}

/// The organisation a share form names; none chosen is a form to fill again.
fn org_of(form: &Submitted) -> Result<String, PageError> {
    match form.get("org_id") {
        "" => Err(PageError::Refused(StatusCode::UNPROCESSABLE_ENTITY)),
        org => Ok(org.to_string()),
    }
}

async fn share(
    State(state): State<AppState>,
    c: Context,
    Path(code): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    set_shared(&state, &c, &code, &form, true).await
}

async fn unshare(
    State(state): State<AppState>,
    c: Context,
    Path(code): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    set_shared(&state, &c, &code, &form, false).await
}

/// Shares the case with the form's organisation, or stops sharing it.
async fn set_shared(
    state: &AppState,
    c: &Context,
    code: &str,
    form: &Submitted,
    shared: bool,
) -> Result<Response, PageError> {
    let staff = c.user()?.staff();
    let code = parse_code(code)?;
    let org = org_of(form)?;
    let now = state.clock.now();
    write_tx!(&state.db, |tx| -> Result<(), CaseError> async {
        if shared {
            cases::share(tx, now, &staff, &code, &org).await
        } else {
            cases::unshare(tx, now, &staff, &code, &org).await
        }
    })?;
    Ok(see_other(&format!("/cases/{}", code.as_str())))
}

async fn set_open(
    state: &AppState,
    c: &Context,
    code: &str,
    open: bool,
) -> Result<Response, PageError> {
    let staff = c.user()?.staff();
    let code = parse_code(code)?;
    let now = state.clock.now();
    write_tx!(&state.db, |tx| -> Result<cases::Case, CaseError> async {
        cases::set_open(tx, now, &staff, &code, open).await
    })?;
    Ok(see_other(&format!("/cases/{}", code.as_str())))
}

async fn close(
    State(state): State<AppState>,
    c: Context,
    Path(code): Path<String>,
    _: Submitted,
) -> Result<Response, PageError> {
    set_open(&state, &c, &code, false).await
}

async fn reopen(
    State(state): State<AppState>,
    c: Context,
    Path(code): Path<String>,
    _: Submitted,
) -> Result<Response, PageError> {
    set_open(&state, &c, &code, true).await
}
