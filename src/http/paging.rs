//! The answer of every collection route, `{items, next}` (DESIGN "Operations"), and the
//! parsing of its `after` and `limit` (see [`crate::domain::page`]).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;
use super::fields::invalid;
use crate::domain::page::{Page, PageRequest};

/// One page of a collection, newest first. Pass `next` back as `?after=` for the page of
/// older items; `next` is null on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    /// The cursor of the next (older) page, or null when this is the last.
    pub next: Option<String>,
}

impl<T> From<Page<T>> for Paged<T> {
    fn from(p: Page<T>) -> Self {
        Paged {
            items: p.items,
            next: p.next,
        }
    }
}

/// `after` and `limit` as a client sent them: a cursor this list gave, and from 1 to
/// [`crate::domain::page::MAX_LIMIT`] items (50 when left out).
pub fn page_request(after: Option<&str>, limit: Option<&str>) -> Result<PageRequest, ApiError> {
    not_empty("after", after)?;
    not_empty("limit", limit)?;
    PageRequest::parse(after, None, limit).map_err(|(field, e)| invalid(field, e))
}

/// A query parameter sent empty (`?to=`) is refused: leave it out instead. (The pages'
/// forms send empty fields; they leave them out before asking.)
pub fn not_empty(field: &str, raw: Option<&str>) -> Result<(), ApiError> {
    match raw {
        Some(v) if v.trim().is_empty() => Err(invalid(
            field,
            "is empty: leave the parameter out, or give it a value",
        )),
        _ => Ok(()),
    }
}

/// A `from`/`to` day of a list's filter (`YYYY-MM-DD`).
pub fn day(field: &str, raw: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    not_empty(field, raw)?;
    raw.map(str::trim)
        .map(|d| {
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| invalid(field, "is not a day: write it as YYYY-MM-DD"))
        })
        .transpose()
}

/// A case code, or its beginning, to search for.
pub fn case_code(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    not_empty("case_code", raw)?;
    raw.map(str::trim)
        .map(|c| {
            crate::domain::page::code_prefix(c).ok_or_else(|| {
                invalid(
                    "case_code",
                    "is not a case code or its beginning (letters, digits and dashes, such as QC-7K4M)",
                )
            })
        })
        .transpose()
}

/// Only `after` and `limit`: a page of a list with no filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The `next` of the previous page; left out, the list starts from the first.
    pub after: Option<String>,
    /// How many items a page holds: 1 to 200, 50 when left out.
    pub limit: Option<String>,
}

impl PageQuery {
    pub fn request(&self) -> Result<PageRequest, ApiError> {
        page_request(self.after.as_deref(), self.limit.as_deref())
    }
}

/// What a page's form sent, with its empty fields left out.
pub fn given(raw: Option<&str>) -> Option<&str> {
    raw.filter(|v| !v.trim().is_empty())
}
