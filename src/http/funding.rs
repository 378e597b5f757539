//! Donors, donations and the fund at a glance (treasurers).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json};
use super::extractor::{Authorized, Treasurer};
use super::fields::{self, invalid};
use super::openapi::{
    BadRequest, Conflict, Created, EmailAddress, Figure, Forbidden, IdempotencyKey, Invalid,
    TooLarge, Unauthorized,
};
use crate::approval::versions;
use crate::domain::money::format_cents;
use crate::domain::request::Category;
use crate::domain::{Email, Language, Money};
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
