//! Schedules: once a month has ended the sweeper drafts its report, once a quarter has
//! ended its quarterly report, and treasurers are reminded (through the outbox, at most
//! once a week per report) of reports whose period has ended and that still wait for a
//! seal or a co-signature. Every instance's sweeper may run this at once: a scheduled
//! report exists once per period (a unique index), and a reminder is claimed by the
//! update that stamps `reminded_at`.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde_json::json;

use super::Period;
use super::lifecycle::{self, NewReport};
use crate::approval::FlowError;
use crate::audit::Actor;
use crate::config::Config;
use crate::mail::{self, OutgoingMail};
use crate::store::{Db, Tx};
use crate::{on_db, on_tx, write_tx};

/// How often a waiting report is brought up again.
pub const REMIND_EVERY: Duration = Duration::days(7);

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

/// The last month and the last quarter that have ended by `today`.
pub fn ended_periods(today: NaiveDate) -> [(&'static str, Period); 2] {
    let this_month = first_of_month(today);
    let last_month_end = this_month - Duration::days(1);
    let month = Period {
        start: first_of_month(last_month_end),
        end: last_month_end,
    };
    let quarter_month = (today.month0() / 3) * 3 + 1;
    let this_quarter = NaiveDate::from_ymd_opt(today.year(), quarter_month, 1).unwrap_or(today);
    let last_quarter_end = this_quarter - Duration::days(1);
    let start_month = ((last_quarter_end.month0() / 3) * 3) + 1;
    let quarter = Period {
        start: NaiveDate::from_ymd_opt(last_quarter_end.year(), start_month, 1)
            .unwrap_or(last_quarter_end),
        end: last_quarter_end,
    };
    [("monthly", month), ("quarterly", quarter)]
}

async fn exists(tx: &mut Tx, schedule: &str, start: NaiveDate) -> Result<bool, FlowError> {
    let found: Option<String> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT id FROM reports WHERE schedule = $1 AND period_start = $2"
    )
    .bind(schedule)
    .bind(start.to_string())
    .fetch_optional(c)
    .await)?;
    Ok(found.is_some())
}

/// Drafts the reports of the last ended month and quarter if they do not exist yet (and
/// the fund had begun by their end).
/// Returns how many were drafted.
pub async fn draft_due(db: &Db, config: &Config, now: DateTime<Utc>) -> Result<usize, FlowError> {
    // No report of a time before the fund's first transfer: a new install, or one that
    // has not started yet, gets no empty drafts.
    let first: Option<DateTime<Utc>> = on_db!(db, p => sqlx::query_scalar(
        "SELECT created_at FROM transfers ORDER BY created_at LIMIT 1"
    )
    .fetch_optional(p)
    .await)?;
    let Some(first) = first else {
        return Ok(0);
    };
    let mut drafted = 0;
    for (schedule, period) in ended_periods(now.date_naive()) {
        if period.ends_at() < first {
            continue;
        }
        let new = NewReport {
            period,
            schedule,
            supersedes: None,
            min_cell: config.report_min_cell,
        };
        let made = write_tx!(db, |tx| {
            match exists(tx, schedule, period.start).await {
                Ok(true) => Ok(false),
                Ok(false) => lifecycle::create(tx, now, &Actor::system(), &new)
                    .await
                    .map(|_| true),
                Err(e) => Err(e),
            }
        })?;
        if made {
            drafted += 1;
        }
    }
    Ok(drafted)
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Waiting {
    id: String,
    period_start: String,
    period_end: String,
    status: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Treasurer {
    email: String,
    language: String,
}

/// Reminds every active treasurer of each report that waits for a seal or a
/// co-signature and whose period has ended; at most once per [`REMIND_EVERY`] per report.
pub async fn remind_due(db: &Db, config: &Config, now: DateTime<Utc>) -> Result<usize, FlowError> {
    let ended = (now.date_naive() - Duration::days(1)).to_string();
    let waiting: Vec<Waiting> = on_db!(db, p => sqlx::query_as::<_, Waiting>(
        "SELECT id, period_start, period_end, status FROM reports
         WHERE status IN ('draft', 'awaiting_cosign') AND period_end <= $1
           AND (reminded_at IS NULL OR reminded_at <= $2)
         ORDER BY period_start, id"
    )
    .bind(&ended)
    .bind(now - REMIND_EVERY)
    .fetch_all(p)
    .await)?;
    let mut reminded = 0;
    for report in waiting {
        let done = write_tx!(db, |tx| remind_one(tx, config, now, &report).await)?;
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
    let claimed = on_tx!(tx, c => sqlx::query(
        "UPDATE reports SET reminded_at = $2
         WHERE id = $1 AND status IN ('draft', 'awaiting_cosign')
           AND (reminded_at IS NULL OR reminded_at <= $3)"
    )
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
         WHERE active AND (',' || roles || ',') LIKE '%,treasurer,%' ORDER BY email"
    )
    .fetch_all(c)
    .await)?;
    let link = format!(
        "{}/api/v1/reports/{}",
        config.base_url.trim_end_matches('/'),
        report.id
    );
    let (start, end) = (&report.period_start, &report.period_end);
    for t in treasurers {
        let (subject, text) = match (t.language.as_str(), report.status.as_str()) {
            ("fr", "draft") => (
                format!("Rapport aux donateurs à sceller : du {start} au {end}"),
                format!(
                    "Le rapport du {start} au {end} attend d'être scellé par un·e trésorier·ère, puis contresigné par un·e autre.\n\nLe relire et le sceller : {link}\n"
                ),
            ),
            ("fr", _) => (
                format!("Rapport aux donateurs à contresigner : du {start} au {end}"),
                format!(
                    "Le rapport du {start} au {end} est scellé et attend la contresignature d'un·e second·e trésorier·ère.\n\nLe relire et le contresigner : {link}\n"
                ),
            ),
            (_, "draft") => (
                format!("Donor report to seal: {start} to {end}"),
                format!(
                    "The report for {start} to {end} is waiting for a treasurer to seal it, and a second one to co-sign it.\n\nReview and seal it: {link}\n"
                ),
            ),
            _ => (
                format!("Donor report to co-sign: {start} to {end}"),
                format!(
                    "The report for {start} to {end} is sealed and waiting for a second treasurer's co-signature.\n\nReview and co-sign it: {link}\n"
                ),
            ),
        };
        mail::enqueue(
            tx,
            now,
            &OutgoingMail {
                to: t.email.clone(),
                subject,
                text,
                html: None,
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
    fn the_last_ended_month_and_quarter() {
        let [(m, month), (q, quarter)] = ended_periods(day("2027-01-02"));
        assert_eq!(
            (m, month.start, month.end),
            ("monthly", day("2026-12-01"), day("2026-12-31"))
        );
        assert_eq!(
            (q, quarter.start, quarter.end),
            ("quarterly", day("2026-10-01"), day("2026-12-31"))
        );
        let [(_, month), (_, quarter)] = ended_periods(day("2026-11-29"));
        assert_eq!(
            (month.start, month.end),
            (day("2026-10-01"), day("2026-10-31"))
        );
        assert_eq!(
            (quarter.start, quarter.end),
            (day("2026-07-01"), day("2026-09-30"))
        );
        let [(_, month), _] = ended_periods(day("2028-03-01"));
        assert_eq!(
            (month.start, month.end),
            (day("2028-02-01"), day("2028-02-29"))
        );
    }
}
