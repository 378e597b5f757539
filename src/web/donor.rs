//! The donor's page: the report a signed link opens, with the donor's own gifts, and a
//! check made now that the sealed figures still match the ledger. No session: the link is
//! the key, and it opens this page only.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::context::{Context, PageError};
use super::i18n;
use super::pages::{ChartLine, chart_lines, render, render_with};
use crate::app::AppState;
use crate::http::donor_report_for;
use crate::http::error::ApiError;
use crate::reports::send::{self, Figures};

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
        Err(ApiError::Unauthorized("no token".into()))
    } else {
        donor_report_for(&state, token.trim()).await
    };
    let report = match found {
        Ok(report) => report,
        Err(e @ (ApiError::Unauthorized(_) | ApiError::Forbidden(_))) => {
            // The link's own words say whether it expired or is not valid.
            let key = if e.to_string().contains("expired") {
                "donor-link-expired"
            } else {
                "donor-link-refused"
            };
            return render_with(
                e.status(),
                &RefusedPage {
                    title: c.t("donor-title"),
                    explanation: c.t(key),
                    c: &c,
                },
            );
        }
        Err(e) => return Err(e.into()),
    };
    let Figures {
        rows,
        chart,
        max,
        note,
        hidden,
    } = send::figures(c.language, &report.summary);
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

fn period_day(c: &Context, day: &str) -> String {
    day.parse::<chrono::NaiveDate>()
        .map(|d| i18n::date(c.language, d))
        .unwrap_or_else(|_| day.to_string())
}
