//! Paying the organisations (treasurers): each organisation's payment mode and how it is
//! paid, the vendor accounts, and payout batches from preparation to the bank's upload.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json, Path, Query};
use super::extractor::{Authorized, Treasurer};
use super::fields::{self, invalid};
use super::openapi::{
    BadRequest, Conflict, Created, Forbidden, IdempotencyKey, Invalid, NotFound, TooLarge,
    Unauthorized,
};
use super::paging::{self, Paged};
use crate::domain::Money;
use crate::domain::page::Page;
use crate::domain::states::{PaymentMethod, PaymentMode, PayoutStatus};
use crate::funding::owed;
use crate::funding::payouts::{
    self, NewSettings, NewVendor, PaymentSettings, PayoutError, PayoutView, Vendor,
};
use crate::state::AppState;
use crate::{read_tx, write_tx};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(set_payment, show_payment))
        .routes(routes!(advance_returned))
        .routes(routes!(add_vendor, list_vendors))
        .routes(routes!(prepare, list))
        .routes(routes!(show))
        .routes(routes!(release))
        .routes(routes!(cancel))
        .routes(routes!(paid))
        .routes(routes!(line_paid))
        .routes(routes!(line_bounced))
        .routes(routes!(instructions))
}

impl From<PayoutError> for ApiError {
    fn from(e: PayoutError) -> Self {
        match e {
            PayoutError::NotFound(m) => ApiError::NotFound(m),
            PayoutError::Forbidden(m) => ApiError::Forbidden(m),
            PayoutError::Conflict(m) => ApiError::Conflict(m),
            PayoutError::Invalid { field, message } => ApiError::Unprocessable { field, message },
            PayoutError::Store(e) => e.into(),
            PayoutError::Ledger(e) => crate::approval::FlowError::from(e).into(),
        }
    }
}

// Read field by field by `set_payment`, which takes the fields it accepts from here.
/// The body of `PUT /api/v1/orgs/{id}/payment`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "a schema only: the handler reads the body field by field"
)]
struct PaymentBody {
    mode: PaymentMode,
    /// With `advance` only: the money the fund keeps at the organisation.
    advance_level: Option<Money>,
    /// With `fund_pays` (required there): the vendor account receipts are owed to.
    #[schema(format = "uuid")]
    default_vendor_id: Option<String>,
    /// `etransfer` when left out.
    method: Option<PaymentMethod>,
    /// The e-transfer address or the bank account; shown masked.
    #[schema(min_length = 1, max_length = 120)]
    payee_details: Option<String>,
}

// Read field by field by `add_vendor`.
/// The body of `POST /api/v1/vendors`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "a schema only: the handler reads the body field by field"
)]
struct VendorBody {
    /// What the treasurers call the account: "VIA Rail account", "the fund's Visa".
    #[schema(min_length = 1, max_length = 120)]
    name: String,
    /// `etransfer` when left out.
    method: Option<PaymentMethod>,
    #[schema(min_length = 1, max_length = 120)]
    payee_details: Option<String>,
}

// Read field by field by `prepare`.
/// The body of `POST /api/v1/payouts`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "a schema only: the handler reads the body field by field"
)]
struct PrepareBody {
    /// Only what the fund came to owe up to this moment; everything when left out.
    up_to: Option<DateTime<Utc>>,
}

// Read field by field by `paid` and `line_paid`.
/// The body of a payment marked paid.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "a schema only: the handler reads the body field by field"
)]
struct PaidBody {
    /// The bank's reference for the payment.
    #[schema(min_length = 1, max_length = 80)]
    reference: String,
}

fn method(body: &Value) -> Result<Option<PaymentMethod>, ApiError> {
    fields::optional_string(body, "method")?
        .map(|m| m.parse().map_err(|e| invalid("method", e)))
        .transpose()
}

fn payee_details(body: &Value) -> Result<Option<String>, ApiError> {
    Ok(fields::optional_string(body, "payee_details")?
        .map(payouts::parse_details)
        .transpose()?)
}

/// Sets how an organisation is paid: its payment mode (`reimbursement`, `advance` with
/// `advance_level`, `fund_pays` with `default_vendor_id`), method and payee details.
#[utoipa::path(
    put,
    path = "/api/v1/orgs/{id}/payment",
    tag = "payouts",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The organisation's id")),
    request_body = PaymentBody,
    responses(
        (status = 200, body = PaymentSettings),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        TooLarge,
        Invalid,
    ),
)]
async fn set_payment(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<PaymentSettings>, ApiError> {
    fields::only_of::<PaymentBody>(&body)?;
    let mode: PaymentMode = fields::string(&body, "mode")?
        .parse()
        .map_err(|e| invalid("mode", e))?;
    let advance_level = match fields::optional(&body, "advance_level") {
        Some(_) => Some(fields::money(&body, "advance_level")?.cents()),
        None => None,
    };
    let new = NewSettings {
        mode,
        advance_level,
        default_vendor_id: fields::optional_string(&body, "default_vendor_id")?.map(Into::into),
        method: method(&body)?.unwrap_or(PaymentMethod::Etransfer),
        payee_details: payee_details(&body)?,
    };
    let now = state.clock.now();
    let actor = auth.staff().actor();
    let settings = write_tx!(&state.db, |tx| -> Result<PaymentSettings, PayoutError> async {
        payouts::set_settings(tx, now, &actor, &id, &new).await
    })?;
    Ok(Json(settings))
}

/// How an organisation is paid, and what it owes back when its advance is above its level.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{id}/payment",
    tag = "payouts",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The organisation's id")),
    responses((status = 200, body = PaymentSettings), Unauthorized, Forbidden, NotFound),
)]
async fn show_payment(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
    Path(id): Path<String>,
) -> Result<Json<PaymentSettings>, ApiError> {
    let settings = read_tx!(&state.db, |tx| -> Result<PaymentSettings, PayoutError> async {
        payouts::settings(tx, &id).await
    })?;
    Ok(Json(settings))
}

// Read field by field by `advance_returned`.
/// The body of `POST /api/v1/orgs/{id}/advance/returned`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "a schema only: the handler reads the body field by field"
)]
struct ReturnedBody {
    /// What the organisation deposited: at most what it owes back.
    amount: Money,
    /// The bank's reference for the deposit.
    #[schema(min_length = 1, max_length = 80)]
    reference: String,
}

/// An organisation's deposit of its advance's excess reached the bank (after its level
/// was lowered, or it left the advance mode): the unspent advance goes down and the
/// fund's available money up, in one balanced, audited transfer; a replenishment no
/// batch holds and the level no longer needs goes back to available with it.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{id}/advance/returned",
    tag = "payouts",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = "uuid", description = "The organisation's id"),
        IdempotencyKey,
    ),
    request_body = ReturnedBody,
    responses(
        (status = 200, body = PaymentSettings),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn advance_returned(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    fields::only_of::<ReturnedBody>(&body)?;
    let amount = fields::money(&body, "amount")?.cents();
    let reference = payouts::parse_bank_reference(fields::string(&body, "reference")?)?;
    let now = state.clock.now();
    let staff = auth.staff();
    let route = format!("POST /api/v1/orgs/{id}/advance/returned");
    idempotent!(
        state,
        staff,
        headers,
        &route,
        body,
        StatusCode::OK,
        |tx| -> Result<PaymentSettings, PayoutError> async {
            owed::advance_returned(tx, now, &staff.actor(), &id, amount, &reference).await?;
            payouts::settings(tx, &id).await
        }
    )
}

/// Adds a vendor account the fund pays through (a carrier partner, the fund's own card).
#[utoipa::path(
    post,
    path = "/api/v1/vendors",
    tag = "payouts",
    security(("bearer" = [])),
    request_body = VendorBody,
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
async fn add_vendor(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    fields::only_of::<VendorBody>(&body)?;
    let new = NewVendor::new(
        fields::string(&body, "name")?,
        method(&body)?,
        payee_details(&body)?.as_deref(),
    )?;
    let now = state.clock.now();
    let actor = auth.staff().actor();
    let id = write_tx!(&state.db, |tx| -> Result<String, PayoutError> async {
        payouts::add_vendor(tx, now, &actor, &new).await
    })?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// The vendor accounts, by name; payee details masked.
#[utoipa::path(
    get,
    path = "/api/v1/vendors",
    tag = "payouts",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<Vendor>), Unauthorized, Forbidden),
)]
async fn list_vendors(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
) -> Result<Json<Vec<Vendor>>, ApiError> {
    Ok(Json(payouts::vendors(&state.db).await?))
}

/// Prepares a payout batch: everything the fund owes and has to replenish (up to `up_to`)
/// and every advance below its level, that no live batch holds.
#[utoipa::path(
    post,
    path = "/api/v1/payouts",
    tag = "payouts",
    security(("bearer" = [])),
    request_body = PrepareBody,
    responses(
        (status = 201, body = PayoutView),
        BadRequest,
        Unauthorized,
        Forbidden,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn prepare(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<PayoutView>), ApiError> {
    fields::only_of::<PrepareBody>(&body)?;
    let up_to = fields::optional_string(&body, "up_to")?
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| invalid("up_to", "must be a moment such as \"2026-11-30T23:59:59Z\""))
        })
        .transpose()?;
    let now = state.clock.now();
    let staff = auth.staff();
    let batch = write_tx!(&state.db, |tx| -> Result<PayoutView, PayoutError> async {
        payouts::prepare(tx, now, &staff, up_to).await
    })?;
    Ok((StatusCode::CREATED, Json(batch)))
}

/// The payout batches, newest first (without their lines), a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/payouts",
    tag = "payouts",
    security(("bearer" = [])),
    params(PayoutsQuery),
    responses((status = 200, body = Paged<PayoutView>), BadRequest, Unauthorized, Forbidden, Invalid),
)]
async fn list(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
    Query(query): Query<PayoutsQuery>,
) -> Result<Json<Paged<PayoutView>>, ApiError> {
    let request = paging::page_request(query.after.as_deref(), query.limit.as_deref())?;
    let status = query
        .status
        .as_deref()
        .map(str::parse::<PayoutStatus>)
        .transpose()
        .map_err(|e| {
            fields::invalid(
                "status",
                format!("{:?} is not a status: use one of {}", e.word, e.choices),
            )
        })?;
    let list = read_tx!(&state.db, |tx| -> Result<Page<PayoutView>, PayoutError> async {
        payouts::list(tx, status, &request).await
    })?;
    Ok(Json(list.into()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PayoutsQuery {
    /// Only the batches in this status.
    #[param(value_type = Option<PayoutStatus>, inline)]
    status: Option<String>,
    /// The `next` of the previous page; left out, the list starts from the newest.
    after: Option<String>,
    /// How many batches a page holds: 1 to 200, 50 when left out.
    limit: Option<String>,
}

/// A payout batch with its lines.
#[utoipa::path(
    get,
    path = "/api/v1/payouts/{id}",
    tag = "payouts",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The batch's id")),
    responses((status = 200, body = PayoutView), Unauthorized, Forbidden, NotFound),
)]
async fn show(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
    Path(id): Path<String>,
) -> Result<Json<PayoutView>, ApiError> {
    let batch = read_tx!(&state.db, |tx| -> Result<PayoutView, PayoutError> async {
        payouts::find(tx, &id).await
    })?;
    Ok(Json(batch))
}

/// Releases a prepared batch: another treasurer than the one who prepared it (403), and
/// not one whose own organisation it pays (403).
#[utoipa::path(
    post,
    path = "/api/v1/payouts/{id}/release",
    tag = "payouts",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The batch's id")),
    responses(
        (status = 200, body = PayoutView),
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
    ),
)]
async fn release(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Path(id): Path<String>,
) -> Result<Json<PayoutView>, ApiError> {
    let now = state.clock.now();
    let staff = auth.staff();
    let batch = write_tx!(&state.db, |tx| -> Result<PayoutView, PayoutError> async {
        payouts::release(tx, now, &staff, &id).await
    })?;
    Ok(Json(batch))
}

/// Cancels a prepared or released batch before any of it is paid; its lines are free
/// for another batch.
#[utoipa::path(
    post,
    path = "/api/v1/payouts/{id}/cancel",
    tag = "payouts",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The batch's id")),
    responses(
        (status = 200, body = PayoutView),
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
    ),
)]
async fn cancel(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Path(id): Path<String>,
) -> Result<Json<PayoutView>, ApiError> {
    let now = state.clock.now();
    let staff = auth.staff();
    let batch = write_tx!(&state.db, |tx| -> Result<PayoutView, PayoutError> async {
        payouts::cancel(tx, now, &staff, &id).await
    })?;
    Ok(Json(batch))
}

fn bank_reference(body: &Value) -> Result<String, ApiError> {
    fields::only_of::<PaidBody>(body)?;
    Ok(payouts::parse_bank_reference(fields::string(
        body,
        "reference",
    )?)?)
}

/// Marks every open line of a released batch paid with the bank's reference: the money
/// leaves the bank.
#[utoipa::path(
    post,
    path = "/api/v1/payouts/{id}/paid",
    tag = "payouts",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The batch's id")),
    request_body = PaidBody,
    responses(
        (status = 200, body = PayoutView),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn paid(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<PayoutView>, ApiError> {
    let reference = bank_reference(&body)?;
    let now = state.clock.now();
    let staff = auth.staff();
    let batch = write_tx!(&state.db, |tx| -> Result<PayoutView, PayoutError> async {
        payouts::mark_paid(tx, now, &staff, &id, None, &reference).await
    })?;
    Ok(Json(batch))
}

/// Marks one open line of a released batch paid with the bank's reference.
#[utoipa::path(
    post,
    path = "/api/v1/payouts/{id}/lines/{line}/paid",
    tag = "payouts",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = "uuid", description = "The batch's id"),
        ("line" = String, Path, format = "uuid", description = "The line's id"),
    ),
    request_body = PaidBody,
    responses(
        (status = 200, body = PayoutView),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn line_paid(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Path((id, line)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Json<PayoutView>, ApiError> {
    let reference = bank_reference(&body)?;
    let now = state.clock.now();
    let staff = auth.staff();
    let batch = write_tx!(&state.db, |tx| -> Result<PayoutView, PayoutError> async {
        payouts::mark_paid(tx, now, &staff, &id, Some(&line), &reference).await
    })?;
    Ok(Json(batch))
}

/// A paid line came back from the bank: it is reversed by a new transfer and owed again.
#[utoipa::path(
    post,
    path = "/api/v1/payouts/{id}/lines/{line}/bounced",
    tag = "payouts",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, format = "uuid", description = "The batch's id"),
        ("line" = String, Path, format = "uuid", description = "The line's id"),
    ),
    responses(
        (status = 200, body = PayoutView),
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
    ),
)]
async fn line_bounced(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Path((id, line)): Path<(String, String)>,
) -> Result<Json<PayoutView>, ApiError> {
    let now = state.clock.now();
    let staff = auth.staff();
    let batch = write_tx!(&state.db, |tx| -> Result<PayoutView, PayoutError> async {
        payouts::bounced(tx, now, &staff, &id, &line).await
    })?;
    Ok(Json(batch))
}

/// A released batch's payment instructions for the bank's bulk upload, as CSV: one line
/// per payee (`payee,payee_details,amount,method,memo`), the memo carrying the batch's
/// reference and never a case code.
#[utoipa::path(
    get,
    path = "/api/v1/payouts/{id}/instructions.csv",
    tag = "payouts",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The batch's id")),
    responses(
        (status = 200, description = "The instructions", content((String = "text/csv"))),
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
    ),
)]
async fn instructions(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let csv = read_tx!(&state.db, |tx| -> Result<String, PayoutError> async {
        payouts::instructions(tx, &id).await
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"passage-payout.csv\"".to_string(),
            ),
        ],
        csv,
    )
        .into_response())
}
