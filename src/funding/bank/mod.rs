//! The bank statement (issue 18): a treasurer imports the coalition's statement; each line
//! is matched to what it is in the books (a cash donation, a payout line paid, a payout
//! line's bounce), recorded as what it is (a bank fee, interest, a gift nobody recorded, a
//! bounce: each a ledger transfer, audited), or left for a treasurer, with its candidates
//! shown. The reconciliation says, for a day, the bank's balance, the books' and the items
//! that explain the difference; once it explains all of it, it can be frozen.
//!
//! Promises kept here (and again by the schema, migration 0035):
//! - a transaction is never added twice: the same OFX `FITID`, or the same date, amount and
//!   running balance (`seen_key`, see [`read`]), whichever file brought it first;
//! - a line with several candidates, or a candidate several new lines could be, is never
//!   matched by itself; one thing in the books is matched by one line at most;
//! - a fee is recorded only once a second treasurer confirms it (never the one who
//!   proposed it), so no one alone can pay themselves out as a "fee";
//! - a day reconciled is frozen: its figures are kept, and no line on or before it is
//!   matched or recorded again.

pub mod layouts;
pub mod read;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use read::{CsvLayout, Layout, LineProblem, Mapping, Problem, Read};

use super::payouts::{self, PayoutError};
use super::{FundingError, NewDonation};
use crate::audit::{self, Actor};
use crate::cases::Staff;
use crate::domain::Money;
use crate::domain::money::format_cents;
use crate::domain::states::{
    BankLineStatus, LineStatus, MatchKind, RecordKind, StatementFormat, TransferKind,
};
use crate::ledger::figures::{BANK_OWED, FEES, OTHER_INCOME, to_replenish_of};
use crate::ledger::{self, FUND, NewTransfer, Outcome, Rejection, TransferSpec};
use crate::on_tx;
use crate::store::{StoreError, Tx};

/// What can stop a step of the bank statement; the HTTP layer maps each to a status.
#[derive(Debug, thiserror::Error)]
pub enum BankError {
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
    /// A frozen reconciliation that cannot be written or read back (a bug).
    #[error("{0}")]
    Internal(String),
}

impl From<sqlx::Error> for BankError {
    fn from(e: sqlx::Error) -> Self {
        BankError::Store(e.into())
    }
}

impl From<PayoutError> for BankError {
    fn from(e: PayoutError) -> Self {
        match e {
            PayoutError::NotFound(m) => BankError::NotFound(m),
            PayoutError::Forbidden(m) => BankError::Forbidden(m),
            PayoutError::Conflict(m) => BankError::Conflict(m),
            PayoutError::Invalid { field, message } => BankError::Invalid { field, message },
            PayoutError::Store(e) => BankError::Store(e),
            PayoutError::Ledger(e) => BankError::Ledger(e),
        }
    }
}

impl From<FundingError> for BankError {
    fn from(e: FundingError) -> Self {
        match e {
            FundingError::Conflict(m) => BankError::Conflict(m),
            FundingError::Invalid { field, message } => BankError::Invalid { field, message },
            FundingError::Store(e) => BankError::Store(e),
            FundingError::Ledger(e) => BankError::Ledger(e),
        }
    }
}

impl crate::store::Contention for BankError {
    fn is_contention(&self) -> bool {
        match self {
            BankError::Store(e) => e.is_contention(),
            BankError::Ledger(e) => e.is_contention(),
            _ => false,
        }
    }
}

fn invalid(field: &str, message: impl std::fmt::Display) -> BankError {
    BankError::Invalid {
        field: field.into(),
        message: message.to_string(),
    }
}

/// How many days before a bank line's date a gift or a payment in the books may be, and
/// after it: a gift is recorded before it reaches the bank, a payment marked paid the day it
/// leaves (or a few days before the bank posts it).
const WINDOW_BEFORE_DAYS: i64 = 10;
const WINDOW_AFTER_DAYS: i64 = 3;

/// The first moment of a day (UTC), the books' side of a statement's date.
fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

fn day_of(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Lines

#[derive(Debug, Clone, sqlx::FromRow)]
struct LineRow {
    id: String,
    statement_id: String,
    posted_on: String,
    description: String,
    amount: i64,
    balance: Option<i64>,
    status: BankLineStatus,
    match_kind: Option<MatchKind>,
    match_id: Option<String>,
    recorded_kind: Option<RecordKind>,
    proposed_by: Option<String>,
}

const LINE_COLUMNS: &str = "id, statement_id, posted_on, description, amount, balance, status, \
     match_kind, match_id, recorded_kind, proposed_by";

/// Something in the books a bank line may be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Candidate {
    pub kind: MatchKind,
    /// The donation's id, or the payout line's.
    pub id: String,
    /// Signed as the bank line is: a gift or a bounce positive, a payment negative.
    #[schema(value_type = String)]
    pub amount: String,
    /// When it was received (a gift), paid or bounced (a payout line).
    pub date: NaiveDate,
    /// The donor, or the payee and the batch's and the bank's references.
    pub description: String,
    #[serde(skip)]
    transfer_id: Option<String>,
}

/// A bank line as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LineView {
    pub id: String,
    pub date: NaiveDate,
    pub description: String,
    /// Signed: deposits positive, withdrawals negative.
    #[schema(value_type = String)]
    pub amount: String,
    /// The account's balance after this line, when the statement gives it.
    #[schema(value_type = Option<String>)]
    pub balance: Option<String>,
    pub status: BankLineStatus,
    /// Whether the line is tied to the books (matched, or recorded as what it is).
    pub matched: bool,
    pub match_kind: Option<MatchKind>,
    pub match_id: Option<String>,
    pub recorded_as: Option<RecordKind>,
    /// A fee waiting for a second treasurer: who proposed it.
    pub proposed_by: Option<String>,
    /// For a line not yet tied to the books: what it may be (never chosen for it when
    /// there are several).
    pub candidates: Vec<Candidate>,
}

fn view(row: LineRow, candidates: Vec<Candidate>) -> LineView {
    LineView {
        id: row.id,
        date: day_of(&row.posted_on),
        description: row.description,
        amount: format_cents(row.amount),
        balance: row.balance.map(format_cents),
        matched: matches!(
            row.status,
            BankLineStatus::Matched | BankLineStatus::Recorded
        ),
        status: row.status,
        match_kind: row.match_kind,
        match_id: row.match_id,
        recorded_as: row.recorded_kind,
        proposed_by: row.proposed_by,
        candidates,
    }
}

async fn line_row(tx: &mut Tx, id: &str, lock: bool) -> Result<LineRow, BankError> {
    let sql = format!(
        "SELECT {LINE_COLUMNS} FROM bank_lines WHERE id = $1{}",
        if lock { tx.lock_rows() } else { "" }
    );
    let row: Option<LineRow> =
        on_tx!(tx, c => sqlx::query_as(&sql).bind(id).fetch_optional(c).await)?;
    row.ok_or_else(|| {
        BankError::NotFound(
            "no bank statement line has this id: the statement's page lists its lines".into(),
        )
    })
}

/// What in the books `line` may be, not yet tied to another line: by amount, within the
/// date window, narrowed by a reference the bank's description carries.
async fn candidates(tx: &mut Tx, line: &LineRow) -> Result<Vec<Candidate>, StoreError> {
    let day = day_of(&line.posted_on);
    let from = day - Duration::days(WINDOW_BEFORE_DAYS);
    let to = day + Duration::days(WINDOW_AFTER_DAYS);
    let mut found = Vec::new();
    if line.amount > 0 {
        let gifts: Vec<(String, i64, String, String, Option<String>)> = on_tx!(tx, c => sqlx::query_as(
            "SELECT d.id, d.amount, d.received_on, n.name, d.transfer_id
             FROM donations d JOIN donors n ON n.id = d.donor_id
             WHERE d.transfer_id IS NOT NULL AND d.amount = $1
               AND d.received_on >= $2 AND d.received_on <= $3
               AND NOT EXISTS (SELECT 1 FROM bank_lines b WHERE b.match_kind = $4 AND b.match_id = d.id)
             ORDER BY d.received_on, d.id LIMIT 20",
        )
        .bind(line.amount)
        .bind(from.to_string())
        .bind(to.to_string())
        .bind(MatchKind::Donation)
        .fetch_all(c)
        .await)?;
        for (id, amount, received_on, donor, transfer_id) in gifts {
            found.push(Candidate {
                kind: MatchKind::Donation,
                id,
                amount: format_cents(amount),
                date: day_of(&received_on),
                description: donor,
                transfer_id,
            });
        }
        // A payment that came back: recorded as bounced in Passage around the same days.
        let bounced = payout_lines(
            tx,
            line.amount,
            "l.bounced_at",
            &[LineStatus::Bounced],
            MatchKind::PayoutBounce,
            from,
            to + Duration::days(WINDOW_BEFORE_DAYS - WINDOW_AFTER_DAYS),
        )
        .await?;
        found.extend(bounced);
    } else {
        let paid = payout_lines(
            tx,
            -line.amount,
            "l.paid_at",
            &[LineStatus::Paid, LineStatus::Bounced],
            MatchKind::PayoutLine,
            from,
            to,
        )
        .await?;
        found.extend(paid);
    }
    if found.len() > 1 {
        let description = line.description.to_lowercase();
        let referenced: Vec<Candidate> = found
            .iter()
            .filter(|c| {
                c.kind != MatchKind::Donation
                    && c.description
                        .split(" · ")
                        .skip(1)
                        .any(|r| !r.is_empty() && description.contains(&r.to_lowercase()))
            })
            .cloned()
            .collect();
        if !referenced.is_empty() {
            return Ok(referenced);
        }
    }
    Ok(found)
}

/// Payout lines of `amount` (positive cents) in a status, whose `column` moment falls in
/// the window, not yet tied to a line as `kind`.
async fn payout_lines(
    tx: &mut Tx,
    amount: i64,
    column: &str,
    statuses: &[LineStatus],
    kind: MatchKind,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Candidate>, StoreError> {
    let transfer = if kind == MatchKind::PayoutBounce {
        "l.bounce_transfer_id"
    } else {
        "l.paid_transfer_id"
    };
    let sql = format!(
        "SELECT l.id, l.amount, {column}, COALESCE(o.name, v.name, ''), p.reference,
                COALESCE(l.bank_reference, ''), {transfer}
         FROM payout_lines l JOIN payouts p ON p.id = l.payout_id
         LEFT JOIN orgs o ON o.id = l.payee_id
         LEFT JOIN vendors v ON v.id = l.payee_id
         WHERE l.amount = $1 AND l.status IN {} AND {column} >= $2 AND {column} < $3
           AND NOT EXISTS (SELECT 1 FROM bank_lines b WHERE b.match_kind = $4 AND b.match_id = l.id)
         ORDER BY {column}, l.id LIMIT 20",
        LineStatus::sql_list(statuses)
    );
    type Row = (
        String,
        i64,
        DateTime<Utc>,
        String,
        String,
        String,
        Option<String>,
    );
    let rows: Vec<Row> = on_tx!(tx, c => sqlx::query_as(&sql)
        .bind(amount)
        .bind(start_of(from))
        .bind(start_of(to + Duration::days(1)))
        .bind(kind)
        .fetch_all(c)
        .await)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, amount, at, payee, batch, bank_reference, transfer_id)| Candidate {
                kind,
                id,
                amount: format_cents(if kind == MatchKind::PayoutLine {
                    -amount
                } else {
                    amount
                }),
                date: at.date_naive(),
                description: format!("{payee} · {batch} · {bank_reference}"),
                transfer_id,
            },
        )
        .collect())
}

/// Ties a line to what it is in the books, audited.
async fn tie(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    line: &LineRow,
    candidate: &Candidate,
    by_hand: bool,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE bank_lines SET status = $2, match_kind = $3, match_id = $4, transfer_id = $5
         WHERE id = $1",
    )
    .bind(&line.id)
    .bind(BankLineStatus::Matched)
    .bind(candidate.kind)
    .bind(&candidate.id)
    .bind(&candidate.transfer_id)
    .execute(c)
    .await
    .map(|_| ()))?;
    audit::append(
        tx,
        now,
        actor,
        "bank.match",
        &format!("bank_line:{}", line.id),
        &json!({"statement": line.statement_id, "amount": line.amount, "kind": candidate.kind,
                "id": candidate.id, "by_hand": by_hand}),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Import

/// What an import added.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Imported {
    /// The statement the lines were added to; for a file that adds nothing, the one that
    /// holds its first line.
    pub id: Option<String>,
    /// Lines added (0 for a file seen before).
    pub lines: u64,
    /// Of those, matched by themselves (one candidate, wanted by no other line).
    pub matched: u64,
    pub unmatched: u64,
    /// Lines already imported (the same FITID, or date, amount and running balance).
    pub skipped: u64,
}

/// Adds the statement's new lines (in the caller's transaction), matching each that has
/// one candidate no other new line wants. `layout` is the CSV layout's name (a preset's or
/// a saved one's), kept with the statement.
pub async fn import(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    format: StatementFormat,
    layout: Option<&str>,
    read: &Read,
) -> Result<Imported, BankError> {
    // One import at a time, on every instance: the fund's row is the lock.
    ledger::lock_fund_available(tx).await?;
    let mut fresh = Vec::new();
    let mut first_known: Option<String> = None;
    for (line, key) in &read.lines {
        let known: Option<String> = on_tx!(tx, c => sqlx::query_scalar(
            "SELECT statement_id FROM bank_lines WHERE seen_key = $1 OR (fitid IS NOT NULL AND fitid = $2)
             ORDER BY seq LIMIT 1",
        )
        .bind(key)
        .bind(&line.fitid)
        .fetch_optional(c)
        .await)?;
        match known {
            Some(statement) => {
                first_known.get_or_insert(statement);
            }
            None => fresh.push((line, key)),
        }
    }
    let skipped = (read.lines.len() - fresh.len()) as u64;
    if fresh.is_empty() {
        return Ok(Imported {
            id: first_known,
            lines: 0,
            matched: 0,
            unmatched: 0,
            skipped,
        });
    }
    let id = uuid::Uuid::new_v4().to_string();
    let first_on = fresh.iter().map(|(l, _)| l.posted_on).min();
    let last_on = fresh.iter().map(|(l, _)| l.posted_on).max();
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO bank_statements (id, format, layout, file_hash, lines, first_on, last_on, imported_by, imported_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(format)
    .bind(layout)
    .bind(&read.hash)
    .bind(fresh.len() as i64)
    .bind(first_on.map(|d| d.to_string()))
    .bind(last_on.map(|d| d.to_string()))
    .bind(&staff.user_id)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    let mut seq: i64 = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM bank_lines"
    )
    .fetch_one(c)
    .await)?;
    let mut ids = Vec::with_capacity(fresh.len());
    for (line, key) in &fresh {
        seq += 1;
        let line_id = uuid::Uuid::new_v4().to_string();
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO bank_lines (id, statement_id, seq, posted_on, description, amount, balance, fitid, seen_key, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&line_id)
        .bind(&id)
        .bind(seq)
        .bind(line.posted_on.to_string())
        .bind(&line.description)
        .bind(line.amount)
        .bind(line.balance)
        .bind(&line.fitid)
        .bind(key.as_str())
        .bind(BankLineStatus::Unmatched)
        .execute(c)
        .await
        .map(|_| ()))?;
        ids.push(line_id);
    }
    // Each new line's candidates; a line is matched by itself only when it has one, and
    // no other new line has the same one.
    let actor = staff.actor();
    let mut found = Vec::with_capacity(ids.len());
    for line_id in &ids {
        let row = line_row(tx, line_id, false).await?;
        let c = candidates(tx, &row).await?;
        found.push((row, c));
    }
    let mut matched = 0;
    for (row, c) in &found {
        let [only] = c.as_slice() else { continue };
        let wanted = found
            .iter()
            .filter(|(_, other)| other.iter().any(|o| o.kind == only.kind && o.id == only.id))
            .count();
        if wanted == 1 {
            tie(tx, now, &actor, row, only, false).await?;
            matched += 1;
        }
    }
    audit::append(
        tx,
        now,
        &actor,
        "bank.import",
        &format!("bank_statement:{id}"),
        &json!({"format": format, "layout": layout, "file_hash": read.hash,
                "lines": ids.len(), "matched_by_themselves": matched, "skipped": skipped}),
    )
    .await?;
    Ok(Imported {
        id: Some(id),
        lines: ids.len() as u64,
        matched,
        unmatched: ids.len() as u64 - matched,
        skipped,
    })
}

// ---------------------------------------------------------------------------------------
// Statements

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct StatementSummary {
    pub id: String,
    pub format: StatementFormat,
    pub layout: Option<String>,
    pub lines: i64,
    pub first_on: Option<String>,
    pub last_on: Option<String>,
    pub imported_by: String,
    pub imported_at: DateTime<Utc>,
}

/// A statement with its lines, each unmatched one with its candidates.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatementView {
    #[serde(flatten)]
    pub summary: StatementSummary,
    pub lines: Vec<LineView>,
    /// The last day reconciled: its lines and those before it are frozen.
    pub reconciled_until: Option<NaiveDate>,
}

const STATEMENT_COLUMNS: &str =
    "id, format, layout, lines, first_on, last_on, imported_by, imported_at";

/// One page of the statements imported, newest first.
pub async fn statements(
    tx: &mut Tx,
    page: &crate::domain::page::PageRequest,
) -> Result<crate::domain::page::Page<StatementSummary>, StoreError> {
    let (cursor, _) = page.bound();
    let (keyset, order) = crate::domain::page::keyset_sql(page, false, "0", "imported_at", "id", 2);
    let sql = format!(
        "SELECT {STATEMENT_COLUMNS} FROM bank_statements WHERE {keyset} ORDER BY {order} LIMIT $1"
    );
    let rows: Vec<StatementSummary> = on_tx!(tx, c => sqlx::query_as(&sql)
        .bind(page.fetch())
        .bind(cursor.map(|c| c.rank))
        .bind(cursor.map(|c| c.at))
        .bind(cursor.map(|c| c.id.clone()))
        .fetch_all(c)
        .await)?;
    Ok(crate::domain::page::Page::from_rows(rows, page, |s| {
        crate::domain::page::Cursor {
            rank: 0,
            at: s.imported_at,
            id: s.id.clone(),
        }
    }))
}

pub async fn statement(tx: &mut Tx, id: &str) -> Result<StatementView, BankError> {
    let sql = format!("SELECT {STATEMENT_COLUMNS} FROM bank_statements WHERE id = $1");
    let summary: Option<StatementSummary> =
        on_tx!(tx, c => sqlx::query_as(&sql).bind(id).fetch_optional(c).await)?;
    let summary = summary.ok_or_else(|| {
        BankError::NotFound(
            "no bank statement has this id: the list of statements gives their ids".into(),
        )
    })?;
    let sql = format!("SELECT {LINE_COLUMNS} FROM bank_lines WHERE statement_id = $1 ORDER BY seq");
    let rows: Vec<LineRow> = on_tx!(tx, c => sqlx::query_as(&sql).bind(id).fetch_all(c).await)?;
    let mut lines = Vec::with_capacity(rows.len());
    for row in rows {
        let c = if row.status == BankLineStatus::Unmatched {
            candidates(tx, &row).await?
        } else {
            Vec::new()
        };
        lines.push(view(row, c));
    }
    let reconciled_until = frozen_until(tx).await?;
    Ok(StatementView {
        summary,
        lines,
        reconciled_until,
    })
}

/// One line with its candidates.
pub async fn line(tx: &mut Tx, id: &str) -> Result<LineView, BankError> {
    let row = line_row(tx, id, false).await?;
    let c = if row.status == BankLineStatus::Unmatched {
        candidates(tx, &row).await?
    } else {
        Vec::new()
    };
    Ok(view(row, c))
}

// ---------------------------------------------------------------------------------------
// Matching by hand, recording, confirming

/// What a treasurer says a line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// It is this donation or payout line (by id).
    Match(String),
    /// It is a fee, interest, a gift nobody recorded (`donor_id`), a bounce (`line`).
    Record {
        kind: RecordKind,
        donor_id: Option<String>,
        payout_line: Option<String>,
    },
}

/// The last day reconciled: lines on or before it are frozen.
async fn frozen_until(tx: &mut Tx) -> Result<Option<NaiveDate>, StoreError> {
    let day: Option<String> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT MAX(as_of) FROM bank_reconciliations"
    )
    .fetch_one(c)
    .await)?;
    Ok(day.map(|d| day_of(&d)))
}

async fn open_line(tx: &mut Tx, id: &str) -> Result<LineRow, BankError> {
    let row = line_row(tx, id, true).await?;
    if let Some(until) = frozen_until(tx).await?
        && day_of(&row.posted_on) <= until
    {
        return Err(BankError::Conflict(format!(
            "the bank was reconciled up to {until}, so this line of {} is frozen",
            row.posted_on
        )));
    }
    Ok(row)
}

fn must_be_unmatched(row: &LineRow) -> Result<(), BankError> {
    match row.status {
        BankLineStatus::Unmatched => Ok(()),
        BankLineStatus::Proposed => Err(BankError::Conflict(
            "this line is proposed as a fee and waits for a second treasurer to confirm it".into(),
        )),
        other => Err(BankError::Conflict(format!(
            "this line is already {other}: nothing more to do for it"
        ))),
    }
}

/// Makes a transfer of the bank statement (`CODE:LINE`, for bank line `line`); a refusal
/// is a conflict saying what it was.
async fn move_money(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    code: &str,
    (debit, credit): (&str, &str),
    amount: i64,
    line: &str,
) -> Result<String, BankError> {
    ledger::ensure_account(tx, now, debit, debit == FUND).await?;
    ledger::ensure_account(tx, now, credit, credit == FUND).await?;
    let new = NewTransfer {
        id: format!("{code}:{line}"),
        spec: TransferSpec::Single {
            debit: debit.into(),
            credit: credit.into(),
            amount,
        },
        code: code.into(),
        reference: Some(line.into()),
    };
    match ledger::create_transfer(tx, now, actor, &new).await? {
        Outcome::Created(t) | Outcome::Exists(t) => Ok(t.id),
        Outcome::Rejected(Rejection::ExceedsCredits) => Err(BankError::Conflict(format!(
            "the fund's available money is less than {}: the fee cannot be recorded until it is",
            format_cents(amount)
        ))),
        Outcome::Rejected(r) => Err(BankError::Conflict(format!(
            "the ledger refused it ({})",
            r.as_str()
        ))),
    }
}

async fn recorded(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    row: &LineRow,
    kind: RecordKind,
    transfer: &str,
    matched: Option<(MatchKind, &str)>,
) -> Result<(), BankError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE bank_lines SET status = $2, recorded_kind = $3, transfer_id = $4, match_kind = $5,
             match_id = $6, decided_by = $7, decided_at = $8
         WHERE id = $1",
    )
    .bind(&row.id)
    .bind(BankLineStatus::Recorded)
    .bind(kind)
    .bind(transfer)
    .bind(matched.map(|(k, _)| k))
    .bind(matched.map(|(_, id)| id))
    .bind(&staff.user_id)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    audit::append(
        tx,
        now,
        &staff.actor(),
        "bank.record",
        &format!("bank_line:{}", row.id),
        &json!({"statement": row.statement_id, "kind": kind, "amount": row.amount,
                "transfer": transfer, "proposed_by": row.proposed_by}),
    )
    .await?;
    Ok(())
}

/// Matches a line by hand, or records it as what it is.
pub async fn act(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
    action: Action,
) -> Result<LineView, BankError> {
    let row = open_line(tx, id).await?;
    must_be_unmatched(&row)?;
    match action {
        Action::Match(target) => {
            let found = by_id(tx, &row, &target).await?;
            tie(tx, now, &staff.actor(), &row, &found, true).await?;
        }
        Action::Record {
            kind,
            donor_id,
            payout_line,
        } => {
            let deposit = row.amount > 0;
            match (kind, deposit) {
                (RecordKind::Fee, false) => {}
                (RecordKind::Fee, true) => {
                    return Err(invalid(
                        "kind",
                        "a fee is money the bank took: this line is a deposit (interest, a donation or a bounce)",
                    ));
                }
                (_, false) => {
                    return Err(invalid(
                        "kind",
                        format!(
                            "{kind} is money that came in: this line is a withdrawal (a fee, or match it to a payout line)"
                        ),
                    ));
                }
                _ => {}
            }
            if kind != RecordKind::Donation && donor_id.is_some() {
                return Err(invalid(
                    "donor_id",
                    "goes only with kind donation: leave it out",
                ));
            }
            if kind != RecordKind::Bounce && payout_line.is_some() {
                return Err(invalid("line", "goes only with kind bounce: leave it out"));
            }
            match kind {
                RecordKind::Fee => {
                    // Money leaving the fund: one treasurer proposes, another confirms.
                    on_tx!(tx, c => sqlx::query(
                        "UPDATE bank_lines SET status = $2, proposed_by = $3 WHERE id = $1",
                    )
                    .bind(&row.id)
                    .bind(BankLineStatus::Proposed)
                    .bind(&staff.user_id)
                    .execute(c)
                    .await
                    .map(|_| ()))?;
                    audit::append(
                        tx,
                        now,
                        &staff.actor(),
                        "bank.fee_proposed",
                        &format!("bank_line:{}", row.id),
                        &json!({"statement": row.statement_id, "amount": row.amount}),
                    )
                    .await?;
                }
                RecordKind::Interest => {
                    let transfer = move_money(
                        tx,
                        now,
                        &staff.actor(),
                        "bank-interest",
                        (OTHER_INCOME, FUND),
                        row.amount,
                        &row.id,
                    )
                    .await?;
                    recorded(tx, now, staff, &row, kind, &transfer, None).await?;
                }
                RecordKind::Donation => {
                    let donor_id = donor_id.ok_or_else(|| {
                        invalid(
                            "donor_id",
                            "is required with kind donation: whose gift it is (add the donor first if they are new)",
                        )
                    })?;
                    let amount = Money::from_cents(row.amount).map_err(|e| invalid("kind", e))?;
                    let new = NewDonation {
                        donor_id,
                        amount,
                        received_on: day_of(&row.posted_on),
                        in_kind: false,
                        description: None,
                        restricted_to: None,
                    };
                    let donation = super::record_donation(tx, now, &staff.actor(), &new).await?;
                    let transfer = format!("donation:{donation}");
                    recorded(
                        tx,
                        now,
                        staff,
                        &row,
                        kind,
                        &transfer,
                        Some((MatchKind::Donation, &donation)),
                    )
                    .await?;
                }
                RecordKind::Bounce => {
                    let line_id = payout_line.ok_or_else(|| {
                        invalid(
                            "line",
                            "is required with kind bounce: the payout line whose payment came back",
                        )
                    })?;
                    let found: Option<(String, i64)> = on_tx!(tx, c => sqlx::query_as(
                        "SELECT payout_id, amount FROM payout_lines WHERE id = $1"
                    )
                    .bind(&line_id)
                    .fetch_optional(c)
                    .await)?;
                    let Some((payout_id, amount)) = found else {
                        return Err(invalid(
                            "line",
                            "no payout line has this id: the payout batch's page lists its lines",
                        ));
                    };
                    if amount != row.amount {
                        return Err(invalid(
                            "line",
                            format!(
                                "this payout line paid {}, but the bank line is {}: choose the line that came back",
                                format_cents(amount),
                                format_cents(row.amount)
                            ),
                        ));
                    }
                    payouts::bounced(tx, now, staff, &payout_id, &line_id).await?;
                    let transfer = format!("bounce:{line_id}");
                    recorded(
                        tx,
                        now,
                        staff,
                        &row,
                        kind,
                        &transfer,
                        Some((MatchKind::PayoutBounce, &line_id)),
                    )
                    .await?;
                }
            }
        }
    }
    line(tx, id).await
}

/// The donation or payout line `target` names, if it is what `row` can be.
async fn by_id(tx: &mut Tx, row: &LineRow, target: &str) -> Result<Candidate, BankError> {
    let gift: Option<(i64, String, String, Option<String>)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT d.amount, d.received_on, n.name, d.transfer_id
         FROM donations d JOIN donors n ON n.id = d.donor_id WHERE d.id = $1",
    )
    .bind(target)
    .fetch_optional(c)
    .await)?;
    let candidate = if let Some((amount, received_on, donor, transfer_id)) = gift {
        if transfer_id.is_none() {
            return Err(invalid(
                "match",
                "this donation is in kind: no money of it reached the bank",
            ));
        }
        Candidate {
            kind: MatchKind::Donation,
            id: target.into(),
            amount: format_cents(amount),
            date: day_of(&received_on),
            description: donor,
            transfer_id,
        }
    } else {
        type Row = (
            i64,
            LineStatus,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
            Option<String>,
            Option<String>,
        );
        let paid: Option<Row> = on_tx!(tx, c => sqlx::query_as(
            "SELECT amount, status, paid_at, bounced_at, paid_transfer_id, bounce_transfer_id
             FROM payout_lines WHERE id = $1",
        )
        .bind(target)
        .fetch_optional(c)
        .await)?;
        let Some((amount, status, paid_at, bounced_at, paid_transfer, bounce_transfer)) = paid
        else {
            return Err(invalid(
                "match",
                "no donation or payout line has this id: the line's candidates, the donations and the payout batches give their ids",
            ));
        };
        if row.amount < 0 {
            if !matches!(status, LineStatus::Paid | LineStatus::Bounced) {
                return Err(BankError::Conflict(format!(
                    "this payout line is {status}: mark it paid first"
                )));
            }
            Candidate {
                kind: MatchKind::PayoutLine,
                id: target.into(),
                amount: format_cents(-amount),
                date: paid_at.map(|t| t.date_naive()).unwrap_or_default(),
                description: String::new(),
                transfer_id: paid_transfer,
            }
        } else {
            if status != LineStatus::Bounced {
                return Err(BankError::Conflict(format!(
                    "this payout line is {status}, not bounced: record the line as a bounce with {{\"kind\": \"bounce\", \"line\": ...}} instead"
                )));
            }
            Candidate {
                kind: MatchKind::PayoutBounce,
                id: target.into(),
                amount: format_cents(amount),
                date: bounced_at.map(|t| t.date_naive()).unwrap_or_default(),
                description: String::new(),
                transfer_id: bounce_transfer,
            }
        }
    };
    if candidate.amount != format_cents(row.amount) {
        return Err(invalid(
            "match",
            format!(
                "it is {}, but the bank line is {}: a line matches only what has its amount",
                candidate.amount,
                format_cents(row.amount)
            ),
        ));
    }
    let taken: Option<String> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT id FROM bank_lines WHERE match_kind = $1 AND match_id = $2"
    )
    .bind(candidate.kind)
    .bind(&candidate.id)
    .fetch_optional(c)
    .await)?;
    if taken.is_some() {
        return Err(BankError::Conflict(
            "another bank line is already matched to it".into(),
        ));
    }
    Ok(candidate)
}

/// A second treasurer confirms a fee another proposed: the fee leaves available.
pub async fn confirm(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
) -> Result<LineView, BankError> {
    let row = open_line(tx, id).await?;
    if row.status != BankLineStatus::Proposed {
        return Err(BankError::Conflict(format!(
            "this line is {}: only a fee proposed by a treasurer waits for a confirmation",
            row.status
        )));
    }
    if row.proposed_by.as_deref() == Some(staff.user_id.as_str()) {
        return Err(BankError::Forbidden(
            "you proposed this fee: another treasurer confirms it".into(),
        ));
    }
    let transfer = move_money(
        tx,
        now,
        &staff.actor(),
        "bank-fee",
        (FUND, FEES),
        -row.amount,
        &row.id,
    )
    .await?;
    recorded(tx, now, staff, &row, RecordKind::Fee, &transfer, None).await?;
    line(tx, id).await
}

/// Undoes a wrong match: the line is unmatched again (and what it was matched to free for
/// another line), audited. Only a line matched to what was already in the books: a line
/// recorded as what it is made a transfer, which a match's undoing cannot take back; and
/// never a line of a day reconciled (frozen).
pub async fn unmatch(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
) -> Result<LineView, BankError> {
    let row = open_line(tx, id).await?;
    match row.status {
        BankLineStatus::Matched => {}
        BankLineStatus::Recorded => {
            return Err(BankError::Conflict(
                "this line was recorded as what it is, which made a transfer: only a match to what was already in the books can be undone".into(),
            ));
        }
        other => {
            return Err(BankError::Conflict(format!(
                "this line is {other}: only a matched line can be unmatched"
            )));
        }
    }
    on_tx!(tx, c => sqlx::query(
        "UPDATE bank_lines SET status = $2, match_kind = NULL, match_id = NULL, transfer_id = NULL
         WHERE id = $1",
    )
    .bind(&row.id)
    .bind(BankLineStatus::Unmatched)
    .execute(c)
    .await
    .map(|_| ()))?;
    audit::append(
        tx,
        now,
        &staff.actor(),
        "bank.unmatch",
        &format!("bank_line:{}", row.id),
        &json!({"statement": row.statement_id, "amount": row.amount, "kind": row.match_kind,
                "id": row.match_id}),
    )
    .await?;
    line(tx, id).await
}

/// A second treasurer refuses a fee another proposed: the proposal ends, nothing is
/// recorded, and the line is unmatched again (403 for the one who proposed it: a fee is
/// confirmed or refused by another).
pub async fn refuse(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
) -> Result<LineView, BankError> {
    let row = open_line(tx, id).await?;
    if row.status != BankLineStatus::Proposed {
        return Err(BankError::Conflict(format!(
            "this line is {}: only a fee proposed by a treasurer can be refused",
            row.status
        )));
    }
    if row.proposed_by.as_deref() == Some(staff.user_id.as_str()) {
        return Err(BankError::Forbidden(
            "you proposed this fee: another treasurer confirms or refuses it".into(),
        ));
    }
    on_tx!(tx, c => sqlx::query(
        "UPDATE bank_lines SET status = $2, proposed_by = NULL WHERE id = $1",
    )
    .bind(&row.id)
    .bind(BankLineStatus::Unmatched)
    .execute(c)
    .await
    .map(|_| ()))?;
    audit::append(
        tx,
        now,
        &staff.actor(),
        "bank.fee_refused",
        &format!("bank_line:{}", row.id),
        &json!({"statement": row.statement_id, "amount": row.amount,
                "proposed_by": row.proposed_by}),
    )
    .await?;
    line(tx, id).await
}

// ---------------------------------------------------------------------------------------
// Reconciliation

/// Why the books and the bank differ on a day, for one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutstandingKind {
    /// A payout the books paid that the bank has not taken yet.
    PaymentNotCleared,
    /// A gift the books hold that the bank has not received yet.
    DepositInTransit,
    /// A bounce the books reversed that the bank has not given back yet.
    BounceInTransit,
    /// A bank line of the day or before, put in the books after it.
    BookedLater,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Outstanding {
    pub kind: OutstandingKind,
    /// What it adds to the books' balance to give the bank's.
    #[schema(value_type = String)]
    pub amount: String,
    pub date: NaiveDate,
    /// The donation, payout line or bank line.
    pub id: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnmatchedLine {
    pub id: String,
    pub date: NaiveDate,
    pub description: String,
    #[schema(value_type = String)]
    pub amount: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reconciled {
    pub by: String,
    pub at: DateTime<Utc>,
}

/// The bank and the books on a day: `statement_balance = book_balance + Σ outstanding +
/// unexplained`, to the cent.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reconciliation {
    pub as_of: NaiveDate,
    /// The statement's running balance at the end of the day.
    #[schema(value_type = String)]
    pub statement_balance: String,
    /// The fund's `bank` at the end of the day (UTC), by the books.
    #[schema(value_type = String)]
    pub book_balance: String,
    pub outstanding: Vec<Outstanding>,
    #[schema(value_type = String)]
    pub outstanding_total: String,
    /// What nothing explains: "0.00" once every line is matched or recorded.
    #[schema(value_type = String)]
    pub unexplained: String,
    /// The statement's lines of the day or before that nothing in the books explains yet.
    pub unmatched_lines: Vec<UnmatchedLine>,
    /// Once frozen.
    pub reconciled: Option<Reconciled>,
    #[serde(skip)]
    #[schema(ignore)]
    cents: (i64, i64, i64, i64),
}

/// The fund's money in the bank by the books at `cut`: what every posted transfer before
/// it moved into or out of the bank's accounts.
async fn book_balance(tx: &mut Tx, cut: DateTime<Utc>) -> Result<i64, StoreError> {
    let bank = "(x = $1 OR x = $2 OR x LIKE $3)";
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(CASE WHEN {c} THEN amount ELSE 0 END), 0) AS BIGINT)
              - CAST(COALESCE(SUM(CASE WHEN {d} THEN amount ELSE 0 END), 0) AS BIGINT)
         FROM transfers WHERE kind IN {} AND created_at < $4",
        TransferKind::sql_list(&[TransferKind::Single, TransferKind::Post]),
        c = bank.replace('x', "credit_account_id"),
        d = bank.replace('x', "debit_account_id"),
    );
    Ok(on_tx!(tx, c => sqlx::query_scalar(&sql)
        .bind(FUND)
        .bind(BANK_OWED)
        .bind(format!("{}%", to_replenish_of("")))
        .bind(cut)
        .fetch_one(c)
        .await)?)
}

/// The reconciliation of `as_of`: frozen when a treasurer reconciled it, else as of now.
pub async fn reconciliation(tx: &mut Tx, as_of: NaiveDate) -> Result<Reconciliation, BankError> {
    let frozen: Option<String> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT detail FROM bank_reconciliations WHERE as_of = $1"
    )
    .bind(as_of.to_string())
    .fetch_optional(c)
    .await)?;
    if let Some(detail) = frozen {
        return serde_json::from_str(&detail).map_err(|e| {
            BankError::Internal(format!(
                "the reconciliation of {as_of} cannot be read back: {e}"
            ))
        });
    }
    let day = as_of.to_string();
    let statement: Option<i64> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT balance FROM bank_lines WHERE posted_on <= $1 AND balance IS NOT NULL
         ORDER BY posted_on DESC, seq DESC LIMIT 1",
    )
    .bind(&day)
    .fetch_optional(c)
    .await)?;
    let Some(statement) = statement else {
        return Err(BankError::Conflict(format!(
            "no statement line on or before {as_of} gives the bank's balance: import the statement (OFX, or a CSV layout with a balance column) first"
        )));
    };
    let cut = start_of(as_of + Duration::days(1));
    let book = book_balance(tx, cut).await?;
    let mut outstanding = Vec::new();

    let gifts: Vec<(String, i64, String, String)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT d.id, d.amount, d.received_on, n.name
         FROM donations d JOIN donors n ON n.id = d.donor_id JOIN transfers t ON t.id = d.transfer_id
         WHERE t.created_at < $1
           AND NOT EXISTS (SELECT 1 FROM bank_lines b
                           WHERE b.match_kind = $2 AND b.match_id = d.id AND b.posted_on <= $3)
         ORDER BY d.received_on, d.id",
    )
    .bind(cut)
    .bind(MatchKind::Donation)
    .bind(&day)
    .fetch_all(c)
    .await)?;
    for (id, amount, received_on, donor) in gifts {
        outstanding.push((
            OutstandingKind::DepositInTransit,
            -amount,
            day_of(&received_on),
            id,
            donor,
        ));
    }
    for (kind, column, transfer, what) in [
        (
            MatchKind::PayoutLine,
            "l.paid_transfer_id",
            OutstandingKind::PaymentNotCleared,
            1,
        ),
        (
            MatchKind::PayoutBounce,
            "l.bounce_transfer_id",
            OutstandingKind::BounceInTransit,
            -1,
        ),
    ] {
        let sql = format!(
            "SELECT l.id, l.amount, t.created_at, COALESCE(o.name, v.name, ''), p.reference
             FROM payout_lines l JOIN payouts p ON p.id = l.payout_id
             JOIN transfers t ON t.id = {column}
             LEFT JOIN orgs o ON o.id = l.payee_id
             LEFT JOIN vendors v ON v.id = l.payee_id
             WHERE t.created_at < $1
               AND NOT EXISTS (SELECT 1 FROM bank_lines b
                               WHERE b.match_kind = $2 AND b.match_id = l.id AND b.posted_on <= $3)
             ORDER BY t.created_at, l.id"
        );
        let rows: Vec<(String, i64, DateTime<Utc>, String, String)> = on_tx!(tx, c => sqlx::query_as(&sql)
            .bind(cut)
            .bind(kind)
            .bind(&day)
            .fetch_all(c)
            .await)?;
        for (id, amount, at, payee, batch) in rows {
            outstanding.push((
                transfer,
                what * amount,
                at.date_naive(),
                id,
                format!("{payee} · {batch}"),
            ));
        }
    }
    let later: Vec<(String, i64, String, String)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT b.id, b.amount, b.posted_on, b.description
         FROM bank_lines b JOIN transfers t ON t.id = b.transfer_id
         WHERE b.posted_on <= $1 AND t.created_at >= $2 AND b.status IN ($3, $4)
         ORDER BY b.posted_on, b.seq",
    )
    .bind(&day)
    .bind(cut)
    .bind(BankLineStatus::Matched)
    .bind(BankLineStatus::Recorded)
    .fetch_all(c)
    .await)?;
    for (id, amount, posted_on, description) in later {
        outstanding.push((
            OutstandingKind::BookedLater,
            amount,
            day_of(&posted_on),
            id,
            description,
        ));
    }
    let unmatched: Vec<(String, String, String, i64)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT id, posted_on, description, amount FROM bank_lines
         WHERE posted_on <= $1 AND status IN ($2, $3) ORDER BY posted_on, seq",
    )
    .bind(&day)
    .bind(BankLineStatus::Unmatched)
    .bind(BankLineStatus::Proposed)
    .fetch_all(c)
    .await)?;
    let total: i64 = outstanding.iter().map(|o| o.1).sum();
    let unexplained = statement - book - total;
    Ok(Reconciliation {
        as_of,
        statement_balance: format_cents(statement),
        book_balance: format_cents(book),
        outstanding: outstanding
            .into_iter()
            .map(|(kind, amount, date, id, description)| Outstanding {
                kind,
                amount: format_cents(amount),
                date,
                id,
                description,
            })
            .collect(),
        outstanding_total: format_cents(total),
        unexplained: format_cents(unexplained),
        unmatched_lines: unmatched
            .into_iter()
            .map(|(id, posted_on, description, amount)| UnmatchedLine {
                id,
                date: day_of(&posted_on),
                description,
                amount: format_cents(amount),
            })
            .collect(),
        reconciled: None,
        cents: (statement, book, total, unexplained),
    })
}

/// Freezes the reconciliation of `as_of`, audited: only one that explains everything.
pub async fn reconcile(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    as_of: NaiveDate,
) -> Result<Reconciliation, BankError> {
    ledger::lock_fund_available(tx).await?;
    let mut found = reconciliation(tx, as_of).await?;
    if found.reconciled.is_some() {
        return Err(BankError::Conflict(format!(
            "{as_of} is already reconciled: its figures are frozen"
        )));
    }
    if let Some(until) = frozen_until(tx).await?
        && as_of < until
    {
        return Err(BankError::Conflict(format!(
            "the bank is reconciled up to {until}: reconcile a later day"
        )));
    }
    let (statement, book, total, unexplained) = found.cents;
    if unexplained != 0 {
        return Err(BankError::Conflict(format!(
            "{} is unexplained on {as_of}: match or record every line of the statement first ({} left)",
            found.unexplained,
            found.unmatched_lines.len()
        )));
    }
    found.reconciled = Some(Reconciled {
        by: staff.user_id.clone(),
        at: now,
    });
    let detail = serde_json::to_string(&found)
        .map_err(|e| BankError::Internal(format!("cannot write the reconciliation down: {e}")))?;
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO bank_reconciliations (id, as_of, statement_balance, book_balance, outstanding, unexplained, detail, reconciled_by, reconciled_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(as_of.to_string())
    .bind(statement)
    .bind(book)
    .bind(total)
    .bind(unexplained)
    .bind(&detail)
    .bind(&staff.user_id)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    audit::append(
        tx,
        now,
        &staff.actor(),
        "bank.reconcile",
        &format!("bank_reconciliation:{as_of}"),
        &json!({"as_of": as_of.to_string(), "statement_balance": statement, "book_balance": book,
                "outstanding": total}),
    )
    .await?;
    Ok(found)
}
