//! `?` that stays inside a write transaction (issue 16): `write_tx!`'s one form, an
//! `async` body whose result type is named, rolls back on `?` and still runs its body
//! again after a lost race.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::TestDb;
use common::scratch::{ids, insert, scratch};
use passage::approval::FlowError;
use passage::store::StoreError;
use passage::{on_tx, write_tx};

/// `?` inside the `async` form leaves the body with its error: what the body wrote before
/// is rolled back, and the error comes out converted to the type the form names.
async fn a_question_mark_inside_write_tx_rolls_back(t: TestDb) {
    let db = &t.db;
    scratch(db).await;
    let refused = write_tx!(db, |tx| -> Result<i64, FlowError> async {
        insert(tx, 1).await?;
        let closed: Result<(), FlowError> = Err(FlowError::Conflict("the case is closed".into()));
        closed?;
        insert(tx, 2).await?;
        Ok(2)
    });
    match refused {
        Err(FlowError::Conflict(m)) => assert_eq!(m, "the case is closed"),
        other => panic!("expected the body's conflict, got {other:?}"),
    }
    assert!(ids(db).await.is_empty(), "the row before the `?` was kept");

    // `return` inside the body ends the body, not the function around it: rolled back alike.
    let returned = write_tx!(db, |tx| -> Result<i64, FlowError> async {
        insert(tx, 3).await?;
        if std::hint::black_box(true) {
            return Err(FlowError::Conflict("returned".into()));
        }
        Ok(3)
    });
    assert!(
        matches!(returned, Err(FlowError::Conflict(_))),
        "{returned:?}"
    );
    assert!(
        ids(db).await.is_empty(),
        "the row before the `return` was kept"
    );

    // A store error met by `?` becomes the named error type, and is rolled back alike.
    write_tx!(db, |tx| -> Result<(), StoreError> async { insert(tx, 5).await }).unwrap();
    let failed = write_tx!(db, |tx| -> Result<(), FlowError> async {
        on_tx!(tx, c => sqlx::query("DELETE FROM scratch").execute(c).await.map(|_| ()))
            .map_err(StoreError::from)?;
        on_tx!(tx, c => sqlx::query("SELECT * FROM no_such_table").execute(c).await.map(|_| ()))
            .map_err(StoreError::from)?;
        Ok(())
    });
    assert!(matches!(failed, Err(FlowError::Store(_))), "{failed:?}");
    assert_eq!(ids(db).await, [5], "the delete before the `?` was kept");

    let made = write_tx!(db, |tx| -> Result<i64, FlowError> async {
        insert(tx, 6).await?;
        Ok(6)
    })
    .unwrap();
    assert_eq!(made, 6);
    assert_eq!(ids(db).await, [5, 6]);
}

/// A lost race met by `?` (here a unique violation, as when two writers take the same
/// key) rolls the attempt back and runs the whole body again.
async fn a_lost_race_inside_the_async_form_runs_the_body_again(t: TestDb) {
    let db = &t.db;
    scratch(db).await;
    write_tx!(db, |tx| -> Result<(), StoreError> async { insert(tx, 7).await }).unwrap();
    let attempts = AtomicUsize::new(0);
    let done = write_tx!(db, |tx| -> Result<usize, FlowError> async {
        let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
        insert(tx, 100 + attempt as i64).await?;
        if attempt == 1 {
            // The winner's row is already there: this attempt lost.
            insert(tx, 7).await?;
        }
        Ok(attempt)
    })
    .unwrap();
    assert_eq!(done, 2);
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(
        ids(db).await,
        [7, 102],
        "the lost attempt's row was kept, or the second attempt's was not"
    );
}

on_both_engines!(
    a_question_mark_inside_write_tx_rolls_back,
    a_lost_race_inside_the_async_form_runs_the_body_again,
);
