//! Sessions: one row per sign-in, named by its token's `jti`. A token whose session was
//! ended (signed out, ended from the sessions page, by an admin, or idle on the pages) is
//! refused from the next request on, because every request reads its row
//! ([`super::users::find_with_revocation`]).
//!
//! **Last seen.** Every authenticated request records its moment in [`Activity`], an
//! in-memory map (one mutex insert, no I/O); a background task ([`Activity::flush`], every
//! minute, and once more on shutdown) writes the map out in one transaction and empties it.
//! So a session's `last_seen` is written at most once a minute, and a read never waits
//! for the writer's turn on its account: a write per request would take SQLite's write
//! lock (or a row lock on PostgreSQL) on the read path, and queueing one to the group
//! commit would still make every read a job of the writer. What the map holds is read
//! back by the idle check on this instance ([`Activity::last_seen`]); other instances see it
//! in the row within a minute.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::IdentityError;
use crate::audit::{self, Actor};
use crate::store::{Db, StoreError, Tx};
use crate::{on_tx, read_tx, write_tx};

/// Where a sign-in came from: the browser or program in plain words, and the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub device: String,
    pub address: String,
}

impl Origin {
    pub fn new(user_agent: Option<&str>, address: &str) -> Origin {
        Origin {
            device: device_from_user_agent(user_agent.unwrap_or_default()),
            address: address.chars().take(64).collect(),
        }
    }

    /// For tokens signed without a request (the CLI, tests).
    pub fn unknown() -> Origin {
        Origin {
            device: "unknown device".into(),
            address: "unknown".into(),
        }
    }
}

/// A user agent in plain words ("Firefox on Android", "curl"): enough for a person to
/// recognise their own phone in a list, nothing more (the raw string is not kept: it is
/// long, and a fingerprint).
pub fn device_from_user_agent(ua: &str) -> String {
    let has = |s: &str| ua.contains(s);
    let browser = if has("Edg/") {
        Some("Edge")
    } else if has("OPR/") || has("Opera") {
        Some("Opera")
    } else if has("Firefox/") || has("FxiOS/") {
        Some("Firefox")
    } else if has("Chrome/") || has("CriOS/") || has("Chromium/") {
        Some("Chrome")
    } else if has("Safari/") {
        Some("Safari")
    } else {
        None
    };
    let system = if has("iPhone") {
        Some("iPhone")
    } else if has("iPad") {
        Some("iPad")
    } else if has("Android") {
        Some("Android")
    } else if has("Windows") {
        Some("Windows")
    } else if has("Mac OS X") || has("Macintosh") {
        Some("macOS")
    } else if has("CrOS") {
        Some("ChromeOS")
    } else if has("Linux") {
        Some("Linux")
    } else {
        None
    };
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => format!("a browser on {s}"),
        (None, None) => {
            // A program: its name, before the version ("curl/8.5" → "curl").
            let name: String = ua
                .split(['/', ' '])
                .next()
                .unwrap_or_default()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .take(32)
                .collect();
            if name.is_empty() {
                "unknown device".into()
            } else {
                name
            }
        }
    }
}

/// Stores the session of a token just signed.
pub async fn create(
    tx: &mut Tx,
    id: &str,
    user_id: &str,
    origin: &Origin,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    // Sessions that expired anyway go on the way.
    on_tx!(tx, c => sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))?;
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO sessions (id, user_id, device, address, first_seen, last_seen, expires_at)
         VALUES ($1, $2, $3, $4, $5, $5, $6)"
    )
    .bind(id)
    .bind(user_id)
    .bind(&origin.device)
    .bind(&origin.address)
    .bind(now)
    .bind(expires_at)
    .execute(c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// A session as its user sees it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionLine {
    pub id: String,
    pub device: String,
    pub address: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// The user's sessions that still open something: not ended, not expired, not from
/// before the account's last password reset or reactivation. Newest first.
pub async fn list(
    db: &Db,
    activity: &Activity,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<SessionLine>, StoreError> {
    let mut lines: Vec<SessionLine> = read_tx!(db, |tx| -> Result<Vec<SessionLine>, StoreError> async {
        Ok(on_tx!(tx, c => sqlx::query_as(
            "SELECT s.id, s.device, s.address, s.first_seen, s.last_seen
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.user_id = $1 AND s.ended_at IS NULL AND s.expires_at > $2
               AND (u.tokens_not_before IS NULL OR s.first_seen >= u.tokens_not_before)
               AND NOT EXISTS (SELECT 1 FROM revoked_tokens t WHERE t.jti = s.id)
             ORDER BY s.first_seen DESC, s.id"
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(c)
        .await)?)
    })?;
    for line in &mut lines {
        if let Some(seen) = activity.last_seen(&line.id) {
            line.last_seen = line.last_seen.max(seen);
        }
    }
    Ok(lines)
}

/// Why a session ended, in its audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Its user ended it from another session.
    ByUser,
    /// An admin ended it.
    ByAdmin,
    /// Nothing happened on the pages for longer than `PASSAGE_IDLE_MINUTES`.
    Idle,
    /// The account's password was reset from an emailed link: whoever held a session
    /// may be the reason it was reset.
    PasswordReset,
}

impl Ending {
    fn as_str(self) -> &'static str {
        match self {
            Ending::ByUser => "by_user",
            Ending::ByAdmin => "by_admin",
            Ending::Idle => "idle",
            Ending::PasswordReset => "password_reset",
        }
    }
}

/// Ends `user_id`'s sessions: the one named `only`, or every one but `keep`. Answers how
/// many ended, and appends one `session.end` event when any did (never a token).
pub async fn end(
    db: &Db,
    now: DateTime<Utc>,
    actor: &Actor,
    user_id: &str,
    only: Option<&str>,
    keep: Option<&str>,
    why: Ending,
) -> Result<u64, IdentityError> {
    write_tx!(db, |tx| -> Result<u64, IdentityError> async {
        end_in(tx, now, actor, user_id, only, keep, why).await
    })
}

/// [`end`] inside a transaction of the caller's, so that ending the sessions commits with
/// what ends them (a password reset).
pub async fn end_in(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    user_id: &str,
    only: Option<&str>,
    keep: Option<&str>,
    why: Ending,
) -> Result<u64, IdentityError> {
    let ended = on_tx!(tx, c => sqlx::query(
        "UPDATE sessions SET ended_at = $1
         WHERE user_id = $2 AND ended_at IS NULL AND expires_at > $1
           AND ($3 IS NULL OR id = $3) AND ($4 IS NULL OR id <> $4)"
    )
    .bind(now)
    .bind(user_id)
    .bind(only)
    .bind(keep)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
    .map_err(StoreError::from)?;
    if ended > 0 {
        audit::append(
            tx,
            now,
            actor,
            "session.end",
            &format!("user:{user_id}"),
            &json!({"sessions": ended, "why": why.as_str()}),
        )
        .await?;
    }
    Ok(ended)
}

/// The last moments sessions were seen on this instance, not yet written out.
#[derive(Debug, Default)]
pub struct Activity {
    seen: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl Activity {
    /// Records that session `id` was used at `now`. No I/O: a mutex held for one insert.
    pub fn touch(&self, id: &str, now: DateTime<Utc>) {
        // A poisoned map only loses last-seen times: keep going with what it holds.
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        match seen.get_mut(id) {
            Some(at) => *at = (*at).max(now),
            None => {
                seen.insert(id.to_string(), now);
            }
        }
    }

    /// When session `id` was last seen here since the last flush.
    pub fn last_seen(&self, id: &str) -> Option<DateTime<Utc>> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .copied()
    }

    /// Writes every recorded moment out (one transaction, one statement per session,
    /// never moving a `last_seen` back) and empties the map. Answers how many were written.
    pub async fn flush(&self, db: &Db) -> Result<usize, StoreError> {
        let seen: Vec<(String, DateTime<Utc>)> = {
            let mut map = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            map.drain().collect()
        };
        if seen.is_empty() {
            return Ok(0);
        }
        let written = write_tx!(db, |tx| -> Result<usize, StoreError> async {
            for (id, at) in &seen {
                on_tx!(tx, c => sqlx::query(
                    "UPDATE sessions SET last_seen = $1 WHERE id = $2 AND last_seen < $1"
                )
                .bind(*at)
                .bind(id)
                .execute(c)
                .await
                .map(|_| ()))?;
            }
            Ok(seen.len())
        });
        if written.is_err() {
            // Put them back for the next flush (newer moments recorded since win).
            for (id, at) in &seen {
                self.touch(id, *at);
            }
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::device_from_user_agent as device;

    #[test]
    fn a_user_agent_becomes_plain_words() {
        assert_eq!(
            device(
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"
            ),
            "Chrome on Android"
        );
        assert_eq!(
            device(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
            ),
            "Safari on iPhone"
        );
        assert_eq!(
            device(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
            ),
            "Firefox on Windows"
        );
        assert_eq!(device("curl/8.5.0"), "curl");
        assert_eq!(device(""), "unknown device");
    }
}
