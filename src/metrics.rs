//! What the person on call watches, in Prometheus's text format (`GET /metrics`, see
//! `http::metrics` and docs/operations.md#metrics). The counters and histograms here are
//! recorded where things happen (the HTTP middleware, the group commit, the sweeper); the
//! figures that live in the database (the outbox, pending requests, holds) are read when
//! the metrics are scraped, by `http::metrics` at each scrape.
//!
//! Labels are closed sets: a route *template* (`/api/v1/requests/{id}`), never the path a
//! client sent, so no id, case code or email reaches a label; no amount is ever recorded.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use prometheus::{Gauge, Histogram, HistogramOpts, HistogramVec, Registry};

pub struct Metrics {
    pub registry: Registry,
    pub http: HistogramVec,
    pub batch_size: Histogram,
    pub batch_seconds: Histogram,
    pub sweeper_last_run: Gauge,
}

fn build() -> Result<Metrics, prometheus::Error> {
    let registry = Registry::new();
    let http = HistogramVec::new(
        HistogramOpts::new(
            "passage_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template, method and status.",
        )
        .buckets(vec![
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ]),
        &["route", "method", "status"],
    )?;
    let batch_size = Histogram::with_opts(
        HistogramOpts::new(
            "passage_group_commit_batch_size",
            "Submissions written together in one group-commit transaction.",
        )
        .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]),
    )?;
    let batch_seconds = Histogram::with_opts(
        HistogramOpts::new(
            "passage_group_commit_seconds",
            "Time to write and commit one group-commit batch.",
        )
        .buckets(vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ]),
    )?;
    let sweeper_last_run = Gauge::new(
        "passage_sweeper_last_run_timestamp_seconds",
        "When this instance's sweeper last finished a pass (Unix time); 0 before the first.",
    )?;
    registry.register(Box::new(http.clone()))?;
    registry.register(Box::new(batch_size.clone()))?;
    registry.register(Box::new(batch_seconds.clone()))?;
    registry.register(Box::new(sweeper_last_run.clone()))?;
    Ok(Metrics {
        registry,
        http,
        batch_size,
        batch_seconds,
        sweeper_last_run,
    })
}

/// This process's metrics. The names and options above are fixed and valid, so building
/// them cannot fail.
pub static METRICS: LazyLock<Metrics> =
    LazyLock::new(|| build().expect("the metric definitions are valid"));

/// Records one answered HTTP request.
pub fn observe_request(route: &str, method: &str, status: u16, seconds: f64) {
    METRICS
        .http
        .with_label_values(&[route, method, &status.to_string()])
        .observe(seconds);
}

/// Records one committed group-commit batch.
pub fn observe_batch(jobs: usize, seconds: f64) {
    METRICS.batch_size.observe(jobs as f64);
    METRICS.batch_seconds.observe(seconds);
}

/// Records the end of a sweeper pass.
pub fn sweeper_ran(at: DateTime<Utc>) {
    METRICS
        .sweeper_last_run
        .set(at.timestamp_micros() as f64 / 1e6);
}
