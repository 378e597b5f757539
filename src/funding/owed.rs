//! What the fund owes and to whom, as the pages read it (issue 18): each organisation's and
//! vendor account's debt with the date of its oldest unpaid receipt, each advance (its
//! level, what is unspent, what was spent since its last top-up), what an organisation
//! owes back when its advance is above its level, and the payments an organisation was
//! sent. Recording an advance's excess coming back is here too.
//!
//! Everything is read from the ledger's accounts (`ledger::figures` names them) and the
//! payout lines; nothing here is stored apart from them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::payouts::PayoutError;
use crate::audit::{self, Actor};
use crate::domain::money::format_cents;
use crate::domain::states::{LineStatus, PayeeKind, PaymentMode, PayoutPurpose};
use crate::ledger::figures::{Holder, PAYOUT_CODE, advance_of, owed_to_org, to_replenish_of};
use crate::ledger::{self, FUND, NewTransfer, Outcome, Rejection, TransferSpec};
use crate::on_tx;
use crate::store::{StoreError, Tx};

/// The transfer code of an advance's excess coming back to the bank.
pub const RETURNED_CODE: &str = "advance-returned";
/// The transfer code of a replenishment no longer needed once an excess came back.
pub const UNNEEDED_CODE: &str = "replenish-unneeded";

impl From<crate::idempotency::IdempotencyError> for PayoutError {
    fn from(e: crate::idempotency::IdempotencyError) -> Self {
        use crate::idempotency::IdempotencyError;
        match e {
            IdempotencyError::KeyReused => PayoutError::Conflict(e.to_string()),
            IdempotencyError::Store(e) => PayoutError::Store(e),
        }
    }
}

/// A debt of the fund's: one account it owes on (or has to replenish).
#[derive(Debug, Clone, Serialize)]
pub struct Debt {
    pub payee_kind: PayeeKind,
    pub payee_id: String,
    pub payee_name: String,
    /// `reimbursement`, `vendor` or `replenishment`.
    pub purpose: PayoutPurpose,
    /// Cents.
    pub amount: i64,
    /// When the oldest receipt not yet paid was recorded.
    pub since: Option<DateTime<Utc>>,
    /// The live batch that holds it: `(id, reference)`.
    pub in_batch: Option<(String, String)>,
}

/// An organisation's advance, as the pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct Advance {
    pub org_id: String,
    pub org_name: String,
    pub mode: PaymentMode,
    /// The level in force (none once the organisation left the advance mode). Cents.
    pub level: Option<i64>,
    /// The unspent money at the organisation. Cents.
    pub unspent: i64,
    /// What was spent from it since its last top-up (what the next batch replenishes).
    pub spent_since_top_up: i64,
    /// When money last went out to it.
    pub topped_up_at: Option<DateTime<Utc>>,
    /// What the organisation owes back: the unspent advance above its level.
    pub owed_back: i64,
}

/// What the fund owes, oldest first, and its advances.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Owed {
    pub debts: Vec<Debt>,
    pub advances: Vec<Advance>,
}

impl Owed {
    pub fn total(&self) -> i64 {
        self.debts.iter().map(|d| d.amount).sum()
    }

    pub fn owed_back(&self) -> i64 {
        self.advances.iter().map(|a| a.owed_back).sum()
    }
}

/// What an organisation owes back: its unspent advance above the level it keeps (all of
/// it once it has left the advance mode). It is recorded when its deposit reaches the bank
/// ([`advance_returned`]).
pub fn owed_back(mode: PaymentMode, level: Option<i64>, unspent: i64) -> i64 {
    let keep = match mode {
        PaymentMode::Advance => level.unwrap_or(0),
        _ => 0,
    };
    (unspent - keep).max(0)
}

type AccountRow = (String, i64);

async fn accounts(tx: &mut Tx, org: Option<&str>) -> Result<Vec<AccountRow>, StoreError> {
    let all: Vec<AccountRow> = on_tx!(tx, c => sqlx::query_as(
        "SELECT id, credits_posted - debits_posted - debits_pending FROM accounts ORDER BY id",
    )
    .fetch_all(c)
    .await)?;
    Ok(all
        .into_iter()
        .filter(|(id, _)| match org {
            None => Holder::of(id).is_some(),
            Some(org) => {
                *id == owed_to_org(org) || *id == advance_of(org) || *id == to_replenish_of(org)
            }
        })
        .collect())
}

/// When the oldest of what an account is owed now was recorded: its gains taken newest
/// first until they make up the amount (what is paid is the oldest).
async fn since(
    tx: &mut Tx,
    account: &str,
    amount: i64,
    owed_side: bool,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let column = if owed_side {
        "debit_account_id"
    } else {
        "credit_account_id"
    };
    let sql = format!(
        "SELECT amount, created_at FROM transfers WHERE {column} = $1
         ORDER BY created_at DESC, id DESC LIMIT 10000"
    );
    let gains: Vec<(i64, DateTime<Utc>)> =
        on_tx!(tx, c => sqlx::query_as(&sql).bind(account).fetch_all(c).await)?;
    let mut summed = 0;
    let mut oldest = None;
    for (gain, at) in gains {
        summed += gain;
        oldest = Some(at);
        if summed >= amount {
            break;
        }
    }
    Ok(oldest)
}

async fn in_batch(tx: &mut Tx, claim: &str) -> Result<Option<(String, String)>, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_as(
        "SELECT p.id, p.reference FROM payout_lines l JOIN payouts p ON p.id = l.payout_id
         WHERE l.claim = $1 AND l.status = $2",
    )
    .bind(claim)
    .bind(LineStatus::Open)
    .fetch_optional(c)
    .await)?)
}

async fn name_of(tx: &mut Tx, kind: PayeeKind, id: &str) -> Result<String, StoreError> {
    let sql = match kind {
        PayeeKind::Org => "SELECT name FROM orgs WHERE id = $1",
        PayeeKind::Vendor => "SELECT name FROM vendors WHERE id = $1",
    };
    let name: Option<String> =
        on_tx!(tx, c => sqlx::query_scalar(sql).bind(id).fetch_optional(c).await)?;
    Ok(name.unwrap_or_default())
}

type SettingsRow = (String, String, PaymentMode, Option<i64>);

/// What the fund owes (everyone's, or one organisation's), oldest first, and the
/// advances (every organisation with an advance level or money advanced).
pub async fn owed(tx: &mut Tx, org: Option<&str>) -> Result<Owed, StoreError> {
    let rows = accounts(tx, org).await?;
    let mut debts = Vec::new();
    let mut advanced: Vec<(String, i64)> = Vec::new();
    let mut replenish: Vec<(String, i64)> = Vec::new();
    for (account, balance) in &rows {
        let (payee_kind, payee_id, purpose, amount) = match Holder::of(account) {
            Some(Holder::OwedToOrg(id)) => {
                (PayeeKind::Org, id, PayoutPurpose::Reimbursement, -balance)
            }
            Some(Holder::OwedToVendor(id)) => {
                (PayeeKind::Vendor, id, PayoutPurpose::Vendor, -balance)
            }
            Some(Holder::ToReplenish(id)) => {
                replenish.push((id.to_string(), *balance));
                (PayeeKind::Org, id, PayoutPurpose::Replenishment, *balance)
            }
            Some(Holder::Advance(id)) => {
                advanced.push((id.to_string(), *balance));
                continue;
            }
            None => continue,
        };
        if amount <= 0 {
            continue;
        }
        let owed_side = purpose != PayoutPurpose::Replenishment;
        debts.push(Debt {
            payee_kind,
            payee_id: payee_id.to_string(),
            payee_name: name_of(tx, payee_kind, payee_id).await?,
            purpose,
            amount,
            since: since(tx, account, amount, owed_side).await?,
            in_batch: in_batch(tx, account).await?,
        });
    }
    // Oldest first; then by name, so the page reads the same twice.
    debts.sort_by(|a, b| {
        a.since
            .cmp(&b.since)
            .then_with(|| a.payee_name.cmp(&b.payee_name))
    });
    let settings: Vec<SettingsRow> = on_tx!(tx, c => sqlx::query_as(
        "SELECT o.id, o.name, COALESCE(p.mode, $1), p.advance_level
         FROM orgs o LEFT JOIN org_payment p ON p.org_id = o.id ORDER BY o.name, o.id",
    )
    .bind(PaymentMode::Reimbursement)
    .fetch_all(c)
    .await)?;
    let mut advances = Vec::new();
    for (org_id, org_name, mode, level) in settings {
        if org.is_some_and(|o| o != org_id) {
            continue;
        }
        let unspent = advanced
            .iter()
            .find(|(id, _)| *id == org_id)
            .map_or(0, |(_, b)| *b);
        let spent = replenish
            .iter()
            .find(|(id, _)| *id == org_id)
            .map_or(0, |(_, b)| *b);
        if mode != PaymentMode::Advance && unspent == 0 && spent == 0 {
            continue;
        }
        let topped_up_at: Option<DateTime<Utc>> = on_tx!(tx, c => sqlx::query_scalar(
            "SELECT MAX(created_at) FROM transfers WHERE credit_account_id = $1 AND code = $2",
        )
        .bind(advance_of(&org_id))
        .bind(PAYOUT_CODE)
        .fetch_one(c)
        .await)?;
        advances.push(Advance {
            owed_back: owed_back(mode, level, unspent),
            level: level.filter(|_| mode == PaymentMode::Advance),
            org_id,
            org_name,
            mode,
            unspent,
            spent_since_top_up: spent,
            topped_up_at,
        });
    }
    Ok(Owed { debts, advances })
}

/// What every organisation owes back, in cents (for the fund's figures).
pub async fn owed_back_total(tx: &mut Tx) -> Result<i64, StoreError> {
    Ok(owed(tx, None).await?.owed_back())
}

/// A payment sent to an organisation, as its caseworkers read it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Paid {
    /// The batch's reference, in the payment's memo.
    pub batch_reference: String,
    pub purpose: PayoutPurpose,
    /// Cents.
    pub amount: i64,
    pub status: LineStatus,
    /// The bank's reference.
    pub bank_reference: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub bounced_at: Option<DateTime<Utc>>,
}

/// What the fund paid an organisation (paid lines and those that bounced), newest first.
pub async fn paid_to(tx: &mut Tx, org_id: &str) -> Result<Vec<Paid>, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_as(
        "SELECT p.reference AS batch_reference, l.purpose, l.amount, l.status, l.bank_reference,
                l.paid_at, l.bounced_at
         FROM payout_lines l JOIN payouts p ON p.id = l.payout_id
         WHERE l.payee_kind = $1 AND l.payee_id = $2 AND l.status IN ($3, $4)
         ORDER BY l.paid_at DESC, l.id LIMIT 200",
    )
    .bind(PayeeKind::Org)
    .bind(org_id)
    .bind(LineStatus::Paid)
    .bind(LineStatus::Bounced)
    .fetch_all(c)
    .await)?)
}

/// The one organisation's advance, or a 404-kind refusal.
async fn advance_of_org(tx: &mut Tx, org_id: &str) -> Result<Advance, PayoutError> {
    let exists: Option<String> = on_tx!(tx, c => sqlx::query_scalar("SELECT id FROM orgs WHERE id = $1")
        .bind(org_id)
        .fetch_optional(c)
        .await)?;
    if exists.is_none() {
        return Err(PayoutError::NotFound(
            "no organisation has this id: the treasurers' list of organisations gives their ids"
                .into(),
        ));
    }
    owed(tx, Some(org_id))
        .await?
        .advances
        .into_iter()
        .next()
        .ok_or_else(|| {
            PayoutError::Conflict(
                "this organisation holds no advance, so it owes nothing back".into(),
            )
        })
}

async fn transfer(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    debit: &str,
    amount: i64,
    code: &str,
    reference: &str,
) -> Result<(), PayoutError> {
    for account in [debit, FUND] {
        ledger::ensure_account(
            tx,
            now,
            account,
            crate::ledger::figures::is_asset_part(account),
        )
        .await?;
    }
    let new = NewTransfer {
        id: format!("{code}:{}", uuid::Uuid::new_v4()),
        spec: TransferSpec::Single {
            debit: debit.into(),
            credit: FUND.into(),
            amount,
        },
        code: code.into(),
        reference: Some(reference.into()),
    };
    match ledger::create_transfer(tx, now, actor, &new).await? {
        Outcome::Created(_) | Outcome::Exists(_) => Ok(()),
        Outcome::Rejected(Rejection::ExceedsCredits) => Err(PayoutError::Conflict(format!(
            "the money is no longer there ({debit} has less than {})",
            format_cents(amount)
        ))),
        Outcome::Rejected(r) => Err(PayoutError::Conflict(format!(
            "the ledger refused it ({})",
            r.as_str()
        ))),
    }
}

/// An organisation's deposit of `amount` cents of its advance's excess reached the bank
/// (a treasurer's step, audited): the unspent advance goes down and the fund's available
/// money up. A replenishment that no batch holds and that the level no longer needs is
/// given back to available in the same step, so the advance ends at its level.
pub async fn advance_returned(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    org_id: &str,
    amount: i64,
    reference: &str,
) -> Result<(), PayoutError> {
    // The fund's row is the lock: two deposits recorded at once cannot both pass.
    ledger::lock_fund_available(tx).await?;
    let before = advance_of_org(tx, org_id).await?;
    if amount <= 0 || amount > before.owed_back {
        return Err(PayoutError::Invalid {
            field: "amount".into(),
            message: format!(
                "the organisation owes back {} (its unspent advance above its level): record at most that, and more than zero",
                format_cents(before.owed_back)
            ),
        });
    }
    transfer(
        tx,
        now,
        actor,
        &advance_of(org_id),
        amount,
        RETURNED_CODE,
        reference,
    )
    .await?;
    let keep = before.level.unwrap_or(0);
    let left = before.unspent - amount;
    let unneeded = before
        .spent_since_top_up
        .min((left + before.spent_since_top_up - keep).max(0));
    let claimed = in_batch(tx, &to_replenish_of(org_id)).await?.is_some();
    if unneeded > 0 && !claimed {
        transfer(
            tx,
            now,
            actor,
            &to_replenish_of(org_id),
            unneeded,
            UNNEEDED_CODE,
            reference,
        )
        .await?;
    }
    audit::append(
        tx,
        now,
        actor,
        "advance.returned",
        &format!("org:{org_id}"),
        &json!({"amount": amount, "reference": reference,
                "replenishment_given_back": if claimed { 0 } else { unneeded }}),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advance_above_its_level_is_owed_back() {
        assert_eq!(
            owed_back(PaymentMode::Advance, Some(50_000), 182_000),
            132_000
        );
        assert_eq!(owed_back(PaymentMode::Advance, Some(200_000), 182_000), 0);
        assert_eq!(
            owed_back(PaymentMode::Reimbursement, None, 182_000),
            182_000,
            "leaving the mode: all of it"
        );
        assert_eq!(owed_back(PaymentMode::FundPays, None, 0), 0);
    }
}
