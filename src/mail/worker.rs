//! One delivery round: claim due rows, send them, mark each sent or failed.
//!
//! # Never twice, never lost
//! A row is claimed in a short write transaction that sets a lease (`claimed_until`,
//! [`LEASE`]) and a token; the SMTP conversation happens outside any transaction; right
//! after the server accepts the message the row is marked sent (only if the token still
//! holds it). Another deliverer, on this instance or another, skips a row under a lease
//! (`FOR UPDATE SKIP LOCKED` while claiming on PostgreSQL, `BEGIN IMMEDIATE` on SQLite),
//! and a send times out ([`super::transport::SMTP_TIMEOUT`]) long before the lease ends.
//! A failure increments `attempts`, keeps the error and schedules the next attempt
//! ([`backoff`]); no row is ever deleted.
//!
//! **The one unavoidable window**: if the process dies after the SMTP server has
//! accepted a message and before the row is marked sent, the lease runs out and the
//! message is sent again. No protocol closes this window: SMTP has no two-phase commit.
//! The copy carries the same `Message-ID` (fixed at enqueue time), so mail clients and
//! servers that deduplicate on it (Gmail, many IMAP clients, procmail/sieve rules)
//! show it once.

use chrono::{DateTime, Duration, Utc};

use super::outbox::{self, Claimed};
use super::{MailError, Mailer};
use crate::store::Db;
use crate::write_tx;

/// How long a claim lasts. A crashed deliverer's rows are taken again after it.
pub const LEASE: Duration = Duration::minutes(10);

/// How many rows one round claims at most.
pub const BATCH: i64 = 20;

/// The wait before the next attempt after `attempts` failed ones: 30 s, 1 min, 2 min,
/// ... doubling, at most one hour, so a long outage is retried hourly, never given up.
pub fn backoff(attempts: i64) -> Duration {
    let cap = Duration::hours(1);
    if attempts <= 0 {
        return Duration::seconds(30);
    }
    // 30 s × 2^7 = 64 min is past the cap already.
    let exp = attempts.clamp(1, 8) - 1;
    std::cmp::min(Duration::seconds(30 * (1_i64 << exp)), cap)
}

/// Sends the mail that is due at `now` and returns how many messages went out. A
/// failed send is recorded on its row (attempts, error, next attempt) and is not an
/// error of this function, which fails only when the database does.
pub async fn deliver_due(db: &Db, mailer: &Mailer, now: DateTime<Utc>) -> Result<usize, MailError> {
    deliver_due_with_lease(db, mailer, now, LEASE).await
}

/// [`deliver_due`] with claims that last `lease` (`PASSAGE_MAIL_LEASE_SECS`) instead of
/// [`LEASE`]: rows a crashed deliverer claimed go out again once it has run out.
pub async fn deliver_due_with_lease(
    db: &Db,
    mailer: &Mailer,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<usize, MailError> {
    let token = uuid::Uuid::new_v4().simple().to_string();
    let lease_until = now + lease;
    let claimed: Vec<Claimed> = write_tx!(db, |tx| -> Result<Vec<Claimed>, MailError> async {
        Ok(outbox::claim(tx, now, lease_until, &token, BATCH).await?)
    })?;
    let mut sent = 0;
    // A row is only sent while its claim surely outlasts the conversation: past that,
    // the rest of the round is handed back rather than risk a second deliverer taking a
    // row this one is still sending.
    let started = std::time::Instant::now();
    let lease = lease.to_std().unwrap_or_default();
    for (i, row) in claimed.iter().enumerate() {
        if started.elapsed() + super::transport::SMTP_TIMEOUT >= lease {
            for left in &claimed[i..] {
                outbox::release(db, &left.id, &token).await?;
            }
            break;
        }
        match mailer.send(row, now).await {
            Ok(()) => {
                // The window described above is between the send and this update.
                if outbox::mark_sent(db, &row.id, &token, now).await? {
                    sent += 1;
                } else {
                    tracing::warn!(
                        message_id = %row.message_id,
                        "a mail was sent after its claim ran out; it may arrive twice"
                    );
                }
            }
            Err(error) => {
                let error = scrub(&error);
                let attempts = row.attempts + 1;
                let next = now + backoff(attempts);
                tracing::warn!(
                    message_id = %row.message_id,
                    attempts,
                    next_attempt_at = %next,
                    error = %error,
                    "could not send a mail; it stays in the outbox"
                );
                outbox::mark_failed(db, &row.id, &token, &error, next).await?;
            }
        }
    }
    Ok(sent)
}

/// An error fit for a log line and the outbox row: a server's answer may quote the
/// recipient (`550 <x@example.org>: no such user`), so addresses are masked, and the
/// length is bounded.
fn scrub(error: &str) -> String {
    static ADDRESS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        // A fixed pattern that is known to compile.
        regex::Regex::new(r#"[^\s<>@,;:"']+@[^\s<>,;:"']+"#).expect("a valid pattern")
    });
    ADDRESS
        .replace_all(error, "(address)")
        .chars()
        .take(500)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_no_address() {
        let e = scrub("SMTP: permanent error (550): <caseworker@example.org>: no such user");
        assert_eq!(e, "SMTP: permanent error (550): <(address)>: no such user");
        assert!(scrub(&"x".repeat(2000)).len() <= 500);
    }

    #[test]
    fn backoff_doubles_from_thirty_seconds_up_to_an_hour() {
        assert_eq!(backoff(1), Duration::seconds(30));
        assert_eq!(backoff(2), Duration::seconds(60));
        assert_eq!(backoff(3), Duration::seconds(120));
        assert_eq!(backoff(7), Duration::seconds(1920));
        assert_eq!(backoff(8), Duration::hours(1));
        assert_eq!(backoff(1000), Duration::hours(1));
        assert_eq!(backoff(0), Duration::seconds(30));
    }
}
