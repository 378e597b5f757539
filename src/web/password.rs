//! A signed-in person changes their own password: the current one, the new one twice.
//! The same check as the API's `POST /api/v1/auth/password` (`identity::sign_in`), with
//! every refusal said in the page's language.

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
    // Said here in the page's language; the identity layer checks the same again.
    let refused = match Password::parse(new.clone()) {
        Err(PasswordError::TooShort) => Some(("new", c.t("password-too-short"))),
        Err(PasswordError::TooLong) => Some(("new", c.t("password-too-long"))),
        Ok(_) if common_passwords::is_common(&new) => Some(("new", c.t("password-common"))),
        Ok(_) if form.get("again") != new => Some(("again", c.t("password-mismatch"))),
        Ok(_) => None,
    };
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
