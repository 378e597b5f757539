//! The outbox table: every query here runs the same on SQLite and PostgreSQL.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::OutgoingMail;
use crate::store::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

/// Adds `mail` to the outbox inside the caller's transaction, so it is sent if and only
/// if that transaction commits. Returns `false` when a mail with the same `dedupe_key`
/// is already there (it is kept as it was; the new one is dropped).
pub async fn enqueue(
    tx: &mut Tx,
    now: DateTime<Utc>,
    mail: &OutgoingMail,
) -> Result<bool, StoreError> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    // Fixed once, sent with every attempt: a receiver that gets the message twice (see
    // the window in worker.rs) sees the same Message-ID and can drop the copy.
    let message_id = format!("<{id}@passage.invalid>");
    let headers = (!mail.headers.is_empty())
        .then(|| serde_json::to_string(&mail.headers).unwrap_or_default());
    let inserted = on_tx!(tx, c => sqlx::query(
        "INSERT INTO outbox (id, dedupe_key, message_id, to_addr, subject, body_text,
                             body_html, created_at, next_attempt_at, headers)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)
         ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(&id)
    .bind(&mail.dedupe_key)
    .bind(&message_id)
    .bind(&mail.to)
    .bind(&mail.subject)
    .bind(&mail.text)
    .bind(&mail.html)
    .bind(now)
    .bind(headers)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(inserted == 1)
}

/// Empties the bodies of mail sent at or before `sent_before`, in the caller's
/// transaction: a decline's reason, a link, whatever the text said is not kept once the
/// retention period has passed. The row stays with its headers (recipient, subject,
/// Message-ID, extra headers) and its dedupe key, so the same mail is still never sent
/// twice. Returns how many bodies were emptied.
pub async fn purge_sent_bodies(tx: &mut Tx, sent_before: DateTime<Utc>) -> Result<u64, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query(
        "UPDATE outbox SET body_text = '', body_html = NULL
         WHERE sent_at IS NOT NULL AND sent_at <= $1
           AND (body_text <> '' OR body_html IS NOT NULL)",
    )
    .bind(sent_before)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?)
}

/// How many mails wait to be sent (due or backing off).
pub async fn pending_count(db: &Db) -> Result<i64, StoreError> {
    let n = on_db!(db, p => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL",
    )
    .fetch_one(p)
    .await)?;
    Ok(n)
}

/// A row of the outbox as operators and tests see it: no address, no body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub dedupe_key: String,
    pub message_id: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// Every outbox row, oldest first.
pub async fn entries(db: &Db) -> Result<Vec<OutboxEntry>, StoreError> {
    let rows = on_db!(db, p => sqlx::query(
        "SELECT dedupe_key, message_id, attempts, last_error, next_attempt_at, sent_at
         FROM outbox ORDER BY created_at, id",
    )
    .fetch_all(p)
    .await
    .and_then(|rows| rows.iter().map(|r| Ok(OutboxEntry {
        dedupe_key: r.try_get(0)?,
        message_id: r.try_get(1)?,
        attempts: r.try_get(2)?,
        last_error: r.try_get(3)?,
        next_attempt_at: r.try_get(4)?,
        sent_at: r.try_get(5)?,
    })).collect::<Result<Vec<_>, sqlx::Error>>()))?;
    Ok(rows)
}

/// A row a deliverer has claimed, with what it needs to send it.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    pub id: String,
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub attempts: i64,
    pub headers: Vec<(String, String)>,
}

/// Claims up to `limit` due rows for `lease_until`, marked with `token`, in the caller's
/// write transaction. On PostgreSQL rows another deliverer is claiming right now are
/// skipped (`SKIP LOCKED`), not waited for; on SQLite the write transaction already
/// holds the database. A row claimed by someone else whose lease has not run out is
/// never taken.
pub(crate) async fn claim(
    tx: &mut Tx,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    token: &str,
    limit: i64,
) -> Result<Vec<Claimed>, StoreError> {
    let sql = format!(
        "UPDATE outbox SET claimed_until = $2, claim_token = $3
         WHERE id IN (
             SELECT id FROM outbox
             WHERE sent_at IS NULL AND next_attempt_at <= $1
               AND (claimed_until IS NULL OR claimed_until <= $1)
             ORDER BY next_attempt_at, id
             LIMIT $4{})
         RETURNING id, message_id, to_addr, subject, body_text, body_html, attempts, headers",
        tx.lock_rows_skip_locked()
    );
    let mut claimed = on_tx!(tx, c => sqlx::query(&sql)
        .bind(now)
        .bind(lease_until)
        .bind(token)
        .bind(limit)
        .fetch_all(c)
        .await
        .and_then(|rows| rows.iter().map(|r| Ok(Claimed {
            id: r.try_get(0)?,
            message_id: r.try_get(1)?,
            to: r.try_get(2)?,
            subject: r.try_get(3)?,
            text: r.try_get(4)?,
            html: r.try_get(5)?,
            attempts: r.try_get(6)?,
            headers: r
                .try_get::<Option<String>, _>(7)?
                .and_then(|h| serde_json::from_str(&h).ok())
                .unwrap_or_default(),
        })).collect::<Result<Vec<_>, sqlx::Error>>()))?;
    // RETURNING gives no order; send oldest first.
    claimed.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(claimed)
}

/// Marks a claimed row sent. Returns whether this deliverer still held it.
pub(crate) async fn mark_sent(
    db: &Db,
    id: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_db!(db, p => sqlx::query(
        "UPDATE outbox SET sent_at = $3, claimed_until = NULL, last_error = NULL
         WHERE id = $1 AND claim_token = $2 AND sent_at IS NULL",
    )
    .bind(id)
    .bind(token)
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Records a failed attempt and when to try again; the row stays in the outbox.
pub(crate) async fn mark_failed(
    db: &Db,
    id: &str,
    token: &str,
    error: &str,
    next_attempt_at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = on_db!(db, p => sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $3, next_attempt_at = $4,
                           claimed_until = NULL
         WHERE id = $1 AND claim_token = $2 AND sent_at IS NULL",
    )
    .bind(id)
    .bind(token)
    .bind(error)
    .bind(next_attempt_at)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Hands a claimed row back unsent, for the next round (of any deliverer).
pub(crate) async fn release(db: &Db, id: &str, token: &str) -> Result<(), StoreError> {
    on_db!(db, p => sqlx::query(
        "UPDATE outbox SET claimed_until = NULL WHERE id = $1 AND claim_token = $2 AND sent_at IS NULL",
    )
    .bind(id)
    .bind(token)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}
