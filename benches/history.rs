//! Ten years of a large national coalition's history, and what the whole-database commands
//! cost on it: `cargo bench --bench history` (see docs/operations.md, "Ten years of
//! history", and the figures in docs/benchmarks.md). Not run by CI nor by `cargo test`.
//!
//! 1. Generates (once, then reuses) the database on each engine: by default 300
//!    organisations, 2,000 staff, 2,000 donors and 100,000 donations, 500,000 cases in
//!    every province and 2,450,000 requests, each a hold and its settlement: 5,000,000
//!    transfers over 2016-2025, with one audit event per case, donation and request
//!    (3,050,000 events, hashed as `passage` hashes them). The cached balances and each
//!    case's per-day totals are set from the rows, so `passage ledger check` and
//!    `passage audit verify` pass on it. Codes and `example.org` only: no person's name.
//!    SQLite: `target/history/passage-N.db`; PostgreSQL: the database `passage_history_N`
//!    on PASSAGE_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres).
//!    Rows go in by thousands per statement in large transactions, with the two per-row
//!    triggers (the audit head, the case days) set aside and their result written once.
//! 2. Times the release binary's `ledger check`, `audit verify` and `export` in each
//!    format on it: wall time, peak resident memory and its anonymous part (see [`timed`]).
//!
//! Settings: HISTORY_TRANSFERS (default 5000000, even; the other counts scale with it),
//! HISTORY_ENGINES (default `sqlite,postgres`), HISTORY_MEASURE (0 only generates).
//! The databases stay for the load benchmark (PASSAGE_BENCH_HISTORY_SQLITE and
//! PASSAGE_BENCH_HISTORY_POSTGRES, see benches/load.rs); remove them when done:
//! `rm -r target/history` and `DROP DATABASE passage_history_N`.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use passage::audit::{GENESIS_HASH, event_hash};
use passage::domain::case_code::CaseCode;
use passage::store::{Db, Engine};
use rand::SeedableRng;
use sqlx::Connection;

const PROVINCES: [&str; 13] = [
    "AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT",
];
const ORG_TYPES: [&str; 10] = [
    "shelter",
    "youth",
    "legal_aid",
    "victim_services",
    "immigrant_support",
    "sex_worker_support",
    "labour_rights",
    "indigenous",
    "health",
    "other",
];
const CATEGORIES: [&str; 8] = [
    "hotel",
    "bus",
    "train",
    "flight",
    "food",
    "phone_card",
    "local_transport",
    "clothing",
];
/// Rows per INSERT statement.
const ROWS: usize = 1_000;
const DAYS: usize = 3_653;

/// How big the history is: everything scales with the transfers.
#[derive(Clone, Copy)]
struct Size {
    transfers: usize,
    orgs: usize,
    users: usize,
    donors: usize,
    donations: usize,
    cases: usize,
    requests: usize,
}

impl Size {
    fn of(transfers: usize) -> Size {
        let scale = |n: usize| (n * transfers / 5_000_000).max(1);
        let donations = scale(100_000);
        Size {
            transfers,
            orgs: scale(300),
            users: scale(2_000),
            donors: scale(2_000),
            donations,
            cases: scale(500_000),
            requests: (transfers - donations) / 2,
        }
    }
}

fn ts(t: DateTime<Utc>) -> String {
    // What sqlx writes for a DateTime<Utc> on SQLite, so range queries compare alike.
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

async fn exec(db: &Db, sql: &str) {
    passage::on_db!(db, p => sqlx::raw_sql(sql).execute(p).await.map(|_| ()))
        .unwrap_or_else(|e| panic!("{e}: {}", &sql[..sql.len().min(300)]));
}

/// Multi-row INSERT statements of one table, [`ROWS`] rows each.
struct Inserts {
    head: &'static str,
    sql: String,
    rows: usize,
}

impl Inserts {
    fn new(head: &'static str) -> Inserts {
        Inserts {
            head,
            sql: String::new(),
            rows: 0,
        }
    }

    /// Starts the next row (its values are written into the returned string).
    fn row(&mut self) -> &mut String {
        if self.rows.is_multiple_of(ROWS) {
            self.sql.push_str(";\n");
            self.sql.push_str(self.head);
            self.sql.push_str(" VALUES ");
        } else {
            self.sql.push(',');
        }
        self.rows += 1;
        &mut self.sql
    }

    fn take(&mut self) -> String {
        self.rows = 0;
        std::mem::take(&mut self.sql)
    }
}

/// SQL quoting for the few free texts (audit content).
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

struct Chain {
    seq: i64,
    prev: String,
    events: Inserts,
}

impl Chain {
    fn append(
        &mut self,
        at: DateTime<Utc>,
        actor: &str,
        action: &str,
        subject: &str,
        content: &str,
    ) {
        self.seq += 1;
        let hash = event_hash(self.seq, at, actor, action, subject, content, &self.prev);
        let row = self.events.row();
        let _ = write!(
            row,
            "({}, '{}', '{actor}', '{action}', '{subject}', {}, '{}', '{hash}')",
            self.seq,
            ts(at),
            quote(content),
            self.prev
        );
        self.prev = hash;
    }
}

/// The triggers set aside while rows go in by the million, and put back after: each
/// would update one row per inserted row. What they keep is written once at the end.
async fn set_triggers_aside(db: &Db) -> Vec<String> {
    match db.engine() {
        Engine::Postgres => {
            exec(
                db,
                "ALTER TABLE audit_events DISABLE TRIGGER audit_head_follows;
                 ALTER TABLE requests DISABLE TRIGGER case_days_follow;",
            )
            .await;
            Vec::new()
        }
        Engine::Sqlite => {
            let kept: Vec<(String, String)> = passage::on_db!(db, p => sqlx::query_as(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'
                 AND name IN ('audit_head_follows', 'case_days_on_insert')",
            )
            .fetch_all(p)
            .await)
            .unwrap();
            assert_eq!(kept.len(), 2, "the triggers the generator sets aside");
            for (name, _) in &kept {
                exec(db, &format!("DROP TRIGGER {name}")).await;
            }
            kept.into_iter().map(|(_, sql)| sql).collect()
        }
    }
}

async fn put_triggers_back(db: &Db, kept: Vec<String>) {
    match db.engine() {
        Engine::Postgres => {
            exec(
                db,
                "ALTER TABLE audit_events ENABLE TRIGGER audit_head_follows;
                 ALTER TABLE requests ENABLE TRIGGER case_days_follow;",
            )
            .await
        }
        Engine::Sqlite => {
            for sql in kept {
                exec(db, &sql).await;
            }
        }
    }
}

/// The `i`-th of `n` things spread over the ten years, `offset` seconds into its slot.
fn when(start: DateTime<Utc>, i: usize, n: usize) -> DateTime<Utc> {
    let span = DAYS as i64 * 86_400;
    start + Duration::seconds(span * i as i64 / n as i64)
}

/// The range of the `n` things whose time falls on day `d`.
fn on_day(d: usize, n: usize) -> std::ops::Range<usize> {
    let first = |d: usize| (d * n).div_ceil(DAYS);
    first(d)..first(d + 1).min(n)
}

async fn generate(db: &Db, size: Size) {
    db.migrate().await.expect("migrate");
    let start = Utc.with_ymd_and_hms(2016, 1, 1, 0, 0, 0).unwrap();
    let started = Instant::now();
    let (head_seq, head_hash): (i64, String) = passage::on_db!(db, p => sqlx::query_as(
        "SELECT seq, hash FROM audit_head WHERE id = 1"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert!(head_seq <= 1, "the generator starts from a new database");
    let head_hash = if head_seq == 0 {
        GENESIS_HASH.to_string()
    } else {
        head_hash
    };
    let kept = set_triggers_aside(db).await;
    if db.engine() == Engine::Sqlite {
        // A large page cache for the generator's one connection: the indexes of random
        // case codes take inserts all over their pages.
        exec(db, "PRAGMA cache_size = -2000000").await;
    }

    // Organisations, their staff (caseworkers; a treasurer and an admin among every
    // hundred), the donors.
    let mut sql = String::from("BEGIN");
    let mut orgs = Inserts::new("INSERT INTO orgs (id, name, type, province, created_at)");
    for o in 0..size.orgs {
        let _ = write!(
            orgs.row(),
            "('org-{o:04}', 'Organisation {o:04}', '{}', '{}', '{}')",
            ORG_TYPES[o % ORG_TYPES.len()],
            PROVINCES[o % PROVINCES.len()],
            ts(start)
        );
    }
    sql.push_str(&orgs.take());
    let mut users = Inserts::new(
        "INSERT INTO users (id, email, language, org_id, password_hash, active, created_at)",
    );
    let mut roles = Inserts::new("INSERT INTO user_roles (user_id, role)");
    for u in 0..size.users {
        let _ = write!(
            users.row(),
            "('user-{u:05}', 'staff{u:05}@example.org', '{}', 'org-{:04}', 'x', TRUE, '{}')",
            ["fr", "en"][u % 2],
            u % size.orgs,
            ts(start)
        );
        let _ = write!(roles.row(), "('user-{u:05}', 'caseworker')");
        match u % 100 {
            98 => {
                let _ = write!(roles.row(), "('user-{u:05}', 'treasurer')");
            }
            99 => {
                let _ = write!(roles.row(), "('user-{u:05}', 'admin')");
            }
            _ => {}
        }
    }
    sql.push_str(&users.take());
    sql.push_str(&roles.take());
    let mut donors = Inserts::new("INSERT INTO donors (id, name, email, language, created_at)");
    for d in 0..size.donors {
        let _ = write!(
            donors.row(),
            "('donor-{d:05}', 'Fondation {d:05}', 'donor{d:05}@example.org', '{}', '{}')",
            ["fr", "en"][d % 2],
            ts(start)
        );
    }
    sql.push_str(&donors.take());
    sql.push_str(";\nCOMMIT;");
    exec(db, &sql).await;

    // The cases' codes: real ones (province, eight random symbols, check), from a fixed
    // seed, so a run makes the same database.
    let mut rng = rand::rngs::StdRng::seed_from_u64(2016);
    let mut seen = HashSet::with_capacity(size.cases);
    let codes: Vec<String> = (0..size.cases)
        .map(|c| {
            loop {
                let code = CaseCode::generate(PROVINCES[c % PROVINCES.len()], &mut rng)
                    .unwrap()
                    .to_string();
                if seen.insert(code.clone()) {
                    break code;
                }
            }
        })
        .collect();
    drop(seen);

    let mut chain = Chain {
        seq: head_seq,
        prev: head_hash,
        events: Inserts::new(
            "INSERT INTO audit_events (seq, at, actor, action, subject, content, prev_hash, hash)",
        ),
    };
    let mut transfers = Inserts::new(
        "INSERT INTO transfers (id, kind, debit_account_id, credit_account_id, amount, pending_id, expires_at, code, reference, request_hash, created_at)",
    );
    let mut donations = Inserts::new(
        "INSERT INTO donations (id, donor_id, amount, received_on, kind, transfer_id, created_at)",
    );
    let mut cases =
        Inserts::new("INSERT INTO cases (code, org_id, province, status, opened_at, closed_at)");
    let mut requests = Inserts::new(
        "INSERT INTO requests (id, case_code, org_id, requested_by, category, amount, needed_by, urgent, status, rule, policy_version, automatic, hold_id, settlement_id, spent, nights, scope, paid_on, created_at, decided_at, closed_at)",
    );
    let (mut funded, mut spent) = (0_i64, 0_i64);
    let last_year = start + Duration::days(DAYS as i64 - 365);
    let mut written = 0_usize;
    for d in 0..DAYS {
        for g in on_day(d, size.donations) {
            let at = when(start, g, size.donations);
            // 1,000.00 to 20,000.00: about 10,500.00 on average.
            let amount = 100_000 + ((g * 7_919) % 1_900_000) as i64;
            funded += amount;
            let _ = write!(
                transfers.row(),
                "('donation:{g}', 'single', 'donations', 'fund', {amount}, NULL, NULL, 'donation', 'g{g}', 'x', '{}')",
                ts(at)
            );
            let _ = write!(
                donations.row(),
                "('g{g}', 'donor-{:05}', {amount}, '{}', 'cash', 'donation:{g}', '{}')",
                (g * 13) % size.donors,
                at.date_naive(),
                ts(at)
            );
            chain.append(
                at,
                &format!("user-{:05}", 98 + 100 * (g % (size.users / 100).max(1))),
                "donation.record",
                &format!("donation:g{g}"),
                &format!("{{\"amount\":\"{}.{:02}\"}}", amount / 100, amount % 100),
            );
        }
        for c in on_day(d, size.cases) {
            let at = when(start, c, size.cases) + Duration::seconds(30);
            let org = c % size.orgs;
            let closed = if at < last_year {
                format!("'{}'", ts(at + Duration::days(120)))
            } else {
                "NULL".into()
            };
            let _ = write!(
                cases.row(),
                "('{}', 'org-{org:04}', '{}', '{}', '{}', {closed})",
                codes[c],
                PROVINCES[c % PROVINCES.len()],
                if closed == "NULL" { "open" } else { "closed" },
                ts(at)
            );
            chain.append(
                at,
                &format!("user-{org:05}"),
                "case.open",
                &format!("case:{}", codes[c]),
                &format!("{{\"province\":\"{}\"}}", PROVINCES[c % PROVINCES.len()]),
            );
        }
        for r in on_day(d, size.requests) {
            let at = when(start, r, size.requests) + Duration::seconds(60);
            // A case opened before the request, within the last few dozen.
            let case = (r * size.cases / size.requests).saturating_sub((r * 7_919) % 40);
            let org = case % size.orgs;
            let user = org + size.orgs * (r % (size.users / size.orgs).max(1));
            let category = CATEGORIES[(r * 7 + r / 13) % CATEGORIES.len()];
            let amount = 2_000 + ((r * 7_919) % 40_000) as i64;
            let paid = amount - (r % 3) as i64 * 100;
            spent += paid;
            let decided = at + Duration::seconds((r % 600) as i64);
            let settled = at + Duration::hours(2);
            let _ = write!(
                transfers.row(),
                "('hold:r{r}', 'pending', 'fund', 'spent', {amount}, NULL, '{}', 'disbursement', 'r{r}', 'x', '{}')",
                ts(decided + Duration::hours(72)),
                ts(decided)
            );
            let _ = write!(
                transfers.row(),
                "('receipt:r{r}', 'post', 'fund', 'spent', {paid}, 'hold:r{r}', NULL, 'receipt', 'r{r}', 'x', '{}')",
                ts(settled)
            );
            let (nights, scope) = match category {
                "hotel" => ((1 + r % 3).to_string(), "NULL".to_string()),
                "bus" | "train" | "flight" | "local_transport" => (
                    "NULL".into(),
                    format!(
                        "'{}'",
                        ["local", "intercity", "interprovincial", "international"][r % 4]
                    ),
                ),
                _ => ("NULL".into(), "NULL".into()),
            };
            let _ = write!(
                requests.row(),
                "('r{r}', '{}', 'org-{org:04}', 'user-{user:05}', '{category}', {amount}, '{}', FALSE, 'settled', 'auto_approve.{category}', 1, TRUE, 'hold:r{r}', 'receipt:r{r}', {paid}, {nights}, {scope}, '{}', '{}', '{}', '{}')",
                codes[case],
                (at + Duration::days(1)).date_naive(),
                settled.date_naive(),
                ts(at),
                ts(decided),
                ts(settled)
            );
            chain.append(
                decided,
                &format!("user-{user:05}"),
                "request.submit",
                &format!("request:r{r}"),
                &format!(
                    "{{\"amount\":\"{}.{:02}\",\"category\":\"{category}\",\"status\":\"approved\"}}",
                    amount / 100,
                    amount % 100
                ),
            );
        }
        // A transaction about every 100,000 rows.
        let rows = transfers.rows + donations.rows + cases.rows + requests.rows;
        if rows > 60_000 || d + 1 == DAYS {
            written += transfers.rows;
            let sql = format!(
                "BEGIN{}{}{}{}{};\nCOMMIT;",
                transfers.take(),
                donations.take(),
                cases.take(),
                requests.take(),
                chain.events.take()
            );
            exec(db, &sql).await;
            eprint!(
                "\r  {written} of {} transfers, {:.0} s",
                size.transfers,
                started.elapsed().as_secs_f64()
            );
        }
    }
    eprintln!();
    assert!(spent <= funded, "the generated fund would be overdrawn");
    let day_decided = match db.engine() {
        Engine::Sqlite => "substr(decided_at, 1, 10)",
        Engine::Postgres => "(decided_at AT TIME ZONE 'UTC')::date",
    };
    exec(
        db,
        &format!(
            "BEGIN;
             UPDATE accounts SET credits_posted = credits_posted + {funded}, debits_posted = debits_posted + {spent} WHERE id = 'fund';
             UPDATE accounts SET debits_posted = debits_posted + {funded} WHERE id = 'donations';
             UPDATE accounts SET credits_posted = credits_posted + {spent} WHERE id = 'spent';
             UPDATE audit_head SET seq = {}, hash = '{}' WHERE id = 1;
             INSERT INTO case_days (case_code, day, cents)
                 SELECT case_code, {day_decided}, SUM(COALESCE(spent, amount)) FROM requests
                 WHERE decided_at IS NOT NULL GROUP BY case_code, {day_decided};
             COMMIT;",
            chain.seq, chain.prev
        ),
    )
    .await;
    put_triggers_back(db, kept).await;
    // Statistics as a running PostgreSQL's autovacuum would have them after ten years;
    // Passage never runs ANALYZE on SQLite, so neither does this.
    match db.engine() {
        Engine::Sqlite => exec(db, "PRAGMA wal_checkpoint(TRUNCATE)").await,
        Engine::Postgres => exec(db, "ANALYZE").await,
    }
    println!(
        "generated {} transfers, {} requests, {} cases, {} donations, {} audit events in {:.0} s",
        size.transfers,
        size.requests,
        size.cases,
        size.donations,
        chain.seq,
        started.elapsed().as_secs_f64()
    );
}

/// Runs a command and reads, from `/proc` every 20 ms while it runs, its peak resident
/// memory (`VmHWM`, what `/usr/bin/time -v` calls maximum RSS) and the peak of its
/// anonymous part (`RssAnon`: the heap, without the pages of the SQLite file it reads
/// through its memory map, which the kernel counts in the RSS but can drop at will).
/// Wall time, peak RSS and peak anonymous RSS, in seconds and KiB.
fn timed(cmd: &mut Command) -> (f64, u64, u64) {
    let started = Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the release binary runs");
    let status_of = format!("/proc/{}/status", child.id());
    let field = |status: &str, name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    let (mut hwm, mut anon) = (0, 0);
    let status = loop {
        if let Ok(status) = std::fs::read_to_string(&status_of) {
            hwm = hwm.max(field(&status, "VmHWM:"));
            anon = anon.max(field(&status, "RssAnon:"));
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let wall = started.elapsed().as_secs_f64();
    let mut stderr = String::new();
    let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr);
    assert!(status.success(), "{:?} failed: {stderr}", cmd.get_args());
    (wall, hwm, anon)
}

fn measure(engine: &str, url: &str, dir: &Path) {
    let passage = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_passage"));
        cmd.args(args)
            .env("PASSAGE_DATABASE_URL", url)
            .env("PASSAGE_LOG", "warn");
        cmd
    };
    let mut rows = Vec::new();
    for (what, args) in [
        ("ledger check", vec!["ledger", "check"]),
        ("audit verify", vec!["audit", "verify"]),
    ] {
        let (s, kb, anon) = timed(&mut passage(&args));
        rows.push((what.to_string(), s, kb, anon, 0));
    }
    for format in ["hledger", "beancount", "csv"] {
        let out = dir.join(format!("export.{format}"));
        let (s, kb, anon) = timed(&mut passage(&[
            "export",
            "--format",
            format,
            "--output",
            out.to_str().unwrap(),
        ]));
        let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        let _ = std::fs::remove_file(&out);
        rows.push((format!("export --format {format}"), s, kb, anon, bytes));
    }
    for (what, s, kb, anon, bytes) in rows {
        println!(
            "| {engine} | passage {what} | {s:.1} | {} | {} |{}",
            kb / 1024,
            anon / 1024,
            if bytes > 0 {
                format!(" {} MiB written", bytes / (1 << 20))
            } else {
                String::new()
            }
        );
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --all-targets` asks benches to list or self-test; nothing to do.
    }
    let transfers: usize = std::env::var("HISTORY_TRANSFERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000);
    let size = Size::of(transfers);
    let engines = std::env::var("HISTORY_ENGINES").unwrap_or_else(|_| "sqlite,postgres".into());
    let measuring = std::env::var("HISTORY_MEASURE").map_or(true, |v| v != "0");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/history");
    std::fs::create_dir_all(&dir).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut measured = Vec::new();
    if engines.contains("sqlite") {
        let path = dir.join(format!("passage-{transfers}.db"));
        if !path.exists() {
            let partial = dir.join("generating.db");
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", partial.display()));
            }
            runtime.block_on(async {
                let db = Db::connect(&format!("sqlite://{}", partial.display()), 1)
                    .await
                    .expect("open the SQLite file");
                generate(&db, size).await;
                db.close().await;
            });
            std::fs::rename(&partial, &path).unwrap();
        }
        let size_mib = std::fs::metadata(&path).unwrap().len() >> 20;
        println!("SQLite: {} ({size_mib} MiB)", path.display());
        measured.push(("SQLite", format!("sqlite://{}", path.display())));
    }
    if engines.contains("postgres") {
        let admin_url = std::env::var("PASSAGE_BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("passage_history_{transfers}");
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&name);
        runtime.block_on(async {
            let mut admin = sqlx::PgConnection::connect(&admin_url)
                .await
                .expect("PostgreSQL at PASSAGE_BENCH_POSTGRES_URL");
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(&name)
                    .fetch_one(&mut admin)
                    .await
                    .unwrap();
            if !exists {
                let partial = format!("{name}_generating");
                sqlx::query(&format!("DROP DATABASE IF EXISTS {partial} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                sqlx::query(&format!("CREATE DATABASE {partial}"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                let mut partial_url = url.clone();
                partial_url.set_path(&partial);
                let db = Db::connect(partial_url.as_str(), 1).await.unwrap();
                generate(&db, size).await;
                db.close().await;
                sqlx::query(&format!("ALTER DATABASE {partial} RENAME TO {name}"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
            }
            let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size($1)")
                .bind(&name)
                .fetch_one(&mut admin)
                .await
                .unwrap();
            println!("PostgreSQL: database {name} ({} MiB)", bytes >> 20);
        });
        measured.push(("PostgreSQL", url.to_string()));
    }
    if !measuring {
        return;
    }
    println!(
        "{} transfers, {} requests, {} cases, {} organisations, {} staff, {} donations; release build, {}",
        size.transfers,
        size.requests,
        size.cases,
        size.orgs,
        size.users,
        size.donations,
        Utc::now().format("%Y-%m-%d")
    );
    println!("| engine | command | seconds | peak RSS MiB | of it anonymous (heap) MiB | |");
    println!("|---|---|---|---|---|---|");
    for (engine, url) in measured {
        measure(engine, &url, &dir);
    }
}
