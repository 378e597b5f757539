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
    /// "Checked at 14:05 UTC on 5 December 2026": when the books were last checked.
    checked: String,
    superseded: bool,
    hash: String,
    gifts: Vec<String>,
    gifts_total: String,
    rows: Vec<(String, String)>,
    chart: Vec<ChartLine>,
    max: i64,
    note: String,
    /// Spending by province, as bars, and the largest of them.
    provinces: Vec<ChartLine>,
    province_max: i64,
    /// How to read the report, in a short paragraph.
    how_to_read: String,
    /// Where the summary file is downloaded, and the name it is saved under.
    summary_link: String,
    file_name: String,
    /// "Name, 2 December 2026 at 09:00 UTC".
    frozen: Option<String>,
    cosigned: Option<String>,
    /// The audit chain's head the report carries: event number and hash.
    audit_head: Option<(String, String)>,
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
        hidden: _,
        by_province,
        how_to_read,
    } = match &report.summary {
        Some(summary) => send::figures(c.language, summary),
        None => send::no_figures(c.language),
    };
    let signed = |by: &Option<String>, at: Option<chrono::DateTime<chrono::Utc>>| {
        by.as_ref().map(|name| {
            c.t_with(
                "donor-signed-by",
                &[
                    ("name", name.clone()),
                    ("at", at.map(|at| moment(&c, at)).unwrap_or_default()),
                ],
            )
        })
    };
    let frozen = signed(&report.frozen_by, report.frozen_at);
    let cosigned = signed(&report.cosigned_by, report.cosigned_at);
    let audit_head = report.summary.as_ref().map(|s| {
        (
            c.t_with("donor-audit-event", &[("n", s.audit_head.seq.to_string())]),
            s.audit_head.hash.clone(),
        )
    });
    let file_name = format!(
        "passage-report-{}-{}.json",
        link_token(&report.period_start),
        link_token(&report.period_end)
    );
    let page = ReportPage {
        summary_link: format!(
            "/api/v1/donor/report/summary.json?token={}",
            link_token(&token)
        ),
        file_name,
        frozen,
        cosigned,
        audit_head,
        title: c.t_with(
            "donor-title-period",
            &[
                ("start", period_day(&c, &report.period_start)),
                ("end", period_day(&c, &report.period_end)),
            ],
        ),
        verified: report.verified,
        checked: c.t_with(
            "donor-checked-at",
            &[
                ("time", report.checked_at.format("%H:%M").to_string()),
                (
                    "day",
                    i18n::date(c.language, report.checked_at.date_naive()),
                ),
            ],
        ),
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
        province_max: by_province
            .iter()
            .filter_map(|b| b.amount)
            .max()
            .unwrap_or(0)
            .max(1),
        provinces: chart_lines(&c, by_province),
        how_to_read,
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

/// A moment as the language writes it, in UTC: "2 décembre 2026 à 09:00 UTC".
fn moment(c: &Context, at: chrono::DateTime<chrono::Utc>) -> String {
    c.t_with(
        "donor-moment",
        &[
            ("day", i18n::date(c.language, at.date_naive())),
            ("time", at.format("%H:%M").to_string()),
        ],
    )
}

fn period_day(c: &Context, day: &str) -> String {
    day.parse::<chrono::NaiveDate>()
        .map(|d| i18n::date(c.language, d))
        .unwrap_or_else(|_| day.to_string())
}
