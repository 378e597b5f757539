//! The treasurers' report pages: draft a period's report, read its figures and what
//! suppression could not hide, freeze it, co-sign it, send it to donors, and see whether a
//! frozen report still matches the ledger. Every step is the API's own.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Datelike;

use super::context::{Context, PageError, Path, page_id, see_other};
use super::forms::{FieldErrors, Filled, Submitted, field_errors};
use super::i18n;
use super::pager::{PageQuery, Pager};
use super::pages::{ChartLine, chart_lines, render_with};
use crate::approval::FlowError;
use crate::domain::{ReportStatus, Role};
use crate::http::error::ApiError;
use crate::http::parse_new_report;
use crate::reports::lifecycle::{self, ChainNext, ReportView};
use crate::reports::send::{self, Figures};
use crate::state::AppState;
use crate::write_tx;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reports", get(list).post(draft))
        .route("/reports/{id}", get(show))
        .route("/reports/{id}/seal", post(seal))
        .route("/reports/{id}/send", post(send_to_donors))
}

pub struct ReportLine {
    pub id: String,
    pub period: String,
    pub status: ReportStatus,
    pub status_label: String,
    pub superseded: bool,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ListPage<'a> {
    c: &'a Context,
    title: String,
    reports: Vec<ReportLine>,
    form: Filled,
    /// Where the next report starts, in words.
    chain: String,
    pager: Pager,
}

fn line(c: &Context, r: &ReportView) -> ReportLine {
    ReportLine {
        id: r.id.clone(),
        period: format!("{} → {}", r.period_start, r.period_end),
        status: r.status,
        status_label: c.t(&format!("report-status-{}", r.status)),
        superseded: r.superseded_by.is_some(),
    }
}

async fn list_page(
    state: &AppState,
    c: &Context,
    q: &PageQuery,
    values: HashMap<String, String>,
    errors: FieldErrors,
) -> Result<Response, PageError> {
    c.with_role(Role::Treasurer)?;
    let request = q.request()?;
    let reports = lifecycle::list(&state.db, None, &request).await?;
    let pager = Pager::of("/reports", &[], &reports);
    let reports = reports.items;
    let next = lifecycle::next_in_chain(&state.db).await?;
    let mut values = values;
    // Where the chain of frozen reports ends, to the end of the last ended month (or to
    // today, when that month has not ended yet).
    let today = state.clock.now().date_naive();
    let start = next.proposed_start(today);
    let this_month = today.with_day(1).unwrap_or(today);
    let last_month_end = this_month - chrono::Duration::days(1);
    let end = if last_month_end >= start {
        last_month_end
    } else {
        today
    };
    values
        .entry("period_start".into())
        .or_insert_with(|| start.to_string());
    values
        .entry("period_end".into())
        .or_insert_with(|| end.to_string());
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_with(
        status,
        &ListPage {
            pager,
            title: c.t("reports-title"),
            reports: reports.iter().map(|r| line(c, r)).collect(),
            form: Filled { values, errors },
            chain: chain_words(c, &next, "reports-chain-next", "reports-chain-first"),
            c,
        },
    )
}

/// Where the next report starts, in the reader's language.
fn chain_words(c: &Context, next: &ChainNext, after: &str, first: &str) -> String {
    match next {
        ChainNext::After {
            report,
            period_start,
            period_end,
            day,
            ..
        } => i18n::text_with(
            c.language,
            after,
            &[
                ("start", day.to_string()),
                (
                    "report",
                    format!(
                        "{period_start} → {period_end} ({})",
                        &report[..8.min(report.len())]
                    ),
                ),
            ],
        ),
        ChainNext::First {
            first_event_day: Some(d),
        } => i18n::text_with(c.language, first, &[("start", d.to_string())]),
        ChainNext::First { .. } => String::new(),
    }
}

async fn list(
    State(state): State<AppState>,
    c: Context,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    list_page(&state, &c, &q, HashMap::new(), FieldErrors::default()).await
}

async fn draft(
    State(state): State<AppState>,
    c: Context,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let body = form.as_json(&["period_start", "period_end"], &[]);
    let now = state.clock.now();
    let actor = user.staff().actor();
    let outcome: Result<String, ApiError> = async {
        let new = parse_new_report(&body, now, state.config.report_min_cell)?;
        let id = write_tx!(&state.db, |tx| -> Result<String, FlowError> async {
            lifecycle::create(tx, now, &actor, &new).await
        })?;
        Ok(id)
    }
    .await;
    match outcome {
        Ok(id) => Ok(see_other(&format!("/reports/{id}"))),
        // The period does not continue the chain: said under its first day.
        Err(ApiError::Conflict(_)) => {
            let next = lifecycle::next_in_chain(&state.db).await?;
            let message = chain_words(
                &c,
                &next,
                "reports-chain-refused",
                "reports-chain-first-refused",
            );
            let errors = FieldErrors(HashMap::from([("period_start".to_string(), message)]));
            list_page(&state, &c, &PageQuery::default(), form.values(), errors).await
        }
        Err(e) => {
            let errors = field_errors(&c, e, "")?;
            list_page(&state, &c, &PageQuery::default(), form.values(), errors).await
        }
    }
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage<'a> {
    c: &'a Context,
    title: String,
    r: ReportLine,
    hash: Option<String>,
    /// Whether the frozen figures still match the ledger; None for a draft.
    matches: Option<bool>,
    warnings: Vec<String>,
    rows: Vec<(String, String)>,
    chart: Vec<ChartLine>,
    max: i64,
    note: String,
    /// Spending by province, as bars, and the largest of them.
    provinces: Vec<ChartLine>,
    province_max: i64,
    /// How to read the report, in a short paragraph.
    how_to_read: String,
    /// A draft: how many figures sealing it now would hide, and whether a quarter would
    /// publish more (a month that hides most of them).
    suppressed: Option<String>,
    suggest_quarter: bool,
    /// Why this period is too quiet to publish (the summary's `withheld`, in the reader's
    /// language): it cannot be frozen, and the page says to draft a longer period.
    withheld: Option<String>,
    can_seal: bool,
    can_send: bool,
    sent: bool,
}

async fn show(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let id = page_id(&id)?;
    let view = lifecycle::find(&state.db, &id).await?;
    let matches = if view.hash.is_some() {
        Some(lifecycle::verify(&state.db, &id).await?.matches)
    } else {
        None
    };
    let Figures {
        rows,
        chart,
        max,
        note,
        hidden: _,
        by_province,
        how_to_read,
    } = match &view.summary {
        Some(summary) => send::figures(c.language, summary),
        None => send::no_figures(c.language),
    };
    let already_signed = view.sealed_by.as_deref() == Some(user.id.as_str());
    let (suppressed, suggest_quarter) = match (&view.summary, view.status.is_draft()) {
        (Some(summary), true) => {
            let (hidden, total) = summary.hidden_figures();
            let days = match (
                view.period_start.parse::<chrono::NaiveDate>(),
                view.period_end.parse::<chrono::NaiveDate>(),
            ) {
                (Ok(a), Ok(b)) => (b - a).num_days() + 1,
                _ => 0,
            };
            (
                Some(c.t_with(
                    "report-suppressed",
                    &[("hidden", hidden.to_string()), ("total", total.to_string())],
                )),
                days <= 31 && total > 0 && hidden * 2 > total,
            )
        }
        _ => (None, false),
    };
    let withheld = view
        .summary
        .as_ref()
        .and_then(|s| s.withheld.as_ref())
        .map(|w| w.get(c.language).to_string());
    let page = ReportPage {
        title: c.t("report-title"),
        r: line(&c, &view),
        hash: view.hash.clone(),
        matches,
        warnings: view.warnings.clone(),
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
        can_seal: view.superseded_by.is_none()
            && ((view.status.is_draft() && withheld.is_none())
                || (view.status == ReportStatus::AwaitingCosign && !already_signed)),
        withheld,
        suppressed,
        suggest_quarter,
        can_send: view.status.is_sealed() && view.superseded_by.is_none(),
        sent: view.send_requested_at.is_some(),
        c: &c,
    };
    render_with(StatusCode::OK, &page)
}

async fn seal(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    _: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let id = page_id(&id)?;
    let now = state.clock.now();
    let treasurer = user.id.clone();
    write_tx!(&state.db, |tx| -> Result<lifecycle::Sealed, FlowError> async {
        lifecycle::seal(tx, now, &treasurer, &id).await
    })?;
    Ok(see_other(&format!("/reports/{id}")))
}

async fn send_to_donors(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    _: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let id = page_id(&id)?;
    let now = state.clock.now();
    send::send(&state.db, &state.config, now, &user.staff().actor(), &id).await?;
    Ok(see_other(&format!("/reports/{id}")))
}
