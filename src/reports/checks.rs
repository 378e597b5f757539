//! The last verification of each sealed report, for the donors' pages: a page shows the
//! last result and when it was checked, and never waits for a check of the books (which
//! reads the report's whole window). A check runs again in the background, one at a time
//! per report, once the last one is [`RECHECK_EVERY`] old, or [`RECHECK_AFTER_CHANGE`] old
//! when the fund's books have changed since (a new audit event). A direct edit of the
//! database writes no audit event, so it is caught by the periodic check: within
//! [`RECHECK_EVERY`] of a visit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use super::lifecycle;
use crate::approval::FlowError;
use crate::clock::SharedClock;
use crate::on_db;
use crate::store::{Db, StoreError};

/// How old a check may be before a visit starts the next one.
pub const RECHECK_EVERY: Duration = Duration::minutes(5);
/// How old a check may be before a visit starts the next one, when the books changed.
pub const RECHECK_AFTER_CHANGE: Duration = Duration::minutes(1);

/// What the last check of a report found, and when it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    pub matches: bool,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    checked: Checked,
    /// The audit chain's last event when the check started.
    books: i64,
    running: bool,
}

/// The checks of one instance (see the module's documentation).
#[derive(Debug, Default)]
pub struct Checks {
    last: Mutex<HashMap<String, Entry>>,
}

/// The audit chain's last event number: any change to the books through Passage writes one.
async fn books_version(db: &Db) -> Result<i64, StoreError> {
    let seq: Option<i64> = on_db!(db, p => sqlx::query_scalar("SELECT MAX(seq) FROM audit_events")
        .fetch_one(p)
        .await)?;
    Ok(seq.unwrap_or(0))
}

impl Checks {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The last check of sealed report `id`: the first visit checks it at once; later
    /// ones answer with the last result and, when it is due, start the next check in the
    /// background.
    pub async fn last(
        self: &Arc<Self>,
        db: &Db,
        clock: &SharedClock,
        id: &str,
    ) -> Result<Checked, FlowError> {
        let now = clock.now();
        let books = books_version(db).await?;
        let known = self.lock().get(id).copied();
        let Some(entry) = known else {
            let matches = lifecycle::verify(db, id).await?.matches;
            let checked = Checked { matches, at: now };
            self.lock().insert(
                id.to_string(),
                Entry {
                    checked,
                    books,
                    running: false,
                },
            );
            return Ok(checked);
        };
        let age = now - entry.checked.at;
        let due = age >= RECHECK_EVERY || (books != entry.books && age >= RECHECK_AFTER_CHANGE);
        if due && !entry.running {
            let started = {
                let mut last = self.lock();
                match last.get_mut(id) {
                    Some(e) if !e.running => {
                        e.running = true;
                        true
                    }
                    _ => false,
                }
            };
            if started {
                let (checks, db, id) = (Arc::clone(self), db.clone(), id.to_string());
                tokio::spawn(async move {
                    let outcome = lifecycle::verify(&db, &id).await;
                    let mut last = checks.lock();
                    if let Some(e) = last.get_mut(&id) {
                        e.running = false;
                        match outcome {
                            Ok(v) => {
                                e.checked = Checked {
                                    matches: v.matches,
                                    at: now,
                                };
                                e.books = books;
                            }
                            Err(error) => {
                                tracing::warn!(report = %id, %error, "re-verifying a report failed; the last check stands");
                            }
                        }
                    }
                });
            }
        }
        Ok(entry.checked)
    }
}
