//! A report's summary: the figures of one window, with small cells suppressed against
//! everything else that is or was published (see [`super::suppress`]).
//!
//! Figures that can be small are strings: a number (`"12"`) or `"<k"` (`"<5"`); amounts
//! are decimal strings, `null` where suppressed. No case code, city, vendor, date finer
//! than the period or free text is ever read, so none can be written.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::facts::{Book, BookBuilder, Decided, Entry, Facts, Grouped};
use super::paid_out::PaidEntry;
use super::suppress::{self, Cell, Dimension, Input};
use crate::domain::money::format_cents;
use crate::domain::province::PROVINCES;
use crate::domain::request::Category;

/// The version of the summary's shape; it is hashed with the summary.
pub const FORMAT: &str = "passage-report-v1";

pub const TRAVEL: [&str; 4] = ["bus", "train", "flight", "local_transport"];
pub const SCOPES: [&str; 4] = ["local", "intercity", "interprovincial", "international"];

pub const UNDERCOUNT_EN: &str = "These figures undercount the need: they show only what reached the fund and was paid through it. Many people are helped in other ways or not at all, and small numbers are hidden to protect the people helped.";
pub const UNDERCOUNT_FR: &str = "Ces chiffres sous-estiment les besoins : ils ne montrent que ce qui est passé par le fonds. Beaucoup de personnes sont aidées autrement, ou ne le sont pas, et les petits nombres sont masqués pour protéger les personnes aidées.";

/// A report's summary, as frozen and hashed: [`canonical_and_hash`] writes it as canonical
/// JSON (keys sorted, no whitespace), byte for byte what releases before this type wrote
/// from untyped JSON, so the hashes of reports frozen then still hold (see
/// `tests/summary_fixture.rs`).
///
/// Fields are declared in the order of their names, so the struct serialised as it is (by
/// the API) lists them as the canonical text does. Amounts are decimal strings as written
/// (`"1234.50"`); a figure that can be hidden is `Option`, `None` written as `null`; such a
/// field must be present when read (`null`, never left out), so a summary that lost a
/// key does not read as one that hid a figure. Only `withheld` is left out when absent.
/// Unknown keys are refused: a summary this release cannot type is not a readable one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// The audit chain's last event at the cut-off.
    pub audit_head: AuditHead,
    pub by_category: Section,
    pub by_province: Section,
    pub cases_helped: Count,
    #[serde(deserialize_with = "present")]
    pub closing_balance: Option<String>,
    /// The reports frozen before this one that it was checked against.
    pub compared_with: Vec<String>,
    pub currency: String,
    /// `audit::canonical_time` of the cut-off.
    pub cutoff: String,
    /// How decisions were taken: at once by the rules, or by a treasurer. Absent from
    /// reports frozen before it was published (their bytes stay as hashed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decisions: Option<Decisions>,
    #[serde(deserialize_with = "present")]
    pub disbursed: Option<String>,
    pub donations: Donations,
    /// [`FORMAT`].
    pub format: String,
    pub holds_outstanding: Holds,
    #[serde(deserialize_with = "present")]
    pub hotel_nights: Option<Count>,
    pub in_kind: String,
    #[serde(deserialize_with = "present")]
    pub median_decision_seconds: Option<Count>,
    pub min_cell: u64,
    pub notes: Bilingual,
    #[serde(deserialize_with = "present")]
    pub opening_balance: Option<String>,
    /// The receipts paid back to organisations in the period (`paid_out`). Absent when
    /// none was, and from reports frozen before it (their bytes stay as hashed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_to_organisations: Option<super::paid_out::PaidOut>,
    pub period: Dates,
    #[serde(deserialize_with = "present")]
    pub runway_months: Option<String>,
    #[serde(deserialize_with = "present")]
    pub supersedes: Option<String>,
    pub trips: Trips,
    #[serde(deserialize_with = "present")]
    pub unassigned: Option<String>,
    /// Why a quiet period's spending is not published; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withheld: Option<Bilingual>,
}

/// An `Option` that must be in the JSON, as `null` when `None`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditHead {
    pub hash: String,
    pub seq: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bilingual {
    pub en: String,
    pub fr: String,
}

impl Bilingual {
    pub fn get(&self, language: crate::domain::Language) -> &str {
        match language {
            crate::domain::Language::En => &self.en,
            crate::domain::Language::Fr => &self.fr,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dates {
    pub end: NaiveDate,
    pub start: NaiveDate,
}

/// How the period's decisions were taken. Each side is published only when it concerns
/// no case or at least k cases: a share or a median of fewer than k cases would describe
/// them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decisions {
    /// The share of decisions the rules gave at once, in whole percent (`"82"`); `null`
    /// when either side concerns fewer than k cases.
    #[serde(deserialize_with = "present")]
    pub at_once_percent: Option<String>,
    /// Distinct cases a treasurer decided for (`"<k"` when small).
    pub by_treasurer_cases: Count,
    /// The median seconds from a request to a treasurer's decision; `null` when none,
    /// `"<k"` when they concern fewer than k cases.
    #[serde(deserialize_with = "present")]
    pub by_treasurer_median_seconds: Option<Count>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Donations {
    /// How many gifts: never hidden.
    pub gifts: String,
    pub restricted: String,
    pub total: String,
    pub unrestricted: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holds {
    #[serde(deserialize_with = "present")]
    pub amount: Option<String>,
    pub cases: Count,
}

/// Money by category or by province.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub cells: Vec<MoneyCell>,
    #[serde(deserialize_with = "present")]
    pub other: Option<MoneyOther>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoneyCell {
    #[serde(deserialize_with = "present")]
    pub amount: Option<String>,
    pub cases: Count,
    pub key: String,
}

/// The cells hidden in a dimension, published together (or not at all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoneyOther {
    #[serde(deserialize_with = "present")]
    pub amount: Option<String>,
    pub cases: Count,
    pub members: Vec<String>,
}

/// Trips by scope, and their total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trips {
    pub cells: Vec<TripCell>,
    #[serde(deserialize_with = "present")]
    pub other: Option<TripOther>,
    #[serde(deserialize_with = "present")]
    pub total: Option<Count>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TripCell {
    pub cases: Count,
    pub key: String,
    #[serde(deserialize_with = "present")]
    pub trips: Option<Count>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TripOther {
    pub cases: Count,
    pub members: Vec<String>,
    #[serde(deserialize_with = "present")]
    pub trips: Option<Count>,
}

/// A figure that may be small, written as a string: a number (`"12"`), fewer than k
/// (`"<5"`), or at least k (`">=5"`: a count hidden to protect another).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Exactly(i64),
    FewerThan(u64),
    AtLeast(u64),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a count of a report: a number such as \"12\", \"<5\" or \">=5\"")]
pub struct CountError(String);

impl Count {
    /// `n` cases against the threshold `k`: the number from `k` on, `<k` under it (but
    /// none is `0`).
    pub fn of(n: usize, k: usize) -> Count {
        if n >= k || n == 0 {
            Count::Exactly(i64::try_from(n).unwrap_or(i64::MAX))
        } else {
            Count::FewerThan(k as u64)
        }
    }

    /// The number, when it is shown.
    pub fn exactly(self) -> Option<i64> {
        match self {
            Count::Exactly(n) => Some(n),
            _ => None,
        }
    }
}

/// Digits as written by `to_string`: no sign, no leading zero.
fn canonical_digits(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if canonical { s.parse().ok() } else { None }
}

impl FromStr for Count {
    type Err = CountError;
    fn from_str(s: &str) -> Result<Count, CountError> {
        let bad = || CountError(s.to_string());
        if let Some(k) = s.strip_prefix(">=") {
            return canonical_digits(k).map(Count::AtLeast).ok_or_else(bad);
        }
        if let Some(k) = s.strip_prefix('<') {
            return canonical_digits(k).map(Count::FewerThan).ok_or_else(bad);
        }
        let (negative, digits) = match s.strip_prefix('-') {
            Some(d) if d != "0" => (true, d),
            _ => (false, s),
        };
        let n = canonical_digits(digits)
            .and_then(|n| i64::try_from(n).ok())
            .ok_or_else(bad)?;
        Ok(Count::Exactly(if negative { -n } else { n }))
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Count::Exactly(n) => write!(f, "{n}"),
            Count::FewerThan(k) => write!(f, "<{k}"),
            Count::AtLeast(k) => write!(f, ">={k}"),
        }
    }
}

impl Serialize for Count {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Count, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Summary {
    /// Reads a stored summary; `None` when it is not one this release can type.
    pub fn parse(text: &str) -> Option<Summary> {
        serde_json::from_str(text).ok()
    }

    /// How many figures about the people helped this summary hides, of how many it has:
    /// each cell by need and by province (its amount), each trip scope (its trips), the
    /// hotel nights, the holds outstanding and the cases helped. A period withheld as too
    /// quiet hides them all.
    pub fn hidden_figures(&self) -> (usize, usize) {
        let mut hidden = 0;
        let mut total = 0;
        let mut figure = |is_hidden: bool| {
            total += 1;
            if is_hidden {
                hidden += 1;
            }
        };
        for cell in self.by_category.cells.iter().chain(&self.by_province.cells) {
            figure(cell.amount.is_none());
        }
        for cell in &self.trips.cells {
            figure(cell.trips.is_none());
        }
        figure(self.hotel_nights.and_then(Count::exactly).is_none());
        figure(self.holds_outstanding.amount.is_none());
        figure(self.cases_helped.exactly().is_none());
        if self.withheld.is_some() {
            hidden = total;
        }
        (hidden, total)
    }

    /// The summary as a JSON value (keys sorted), for what reads figures by path.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// A report that was frozen before this one and overlaps its window, with its facts
/// (recomputed from the ledger) and its published summary.
#[derive(Debug, Clone)]
pub struct Prior {
    pub id: String,
    pub facts: Facts,
    pub summary: Summary,
}

#[derive(Debug, Clone)]
pub struct Context {
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub k: usize,
    pub supersedes: Option<String>,
    /// The audit chain's last event at the cut-off: sequence number and hash.
    pub audit_head: (i64, String),
}

/// A summary, and what it could not protect (shown to treasurers before they seal; not
/// part of the summary).
#[derive(Debug, Clone)]
pub struct Built {
    pub summary: Summary,
    pub warnings: Vec<String>,
}

fn small(k: usize) -> Count {
    Count::FewerThan(k as u64)
}

fn at_least(k: usize) -> Count {
    Count::AtLeast(k as u64)
}

fn count(n: usize, k: usize) -> Count {
    Count::of(n, k)
}

/// A dimension as a report published it, whatever its figure: each cell's key and
/// whether its figure was shown, and the "other" group's members and the same.
struct Published<'a> {
    cells: Vec<(&'a str, bool)>,
    other: Option<(&'a [String], bool)>,
}

impl Section {
    fn published(&self) -> Published<'_> {
        Published {
            cells: self
                .cells
                .iter()
                .map(|c| (c.key.as_str(), c.amount.is_some()))
                .collect(),
            other: self
                .other
                .as_ref()
                .map(|o| (o.members.as_slice(), o.amount.is_some())),
        }
    }
}

impl Trips {
    fn published(&self) -> Published<'_> {
        Published {
            cells: self
                .cells
                .iter()
                .map(|c| (c.key.as_str(), c.trips.is_some()))
                .collect(),
            other: self
                .other
                .as_ref()
                .map(|o| (o.members.as_slice(), o.trips.is_some())),
        }
    }
}

/// The three dimensions a summary publishes, by their field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    ByCategory,
    ByProvince,
    Trips,
}

impl Field {
    const ALL: [Field; 3] = [Field::ByCategory, Field::ByProvince, Field::Trips];

    fn name(self) -> &'static str {
        match self {
            Field::ByCategory => "by_category",
            Field::ByProvince => "by_province",
            Field::Trips => "trips",
        }
    }

    fn key(self) -> Key {
        match self {
            Field::ByCategory => category_of,
            Field::ByProvince => province_of,
            Field::Trips => scope_of,
        }
    }

    fn published(self, summary: &Summary) -> Published<'_> {
        match self {
            Field::ByCategory => summary.by_category.published(),
            Field::ByProvince => summary.by_province.published(),
            Field::Trips => summary.trips.published(),
        }
    }
}

/// A case count of a summary, named by its JSON pointer in warnings and in the order
/// counts are hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CountAt {
    CasesHelped,
    HoldsOutstanding,
    Cell(Field, usize),
    Other(Field),
}

impl CountAt {
    fn pointer(self) -> String {
        match self {
            CountAt::CasesHelped => "/cases_helped".into(),
            CountAt::HoldsOutstanding => "/holds_outstanding/cases".into(),
            CountAt::Cell(f, i) => format!("/{}/cells/{i}/cases", f.name()),
            CountAt::Other(f) => format!("/{}/other/cases", f.name()),
        }
    }

    fn get(self, s: &Summary) -> Option<Count> {
        match self {
            CountAt::CasesHelped => Some(s.cases_helped),
            CountAt::HoldsOutstanding => Some(s.holds_outstanding.cases),
            CountAt::Cell(Field::ByCategory, i) => s.by_category.cells.get(i).map(|c| c.cases),
            CountAt::Cell(Field::ByProvince, i) => s.by_province.cells.get(i).map(|c| c.cases),
            CountAt::Cell(Field::Trips, i) => s.trips.cells.get(i).map(|c| c.cases),
            CountAt::Other(Field::ByCategory) => s.by_category.other.as_ref().map(|o| o.cases),
            CountAt::Other(Field::ByProvince) => s.by_province.other.as_ref().map(|o| o.cases),
            CountAt::Other(Field::Trips) => s.trips.other.as_ref().map(|o| o.cases),
        }
    }

    fn get_mut(self, s: &mut Summary) -> Option<&mut Count> {
        match self {
            CountAt::CasesHelped => Some(&mut s.cases_helped),
            CountAt::HoldsOutstanding => Some(&mut s.holds_outstanding.cases),
            CountAt::Cell(Field::ByCategory, i) => {
                s.by_category.cells.get_mut(i).map(|c| &mut c.cases)
            }
            CountAt::Cell(Field::ByProvince, i) => {
                s.by_province.cells.get_mut(i).map(|c| &mut c.cases)
            }
            CountAt::Cell(Field::Trips, i) => s.trips.cells.get_mut(i).map(|c| &mut c.cases),
            CountAt::Other(Field::ByCategory) => s.by_category.other.as_mut().map(|o| &mut o.cases),
            CountAt::Other(Field::ByProvince) => s.by_province.other.as_mut().map(|o| &mut o.cases),
            CountAt::Other(Field::Trips) => s.trips.other.as_mut().map(|o| &mut o.cases),
        }
    }
}

/// Groups of transfers (see [`Entry`]) numbered across this window and the previous
/// reports' windows, in the order they are first met, so that one group is one item
/// everywhere.
struct Universe {
    local: Vec<u32>,
    case: Vec<Option<u32>>,
    amount: Vec<i64>,
}

impl Universe {
    fn new(book: &Book) -> Universe {
        Universe {
            local: vec![u32::MAX; book.entries.len()],
            case: Vec::new(),
            amount: Vec::new(),
        }
    }

    fn add(&mut self, book: &Book, entry: u32) -> u32 {
        let slot = &mut self.local[entry as usize];
        if *slot != u32::MAX {
            return *slot;
        }
        let i = self.case.len() as u32;
        *slot = i;
        self.case.push(book.entries[entry as usize].case);
        self.amount.push(book.entries[entry as usize].amount);
        i
    }
}

type Key = fn(&Book, &Entry) -> Option<u32>;

fn category_of(_: &Book, item: &Entry) -> Option<u32> {
    item.case?;
    item.category.map(u32::from)
}

fn province_of(_: &Book, item: &Entry) -> Option<u32> {
    item.case?;
    item.province.map(u32::from)
}

fn scope_of(book: &Book, item: &Entry) -> Option<u32> {
    item.case?;
    let category = book.names[usize::from(item.category?)].as_str();
    if !TRAVEL.contains(&category) {
        return None;
    }
    item.scope.map(u32::from)
}

/// The entry a window's item is, with its number in the universe.
fn entries<'b>(
    book: &'b Book,
    items: &'b [u32],
    ids: &'b [u32],
) -> impl Iterator<Item = (&'b Entry, u32)> + 'b {
    items
        .iter()
        .zip(ids)
        .map(|(e, id)| (&book.entries[*e as usize], *id))
}

fn order_of(dimension: &str) -> Vec<String> {
    match dimension {
        "category" => Category::ALL
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
        "province" => PROVINCES.iter().map(|p| p.to_string()).collect(),
        _ => SCOPES.iter().map(|s| s.to_string()).collect(),
    }
}

/// One dimension's cells over a window's `items` (numbered `ids` in the universe).
fn cells(
    book: &Book,
    items: &[u32],
    ids: &[u32],
    key: Key,
    weight: fn(&Entry) -> i64,
    dimension: &str,
) -> Vec<Cell> {
    let mut by_key: HashMap<u32, (Vec<u32>, i64)> = HashMap::new();
    for (item, id) in entries(book, items, ids) {
        if let Some(k) = key(book, item) {
            let e = by_key.entry(k).or_default();
            e.0.push(id);
            e.1 += weight(item);
        }
    }
    let mut by_key: BTreeMap<String, (Vec<u32>, i64)> = by_key
        .into_iter()
        .map(|(k, v)| (book.names[k as usize].clone(), v))
        .collect();
    let mut out = Vec::new();
    for k in order_of(dimension) {
        if let Some((mut ids, w)) = by_key.remove(&k) {
            ids.sort_unstable();
            ids.dedup();
            out.push(Cell {
                key: k,
                items: ids,
                weight: w,
            });
        }
    }
    // Keys outside the known lists (none today) still count, after the known ones.
    for (k, (mut ids, w)) in by_key {
        ids.sort_unstable();
        ids.dedup();
        out.push(Cell {
            key: k,
            items: ids,
            weight: w,
        });
    }
    out
}

/// The sets a previous report published in one dimension, read back from its summary.
fn published_sets(
    name: &str,
    book: &Book,
    prior: &Compared<'_>,
    ids: &[u32],
    field: Field,
    weight: fn(&Entry) -> i64,
) -> Vec<(String, Vec<u32>)> {
    let section = field.published(prior.summary);
    let prior_cells = cells(book, &prior.facts.items, ids, field.key(), weight, name);
    let field = field.name();
    let by_key: HashMap<&str, &Cell> = prior_cells.iter().map(|c| (c.key.as_str(), c)).collect();
    let mut out = Vec::new();
    for (k, shown) in section.cells {
        if shown && let Some(c) = by_key.get(k) {
            out.push((format!("{}.{}.{}", prior.id, field, k), c.items.clone()));
        }
    }
    if let Some((members, true)) = section.other {
        let mut items: Vec<u32> = members
            .iter()
            .filter_map(|m| by_key.get(m.as_str()))
            .flat_map(|c| c.items.iter().copied())
            .collect();
        items.sort_unstable();
        items.dedup();
        out.push((format!("{}.{}.other", prior.id, field), items));
    }
    out
}

fn cases_in(items: &[u32], universe: &Universe) -> usize {
    let mut cases: Vec<u32> = items
        .iter()
        .filter_map(|i| universe.case[*i as usize])
        .collect();
    cases.sort_unstable();
    cases.dedup();
    cases.len()
}

/// A dimension as published, before it takes its field's shape: each cell's key, cases
/// and figure (`None`: hidden), and its "other" group's members, cases and figure.
struct Drawn<V> {
    cells: Vec<(String, Count, Option<V>)>,
    other: Option<(Vec<String>, Count, Option<V>)>,
}

impl Drawn<String> {
    fn money(self) -> Section {
        Section {
            cells: self
                .cells
                .into_iter()
                .map(|(key, cases, amount)| MoneyCell { amount, cases, key })
                .collect(),
            other: self.other.map(|(members, cases, amount)| MoneyOther {
                amount,
                cases,
                members,
            }),
        }
    }
}

impl Drawn<Count> {
    fn trips(self, total: Count) -> Trips {
        Trips {
            cells: self
                .cells
                .into_iter()
                .map(|(key, cases, trips)| TripCell { cases, key, trips })
                .collect(),
            other: self.other.map(|(members, cases, trips)| TripOther {
                cases,
                members,
                trips,
            }),
            total: Some(total),
        }
    }
}

/// A dimension as published: its cells, and its "other" cell when it has one.
fn section<V>(
    dimension: &Dimension,
    hidden: &BTreeSet<String>,
    other_shown: bool,
    universe: &Universe,
    k: usize,
    value: &dyn Fn(&Cell) -> V,
) -> Drawn<V> {
    let mut out = Vec::new();
    let mut members: Vec<u32> = Vec::new();
    let mut member_keys = Vec::new();
    let mut member_weight = 0_i64;
    let mut only_small = true;
    for cell in &dimension.cells {
        let n = cases_in(&cell.items, universe);
        if hidden.contains(&cell.key) {
            only_small &= n < k;
            // A cell hidden only to protect a small one is not small itself: say so.
            let cases = if n < k { small(k) } else { at_least(k) };
            out.push((cell.key.clone(), cases, None));
            members.extend(&cell.items);
            member_keys.push(cell.key.clone());
            member_weight += cell.weight;
        } else {
            out.push((cell.key.clone(), count(n, k), Some(value(cell))));
        }
    }
    members.sort_unstable();
    members.dedup();
    let other = if member_keys.is_empty() {
        None
    } else if other_shown {
        let folded = Cell {
            key: "other".into(),
            items: members.clone(),
            weight: member_weight,
        };
        // A group made only of `<k` members would pin their counts (two `<5` members in a
        // group of 8 are each 4): its count is published coarsened.
        let cases = if only_small {
            at_least(k)
        } else {
            count(cases_in(&members, universe), k)
        };
        Some((member_keys, cases, Some(value(&folded))))
    } else {
        Some((member_keys, small(k), None))
    };
    Drawn { cells: out, other }
}

/// The holds outstanding of this report (first) and of each prior, as sets of one
/// numbering: a hold is known by its case and amount (the n-th such hold of a report is
/// the n-th of another), which merges only holds of equal amounts, so a difference the
/// numbering hides is one the amounts hide too. Also the case of each hold.
fn hold_universe(facts: &Grouped, priors: &[Compared<'_>]) -> (Vec<Vec<u32>>, Vec<Option<u32>>) {
    let mut index: HashMap<(i64, Option<u32>, usize), u32> = HashMap::new();
    let mut item_case: Vec<Option<u32>> = Vec::new();
    let mut sets = Vec::new();
    for holds in std::iter::once(&facts.holds).chain(priors.iter().map(|p| &p.facts.holds)) {
        let mut seen: HashMap<(i64, Option<u32>), usize> = HashMap::new();
        let mut set = Vec::new();
        for (amount, case) in holds {
            let n = seen.entry((*amount, *case)).or_default();
            *n += 1;
            let key = (*amount, *case, *n);
            let id = match index.get(&key) {
                Some(id) => *id,
                None => {
                    let id = item_case.len() as u32;
                    item_case.push(*case);
                    index.insert(key, id);
                    id
                }
            };
            set.push(id);
        }
        set.sort_unstable();
        sets.push(set);
    }
    (sets, item_case)
}

pub const WITHHELD_EN: &str = "Too few people were helped in this period to publish what was spent without identifying them: spending, the closing balance and the figures drawn from them are withheld, and will be counted in a later period's figures.";
pub const WITHHELD_FR: &str = "Trop peu de personnes ont été aidées pendant cette période pour publier les dépenses sans les identifier : les dépenses, le solde de clôture et les chiffres qui en découlent ne sont pas publiés.";

/// A quiet period publishes less: no spending, nothing drawn from it, and says why.
fn withhold_spending(summary: &mut Summary, k: usize) {
    summary.disbursed = None;
    summary.unassigned = None;
    summary.closing_balance = None;
    summary.runway_months = None;
    let empty = Section {
        cells: Vec::new(),
        other: None,
    };
    summary.by_category = empty.clone();
    summary.by_province = empty;
    summary.trips = Trips {
        cells: Vec::new(),
        other: None,
        total: None,
    };
    summary.hotel_nights = None;
    summary.cases_helped = small(k);
    summary.withheld = Some(Bilingual {
        en: WITHHELD_EN.into(),
        fr: WITHHELD_FR.into(),
    });
}

/// The case counts a summary publishes as numbers: where each is and the cases it counts
/// (by their numbers in `book`, which sort as their codes do).
fn count_sets(summary: &Summary, book: &Book, facts: &Grouped) -> Vec<(CountAt, BTreeSet<u32>)> {
    let mut out = Vec::new();
    let numeric = |at: CountAt| at.get(summary).and_then(Count::exactly).is_some();
    let cases_where = |f: &dyn Fn(&Entry) -> bool| -> BTreeSet<u32> {
        facts
            .items
            .iter()
            .map(|e| &book.entries[*e as usize])
            .filter(|i| f(i))
            .filter_map(|i| i.case)
            .collect()
    };
    if numeric(CountAt::CasesHelped) {
        out.push((CountAt::CasesHelped, cases_where(&|_| true)));
    }
    if numeric(CountAt::HoldsOutstanding) {
        let set = facts.holds.iter().filter_map(|(_, c)| *c).collect();
        out.push((CountAt::HoldsOutstanding, set));
    }
    for field in Field::ALL {
        let key = field.key();
        let section = field.published(summary);
        let name = |item: &Entry| key(book, item).map(|k| book.names[k as usize].as_str());
        for (i, (k, _)) in section.cells.iter().enumerate() {
            let at = CountAt::Cell(field, i);
            if numeric(at) {
                out.push((at, cases_where(&|item| name(item) == Some(*k))));
            }
        }
        if let Some((members, _)) = section.other
            && numeric(CountAt::Other(field))
        {
            out.push((
                CountAt::Other(field),
                cases_where(&|item| name(item).is_some_and(|k| members.iter().any(|m| m == k))),
            ));
        }
    }
    out.retain(|(_, set)| !set.is_empty());
    out
}

/// Hides case counts (shown as `>=k`) until no combination of this report's counts and
/// the other reports' gives the count of fewer than k cases. Returns what the other
/// reports' counts give away alone.
fn protect_counts(
    summary: &mut Summary,
    book: &Book,
    facts: &Grouped,
    priors: &[Compared<'_>],
    k: usize,
) -> Vec<String> {
    let mut numbering: HashMap<u32, u32> = HashMap::new();
    let mut number = |set: &BTreeSet<u32>| -> Vec<u32> {
        let mut v: Vec<u32> = set
            .iter()
            .map(|c| {
                let next = numbering.len() as u32;
                *numbering.entry(*c).or_insert(next)
            })
            .collect();
        v.sort_unstable();
        v
    };
    let mut fixed = Vec::new();
    for prior in priors {
        for (at, set) in count_sets(prior.summary, book, prior.facts) {
            fixed.push((format!("{}{}", prior.id, at.pointer()), number(&set)));
        }
    }
    let mut mine: Vec<(CountAt, String, Vec<u32>)> = count_sets(summary, book, facts)
        .iter()
        .map(|(at, set)| (*at, at.pointer(), number(set)))
        .collect();
    // Hide the smallest counts first, the number of cases helped last.
    mine.sort_by_key(|(at, path, set)| (*at == CountAt::CasesHelped, set.len(), path.clone()));
    let (places, mine): (Vec<CountAt>, Vec<(String, Vec<u32>)>) = mine
        .into_iter()
        .map(|(at, path, set)| (at, (path, set)))
        .unzip();
    let item_case: Vec<Option<u32>> = (0..numbering.len() as u32).map(Some).collect();
    let (hidden, residual) = suppress::secure(k, &item_case, &fixed, &mine);
    for i in hidden {
        if let Some(v) = places[i].get_mut(summary) {
            *v = at_least(k);
        }
    }
    residual
}

/// Counts shown as `<k` are known to lie in 1..k−1; a group whose count is published (an
/// `other`, or all of a dimension's cells under the cases helped) bounds them further: at
/// least `U − shown − (others' k−1)` when no member is coarsened (`>=k`, unbounded above);
/// for provinces, whose counts add up (a case has one province), at most `U − shown −
/// (other small members' 1) − (coarsened members' k)`. Two `<3` categories under 4 cases
/// helped are each exactly 2; two `<5` provinces under 7 cases left by the shown ones are
/// each 3 or 4. A `<k` count says 1 to k−1 and no more: while a group narrows one below
/// that whole interval (pinned or not), the group's smallest published count is coarsened
/// to `>=k` (its count, when none is left).
fn unpin_counts(summary: &mut Summary, k: usize) {
    /// The count coarsened to `>=k` when a `<k` member is pinned.
    #[derive(Clone, Copy)]
    enum Target {
        Cell(Field, usize),
        Other(Field),
        Helped,
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Field {
        Category,
        Province,
        Trips,
    }
    fn cells(summary: &Summary, field: Field) -> Vec<(&str, Count)> {
        match field {
            Field::Category => &summary.by_category,
            Field::Province => &summary.by_province,
            Field::Trips => {
                return (summary.trips.cells.iter())
                    .map(|c| (c.key.as_str(), c.cases))
                    .collect();
            }
        }
        .cells
        .iter()
        .map(|c| (c.key.as_str(), c.cases))
        .collect()
    }
    fn other(summary: &Summary, field: Field) -> Option<(Count, &[String])> {
        match field {
            Field::Category => {
                (summary.by_category.other.as_ref()).map(|o| (o.cases, &o.members[..]))
            }
            Field::Province => {
                (summary.by_province.other.as_ref()).map(|o| (o.cases, &o.members[..]))
            }
            Field::Trips => (summary.trips.other.as_ref()).map(|o| (o.cases, &o.members[..])),
        }
    }
    fn coarsen(summary: &mut Summary, target: Target, k: u64) {
        let at_least = Count::AtLeast(k);
        match target {
            Target::Helped => summary.cases_helped = at_least,
            Target::Cell(Field::Category, i) => summary.by_category.cells[i].cases = at_least,
            Target::Cell(Field::Province, i) => summary.by_province.cells[i].cases = at_least,
            Target::Cell(Field::Trips, i) => summary.trips.cells[i].cases = at_least,
            Target::Other(field) => match field {
                Field::Category => summary
                    .by_category
                    .other
                    .iter_mut()
                    .for_each(|o| o.cases = at_least),
                Field::Province => summary
                    .by_province
                    .other
                    .iter_mut()
                    .for_each(|o| o.cases = at_least),
                Field::Trips => summary
                    .trips
                    .other
                    .iter_mut()
                    .for_each(|o| o.cases = at_least),
            },
        }
    }
    let k = k as i64;
    let is_small = |c: &Count| matches!(c, Count::FewerThan(_));
    // Each round coarsens one count, and a summary has a few dozen at most.
    for _round in 0..256 {
        let mut change: Option<Target> = None;
        'fields: for field in [Field::Category, Field::Province, Field::Trips] {
            let cells = cells(summary, field);
            let index = |key: &str| cells.iter().position(|(k, _)| *k == key);
            let mut groups: Vec<(Target, Count, Vec<usize>)> = Vec::new();
            if let Some((cases, members)) = other(summary, field) {
                let members = members.iter().filter_map(|m| index(m)).collect();
                groups.push((Target::Other(field), cases, members));
            }
            if field != Field::Trips && !cells.is_empty() {
                groups.push((
                    Target::Helped,
                    summary.cases_helped,
                    (0..cells.len()).collect(),
                ));
            }
            for (total, group_count, members) in groups {
                let Some(u) = group_count.exactly() else {
                    continue;
                };
                let count = |i: &usize| cells[*i].1;
                let shown: i64 = members.iter().filter_map(|i| count(i).exactly()).sum();
                let small = members.iter().filter(|i| is_small(&count(i))).count() as i64;
                let coarse = members
                    .iter()
                    .filter(|i| count(i).exactly().is_none() && !is_small(&count(i)))
                    .count() as i64;
                if small == 0 {
                    continue;
                }
                let rest = u - shown;
                let lower = if coarse == 0 {
                    (rest - (small - 1) * (k - 1)).max(1)
                } else {
                    1
                };
                let upper = if field == Field::Province {
                    (k - 1).min(rest - (small - 1) - coarse * k)
                } else {
                    (k - 1).min(u)
                };
                if lower <= 1 && upper >= k - 1 {
                    continue;
                }
                let smallest = members
                    .iter()
                    .filter_map(|i| count(i).exactly().map(|n| (n, *i)))
                    .min();
                change = Some(match smallest {
                    Some((_, i)) => Target::Cell(field, i),
                    None => total,
                });
                break 'fields;
            }
        }
        match change {
            Some(target) => coarsen(summary, target, k as u64),
            None => break,
        }
    }
}

/// The months the closing balance lasts at the window's rate of spending, to a tenth.
fn runway_months(facts: &Grouped) -> Option<String> {
    if facts.disbursed <= 0 || facts.closing <= 0 {
        return None;
    }
    let seconds = (facts.window.cutoff - facts.window.start)
        .num_seconds()
        .max(1);
    let month = Decimal::from(30 * 86_400);
    let months = Decimal::from(facts.closing) * Decimal::from(seconds)
        / (Decimal::from(facts.disbursed) * month);
    Some(
        months
            .round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero)
            .to_string(),
    )
}

/// How the window's decisions were taken (see [`Decisions`]); `None` when there was none.
fn decisions_of(decided: &Decided, k: usize) -> Option<Decisions> {
    if decided.count == 0 {
        return None;
    }
    let by_treasurer = decided.treasurer_cases;
    // The cases the rules answered for at once: a case with requests of both kinds counts
    // on both sides.
    let at_once = decided.count - decided.treasurer_count;
    let safe = |n: usize| n == 0 || n >= k;
    let at_once_percent = (safe(by_treasurer) && safe(decided.at_once_cases) && decided.cases > 0)
        .then(|| {
            let share = Decimal::from(at_once as i64) * Decimal::ONE_HUNDRED
                / Decimal::from(decided.count as i64);
            share
                .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
                .to_string()
        });
    let by_treasurer_median_seconds = if decided.treasurer_count == 0 {
        None
    } else if by_treasurer >= k {
        Some(Count::Exactly(median(&decided.treasurer_seconds)))
    } else {
        Some(small(k))
    };
    Some(Decisions {
        at_once_percent,
        by_treasurer_cases: count(by_treasurer, k),
        by_treasurer_median_seconds,
    })
}

/// The median of sorted seconds.
fn median(seconds: &[i64]) -> i64 {
    let n = seconds.len();
    if n % 2 == 1 {
        seconds[n / 2]
    } else {
        // The lower of the two middle values: whole seconds, no rounding to explain.
        seconds[n / 2 - 1]
    }
}

/// A report this one is compared with, its facts read with the spending grouped (see
/// [`super::facts::read_grouped`]).
pub struct Compared<'a> {
    pub id: &'a str,
    pub facts: &'a Grouped,
    pub summary: &'a Summary,
}

/// [`Facts`] as a [`Book`] of single transfers (one transfer in two windows is one item),
/// kept in the order given.
fn book_of(facts: &Facts, priors: &[Prior]) -> (Book, Grouped, Vec<Grouped>) {
    let mut book = BookBuilder::default();
    let mut by_transfer: HashMap<&str, u32> = HashMap::new();
    // Each window's entries, and its holds (amount, case).
    type Holds = Vec<(i64, Option<u32>)>;
    let mut windows: Vec<(Vec<u32>, Holds)> = Vec::new();
    for f in std::iter::once(facts).chain(priors.iter().map(|p| &p.facts)) {
        let mut items = Vec::with_capacity(f.items.len());
        for item in &f.items {
            let id = match by_transfer.get(item.transfer_id.as_str()) {
                Some(id) => *id,
                None => {
                    let entry = Entry {
                        case: item.case_code.as_deref().map(|c| book.case(c)),
                        category: item.category.as_deref().map(|c| book.name(c)),
                        province: item.province.as_deref().map(|c| book.name(c)),
                        scope: item.scope.as_deref().map(|c| book.name(c)),
                        amount: item.amount,
                        transfers: 1,
                        nights: item.nights.unwrap_or(0),
                    };
                    let id = book.add(&item.transfer_id, entry);
                    by_transfer.insert(&item.transfer_id, id);
                    id
                }
            };
            items.push(id);
        }
        let holds = (f.holds.iter())
            .map(|(amount, case)| (*amount, case.as_deref().map(|c| book.case(c))))
            .collect();
        windows.push((items, holds));
    }
    // The receipts paid back in each window, once every window's spending is numbered.
    let paid: Vec<Vec<PaidEntry>> = std::iter::once(facts)
        .chain(priors.iter().map(|p| &p.facts))
        .map(|f| {
            (f.paid.iter())
                .map(|p| PaidEntry {
                    entry: book.find_or_add(&p.item),
                    org_id: p.org_id.clone(),
                    org_name: p.org_name.clone(),
                })
                .collect()
        })
        .collect();
    // Decisions: a treasurer's are among all of them; the others are what is left.
    let mut decided: Vec<(u32, i64, bool)> = Vec::new();
    let mut at_once: Vec<&(String, i64)> = facts.decisions.iter().collect();
    for d in &facts.treasurer_decisions {
        if let Some(i) = at_once.iter().position(|x| *x == d) {
            at_once.remove(i);
        }
        decided.push((book.case(&d.0), d.1, true));
    }
    for d in at_once {
        decided.push((book.case(&d.0), d.1, false));
    }
    let (book, renumber) = book.finish();
    let mut grouped: Vec<Grouped> = windows
        .into_iter()
        .zip(paid)
        .zip(std::iter::once(facts).chain(priors.iter().map(|p| &p.facts)))
        .map(|(((items, holds), paid), f)| Grouped {
            window: f.window,
            opening: f.opening,
            closing: f.closing,
            received: f.received,
            disbursed: f.disbursed,
            gifts: f.gifts.clone(),
            items,
            holds: holds
                .into_iter()
                .map(|(a, c): (i64, Option<u32>)| (a, c.map(|c| renumber[c as usize])))
                .collect(),
            decided: None,
            paid,
        })
        .collect();
    grouped[0].decided = Some(Decided::of(&decided));
    let current = grouped.remove(0);
    (book, current, grouped)
}

/// Builds the summary of `facts` against the previous reports `priors`.
pub fn build(ctx: &Context, facts: &Facts, priors: &[Prior]) -> Built {
    let (book, current, others) = book_of(facts, priors);
    let compared: Vec<Compared<'_>> = priors
        .iter()
        .zip(&others)
        .map(|(p, g)| Compared {
            id: &p.id,
            facts: g,
            summary: &p.summary,
        })
        .collect();
    build_grouped(ctx, &book, &current, &compared)
}

/// Builds the summary of `facts` (its spending in `book`) against the previous reports
/// `priors`: what [`build`] does, on groups of transfers.
pub fn build_grouped(
    ctx: &Context,
    book: &Book,
    facts: &Grouped,
    priors: &[Compared<'_>],
) -> Built {
    let k = ctx.k;
    // A period whose spending concerns fewer than k cases cannot publish it: its total,
    // or its total minus what no case accounts for, would be their spending.
    let mut universe = Universe::new(book);
    let ids: Vec<u32> = facts.items.iter().map(|e| universe.add(book, *e)).collect();
    let prior_ids: Vec<Vec<u32>> = priors
        .iter()
        .map(|p| {
            p.facts
                .items
                .iter()
                .map(|e| universe.add(book, *e))
                .collect()
        })
        .collect();
    let spenders = cases_in(&ids, &universe);
    let few = spenders > 0 && spenders < k;
    let amount = |i: &Entry| i.amount;
    let one = |i: &Entry| i64::from(i.transfers);

    // Money: by category and by province, against the totals and the previous reports.
    let by_category = Dimension {
        name: "category".into(),
        cells: cells(book, &facts.items, &ids, category_of, amount, "category"),
    };
    let by_province = Dimension {
        name: "province".into(),
        cells: cells(book, &facts.items, &ids, province_of, amount, "province"),
    };
    // The dominance rule: a cell of fewer than k cases that weighs more than 10/11 of
    // the spending cases account for is pinned by that total (minus what no case accounts
    // for) within 10 %, however much is folded in with it: the period is as quiet.
    let assigned: i128 = by_category.cells.iter().map(|c| i128::from(c.weight)).sum();
    let dominant = [&by_category, &by_province].iter().any(|d| {
        d.cells.iter().any(|c| {
            let n = cases_in(&c.items, &universe);
            n > 0 && n < k && 10 * assigned <= 11 * i128::from(c.weight)
        })
    });
    let quiet = few || dominant;
    let mut all: Vec<u32> = ids.clone();
    all.sort_unstable();
    all.dedup();
    let unassigned: Vec<u32> = entries(book, &facts.items, &ids)
        .filter(|(i, _)| i.case.is_none())
        .map(|(_, id)| id)
        .collect();
    let mut fixed = vec![
        ("disbursed".to_string(), all.clone()),
        ("unassigned".to_string(), unassigned.clone()),
    ];
    for (prior, pids) in priors.iter().zip(&prior_ids) {
        let mut everything = pids.clone();
        everything.sort_unstable();
        everything.dedup();
        let none: Vec<u32> = entries(book, &prior.facts.items, pids)
            .filter(|(i, _)| i.case.is_none())
            .map(|(_, id)| id)
            .collect();
        fixed.push((format!("{}.disbursed", prior.id), everything));
        fixed.push((format!("{}.unassigned", prior.id), none));
        fixed.extend(published_sets(
            "category",
            book,
            prior,
            pids,
            Field::ByCategory,
            amount,
        ));
        fixed.extend(published_sets(
            "province",
            book,
            prior,
            pids,
            Field::ByProvince,
            amount,
        ));
    }
    // The frozen reports' receipts paid back are published sets like their cells.
    let mut small_hidden: Vec<Vec<u32>> = Vec::new();
    for (prior, pids) in priors.iter().zip(&prior_ids) {
        let paid_ids: Vec<u32> = (prior.facts.paid.iter())
            .map(|p| universe.add(book, p.entry))
            .collect();
        fixed.extend(super::paid_out::prior_sets(
            prior.id,
            prior.summary,
            &prior.facts.paid,
            &paid_ids,
        ));
        for field in [Field::ByCategory, Field::ByProvince] {
            let section = field.published(prior.summary);
            let dimension = if field == Field::ByCategory {
                "category"
            } else {
                "province"
            };
            let prior_cells = cells(
                book,
                &prior.facts.items,
                pids,
                field.key(),
                amount,
                dimension,
            );
            for c in prior_cells {
                let n = cases_in(&c.items, &universe);
                let hidden = section
                    .cells
                    .iter()
                    .any(|(key, shown)| *key == c.key && !shown);
                if hidden && n > 0 && n < k {
                    small_hidden.push(c.items);
                }
            }
        }
    }
    let started = std::time::Instant::now();
    let money = suppress::suppress(&Input {
        k,
        item_case: universe.case.clone(),
        dimensions: vec![by_category.clone(), by_province.clone()],
        fixed: fixed.clone(),
        counted: false,
    });
    // Receipts paid back in the period, checked against everything published (`paid_out`).
    let paid_ids: Vec<u32> = (facts.paid.iter())
        .map(|p| universe.add(book, p.entry))
        .collect();
    let mut published = fixed;
    published.extend(super::paid_out::shown_sets(
        &[by_category.clone(), by_province.clone()],
        &money,
    ));
    for (d, dim) in [&by_category, &by_province].into_iter().enumerate() {
        for c in &dim.cells {
            let n = cases_in(&c.items, &universe);
            if money.suppressed[d].contains(&c.key) && n > 0 && n < k {
                small_hidden.push(c.items.clone());
            }
        }
    }
    for set in published
        .iter_mut()
        .map(|(_, s)| s)
        .chain(small_hidden.iter_mut())
    {
        set.sort_unstable();
        set.dedup();
    }
    let paid_to_organisations = super::paid_out::publish(
        &super::paid_out::Check {
            k,
            item_case: &universe.case,
            item_amount: &universe.amount,
            published: &published,
            small: &small_hidden,
        },
        &facts.paid,
        &paid_ids,
    );

    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "suppressed money cells"
    );
    // Trips: counted by scope, against their total and the previous reports' trips.
    let travel_ids: Vec<u32> = entries(book, &facts.items, &ids)
        .filter(|(i, _)| scope_of(book, i).is_some())
        .map(|(_, id)| id)
        .collect();
    let travel_trips: i64 = entries(book, &facts.items, &ids)
        .filter(|(i, _)| scope_of(book, i).is_some())
        .map(|(i, _)| i64::from(i.transfers))
        .sum();
    let trip_cases = cases_in(&travel_ids, &universe);
    let by_scope = Dimension {
        name: "scope".into(),
        cells: cells(book, &facts.items, &ids, scope_of, one, "scope"),
    };
    let mut trip_fixed = Vec::new();
    if trip_cases >= k {
        trip_fixed.push(("trips".to_string(), travel_ids.clone()));
    }
    for (prior, pids) in priors.iter().zip(&prior_ids) {
        let prior_trips: Vec<u32> = entries(book, &prior.facts.items, pids)
            .filter(|(i, _)| scope_of(book, i).is_some())
            .map(|(_, id)| id)
            .collect();
        // Only a total shown as a number is a set the reader knows (`>=k` bounds nothing).
        if matches!(prior.summary.trips.total, Some(Count::Exactly(_))) {
            trip_fixed.push((format!("{}.trips", prior.id), prior_trips));
        }
        trip_fixed.extend(published_sets(
            "scope",
            book,
            prior,
            pids,
            Field::Trips,
            one,
        ));
    }
    let trips = suppress::suppress(&Input {
        k,
        item_case: universe.case.clone(),
        dimensions: vec![by_scope.clone()],
        fixed: trip_fixed,
        counted: true,
    });

    let money_value = |c: &Cell| format_cents(c.weight);
    let trips_value = |c: &Cell| Count::Exactly(c.weight);
    let category = section(
        &by_category,
        &money.suppressed[0],
        money.other_shown[0],
        &universe,
        k,
        &money_value,
    )
    .money();
    let province = section(
        &by_province,
        &money.suppressed[1],
        money.other_shown[1],
        &universe,
        k,
        &money_value,
    )
    .money();
    let mut scope = section(
        &by_scope,
        &trips.suppressed[0],
        trips.other_shown[0],
        &universe,
        k,
        &trips_value,
    )
    .trips(if trip_cases >= k {
        count(usize::try_from(travel_trips).unwrap_or(usize::MAX), 0)
    } else {
        count(trip_cases, k)
    });
    // Every scope is folded and the "other" still pins a small one (a `<k` scope of 1
    // trip with one of k cases, so k trips at least, in an "other" of k + 1): neither it
    // nor the total (the same figure) is published.
    if trips.pinned[0] {
        if let Some(other) = scope.other.as_mut() {
            other.trips = None;
        }
        scope.total = Some(Count::AtLeast(k as u64));
    }

    // Hotel nights go with the hotel cell: hidden when it is.
    let hotel_shown = by_category
        .cells
        .iter()
        .any(|c| c.key == "hotel" && !money.suppressed[0].contains("hotel"));
    let hotel_nights = if hotel_shown {
        let nights: i64 = entries(book, &facts.items, &ids)
            .map(|(i, _)| i)
            .filter(|i| {
                i.case.is_some()
                    && i.category.map(|c| book.names[usize::from(c)].as_str()) == Some("hotel")
            })
            .map(|i| i.nights)
            .sum();
        Count::Exactly(nights)
    } else if by_category.cells.iter().any(|c| c.key == "hotel") {
        small(k)
    } else {
        Count::Exactly(0)
    };

    let no_decisions = Decided::default();
    let decided = facts.decided.as_ref().unwrap_or(&no_decisions);
    let median_decision = if decided.count == 0 {
        None
    } else if decided.cases >= k {
        Some(Count::Exactly(median(&decided.seconds)))
    } else {
        Some(small(k))
    };
    let decisions = decisions_of(decided, k);
    // Holds outstanding are a stock: this report's against the other reports' (the same
    // hold, by case and amount, is one variable in all of them).
    let (hold_sets, hold_item_case) = hold_universe(facts, priors);
    let hold_cases: BTreeSet<u32> = facts.holds.iter().filter_map(|(_, c)| *c).collect();
    let hold_total: i64 = facts.holds.iter().map(|(a, _)| a).sum();
    let mut hold_fixed: Vec<(String, Vec<u32>)> = Vec::new();
    for (prior, set) in priors.iter().zip(&hold_sets[1..]) {
        if prior.summary.holds_outstanding.amount.is_some() {
            hold_fixed.push((format!("{}.holds_outstanding", prior.id), set.clone()));
        }
    }
    let (hold_hidden, hold_residual) = suppress::secure(
        k,
        &hold_item_case,
        &hold_fixed,
        &[("holds_outstanding".to_string(), hold_sets[0].clone())],
    );
    let holds = if facts.holds.is_empty() {
        Holds {
            cases: Count::Exactly(0),
            amount: Some(format_cents(0)),
        }
    } else if hold_cases.len() >= k && hold_hidden.is_empty() {
        Holds {
            cases: count(hold_cases.len(), 0),
            amount: Some(format_cents(hold_total)),
        }
    } else {
        Holds {
            cases: count(hold_cases.len(), k),
            amount: None,
        }
    };

    let mut warnings: Vec<String> = money
        .residual
        .iter()
        .chain(&trips.residual)
        .chain(&hold_residual)
        .map(|r| format!("{r}: the period's totals, or their difference with an overlapping report, concern fewer than {k} cases and are published all the same"))
        .collect();
    warnings.sort();
    warnings.dedup();

    let summary = Summary {
        format: FORMAT.into(),
        currency: "CAD".into(),
        period: Dates {
            start: ctx.period_start,
            end: ctx.period_end,
        },
        cutoff: crate::audit::canonical_time(facts.window.cutoff),
        min_cell: k as u64,
        supersedes: ctx.supersedes.clone(),
        compared_with: priors.iter().map(|p| p.id.to_string()).collect(),
        audit_head: AuditHead {
            seq: ctx.audit_head.0,
            hash: ctx.audit_head.1.clone(),
        },
        opening_balance: Some(format_cents(facts.opening)),
        paid_to_organisations,
        donations: Donations {
            total: format_cents(facts.received),
            unrestricted: format_cents(facts.gifts.unrestricted),
            restricted: format_cents(facts.gifts.restricted),
            gifts: facts.gifts.count.to_string(),
        },
        in_kind: format_cents(facts.gifts.in_kind),
        disbursed: Some(format_cents(facts.disbursed)),
        unassigned: Some(format_cents(
            entries(book, &facts.items, &ids)
                .filter(|(i, _)| i.case.is_none())
                .map(|(i, _)| i.amount)
                .sum(),
        )),
        by_category: category,
        by_province: province,
        hotel_nights: Some(hotel_nights),
        trips: scope,
        median_decision_seconds: median_decision,
        decisions,
        cases_helped: count(spenders, k),
        holds_outstanding: holds,
        closing_balance: Some(format_cents(facts.closing)),
        runway_months: runway_months(facts),
        notes: Bilingual {
            en: UNDERCOUNT_EN.into(),
            fr: UNDERCOUNT_FR.into(),
        },
        withheld: None,
    };
    let mut summary = summary;
    if quiet {
        withhold_spending(&mut summary, k);
        warnings.retain(|w| !w.contains("are published all the same"));
        warnings.push(if few {
            format!(
                "fewer than {k} cases were helped in this period: its spending, its closing balance and everything drawn from them are withheld; the next report's opening balance is withheld too"
            )
        } else {
            format!(
                "fewer than {k} cases account for more than 90 % of this period's spending, so its total would give their spending away: its spending, its closing balance and everything drawn from them are withheld; the next report's opening balance is withheld too"
            )
        });
    }
    // After a report that withheld its closing balance, the opening balance (the same
    // figure) is withheld too.
    if priors
        .iter()
        .any(|p| p.facts.window.cutoff < facts.window.start && p.summary.closing_balance.is_none())
    {
        summary.opening_balance = None;
    }
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "suppressed trips and holds"
    );
    let count_residual = protect_counts(&mut summary, book, facts, priors, k);
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "protected case counts"
    );
    unpin_counts(&mut summary, k);
    warnings.extend(count_residual.into_iter().map(|r| {
        format!("case counts ({r}) give the count of fewer than {k} cases together and are published all the same")
    }));
    warnings.sort();
    warnings.dedup();
    Built { summary, warnings }
}

/// The canonical text of a summary (keys sorted, no whitespace) and its SHA-256 in hex.
/// Takes a [`Summary`], or any JSON (as a test or a legacy check rewrites one).
pub fn canonical_and_hash(summary: &impl Serialize) -> (String, String) {
    use sha2::{Digest, Sha256};
    let value = serde_json::to_value(summary).unwrap_or(serde_json::Value::Null);
    let text = crate::audit::canonical_json(&value);
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    (text, hash)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn counts_read_back_as_written_and_refuse_other_forms() {
        for (text, count) in [
            ("0", Count::Exactly(0)),
            ("12", Count::Exactly(12)),
            ("-3", Count::Exactly(-3)),
            ("<5", Count::FewerThan(5)),
            (">=5", Count::AtLeast(5)),
        ] {
            assert_eq!(text.parse::<Count>(), Ok(count), "{text}");
            assert_eq!(count.to_string(), text);
        }
        for bad in [
            "", "007", "+5", "-0", "<", ">=", "<05", "five", "1.5", " 5", "<=5",
        ] {
            assert!(bad.parse::<Count>().is_err(), "{bad:?}");
        }
        assert_eq!(Count::of(0, 5), Count::Exactly(0));
        assert_eq!(Count::of(3, 5), Count::FewerThan(5));
        assert_eq!(Count::of(5, 5), Count::Exactly(5));
    }

    /// A summary as stored, every field written.
    pub(crate) fn stored() -> serde_json::Value {
        serde_json::json!({
            "audit_head": {"hash": "ab", "seq": 7},
            "by_category": {"cells": [{"amount": null, "cases": "<5", "key": "flight"}],
                            "other": {"amount": "12.00", "cases": ">=5", "members": ["flight"]}},
            "by_province": {"cells": [], "other": null},
            "cases_helped": "9",
            "closing_balance": null,
            "compared_with": ["r1"],
            "currency": "CAD",
            "cutoff": "2026-12-02T09:00:00Z",
            "disbursed": "10.00",
            "donations": {"gifts": "1", "restricted": "0.00", "total": "5.00", "unrestricted": "5.00"},
            "format": FORMAT,
            "holds_outstanding": {"amount": null, "cases": "<5"},
            "hotel_nights": "0",
            "in_kind": "0.00",
            "median_decision_seconds": null,
            "min_cell": 5,
            "notes": {"en": UNDERCOUNT_EN, "fr": UNDERCOUNT_FR},
            "opening_balance": "1.00",
            "period": {"end": "2026-11-30", "start": "2026-11-01"},
            "runway_months": "2.5",
            "supersedes": null,
            "trips": {"cells": [{"cases": "6", "key": "local", "trips": "7"}], "other": null, "total": "7"},
            "unassigned": "0.00",
        })
    }

    #[test]
    fn a_summary_reads_back_to_its_canonical_text() {
        let value = stored();
        let text = crate::audit::canonical_json(&value);
        let typed = Summary::parse(&text).expect("a summary of every field");
        assert_eq!(canonical_and_hash(&typed), canonical_and_hash(&value));
        // The struct's own order is the canonical one: the API shows it as hashed.
        assert_eq!(serde_json::to_string(&typed).unwrap(), text);
        let mut quiet = value.clone();
        quiet["withheld"] = serde_json::json!({"en": WITHHELD_EN, "fr": WITHHELD_FR});
        let typed = Summary::parse(&quiet.to_string()).unwrap();
        assert!(typed.withheld.is_some());
        assert_eq!(canonical_and_hash(&typed), canonical_and_hash(&quiet));
    }

    #[test]
    fn a_count_shown_as_fewer_than_k_keeps_all_of_one_to_k_minus_one() {
        // 17 cases helped minus Québec's 10 leave 7 for two `<5` provinces: each would be 3
        // or 4 (narrowed, not pinned) unless Québec's count is coarsened.
        let mut v = stored();
        v["by_category"] = serde_json::json!({"cells": [], "other": null});
        v["by_province"] = serde_json::json!({"cells": [
            {"amount": null, "cases": "10", "key": "QC"},
            {"amount": null, "cases": "<5", "key": "ON"},
            {"amount": null, "cases": "<5", "key": "BC"}], "other": null});
        v["cases_helped"] = serde_json::json!("17");
        let mut summary = Summary::parse(&v.to_string()).unwrap();
        unpin_counts(&mut summary, 5);
        assert_eq!(summary.by_province.cells[0].cases, Count::AtLeast(5));
        assert_eq!(summary.cases_helped, Count::Exactly(17));
    }

    #[test]
    fn a_summary_that_lost_or_gained_a_key_is_not_read_as_one() {
        // A figure left out is not a figure hidden: `null` must be written.
        for pointer in ["disbursed", "trips", "holds_outstanding"] {
            let mut v = stored();
            v.as_object_mut().unwrap().remove(pointer);
            assert!(Summary::parse(&v.to_string()).is_none(), "{pointer}");
        }
        let mut v = stored();
        v["by_category"]["cells"][0]
            .as_object_mut()
            .unwrap()
            .remove("amount");
        assert!(Summary::parse(&v.to_string()).is_none());
        let mut v = stored();
        v["trip"] = serde_json::json!("misspelt");
        assert!(Summary::parse(&v.to_string()).is_none());
        let mut v = stored();
        v["cases_helped"] = serde_json::json!(9);
        assert!(Summary::parse(&v.to_string()).is_none());
    }
}
