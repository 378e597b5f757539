//! The donor's pages: the report a link opens, with the donor's own gifts, and a check
//! made now that the sealed figures still match the ledger; and the page of the
//! unsubscribe link of every report email, which stops the reports (and offers to start
//! them again) with one button. No session: the link is the key, and it opens these pages
//! only. A link that no longer opens (expired, withdrawn by the fund, or by the donor's
//! unsubscribing) says why, in its donor's language.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use super::context::{Context, PageError, see_other};
use super::forms::Submitted;
use super::i18n;
use super::pages::{ChartLine, chart_lines, render, render_with};
use crate::http::error::ApiError;
use crate::http::{DonorRefusal, donor_report_for};
use crate::reports::donor::{self, LinkError, Opened, Purpose};
use crate::reports::send::{self, Figures};
use crate::state::AppState;
use crate::store::StoreError;
use crate::write_tx;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/donor/report", get(report))
        .route(
            "/donor/unsubscribe",
            get(unsubscribe_page).post(unsubscribe),
        )
        .route("/donor/resubscribe", post(resubscribe))
}

#[derive(Deserialize)]
struct Link {
    token: Option<String>,
}

#[derive(Template)]
#[template(path = "donor_report.html")]
struct ReportPage<'a> {
    c: &'a Context,
    title: String,
    verified: bool,
    superseded: bool,
    hash: String,
    gifts: Vec<String>,
    gifts_total: String,
    rows: Vec<(String, String)>,
    chart: Vec<ChartLine>,
    max: i64,
    hidden: String,
    note: String,
}

#[derive(Template)]
#[template(path = "donor_refused.html")]
struct RefusedPage<'a> {
    c: &'a Context,
    title: String,
    explanation: String,
}

async fn report(
    State(state): State<AppState>,
    c: Context,
    Query(link): Query<Link>,
) -> Result<Response, PageError> {
    let token = link.token.unwrap_or_default();
    let found = if token.trim().is_empty() {
        Err(DonorRefusal::Link(LinkError::Invalid))
    } else {
        donor_report_for(&state, token.trim()).await
    };
    let report = match found {
        Ok(report) => report,
        Err(DonorRefusal::Link(e)) => return link_refused(&c, e),
        Err(DonorRefusal::Other(e @ ApiError::Forbidden(_))) => {
            return refused(&c, e.status(), "donor-link-refused");
        }
        Err(DonorRefusal::Other(e)) => return Err(e.into()),
    };
    let Figures {
        rows,
        chart,
        max,
        note,
        hidden,
    } = match &report.summary {
        Some(summary) => send::figures(c.language, summary),
        None => send::no_figures(c.language),
    };
    let page = ReportPage {
        title: c.t_with(
            "donor-title-period",
            &[
                ("start", period_day(&c, &report.period_start)),
                ("end", period_day(&c, &report.period_end)),
            ],
        ),
        verified: report.verified,
        superseded: report.superseded_by.is_some(),
        hash: report.hash.clone(),
        gifts: report
            .gifts
            .iter()
            .map(|g| send::gift_line(c.language, g))
            .collect(),
        gifts_total: i18n::money_str(c.language, &report.gifts_total),
        rows,
        chart: chart_lines(&c, chart),
        max: max.max(1),
        hidden,
        note,
        c: &c,
    };
    render(&page)
}

/// A link Passage issued says why it no longer opens, in its donor's language.
fn link_refused(c: &Context, e: LinkError) -> Result<Response, PageError> {
    let key = match &e {
        LinkError::Store(_) => return Err(ApiError::from(DonorRefusal::Link(e)).into()),
        LinkError::Invalid => "donor-link-refused",
        LinkError::Expired { .. } => "donor-link-expired",
        LinkError::Withdrawn { .. } => "donor-link-withdrawn",
        LinkError::Unsubscribed { .. } => "donor-link-unsubscribed",
    };
    let mut c = c.clone();
    if let Some(language) = e.language() {
        c.language = language;
    }
    refused(&c, StatusCode::UNAUTHORIZED, key)
}

#[derive(Template)]
#[template(path = "donor_unsubscribe_page.html")]
struct UnsubscribePage<'a> {
    c: &'a Context,
    title: String,
    token: String,
    subscribed: bool,
    withdrawn: bool,
}

/// A token as it goes back into an address or a form: the characters a link holds only.
fn link_token(token: &str) -> String {
    token
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect()
}

async fn open_unsubscribe(state: &AppState, token: &str) -> Result<Opened, LinkError> {
    if token.is_empty() {
        return Err(LinkError::Invalid);
    }
    donor::open(&state.db, state.clock.now(), token, Purpose::Unsubscribe).await
}

/// The unsubscribe link of a report email: in the donor's language, whether they receive
/// the reports now, and one button to stop them, or, once stopped, to start them again.
/// Opening it changes nothing (mail scanners open links); mail clients' one-click
/// unsubscribe posts to the API's route named in the `List-Unsubscribe` header.
async fn unsubscribe_page(
    State(state): State<AppState>,
    c: Context,
    Query(link): Query<Link>,
) -> Result<Response, PageError> {
    let token = link_token(&link.token.unwrap_or_default());
    let opened = match open_unsubscribe(&state, &token).await {
        Ok(opened) => opened,
        Err(e) => return link_refused(&c, e),
    };
    let mut c = c.clone();
    c.language = opened.language;
    render(&UnsubscribePage {
        title: c.t("donor-title"),
        token,
        subscribed: opened.subscribed,
        withdrawn: opened.withdrawn.is_some(),
        c: &c,
    })
}

/// The page's button: the donor stops receiving the reports (their report links are
/// withdrawn), and the page says so. Stopping mail is honoured even through a link the
/// fund withdrew.
async fn unsubscribe(
    State(state): State<AppState>,
    c: Context,
    form: Submitted,
) -> Result<Response, PageError> {
    let token = link_token(form.get("token"));
    let opened = match open_unsubscribe(&state, &token).await {
        Ok(opened) => opened,
        Err(e) => return link_refused(&c, e),
    };
    let now = state.clock.now();
    write_tx!(&state.db, |tx| -> Result<bool, StoreError> async {
        send::unsubscribe(tx, now, &opened.donor).await
    })
    .map_err(ApiError::from)?;
    Ok(see_other(&format!("/donor/unsubscribe?token={token}")))
}

/// The page's other button: the donor receives the reports again (not through a link the
/// fund withdrew); the next report's email brings new links.
async fn resubscribe(
    State(state): State<AppState>,
    c: Context,
    form: Submitted,
) -> Result<Response, PageError> {
    let token = link_token(form.get("token"));
    let opened = match open_unsubscribe(&state, &token).await {
        Ok(opened) => opened,
        Err(e) => return link_refused(&c, e),
    };
    if opened.withdrawn.is_some() {
        return link_refused(
            &c,
            LinkError::Withdrawn {
                language: opened.language,
            },
        );
    }
    let now = state.clock.now();
    write_tx!(&state.db, |tx| -> Result<bool, StoreError> async {
        send::resubscribe(tx, now, &opened.donor).await
    })
    .map_err(ApiError::from)?;
    Ok(see_other(&format!("/donor/unsubscribe?token={token}")))
}

fn refused(c: &Context, status: StatusCode, key: &str) -> Result<Response, PageError> {
    render_with(
        status,
        &RefusedPage {
            title: c.t("donor-title"),
            explanation: c.t(key),
            c,
        },
    )
}

fn period_day(c: &Context, day: &str) -> String {
    day.parse::<chrono::NaiveDate>()
        .map(|d| i18n::date(c.language, d))
        .unwrap_or_else(|_| day.to_string())
}
