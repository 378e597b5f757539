//! A donor report over a ledger of 1,000,000 transfers, beside `hledger bal` on the same
//! ledger exported: `cargo bench --bench report`.
//!
//! 1. Generates (once, then reuses) a SQLite ledger in `target/bench-report/passage.db`:
//!    20,000 gifts and 490,000 requests over 2025, each a hold and its settlement, on
//!    100,000 cases in every province: 1,000,000 transfers whose cached balances match.
//! 2. Times `passage reports preview 2025-01-01 2025-12-31` (the whole year: every
//!    transfer) with `/usr/bin/time -v` for wall time and peak memory (maximum RSS).
//! 3. Exports the ledger with `passage export --format hledger` and times
//!    `hledger -f ... bal -N` the same way, and checks the spent total agrees.
//!
//! `BENCH_TRANSFERS` sets another size (even, at least 10,000).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use passage::store::Db;

const PROVINCES: [&str; 13] = [
    "AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT",
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

fn ts(t: DateTime<Utc>) -> String {
    // What sqlx writes for a DateTime<Utc> on SQLite, so range queries compare alike.
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

async fn exec(db: &Db, sql: &str) {
    passage::on_db!(db, p => sqlx::raw_sql(sql).execute(p).await.map(|_| ()))
        .unwrap_or_else(|e| panic!("{e}: {}", &sql[..sql.len().min(300)]));
}

async fn generate(path: &Path, transfers: usize) {
    let url = format!("sqlite://{}", path.display());
    let db = Db::connect(&url, 1).await.expect("open the bench database");
    db.migrate().await.expect("migrate");
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    let year = 365 * 86_400_i64;
    let gifts = transfers / 50;
    let requests = (transfers - gifts) / 2;
    let cases = (requests / 5).max(1);
    exec(
        &db,
        &format!(
            "BEGIN;
             INSERT INTO orgs (id, name, type, province, created_at) VALUES ('org', 'Bench coalition', 'coalition', 'QC', '{0}');
             INSERT INTO users (id, email, language, org_id, password_hash, active, created_at)
                 VALUES ('cw', 'cw@example.org', 'en', 'org', 'x', TRUE, '{0}');
             INSERT INTO user_roles (user_id, role) VALUES ('cw', 'caseworker');
             INSERT INTO policies (version, document, created_by, created_at)
                 SELECT 1, '{{}}', 'bench', '{0}' WHERE NOT EXISTS (SELECT 1 FROM policies WHERE version = 1);
             INSERT INTO donors (id, name, email, language, created_at) VALUES ('donor', 'Bench donor', 'donor@example.org', 'en', '{0}');
             COMMIT;",
            ts(start)
        ),
    )
    .await;
    let chunk = 500;
    let mut sql = String::new();
    let mut funded: i64 = 0;
    // Gifts first in each stretch of time, so the fund never goes below zero.
    for g in 0..gifts {
        let at = start + Duration::seconds(year * g as i64 / gifts as i64);
        let amount = 2_000_000_i64; // 20,000.00
        funded += amount;
        if g % chunk == 0 {
            sql.push_str(";\nINSERT INTO transfers (id, kind, debit_account_id, credit_account_id, amount, code, reference, request_hash, created_at) VALUES ");
        } else {
            sql.push(',');
        }
        sql.push_str(&format!(
            "('donation:{g}', 'single', 'donations', 'fund', {amount}, 'donation', 'd{g}', 'x', '{}')",
            ts(at)
        ));
    }
    sql.push_str(";\nINSERT INTO donations (id, donor_id, amount, received_on, kind, transfer_id, created_at) SELECT reference, 'donor', amount, substr(created_at, 1, 10), 'cash', id, created_at FROM transfers WHERE kind = 'single'");
    exec(&db, &format!("BEGIN{sql};\nCOMMIT;")).await;
    sql.clear();
    for c in 0..cases {
        if c % chunk == 0 {
            sql.push_str(
                ";\nINSERT INTO cases (code, org_id, province, status, opened_at) VALUES ",
            );
        } else {
            sql.push(',');
        }
        sql.push_str(&format!(
            "('C-{c:07}', 'org', '{}', 'open', '{}')",
            PROVINCES[c % PROVINCES.len()],
            ts(start)
        ));
    }
    exec(&db, &format!("BEGIN{sql};\nCOMMIT;")).await;
    sql.clear();
    let mut spent: i64 = 0;
    let mut holds = String::new();
    let mut posts = String::new();
    let mut reqs = String::new();
    for r in 0..requests {
        let at = start + Duration::seconds(year * r as i64 / requests as i64 + 60);
        let settled = at + Duration::hours(2);
        let category = CATEGORIES[(r * 7 + r / 13) % CATEGORIES.len()];
        let amount = 2_000 + ((r * 7919) % 40_000) as i64;
        let paid = amount - (r % 3) as i64 * 100;
        spent += paid;
        let case = format!("C-{:07}", (r * 31) % cases);
        let first = r % chunk == 0;
        let sep = |s: &mut String, head: &str| {
            if first {
                s.push_str(head);
            } else {
                s.push(',');
            }
        };
        sep(
            &mut holds,
            ";\nINSERT INTO transfers (id, kind, debit_account_id, credit_account_id, amount, expires_at, code, reference, request_hash, created_at) VALUES ",
        );
        holds.push_str(&format!(
            "('hold:r{r}', 'pending', 'fund', 'spent', {amount}, '{}', 'disbursement', 'r{r}', 'x', '{}')",
            ts(at + Duration::hours(72)),
            ts(at)
        ));
        sep(
            &mut posts,
            ";\nINSERT INTO transfers (id, kind, debit_account_id, credit_account_id, amount, pending_id, code, reference, request_hash, created_at) VALUES ",
        );
        posts.push_str(&format!(
            "('receipt:r{r}', 'post', 'fund', 'spent', {paid}, 'hold:r{r}', 'receipt', 'r{r}', 'x', '{}')",
            ts(settled)
        ));
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
        sep(
            &mut reqs,
            ";\nINSERT INTO requests (id, case_code, org_id, requested_by, category, amount, needed_by, urgent, status, rule, policy_version, automatic, hold_id, settlement_id, spent, nights, scope, created_at, decided_at, closed_at) VALUES ",
        );
        reqs.push_str(&format!(
            "('r{r}', '{case}', 'org', 'cw', '{category}', {amount}, '2026-01-01', FALSE, 'settled', 'auto_approve.{category}', 1, TRUE, 'hold:r{r}', 'receipt:r{r}', {paid}, {nights}, {scope}, '{}', '{}', '{}')",
            ts(at),
            ts(at + Duration::seconds((r % 600) as i64)),
            ts(settled)
        ));
        if r % 20_000 == 19_999 || r + 1 == requests {
            exec(&db, &format!("BEGIN{holds}{posts}{reqs};\nCOMMIT;")).await;
            holds.clear();
            posts.clear();
            reqs.clear();
        }
    }
    assert!(spent <= funded, "the generated fund would be overdrawn");
    exec(
        &db,
        &format!(
            "UPDATE accounts SET credits_posted = {funded}, debits_posted = {spent} WHERE id = 'fund';
             UPDATE accounts SET debits_posted = {funded} WHERE id = 'donations';
             UPDATE accounts SET credits_posted = {spent} WHERE id = 'spent';"
        ),
    )
    .await;
    // Everything into the main file: the file is renamed once complete.
    exec(&db, "PRAGMA wal_checkpoint(TRUNCATE)").await;
    db.close().await;
}

/// What `/usr/bin/time -v` measured of a command.
struct Timed {
    /// Wall time, seconds.
    wall: f64,
    /// User and system CPU time, seconds: what the command cost the machine, whatever
    /// else was running on it.
    cpu: f64,
    /// Maximum resident set, KiB.
    rss: u64,
}

/// Runs a command under `/usr/bin/time -v`: its wall time, CPU time and maximum RSS.
fn timed(cmd: &mut Command, stdout: Option<&Path>) -> Timed {
    let mut timed = Command::new("/usr/bin/time");
    timed.arg("-v").arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    if let Some(path) = stdout {
        timed.stdout(std::fs::File::create(path).unwrap());
    } else {
        timed.stdout(std::process::Stdio::null());
    }
    let started = Instant::now();
    let out = timed
        .output()
        .expect("/usr/bin/time runs (apt-get install time)");
    let wall = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let field = |name: &str| -> Option<&str> {
        stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(str::trim)
    };
    let seconds = |name: &str| -> f64 { field(name).and_then(|v| v.parse().ok()).unwrap_or(0.0) };
    Timed {
        wall,
        cpu: seconds("User time (seconds): ") + seconds("System time (seconds): "),
        rss: field("Maximum resident set size (kbytes): ")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    }
}

fn main() {
    let transfers: usize = std::env::var("BENCH_TRANSFERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-report");
    std::fs::create_dir_all(&dir).unwrap();
    let db_path = dir.join(format!("passage-{transfers}.db"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if !db_path.exists() {
        let partial = dir.join("generating.db");
        let _ = std::fs::remove_file(&partial);
        let started = Instant::now();
        runtime.block_on(generate(&partial, transfers));
        std::fs::rename(&partial, &db_path).unwrap();
        println!(
            "generated {transfers} transfers in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let url = format!("sqlite://{}", db_path.display());
    let passage = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_passage"));
        cmd.args(args)
            .env("PASSAGE_DATABASE_URL", &url)
            .env("PASSAGE_LOG", "warn");
        cmd
    };
    let summary = dir.join("summary.json");
    let report = timed(
        &mut passage(&["reports", "preview", "2025-01-01", "2025-12-31"]),
        Some(&summary),
    );
    let journal = dir.join("passage.journal");
    let journal_arg = journal.display().to_string();
    let export = timed(
        &mut passage(&["export", "--format", "hledger", "--output", &journal_arg]),
        None,
    );
    let balances = dir.join("hledger-bal.txt");
    let hledger = timed(
        Command::new("hledger").args([
            "-f",
            &journal_arg,
            "bal",
            "-N",
            "--flat",
            "-b",
            "2025-01-01",
            "-e",
            "2026-01-01",
        ]),
        Some(&balances),
    );
    // The report's spending is the journal's expenses, to the cent.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let bal = std::fs::read_to_string(&balances).unwrap();
    let expenses: rust_decimal::Decimal = bal
        .lines()
        .filter(|l| l.contains("expenses:spent"))
        .filter_map(|l| l.split_whitespace().next())
        .map(|a| a.replace(',', "").parse::<rust_decimal::Decimal>().unwrap())
        .sum();
    let disbursed: rust_decimal::Decimal = summary["disbursed"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        expenses, disbursed,
        "hledger's expenses and the report's spending"
    );
    println!("transfers: {transfers} (SQLite, release build)");
    let line = |what: &str, t: &Timed| {
        println!(
            "{what:<38} {:>7.2} s wall, {:>7.2} s CPU, peak RSS {} MiB",
            t.wall,
            t.cpu,
            t.rss / 1024
        )
    };
    line("passage reports preview (the year):", &report);
    line("passage export --format hledger:", &export);
    line("hledger bal -N --flat (the year):", &hledger);
    println!(
        "hledger bal / passage reports preview: {:.0} times the wall time, {:.0} times the CPU time",
        hledger.wall / report.wall.max(0.001),
        hledger.cpu / report.cpu.max(0.001)
    );
    println!("spent, by both: {disbursed}");
}
