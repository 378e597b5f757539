//! "Paid to organisations" (issue 18): the receipts the fund finished paying back in a
//! report's period, beside what was spent, in total and by organisation, under the same
//! suppression as the rest of the report.
//!
//! Why it is not the cash of the period's payout lines: a payout often pays receipts of an
//! earlier period, and a payout total is then a figure about *those* receipts. A period
//! too quiet to publish its spending, or a small cell it hid, would be given away by the
//! next period's payout total (or by it minus the shown cells of the earlier report). So
//! each paid payout line is tied to the receipts it pays, and what is published is the
//! sum of **whole receipts**: a sum over a set of the report's items (settled
//! disbursements, each of one case), exactly the kind of set every other published figure
//! is. `suppress` can then check it against everything published, this report's figures
//! and every frozen report's (their own "paid" figures included), like any cell.
//!
//! Which receipts a line pays: every account the fund pays on (`liabilities:owed:org:ORG`,
//! `liabilities:owed:vendor:V`, `assets:bank:to-replenish:ORG`) gains one part of a
//! receipt when it is settled (`owe:REQUEST` or `draw:REQUEST`, the two parts adding up
//! to the receipt); payouts (less bounces, and a replenishment given back when an advance's
//! excess came back) cover those parts oldest first, as batches take them (a batch takes
//! everything gained up to its date). A receipt is **paid** at a moment when each of its
//! parts is covered then; it is counted in the period in which it became paid. Only
//! transfers up to the cut-off are read, so the figure never changes once frozen. A
//! receipt that a bounce made unpaid again and that is paid again later counts again in
//! that later period (a sum over whole receipts all the same).
//!
//! What is published (`Summary::paid_to_organisations`, absent when no receipt became paid
//! in the period, so summaries frozen before it keep their bytes):
//! - `amount`: the total, or `null` when some combination with the published figures
//!   gives the spending of fewer than k cases, or when it bounds a hidden cell of fewer
//!   than k cases within ±10 % (the dominance rule of the report);
//! - `organisations`: the organisations whose paid receipts concern k cases or more and
//!   that the check lets through, by name; an organisation below k cases is never named;
//! - `others`: the other organisations together, when the check lets it through (`null`
//!   otherwise, or when every organisation is named).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use super::facts::{Item, Window};
use super::summary::Summary;
use super::suppress::{self, Cell, Dimension, Input};
use crate::domain::Language;
use crate::domain::money::format_cents;
use crate::i18n;
use crate::ledger::figures::Holder;
use crate::on_tx;
use crate::store::{StoreError, Tx};

/// A receipt that became paid in a window: its settlement (the report's item) and the
/// organisation whose request it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidItem {
    pub item: Item,
    pub org_id: String,
    pub org_name: String,
}

/// A receipt that became paid in a window, as the summary reads it: its settlement's
/// number in the report's [`super::facts::Book`] and the organisation whose request it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidEntry {
    pub entry: u32,
    pub org_id: String,
    pub org_name: String,
}

/// What a summary publishes about the receipts paid back in its period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaidOut {
    /// The receipts paid back in the period, in total; `null` when hidden.
    #[serde(deserialize_with = "present")]
    pub amount: Option<String>,
    /// The organisations named, each with k cases or more.
    pub organisations: Vec<PaidCell>,
    /// The other organisations together; `null` when none or when hidden.
    #[serde(deserialize_with = "present")]
    pub others: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaidCell {
    pub amount: String,
    pub name: String,
}

/// An `Option` that must be in the JSON, as `null` when `None`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d)
}

/// The codes of the transfers that make the fund owe part of a receipt
/// (`funding::payouts::owe`).
const GAIN_CODES: [&str; 2] = ["owed", "advance-drawn"];
/// A payout line paid, and a replenishment given back once an advance's excess came back
/// (`funding::owed`): what covers them.
const PAYOUT_CODE: &str = crate::ledger::figures::PAYOUT_CODE;
const UNNEEDED_CODE: &str = "replenish-unneeded";

#[derive(sqlx::FromRow)]
struct Move {
    debit_account_id: String,
    credit_account_id: String,
    amount: i64,
    code: String,
    reference: Option<String>,
    created_at: DateTime<Utc>,
}

/// One account the fund pays on: the parts of receipts it gained, oldest first, and
/// what covered them before the window and by its cut-off.
#[derive(Default)]
struct Account {
    /// `(request, amount, when)`.
    gains: Vec<(String, i64, DateTime<Utc>)>,
    covered_before: i64,
    covered_by_cutoff: i64,
}

/// The receipts that became paid in `window`, by the rule in the module's comment.
pub async fn read(tx: &mut Tx, window: Window) -> Result<Vec<PaidItem>, StoreError> {
    // A receipt becomes paid only when something covers it in the window: none, none paid.
    let covers: i64 = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM transfers
         WHERE created_at >= $1 AND created_at <= $2 AND code IN ($3, $4)",
    )
    .bind(window.start)
    .bind(window.cutoff)
    .bind(PAYOUT_CODE)
    .bind(UNNEEDED_CODE)
    .fetch_one(c)
    .await)?;
    if covers == 0 {
        return Ok(Vec::new());
    }
    let moves: Vec<Move> = on_tx!(tx, c => sqlx::query_as::<_, Move>(
        "SELECT debit_account_id, credit_account_id, amount, code, reference, created_at
         FROM transfers
         WHERE created_at <= $1
           AND (debit_account_id LIKE 'liabilities:owed:%' OR credit_account_id LIKE 'liabilities:owed:%'
             OR debit_account_id LIKE 'assets:bank:to-replenish:%'
             OR credit_account_id LIKE 'assets:bank:to-replenish:%')
         ORDER BY created_at, id",
    )
    .bind(window.cutoff)
    .fetch_all(c)
    .await)?;
    let paid = paid_requests(&moves, window);
    let mut out = Vec::new();
    for chunk in paid.chunks(200) {
        let places: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT t.id AS transfer_id, t.amount, r.case_code, r.category, k.province, r.nights,
                    r.scope, r.org_id, COALESCE(o.name, '') AS org_name
             FROM requests r
             JOIN transfers t ON t.id = r.settlement_id
             LEFT JOIN cases k ON k.code = r.case_code
             LEFT JOIN orgs o ON o.id = r.org_id
             WHERE r.id IN ({})",
            places.join(", ")
        );
        let rows: Vec<Row> = on_tx!(tx, c => {
            let mut q = sqlx::query_as::<_, Row>(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            q.fetch_all(c).await
        })?;
        out.extend(rows.into_iter().map(|r| PaidItem {
            item: Item {
                transfer_id: r.transfer_id,
                amount: r.amount,
                case_code: r.case_code,
                category: r.category,
                province: r.province,
                nights: r.nights,
                scope: r.scope,
            },
            org_id: r.org_id,
            org_name: r.org_name,
        }));
    }
    out.sort_by(|a, b| a.item.transfer_id.cmp(&b.item.transfer_id));
    Ok(out)
}

/// The requests whose receipts became paid in `window`, from the moves of the accounts
/// the fund pays on up to its cut-off (oldest first).
fn paid_requests(moves: &[Move], window: Window) -> Vec<String> {
    let mut accounts: BTreeMap<String, Account> = BTreeMap::new();
    for m in moves.iter().filter(|m| m.created_at <= window.cutoff) {
        for (account, debit_side) in [(&m.debit_account_id, true), (&m.credit_account_id, false)] {
            let owed_side = match Holder::of(account) {
                Some(Holder::OwedToOrg(_) | Holder::OwedToVendor(_)) => true,
                Some(Holder::ToReplenish(_)) => false,
                _ => continue,
            };
            // A liability gains on its debit side, the bank's part to replenish on its
            // credit side.
            let gains = debit_side == owed_side;
            let a = accounts.entry(account.clone()).or_default();
            let signed = if gains { -m.amount } else { m.amount };
            if gains && GAIN_CODES.contains(&m.code.as_str()) {
                if let Some(request) = &m.reference {
                    a.gains.push((request.clone(), m.amount, m.created_at));
                }
                continue;
            }
            // A payout (or a replenishment given back) covers; a bounce uncovers.
            a.covered_by_cutoff += signed;
            if m.created_at < window.start {
                a.covered_before += signed;
            }
        }
    }
    // Each request's parts: covered before the window, and by the cut-off.
    let mut before: HashMap<String, bool> = HashMap::new();
    let mut by_cutoff: HashMap<String, bool> = HashMap::new();
    for a in accounts.values() {
        let mut summed = 0_i64;
        for (request, amount, at) in &a.gains {
            summed += amount;
            let was = *at < window.start && summed <= a.covered_before;
            let is = summed <= a.covered_by_cutoff;
            before
                .entry(request.clone())
                .and_modify(|b| *b &= was)
                .or_insert(was);
            by_cutoff
                .entry(request.clone())
                .and_modify(|b| *b &= is)
                .or_insert(is);
        }
    }
    let mut paid: Vec<String> = by_cutoff
        .iter()
        .filter(|(r, is)| **is && !before.get(*r).copied().unwrap_or(false))
        .map(|(r, _)| r.clone())
        .collect();
    paid.sort();
    paid
}

#[derive(sqlx::FromRow)]
struct Row {
    transfer_id: String,
    amount: i64,
    case_code: Option<String>,
    category: Option<String>,
    province: Option<String>,
    nights: Option<i64>,
    scope: Option<String>,
    org_id: String,
    org_name: String,
}

/// The sets of a prior report's published "paid" figures (its `summary`, over its `paid`
/// receipts numbered `ids` by the report's universe): what later reports are checked
/// against.
pub fn prior_sets(
    id: &str,
    summary: &Summary,
    paid: &[PaidEntry],
    ids: &[u32],
) -> Vec<(String, Vec<u32>)> {
    let Some(published) = &summary.paid_to_organisations else {
        return Vec::new();
    };
    sets_of(id, paid, ids, published)
}

/// The sets of `published`, read back over `paid` (numbered `ids`).
fn sets_of(
    name: &str,
    paid: &[PaidEntry],
    ids: &[u32],
    published: &PaidOut,
) -> Vec<(String, Vec<u32>)> {
    let sorted = |mut v: Vec<u32>| {
        v.sort_unstable();
        v.dedup();
        v
    };
    let mut out = Vec::new();
    if published.amount.is_none() {
        return out;
    }
    out.push((format!("{name}.paid"), sorted(ids.to_vec())));
    let named: BTreeSet<&str> = published
        .organisations
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    for org in &named {
        let set = paid
            .iter()
            .zip(ids)
            .filter(|(p, _)| p.org_name == *org)
            .map(|(_, id)| *id)
            .collect();
        out.push((format!("{name}.paid.{org}"), sorted(set)));
    }
    if published.others.is_some() {
        let set = paid
            .iter()
            .zip(ids)
            .filter(|(p, _)| !named.contains(p.org_name.as_str()))
            .map(|(_, id)| *id)
            .collect();
        out.push((format!("{name}.paid.others"), sorted(set)));
    }
    out
}

/// What the report may publish of its paid receipts.
pub struct Check<'a> {
    pub k: usize,
    /// The case of each item of the report's numbering (paid items already numbered).
    pub item_case: &'a [Option<u32>],
    /// Each item's amount, by number.
    pub item_amount: &'a [i64],
    /// Every set published besides these figures (this report's shown cells, totals, and
    /// every frozen report's figures), named.
    pub published: &'a [(String, Vec<u32>)],
    /// Cells hidden because they concern 1 to k−1 cases (this report's and the frozen
    /// reports'): no published set may bound one within ±10 %.
    pub small: &'a [Vec<u32>],
}

/// Decides what of `paid` (numbered `ids`) is published.
pub fn publish(check: &Check, paid: &[PaidEntry], ids: &[u32]) -> Option<PaidOut> {
    if paid.is_empty() {
        return None;
    }
    let k = check.k;
    let hidden = PaidOut {
        amount: None,
        organisations: Vec::new(),
        others: None,
    };
    let mut total: Vec<u32> = ids.to_vec();
    total.sort_unstable();
    total.dedup();
    let weight = |set: &[u32]| -> i64 { set.iter().map(|i| check.item_amount[*i as usize]).sum() };
    // The total first: hidden when it gives a small set away with what is published...
    let (hide, _) = suppress::secure(
        k,
        check.item_case,
        check.published,
        &[("paid".to_string(), total.clone())],
    );
    // ... or bounds a small hidden cell within ±10 %.
    if !hide.is_empty() || pins(check, &total, check.published) {
        return Some(hidden);
    }
    let mut fixed: Vec<(String, Vec<u32>)> = check.published.to_vec();
    fixed.push(("paid".to_string(), total.clone()));
    // By organisation: cells by id, the organisation's name for what is shown.
    let mut by_org: BTreeMap<&str, (Vec<u32>, i64, &str)> = BTreeMap::new();
    for (p, id) in paid.iter().zip(ids) {
        let e = by_org
            .entry(p.org_id.as_str())
            .or_insert_with(|| (Vec::new(), 0, p.org_name.as_str()));
        e.0.push(*id);
        e.1 += check.item_amount[*id as usize];
    }
    let cells: Vec<Cell> = by_org
        .iter()
        .map(|(org, (items, w, _))| {
            let mut items = items.clone();
            items.sort_unstable();
            items.dedup();
            Cell {
                key: (*org).to_string(),
                items,
                weight: *w,
            }
        })
        .collect();
    let dim = Dimension {
        name: "organisation".into(),
        cells: cells.clone(),
    };
    let out = suppress::suppress(&Input {
        k,
        item_case: check.item_case.to_vec(),
        dimensions: vec![dim],
        fixed: fixed.clone(),
        counted: false,
    });
    let suppressed = &out.suppressed[0];
    let mut shown: Vec<&Cell> = cells
        .iter()
        .filter(|c| !suppressed.contains(&c.key))
        .collect();
    let others: Vec<u32> = {
        let mut v: Vec<u32> = cells
            .iter()
            .filter(|c| suppressed.contains(&c.key))
            .flat_map(|c| c.items.iter().copied())
            .collect();
        v.sort_unstable();
        v
    };
    let mut others_shown = out.other_shown[0] && !out.pinned[0];
    // The dominance rule against the hidden cells of every report: a named organisation
    // (or the others) that bounds one within ±10 % is not published; when a named one
    // would, no organisation is named (the total alone is published).
    let mut with_cells = fixed.clone();
    for c in &shown {
        with_cells.push((c.key.clone(), c.items.clone()));
    }
    // The others are the total less the named ones whether shown or not: when they
    // would pin a small cell, no organisation is named either.
    if shown.iter().any(|c| pins(check, &c.items, &with_cells))
        || (!others.is_empty() && pins(check, &others, &with_cells))
    {
        shown.clear();
        others_shown = false;
    }
    // Never an organisation of fewer than k cases by name, whatever the check said.
    let cases = |items: &[u32]| -> usize {
        items
            .iter()
            .filter_map(|i| check.item_case[*i as usize])
            .collect::<BTreeSet<_>>()
            .len()
    };
    shown.retain(|c| cases(&c.items) >= k);
    if shown.is_empty() && others_shown {
        // The others would be the total: say it once.
        others_shown = false;
    }
    let mut organisations: Vec<PaidCell> = shown
        .iter()
        .map(|c| PaidCell {
            amount: format_cents(c.weight),
            name: by_org
                .get(c.key.as_str())
                .map(|e| e.2)
                .unwrap_or("")
                .to_string(),
        })
        .collect();
    organisations.sort_by(|a, b| a.name.cmp(&b.name));
    Some(PaidOut {
        amount: Some(format_cents(weight(&total))),
        organisations,
        others: (others_shown && !others.is_empty()).then(|| format_cents(weight(&others))),
    })
}

/// The lines a donor reads (the email and the report's pages), after "Spent": the total,
/// each organisation named, the others together. Names are organisations' (staff), never
/// a person helped's.
pub fn rows(language: Language, paid: &PaidOut) -> Vec<(String, String)> {
    let t = |key: &str| i18n::text(language, key);
    let mut out = vec![(
        t("figure-paid"),
        match paid.amount.as_deref() {
            Some(a) => i18n::money_str(language, a),
            None => t("figure-not-shown"),
        },
    )];
    for org in &paid.organisations {
        out.push((
            format!("  {}", org.name),
            i18n::money_str(language, &org.amount),
        ));
    }
    if let Some(others) = &paid.others {
        out.push((
            format!("  {}", t("figure-paid-others")),
            i18n::money_str(language, others),
        ));
    }
    out
}

/// The sets a report's money dimensions publish as decided: each shown cell, and each
/// "other" cell that is shown.
pub fn shown_sets(dims: &[Dimension], outcome: &suppress::Outcome) -> Vec<(String, Vec<u32>)> {
    let mut out = Vec::new();
    for (d, dim) in dims.iter().enumerate() {
        let hidden = &outcome.suppressed[d];
        let mut other: Vec<u32> = Vec::new();
        for cell in &dim.cells {
            if hidden.contains(&cell.key) {
                other.extend(cell.items.iter().copied());
            } else if !cell.items.is_empty() {
                out.push((format!("{}.{}", dim.name, cell.key), cell.items.clone()));
            }
        }
        if outcome.other_shown[d] && !other.is_empty() {
            other.sort_unstable();
            other.dedup();
            out.push((format!("{}.other", dim.name), other));
        }
    }
    out
}

/// Whether `set`'s amount, less the published sets inside it that miss a small hidden
/// cell it holds, bounds that cell within ±10 % (amounts are never negative, so it is an
/// upper bound of the cell).
fn pins(check: &Check, set: &[u32], published: &[(String, Vec<u32>)]) -> bool {
    let amount = |s: &[u32]| -> i128 {
        s.iter()
            .map(|i| i128::from(check.item_amount[*i as usize]))
            .sum()
    };
    let inside =
        |outer: &[u32], inner: &[u32]| inner.iter().all(|i| outer.binary_search(i).is_ok());
    let disjoint = |a: &[u32], b: &[u32]| a.iter().all(|i| b.binary_search(i).is_err());
    let whole = amount(set);
    for small in check.small {
        if small.is_empty() || !inside(set, small) {
            continue;
        }
        // The published sets inside `set` that miss the small cell, largest first, each
        // disjoint from those taken: what anyone can subtract.
        let mut candidates: Vec<&Vec<u32>> = published
            .iter()
            .map(|(_, s)| s)
            .filter(|s| !s.is_empty() && inside(set, s) && disjoint(s, small))
            .collect();
        candidates.sort_by_key(|s| std::cmp::Reverse(amount(s)));
        let mut taken: Vec<u32> = Vec::new();
        let mut known = 0_i128;
        for s in candidates {
            if disjoint(s, &taken) {
                known += amount(s);
                taken.extend(s.iter().copied());
                taken.sort_unstable();
            }
        }
        if 10 * (whole - known) <= 11 * amount(small) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, 12, 0, 0).unwrap()
    }

    fn m(debit: &str, credit: &str, amount: i64, code: &str, reference: &str, d: u32) -> Move {
        Move {
            debit_account_id: debit.into(),
            credit_account_id: credit.into(),
            amount,
            code: code.into(),
            reference: Some(reference.into()),
            created_at: day(d),
        }
    }

    const ORG: &str = "liabilities:owed:org:o1";
    const BANK: &str = "assets:bank:owed";
    const REPLENISH: &str = "assets:bank:to-replenish:o2";
    const ADVANCE: &str = "assets:advances:o2";

    fn window(from: u32, to: u32) -> Window {
        Window {
            start: day(from) - chrono::Duration::hours(12),
            cutoff: day(to) + chrono::Duration::hours(11),
        }
    }

    #[test]
    fn a_payout_pays_the_oldest_receipts_and_a_receipt_counts_once_paid_whole() {
        let moves = vec![
            m(ORG, BANK, 300, "owed", "r1", 1),
            m(ORG, BANK, 200, "owed", "r2", 2),
            // A receipt drawn from an advance beyond what was left: one part each side.
            m(ADVANCE, REPLENISH, 100, "advance-drawn", "r3", 3),
            m(ORG, BANK, 50, "owed", "r3", 3),
            // A batch up to day 2 pays r1 and r2.
            m(BANK, ORG, 500, "payout", "line1", 10),
            // The replenishment is paid; r3's other part is not yet.
            m(REPLENISH, ADVANCE, 100, "payout", "line2", 11),
        ];
        assert_eq!(paid_requests(&moves, window(1, 9)), Vec::<String>::new());
        assert_eq!(paid_requests(&moves, window(10, 12)), ["r1", "r2"]);
        let mut later = moves;
        later.push(m(BANK, ORG, 50, "payout", "line3", 20));
        assert_eq!(paid_requests(&later, window(13, 25)), ["r3"]);
        // Over both windows at once: every receipt, once.
        assert_eq!(paid_requests(&later, window(1, 25)), ["r1", "r2", "r3"]);
    }

    #[test]
    fn a_bounce_makes_its_receipts_unpaid_until_they_are_paid_again() {
        let moves = vec![
            m(ORG, BANK, 300, "owed", "r1", 1),
            m(BANK, ORG, 300, "payout", "line1", 2),
            m(ORG, BANK, 300, "payout-bounce", "line1", 5),
            m(BANK, ORG, 300, "payout", "line2", 8),
        ];
        assert_eq!(paid_requests(&moves, window(1, 3)), ["r1"]);
        assert_eq!(paid_requests(&moves, window(4, 6)), Vec::<String>::new());
        assert_eq!(paid_requests(&moves, window(7, 9)), ["r1"]);
        // A payout that covers part of a receipt pays none of it.
        let part = vec![
            m(ORG, BANK, 300, "owed", "r1", 1),
            m(BANK, ORG, 299, "payout", "line1", 2),
        ];
        assert!(paid_requests(&part, window(1, 3)).is_empty());
    }

    #[test]
    fn a_summary_keeps_its_bytes_with_or_without_the_figure() {
        let value = crate::reports::summary::tests::stored();
        let typed = crate::reports::summary::Summary::parse(&value.to_string()).unwrap();
        assert!(typed.paid_to_organisations.is_none());
        assert!(!serde_json::to_string(&typed).unwrap().contains("paid_to"));
        let mut with = value.clone();
        with["paid_to_organisations"] = serde_json::json!({
            "amount": "3622.50",
            "organisations": [{"amount": "2122.50", "name": "Coalition Exemple"}],
            "others": "1500.00"
        });
        let text = crate::audit::canonical_json(&with);
        let typed = crate::reports::summary::Summary::parse(&text).expect("a summary");
        assert_eq!(serde_json::to_string(&typed).unwrap(), text);
        // Hidden figures are written as null, never left out.
        let mut lost = with.clone();
        lost["paid_to_organisations"]
            .as_object_mut()
            .unwrap()
            .remove("others");
        assert!(crate::reports::summary::Summary::parse(&lost.to_string()).is_none());
    }
}
