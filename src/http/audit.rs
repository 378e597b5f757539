//! The audit chain's state over HTTP: the same check as `passage audit verify`.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json};
use super::extractor::{Authorized, Treasurer};
use super::openapi::{Forbidden, Unauthorized};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(verify))
}

/// Whether the chain is whole, how long it is, and its head.
#[derive(Serialize, ToSchema)]
struct ChainState {
    ok: bool,
    events: i64,
    /// The hash of the last event.
    head: String,
    /// The first broken link, when there is one.
    broken: Option<BrokenLink>,
}

#[derive(Serialize, ToSchema)]
struct BrokenLink {
    seq: i64,
    problem: String,
}

/// Recomputes the audit hash chain from the first event and names the first broken link.
#[utoipa::path(
    get,
    path = "/api/v1/audit/verify",
    tag = "audit",
    security(("bearer" = [])),
    responses((status = 200, body = ChainState), Unauthorized, Forbidden),
)]
async fn verify(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
) -> Result<Json<ChainState>, ApiError> {
    let v = crate::audit::verify(&state.db).await?;
    Ok(Json(ChainState {
        ok: v.ok,
        events: v.events,
        head: v.head,
        broken: v.broken.map(|b| BrokenLink {
            seq: b.seq,
            problem: b.problem,
        }),
    }))
}
