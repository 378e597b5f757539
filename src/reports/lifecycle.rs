//! A report's life: `draft` (figures computed whenever it is read) → `awaiting_cosign`
//! (a first treasurer froze it: its summary, the summary's SHA-256 and the audit chain's
//! head at the cut-off are stored and never change) → `sealed` (a second, distinct
//! treasurer co-signed it; it may be sent). A correction is a new report that names the
//! report it supersedes; the old one stays as it was, marked superseded once the
//! correction is sealed. Each step is one transaction with its audit event.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::Period;
use super::facts::{self, Window};
use super::summary::{self, Built, Context, Prior};
use crate::approval::FlowError;
use crate::approval::error::invalid;
use crate::audit::{self, Actor, GENESIS_HASH};
use crate::store::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    pub id: String,
    pub period_start: String,
    pub period_end: String,
    pub cutoff: DateTime<Utc>,
    pub schedule: String,
    pub status: String,
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
}

const SELECT: &str = "SELECT id, period_start, period_end, cutoff, schedule, status, min_cell,
        supersedes, superseded_by, summary, hash, audit_seq, audit_hash, created_at, sealed_by,
        sealed_at, cosigned_by, cosigned_at, send_requested_at
     FROM reports";

impl Row {
    pub fn period(&self) -> Result<(NaiveDate, NaiveDate), FlowError> {
        let parse = |s: &str| {
            s.parse::<NaiveDate>()
                .map_err(|_| FlowError::Conflict(format!("report {} has a bad period", self.id)))
        };
        Ok((parse(&self.period_start)?, parse(&self.period_end)?))
    }

    pub fn window(&self) -> Result<Window, FlowError> {
        let (start, end) = self.period()?;
        let period = Period { start, end };
        Ok(Window {
            start: period.starts_at(),
            cutoff: self.cutoff,
        })
    }

    pub fn frozen(&self) -> bool {
        self.hash.is_some()
    }

    pub fn stored_summary(&self) -> Option<Value> {
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
    pub status: String,
    pub period_start: String,
    pub period_end: String,
    /// Events up to this moment are in the report.
    pub cutoff: DateTime<Utc>,
    /// `manual`, `monthly` or `quarterly`.
    pub schedule: String,
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
    pub summary: Option<Value>,
    /// What suppression could not protect (for treasurers, before they seal).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl ReportView {
    fn of(row: &Row, summary: Option<Value>, warnings: Vec<String>) -> ReportView {
        ReportView {
            id: row.id.clone(),
            status: row.status.clone(),
            period_start: row.period_start.clone(),
            period_end: row.period_end.clone(),
            cutoff: row.cutoff,
            schedule: row.schedule.clone(),
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

/// The frozen reports this one is compared with: those whose windows overlap its own, and
/// the one just before it.
async fn overlapping_frozen(tx: &mut Tx, row: &Row) -> Result<Vec<Row>, FlowError> {
    let sql = format!("{SELECT} WHERE hash IS NOT NULL AND id <> $1 ORDER BY sealed_at, id");
    let rows: Vec<Row> =
        on_tx!(tx, c => sqlx::query_as::<_, Row>(&sql).bind(&row.id).fetch_all(c).await)?;
    let mine = row.window()?;
    let mut out = Vec::new();
    // The latest report (not corrected since) that ended before this one began: the
    // "previous report" a reader would compare with.
    let mut previous: Option<(Window, Row)> = None;
    for other in rows {
        let w = other.window()?;
        if w.start <= mine.cutoff && mine.start <= w.cutoff {
            out.push(other);
        } else if w.cutoff < mine.start
            && other.superseded_by.is_none()
            && previous.as_ref().is_none_or(|(p, _)| p.cutoff < w.cutoff)
        {
            previous = Some((w, other));
        }
    }
    if let Some((_, row)) = previous {
        out.insert(0, row);
    }
    Ok(out)
}

async fn priors(tx: &mut Tx, rows: Vec<Row>) -> Result<Vec<Prior>, FlowError> {
    let mut out = Vec::new();
    for row in rows {
        let window = row.window()?;
        let summary = row.stored_summary().ok_or_else(|| {
            FlowError::Conflict(format!("report {} has no readable summary", row.id))
        })?;
        out.push(Prior {
            id: row.id.clone(),
            facts: facts::read(tx, window).await?,
            summary,
        });
    }
    Ok(out)
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
    let facts = facts::read(tx, window).await?;
    let priors = priors(tx, compared).await?;
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
    Ok(summary::build(&ctx, &facts, &priors))
}

#[derive(Debug, Clone)]
pub struct NewReport {
    pub period: Period,
    pub schedule: &'static str,
    pub supersedes: Option<String>,
    pub min_cell: u32,
}

/// Drafts a report and returns it with its figures as of now.
pub async fn create(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    new: &NewReport,
) -> Result<ReportView, FlowError> {
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
    let id = uuid::Uuid::new_v4().to_string();
    let window = new.period.window(now);
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO reports (id, period_start, period_end, cutoff, schedule, status, min_cell,
                              supersedes, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, 'draft', $6, $7, $8, $9)",
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
                "min_cell": new.min_cell, "supersedes": new.supersedes}),
    )
    .await?;
    view(tx, &id).await
}

/// One report with its figures: a draft's computed now, a frozen one's as stored.
pub async fn view(tx: &mut Tx, id: &str) -> Result<ReportView, FlowError> {
    let row = must_load(tx, id).await?;
    if row.frozen() {
        let summary = row.stored_summary();
        return Ok(ReportView::of(&row, summary, Vec::new()));
    }
    let compared = overlapping_frozen(tx, &row).await?;
    let built = compute(tx, &row, compared, None).await?;
    Ok(ReportView::of(&row, Some(built.summary), built.warnings))
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
        schedule: "manual".into(),
        status: "draft".into(),
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
    };
    let mut tx = db.begin_snapshot().await?;
    let built = async {
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

/// Every report, newest period first, without figures.
pub async fn list(db: &Db) -> Result<Vec<ReportView>, StoreError> {
    let sql = format!("{SELECT} ORDER BY period_start DESC, created_at DESC LIMIT 500");
    let rows: Vec<Row> = on_db!(db, p => sqlx::query_as::<_, Row>(&sql).fetch_all(p).await)?;
    Ok(rows
        .iter()
        .map(|r| ReportView::of(r, None, Vec::new()))
        .collect())
}

/// What `POST /api/v1/reports/{id}/seal` answers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Sealed {
    /// `awaiting_cosign` after the first treasurer, `sealed` after the second.
    pub status: String,
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
    let row = load_locked(tx, id).await?;
    let actor = Actor(format!("user:{treasurer}"));
    match row.status.as_str() {
        "draft" => {
            let compared = overlapping_frozen(tx, &row).await?;
            let built = compute(tx, &row, compared, None).await?;
            let (text, hash) = summary::canonical_and_hash(&built.summary);
            let head = &built.summary["audit_head"];
            on_tx!(tx, c => sqlx::query(
                "UPDATE reports SET status = 'awaiting_cosign', summary = $2, hash = $3,
                        audit_seq = $4, audit_hash = $5, sealed_by = $6, sealed_at = $7
                 WHERE id = $1 AND status = 'draft'",
            )
            .bind(id)
            .bind(&text)
            .bind(&hash)
            .bind(head["seq"].as_i64())
            .bind(head["hash"].as_str())
            .bind(treasurer)
            .bind(now)
            .execute(c)
            .await
            .map(|_| ()))?;
            audit::append(
                tx,
                now,
                &actor,
                "report.seal",
                &format!("report:{id}"),
                &json!({"hash": hash, "audit_seq": head["seq"], "warnings": built.warnings.len()}),
            )
            .await?;
            Ok(Sealed {
                status: "awaiting_cosign".into(),
                hash,
                warnings: built.warnings,
            })
        }
        "awaiting_cosign" => {
            if row.sealed_by.as_deref() == Some(treasurer) {
                return Err(FlowError::Conflict(
                    "you froze this report: a second, different treasurer must co-sign it".into(),
                ));
            }
            on_tx!(tx, c => sqlx::query(
                "UPDATE reports SET status = 'sealed', cosigned_by = $2, cosigned_at = $3
                 WHERE id = $1 AND status = 'awaiting_cosign'",
            )
            .bind(id)
            .bind(treasurer)
            .bind(now)
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
                status: "sealed".into(),
                hash,
                warnings: Vec::new(),
            })
        }
        _ => Err(FlowError::Conflict(
            "this report is already sealed and co-signed: it never changes (draft a correction that supersedes it)"
                .into(),
        )),
    }
}

/// What `GET /api/v1/reports/{id}/verify` answers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Verification {
    pub id: String,
    pub status: String,
    /// The hash stored when the report was frozen.
    pub hash: String,
    /// The hash of the summary recomputed now from the ledger, with the same cut-off and
    /// against the same previous reports.
    pub recomputed_hash: String,
    /// The recomputed hash equals the stored one.
    pub matches: bool,
    /// The stored summary still hashes to the stored hash.
    pub stored_summary_intact: bool,
    /// Figures that differ between the stored and the recomputed summary.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
}

fn differences(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                differences(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    &format!("{path}.{k}"),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                differences(p, q, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(path.trim_start_matches('.').to_string()),
        _ => {}
    }
}

/// Recomputes a frozen report from the ledger and says whether it still matches.
pub async fn verify(db: &Db, id: &str) -> Result<Verification, FlowError> {
    let mut tx = db.begin_snapshot().await?;
    let result = verify_in(&mut tx, id).await;
    tx.rollback().await?;
    result
}

async fn verify_in(tx: &mut Tx, id: &str) -> Result<Verification, FlowError> {
    let row = must_load(tx, id).await?;
    let (Some(hash), Some(stored)) = (row.hash.clone(), row.stored_summary()) else {
        return Err(FlowError::Conflict(
            "this report is a draft: it has no hash until a treasurer seals it".into(),
        ));
    };
    let (_, stored_hash) = summary::canonical_and_hash(&stored);
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
    let mut diff = Vec::new();
    differences(&stored, &built.summary, "", &mut diff);
    Ok(Verification {
        id: row.id,
        status: row.status,
        matches: recomputed == hash,
        stored_summary_intact: stored_hash == hash,
        hash,
        recomputed_hash: recomputed,
        differences: diff,
    })
}
