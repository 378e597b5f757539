//! Donors, donations and the fund at a glance (treasurers).

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json, Query};
use super::extractor::{AuthUser, Authorized, Treasurer};
use super::fields::{self, invalid};
use super::openapi::{
    BadRequest, Conflict, Created, EmailAddress, Figure, Forbidden, IdempotencyKey, Invalid,
    TooLarge, Unauthorized,
};
use crate::approval::policy::FieldError;
use crate::approval::versions;
use crate::domain::money::format_cents;
use crate::domain::request::Category;
use crate::domain::{Email, Language, Money};
use crate::funding::import;
use crate::funding::reserves::{self, ReserveView};
use crate::funding::restricted::{self, RestrictedPool};
use crate::funding::{self, NewDonation, Restriction};
use crate::state::AppState;
use crate::write_tx;

/// The key a recorded donation keeps its stored answer under: the API's handler and the
/// donors page both use it.
pub(crate) const DONATIONS_ROUTE: &str = "POST /api/v1/donations";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(add_donor))
        .routes(routes!(record_donation))
        .routes(routes!(import_donations))
        .routes(routes!(fund))
        .routes(routes!(create_reserve, list_reserves))
}

// Read field by field by `add_donor`, which takes the fields it accepts from here.
/// The body of `POST /api/v1/donors`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "a schema only: the handler reads the body field by field"
)]
struct NewDonorBody {
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    #[schema(value_type = EmailAddress)]
    email: String,
    /// The language of the donor's reports; `en` when left out.
    language: Option<Language>,
}

// Read field by field by `record_donation`, which takes the fields it accepts from here.
/// The body of `POST /api/v1/donations`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "a schema only: the handler reads the body field by field"
)]
struct NewDonationBody {
    donor_id: String,
    amount: Money,
    received_on: NaiveDate,
    /// A gift of goods or services: counted, never spendable.
    in_kind: Option<bool>,
    #[schema(min_length = 1, max_length = 280)]
    description: Option<String>,
    /// Cash given for these categories only: the fund spends it on nothing else.
    #[schema(min_items = 1, max_items = 11)]
    restricted_to: Option<Vec<Category>>,
}

// Read field by field by `create_reserve`, which takes the fields it accepts from here.
/// The body of `POST /api/v1/reserves`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "a schema only: the handler reads the body field by field"
)]
struct NewReserveBody {
    /// The organisation the money is kept for.
    org_id: String,
    amount: Money,
    /// In the future.
    expires_at: DateTime<Utc>,
}

/// The fund at a glance.
#[derive(Serialize, ToSchema)]
struct FundFigures {
    #[schema(value_type = Figure)]
    donated: String,
    #[schema(value_type = Figure)]
    available: String,
    /// The part of `available` that restricted gifts keep for their categories.
    #[schema(value_type = Figure)]
    restricted: String,
    restricted_by_categories: Vec<RestrictedPool>,
    #[schema(value_type = Figure)]
    held: String,
    #[schema(value_type = Figure)]
    spent: String,
    #[schema(value_type = Figure)]
    in_kind: String,
    #[schema(value_type = Figure)]
    reserved: String,
    #[schema(value_type = Figure)]
    reserve_floor: String,
    /// Receipts not yet paid to the organisation or vendor that paid them (never those
    /// paid from an advance).
    #[schema(value_type = Figure)]
    owed: String,
    /// What spent advances are owed, to top them up to their level.
    #[schema(value_type = Figure)]
    to_replenish: String,
    /// The unspent money now at organisations as advances.
    #[schema(value_type = Figure)]
    advanced: String,
    /// Payout lines paid, less those that bounced.
    #[schema(value_type = Figure)]
    paid_out: String,
    /// The money in the bank by the books: `available + reserved + held + owed +
    /// to_replenish`.
    #[schema(value_type = Figure)]
    bank: String,
    #[schema(value_type = Figure)]
    other_income: String,
    #[schema(value_type = Figure)]
    fees: String,
    /// What organisations owe back: their unspent advances above their levels (all of it
    /// once they left the advance mode). Not in the identities: it is the organisations'
    /// money to return, recorded when its deposit reaches the bank.
    #[schema(value_type = Figure)]
    owed_back: String,
}

/// Adds a donor.
#[utoipa::path(
    post,
    path = "/api/v1/donors",
    tag = "funding",
    security(("bearer" = [])),
    request_body = NewDonorBody,
    responses(
        (status = 201, body = Created),
        BadRequest,
        Unauthorized,
        Forbidden,
        TooLarge,
        Invalid,
    ),
)]
async fn add_donor(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let (name, email, language) = parse_donor(&body)?;
    let now = state.clock.now();
    let actor = auth.staff().actor();
    let id = write_tx!(&state.db, |tx| -> Result<String, funding::FundingError> async {
        funding::add_donor(tx, now, &actor, &name, &email, language).await
    })?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// Reads a new donor's body (the web page's form arrives as the same body).
pub(crate) fn parse_donor(body: &Value) -> Result<(String, Email, Language), ApiError> {
    fields::only_of::<NewDonorBody>(body)?;
    let name = fields::string(body, "name")?.to_string();
    let email = Email::parse(fields::string(body, "email")?).map_err(|e| invalid("email", e))?;
    let language: Language = fields::optional_string(body, "language")?
        .unwrap_or("en")
        .parse()
        .map_err(|e| invalid("language", e))?;
    Ok((name, email, language))
}

/// Reads a donation's body (the web page's form arrives as the same body).
/// `received_on` may not be after `today` (the clock's).
pub(crate) fn parse_donation(body: &Value, today: NaiveDate) -> Result<NewDonation, ApiError> {
    fields::only_of::<NewDonationBody>(body)?;
    Ok(NewDonation {
        donor_id: fields::string(body, "donor_id")?.to_string(),
        amount: fields::money(body, "amount")?,
        received_on: crate::domain::dates::not_after_today(
            fields::date(body, "received_on")?,
            today,
        )
        .map_err(|e| invalid("received_on", e))?,
        in_kind: fields::boolean(body, "in_kind", false)?,
        description: fields::optional_string(body, "description")?
            .map(|d| crate::domain::note::Note::parse(d).map(|n| n.as_str().to_string()))
            .transpose()
            .map_err(|e| invalid("description", e))?,
        restricted_to: restriction(body)?,
    })
}

/// Records a donation to the fund.
#[utoipa::path(
    post,
    path = "/api/v1/donations",
    tag = "funding",
    security(("bearer" = [])),
    params(IdempotencyKey),
    request_body = NewDonationBody,
    responses(
        (status = 201, body = Created),
        BadRequest,
        Unauthorized,
        Forbidden,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn record_donation(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let now = state.clock.now();
    let new = parse_donation(&body, now.date_naive())?;
    let staff = auth.staff();
    idempotent!(
        state,
        staff,
        headers,
        DONATIONS_ROUTE,
        body,
        StatusCode::CREATED,
        |tx| -> Result<Created, funding::FundingError> async {
            let id = funding::record_donation(tx, now, &staff.actor(), &new).await?;
            Ok(Created { id })
        }
    )
}

/// `POST /api/v1/donations/import`: preview, or `commit=true` to record.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportQuery {
    /// `true` records every gift of the file, or none (201); left out or `false`, the
    /// answer only says what the file would record (200).
    commit: Option<bool>,
}

/// Whose a gift is: a donor already known by the line's email, or one the import adds.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum ImportDonor {
    Found,
    New,
}

/// What a line does: records a gift, or nothing, as its reference was imported before.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum ImportAction {
    Record,
    Skip,
}

/// One gift of the file as it is (or would be) recorded.
#[derive(Serialize, ToSchema)]
struct ImportLine {
    /// The line of the file (the header is line 1).
    line: u64,
    reference: String,
    #[schema(value_type = EmailAddress)]
    donor_email: String,
    donor_name: String,
    donor: ImportDonor,
    /// The donor's id when found, or once added.
    donor_id: Option<String>,
    amount: Money,
    received_on: NaiveDate,
    in_kind: bool,
    restricted_to: Option<Vec<String>>,
    action: ImportAction,
    /// Once recorded.
    donation_id: Option<String>,
}

/// What is wrong at a line of the file, in the reader's language.
#[derive(Serialize, ToSchema)]
struct ImportProblem {
    line: u64,
    /// The column to fix, or `file` for the line as a whole.
    field: String,
    /// For programs: `required`, `amount_format`, `date_format`, `category`,
    /// `in_kind_value`, `reference_repeated`, ...
    code: String,
    /// What was wrong and what to do.
    message: String,
}

/// A line that records nothing because its reference was imported before.
#[derive(Serialize, ToSchema)]
struct SkippedLine {
    line: u64,
    reference: String,
}

/// The earlier import of the same file.
#[derive(Serialize, ToSchema)]
struct EarlierImport {
    id: String,
    imported_at: DateTime<Utc>,
}

/// What a donations file would record (a preview) or recorded.
#[derive(Serialize, ToSchema)]
struct ImportAnswer {
    /// The file's SHA-256 (line endings and a byte-order mark aside), in hex.
    file_hash: String,
    /// Whether the gifts were recorded.
    committed: bool,
    /// The import, once committed.
    id: Option<String>,
    /// The same file was imported before: nothing is recorded again.
    seen_before: Option<EarlierImport>,
    /// How many gifts are, or would be, recorded.
    recorded: u64,
    /// Their cash.
    #[schema(value_type = Figure)]
    cash: String,
    /// Their value in kind.
    #[schema(value_type = Figure)]
    in_kind: String,
    lines: Vec<ImportLine>,
    skipped: Vec<SkippedLine>,
    /// Every problem, by line; a file with one records nothing.
    errors: Vec<ImportProblem>,
}

/// The language a refusal or a preview speaks: `Accept-Language`, else the user's own.
pub(crate) fn reader_language(headers: &HeaderMap, user: &AuthUser) -> Language {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::i18n::from_accept_language)
        .unwrap_or(user.language)
}

/// A problem of a donations file in `language`, the line first.
pub(crate) fn problem_message(language: Language, p: &import::LineProblem) -> String {
    crate::i18n::text_with(language, &p.problem.key(), &p.problem.args())
}

fn import_answer(result: &import::Import, committed: bool, language: Language) -> ImportAnswer {
    let recorded: Vec<&import::Line> = result.recorded().collect();
    let sum = |in_kind: bool| {
        format_cents(
            recorded
                .iter()
                .filter(|l| l.gift.in_kind == in_kind)
                .map(|l| l.gift.amount.cents())
                .sum(),
        )
    };
    ImportAnswer {
        file_hash: result.hash.clone(),
        committed,
        id: result.id.clone(),
        seen_before: result.seen_before.as_ref().map(|e| EarlierImport {
            id: e.id.clone(),
            imported_at: e.created_at,
        }),
        recorded: recorded.len() as u64,
        cash: sum(false),
        in_kind: sum(true),
        lines: result
            .lines
            .iter()
            .map(|l| ImportLine {
                line: l.gift.line,
                reference: l.gift.reference.as_str().to_string(),
                donor_email: l.gift.donor_email.as_str().to_string(),
                donor_name: match &l.donor {
                    import::Donor::Found { name, .. } | import::Donor::New { name } => name.clone(),
                },
                donor: match l.donor {
                    import::Donor::Found { .. } => ImportDonor::Found,
                    import::Donor::New { .. } => ImportDonor::New,
                },
                donor_id: match &l.donor {
                    import::Donor::Found { id, .. } => Some(id.clone()),
                    import::Donor::New { .. } => l.donor_id.clone(),
                },
                amount: l.gift.amount,
                received_on: l.gift.received_on,
                in_kind: l.gift.in_kind,
                restricted_to: l
                    .gift
                    .restricted_to
                    .as_ref()
                    .map(|r| r.categories().iter().map(|c| c.to_string()).collect()),
                action: match l.action {
                    import::Action::Record => ImportAction::Record,
                    import::Action::Skip => ImportAction::Skip,
                },
                donation_id: l.donation_id.clone(),
            })
            .collect(),
        skipped: result
            .skipped()
            .map(|l| SkippedLine {
                line: l.gift.line,
                reference: l.gift.reference.as_str().to_string(),
            })
            .collect(),
        errors: result
            .problems
            .iter()
            .map(|p| ImportProblem {
                line: p.line,
                field: p.column.to_string(),
                code: p.problem.code().to_string(),
                message: problem_message(language, p),
            })
            .collect(),
    }
}

/// Reads a donations file, refusing one that is no donations file at all (422, `body`).
pub(crate) fn parse_import(
    bytes: &[u8],
    today: NaiveDate,
    language: Language,
) -> Result<import::Parsed, ApiError> {
    let parsed = import::parse(bytes, today);
    if let Some(p) = parsed.problems.iter().find(|p| p.problem.is_file_level()) {
        return Err(invalid("body", problem_message(language, p)));
    }
    Ok(parsed)
}

/// Records a file's gifts in one transaction (or none), or says what it would record.
pub(crate) async fn run_import(
    state: &AppState,
    staff: &crate::cases::Staff,
    parsed: import::Parsed,
    commit: bool,
) -> Result<import::Import, ApiError> {
    if !commit {
        return Ok(
            crate::read_tx!(&state.db, |tx| -> Result<import::Import, crate::store::StoreError> async {
                import::preview(tx, parsed.clone()).await
            })?,
        );
    }
    let now = state.clock.now();
    let actor = staff.actor();
    Ok(
        write_tx!(&state.db, |tx| -> Result<import::Import, funding::FundingError> async {
            import::commit(tx, now, &actor, parsed.clone()).await
        })?,
    )
}

/// Imports donations from a CSV file (a spreadsheet's export): with a header row naming
/// the columns `donor_email`, `amount`, `received_on` and `reference`, and optionally
/// `donor_name` (required for a donor not yet known), `restricted_to` (categories
/// separated by spaces or semicolons), `in_kind` (`true` or `false`) and `language` (a new
/// donor's, `fr` or `en`). Without `commit=true` the answer is a preview; with it, every
/// gift is recorded, audited as one typed by hand, or none. The same file, or a line whose
/// reference was imported before, records nothing again. Messages speak the
/// `Accept-Language`, else the user's language.
#[utoipa::path(
    post,
    path = "/api/v1/donations/import",
    tag = "funding",
    security(("bearer" = [])),
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv",
        description = "The donations file, UTF-8, comma- or semicolon-separated"),
    responses(
        (status = 200, description = "A preview: what the file would record, and its problems by line", body = ImportAnswer),
        (status = 201, description = "Recorded (or, for a file seen before, nothing again)", body = ImportAnswer),
        BadRequest,
        Unauthorized,
        Forbidden,
        TooLarge,
        Invalid,
    ),
)]
async fn import_donations(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    headers: HeaderMap,
    Query(query): Query<ImportQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ImportAnswer>), ApiError> {
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(
                "the file is too large: import it in parts, or ask an admin to raise PASSAGE_BODY_LIMIT_BYTES".into(),
            )
        } else {
            ApiError::BadRequest(e.body_text())
        }
    })?;
    let language = reader_language(&headers, &auth);
    let commit = query.commit.unwrap_or(false);
    let parsed = parse_import(&bytes, state.clock.now().date_naive(), language)?;
    let result = run_import(&state, &auth.staff(), parsed, commit).await?;
    if commit && !result.problems.is_empty() {
        let errors: Vec<FieldError> = result
            .problems
            .iter()
            .map(|p| FieldError {
                field: format!("line {}: {}", p.line, p.column),
                message: problem_message(language, p),
            })
            .collect();
        let first = &errors[0];
        return Err(ApiError::InvalidFields {
            field: first.field.clone(),
            message: crate::i18n::text_with(
                language,
                "import-nothing-recorded",
                &[("count", errors.len().to_string())],
            ),
            errors,
        });
    }
    let status = if commit {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(import_answer(&result, commit, language))))
}

/// `restricted_to`: the categories a cash gift may be spent on, such as `["hotel", "bus"]`.
fn restriction(body: &Value) -> Result<Option<Restriction>, ApiError> {
    let Some(value) = fields::optional(body, "restricted_to") else {
        return Ok(None);
    };
    let names = value.as_array().ok_or_else(|| {
        invalid(
            "restricted_to",
            "must be a list of categories, such as [\"hotel\", \"bus\"]",
        )
    })?;
    let categories = names
        .iter()
        .map(|name| {
            name.as_str()
                .ok_or_else(|| invalid("restricted_to", "must be a list of category names"))?
                .parse::<Category>()
                .map_err(|e| invalid("restricted_to", format!("{name} {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Restriction::new(&categories)
        .map(Some)
        .map_err(|e| invalid("restricted_to", e))
}

/// The fund's figures: what was given, what is available, held, spent and kept.
#[utoipa::path(
    get,
    path = "/api/v1/fund",
    tag = "funding",
    security(("bearer" = [])),
    responses((status = 200, body = FundFigures), Unauthorized, Forbidden),
)]
async fn fund(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
) -> Result<Json<FundFigures>, ApiError> {
    let now = state.clock.now();
    let figures = funding::figures(&state.db, now).await?;
    let policy = versions::in_force(&state.db, now).await?;
    let owed_back = crate::read_tx!(&state.db, |tx| -> Result<i64, crate::store::StoreError> async {
        crate::funding::owed::owed_back_total(tx).await
    })?;
    Ok(Json(FundFigures {
        donated: format_cents(figures.donated),
        available: format_cents(figures.available),
        restricted: format_cents(figures.restricted),
        restricted_by_categories: restricted::by_restriction(&state.db).await?,
        held: format_cents(figures.held),
        spent: format_cents(figures.spent),
        in_kind: format_cents(figures.in_kind),
        reserved: format_cents(figures.reserved),
        reserve_floor: format_cents(policy.policy.reserve_floor_cents()),
        owed: format_cents(figures.owed),
        to_replenish: format_cents(figures.to_replenish),
        advanced: format_cents(figures.advanced),
        paid_out: format_cents(figures.paid_out),
        bank: format_cents(figures.bank),
        other_income: format_cents(figures.other_income),
        fees: format_cents(figures.fees),
        owed_back: format_cents(owed_back),
    }))
}

/// Keeps part of the fund for one organisation until a time.
#[utoipa::path(
    post,
    path = "/api/v1/reserves",
    tag = "funding",
    security(("bearer" = [])),
    params(IdempotencyKey),
    request_body = NewReserveBody,
    responses(
        (status = 201, body = ReserveView),
        BadRequest,
        Unauthorized,
        Forbidden,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn create_reserve(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    fields::only_of::<NewReserveBody>(&body)?;
    let org_id = fields::string(&body, "org_id")?.to_string();
    let amount = fields::money(&body, "amount")?;
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(fields::string(&body, "expires_at")?.trim())
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|_| {
                invalid(
                    "expires_at",
                    "must be a time such as \"2026-12-01T08:00:00-05:00\"",
                )
            })?;
    let now = state.clock.now();
    let staff = auth.staff();
    idempotent!(
        state,
        staff,
        headers,
        "POST /api/v1/reserves",
        body,
        StatusCode::CREATED,
        |tx| -> Result<ReserveView, crate::approval::FlowError> async {
            let reserve = reserves::create(tx, now, &staff, &org_id, amount, expires_at).await?;
            // Money set aside is money automatic decisions cannot use: the alert watches it.
            crate::approval::notify::low_balance_now(tx, now).await?;
            Ok(reserve)
        }
    )
}

/// Lists the reserves, active or not.
#[utoipa::path(
    get,
    path = "/api/v1/reserves",
    tag = "funding",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<ReserveView>), Unauthorized, Forbidden),
)]
async fn list_reserves(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
) -> Result<Json<Vec<ReserveView>>, ApiError> {
    Ok(Json(reserves::list(&state.db, state.clock.now()).await?))
}
