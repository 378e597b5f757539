//! Late receipts: a receipt entered after its request's hold expired (the organisation had
//! already paid) waits as `receipt_pending` for a treasurer, who approves it — the money is
//! then taken from available under the rules of an approval: what the fund may spend on
//! the category (restricted gifts), never under the reserve floor, never by the person who
//! asked or who entered the receipt — and it is `settled`; or declines it, and it stays
//! `expired`. The caseworker's organisation is told either way.
//!
//! In the ledger an approved late receipt is a hold of its own (`late-hold:ID`) posted at
//! once (`late-receipt:ID`): the same two checked movements as any approval and receipt,
//! so the exports, the reports and `passage ledger check` read it as they read any
//! settlement. The request's `hold_id` then names that hold and `expired_hold_id` the one
//! that expired (migration 0025).

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Notice, Receipt, Row, Stepped, told_and_audited};
use crate::approval::error::FlowError;
use crate::audit::{self, Actor};
use crate::cases::Staff;
use crate::domain::Money;
use crate::domain::states::RequestStatus;
use crate::funding::payouts;
use crate::ledger::{self, NewTransfer, Outcome, TransferSpec};
use crate::on_tx;
use crate::store::{StoreError, Tx};

/// Records a receipt for an expired request as a late receipt, for a treasurer to decide.
/// The receipt has passed the checks of any receipt.
pub(super) async fn enter(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    row: Row,
    receipt: &Receipt,
) -> Result<Stepped, FlowError> {
    let id = row.id.as_str();
    if row.hold_id.is_none() {
        return Err(FlowError::Conflict(
            "this request never held money, so there is no late receipt to record".into(),
        ));
    }
    if declined(tx, id).await? {
        return Err(FlowError::Conflict(
            "a treasurer already declined a late receipt for this request: ask a new request or call the treasurer back".into(),
        ));
    }
    store(tx, now, staff, id, receipt).await?;
    let payer = payouts::payer(
        tx,
        &row.org_id,
        receipt.paid_by,
        receipt.vendor_id.as_deref(),
    )
    .await?;
    payouts::record_payer(tx, id, &payer).await?;
    told_and_audited(
        tx,
        now,
        staff,
        id,
        "request.late_receipt",
        &json!({"amount": receipt.amount.cents(), "hold_amount": row.amount}),
        |request| Notice::LateReceipt { request },
    )
    .await
}

/// Keeps the late receipt on its request, which waits for a treasurer from now (and
/// escalates from now if nobody decides).
async fn store(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
    receipt: &Receipt,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE requests SET status = $2, spent = $3, vendor = $4, receipt_reference = $5,
                             paid_on = $6, attested = $7, original_currency = $8,
                             original_amount = $9, late_receipt_at = $10, late_receipt_by = $11,
                             closed_at = NULL, escalated_at = NULL
         WHERE id = $1 AND status = $12",
    )
    .bind(id)
    .bind(RequestStatus::ReceiptPending)
    .bind(receipt.amount.cents())
    .bind(&receipt.vendor)
    .bind(&receipt.reference)
    .bind(receipt.paid_on.to_string())
    .bind(receipt.attested)
    .bind(receipt.original.as_ref().map(|o| o.currency.clone()))
    .bind(receipt.original.as_ref().map(|o| o.amount.to_string()))
    .bind(now)
    .bind(&staff.user_id)
    .bind(RequestStatus::Expired)
    .execute(c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Who entered a waiting late receipt (who may not approve it).
pub async fn entered_by(tx: &mut Tx, id: &str) -> Result<Option<String>, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "SELECT late_receipt_by FROM requests WHERE id = $1"
    )
    .bind(id)
    .fetch_one(c)
    .await)?)
}

/// The hold an approved late receipt is paid by: a hold of its own, posted at once.
pub(super) fn hold_for(request_id: &str, amount: Money, expires_at: DateTime<Utc>) -> NewTransfer {
    NewTransfer {
        id: format!("late-hold:{request_id}"),
        ..super::hold_for(request_id, amount, expires_at)
    }
}

/// Pays an approved late receipt: its hold (placed and checked by [`super::approve`]) is
/// posted for all of it, and the request is `settled`.
pub(super) async fn pay(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    id: &str,
    hold_id: &str,
) -> Result<(), FlowError> {
    let post = NewTransfer {
        id: format!("late-receipt:{id}"),
        spec: TransferSpec::Post {
            pending_id: hold_id.to_string(),
            amount: None,
        },
        code: "receipt".into(),
        reference: Some(id.to_string()),
    };
    let settlement = match ledger::create_transfer(tx, now, actor, &post).await? {
        Outcome::Created(t) | Outcome::Exists(t) => t.id,
        Outcome::Rejected(r) => {
            return Err(FlowError::Conflict(format!(
                "the ledger refused the late receipt: {}",
                r.as_str()
            )));
        }
    };
    let (spent, org_id): (i64, String) = on_tx!(tx, c => sqlx::query_as(
        "UPDATE requests SET status = $2, expired_hold_id = hold_id, hold_id = $3,
                             settlement_id = $4, closed_at = $5
         WHERE id = $1
         RETURNING spent, org_id",
    )
    .bind(id)
    .bind(RequestStatus::Settled)
    .bind(hold_id)
    .bind(&settlement)
    .bind(now)
    .fetch_one(c)
    .await)?;
    // What the fund now owes, and to whom (issue 18).
    let payer = payouts::recorded_payer(tx, id, &org_id).await?;
    payouts::owe(tx, now, actor, id, &org_id, &payer, spent).await?;
    audit::append(
        tx,
        now,
        actor,
        "request.receipt",
        &format!("request:{id}"),
        &json!({"spent": spent, "released": 0, "late": true}),
    )
    .await?;
    Ok(())
}

/// A treasurer (`declined_by`) declined the late receipt ([`super::decline`]): its amount is
/// forgotten, and the request takes no other.
pub(super) async fn forget(
    tx: &mut Tx,
    id: &str,
    now: DateTime<Utc>,
    declined_by: &str,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE requests SET spent = NULL, late_declined_at = $2, decided_by = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(now)
    // Who declined it is who the organisation that already paid calls back.
    .bind(declined_by)
    .execute(c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Whether a treasurer declined a late receipt for this request (it takes no other).
pub async fn declined(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    let at: Option<Option<DateTime<Utc>>> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT late_declined_at FROM requests WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(c)
    .await)?;
    Ok(at.flatten().is_some())
}

/// A hold that waits for its receipt, for the treasurers' list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WaitingHold {
    pub id: String,
    pub case_code: String,
    pub category: String,
    pub amount: i64,
    pub org_id: String,
    pub org_name: String,
    pub expires_at: DateTime<Utc>,
}

/// The holds of approved requests that wait for their receipt, oldest first.
pub async fn holds_waiting(tx: &mut Tx) -> Result<Vec<WaitingHold>, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_as::<_, WaitingHold>(
        "SELECT r.id, r.case_code, r.category, r.amount, r.org_id, o.name AS org_name,
                t.expires_at
         FROM requests r
         JOIN transfers t ON t.id = r.hold_id
         JOIN orgs o ON o.id = r.org_id
         WHERE r.status = $1
         ORDER BY t.created_at, r.id
         LIMIT 500",
    )
    .bind(RequestStatus::Approved)
    .fetch_all(c)
    .await)?)
}

/// Late receipts waiting for a treasurer, oldest first.
pub async fn waiting(
    tx: &mut Tx,
    dual_above: Money,
) -> Result<Vec<super::RequestView>, StoreError> {
    let sql = format!(
        "{} WHERE r.status = $1 ORDER BY r.late_receipt_at, r.id LIMIT 500",
        super::SELECT_ROW
    );
    let rows: Vec<Row> = on_tx!(tx, c => sqlx::query_as(&sql)
        .bind(RequestStatus::ReceiptPending)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(|r| r.view(dual_above)).collect())
}
