//! PostgreSQL going away under load: restarted, and separately its connections killed,
//! while caseworkers keep submitting. Run on a private throwaway cluster the test starts
//! itself (`initdb` into a temporary folder, its own port), never the server every other
//! test shares. Every acknowledged request is in the books, `/healthz` answers 503 while the
//! database is gone and 200 again once it is back, without restarting Passage, and a call
//! retried with its `Idempotency-Key` is never made twice.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::server::{Server, passage, run};
use common::smtp::free_port;
use serde_json::{Value, json};
use sqlx::Connection;

const PASSWORD: &str = "correct horse battery staple";
const CLIENTS: usize = 6;

/// A PostgreSQL cluster of the test's own, removed when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
}

fn pg_bin(name: &str) -> PathBuf {
    let versions = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's programs under /usr/lib/postgresql (Debian's postgresql package)");
    let mut found: Vec<PathBuf> = versions
        .filter_map(Result::ok)
        .map(|v| v.path().join("bin").join(name))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("no {name} under /usr/lib/postgresql"))
}

/// PostgreSQL refuses to run as root: as root, its programs run as the `postgres` user.
fn as_postgres(program: &Path) -> Command {
    // SAFETY-free check of the effective user: root's home is /root on the CI machines,
    // but the uid is what counts.
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn ok(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        if root {
            ok(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(dir.path()),
                "chown the cluster's folder to postgres",
            );
        }
        let port = free_port();
        ok(
            as_postgres(&pg_bin("initdb"))
                .args(["-D"])
                .arg(dir.path().join("data"))
                .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]),
            "initdb",
        );
        let cluster = Cluster { dir, port };
        cluster.pg_ctl("start");
        cluster
    }

    fn pg_ctl(&self, action: &str) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        ok(
            as_postgres(&pg_bin("pg_ctl"))
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .args(["-m", "fast", "-w", "-t", "60", "-o", &options])
                .arg("-l")
                .arg(self.dir.path().join("log"))
                .arg(action),
            &format!("pg_ctl {action}"),
        );
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres(&pg_bin("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// One client: submits requests one after the other, each under its own key, and retries
/// a call that got no answer or a 503 with the same key until it is answered. Returns
/// every key with the request id it was answered.
async fn client(
    base: String,
    token: String,
    code: String,
    n: usize,
    acks: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> Vec<(String, String)> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let today = chrono::Utc::now().date_naive().to_string();
    let mut answered = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        let key = format!("fault-{n}-{i}");
        let amount = 500 + ((n * 7919 + i * 104_729) % 5500) as i64;
        let body = json!({"case_code": code, "category": "food", "amount": money(amount),
                          "needed_by": today, "urgent": false});
        let deadline = Instant::now() + Duration::from_secs(120);
        let id = loop {
            let sent = http
                .post(format!("{base}/api/v1/requests"))
                .bearer_auth(&token)
                .header("Idempotency-Key", &key)
                .json(&body)
                .send()
                .await;
            if let Ok(res) = sent {
                let status = res.status().as_u16();
                let answer: Value = res.json().await.unwrap_or(Value::Null);
                match status {
                    201 => break answer["id"].as_str().expect("an id").to_string(),
                    // The database is gone: the service says so, and the key makes the
                    // retry safe.
                    503 => {}
                    _ => panic!("while the database came and went, {status}: {answer}"),
                }
            }
            assert!(Instant::now() < deadline, "{key} was never answered");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        acks.fetch_add(1, Ordering::SeqCst);
        answered.push((key, id));
        i += 1;
    }
    answered
}

async fn wait_for_acks(acks: &AtomicUsize, at_least: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while acks.load(Ordering::SeqCst) < at_least {
        assert!(Instant::now() < deadline, "{what}: the load stalled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn health(http: &reqwest::Client, base: &str) -> Option<u16> {
    http.get(format!("{base}/healthz"))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

async fn wait_for_health(http: &reqwest::Client, base: &str, status: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if health(http, base).await == Some(status) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/healthz never answered {status} {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarted_or_its_connections_killed_under_load_loses_nothing() {
    let cluster = Cluster::start();
    let mut admin = sqlx::PgConnection::connect(&cluster.url("postgres"))
        .await
        .expect("the private cluster answers");
    sqlx::query("CREATE DATABASE passage")
        .execute(&mut admin)
        .await
        .unwrap();
    let _ = admin.close().await;
    let url = cluster.url("passage");
    let dir = tempfile::tempdir().unwrap();
    let cli = |args: &[&str], stdin: Option<&str>| run(passage(&url, dir.path()).args(args), stdin);
    let org = cli(
        &[
            "org",
            "add",
            "--name",
            "Refuge A",
            "--type",
            "shelter",
            "--province",
            "QC",
        ],
        None,
    );
    let pw = format!("{PASSWORD}\n");
    cli(
        &[
            "user",
            "add",
            "--email",
            "tr@example.org",
            "--roles",
            "treasurer",
            "--password-stdin",
        ],
        Some(&pw),
    );
    cli(
        &[
            "user",
            "add",
            "--email",
            "cw@example.org",
            "--roles",
            "caseworker",
            "--org",
            &org,
            "--password-stdin",
        ],
        Some(&pw),
    );
    let policy = dir.path().join("policy.json");
    std::fs::write(
        &policy,
        json!({"case_auto_cap": {"amount": "100000.00", "days": 7}}).to_string(),
    )
    .unwrap();
    cli(&["policy", "apply", policy.to_str().unwrap()], None);

    let server = Server::start(&url, dir.path(), &[]);
    let base = server.base.clone();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let login = |email: &'static str| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let r = http
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({"email": email, "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let tr = login("tr@example.org").await;
    let cw = login("cw@example.org").await;
    let r = http
        .post(format!("{base}/api/v1/donors"))
        .bearer_auth(&tr)
        .json(&json!({"name": "Fondation Exemple", "email": "dons@example.org", "language": "fr"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let donor: Value = r.json().await.unwrap();
    for k in 0..3 {
        let r = http
            .post(format!("{base}/api/v1/donations"))
            .bearer_auth(&tr)
            .header("Idempotency-Key", format!("gift-{k}"))
            .json(&json!({"donor_id": donor["id"], "amount": "100000.00",
                          "received_on": chrono::Utc::now().date_naive().to_string()}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    let mut codes = Vec::new();
    for _ in 0..CLIENTS {
        let r = http
            .post(format!("{base}/api/v1/cases"))
            .bearer_auth(&cw)
            .json(&json!({"province": "QC"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        codes.push(
            r.json::<Value>().await.unwrap()["code"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }

    let acks = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = codes
        .iter()
        .enumerate()
        .map(|(n, code)| {
            tokio::spawn(client(
                base.clone(),
                cw.clone(),
                code.clone(),
                n,
                acks.clone(),
                stop.clone(),
            ))
        })
        .collect();

    // 1. PostgreSQL stopped in the middle of the load: the service says it is unhealthy,
    // and is healthy again once the database is back, with no restart of its own.
    wait_for_acks(&acks, 60, "before the restart").await;
    cluster.pg_ctl("stop");
    wait_for_health(&http, &base, 503, "while PostgreSQL was stopped").await;
    cluster.pg_ctl("start");
    wait_for_health(&http, &base, 200, "once PostgreSQL was back").await;
    let after_restart = acks.load(Ordering::SeqCst);
    wait_for_acks(&acks, after_restart + 60, "after the restart").await;

    // 2. Every connection of the database's killed at once, twice.
    for round in 0..2 {
        let mut admin = sqlx::PgConnection::connect(&cluster.url("postgres"))
            .await
            .unwrap();
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = 'passage' AND pid <> pg_backend_pid()",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap();
        let _ = admin.close().await;
        assert!(
            !killed.is_empty(),
            "round {round}: Passage had no connection open"
        );
        let at = acks.load(Ordering::SeqCst);
        wait_for_acks(&acks, at + 40, "after the connections were killed").await;
    }
    wait_for_health(&http, &base, 200, "after the connections were killed").await;
    stop.store(true, Ordering::SeqCst);
    let mut answered: Vec<(String, String)> = Vec::new();
    for c in clients {
        answered.extend(c.await.expect("a client"));
    }

    // Every key was answered with one request of its own, and every answered request is
    // in the books, once.
    let ids: HashSet<&str> = answered.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(
        ids.len(),
        answered.len(),
        "two keys were answered with one request"
    );
    let by_key: HashMap<&str, &str> = answered
        .iter()
        .map(|(k, id)| (k.as_str(), id.as_str()))
        .collect();
    assert_eq!(by_key.len(), answered.len());
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    let stored: Vec<String> = sqlx::query_scalar("SELECT id FROM requests")
        .fetch_all(&mut db)
        .await
        .unwrap();
    let stored: HashSet<String> = stored.into_iter().collect();
    for (key, id) in &answered {
        assert!(
            stored.contains(id),
            "{key} was answered {id}, which is not in the books"
        );
    }
    assert_eq!(
        stored.len(),
        answered.len(),
        "a request no client was answered with, or one made twice"
    );
    let _ = db.close().await;
    let log = server.log();
    assert!(
        !log.contains("internal error"),
        "a call failed as a bug while the database came and went:\n{log}"
    );
    drop(server);
    let checked = cli(&["ledger", "check"], None);
    assert!(
        checked.contains("ok") || checked.contains("OK"),
        "{checked}"
    );
    cli(&["audit", "verify"], None);
    eprintln!(
        "{} requests answered through a restart and two rounds of killed connections",
        answered.len()
    );
}
