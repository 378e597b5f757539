//! The "older" and "newer" links of every list page (see [`crate::domain::page`]): the
//! page reads `?after=` (older) or `?before=` (newer) with the list's filters kept.

use serde::Deserialize;

use crate::domain::page::{Page, PageRequest};
use crate::http::error::ApiError;
use crate::http::fields::invalid;

/// A list page's query: where to start, each optional.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub after: Option<String>,
    pub before: Option<String>,
    pub limit: Option<String>,
}

impl PageQuery {
    /// The page asked for; a cursor the page never gave is refused (422), never guessed.
    pub fn request(&self) -> Result<PageRequest, ApiError> {
        PageRequest::parse(
            self.after.as_deref(),
            self.before.as_deref(),
            self.limit.as_deref(),
        )
        .map_err(|(field, e)| invalid(field, e))
    }
}

/// The links to the pages of older and newer rows, when there are such pages.
#[derive(Debug, Clone, Default)]
pub struct Pager {
    pub older: Option<String>,
    pub newer: Option<String>,
}

impl Pager {
    /// Links to `path` with the filters in `keep` (empty ones left out) and the cursors
    /// `page` gave.
    pub fn of<T>(path: &str, keep: &[(&str, Option<&str>)], page: &Page<T>) -> Pager {
        let link = |name: &str, cursor: &str| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in keep {
                if let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) {
                    q.append_pair(k, v);
                }
            }
            if page.limit != crate::domain::page::DEFAULT_LIMIT {
                q.append_pair("limit", &page.limit.to_string());
            }
            q.append_pair(name, cursor);
            format!("{path}?{}", q.finish())
        };
        Pager {
            older: page.next.as_deref().map(|c| link("after", c)),
            newer: page.newer.as_deref().map(|c| link("before", c)),
        }
    }
}

/// What a list's search form shows: what was typed, and the choices of its selects (a
/// select without choices is left out).
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub case_code: String,
    pub org: String,
    pub from: String,
    pub to: String,
    pub status: String,
    /// (id, name) of each organisation.
    pub orgs: Vec<(String, String)>,
    /// (value, label) of each status.
    pub statuses: Vec<(String, String)>,
}

impl Search {
    /// Whether anything narrows the list (the form then shows open).
    pub fn any(&self) -> bool {
        [
            &self.case_code,
            &self.org,
            &self.from,
            &self.to,
            &self.status,
        ]
        .iter()
        .any(|v| !v.trim().is_empty())
    }
}
