//! Member organisations: admins add them; admins and treasurers list them.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json, Path, Query};
use super::extractor::{Admin, AdminOrTreasurer, Authorized};
use super::openapi::{BadRequest, Conflict, Forbidden, Invalid, NotFound, TooLarge, Unauthorized};
use super::paging::{PageQuery, Paged};
use crate::audit::Actor;
use crate::domain::{OrgType, Province};
use crate::identity::orgs::{self, NewOrg, Org};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(update))
}

#[derive(Deserialize, ToSchema)]
struct NewOrgBody {
    #[schema(min_length = 1, max_length = 200, example = "Maison Passage")]
    name: String,
    #[serde(rename = "type")]
    #[schema(value_type = OrgType)]
    org_type: String,
    #[schema(value_type = Province)]
    province: String,
}

fn invalid(field: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::Unprocessable {
        field: field.into(),
        message: e.to_string(),
    }
}

/// Adds a member organisation.
#[utoipa::path(
    post,
    path = "/api/v1/orgs",
    tag = "orgs",
    security(("bearer" = [])),
    request_body = NewOrgBody,
    responses(
        (status = 201, body = Org),
        BadRequest,
        Unauthorized,
        Forbidden,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn create(
    State(state): State<AppState>,
    auth: Authorized<Admin>,
    Json(body): Json<NewOrgBody>,
) -> Result<(StatusCode, Json<Org>), ApiError> {
    let new = parse_org(&body.name, &body.org_type, &body.province)?;
    let actor = Actor(format!("user:{}", auth.id));
    let org = orgs::create(&state.db, state.clock.now(), &actor, &new).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

/// The fields of an organisation, parsed as the admin's pages parse them too.
pub(crate) fn parse_org(name: &str, org_type: &str, province: &str) -> Result<NewOrg, ApiError> {
    let org_type: OrgType = org_type.parse().map_err(|e| invalid("type", e))?;
    let province = Province::parse(province).map_err(|e| invalid("province", e))?;
    Ok(NewOrg::new(name, org_type, province)?)
}

/// Renames an organisation and sets its type and province (send all three). Its
/// caseworkers, cases and money stay with it.
#[utoipa::path(
    put,
    path = "/api/v1/orgs/{id}",
    tag = "orgs",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The organisation's id")),
    request_body = NewOrgBody,
    responses(
        (status = 200, body = Org),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn update(
    State(state): State<AppState>,
    auth: Authorized<Admin>,
    Path(id): Path<String>,
    Json(body): Json<NewOrgBody>,
) -> Result<Json<Org>, ApiError> {
    let new = parse_org(&body.name, &body.org_type, &body.province)?;
    let actor = Actor(format!("user:{}", auth.id));
    let org = orgs::update(&state.db, state.clock.now(), &actor, &id, &new).await?;
    Ok(Json(org))
}

/// Lists the member organisations, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/orgs",
    tag = "orgs",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = Paged<Org>), BadRequest, Unauthorized, Forbidden, Invalid),
)]
async fn list(
    State(state): State<AppState>,
    _: Authorized<AdminOrTreasurer>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Paged<Org>>, ApiError> {
    Ok(Json(orgs::page(&state.db, &query.request()?).await?.into()))
}
