//! Passage: a pooled emergency fund for organisations that help people leaving human
//! trafficking. See README.md for the module map.

pub mod app;
pub mod approval;
pub mod audit;
pub mod backup;
pub mod cases;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod export;
pub mod funding;
pub mod http;
pub mod i18n;
pub mod idempotency;
pub mod identity;
pub mod ledger;
pub mod links;
pub mod mail;
pub mod metrics;
pub mod progress;
pub mod reports;
pub mod state;
pub mod store;
pub mod web;
