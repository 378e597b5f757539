//! The JSON API: one module per resource, each exposing `router()`, merged here with the
//! middleware every request goes through.

/// Runs a change that moves money under its `Idempotency-Key`: the key, a hash of the
/// body and the answer are stored in the same transaction as the change; the same key and
/// body get the first answer again, another body with that key is 409.
/// The web pages pass the key their form carried: `idempotent!(key = KEY, state, ...)`.
/// The change is written like a [`crate::write_tx!`] body, an `async` block with its
/// result type named (`|tx| -> Result<RequestView, FlowError> async { ... }`): `?` inside
/// it rolls the whole transaction back; its value is the answer, as JSON.
macro_rules! idempotent {
    (key = $key:expr, $state:expr, $staff:expr, $route:expr, $body:expr, $status:expr, |$tx:ident| -> Result<$t:ty, $e:ty> async { $($change:tt)* }) => {{
        let key: String = $key;
        let hash = $crate::idempotency::body_hash($route, &$body);
        let now = $state.clock.now();
        let (code, value) = $crate::write_tx!(&$state.db, |$tx| -> Result<(u16, serde_json::Value), $e> async {
            let replayed =
                $crate::idempotency::replay($tx, &$staff.user_id, &key, &hash).await?;
            if let Some(previous) = replayed {
                return Ok(previous);
            }
            let changed: Result<$t, $e> = async { $($change)* }.await;
            let value = serde_json::json!(changed?);
            $crate::idempotency::remember(
                $tx,
                now,
                &$staff.user_id,
                &key,
                $route,
                &hash,
                $status.as_u16(),
                &value,
                $crate::http::request_of($route, &value),
            )
            .await?;
            Ok(($status.as_u16(), value))
        })?;
        Ok((
            axum::http::StatusCode::from_u16(code).unwrap_or($status),
            $crate::http::error::Json(value),
        ))
    }};
    ($state:expr, $staff:expr, $headers:expr, $route:expr, $body:expr, $status:expr, |$tx:ident| -> Result<$t:ty, $e:ty> async { $($change:tt)* }) => {{
        let key = $crate::http::idempotency_key(&$headers)?;
        $crate::http::idempotent!(key = key, $state, $staff, $route, $body, $status, |$tx| -> Result<$t, $e> async {
            $($change)*
        })
    }};
}
pub(crate) use idempotent;

mod admin;
mod audit;
mod auth;
mod bank;
mod cases;
pub mod error;
pub mod extractor;
pub(crate) mod fields;
mod funding;
mod health;
mod ledger;
mod metrics;
pub mod openapi;
mod orgs;
pub mod paging;
mod payouts;
mod policy;
mod reports;
mod requests;
pub mod server;
mod sessions;

pub(crate) use bank::read_statement;
pub(crate) use funding::{
    DONATIONS_ROUTE, parse_donation, parse_donor, parse_import, problem_message, run_import,
};
pub(crate) use orgs::parse_org;
pub(crate) use reports::{DonorRefusal, donor_report_for, parse_new_report};
pub(crate) use requests::{
    decide_submissions, parse_receipt, parse_request, route_key, submit_grouped,
};
pub(crate) use users::parse_invitation;
mod users;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode};
use axum::response::IntoResponse;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;
use error::ApiError;

/// The request an answer stored under an `Idempotency-Key` speaks of: the routes under
/// `/api/v1/requests` answer with the request's view, whose `id` is the request's.
pub(crate) fn request_of<'a>(route: &str, response: &'a serde_json::Value) -> Option<&'a str> {
    if route.starts_with("POST /api/v1/requests") {
        response.get("id")?.as_str()
    } else {
        None
    }
}

/// The `Idempotency-Key` header, required on routes that move money.
pub fn idempotency_key(headers: &axum::http::HeaderMap) -> Result<String, ApiError> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if key.is_empty() || key.len() > crate::idempotency::MAX_KEY_CHARS {
        return Err(ApiError::BadRequest(
            "send an Idempotency-Key header (a new random value, such as a UUID, per request; the same value when you retry)".into(),
        ));
    }
    Ok(key.to_string())
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route with its description: the router and the OpenAPI document are both split
/// from this, so nothing is served that the document does not show.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(openapi::document))
        .merge(health::router())
        .merge(audit::router())
        .merge(auth::router())
        .merge(sessions::router())
        .merge(orgs::router())
        .merge(users::router())
        .merge(admin::router())
        .merge(cases::router())
        .merge(funding::router())
        .merge(ledger::router())
        .merge(payouts::router())
        .merge(bank::router())
        .merge(policy::router())
        .merge(requests::router())
        .merge(reports::router())
}

/// The router of the separate `/metrics` listener (`PASSAGE_METRICS_BIND`).
pub fn metrics_router(state: AppState) -> Router {
    metrics::listener_router(state)
}

/// The API's routes with `pages` (the web pages, which the caller builds: the pages use
/// the API's parsing and errors, so the API does not name them), behind the middleware
/// every request goes through.
pub fn router(state: AppState, pages: Router<AppState>) -> Router {
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    let body_limit = state.config.body_limit_bytes;
    let (routes, _) = api().split_for_parts();
    routes
        .merge(pages)
        .route("/metrics", axum::routing::get(metrics::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                // Logs carry the request id, method, path (never the query), status and
                // duration; never bodies, tokens or headers.
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", id, method = %req.method(), path = req.uri().path())
                }))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(|_| {
                    ApiError::Internal("a handler panicked".into()).into_response()
                }))
                .layer(axum::middleware::map_response(close_after_refused_body))
                .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
                .layer(DefaultBodyLimit::max(body_limit))
                .layer(axum::middleware::from_fn(metrics::record))
                .layer(axum::middleware::from_fn(
                    move |req: Request<Body>, next: axum::middleware::Next| {
                        refuse_announced_oversize(body_limit, req, next)
                    },
                )),
        )
        .with_state(state)
}

/// A body whose `Content-Length` is over the limit is refused at once with 413. The limit
/// alone would only stop it after reading that much, and a client announcing gigabytes
/// and sending nothing would hold the request until its timeout.
async fn refuse_announced_oversize(
    limit: usize,
    req: Request<Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match announced {
        Some(n) if n > limit as u64 => {
            ApiError::PayloadTooLarge("the body is too large: send less".into()).into_response()
        }
        _ => next.run(req).await,
    }
}

/// A 413 is answered before the body is read (or after reading only part of it), so the
/// connection cannot carry another request and hyper closes it. `Connection: close` says
/// so (RFC 9112, 9.6): without it a client puts the connection back in its pool and its
/// next request meets the close instead of an answer.
async fn close_after_refused_body(
    mut response: axum::response::Response,
) -> axum::response::Response {
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

async fn not_found() -> ApiError {
    ApiError::NotFound("there is nothing at this address: see /api/v1/openapi.json".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed("this address does not take that method".into())
}
