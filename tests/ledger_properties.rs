//! Random sequences of donations, holds, posts, voids, expiries and retries keep the
//! ledger's invariants, on both engines.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{TestDb, night};
use passage::audit::Actor;
use passage::ledger::{
    self, DONATIONS, FUND, LedgerError, NewTransfer, Outcome, SPENT, TransferSpec, sweep_expired,
    transfer,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Donate(i64),
    Hold { amount: i64, hours: i64 },
    Post { hold: usize, amount: Option<i64> },
    Void { hold: usize },
    PassTime { hours: i64 },
    Retry { earlier: usize },
    ConflictingRetry { earlier: usize },
}

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
    for (n, op) in ops.into_iter().enumerate() {
        let id = format!("t{n}");
        let new = match op {
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
                id,
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
            made.push((new, answer));
        }

        let check = ledger::check(db).await.expect("the check runs");
        prop_assert!(check.ok, "after op {n}: {:?}", check.problems);
        let fund = ledger::fund_balance(db).await.unwrap();
        prop_assert!(fund.available >= 0, "available went negative: {fund:?}");
        prop_assert_eq!(fund.available + fund.held + fund.spent, fund.donated);
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
