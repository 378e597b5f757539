//! Signing in and out of the pages, and switching language. The session is the API's own
//! token, kept in an HttpOnly, SameSite=Strict cookie (Secure over https) that scripts
//! cannot read.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::context::{
    Context, LANGUAGE_COOKIE, PageError, SESSION_COOKIE, expired, safe_return, see_other,
    set_cookie,
};
use super::forms::Submitted;
use super::pages::{render, render_with};
use crate::domain::{Language, Role};
use crate::http::extractor::ClientIp;
use crate::identity::sign_in::{SignInError, sign_in};
use crate::identity::{tokens, users};
use crate::state::AppState;

/// The first page of each role.
pub async fn home(c: Context) -> Result<Response, PageError> {
    let user = c.user()?;
    Ok(if user.has(Role::Caseworker) {
        see_other("/cases")
    } else if user.has(Role::Treasurer) {
        see_other("/queue")
    } else if user.has(Role::Admin) {
        see_other("/admin/users")
    } else {
        return Err(PageError::Refused(StatusCode::FORBIDDEN));
    })
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage<'a> {
    c: &'a Context,
    title: String,
    email: String,
    next: String,
    error: Option<String>,
    /// The session this browser had ended (deactivated, signed out, key retired).
    ended: bool,
}

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
    ended: Option<String>,
}

pub async fn form(c: Context, Query(q): Query<Next>) -> Result<Response, PageError> {
    let next = safe_return(q.next.as_deref().unwrap_or("/")).to_string();
    if c.user.is_some() {
        return Ok(see_other(&next));
    }
    render(&SignInPage {
        title: c.t("signin-title"),
        c: &c,
        email: String::new(),
        next,
        error: None,
        ended: q.ended.is_some(),
    })
}

pub async fn submit(
    State(state): State<AppState>,
    c: Context,
    ClientIp(ip): ClientIp,
    form: Submitted,
) -> Result<Response, PageError> {
    let next = safe_return(form.get("next")).to_string();
    let outcome = sign_in(
        &state.db,
        &state.config,
        state.clock.now(),
        form.get("email"),
        form.get("password").to_string(),
        &ip,
    )
    .await;
    let (status, error) = match outcome {
        Ok((_, issued)) => {
            let lifetime = (issued.expires_at - state.clock.now()).num_seconds();
            let mut response = see_other(&next);
            set_cookie(
                &mut response,
                &c.cookie(SESSION_COOKIE, issued.token, lifetime),
            );
            return Ok(response);
        }
        // Signing in never checks a current password: the same answer as a wrong one.
        Err(SignInError::Refused | SignInError::WrongCurrent) => {
            (StatusCode::UNAUTHORIZED, c.t("signin-refused"))
        }
        Err(SignInError::Throttled { retry_after_secs }) => (
            StatusCode::TOO_MANY_REQUESTS,
            c.t_with(
                "signin-throttled",
                &[("minutes", retry_after_secs.div_ceil(60).to_string())],
            ),
        ),
        Err(SignInError::Identity(e)) => return Err(crate::http::error::ApiError::from(e).into()),
    };
    render_with(
        status,
        &SignInPage {
            title: c.t("signin-title"),
            c: &c,
            email: form.get("email").to_string(),
            next,
            error: Some(error),
            ended: false,
        },
    )
}

pub async fn sign_out(
    State(state): State<AppState>,
    c: Context,
    _: Submitted,
) -> Result<Response, PageError> {
    if let Some(user) = &c.user {
        tokens::revoke(&state.db, state.clock.now(), &user.jti, user.expires_at)
            .await
            .map_err(crate::http::error::ApiError::from)?;
    }
    let mut response = see_other("/signin");
    set_cookie(&mut response, &expired(SESSION_COOKIE, c.secure));
    Ok(response)
}

/// Switches the pages' language: the signed-in user's setting, and a cookie for the
/// sign-in page of this browser.
pub async fn switch_language(
    State(state): State<AppState>,
    c: Context,
    form: Submitted,
) -> Result<Response, PageError> {
    let language: Language = form
        .get("lang")
        .parse()
        .map_err(|_| PageError::Refused(StatusCode::BAD_REQUEST))?;
    if let Some(user) = &c.user {
        users::set_language(&state.db, &user.id, language)
            .await
            .map_err(crate::http::error::ApiError::from)?;
    }
    let mut response = see_other(form.get("back"));
    let cookie = c.cookie(
        LANGUAGE_COOKIE,
        language.as_str().into(),
        60 * 60 * 24 * 365,
    );
    set_cookie(&mut response, &cookie);
    Ok(response)
}
