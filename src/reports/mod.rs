//! Donor reports: a period's summary computed from the ledger, with small cells
//! suppressed, frozen and hashed by a treasurer, co-signed by a second one, emailed to
//! donors, and verifiable against the ledger at any later time.
//!
//! - `facts.rs`: what a window of the ledger says (only facts that never change);
//! - `suppress.rs`: which cells to hide so that no small set can be computed from what is
//!   published, this report's figures and the previous reports' together;
//! - `summary.rs`: the summary itself, its canonical text and its hash;
//! - `lifecycle.rs`: draft → awaiting co-signature (frozen) → sealed, corrections,
//!   verification; each step one transaction with its audit event;
//! - `send.rs`: the donor emails through the outbox, one per report and donor, and
//!   unsubscribing;
//! - `donor.rs`: the signed links that open one report and one donor's own gifts;
//! - `paid_out.rs`: the receipts paid back to organisations in a period, each payout
//!   tied to the receipts it pays, and what of them may be published;
//! - `digest.rs`: the digest of the ledger entries a frozen report covers, which
//!   `reports verify` recomputes;
//! - `schedule.rs`: drafts at the fund's one cadence (a month or a quarter), each from
//!   where the chain of frozen reports ends, and reminders to seal them.
//!
//! Frozen reports form one chain in time (DESIGN "Reports form one chain"): each covers
//! from the cut-off of the frozen report before it (the first, from the fund's first
//! event) to its own cut-off, so no two cover the same moment and no moment falls
//! between two; `period_start` and `period_end` are the days a report is labelled with.

pub mod annual;
pub mod checks;
pub mod digest;
pub mod donor;
pub mod facts;
pub mod lifecycle;
pub mod paid_out;
pub mod schedule;
pub mod send;
pub mod summary;
pub mod suppress;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

pub use facts::Window;
pub use lifecycle::{ReportView, Verification};

/// The smallest number of cases a published cell may hold, unless configured.
pub const DEFAULT_MIN_CELL: u32 = 5;
pub use crate::config::LOWEST_MIN_CELL;

/// A report's period: whole UTC days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// How long one report may cover.
pub const MAX_PERIOD_DAYS: i64 = 400;

/// The first moment covered by a report labelled from `period_start` that starts after
/// `after` (the cut-off of the report before it in the chain). The first report (`None`)
/// covers from the first moment of its `period_start`, which is on or before the fund's
/// first event, so it covers everything from that event on.
pub fn chain_start(after: Option<DateTime<Utc>>, period_start: NaiveDate) -> DateTime<Utc> {
    after.map_or(period_start.and_time(NaiveTime::MIN).and_utc(), |t| {
        t + Duration::microseconds(1)
    })
}

/// The `period_start` of the report that follows a report cut off at `cutoff`: the day the
/// cut-off falls on, or the next day when the cut-off ends its day.
pub fn next_start_day(cutoff: DateTime<Utc>) -> NaiveDate {
    (cutoff + Duration::microseconds(1)).date_naive()
}

impl Period {
    /// A period that has begun by `today` and is at most [`MAX_PERIOD_DAYS`] long.
    /// Refusals name the field to fix.
    pub fn new(
        start: NaiveDate,
        end: NaiveDate,
        today: NaiveDate,
    ) -> Result<Period, (&'static str, String)> {
        if end < start {
            return Err((
                "period_end",
                "is before period_start: give the last day of the period".into(),
            ));
        }
        if (end - start).num_days() >= MAX_PERIOD_DAYS {
            return Err((
                "period_end",
                format!("a report covers at most {MAX_PERIOD_DAYS} days: split the period"),
            ));
        }
        if start > today {
            return Err((
                "period_start",
                "is in the future: a report covers what has happened".into(),
            ));
        }
        Ok(Period { start, end })
    }

    pub fn starts_at(&self) -> DateTime<Utc> {
        self.start.and_time(NaiveTime::MIN).and_utc()
    }

    /// The last moment of the period (times are kept to the microsecond).
    pub fn ends_at(&self) -> DateTime<Utc> {
        (self.end + Duration::days(1))
            .and_time(NaiveTime::MIN)
            .and_utc()
            - Duration::microseconds(1)
    }

    /// What a report drafted at `now` covers: up to the end of the period, or up to `now`
    /// when the period has not ended yet.
    pub fn window(&self, now: DateTime<Utc>) -> Window {
        Window {
            start: self.starts_at(),
            cutoff: std::cmp::min(self.ends_at(), now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_period_ends_at_its_last_microsecond_or_now() {
        let p = Period::new(day("2026-11-01"), day("2026-11-30"), day("2026-12-02")).unwrap();
        let later = Utc.with_ymd_and_hms(2026, 12, 2, 0, 0, 0).unwrap();
        assert_eq!(
            crate::audit::canonical_time(p.window(later).cutoff),
            "2026-11-30T23:59:59.999999Z"
        );
        let during = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
        assert_eq!(p.window(during).cutoff, during);
    }

    #[test]
    fn the_next_report_starts_on_the_day_of_the_cutoff_or_the_next_one() {
        let p = Period::new(day("2026-11-01"), day("2026-11-30"), day("2026-12-02")).unwrap();
        let end = p.ends_at();
        assert_eq!(next_start_day(end), day("2026-12-01"));
        let midday = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
        assert_eq!(next_start_day(midday), day("2026-11-20"));
        let first = day("2026-12-01").and_time(NaiveTime::MIN).and_utc();
        assert_eq!(chain_start(Some(end), day("2026-11-30")), first);
        assert_eq!(chain_start(None, day("2026-12-01")), first);
    }

    #[test]
    fn periods_are_refused_backwards_too_long_or_in_the_future() {
        let today = day("2026-11-29");
        assert!(Period::new(day("2026-11-02"), day("2026-11-01"), today).is_err());
        assert!(Period::new(day("2025-01-01"), day("2026-11-01"), today).is_err());
        assert!(Period::new(day("2026-12-01"), day("2026-12-31"), today).is_err());
        assert!(Period::new(day("2026-11-01"), day("2026-11-30"), today).is_ok());
    }
}
