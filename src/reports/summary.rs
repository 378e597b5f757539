//! A report's summary: the figures of one window, with small cells suppressed against
//! everything else that is or was published (see [`super::suppress`]).
//!
//! Figures that can be small are strings: a number (`"12"`) or `"<k"` (`"<5"`); amounts
//! are decimal strings, `null` where suppressed. No case code, city, vendor, date finer
//! than the period or free text is ever read, so none can be written.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Value, json};

use super::facts::{Facts, Item};
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

/// A report that was frozen before this one and overlaps its window, with its facts
/// (recomputed from the ledger) and its published summary.
#[derive(Debug, Clone)]
pub struct Prior {
    pub id: String,
    pub facts: Facts,
    pub summary: Value,
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
    pub summary: Value,
    pub warnings: Vec<String>,
}

fn small(k: usize) -> String {
    format!("<{k}")
}

fn count(n: usize, k: usize) -> Value {
    if n >= k {
        json!(n.to_string())
    } else if n == 0 {
        json!("0")
    } else {
        json!(small(k))
    }
}

/// Items numbered across this window and the previous reports' windows, so that one
/// transfer is one item everywhere.
struct Universe {
    index: HashMap<String, u32>,
    case: Vec<Option<u32>>,
    cases: HashMap<String, u32>,
}

impl Universe {
    fn new() -> Universe {
        Universe {
            index: HashMap::new(),
            case: Vec::new(),
            cases: HashMap::new(),
        }
    }

    fn add(&mut self, item: &Item) -> u32 {
        if let Some(i) = self.index.get(&item.transfer_id) {
            return *i;
        }
        let case = item.case_code.as_ref().map(|c| {
            let n = self.cases.len() as u32;
            *self.cases.entry(c.clone()).or_insert(n)
        });
        let i = self.case.len() as u32;
        self.case.push(case);
        self.index.insert(item.transfer_id.clone(), i);
        i
    }
}

type Key = fn(&Item) -> Option<String>;

fn category_of(item: &Item) -> Option<String> {
    item.case_code.as_ref()?;
    item.category.clone()
}

fn province_of(item: &Item) -> Option<String> {
    item.case_code.as_ref()?;
    item.province.clone()
}

fn scope_of(item: &Item) -> Option<String> {
    item.case_code.as_ref()?;
    let category = item.category.as_deref()?;
    if !TRAVEL.contains(&category) {
        return None;
    }
    item.scope.clone()
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

/// One dimension's cells over `items` (already numbered in `universe`).
fn cells(
    items: &[Item],
    ids: &[u32],
    key: Key,
    weight: fn(&Item) -> i64,
    dimension: &str,
) -> Vec<Cell> {
    let mut by_key: BTreeMap<String, (Vec<u32>, i64)> = BTreeMap::new();
    for (item, id) in items.iter().zip(ids) {
        if let Some(k) = key(item) {
            let e = by_key.entry(k).or_default();
            e.0.push(*id);
            e.1 += weight(item);
        }
    }
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
    prior: &Prior,
    ids: &[u32],
    field: &str,
    value_field: &str,
    key: Key,
    weight: fn(&Item) -> i64,
) -> Vec<(String, Vec<u32>)> {
    let Some(section) = prior.summary.get(field) else {
        return Vec::new();
    };
    let prior_cells = cells(&prior.facts.items, ids, key, weight, name);
    let by_key: HashMap<&str, &Cell> = prior_cells.iter().map(|c| (c.key.as_str(), c)).collect();
    let mut out = Vec::new();
    for cell in section["cells"].as_array().into_iter().flatten() {
        let shown = !cell[value_field].is_null();
        if let (true, Some(k)) = (shown, cell["key"].as_str())
            && let Some(c) = by_key.get(k)
        {
            out.push((format!("{}.{}.{}", prior.id, field, k), c.items.clone()));
        }
    }
    let other = &section["other"];
    if !other.is_null() && !other[value_field].is_null() {
        let mut items: Vec<u32> = other["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str())
            .filter_map(|m| by_key.get(m))
            .flat_map(|c| c.items.iter().copied())
            .collect();
        items.sort_unstable();
        items.dedup();
        out.push((format!("{}.{}.other", prior.id, field), items));
    }
    out
}

fn cases_in(items: &[u32], universe: &Universe) -> usize {
    items
        .iter()
        .filter_map(|i| universe.case[*i as usize])
        .collect::<BTreeSet<_>>()
        .len()
}

/// A dimension as published: its cells, and its "other" cell when it has one.
fn section(
    dimension: &Dimension,
    hidden: &BTreeSet<String>,
    other_shown: bool,
    universe: &Universe,
    k: usize,
    value_field: &str,
    value: &dyn Fn(&Cell) -> Value,
) -> Value {
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
            let cases = if n < k { small(k) } else { format!(">={k}") };
            out.push(json!({"key": cell.key, "cases": cases, value_field: null}));
            members.extend(&cell.items);
            member_keys.push(cell.key.clone());
            member_weight += cell.weight;
        } else {
            out.push(json!({"key": cell.key, "cases": count(n, k), value_field: value(cell)}));
        }
    }
    members.sort_unstable();
    members.dedup();
    let other = if member_keys.is_empty() {
        Value::Null
    } else if other_shown {
        let folded = Cell {
            key: "other".into(),
            items: members.clone(),
            weight: member_weight,
        };
        // A group made only of `<k` members would pin their counts (two `<5` members in a
        // group of 8 are each 4): its count is published coarsened.
        let cases = if only_small {
            json!(format!(">={k}"))
        } else {
            count(cases_in(&members, universe), k)
        };
        json!({"members": member_keys, "cases": cases, value_field: value(&folded)})
    } else {
        json!({"members": member_keys, "cases": small(k), value_field: null})
    };
    json!({"cells": out, "other": other})
}

/// The holds outstanding of this report (first) and of each prior, as sets of one
/// numbering: a hold is known by its case and amount (the n-th such hold of a report is
/// the n-th of another), which merges only holds of equal amounts, so a difference the
/// numbering hides is one the amounts hide too. Also the case of each hold.
fn hold_universe(facts: &Facts, priors: &[Prior]) -> (Vec<Vec<u32>>, Vec<Option<u32>>) {
    let mut index: HashMap<(i64, Option<String>, usize), u32> = HashMap::new();
    let mut cases: HashMap<String, u32> = HashMap::new();
    let mut item_case: Vec<Option<u32>> = Vec::new();
    let mut sets = Vec::new();
    for holds in std::iter::once(&facts.holds).chain(priors.iter().map(|p| &p.facts.holds)) {
        let mut seen: HashMap<(i64, Option<String>), usize> = HashMap::new();
        let mut set = Vec::new();
        for (amount, case) in holds {
            let n = seen.entry((*amount, case.clone())).or_default();
            *n += 1;
            let key = (*amount, case.clone(), *n);
            let id = match index.get(&key) {
                Some(id) => *id,
                None => {
                    let id = item_case.len() as u32;
                    let c = case.as_ref().map(|c| {
                        let next = cases.len() as u32;
                        *cases.entry(c.clone()).or_insert(next)
                    });
                    item_case.push(c);
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
fn withhold_spending(summary: &mut Value, k: usize) {
    for field in [
        "disbursed",
        "unassigned",
        "closing_balance",
        "runway_months",
    ] {
        summary[field] = Value::Null;
    }
    for field in ["by_category", "by_province"] {
        summary[field] = json!({"cells": [], "other": null});
    }
    summary["trips"] = json!({"cells": [], "other": null, "total": null});
    summary["hotel_nights"] = Value::Null;
    summary["cases_helped"] = json!(small(k));
    summary["withheld"] = json!({"en": WITHHELD_EN, "fr": WITHHELD_FR});
}

/// The case counts a summary publishes as numbers: where each is (a JSON pointer) and the
/// cases it counts.
fn count_sets(summary: &Value, facts: &Facts) -> Vec<(String, BTreeSet<String>)> {
    let mut out = Vec::new();
    let numeric = |v: &Value| v.as_str().is_some_and(|s| s.parse::<u64>().is_ok());
    let cases_where = |f: &dyn Fn(&Item) -> bool| -> BTreeSet<String> {
        facts
            .items
            .iter()
            .filter(|i| f(i))
            .filter_map(|i| i.case_code.clone())
            .collect()
    };
    if numeric(&summary["cases_helped"]) {
        out.push(("/cases_helped".to_string(), cases_where(&|_| true)));
    }
    if numeric(&summary["holds_outstanding"]["cases"]) {
        let set = facts.holds.iter().filter_map(|(_, c)| c.clone()).collect();
        out.push(("/holds_outstanding/cases".to_string(), set));
    }
    let dims: [(&str, Key); 3] = [
        ("by_category", category_of),
        ("by_province", province_of),
        ("trips", scope_of),
    ];
    for (field, key) in dims {
        let section = &summary[field];
        for (i, cell) in section["cells"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            if numeric(&cell["cases"]) {
                let k = cell["key"].as_str().unwrap_or_default().to_string();
                out.push((
                    format!("/{field}/cells/{i}/cases"),
                    cases_where(&|item| key(item).as_deref() == Some(k.as_str())),
                ));
            }
        }
        let other = &section["other"];
        if numeric(&other["cases"]) {
            let members: Vec<String> = other["members"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m.as_str().map(String::from))
                .collect();
            out.push((
                format!("/{field}/other/cases"),
                cases_where(&|item| key(item).is_some_and(|k| members.contains(&k))),
            ));
        }
    }
    out.retain(|(_, set)| !set.is_empty());
    out
}

/// Hides case counts (shown as `>=k`) until no combination of this report's counts and
/// the other reports' gives the count of fewer than k cases. Returns what the other
/// reports' counts give away alone.
fn protect_counts(summary: &mut Value, facts: &Facts, priors: &[Prior], k: usize) -> Vec<String> {
    let mut numbering: HashMap<String, u32> = HashMap::new();
    let mut number = |set: &BTreeSet<String>| -> Vec<u32> {
        let mut v: Vec<u32> = set
            .iter()
            .map(|c| {
                let next = numbering.len() as u32;
                *numbering.entry(c.clone()).or_insert(next)
            })
            .collect();
        v.sort_unstable();
        v
    };
    let mut fixed = Vec::new();
    for prior in priors {
        for (path, set) in count_sets(&prior.summary, &prior.facts) {
            fixed.push((format!("{}{path}", prior.id), number(&set)));
        }
    }
    let mut mine: Vec<(String, Vec<u32>)> = count_sets(summary, facts)
        .iter()
        .map(|(path, set)| (path.clone(), number(set)))
        .collect();
    // Hide the smallest counts first, the number of cases helped last.
    mine.sort_by_key(|(path, set)| (path == "/cases_helped", set.len(), path.clone()));
    let item_case: Vec<Option<u32>> = (0..numbering.len() as u32).map(Some).collect();
    let (hidden, residual) = suppress::secure(k, &item_case, &fixed, &mine);
    for i in hidden {
        if let Some(v) = summary.pointer_mut(&mine[i].0) {
            *v = json!(format!(">={k}"));
        }
    }
    residual
}

/// Counts shown as `<k` are known to lie in 1..k−1; a group whose count is published (an
/// `other`, or all of a dimension's cells under the cases helped) bounds them further: at
/// least `U − shown − (others' k−1)` when no member is coarsened (`>=k`, unbounded above);
/// for provinces, whose counts add up (a case has one province), at most `U − shown −
/// (other small members' 1) − (coarsened members' k)`. Two `<3` categories under 4 cases
/// helped are each exactly 2. While a `<k` count is pinned so, the group's smallest
/// published count is coarsened to `>=k` (its count, when none is left).
fn unpin_counts(summary: &mut Value, k: usize) {
    let k = k as i64;
    let number = |v: &Value| v.as_str().and_then(|s| s.parse::<i64>().ok());
    let is_small = |v: &Value| v.as_str().is_some_and(|s| s.starts_with('<'));
    for _round in 0..64 {
        let mut change: Option<String> = None;
        'fields: for field in ["by_category", "by_province", "trips"] {
            let section = &summary[field];
            let cells: Vec<&Value> = section["cells"].as_array().into_iter().flatten().collect();
            let index = |key: &str| cells.iter().position(|c| c["key"].as_str() == Some(key));
            let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
            if let Some(members) = section["other"]["members"].as_array() {
                let members = members.iter().filter_map(|m| m.as_str()).filter_map(index);
                groups.push((format!("/{field}/other/cases"), members.collect()));
            }
            if field != "trips" && !cells.is_empty() {
                groups.push(("/cases_helped".into(), (0..cells.len()).collect()));
            }
            for (total, members) in groups {
                let Some(u) = summary.pointer(&total).and_then(number) else {
                    continue;
                };
                let count = |i: &usize| &cells[*i]["cases"];
                let shown: i64 = members.iter().filter_map(|i| number(count(i))).sum();
                let small = members.iter().filter(|i| is_small(count(i))).count() as i64;
                let coarse = members
                    .iter()
                    .filter(|i| number(count(i)).is_none() && !is_small(count(i)))
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
                let upper = if field == "by_province" {
                    (k - 1).min(rest - (small - 1) - coarse * k)
                } else {
                    (k - 1).min(u)
                };
                if lower < upper {
                    continue;
                }
                let smallest = members
                    .iter()
                    .filter_map(|i| number(count(i)).map(|n| (n, *i)))
                    .min();
                change = Some(match smallest {
                    Some((_, i)) => format!("/{field}/cells/{i}/cases"),
                    None => total,
                });
                break 'fields;
            }
        }
        match change {
            Some(pointer) => {
                if let Some(v) = summary.pointer_mut(&pointer) {
                    *v = json!(format!(">={k}"));
                }
            }
            None => break,
        }
    }
}

/// The months the closing balance lasts at the window's rate of spending, to a tenth.
fn runway_months(facts: &Facts) -> Value {
    if facts.disbursed <= 0 || facts.closing <= 0 {
        return Value::Null;
    }
    let seconds = (facts.window.cutoff - facts.window.start)
        .num_seconds()
        .max(1);
    let month = Decimal::from(30 * 86_400);
    let months = Decimal::from(facts.closing) * Decimal::from(seconds)
        / (Decimal::from(facts.disbursed) * month);
    json!(
        months
            .round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero)
            .to_string()
    )
}

fn median(mut seconds: Vec<i64>) -> i64 {
    seconds.sort_unstable();
    let n = seconds.len();
    if n % 2 == 1 {
        seconds[n / 2]
    } else {
        // The lower of the two middle values: whole seconds, no rounding to explain.
        seconds[n / 2 - 1]
    }
}

/// Builds the summary of `facts` against the previous reports `priors`.
pub fn build(ctx: &Context, facts: &Facts, priors: &[Prior]) -> Built {
    let k = ctx.k;
    // A period whose spending concerns fewer than k cases cannot publish it: its total,
    // or its total minus what no case accounts for, would be their spending.
    let spenders: BTreeSet<&str> = facts
        .items
        .iter()
        .filter_map(|i| i.case_code.as_deref())
        .collect();
    let few = !spenders.is_empty() && spenders.len() < k;
    let mut universe = Universe::new();
    let ids: Vec<u32> = facts.items.iter().map(|i| universe.add(i)).collect();
    let prior_ids: Vec<Vec<u32>> = priors
        .iter()
        .map(|p| p.facts.items.iter().map(|i| universe.add(i)).collect())
        .collect();
    let amount = |i: &Item| i.amount;
    let one = |_: &Item| 1_i64;

    // Money: by category and by province, against the totals and the previous reports.
    let by_category = Dimension {
        name: "category".into(),
        cells: cells(&facts.items, &ids, category_of, amount, "category"),
    };
    let by_province = Dimension {
        name: "province".into(),
        cells: cells(&facts.items, &ids, province_of, amount, "province"),
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
    let unassigned: Vec<u32> = facts
        .items
        .iter()
        .zip(&ids)
        .filter(|(i, _)| i.case_code.is_none())
        .map(|(_, id)| *id)
        .collect();
    let mut fixed = vec![
        ("disbursed".to_string(), all.clone()),
        ("unassigned".to_string(), unassigned.clone()),
    ];
    for (prior, pids) in priors.iter().zip(&prior_ids) {
        let mut everything = pids.clone();
        everything.sort_unstable();
        everything.dedup();
        let none: Vec<u32> = prior
            .facts
            .items
            .iter()
            .zip(pids)
            .filter(|(i, _)| i.case_code.is_none())
            .map(|(_, id)| *id)
            .collect();
        fixed.push((format!("{}.disbursed", prior.id), everything));
        fixed.push((format!("{}.unassigned", prior.id), none));
        fixed.extend(published_sets(
            "category",
            prior,
            pids,
            "by_category",
            "amount",
            category_of,
            amount,
        ));
        fixed.extend(published_sets(
            "province",
            prior,
            pids,
            "by_province",
            "amount",
            province_of,
            amount,
        ));
    }
    let money = suppress::suppress(&Input {
        k,
        item_case: universe.case.clone(),
        dimensions: vec![by_category.clone(), by_province.clone()],
        fixed,
        counted: false,
    });

    // Trips: counted by scope, against their total and the previous reports' trips.
    let travel_ids: Vec<u32> = facts
        .items
        .iter()
        .zip(&ids)
        .filter(|(i, _)| scope_of(i).is_some())
        .map(|(_, id)| *id)
        .collect();
    let trip_cases = cases_in(&travel_ids, &universe);
    let by_scope = Dimension {
        name: "scope".into(),
        cells: cells(&facts.items, &ids, scope_of, one, "scope"),
    };
    let mut trip_fixed = Vec::new();
    if trip_cases >= k {
        trip_fixed.push(("trips".to_string(), travel_ids.clone()));
    }
    for (prior, pids) in priors.iter().zip(&prior_ids) {
        let prior_trips: Vec<u32> = prior
            .facts
            .items
            .iter()
            .zip(pids)
            .filter(|(i, _)| scope_of(i).is_some())
            .map(|(_, id)| *id)
            .collect();
        if prior.summary["trips"]["total"]
            .as_str()
            .is_some_and(|t| t.parse::<u64>().is_ok())
        {
            trip_fixed.push((format!("{}.trips", prior.id), prior_trips));
        }
        trip_fixed.extend(published_sets(
            "scope", prior, pids, "trips", "trips", scope_of, one,
        ));
    }
    let trips = suppress::suppress(&Input {
        k,
        item_case: universe.case.clone(),
        dimensions: vec![by_scope.clone()],
        fixed: trip_fixed,
        counted: true,
    });

    let money_value = |c: &Cell| json!(format_cents(c.weight));
    let trips_value = |c: &Cell| json!(c.weight.to_string());
    let category = section(
        &by_category,
        &money.suppressed[0],
        money.other_shown[0],
        &universe,
        k,
        "amount",
        &money_value,
    );
    let province = section(
        &by_province,
        &money.suppressed[1],
        money.other_shown[1],
        &universe,
        k,
        "amount",
        &money_value,
    );
    let mut scope = section(
        &by_scope,
        &trips.suppressed[0],
        trips.other_shown[0],
        &universe,
        k,
        "trips",
        &trips_value,
    );
    scope["total"] = if trip_cases >= k {
        json!(travel_ids.len().to_string())
    } else {
        count(trip_cases, k)
    };
    // Every scope is folded and the "other" still pins a small one (a `<k` scope of 1
    // trip with one of k cases, so k trips at least, in an "other" of k + 1): neither it
    // nor the total (the same figure) is published.
    if trips.pinned[0] {
        scope["other"]["trips"] = Value::Null;
        scope["total"] = json!(format!(">={k}"));
    }

    // Hotel nights go with the hotel cell: hidden when it is.
    let hotel_shown = by_category
        .cells
        .iter()
        .any(|c| c.key == "hotel" && !money.suppressed[0].contains("hotel"));
    let hotel_nights = if hotel_shown {
        let nights: i64 = facts
            .items
            .iter()
            .filter(|i| i.case_code.is_some() && i.category.as_deref() == Some("hotel"))
            .filter_map(|i| i.nights)
            .sum();
        json!(nights.to_string())
    } else if by_category.cells.iter().any(|c| c.key == "hotel") {
        json!(small(k))
    } else {
        json!("0")
    };

    let helped: BTreeSet<&str> = facts
        .items
        .iter()
        .filter_map(|i| i.case_code.as_deref())
        .collect();
    let decided_cases: BTreeSet<&str> = facts.decisions.iter().map(|(c, _)| c.as_str()).collect();
    let median_decision = if facts.decisions.is_empty() {
        Value::Null
    } else if decided_cases.len() >= k {
        json!(median(facts.decisions.iter().map(|(_, s)| *s).collect()).to_string())
    } else {
        json!(small(k))
    };
    // Holds outstanding are a stock: this report's against the other reports' (the same
    // hold, by case and amount, is one variable in all of them).
    let (hold_sets, hold_item_case) = hold_universe(facts, priors);
    let hold_cases: BTreeSet<&str> = facts
        .holds
        .iter()
        .filter_map(|(_, c)| c.as_deref())
        .collect();
    let hold_total: i64 = facts.holds.iter().map(|(a, _)| a).sum();
    let mut hold_fixed: Vec<(String, Vec<u32>)> = Vec::new();
    for (prior, set) in priors.iter().zip(&hold_sets[1..]) {
        if !prior.summary["holds_outstanding"]["amount"].is_null() {
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
        json!({"cases": "0", "amount": format_cents(0)})
    } else if hold_cases.len() >= k && hold_hidden.is_empty() {
        json!({"cases": hold_cases.len().to_string(), "amount": format_cents(hold_total)})
    } else {
        json!({"cases": count(hold_cases.len(), k), "amount": null})
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

    let summary = json!({
        "format": FORMAT,
        "currency": "CAD",
        "period": {"start": ctx.period_start.to_string(), "end": ctx.period_end.to_string()},
        "cutoff": crate::audit::canonical_time(facts.window.cutoff),
        "min_cell": k,
        "supersedes": ctx.supersedes,
        "compared_with": priors.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
        "audit_head": {"seq": ctx.audit_head.0, "hash": ctx.audit_head.1},
        "opening_balance": format_cents(facts.opening),
        "donations": {
            "total": format_cents(facts.received),
            "unrestricted": format_cents(facts.gifts.unrestricted),
            "restricted": format_cents(facts.gifts.restricted),
            "gifts": facts.gifts.count.to_string(),
        },
        "in_kind": format_cents(facts.gifts.in_kind),
        "disbursed": format_cents(facts.disbursed),
        "unassigned": format_cents(facts.items.iter().filter(|i| i.case_code.is_none()).map(|i| i.amount).sum()),
        "by_category": category,
        "by_province": province,
        "hotel_nights": hotel_nights,
        "trips": scope,
        "median_decision_seconds": median_decision,
        "cases_helped": count(helped.len(), k),
        "holds_outstanding": holds,
        "closing_balance": format_cents(facts.closing),
        "runway_months": runway_months(facts),
        "notes": {"en": UNDERCOUNT_EN, "fr": UNDERCOUNT_FR},
    });
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
    if priors.iter().any(|p| {
        p.facts.window.cutoff < facts.window.start && p.summary["closing_balance"].is_null()
    }) {
        summary["opening_balance"] = Value::Null;
    }
    let count_residual = protect_counts(&mut summary, facts, priors, k);
    unpin_counts(&mut summary, k);
    warnings.extend(count_residual.into_iter().map(|r| {
        format!("case counts ({r}) give the count of fewer than {k} cases together and are published all the same")
    }));
    warnings.sort();
    warnings.dedup();
    Built { summary, warnings }
}

/// The canonical text of a summary (keys sorted, no whitespace) and its SHA-256 in hex.
pub fn canonical_and_hash(summary: &Value) -> (String, String) {
    use sha2::{Digest, Sha256};
    let text = crate::audit::canonical_json(summary);
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    (text, hash)
}
