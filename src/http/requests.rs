//! Requests: ask (decided at once by the policy), list, read, approve, decline, settle by
//! receipt, cancel.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::cases::parse_code;
use super::error::{ApiError, Json};
use super::extractor::{Authorized, Caseworker, CaseworkerOrTreasurer, Treasurer};
use super::fields::{self, invalid};
use crate::app::AppState;
use crate::approval::lifecycle::{self, NewRequest, OriginalAmount, Receipt};
use crate::approval::versions;
use crate::domain::note::Note;
use crate::domain::place::Place;
use crate::domain::request::{Category, HotelStay, Reason, Trip};
use crate::write_tx;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/requests", post(submit).get(list))
        .route("/api/v1/requests/{id}", get(show))
        .route("/api/v1/requests/{id}/approve", post(approve))
        .route("/api/v1/requests/{id}/decline", post(decline))
        .route("/api/v1/requests/{id}/receipt", post(receipt))
        .route("/api/v1/requests/{id}/cancel", post(cancel))
        .route("/api/v1/requests/{id}/review", post(review))
        .route("/api/v1/review", get(awaiting_review))
}

/// Runs a step that moves money: under its `Idempotency-Key` when the client sends one
/// (a retry then gets the first answer), as a plain transaction otherwise.
macro_rules! money_step {
    ($state:expr, $staff:expr, $headers:expr, $route:expr, $body:expr, |$tx:ident| $step:expr) => {{
        if $headers.contains_key("idempotency-key") {
            idempotent!(
                $state,
                $staff,
                $headers,
                $route,
                $body,
                StatusCode::OK,
                |$tx| { $step.await.map(|view| json!(view)) }
            )
        } else {
            let view = write_tx!(&$state.db, |$tx| $step.await)?;
            Ok((StatusCode::OK, Json(json!(view))))
        }
    }};
}

const TRAVEL_FIELDS: [&str; 4] = ["origin", "destination", "travel_date", "reason"];
const HOTEL_FIELDS: [&str; 3] = ["nights", "nightly_rate", "party_size"];

fn place(body: &Value, field: &str) -> Result<Place, ApiError> {
    let v = fields::required(body, field)?;
    if !v.is_object() {
        return Err(invalid(
            field,
            "must be an object such as {\"city\": \"Ottawa\", \"province\": \"ON\"}",
        ));
    }
    fields::only(v, &["city", "province", "country"]).map_err(|e| match e {
        ApiError::Unprocessable { field: f, message } => invalid(&format!("{field}.{f}"), message),
        other => other,
    })?;
    let sub = |name: &str| -> Result<Option<&str>, ApiError> {
        fields::optional_string(v, name)
            .map_err(|_| invalid(&format!("{field}.{name}"), "must be a string"))
    };
    Place::parse(
        sub("city")?.unwrap_or(""),
        sub("province")?,
        sub("country")?,
    )
    .map_err(|e| invalid(&format!("{field}.{}", e.field()), e))
}

fn needed_by(body: &Value) -> Result<String, ApiError> {
    let raw = fields::string(body, "needed_by")?.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(at.with_timezone(&chrono::Utc).to_rfc3339());
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map(|d| d.to_string())
        .map_err(|_| {
            invalid(
                "needed_by",
                "must be a date (\"2026-11-30\") or a time (\"2026-11-30T08:00:00-05:00\")",
            )
        })
}

/// Reads a request body field by field, so each refusal names its field.
fn parse_request(body: &Value) -> Result<NewRequest, ApiError> {
    let mut known = vec![
        "case_code",
        "category",
        "amount",
        "needed_by",
        "urgent",
        "note",
    ];
    known.extend(TRAVEL_FIELDS);
    known.extend(HOTEL_FIELDS);
    fields::only(body, &known)?;
    let case_code = parse_code(fields::string(body, "case_code")?).map_err(|e| match e {
        ApiError::Unprocessable { message, .. } => invalid("case_code", message),
        other => other,
    })?;
    let category: Category = fields::string(body, "category")?
        .parse()
        .map_err(|e| invalid("category", e))?;
    let note = fields::optional_string(body, "note")?
        .map(Note::parse)
        .transpose()
        .map_err(|e| invalid("note", e))?;
    let (trip, hotel, amount) = if category.is_travel() {
        if let Some(f) = HOTEL_FIELDS
            .iter()
            .find(|f| fields::optional(body, f).is_some())
        {
            return Err(invalid(f, "belongs to hotel requests only"));
        }
        let reason: Reason = fields::string(body, "reason")?
            .parse()
            .map_err(|e| invalid("reason", e))?;
        let trip = Trip {
            origin: place(body, "origin")?,
            destination: place(body, "destination")?,
            reason,
        };
        let date = fields::date(body, "travel_date")?;
        (Some((trip, date)), None, fields::money(body, "amount")?)
    } else if category == Category::Hotel {
        if let Some(f) = TRAVEL_FIELDS
            .iter()
            .find(|f| fields::optional(body, f).is_some())
        {
            return Err(invalid(f, "belongs to travel requests only"));
        }
        let stay = HotelStay::new(
            fields::integer(body, "nights")?,
            fields::money(body, "nightly_rate")?,
            fields::integer(body, "party_size")?,
        )
        .map_err(|e| invalid(e.field(), e))?;
        if fields::optional(body, "amount").is_some()
            && fields::money(body, "amount")? != stay.amount()
        {
            return Err(invalid(
                "amount",
                format!(
                    "must be nights × nightly_rate = {} (or leave it out)",
                    stay.amount()
                ),
            ));
        }
        (None, Some(stay), stay.amount())
    } else {
        if let Some(f) = TRAVEL_FIELDS
            .iter()
            .chain(HOTEL_FIELDS.iter())
            .find(|f| fields::optional(body, f).is_some())
        {
            return Err(invalid(f, "belongs to travel or hotel requests only"));
        }
        (None, None, fields::money(body, "amount")?)
    };
    Ok(NewRequest {
        case_code,
        category,
        amount,
        needed_by: needed_by(body)?,
        urgent: fields::boolean(body, "urgent", false)?,
        note,
        trip,
        hotel,
    })
}

async fn submit(
    State(state): State<AppState>,
    auth: Authorized<Caseworker>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    fields::object(&body)?;
    let new = parse_request(&body)?;
    let staff = auth.staff();
    let now = state.clock.now();
    idempotent!(
        state,
        staff,
        headers,
        "POST /api/v1/requests",
        body,
        StatusCode::CREATED,
        |tx| {
            lifecycle::submit(tx, now, &staff, &new, &state.config.base_url)
                .await
                .map(|view| json!(view))
        }
    )
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
}

const STATUSES: [&str; 6] = [
    "pending",
    "approved",
    "declined",
    "settled",
    "cancelled",
    "expired",
];

async fn list(
    State(state): State<AppState>,
    auth: Authorized<CaseworkerOrTreasurer>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    if let Some(s) = query.status.as_deref().filter(|s| !STATUSES.contains(s)) {
        return Err(invalid(
            "status",
            format!("{s:?} is not a status: use one of {}", STATUSES.join(", ")),
        ));
    }
    let now = state.clock.now();
    let policy = versions::in_force(&state.db, now).await?;
    let views = lifecycle::list(
        &state.db,
        &auth.staff(),
        query.status.as_deref(),
        policy.policy.dual_approval_above(),
    )
    .await?;
    Ok(Json(json!(views)))
}

fn request_id(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| invalid("id", "is not a request id"))
}

async fn show(
    State(state): State<AppState>,
    auth: Authorized<CaseworkerOrTreasurer>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = request_id(&id)?;
    let now = state.clock.now();
    let staff = auth.staff();
    let view = write_tx!(&state.db, |tx| lifecycle::find(tx, now, &staff, &id).await)?;
    Ok(Json(json!(view)))
}

async fn approve(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = request_id(&id)?;
    let now = state.clock.now();
    let staff = auth.staff();
    let route = format!("POST /api/v1/requests/{id}/approve");
    money_step!(state, staff, headers, &route, json!({}), |tx| {
        lifecycle::approve(tx, now, &staff, &id, &state.config.base_url)
    })
}

async fn decline(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let id = request_id(&id)?;
    fields::only(&body, &["reason"])?;
    let reason = Note::parse(fields::string(&body, "reason")?).map_err(|e| invalid("reason", e))?;
    let now = state.clock.now();
    let staff = auth.staff();
    let view = write_tx!(&state.db, |tx| lifecycle::decline(
        tx,
        now,
        &staff,
        &id,
        &reason,
        &state.config.base_url
    )
    .await)?;
    Ok(Json(json!(view)))
}

async fn receipt(
    State(state): State<AppState>,
    auth: Authorized<CaseworkerOrTreasurer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = request_id(&id)?;
    let receipt = parse_receipt(&body, state.clock.now().date_naive())?;
    let now = state.clock.now();
    let staff = auth.staff();
    let route = format!("POST /api/v1/requests/{id}/receipt");
    money_step!(
        state,
        staff,
        headers,
        &route,
        body,
        |tx| lifecycle::receipt(tx, now, &staff, &id, &receipt)
    )
}

fn parse_receipt(body: &Value, today: chrono::NaiveDate) -> Result<Receipt, ApiError> {
    fields::only(
        body,
        &[
            "amount",
            "paid_on",
            "vendor",
            "reference",
            "attested",
            "original_currency",
            "original_amount",
        ],
    )?;
    let short = |field: &str| -> Result<Option<String>, ApiError> {
        fields::optional_string(body, field)?
            .map(|v| {
                Note::parse(v)
                    .map(|n| n.as_str().to_string())
                    .map_err(|e| invalid(field, e))
            })
            .transpose()
    };
    let paid_on = match fields::optional(body, "paid_on") {
        Some(_) => fields::date(body, "paid_on")?,
        None => today,
    };
    let original = match (
        fields::optional_string(body, "original_currency")?,
        fields::optional(body, "original_amount"),
    ) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(invalid(
                "original_amount",
                "is required with original_currency",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                "original_currency",
                "is required with original_amount",
            ));
        }
        (Some(currency), Some(amount)) => {
            let currency = currency.trim().to_ascii_uppercase();
            if currency.len() != 3
                || !currency.bytes().all(|b| b.is_ascii_uppercase())
                || currency == "CAD"
            {
                return Err(invalid(
                    "original_currency",
                    "must be a three-letter ISO 4217 code other than CAD, such as \"USD\" or \"HTG\"",
                ));
            }
            let amount = amount
                .as_str()
                .and_then(|a| rust_decimal::Decimal::from_str_exact(a.trim()).ok())
                .filter(|a| *a > rust_decimal::Decimal::ZERO && a.scale() <= 3)
                .ok_or_else(|| {
                    invalid(
                        "original_amount",
                        "must be a positive amount as a string, such as \"1250.00\"",
                    )
                })?;
            Some(OriginalAmount { currency, amount })
        }
    };
    Ok(Receipt {
        amount: fields::money(body, "amount")?,
        paid_on,
        vendor: short("vendor")?,
        reference: fields::optional_string(body, "reference")?
            .map(|r| {
                crate::domain::note::Reference::parse(r)
                    .map(|r| r.as_str().to_string())
                    .map_err(|e| invalid("reference", e))
            })
            .transpose()?,
        attested: fields::boolean(body, "attested", false)?,
        original,
    })
}

async fn cancel(
    State(state): State<AppState>,
    auth: Authorized<CaseworkerOrTreasurer>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = request_id(&id)?;
    let now = state.clock.now();
    let staff = auth.staff();
    let route = format!("POST /api/v1/requests/{id}/cancel");
    money_step!(state, staff, headers, &route, json!({}), |tx| {
        lifecycle::cancel(tx, now, &staff, &id)
    })
}

async fn awaiting_review(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
) -> Result<Json<Value>, ApiError> {
    let now = state.clock.now();
    let policy = versions::in_force(&state.db, now).await?;
    let views = lifecycle::awaiting_review(&state.db, policy.policy.dual_approval_above()).await?;
    Ok(Json(json!(views)))
}

async fn review(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let id = request_id(&id)?;
    fields::only(&body, &["flag"])?;
    let flag = fields::boolean(&body, "flag", false)?;
    let now = state.clock.now();
    let staff = auth.staff();
    let view = write_tx!(&state.db, |tx| lifecycle::review(
        tx, now, &staff, &id, flag
    )
    .await)?;
    Ok(Json(json!(view)))
}
