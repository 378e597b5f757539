//! The ledger's exports (treasurers): the journal streams out of one snapshot of the
//! database as it is written, so its size never weighs on the server's memory.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::mpsc;
use tracing::Instrument;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::extractor::{Authorized, Treasurer};
use super::fields::invalid;
use super::openapi::{BadRequest, Forbidden, Invalid, Unauthorized};
use crate::export::{Export, ExportError, Format};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// The journal's format: `hledger`, `beancount` or `csv`.
    #[param(required = true, pattern = "^(hledger|beancount|csv)$")]
    format: Option<String>,
}

/// The whole ledger as a journal that accounting tools accept, streamed.
#[utoipa::path(
    get,
    path = "/api/v1/ledger/export",
    tag = "ledger",
    security(("bearer" = [])),
    params(ExportQuery),
    responses(
        (status = 200, description = "The journal", content(
            (String = "text/plain"),
            (String = "text/csv"),
        )),
        BadRequest,
        Unauthorized,
        Forbidden,
        Invalid,
    ),
)]
async fn export(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let format: Format = query
        .format
        .as_deref()
        .ok_or_else(|| invalid("format", "is required: use hledger, beancount or csv"))?
        .parse()
        .map_err(|e| invalid("format", e))?;
    let now = state.clock.now();
    let export = Export::begin(&state.db, format, now).await?;

    // A few chunks in flight: the snapshot is read only as fast as the client takes it.
    let (sender, receiver) = mpsc::channel(4);
    tokio::spawn(
        async move {
            match export.write(&sender).await {
                Ok(summary) => tracing::info!(
                    format = format.as_str(),
                    transfers = summary.transfers,
                    "ledger exported"
                ),
                Err(ExportError::Closed) => {
                    tracing::info!(
                        format = format.as_str(),
                        "the client left before the end of the export"
                    )
                }
                Err(e) => {
                    tracing::error!(error = %e, "the export failed half-way");
                    // The error ends the body abruptly, so the client cannot mistake a
                    // cut journal for a whole one (its closing balances are missing too).
                    let _ = sender.send(Err(e)).await;
                }
            }
        }
        .instrument(tracing::Span::current()),
    );
    let body = Body::from_stream(futures_util::stream::unfold(
        receiver,
        |mut receiver| async move { receiver.recv().await.map(|chunk| (chunk, receiver)) },
    ));
    let filename = format!(
        "passage-ledger-{}.{}",
        now.format("%Y-%m-%d"),
        format.extension()
    );
    Ok((
        [
            (header::CONTENT_TYPE, format.media_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response())
}
