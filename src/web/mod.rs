//! The web pages: server-rendered from `templates/`, in French and English, for a phone at
//! night. The pages call the same parsing and the same lifecycle, funding and policy steps
//! as the JSON API; nothing here decides anything about money.

mod account;
mod admin;
mod assets;
mod bank;
mod caseworker;
pub mod context;
mod deciding;
mod donations_import;
mod donor;
mod forms;
pub use crate::i18n;
mod oversight;
mod pager;
mod pages;
mod password;
mod payouts;
mod places;
mod reports;
mod session;
mod sharing;
mod treasurer;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(session::home))
        .route("/signin", get(session::form).post(session::submit))
        .route(
            "/signin/code",
            get(session::code_form).post(session::code_submit),
        )
        .route("/signout", post(session::sign_out))
        .route("/account/second-factor", get(account::factor))
        .route("/account/second-factor/start", post(account::factor_start))
        .route(
            "/account/second-factor/confirm",
            post(account::factor_confirm),
        )
        .route("/account/sessions", get(account::list))
        .route("/account/sessions/end-others", post(account::end_others))
        .route("/account/sessions/{id}/end", post(account::end_one))
        .route("/language", post(session::switch_language))
        .route("/places", get(places::suggest))
        .route("/password", get(password::form).post(password::submit))
        .route(
            "/reset",
            get(password::reset_form).post(password::reset_ask),
        )
        .route("/reset/confirm", post(password::reset_confirm))
        .merge(admin::router())
        .merge(caseworker::router())
        .merge(sharing::router())
        .merge(oversight::router())
        .merge(treasurer::router())
        .merge(donations_import::router())
        .merge(payouts::router())
        .merge(bank::router())
        .merge(deciding::router())
        .merge(donor::router())
        .merge(reports::router())
        .layer(from_fn_with_state(state, context::middleware))
        // The stylesheet and the script need no session, language or CSRF token: they
        // stay outside the pages' middleware, so loading them reads nothing from the
        // database.
        .route("/static/passage.css", get(assets::stylesheet))
        .route("/static/passage.js", get(assets::script))
}
