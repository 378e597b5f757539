//! What a report is computed from, read from the ledger and the request book for one
//! window `[start, cutoff]`.
//!
//! Only facts that never change once written are read, so recomputing a report later
//! (verification) gives the same figures: transfers (immutable), the category, case,
//! nights and scope of a request (fixed when it is made), the province of a case (fixed
//! when it is opened), a decision's time (set once) and a gift's kind and restriction
//! (set when it is recorded). Notes, cities, vendors and references are never read.

use chrono::{DateTime, Utc};
use std::collections::HashMap;

use futures_util::TryStreamExt;
use sqlx::Row;

use crate::ledger::{DONATIONS, FUND, SPENT, TransferKind};
use crate::on_tx;
use crate::store::{StoreError, Tx};

/// The moments a report covers, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub cutoff: DateTime<Utc>,
}

/// One disbursement: money that left the fund (a receipt settling a hold, or a transfer
/// made straight through the ledger, which no case accounts for).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Item {
    pub transfer_id: String,
    pub amount: i64,
    pub case_code: Option<String>,
    pub category: Option<String>,
    pub province: Option<String>,
    pub nights: Option<i64>,
    pub scope: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Gifts {
    pub unrestricted: i64,
    pub restricted: i64,
    pub in_kind: i64,
    pub count: i64,
}

/// Everything a report needs about one window, in cents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub window: Window,
    /// The fund's money (available + held) just before the window.
    pub opening: i64,
    /// ... and at its cut-off.
    pub closing: i64,
    /// Cash that entered the fund in the window, by the ledger.
    pub received: i64,
    /// Cash that left the fund in the window, by the ledger.
    pub disbursed: i64,
    pub gifts: Gifts,
    pub items: Vec<Item>,
    /// Holds placed by the cut-off and not resolved by it: amount and case.
    pub holds: Vec<(i64, Option<String>)>,
    /// Decisions taken in the window: the case and the seconds from request to decision.
    pub decisions: Vec<(String, i64)>,
    /// Those of them a treasurer took (the others the rules answered at once, in the
    /// request's own transaction): the case and the seconds from request to decision.
    pub treasurer_decisions: Vec<(String, i64)>,
    /// The receipts (of this window or an earlier one) that became paid back to whoever
    /// paid them in the window (`paid_out`).
    pub paid: Vec<super::paid_out::PaidItem>,
}

/// The fund's money (what came in as gifts, less what went out as spending) before `at`,
/// or up to it when `inclusive`: the report's opening and closing balances, and the
/// digest's opening line, from this one query. Only gifts (from the donations account)
/// come in and only spending (to the spent account) goes out: money moved between the
/// fund's own accounts, such as an advance paid to an organisation (issue 18) or its
/// bounce, is still the fund's.
pub(crate) async fn fund_money_before(
    tx: &mut Tx,
    at: DateTime<Utc>,
    inclusive: bool,
) -> Result<i64, StoreError> {
    let op = if inclusive { "<=" } else { "<" };
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(CASE WHEN credit_account_id = $1 AND debit_account_id = $5 AND kind = $3 THEN amount ELSE 0 END), 0) AS BIGINT)
              - CAST(COALESCE(SUM(CASE WHEN debit_account_id = $1 AND credit_account_id = $6 AND kind IN ($3, $4) THEN amount ELSE 0 END), 0) AS BIGINT)
         FROM transfers WHERE created_at {op} $2"
    );
    Ok(on_tx!(tx, c => sqlx::query_scalar::<_, i64>(&sql)
        .bind(FUND)
        .bind(at)
        .bind(TransferKind::Single)
        .bind(TransferKind::Post)
        .bind(DONATIONS)
        .bind(SPENT)
        .fetch_one(c)
        .await)?)
}

/// One disbursement as the suppression check reads it, in a few bytes: its case, category,
/// province and scope by their numbers in [`Book::cases`] and [`Book::names`], its amount,
/// the transfers it stands for (one when read from the ledger; a test may group them) and
/// its hotel nights (0 when none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub case: Option<u32>,
    pub category: Option<u16>,
    pub province: Option<u16>,
    pub scope: Option<u16>,
    pub transfers: u32,
    pub amount: i64,
    pub nights: i64,
}

/// The disbursements of a report and of the reports it is compared with, each read once
/// however many of their windows hold it, and the words they use: case codes sorted (a
/// case's number orders as its code does) and the categories, provinces and scopes.
#[derive(Debug, Clone, Default)]
pub struct Book {
    pub entries: Vec<Entry>,
    pub cases: Vec<String>,
    pub names: Vec<String>,
}

/// How a window's decisions were taken, reduced to what a summary publishes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decided {
    pub count: usize,
    pub cases: usize,
    /// The seconds from request to decision, sorted.
    pub seconds: Vec<i64>,
    /// Those a treasurer took (see [`Facts::treasurer_decisions`]).
    pub treasurer_count: usize,
    pub treasurer_cases: usize,
    pub treasurer_seconds: Vec<i64>,
    /// Distinct cases of the decisions the rules took at once.
    pub at_once_cases: usize,
}

/// [`Facts`] with the spending as groups of a [`Book`] (their numbers, in the order of
/// the first transfer of each) and the holds' cases as numbers of its cases. The
/// decisions are read for the report itself only (`None` for those it is compared with).
#[derive(Debug, Clone)]
pub struct Grouped {
    pub window: Window,
    pub opening: i64,
    pub closing: i64,
    pub received: i64,
    pub disbursed: i64,
    pub gifts: Gifts,
    pub items: Vec<u32>,
    pub holds: Vec<(i64, Option<u32>)>,
    pub decided: Option<Decided>,
    /// The receipts that became paid back in the window (`paid_out`), their settlements
    /// numbered in the book (read for the report itself, and for the reports it is
    /// compared with that published them).
    pub paid: Vec<super::paid_out::PaidEntry>,
}

/// Builds a [`Book`], with the id of each entry's transfer (kept in one string) to order
/// them as a report reads transfers.
#[derive(Default)]
pub(crate) struct BookBuilder {
    entries: Vec<Entry>,
    ids: String,
    id_at: Vec<(usize, usize)>,
    cases: HashMap<String, u32>,
    names: HashMap<String, u16>,
    /// The entries by their transfer's id, for [`BookBuilder::find_or_add`]: the first
    /// `indexed` entries.
    by_id: HashMap<String, u32>,
    indexed: usize,
}

impl BookBuilder {
    /// The entry of `item`'s transfer, added when no window read it (a receipt paid back
    /// in a window that settled before every window compared).
    pub(crate) fn find_or_add(&mut self, item: &Item) -> u32 {
        while self.indexed < self.entries.len() {
            let n = self.indexed as u32;
            let id = self.id(n).to_string();
            self.by_id.entry(id).or_insert(n);
            self.indexed += 1;
        }
        if let Some(n) = self.by_id.get(&item.transfer_id) {
            return *n;
        }
        let entry = Entry {
            case: item.case_code.as_deref().map(|c| self.case(c)),
            category: item.category.as_deref().map(|c| self.name(c)),
            province: item.province.as_deref().map(|c| self.name(c)),
            scope: item.scope.as_deref().map(|c| self.name(c)),
            amount: item.amount,
            transfers: 1,
            nights: item.nights.unwrap_or(0),
        };
        self.add(&item.transfer_id, entry)
    }

    pub(crate) fn case(&mut self, code: &str) -> u32 {
        if let Some(n) = self.cases.get(code) {
            return *n;
        }
        let n = self.cases.len() as u32;
        self.cases.insert(code.to_string(), n);
        n
    }

    /// A category's, province's or scope's number. They are a few dozen words (the
    /// database checks provinces; categories and scopes are the service's own lists).
    pub(crate) fn name(&mut self, name: &str) -> u16 {
        if let Some(n) = self.names.get(name) {
            return *n;
        }
        let n = u16::try_from(self.names.len()).unwrap_or(u16::MAX);
        self.names.insert(name.to_string(), n);
        n
    }

    pub(crate) fn add(&mut self, transfer_id: &str, entry: Entry) -> u32 {
        self.entries.push(entry);
        self.id_at.push((self.ids.len(), transfer_id.len()));
        self.ids.push_str(transfer_id);
        (self.entries.len() - 1) as u32
    }

    fn id(&self, entry: u32) -> &str {
        let (at, len) = self.id_at[entry as usize];
        &self.ids[at..at + len]
    }

    /// Sorts `items` by their transfer's id (the order a report reads transfers in).
    pub(crate) fn order(&self, items: &mut [u32]) {
        items.sort_by(|a, b| self.id(*a).cmp(self.id(*b)));
    }

    /// The book, and the new number of each case (numbered as their codes sort).
    pub(crate) fn finish(self) -> (Book, Vec<u32>) {
        let mut cases: Vec<(String, u32)> = self.cases.into_iter().collect();
        cases.sort_unstable();
        let mut renumber = vec![0_u32; cases.len()];
        for (rank, (_, old)) in cases.iter().enumerate() {
            renumber[*old as usize] = rank as u32;
        }
        let mut entries = self.entries;
        for e in &mut entries {
            e.case = e.case.map(|c| renumber[c as usize]);
        }
        let mut names = vec![String::new(); self.names.len()];
        for (name, n) in self.names {
            if let Some(slot) = names.get_mut(usize::from(n)) {
                *slot = name;
            }
        }
        (
            Book {
                entries,
                cases: cases.into_iter().map(|(c, _)| c).collect(),
                names,
            },
            renumber,
        )
    }
}

/// The disbursements of `[$2, $3)`, one row each, with the case, category, province,
/// nights and scope of the request a receipt settles (none for a transfer made straight
/// through the ledger).
const SPENDING: &str =
    "SELECT t.id, t.amount, r.case_code, r.category, k.province, r.nights, r.scope
     FROM transfers t
     LEFT JOIN requests r ON t.kind = $5 AND r.hold_id = t.pending_id
     LEFT JOIN cases k ON k.code = r.case_code
     WHERE t.debit_account_id = $1 AND t.credit_account_id = $6 AND t.kind IN ($4, $5)
       AND t.created_at >= $2 AND t.created_at < $3";

/// The fund's money in and out before a window and up to its cut-off, in one pass:
/// (gifts before, spending before, gifts up to the cut-off, spending up to it).
async fn money_up_to(tx: &mut Tx, window: Window) -> Result<(i64, i64, i64, i64), StoreError> {
    // Nearly every row is before the cut-off: SQLite reads the table straight through
    // rather than through the index on time, which costs a look-up per row.
    let table = match tx {
        Tx::Sqlite(_) => "transfers NOT INDEXED",
        Tx::Postgres(_) => "transfers",
    };
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(CASE WHEN created_at < $2 AND credit_account_id = $1 AND debit_account_id = $6 AND kind = $4 THEN amount ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN created_at < $2 AND debit_account_id = $1 AND credit_account_id = $7 AND kind IN ($4, $5) THEN amount ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN credit_account_id = $1 AND debit_account_id = $6 AND kind = $4 THEN amount ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN debit_account_id = $1 AND credit_account_id = $7 AND kind IN ($4, $5) THEN amount ELSE 0 END), 0) AS BIGINT)
         FROM {table} WHERE created_at <= $3"
    );
    Ok(on_tx!(tx, c => sqlx::query_as(&sql)
    .bind(FUND)
    .bind(window.start)
    .bind(window.cutoff)
    .bind(TransferKind::Single)
    .bind(TransferKind::Post)
    .bind(DONATIONS)
    .bind(SPENT)
    .fetch_one(c)
    .await)?)
}

async fn gifts_in(tx: &mut Tx, window: Window) -> Result<Gifts, StoreError> {
    let gifts: (i64, i64, i64, i64) = on_tx!(tx, c => sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN kind = 'cash' AND restricted_to IS NULL THEN amount ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN kind = 'cash' AND restricted_to IS NOT NULL THEN amount ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN kind = 'in_kind' THEN amount ELSE 0 END), 0) AS BIGINT),
                COUNT(*)
         FROM donations WHERE created_at >= $1 AND created_at <= $2",
    )
    .bind(window.start)
    .bind(window.cutoff)
    .fetch_one(c)
    .await)?;
    Ok(Gifts {
        unrestricted: gifts.0,
        restricted: gifts.1,
        in_kind: gifts.2,
        count: gifts.3,
    })
}

async fn holds_at(
    tx: &mut Tx,
    cutoff: DateTime<Utc>,
) -> Result<Vec<(i64, Option<String>)>, StoreError> {
    let mut holds: Vec<(i64, Option<String>)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT h.amount, r.case_code FROM transfers h
         LEFT JOIN requests r ON r.hold_id = h.id
         WHERE h.kind = $3 AND h.debit_account_id = $1 AND h.created_at <= $2
           AND NOT EXISTS (SELECT 1 FROM transfers x WHERE x.pending_id = h.id AND x.created_at <= $2)",
    )
    .bind(FUND)
    .bind(cutoff)
    .bind(TransferKind::Pending)
    .fetch_all(c)
    .await)?;
    holds.sort();
    Ok(holds)
}

/// The window's decisions, reduced (see [`Decided`]); cases are counted by `book`'s numbers.
async fn decided_in(
    tx: &mut Tx,
    window: Window,
    book: &mut BookBuilder,
) -> Result<Decided, StoreError> {
    let mut all: Vec<(u32, i64, bool)> = Vec::new();
    on_tx!(tx, c => {
        let mut rows = sqlx::query_as::<_, (String, DateTime<Utc>, DateTime<Utc>, bool)>(
            "SELECT case_code, created_at, decided_at,
                    (NOT automatic AND (decided_at > created_at OR EXISTS
                        (SELECT 1 FROM request_approvals a WHERE a.request_id = requests.id))) AS by_treasurer
             FROM requests
             WHERE decided_at >= $1 AND decided_at <= $2",
        )
        .bind(window.start)
        .bind(window.cutoff)
        .fetch(c);
        while let Some((case, asked, decided, by_treasurer)) = rows.try_next().await? {
            let seconds = (decided - asked).num_seconds().max(0);
            all.push((book.case(&case), seconds, by_treasurer));
        }
    });
    Ok(Decided::of(&all))
}

impl Decided {
    /// From each decision's case, seconds and whether a treasurer took it.
    pub(crate) fn of(all: &[(u32, i64, bool)]) -> Decided {
        let distinct = |f: &dyn Fn(bool) -> bool| {
            let mut cases: Vec<u32> = all.iter().filter(|d| f(d.2)).map(|d| d.0).collect();
            cases.sort_unstable();
            cases.dedup();
            cases.len()
        };
        let mut seconds: Vec<i64> = all.iter().map(|d| d.1).collect();
        seconds.sort_unstable();
        let mut treasurer_seconds: Vec<i64> = all.iter().filter(|d| d.2).map(|d| d.1).collect();
        treasurer_seconds.sort_unstable();
        Decided {
            count: all.len(),
            cases: distinct(&|_| true),
            treasurer_count: treasurer_seconds.len(),
            treasurer_cases: distinct(&|t| t),
            at_once_cases: distinct(&|t| !t),
            seconds,
            treasurer_seconds,
        }
    }
}

/// Reads, in one snapshot, what a report of `current` needs and what it needs of the
/// reports of `others` it is compared with, with the spending grouped once for all of them
/// (see [`Entry`]): each transfer is read once, however many windows hold it. The
/// receipts paid back (`paid_out`) are read for `current`, and for each of `others` whose
/// flag in `paid_of` is set (those that published them).
pub async fn read_grouped(
    tx: &mut Tx,
    current: Window,
    others: &[Window],
    paid_of: &[bool],
) -> Result<(Book, Grouped, Vec<Grouped>), StoreError> {
    let micro = chrono::Duration::microseconds(1);
    let windows: Vec<Window> = std::iter::once(current)
        .chain(others.iter().copied())
        .collect();
    // The edges of the stretches of time that lie wholly inside or outside each window.
    let mut edges: Vec<DateTime<Utc>> = windows
        .iter()
        .flat_map(|w| [w.start, w.cutoff + micro])
        .collect();
    edges.sort();
    edges.dedup();
    let mut book = BookBuilder::default();
    let mut items: Vec<Vec<u32>> = vec![Vec::new(); windows.len()];
    for stretch in edges.windows(2) {
        let (from, until) = (stretch[0], stretch[1]);
        let inside: Vec<usize> = (0..windows.len())
            .filter(|w| windows[*w].start <= from && until <= windows[*w].cutoff + micro)
            .collect();
        if inside.is_empty() {
            continue;
        }
        let mut ids = Vec::new();
        on_tx!(tx, c => {
            let mut rows = sqlx::query(SPENDING)
                .bind(FUND)
                .bind(from)
                .bind(until)
                .bind(TransferKind::Single)
                .bind(TransferKind::Post)
                .bind(SPENT)
                .fetch(c);
            while let Some(row) = rows.try_next().await? {
                let word = |book: &mut BookBuilder, column: usize| -> Result<Option<u16>, sqlx::Error> {
                    Ok(row.try_get::<Option<&str>, _>(column)?.map(|w| book.name(w)))
                };
                let entry = Entry {
                    case: row.try_get::<Option<&str>, _>(2)?.map(|c| book.case(c)),
                    category: word(&mut book, 3)?,
                    province: word(&mut book, 4)?,
                    scope: word(&mut book, 6)?,
                    transfers: 1,
                    amount: row.try_get(1)?,
                    nights: row.try_get::<Option<i64>, _>(5)?.unwrap_or(0),
                };
                ids.push(book.add(row.try_get(0)?, entry));
            }
        });
        for w in inside {
            items[w].extend(&ids);
        }
    }
    for list in &mut items {
        book.order(list);
    }
    let mut grouped = Vec::new();
    let mut hold_codes = Vec::new();
    for (w, (window, items)) in windows.iter().zip(items).enumerate() {
        let holds = holds_at(tx, window.cutoff).await?;
        let holds: Vec<(i64, Option<u32>)> = holds
            .into_iter()
            .map(|(amount, case)| (amount, case.map(|c| book.case(&c))))
            .collect();
        hold_codes.push(holds);
        let (opening, closing, received, disbursed, gifts, decided) = if w == 0 {
            let (in_before, out_before, in_upto, out_upto) = money_up_to(tx, *window).await?;
            (
                in_before - out_before,
                in_upto - out_upto,
                in_upto - in_before,
                out_upto - out_before,
                gifts_in(tx, *window).await?,
                Some(decided_in(tx, *window, &mut book).await?),
            )
        } else {
            (0, 0, 0, 0, Gifts::default(), None)
        };
        let paid = if w == 0 || paid_of.get(w - 1).copied().unwrap_or(false) {
            super::paid_out::read(tx, *window)
                .await?
                .into_iter()
                .map(|p| super::paid_out::PaidEntry {
                    entry: book.find_or_add(&p.item),
                    org_id: p.org_id,
                    org_name: p.org_name,
                })
                .collect()
        } else {
            Vec::new()
        };
        grouped.push(Grouped {
            window: *window,
            opening,
            closing,
            received,
            disbursed,
            gifts,
            items,
            holds: Vec::new(),
            decided,
            paid,
        });
    }
    let (book, renumber) = book.finish();
    for (g, holds) in grouped.iter_mut().zip(hold_codes) {
        g.holds = holds
            .into_iter()
            .map(|(amount, case)| (amount, case.map(|c| renumber[c as usize])))
            .collect();
    }
    let current = grouped.remove(0);
    Ok((book, current, grouped))
}
