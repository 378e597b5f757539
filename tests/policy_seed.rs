//! The default policy is stored by a migration (issue 16), so that reading the policy
//! writes nothing: a new database has the DESIGN defaults as version 1 with their audit
//! event, and a database that already had a policy keeps it as it was.

mod common;

use chrono::{TimeZone, Utc};
use common::TestDb;
use passage::approval::{Policy, versions};
use passage::audit::{self, Actor};
use passage::store::{Db, StoreError};
use passage::{on_db, write_tx};

/// A new database has the DESIGN defaults as version 1, stored by the migrations, with
/// their audit event as the chain's first; reading them writes nothing.
async fn the_defaults_are_stored_by_a_migration(t: TestDb) {
    let db = &t.db;
    let stored: Vec<(i64, String)> = on_db!(db, p => sqlx::query_as(
        "SELECT version, created_by FROM policies"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(stored, [(1, "system".to_string())]);
    let policy = versions::in_force(db, common::night()).await.unwrap();
    assert_eq!(policy.version, 1);
    assert_eq!(policy.policy, Policy::default());
    assert_eq!(policy.created_by, "system");
    let epoch = Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(policy.in_force_at, Some(epoch));
    let events: Vec<(i64, String, String, String, String)> = on_db!(db, p => sqlx::query_as(
        "SELECT seq, actor, action, subject, content FROM audit_events"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(
        events,
        [(
            1,
            "system".to_string(),
            "policy.apply".to_string(),
            "policy:1".to_string(),
            audit::canonical_json(&Policy::default().to_json()),
        )]
    );
    let verified = audit::verify(db).await.unwrap();
    assert!(verified.ok && verified.broken.is_none(), "{verified:?}");
    assert_eq!(verified.events, 1);

    // A version put in force later replaces it, whatever the clock says.
    let cli = write_tx!(db, |tx| -> Result<versions::PolicyVersion, StoreError> async {
        versions::apply(tx, common::night(), &Actor::cli(), Policy::default()).await
    })
    .unwrap();
    assert_eq!(cli.version, 2);
    assert_eq!(
        versions::in_force(db, common::night())
            .await
            .unwrap()
            .version,
        2
    );
    assert!(audit::verify(db).await.unwrap().ok);
}

on_both_engines!(the_defaults_are_stored_by_a_migration);

/// The migrations of this engine up to `before`, exclusive.
async fn migrate_before(db: &Db, before: i64) {
    let dir = match db.engine() {
        passage::store::Engine::Sqlite => "migrations/sqlite",
        passage::store::Engine::Postgres => "migrations/postgres",
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut migrator = sqlx::migrate::Migrator::new(path).await.unwrap();
    migrator.migrations = migrator
        .migrations
        .iter()
        .filter(|m| m.version < before)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    on_db!(db, p => migrator.run(p).await).unwrap();
}

/// A database made before the defaults were seeded by a migration, whose first read
/// stored them then (as version 1, at that moment, after other events), keeps them as
/// they are: no second version, no second event, a chain that still verifies.
async fn an_older_database_keeps_its_policy(db: Db) {
    migrate_before(&db, 22).await;
    let first_read = common::night();
    write_tx!(&db, |tx| -> Result<(), StoreError> async {
        audit::append(tx, first_read, &Actor::cli(), "user.add", "user:1", &serde_json::json!({}))
            .await?;
        // What `versions::current` did on a first read before the migration.
        versions::apply(tx, first_read, &Actor::system(), Policy::default()).await?;
        Ok(())
    })
    .unwrap();
    db.migrate().await.unwrap();
    let stored: Vec<(i64, String)> = on_db!(&db, p => sqlx::query_as(
        "SELECT version, created_by FROM policies"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(stored, [(1, "system".to_string())]);
    let policy = versions::in_force(&db, first_read).await.unwrap();
    assert_eq!(policy.in_force_at, Some(first_read));
    let verified = audit::verify(&db).await.unwrap();
    assert!(verified.ok, "{verified:?}");
    assert_eq!(verified.events, 2);
}

/// A database made before the seeding migration that never read its policy gets the
/// defaults from it; its chain stays whole.
async fn an_older_database_without_a_policy_gets_the_defaults(db: Db) {
    migrate_before(&db, 22).await;
    db.migrate().await.unwrap();
    let policy = versions::in_force(&db, common::night()).await.unwrap();
    assert_eq!((policy.version, policy.policy), (1, Policy::default()));
    assert!(audit::verify(&db).await.unwrap().ok);
}

async fn unmigrated_sqlite() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("older.db").display());
    let db = Db::connect(&url, 4).await.unwrap();
    (dir, db)
}

#[tokio::test]
async fn an_older_sqlite_database_keeps_its_policy() {
    let (_dir, db) = unmigrated_sqlite().await;
    an_older_database_keeps_its_policy(db).await;
}

#[tokio::test]
async fn an_older_sqlite_database_without_a_policy_gets_the_defaults() {
    let (_dir, db) = unmigrated_sqlite().await;
    an_older_database_without_a_policy_gets_the_defaults(db).await;
}

/// An empty PostgreSQL database of its own, dropped with the returned guard.
async fn unmigrated_postgres() -> Option<(TestDb, Db)> {
    // A migrated test database only lends its server, name and cleanup: the older
    // database is a second one on the same server, dropped with it.
    let host = TestDb::postgres().await?;
    let mut url = url::Url::parse(&host.url).unwrap();
    let name = format!("{}_older", url.path().trim_start_matches('/'));
    on_db!(&host.db, p => sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(p)
        .await
        .map(|_| ()))
    .unwrap();
    url.set_path(&name);
    let db = Db::connect(url.as_str(), 4).await.unwrap();
    Some((host, db))
}

async fn drop_older_postgres(host: TestDb, db: Db) {
    db.close().await;
    let name = {
        let url = url::Url::parse(&host.url).unwrap();
        format!("{}_older", url.path().trim_start_matches('/'))
    };
    on_db!(&host.db, p => sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(p)
        .await
        .map(|_| ()))
    .unwrap();
}

#[tokio::test]
async fn an_older_postgres_database_keeps_its_policy() {
    let Some((host, db)) = unmigrated_postgres().await else {
        return;
    };
    an_older_database_keeps_its_policy(db.clone()).await;
    drop_older_postgres(host, db).await;
}

#[tokio::test]
async fn an_older_postgres_database_without_a_policy_gets_the_defaults() {
    let Some((host, db)) = unmigrated_postgres().await else {
        return;
    };
    an_older_database_without_a_policy_gets_the_defaults(db.clone()).await;
    drop_older_postgres(host, db).await;
}
