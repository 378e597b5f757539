//! Random sequences of donations, holds, posts, voids, expiries and retries, and of the
//! payouts' transfers (a receipt reimbursed or drawn from an advance, an advance paid
//! out, a replenishment, a debt paid, a payment reversed, an advance's excess returned, a
//! replenishment given back) and of the bank statement's (a bank fee out of available,
//! interest into it; a gift found on the statement is a donation and a bounce a payment
//! reversed), keep the ledger's invariants and the fund's two identities, on both engines.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{TestDb, night};
use passage::audit::Actor;
use passage::ledger::figures::{
    BANK_OWED, FEES, OTHER_INCOME, advance_of, owed_to_org, to_replenish_of,
};
use passage::ledger::{
    self, DONATIONS, FUND, LedgerError, NewTransfer, Outcome, SPENT, TransferSpec, sweep_expired,
    transfer,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Donate(i64),
    Hold {
        amount: i64,
        hours: i64,
    },
    Post {
        hold: usize,
        amount: Option<i64>,
    },
    Void {
        hold: usize,
    },
    PassTime {
        hours: i64,
    },
    Retry {
        earlier: usize,
    },
    ConflictingRetry {
        earlier: usize,
    },
    /// A receipt the organisation paid: the fund owes it what the hold posted.
    Reimburse {
        hold: usize,
        org: usize,
    },
    /// A receipt paid from the organisation's advance.
    Draw {
        hold: usize,
        org: usize,
    },
    Advance {
        org: usize,
        amount: i64,
    },
    Replenish {
        org: usize,
    },
    Pay {
        org: usize,
    },
    /// A payment (a debt paid, an advance, a replenishment) comes back.
    Reverse {
        earlier: usize,
    },
    /// An advance's excess is deposited back (its level lowered): may be more than is
    /// left, which the ledger refuses.
    Return {
        org: usize,
        amount: i64,
    },
    /// A replenishment no longer needed goes back to available.
    GiveBack {
        org: usize,
    },
    /// A bank fee recorded from the statement: out of available, never below zero.
    Fee(i64),
    /// Interest recorded from the statement: into available.
    Interest(i64),
}

const ORGS: [&str; 2] = ["o1", "o2"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1..=100_000_i64).prop_map(Op::Donate),
        (1..=60_000_i64, 1..=96_i64).prop_map(|(amount, hours)| Op::Hold { amount, hours }),
        (any::<usize>(), proptest::option::of(1..=60_000_i64))
            .prop_map(|(hold, amount)| Op::Post { hold, amount }),
        any::<usize>().prop_map(|hold| Op::Void { hold }),
        (1..=48_i64).prop_map(|hours| Op::PassTime { hours }),
        any::<usize>().prop_map(|earlier| Op::Retry { earlier }),
        any::<usize>().prop_map(|earlier| Op::ConflictingRetry { earlier }),
        (any::<usize>(), 0..2_usize).prop_map(|(hold, org)| Op::Reimburse { hold, org }),
        (any::<usize>(), 0..2_usize).prop_map(|(hold, org)| Op::Draw { hold, org }),
        (0..2_usize, 1..=60_000_i64).prop_map(|(org, amount)| Op::Advance { org, amount }),
        (0..2_usize).prop_map(|org| Op::Replenish { org }),
        (0..2_usize).prop_map(|org| Op::Pay { org }),
        any::<usize>().prop_map(|earlier| Op::Reverse { earlier }),
        (0..2_usize, 1..=60_000_i64).prop_map(|(org, amount)| Op::Return { org, amount }),
        (0..2_usize).prop_map(|org| Op::GiveBack { org }),
        (1..=5_000_i64).prop_map(Op::Fee),
        (1..=5_000_i64).prop_map(Op::Interest),
    ]
}

/// What a retry of a transfer must answer, given the first answer.
fn same_answer(first: &Outcome, retry: &Outcome) -> bool {
    match (first, retry) {
        (Outcome::Created(a) | Outcome::Exists(a), Outcome::Exists(b)) => a == b,
        (Outcome::Rejected(a), Outcome::Rejected(b)) => a == b,
        _ => false,
    }
}

async fn play(t: TestDb, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let db = &t.db;
    let actor = Actor::system();
    let mut now: DateTime<Utc> = night();
    let mut made: Vec<(NewTransfer, Outcome)> = Vec::new();
    let mut holds: Vec<String> = Vec::new();
    // Payments made, to reverse: (debit, credit, amount).
    let mut payments: Vec<(String, String, i64)> = Vec::new();
    // What the fees and interest made add up to.
    let (mut fees, mut interest) = (0_i64, 0_i64);
    passage::write_tx!(db, |tx| -> Result<(), passage::store::StoreError> async {
        for org in ORGS {
            ledger::ensure_account(tx, now, &owed_to_org(org), false).await?;
            ledger::ensure_account(tx, now, &advance_of(org), true).await?;
            ledger::ensure_account(tx, now, &to_replenish_of(org), true).await?;
        }
        ledger::ensure_account(tx, now, FEES, false).await?;
        ledger::ensure_account(tx, now, OTHER_INCOME, false).await?;
        ledger::ensure_account(tx, now, BANK_OWED, true).await
    })
    .expect("the payouts' accounts");
    let balance = |id: String| async move {
        let a = ledger::account(db, &id).await.unwrap().unwrap();
        a.credits_posted - a.debits_posted
    };
    for (n, op) in ops.into_iter().enumerate() {
        let id = format!("t{n}");
        // What a receipt makes the fund owe, once its hold is posted: (debit, credit).
        let mut then: Option<(String, String)> = None;
        let mut payment = false;
        let new = match op {
            Op::Reimburse { hold, org } if !holds.is_empty() => {
                then = Some((owed_to_org(ORGS[org]), BANK_OWED.to_string()));
                Some(TransferSpec::Post {
                    pending_id: holds[hold % holds.len()].clone(),
                    amount: None,
                })
            }
            Op::Draw { hold, org } if !holds.is_empty() => {
                then = Some((advance_of(ORGS[org]), to_replenish_of(ORGS[org])));
                Some(TransferSpec::Post {
                    pending_id: holds[hold % holds.len()].clone(),
                    amount: None,
                })
            }
            Op::Advance { org, amount } => {
                payment = true;
                Some(TransferSpec::Single {
                    debit: FUND.into(),
                    credit: advance_of(ORGS[org]),
                    amount,
                })
            }
            Op::Replenish { org } => {
                payment = true;
                Some(TransferSpec::Single {
                    debit: to_replenish_of(ORGS[org]),
                    credit: advance_of(ORGS[org]),
                    amount: balance(to_replenish_of(ORGS[org])).await,
                })
            }
            Op::Pay { org } => {
                payment = true;
                Some(TransferSpec::Single {
                    debit: BANK_OWED.into(),
                    credit: owed_to_org(ORGS[org]),
                    amount: -balance(owed_to_org(ORGS[org])).await,
                })
            }
            Op::Return { org, amount } => Some(TransferSpec::Single {
                debit: advance_of(ORGS[org]),
                credit: FUND.into(),
                amount,
            }),
            Op::GiveBack { org } => Some(TransferSpec::Single {
                debit: to_replenish_of(ORGS[org]),
                credit: FUND.into(),
                amount: balance(to_replenish_of(ORGS[org])).await,
            }),
            Op::Reverse { earlier } if !payments.is_empty() => {
                let (debit, credit, amount) = payments.remove(earlier % payments.len());
                Some(TransferSpec::Single {
                    debit: credit,
                    credit: debit,
                    amount,
                })
            }
            Op::Fee(amount) => Some(TransferSpec::Single {
                debit: FUND.into(),
                credit: FEES.into(),
                amount,
            }),
            Op::Interest(amount) => Some(TransferSpec::Single {
                debit: OTHER_INCOME.into(),
                credit: FUND.into(),
                amount,
            }),
            Op::Donate(amount) => Some(TransferSpec::Single {
                debit: DONATIONS.into(),
                credit: FUND.into(),
                amount,
            }),
            Op::Hold { amount, hours } => {
                holds.push(id.clone());
                Some(TransferSpec::Pending {
                    debit: FUND.into(),
                    credit: SPENT.into(),
                    amount,
                    expires_at: now + Duration::hours(hours),
                })
            }
            Op::Post { hold, amount } if !holds.is_empty() => Some(TransferSpec::Post {
                pending_id: holds[hold % holds.len()].clone(),
                amount,
            }),
            Op::Void { hold } if !holds.is_empty() => Some(TransferSpec::Void {
                pending_id: holds[hold % holds.len()].clone(),
            }),
            Op::PassTime { hours } => {
                now += Duration::hours(hours);
                sweep_expired(db, now).await.expect("the sweeper runs");
                None
            }
            Op::Retry { earlier } if !made.is_empty() => {
                let (first, answer) = &made[earlier % made.len()];
                let retry = transfer(db, now, &actor, first)
                    .await
                    .expect("a retry answers");
                prop_assert!(same_answer(answer, &retry), "{answer:?} then {retry:?}");
                None
            }
            Op::ConflictingRetry { earlier } if !made.is_empty() => {
                let (first, _) = &made[earlier % made.len()];
                let mut other = first.clone();
                other.code.push_str("-changed");
                let answer = transfer(db, now, &actor, &other).await;
                prop_assert!(
                    matches!(answer, Err(LedgerError::IdConflict { .. })),
                    "{answer:?}"
                );
                None
            }
            _ => None,
        };
        if let Some(spec) = new {
            let new = NewTransfer {
                id: id.clone(),
                spec,
                code: "prop".into(),
                reference: None,
            };
            let answer = transfer(db, now, &actor, &new)
                .await
                .expect("the ledger answers");
            prop_assert!(
                !matches!(answer, Outcome::Exists(_)),
                "a new id answered exists"
            );
            if let Outcome::Created(t) = &answer {
                if t.credit_account_id == FEES {
                    fees += t.amount;
                }
                if t.debit_account_id == OTHER_INCOME {
                    interest += t.amount;
                }
                if payment {
                    payments.push((
                        t.debit_account_id.clone(),
                        t.credit_account_id.clone(),
                        t.amount,
                    ));
                }
                if let Some((debit, credit)) = then.take() {
                    // From an advance, only what is left of it; the rest is owed.
                    let mut moves = vec![(debit.clone(), credit, t.amount)];
                    if let Some(org) = debit.strip_prefix("assets:advances:") {
                        let drawn = t.amount.min(balance(debit.clone()).await.max(0));
                        moves[0].2 = drawn;
                        moves.push((owed_to_org(org), BANK_OWED.into(), t.amount - drawn));
                    }
                    for (k, (debit, credit, amount)) in moves.into_iter().enumerate() {
                        if amount == 0 {
                            continue;
                        }
                        let owe = NewTransfer {
                            id: format!("{id}-owe{k}"),
                            spec: TransferSpec::Single {
                                debit,
                                credit,
                                amount,
                            },
                            code: "prop".into(),
                            reference: None,
                        };
                        let a = transfer(db, now, &actor, &owe).await.unwrap();
                        prop_assert!(matches!(a, Outcome::Created(_)), "{a:?}");
                    }
                }
            }
            made.push((new, answer));
        }

        let check = ledger::check(db).await.expect("the check runs");
        prop_assert!(check.ok, "after op {n}: {:?}", check.problems);
        let fund = ledger::figures(db).await.unwrap();
        prop_assert!(fund.available >= 0, "available went negative: {fund:?}");
        for figure in [fund.owed, fund.to_replenish, fund.advanced, fund.bank] {
            prop_assert!(figure >= 0, "a figure went negative: {fund:?}");
        }
        prop_assert_eq!(
            fund.bank,
            fund.available + fund.held + fund.owed + fund.to_replenish
        );
        prop_assert_eq!(
            fund.donated + fund.other_income - fund.fees,
            fund.bank + fund.advanced + fund.spent - fund.owed
        );
        prop_assert_eq!(fund.owed, fund.bank_owed);
        prop_assert_eq!((fund.fees, fund.other_income), (fees, interest));
        prop_assert_eq!(
            (check.figures.fees, check.figures.other_income),
            (fees, interest)
        );
    }
    let audit = passage::audit::verify(db).await.unwrap();
    prop_assert!(audit.ok, "{:?}", audit.broken);
    Ok(())
}

fn run_case(ops: Vec<Op>, postgres: bool) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let t = if postgres {
            match TestDb::postgres().await {
                Some(t) => t,
                None => return Ok(()),
            }
        } else {
            TestDb::sqlite().await
        };
        play(t, ops).await
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn random_histories_keep_the_ledger_whole_on_sqlite(ops in proptest::collection::vec(op(), 1..40)) {
        run_case(ops, false)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]
    #[test]
    fn random_histories_keep_the_ledger_whole_on_postgres(ops in proptest::collection::vec(op(), 1..40)) {
        run_case(ops, true)?;
    }
}
