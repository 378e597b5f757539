//! Dates within reason. A date typed as year 1 or year 10000 is a slip of the keyboard or
//! a probe, never a bus ticket: each date a request, a receipt or a donation carries must
//! fall in the window its meaning allows, measured from the clock's today (UTC, which is
//! never behind any Canadian day).

use chrono::{Duration, Months, NaiveDate};

/// `needed_by` and `travel_date`: from one year back to one year ahead of `today`
/// (court travel is booked months ahead; a request is sometimes recorded after the trip).
pub fn within_a_year(date: NaiveDate, today: NaiveDate) -> Result<NaiveDate, String> {
    let first = today.checked_sub_months(Months::new(12)).unwrap_or(today);
    let last = today.checked_add_months(Months::new(12)).unwrap_or(today);
    if date < first || date > last {
        return Err(format!(
            "must be between {first} and {last} (a year either side of today): check the year"
        ));
    }
    Ok(date)
}

/// The first day a receipt for a request made at `requested_at` may say it was paid on:
/// the request's day where it was made, taken as the westernmost Canadian day (UTC−8), so
/// a caseworker in Vancouver paying at 20:00 for a request made at 19:00 is not refused.
pub fn request_day(requested_at: chrono::DateTime<chrono::Utc>) -> NaiveDate {
    (requested_at - Duration::hours(8)).date_naive()
}

/// A receipt's `paid_on`: not before the request was made, not after today.
pub fn paid_between(
    date: NaiveDate,
    first: NaiveDate,
    today: NaiveDate,
) -> Result<NaiveDate, String> {
    let first = first.min(today);
    if date < first || date > today {
        return Err(format!(
            "must be between {first} (the day the request was made) and {today} (today): the day it was paid"
        ));
    }
    Ok(date)
}

/// A donation's `received_on`: a day that has come.
pub fn not_after_today(date: NaiveDate, today: NaiveDate) -> Result<NaiveDate, String> {
    if date > today {
        return Err(format!(
            "must be {today} (today) or earlier: record a gift once it is received"
        ));
    }
    Ok(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_year_either_side_of_today() {
        let today = day("2026-11-29");
        assert!(within_a_year(day("2025-11-29"), today).is_ok());
        assert!(within_a_year(day("2027-11-29"), today).is_ok());
        for far in ["0001-01-01", "2025-11-28", "2027-11-30", "9999-12-31"] {
            let e = within_a_year(day(far), today).unwrap_err();
            assert!(e.contains("2025-11-29") && e.contains("2027-11-29"), "{e}");
        }
        // A leap day's year either side is the 28th.
        let leap = day("2028-02-29");
        assert!(within_a_year(day("2027-02-28"), leap).is_ok());
        assert!(within_a_year(day("2027-02-27"), leap).is_err());
    }

    #[test]
    fn paid_on_the_day_of_the_request_or_after() {
        let made = "2026-11-30T03:00:00Z".parse().unwrap();
        assert_eq!(request_day(made), day("2026-11-29"));
        let today = day("2026-11-30");
        assert!(paid_between(day("2026-11-29"), request_day(made), today).is_ok());
        assert!(paid_between(day("2026-11-28"), request_day(made), today).is_err());
        assert!(paid_between(day("2026-12-01"), request_day(made), today).is_err());
        assert!(not_after_today(day("2026-12-01"), today).is_err());
        assert!(not_after_today(day("0001-01-01"), today).is_ok());
    }
}
