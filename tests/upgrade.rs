//! Upgrades: a database made by the release before (tests/fixtures/upgrade, made by its
//! make.sh with that release's binary, through its command line and its API) is migrated
//! forward by this binary, and its audit chain, its ledger and its sealed report still
//! check; a database made by a later release is refused with one line.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::server::{passage, run};
use common::{TestDb, in_ci, postgres_admin_url};
use passage::on_db;
use sqlx::Connection;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/upgrade")
        .join(name)
}

/// A value of `made-by.txt` (`key: value` lines).
fn made_by(key: &str) -> String {
    let text = std::fs::read_to_string(fixture("made-by.txt")).expect("made-by.txt");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key} in made-by.txt"))
        .trim()
        .to_string()
}

/// The latest migration in migrations/sqlite, read from the file names.
fn latest_migration() -> i64 {
    std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite"))
        .expect("migrations/sqlite")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.split('_').next()?.parse::<i64>().ok()
        })
        .max()
        .expect("a migration")
}

/// Migrates the fixture at `url` with this binary and checks it every way the CLI can.
fn migrate_and_check(url: &str, dir: &Path, report: &str) {
    run(passage(url, dir).arg("migrate"), None);
    let audit = run(passage(url, dir).args(["audit", "verify"]), None);
    assert!(audit.starts_with("audit chain ok"), "{audit}");
    let ledger = run(passage(url, dir).args(["ledger", "check"]), None);
    assert!(ledger.contains("ledger ok"), "{ledger}");
    let verified = run(passage(url, dir).args(["reports", "verify", report]), None);
    assert!(
        verified.contains("ok: the report still matches"),
        "{verified}"
    );
}

async fn schema_of(url: &str) -> Vec<i64> {
    let db = passage::store::Db::connect(url, 1).await.expect("open");
    let applied = db.applied_migrations().await.expect("read migrations");
    db.close().await;
    applied
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_database_of_the_release_before_is_migrated_and_still_checks() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passage.db");
    std::fs::copy(fixture("passage.db"), &file).expect("copy the fixture");
    let url = format!("sqlite://{}", file.display());
    let before = schema_of(&url).await;
    migrate_and_check(&url, dir.path(), &made_by("sqlite_report"));
    let after = schema_of(&url).await;
    assert_eq!(after.last().copied(), Some(latest_migration()));
    assert!(after.len() >= before.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_dump_of_the_release_before_is_migrated_and_still_checks() {
    let admin_url = postgres_admin_url();
    let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
        Ok(c) => c,
        Err(e) if in_ci() => panic!("CI=true but PostgreSQL at {admin_url} cannot be reached: {e}"),
        Err(e) => {
            eprintln!("SKIPPING a PostgreSQL test: {admin_url} cannot be reached ({e})");
            return;
        }
    };
    let name = format!("passage_upgrade_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);
    let url = url.to_string();
    let restored = Command::new("psql")
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(fixture("passage.sql"))
        .arg(&url)
        .output()
        .expect("run psql (PostgreSQL's client)");
    let dir = tempfile::tempdir().unwrap();
    let outcome = if restored.status.success() {
        let before = schema_of(&url).await;
        migrate_and_check(&url, dir.path(), &made_by("postgres_report"));
        Ok((before, schema_of(&url).await))
    } else {
        Err(String::from_utf8_lossy(&restored.stderr).to_string())
    };
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    let (before, after) = outcome.expect("psql restores the fixture's dump");
    assert_eq!(after.last().copied(), Some(latest_migration()));
    assert!(after.len() >= before.len());
}

#[test]
fn version_names_the_schema_it_migrates_to() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        passage("sqlite://unused.db", dir.path()).arg("--version"),
        None,
    );
    assert_eq!(
        out,
        format!(
            "passage {} (schema version {})",
            env!("CARGO_PKG_VERSION"),
            latest_migration()
        )
    );
}

/// A database whose applied migrations are newer than this binary's: every command that
/// opens it (serve among them) refuses, with one line, and changes nothing.
async fn a_database_of_a_later_release_is_refused(t: TestDb) {
    on_db!(&t.db, p => sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99990, 'from a later release', TRUE, $1, 0)",
    )
    .bind(vec![0_u8; 48])
    .execute(p)
    .await
    .map(|_| ()))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for args in [&["serve"][..], &["migrate"], &["audit", "verify"]] {
        let out = passage(&t.url, dir.path())
            .args(args)
            .env("PASSAGE_BIND", "127.0.0.1:0")
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{args:?} started on a newer database"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: {stderr}");
        assert!(
            lines[0].contains("migrated by a newer release of Passage")
                && lines[0].contains("schema version 99990")
                && lines[0].contains(&format!("knows up to {}", latest_migration())),
            "{stderr}"
        );
    }
    let applied = t.db.applied_migrations().await.unwrap();
    assert_eq!(applied.last().copied(), Some(99990));
}

on_both_engines!(a_database_of_a_later_release_is_refused);
