use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use super::error::{ApiError, Json};
use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

/// 200 when the database answers, 503 when it does not.
async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.db.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "health check: the database does not answer");
        ApiError::Unavailable("the database does not answer".into())
    })?;
    Ok(Json(json!({"status": "ok"})))
}
