//! Signing in and out of the pages, and switching language. The session is the API's own
//! token, kept in an HttpOnly, SameSite=Strict cookie (Secure over https) that scripts
//! cannot read.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::USER_AGENT;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::context::{
    Context, LANGUAGE_COOKIE, PageError, SESSION_COOKIE, expired, safe_return, see_other,
    set_cookie,
};
use super::forms::Submitted;
use super::pages::{render, render_with, urlencode};
use crate::domain::{Language, Role};
use crate::http::extractor::ClientIp;
use crate::identity::second_factor::{self, FactorError};
use crate::identity::sessions::Origin;
use crate::identity::sign_in::{SignInError, SignedIn, sign_in};
use crate::identity::tokens::Issued;
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

/// The session cookie for a token just issued, and on to `next` (a treasurer or admin who
/// must set up a second factor goes there first: the pages send them).
fn session_started(state: &AppState, c: &Context, issued: Issued, next: &str) -> Response {
    let lifetime = (issued.expires_at - state.clock.now()).num_seconds();
    let mut response = see_other(next);
    set_cookie(
        &mut response,
        &c.cookie(SESSION_COOKIE, issued.token, lifetime),
    );
    set_cookie(&mut response, &expired(CHALLENGE_COOKIE, c.secure));
    response
}

pub async fn submit(
    State(state): State<AppState>,
    c: Context,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Submitted,
) -> Result<Response, PageError> {
    let next = safe_return(form.get("next")).to_string();
    let origin = Origin::new(headers.get(USER_AGENT).and_then(|v| v.to_str().ok()), &ip);
    let outcome = sign_in(
        &state.db,
        &state.config,
        state.clock.now(),
        form.get("email"),
        form.get("password").to_string(),
        &origin,
    )
    .await;
    let (status, error) = match outcome {
        Ok(SignedIn::Session(_, issued)) => {
            return Ok(session_started(&state, &c, issued, &next));
        }
        Ok(SignedIn::SecondFactor { challenge }) => {
            let mut response = see_other(&format!("/signin/code?next={}", urlencode(&next)));
            let lifetime = second_factor::CHALLENGE_LIFETIME.num_seconds();
            set_cookie(
                &mut response,
                &c.cookie(CHALLENGE_COOKIE, challenge, lifetime),
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
        state.activity.touch(&user.jti, state.clock.now());
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

/// The cookie that carries the second step's challenge between the two pages of signing
/// in: HttpOnly, five minutes, used up by the code page.
pub const CHALLENGE_COOKIE: &str = "passage_challenge";

#[derive(Template)]
#[template(path = "signin_code.html")]
struct CodePage<'a> {
    c: &'a Context,
    title: String,
    next: String,
    error: Option<String>,
}

/// The second step of signing in: a code from the app, or a recovery code.
pub async fn code_form(c: Context, Query(q): Query<Next>) -> Result<Response, PageError> {
    let next = safe_return(q.next.as_deref().unwrap_or("/")).to_string();
    if c.user.is_some() {
        return Ok(see_other(&next));
    }
    render(&CodePage {
        title: c.t("signin-code-title"),
        c: &c,
        next,
        error: None,
    })
}

pub async fn code_submit(
    State(state): State<AppState>,
    c: Context,
    ClientIp(ip): ClientIp,
    jar: axum_extra::extract::cookie::CookieJar,
    form: Submitted,
) -> Result<Response, PageError> {
    let next = safe_return(form.get("next")).to_string();
    let Some(challenge) = jar.get(CHALLENGE_COOKIE).map(|k| k.value().to_string()) else {
        return Ok(see_other(&format!("/signin?next={}", urlencode(&next))));
    };
    let outcome = second_factor::complete(
        &state.db,
        &state.config,
        state.clock.now(),
        &challenge,
        form.get("code"),
        &ip,
    )
    .await;
    let (status, error) = match outcome {
        Ok((_, issued)) => return Ok(session_started(&state, &c, issued, &next)),
        Err(FactorError::BadChallenge) => {
            let mut response = see_other(&format!("/signin?next={}", urlencode(&next)));
            set_cookie(&mut response, &expired(CHALLENGE_COOKIE, c.secure));
            return Ok(response);
        }
        Err(FactorError::WrongCode) => (StatusCode::UNPROCESSABLE_ENTITY, c.t("signin-code-wrong")),
        Err(FactorError::Throttled { retry_after_secs }) => (
            StatusCode::TOO_MANY_REQUESTS,
            c.t_with(
                "signin-throttled",
                &[("minutes", retry_after_secs.div_ceil(60).to_string())],
            ),
        ),
        Err(e) => return Err(crate::http::error::ApiError::from(e).into()),
    };
    render_with(
        status,
        &CodePage {
            title: c.t("signin-code-title"),
            c: &c,
            next,
            error: Some(error),
        },
    )
}
