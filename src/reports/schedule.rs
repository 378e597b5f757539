//! Schedules: at the fund's one cadence (`report_cadence` in the policy: a month, or a
//! quarter), once the period that starts where the chain of frozen reports ends is over,
//! the sweeper drafts its report; and treasurers are reminded (through the outbox, at
//! most once a week per report) of reports whose period has ended and that still wait
//! for a seal or a co-signature. Every instance's sweeper may run this at once: a
//! scheduled report exists once per schedule and start (a unique index), and a reminder
//! is claimed by the update that stamps `reminded_at`.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde_json::json;

use super::Period;
use super::lifecycle::{self, ChainNext, NewReport};
use crate::approval::FlowError;
use crate::approval::policy::Cadence;
use crate::audit::Actor;
use crate::config::Config;
use crate::domain::{Language, ReportSchedule, ReportStatus, Role};
use crate::mail::compose::{ReportReminder, ReportStep};
use crate::mail::{self, OutgoingMail};
use crate::store::{Db, Tx};
use crate::{on_db, on_tx, write_tx};

/// How often a waiting report is brought up again.
pub const REMIND_EVERY: Duration = Duration::days(7);

/// The schedule a report drafted at this cadence is stored with.
pub fn schedule_of(cadence: Cadence) -> ReportSchedule {
    match cadence {
        Cadence::Month => ReportSchedule::Monthly,
        Cadence::Quarter => ReportSchedule::Quarterly,
    }
}

/// The statuses of a report that waits for a treasurer's seal or co-signature.
fn waiting_sql() -> String {
    ReportStatus::sql_list(&[ReportStatus::Draft, ReportStatus::AwaitingCosign])
}

/// The period that starts on `start` and ends with its month or its quarter.
pub fn period_from(start: NaiveDate, cadence: Cadence) -> Period {
    let months = match cadence {
        Cadence::Month => 1,
        Cadence::Quarter => 3 - start.month0() % 3,
    };
    let first = start.with_day(1).unwrap_or(start);
    let end = first
        .checked_add_months(chrono::Months::new(months))
        .map(|d| d - Duration::days(1))
        .unwrap_or(start);
    Period { start, end }
}

/// The first day of the month or quarter that holds `day`.
fn period_start_of(day: NaiveDate, cadence: Cadence) -> NaiveDate {
    let month = match cadence {
        Cadence::Month => day.month(),
        Cadence::Quarter => day.month0() / 3 * 3 + 1,
    };
    NaiveDate::from_ymd_opt(day.year(), month, 1).unwrap_or(day)
}

async fn exists(
    tx: &mut Tx,
    schedule: ReportSchedule,
    start: NaiveDate,
) -> Result<bool, FlowError> {
    let found: Option<String> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT id FROM reports WHERE schedule = $1 AND period_start = $2"
    )
    .bind(schedule)
    .bind(start.to_string())
    .fetch_optional(c)
    .await)?;
    Ok(found.is_some())
}

/// Drafts the next report of the chain at the fund's cadence, once its period has ended:
/// from where the chain of frozen reports ends (the first, from the month or quarter of
/// the fund's first event) to the end of that month or quarter. One draft at a time: the
/// next one follows once this one is frozen. Returns how many were drafted (0 or 1).
pub async fn draft_due(db: &Db, config: &Config, now: DateTime<Utc>) -> Result<usize, FlowError> {
    let cadence = crate::approval::versions::in_force(db, now)
        .await?
        .policy
        .report_cadence();
    let made = write_tx!(db, |tx| -> Result<bool, FlowError> async {
        draft_next(tx, config, now, cadence).await
    })?;
    Ok(usize::from(made))
}

async fn draft_next(
    tx: &mut Tx,
    config: &Config,
    now: DateTime<Utc>,
    cadence: Cadence,
) -> Result<bool, FlowError> {
    let schedule = schedule_of(cadence);
    let start = match lifecycle::chain_next(tx).await? {
        ChainNext::After { day, .. } => day,
        // No report of a time before the fund's first event: a new install, or one that
        // has not started yet, gets no empty drafts.
        ChainNext::First {
            first_event_day: None,
        } => return Ok(false),
        ChainNext::First {
            first_event_day: Some(first),
        } => period_start_of(first, cadence),
    };
    let period = period_from(start, cadence);
    if period.end >= now.date_naive() || exists(tx, schedule, period.start).await? {
        return Ok(false);
    }
    let new = NewReport {
        period,
        schedule,
        supersedes: None,
        min_cell: config.report_min_cell,
    };
    lifecycle::create(tx, now, &Actor::system(), &new)
        .await
        .map(|_| true)
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Waiting {
    id: String,
    period_start: String,
    period_end: String,
    status: ReportStatus,
    supersedes: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Treasurer {
    email: String,
    language: String,
}

/// Reminds every active treasurer of each report that waits for a seal or a
/// co-signature and whose period has ended; at most once per [`REMIND_EVERY`] per report.
/// A draft that another report frozen first has made stale (it no longer starts where
/// the chain ends, so it can never be sealed) is not brought up.
pub async fn remind_due(db: &Db, config: &Config, now: DateTime<Utc>) -> Result<usize, FlowError> {
    let ended = (now.date_naive() - Duration::days(1)).to_string();
    let sql = format!(
        "SELECT id, period_start, period_end, status, supersedes FROM reports
         WHERE status IN {} AND period_end <= $1
           AND (reminded_at IS NULL OR reminded_at <= $2)
         ORDER BY period_start, id",
        waiting_sql()
    );
    let waiting: Vec<Waiting> = on_db!(db, p => sqlx::query_as::<_, Waiting>(&sql)
    .bind(&ended)
    .bind(now - REMIND_EVERY)
    .fetch_all(p)
    .await)?;
    let next = lifecycle::next_in_chain(db).await?;
    let mut reminded = 0;
    for report in waiting {
        let stale = report.status.is_draft()
            && report.supersedes.is_none()
            && match &next {
                ChainNext::After { day, .. } => report.period_start != day.to_string(),
                ChainNext::First {
                    first_event_day: Some(first),
                } => report.period_start.as_str() > first.to_string().as_str(),
                ChainNext::First { .. } => false,
            };
        if stale {
            continue;
        }
        let done = write_tx!(db, |tx| -> Result<bool, FlowError> async {
            remind_one(tx, config, now, &report).await
        })?;
        if done {
            reminded += 1;
        }
    }
    Ok(reminded)
}

async fn remind_one(
    tx: &mut Tx,
    config: &Config,
    now: DateTime<Utc>,
    report: &Waiting,
) -> Result<bool, FlowError> {
    // Claims the reminder: another instance's sweeper that got here first wins.
    let sql = format!(
        "UPDATE reports SET reminded_at = $2
         WHERE id = $1 AND status IN {}
           AND (reminded_at IS NULL OR reminded_at <= $3)",
        waiting_sql()
    );
    let claimed = on_tx!(tx, c => sqlx::query(&sql)
    .bind(&report.id)
    .bind(now)
    .bind(now - REMIND_EVERY)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if claimed == 0 {
        return Ok(false);
    }
    let treasurers: Vec<Treasurer> = on_tx!(tx, c => sqlx::query_as::<_, Treasurer>(
        "SELECT email, language FROM users
         WHERE active
           AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = users.id AND r.role = $1)
         ORDER BY email"
    )
    .bind(Role::Treasurer)
    .fetch_all(c)
    .await)?;
    let link = crate::links::report(&config.base_url, &report.id);
    let step = if report.status.is_draft() {
        ReportStep::Seal
    } else {
        ReportStep::Cosign
    };
    for t in treasurers {
        let written = ReportReminder {
            // As before languages were checked: anything but French reads English.
            language: t.language.parse().unwrap_or(Language::En),
            step,
            start: report.period_start.clone(),
            end: report.period_end.clone(),
            link: link.clone(),
        }
        .write()?;
        mail::enqueue(
            tx,
            now,
            &OutgoingMail {
                to: t.email.clone(),
                subject: written.subject,
                text: written.text,
                html: Some(written.html),
                dedupe_key: format!(
                    "report:{}:remind:{}:{}:{}",
                    report.id,
                    report.status,
                    now.format("%Y-%m-%d"),
                    t.email
                ),
                headers: Vec::new(),
            },
        )
        .await?;
    }
    crate::audit::append(
        tx,
        now,
        &Actor::system(),
        "report.remind",
        &format!("report:{}", report.id),
        &json!({"status": report.status}),
    )
    .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_period_runs_from_where_the_chain_ends_to_the_end_of_its_month_or_quarter() {
        let p = period_from(day("2026-12-01"), Cadence::Month);
        assert_eq!((p.start, p.end), (day("2026-12-01"), day("2026-12-31")));
        let p = period_from(day("2028-02-10"), Cadence::Month);
        assert_eq!((p.start, p.end), (day("2028-02-10"), day("2028-02-29")));
        let p = period_from(day("2026-10-01"), Cadence::Quarter);
        assert_eq!((p.start, p.end), (day("2026-10-01"), day("2026-12-31")));
        let p = period_from(day("2027-02-15"), Cadence::Quarter);
        assert_eq!((p.start, p.end), (day("2027-02-15"), day("2027-03-31")));
        assert_eq!(
            period_start_of(day("2026-11-29"), Cadence::Quarter),
            day("2026-10-01")
        );
        assert_eq!(
            period_start_of(day("2026-11-29"), Cadence::Month),
            day("2026-11-01")
        );
    }
}
