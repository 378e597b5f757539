//! A report's life: `draft` (figures computed whenever it is read) → `awaiting_cosign`
//! (a first treasurer froze it: its summary, the summary's SHA-256 and the audit chain's
//! head at the cut-off are stored and never change) → `sealed` (a second, distinct
//! treasurer co-signed it; it may be sent). A correction is a new report that names the
//! report it supersedes; the old one stays as it was, marked superseded once the
//! correction is sealed. Each step is one transaction with its audit event.
//!
//! Frozen reports form one chain (see the module `reports`): a new report starts on the
//! day the chain's last cut-off falls on (the next day when that cut-off ends its day),
//! and covers from the moment after it; the draft and the seal both check this, so a
//! draft made stale by another report frozen first cannot be sealed. A correction covers
//! exactly the moments of the report it replaces. Freezing keeps a digest of the ledger
//! entries the report covers ([`super::digest`]), which verification recomputes.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::digest;
use super::facts::{self, Window};
use super::summary::{self, Built, Compared, Context, Summary};
use super::{Period, chain_start, next_start_day};
use crate::approval::FlowError;
use crate::approval::error::invalid;
use crate::audit::{self, Actor, GENESIS_HASH};
use crate::domain::{ReportSchedule, ReportStatus};
use crate::store::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    pub id: String,
    pub period_start: String,
    pub period_end: String,
    pub cutoff: DateTime<Utc>,
    pub schedule: ReportSchedule,
    pub status: ReportStatus,
    pub min_cell: i64,
    pub supersedes: Option<String>,
    pub superseded_by: Option<String>,
    pub summary: Option<String>,
    pub hash: Option<String>,
    pub audit_seq: Option<i64>,
    pub audit_hash: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sealed_by: Option<String>,
    pub sealed_at: Option<DateTime<Utc>>,
    pub cosigned_by: Option<String>,
    pub cosigned_at: Option<DateTime<Utc>>,
    pub send_requested_at: Option<DateTime<Utc>>,
    /// The cut-off of the report before this one in the chain (`None` for the first).
    pub starts_after: Option<DateTime<Utc>>,
    /// The digest of the ledger entries a frozen report covers; `None` for a draft and
    /// for a report frozen before reports kept one.
    pub ledger_digest: Option<String>,
}

const SELECT: &str = "SELECT id, period_start, period_end, cutoff, schedule, status, min_cell,
        supersedes, superseded_by, summary, hash, audit_seq, audit_hash, created_at, sealed_by,
        sealed_at, cosigned_by, cosigned_at, send_requested_at, starts_after, ledger_digest
     FROM reports";

impl Row {
    pub fn period(&self) -> Result<(NaiveDate, NaiveDate), FlowError> {
        let parse = |s: &str| {
            s.parse::<NaiveDate>()
                .map_err(|_| FlowError::Conflict(format!("report {} has a bad period", self.id)))
        };
        Ok((parse(&self.period_start)?, parse(&self.period_end)?))
    }

    /// The moments the report covers: from the moment after the previous report's
    /// cut-off (or the fund's first event) to its own; a report frozen before the chain
    /// covers from the first moment of its period, as it did then.
    pub fn window(&self) -> Result<Window, FlowError> {
        let (period_start, end) = self.period()?;
        let start = if self.chained() {
            chain_start(self.starts_after, period_start)
        } else {
            Period {
                start: period_start,
                end,
            }
            .starts_at()
        };
        Ok(Window {
            start,
            cutoff: self.cutoff,
        })
    }

    pub fn frozen(&self) -> bool {
        self.hash.is_some()
    }

    /// A draft, or a report frozen in the chain (with a ledger digest).
    pub fn chained(&self) -> bool {
        !self.frozen() || self.ledger_digest.is_some()
    }

    /// The frozen summary, typed; `None` for a draft or a summary this release cannot
    /// type (see [`Summary::parse`]).
    pub fn stored_summary(&self) -> Option<Summary> {
        self.summary.as_deref().and_then(Summary::parse)
    }

    /// The frozen summary as plain JSON, whatever its shape: what verification reads
    /// figures from, so a report still verifies on its books even if its summary no
    /// longer types.
    fn stored_json(&self) -> Option<Value> {
        self.summary
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
    }
}

/// A report as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReportView {
    #[schema(format = "uuid")]
    pub id: String,
    /// `draft`, `awaiting_cosign` (frozen by a first treasurer) or `sealed` (co-signed).
    pub status: ReportStatus,
    pub period_start: String,
    pub period_end: String,
    /// Events up to this moment are in the report.
    pub cutoff: DateTime<Utc>,
    /// `manual`, `monthly` or `quarterly`.
    pub schedule: ReportSchedule,
    /// The report covers the moments after this one: the cut-off of the frozen report
    /// before it in the chain. `null` for the first report (it covers from the fund's
    /// first event) and for reports frozen before the chain (they cover from the first
    /// moment of `period_start`).
    pub starts_after: Option<DateTime<Utc>>,
    /// SHA-256 of the ledger entries a frozen report covers (`reports verify` recomputes
    /// it); `null` for a draft and for reports frozen before reports kept one.
    pub ledger_digest: Option<String>,
    pub supersedes: Option<String>,
    pub superseded_by: Option<String>,
    /// SHA-256 of the summary's canonical text, once frozen.
    pub hash: Option<String>,
    pub sealed_by: Option<String>,
    pub sealed_at: Option<DateTime<Utc>>,
    pub cosigned_by: Option<String>,
    pub cosigned_at: Option<DateTime<Utc>>,
    pub send_requested_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The figures (left out of lists): computed now for a draft, as frozen otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub summary: Option<Summary>,
    /// What suppression could not protect (for treasurers, before they seal).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl ReportView {
    fn of(row: &Row, summary: Option<Summary>, warnings: Vec<String>) -> ReportView {
        ReportView {
            id: row.id.clone(),
            status: row.status,
            period_start: row.period_start.clone(),
            period_end: row.period_end.clone(),
            cutoff: row.cutoff,
            schedule: row.schedule,
            starts_after: row.starts_after,
            ledger_digest: row.ledger_digest.clone(),
            supersedes: row.supersedes.clone(),
            superseded_by: row.superseded_by.clone(),
            hash: row.hash.clone(),
            sealed_by: row.sealed_by.clone(),
            sealed_at: row.sealed_at,
            cosigned_by: row.cosigned_by.clone(),
            cosigned_at: row.cosigned_at,
            send_requested_at: row.send_requested_at,
            created_at: row.created_at,
            summary,
            warnings,
        }
    }
}

pub async fn load(tx: &mut Tx, id: &str) -> Result<Option<Row>, StoreError> {
    let sql = format!("{SELECT} WHERE id = $1");
    Ok(on_tx!(tx, c => sqlx::query_as::<_, Row>(&sql).bind(id).fetch_optional(c).await)?)
}

/// Like [`load`], with the row locked until `tx` ends (a write transaction only).
pub async fn load_locked(tx: &mut Tx, id: &str) -> Result<Row, FlowError> {
    let sql = format!("{SELECT} WHERE id = $1{}", tx.lock_rows());
    on_tx!(tx, c => sqlx::query_as::<_, Row>(&sql).bind(id).fetch_optional(c).await)?
        .ok_or_else(|| FlowError::NotFound("no report has this id".into()))
}

async fn must_load(tx: &mut Tx, id: &str) -> Result<Row, FlowError> {
    load(tx, id)
        .await?
        .ok_or_else(|| FlowError::NotFound("no report has this id".into()))
}

/// The frozen report with the latest cut-off: where the chain ends.
async fn chain_end(tx: &mut Tx) -> Result<Option<Row>, StoreError> {
    let sql =
        format!("{SELECT} WHERE hash IS NOT NULL ORDER BY cutoff DESC, sealed_at DESC, id LIMIT 1");
    Ok(on_tx!(tx, c => sqlx::query_as::<_, Row>(&sql).fetch_optional(c).await)?)
}

/// The moment of the fund's first event (a transfer, a gift or a request), if any.
async fn first_event(tx: &mut Tx) -> Result<Option<DateTime<Utc>>, StoreError> {
    let mut first: Option<DateTime<Utc>> = None;
    for sql in [
        "SELECT created_at FROM transfers ORDER BY created_at LIMIT 1",
        "SELECT created_at FROM donations ORDER BY created_at LIMIT 1",
        "SELECT created_at FROM requests ORDER BY created_at LIMIT 1",
    ] {
        let at: Option<DateTime<Utc>> =
            on_tx!(tx, c => sqlx::query_scalar(sql).fetch_optional(c).await)?;
        first = match (first, at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    Ok(first)
}

/// Where the next report of the chain starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainNext {
    /// No report is frozen yet: the first starts on or before the day of the fund's first
    /// event (any day when nothing has happened yet).
    First { first_event_day: Option<NaiveDate> },
    /// The next report starts on `day`, where the frozen report `report` (labelled
    /// `period_start` to `period_end`) ends the chain at `cutoff`.
    After {
        report: String,
        period_start: String,
        period_end: String,
        status: ReportStatus,
        cutoff: DateTime<Utc>,
        day: NaiveDate,
    },
}

impl ChainNext {
    /// The day a new report should start on (the first report: the first day of the
    /// month of the fund's first event, or `today` when nothing has happened).
    pub fn proposed_start(&self, today: NaiveDate) -> NaiveDate {
        match self {
            ChainNext::After { day, .. } => *day,
            ChainNext::First {
                first_event_day: Some(d),
            } => d.with_day(1).unwrap_or(*d),
            ChainNext::First {
                first_event_day: None,
            } => today.with_day(1).unwrap_or(today),
        }
    }
}

/// Where the next report of the chain starts, read inside `tx`.
pub async fn chain_next(tx: &mut Tx) -> Result<ChainNext, StoreError> {
    Ok(match chain_end(tx).await? {
        Some(last) => ChainNext::After {
            day: next_start_day(last.cutoff),
            report: last.id,
            period_start: last.period_start,
            period_end: last.period_end,
            status: last.status,
            cutoff: last.cutoff,
        },
        None => ChainNext::First {
            first_event_day: first_event(tx).await?.map(|t| t.date_naive()),
        },
    })
}

/// Where the next report of the chain starts, from a snapshot.
pub async fn next_in_chain(db: &Db) -> Result<ChainNext, FlowError> {
    let mut tx = db.begin_snapshot().await?;
    let next = chain_next(&mut tx).await;
    tx.rollback().await?;
    Ok(next?)
}

/// Checks that a report (not a correction) labelled from `period_start` and cut off at
/// `cutoff` continues the chain, and returns the cut-off it starts after. The refusal
/// names the report in the way and the day the next report starts.
async fn place_in_chain(
    tx: &mut Tx,
    period_start: NaiveDate,
    cutoff: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, FlowError> {
    match chain_next(tx).await? {
        ChainNext::After {
            report,
            period_start: last_start,
            period_end: last_end,
            status,
            cutoff: last_cutoff,
            day,
        } => {
            let status = if status.is_sealed() {
                status.as_str()
            } else {
                "frozen, awaiting its co-signature"
            };
            let in_the_way = format!(
                "report {report} ({last_start} to {last_end}, {status}) ends the chain of frozen reports at {}",
                audit::canonical_time(last_cutoff)
            );
            if period_start != day {
                let how = if period_start < day {
                    "this period would cover moments it already covers"
                } else {
                    "this period would leave the moments between the two uncovered"
                };
                return Err(FlowError::Conflict(format!(
                    "{in_the_way}: {how}, and two reports that overlap or leave a gap can be subtracted from each other; the next report starts on {day}: set period_start to {day}"
                )));
            }
            if cutoff <= last_cutoff {
                return Err(FlowError::Conflict(format!(
                    "{in_the_way}: nothing after it can be reported yet; draft the next report (from {day}) later"
                )));
            }
            Ok(Some(last_cutoff))
        }
        ChainNext::First {
            first_event_day: Some(first),
        } if period_start > first => Err(FlowError::Conflict(format!(
            "no report is frozen yet and the fund's first event was on {first}: the first report starts on or before {first}, so that no moment is left out; set period_start to {first} or earlier"
        ))),
        ChainNext::First { .. } => Ok(None),
    }
}

/// The audit chain's last event at or before `at`.
async fn audit_head_at(tx: &mut Tx, at: DateTime<Utc>) -> Result<(i64, String), StoreError> {
    let head: Option<(i64, String)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT seq, hash FROM audit_events WHERE at <= $1 ORDER BY seq DESC LIMIT 1"
    )
    .bind(at)
    .fetch_optional(c)
    .await)?;
    Ok(head.unwrap_or((0, GENESIS_HASH.to_string())))
}

/// The frozen reports this one is compared with: those whose windows overlap its own (the
/// report a correction replaces) and every other frozen report that no correction has
/// replaced. Flows of reports that do not overlap add up over disjoint sets, but stocks
/// (holds outstanding, balances) at one cut-off combine with those at any other, not only
/// with the neighbour's, so the suppression check is given them all.
async fn overlapping_frozen(tx: &mut Tx, row: &Row) -> Result<Vec<Row>, FlowError> {
    let sql = format!("{SELECT} WHERE hash IS NOT NULL AND id <> $1 ORDER BY sealed_at, id");
    let rows: Vec<Row> =
        on_tx!(tx, c => sqlx::query_as::<_, Row>(&sql).bind(&row.id).fetch_all(c).await)?;
    let mine = row.window()?;
    let mut out = Vec::new();
    for other in rows {
        let w = other.window()?;
        let overlaps = w.start <= mine.cutoff && mine.start <= w.cutoff;
        if overlaps || other.superseded_by.is_none() {
            out.push(other);
        }
    }
    Ok(out)
}

/// The summaries of the reports this one is compared with, and their windows.
fn priors(rows: &[Row]) -> Result<Vec<(Window, Summary)>, FlowError> {
    rows.iter()
        .map(|row| {
            let summary = row.stored_summary().ok_or_else(|| {
                FlowError::Conflict(format!("report {} has no readable summary", row.id))
            })?;
            Ok((row.window()?, summary))
        })
        .collect()
}

/// The hash the audit event `seq` has now (the genesis hash for 0).
async fn audit_event_hash(tx: &mut Tx, seq: i64) -> Result<String, StoreError> {
    if seq == 0 {
        return Ok(GENESIS_HASH.to_string());
    }
    let hash: Option<String> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT hash FROM audit_events WHERE seq = $1"
    )
    .bind(seq)
    .fetch_optional(c)
    .await)?;
    Ok(hash.unwrap_or_default())
}

/// Computes a report's summary from the ledger against `compared`. The audit head is
/// the chain's last event at the cut-off, or (to verify a frozen report) the event it
/// named, as it reads now.
async fn compute(
    tx: &mut Tx,
    row: &Row,
    compared: Vec<Row>,
    head_seq: Option<i64>,
) -> Result<Built, FlowError> {
    let window = row.window()?;
    let (period_start, period_end) = row.period()?;
    let priors = priors(&compared)?;
    let windows: Vec<Window> = priors.iter().map(|(w, _)| *w).collect();
    let reading = std::time::Instant::now();
    // A frozen report's receipts paid back are read only when it published them.
    let paid_of: Vec<bool> = priors
        .iter()
        .map(|(_, s)| {
            s.paid_to_organisations
                .as_ref()
                .is_some_and(|p| p.amount.is_some())
        })
        .collect();
    let (book, facts, prior_facts) = facts::read_grouped(tx, window, &windows, &paid_of).await?;
    tracing::debug!(
        report = %row.id,
        disbursements = book.entries.len(),
        cases = book.cases.len(),
        ms = reading.elapsed().as_millis() as u64,
        "read the report's facts"
    );
    let compared: Vec<Compared<'_>> = compared
        .iter()
        .zip(&priors)
        .zip(&prior_facts)
        .map(|((row, (_, summary)), facts)| Compared {
            id: &row.id,
            facts,
            summary,
        })
        .collect();
    let ctx = Context {
        period_start,
        period_end,
        k: usize::try_from(row.min_cell).unwrap_or(usize::MAX),
        supersedes: row.supersedes.clone(),
        audit_head: match head_seq {
            Some(seq) => (seq, audit_event_hash(tx, seq).await?),
            None => audit_head_at(tx, window.cutoff).await?,
        },
    };
    let building = std::time::Instant::now();
    let built = summary::build_grouped(&ctx, &book, &facts, &compared);
    tracing::debug!(report = %row.id, ms = building.elapsed().as_millis() as u64, "built the report's summary");
    Ok(built)
}

#[derive(Debug, Clone)]
pub struct NewReport {
    pub period: Period,
    pub schedule: ReportSchedule,
    pub supersedes: Option<String>,
    pub min_cell: u32,
}

/// Drafts a report and answers its id. A draft stores no figures (they are computed
/// whenever it is viewed, by [`view`]), so this only writes its row and `report.draft`:
/// the caller's write transaction stays short, and the figures are read afterwards in a
/// read snapshot. Computing them here, inside the write transaction, held the writer
/// for as long as the suppression check took: minutes on ten years of history, with
/// every same-night submission waiting behind the scheduler's monthly draft.
pub async fn create(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    new: &NewReport,
) -> Result<String, FlowError> {
    if let Some(old) = &new.supersedes {
        let old = load(tx, old).await?.ok_or_else(|| {
            invalid(
                "supersedes",
                "no report has this id: name the report this one corrects",
            )
        })?;
        if !old.frozen() {
            return Err(invalid(
                "supersedes",
                "that report is still a draft: a draft is changed by drafting it again, not corrected",
            ));
        }
        if old.superseded_by.is_some() {
            return Err(FlowError::Conflict(
                "that report is already superseded: correct its correction instead".into(),
            ));
        }
    }
    // A correction covers exactly the moments of the report it replaces; any other
    // report continues the chain.
    let (cutoff, starts_after) = match &new.supersedes {
        Some(old) => {
            let old = must_load(tx, old).await?;
            if (old.period_start.as_str(), old.period_end.as_str())
                != (
                    new.period.start.to_string().as_str(),
                    new.period.end.to_string().as_str(),
                )
            {
                return Err(FlowError::Conflict(format!(
                    "a correction covers exactly the moments of the report it replaces: report {} is labelled {} to {}; give period_start {} and period_end {}",
                    old.id, old.period_start, old.period_end, old.period_start, old.period_end
                )));
            }
            // The same start: after the same cut-off, or (the first report, or one frozen
            // before the chain) from the first moment of the same period_start.
            (old.cutoff, old.starts_after)
        }
        None => {
            let cutoff = new.period.window(now).cutoff;
            (cutoff, place_in_chain(tx, new.period.start, cutoff).await?)
        }
    };
    let id = uuid::Uuid::new_v4().to_string();
    let window = Window {
        start: chain_start(starts_after, new.period.start),
        cutoff,
    };
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO reports (id, period_start, period_end, cutoff, schedule, status, min_cell,
                              supersedes, created_by, created_at, starts_after)
         VALUES ($1, $2, $3, $4, $5, $11, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(new.period.start.to_string())
    .bind(new.period.end.to_string())
    .bind(window.cutoff)
    .bind(new.schedule)
    .bind(i64::from(new.min_cell))
    .bind(&new.supersedes)
    .bind(&actor.0)
    .bind(now)
    .bind(starts_after)
    .bind(ReportStatus::Draft)
    .execute(c)
    .await
    .map(|_| ()))?;
    audit::append(
        tx,
        now,
        actor,
        "report.draft",
        &format!("report:{id}"),
        &json!({"period_start": new.period.start.to_string(), "period_end": new.period.end.to_string(),
                "cutoff": audit::canonical_time(window.cutoff), "schedule": new.schedule,
                "starts_after": starts_after.map(audit::canonical_time),
                "min_cell": new.min_cell, "supersedes": new.supersedes}),
    )
    .await?;
    Ok(id)
}

/// One report with its figures: a draft's computed now, a frozen one's as stored.
pub async fn view(tx: &mut Tx, id: &str) -> Result<ReportView, FlowError> {
    let mut row = must_load(tx, id).await?;
    if row.frozen() {
        let summary = row.stored_summary();
        return Ok(ReportView::of(&row, summary, Vec::new()));
    }
    // A draft shows what sealing it now would freeze: from where the chain ends now.
    let mut warnings = Vec::new();
    if row.supersedes.is_none() {
        let (start, _) = row.period()?;
        match place_in_chain(tx, start, row.cutoff).await {
            Ok(after) => row.starts_after = after,
            Err(FlowError::Conflict(why)) => warnings.push(format!(
                "this draft can no longer be sealed, another report was frozen first: {why}; draft the period again"
            )),
            Err(e) => return Err(e),
        }
    }
    let compared = overlapping_frozen(tx, &row).await?;
    let built = compute(tx, &row, compared, None).await?;
    warnings.extend(built.warnings);
    Ok(ReportView::of(&row, Some(built.summary), warnings))
}

/// The figures a report of `period` drafted now would show, without storing anything
/// (`passage reports preview`).
pub async fn preview(
    db: &Db,
    period: Period,
    now: DateTime<Utc>,
    min_cell: u32,
) -> Result<Built, FlowError> {
    let row = Row {
        id: "preview".into(),
        period_start: period.start.to_string(),
        period_end: period.end.to_string(),
        cutoff: period.window(now).cutoff,
        schedule: ReportSchedule::Manual,
        status: ReportStatus::Draft,
        min_cell: i64::from(min_cell),
        supersedes: None,
        superseded_by: None,
        summary: None,
        hash: None,
        audit_seq: None,
        audit_hash: None,
        created_at: now,
        sealed_by: None,
        sealed_at: None,
        cosigned_by: None,
        cosigned_at: None,
        send_requested_at: None,
        starts_after: None,
        ledger_digest: None,
    };
    let mut tx = db.begin_snapshot().await?;
    let built = async {
        let mut row = row;
        row.starts_after = place_in_chain(&mut tx, period.start, row.cutoff).await?;
        let compared = overlapping_frozen(&mut tx, &row).await?;
        compute(&mut tx, &row, compared, None).await
    }
    .await;
    tx.rollback().await?;
    built
}

/// One report, read from a snapshot.
pub async fn find(db: &Db, id: &str) -> Result<ReportView, FlowError> {
    let mut tx = db.begin_snapshot().await?;
    let result = view(&mut tx, id).await;
    tx.rollback().await?;
    result
}

/// One page of the reports, newest made first, without figures, optionally of one status.
pub async fn list(
    db: &Db,
    status: Option<ReportStatus>,
    page: &crate::domain::page::PageRequest,
) -> Result<crate::domain::page::Page<ReportView>, StoreError> {
    let (cursor, _) = page.bound();
    let (keyset, order) = crate::domain::page::keyset_sql(page, false, "0", "created_at", "id", 3);
    let sql = format!(
        "{SELECT} WHERE ($2 IS NULL OR status = $2) AND {keyset} ORDER BY {order} LIMIT $1"
    );
    let rows: Vec<Row> = on_db!(db, p => sqlx::query_as::<_, Row>(&sql)
        .bind(page.fetch())
        .bind(status)
        .bind(cursor.map(|c| c.rank))
        .bind(cursor.map(|c| c.at))
        .bind(cursor.map(|c| c.id.clone()))
        .fetch_all(p)
        .await)?;
    let views: Vec<ReportView> = rows
        .iter()
        .map(|r| ReportView::of(r, None, Vec::new()))
        .collect();
    Ok(crate::domain::page::Page::from_rows(views, page, |v| {
        crate::domain::page::Cursor {
            rank: 0,
            at: v.created_at,
            id: v.id.clone(),
        }
    }))
}

/// What `POST /api/v1/reports/{id}/seal` answers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Sealed {
    /// `awaiting_cosign` after the first treasurer, `sealed` after the second.
    pub status: ReportStatus,
    pub hash: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A treasurer's signature: the first freezes the report, a second, distinct one
/// co-signs it.
pub async fn seal(
    tx: &mut Tx,
    now: DateTime<Utc>,
    treasurer: &str,
    id: &str,
) -> Result<Sealed, FlowError> {
    // Sealings one after the other: each is compared with every report frozen before it.
    let lock = format!(
        "SELECT id FROM report_seal_lock WHERE id = 1{}",
        tx.lock_rows()
    );
    on_tx!(tx, c => sqlx::query_scalar::<_, i32>(&lock).fetch_one(c).await)?;
    let mut row = load_locked(tx, id).await?;
    let actor = Actor(format!("user:{treasurer}"));
    match row.status {
        ReportStatus::Draft => {
            // The chain may have moved since the draft was made: checked again, under
            // the lock that orders sealings.
            if row.supersedes.is_none() {
                let (start, _) = row.period()?;
                row.starts_after = place_in_chain(tx, start, row.cutoff).await?;
            }
            let compared = overlapping_frozen(tx, &row).await?;
            let built = compute(tx, &row, compared, None).await?;
            // A period too quiet to publish (its spending concerns fewer than k cases) is
            // never frozen: once it is, the next report's balances give that spending away.
            if built.summary.withheld.is_some() {
                let (start, end) = row.period()?;
                return Err(FlowError::Conflict(format!(
                    "too few people were helped from {start} to {end} to publish what was spent without identifying them: draft a report for a longer period starting on {start} instead"
                )));
            }
            let (text, hash) = summary::canonical_and_hash(&built.summary);
            let ledger_digest = digest::ledger_digest(tx, row.window()?).await?;
            let head = &built.summary.audit_head;
            on_tx!(tx, c => sqlx::query(
                "UPDATE reports SET status = $10, summary = $2, hash = $3,
                        audit_seq = $4, audit_hash = $5, sealed_by = $6, sealed_at = $7,
                        starts_after = $8, ledger_digest = $9
                 WHERE id = $1 AND status = $11",
            )
            .bind(id)
            .bind(&text)
            .bind(&hash)
            .bind(head.seq)
            .bind(&head.hash)
            .bind(treasurer)
            .bind(now)
            .bind(row.starts_after)
            .bind(&ledger_digest)
            .bind(ReportStatus::AwaitingCosign)
            .bind(ReportStatus::Draft)
            .execute(c)
            .await
            .map(|_| ()))?;
            audit::append(
                tx,
                now,
                &actor,
                "report.seal",
                &format!("report:{id}"),
                &json!({"hash": hash, "audit_seq": head.seq, "warnings": built.warnings.len(),
                        "starts_after": row.starts_after.map(audit::canonical_time),
                        "ledger_digest": ledger_digest}),
            )
            .await?;
            Ok(Sealed {
                status: ReportStatus::AwaitingCosign,
                hash,
                warnings: built.warnings,
            })
        }
        ReportStatus::AwaitingCosign => {
            if row.sealed_by.as_deref() == Some(treasurer) {
                return Err(FlowError::Conflict(
                    "you froze this report: a second, different treasurer must co-sign it".into(),
                ));
            }
            on_tx!(tx, c => sqlx::query(
                "UPDATE reports SET status = $4, cosigned_by = $2, cosigned_at = $3
                 WHERE id = $1 AND status = $5",
            )
            .bind(id)
            .bind(treasurer)
            .bind(now)
            .bind(ReportStatus::Sealed)
            .bind(ReportStatus::AwaitingCosign)
            .execute(c)
            .await
            .map(|_| ()))?;
            if let Some(old) = &row.supersedes {
                on_tx!(tx, c => sqlx::query(
                    "UPDATE reports SET superseded_by = $2 WHERE id = $1 AND superseded_by IS NULL",
                )
                .bind(old)
                .bind(id)
                .execute(c)
                .await
                .map(|_| ()))?;
                audit::append(
                    tx,
                    now,
                    &actor,
                    "report.supersede",
                    &format!("report:{old}"),
                    &json!({"superseded_by": id}),
                )
                .await?;
            }
            let hash = row.hash.clone().unwrap_or_default();
            audit::append(
                tx,
                now,
                &actor,
                "report.cosign",
                &format!("report:{id}"),
                &json!({"hash": hash}),
            )
            .await?;
            Ok(Sealed {
                status: ReportStatus::Sealed,
                hash,
                warnings: Vec::new(),
            })
        }
        ReportStatus::Sealed => Err(FlowError::Conflict(
            "this report is already sealed and co-signed: it never changes (draft a correction that supersedes it)"
                .into(),
        )),
    }
}

/// What `GET /api/v1/reports/{id}/verify` answers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Verification {
    pub id: String,
    pub status: ReportStatus,
    /// The hash stored when the report was frozen.
    pub hash: String,
    /// How the books were checked: `ledger_digest` (the digest of the ledger entries the
    /// report covers, recomputed now and compared with the one kept when it was frozen;
    /// the figures are not recomputed) or `recomputed` (a report frozen before reports
    /// kept a digest: its summary recomputed from the ledger with today's code).
    pub method: String,
    /// Everything holds: the books, the audit head and the stored bytes.
    pub matches: bool,
    /// The ledger entries the report covers are those it was frozen with.
    pub books_match: bool,
    /// The audit event the report names at its cut-off still has the hash it named.
    pub audit_head_intact: bool,
    /// The stored summary's bytes still hash to the stored hash.
    pub stored_summary_intact: bool,
    /// The digest kept when the report was frozen (`ledger_digest` method).
    pub ledger_digest: Option<String>,
    /// The same digest recomputed now from the ledger (`ledger_digest` method).
    pub recomputed_ledger_digest: Option<String>,
    /// The hash of the summary recomputed now (`recomputed` method).
    pub recomputed_hash: Option<String>,
    /// What was found different: figures of the summary (`recomputed` method), or
    /// `ledger_digest`, `audit_head`, `summary`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
    /// Says how an older report was checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Recomputes a frozen report from the ledger and says whether it still matches.
pub async fn verify(db: &Db, id: &str) -> Result<Verification, FlowError> {
    let mut tx = db.begin_snapshot().await?;
    let result = verify_in(&mut tx, id).await;
    tx.rollback().await?;
    result
}

async fn verify_in(tx: &mut Tx, id: &str) -> Result<Verification, FlowError> {
    use sha2::{Digest, Sha256};
    let row = must_load(tx, id).await?;
    let (Some(hash), Some(text)) = (row.hash.clone(), row.summary.clone()) else {
        return Err(FlowError::Conflict(
            "this report is a draft: it has no hash until a treasurer seals it".into(),
        ));
    };
    // The exact bytes that were hashed, as served.
    let stored_summary_intact = hex::encode(Sha256::digest(text.as_bytes())) == hash;
    let Some(kept) = row.ledger_digest.clone() else {
        return verify_recomputed(tx, row, hash, stored_summary_intact).await;
    };
    let recomputed = digest::ledger_digest(tx, row.window()?).await?;
    let books_match = recomputed == kept;
    let audit_head_intact = match (row.audit_seq, &row.audit_hash) {
        (Some(seq), Some(named)) => audit_event_hash(tx, seq).await? == *named,
        _ => false,
    };
    let mut differences = Vec::new();
    if !books_match {
        differences.push("ledger_digest".to_string());
    }
    if !audit_head_intact {
        differences.push("audit_head".to_string());
    }
    if !stored_summary_intact {
        differences.push("summary".to_string());
    }
    Ok(Verification {
        id: row.id,
        status: row.status,
        hash,
        method: "ledger_digest".into(),
        matches: books_match && audit_head_intact && stored_summary_intact,
        books_match,
        audit_head_intact,
        stored_summary_intact,
        ledger_digest: Some(kept),
        recomputed_ledger_digest: Some(recomputed),
        recomputed_hash: None,
        differences,
        note: None,
    })
}

/// The figures of a summary that come from the books whatever the suppression rules hide,
/// as JSON pointers: what a report frozen before reports kept a ledger digest is checked on.
const LEDGER_FIGURES: &[&str] = &[
    "/opening_balance",
    "/donations/total",
    "/donations/unrestricted",
    "/donations/restricted",
    "/donations/gifts",
    "/in_kind",
    "/disbursed",
    "/unassigned",
    "/closing_balance",
    "/audit_head/seq",
    "/audit_head/hash",
];

/// A report frozen before reports kept a ledger digest: its summary is recomputed from
/// the ledger with today's code, with the same cut-off, against the same reports, with
/// the audit event it named; its hash compared, or, when an older release hid other
/// figures, its [`LEDGER_FIGURES`].
async fn verify_recomputed(
    tx: &mut Tx,
    row: Row,
    hash: String,
    stored_summary_intact: bool,
) -> Result<Verification, FlowError> {
    let stored = row.stored_json().unwrap_or(Value::Null);
    let mut compared = Vec::new();
    for prior in stored["compared_with"].as_array().into_iter().flatten() {
        let prior_id = prior.as_str().unwrap_or_default();
        let prior_row = load(tx, prior_id).await?.ok_or_else(|| {
            FlowError::Conflict(format!(
                "report {prior_id}, which this report was compared with, is missing"
            ))
        })?;
        compared.push(prior_row);
    }
    let built = compute(tx, &row, compared, row.audit_seq).await?;
    let (_, recomputed) = summary::canonical_and_hash(&built.summary);
    let rebuilt = built.summary.to_value();
    // The release that sealed it may have hidden other figures than this one would (its
    // suppression rules were older), so a summary rebuilt today need not hash the same.
    // What comes from the books whatever is hidden is compared instead: the balances, the
    // gifts, the spending, and the audit event the report named.
    let mut diff = Vec::new();
    if recomputed != hash {
        for path in LEDGER_FIGURES {
            let (then, now) = (stored.pointer(path), rebuilt.pointer(path));
            // A figure this release withholds (a period too quiet) is not compared.
            if now.is_some_and(|v| !v.is_null()) && then != now {
                diff.push(path.trim_start_matches('/').replace('/', "."));
            }
        }
    }
    let audit_head_intact = !diff.iter().any(|d| d.starts_with("audit_head"));
    let books_match = diff.is_empty();
    Ok(Verification {
        id: row.id,
        status: row.status,
        method: "recomputed".into(),
        matches: books_match && stored_summary_intact,
        books_match,
        audit_head_intact,
        stored_summary_intact,
        hash,
        ledger_digest: None,
        recomputed_ledger_digest: None,
        recomputed_hash: Some(recomputed),
        differences: diff,
        note: Some(
            "this report was frozen before reports kept a digest of the ledger entries they cover: its figures were recomputed from the ledger with this release's code, and those that come from the books whatever is hidden (balances, gifts, spending, the audit event) compared"
                .into(),
        ),
    })
}

/// Who froze a frozen report and who co-signed it, by the treasurers' display names
/// (staff, never a person helped), and when: what a donor's page shows beside the hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signatures {
    pub frozen_by: Option<String>,
    pub frozen_at: Option<DateTime<Utc>>,
    pub cosigned_by: Option<String>,
    pub cosigned_at: Option<DateTime<Utc>>,
}

/// The display name of a staff member (their email's part before `@` when they have
/// none: it is what the staff pages call them too).
async fn staff_name(tx: &mut Tx, id: Option<&str>) -> Result<Option<String>, StoreError> {
    let Some(id) = id else { return Ok(None) };
    let row: Option<(Option<String>, String)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT display_name, email FROM users WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|(name, email)| {
        name.filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_string())
    }))
}

/// The signatures of a report (see [`Signatures`]).
pub async fn signatures(tx: &mut Tx, row: &Row) -> Result<Signatures, StoreError> {
    Ok(Signatures {
        frozen_by: staff_name(tx, row.sealed_by.as_deref()).await?,
        frozen_at: row.sealed_at,
        cosigned_by: staff_name(tx, row.cosigned_by.as_deref()).await?,
        cosigned_at: row.cosigned_at,
    })
}

/// The exact bytes a frozen report's hash was computed over: the file anyone checks with
/// `sha256sum`, whose output is the report's hash. A draft has none (409).
pub async fn summary_file(db: &Db, id: &str) -> Result<(Row, String), FlowError> {
    let mut tx = db.begin_snapshot().await?;
    let row = must_load(&mut tx, id).await;
    tx.rollback().await?;
    let row = row?;
    let Some(text) = row.summary.clone().filter(|_| row.frozen()) else {
        return Err(FlowError::Conflict(
            "this report is a draft: its summary file exists once a treasurer has frozen it".into(),
        ));
    };
    Ok((row, text))
}

/// The name a summary file is downloaded under: `passage-report-2026-11-01-2026-11-30.json`.
pub fn summary_file_name(row: &Row) -> String {
    let day = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_digit() || *c == '-')
            .collect()
    };
    format!(
        "passage-report-{}-{}.json",
        day(&row.period_start),
        day(&row.period_end)
    )
}

/// A figure where a summary file and the frozen report it claims to be differ: its path
/// (`by_category.cells[hotel].amount`), its value in the file and in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub path: String,
    pub in_file: String,
    pub in_report: String,
}

/// What `passage reports verify --file` found.
#[derive(Debug, Clone)]
pub enum FileCheck {
    /// The file's SHA-256 is a frozen report's hash; the report checked against the books.
    Report(Verification),
    /// No report has the file's hash; the frozen report of the same period and cut-off
    /// differs from it in these figures.
    Differs {
        id: String,
        period: (String, String),
        hash: String,
        differences: Vec<Difference>,
    },
    /// The file is no frozen report's summary, nor of one's period.
    Unknown { hash: String, why: String },
}

/// Checks a downloaded summary file against the books: its SHA-256 must be the hash of a
/// frozen report, which is then verified like `reports verify ID` (its stored bytes, the
/// ledger entries it covers, its audit event). A file whose hash is no report's is compared
/// figure by figure with the frozen report of its period, so the answer names what changed.
pub async fn verify_file(db: &Db, bytes: &[u8]) -> Result<FileCheck, FlowError> {
    use sha2::{Digest, Sha256};
    let hash = hex::encode(Sha256::digest(bytes));
    let mut tx = db.begin_snapshot().await?;
    let found = async {
        let sql = format!("{SELECT} WHERE hash = $1");
        let by_hash: Option<Row> =
            on_tx!(&mut tx, c => sqlx::query_as::<_, Row>(&sql).bind(&hash).fetch_optional(c).await)?;
        if by_hash.is_some() {
            return Ok::<_, FlowError>((by_hash, None));
        }
        let Ok(file) = serde_json::from_slice::<Value>(bytes) else {
            return Ok((None, Some("it is not JSON".to_string())));
        };
        let (Some(start), Some(end)) = (
            file.pointer("/period/start").and_then(Value::as_str),
            file.pointer("/period/end").and_then(Value::as_str),
        ) else {
            return Ok((None, Some("it names no period (period.start, period.end)".to_string())));
        };
        let sql = format!(
            "{SELECT} WHERE period_start = $1 AND period_end = $2 AND hash IS NOT NULL
             ORDER BY sealed_at DESC"
        );
        let rows: Vec<Row> = on_tx!(&mut tx, c => sqlx::query_as::<_, Row>(&sql)
            .bind(start).bind(end).fetch_all(c).await)?;
        let cutoff = file.get("cutoff").and_then(Value::as_str);
        let row = rows
            .iter()
            .find(|r| {
                r.stored_json()
                    .is_some_and(|s| s.get("cutoff").and_then(Value::as_str) == cutoff)
            })
            .or(rows.first())
            .cloned();
        match row {
            Some(row) => Ok((Some(row), None)),
            None => Ok((
                None,
                Some(format!("no frozen report covers {start} to {end}")),
            )),
        }
    }
    .await;
    tx.rollback().await?;
    let (row, why) = found?;
    let Some(row) = row else {
        return Ok(FileCheck::Unknown {
            hash,
            why: why.unwrap_or_default(),
        });
    };
    if row.hash.as_deref() == Some(hash.as_str()) {
        return Ok(FileCheck::Report(verify(db, &row.id).await?));
    }
    let file: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let mut differences = Vec::new();
    compare(
        "",
        &file,
        &row.stored_json().unwrap_or(Value::Null),
        &mut differences,
    );
    Ok(FileCheck::Differs {
        id: row.id.clone(),
        period: (row.period_start.clone(), row.period_end.clone()),
        hash,
        differences,
    })
}

/// The figures where two summaries differ; a list of cells is matched by `key`.
fn compare(path: &str, file: &Value, report: &Value, out: &mut Vec<Difference>) {
    let show = |v: Option<&Value>| match v {
        None => "absent".to_string(),
        Some(Value::String(s)) => format!("{s:?}"),
        Some(v) => v.to_string(),
    };
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match (file, report) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => compare(&join(key), x, y, out),
                    (x, y) => out.push(Difference {
                        path: join(key),
                        in_file: show(x),
                        in_report: show(y),
                    }),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.iter().chain(b).all(|v| v.get("key").is_some()) => {
            let key_of = |v: &Value| v["key"].as_str().unwrap_or_default().to_string();
            let keys: std::collections::BTreeSet<String> = a.iter().chain(b).map(key_of).collect();
            for key in keys {
                let x = a.iter().find(|v| key_of(v) == key);
                let y = b.iter().find(|v| key_of(v) == key);
                let here = format!("{path}[{key}]");
                match (x, y) {
                    (Some(x), Some(y)) => compare(&here, x, y, out),
                    (x, y) => out.push(Difference {
                        path: here,
                        in_file: show(x),
                        in_report: show(y),
                    }),
                }
            }
        }
        (a, b) if a != b => out.push(Difference {
            path: path.to_string(),
            in_file: show(Some(a)),
            in_report: show(Some(b)),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pointer that names no field would compare nothing with nothing and pass.
    #[test]
    fn every_ledger_figure_names_a_figure_of_the_summary() {
        let stored = summary::tests::stored();
        let typed = Summary::parse(&stored.to_string()).unwrap().to_value();
        for path in LEDGER_FIGURES {
            assert!(typed.pointer(path).is_some(), "{path}");
        }
    }
}
