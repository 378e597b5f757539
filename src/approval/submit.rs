//! The one path a new request takes: [`submit`] decides a batch of submissions (a single
//! request is a batch of one) in the caller's transaction.
//!
//! What the batch shares is read once: its cases (locked, in code order), who they are
//! shared with (only when someone asks for a case that is not plainly theirs), the policy,
//! the fund's available money under its lock, the restricted gifts and the operation
//! reserves still holding money, and the cases' rolling windows. The pure [`decide`] is
//! then folded over the submissions in order, on a running [`Fold`] of those figures, so
//! each decision sees the fund, the gifts, the reserves and its case's window as the ones
//! before it in the batch left them, exactly as if they had come one after the other.
//! What the decisions write goes in one statement per table.
//!
//! A submission that cannot be made (a case that is missing, closed or not the asker's,
//! a hotel stay without its stay) is answered with its error and writes nothing; the
//! others go on. Notifications are not sent here: [`Decided::notices`] says what to tell,
//! and the caller hands them to the mail module in the same transaction.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::error::{FlowError, invalid};
use super::lifecycle::{self, NewRequest, Notice, RequestRow, RequestView, hold_for};
use super::{Decision, FundState, Proposal, RuleId, decide, versions};
use crate::audit::{self, Actor};
use crate::cases::{self, Case, Staff};
use crate::funding::reserves;
use crate::funding::restricted::{self, Attribution, Pool};
use crate::ledger;
use crate::store::Tx;

/// Who asks, and what.
#[derive(Debug, Clone)]
pub struct Submission {
    pub staff: Staff,
    pub new: NewRequest,
}

/// The answer to each submission of a batch, in its order, and what to tell.
#[derive(Debug)]
pub struct Decided {
    pub answers: Vec<Result<RequestView, FlowError>>,
    pub notices: Vec<Notice>,
}

/// An operation reserve still holding money, as the fold tracks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reserve {
    pub id: String,
    pub org_id: String,
    pub created_by: String,
    pub remaining_cents: i64,
}

/// The figures each decision of a batch reads, as the decisions before it left them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    /// The fund's available money (neither held nor spent).
    pub available_cents: i64,
    /// Restricted gifts with money left, oldest first.
    pub pools: Vec<Pool>,
    /// Active reserves, soonest to expire first.
    pub reserves: Vec<Reserve>,
    /// What each case has spent or holds within the rolling window.
    pub windows: HashMap<String, i64>,
}

/// One decision of the fold and what it takes from the figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub decision: Decision,
    /// The reserve that answered, when one did.
    pub reserve: Option<String>,
    /// The restricted money attributed to the request, gift by gift.
    pub draws: Vec<Attribution>,
    /// The money the decision could use for it (what `decide` read as available).
    pub open_cents: i64,
}

impl Fold {
    /// What active reserves still hold.
    fn outstanding(&self) -> i64 {
        self.reserves.iter().map(|r| r.remaining_cents).sum()
    }

    /// Decides one proposal of `case_org`'s case for `requester`, and takes what an
    /// approval holds from the figures. The organisation's operation reserve answers
    /// first (never one the requester set aside); everyone else's decision sees the fund
    /// without what gifts restricted to other categories and active reserves hold.
    pub fn step(
        &mut self,
        policy: &super::Policy,
        case_code: &str,
        case_org: &str,
        requester: &str,
        proposal: &Proposal,
    ) -> Step {
        let amount = proposal.amount().cents();
        let category = proposal.category();
        let open_to_it = self.available_cents - restricted::closed_to_in(&self.pools, category);
        let reserve = self
            .reserves
            .iter()
            .position(|r| {
                r.org_id == case_org && r.remaining_cents >= amount && r.created_by != requester
            })
            .filter(|_| amount <= open_to_it);
        let open_cents = open_to_it - self.outstanding();
        let decision = match reserve {
            Some(_) => Decision::Approve {
                rule: RuleId::OperationReserve,
            },
            None => decide(
                policy,
                proposal,
                &FundState {
                    available_cents: open_cents,
                },
            ),
        };
        if !matches!(decision, Decision::Approve { .. }) {
            return Step {
                decision,
                reserve: None,
                draws: Vec::new(),
                open_cents,
            };
        }
        self.available_cents -= amount;
        *self.windows.entry(case_code.to_string()).or_insert(0) += amount;
        let reserve = reserve.map(|i| {
            self.reserves[i].remaining_cents -= amount;
            self.reserves[i].id.clone()
        });
        let draws = restricted::attribute(&mut self.pools, category, amount);
        Step {
            decision,
            reserve,
            draws,
            open_cents,
        }
    }
}

/// The same answer for another organisation's case as for a closed one's code would give
/// a caseworker nothing to probe with; a closed case of one's own is told plainly.
fn closed() -> FlowError {
    FlowError::Conflict("this case is closed: reopen it from its page before asking".into())
}

/// A submission that passed its checks, waiting for its writes.
struct Made<'a> {
    slot: usize,
    submission: &'a Submission,
    case: &'a Case,
    id: String,
    amount: crate::domain::Money,
    /// What the case had within its window when this one was decided.
    window: i64,
    step: Step,
}

/// Decides and writes a batch of submissions in `tx`; see the module's documentation.
pub async fn submit(
    tx: &mut Tx,
    now: DateTime<Utc>,
    batch: &[&Submission],
) -> Result<Decided, FlowError> {
    let mut answers: Vec<Option<Result<RequestView, FlowError>>> =
        batch.iter().map(|_| None).collect();
    let mut notices = Vec::new();
    if batch.is_empty() {
        return Ok(Decided {
            answers: Vec::new(),
            notices,
        });
    }

    // The same order of locks for every batch: its cases, then the fund.
    let mut codes: Vec<&str> = batch.iter().map(|s| s.new.case_code.as_str()).collect();
    codes.sort_unstable();
    codes.dedup();
    let cases: HashMap<String, Case> = cases::lock_many(tx, &codes)
        .await?
        .into_iter()
        .map(|case| (case.code.clone(), case))
        .collect();
    let plainly_theirs = |s: &Submission| {
        cases
            .get(s.new.case_code.as_str())
            .is_none_or(|case| cases::access(&s.staff, &case.org_id, false) == cases::Access::Owns)
    };
    let shares: HashSet<(String, String)> = if batch.iter().all(|s| plainly_theirs(s)) {
        HashSet::new()
    } else {
        cases::shares_of(tx, &codes).await?
    };
    let policy = versions::current(tx, now).await?;
    let available_cents = ledger::lock_fund_available(tx).await?;
    let (pools, reserves) = earmarks(tx, now).await?;
    let since = now - policy.policy.case_auto_cap().window();
    let windows = lifecycle::case_windows_cents(tx, &codes, since).await?;
    let mut fold = Fold {
        available_cents,
        pools,
        reserves,
        windows,
    };

    let mut made = Vec::with_capacity(batch.len());
    for (slot, submission) in batch.iter().enumerate() {
        let (staff, new) = (&submission.staff, &submission.new);
        let case = match cases.get(new.case_code.as_str()) {
            None => Err(cases::refusal(staff, false).into()),
            Some(case) => {
                let shared = staff
                    .org_id
                    .as_ref()
                    .is_some_and(|org| shares.contains(&(case.code.clone(), org.clone())));
                match cases::access(staff, &case.org_id, shared) {
                    cases::Access::None => Err(cases::refusal(staff, true).into()),
                    _ if !case.status.is_open() => Err(closed()),
                    _ => Ok(case),
                }
            }
        };
        let case = match case {
            Ok(case) => case,
            Err(e) => {
                answers[slot] = Some(Err(e));
                continue;
            }
        };
        let window = fold.windows.get(&case.code).copied().unwrap_or(0);
        let proposal = match new.hotel {
            Some(stay) => Proposal::hotel(stay, window),
            None => match Proposal::new(new.category, new.amount, window) {
                Ok(proposal) => proposal,
                Err(e) => {
                    answers[slot] = Some(Err(invalid("nights", e)));
                    continue;
                }
            },
        };
        let step = fold.step(
            &policy.policy,
            &case.code,
            &case.org_id,
            &staff.user_id,
            &proposal,
        );
        made.push(Made {
            slot,
            submission,
            case,
            id: uuid::Uuid::new_v4().to_string(),
            amount: proposal.amount(),
            window,
            step,
        });
    }

    let approved = |m: &&Made| matches!(m.step.decision, Decision::Approve { .. });
    let actors: Vec<Actor> = made.iter().map(|m| m.submission.staff.actor()).collect();
    let expires_at = now + policy.policy.hold_duration();
    let holds: Vec<(&Actor, ledger::NewTransfer)> = made
        .iter()
        .zip(&actors)
        .filter(|(m, _)| approved(m))
        .map(|(m, actor)| (actor, hold_for(&m.id, m.amount, expires_at)))
        .collect();
    let placed = ledger::place_holds(tx, now, &holds).await?.map_err(|r| {
        FlowError::Conflict(format!(
            "the ledger refused the hold: {}: ask again",
            r.as_str()
        ))
    })?;
    let mut placed = placed.into_iter().map(|t| (t.id, t.expires_at));
    let rows: Vec<RequestRow> = made
        .iter()
        .map(|m| RequestRow {
            id: &m.id,
            case: m.case,
            requested_by: &m.submission.staff.user_id,
            by_treasurer: m.submission.staff.treasurer,
            new: &m.submission.new,
            amount: m.amount,
            decision: &m.step.decision,
            policy_version: policy.version,
            hold: approved(&m).then(|| placed.next()).flatten(),
            reserve_id: m.step.reserve.clone(),
            window_cents: m.window,
            open_cents: m.step.open_cents,
            now,
        })
        .collect();
    let dual_above = policy.policy.dual_approval_above();
    let views = lifecycle::insert_requests(tx, &rows, dual_above).await?;

    let draws: Vec<(&str, &Attribution)> = made
        .iter()
        .flat_map(|m| m.step.draws.iter().map(|d| (m.id.as_str(), d)))
        .collect();
    restricted::record_draws(tx, &draws).await?;
    let drawn: Vec<(&str, i64)> = made
        .iter()
        .filter_map(|m| m.step.reserve.as_deref().map(|r| (r, m.amount.cents())))
        .collect();
    reserves::draw_many(tx, &drawn).await?;
    let mut events = Vec::with_capacity(made.len() * 2);
    for ((m, row), actor) in made.iter().zip(&rows).zip(&actors) {
        if let Some(event) = restricted::draw_event(actor, &m.id, &m.step.draws) {
            events.push(event);
        }
        events.push(row.event(actor));
    }
    audit::append_many(tx, now, &events).await?;

    for (m, view) in made.iter().zip(views) {
        if matches!(m.step.decision, Decision::Pending { .. }) && m.submission.new.urgent {
            notices.push(Notice::Waiting {
                request: view.clone(),
            });
        }
        answers[m.slot] = Some(Ok(view));
    }
    if !holds.is_empty() {
        notices.push(Notice::LowBalance {
            available_cents: fold.available_cents - fold.outstanding(),
            floor_cents: policy.policy.reserve_floor_cents(),
        });
    }
    Ok(Decided {
        answers: answers
            .into_iter()
            .map(|a| a.unwrap_or_else(|| Err(FlowError::Conflict("not decided".into()))))
            .collect(),
        notices,
    })
}

/// The restricted gifts and the active reserves still holding money, in one statement.
async fn earmarks(tx: &mut Tx, now: DateTime<Utc>) -> Result<(Vec<Pool>, Vec<Reserve>), FlowError> {
    let rows: Vec<(i64, DateTime<Utc>, String, String, i64, String)> = crate::on_tx!(tx, c => sqlx::query_as(
        "SELECT CAST(0 AS BIGINT) AS source, created_at AS at, id, restricted_to AS scope,
                CAST(restricted_remaining AS BIGINT) AS cents, '' AS created_by
         FROM donations WHERE restricted_remaining > 0
         UNION ALL
         SELECT CAST(1 AS BIGINT), expires_at, id, org_id, CAST(amount - drawn AS BIGINT),
                created_by
         FROM reserves WHERE expires_at > $1
         ORDER BY 1, 2, 3"
    )
    .bind(now)
    .fetch_all(c)
    .await)?;
    let (mut pools, mut reserves) = (Vec::new(), Vec::new());
    for (source, _, id, scope, cents, created_by) in rows {
        if source == 0 {
            pools.push(Pool {
                id,
                restricted_to: scope,
                restricted_remaining: cents,
            });
        } else {
            reserves.push(Reserve {
                id,
                org_id: scope,
                created_by,
                remaining_cents: cents,
            });
        }
    }
    Ok((pools, reserves))
}
