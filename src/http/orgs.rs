//! Member organisations: admins add them; admins and treasurers list them.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde::Deserialize;

use super::error::{ApiError, Json};
use super::extractor::{Admin, AdminOrTreasurer, Authorized};
use crate::app::AppState;
use crate::audit::Actor;
use crate::domain::{OrgType, Province};
use crate::identity::orgs::{self, NewOrg, Org};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/orgs", post(create).get(list))
}

#[derive(Deserialize)]
struct NewOrgBody {
    name: String,
    #[serde(rename = "type")]
    org_type: String,
    province: String,
}

fn invalid(field: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::Unprocessable {
        field: field.into(),
        message: e.to_string(),
    }
}

async fn create(
    State(state): State<AppState>,
    auth: Authorized<Admin>,
    Json(body): Json<NewOrgBody>,
) -> Result<(StatusCode, Json<Org>), ApiError> {
    let org_type: OrgType = body.org_type.parse().map_err(|e| invalid("type", e))?;
    let province = Province::parse(&body.province).map_err(|e| invalid("province", e))?;
    let new = NewOrg::new(&body.name, org_type, province)?;
    let actor = Actor(format!("user:{}", auth.id));
    let org = orgs::create(&state.db, state.clock.now(), &actor, &new).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

async fn list(
    State(state): State<AppState>,
    _: Authorized<AdminOrTreasurer>,
) -> Result<Json<Vec<Org>>, ApiError> {
    Ok(Json(orgs::list(&state.db).await?))
}
