//! The digest of the ledger entries a report covers, kept when it is frozen, so that
//! `reports verify` checks the books without recomputing the report's figures with the
//! code of the day (whose rules of suppression or format may have changed since).
//!
//! The digest is SHA-256 over lines, each a JSON array of strings and integers followed by
//! a newline, in this order (each kind sorted by id):
//! 1. `["passage-ledger-digest-v1", start, cutoff]`: the window (the first and the last
//!    moment covered);
//! 2. `["opening", cents]`: the fund's money (available and held) just before the window;
//! 3. `["transfer", id, kind, debit, credit, amount, pending_id, expires_at, code, created_at]`
//!    for every transfer made in the window;
//! 4. `["open_hold", id, amount, created_at]` for every hold placed by the cut-off and not
//!    resolved by it (the holds outstanding);
//! 5. `["donation", id, kind, amount, restricted_to, created_at]` for every gift recorded in
//!    the window;
//! 6. `["request", id, case_code, province, category, nights, scope, hold_id, created_at,
//!    decided_at]` for every request decided in the window or whose hold is one of the
//!    transfers above.
//!
//! Absent values are `null`; times are written as the audit trail writes them. Only columns
//! that never change once written are read (no note, city, vendor or reference, which are
//! purged), so the digest of a report is the same a year later unless the books were edited.
//! A later release that changes this list must keep this version to verify older reports.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::facts::Window;
use crate::audit::canonical_time;
use crate::ledger::{FUND, TransferKind};
use crate::on_tx;
use crate::store::{StoreError, Tx};

pub const VERSION: &str = "passage-ledger-digest-v1";

fn time(at: Option<DateTime<Utc>>) -> Value {
    at.map(|t| json!(canonical_time(t))).unwrap_or(Value::Null)
}

type TransferLine = (
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<DateTime<Utc>>,
    String,
    DateTime<Utc>,
);

type GiftLine = (String, String, i64, Option<String>, DateTime<Utc>);

type RequestLine = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

/// The lines of `window`, read inside `tx` (the sealing transaction or a snapshot).
pub async fn lines(tx: &mut Tx, window: Window) -> Result<Vec<String>, StoreError> {
    let mut out = vec![json!([
        VERSION,
        canonical_time(window.start),
        canonical_time(window.cutoff)
    ])];
    let opening = super::facts::fund_money_before(tx, window.start, false).await?;
    out.push(json!(["opening", opening]));
    let transfers: Vec<TransferLine> = on_tx!(tx, c => sqlx::query_as(
        "SELECT id, kind, debit_account_id, credit_account_id, amount, pending_id, expires_at, code, created_at
         FROM transfers WHERE created_at >= $1 AND created_at <= $2 ORDER BY id"
    )
    .bind(window.start)
    .bind(window.cutoff)
    .fetch_all(c)
    .await)?;
    for (id, kind, debit, credit, amount, pending, expires, code, at) in transfers {
        out.push(json!([
            "transfer",
            id,
            kind,
            debit,
            credit,
            amount,
            pending,
            time(expires),
            code,
            canonical_time(at)
        ]));
    }
    let holds: Vec<(String, i64, DateTime<Utc>)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT h.id, h.amount, h.created_at FROM transfers h
         WHERE h.kind = $3 AND h.debit_account_id = $1 AND h.created_at <= $2
           AND NOT EXISTS (SELECT 1 FROM transfers x WHERE x.pending_id = h.id AND x.created_at <= $2)
         ORDER BY h.id"
    )
    .bind(FUND)
    .bind(window.cutoff)
    .bind(TransferKind::Pending)
    .fetch_all(c)
    .await)?;
    for (id, amount, at) in holds {
        out.push(json!(["open_hold", id, amount, canonical_time(at)]));
    }
    let gifts: Vec<GiftLine> = on_tx!(tx, c => sqlx::query_as(
        "SELECT id, kind, amount, restricted_to, created_at FROM donations
         WHERE created_at >= $1 AND created_at <= $2 ORDER BY id"
    )
    .bind(window.start)
    .bind(window.cutoff)
    .fetch_all(c)
    .await)?;
    for (id, kind, amount, restricted, at) in gifts {
        out.push(json!([
            "donation",
            id,
            kind,
            amount,
            restricted,
            canonical_time(at)
        ]));
    }
    let requests: Vec<RequestLine> = on_tx!(tx, c => sqlx::query_as(
        "SELECT r.id, r.case_code, k.province, r.category, r.nights, r.scope, r.hold_id,
                r.created_at, r.decided_at
         FROM requests r LEFT JOIN cases k ON k.code = r.case_code
         WHERE (r.decided_at >= $1 AND r.decided_at <= $2)
            OR r.hold_id IN (SELECT id FROM transfers WHERE created_at >= $1 AND created_at <= $2)
            OR r.hold_id IN (SELECT pending_id FROM transfers
                             WHERE pending_id IS NOT NULL AND created_at >= $1 AND created_at <= $2)
         ORDER BY r.id"
    )
    .bind(window.start)
    .bind(window.cutoff)
    .fetch_all(c)
    .await)?;
    for (id, case, province, category, nights, scope, hold, at, decided) in requests {
        out.push(json!([
            "request",
            id,
            case,
            province,
            category,
            nights,
            scope,
            hold,
            canonical_time(at),
            time(decided)
        ]));
    }
    Ok(out.iter().map(|l| format!("{l}\n")).collect())
}

/// SHA-256 in hex of the lines of `window`.
pub async fn ledger_digest(tx: &mut Tx, window: Window) -> Result<String, StoreError> {
    let mut hasher = Sha256::new();
    for line in lines(tx, window).await? {
        hasher.update(line.as_bytes());
    }
    Ok(hex::encode(hasher.finalize()))
}
