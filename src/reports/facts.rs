//! What a report is computed from, read from the ledger and the request book for one
//! window `[start, cutoff]`.
//!
//! Only facts that never change once written are read, so recomputing a report later
//! (verification) gives the same figures: transfers (immutable), the category, case,
//! nights and scope of a request (fixed when it is made), the province of a case (fixed
//! when it is opened), a decision's time (set once) and a gift's kind and restriction
//! (set when it is recorded). Notes, cities, vendors and references are never read.

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;

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

/// Reads the facts of `window` inside `tx` (a snapshot or the sealing transaction).
pub async fn read(tx: &mut Tx, window: Window) -> Result<Facts, StoreError> {
    let opening = fund_money_before(tx, window.start, false).await?;
    let closing = fund_money_before(tx, window.cutoff, true).await?;
    let (received, disbursed): (i64, i64) = on_tx!(tx, c => sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN credit_account_id = $1 AND debit_account_id = $6 AND kind = $4 THEN amount ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN debit_account_id = $1 AND credit_account_id = $7 AND kind IN ($4, $5) THEN amount ELSE 0 END), 0) AS BIGINT)
         FROM transfers WHERE created_at >= $2 AND created_at <= $3",
    )
    .bind(FUND)
    .bind(window.start)
    .bind(window.cutoff)
    .bind(TransferKind::Single)
    .bind(TransferKind::Post)
    .bind(DONATIONS)
    .bind(SPENT)
    .fetch_one(c)
    .await)?;
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
    let items: Vec<Item> = on_tx!(tx, c => sqlx::query_as::<_, Item>(
        "SELECT t.id AS transfer_id, t.amount, r.case_code, r.category, k.province, r.nights, r.scope
         FROM transfers t
         LEFT JOIN requests r ON t.kind = $5 AND r.hold_id = t.pending_id
         LEFT JOIN cases k ON k.code = r.case_code
         WHERE t.debit_account_id = $1 AND t.credit_account_id = $6 AND t.kind IN ($4, $5)
           AND t.created_at >= $2 AND t.created_at <= $3",
    )
    .bind(FUND)
    .bind(window.start)
    .bind(window.cutoff)
    .bind(TransferKind::Single)
    .bind(TransferKind::Post)
    .bind(SPENT)
    .fetch(c)
    .try_collect()
    .await)?;
    let holds: Vec<(i64, Option<String>)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT h.amount, r.case_code FROM transfers h
         LEFT JOIN requests r ON r.hold_id = h.id
         WHERE h.kind = $3 AND h.debit_account_id = $1 AND h.created_at <= $2
           AND NOT EXISTS (SELECT 1 FROM transfers x WHERE x.pending_id = h.id AND x.created_at <= $2)",
    )
    .bind(FUND)
    .bind(window.cutoff)
    .bind(TransferKind::Pending)
    .fetch_all(c)
    .await)?;
    // A treasurer's decision: not automatic, and either approved by a treasurer or taken
    // after the request was made (a decline by the rules is taken in the same moment).
    let decided: Vec<(String, DateTime<Utc>, DateTime<Utc>, bool)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT case_code, created_at, decided_at,
                (NOT automatic AND (decided_at > created_at OR EXISTS
                    (SELECT 1 FROM request_approvals a WHERE a.request_id = requests.id))) AS by_treasurer
         FROM requests
         WHERE decided_at >= $1 AND decided_at <= $2",
    )
    .bind(window.start)
    .bind(window.cutoff)
    .fetch_all(c)
    .await)?;
    let mut items = items;
    // A fixed order, whatever order the engine returned the rows in.
    items.sort_by(|a, b| a.transfer_id.cmp(&b.transfer_id));
    let mut holds = holds;
    holds.sort();
    let seconds =
        |asked: DateTime<Utc>, decided: DateTime<Utc>| (decided - asked).num_seconds().max(0);
    let mut decisions: Vec<(String, i64)> = decided
        .iter()
        .map(|(case, asked, decided, _)| (case.clone(), seconds(*asked, *decided)))
        .collect();
    decisions.sort();
    let mut treasurer_decisions: Vec<(String, i64)> = decided
        .iter()
        .filter(|(_, _, _, by_treasurer)| *by_treasurer)
        .map(|(case, asked, decided, _)| (case.clone(), seconds(*asked, *decided)))
        .collect();
    treasurer_decisions.sort();
    let paid = super::paid_out::read(tx, window).await?;
    Ok(Facts {
        window,
        opening,
        closing,
        received,
        disbursed,
        gifts: Gifts {
            unrestricted: gifts.0,
            restricted: gifts.1,
            in_kind: gifts.2,
            count: gifts.3,
        },
        items,
        holds,
        decisions,
        treasurer_decisions,
        paid,
    })
}
