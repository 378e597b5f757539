//! Donor reports (treasurers): draft, read, seal and co-sign, verify, send, withdraw a
//! donor's links; and what a donor's link opens (see `donor_report`).

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json, Path};
use super::extractor::{Authorized, Treasurer};
use super::fields::{self, invalid};
use super::openapi::{
    BadRequest, Conflict, Figure, Forbidden, Invalid, NotFound, TooLarge, Unauthorized,
};
use super::paging::{self, Paged};
use crate::approval::FlowError;
use crate::domain::money::format_cents;
use crate::domain::{ReportSchedule, ReportStatus};
use crate::reports::donor::{self, LinkError, Opened, Purpose};
use crate::reports::lifecycle::{self, NewReport, Sealed};
use crate::reports::send::{self, Gift, SendOutcome};
use crate::reports::summary::Summary;
use crate::reports::{Period, ReportView, Verification};
use crate::state::AppState;
use crate::store::StoreError;
use crate::{read_tx, write_tx};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_report, list_reports))
        .routes(routes!(get_report))
        .routes(routes!(seal_report))
        .routes(routes!(verify_report))
        .routes(routes!(report_summary_file))
        .routes(routes!(annual_report))
        .routes(routes!(donor_summary_file))
        .routes(routes!(send_report))
        .routes(routes!(donor_report))
        .routes(routes!(unsubscribe, unsubscribe_page))
        .routes(routes!(resubscribe))
        .routes(routes!(withdraw_links))
}

// Read field by field by `create_report`, which takes the fields it accepts from here.
/// The body of `POST /api/v1/reports`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "a schema only: the handler reads the body field by field"
)]
struct NewReportBody {
    /// The first day of the period (UTC).
    period_start: NaiveDate,
    /// The last day of the period, included; a period that has not ended yet is reported
    /// up to the moment it is drafted.
    period_end: NaiveDate,
    /// The id of a frozen report this one corrects.
    #[schema(format = "uuid")]
    supersedes: Option<String>,
}

pub(super) fn report_id(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| invalid("id", "is not a report id"))
}

/// Drafts a report of a period; its figures are computed from the ledger.
#[utoipa::path(
    post,
    path = "/api/v1/reports",
    tag = "reports",
    security(("bearer" = [])),
    request_body = NewReportBody,
    responses(
        (status = 201, body = ReportView),
        BadRequest,
        Unauthorized,
        Forbidden,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn create_report(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<ReportView>), ApiError> {
    let now = state.clock.now();
    let new = parse_new_report(&body, now, state.config.report_min_cell)?;
    let actor = auth.staff().actor();
    let id = write_tx!(&state.db, |tx| -> Result<String, FlowError> async {
        lifecycle::create(tx, now, &actor, &new).await
    })?;
    // The figures are computed in a read snapshot, after the short write.
    let view = read_tx!(&state.db, |tx| -> Result<ReportView, FlowError> async {
        lifecycle::view(tx, &id).await
    })?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Reads a new report's body (the treasurers' page sends the same body).
pub(crate) fn parse_new_report(
    body: &Value,
    now: chrono::DateTime<chrono::Utc>,
    min_cell: u32,
) -> Result<NewReport, ApiError> {
    fields::only_of::<NewReportBody>(body)?;
    let start = fields::date(body, "period_start")?;
    let end = fields::date(body, "period_end")?;
    let supersedes = fields::optional_string(body, "supersedes")?
        .map(|s| {
            uuid::Uuid::parse_str(s.trim())
                .map(|u| u.to_string())
                .map_err(|_| invalid("supersedes", "is not a report id"))
        })
        .transpose()?;
    let period = Period::new(start, end, now.date_naive()).map_err(|(f, e)| invalid(f, e))?;
    Ok(NewReport {
        period,
        schedule: ReportSchedule::Manual,
        supersedes,
        min_cell,
    })
}

/// Lists the reports, newest made first, without their figures, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/reports",
    tag = "reports",
    security(("bearer" = [])),
    params(ReportsQuery),
    responses((status = 200, body = Paged<ReportView>), BadRequest, Unauthorized, Forbidden, Invalid),
)]
async fn list_reports(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
    super::error::Query(query): super::error::Query<ReportsQuery>,
) -> Result<Json<Paged<ReportView>>, ApiError> {
    let request = paging::page_request(query.after.as_deref(), query.limit.as_deref())?;
    let status = query
        .status
        .as_deref()
        .map(str::parse::<ReportStatus>)
        .transpose()
        .map_err(|e| {
            fields::invalid(
                "status",
                format!("{:?} is not a status: use one of {}", e.word, e.choices),
            )
        })?;
    Ok(Json(
        lifecycle::list(&state.db, status, &request).await?.into(),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReportsQuery {
    /// Only the reports in this status.
    #[param(value_type = Option<ReportStatus>, inline)]
    status: Option<String>,
    /// The `next` of the previous page; left out, the list starts from the newest.
    after: Option<String>,
    /// How many reports a page holds: 1 to 200, 50 when left out.
    limit: Option<String>,
}

/// Reads one report with its figures: a draft's as of now, a frozen one's as sealed.
#[utoipa::path(
    get,
    path = "/api/v1/reports/{id}",
    tag = "reports",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The report's id")),
    responses(
        (status = 200, body = ReportView),
        Unauthorized,
        Forbidden,
        NotFound,
        Invalid,
    ),
)]
async fn get_report(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
    Path(id): Path<String>,
) -> Result<Json<ReportView>, ApiError> {
    let id = report_id(&id)?;
    Ok(Json(lifecycle::find(&state.db, &id).await?))
}

/// Seals a report: the first treasurer freezes its figures and hash (`awaiting_cosign`),
/// a second, distinct treasurer co-signs it (`sealed`); only then may it be sent.
#[utoipa::path(
    post,
    path = "/api/v1/reports/{id}/seal",
    tag = "reports",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The report's id")),
    responses(
        (status = 200, body = Sealed),
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        Invalid,
    ),
)]
async fn seal_report(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Path(id): Path<String>,
) -> Result<Json<Sealed>, ApiError> {
    let id = report_id(&id)?;
    let now = state.clock.now();
    let treasurer = auth.id.clone();
    let sealed = write_tx!(&state.db, |tx| -> Result<Sealed, FlowError> async {
        lifecycle::seal(tx, now, &treasurer, &id).await
    })?;
    Ok(Json(sealed))
}

/// Recomputes a frozen report from the ledger and says whether its hash still matches.
#[utoipa::path(
    get,
    path = "/api/v1/reports/{id}/verify",
    tag = "reports",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The report's id")),
    responses(
        (status = 200, body = Verification),
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        Invalid,
    ),
)]
async fn verify_report(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
    Path(id): Path<String>,
) -> Result<Json<Verification>, ApiError> {
    let id = report_id(&id)?;
    Ok(Json(lifecycle::verify(&state.db, &id).await?))
}

/// The year's sealed reports added up: only sums of figures they already published (a
/// need's amount for the year only when every report published it; the rest together),
/// so it reveals nothing new. Case counts are not added.
#[utoipa::path(
    get,
    path = "/api/v1/annual-reports/{year}",
    tag = "reports",
    security(("bearer" = [])),
    params(("year" = i32, Path, description = "The year, such as 2026")),
    responses(
        (status = 200, body = crate::reports::annual::Annual),
        Unauthorized,
        Forbidden,
        Invalid,
    ),
)]
async fn annual_report(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
    Path(year): Path<String>,
) -> Result<Json<crate::reports::annual::Annual>, ApiError> {
    let year: i32 = year
        .trim()
        .parse()
        .ok()
        .filter(|y| (2000..=9999).contains(y))
        .ok_or_else(|| invalid("year", "is not a year: write it as 2026"))?;
    Ok(Json(
        crate::reports::annual::of_year(&state.db, year).await?,
    ))
}

/// The file a frozen report's hash was computed over, as a download: `sha256sum` of it
/// prints the report's hash.
fn summary_download(row: &lifecycle::Row, text: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}\"",
                    lifecycle::summary_file_name(row)
                ),
            ),
        ],
        text,
    )
        .into_response()
}

/// The exact bytes of a frozen report's summary that were hashed (canonical JSON, keys
/// sorted, no whitespace): `sha256sum` of this file prints the report's `hash`, and
/// `passage reports verify --file` checks it against the books. A draft has none (409).
#[utoipa::path(
    get,
    path = "/api/v1/reports/{id}/summary.json",
    tag = "reports",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The report's id")),
    responses(
        (status = 200, description = "The summary's canonical JSON, the bytes its hash was computed over", content_type = "application/json", body = Object),
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        Invalid,
    ),
)]
async fn report_summary_file(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = report_id(&id)?;
    let (row, text) = lifecycle::summary_file(&state.db, &id).await?;
    Ok(summary_download(&row, text))
}

/// The summary file of the report a donor's link opens: the exact bytes its hash (the
/// fingerprint in the email) was computed over, so `sha256sum` of the file prints it.
#[utoipa::path(
    get,
    path = "/api/v1/donor/report/summary.json",
    tag = "donor",
    params(LinkQuery),
    responses(
        (status = 200, description = "The summary's canonical JSON, the bytes its hash was computed over", content_type = "application/json", body = Object),
        BadRequest,
        Unauthorized,
        Forbidden,
    ),
)]
async fn donor_summary_file(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<LinkQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let token = link_token(&query, &headers)?;
    let link = donor::open(&state.db, state.clock.now(), &token, Purpose::Report)
        .await
        .map_err(link_refused)?;
    let id = link.report.unwrap_or_default();
    let (row, text) = match lifecycle::summary_file(&state.db, &id).await {
        Ok(found) if found.0.status.is_sealed() => found,
        Ok(_) | Err(FlowError::Conflict(_)) | Err(FlowError::NotFound(_)) => {
            return Err(ApiError::Forbidden(
                "this link opens a report that is not published: ask the fund".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(summary_download(&row, text))
}

/// Emails the sealed report to every donor who has not had it and has not unsubscribed,
/// through the outbox: one email per report and donor, however often this is called.
#[utoipa::path(
    post,
    path = "/api/v1/reports/{id}/send",
    tag = "reports",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The report's id")),
    responses(
        (status = 202, body = SendOutcome),
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        Invalid,
    ),
)]
async fn send_report(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<SendOutcome>), ApiError> {
    let id = report_id(&id)?;
    let now = state.clock.now();
    let actor = auth.staff().actor();
    let outcome = send::send(&state.db, &state.config, now, &actor, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(outcome)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct LinkQuery {
    /// The link's token, as in the email (or send it as `Authorization: Bearer`).
    #[param(required = false)]
    token: Option<String>,
}

/// A report as its donor sees it: the sealed summary, the donor's own gifts in its
/// period, and whether the report still matches the ledger.
#[derive(Serialize, ToSchema)]
pub(crate) struct DonorReport {
    #[schema(format = "uuid")]
    pub id: String,
    pub period_start: String,
    pub period_end: String,
    pub hash: String,
    /// Set when a correction replaced this report.
    pub superseded_by: Option<String>,
    #[schema(value_type = Object)]
    pub summary: Option<Summary>,
    /// The donor's language: `fr` or `en`.
    pub language: String,
    pub donor_name: String,
    pub gifts: Vec<Gift>,
    #[schema(value_type = Figure)]
    pub gifts_total: String,
    /// The report still matched the fund's books at its last check (`checked_at`): the
    /// ledger entries of its window still have the digest sealed with it, and its stored
    /// bytes still hash to `hash`. Checks run again in the background every few minutes.
    pub verified: bool,
    pub checked_at: chrono::DateTime<chrono::Utc>,
    /// The display name of the treasurer who froze the report, and when.
    pub frozen_by: Option<String>,
    pub frozen_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The display name of the second treasurer, who co-signed it, and when.
    pub cosigned_by: Option<String>,
    pub cosigned_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The link's token, from `?token=` or `Authorization: Bearer`.
fn link_token(query: &LinkQuery, headers: &HeaderMap) -> Result<String, ApiError> {
    if let Some(t) = query
        .token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        return Ok(t.to_string());
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, t)| scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty())
        .map(|(_, t)| t.trim().to_string())
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "open this with the link from the report's email (it carries a token)".into(),
            )
        })
}

fn link_refused(e: LinkError) -> ApiError {
    match e {
        LinkError::Store(e) => e.into(),
        other => ApiError::Unauthorized(other.to_string()),
    }
}

/// Why a donor's report could not be shown: the link itself (which knows its donor's
/// language, for the page), or anything else.
pub(crate) enum DonorRefusal {
    Link(LinkError),
    Other(ApiError),
}

impl From<ApiError> for DonorRefusal {
    fn from(e: ApiError) -> Self {
        DonorRefusal::Other(e)
    }
}

impl From<DonorRefusal> for ApiError {
    fn from(e: DonorRefusal) -> Self {
        match e {
            DonorRefusal::Link(e) => link_refused(e),
            DonorRefusal::Other(e) => e,
        }
    }
}

/// What a donor's link opens: that report and the donor's own gifts, nothing else.
/// This JSON is what the donor's web page shows. A withdrawn or expired link is a 401
/// whose message says so.
#[utoipa::path(
    get,
    path = "/api/v1/donor/report",
    tag = "donor",
    params(LinkQuery),
    responses(
        (status = 200, body = DonorReport),
        BadRequest,
        Unauthorized,
        Forbidden,
    ),
)]
async fn donor_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<LinkQuery>, QueryRejection>,
) -> Result<Json<DonorReport>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let token = link_token(&query, &headers)?;
    Ok(Json(donor_report_for(&state, &token).await?))
}

/// The report a donor's link opens, with the donor's own gifts and a fresh verification:
/// what the JSON route answers and the donor's web page shows.
pub(crate) async fn donor_report_for(
    state: &AppState,
    token: &str,
) -> Result<DonorReport, DonorRefusal> {
    let now = state.clock.now();
    let link = donor::open(&state.db, now, token, Purpose::Report)
        .await
        .map_err(DonorRefusal::Link)?;
    let report_id = link.report.unwrap_or_default();
    let mut tx = state.db.begin_snapshot().await.map_err(ApiError::from)?;
    let found = async {
        let row = lifecycle::load(&mut tx, &report_id).await?;
        let Some(row) = row.filter(|r| r.status.is_sealed()) else {
            return Err(ApiError::Forbidden(
                "this link opens a report that is not published: ask the fund".into(),
            ));
        };
        let donor: Option<(String, String)> = crate::on_tx!(&mut tx, c => sqlx::query_as(
            "SELECT name, language FROM donors WHERE id = $1"
        )
        .bind(&link.donor)
        .fetch_optional(c)
        .await)
        .map_err(crate::store::StoreError::from)?;
        let Some((name, language)) = donor else {
            return Err(ApiError::Forbidden(
                "this link's donor is no longer known".into(),
            ));
        };
        let gifts = send::gifts_in(&mut tx, &row, Some(&link.donor)).await?;
        let signed = lifecycle::signatures(&mut tx, &row).await?;
        Ok((row, name, language, gifts, signed))
    }
    .await;
    tx.rollback().await.map_err(ApiError::from)?;
    let (row, donor_name, language, gifts, signed) = found?;
    let checked = state
        .checks
        .last(&state.db, &state.clock, &report_id)
        .await
        .map_err(ApiError::from)?;
    Ok(DonorReport {
        id: row.id.clone(),
        period_start: row.period_start.clone(),
        period_end: row.period_end.clone(),
        hash: row.hash.clone().unwrap_or_default(),
        superseded_by: row.superseded_by.clone(),
        summary: row.stored_summary(),
        language,
        donor_name,
        gifts_total: format_cents(gifts.iter().map(|g| g.amount).sum()),
        gifts,
        verified: checked.matches,
        checked_at: checked.at,
        frozen_by: signed.frozen_by,
        frozen_at: signed.frozen_at,
        cosigned_by: signed.cosigned_by,
        cosigned_at: signed.cosigned_at,
    })
}

/// Opens an unsubscribe link: withdrawn or not (stopping mail is always honoured).
async fn unsubscribe_link(
    state: &AppState,
    query: Result<Query<LinkQuery>, QueryRejection>,
    headers: &HeaderMap,
) -> Result<(String, Opened), ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let token = link_token(&query, headers)?;
    let link = donor::open(&state.db, state.clock.now(), &token, Purpose::Unsubscribe)
        .await
        .map_err(link_refused)?;
    Ok((token, link))
}

/// A browser (the button of the unsubscribe page) goes back to that page, which shows
/// where the donor stands now; a mail client's one-click POST gets the JSON.
fn wants_page(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

fn back_to_page(token: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(
            header::LOCATION,
            format!("/api/v1/donor/unsubscribe?token={}", url_token(token)),
        )],
    )
        .into_response()
}

/// A token as it goes back into an address or a page: the characters a link holds only
/// (a token that opened is one Passage made, but nothing read from a request is written
/// out unchecked).
fn url_token(token: &str) -> String {
    token
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect()
}

/// Unsubscribes the link's donor from report emails: the one-click POST of RFC 8058
/// (`List-Unsubscribe-Post: List-Unsubscribe=One-Click`); any body is accepted. Their
/// report links are withdrawn; the unsubscribe link stays valid, to subscribe again.
/// A browser asking for HTML is sent back to the link's page (303).
#[utoipa::path(
    post,
    path = "/api/v1/donor/unsubscribe",
    tag = "donor",
    params(LinkQuery),
    responses(
        (status = 200, body = Unsubscribed),
        (status = 303, description = "A browser: back to the link's page"),
        BadRequest,
        Unauthorized,
    ),
)]
async fn unsubscribe(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<LinkQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (token, link) = unsubscribe_link(&state, query, &headers).await?;
    let now = state.clock.now();
    let known = write_tx!(&state.db, |tx| -> Result<bool, StoreError> async {
        send::unsubscribe(tx, now, &link.donor).await
    })?;
    if !known {
        return Err(ApiError::Unauthorized(
            "this link's donor is no longer known".into(),
        ));
    }
    if wants_page(&headers) {
        return Ok(back_to_page(&token));
    }
    Ok(Json(Unsubscribed { unsubscribed: true }).into_response())
}

#[derive(Serialize, ToSchema)]
struct Unsubscribed {
    unsubscribed: bool,
}

/// Subscribes the link's donor again, through the unsubscribe link of any of their
/// emails (not one a treasurer withdrew). The next report's email brings new links; the
/// report links withdrawn when they unsubscribed stay withdrawn. A browser asking for HTML
/// is sent back to the link's page (303).
#[utoipa::path(
    post,
    path = "/api/v1/donor/resubscribe",
    tag = "donor",
    params(LinkQuery),
    responses(
        (status = 200, body = Resubscribed),
        (status = 303, description = "A browser: back to the link's page"),
        BadRequest,
        Unauthorized,
    ),
)]
async fn resubscribe(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<LinkQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (token, link) = unsubscribe_link(&state, query, &headers).await?;
    if link.withdrawn.is_some() {
        return Err(link_refused(LinkError::Withdrawn {
            language: link.language,
        }));
    }
    let now = state.clock.now();
    let known = write_tx!(&state.db, |tx| -> Result<bool, StoreError> async {
        send::resubscribe(tx, now, &link.donor).await
    })?;
    if !known {
        return Err(ApiError::Unauthorized(
            "this link's donor is no longer known".into(),
        ));
    }
    if wants_page(&headers) {
        return Ok(back_to_page(&token));
    }
    Ok(Json(Resubscribed { subscribed: true }).into_response())
}

#[derive(Serialize, ToSchema)]
struct Resubscribed {
    subscribed: bool,
}

/// The unsubscribe link opened in a browser: a page in the donor's language, with one
/// button that POSTs to unsubscribe, or, once they have, to subscribe again. Opening it
/// changes nothing (mail scanners open links).
#[utoipa::path(
    get,
    path = "/api/v1/donor/unsubscribe",
    tag = "donor",
    params(LinkQuery),
    responses(
        (status = 200, description = "A page with one button", content_type = "text/html", body = String),
        BadRequest,
        Unauthorized,
    ),
)]
async fn unsubscribe_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<LinkQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (token, link) = unsubscribe_link(&state, query, &headers).await?;
    let page = UnsubscribePage {
        lang: link.language.as_str(),
        language: link.language,
        token: url_token(&token),
        subscribed: link.subscribed,
        withdrawn: link.withdrawn.is_some(),
    }
    .render()
    .map_err(|e| ApiError::Internal(format!("the unsubscribe page: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response())
}

/// The unsubscribe page (`templates/donor_unsubscribe.html`): no session, no script.
#[derive(Template)]
#[template(path = "donor_unsubscribe.html")]
struct UnsubscribePage {
    lang: &'static str,
    language: crate::domain::Language,
    token: String,
    subscribed: bool,
    withdrawn: bool,
}

impl UnsubscribePage {
    fn t(&self, key: &str) -> String {
        crate::i18n::text(self.language, key)
    }
}

/// What withdrawing a donor's links did.
#[derive(Serialize, ToSchema)]
struct Withdrawn {
    /// How many of the donor's links were still open and are now withdrawn.
    withdrawn: u64,
}

/// Withdraws every link already emailed to a donor (report and unsubscribe links): they
/// stop opening at once, and the donor's page says the fund withdrew them. Unsubscribing
/// through a withdrawn link still works. The next report's email brings new links.
/// Audited as `donor.links.withdraw`.
#[utoipa::path(
    post,
    path = "/api/v1/donors/{id}/links/withdraw",
    tag = "funding",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The donor")),
    responses(
        (status = 200, body = Withdrawn),
        Unauthorized,
        Forbidden,
        NotFound,
    ),
)]
async fn withdraw_links(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Path(id): Path<String>,
) -> Result<Json<Withdrawn>, ApiError> {
    let not_found = || ApiError::NotFound("no donor has this id".into());
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| not_found())?
        .to_string();
    let now = state.clock.now();
    let actor = auth.staff().actor();
    let withdrawn = write_tx!(&state.db, |tx| -> Result<Option<u64>, StoreError> async {
        donor::withdraw_by_treasurer(tx, now, &actor, &id).await
    })?;
    withdrawn
        .map(|withdrawn| Json(Withdrawn { withdrawn }))
        .ok_or_else(not_found)
}
