//! A scratch table of ids, for tests of the transaction macros themselves (`write_tx!`,
//! `read_tx!`): what a transaction wrote, kept or rolled back, is read back from it.

use passage::store::{Db, StoreError, Tx};
use passage::{on_db, on_tx};

/// Creates the table `scratch (id BIGINT PRIMARY KEY)`.
pub async fn scratch(db: &Db) {
    on_db!(db, p => sqlx::query("CREATE TABLE scratch (id BIGINT PRIMARY KEY)")
        .execute(p)
        .await
        .map(|_| ()))
    .unwrap();
}

/// The committed ids, in order.
pub async fn ids(db: &Db) -> Vec<i64> {
    on_db!(db, p => sqlx::query_scalar("SELECT id FROM scratch ORDER BY id")
        .fetch_all(p)
        .await)
    .unwrap()
}

/// Inserts `id` in the transaction: a second insert of an id is a unique violation.
pub async fn insert(tx: &mut Tx, id: i64) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("INSERT INTO scratch (id) VALUES ($1)")
        .bind(id)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}
