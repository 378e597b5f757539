//! Submissions decided together: the [`crate::store::group`] writer hands each batch of
//! same-night submissions here first. What the batch's decisions share is read once (the
//! policy, the fund under its lock, the cases, their rolling windows, which keys were
//! already answered) and what they write goes in one statement per table, so a batch costs
//! about fifteen round trips instead of twenty a request.
//!
//! The decision itself is [`decide`], the same pure function the one-by-one path calls,
//! fed the same figures: the fund's available money less each approval taken before it in
//! the batch, and the case's window plus its earlier approvals. Only the plain case is
//! written here; anything else is handed back to the request's own job, which runs after in
//! the same transaction with the one-by-one code: a replayed or reused key, a case that is
//! missing, closed, shared or another organisation's, an urgent request that waits for a
//! treasurer (its mail), a hotel stay that does not add up, or a hold the ledger would
//! refuse. When any restricted gift still holds money or any operation reserve is active,
//! the whole batch goes one by one: those attributions are the one-by-one path's alone.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::lifecycle::{self, NewRequest, RequestRow, hold_for};
use super::{Decision, FlowError, FundState, Proposal, decide, versions};
use crate::audit::{self, Actor};
use crate::cases::{self, Case, Staff};
use crate::idempotency;
use crate::ledger;
use crate::on_tx;
use crate::store::Tx;

/// The route a submission's stored answer is kept under, and the status it answers with.
pub const ROUTE: &str = "POST /api/v1/requests";
pub const CREATED: u16 = 201;

/// A submission as the group writer carries it: who asks, what, and under which key.
/// Shared (behind an `Arc`) by the stage and the submission's own job.
pub struct Submission {
    pub staff: Staff,
    pub new: NewRequest,
    pub key: String,
    pub body_hash: String,
}

/// One slot per entry of the batch: the answer of each submission written here, `None`
/// for each to be made by its own job.
pub type Answers = Vec<Option<Result<(u16, Value), FlowError>>>;

/// A submission decided here, waiting to be written.
struct Decided<'a> {
    slot: usize,
    submission: &'a Submission,
    case: &'a Case,
    id: String,
    amount: crate::domain::Money,
    decision: Decision,
}

pub async fn submit_together(
    tx: &mut Tx,
    now: DateTime<Utc>,
    batch: Vec<Option<&Arc<Submission>>>,
) -> Result<Answers, FlowError> {
    let mut answers: Answers = batch.iter().map(|_| None).collect();

    // Keys: one already answered, or twice in this batch, is its job's to replay.
    let keys: Vec<(&str, &str)> = batch
        .iter()
        .flatten()
        .map(|s| (s.staff.user_id.as_str(), s.key.as_str()))
        .collect();
    let answered = idempotency::answered(tx, &keys).await?;
    let mut seen = HashSet::new();
    let fresh: Vec<(usize, &Submission)> = batch
        .iter()
        .enumerate()
        .filter_map(|(slot, s)| s.map(|s| (slot, &**s)))
        .filter(|(_, s)| {
            let key = (s.staff.user_id.clone(), s.key.clone());
            !answered.contains(&key) && seen.insert(key)
        })
        .collect();
    if fresh.is_empty() {
        return Ok(answers);
    }

    // The same order of locks as one submission's: its case, then the fund.
    let mut codes: Vec<&str> = fresh
        .iter()
        .map(|(_, s)| s.new.case_code.as_str())
        .collect();
    codes.sort_unstable();
    codes.dedup();
    let cases: HashMap<String, Case> = cases::lock_many(tx, &codes)
        .await?
        .into_iter()
        .map(|case| (case.code.clone(), case))
        .collect();
    let policy = versions::current(tx, now).await?;
    let mut available = ledger::lock_fund_available(tx).await?;
    if attributed_elsewhere(tx, now).await? {
        return Ok(answers);
    }
    let since = now - policy.policy.case_auto_cap().window();
    let mut windows = lifecycle::case_windows_cents(tx, &codes, since).await?;

    let mut decided = Vec::with_capacity(fresh.len());
    for (slot, submission) in fresh {
        let (staff, new) = (&submission.staff, &submission.new);
        let Some(case) = cases.get(new.case_code.as_str()) else {
            continue;
        };
        let plainly_theirs = staff.treasurer
            || (staff.caseworker && staff.org_id.as_deref() == Some(case.org_id.as_str()));
        if case.status != "open" || !plainly_theirs {
            continue;
        }
        let window = windows.get(&case.code).copied().unwrap_or(0);
        let proposal = match new.hotel {
            Some(stay) => Proposal::hotel(stay, window),
            None => match Proposal::new(new.category, new.amount, window) {
                Ok(proposal) => proposal,
                Err(_) => continue,
            },
        };
        let decision = decide(
            &policy.policy,
            &proposal,
            &FundState {
                available_cents: available,
            },
        );
        let amount = proposal.amount();
        match &decision {
            Decision::Approve { .. } if amount.cents() > available => continue,
            Decision::Approve { .. } => {
                available -= amount.cents();
                *windows.entry(case.code.clone()).or_insert(0) += amount.cents();
            }
            Decision::Pending { .. } if new.urgent => continue,
            Decision::Pending { .. } | Decision::Decline { .. } => {}
        }
        decided.push(Decided {
            slot,
            submission,
            case,
            id: uuid::Uuid::new_v4().to_string(),
            amount,
            decision,
        });
    }
    if decided.is_empty() {
        return Ok(answers);
    }

    let actors: Vec<Actor> = decided.iter().map(|d| d.submission.staff.actor()).collect();
    let expires_at = now + policy.policy.hold_duration();
    let holds: Vec<(&Actor, ledger::NewTransfer)> = decided
        .iter()
        .zip(&actors)
        .filter(|(d, _)| matches!(d.decision, Decision::Approve { .. }))
        .map(|(d, actor)| (actor, hold_for(&d.id, d.amount, expires_at)))
        .collect();
    let Some(placed) = ledger::place_holds(tx, now, &holds).await? else {
        return Ok(answers);
    };
    let mut hold_ids = placed.into_iter().map(|t| t.id);
    let rows: Vec<RequestRow> = decided
        .iter()
        .map(|d| {
            let hold_id = match d.decision {
                Decision::Approve { .. } => hold_ids.next(),
                _ => None,
            };
            RequestRow {
                id: &d.id,
                case: d.case,
                requested_by: &d.submission.staff.user_id,
                by_treasurer: d.submission.staff.treasurer,
                new: &d.submission.new,
                amount: d.amount,
                decision: &d.decision,
                policy_version: policy.version,
                hold_id,
                now,
            }
        })
        .collect();
    lifecycle::insert_requests(tx, &rows).await?;
    let events: Vec<_> = rows
        .iter()
        .zip(&actors)
        .map(|(row, actor)| row.event(actor))
        .collect();
    audit::append_many(tx, now, &events).await?;

    let ids: Vec<String> = decided.iter().map(|d| d.id.clone()).collect();
    let views = lifecycle::views_of_many(tx, &ids, policy.policy.dual_approval_above()).await?;
    if !holds.is_empty() {
        super::notify::low_balance(tx, now, available, policy.policy.reserve_floor_cents()).await?;
    }
    let bodies: Vec<Value> = views.into_iter().map(|view| json!(view)).collect();
    let stored: Vec<idempotency::Answer> = decided
        .iter()
        .zip(&bodies)
        .map(|(d, body)| idempotency::Answer {
            user_id: &d.submission.staff.user_id,
            key: &d.submission.key,
            hash: &d.submission.body_hash,
            response: body,
        })
        .collect();
    idempotency::remember_many(tx, now, ROUTE, CREATED, &stored).await?;
    for (d, body) in decided.iter().zip(bodies) {
        answers[d.slot] = Some(Ok((CREATED, body)));
    }
    Ok(answers)
}

/// Whether any money is attributed apart from the fund's plain balance: a restricted gift
/// with money left, or an operation reserve not yet expired.
async fn attributed_elsewhere(tx: &mut Tx, now: DateTime<Utc>) -> Result<bool, FlowError> {
    let (gifts, reserves): (i64, i64) = on_tx!(tx, c => sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM donations WHERE restricted_remaining > 0),
                (SELECT COUNT(*) FROM reserves WHERE expires_at > $1)"
    )
    .bind(now)
    .fetch_one(c)
    .await)?;
    Ok(gifts > 0 || reserves > 0)
}
