//! `GET /metrics`: Prometheus's text format for whoever is on call, behind
//! `Authorization: Bearer $PASSAGE_METRICS_TOKEN` (compared in constant time); without a
//! token configured it is not served on the main port (404). With `PASSAGE_METRICS_BIND`
//! it is served on that listener alone ([`listener_router`]), and the main port answers
//! 404. The route-template middleware that feeds it is [`record`].

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use chrono::{DateTime, Utc};
use prometheus::{Encoder, Gauge, GaugeVec, IntGauge, Opts, Registry, TextEncoder};

use crate::domain::RequestStatus;
use crate::state::AppState;
use crate::store::{Db, StoreError};

/// Records each answered request under its route template (never the path the client
/// sent: ids and case codes are in paths), its method and its status.
pub async fn record(req: Request<Body>, next: axum::middleware::Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = match req.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD" | "OPTIONS") => m.to_string(),
        _ => "other".to_string(),
    };
    let began = Instant::now();
    let response = next.run(req).await;
    crate::metrics::observe_request(
        &route,
        &method,
        response.status().as_u16(),
        began.elapsed().as_secs_f64(),
    );
    response
}

/// Equal in time whatever the bytes: both sides are hashed first, so neither the length
/// nor the first differing byte shows in how long the comparison takes.
fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    a.iter()
        .zip(b.iter())
        .fold(0_u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// `/metrics` on the main port: only behind the token, and not at all when a separate
/// listener (`PASSAGE_METRICS_BIND`) serves it.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(bind) = state.config.metrics_bind {
        return (
            StatusCode::NOT_FOUND,
            format!("not found: /metrics is served on PASSAGE_METRICS_BIND ({bind})\n"),
        )
            .into_response();
    }
    if state.config.metrics_token.is_none() {
        return (
            StatusCode::NOT_FOUND,
            "not found: set PASSAGE_METRICS_TOKEN (or PASSAGE_METRICS_BIND) to serve /metrics\n",
        )
            .into_response();
    }
    answer(&state, &headers).await
}

/// `/metrics` on the separate listener of `PASSAGE_METRICS_BIND`: open to whoever can
/// reach that address, unless `PASSAGE_METRICS_TOKEN` is set too.
async fn metrics_on_own_port(State(state): State<AppState>, headers: HeaderMap) -> Response {
    answer(&state, &headers).await
}

/// The router of the `PASSAGE_METRICS_BIND` listener: `/metrics` and nothing else.
pub fn listener_router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(metrics_on_own_port))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "not found: this listener serves /metrics only\n",
            )
        })
        .with_state(state)
}

/// The token check (when one is configured), then the exposition.
async fn answer(state: &AppState, headers: &HeaderMap) -> Response {
    if let Some(token) = state.config.metrics_token.as_ref() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !same_secret(given, token.expose()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "send Authorization: Bearer with PASSAGE_METRICS_TOKEN\n",
            )
                .into_response();
        }
    }
    match render(&state.db, state.clock.now()).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the metrics' figures");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database does not answer\n",
            )
                .into_response()
        }
    }
}

/// The figures read from the database at scrape time.
struct Figures {
    outbox_unsent: i64,
    outbox_oldest: Option<DateTime<Utc>>,
    pending: i64,
    pending_oldest: Option<DateTime<Utc>>,
    holds: i64,
}

async fn figures(db: &Db) -> Result<Figures, StoreError> {
    crate::read_tx!(db, |tx| -> Result<Figures, StoreError> async {
        let (outbox_unsent, outbox_oldest): (i64, Option<DateTime<Utc>>) =
            crate::on_tx!(tx, c => sqlx::query_as(
                "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE sent_at IS NULL"
            )
            .fetch_one(c)
            .await)?;
        let waiting = RequestStatus::sql_list(&[
            RequestStatus::Pending,
            RequestStatus::InfoRequested,
            RequestStatus::ReceiptPending,
        ]);
        let (pending, pending_oldest): (i64, Option<DateTime<Utc>>) = {
            let sql = format!(
                "SELECT COUNT(*), MIN(created_at) FROM requests WHERE status IN {waiting}"
            );
            crate::on_tx!(tx, c => sqlx::query_as(&sql).fetch_one(c).await)?
        };
        let holds: i64 = {
            let sql = format!(
                "SELECT COUNT(*) FROM requests WHERE status = {}",
                RequestStatus::Approved.sql()
            );
            crate::on_tx!(tx, c => sqlx::query_scalar(&sql).fetch_one(c).await)?
        };
        Ok(Figures {
            outbox_unsent,
            outbox_oldest,
            pending,
            pending_oldest,
            holds,
        })
    })
}

fn age_seconds(oldest: Option<DateTime<Utc>>, now: DateTime<Utc>) -> f64 {
    oldest
        .map(|t| ((now - t).num_milliseconds().max(0) as f64) / 1000.0)
        .unwrap_or(0.0)
}

/// The whole text exposition: this process's metrics, then the database's figures and the
/// pool's use as they are now.
pub async fn render(db: &Db, now: DateTime<Utc>) -> Result<String, StoreError> {
    let f = figures(db).await?;
    let now_registry = Registry::new();
    let gauge = |name: &str, help: &str, value: f64| -> Result<(), prometheus::Error> {
        let g = Gauge::new(name, help)?;
        g.set(value);
        now_registry.register(Box::new(g))
    };
    let int_gauge = |name: &str, help: &str, value: i64| -> Result<(), prometheus::Error> {
        let g = IntGauge::new(name, help)?;
        g.set(value);
        now_registry.register(Box::new(g))
    };
    let built = (|| -> Result<(), prometheus::Error> {
        int_gauge(
            "passage_outbox_unsent",
            "Mails in the outbox not yet sent.",
            f.outbox_unsent,
        )?;
        gauge(
            "passage_outbox_oldest_unsent_age_seconds",
            "How long the oldest unsent mail has waited; 0 when none waits.",
            age_seconds(f.outbox_oldest, now),
        )?;
        int_gauge(
            "passage_requests_pending",
            "Requests waiting for a treasurer (pending, a question asked, a late receipt).",
            f.pending,
        )?;
        gauge(
            "passage_requests_oldest_pending_age_seconds",
            "How long the oldest request waiting for a treasurer has waited; 0 when none waits.",
            age_seconds(f.pending_oldest, now),
        )?;
        int_gauge(
            "passage_holds_outstanding",
            "Approved requests whose hold waits for a receipt.",
            f.holds,
        )?;
        let pool = GaugeVec::new(
            Opts::new(
                "passage_db_pool_connections",
                "This instance's database connections, by pool and state.",
            ),
            &["pool", "state"],
        )?;
        for (name, size, idle, max) in db.pool_use() {
            pool.with_label_values(&[name, "connected"])
                .set(f64::from(size));
            pool.with_label_values(&[name, "idle"]).set(idle as f64);
            pool.with_label_values(&[name, "busy"])
                .set(f64::from(size).max(idle as f64) - idle as f64);
            pool.with_label_values(&[name, "max"]).set(f64::from(max));
        }
        now_registry.register(Box::new(pool))?;
        Ok(())
    })();
    built.map_err(|e| StoreError::Sqlx(sqlx::Error::Protocol(e.to_string())))?;
    let mut families = crate::metrics::METRICS.registry.gather();
    families.extend(now_registry.gather());
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&families, &mut out)
        .map_err(|e| StoreError::Sqlx(sqlx::Error::Protocol(e.to_string())))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}
