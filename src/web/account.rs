//! One's own account: setting up a second factor (`/account/second-factor`: the QR code,
//! drawn here as SVG, the secret as text beside it, the recovery codes shown once) and
//! one's sessions (`/account/sessions`: see them, end one, end all others). The same steps
//! as the API's `/api/v1/auth/totp` and `/api/v1/auth/sessions`.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::context::{Context, PageError, Path, see_other};
use super::forms::Submitted;
use super::pages::{render, render_with};
use crate::audit::Actor;
use crate::http::extractor::ClientIp;
use crate::i18n;
use crate::identity::second_factor::{self, FactorError};
use crate::identity::sessions::{self, Ending};
use crate::identity::users;
use crate::state::AppState;

/// An `otpauth://` URI as an SVG QR code, drawn by Passage (no image service sees the
/// secret). The XML declaration goes: the SVG sits inside the page.
pub fn qr_svg(uri: &str) -> Result<String, PageError> {
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(|e| {
        crate::http::error::ApiError::Internal(format!("cannot draw the QR code: {e}"))
    })?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(match svg.find("<svg") {
        Some(at) => svg[at..].to_string(),
        None => svg,
    })
}

/// What the enrolment page shows of a secret being set up.
struct Setup {
    secret: String,
    qr: String,
    /// Only right after starting: the codes are not kept readable.
    recovery_codes: Vec<String>,
}

#[derive(Template)]
#[template(path = "second_factor.html")]
struct FactorPage<'a> {
    c: &'a Context,
    title: String,
    enrolled: bool,
    /// Required of this user before anything else.
    required: bool,
    codes_left: i64,
    setup: Option<Setup>,
    done: bool,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

pub async fn factor(
    State(state): State<AppState>,
    c: Context,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    let user = c.user_enrolling()?;
    let codes_left = if user.enrolled {
        second_factor::recovery_codes_left(&state.db, &user.id).await?
    } else {
        0
    };
    render(&FactorPage {
        title: c.t("factor-title"),
        enrolled: user.enrolled,
        required: user.must_enrol,
        codes_left,
        setup: None,
        done: q.done.is_some(),
        c: &c,
        error: None,
    })
}

pub async fn factor_start(
    State(state): State<AppState>,
    c: Context,
    _: Submitted,
) -> Result<Response, PageError> {
    let auth = c.user_enrolling()?;
    let user = users::find(&state.db, &auth.id)
        .await?
        .ok_or(PageError::SignIn)?;
    let started = second_factor::start(&state.db, &state.config, state.clock.now(), &user).await;
    let e = match started {
        Ok(e) => e,
        Err(FactorError::AlreadyEnrolled) => return Ok(see_other("/account/second-factor")),
        Err(e) => return Err(crate::http::error::ApiError::from(e).into()),
    };
    render(&FactorPage {
        title: c.t("factor-title"),
        enrolled: false,
        required: auth.must_enrol,
        codes_left: 0,
        setup: Some(Setup {
            qr: qr_svg(&e.otpauth_uri)?,
            secret: e.secret,
            recovery_codes: e.recovery_codes,
        }),
        done: false,
        c: &c,
        error: None,
    })
}

pub async fn factor_confirm(
    State(state): State<AppState>,
    c: Context,
    ClientIp(ip): ClientIp,
    form: Submitted,
) -> Result<Response, PageError> {
    let auth = c.user_enrolling()?;
    let confirmed = second_factor::confirm(
        &state.db,
        &state.config,
        state.clock.now(),
        &auth.id,
        form.get("code"),
        &ip,
    )
    .await;
    let (status, error) = match confirmed {
        Ok(()) => return Ok(see_other("/account/second-factor?done=1")),
        Err(FactorError::AlreadyEnrolled) => return Ok(see_other("/account/second-factor")),
        Err(FactorError::NotStarted) => return Ok(see_other("/account/second-factor")),
        Err(FactorError::WrongCode) => (StatusCode::UNPROCESSABLE_ENTITY, c.t("factor-wrong-code")),
        Err(FactorError::Throttled { retry_after_secs }) => (
            StatusCode::TOO_MANY_REQUESTS,
            c.t_with(
                "signin-throttled",
                &[("minutes", retry_after_secs.div_ceil(60).to_string())],
            ),
        ),
        Err(e) => return Err(crate::http::error::ApiError::from(e).into()),
    };
    let user = users::find(&state.db, &auth.id)
        .await?
        .ok_or(PageError::SignIn)?;
    let pending = second_factor::pending(&state.db, &state.config, &user)
        .await
        .map_err(crate::http::error::ApiError::from)?;
    let setup = match pending {
        Some((secret, uri)) => Some(Setup {
            qr: qr_svg(&uri)?,
            secret,
            recovery_codes: Vec::new(),
        }),
        None => None,
    };
    render_with(
        status,
        &FactorPage {
            title: c.t("factor-title"),
            enrolled: false,
            required: auth.must_enrol,
            codes_left: 0,
            setup,
            done: false,
            c: &c,
            error: Some(error),
        },
    )
}

/// A session on the sessions page.
struct SessionRow {
    id: String,
    current: bool,
    device: String,
    /// "From 192.0.2.1", in words.
    address: String,
    /// "Began 3 h ago, last seen 4 min ago", in words.
    seen: String,
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage<'a> {
    c: &'a Context,
    title: String,
    sessions: Vec<SessionRow>,
    ended: Option<u64>,
}

#[derive(Deserialize)]
pub struct Ended {
    ended: Option<u64>,
}

pub async fn list(
    State(state): State<AppState>,
    c: Context,
    Query(q): Query<Ended>,
) -> Result<Response, PageError> {
    let user = c.user()?;
    let now = state.clock.now();
    let lines = sessions::list(&state.db, &state.activity, &user.id, now).await?;
    let ago = |t: chrono::DateTime<chrono::Utc>| i18n::waited(c.language, (now - t).num_seconds());
    let sessions = lines
        .into_iter()
        .map(|l| SessionRow {
            current: l.id == user.jti,
            seen: c.t_with(
                "sessions-seen",
                &[("began", ago(l.first_seen)), ("seen", ago(l.last_seen))],
            ),
            address: c.t_with("sessions-address", &[("address", l.address)]),
            id: l.id,
            device: l.device,
        })
        .collect();
    render(&SessionsPage {
        title: c.t("sessions-title"),
        sessions,
        ended: q.ended,
        c: &c,
    })
}

pub async fn end_one(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    _: Submitted,
) -> Result<Response, PageError> {
    let user = c.user()?;
    let ended = sessions::end(
        &state.db,
        state.clock.now(),
        &Actor(format!("user:{}", user.id)),
        &user.id,
        Some(&id),
        None,
        Ending::ByUser,
    )
    .await
    .map_err(crate::http::error::ApiError::from)?;
    if id == user.jti {
        // This very session: signed out.
        return Ok(see_other("/signin"));
    }
    Ok(see_other(&format!("/account/sessions?ended={ended}")))
}

pub async fn end_others(
    State(state): State<AppState>,
    c: Context,
    _: Submitted,
) -> Result<Response, PageError> {
    let user = c.user()?;
    let ended = sessions::end(
        &state.db,
        state.clock.now(),
        &Actor(format!("user:{}", user.id)),
        &user.id,
        None,
        Some(&user.jti),
        Ending::ByUser,
    )
    .await
    .map_err(crate::http::error::ApiError::from)?;
    Ok(see_other(&format!("/account/sessions?ended={ended}")))
}
