//! The ledger, run the same on SQLite and on PostgreSQL.

mod common;

use std::sync::Arc;

use chrono::Duration;
use common::{TestDb, night};
use passage::audit::Actor;
use passage::ledger::{
    self, DONATIONS, FUND, FundBalance, LedgerError, NewTransfer, Outcome, Rejection, SPENT,
    TransferSpec, sweep_expired, transfer,
};
use passage::store::Db;

fn donation(id: &str, cents: i64) -> NewTransfer {
    NewTransfer {
        id: id.into(),
        spec: TransferSpec::Single {
            debit: DONATIONS.into(),
            credit: FUND.into(),
            amount: cents,
        },
        code: "donation".into(),
        reference: None,
    }
}

fn hold(id: &str, cents: i64) -> NewTransfer {
    NewTransfer {
        id: id.into(),
        spec: TransferSpec::Pending {
            debit: FUND.into(),
            credit: SPENT.into(),
            amount: cents,
            expires_at: night() + Duration::hours(72),
        },
        code: "disbursement".into(),
        reference: None,
    }
}

fn post(id: &str, hold_id: &str, cents: Option<i64>) -> NewTransfer {
    NewTransfer {
        id: id.into(),
        spec: TransferSpec::Post {
            pending_id: hold_id.into(),
            amount: cents,
        },
        code: "receipt".into(),
        reference: None,
    }
}

fn void(id: &str, hold_id: &str) -> NewTransfer {
    NewTransfer {
        id: id.into(),
        spec: TransferSpec::Void {
            pending_id: hold_id.into(),
        },
        code: "cancel".into(),
        reference: None,
    }
}

async fn run(db: &Db, t: NewTransfer) -> Outcome {
    transfer(db, night(), &Actor::system(), &t)
        .await
        .expect("the ledger answers")
}

async fn fund(db: &Db) -> FundBalance {
    ledger::fund_balance(db).await.unwrap()
}

async fn assert_balanced(db: &Db) {
    let check = ledger::check(db).await.unwrap();
    assert!(check.ok, "ledger check: {:?}", check.problems);
    let audit = passage::audit::verify(db).await.unwrap();
    assert!(audit.ok, "audit chain: {:?}", audit.broken);
}

fn created(o: &Outcome) -> bool {
    matches!(o, Outcome::Created(_))
}

async fn a_receipt_settles_a_hold_and_releases_the_rest(t: TestDb) {
    let db = &t.db;
    assert!(created(&run(db, donation("d1", 100_000)).await));
    assert!(created(&run(db, hold("h1", 37_800)).await));
    assert_eq!(
        fund(db).await,
        FundBalance {
            donated: 100_000,
            available: 62_200,
            held: 37_800,
            spent: 0
        }
    );
    assert!(created(&run(db, post("p1", "h1", Some(35_122))).await));
    assert_eq!(
        fund(db).await,
        FundBalance {
            donated: 100_000,
            available: 64_878,
            held: 0,
            spent: 35_122
        }
    );
    assert_eq!(
        run(db, post("p2", "h1", Some(1))).await,
        Outcome::Rejected(Rejection::PendingTransferAlreadyPosted)
    );
    assert_eq!(
        run(db, void("v1", "h1")).await,
        Outcome::Rejected(Rejection::PendingTransferAlreadyPosted)
    );
    assert_balanced(db).await;
}

async fn a_hold_cannot_be_posted_for_more_than_it_holds(t: TestDb) {
    let db = &t.db;
    run(db, donation("d1", 10_000)).await;
    run(db, hold("h1", 5_000)).await;
    assert_eq!(
        run(db, post("p1", "h1", Some(5_001))).await,
        Outcome::Rejected(Rejection::ExceedsPendingTransferAmount)
    );
    assert!(created(&run(db, post("p2", "h1", None)).await));
    assert_eq!(fund(db).await.spent, 5_000);
    assert_balanced(db).await;
}

async fn the_fund_never_goes_below_zero_counting_holds(t: TestDb) {
    let db = &t.db;
    run(db, donation("d1", 10_000)).await;
    assert!(created(&run(db, hold("h1", 6_000)).await));
    assert_eq!(
        run(db, hold("h2", 4_001)).await,
        Outcome::Rejected(Rejection::ExceedsCredits)
    );
    assert!(created(&run(db, hold("h3", 4_000)).await));
    assert_eq!(fund(db).await.available, 0);
    assert!(created(&run(db, void("v1", "h1")).await));
    assert_eq!(fund(db).await.available, 6_000);
    assert_balanced(db).await;
}

async fn a_retry_gets_the_first_answer_and_a_reused_id_is_a_conflict(t: TestDb) {
    let db = &t.db;
    let first = run(db, donation("d1", 10_000)).await;
    let Outcome::Created(made) = first else {
        panic!("not created: {first:?}")
    };
    assert_eq!(run(db, donation("d1", 10_000)).await, Outcome::Exists(made));
    let conflict = transfer(db, night(), &Actor::system(), &donation("d1", 10_001)).await;
    assert!(
        matches!(conflict, Err(LedgerError::IdConflict { .. })),
        "{conflict:?}"
    );
    assert_eq!(fund(db).await.donated, 10_000);

    // A refused id stays refused, even once the money is there.
    assert_eq!(
        run(db, hold("h1", 20_000)).await,
        Outcome::Rejected(Rejection::ExceedsCredits)
    );
    run(db, donation("d2", 50_000)).await;
    assert_eq!(
        run(db, hold("h1", 20_000)).await,
        Outcome::Rejected(Rejection::ExceedsCredits)
    );
    let conflict = transfer(db, night(), &Actor::system(), &hold("h1", 1_000)).await;
    assert!(
        matches!(conflict, Err(LedgerError::IdConflict { .. })),
        "{conflict:?}"
    );
    assert_balanced(db).await;
}

async fn bad_transfers_are_refused_with_a_reason(t: TestDb) {
    let db = &t.db;
    run(db, donation("d1", 10_000)).await;
    assert_eq!(
        run(db, hold("h0", 0)).await,
        Outcome::Rejected(Rejection::AmountMustBePositive)
    );
    assert_eq!(
        run(db, hold("h1", -5)).await,
        Outcome::Rejected(Rejection::AmountMustBePositive)
    );
    let mut to_nowhere = hold("h2", 100);
    to_nowhere.spec = TransferSpec::Pending {
        debit: FUND.into(),
        credit: "nowhere".into(),
        amount: 100,
        expires_at: night() + Duration::hours(1),
    };
    assert_eq!(
        run(db, to_nowhere).await,
        Outcome::Rejected(Rejection::CreditAccountNotFound)
    );
    assert_eq!(
        run(db, post("p1", "no-such-hold", None)).await,
        Outcome::Rejected(Rejection::PendingTransferNotFound)
    );
    assert_eq!(
        run(db, post("p2", "d1", None)).await,
        Outcome::Rejected(Rejection::PendingTransferNotPending)
    );
    assert_eq!(fund(db).await.available, 10_000);
    assert_balanced(db).await;
}

async fn an_unused_hold_expires_once(t: TestDb) {
    let db = &t.db;
    run(db, donation("d1", 10_000)).await;
    run(db, hold("h1", 7_000)).await;
    assert_eq!(
        sweep_expired(db, night() + Duration::hours(71))
            .await
            .unwrap(),
        0
    );
    let later = night() + Duration::hours(72);
    assert_eq!(sweep_expired(db, later).await.unwrap(), 1);
    assert_eq!(sweep_expired(db, later).await.unwrap(), 0);
    assert_eq!(fund(db).await.available, 10_000);
    let late = transfer(db, later, &Actor::system(), &post("p1", "h1", None))
        .await
        .unwrap();
    assert_eq!(late, Outcome::Rejected(Rejection::PendingTransferExpired));
    assert_balanced(db).await;
}

async fn a_hold_past_its_time_cannot_be_posted_before_the_sweeper_runs(t: TestDb) {
    let db = &t.db;
    run(db, donation("d1", 10_000)).await;
    run(db, hold("h1", 7_000)).await;
    let later = night() + Duration::hours(73);
    let late = transfer(db, later, &Actor::system(), &post("p1", "h1", None))
        .await
        .unwrap();
    assert_eq!(late, Outcome::Rejected(Rejection::PendingTransferExpired));
    assert_eq!(sweep_expired(db, later).await.unwrap(), 1);
    assert_balanced(db).await;
}

/// Fund exactly `k` holds, fire `n > k` at once from two pools (two instances): exactly
/// `k` succeed and the books reconcile.
async fn concurrent_holds_never_overdraw(t: TestDb) {
    const K: i64 = 10;
    const N: usize = 40;
    let db = &t.db;
    run(db, donation("d1", K * 18_900)).await;
    let pools = [t.db.clone(), t.second_instance().await];
    let mut tasks = Vec::new();
    for i in 0..N {
        let pool = pools[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            transfer(
                &pool,
                night(),
                &Actor::system(),
                &hold(&format!("h{i}"), 18_900),
            )
            .await
        }));
    }
    let mut made = 0;
    for task in tasks {
        match task.await.unwrap().expect("no storage error") {
            Outcome::Created(_) => made += 1,
            Outcome::Rejected(Rejection::ExceedsCredits) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(made, K);
    assert_eq!(
        fund(db).await,
        FundBalance {
            donated: K * 18_900,
            available: 0,
            held: K * 18_900,
            spent: 0
        }
    );
    assert_balanced(db).await;
}

/// Many posts and voids of one hold at once, from two pools: exactly one wins.
async fn concurrent_resolutions_of_one_hold_have_one_winner(t: TestDb) {
    let db = &t.db;
    run(db, donation("d1", 50_000)).await;
    run(db, hold("h1", 30_000)).await;
    let pools = Arc::new([t.db.clone(), t.second_instance().await]);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let pools = pools.clone();
        tasks.push(tokio::spawn(async move {
            let attempt = if i % 2 == 0 {
                post(&format!("p{i}"), "h1", Some(20_000 + i))
            } else {
                void(&format!("v{i}"), "h1")
            };
            transfer(&pools[i as usize % 2], night(), &Actor::system(), &attempt).await
        }));
    }
    let mut winners = 0;
    for task in tasks {
        if created(&task.await.unwrap().expect("no storage error")) {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
    let f = fund(db).await;
    assert_eq!(f.held, 0);
    assert!(f.available == 50_000 || (f.spent >= 20_000 && f.available + f.spent == 50_000));
    assert_balanced(db).await;
}

async fn a_batch_commits_once_and_answers_each_transfer(t: TestDb) {
    let db = &t.db;
    let batch = vec![
        donation("d1", 1_000),
        hold("h1", 600),
        hold("h2", 600),
        post("p1", "h1", None),
    ];
    let outcomes = ledger::transfer_batch(db, night(), &Actor::system(), &batch)
        .await
        .unwrap();
    assert!(created(&outcomes[0]) && created(&outcomes[1]) && created(&outcomes[3]));
    assert_eq!(outcomes[2], Outcome::Rejected(Rejection::ExceedsCredits));
    assert_eq!(fund(db).await.spent, 600);
    assert_balanced(db).await;
}

async fn the_database_itself_refuses_to_rewrite_transfers(t: TestDb) {
    let db = &t.db;
    run(db, donation("d1", 10_000)).await;
    let update = passage::on_db!(db, p => sqlx::query("UPDATE transfers SET amount = 1").execute(p).await.map(|_| ()));
    let message = update.unwrap_err().to_string();
    assert!(
        message.contains("append-only") || message.contains("immutable"),
        "{message}"
    );
    let delete =
        passage::on_db!(db, p => sqlx::query("DELETE FROM transfers").execute(p).await.map(|_| ()));
    assert!(delete.is_err());
    // An overdraft written by hand is refused by the CHECK constraint.
    let overdraw = passage::on_db!(db, p => sqlx::query(
        "UPDATE accounts SET debits_posted = credits_posted + 1 WHERE id = 'fund'"
    ).execute(p).await.map(|_| ()));
    assert!(overdraw.is_err());
    // A second resolution of a hold, written by hand, is refused by the unique index.
    run(db, hold("h1", 100)).await;
    run(db, void("v1", "h1")).await;
    let twice = passage::on_db!(db, p => sqlx::query(
        "INSERT INTO transfers (id, kind, debit_account_id, credit_account_id, amount, pending_id,
                                code, request_hash, created_at)
         VALUES ('v2', 'void', 'fund', 'spent', 100, 'h1', 'x', 'x', $1)"
    ).bind(night()).execute(p).await.map(|_| ()));
    assert!(twice.is_err());
    assert_eq!(fund(db).await.available, 10_000);
    assert_balanced(db).await;
}

/// Case days are compared by the engine, which sends back only the differing days, and at
/// most a hundred are named: a ledger check on years of history stays in bounded memory
/// however many totals were corrupted.
async fn the_ledger_check_names_a_hundred_wrong_case_days_and_says_there_are_more(t: TestDb) {
    let db = &t.db;
    run(db, donation("d1", 10_000)).await;
    assert_balanced(db).await;
    let mut sql = String::from(
        "INSERT INTO orgs (id, name, type, province, created_at)
         VALUES ('org-x', 'Organisation X', 'shelter', 'QC', '2026-01-01T00:00:00+00:00');
         INSERT INTO cases (code, org_id, province, status, opened_at) VALUES ",
    );
    let codes: Vec<String> = (0..150).map(|i| format!("QC-TEST-{i:05}")).collect();
    let rows: Vec<String> = codes
        .iter()
        .map(|c| format!("('{c}', 'org-x', 'QC', 'open', '2026-01-01T00:00:00+00:00')"))
        .collect();
    sql.push_str(&rows.join(","));
    sql.push_str(";\nINSERT INTO case_days (case_code, day, cents) VALUES ");
    let rows: Vec<String> = codes
        .iter()
        .map(|c| format!("('{c}', '2026-01-02', 700)"))
        .collect();
    sql.push_str(&rows.join(","));
    passage::on_db!(db, p => sqlx::raw_sql(&sql).execute(p).await.map(|_| ())).unwrap();
    let check = ledger::check(db).await.unwrap();
    assert!(!check.ok);
    assert_eq!(check.problems.len(), 101, "{:?}", check.problems);
    assert_eq!(
        check.problems[0],
        "case QC-TEST-00000: cached total 700 on 2026-01-02 but its requests give 0"
    );
    assert!(
        check.problems[100].starts_with("and more case days whose cached total differs"),
        "{}",
        check.problems[100]
    );
}

on_both_engines!(
    the_ledger_check_names_a_hundred_wrong_case_days_and_says_there_are_more,
    a_receipt_settles_a_hold_and_releases_the_rest,
    a_hold_cannot_be_posted_for_more_than_it_holds,
    the_fund_never_goes_below_zero_counting_holds,
    a_retry_gets_the_first_answer_and_a_reused_id_is_a_conflict,
    bad_transfers_are_refused_with_a_reason,
    an_unused_hold_expires_once,
    a_hold_past_its_time_cannot_be_posted_before_the_sweeper_runs,
    concurrent_holds_never_overdraw,
    concurrent_resolutions_of_one_hold_have_one_winner,
    a_batch_commits_once_and_answers_each_transfer,
    the_database_itself_refuses_to_rewrite_transfers,
);
