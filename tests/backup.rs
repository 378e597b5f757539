//! Backups: `passage backup` of a live SQLite database under write load, restored
//! elsewhere with the key, holds every request acknowledged before it began; the file
//! holds no case code in clear; the wrong key, a database in use and an existing one are
//! refused in one line; the scheduler keeps the last N, driven by a ManualClock.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use age::secrecy::ExposeSecret;
use common::fund::Fund;
use common::server::passage;
use common::{TestDb, night, test_config_with};
use passage::app::AppState;
use passage::clock::ManualClock;
use passage::on_db;
use passage::store::Db;
use serde_json::json;

/// A new age key pair: the identity file's path and the public key.
fn keys(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let identity = age::x25519::Identity::generate();
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("# a test key\n{}\n", identity.to_string().expose_secret()),
    )
    .unwrap();
    (path, identity.to_public().to_string())
}

/// Runs the real binary; (success, stdout, stderr).
fn cli(cmd: &mut std::process::Command) -> (bool, String, String) {
    let out = cmd.output().expect("run passage");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

async fn request_ids(db: &Db) -> Vec<String> {
    on_db!(db, p => sqlx::query_scalar("SELECT id FROM requests").fetch_all(p).await).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_load_restores_every_acknowledged_request_and_hides_case_codes() {
    let t = TestDb::sqlite().await;
    let live_url = t.url.clone();
    let f = Fund::new(t).await;
    let donor = f
        .donor("Fondation Exemple", "fondation@example.org", "fr")
        .await;
    f.give(&donor, "100000.00").await;
    let f = Arc::new(f);
    let dir = tempfile::tempdir().unwrap();
    let (identity, recipient) = keys(dir.path(), "key.txt");

    // Clients submit requests for new cases until told to stop, recording what was
    // acknowledged (201) and every case code they were given.
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let codes = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (f, acknowledged, codes, stop) =
            (f.clone(), acknowledged.clone(), codes.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let today = f.today();
            while !stop.load(Ordering::SeqCst) {
                let (s, case) = f
                    .post("/api/v1/cases", &f.worker, json!({"province": "QC"}))
                    .await;
                assert_eq!(s, 201, "{case}");
                let code = case["code"].as_str().unwrap().to_string();
                codes.lock().unwrap().push(code.clone());
                let (s, r) = f
                    .post(
                        "/api/v1/requests",
                        &f.worker,
                        json!({"case_code": code, "category": "bus", "amount": "42.00",
                               "needed_by": today, "reason": "safety", "travel_date": today,
                               "origin": {"city": "Montréal", "province": "QC"},
                               "destination": {"city": "Ottawa", "province": "ON"}}),
                    )
                    .await;
                assert_eq!(s, 201, "{r}");
                acknowledged
                    .lock()
                    .unwrap()
                    .push(r["id"].as_str().unwrap().to_string());
            }
        }));
    }
    // Some load first, then the backup while the clients go on.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "the clients made no requests"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    let output = dir.path().join("passage.age");
    let mut backup_cmd = passage(&live_url, dir.path());
    backup_cmd
        .args(["backup", "--output"])
        .arg(&output)
        .env("PASSAGE_BACKUP_RECIPIENT", &recipient);
    let (ok, stdout, stderr) = tokio::task::spawn_blocking(move || cli(&mut backup_cmd))
        .await
        .unwrap();
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("backed up"), "{stdout}");
    let during = acknowledged.lock().unwrap().len();
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.await.unwrap();
    }
    assert!(
        during > before.len(),
        "no request was acknowledged while the backup ran: it was not under load"
    );

    // The file is private and holds no case code in clear; no plain copy is left.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&output).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let bytes = std::fs::read(&output).unwrap();
    assert!(bytes.starts_with(b"age-encryption.org/v1"));
    let codes = codes.lock().unwrap().clone();
    for code in &codes {
        assert!(
            !bytes.windows(code.len()).any(|w| w == code.as_bytes()),
            "{code} is in the backup in clear"
        );
    }
    let live_dir = Path::new(live_url.trim_start_matches("sqlite://"))
        .parent()
        .unwrap()
        .to_path_buf();
    let left: Vec<_> = std::fs::read_dir(&live_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(".passage-backup-"))
        .collect();
    assert!(left.is_empty(), "plain copies left behind: {left:?}");

    // Restored elsewhere with the key: every request acknowledged before it began.
    let elsewhere = tempfile::tempdir().unwrap();
    let restored_url = format!(
        "sqlite://{}",
        elsewhere.path().join("restored.db").display()
    );
    let (ok, stdout, stderr) = cli(passage(&restored_url, dir.path())
        .args(["restore", "--input"])
        .arg(&output)
        .arg("--identity")
        .arg(&identity)
        .args(["--database-url", &restored_url]));
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("audit chain ok")
            && stdout.contains("head ")
            && stdout.contains("last event at 2026-11-29T23:40:00Z"),
        "{stdout}"
    );
    let restored = Db::connect(&restored_url, 2).await.unwrap();
    let ids = request_ids(&restored).await;
    restored.close().await;
    for id in &before {
        assert!(
            ids.contains(id),
            "request {id}, acknowledged before the backup, is missing"
        );
    }

    // Again over it: refused, it exists; with --replace, done.
    let restore_again = |replace: bool| {
        let mut cmd = passage(&restored_url, dir.path());
        cmd.args(["restore", "--input"])
            .arg(&output)
            .arg("--identity")
            .arg(&identity)
            .args(["--database-url", &restored_url]);
        if replace {
            cmd.arg("--replace");
        }
        cli(&mut cmd)
    };
    let (ok, _, stderr) = restore_again(false);
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("already exists"), "{stderr}");
    let (ok, stdout, stderr) = restore_again(true);
    assert!(ok, "{stdout}{stderr}");

    // Over the live database, which the server has open: refused, even with --replace.
    let (ok, _, stderr) = cli(passage(&live_url, dir.path())
        .args(["restore", "--replace", "--input"])
        .arg(&output)
        .arg("--identity")
        .arg(&identity)
        .args(["--database-url", &live_url]));
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("is in use"), "{stderr}");

    // The wrong key: one clear line, nothing written.
    let (wrong, _) = keys(dir.path(), "other-key.txt");
    let third = format!("sqlite://{}", elsewhere.path().join("third.db").display());
    let (ok, _, stderr) = cli(passage(&third, dir.path())
        .args(["restore", "--input"])
        .arg(&output)
        .arg("--identity")
        .arg(&wrong)
        .args(["--database-url", &third]));
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("was not encrypted to the key in"),
        "{stderr}"
    );
    assert!(!elsewhere.path().join("third.db").exists());
}

/// The scheduler, run by the sweeper: a backup when the newest is `every` old, the last
/// `keep` kept; the newest restores (on PostgreSQL through pg_dump and pg_restore).
async fn scheduled_backups_keep_the_last_ones(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (identity, recipient) = keys(dir.path(), "key.txt");
    let backups = dir.path().join("backups");
    let backups_str = backups.display().to_string();
    let config = Arc::new(test_config_with(
        &t.url,
        &[
            ("PASSAGE_BACKUP_DIR", backups_str.as_str()),
            ("PASSAGE_BACKUP_RECIPIENT", recipient.as_str()),
            ("PASSAGE_BACKUP_EVERY_HOURS", "6"),
            ("PASSAGE_BACKUP_KEEP", "3"),
            (
                "PASSAGE_MAIL_DIR",
                dir.path().join("mail").to_str().unwrap(),
            ),
        ],
    ));
    let clock = ManualClock::new(night());
    let state = AppState::new(t.db.clone(), Arc::new(clock.clone()), config);
    let names = || -> Vec<String> {
        passage::backup::scheduled_backups(&backups)
            .unwrap()
            .into_iter()
            .map(|(_, p)| p.file_name().unwrap().to_string_lossy().to_string())
            .collect()
    };
    passage::app::sweep_once(&state).await.unwrap();
    assert_eq!(names(), ["passage-20261129T234000Z.age"]);
    passage::app::sweep_once(&state).await.unwrap();
    clock.advance(chrono::Duration::hours(5));
    passage::app::sweep_once(&state).await.unwrap();
    assert_eq!(names().len(), 1, "a backup before six hours: {:?}", names());
    clock.advance(chrono::Duration::hours(1));
    passage::app::sweep_once(&state).await.unwrap();
    assert_eq!(names().len(), 2);
    for _ in 0..3 {
        clock.advance(chrono::Duration::hours(6));
        passage::app::sweep_once(&state).await.unwrap();
    }
    assert_eq!(
        names(),
        [
            "passage-20261130T114000Z.age",
            "passage-20261130T174000Z.age",
            "passage-20261130T234000Z.age",
        ]
    );

    // The newest restores into a new database.
    let newest = backups.join("passage-20261130T234000Z.age");
    let target = match t.db.engine() {
        passage::store::Engine::Sqlite => {
            format!("sqlite://{}", dir.path().join("restored.db").display())
        }
        passage::store::Engine::Postgres => {
            let mut u = url::Url::parse(&t.url).unwrap();
            let name = format!("{}_restored", u.path().trim_start_matches('/'));
            u.set_path(&name);
            u.to_string()
        }
    };
    let (ok, stdout, stderr) = cli(passage(&target, dir.path())
        .args(["restore", "--input"])
        .arg(&newest)
        .arg("--identity")
        .arg(&identity)
        .args(["--database-url", &target]));
    if t.db.engine() == passage::store::Engine::Postgres {
        let admin = common::postgres_admin_url();
        let name = url::Url::parse(&target)
            .unwrap()
            .path()
            .trim_start_matches('/')
            .to_string();
        let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
            .await
            .unwrap();
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut c)
            .await
            .unwrap();
    }
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("audit chain ok"), "{stdout}");
}

on_both_engines!(scheduled_backups_keep_the_last_ones);
