//! Cases: open one, read it with its requests, share it and stop sharing it, close and
//! reopen it.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json, Path, Query};
use super::extractor::{Authorized, Caseworker, CaseworkerOrTreasurer};
use super::fields::{self, invalid};
use super::openapi::{BadRequest, Forbidden, Invalid, NotFound, TooLarge, Unauthorized};
use super::paging::{self, Paged};
use crate::approval::lifecycle::{self, RequestView};
use crate::approval::{FlowError, versions};
use crate::cases::{self, Case, CaseError, CaseLine};
use crate::domain::case_code::CaseCode;
use crate::domain::{CaseStatus, Province};
use crate::state::AppState;
use crate::write_tx;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open, list))
        .routes(routes!(show))
        .routes(routes!(share))
        .routes(routes!(unshare))
        .routes(routes!(close))
        .routes(routes!(reopen))
}

// Read field by field by `open`, which takes the fields it accepts from here.
/// The body of `POST /api/v1/cases`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "a schema only: the handler reads the body field by field"
)]
struct NewCaseBody {
    /// Where the person is helped; the code begins with it.
    province: Province,
}

// Read field by field by `share`, which takes the fields it accepts from here.
/// The body of `POST /api/v1/cases/{code}/share`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "a schema only: the handler reads the body field by field"
)]
struct ShareBody {
    /// The organisation that may then see and act on the case.
    org_id: String,
}

#[derive(Serialize, ToSchema)]
struct CaseWithRequests {
    #[serde(flatten)]
    case: Case,
    requests: Vec<RequestView>,
}

#[derive(Serialize, ToSchema)]
struct Shared {
    code: String,
    shared_with: String,
}

#[derive(Serialize, ToSchema)]
struct Unshared {
    code: String,
    /// The organisation that no longer sees the case.
    unshared_from: String,
}

pub fn parse_code(raw: &str) -> Result<CaseCode, ApiError> {
    CaseCode::parse(raw).map_err(|e| invalid("code", e))
}

/// Opens an anonymous case in the caseworker's organisation and answers its code.
#[utoipa::path(
    post,
    path = "/api/v1/cases",
    tag = "cases",
    security(("bearer" = [])),
    request_body = NewCaseBody,
    responses(
        (status = 201, body = Case),
        BadRequest,
        Unauthorized,
        Forbidden,
        TooLarge,
        Invalid,
    ),
)]
async fn open(
    State(state): State<AppState>,
    auth: Authorized<Caseworker>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Case>), ApiError> {
    fields::only_of::<NewCaseBody>(&body)?;
    let province =
        Province::parse(fields::string(&body, "province")?).map_err(|e| invalid("province", e))?;
    let now = state.clock.now();
    let staff = auth.staff();
    let case = write_tx!(&state.db, |tx| -> Result<Case, CaseError> async {
        cases::open(tx, now, &staff, province).await
    })?;
    Ok((StatusCode::CREATED, Json(case)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CasesQuery {
    /// Only the cases whose code begins with this (`QC-7K4M`, or a whole code).
    case_code: Option<String>,
    /// Only open or only closed cases.
    #[param(value_type = Option<CaseStatus>, inline)]
    status: Option<String>,
    /// Only this organisation's own cases (treasurers; a caseworker sees their
    /// organisation's and those shared with it whatever this says).
    org: Option<String>,
    /// Only the cases opened on or after this day (UTC, `YYYY-MM-DD`).
    #[param(format = Date)]
    from: Option<String>,
    /// Only the cases opened on or before this day (UTC, `YYYY-MM-DD`).
    #[param(format = Date)]
    to: Option<String>,
    /// The `next` of the previous page; left out, the list starts from the newest.
    after: Option<String>,
    /// How many cases a page holds: 1 to 200, 50 when left out.
    limit: Option<String>,
}

/// Lists cases, newest first, a page at a time: a treasurer sees every case, a caseworker
/// their organisation's and those shared with it. Search by code (or its beginning).
#[utoipa::path(
    get,
    path = "/api/v1/cases",
    tag = "cases",
    security(("bearer" = [])),
    params(CasesQuery),
    responses(
        (status = 200, body = Paged<CaseLine>),
        BadRequest,
        Unauthorized,
        Forbidden,
        Invalid,
    ),
)]
async fn list(
    State(state): State<AppState>,
    auth: Authorized<CaseworkerOrTreasurer>,
    Query(query): Query<CasesQuery>,
) -> Result<Json<Paged<CaseLine>>, ApiError> {
    let staff = auth.staff();
    let request = paging::page_request(query.after.as_deref(), query.limit.as_deref())?;
    let filter = cases::CaseFilter {
        status: query
            .status
            .as_deref()
            .map(str::parse::<CaseStatus>)
            .transpose()
            .map_err(|e| {
                invalid(
                    "status",
                    format!("{:?} is not a status: use one of {}", e.word, e.choices),
                )
            })?,
        code: paging::case_code(query.case_code.as_deref())?,
        org: query
            .org
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(String::from),
        from: paging::day("from", query.from.as_deref())?,
        to: paging::day("to", query.to.as_deref())?,
    };
    let visible = (!staff.treasurer).then(|| staff.org_id.clone().unwrap_or_default());
    let page = cases::page(&state.db, visible.as_deref(), &filter, &request).await?;
    Ok(Json(page.into()))
}

/// Reads a case with its requests. A caseworker reads the notes of their own
/// organisation's requests only: on a shared case, the other organisations' requests come
/// without their notes.
#[utoipa::path(
    get,
    path = "/api/v1/cases/{code}",
    tag = "cases",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The case code, in any case, with or without hyphens")),
    responses(
        (status = 200, body = CaseWithRequests),
        Unauthorized,
        Forbidden,
        NotFound,
        Invalid,
    ),
)]
async fn show(
    State(state): State<AppState>,
    auth: Authorized<CaseworkerOrTreasurer>,
    Path(code): Path<String>,
) -> Result<Json<CaseWithRequests>, ApiError> {
    let code = parse_code(&code)?;
    let now = state.clock.now();
    let staff = auth.staff();
    let (case, requests) = crate::read_tx!(&state.db, |tx| -> Result<(Case, Vec<RequestView>), FlowError> async {
        let case = cases::load_for(tx, &staff, &code).await?;
        let policy = versions::current(tx, now).await?;
        let dual_above = policy.policy.dual_approval_above();
        let requests = lifecycle::of_case(tx, &staff, &case.code, dual_above).await?;
        Ok((case, requests))
    })?;
    Ok(Json(CaseWithRequests { case, requests }))
}

/// Shares a case with another organisation. Only the organisation that opened the case,
/// or a treasurer, may: an organisation it was shared with does not pass it on.
#[utoipa::path(
    post,
    path = "/api/v1/cases/{code}/share",
    tag = "cases",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The case code")),
    request_body = ShareBody,
    responses(
        (status = 200, body = Shared),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        TooLarge,
        Invalid,
    ),
)]
async fn share(
    State(state): State<AppState>,
    auth: Authorized<CaseworkerOrTreasurer>,
    Path(code): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Shared>, ApiError> {
    let code = parse_code(&code)?;
    fields::only_of::<ShareBody>(&body)?;
    let org = fields::string(&body, "org_id")?.to_string();
    let now = state.clock.now();
    let staff = auth.staff();
    write_tx!(&state.db, |tx| -> Result<(), CaseError> async {
        cases::share(tx, now, &staff, &code, &org).await
    })?;
    Ok(Json(Shared {
        code: code.as_str().to_string(),
        shared_with: org,
    }))
}

/// Stops sharing a case with an organisation. Only the organisation that opened the case,
/// or a treasurer, may (as for sharing, closing and reopening).
#[utoipa::path(
    post,
    path = "/api/v1/cases/{code}/unshare",
    tag = "cases",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The case code")),
    request_body = ShareBody,
    responses(
        (status = 200, body = Unshared),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        TooLarge,
        Invalid,
    ),
)]
async fn unshare(
    State(state): State<AppState>,
    auth: Authorized<CaseworkerOrTreasurer>,
    Path(code): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Unshared>, ApiError> {
    let code = parse_code(&code)?;
    fields::only_of::<ShareBody>(&body)?;
    let org = fields::string(&body, "org_id")?.to_string();
    let now = state.clock.now();
    let staff = auth.staff();
    write_tx!(&state.db, |tx| -> Result<(), CaseError> async {
        cases::unshare(tx, now, &staff, &code, &org).await
    })?;
    Ok(Json(Unshared {
        code: code.as_str().to_string(),
        unshared_from: org,
    }))
}

async fn set_open(
    state: AppState,
    auth: Authorized<CaseworkerOrTreasurer>,
    code: String,
    open: bool,
) -> Result<Json<Case>, ApiError> {
    let code = parse_code(&code)?;
    let now = state.clock.now();
    let staff = auth.staff();
    let case = write_tx!(&state.db, |tx| -> Result<Case, CaseError> async {
        cases::set_open(tx, now, &staff, &code, open).await
    })?;
    Ok(Json(case))
}

/// Closes a case: no new requests until it is reopened. Only the organisation that opened
/// it, or a treasurer, may.
#[utoipa::path(
    post,
    path = "/api/v1/cases/{code}/close",
    tag = "cases",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The case code")),
    responses(
        (status = 200, body = Case),
        Unauthorized,
        Forbidden,
        NotFound,
        Invalid,
    ),
)]
async fn close(
    State(state): State<AppState>,
    auth: Authorized<CaseworkerOrTreasurer>,
    Path(code): Path<String>,
) -> Result<Json<Case>, ApiError> {
    set_open(state, auth, code, false).await
}

/// Reopens a closed case (the organisation that opened it, or a treasurer).
#[utoipa::path(
    post,
    path = "/api/v1/cases/{code}/reopen",
    tag = "cases",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The case code")),
    responses(
        (status = 200, body = Case),
        Unauthorized,
        Forbidden,
        NotFound,
        Invalid,
    ),
)]
async fn reopen(
    State(state): State<AppState>,
    auth: Authorized<CaseworkerOrTreasurer>,
    Path(code): Path<String>,
) -> Result<Json<Case>, ApiError> {
    set_open(state, auth, code, true).await
}
