//! Same-night notifications, written to the mail outbox in the same transaction as the
//! change they announce: an urgent request or a late receipt that waits goes to the on-call
//! treasurers at once and to every treasurer after `escalate_after_minutes`; the caseworker hears of a
//! treasurer's decision; treasurers hear once when the fund falls under its reserve floor.
//!
//! Who is told, when, and once is decided here; what they read is written by
//! [`crate::mail::compose`] from templates. Emails never carry a note, a city or a
//! question's text: a treasurer's email names the trip's provinces or countries, its date
//! and reason, the organisation and the caseworker, the rule's excess, the case's last 90
//! days, the fund now and after, and the approvals so far; a decline's email says who to
//! call back.

use chrono::{DateTime, Utc};

use super::FlowError;
use super::lifecycle::{Notice, RequestView, Stepped};
use crate::domain::{Language, RequestStatus, Role};
use crate::mail::compose::{
    ComposeError, Decision, Late, LateStep, LowBalance, Question, TripFacts, Urgent, Written,
};
use crate::mail::{self, OutgoingMail};
use crate::store::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
struct Recipient {
    id: String,
    email: String,
    language: String,
}

async fn treasurers(tx: &mut Tx, on_call_only: bool) -> Result<Vec<Recipient>, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_as::<_, Recipient>(
        "SELECT id, email, language FROM users
         WHERE active AND ($1 = FALSE OR on_call)
           AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = users.id AND r.role = $2)
         ORDER BY email",
    )
    .bind(on_call_only)
    .bind(Role::Treasurer)
    .fetch_all(c)
    .await)?)
}

/// The recipient's language (anything but French reads English, as before languages
/// were checked).
fn language(r: &Recipient) -> Language {
    r.language.parse().unwrap_or(Language::En)
}

fn link(base_url: &str, request: &RequestView) -> String {
    format!("{}/requests/{}", base_url.trim_end_matches('/'), request.id)
}

async fn send(
    tx: &mut Tx,
    now: DateTime<Utc>,
    to: &Recipient,
    key: String,
    written: Written,
) -> Result<(), StoreError> {
    mail::enqueue(
        tx,
        now,
        &OutgoingMail {
            to: to.email.clone(),
            subject: written.subject,
            text: written.text,
            html: Some(written.html),
            dedupe_key: key,
            headers: Vec::new(),
        },
    )
    .await
    .map(|_| ())
}

/// Writes to the outbox what a lifecycle step's notices tell, in the step's transaction:
/// committed with the change, or not at all.
pub async fn tell(
    tx: &mut Tx,
    now: DateTime<Utc>,
    base_url: &str,
    notices: &[Notice],
) -> Result<(), FlowError> {
    for notice in notices {
        match notice {
            Notice::Waiting { request } => urgent_pending(tx, now, base_url, request).await?,
            Notice::Decided { request } => decision(tx, now, base_url, request).await?,
            Notice::LateReceipt { request } => late_waiting(tx, now, base_url, request).await?,
            Notice::LateDecided { request } => late_decided(tx, now, base_url, request).await?,
            Notice::Asked { request } => asked(tx, now, base_url, request).await?,
            Notice::Answered { request } => answered(tx, now, base_url, request).await?,
            Notice::LowBalance {
                available_cents,
                floor_cents,
            } => low_balance(tx, now, *available_cents, *floor_cents).await?,
        }
    }
    Ok(())
}

/// A step's answer once its notices are written: the request as its actor reads it.
pub async fn after(
    tx: &mut Tx,
    now: DateTime<Utc>,
    base_url: &str,
    stepped: Stepped,
) -> Result<RequestView, FlowError> {
    tell(tx, now, base_url, &stepped.notices).await?;
    Ok(stepped.view)
}

/// An urgent request waits for a treasurer: tell those on call now (every treasurer when
/// nobody is on call), never the requester.
pub async fn urgent_pending(
    tx: &mut Tx,
    now: DateTime<Utc>,
    base_url: &str,
    request: &RequestView,
) -> Result<(), FlowError> {
    let mut told = treasurers(tx, true).await?;
    told.retain(|t| t.id != request.requested_by.id);
    if told.is_empty() {
        told = treasurers(tx, false).await?;
        told.retain(|t| t.id != request.requested_by.id);
    }
    let request = &weighed(tx, now, request).await?;
    send_each(tx, now, &told, "urgent", &request.id, |t| {
        waiting_message(t, base_url, request, false)
    })
    .await
}

/// Writes to each of `to` the mail `write` makes for them, under the dedupe key
/// `{kind}:{request_id}:{recipient}`: once each, however often a sweep or a retry asks.
async fn send_each(
    tx: &mut Tx,
    now: DateTime<Utc>,
    to: &[Recipient],
    kind: &str,
    request_id: &str,
    write: impl Fn(&Recipient) -> Result<Written, ComposeError>,
) -> Result<(), FlowError> {
    for t in to {
        let written = write(t)?;
        send(tx, now, t, format!("{kind}:{request_id}:{}", t.id), written).await?;
    }
    Ok(())
}

/// Why a request waits, in `language`: the rule's message, by its stable name (the
/// policy's own sentence, in English, only for a rule without one).
fn why_in(language: Language, r: &RequestView) -> String {
    let category = crate::i18n::text(language, &format!("category-{}", r.category));
    match super::RuleId::parse(&r.rule)
        .ok()
        .and_then(super::excess::message_key)
    {
        Some(key) => crate::i18n::text_with(language, key, &[("category", category)]),
        None => r.reason.clone().unwrap_or_default(),
    }
}

fn waiting_message(
    t: &Recipient,
    base_url: &str,
    r: &RequestView,
    escalated: bool,
) -> Result<Written, ComposeError> {
    let language = language(t);
    let category = crate::i18n::text(language, &format!("category-{}", r.category));
    Urgent {
        language,
        escalated,
        case_code: r.case_code.clone(),
        category: r.category.clone(),
        amount: r.amount.clone(),
        why: why_in(language, r),
        link: link(base_url, r),
        org: r.org.name.clone(),
        requester: r.requested_by.name.clone(),
        trip: r.trip.as_ref().map(|trip| TripFacts {
            from: trip.origin.region().to_string(),
            to: trip.destination.region().to_string(),
            travel_date: trip.travel_date.clone().unwrap_or_default(),
            reason: trip.reason.clone().unwrap_or_default(),
            scope: trip.scope.clone().unwrap_or_default(),
        }),
        stay: r
            .stay
            .as_ref()
            .map(|s| (s.nights, s.nightly_rate.clone(), s.party_size)),
        needed_by: r.needed_by.clone(),
        excess: r
            .excess
            .as_ref()
            .map(|e| crate::i18n::excess_line(language, e, &category))
            .unwrap_or_default(),
        case_days: r.history.as_ref().map(|history| {
            let given = history
                .iter()
                .filter(|h| matches!(h.status, RequestStatus::Approved | RequestStatus::Settled))
                .filter_map(|h| h.amount.parse::<crate::domain::Money>().ok())
                .map(|m| m.cents())
                .sum();
            (history.len(), crate::domain::money::format_cents(given))
        }),
        fund: r
            .fund
            .as_ref()
            .map(|f| (f.available.clone(), f.after.clone())),
        approvals: (r.approvals, r.approvals_needed),
        approved_by: r.approved_by.iter().map(|a| a.name.clone()).collect(),
    }
    .write()
}

/// A request as a treasurer weighs it (`lifecycle::weigh`): the approvals so far, by how
/// much it goes past its rule under the version that decided it, the case's 90 days, and
/// the fund now and after.
async fn weighed(
    tx: &mut Tx,
    now: DateTime<Utc>,
    request: &RequestView,
) -> Result<RequestView, FlowError> {
    let mut request = request.clone();
    let excess = request.excess.take();
    super::lifecycle::weigh(tx, now, &mut request).await?;
    if request.excess.is_none() {
        request.excess = excess;
    }
    Ok(request)
}

async fn user(tx: &mut Tx, id: &str) -> Result<Option<Recipient>, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_as::<_, Recipient>(
        "SELECT id, email, language FROM users WHERE id = $1 AND active"
    )
    .bind(id)
    .fetch_optional(c)
    .await)?)
}

fn question_message(
    to: &Recipient,
    base_url: &str,
    r: &RequestView,
    answered: bool,
) -> Result<Written, ComposeError> {
    Question {
        language: language(to),
        answered,
        case_code: r.case_code.clone(),
        category: r.category.clone(),
        amount: r.amount.clone(),
        link: link(base_url, r),
    }
    .write()
}

/// A treasurer asked a question: the caseworker who asked for the money hears of it, in
/// their language (the question itself stays on the page).
pub async fn asked(
    tx: &mut Tx,
    now: DateTime<Utc>,
    base_url: &str,
    request: &RequestView,
) -> Result<(), FlowError> {
    let Some(to) = user(tx, &request.requested_by.id).await? else {
        return Ok(());
    };
    let asked_at = request
        .question
        .as_ref()
        .map(|q| q.asked_at.timestamp_micros())
        .unwrap_or_default();
    let written = question_message(&to, base_url, request, false)?;
    send(
        tx,
        now,
        &to,
        format!("asked:{}:{asked_at}", request.id),
        written,
    )
    .await?;
    Ok(())
}

/// The caseworker answered: the treasurer who asked hears of it.
pub async fn answered(
    tx: &mut Tx,
    now: DateTime<Utc>,
    base_url: &str,
    request: &RequestView,
) -> Result<(), FlowError> {
    let Some(question) = &request.question else {
        return Ok(());
    };
    let Some(to) = user(tx, &question.asked_by.id).await? else {
        return Ok(());
    };
    let written = question_message(&to, base_url, request, true)?;
    send(
        tx,
        now,
        &to,
        format!(
            "answered:{}:{}",
            request.id,
            question.asked_at.timestamp_micros()
        ),
        written,
    )
    .await?;
    Ok(())
}

/// Tells the requester what a treasurer decided.
pub async fn decision(
    tx: &mut Tx,
    now: DateTime<Utc>,
    base_url: &str,
    request: &RequestView,
) -> Result<(), FlowError> {
    let to: Option<Recipient> = on_tx!(tx, c => sqlx::query_as::<_, Recipient>(
        "SELECT id, email, language FROM users WHERE id = $1 AND active"
    )
    .bind(&request.requested_by.id)
    .fetch_optional(c)
    .await)?;
    let Some(to) = to else { return Ok(()) };
    let written = Decision {
        language: language(&to),
        approved: request.status == RequestStatus::Approved,
        case_code: request.case_code.clone(),
        category: request.category.clone(),
        amount: request.amount.clone(),
        reason: request.reason.clone().unwrap_or_default(),
        reason_code: request.reason_code.map(|c| c.as_str().to_string()),
        call_back: request
            .decided_by
            .as_ref()
            .filter(|_| request.status == RequestStatus::Declined)
            .map(|who| (who.name.clone(), who.email.clone())),
        link: link(base_url, request),
    }
    .write()?;
    send(
        tx,
        now,
        &to,
        format!("decision:{}:{}", request.id, request.status),
        written,
    )
    .await?;
    Ok(())
}

/// The treasurers who may decide on a late receipt: those on call (`on_call_only`; every
/// treasurer when nobody is on call), never whoever asked or entered it.
async fn late_deciders(
    tx: &mut Tx,
    request: &RequestView,
    on_call_only: bool,
) -> Result<Vec<Recipient>, FlowError> {
    let entered_by = super::lifecycle::late::entered_by(tx, &request.id).await?;
    let left_out = |t: &Recipient| {
        t.id == request.requested_by.id || Some(t.id.as_str()) == entered_by.as_deref()
    };
    let mut told = treasurers(tx, on_call_only).await?;
    told.retain(|t| !left_out(t));
    if told.is_empty() && on_call_only {
        told = treasurers(tx, false).await?;
        told.retain(|t| !left_out(t));
    }
    Ok(told)
}

/// A late receipt waits: the treasurers on call are told as for an urgent request (every
/// treasurer when nobody is on call), never whoever asked or entered it.
async fn late_waiting(
    tx: &mut Tx,
    now: DateTime<Utc>,
    base_url: &str,
    request: &RequestView,
) -> Result<(), FlowError> {
    let told = late_deciders(tx, request, true).await?;
    send_each(tx, now, &told, "late", &request.id, |t| {
        late_fields(t, base_url, request, LateStep::Waiting).write()
    })
    .await
}

/// A treasurer decided on a late receipt: whoever asked, and whoever entered the receipt,
/// hear of it.
async fn late_decided(
    tx: &mut Tx,
    now: DateTime<Utc>,
    base_url: &str,
    request: &RequestView,
) -> Result<(), FlowError> {
    let to: Vec<Recipient> = on_tx!(tx, c => sqlx::query_as::<_, Recipient>(
        "SELECT id, email, language FROM users
         WHERE active AND (id = $1 OR id = (SELECT late_receipt_by FROM requests WHERE id = $2))
         ORDER BY email",
    )
    .bind(&request.requested_by.id)
    .bind(&request.id)
    .fetch_all(c)
    .await)?;
    let step = if request.status == RequestStatus::Settled {
        LateStep::Approved
    } else {
        LateStep::Declined
    };
    for t in &to {
        // A declined late receipt's amount is gone (`spent` is emptied): the request's is said.
        let written = late_fields(t, base_url, request, step).write()?;
        send(
            tx,
            now,
            t,
            format!("late-decision:{}:{}:{}", request.id, request.status, t.id),
            written,
        )
        .await?;
    }
    Ok(())
}

fn late_fields(to: &Recipient, base_url: &str, r: &RequestView, step: LateStep) -> Late {
    Late {
        language: language(to),
        step,
        case_code: r.case_code.clone(),
        category: r.category.clone(),
        amount: r.spent.clone().unwrap_or_else(|| r.amount.clone()),
        expires_in: String::new(),
        reason: r.reason.clone().unwrap_or_default(),
        call_back: r
            .decided_by
            .as_ref()
            .filter(|_| step == LateStep::Declined)
            .map(|who| {
                crate::i18n::text_with(
                    language(to),
                    "request-call-back",
                    &[("who", who.name.clone()), ("email", who.email.clone())],
                )
            })
            .unwrap_or_default(),
        link: link(base_url, r),
    }
}

/// How long before a hold expires its organisation is reminded of the missing receipt.
pub const HOLD_REMINDER_BEFORE: chrono::Duration = chrono::Duration::hours(12);

#[derive(Debug, Clone, sqlx::FromRow)]
struct Expiring {
    id: String,
    org_id: String,
    case_code: String,
    category: String,
    amount: i64,
    expires_at: DateTime<Utc>,
}

/// Holds that expire within [`HOLD_REMINDER_BEFORE`] without a receipt: their
/// organisation's caseworkers are reminded, once. The reminder is claimed by the update that
/// stamps `hold_reminded_at`, in the transaction that writes its mail, so a restart or a
/// second instance never sends it twice.
pub async fn remind_holds_due(
    db: &Db,
    now: DateTime<Utc>,
    base_url: &str,
) -> Result<usize, FlowError> {
    let due: Vec<String> = on_db!(db, p => sqlx::query_scalar(
        "SELECT r.id FROM requests r JOIN transfers t ON t.id = r.hold_id
         WHERE r.status = $1 AND r.hold_reminded_at IS NULL
           AND t.expires_at > $2 AND t.expires_at <= $3
         ORDER BY t.expires_at, r.id",
    )
    .bind(RequestStatus::Approved)
    .bind(now)
    .bind(now + HOLD_REMINDER_BEFORE)
    .fetch_all(p)
    .await)?;
    let mut reminded = 0;
    for id in due {
        let done = crate::write_tx!(db, |tx| -> Result<bool, FlowError> async {
            remind_hold(tx, now, base_url, &id).await
        })?;
        if done {
            reminded += 1;
        }
    }
    Ok(reminded)
}

async fn remind_hold(
    tx: &mut Tx,
    now: DateTime<Utc>,
    base_url: &str,
    id: &str,
) -> Result<bool, FlowError> {
    let claimed = on_tx!(tx, c => sqlx::query(
        "UPDATE requests SET hold_reminded_at = $2
         WHERE id = $1 AND status = $3 AND hold_reminded_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .bind(RequestStatus::Approved)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if claimed == 0 {
        return Ok(false);
    }
    let hold: Expiring = on_tx!(tx, c => sqlx::query_as::<_, Expiring>(
        "SELECT r.id, r.org_id, r.case_code, r.category, r.amount, t.expires_at
         FROM requests r JOIN transfers t ON t.id = r.hold_id WHERE r.id = $1",
    )
    .bind(id)
    .fetch_one(c)
    .await)?;
    let caseworkers: Vec<Recipient> = on_tx!(tx, c => sqlx::query_as::<_, Recipient>(
        "SELECT id, email, language FROM users
         WHERE active AND org_id = $1
           AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = users.id AND r.role = $2)
         ORDER BY email",
    )
    .bind(&hold.org_id)
    .bind(Role::Caseworker)
    .fetch_all(c)
    .await)?;
    for t in &caseworkers {
        let lang = language(t);
        let written = Late {
            language: lang,
            step: LateStep::Reminder,
            case_code: hold.case_code.clone(),
            category: hold.category.clone(),
            amount: crate::domain::money::format_cents(hold.amount),
            expires_in: crate::i18n::waited(lang, (hold.expires_at - now).num_seconds()),
            reason: String::new(),
            call_back: String::new(),
            link: format!("{}/requests/{}", base_url.trim_end_matches('/'), hold.id),
        }
        .write()?;
        send(
            tx,
            now,
            t,
            format!("hold-reminder:{}:{}", hold.id, t.id),
            written,
        )
        .await?;
    }
    crate::audit::append(
        tx,
        now,
        &crate::audit::Actor::system(),
        "request.remind_receipt",
        &format!("request:{id}"),
        &serde_json::json!({"caseworkers": caseworkers.len()}),
    )
    .await?;
    Ok(true)
}

/// Checks what automatic decisions can use against the reserve floor after a change made
/// outside a request's step (an operation reserve set aside), and tells treasurers once
/// when it crossed under.
pub async fn low_balance_now(tx: &mut Tx, now: DateTime<Utc>) -> Result<(), FlowError> {
    let usable = super::lifecycle::usable_cents(tx, now).await?;
    let floor = super::versions::current(tx, now)
        .await?
        .policy
        .reserve_floor_cents();
    low_balance(tx, now, usable, floor).await
}

/// Urgent requests and late receipts still waiting after `escalate_after` (counted from
/// the request, or from the late receipt): every treasurer is told, once.
pub async fn escalate_due(db: &Db, now: DateTime<Utc>, base_url: &str) -> Result<usize, FlowError> {
    let policy = super::versions::in_force(db, now).await?;
    let since = now - policy.policy.escalate_after();
    let due: Vec<String> = on_db!(db, p => sqlx::query_scalar(&format!(
        "SELECT r.id FROM requests r WHERE {WAITED_TOO_LONG} ORDER BY r.created_at"
    ))
    .bind(since)
    .bind(RequestStatus::Pending)
    .bind(RequestStatus::ReceiptPending)
    .fetch_all(p)
    .await)?;
    let mut escalated = 0;
    for id in due {
        let done = crate::write_tx!(db, |tx| -> Result<bool, FlowError> async {
            escalate_one(tx, now, base_url, &id).await
        })?;
        if done {
            escalated += 1;
        }
    }
    Ok(escalated)
}

/// What escalates, on `requests r`: not escalated yet, and an urgent request pending since
/// before `$1` (status `$2`) or a late receipt waiting since before it (status `$3`).
const WAITED_TOO_LONG: &str = "r.escalated_at IS NULL
    AND ((r.status = $2 AND r.urgent AND r.created_at <= $1)
         OR (r.status = $3 AND r.late_receipt_at <= $1))";

async fn escalate_one(
    tx: &mut Tx,
    now: DateTime<Utc>,
    base_url: &str,
    id: &str,
) -> Result<bool, FlowError> {
    let policy = super::versions::current(tx, now).await?;
    let since = now - policy.policy.escalate_after();
    let marked = on_tx!(tx, c => sqlx::query(&format!(
        "UPDATE requests SET escalated_at = $4 WHERE id = $5 AND id IN (
             SELECT r.id FROM requests r WHERE r.id = $5 AND {WAITED_TOO_LONG})"
    ))
    .bind(since)
    .bind(RequestStatus::Pending)
    .bind(RequestStatus::ReceiptPending)
    .bind(now)
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if marked == 0 {
        return Ok(false);
    }
    let request = super::lifecycle::view_of(tx, id, policy.policy.dual_approval_above())
        .await?
        .ok_or_else(|| FlowError::NotFound("the request vanished".into()))?;
    if request.status.is_receipt_pending() {
        let told = late_deciders(tx, &request, false).await?;
        send_each(tx, now, &told, "late-escalate", &request.id, |t| {
            late_fields(t, base_url, &request, LateStep::Escalated).write()
        })
        .await?;
        return Ok(true);
    }
    let request = weighed(tx, now, &request).await?;
    let mut told = treasurers(tx, false).await?;
    told.retain(|t| t.id != request.requested_by.id);
    send_each(tx, now, &told, "escalate", &request.id, |t| {
        waiting_message(t, base_url, &request, true)
    })
    .await?;
    Ok(true)
}

/// Tells every treasurer once when available money crosses under the reserve floor, and
/// re-arms the alert when it is back above.
pub async fn low_balance(
    tx: &mut Tx,
    now: DateTime<Utc>,
    available: i64,
    floor: i64,
) -> Result<(), FlowError> {
    let below = available < floor;
    let active: Option<bool> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT active FROM alerts WHERE kind = 'low_balance'"
    )
    .fetch_optional(c)
    .await)?;
    if active.unwrap_or(false) == below {
        return Ok(());
    }
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO alerts (kind, active, changed_at) VALUES ('low_balance', $1, $2)
         ON CONFLICT (kind) DO UPDATE SET active = $1, changed_at = $2",
    )
    .bind(below)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    if !below {
        return Ok(());
    }
    for t in treasurers(tx, false).await? {
        let written = LowBalance {
            language: language(&t),
            available_cents: available,
            floor_cents: floor,
        }
        .write()?;
        send(
            tx,
            now,
            &t,
            format!("low-balance:{}:{}", now.timestamp_micros(), t.id),
            written,
        )
        .await?;
    }
    Ok(())
}

/// Who was told by mail that a request waits for them, and when: the caseworker's answer
/// page shows it, so nobody at 23:40 wonders whether anyone knows.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Told {
    pub display_name: Option<String>,
    pub email: String,
    pub at: DateTime<Utc>,
    /// True for a reminder sent because nobody had decided in time.
    pub escalated: bool,
}

pub async fn told(db: &Db, request_id: &str) -> Result<Vec<Told>, StoreError> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT u.display_name, u.email, o.created_at AS at,
                o.dedupe_key LIKE 'escalate:%' AS escalated
         FROM outbox o JOIN users u
           ON o.dedupe_key = 'urgent:' || $1 || ':' || u.id
           OR o.dedupe_key = 'escalate:' || $1 || ':' || u.id
         ORDER BY o.created_at, u.email",
    )
    .bind(request_id)
    .fetch_all(p)
    .await)?)
}
