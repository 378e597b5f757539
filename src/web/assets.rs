//! The pages' one stylesheet and one small script, compiled into the binary and served from
//! this host only (the Content-Security-Policy allows nothing else).

use axum::http::header;
use axum::response::IntoResponse;

const STYLESHEET: &str = include_str!("../../templates/static/passage.css");
const SCRIPT: &str = include_str!("../../templates/static/passage.js");

/// Cached for a day: they change only with a new release, and a phone on a weak network
/// should not fetch them on every page.
const CACHE: &str = "public, max-age=86400";

pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        STYLESHEET,
    )
}

pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        SCRIPT,
    )
}
