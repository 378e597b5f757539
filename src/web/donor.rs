//! The donor's page: the report a link opens, with the donor's own gifts, and a check
//! made now that the sealed figures still match the ledger. No session: the link is the
//! key, and it opens this page only. A link that no longer opens (expired, withdrawn by
//! the fund, or by the donor's unsubscribing) says why, in its donor's language.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::context::{Context, PageError};
use super::i18n;
use super::pages::{ChartLine, chart_lines, render, render_with};
use crate::http::error::ApiError;
use crate::http::{DonorRefusal, donor_report_for};
use crate::reports::donor::LinkError;
use crate::reports::send::{self, Figures};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/donor/report", get(report))
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
        // A link Passage issued says why it no longer opens, in its donor's language.
        Err(DonorRefusal::Link(e)) => {
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
            return refused(&c, StatusCode::UNAUTHORIZED, key);
        }
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
