//! The audit trail: every state change appends an event to a hash chain, in the same
//! transaction as the change.
//!
//! An event's hash is SHA-256 over a versioned, length-prefixed encoding of its fields
//! (see [`event_hash`]); each event carries the hash of the one before it, so changing,
//! removing or reordering any stored event breaks the chain at that event.

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::progress::Progress;
use crate::store::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

/// The hash a chain starts from: the `prev_hash` of event 1.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The encoding version; a new encoding gets a new number and old events keep theirs.
pub const ENCODING_VERSION: &str = "passage-audit-v1";

/// Every action the code writes into the trail. The audit page shows each in the
/// reader's language (`audit-action-` and the action with `-` for `.` in both
/// catalogues); `tests/web.rs` reads `src/` for the actions written and fails on one
/// missing here or from a catalogue.
pub const ACTIONS: &[&str] = &[
    "advance.returned",
    "bank.import",
    "bank.match",
    "bank.record",
    "bank.fee_proposed",
    "bank.reconcile",
    "bank.fee_refused",
    "bank.unmatch",
    "bank.layout_saved",
    "bank.layout_deleted",
    "case.open",
    "case.share",
    "case.unshare",
    "case.close",
    "case.reopen",
    "donation.record",
    "donation.import",
    "donor.add",
    "donor.links.withdraw",
    "donor.links.adopt",
    "donor.unsubscribe",
    "donor.resubscribe",
    "key.generate",
    "key.rotate",
    "key.retire",
    "ledger.transfer",
    "ledger.transfer_rejected",
    "org.create",
    "org.update",
    "org.payment",
    "payout.prepare",
    "payout.release",
    "payout.cancel",
    "payout.paid",
    "payout.line_paid",
    "payout.line_bounced",
    "policy.propose",
    "policy.apply",
    "policy.cosign",
    "report.draft",
    "report.seal",
    "report.cosign",
    "report.supersede",
    "report.remind",
    "report.send",
    "request.submit",
    "request.approve",
    "request.decline",
    "request.ask",
    "request.answer",
    "request.receipt",
    "request.cancel",
    "request.expire",
    "request.review",
    "request.flag",
    "request.unflag",
    "request.purge",
    "request.remind_receipt",
    "request.late_receipt",
    "request.late_receipt_decline",
    "reserve.create",
    "restricted.draw",
    "restricted.release",
    "session.end",
    "user.create",
    "user.deactivate",
    "user.reactivate",
    "user.roles",
    "user.on_call",
    "user.language",
    "user.password_changed",
    "user.password_reset_requested",
    "user.password_reset",
    "user.invited",
    "user.invitation_accepted",
    "user.second_factor_enrolled",
    "user.second_factor_reset",
    "user.second_factor_failed",
    "user.recovery_code_used",
    "vendor.add",
];

/// The catalogue key that names `action` in words (`request.late_receipt` →
/// `audit-action-request-late_receipt`).
pub fn action_key(action: &str) -> String {
    format!("audit-action-{}", action.replace('.', "-"))
}

/// Who made a change: `user:<id>`, `cli`, `system`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    pub fn system() -> Self {
        Actor("system".into())
    }
    pub fn cli() -> Self {
        Actor("cli".into())
    }
    /// Someone not signed in (asking for a password reset link).
    pub fn anonymous() -> Self {
        Actor("anonymous".into())
    }
}

/// An event as it is stored and hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Event {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub content: String,
    pub prev_hash: String,
    pub hash: String,
}

/// JSON with object keys sorted and no insignificant whitespace, so the same content
/// always hashes the same whatever order a map was built in.
pub fn canonical_json(value: &Value) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(v, out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(v, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// The time as it enters the hash: UTC, microseconds, `Z`.
pub fn canonical_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// SHA-256 over the encoding: for each field in order, its length in bytes as a
/// big-endian u64, then its UTF-8 bytes. Fields: the encoding version, the sequence
/// number in decimal, the time (see [`canonical_time`]), actor, action, subject, the
/// canonical content and the previous hash in lowercase hex. The length prefixes keep
/// ("ab","c") and ("a","bc") apart.
#[allow(clippy::too_many_arguments)]
pub fn event_hash(
    seq: i64,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    subject: &str,
    content: &str,
    prev_hash: &str,
) -> String {
    let mut hasher = Sha256::new();
    for field in [
        ENCODING_VERSION,
        &seq.to_string(),
        &canonical_time(at),
        actor,
        action,
        subject,
        content,
        prev_hash,
    ] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Appends an event inside `tx`. Taking the head row serialises writers, which is what
/// makes the sequence gap-free on both engines; it is done last so the lock is held for
/// as short a time as the commit allows.
pub async fn append(
    tx: &mut Tx,
    at: DateTime<Utc>,
    actor: &Actor,
    action: &str,
    subject: &str,
    content: &Value,
) -> Result<Event, StoreError> {
    let mut events = append_many(
        tx,
        at,
        &[NewEvent {
            actor,
            action,
            subject: subject.into(),
            content: content.clone(),
        }],
    )
    .await?;
    Ok(events.remove(0))
}

/// An event to append with [`append_many`].
pub struct NewEvent<'a> {
    pub actor: &'a Actor,
    pub action: &'a str,
    pub subject: String,
    pub content: Value,
}

/// Appends events in order, all at `at`, in two statements whatever their number: the
/// head gives up as many sequence numbers at once, and one insert writes the chain.
pub async fn append_many(
    tx: &mut Tx,
    at: DateTime<Utc>,
    new: &[NewEvent<'_>],
) -> Result<Vec<Event>, StoreError> {
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let count = i64::try_from(new.len()).expect("a batch of events fits in an i64");
    let (last_seq, mut prev_hash): (i64, String) = on_tx!(tx, c => sqlx::query_as(
        "UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash"
    )
    .bind(count)
    .fetch_one(c)
    .await)?;
    let mut events = Vec::with_capacity(new.len());
    for (seq, event) in (last_seq - count + 1..).zip(new) {
        let content = canonical_json(&event.content);
        let hash = event_hash(
            seq,
            at,
            &event.actor.0,
            event.action,
            &event.subject,
            &content,
            &prev_hash,
        );
        events.push(Event {
            seq,
            at,
            actor: event.actor.0.clone(),
            action: event.action.into(),
            subject: event.subject.clone(),
            content,
            prev_hash: std::mem::replace(&mut prev_hash, hash.clone()),
            hash,
        });
    }
    // The head's hash follows each row by trigger (migration 0012_audit_head_follows),
    // rows being inserted in the order they are listed.
    on_tx!(tx, c => {
        let mut insert = sqlx::QueryBuilder::new(
            "INSERT INTO audit_events (seq, at, actor, action, subject, content, prev_hash, hash) ",
        );
        insert.push_values(&events, |mut row, e| {
            row.push_bind(e.seq)
                .push_bind(e.at)
                .push_bind(&e.actor)
                .push_bind(&e.action)
                .push_bind(&e.subject)
                .push_bind(&e.content)
                .push_bind(&e.prev_hash)
                .push_bind(&e.hash);
        });
        insert.build().execute(c).await.map(|_| ())
    })?;
    Ok(events)
}

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub ok: bool,
    pub events: i64,
    pub head: String,
    /// The first broken link, when there is one.
    pub broken: Option<BrokenLink>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    pub seq: i64,
    pub problem: String,
}

/// Recomputes the whole chain from the stored events, one at a time (memory does not
/// grow with the chain), and names the first event where it breaks.
pub async fn verify(db: &Db) -> Result<Verification, StoreError> {
    verify_with_progress(db, &Progress::hidden()).await
}

/// [`verify`], telling `progress` how many events there are and each one checked (the
/// `passage audit verify` command shows it on a terminal).
pub async fn verify_with_progress(
    db: &Db,
    progress: &Progress,
) -> Result<Verification, StoreError> {
    let (head_seq, head_hash): (i64, String) = on_db!(db, p => sqlx::query_as(
        "SELECT seq, hash FROM audit_head WHERE id = 1"
    )
    .fetch_one(p)
    .await)?;
    progress.step("recomputing each event's hash");
    progress.set_total(u64::try_from(head_seq).unwrap_or(0));

    let mut expected_seq = 1_i64;
    let mut prev = GENESIS_HASH.to_string();
    let mut broken = None;
    let check = |event: &Event, expected_seq: i64, prev: &str| -> Option<BrokenLink> {
        if event.seq != expected_seq {
            return Some(BrokenLink {
                seq: expected_seq,
                problem: format!(
                    "event {expected_seq} is missing (the next stored event is {})",
                    event.seq
                ),
            });
        }
        if event.prev_hash != prev {
            return Some(BrokenLink {
                seq: event.seq,
                problem: format!(
                    "event {} does not point to the hash of event {}",
                    event.seq,
                    event.seq - 1
                ),
            });
        }
        let recomputed = event_hash(
            event.seq,
            event.at,
            &event.actor,
            &event.action,
            &event.subject,
            &event.content,
            &event.prev_hash,
        );
        (recomputed != event.hash).then(|| BrokenLink {
            seq: event.seq,
            problem: format!(
                "event {} was changed after it was written: its content no longer matches its hash",
                event.seq
            ),
        })
    };

    on_db!(db, p => {
        let mut rows = sqlx::query_as::<_, Event>(
            "SELECT seq, at, actor, action, subject, content, prev_hash, hash
             FROM audit_events ORDER BY seq",
        )
        .fetch(p);
        while let Some(event) = rows.try_next().await? {
            if let Some(link) = check(&event, expected_seq, &prev) {
                broken = Some(link);
                break;
            }
            prev = event.hash.clone();
            expected_seq += 1;
            progress.advance(1);
        }
    });
    progress.finish();
    let events = expected_seq - 1;

    if broken.is_none() && events < head_seq {
        broken = Some(BrokenLink {
            seq: events + 1,
            problem: format!(
                "the chain's head says {head_seq} events but {events} are stored: event {} onwards was removed",
                events + 1
            ),
        });
    } else if broken.is_none() && (events > head_seq || prev != head_hash) {
        broken = Some(BrokenLink {
            seq: head_seq + 1,
            problem: format!(
                "event {} onwards was written outside Passage: the chain's head ends at event {head_seq}",
                head_seq + 1
            ),
        });
    }
    Ok(Verification {
        ok: broken.is_none(),
        events,
        head: head_hash,
        broken,
    })
}

/// A page of the audit trail, newest first.
#[derive(Debug, Clone)]
pub struct EventPage {
    pub items: Vec<Event>,
    /// The cursor of the next (older) page: the last event's sequence number, when older
    /// events remain.
    pub next: Option<i64>,
}

/// The events of the trail, newest first: those of `action` only when it is given, older
/// than the event `after` when it is given (the cursor the page before ended on), at most
/// `limit` of them. Read in one snapshot (migration 0026 indexes `(action, seq)`).
pub async fn events(
    db: &Db,
    action: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> Result<EventPage, StoreError> {
    let limit = limit.max(1);
    let mut items = crate::read_tx!(db, |tx| -> Result<Vec<Event>, StoreError> async {
        Ok(on_tx!(tx, c => sqlx::query_as(
            "SELECT seq, at, actor, action, subject, content, prev_hash, hash FROM audit_events
             WHERE ($1 IS NULL OR action = $1) AND ($2 IS NULL OR seq < $2)
             ORDER BY seq DESC LIMIT $3",
        )
        .bind(action)
        .bind(after)
        .bind(limit + 1)
        .fetch_all(c)
        .await)?)
    })?;
    let more = i64::try_from(items.len()).unwrap_or(i64::MAX) > limit;
    items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(EventPage {
        next: if more {
            items.last().map(|e| e.seq)
        } else {
            None
        },
        items,
    })
}

/// The actions the trail holds, in order, to filter it by.
pub async fn actions(db: &Db) -> Result<Vec<String>, StoreError> {
    crate::read_tx!(db, |tx| -> Result<Vec<String>, StoreError> async {
        Ok(on_tx!(tx, c => sqlx::query_scalar(
            "SELECT DISTINCT action FROM audit_events ORDER BY action"
        )
        .fetch_all(c)
        .await)?)
    })
}
