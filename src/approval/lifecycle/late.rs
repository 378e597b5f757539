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

use super::{
    Notice, Receipt, Row, Stepped, close, find, open_to, set_status, usable_cents, versions,
    view_of,
};
use crate::approval::error::{FlowError, invalid};
use crate::audit;
use crate::cases::Staff;
use crate::domain::Money;
use crate::domain::money::format_cents;
use crate::domain::note::Note;
use crate::domain::request::Category;
use crate::domain::states::RequestStatus;
use crate::funding::{payouts, reserves, restricted};
use crate::ledger::{self, FUND, NewTransfer, Outcome, Rejection, SPENT, TransferSpec};
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
    let declined: Option<DateTime<Utc>> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT late_declined_at FROM requests WHERE id = $1"
    )
    .bind(id)
    .fetch_one(c)
    .await)?;
    if declined.is_some() {
        return Err(FlowError::Conflict(
            "a treasurer already declined a late receipt for this request: ask a new request or call the treasurer back".into(),
        ));
    }
    on_tx!(tx, c => sqlx::query(
        "UPDATE requests SET status = $2, spent = $3, vendor = $4, receipt_reference = $5,
                             paid_on = $6, attested = $7, original_currency = $8,
                             original_amount = $9, late_receipt_at = $10, late_receipt_by = $11,
                             closed_at = NULL
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
    let payer = payouts::payer(
        tx,
        &row.org_id,
        receipt.paid_by,
        receipt.vendor_id.as_deref(),
    )
    .await?;
    payouts::record_payer(tx, id, &payer).await?;
    audit::append(
        tx,
        now,
        &staff.actor(),
        "request.late_receipt",
        &format!("request:{id}"),
        &json!({"amount": receipt.amount.cents(), "hold_amount": row.amount}),
    )
    .await?;
    let dual_above = versions::current(tx, now)
        .await?
        .policy
        .dual_approval_above();
    let notices = view_of(tx, id, dual_above)
        .await?
        .map(|request| Notice::LateReceipt { request })
        .into_iter()
        .collect();
    Ok(Stepped {
        view: find(tx, now, staff, id).await?,
        notices,
    })
}

/// Who entered a waiting late receipt.
async fn entered_by(tx: &mut Tx, id: &str) -> Result<Option<String>, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "SELECT late_receipt_by FROM requests WHERE id = $1"
    )
    .bind(id)
    .fetch_one(c)
    .await)?)
}

/// A treasurer approves a late receipt: the fund pays what the receipt says.
pub(super) async fn approve(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    row: Row,
) -> Result<Stepped, FlowError> {
    let id = row.id.clone();
    if row.requested_by == staff.user_id {
        return Err(FlowError::Forbidden(
            "you made this request, so another treasurer must approve its late receipt".into(),
        ));
    }
    if entered_by(tx, &id).await?.as_deref() == Some(staff.user_id.as_str()) {
        return Err(FlowError::Forbidden(
            "you entered this late receipt, so another treasurer must approve it".into(),
        ));
    }
    let cents = row
        .spent
        .ok_or_else(|| FlowError::Conflict("this late receipt has no amount".into()))?;
    let amount = Money::from_cents(cents).map_err(|e| invalid("amount", e))?;
    let category: Category = row.category.parse().map_err(|e| invalid("category", e))?;
    let policy = versions::current(tx, now).await?.policy;
    // The same figures an approval reads: what may be spent on the category, and, as for
    // an automatic decision, without what operation reserves hold, above the floor.
    let open_to_it = open_to(tx, category).await?;
    if cents > open_to_it {
        return Err(FlowError::Conflict(format!(
            "the fund holds only {} that may be spent on {category} (unrestricted money and gifts restricted to it), less than this late receipt's {amount}: record a donation or decline it",
            format_cents(open_to_it.max(0))
        )));
    }
    let usable = open_to_it - reserves::outstanding(tx, now).await?;
    let floor = policy.reserve_floor_cents();
    if usable - cents < floor {
        return Err(FlowError::Conflict(format!(
            "paying this late receipt's {amount} would take what the fund can use ({}) under its reserve floor of {}: record a donation first, or decline it",
            format_cents(usable.max(0)),
            format_cents(floor)
        )));
    }
    let actor = staff.actor();
    let hold_id = format!("late-hold:{id}");
    let hold = NewTransfer {
        id: hold_id.clone(),
        spec: TransferSpec::Pending {
            debit: FUND.into(),
            credit: SPENT.into(),
            amount: cents,
            expires_at: now + policy.hold_duration(),
        },
        code: "disbursement".into(),
        reference: Some(id.clone()),
    };
    match ledger::create_transfer(tx, now, &actor, &hold).await? {
        Outcome::Created(_) | Outcome::Exists(_) => {}
        Outcome::Rejected(Rejection::ExceedsCredits) => {
            return Err(FlowError::Conflict(
                "the fund cannot cover this late receipt now: record a donation or decline it"
                    .into(),
            ));
        }
        Outcome::Rejected(r) => {
            return Err(FlowError::Conflict(format!(
                "the ledger refused the late receipt's hold: {}",
                r.as_str()
            )));
        }
    }
    let post = NewTransfer {
        id: format!("late-receipt:{id}"),
        spec: TransferSpec::Post {
            pending_id: hold_id.clone(),
            amount: None,
        },
        code: "receipt".into(),
        reference: Some(id.clone()),
    };
    let settlement = match ledger::create_transfer(tx, now, &actor, &post).await? {
        Outcome::Created(t) | Outcome::Exists(t) => t.id,
        Outcome::Rejected(r) => {
            return Err(FlowError::Conflict(format!(
                "the ledger refused the late receipt: {}",
                r.as_str()
            )));
        }
    };
    on_tx!(tx, c => sqlx::query(
        "UPDATE requests SET status = $2, expired_hold_id = hold_id, hold_id = $3,
                             settlement_id = $4, closed_at = $5
         WHERE id = $1",
    )
    .bind(&id)
    .bind(RequestStatus::Settled)
    .bind(&hold_id)
    .bind(&settlement)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    restricted::draw(tx, now, &actor, &id, category, cents).await?;
    // What the fund now owes, and to whom (issue 18).
    let payer = payouts::recorded_payer(tx, &id, &row.org_id).await?;
    payouts::owe(tx, now, &actor, &id, &row.org_id, &payer, cents).await?;
    audit::append(
        tx,
        now,
        &actor,
        "request.receipt",
        &format!("request:{id}"),
        &json!({"spent": cents, "released": 0, "late": true}),
    )
    .await?;
    let mut notices = vec![Notice::LowBalance {
        available_cents: usable_cents(tx, now).await?,
        floor_cents: floor,
    }];
    if let Some(request) = view_of(tx, &id, policy.dual_approval_above()).await? {
        notices.push(Notice::LateDecided { request });
    }
    Ok(Stepped {
        view: find(tx, now, staff, &id).await?,
        notices,
    })
}

/// A treasurer declines a late receipt: the request stays expired and nothing is paid.
pub(super) async fn decline(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    row: Row,
    reason: &Note,
) -> Result<Stepped, FlowError> {
    let id = row.id.as_str();
    set_status(tx, id, RequestStatus::Expired, None, Some(reason.as_str())).await?;
    on_tx!(tx, c => sqlx::query(
        "UPDATE requests SET spent = NULL, late_declined_at = $2 WHERE id = $1"
    )
    .bind(id)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    close(tx, id, now).await?;
    audit::append(
        tx,
        now,
        &staff.actor(),
        "request.late_receipt_decline",
        &format!("request:{id}"),
        &json!({}),
    )
    .await?;
    let dual_above = versions::current(tx, now)
        .await?
        .policy
        .dual_approval_above();
    let notices = view_of(tx, id, dual_above)
        .await?
        .map(|request| Notice::LateDecided { request })
        .into_iter()
        .collect();
    Ok(Stepped {
        view: find(tx, now, staff, id).await?,
        notices,
    })
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
