//! Donors, donations and the fund at a glance (treasurers).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::error::{ApiError, Json};
use super::extractor::{Authorized, Treasurer};
use super::fields::{self, invalid};
use crate::app::AppState;
use crate::approval::{reserves, versions};
use crate::domain::money::format_cents;
use crate::domain::request::Category;
use crate::domain::{Email, Language};
use crate::funding::{self, NewDonation, Restriction, restricted};
use crate::write_tx;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/donors", post(add_donor))
        .route("/api/v1/donations", post(record_donation))
        .route("/api/v1/fund", get(fund))
        .route("/api/v1/reserves", post(create_reserve).get(list_reserves))
}

async fn add_donor(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    fields::only(&body, &["name", "email", "language"])?;
    let name = fields::string(&body, "name")?.to_string();
    let email = Email::parse(fields::string(&body, "email")?).map_err(|e| invalid("email", e))?;
    let language: Language = fields::optional_string(&body, "language")?
        .unwrap_or("en")
        .parse()
        .map_err(|e| invalid("language", e))?;
    let now = state.clock.now();
    let actor = auth.staff().actor();
    let id = write_tx!(&state.db, |tx| funding::add_donor(
        tx, now, &actor, &name, &email, language
    )
    .await)?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))))
}

async fn record_donation(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    fields::only(
        &body,
        &[
            "donor_id",
            "amount",
            "received_on",
            "in_kind",
            "description",
            "restricted_to",
        ],
    )?;
    let new = NewDonation {
        donor_id: fields::string(&body, "donor_id")?.to_string(),
        amount: fields::money(&body, "amount")?,
        received_on: fields::date(&body, "received_on")?,
        in_kind: fields::boolean(&body, "in_kind", false)?,
        description: fields::optional_string(&body, "description")?
            .map(|d| crate::domain::note::Note::parse(d).map(|n| n.as_str().to_string()))
            .transpose()
            .map_err(|e| invalid("description", e))?,
        restricted_to: restriction(&body)?,
    };
    let now = state.clock.now();
    let staff = auth.staff();
    idempotent!(
        state,
        staff,
        headers,
        "POST /api/v1/donations",
        body,
        StatusCode::CREATED,
        |tx| {
            funding::record_donation(tx, now, &staff.actor(), &new)
                .await
                .map(|id| json!({"id": id}))
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

async fn fund(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
) -> Result<Json<Value>, ApiError> {
    let now = state.clock.now();
    let figures = funding::figures(&state.db, now).await?;
    let policy = versions::in_force(&state.db, now).await?;
    Ok(Json(json!({
        "donated": format_cents(figures.donated),
        "available": format_cents(figures.available),
        "restricted": format_cents(figures.restricted),
        "restricted_by_categories": restricted::by_restriction(&state.db).await?,
        "held": format_cents(figures.held),
        "spent": format_cents(figures.spent),
        "in_kind": format_cents(figures.in_kind),
        "reserved": format_cents(figures.reserved),
        "reserve_floor": format_cents(policy.policy.reserve_floor_cents()),
    })))
}

async fn create_reserve(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    fields::only(&body, &["org_id", "amount", "expires_at"])?;
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
        |tx| {
            reserves::create(tx, now, &staff, &org_id, amount, expires_at)
                .await
                .map(|r| json!(r))
        }
    )
}

async fn list_reserves(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(
        reserves::list(&state.db, state.clock.now()).await?
    )))
}
