//! Cases: open one, read it with its requests, share it, close and reopen it.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::error::{ApiError, Json};
use super::extractor::{Authorized, Caseworker, CaseworkerOrTreasurer};
use super::fields::{self, invalid};
use crate::app::AppState;
use crate::approval::{lifecycle, versions};
use crate::cases;
use crate::domain::Province;
use crate::domain::case_code::CaseCode;
use crate::write_tx;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cases", post(open))
        .route("/api/v1/cases/{code}", get(show))
        .route("/api/v1/cases/{code}/share", post(share))
        .route("/api/v1/cases/{code}/close", post(close))
        .route("/api/v1/cases/{code}/reopen", post(reopen))
}

pub fn parse_code(raw: &str) -> Result<CaseCode, ApiError> {
    CaseCode::parse(raw).map_err(|e| invalid("code", e))
}

async fn open(
    State(state): State<AppState>,
    auth: Authorized<Caseworker>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    fields::only(&body, &["province"])?;
    let province =
        Province::parse(fields::string(&body, "province")?).map_err(|e| invalid("province", e))?;
    let now = state.clock.now();
    let staff = auth.staff();
    let case = write_tx!(&state.db, |tx| cases::open(tx, now, &staff, province).await)?;
    Ok((StatusCode::CREATED, Json(json!(case))))
}

async fn show(
    State(state): State<AppState>,
    auth: Authorized<CaseworkerOrTreasurer>,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let code = parse_code(&code)?;
    let now = state.clock.now();
    let staff = auth.staff();
    let (case, requests) = write_tx!(&state.db, |tx| {
        match cases::load_for(tx, &staff, &code).await {
            Ok(case) => match versions::current(tx, now).await {
                Ok(policy) => {
                    lifecycle::of_case(tx, &case.code, policy.policy.dual_approval_above())
                        .await
                        .map(|requests| (case, requests))
                        .map_err(crate::approval::FlowError::from)
                }
                Err(e) => Err(e.into()),
            },
            Err(e) => Err(e),
        }
    })?;
    let mut answer = json!(case);
    answer["requests"] = json!(requests);
    Ok(Json(answer))
}

async fn share(
    State(state): State<AppState>,
    auth: Authorized<CaseworkerOrTreasurer>,
    Path(code): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let code = parse_code(&code)?;
    fields::only(&body, &["org_id"])?;
    let org = fields::string(&body, "org_id")?.to_string();
    let now = state.clock.now();
    let staff = auth.staff();
    write_tx!(&state.db, |tx| cases::share(tx, now, &staff, &code, &org)
        .await)?;
    Ok(Json(json!({"code": code.as_str(), "shared_with": org})))
}

async fn set_open(
    state: AppState,
    auth: Authorized<CaseworkerOrTreasurer>,
    code: String,
    open: bool,
) -> Result<Json<Value>, ApiError> {
    let code = parse_code(&code)?;
    let now = state.clock.now();
    let staff = auth.staff();
    let case = write_tx!(&state.db, |tx| cases::set_open(
        tx, now, &staff, &code, open
    )
    .await)?;
    Ok(Json(json!(case)))
}

async fn close(
    State(state): State<AppState>,
    auth: Authorized<CaseworkerOrTreasurer>,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_open(state, auth, code, false).await
}

async fn reopen(
    State(state): State<AppState>,
    auth: Authorized<CaseworkerOrTreasurer>,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_open(state, auth, code, true).await
}
