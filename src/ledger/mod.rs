//! The ledger: the only code that moves money.
//!
//! After TigerBeetle's account/transfer model. Accounts carry four totals in integer
//! cents (debits and credits, pending and posted). Transfers are immutable and carry a
//! client-chosen id, so a retry is safe: the same id with the same content answers
//! `Exists`, with other content it is a conflict, and an id that was refused stays
//! refused with its first answer. A pending transfer (a hold) is resolved at most once:
//! posted for at most its amount (the rest released in the same transaction), voided, or
//! expired.
//!
//! Invariants, kept here and enforced again by the schema (CHECK constraints, a unique
//! index on `pending_id`, triggers that refuse UPDATE and DELETE on transfers):
//! - every transfer adds the same amount to one account's debits and another's credits,
//!   so total debits always equal total credits;
//! - an account flagged `debits_must_not_exceed_credits` (the fund) never has
//!   `debits_pending + debits_posted > credits_posted`: holds count;
//! - the cached totals on `accounts` equal the totals derived from `transfers`
//!   ([`check`] says so).

mod check;
pub mod figures;
mod sweep;

pub use check::{AccountCheck, LedgerCheck, check, check_with_progress};
pub use figures::Figures;
pub use sweep::sweep_expired;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::audit::{self, Actor};
pub use crate::domain::states::TransferKind;
use crate::on_tx;
use crate::store::{Contention, Db, StoreError, Tx};

pub const FUND: &str = "fund";
pub const DONATIONS: &str = "donations";
pub const SPENT: &str = "spent";

/// What a transfer does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferSpec {
    /// Moves money at once.
    Single {
        debit: String,
        credit: String,
        amount: i64,
    },
    /// Holds money until it is posted, voided or expires.
    Pending {
        debit: String,
        credit: String,
        amount: i64,
        expires_at: DateTime<Utc>,
    },
    /// Settles a hold for `amount` (the whole hold when `None`); the rest is released.
    Post {
        pending_id: String,
        amount: Option<i64>,
    },
    /// Releases a hold.
    Void { pending_id: String },
    /// Releases a hold whose time has passed; made by the sweeper.
    Expire { pending_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTransfer {
    pub id: String,
    pub spec: TransferSpec,
    /// What the money is for (`donation`, `disbursement`, ...), kept for the books.
    pub code: String,
    /// What in Passage this transfer belongs to (a request or donation id).
    pub reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Transfer {
    pub id: String,
    pub kind: TransferKind,
    pub debit_account_id: String,
    pub credit_account_id: String,
    pub amount: i64,
    pub pending_id: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub code: String,
    pub reference: Option<String>,
    pub request_hash: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Account {
    pub id: String,
    pub debits_must_not_exceed_credits: bool,
    pub debits_pending: i64,
    pub debits_posted: i64,
    pub credits_pending: i64,
    pub credits_posted: i64,
}

/// Why the ledger refused a transfer. Stored with the id, so a retry answers the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    AmountMustBePositive,
    AccountsMustBeDifferent,
    DebitAccountNotFound,
    CreditAccountNotFound,
    ExpiryMustBeInTheFuture,
    ExceedsCredits,
    PendingTransferNotFound,
    PendingTransferNotPending,
    PendingTransferAlreadyPosted,
    PendingTransferAlreadyVoided,
    PendingTransferExpired,
    PendingTransferNotExpired,
    ExceedsPendingTransferAmount,
}

impl Rejection {
    const ALL: [Rejection; 13] = [
        Rejection::AmountMustBePositive,
        Rejection::AccountsMustBeDifferent,
        Rejection::DebitAccountNotFound,
        Rejection::CreditAccountNotFound,
        Rejection::ExpiryMustBeInTheFuture,
        Rejection::ExceedsCredits,
        Rejection::PendingTransferNotFound,
        Rejection::PendingTransferNotPending,
        Rejection::PendingTransferAlreadyPosted,
        Rejection::PendingTransferAlreadyVoided,
        Rejection::PendingTransferExpired,
        Rejection::PendingTransferNotExpired,
        Rejection::ExceedsPendingTransferAmount,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::AmountMustBePositive => "amount_must_be_positive",
            Rejection::AccountsMustBeDifferent => "accounts_must_be_different",
            Rejection::DebitAccountNotFound => "debit_account_not_found",
            Rejection::CreditAccountNotFound => "credit_account_not_found",
            Rejection::ExpiryMustBeInTheFuture => "expiry_must_be_in_the_future",
            Rejection::ExceedsCredits => "exceeds_credits",
            Rejection::PendingTransferNotFound => "pending_transfer_not_found",
            Rejection::PendingTransferNotPending => "pending_transfer_not_pending",
            Rejection::PendingTransferAlreadyPosted => "pending_transfer_already_posted",
            Rejection::PendingTransferAlreadyVoided => "pending_transfer_already_voided",
            Rejection::PendingTransferExpired => "pending_transfer_expired",
            Rejection::PendingTransferNotExpired => "pending_transfer_not_expired",
            Rejection::ExceedsPendingTransferAmount => "exceeds_pending_transfer_amount",
        }
    }

    fn parse(s: &str) -> Option<Rejection> {
        Rejection::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The ledger's answer to a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created(Transfer),
    /// The same transfer was already made; this is it.
    Exists(Transfer),
    Rejected(Rejection),
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("transfer id {id:?} was already used for a different transfer: choose a new id")]
    IdConflict { id: String },
    #[error("ledger storage reported a problem: {0}")]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for LedgerError {
    fn from(e: sqlx::Error) -> Self {
        LedgerError::Store(e.into())
    }
}

impl Contention for LedgerError {
    fn is_contention(&self) -> bool {
        matches!(self, LedgerError::Store(e) if e.is_contention())
    }
}

impl NewTransfer {
    /// A fingerprint of what was asked, to tell a retry from a conflicting reuse of an id.
    pub(crate) fn request_hash(&self) -> String {
        let spec = match &self.spec {
            TransferSpec::Single {
                debit,
                credit,
                amount,
            } => {
                json!({"kind": TransferKind::Single, "debit": debit, "credit": credit, "amount": amount})
            }
            TransferSpec::Pending {
                debit,
                credit,
                amount,
                expires_at,
            } => json!({
                "kind": TransferKind::Pending, "debit": debit, "credit": credit, "amount": amount,
                "expires_at": audit::canonical_time(*expires_at),
            }),
            TransferSpec::Post { pending_id, amount } => {
                json!({"kind": TransferKind::Post, "pending_id": pending_id, "amount": amount})
            }
            TransferSpec::Void { pending_id } => {
                json!({"kind": TransferKind::Void, "pending_id": pending_id})
            }
            TransferSpec::Expire { pending_id } => {
                json!({"kind": TransferKind::Expire, "pending_id": pending_id})
            }
        };
        let content = json!({"spec": spec, "code": self.code, "reference": self.reference});
        hex::encode(Sha256::digest(audit::canonical_json(&content).as_bytes()))
    }
}

const TRANSFER_COLUMNS: &str = "id, kind, debit_account_id, credit_account_id, amount, pending_id, \
     expires_at, code, reference, request_hash, created_at";

pub async fn find_transfer(tx: &mut Tx, id: &str) -> Result<Option<Transfer>, StoreError> {
    let sql = format!("SELECT {TRANSFER_COLUMNS} FROM transfers WHERE id = $1");
    Ok(on_tx!(tx, c => sqlx::query_as::<_, Transfer>(&sql).bind(id).fetch_optional(c).await)?)
}

/// Reads a hold and keeps it locked until `tx` ends, so that two resolutions of the same
/// hold on two connections are decided one after the other.
async fn lock_hold(tx: &mut Tx, id: &str) -> Result<Option<Transfer>, StoreError> {
    let sql = format!(
        "SELECT {TRANSFER_COLUMNS} FROM transfers WHERE id = $1{}",
        tx.lock_rows()
    );
    Ok(on_tx!(tx, c => sqlx::query_as::<_, Transfer>(&sql).bind(id).fetch_optional(c).await)?)
}

pub async fn account(db: &Db, id: &str) -> Result<Option<Account>, StoreError> {
    Ok(crate::on_db!(db, p => sqlx::query_as::<_, Account>(
        "SELECT id, debits_must_not_exceed_credits, debits_pending, debits_posted,
                credits_pending, credits_posted
         FROM accounts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(p)
    .await)?)
}

/// Creates an account if it is not there yet.
pub async fn ensure_account(
    tx: &mut Tx,
    now: DateTime<Utc>,
    id: &str,
    debits_must_not_exceed_credits: bool,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO accounts (id, debits_must_not_exceed_credits, created_at)
         VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(debits_must_not_exceed_credits)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Makes one transfer inside `tx`, with its audit event. A rejection is an answer, not an
/// error: it is recorded in `tx` (so a retry gets it again) and the caller commits.
pub async fn create_transfer(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    new: &NewTransfer,
) -> Result<Outcome, LedgerError> {
    let request_hash = new.request_hash();
    // Whether the id was used before, as a transfer or as a rejection, in one statement:
    // a new id (the usual case) costs one round trip, not two.
    let (made, failed_hash, failed_result): (Option<String>, Option<String>, Option<String>) = on_tx!(tx, c => sqlx::query_as(
            "SELECT (SELECT request_hash FROM transfers WHERE id = $1),
                    (SELECT request_hash FROM transfer_failures WHERE id = $1),
                    (SELECT result FROM transfer_failures WHERE id = $1)"
        )
        .bind(&new.id)
        .fetch_one(c)
        .await)?;
    if made.is_some()
        && let Some(existing) = find_transfer(tx, &new.id).await?
    {
        return if existing.request_hash == request_hash {
            Ok(Outcome::Exists(existing))
        } else {
            Err(LedgerError::IdConflict { id: new.id.clone() })
        };
    }
    if let (Some(hash), Some(result)) = (failed_hash, failed_result) {
        return match Rejection::parse(&result) {
            Some(rejection) if hash == request_hash => Ok(Outcome::Rejected(rejection)),
            _ => Err(LedgerError::IdConflict { id: new.id.clone() }),
        };
    }

    match apply(tx, now, new, &request_hash).await? {
        Ok(transfer) => {
            audit::append_many(tx, now, &[transfer.event(actor)]).await?;
            Ok(Outcome::Created(transfer))
        }
        Err(rejection) => {
            on_tx!(tx, c => sqlx::query(
                "INSERT INTO transfer_failures (id, request_hash, result, created_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&new.id)
            .bind(&request_hash)
            .bind(rejection.as_str())
            .bind(now)
            .execute(c)
            .await
            .map(|_| ()))?;
            audit::append(
                tx,
                now,
                actor,
                "ledger.transfer_rejected",
                &format!("transfer:{}", new.id),
                &json!({"id": new.id, "result": rejection.as_str()}),
            )
            .await?;
            Ok(Outcome::Rejected(rejection))
        }
    }
}

/// Makes one transfer in its own transaction, retrying on lost races.
pub async fn transfer(
    db: &Db,
    now: DateTime<Utc>,
    actor: &Actor,
    new: &NewTransfer,
) -> Result<Outcome, LedgerError> {
    crate::write_tx!(db, |tx| -> Result<Outcome, LedgerError> async {
        create_transfer(tx, now, actor, new).await
    })
}

/// Makes several transfers in one transaction and one durable commit, in order; each
/// gets its own answer, as if made one by one.
pub async fn transfer_batch(
    db: &Db,
    now: DateTime<Utc>,
    actor: &Actor,
    batch: &[NewTransfer],
) -> Result<Vec<Outcome>, LedgerError> {
    crate::write_tx!(db, |tx| -> Result<Vec<Outcome>, LedgerError> async {
        let mut outcomes = Vec::with_capacity(batch.len());
        for new in batch {
            outcomes.push(create_transfer(tx, now, actor, new).await?);
        }
        Ok(outcomes)
    })
}

/// Places new holds (pending transfers) that all move money between the same two accounts,
/// with their audit events, in five statements however many there are. Each is checked by
/// [`check_movement`], the same checks as one transfer's, and the limit is tested on their
/// sum by the statement that raises it: if the sum passes, each hold in turn did. Any
/// refusal leaves `tx` as it found it and is answered for the whole batch; holds not
/// between one pair of accounts, or resolutions, are refused as not new holds.
pub(crate) async fn place_holds(
    tx: &mut Tx,
    now: DateTime<Utc>,
    holds: &[(&Actor, NewTransfer)],
) -> Result<Result<Vec<Transfer>, Rejection>, StoreError> {
    let mut movements = Vec::with_capacity(holds.len());
    for (_, new) in holds {
        let Some(movement) = Movement::of(new) else {
            return Ok(Err(Rejection::PendingTransferNotPending));
        };
        if !movement.pending
            || movements.first().is_some_and(|first: &Movement| {
                (first.debit, first.credit) != (movement.debit, movement.credit)
            })
        {
            return Ok(Err(Rejection::PendingTransferNotPending));
        }
        movements.push(movement);
    }
    let Some(first) = movements.first() else {
        return Ok(Ok(Vec::new()));
    };
    let total: i64 = movements.iter().map(|m| m.amount).sum();
    let batch = Movement {
        amount: total,
        ..*first
    };
    for movement in &movements {
        if let Err(rejection) = movement.check(now) {
            return Ok(Err(rejection));
        }
    }
    if let Err(rejection) = batch.raise(tx).await? {
        return Ok(Err(rejection));
    }
    let rows: Vec<Transfer> = holds
        .iter()
        .zip(&movements)
        .map(|((_, new), m)| m.transfer(new, now, &new.request_hash()))
        .collect();
    insert_transfers(tx, &rows).await?;
    let events: Vec<_> = rows
        .iter()
        .zip(holds)
        .map(|(row, (actor, _))| row.event(actor))
        .collect();
    audit::append_many(tx, now, &events).await?;
    Ok(Ok(rows))
}

/// A transfer that moves money between two accounts (at once, or held): what the ledger's
/// one check of such a transfer reads.
#[derive(Debug, Clone, Copy)]
struct Movement<'a> {
    debit: &'a str,
    credit: &'a str,
    amount: i64,
    pending: bool,
    expires_at: Option<DateTime<Utc>>,
}

impl<'a> Movement<'a> {
    fn of(new: &'a NewTransfer) -> Option<Movement<'a>> {
        match &new.spec {
            TransferSpec::Single {
                debit,
                credit,
                amount,
            } => Some(Movement {
                debit,
                credit,
                amount: *amount,
                pending: false,
                expires_at: None,
            }),
            TransferSpec::Pending {
                debit,
                credit,
                amount,
                expires_at,
            } => Some(Movement {
                debit,
                credit,
                amount: *amount,
                pending: true,
                expires_at: Some(*expires_at),
            }),
            _ => None,
        }
    }

    /// The checks that need no storage; [`Movement::raise`] makes the others.
    fn check(&self, now: DateTime<Utc>) -> Result<(), Rejection> {
        if self.amount <= 0 {
            return Err(Rejection::AmountMustBePositive);
        }
        if self.debit == self.credit {
            return Err(Rejection::AccountsMustBeDifferent);
        }
        if self.expires_at.is_some_and(|at| at <= now) {
            return Err(Rejection::ExpiryMustBeInTheFuture);
        }
        Ok(())
    }

    /// Checks that both accounts exist and raises their totals by `amount`; the limit is
    /// tested by the same statement that raises the debit, so two concurrent transfers
    /// cannot both pass it. Nothing is written when it answers a rejection.
    async fn raise(&self, tx: &mut Tx) -> Result<Result<(), Rejection>, StoreError> {
        let (debit_exists, credit_exists) = accounts_exist(tx, self.debit, self.credit).await?;
        if !debit_exists {
            return Ok(Err(Rejection::DebitAccountNotFound));
        }
        if !credit_exists {
            return Ok(Err(Rejection::CreditAccountNotFound));
        }
        let (debit_sql, credit_sql) = if self.pending {
            (
                "UPDATE accounts SET debits_pending = debits_pending + $2
                 WHERE id = $1 AND (NOT debits_must_not_exceed_credits
                     OR debits_pending + debits_posted + $2 <= credits_posted)",
                "UPDATE accounts SET credits_pending = credits_pending + $2 WHERE id = $1",
            )
        } else {
            (
                "UPDATE accounts SET debits_posted = debits_posted + $2
                 WHERE id = $1 AND (NOT debits_must_not_exceed_credits
                     OR debits_pending + debits_posted + $2 <= credits_posted)",
                "UPDATE accounts SET credits_posted = credits_posted + $2 WHERE id = $1",
            )
        };
        let raised = on_tx!(tx, c => sqlx::query(debit_sql)
            .bind(self.debit)
            .bind(self.amount)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        if raised == 0 {
            return Ok(Err(Rejection::ExceedsCredits));
        }
        on_tx!(tx, c => sqlx::query(credit_sql)
            .bind(self.credit)
            .bind(self.amount)
            .execute(c)
            .await
            .map(|_| ()))?;
        Ok(Ok(()))
    }

    fn transfer(&self, new: &NewTransfer, now: DateTime<Utc>, request_hash: &str) -> Transfer {
        Transfer {
            id: new.id.clone(),
            kind: if self.pending {
                TransferKind::Pending
            } else {
                TransferKind::Single
            },
            debit_account_id: self.debit.to_string(),
            credit_account_id: self.credit.to_string(),
            amount: self.amount,
            pending_id: None,
            expires_at: self.expires_at,
            code: new.code.clone(),
            reference: new.reference.clone(),
            request_hash: request_hash.into(),
            created_at: now,
        }
    }
}

/// Whether the debit and the credit account exist, in one round trip.
async fn accounts_exist(
    tx: &mut Tx,
    debit: &str,
    credit: &str,
) -> Result<(bool, bool), StoreError> {
    let (debits, credits): (i64, i64) = on_tx!(tx, c => sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM accounts WHERE id = $1),
                (SELECT COUNT(*) FROM accounts WHERE id = $2)"
    )
    .bind(debit)
    .bind(credit)
    .fetch_one(c)
    .await)?;
    Ok((debits > 0, credits > 0))
}

/// Checks and applies a transfer. Writes happen only once every check has passed, so a
/// rejection leaves `tx` as it found it.
async fn apply(
    tx: &mut Tx,
    now: DateTime<Utc>,
    new: &NewTransfer,
    request_hash: &str,
) -> Result<Result<Transfer, Rejection>, StoreError> {
    let row = match (Movement::of(new), &new.spec) {
        (Some(movement), _) => {
            if let Err(rejection) = movement.check(now) {
                return Ok(Err(rejection));
            }
            if let Err(rejection) = movement.raise(tx).await? {
                return Ok(Err(rejection));
            }
            movement.transfer(new, now, request_hash)
        }
        (None, TransferSpec::Single { .. } | TransferSpec::Pending { .. }) => {
            unreachable!("a single transfer or a hold is a movement")
        }
        (
            None,
            TransferSpec::Post { pending_id, .. }
            | TransferSpec::Void { pending_id }
            | TransferSpec::Expire { pending_id },
        ) => {
            let Some(hold) = lock_hold(tx, pending_id).await? else {
                return Ok(Err(Rejection::PendingTransferNotFound));
            };
            if hold.kind != TransferKind::Pending {
                return Ok(Err(Rejection::PendingTransferNotPending));
            }
            let resolved: Option<TransferKind> = on_tx!(tx, c => sqlx::query_scalar(
                "SELECT kind FROM transfers WHERE pending_id = $1"
            )
            .bind(pending_id)
            .fetch_optional(c)
            .await)?;
            match resolved {
                Some(TransferKind::Post) => {
                    return Ok(Err(Rejection::PendingTransferAlreadyPosted));
                }
                Some(TransferKind::Void) => {
                    return Ok(Err(Rejection::PendingTransferAlreadyVoided));
                }
                Some(_) => return Ok(Err(Rejection::PendingTransferExpired)),
                None => {}
            }
            let expired = hold.expires_at.is_some_and(|at| at <= now);
            let (kind, amount) = match &new.spec {
                TransferSpec::Expire { .. } if !expired => {
                    return Ok(Err(Rejection::PendingTransferNotExpired));
                }
                TransferSpec::Expire { .. } => (TransferKind::Expire, hold.amount),
                _ if expired => return Ok(Err(Rejection::PendingTransferExpired)),
                TransferSpec::Void { .. } => (TransferKind::Void, hold.amount),
                TransferSpec::Post { amount, .. } => {
                    let amount = amount.unwrap_or(hold.amount);
                    if amount <= 0 {
                        return Ok(Err(Rejection::AmountMustBePositive));
                    }
                    if amount > hold.amount {
                        return Ok(Err(Rejection::ExceedsPendingTransferAmount));
                    }
                    (TransferKind::Post, amount)
                }
                _ => unreachable!("only resolutions of a hold reach this arm"),
            };
            let posted = if kind == TransferKind::Post {
                amount
            } else {
                0
            };
            on_tx!(tx, c => sqlx::query(
                "UPDATE accounts SET debits_pending = debits_pending - $2,
                                     debits_posted = debits_posted + $3
                 WHERE id = $1",
            )
            .bind(&hold.debit_account_id)
            .bind(hold.amount)
            .bind(posted)
            .execute(c)
            .await
            .map(|_| ()))?;
            on_tx!(tx, c => sqlx::query(
                "UPDATE accounts SET credits_pending = credits_pending - $2,
                                     credits_posted = credits_posted + $3
                 WHERE id = $1",
            )
            .bind(&hold.credit_account_id)
            .bind(hold.amount)
            .bind(posted)
            .execute(c)
            .await
            .map(|_| ()))?;
            Transfer {
                id: new.id.clone(),
                kind,
                debit_account_id: hold.debit_account_id,
                credit_account_id: hold.credit_account_id,
                amount,
                pending_id: Some(pending_id.clone()),
                expires_at: None,
                code: new.code.clone(),
                reference: new.reference.clone(),
                request_hash: request_hash.into(),
                created_at: now,
            }
        }
    };

    insert_transfers(tx, std::slice::from_ref(&row)).await?;
    Ok(Ok(row))
}

/// Writes transfers that have passed their checks, in one statement.
pub(crate) async fn insert_transfers(tx: &mut Tx, rows: &[Transfer]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    on_tx!(tx, c => {
        let mut insert = sqlx::QueryBuilder::new(format!("INSERT INTO transfers ({TRANSFER_COLUMNS}) "));
        insert.push_values(rows, |mut b, row| {
            b.push_bind(&row.id)
                .push_bind(row.kind)
                .push_bind(&row.debit_account_id)
                .push_bind(&row.credit_account_id)
                .push_bind(row.amount)
                .push_bind(&row.pending_id)
                .push_bind(row.expires_at)
                .push_bind(&row.code)
                .push_bind(&row.reference)
                .push_bind(&row.request_hash)
                .push_bind(row.created_at);
        });
        insert.build().execute(c).await.map(|_| ())
    })?;
    Ok(())
}

impl Transfer {
    /// The audit event that records this transfer.
    pub(crate) fn event<'a>(&self, actor: &'a Actor) -> audit::NewEvent<'a> {
        audit::NewEvent {
            actor,
            action: "ledger.transfer",
            subject: format!("transfer:{}", self.id),
            content: json!({
                "id": self.id,
                "kind": self.kind,
                "debit": self.debit_account_id,
                "credit": self.credit_account_id,
                "amount": self.amount,
                "pending_id": self.pending_id,
                "code": self.code,
                "reference": self.reference,
            }),
        }
    }
}

/// The fund's money, in cents: what was given, what is available, held and spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FundBalance {
    pub donated: i64,
    pub available: i64,
    pub held: i64,
    pub spent: i64,
}

impl From<&Figures> for FundBalance {
    fn from(f: &Figures) -> Self {
        FundBalance {
            donated: f.donated,
            available: f.available,
            held: f.held,
            spent: f.spent,
        }
    }
}

/// The fund's available money, read with the fund's row locked until `tx` ends, so that
/// concurrent decisions (on every instance) are taken one after the other.
pub async fn lock_fund_available(tx: &mut Tx) -> Result<i64, StoreError> {
    let sql = format!(
        "SELECT credits_posted - debits_posted - debits_pending FROM accounts WHERE id = $1{}",
        tx.lock_rows()
    );
    Ok(on_tx!(tx, c => sqlx::query_scalar(&sql).bind(FUND).fetch_one(c).await)?)
}

pub async fn fund_balance(db: &Db) -> Result<FundBalance, StoreError> {
    Ok(FundBalance::from(&figures(db).await?))
}

/// Every figure of the fund (see [`figures`]), from the accounts' cached totals and the
/// payout transfers, read in one snapshot.
pub async fn figures(db: &Db) -> Result<Figures, StoreError> {
    crate::read_tx!(db, |tx| -> Result<Figures, StoreError> async {
        figures_in(tx).await
    })
}

/// [`figures`] inside `tx`.
pub async fn figures_in(tx: &mut Tx) -> Result<Figures, StoreError> {
    let accounts: Vec<(String, i64, i64, i64)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT id, debits_pending, debits_posted, credits_posted FROM accounts",
    )
    .fetch_all(c)
    .await)?;
    let paid_out = paid_out(tx).await?;
    Ok(Figures::of(
        accounts.iter().map(|(id, dpend, dp, cp)| figures::Totals {
            id,
            debits_pending: *dpend,
            debits_posted: *dp,
            credits_posted: *cp,
        }),
        paid_out,
    ))
}

/// Payout lines paid, less those reversed when they bounced.
pub(crate) async fn paid_out(tx: &mut Tx) -> Result<i64, StoreError> {
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(CASE WHEN code = $1 THEN amount ELSE 0 END), 0) AS BIGINT)
              - CAST(COALESCE(SUM(CASE WHEN code = $2 THEN amount ELSE 0 END), 0) AS BIGINT)
         FROM transfers WHERE kind = {} AND code IN ($1, $2)",
        TransferKind::Single.sql()
    );
    Ok(on_tx!(tx, c => sqlx::query_scalar(&sql)
        .bind(figures::PAYOUT_CODE)
        .bind(figures::BOUNCE_CODE)
        .fetch_one(c)
        .await)?)
}

/// What the fund paid out (receipts posted to `spent`) since `since`, for the runway at
/// the recent spending rate.
pub async fn spent_since(db: &Db, since: DateTime<Utc>) -> Result<i64, StoreError> {
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM transfers
         WHERE credit_account_id = $1 AND kind IN {} AND created_at >= $2",
        TransferKind::sql_list(&[TransferKind::Post, TransferKind::Single])
    );
    Ok(crate::on_db!(db, p => sqlx::query_scalar(&sql)
    .bind(SPENT)
    .bind(since)
    .fetch_one(p)
    .await)?)
}
