//! Sign-in throttling, kept in the database so that every instance sees the same counts.
//!
//! Each attempt is admitted or refused before its password is checked. An admitted
//! attempt is written at once under `email:<address>` and `ip:<address>` as if it had
//! failed, and removed if it succeeds: parallel guesses therefore count as they arrive and
//! cannot slip past the limit while their passwords are being checked. Admission is
//! ordered by one lock row (SQLite's `BEGIN IMMEDIATE` orders it already).
//!
//! Once a scope has its limit of failures within the window, further attempts are refused
//! (429) until the oldest of them leaves the window; refused attempts are not counted, so
//! a lock-out ends on its own. Each failure also answers more slowly the more failures
//! came before it. A successful sign-in clears its email's failures, not its address's:
//! one good account must not reset an address that is guessing at others.

use chrono::{DateTime, Duration, Utc};

use crate::config::Config;
use crate::store::Db;
use crate::store::StoreError;
use crate::{on_tx, write_tx};

/// A scope and the number of failures it may have within the window.
#[derive(Debug, Clone)]
pub struct Scope {
    pub key: String,
    pub limit: u32,
}

/// The email's scope first, then the address's.
pub fn scopes(config: &Config, email: &str, ip: &str) -> Vec<Scope> {
    vec![
        Scope {
            key: format!("email:{}", email.trim().to_lowercase()),
            limit: config.login_max_failures,
        },
        Scope {
            key: format!("ip:{ip}"),
            limit: config.login_ip_max_failures,
        },
    ]
}

pub fn window(config: &Config) -> Duration {
    Duration::seconds(config.login_window_secs as i64)
}

/// What the throttle says about an attempt about to be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead. `attempt` names the rows written for it; `failures` is the most failures
    /// any scope counted before it.
    Admitted { attempt: String, failures: u32 },
    /// Refused for this many more seconds.
    Refused { retry_after_secs: u64 },
}

/// Admits the attempt (recording it as a failure until [`succeeded`] says otherwise) or
/// refuses it.
pub async fn admit(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
    scopes: &[Scope],
) -> Result<Verdict, StoreError> {
    let since = now - window(config);
    let attempt = uuid::Uuid::new_v4().to_string();
    write_tx!(db, |tx| -> Result<Verdict, StoreError> async {
        on_tx!(tx, c => sqlx::query("UPDATE login_throttle_lock SET id = 1 WHERE id = 1")
            .execute(c)
            .await
            .map(|_| ()))?;
        let mut most = 0;
        let mut refused_until: Option<DateTime<Utc>> = None;
        for scope in scopes {
            on_tx!(tx, c => sqlx::query("DELETE FROM login_failures WHERE scope = $1 AND at <= $2")
                .bind(&scope.key)
                .bind(since)
                .execute(c)
                .await
                .map(|_| ()))?;
            let times: Vec<DateTime<Utc>> = on_tx!(tx, c => sqlx::query_scalar(
                "SELECT at FROM login_failures WHERE scope = $1 AND at > $2 ORDER BY at LIMIT $3"
            )
            .bind(&scope.key)
            .bind(since)
            .bind(i64::from(scope.limit))
            .fetch_all(c)
            .await)?;
            let count = times.len() as u32;
            if count >= scope.limit {
                // The oldest failure in the window leaves it first, freeing one attempt.
                let until = times[0] + window(config);
                refused_until = Some(refused_until.map_or(until, |u| u.max(until)));
            }
            most = most.max(count);
        }
        if let Some(until) = refused_until {
            let millis = (until - now).num_milliseconds().max(0) as u64;
            return Ok(Verdict::Refused {
                retry_after_secs: millis.div_ceil(1000).max(1),
            });
        }
        for scope in scopes {
            on_tx!(tx, c => sqlx::query(
                "INSERT INTO login_failures (scope, attempt, at) VALUES ($1, $2, $3)"
            )
            .bind(&scope.key)
            .bind(&attempt)
            .bind(now)
            .execute(c)
            .await
            .map(|_| ()))?;
        }
        Ok(Verdict::Admitted {
            attempt: attempt.clone(),
            failures: most,
        })
    })
}

/// The attempt succeeded: it is not a failure, and its email starts afresh.
pub async fn succeeded(db: &Db, attempt: &str, email_scope: &Scope) -> Result<(), StoreError> {
    write_tx!(db, |tx| -> Result<(), StoreError> async {
        on_tx!(tx, c => sqlx::query("DELETE FROM login_failures WHERE attempt = $1 OR scope = $2")
            .bind(attempt)
            .bind(&email_scope.key)
            .execute(c)
            .await
            .map(|_| ()))?;
        Ok(())
    })
}

/// How long a failed attempt waits before answering, given the failures before it.
pub fn failure_delay(config: &Config, failures_before: u32) -> std::time::Duration {
    let steps = u64::from(failures_before.min(config.login_max_failures));
    std::time::Duration::from_millis(config.login_failure_delay_ms.saturating_mul(steps + 1))
}
