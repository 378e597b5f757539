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
use crate::funding::bank::layouts::{self, LayoutProblem, NewLayout, SavedLayout};
use crate::funding::bank::read::{DateOrder, MAX_COLUMN};
use crate::funding::bank::{
    self, Action, BankError, CsvLayout, Imported, Layout, LineView, Mapping, Read, Reconciliation,
    StatementSummary, StatementView,
};
use crate::state::AppState;
use crate::store::{Db, StoreError};
use crate::{read_tx, write_tx};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import, list))
        .routes(routes!(show))
        .routes(routes!(record))
        .routes(routes!(confirm))
        .routes(routes!(refuse))
        .routes(routes!(unmatch))
        .routes(routes!(reconciliation, reconcile))
        .routes(routes!(layouts_list, layout_save))
        .routes(routes!(layout_delete))
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
    /// With `csv`: `generic` (`date,description,withdrawal,deposit,balance`), `rbc`, `td`,
    /// `desjardins`, or the name of a layout saved with `POST /api/v1/bank/layouts`.
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

/// Reads the body as the statement the query names (a CSV layout by a preset's name or a
/// saved one's); 422 with every problem by line. The layout's name is given back.
pub(crate) async fn read_statement(
    db: &Db,
    bytes: &[u8],
    format: Option<&str>,
    layout: Option<&str>,
    today: NaiveDate,
    language: Language,
) -> Result<(StatementFormat, Option<String>, Read), ApiError> {
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
            let name = layout
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .unwrap_or(Layout::Generic.as_str())
                .to_string();
            let found = read_tx!(db, |tx| -> Result<Option<CsvLayout>, StoreError> async {
                layouts::resolve(tx, &name).await
            })?;
            let found = found.ok_or_else(|| {
                invalid("layout", crate::i18n::text(language, "bank-layout-unknown"))
            })?;
            let read = found.read(bytes, today);
            (Some(found.name().to_string()), read)
        }
        StatementFormat::Ofx => {
            if layout.is_some_and(|l| !l.trim().is_empty()) {
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
        &state.db,
        &bytes,
        query.format.as_deref(),
        query.layout.as_deref(),
        now.date_naive(),
        language,
    )
    .await?;
    let staff = auth.staff();
    let imported = write_tx!(&state.db, |tx| -> Result<Imported, BankError> async {
        bank::import(tx, now, &staff, format, layout.as_deref(), &read).await
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

/// A second treasurer refuses a fee another proposed: the proposal ends, nothing is
/// recorded, and the line is unmatched again (403 for the one who proposed it).
#[utoipa::path(
    post,
    path = "/api/v1/bank/lines/{id}/refuse",
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
async fn refuse(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Path(id): Path<String>,
) -> Result<Json<LineView>, ApiError> {
    let now = state.clock.now();
    let staff = auth.staff();
    let line = write_tx!(&state.db, |tx| -> Result<LineView, BankError> async {
        bank::refuse(tx, now, &staff, &id).await
    })?;
    Ok(Json(line))
}

/// Undoes a wrong match: the line is unmatched again, and what it was matched to is free
/// for another line. 409 for a line recorded as what it is (it made a transfer), one not
/// matched, or one of a day reconciled (frozen).
#[utoipa::path(
    post,
    path = "/api/v1/bank/lines/{id}/unmatch",
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
async fn unmatch(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Path(id): Path<String>,
) -> Result<Json<LineView>, ApiError> {
    let now = state.clock.now();
    let staff = auth.staff();
    let line = write_tx!(&state.db, |tx| -> Result<LineView, BankError> async {
        bank::unmatch(tx, now, &staff, &id).await
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

// Read field by field by `layout_save`.
/// The body of `POST /api/v1/bank/layouts`: a bank's CSV columns, counted from 1 as a
/// spreadsheet shows them (A is 1).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "a schema only: the handler reads the body field by field"
)]
struct LayoutBody {
    /// What `layout=` will name it by: 1 to 60 letters, digits, spaces, `-`, `_` or `.`;
    /// not a preset's name.
    name: String,
    /// Whether the file's first row is a header (skipped). Defaults to false.
    header: Option<bool>,
    #[schema(minimum = 1, maximum = 50)]
    date: u32,
    #[schema(minimum = 1, maximum = 50)]
    description: u32,
    /// Money out, positive; with `deposit`.
    #[schema(minimum = 1, maximum = 50)]
    withdrawal: Option<u32>,
    /// Money in, positive; with `withdrawal`.
    #[schema(minimum = 1, maximum = 50)]
    deposit: Option<u32>,
    /// Instead of `withdrawal` and `deposit`: one signed amount, deposits positive.
    #[schema(minimum = 1, maximum = 50)]
    amount: Option<u32>,
    /// The account's balance after each line (a reconciliation needs it).
    #[schema(minimum = 1, maximum = 50)]
    balance: Option<u32>,
    /// `ymd` (2026-11-30), `mdy` (11/30/2026) or `dmy` (30/11/2026).
    date_order: DateOrder,
}

fn layout_problem(language: Language, p: LayoutProblem) -> ApiError {
    invalid(p.field, crate::i18n::text(language, p.key))
}

/// A column number from a JSON body: a whole number from 1 to 50, or absent/null.
fn column(body: &Value, field: &'static str, language: Language) -> Result<Option<u32>, ApiError> {
    match fields::optional(body, field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (1..=MAX_COLUMN).contains(n))
            .map(Some)
            .ok_or_else(|| {
                layout_problem(
                    language,
                    LayoutProblem {
                        field,
                        key: "bank-mapping-column-range",
                    },
                )
            }),
    }
}

/// Reads a layout to save from the API's JSON body, checked.
fn layout_of(body: &Value, language: Language) -> Result<NewLayout, ApiError> {
    fields::only_of::<LayoutBody>(body)?;
    let name = fields::optional_string(body, "name")?.unwrap_or_default();
    let header = match fields::optional(body, "header") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("header", "must be true or false")),
    };
    let required = |field: &'static str| -> Result<u32, ApiError> {
        column(body, field, language)?.ok_or_else(|| {
            layout_problem(
                language,
                LayoutProblem {
                    field,
                    key: "bank-mapping-required",
                },
            )
        })
    };
    let date = required("date")?;
    let description = required("description")?;
    let date_order = fields::optional_string(body, "date_order")?
        .and_then(|o| o.trim().parse::<DateOrder>().ok())
        .ok_or_else(|| {
            layout_problem(
                language,
                LayoutProblem {
                    field: "date_order",
                    key: "bank-mapping-date-order",
                },
            )
        })?;
    let mapping = Mapping {
        header,
        date,
        description,
        withdrawal: column(body, "withdrawal", language)?,
        deposit: column(body, "deposit", language)?,
        amount: column(body, "amount", language)?,
        balance: column(body, "balance", language)?,
        date_order,
    };
    layouts::check(name, mapping).map_err(|p| layout_problem(language, p))
}

/// The column mappings treasurers saved, by name.
#[utoipa::path(
    get,
    path = "/api/v1/bank/layouts",
    tag = "bank",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<SavedLayout>), Unauthorized, Forbidden),
)]
async fn layouts_list(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
) -> Result<Json<Vec<SavedLayout>>, ApiError> {
    let list = read_tx!(&state.db, |tx| -> Result<Vec<SavedLayout>, BankError> async {
        Ok(layouts::list(tx).await?)
    })?;
    Ok(Json(list))
}

/// Saves a bank's CSV column mapping under a name, audited: a statement is then imported
/// with `layout=<name>`. 409 when a saved layout has that name already (any case); 422
/// for a name that is a preset's, a column outside 1–50 or named twice, or neither a
/// withdrawal and a deposit column nor one amount column.
#[utoipa::path(
    post,
    path = "/api/v1/bank/layouts",
    tag = "bank",
    security(("bearer" = [])),
    request_body = LayoutBody,
    responses(
        (status = 201, body = SavedLayout),
        BadRequest,
        Unauthorized,
        Forbidden,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn layout_save(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<SavedLayout>), ApiError> {
    let language = reader_language(&headers, &auth);
    let new = layout_of(&body, language)?;
    let now = state.clock.now();
    let staff = auth.staff();
    let saved = write_tx!(&state.db, |tx| -> Result<SavedLayout, BankError> async {
        layouts::save(tx, now, &staff, &new).await
    })?;
    Ok((StatusCode::CREATED, Json(saved)))
}

/// Deletes a saved layout, audited; the statements imported with it keep its name.
#[utoipa::path(
    delete,
    path = "/api/v1/bank/layouts/{id}",
    tag = "bank",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The saved layout's id")),
    responses(
        (status = 204, description = "Deleted"),
        Unauthorized,
        Forbidden,
        NotFound,
    ),
)]
async fn layout_delete(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let now = state.clock.now();
    let staff = auth.staff();
    write_tx!(&state.db, |tx| -> Result<(), BankError> async {
        layouts::delete(tx, now, &staff, &id).await
    })?;
    Ok(StatusCode::NO_CONTENT)
}
