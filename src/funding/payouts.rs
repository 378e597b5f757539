//! Paying the organisations (issue 18): each organisation's payment mode and how it is
//! paid, the vendor accounts, what a receipt makes the fund owe, and payout batches.
//!
//! Every movement is a ledger transfer between the accounts `ledger::figures` names; this
//! module decides which and when. A batch is prepared by one treasurer (a line per
//! account the fund owes on, to replenish, or to advance), released by another, then paid
//! whole or line by line; a paid line that bounces is reversed by a new transfer and owed
//! again. An open line claims its account, so no other batch can take the same money.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::audit::{self, Actor};
use crate::cases::Staff;
use crate::domain::money::format_cents;
use crate::domain::note::Note;
use crate::domain::states::{
    LineStatus, PaidBy, PayeeKind, PaymentMethod, PaymentMode, PayoutPurpose, PayoutStatus,
};
use crate::ledger::figures::{
    self, BANK_OWED, BOUNCE_CODE, Holder, PAYOUT_CODE, advance_of, owed_to_org, owed_to_vendor,
    to_replenish_of,
};
use crate::ledger::{self, FUND, NewTransfer, Outcome, Rejection, TransferSpec};
use crate::store::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

/// What can stop a step of the payouts; the HTTP layer maps each to a status.
#[derive(Debug, thiserror::Error)]
pub enum PayoutError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ledger(#[from] ledger::LedgerError),
}

impl From<sqlx::Error> for PayoutError {
    fn from(e: sqlx::Error) -> Self {
        PayoutError::Store(e.into())
    }
}

impl crate::store::Contention for PayoutError {
    fn is_contention(&self) -> bool {
        match self {
            PayoutError::Store(e) => e.is_contention(),
            PayoutError::Ledger(e) => e.is_contention(),
            _ => false,
        }
    }
}

fn invalid(field: &str, message: impl std::fmt::Display) -> PayoutError {
    PayoutError::Invalid {
        field: field.into(),
        message: message.to_string(),
    }
}

/// Payee details as lists and pages show them: the last four characters of a bank
/// account, the first letter and the domain of an e-transfer address.
pub fn masked(details: &str) -> String {
    let details = details.trim();
    if let Some((local, domain)) = details.split_once('@') {
        let first: String = local.chars().take(1).collect();
        return format!("{first}•••@{domain}");
    }
    let chars: Vec<char> = details.chars().collect();
    if chars.len() <= 4 {
        return "••••".into();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("••••{tail}")
}

/// Payee details: the e-transfer address or the bank account (transit, institution,
/// account), at most 120 characters on one line.
pub fn parse_details(raw: &str) -> Result<String, PayoutError> {
    let details = raw.trim();
    if details.is_empty() || details.chars().count() > 120 {
        return Err(invalid(
            "payee_details",
            "give the e-transfer address or the bank account (transit, institution, account), at most 120 characters",
        ));
    }
    if details.chars().any(char::is_control) {
        return Err(invalid("payee_details", "must be one line of text"));
    }
    Ok(details.to_string())
}

// ---------------------------------------------------------------------------------------
// Vendors

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Vendor {
    #[schema(format = "uuid")]
    pub id: String,
    pub name: String,
    pub method: PaymentMethod,
    /// Masked.
    pub payee_details: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewVendor {
    pub name: String,
    pub method: PaymentMethod,
    pub payee_details: Option<String>,
}

impl NewVendor {
    /// A vendor account's name is free text: scanned like a note, at most 120 characters.
    pub fn new(
        name: &str,
        method: Option<PaymentMethod>,
        payee_details: Option<&str>,
    ) -> Result<NewVendor, PayoutError> {
        let note = Note::parse(name).map_err(|e| invalid("name", e))?;
        if note.as_str().chars().count() > 120 || note.as_str().contains('\n') {
            return Err(invalid(
                "name",
                "must be one line of at most 120 characters",
            ));
        }
        Ok(NewVendor {
            name: note.as_str().to_string(),
            method: method.unwrap_or(PaymentMethod::Etransfer),
            payee_details: payee_details.map(parse_details).transpose()?,
        })
    }
}

pub async fn add_vendor(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    new: &NewVendor,
) -> Result<String, PayoutError> {
    let taken: Option<String> = on_tx!(tx, c => sqlx::query_scalar("SELECT id FROM vendors WHERE name = $1")
        .bind(&new.name)
        .fetch_optional(c)
        .await)?;
    if taken.is_some() {
        return Err(PayoutError::Conflict(format!(
            "a vendor account is already named {:?}: use it, or choose another name",
            new.name
        )));
    }
    let id = uuid::Uuid::new_v4().to_string();
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO vendors (id, name, method, payee_details, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(&new.name)
    .bind(new.method)
    .bind(&new.payee_details)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    audit::append(
        tx,
        now,
        actor,
        "vendor.add",
        &format!("vendor:{id}"),
        &json!({"method": new.method, "payee_details": new.payee_details.is_some()}),
    )
    .await?;
    Ok(id)
}

pub async fn vendors(db: &Db) -> Result<Vec<Vendor>, StoreError> {
    let mut list: Vec<Vendor> = on_db!(db, p => sqlx::query_as(
        "SELECT id, name, method, payee_details, created_at FROM vendors ORDER BY name LIMIT 1000",
    )
    .fetch_all(p)
    .await)?;
    for v in &mut list {
        v.payee_details = v.payee_details.as_deref().map(masked);
    }
    Ok(list)
}

// ---------------------------------------------------------------------------------------
// Organisations' payment settings

/// How an organisation is paid (the defaults when it has no settings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PaymentSettings {
    #[schema(format = "uuid")]
    pub org_id: String,
    pub mode: PaymentMode,
    /// With `advance`: the money kept at the organisation.
    #[schema(value_type = Option<crate::domain::Money>)]
    pub advance_level: Option<String>,
    #[schema(format = "uuid")]
    pub default_vendor_id: Option<String>,
    pub method: PaymentMethod,
    /// Masked.
    pub payee_details: Option<String>,
    /// What the organisation owes back: its unspent advance above its level (all of it
    /// once it left the advance mode), recorded when its deposit reaches the bank.
    #[schema(value_type = crate::domain::Money)]
    pub owed_back: String,
}

#[derive(Debug, Clone)]
pub struct NewSettings {
    pub mode: PaymentMode,
    pub advance_level: Option<i64>,
    pub default_vendor_id: Option<String>,
    pub method: PaymentMethod,
    pub payee_details: Option<String>,
}

type SettingsRow = (
    PaymentMode,
    Option<i64>,
    Option<String>,
    PaymentMethod,
    Option<String>,
);

async fn settings_row(tx: &mut Tx, org_id: &str) -> Result<Option<SettingsRow>, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_as(
        "SELECT mode, advance_level, default_vendor_id, method, payee_details
         FROM org_payment WHERE org_id = $1",
    )
    .bind(org_id)
    .fetch_optional(c)
    .await)?)
}

async fn org_exists(tx: &mut Tx, org_id: &str) -> Result<bool, StoreError> {
    let found: Option<String> = on_tx!(tx, c => sqlx::query_scalar("SELECT id FROM orgs WHERE id = $1")
        .bind(org_id)
        .fetch_optional(c)
        .await)?;
    Ok(found.is_some())
}

async fn vendor_exists(tx: &mut Tx, vendor_id: &str) -> Result<bool, StoreError> {
    let found: Option<String> = on_tx!(tx, c => sqlx::query_scalar("SELECT id FROM vendors WHERE id = $1")
        .bind(vendor_id)
        .fetch_optional(c)
        .await)?;
    Ok(found.is_some())
}

/// An organisation's payment settings, masked; the defaults when none were set.
pub async fn settings(tx: &mut Tx, org_id: &str) -> Result<PaymentSettings, PayoutError> {
    if !org_exists(tx, org_id).await? {
        return Err(PayoutError::NotFound(
            "no organisation has this id: the treasurers' list of organisations gives their ids"
                .into(),
        ));
    }
    let (mode, level, vendor, method, details) = settings_row(tx, org_id).await?.unwrap_or((
        PaymentMode::Reimbursement,
        None,
        None,
        PaymentMethod::Etransfer,
        None,
    ));
    Ok(PaymentSettings {
        org_id: org_id.into(),
        mode,
        advance_level: level.map(format_cents),
        default_vendor_id: vendor,
        method,
        payee_details: details.as_deref().map(masked),
        owed_back: format_cents(super::owed::owed(tx, Some(org_id)).await?.owed_back()),
    })
}

/// Replaces an organisation's payment settings (a treasurer's step, audited).
pub async fn set_settings(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    org_id: &str,
    new: &NewSettings,
) -> Result<PaymentSettings, PayoutError> {
    if !org_exists(tx, org_id).await? {
        return Err(PayoutError::NotFound(
            "no organisation has this id: the treasurers' list of organisations gives their ids"
                .into(),
        ));
    }
    match new.mode {
        PaymentMode::Advance if new.advance_level.is_none() => {
            return Err(invalid(
                "advance_level",
                "is required with mode advance: the money the fund keeps at the organisation, such as \"2000.00\"",
            ));
        }
        PaymentMode::FundPays if new.default_vendor_id.is_none() => {
            return Err(invalid(
                "default_vendor_id",
                "is required with mode fund_pays: the vendor account receipts are owed to (add one first)",
            ));
        }
        _ => {}
    }
    if new.mode != PaymentMode::Advance && new.advance_level.is_some() {
        return Err(invalid(
            "advance_level",
            "goes only with mode advance: leave it out",
        ));
    }
    if let Some(vendor) = &new.default_vendor_id
        && !vendor_exists(tx, vendor).await?
    {
        return Err(invalid(
            "default_vendor_id",
            "no vendor account has this id: the list of vendor accounts gives their ids",
        ));
    }
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO org_payment (org_id, mode, advance_level, default_vendor_id, method, payee_details, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (org_id) DO UPDATE SET mode = $2, advance_level = $3, default_vendor_id = $4,
             method = $5, payee_details = $6, updated_at = $7",
    )
    .bind(org_id)
    .bind(new.mode)
    .bind(new.advance_level)
    .bind(&new.default_vendor_id)
    .bind(new.method)
    .bind(&new.payee_details)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    audit::append(
        tx,
        now,
        actor,
        "org.payment",
        &format!("org:{org_id}"),
        &json!({"mode": new.mode, "advance_level": new.advance_level,
                "default_vendor_id": new.default_vendor_id, "method": new.method,
                "payee_details": new.payee_details.is_some()}),
    )
    .await?;
    settings(tx, org_id).await
}

// ---------------------------------------------------------------------------------------
// What a receipt makes the fund owe

/// Who paid a receipt, once the organisation's mode has filled in what it left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payer {
    pub paid_by: PaidBy,
    pub vendor_id: Option<String>,
}

/// Who paid a receipt of `org_id`'s: what the receipt says, else the organisation's mode.
pub async fn payer(
    tx: &mut Tx,
    org_id: &str,
    paid_by: Option<PaidBy>,
    vendor_id: Option<&str>,
) -> Result<Payer, PayoutError> {
    let row = settings_row(tx, org_id).await?;
    let (mode, default_vendor) = match &row {
        Some((mode, _, vendor, _, _)) => (*mode, vendor.clone()),
        None => (PaymentMode::Reimbursement, None),
    };
    let paid_by = paid_by.unwrap_or(match mode {
        PaymentMode::Reimbursement => PaidBy::Org,
        PaymentMode::Advance => PaidBy::Advance,
        PaymentMode::FundPays => PaidBy::Vendor,
    });
    if paid_by != PaidBy::Vendor {
        if vendor_id.is_some() {
            return Err(invalid(
                "vendor_id",
                "goes only with paid_by vendor: leave it out",
            ));
        }
        return Ok(Payer {
            paid_by,
            vendor_id: None,
        });
    }
    let Some(vendor) = vendor_id.map(str::to_string).or(default_vendor) else {
        return Err(invalid(
            "vendor_id",
            "is required with paid_by vendor: the vendor account the fund paid through (a treasurer lists them)",
        ));
    };
    if !vendor_exists(tx, &vendor).await? {
        return Err(invalid(
            "vendor_id",
            "no vendor account has this id: a treasurer lists them",
        ));
    }
    Ok(Payer {
        paid_by,
        vendor_id: Some(vendor),
    })
}

async fn balance(tx: &mut Tx, account: &str) -> Result<i64, StoreError> {
    let found: Option<i64> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT credits_posted - debits_posted - debits_pending FROM accounts WHERE id = $1",
    )
    .bind(account)
    .fetch_optional(c)
    .await)?;
    Ok(found.unwrap_or(0))
}

/// One transfer of the payouts, from `debit` to `credit`.
struct Move<'a> {
    id: String,
    debit: &'a str,
    credit: &'a str,
    amount: i64,
    code: &'a str,
    reference: &'a str,
}

/// Makes one transfer of the payouts; a refusal is answered as a conflict saying `what`.
async fn move_money(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    m: Move<'_>,
    what: &str,
) -> Result<String, PayoutError> {
    for account in [m.debit, m.credit] {
        ledger::ensure_account(tx, now, account, figures::is_asset_part(account)).await?;
    }
    let new = NewTransfer {
        id: m.id,
        spec: TransferSpec::Single {
            debit: m.debit.into(),
            credit: m.credit.into(),
            amount: m.amount,
        },
        code: m.code.into(),
        reference: Some(m.reference.into()),
    };
    match ledger::create_transfer(tx, now, actor, &new).await? {
        Outcome::Created(t) | Outcome::Exists(t) => Ok(t.id),
        Outcome::Rejected(Rejection::ExceedsCredits) => Err(PayoutError::Conflict(format!(
            "{what}: the money is no longer there ({} has less than {})",
            m.debit,
            format_cents(m.amount)
        ))),
        Outcome::Rejected(r) => Err(PayoutError::Conflict(format!(
            "{what}: the ledger refused it ({})",
            r.as_str()
        ))),
    }
}

/// Records what a settled receipt of `amount` cents makes the fund owe, by who paid it:
/// the organisation (it is owed the amount), its advance (drawn down, and owed back as a
/// replenishment; the part above the unspent advance is owed as a reimbursement) or a
/// vendor account (owed the amount). Called in the transaction that settles the request.
pub async fn owe(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    request_id: &str,
    org_id: &str,
    payer: &Payer,
    amount: i64,
) -> Result<(), PayoutError> {
    let what = "recording what the fund owes for this receipt";
    let (to_org, from_advance) = match payer.paid_by {
        PaidBy::Org => (amount, 0),
        PaidBy::Vendor => (0, 0),
        PaidBy::Advance => {
            let unspent = balance(tx, &advance_of(org_id)).await?.max(0);
            let drawn = amount.min(unspent);
            (amount - drawn, drawn)
        }
    };
    if payer.paid_by == PaidBy::Vendor {
        let vendor = payer
            .vendor_id
            .as_deref()
            .ok_or_else(|| invalid("vendor_id", "is required with paid_by vendor"))?;
        move_money(
            tx,
            now,
            actor,
            Move {
                id: format!("owe:{request_id}"),
                debit: &owed_to_vendor(vendor),
                credit: BANK_OWED,
                amount,
                code: "owed",
                reference: request_id,
            },
            what,
        )
        .await?;
    }
    if from_advance > 0 {
        move_money(
            tx,
            now,
            actor,
            Move {
                id: format!("draw:{request_id}"),
                debit: &advance_of(org_id),
                credit: &to_replenish_of(org_id),
                amount: from_advance,
                code: "advance-drawn",
                reference: request_id,
            },
            what,
        )
        .await?;
    }
    if to_org > 0 {
        move_money(
            tx,
            now,
            actor,
            Move {
                id: format!("owe:{request_id}"),
                debit: &owed_to_org(org_id),
                credit: BANK_OWED,
                amount: to_org,
                code: "owed",
                reference: request_id,
            },
            what,
        )
        .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Payout batches

/// A line of a payout batch as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LineView {
    #[schema(format = "uuid")]
    pub id: String,
    pub payee_kind: PayeeKind,
    #[schema(format = "uuid")]
    pub payee_id: String,
    pub payee_name: String,
    pub purpose: PayoutPurpose,
    #[schema(value_type = crate::domain::Money)]
    pub amount: String,
    pub method: PaymentMethod,
    /// Masked.
    pub payee_details: Option<String>,
    pub status: LineStatus,
    /// The bank's reference, once paid.
    pub bank_reference: Option<String>,
}

/// A payout batch as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PayoutView {
    #[schema(format = "uuid")]
    pub id: String,
    /// The batch's reference, in every payment's memo.
    pub reference: String,
    pub status: PayoutStatus,
    #[schema(value_type = crate::domain::Money)]
    pub total: String,
    pub up_to: Option<DateTime<Utc>>,
    #[schema(format = "uuid")]
    pub prepared_by: String,
    pub prepared_at: DateTime<Utc>,
    #[schema(format = "uuid")]
    pub released_by: Option<String>,
    pub lines: Vec<LineView>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct PayoutRow {
    id: String,
    reference: String,
    status: PayoutStatus,
    total: i64,
    up_to: Option<DateTime<Utc>>,
    prepared_by: String,
    prepared_at: DateTime<Utc>,
    released_by: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct LineRow {
    id: String,
    payee_kind: PayeeKind,
    payee_id: String,
    payee_name: String,
    purpose: PayoutPurpose,
    claim: String,
    amount: i64,
    method: PaymentMethod,
    payee_details: Option<String>,
    status: LineStatus,
    bank_reference: Option<String>,
}

const LINE_SELECT: &str = "SELECT l.id, l.payee_kind, l.payee_id,
        COALESCE(o.name, v.name, '') AS payee_name, l.purpose, l.claim, l.amount, l.method,
        COALESCE(p.payee_details, v.payee_details) AS payee_details, l.status, l.bank_reference
     FROM payout_lines l
     LEFT JOIN orgs o ON l.payee_kind = $2 AND o.id = l.payee_id
     LEFT JOIN org_payment p ON l.payee_kind = $2 AND p.org_id = l.payee_id
     LEFT JOIN vendors v ON l.payee_kind = $3 AND v.id = l.payee_id";

async fn load(tx: &mut Tx, id: &str) -> Result<(PayoutRow, Vec<LineRow>), PayoutError> {
    let sql = format!(
        "SELECT id, reference, status, total, up_to, prepared_by, prepared_at, released_by
         FROM payouts WHERE id = $1{}",
        tx.lock_rows()
    );
    let batch: Option<PayoutRow> =
        on_tx!(tx, c => sqlx::query_as(&sql).bind(id).fetch_optional(c).await)?;
    let batch = batch.ok_or_else(|| {
        PayoutError::NotFound(
            "no payout batch has this id: the list of batches gives their ids".into(),
        )
    })?;
    let sql = format!("{LINE_SELECT} WHERE l.payout_id = $1 ORDER BY payee_name, l.purpose, l.id");
    let lines: Vec<LineRow> = on_tx!(tx, c => sqlx::query_as(&sql)
        .bind(id)
        .bind(PayeeKind::Org)
        .bind(PayeeKind::Vendor)
        .fetch_all(c)
        .await)?;
    Ok((batch, lines))
}

fn view_of(batch: PayoutRow, lines: Vec<LineRow>) -> PayoutView {
    PayoutView {
        id: batch.id,
        reference: batch.reference,
        status: batch.status,
        total: format_cents(batch.total),
        up_to: batch.up_to,
        prepared_by: batch.prepared_by,
        prepared_at: batch.prepared_at,
        released_by: batch.released_by,
        lines: lines
            .into_iter()
            .map(|l| LineView {
                id: l.id,
                payee_kind: l.payee_kind,
                payee_id: l.payee_id,
                payee_name: l.payee_name,
                purpose: l.purpose,
                amount: format_cents(l.amount),
                method: l.method,
                payee_details: l.payee_details.as_deref().map(masked),
                status: l.status,
                bank_reference: l.bank_reference,
            })
            .collect(),
    }
}

/// A payout batch with its lines.
pub async fn find(tx: &mut Tx, id: &str) -> Result<PayoutView, PayoutError> {
    let (batch, lines) = load(tx, id).await?;
    Ok(view_of(batch, lines))
}

/// One page of the payout batches, newest first, without their lines, optionally of one
/// status.
pub async fn list(
    tx: &mut Tx,
    status: Option<PayoutStatus>,
    page: &crate::domain::page::PageRequest,
) -> Result<crate::domain::page::Page<PayoutView>, PayoutError> {
    let (cursor, _) = page.bound();
    let (keyset, order) = crate::domain::page::keyset_sql(page, false, "0", "prepared_at", "id", 3);
    let sql = format!(
        "SELECT id, reference, status, total, up_to, prepared_by, prepared_at, released_by
         FROM payouts WHERE ($2 IS NULL OR status = $2) AND {keyset}
         ORDER BY {order} LIMIT $1"
    );
    let rows: Vec<PayoutRow> = on_tx!(tx, c => sqlx::query_as(&sql)
        .bind(page.fetch())
        .bind(status)
        .bind(cursor.map(|c| c.rank))
        .bind(cursor.map(|c| c.at))
        .bind(cursor.map(|c| c.id.clone()))
        .fetch_all(c)
        .await)?;
    let views: Vec<PayoutView> = rows.into_iter().map(|r| view_of(r, Vec::new())).collect();
    Ok(crate::domain::page::Page::from_rows(views, page, |v| {
        crate::domain::page::Cursor {
            rank: 0,
            at: v.prepared_at,
            id: v.id.clone(),
        }
    }))
}

/// A line the batch will hold, before it is written.
struct Candidate {
    payee_kind: PayeeKind,
    payee_id: String,
    purpose: PayoutPurpose,
    claim: String,
    amount: i64,
}

/// What accounts of the payouts gained after `up_to`: it waits for a later batch.
async fn gained_after(
    tx: &mut Tx,
    account: &str,
    up_to: Option<DateTime<Utc>>,
    owed_side: bool,
) -> Result<i64, StoreError> {
    let Some(up_to) = up_to else {
        return Ok(0);
    };
    let column = if owed_side {
        "debit_account_id"
    } else {
        "credit_account_id"
    };
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM transfers
         WHERE {column} = $1 AND created_at > $2 AND code <> $3"
    );
    Ok(on_tx!(tx, c => sqlx::query_scalar(&sql)
        .bind(account)
        .bind(up_to)
        .bind(BOUNCE_CODE)
        .fetch_one(c)
        .await)?)
}

/// Prepares a payout batch of everything the fund owes and has to replenish (what it
/// gained up to `up_to`, when given), and every advance below its level, that no live
/// batch has taken yet.
pub async fn prepare(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    up_to: Option<DateTime<Utc>>,
) -> Result<PayoutView, PayoutError> {
    // One preparation at a time, on every instance: the fund's row is the lock.
    let mut available = ledger::lock_fund_available(tx).await?;
    let accounts: Vec<(String, i64)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT a.id, a.credits_posted - a.debits_posted - a.debits_pending FROM accounts a
         WHERE NOT EXISTS (SELECT 1 FROM payout_lines l WHERE l.claim = a.id AND l.status = $1)
         ORDER BY a.id",
    )
    .bind(LineStatus::Open)
    .fetch_all(c)
    .await)?;
    let mut candidates = Vec::new();
    for (account, balance) in &accounts {
        let (payee_kind, payee_id, purpose, owed) = match Holder::of(account) {
            Some(Holder::OwedToOrg(org)) => {
                (PayeeKind::Org, org, PayoutPurpose::Reimbursement, -balance)
            }
            Some(Holder::OwedToVendor(v)) => {
                (PayeeKind::Vendor, v, PayoutPurpose::Vendor, -balance)
            }
            Some(Holder::ToReplenish(org)) => {
                (PayeeKind::Org, org, PayoutPurpose::Replenishment, *balance)
            }
            _ => continue,
        };
        let owed_side = purpose != PayoutPurpose::Replenishment;
        let amount = owed - gained_after(tx, account, up_to, owed_side).await?;
        if amount > 0 {
            candidates.push(Candidate {
                payee_kind,
                payee_id: payee_id.to_string(),
                purpose,
                claim: account.clone(),
                amount,
            });
        }
    }
    // Advances below their level: the level less what is at the organisation and what a
    // replenishment will bring back.
    let advances: Vec<(String, i64)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT org_id, advance_level FROM org_payment
         WHERE mode = $1 AND advance_level IS NOT NULL ORDER BY org_id",
    )
    .bind(PaymentMode::Advance)
    .fetch_all(c)
    .await)?;
    for (org, level) in advances {
        let claim = advance_of(&org);
        let open: Option<String> = on_tx!(tx, c => sqlx::query_scalar(
            "SELECT id FROM payout_lines WHERE claim = $1 AND status = $2"
        )
        .bind(&claim)
        .bind(LineStatus::Open)
        .fetch_optional(c)
        .await)?;
        if open.is_some() {
            continue;
        }
        let at_org = balance(tx, &claim).await?;
        let coming = balance(tx, &to_replenish_of(&org)).await?;
        let amount = (level - at_org - coming).min(available);
        if amount > 0 {
            available -= amount;
            candidates.push(Candidate {
                payee_kind: PayeeKind::Org,
                payee_id: org,
                purpose: PayoutPurpose::Advance,
                claim,
                amount,
            });
        }
    }
    if candidates.is_empty() {
        return Err(PayoutError::Conflict(
            "there is nothing to pay: the fund owes nothing that no live batch has taken, nothing is to replenish and no advance is below its level".into(),
        ));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let reference = format!(
        "PO-{}-{}",
        now.format("%Y%m%d"),
        id.replace('-', "")[..6].to_ascii_uppercase()
    );
    let total: i64 = candidates.iter().map(|c| c.amount).sum();
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO payouts (id, reference, status, up_to, total, prepared_by, prepared_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&reference)
    .bind(PayoutStatus::Prepared)
    .bind(up_to)
    .bind(total)
    .bind(&staff.user_id)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    for c in &candidates {
        let method = method_of(tx, c.payee_kind, &c.payee_id).await?;
        on_tx!(tx, conn => sqlx::query(
            "INSERT INTO payout_lines (id, payout_id, payee_kind, payee_id, purpose, claim, amount, method, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&id)
        .bind(c.payee_kind)
        .bind(&c.payee_id)
        .bind(c.purpose)
        .bind(&c.claim)
        .bind(c.amount)
        .bind(method)
        .bind(LineStatus::Open)
        .execute(conn)
        .await
        .map(|_| ()))?;
    }
    audit::append(
        tx,
        now,
        &staff.actor(),
        "payout.prepare",
        &format!("payout:{id}"),
        &json!({"reference": reference, "total": total, "lines": candidates.len(),
                "up_to": up_to.map(audit::canonical_time)}),
    )
    .await?;
    find(tx, &id).await
}

async fn method_of(tx: &mut Tx, kind: PayeeKind, id: &str) -> Result<PaymentMethod, StoreError> {
    let sql = match kind {
        PayeeKind::Org => "SELECT method FROM org_payment WHERE org_id = $1",
        PayeeKind::Vendor => "SELECT method FROM vendors WHERE id = $1",
    };
    let found: Option<PaymentMethod> =
        on_tx!(tx, c => sqlx::query_scalar(sql).bind(id).fetch_optional(c).await)?;
    Ok(found.unwrap_or(PaymentMethod::Etransfer))
}

fn must_be(batch: &PayoutRow, allowed: &[PayoutStatus], what: &str) -> Result<(), PayoutError> {
    if allowed.contains(&batch.status) {
        Ok(())
    } else {
        Err(PayoutError::Conflict(format!(
            "this batch is {}, so it cannot be {what}",
            batch.status
        )))
    }
}

/// Another treasurer releases a prepared batch: never the one who prepared it, never one
/// whose own organisation it pays.
pub async fn release(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
) -> Result<PayoutView, PayoutError> {
    let (batch, lines) = load(tx, id).await?;
    must_be(&batch, &[PayoutStatus::Prepared], "released")?;
    if batch.prepared_by == staff.user_id {
        return Err(PayoutError::Forbidden(
            "you prepared this batch: another treasurer releases it".into(),
        ));
    }
    if let Some(own) = &staff.org_id
        && lines
            .iter()
            .any(|l| l.payee_kind == PayeeKind::Org && &l.payee_id == own)
    {
        return Err(PayoutError::Forbidden(
            "this batch pays your own organisation: a treasurer of another organisation releases it".into(),
        ));
    }
    on_tx!(tx, c => sqlx::query(
        "UPDATE payouts SET status = $2, released_by = $3, released_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(PayoutStatus::Released)
    .bind(&staff.user_id)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    audit::append(
        tx,
        now,
        &staff.actor(),
        "payout.release",
        &format!("payout:{id}"),
        &json!({"reference": batch.reference, "total": batch.total}),
    )
    .await?;
    find(tx, id).await
}

/// Cancels a batch before any of it is paid; its lines are free for another batch.
pub async fn cancel(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
) -> Result<PayoutView, PayoutError> {
    let (batch, lines) = load(tx, id).await?;
    must_be(
        &batch,
        &[PayoutStatus::Prepared, PayoutStatus::Released],
        "cancelled any more",
    )?;
    if lines.iter().any(|l| l.status != LineStatus::Open) {
        return Err(PayoutError::Conflict(
            "part of this batch is already paid, so it cannot be cancelled: mark the rest paid, or record a bounce for a payment that came back".into(),
        ));
    }
    on_tx!(tx, c => sqlx::query("UPDATE payout_lines SET status = $2 WHERE payout_id = $1 AND status = $3")
        .bind(id)
        .bind(LineStatus::Cancelled)
        .bind(LineStatus::Open)
        .execute(c)
        .await
        .map(|_| ()))?;
    close(
        tx,
        now,
        &staff.actor(),
        id,
        PayoutStatus::Cancelled,
        "payout.cancel",
        json!({"reference": batch.reference}),
    )
    .await?;
    find(tx, id).await
}

/// Ends batch `id` as `status` (cancelled, or paid once its last line is) and audits it.
async fn close(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    id: &str,
    status: PayoutStatus,
    action: &str,
    content: Value,
) -> Result<(), PayoutError> {
    on_tx!(tx, c => sqlx::query("UPDATE payouts SET status = $2, closed_at = $3 WHERE id = $1")
        .bind(id)
        .bind(status)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))?;
    audit::append(tx, now, actor, action, &format!("payout:{id}"), &content).await?;
    Ok(())
}

/// The accounts a line's payment moves money between: from the bank's part (or, for an
/// advance, from available) towards the payee's account.
fn payment_accounts(line: &LineRow) -> (String, String) {
    match line.purpose {
        PayoutPurpose::Reimbursement | PayoutPurpose::Vendor => {
            (BANK_OWED.to_string(), line.claim.clone())
        }
        PayoutPurpose::Replenishment => (line.claim.clone(), advance_of(&line.payee_id)),
        PayoutPurpose::Advance => (FUND.to_string(), line.claim.clone()),
    }
}

async fn pay_line(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    batch: &PayoutRow,
    line: &LineRow,
    reference: &str,
) -> Result<(), PayoutError> {
    let (debit, credit) = payment_accounts(line);
    let what = format!(
        "paying {} to {}",
        format_cents(line.amount),
        line.payee_name
    );
    let transfer = move_money(
        tx,
        now,
        actor,
        Move {
            id: format!("payout:{}", line.id),
            debit: &debit,
            credit: &credit,
            amount: line.amount,
            code: PAYOUT_CODE,
            reference: &line.id,
        },
        &what,
    )
    .await?;
    on_tx!(tx, c => sqlx::query(
        "UPDATE payout_lines SET status = $2, bank_reference = $3, paid_transfer_id = $4, paid_at = $5
         WHERE id = $1",
    )
    .bind(&line.id)
    .bind(LineStatus::Paid)
    .bind(reference)
    .bind(&transfer)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    audit::append(
        tx,
        now,
        actor,
        "payout.line_paid",
        &format!("payout:{}", batch.id),
        &json!({"line": line.id, "amount": line.amount, "purpose": line.purpose,
                "payee_kind": line.payee_kind, "payee_id": line.payee_id, "reference": reference}),
    )
    .await?;
    Ok(())
}

/// A bank's reference for a payment: free text, scanned like a note, one line.
pub fn parse_bank_reference(raw: &str) -> Result<String, PayoutError> {
    let note = Note::parse(raw).map_err(|e| invalid("reference", e))?;
    if note.as_str().chars().count() > 80 || note.as_str().contains('\n') {
        return Err(invalid(
            "reference",
            "must be one line of at most 80 characters",
        ));
    }
    Ok(note.as_str().to_string())
}

/// Marks a released batch paid (`line` None: every open line) with the bank's reference:
/// the money leaves the bank.
pub async fn mark_paid(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
    line: Option<&str>,
    reference: &str,
) -> Result<PayoutView, PayoutError> {
    let (batch, lines) = load(tx, id).await?;
    must_be(
        &batch,
        &[PayoutStatus::Released],
        "marked paid (a second treasurer releases it first)",
    )?;
    let actor = staff.actor();
    let chosen: Vec<&LineRow> = match line {
        Some(line_id) => {
            let Some(found) = lines.iter().find(|l| l.id == line_id) else {
                return Err(PayoutError::NotFound(
                    "this batch has no line with this id".into(),
                ));
            };
            if found.status != LineStatus::Open {
                return Err(PayoutError::Conflict(format!(
                    "this line is {}, so it cannot be marked paid",
                    found.status
                )));
            }
            vec![found]
        }
        None => lines
            .iter()
            .filter(|l| l.status == LineStatus::Open)
            .collect(),
    };
    for l in chosen {
        pay_line(tx, now, &actor, &batch, l, reference).await?;
    }
    let open: i64 = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM payout_lines WHERE payout_id = $1 AND status = $2"
    )
    .bind(id)
    .bind(LineStatus::Open)
    .fetch_one(c)
    .await)?;
    if open == 0 {
        close(
            tx,
            now,
            &actor,
            id,
            PayoutStatus::Paid,
            "payout.paid",
            json!({"reference": batch.reference, "total": batch.total}),
        )
        .await?;
    }
    find(tx, id).await
}

/// A paid line came back: its payment is reversed by a new transfer and owed again.
pub async fn bounced(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
    line_id: &str,
) -> Result<PayoutView, PayoutError> {
    let (batch, lines) = load(tx, id).await?;
    let Some(line) = lines.iter().find(|l| l.id == line_id) else {
        return Err(PayoutError::NotFound(
            "this batch has no line with this id".into(),
        ));
    };
    if line.status != LineStatus::Paid {
        return Err(PayoutError::Conflict(format!(
            "this line is {}: only a paid line can bounce",
            line.status
        )));
    }
    let (debit, credit) = payment_accounts(line);
    let what = format!(
        "reversing the payment of {} to {}",
        format_cents(line.amount),
        line.payee_name
    );
    let transfer = move_money(
        tx,
        now,
        &staff.actor(),
        Move {
            id: format!("bounce:{}", line.id),
            debit: &credit,
            credit: &debit,
            amount: line.amount,
            code: BOUNCE_CODE,
            reference: &line.id,
        },
        &what,
    )
    .await?;
    on_tx!(tx, c => sqlx::query(
        "UPDATE payout_lines SET status = $2, bounce_transfer_id = $3, bounced_at = $4 WHERE id = $1",
    )
    .bind(&line.id)
    .bind(LineStatus::Bounced)
    .bind(&transfer)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    audit::append(
        tx,
        now,
        &staff.actor(),
        "payout.line_bounced",
        &format!("payout:{}", batch.id),
        &json!({"line": line.id, "amount": line.amount, "purpose": line.purpose}),
    )
    .await?;
    find(tx, id).await
}

/// One cell of the bank's upload: quoted when it holds a comma, a quote or a line break,
/// and never read as a formula by a spreadsheet.
fn cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The bank's bulk upload for a released (or paid) batch: one line per payee with the
/// full payee details, the amount, the method and a memo with the batch's reference
/// (never a case code).
pub async fn instructions(tx: &mut Tx, id: &str) -> Result<String, PayoutError> {
    let (batch, lines) = load(tx, id).await?;
    must_be(
        &batch,
        &[PayoutStatus::Released, PayoutStatus::Paid],
        "exported (a second treasurer releases it first)",
    )?;
    struct Payee {
        kind: PayeeKind,
        id: String,
        name: String,
        details: Option<String>,
        method: PaymentMethod,
        amount: i64,
        purposes: Vec<PayoutPurpose>,
    }
    let mut payees: Vec<Payee> = Vec::new();
    for l in lines.iter().filter(|l| l.status != LineStatus::Cancelled) {
        match payees
            .iter_mut()
            .find(|p| p.kind == l.payee_kind && p.id == l.payee_id)
        {
            Some(p) => {
                p.amount += l.amount;
                if !p.purposes.contains(&l.purpose) {
                    p.purposes.push(l.purpose);
                }
            }
            None => payees.push(Payee {
                kind: l.payee_kind,
                id: l.payee_id.clone(),
                name: l.payee_name.clone(),
                details: l.payee_details.clone(),
                method: l.method,
                amount: l.amount,
                purposes: vec![l.purpose],
            }),
        }
    }
    let mut csv = String::from("payee,payee_details,amount,method,memo\r\n");
    for p in payees {
        let purposes: Vec<&str> = p.purposes.iter().map(|p| p.as_str()).collect();
        csv.push_str(&format!(
            "{},{},{},{},{}\r\n",
            cell(&p.name),
            cell(p.details.as_deref().unwrap_or("")),
            format_cents(p.amount),
            p.method.as_str(),
            cell(&format!(
                "Passage {} {}",
                batch.reference,
                purposes.join("+")
            )),
        ));
    }
    Ok(csv)
}

/// Keeps who paid a request's receipt on the request, for a late receipt's approval and
/// for the organisation's page.
pub async fn record_payer(tx: &mut Tx, request_id: &str, payer: &Payer) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("UPDATE requests SET paid_by = $2, paid_by_vendor_id = $3 WHERE id = $1")
        .bind(request_id)
        .bind(payer.paid_by)
        .bind(&payer.vendor_id)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Who paid a request's receipt, as recorded with it (the organisation's mode when the
/// receipt was recorded before payers were).
pub async fn recorded_payer(
    tx: &mut Tx,
    request_id: &str,
    org_id: &str,
) -> Result<Payer, PayoutError> {
    let (paid_by, vendor_id): (Option<PaidBy>, Option<String>) = on_tx!(tx, c => sqlx::query_as(
        "SELECT paid_by, paid_by_vendor_id FROM requests WHERE id = $1"
    )
    .bind(request_id)
    .fetch_one(c)
    .await)?;
    match paid_by {
        Some(paid_by) => Ok(Payer { paid_by, vendor_id }),
        None => payer(tx, org_id, None, None).await,
    }
}
