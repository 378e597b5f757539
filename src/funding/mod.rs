//! Donors, donations and the fund at a glance. Cash donations credit the fund through the
//! ledger; in-kind gifts (a partner airline seat, a donated hotel night) are recorded at an
//! estimated value and move no cash.

pub mod bank;
pub mod import;
pub mod owed;
pub mod payouts;
pub mod reserves;
pub mod restricted;

pub use restricted::Restriction;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;

use crate::audit::{self, Actor};
use crate::domain::{Email, Language, Money};
use crate::ledger::{self, DONATIONS, FUND, NewTransfer, Outcome, TransferSpec};
use crate::store::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

/// What can stop a change to the fund's donors, gifts and reserves; the HTTP layer maps
/// each to a status.
#[derive(Debug, thiserror::Error)]
pub enum FundingError {
    #[error("{0}")]
    Conflict(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
}

impl From<sqlx::Error> for FundingError {
    fn from(e: sqlx::Error) -> Self {
        FundingError::Store(e.into())
    }
}

impl From<crate::idempotency::IdempotencyError> for FundingError {
    fn from(e: crate::idempotency::IdempotencyError) -> Self {
        use crate::idempotency::IdempotencyError;
        match e {
            IdempotencyError::KeyReused => FundingError::Conflict(e.to_string()),
            IdempotencyError::Store(e) => FundingError::Store(e),
        }
    }
}

impl crate::store::Contention for FundingError {
    fn is_contention(&self) -> bool {
        match self {
            FundingError::Store(e) => e.is_contention(),
            FundingError::Ledger(e) => e.is_contention(),
            _ => false,
        }
    }
}

pub(crate) fn invalid(field: &str, message: impl std::fmt::Display) -> FundingError {
    FundingError::Invalid {
        field: field.into(),
        message: message.to_string(),
    }
}

pub const MAX_DONOR_NAME_CHARS: usize = 200;

pub async fn add_donor(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    name: &str,
    email: &Email,
    language: Language,
) -> Result<String, FundingError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_DONOR_NAME_CHARS {
        return Err(invalid(
            "name",
            "give the donor's name, at most 200 characters",
        ));
    }
    let id = uuid::Uuid::new_v4().to_string();
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO donors (id, name, email, language, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(name)
    .bind(email.as_str())
    .bind(language.as_str())
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    audit::append(
        tx,
        now,
        actor,
        "donor.add",
        &format!("donor:{id}"),
        &json!({"language": language.as_str()}),
    )
    .await?;
    Ok(id)
}

#[derive(Debug, Clone)]
pub struct NewDonation {
    pub donor_id: String,
    pub amount: Money,
    pub received_on: NaiveDate,
    pub in_kind: bool,
    pub description: Option<String>,
    /// Cash given for these categories only; `None` for an unrestricted gift.
    pub restricted_to: Option<Restriction>,
}

pub async fn record_donation(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    new: &NewDonation,
) -> Result<String, FundingError> {
    let donor: Option<String> = on_tx!(tx, c => sqlx::query_scalar("SELECT id FROM donors WHERE id = $1")
        .bind(&new.donor_id)
        .fetch_optional(c)
        .await)?;
    if donor.is_none() {
        return Err(invalid(
            "donor_id",
            "no donor has this id: add the donor first",
        ));
    }
    if new.in_kind && new.restricted_to.is_some() {
        return Err(invalid(
            "restricted_to",
            "an in-kind gift moves no cash, so it cannot be restricted: leave restricted_to out",
        ));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let transfer_id = if new.in_kind {
        None
    } else {
        let transfer = NewTransfer {
            id: format!("donation:{id}"),
            spec: TransferSpec::Single {
                debit: DONATIONS.into(),
                credit: FUND.into(),
                amount: new.amount.cents(),
            },
            code: "donation".into(),
            reference: Some(id.clone()),
        };
        match ledger::create_transfer(tx, now, actor, &transfer).await? {
            Outcome::Created(t) | Outcome::Exists(t) => Some(t.id),
            Outcome::Rejected(r) => {
                return Err(FundingError::Conflict(format!(
                    "the ledger refused the donation: {}",
                    r.as_str()
                )));
            }
        }
    };
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO donations (id, donor_id, amount, received_on, kind, description, transfer_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(&new.donor_id)
    .bind(new.amount.cents())
    .bind(new.received_on.to_string())
    .bind(if new.in_kind { "in_kind" } else { "cash" })
    .bind(&new.description)
    .bind(&transfer_id)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    if let Some(restriction) = &new.restricted_to {
        restricted::open(tx, &id, restriction, new.amount.cents()).await?;
    }
    audit::append(
        tx,
        now,
        actor,
        "donation.record",
        &format!("donation:{id}"),
        &json!({"donor_id": new.donor_id, "amount": new.amount.cents(), "in_kind": new.in_kind,
                "received_on": new.received_on.to_string(),
                "restricted_to": new.restricted_to.as_ref().map(Restriction::stored)}),
    )
    .await?;
    Ok(id)
}

/// The fund's figures in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FundFigures {
    pub donated: i64,
    /// Set aside by active operation reserves; not in `available`.
    pub reserved: i64,
    pub available: i64,
    /// The part of `available` that restricted gifts hold for their categories.
    pub restricted: i64,
    pub held: i64,
    pub spent: i64,
    pub in_kind: i64,
    /// Receipts not yet paid to the organisation or vendor that paid them.
    pub owed: i64,
    /// What spent advances are owed, to top them up again.
    pub to_replenish: i64,
    /// The unspent money now at organisations as advances.
    pub advanced: i64,
    pub paid_out: i64,
    /// The money in the bank by the books.
    pub bank: i64,
    pub other_income: i64,
    pub fees: i64,
}

/// `bank = available + reserved + held + owed + to_replenish` and
/// `donated + other_income − fees = bank + advanced + spent − owed`.
pub async fn figures(db: &Db, now: DateTime<Utc>) -> Result<FundFigures, StoreError> {
    let books = ledger::figures(db).await?;
    let reserved = reserves::outstanding_now(db, now).await?;
    let in_kind: i64 = on_db!(db, p => sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM donations WHERE kind = 'in_kind'"
    )
    .fetch_one(p)
    .await)?;
    let restricted: i64 = on_db!(db, p => sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(restricted_remaining), 0) AS BIGINT) FROM donations"
    )
    .fetch_one(p)
    .await)?;
    Ok(FundFigures {
        restricted,
        donated: books.donated,
        reserved,
        available: books.available - reserved,
        held: books.held,
        spent: books.spent,
        in_kind,
        owed: books.owed,
        to_replenish: books.to_replenish,
        advanced: books.advanced,
        paid_out: books.paid_out,
        bank: books.bank,
        other_income: books.other_income,
        fees: books.fees,
    })
}

/// A donor as the treasurers' page lists them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DonorLine {
    pub id: String,
    pub name: String,
    pub email: String,
    pub language: String,
    pub gifts: i64,
    /// Cash and in-kind together, in cents.
    pub given: i64,
    /// The donor asked not to receive the reports.
    pub unsubscribed: bool,
}

pub async fn donors(db: &Db) -> Result<Vec<DonorLine>, StoreError> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT d.id, d.name, d.email, d.language,
            (SELECT COUNT(*) FROM donations g WHERE g.donor_id = d.id) AS gifts,
            (SELECT CAST(COALESCE(SUM(g.amount), 0) AS BIGINT) FROM donations g
                WHERE g.donor_id = d.id) AS given,
            d.unsubscribed_at IS NOT NULL AS unsubscribed
         FROM donors d ORDER BY d.name LIMIT 1000",
    )
    .fetch_all(p)
    .await)?)
}

/// A donation as the treasurers' page lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DonationLine {
    pub donor: String,
    pub amount: i64,
    pub received_on: String,
    pub kind: String,
    pub restricted_to: Option<String>,
}

/// The latest donations, newest first.
pub async fn recent_donations(db: &Db, limit: i64) -> Result<Vec<DonationLine>, StoreError> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT d.name AS donor, g.amount, g.received_on, g.kind, g.restricted_to
         FROM donations g JOIN donors d ON d.id = g.donor_id
         ORDER BY g.received_on DESC, g.created_at DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(p)
    .await)?)
}
