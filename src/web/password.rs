//! A signed-in person changes their own password (the current one, the new one twice), and
//! someone who forgot theirs asks for a link and sets a new one from it (`/reset`). The
//! same steps as the API's `POST /api/v1/auth/password` (`identity::sign_in`) and
//! `/api/v1/auth/reset` (`identity::reset`), with every refusal said in the page's
//! language.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::context::{Context, PageError, see_other};
use super::forms::Submitted;
use super::pages::{render, render_with};
use crate::domain::{Password, PasswordError};
use crate::http::extractor::ClientIp;
use crate::identity::common_passwords;
use crate::identity::reset::{self, ResetError};
use crate::identity::sign_in::{self, SignInError};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage<'a> {
    c: &'a Context,
    title: String,
    changed: bool,
    /// The field the error is about (`current`, `new` or `again`) and what it says.
    error: Option<(&'static str, String)>,
}

/// What is wrong with the new password of `form` (`new`, typed again as `again`), in the
/// page's language: said here first, the identity layer checks the same again.
fn refuse_new(c: &Context, form: &Submitted) -> Option<(&'static str, String)> {
    let new = form.get("new");
    match Password::parse(new.to_string()) {
        Err(PasswordError::TooShort) => Some(("new", c.t("password-too-short"))),
        Err(PasswordError::TooLong) => Some(("new", c.t("password-too-long"))),
        Ok(_) if common_passwords::is_common(new) => Some(("new", c.t("password-common"))),
        Ok(_) if form.get("again") != new => Some(("again", c.t("password-mismatch"))),
        Ok(_) => None,
    }
}

#[derive(Deserialize)]
pub struct Done {
    changed: Option<String>,
}

pub async fn form(c: Context, Query(q): Query<Done>) -> Result<Response, PageError> {
    c.user()?;
    render(&PasswordPage {
        title: c.t("password-title"),
        changed: q.changed.is_some(),
        c: &c,
        error: None,
    })
}

pub async fn submit(
    State(state): State<AppState>,
    c: Context,
    ClientIp(ip): ClientIp,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = c.user()?;
    let new = form.get("new").to_string();
    let refused = refuse_new(&c, &form);
    let (status, error) = match refused {
        Some(error) => (StatusCode::UNPROCESSABLE_ENTITY, error),
        None => match sign_in::change_password(
            &state.db,
            &state.config,
            state.clock.now(),
            &user.id,
            form.get("current").to_string(),
            new,
            &ip,
        )
        .await
        {
            Ok(()) => return Ok(see_other("/password?changed=1")),
            Err(SignInError::WrongCurrent) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ("current", c.t("password-wrong-current")),
            ),
            Err(SignInError::Throttled { retry_after_secs }) => (
                StatusCode::TOO_MANY_REQUESTS,
                (
                    "current",
                    c.t_with(
                        "signin-throttled",
                        &[("minutes", retry_after_secs.div_ceil(60).to_string())],
                    ),
                ),
            ),
            Err(e) => return Err(crate::http::error::ApiError::from(e).into()),
        },
    };
    render_with(
        status,
        &PasswordPage {
            title: c.t("password-title"),
            changed: false,
            c: &c,
            error: Some(error),
        },
    )
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage<'a> {
    c: &'a Context,
    title: String,
    /// Set a new password with this token (the emailed link's).
    token: Option<String>,
    sent: bool,
    done: bool,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct ResetQuery {
    token: Option<String>,
    sent: Option<String>,
    done: Option<String>,
}

impl<'a> ResetPage<'a> {
    fn new(c: &'a Context, token: Option<String>) -> Self {
        let title = if token.is_some() {
            c.t("reset-choose-title")
        } else {
            c.t("reset-title")
        };
        ResetPage {
            c,
            title,
            token,
            sent: false,
            done: false,
            error: None,
        }
    }
}

/// `/reset`: the form to ask for a link; with `?token=` (the emailed link), the form to set
/// a new password. Nobody needs to be signed in.
pub async fn reset_form(c: Context, Query(q): Query<ResetQuery>) -> Result<Response, PageError> {
    let mut page = ResetPage::new(&c, q.token.filter(|t| !t.is_empty()));
    page.sent = q.sent.is_some();
    page.done = q.done.is_some();
    render(&page)
}

/// Asks for a link: the same answer whether or not the address has an account.
pub async fn reset_ask(
    State(state): State<AppState>,
    c: Context,
    ClientIp(ip): ClientIp,
    form: Submitted,
) -> Result<Response, PageError> {
    match reset::request(
        &state.db,
        &state.config,
        state.clock.now(),
        form.get("email"),
        &ip,
    )
    .await
    {
        Ok(()) => Ok(see_other("/reset?sent=1")),
        Err(ResetError::Throttled { retry_after_secs }) => {
            let mut page = ResetPage::new(&c, None);
            page.error = Some(c.t_with(
                "signin-throttled",
                &[("minutes", retry_after_secs.div_ceil(60).to_string())],
            ));
            render_with(StatusCode::TOO_MANY_REQUESTS, &page)
        }
        Err(e) => Err(crate::http::error::ApiError::from(e).into()),
    }
}

/// Sets the new password from the link: the link is used up, every session ends.
pub async fn reset_confirm(
    State(state): State<AppState>,
    c: Context,
    form: Submitted,
) -> Result<Response, PageError> {
    let token = form.get("token").to_string();
    if let Some((_, message)) = refuse_new(&c, &form) {
        let mut page = ResetPage::new(&c, Some(token));
        page.error = Some(message);
        return render_with(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    match reset::confirm(
        &state.db,
        state.clock.now(),
        &token,
        form.get("new").to_string(),
    )
    .await
    {
        Ok(()) => Ok(see_other("/reset?done=1")),
        Err(ResetError::BadToken) => {
            // The link is no good: the form to ask for another, saying why.
            let mut page = ResetPage::new(&c, None);
            page.error = Some(c.t("reset-bad-link"));
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(crate::http::error::ApiError::from(e).into()),
    }
}
