//! An annual summary: the year's sealed reports added up. It publishes only sums of
//! figures those reports already published, so it tells nothing they did not: a need's
//! (or a province's) amount for the year is shown only when every report of the year
//! published that need's amount; otherwise its published months go into `together`, with
//! the reports' own `together` cells. A figure one of the reports hid makes the year's
//! total of it unpublished (`null`), never estimated. Case counts are not added (a case
//! helped in two months would count twice).

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde::Serialize;

use super::summary::{Count, Section, Summary};
use crate::domain::ReportStatus;
use crate::domain::money::format_cents;
use crate::on_db;
use crate::store::{Db, StoreError};

/// A need's or a province's amount for the year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct YearCell {
    pub key: String,
    pub amount: String,
}

/// Money by need or by province for the year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct YearSection {
    /// Needs (provinces) whose amount every report of the year published.
    pub cells: Vec<YearCell>,
    /// The rest: the published amounts of the other needs and the reports' `together`
    /// cells; `null` when a report hid its `together` amount.
    pub together: Option<String>,
}

/// What `GET /api/v1/annual-reports/{year}` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Annual {
    pub year: i32,
    /// The sealed reports added, in the order of their periods (corrections in place of
    /// the reports they replace).
    pub reports: Vec<String>,
    /// The first report's opening balance and the last one's closing balance.
    pub opening_balance: Option<String>,
    pub closing_balance: Option<String>,
    pub donations: String,
    pub in_kind: String,
    pub disbursed: Option<String>,
    pub by_category: YearSection,
    pub by_province: YearSection,
    pub hotel_nights: Option<i64>,
    pub trips: Option<i64>,
}

fn cents(amount: &str) -> Option<i64> {
    let d: Decimal = amount.parse().ok()?;
    (d * Decimal::ONE_HUNDRED).try_into().ok()
}

/// Adds a figure over the reports: `None` as soon as one of them did not publish it.
fn total<'a>(values: impl Iterator<Item = Option<&'a str>>) -> Option<i64> {
    values.map(|v| v.and_then(cents)).sum()
}

fn counts(values: impl Iterator<Item = Option<Count>>) -> Option<i64> {
    values.map(|v| v.and_then(Count::exactly)).sum()
}

fn section<'a>(sections: impl Iterator<Item = &'a Section> + Clone) -> YearSection {
    // Every key a report named, and whether each report that named it published it.
    let mut keys: BTreeMap<&str, bool> = BTreeMap::new();
    for s in sections.clone() {
        for cell in &s.cells {
            let shown = keys.entry(cell.key.as_str()).or_insert(true);
            *shown &= cell.amount.is_some();
        }
        if let Some(other) = &s.other {
            for member in &other.members {
                keys.insert(member.as_str(), false);
            }
        }
    }
    let shown: BTreeSet<&str> = keys
        .iter()
        .filter(|(_, shown)| **shown)
        .map(|(k, _)| *k)
        .collect();
    let mut cells = Vec::new();
    for key in &shown {
        let sum: i64 = sections
            .clone()
            .flat_map(|s| s.cells.iter().filter(|c| c.key == *key))
            .filter_map(|c| c.amount.as_deref().and_then(cents))
            .sum();
        cells.push(YearCell {
            key: key.to_string(),
            amount: format_cents(sum),
        });
    }
    // The rest, from published figures only.
    let mut together = Some(0_i64);
    let mut any = false;
    for s in sections {
        for cell in s.cells.iter().filter(|c| !shown.contains(c.key.as_str())) {
            if let Some(a) = cell.amount.as_deref().and_then(cents) {
                together = together.map(|t| t + a);
                any = true;
            }
        }
        if let Some(other) = &s.other {
            any = true;
            together = match (together, other.amount.as_deref().and_then(cents)) {
                (Some(t), Some(a)) => Some(t + a),
                _ => None,
            };
        }
    }
    YearSection {
        cells,
        together: if any {
            together.map(format_cents)
        } else {
            None
        },
    }
}

/// The year's summaries, added up (see the module's comment). `reports` are the sealed
/// reports of the year, each with its id, in the order of their periods.
pub fn add(year: i32, reports: &[(String, Summary)]) -> Annual {
    let summaries = || reports.iter().map(|(_, s)| s);
    let money = |v: &String| cents(v).unwrap_or(0);
    Annual {
        year,
        reports: reports.iter().map(|(id, _)| id.clone()).collect(),
        opening_balance: summaries().next().and_then(|s| s.opening_balance.clone()),
        closing_balance: summaries()
            .next_back()
            .and_then(|s| s.closing_balance.clone()),
        donations: format_cents(summaries().map(|s| money(&s.donations.total)).sum()),
        in_kind: format_cents(summaries().map(|s| money(&s.in_kind)).sum()),
        disbursed: total(summaries().map(|s| s.disbursed.as_deref())).map(format_cents),
        by_category: section(summaries().map(|s| &s.by_category)),
        by_province: section(summaries().map(|s| &s.by_province)),
        hotel_nights: counts(summaries().map(|s| s.hotel_nights)),
        trips: counts(summaries().map(|s| s.trips.total)),
    }
}

/// The annual summary of `year` from the sealed reports whose period starts in it and that
/// no correction replaced.
pub async fn of_year(db: &Db, year: i32) -> Result<Annual, StoreError> {
    let rows: Vec<(String, String)> = on_db!(db, p => sqlx::query_as(
        "SELECT id, summary FROM reports
         WHERE status = $1 AND superseded_by IS NULL AND summary IS NOT NULL
           AND period_start >= $2 AND period_start <= $3
         ORDER BY period_start, cutoff"
    )
    .bind(ReportStatus::Sealed)
    .bind(format!("{year:04}-01-01"))
    .bind(format!("{year:04}-12-31"))
    .fetch_all(p)
    .await)?;
    let reports: Vec<(String, Summary)> = rows
        .into_iter()
        .filter_map(|(id, text)| Summary::parse(&text).map(|s| (id, s)))
        .collect();
    Ok(add(year, &reports))
}
