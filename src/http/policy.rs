//! The approval rules: read the one in force or an old version; replace it.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde_json::{Value, json};

use super::error::{ApiError, Json};
use super::extractor::{Authorized, Treasurer};
use crate::app::AppState;
use crate::approval::{FlowError, versions};
use crate::write_tx;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/policy", get(current).put(replace))
        .route("/api/v1/policy/versions/{version}", get(version))
}

async fn current(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
) -> Result<Json<Value>, ApiError> {
    let now = state.clock.now();
    let policy = versions::in_force(&state.db, now).await?;
    Ok(Json(policy.to_json()))
}

async fn version(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
    Path(version): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let number: i64 = version.parse().map_err(|_| ApiError::Unprocessable {
        field: "version".into(),
        message: "must be a whole number".into(),
    })?;
    let now = state.clock.now();
    let found = write_tx!(&state.db, |tx| {
        match versions::current(tx, now).await {
            Ok(_) => versions::find(tx, number).await,
            Err(e) => Err(e),
        }
    })?;
    found
        .map(|p| Json(p.to_json()))
        .ok_or_else(|| ApiError::NotFound(format!("there is no policy version {number}")))
}

async fn replace(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let policy = versions::parse(body).map_err(|errors| {
        let first = errors
            .first()
            .map(|e| (e.field.clone(), e.message.clone()))
            .unwrap_or_default();
        ApiError::InvalidFields {
            field: first.0,
            message: first.1,
            errors: json!(errors),
        }
    })?;
    let now = state.clock.now();
    let actor = auth.staff().actor();
    let saved = write_tx!(&state.db, |tx| versions::save(
        tx,
        now,
        &actor,
        policy.clone()
    )
    .await
    .map_err(FlowError::from))?;
    Ok(Json(saved.to_json()))
}
