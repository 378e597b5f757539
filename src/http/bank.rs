//! The bank statement (treasurers): importing the coalition's statement, its lines with
//! their matches and candidates, recording a line as what it is, and the reconciliation.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json, Path, Query};
use super::extractor::{Authorized, Treasurer};
use super::fields::{self, invalid};
use super::funding::reader_language;
use super::openapi::{BadRequest, Conflict, Forbidden, Invalid, NotFound, TooLarge, Unauthorized};
use super::paging::{PageQuery, Paged};
use crate::approval::policy::FieldError;
use crate::domain::Language;
use crate::domain::page::Page;
use crate::domain::states::{RecordKind, StatementFormat};
use crate::funding::bank::{
    self, Action, BankError, Imported, Layout, LineView, Read, Reconciliation, StatementSummary,
    StatementView,
};
use crate::state::AppState;
use crate::{read_tx, write_tx};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import, list))
        .routes(routes!(show))
        .routes(routes!(record))
        .routes(routes!(confirm))
        .routes(routes!(reconciliation, reconcile))
}

impl From<BankError> for ApiError {
    fn from(e: BankError) -> Self {
        match e {
            BankError::NotFound(m) => ApiError::NotFound(m),
            BankError::Forbidden(m) => ApiError::Forbidden(m),
            BankError::Conflict(m) => ApiError::Conflict(m),
            BankError::Invalid { field, message } => ApiError::Unprocessable { field, message },
            BankError::Store(e) => e.into(),
            BankError::Ledger(e) => crate::approval::FlowError::from(e).into(),
            BankError::Internal(m) => ApiError::Internal(m),
        }
    }
}

/// `POST /api/v1/bank/statements`: the file's format and, for CSV, its layout.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportQuery {
    /// `csv` or `ofx` (OFX and QFX, SGML or XML).
    format: Option<String>,
    /// With `csv`: `generic` (`date,description,withdrawal,deposit,balance`), `rbc` or `td`.
    layout: Option<String>,
}

/// A problem of a statement file in the reader's language.
fn problem_message(language: Language, p: &bank::LineProblem) -> String {
    let text = crate::i18n::text_with(language, &p.problem.key(), &p.problem.args());
    if p.line == 0 {
        text
    } else {
        crate::i18n::text_with(
            language,
            "bank-at-line",
            &[("line", p.line.to_string()), ("message", text)],
        )
    }
}

/// Reads the body as the statement the query names; 422 with every problem by line.
pub(crate) fn read_statement(
    bytes: &[u8],
    format: Option<&str>,
    layout: Option<&str>,
    today: NaiveDate,
    language: Language,
) -> Result<(StatementFormat, Option<Layout>, Read), ApiError> {
    let format: StatementFormat = format
        .ok_or_else(|| {
            invalid(
                "format",
                crate::i18n::text(language, "bank-format-required"),
            )
        })?
        .trim()
        .to_ascii_lowercase()
        .parse()
        .map_err(|_| {
            invalid(
                "format",
                crate::i18n::text(language, "bank-format-required"),
            )
        })?;
    let (layout, read) = match format {
        StatementFormat::Csv => {
            let layout = Layout::parse(layout.unwrap_or("generic")).ok_or_else(|| {
                invalid("layout", crate::i18n::text(language, "bank-layout-unknown"))
            })?;
            (Some(layout), bank::read::read_csv(bytes, layout, today))
        }
        StatementFormat::Ofx => {
            if layout.is_some() {
                return Err(invalid(
                    "layout",
                    crate::i18n::text(language, "bank-layout-ofx"),
                ));
            }
            (None, bank::read::read_ofx(bytes, today))
        }
    };
    if let Some(p) = read.file_problem() {
        return Err(invalid("body", problem_message(language, p)));
    }
    if !read.problems.is_empty() {
        let errors: Vec<FieldError> = read
            .problems
            .iter()
            .map(|p| FieldError {
                field: format!("line {}: {}", p.line, p.column),
                message: problem_message(language, p),
            })
            .collect();
        return Err(ApiError::InvalidFields {
            field: errors[0].field.clone(),
            message: crate::i18n::text_with(
                language,
                "bank-nothing-imported",
                &[
                    ("count", errors.len().to_string()),
                    ("first", errors[0].message.clone()),
                ],
            ),
            errors,
        });
    }
    Ok((format, layout, read))
}

/// Imports the coalition's bank statement: CSV in a layout (`generic`:
/// `date,description,withdrawal,deposit,balance` with ISO dates and positive amounts; `rbc`
/// and `td`: those banks' own downloads) or OFX/QFX. A line already imported (the same
/// FITID, or the same date, amount and running balance, from any format) is not added
/// again. Each new line is matched to the donation or payout line it is when it has exactly
/// one candidate that no other line has. A file with a problem adds nothing: 422 with every
/// problem by line, in the `Accept-Language` (else the user's language).
#[utoipa::path(
    post,
    path = "/api/v1/bank/statements",
    tag = "bank",
    security(("bearer" = [])),
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv",
        description = "The statement file: CSV (UTF-8 or Windows-1252) or OFX/QFX"),
    responses(
        (status = 201, description = "Imported (`lines: 0` when every line was there already)", body = Imported),
        BadRequest,
        Unauthorized,
        Forbidden,
        TooLarge,
        Invalid,
    ),
)]
async fn import(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    headers: HeaderMap,
    Query(query): Query<ImportQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Imported>), ApiError> {
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(
                "the file is too large: import the statement month by month, or ask an admin to raise PASSAGE_BODY_LIMIT_BYTES".into(),
            )
        } else {
            ApiError::BadRequest(e.body_text())
        }
    })?;
    let language = reader_language(&headers, &auth);
    let now = state.clock.now();
    let (format, layout, read) = read_statement(
        &bytes,
        query.format.as_deref(),
        query.layout.as_deref(),
        now.date_naive(),
        language,
    )?;
    let staff = auth.staff();
    let imported = write_tx!(&state.db, |tx| -> Result<Imported, BankError> async {
        bank::import(tx, now, &staff, format, layout, &read).await
    })?;
    Ok((StatusCode::CREATED, Json(imported)))
}

/// The statements imported, newest first (without their lines), a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/bank/statements",
    tag = "bank",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = Paged<StatementSummary>), BadRequest, Unauthorized, Forbidden, Invalid),
)]
async fn list(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Paged<StatementSummary>>, ApiError> {
    let request = query.request()?;
    let list = read_tx!(&state.db, |tx| -> Result<Page<StatementSummary>, BankError> async {
        Ok(bank::statements(tx, &request).await?)
    })?;
    Ok(Json(list.into()))
}

/// A statement's lines: each with its signed amount, whether it is matched (and to what),
/// and, when it is not, its candidates.
#[utoipa::path(
    get,
    path = "/api/v1/bank/statements/{id}",
    tag = "bank",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The statement's id")),
    responses((status = 200, body = StatementView), Unauthorized, Forbidden, NotFound),
)]
async fn show(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
    Path(id): Path<String>,
) -> Result<Json<StatementView>, ApiError> {
    let statement = read_tx!(&state.db, |tx| -> Result<StatementView, BankError> async {
        bank::statement(tx, &id).await
    })?;
    Ok(Json(statement))
}

// Read field by field by `record`.
/// The body of `POST /api/v1/bank/lines/{id}/record`: `kind` (with `donor_id` for a
/// donation, `line` for a bounce), or `match`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "a schema only: the handler reads the body field by field"
)]
struct RecordBody {
    /// What the line is: `fee` (a withdrawal; a second treasurer confirms it), `interest`,
    /// `donation` or `bounce` (deposits).
    kind: Option<RecordKind>,
    /// With `donation`: whose gift it is.
    #[schema(format = "uuid")]
    donor_id: Option<String>,
    /// With `bounce`: the payout line whose payment came back.
    #[schema(format = "uuid")]
    line: Option<String>,
    /// Instead of `kind`: the donation or payout line this bank line is.
    #[schema(format = "uuid", rename = "match")]
    r#match: Option<String>,
}

/// Records an unmatched line as what it is (`interest`, a `donation` nobody recorded, a
/// payout's `bounce`: a transfer, audited; a `fee` waits for a second treasurer's
/// confirmation), or matches it by hand (`match`) to a donation or payout line of its
/// amount.
#[utoipa::path(
    post,
    path = "/api/v1/bank/lines/{id}/record",
    tag = "bank",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The statement line's id")),
    request_body = RecordBody,
    responses(
        (status = 200, body = LineView),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn record(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<LineView>, ApiError> {
    fields::only_of::<RecordBody>(&body)?;
    let target = fields::optional_string(&body, "match")?;
    let kind = fields::optional_string(&body, "kind")?;
    let action = match (target, kind) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "match",
                "give either kind (what the line is) or match (what in the books it is), not both",
            ));
        }
        (Some(target), None) => {
            for other in ["donor_id", "line"] {
                if fields::optional(&body, other).is_some_and(|v| !v.is_null()) {
                    return Err(invalid(other, "goes only with kind: leave it out"));
                }
            }
            Action::Match(target.trim().to_string())
        }
        (None, Some(kind)) => Action::Record {
            kind: kind.parse().map_err(|e| invalid("kind", e))?,
            donor_id: fields::optional_string(&body, "donor_id")?.map(Into::into),
            payout_line: fields::optional_string(&body, "line")?.map(Into::into),
        },
        (None, None) => {
            return Err(invalid(
                "kind",
                "is required: fee, interest, donation (with donor_id) or bounce (with line); or give match with the id of the donation or payout line the bank line is",
            ));
        }
    };
    let now = state.clock.now();
    let staff = auth.staff();
    let line = write_tx!(&state.db, |tx| -> Result<LineView, BankError> async {
        bank::act(tx, now, &staff, &id, action.clone()).await
    })?;
    Ok(Json(line))
}

/// A second treasurer confirms a fee another proposed: the fee leaves the fund's
/// available money (403 for the one who proposed it).
#[utoipa::path(
    post,
    path = "/api/v1/bank/lines/{id}/confirm",
    tag = "bank",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The statement line's id")),
    responses(
        (status = 200, body = LineView),
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
    ),
)]
async fn confirm(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Path(id): Path<String>,
) -> Result<Json<LineView>, ApiError> {
    let now = state.clock.now();
    let staff = auth.staff();
    let line = write_tx!(&state.db, |tx| -> Result<LineView, BankError> async {
        bank::confirm(tx, now, &staff, &id).await
    })?;
    Ok(Json(line))
}

/// `GET /api/v1/bank/reconciliation?as_of=DATE`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AsOf {
    /// The day, such as `2026-11-30`.
    as_of: Option<String>,
}

// Read field by field by `reconcile`.
/// The body of `POST /api/v1/bank/reconciliation`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "a schema only: the handler reads the body field by field"
)]
struct ReconcileBody {
    /// The statement's day to freeze, such as `2026-11-30`.
    #[schema(format = "date")]
    as_of: String,
}

fn as_of(typed: Option<&str>) -> Result<NaiveDate, ApiError> {
    let typed = typed.ok_or_else(|| {
        invalid(
            "as_of",
            "is required: the statement's day to reconcile, such as 2026-11-30",
        )
    })?;
    NaiveDate::parse_from_str(typed.trim(), "%Y-%m-%d").map_err(|_| {
        invalid(
            "as_of",
            "must be a day written year-month-day, such as 2026-11-30",
        )
    })
}

/// The bank and the books on a day: the statement's balance, the books' bank balance and
/// the items that explain the difference (`statement_balance = book_balance + Σ
/// outstanding + unexplained`); frozen once reconciled.
#[utoipa::path(
    get,
    path = "/api/v1/bank/reconciliation",
    tag = "bank",
    security(("bearer" = [])),
    params(AsOf),
    responses(
        (status = 200, body = Reconciliation),
        BadRequest,
        Unauthorized,
        Forbidden,
        Conflict,
        Invalid,
    ),
)]
async fn reconciliation(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
    Query(query): Query<AsOf>,
) -> Result<Json<Reconciliation>, ApiError> {
    let day = as_of(query.as_of.as_deref())?;
    let found = read_tx!(&state.db, |tx| -> Result<Reconciliation, BankError> async {
        bank::reconciliation(tx, day).await
    })?;
    Ok(Json(found))
}

/// Freezes the reconciliation of a day, audited: only when nothing is unexplained (409
/// otherwise, or when that day or a later one is reconciled already).
#[utoipa::path(
    post,
    path = "/api/v1/bank/reconciliation",
    tag = "bank",
    security(("bearer" = [])),
    request_body = ReconcileBody,
    responses(
        (status = 201, body = Reconciliation),
        BadRequest,
        Unauthorized,
        Forbidden,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn reconcile(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Reconciliation>), ApiError> {
    fields::only_of::<ReconcileBody>(&body)?;
    let day = as_of(fields::optional_string(&body, "as_of")?)?;
    let now = state.clock.now();
    let staff = auth.staff();
    let found = write_tx!(&state.db, |tx| -> Result<Reconciliation, BankError> async {
        bank::reconcile(tx, now, &staff, day).await
    })?;
    Ok((StatusCode::CREATED, Json(found)))
}
