use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json};
use super::openapi::Unavailable;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz))
}

#[derive(Serialize, ToSchema)]
struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

/// 200 when the database answers, 503 when it does not.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses((status = 200, body = Health), Unavailable),
)]
async fn healthz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    // A load balancer asks often and wants a prompt answer: while the database is gone
    // the pool would keep trying to connect for its whole acquire timeout.
    match tokio::time::timeout(PING_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => Ok(Json(Health { status: "ok" })),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: the database does not answer");
            Err(ApiError::Unavailable("the database does not answer".into()))
        }
        Err(_) => {
            tracing::warn!("health check: the database did not answer within 3 s");
            Err(ApiError::Unavailable(
                "the database did not answer within 3 s".into(),
            ))
        }
    }
}

const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
