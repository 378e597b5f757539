//! Reads that do not wait (issue 16): a read transaction (`Db::read`, `read_tx!`) sees
//! one moment of the database, refuses to write and never waits for a writer.

mod common;

use std::time::Duration;

use common::TestDb;
use common::scratch::{ids, insert, scratch};
use passage::approval::versions;
use passage::store::StoreError;
use passage::{on_tx, read_tx, write_tx};

/// Long enough for anything that does not wait, short enough to fail a test that does.
const DEADLINE: Duration = Duration::from_secs(10);

async fn count_in(tx: &mut passage::store::Tx) -> Result<i64, StoreError> {
    Ok(
        on_tx!(tx, c => sqlx::query_scalar("SELECT count(*) FROM scratch")
        .fetch_one(c)
        .await)?,
    )
}

/// A reader is answered while a writer holds its transaction open (on SQLite: this
/// process's turn to write and the file's write lock), and sees only what was committed.
async fn a_read_does_not_wait_for_a_writer(t: TestDb) {
    let db = &t.db;
    scratch(db).await;
    let mut writer = db.begin_write().await.unwrap();
    insert(&mut writer, 1).await.unwrap();
    let seen: Result<i64, StoreError> = tokio::time::timeout(DEADLINE, async {
        read_tx!(db, |tx| -> Result<i64, StoreError> async { count_in(tx).await })
    })
    .await
    .expect("a read waited for the writer");
    assert_eq!(seen.unwrap(), 0, "a read saw an uncommitted row");
    // The policy, which pages read on every load, is read without waiting too.
    let policy = tokio::time::timeout(DEADLINE, versions::in_force(db, common::night()))
        .await
        .expect("reading the policy waited for the writer")
        .unwrap();
    assert_eq!(policy.version, 1);
    writer.commit().await.unwrap();
    let seen = read_tx!(db, |tx| -> Result<i64, StoreError> async { count_in(tx).await }).unwrap();
    assert_eq!(seen, 1);
}

/// All the reads of one read transaction see the same moment, whatever is committed
/// meanwhile.
async fn a_read_sees_one_moment(t: TestDb) {
    let db = &t.db;
    scratch(db).await;
    let mut reader = db.read().await.unwrap();
    assert_eq!(count_in(&mut reader).await.unwrap(), 0);
    write_tx!(db, |tx| -> Result<(), StoreError> async { insert(tx, 1).await }).unwrap();
    assert_eq!(ids(db).await, [1]);
    assert_eq!(
        count_in(&mut reader).await.unwrap(),
        0,
        "a read transaction saw a row committed after its first read"
    );
    reader.rollback().await.unwrap();
    let seen = read_tx!(db, |tx| -> Result<i64, StoreError> async { count_in(tx).await });
    assert_eq!(seen.unwrap(), 1);
}

/// A read transaction cannot change anything, and locks nothing.
async fn a_read_transaction_refuses_to_write(t: TestDb) {
    let db = &t.db;
    scratch(db).await;
    let refused = read_tx!(db, |tx| -> Result<(), StoreError> async { insert(tx, 1).await });
    assert!(refused.is_err(), "a read transaction wrote a row");
    assert!(ids(db).await.is_empty());
    let reader = db.read().await.unwrap();
    assert!(reader.is_read_only());
    assert_eq!(reader.lock_rows(), "");
    reader.rollback().await.unwrap();
    let writer = db.begin_write().await.unwrap();
    assert!(!writer.is_read_only());
    writer.rollback().await.unwrap();
}

on_both_engines!(
    a_read_does_not_wait_for_a_writer,
    a_read_sees_one_moment,
    a_read_transaction_refuses_to_write,
);
