//! Paging by cursor (keyset), for every collection route and list page (DESIGN
//! "Operations": `?after=CURSOR&limit=N`, answer `{items, next}`).
//!
//! A list is read in one stable order, newest first, whose key is `(rank, at, id)`: `rank`
//! a small number some lists put first (an urgent request before the others; 0 where the
//! list has none), `at` the row's creation time and `id` its primary key, which breaks the
//! ties of rows made in the same instant. A cursor names the key of the last row a page
//! showed; the next page is the rows strictly after it in that order, so rows written
//! between two pages never shift the pages (as an offset would) and each row is seen
//! once. The cursor is opaque to clients (hex of a versioned text), and one that does not
//! parse is refused, never guessed at.

use chrono::{DateTime, NaiveDate, Utc};

/// Rows a page holds when the client names no `limit`.
pub const DEFAULT_LIMIT: u32 = 50;
/// The most rows a page holds whatever the client asks.
pub const MAX_LIMIT: u32 = 200;

/// The key of one row in its list's order: see the module's documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub rank: i64,
    pub at: DateTime<Utc>,
    pub id: String,
}

/// Why a paging parameter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error(
        "is not a cursor this list gave: use the `next` of the previous page, or leave it out to start from the newest"
    )]
    Cursor,
    #[error("must be a whole number from 1 to {MAX_LIMIT}")]
    Limit,
}

impl Cursor {
    const VERSION: &'static str = "c1";

    /// The opaque text a client sends back.
    pub fn encode(&self) -> String {
        hex::encode(format!(
            "{}|{}|{}|{}",
            Self::VERSION,
            self.rank,
            self.at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            self.id
        ))
    }

    pub fn parse(raw: &str) -> Result<Cursor, PageError> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 400 {
            return Err(PageError::Cursor);
        }
        let bytes = hex::decode(raw).map_err(|_| PageError::Cursor)?;
        let text = String::from_utf8(bytes).map_err(|_| PageError::Cursor)?;
        let mut parts = text.splitn(4, '|');
        let (Some(version), Some(rank), Some(at), Some(id)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(PageError::Cursor);
        };
        if version != Self::VERSION
            || id.is_empty()
            || id.len() > 200
            || id.chars().any(char::is_control)
        {
            return Err(PageError::Cursor);
        }
        Ok(Cursor {
            rank: rank.parse().map_err(|_| PageError::Cursor)?,
            at: DateTime::parse_from_rfc3339(at)
                .map_err(|_| PageError::Cursor)?
                .with_timezone(&Utc),
            id: id.to_string(),
        })
    }
}

/// Which way a page reads from its cursor: `after` is older (the API's `next`), `before`
/// newer (the pages' "newer" link).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    Newest,
    After(Cursor),
    Before(Cursor),
}

/// What a client asked for: where to start and how many rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub from: Start,
    pub limit: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            from: Start::Newest,
            limit: DEFAULT_LIMIT,
        }
    }
}

impl PageRequest {
    /// From the query's `after`, `before` and `limit` (each optional; an empty one is
    /// left out, as a form sends it).
    pub fn parse(
        after: Option<&str>,
        before: Option<&str>,
        limit: Option<&str>,
    ) -> Result<PageRequest, (&'static str, PageError)> {
        fn given(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        let limit = match given(limit) {
            None => DEFAULT_LIMIT,
            Some(l) => l
                .parse::<u32>()
                .ok()
                .filter(|l| (1..=MAX_LIMIT).contains(l))
                .ok_or(("limit", PageError::Limit))?,
        };
        let from = match (given(after), given(before)) {
            (Some(a), _) => Start::After(Cursor::parse(a).map_err(|e| ("after", e))?),
            (None, Some(b)) => Start::Before(Cursor::parse(b).map_err(|e| ("before", e))?),
            (None, None) => Start::Newest,
        };
        Ok(PageRequest { from, limit })
    }

    /// The key bound in SQL (`None` on the first page), and whether the rows are read
    /// against the list's order (a `before` page, turned back by [`Page::from_rows`]).
    pub fn bound(&self) -> (Option<&Cursor>, bool) {
        match &self.from {
            Start::Newest => (None, false),
            Start::After(c) => (Some(c), false),
            Start::Before(c) => (Some(c), true),
        }
    }

    /// How many rows to read: one more than the page, to know whether another follows.
    pub fn fetch(&self) -> i64 {
        i64::from(self.limit) + 1
    }
}

/// One page of a list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The cursor of the page of older rows, when there is one.
    pub next: Option<String>,
    /// The cursor of the page of newer rows, when this page is not the first.
    pub newer: Option<String>,
    /// How many rows a page holds, as asked: the next page's link keeps it.
    pub limit: u32,
}

impl<T> Page<T> {
    /// From the rows a query read (up to `request.fetch()` of them, in the order the
    /// request's [`PageRequest::bound`] says), with `key` giving each row's cursor.
    pub fn from_rows(mut rows: Vec<T>, request: &PageRequest, key: impl Fn(&T) -> Cursor) -> Self {
        let limit = request.limit as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let (after, before) = match request.from {
            Start::Newest => (more, false),
            Start::After(_) => (more, true),
            Start::Before(_) => {
                rows.reverse();
                (true, more)
            }
        };
        let next = after
            .then(|| rows.last().map(|r| key(r).encode()))
            .flatten();
        let newer = before
            .then(|| rows.first().map(|r| key(r).encode()))
            .flatten();
        Page {
            items: rows,
            next,
            newer,
            limit: request.limit,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
            newer: self.newer,
            limit: self.limit,
        }
    }
}

/// The SQL condition and order of a keyset page over `(rank, at, id)` columns, in the
/// list's order (newest first, or oldest first for a work list such as the next-day
/// review); the cursor's three values are bound at `$n`, `$n+1`, `$n+2` (rank, at, id),
/// NULL on the first page. `rank` may be `0` for lists without one.
pub fn keyset_sql(
    page: &PageRequest,
    oldest_first: bool,
    rank: &str,
    at: &str,
    id: &str,
    n: usize,
) -> (String, String) {
    let ascending = oldest_first != page.bound().1;
    let (cmp, dir) = if ascending {
        (">", "ASC")
    } else {
        ("<", "DESC")
    };
    let (r, t, i) = (n, n + 1, n + 2);
    (
        format!(
            "(${r} IS NULL OR ({rank} {cmp} ${r}) OR ({rank} = ${r} AND ({at} {cmp} ${t} OR ({at} = ${t} AND {id} {cmp} ${i}))))"
        ),
        // A constant rank orders nothing (and a bare number would name a column).
        if rank.parse::<i64>().is_ok() {
            format!("{at} {dir}, {id} {dir}")
        } else {
            format!("{rank} {dir}, {at} {dir}, {id} {dir}")
        },
    )
}

/// A case code, or its beginning, as typed into a search box: upper case, spaces left out;
/// `None` when it holds anything a code cannot.
pub fn code_prefix(typed: &str) -> Option<String> {
    let code: String = typed
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (!code.is_empty()
        && code.len() <= 20
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '*' | '~' | '$' | '=')))
    .then_some(code)
}

/// The first instant of `from` and of the day after `to` (UTC), for date filters.
pub fn day_bounds(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    (
        from.and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc()),
        to.and_then(|d| d.succ_opt())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_cursor_comes_back_as_it_went() {
        let c = Cursor {
            rank: 1,
            at: Utc.with_ymd_and_hms(2026, 11, 29, 23, 40, 0).unwrap()
                + chrono::Duration::nanoseconds(123_456_789),
            id: "0b6f-x|y".into(),
        };
        assert_eq!(Cursor::parse(&c.encode()), Ok(c));
    }

    #[test]
    fn a_bad_cursor_or_limit_is_refused() {
        for bad in [
            "zz",
            "00",
            &hex::encode("c2|0|2026-01-01T00:00:00Z|a"),
            &hex::encode("c1|x|2026-01-01T00:00:00Z|a"),
            &hex::encode("c1|0|yesterday|a"),
            &hex::encode("c1|0|2026-01-01T00:00:00Z|"),
        ] {
            assert_eq!(Cursor::parse(bad), Err(PageError::Cursor), "{bad}");
        }
        for bad in ["0", "201", "-1", "ten"] {
            assert_eq!(
                PageRequest::parse(None, None, Some(bad)).unwrap_err().0,
                "limit"
            );
        }
        assert_eq!(
            PageRequest::parse(None, None, Some("")).unwrap().limit,
            DEFAULT_LIMIT
        );
    }

    #[test]
    fn pages_say_what_follows() {
        let key = |n: &i64| Cursor {
            rank: 0,
            at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            id: n.to_string(),
        };
        let first = PageRequest {
            from: Start::Newest,
            limit: 2,
        };
        let p = Page::from_rows(vec![5, 4, 3], &first, key);
        assert_eq!(p.items, vec![5, 4]);
        assert_eq!(p.next, Some(key(&4).encode()));
        assert_eq!(p.newer, None);
        let back = PageRequest {
            from: Start::Before(key(&3)),
            limit: 2,
        };
        let p = Page::from_rows(vec![4, 5], &back, key);
        assert_eq!(p.items, vec![5, 4]);
        assert_eq!(p.newer, None);
        assert_eq!(p.next, Some(key(&4).encode()));
    }
}
