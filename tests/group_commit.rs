//! Group commit (src/store/group.rs) on both engines: jobs waiting together share one
//! commit, a job that fails or panics is left out of its batch without taking the others
//! with it, a lost race runs the batch's jobs again on their own, and nothing is answered
//! before it is committed.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::TestDb;
use passage::approval::FlowError;
use passage::on_db;
use passage::on_tx;
use passage::store::StoreError;
use passage::store::group::{GroupCommit, Job};

type Writer = GroupCommit<i64, FlowError>;

async fn probe_table(t: &TestDb) {
    on_db!(&t.db, p => sqlx::query("CREATE TABLE group_probe (n BIGINT PRIMARY KEY)")
        .execute(p).await.map(|_| ()))
    .unwrap();
}

async fn stored(t: &TestDb) -> Vec<i64> {
    on_db!(&t.db, p => sqlx::query_scalar::<_, i64>("SELECT n FROM group_probe ORDER BY n")
        .fetch_all(p).await)
    .unwrap()
}

/// Inserts `n`; fails after the insert when `fail` says so, so a failure that did not
/// roll back would leave its row behind.
fn insert(n: i64, fail: bool) -> Job<i64, FlowError> {
    Arc::new(move |tx| {
        Box::pin(async move {
            on_tx!(tx, c => sqlx::query("INSERT INTO group_probe (n) VALUES ($1)")
                .bind(n).execute(c).await.map(|_| ()))?;
            if fail {
                return Err(FlowError::Conflict(format!("{n} refused")));
            }
            Ok(n)
        })
    })
}

async fn jobs_waiting_together_share_commits_and_failures_stay_out(t: TestDb) {
    probe_table(&t).await;
    let writer = Writer::new(t.db.clone());
    let mut calls = Vec::new();
    for n in 0..200_i64 {
        let writer = writer.clone();
        calls.push(tokio::spawn(async move {
            writer.run(insert(n, n % 7 == 3)).await
        }));
    }
    let mut refused = Vec::new();
    for (n, call) in calls.into_iter().enumerate() {
        match call.await.unwrap() {
            Ok(got) => assert_eq!(got, n as i64),
            Err(FlowError::Conflict(message)) => {
                assert_eq!(message, format!("{n} refused"));
                refused.push(n as i64);
            }
            Err(other) => panic!("job {n}: {other}"),
        }
    }
    let expected_refused: Vec<i64> = (0..200).filter(|n| n % 7 == 3).collect();
    assert_eq!(refused, expected_refused);
    let expected: Vec<i64> = (0..200).filter(|n| n % 7 != 3).collect();
    assert_eq!(
        stored(&t).await,
        expected,
        "failed jobs leave nothing behind"
    );
    let counts = writer.counts();
    assert_eq!(counts.jobs_together, 200);
    assert_eq!(counts.jobs_alone, 0);
    assert!(
        counts.commits < 100,
        "200 jobs sent at once should share commits, got {counts:?}"
    );
}

async fn a_panicking_job_is_answered_with_an_error_and_the_writer_goes_on(t: TestDb) {
    probe_table(&t).await;
    let writer = Writer::new(t.db.clone());
    let panicking: Job<i64, FlowError> = Arc::new(|tx| {
        Box::pin(async move {
            on_tx!(tx, c => sqlx::query("INSERT INTO group_probe (n) VALUES (666)")
                .execute(c).await.map(|_| ()))?;
            panic!("a bug in a job");
        })
    });
    let (a, b, c) = tokio::join!(
        writer.run(insert(1, false)),
        writer.run(panicking),
        writer.run(insert(2, false)),
    );
    assert_eq!(a.unwrap(), 1);
    assert!(matches!(b, Err(FlowError::Store(_))), "{b:?}");
    assert_eq!(c.unwrap(), 2);
    assert_eq!(writer.run(insert(3, false)).await.unwrap(), 3);
    assert_eq!(stored(&t).await, vec![1, 2, 3]);
}

async fn a_lost_race_runs_the_batch_again_alone(t: TestDb) {
    probe_table(&t).await;
    let writer = Writer::new(t.db.clone());
    // The first run of this job loses a race (a unique violation, as when another
    // instance took the same key); it wins when run again.
    let raced = Arc::new(AtomicBool::new(false));
    let runs = Arc::new(AtomicUsize::new(0));
    let racy: Job<i64, FlowError> = {
        let (raced, runs) = (raced.clone(), runs.clone());
        Arc::new(move |tx| {
            let (raced, runs) = (raced.clone(), runs.clone());
            Box::pin(async move {
                runs.fetch_add(1, Ordering::SeqCst);
                if !raced.swap(true, Ordering::SeqCst) {
                    for _ in 0..2 {
                        on_tx!(tx, c => sqlx::query("INSERT INTO group_probe (n) VALUES (50)")
                            .execute(c).await.map(|_| ()))?;
                    }
                }
                on_tx!(tx, c => sqlx::query("INSERT INTO group_probe (n) VALUES (51)")
                    .execute(c).await.map(|_| ()))?;
                Ok(51)
            })
        })
    };
    let (a, b, c) = tokio::join!(
        writer.run(insert(10, false)),
        writer.run(racy),
        writer.run(insert(12, false)),
    );
    assert_eq!((a.unwrap(), b.unwrap(), c.unwrap()), (10, 51, 12));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(
        stored(&t).await,
        vec![10, 12, 51],
        "the lost race's row is gone"
    );
    assert!(writer.counts().jobs_alone >= 1);
}

async fn an_answer_follows_its_commit(t: TestDb) {
    probe_table(&t).await;
    let writer = Writer::new(t.db.clone());
    let other = t.second_instance().await;
    for n in 0..20 {
        writer.run(insert(n, false)).await.unwrap();
        // Read from another pool: what was answered is already committed for everyone.
        let seen: i64 =
            on_db!(&other, p => sqlx::query_scalar("SELECT n FROM group_probe WHERE n = $1")
            .bind(n).fetch_one(p).await)
            .map_err(StoreError::from)
            .unwrap();
        assert_eq!(seen, n);
    }
}

on_both_engines!(
    jobs_waiting_together_share_commits_and_failures_stay_out,
    a_panicking_job_is_answered_with_an_error_and_the_writer_goes_on,
    a_lost_race_runs_the_batch_again_alone,
    an_answer_follows_its_commit
);
