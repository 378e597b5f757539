//! The same-night path under load, over HTTP, against the real `passage serve` binary:
//! sign in once, then clients submit requests the policy approves on the spot, each
//! waiting for its answer before sending the next. For 1, 16, 64 and 256 clients, on
//! SQLite and on PostgreSQL: requests/s, p50 and p99 latency, the server's peak memory,
//! the CPU time each request cost the server's process and (on PostgreSQL) the database's
//! backends (from /proc: what a busy, shared machine moves less than the throughput);
//! and, in the same run, the engine's raw durable commit rate (one single-row INSERT per
//! commit) on this machine. `cargo bench --bench load`; see docs/benchmarks.md.
//!
//! Then, with readers: while PASSAGE_BENCH_MIXED_WRITERS clients (default 64) keep
//! submitting, PASSAGE_BENCH_READERS clients (default 8; 0 leaves this part out) read,
//! one after the other, a request and a case through the API (`GET /api/v1/requests/{id}`,
//! `GET /api/v1/cases/{code}`) and as pages (`/requests/{id}`, `/cases/{code}`), each its
//! own case of a few requests; the second table gives the readers' p50 and p99 beside the
//! writers'.
//!
//! Settings: PASSAGE_BENCH_SECONDS (default 5) per level and for the readers' run (1 for a
//! quick check that the bench works), PASSAGE_BENCH_CLIENTS (default
//! 1,16,64,256), PASSAGE_BENCH_READERS and PASSAGE_BENCH_MIXED_WRITERS (above),
//! PASSAGE_BENCH_RAW (0 leaves the raw commit rates out, to compare builds quickly),
//! PASSAGE_BENCH_POSTGRES_URL (default
//! postgres://postgres@127.0.0.1:5432/postgres; a scratch database is created on it and
//! dropped), PASSAGE_BENCH_DIR (default ./bench-data, for the SQLite file),
//! PASSAGE_BENCH_SERVER_LOG (a log filter added to the server's, whose log is then shown,
//! e.g. `passage::store::group=debug` for each batch), PASSAGE_BENCH_BINARY (the server
//! binary to run instead of this build's, e.g. an earlier release's, to compare before and
//! after a change in one sitting), PASSAGE_BENCH_HISTORY_SQLITE (a SQLite file, such as
//! the ten years `cargo bench --bench history` makes: a copy of it is benched too, right
//! after the empty database, its rows labelled "SQLite, history") and
//! PASSAGE_BENCH_HISTORY_POSTGRES (the same on PostgreSQL: the name of a database on
//! PASSAGE_BENCH_POSTGRES_URL, copied as a template, e.g. `passage_history_5000000`).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use passage::on_db;
use passage::store::Db;
use serde_json::{Value, json};
use sqlx::Connection;

const PASSWORD: &str = "correct horse battery staple";

fn seconds() -> Duration {
    let s = std::env::var("PASSAGE_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    Duration::from_secs(s)
}

fn levels() -> Vec<usize> {
    std::env::var("PASSAGE_BENCH_CLIENTS")
        .unwrap_or_else(|_| "1,16,64,256".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

fn readers() -> usize {
    setting("PASSAGE_BENCH_READERS", 8)
}

fn mixed_writers() -> usize {
    setting("PASSAGE_BENCH_MIXED_WRITERS", 64)
}

/// The `p` quantile of sorted latencies, in milliseconds.
fn quantile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

/// The server under test: this build's, or `PASSAGE_BENCH_BINARY` (an earlier release's
/// binary, to compare before and after a change on the same machine in one sitting).
fn binary() -> String {
    std::env::var("PASSAGE_BENCH_BINARY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_passage").into())
}

fn passage(database_url: &str, dir: &str) -> Command {
    let mut cmd = Command::new(binary());
    for (key, _) in std::env::vars() {
        if key.starts_with("PASSAGE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("PASSAGE_DATABASE_URL", database_url)
        .env("PASSAGE_MAIL_DIR", format!("{dir}/mail"))
        .env("PASSAGE_LOG", "warn")
        // Signing treasurers in is not what this measures.
        .env("PASSAGE_SECOND_FACTOR", "optional");
    cmd
}

fn cli(database_url: &str, dir: &str, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = passage(database_url, dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "passage {args:?} failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn start(database_url: &str, dir: &str) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    // The server runs on default settings; this lets a run look inside.
    let log = std::env::var("PASSAGE_BENCH_SERVER_LOG");
    let mut child = passage(database_url, dir)
        .arg("serve")
        .env("PASSAGE_BIND", format!("127.0.0.1:{port}"))
        .env(
            "PASSAGE_LOG",
            format!("warn,passage::app=info,{}", log.as_deref().unwrap_or("")),
        )
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("serve starts").unwrap();
        if line.contains("Passage is listening") {
            break;
        }
    }
    let echo = log.is_ok();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if echo {
                eprintln!("server: {line}");
            }
        }
    });
    (child, format!("http://127.0.0.1:{port}"))
}

/// The CPU time a process has used so far (user and system, all its threads), in ms.
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the state, field 3;
    // utime and stime are fields 14 and 15, in clock ticks (USER_HZ, 100 on Linux).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) * 10.0
}

/// Who does the engine's work for the server: on PostgreSQL, the backends connected to the
/// bench's database, by pid ([`cpu_ms`] reads what each has used); none on SQLite, which
/// runs inside the server's process.
async fn database_pids(database_url: &str) -> Vec<u32> {
    if !database_url.starts_with("postgres") {
        return Vec::new();
    }
    let Ok(mut c) = sqlx::PgConnection::connect(database_url).await else {
        return Vec::new();
    };
    let pids: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut c)
    .await
    .unwrap_or_default();
    let _ = c.close().await;
    pids.into_iter()
        .filter_map(|p| u32::try_from(p).ok())
        .collect()
}

/// The server's peak resident memory so far (VmHWM), in MiB.
fn peak_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

async fn post(
    http: &reqwest::Client,
    url: String,
    token: &str,
    key: Option<String>,
    body: Value,
) -> (u16, Value) {
    let mut r = http.post(url).bearer_auth(token).json(&body);
    if let Some(key) = key {
        r = r.header("Idempotency-Key", key);
    }
    let res = r.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Single-row inserts, one commit each, from `clients` connections at once.
async fn raw_commits(db: &Db, clients: usize) -> f64 {
    on_db!(db, p => sqlx::query("DROP TABLE IF EXISTS bench_raw").execute(p).await.map(|_| ()))
        .unwrap();
    on_db!(db, p => sqlx::query("CREATE TABLE bench_raw (id BIGINT PRIMARY KEY, amount BIGINT NOT NULL)")
        .execute(p).await.map(|_| ())).unwrap();
    let next = Arc::new(AtomicU64::new(0));
    let stop_at = Instant::now() + seconds();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (db, next) = (db.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < stop_at {
                let n = next.fetch_add(1, Ordering::Relaxed) as i64;
                on_db!(&db, p => sqlx::query("INSERT INTO bench_raw (id, amount) VALUES ($1, 100)")
                    .bind(n).execute(p).await.map(|_| ()))
                .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    next.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Clients that each submit into their own case, waiting for each answer, until `stop_at`:
/// the latency of every submission, and how many were not approved in `refused`.
fn spawn_writers(
    http: &reqwest::Client,
    base: &str,
    cw: &str,
    cases: &[String],
    tag: &str,
    stop_at: Instant,
    refused: &Arc<AtomicU64>,
) -> Vec<tokio::task::JoinHandle<Vec<Duration>>> {
    let mut tasks = Vec::new();
    for code in cases {
        let (http, base, cw, code, refused, tag) = (
            http.clone(),
            base.to_string(),
            cw.to_string(),
            code.clone(),
            refused.clone(),
            tag.to_string(),
        );
        // The server runs on the real clock: needed today (UTC), within its window.
        let today = chrono::Utc::now().date_naive().to_string();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0_u64;
            while Instant::now() < stop_at {
                i += 1;
                let body = json!({"case_code": code, "category": "food", "amount": "5.00",
                                  "needed_by": today});
                let sent = Instant::now();
                let (s, b) = post(
                    &http,
                    format!("{base}/api/v1/requests"),
                    &cw,
                    Some(format!("{code}-{tag}-{i}")),
                    body,
                )
                .await;
                latencies.push(sent.elapsed());
                if s != 201 || b["status"] != "approved" {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    tasks
}

/// What a reader reads, in turn: a request and a case, through the API and as pages.
#[derive(Clone, Copy)]
enum Read {
    ApiRequest,
    ApiCase,
    RequestPage,
    CasePage,
}

const READS: [Read; 4] = [
    Read::ApiRequest,
    Read::ApiCase,
    Read::RequestPage,
    Read::CasePage,
];

/// Clients that each read their own case and one of its requests until `stop_at`: the
/// latency of every read, and how many did not answer 200 in `failed`.
fn spawn_readers(
    http: &reqwest::Client,
    base: &str,
    cw: &str,
    read: &[(String, String)],
    stop_at: Instant,
    failed: &Arc<AtomicU64>,
) -> Vec<tokio::task::JoinHandle<Vec<Duration>>> {
    let mut tasks = Vec::new();
    for (code, id) in read {
        let (http, base, cw, code, id, failed) = (
            http.clone(),
            base.to_string(),
            cw.to_string(),
            code.clone(),
            id.clone(),
            failed.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut turn = 0_usize;
            while Instant::now() < stop_at {
                let what = READS[turn % READS.len()];
                turn += 1;
                let request = match what {
                    Read::ApiRequest => http
                        .get(format!("{base}/api/v1/requests/{id}"))
                        .bearer_auth(&cw),
                    Read::ApiCase => http
                        .get(format!("{base}/api/v1/cases/{code}"))
                        .bearer_auth(&cw),
                    // The pages take the same token from the session cookie.
                    Read::RequestPage => http
                        .get(format!("{base}/requests/{id}"))
                        .header("Cookie", format!("passage_session={cw}")),
                    Read::CasePage => http
                        .get(format!("{base}/cases/{code}"))
                        .header("Cookie", format!("passage_session={cw}")),
                };
                let sent = Instant::now();
                let res = request.send().await.unwrap();
                let ok = res.status().as_u16() == 200;
                let _ = res.bytes().await;
                latencies.push(sent.elapsed());
                if !ok {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    tasks
}

async fn joined(tasks: Vec<tokio::task::JoinHandle<Vec<Duration>>>) -> Vec<Duration> {
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    all
}

/// The run with readers: writers' and readers' rate and latencies.
struct Mixed {
    writers: usize,
    readers: usize,
    writes_per_second: f64,
    write_p50_ms: f64,
    write_p99_ms: f64,
    refused: u64,
    reads_per_second: f64,
    read_p50_ms: f64,
    read_p99_ms: f64,
    failed: u64,
}

struct Level {
    clients: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    refused: u64,
    peak_mib: f64,
    /// CPU per request, in ms: the server's process, and the engine's backends (PostgreSQL).
    server_cpu_ms: f64,
    database_cpu_ms: f64,
}

async fn bench_engine(engine: &str, database_url: &str, dir: &str) -> Option<Mixed> {
    // The binary under test migrates: an earlier release's must not meet a newer schema.
    cli(database_url, dir, &["migrate"], None);
    let raw = if setting("PASSAGE_BENCH_RAW", 1) == 0 {
        [f64::NAN, f64::NAN]
    } else {
        let db = Db::connect(database_url, 16).await.unwrap();
        let raw = [raw_commits(&db, 1).await, raw_commits(&db, 16).await];
        db.close().await;
        raw
    };

    let org = cli(
        database_url,
        dir,
        &[
            "org",
            "add",
            "--name",
            "Refuge Bench",
            "--type",
            "shelter",
            "--province",
            "QC",
        ],
        None,
    );
    let pw = format!("{PASSWORD}\n");
    cli(
        database_url,
        dir,
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
        database_url,
        dir,
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
    // A case cap that never stands in the way of the load (the default stops a case at
    // 1000.00 a week), put in force from the server's shell as a one-treasurer fund would.
    let policy = std::path::Path::new(dir).join("policy.json");
    std::fs::write(
        &policy,
        json!({"case_auto_cap": {"amount": "100000.00", "days": 7}}).to_string(),
    )
    .unwrap();
    cli(
        database_url,
        dir,
        &["policy", "apply", policy.to_str().unwrap()],
        None,
    );
    let (mut server, base) = start(database_url, dir);
    let pid = server.id();
    let max = levels()
        .into_iter()
        .max()
        .unwrap_or(1)
        .max(if readers() > 0 { mixed_writers() } else { 0 });
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(max)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let login = |email: &'static str| {
        let http = http.clone();
        let url = format!("{base}/api/v1/auth/login");
        async move {
            let (s, b) = post(
                &http,
                url,
                "",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
            assert_eq!(s, 200, "{b}");
            b["token"].as_str().unwrap().to_string()
        }
    };
    let tr = login("tr@example.org").await;
    let cw = login("cw@example.org").await;
    let (s, donor) = post(
        &http,
        format!("{base}/api/v1/donors"),
        &tr,
        None,
        json!({"name": "Fondation Exemple", "email": "dons@example.org", "language": "fr"}),
    )
    .await;
    assert_eq!(s, 201, "{donor}");
    for k in 0..50 {
        let (s, b) = post(
            &http,
            format!("{base}/api/v1/donations"),
            &tr,
            Some(format!("gift-{k}")),
            // The server runs on the real clock: a gift received today (UTC).
            json!({"donor_id": donor["id"], "amount": "100000.00",
                   "received_on": chrono::Utc::now().date_naive().to_string()}),
        )
        .await;
        assert_eq!(s, 201, "{b}");
    }
    let mut cases = Vec::new();
    for _ in 0..max {
        let (s, c) = post(
            &http,
            format!("{base}/api/v1/cases"),
            &cw,
            None,
            json!({"province": "QC"}),
        )
        .await;
        assert_eq!(s, 201, "{c}");
        cases.push(c["code"].as_str().unwrap().to_string());
    }

    // The readers' cases, apart from the writers': a few requests each, so a page stays
    // the same size whatever the writers add.
    let mut read = Vec::new();
    for _ in 0..readers() {
        let (s, c) = post(
            &http,
            format!("{base}/api/v1/cases"),
            &cw,
            None,
            json!({"province": "QC"}),
        )
        .await;
        assert_eq!(s, 201, "{c}");
        let code = c["code"].as_str().unwrap().to_string();
        let mut id = String::new();
        for k in 0..5 {
            let (s, r) = post(
                &http,
                format!("{base}/api/v1/requests"),
                &cw,
                Some(format!("{code}-read-{k}")),
                json!({"case_code": code, "category": "food", "amount": "5.00",
                       "needed_by": chrono::Utc::now().date_naive().to_string()}),
            )
            .await;
            assert_eq!(s, 201, "{r}");
            id = r["id"].as_str().unwrap().to_string();
        }
        read.push((code, id));
    }

    let mut results = Vec::new();
    for clients in levels() {
        let backends = database_pids(database_url).await;
        let database_before: f64 = backends.iter().map(|p| cpu_ms(*p)).sum();
        let server_before = cpu_ms(pid);
        let stop_at = Instant::now() + seconds();
        let started = Instant::now();
        let refused = Arc::new(AtomicU64::new(0));
        let tasks = spawn_writers(
            &http,
            &base,
            &cw,
            &cases[..clients.min(cases.len())],
            &clients.to_string(),
            stop_at,
            &refused,
        );
        let all = joined(tasks).await;
        let elapsed = started.elapsed().as_secs_f64();
        let server_cpu = cpu_ms(pid) - server_before;
        let database_cpu = backends.iter().map(|p| cpu_ms(*p)).sum::<f64>() - database_before;
        let n = all.len().max(1) as f64;
        results.push(Level {
            clients,
            per_second: all.len() as f64 / elapsed,
            p50_ms: quantile_ms(&all, 0.50),
            p99_ms: quantile_ms(&all, 0.99),
            refused: refused.load(Ordering::Relaxed),
            peak_mib: peak_mib(pid),
            server_cpu_ms: server_cpu / n,
            database_cpu_ms: database_cpu / n,
        });
    }

    let mixed = if read.is_empty() {
        None
    } else {
        let writers = mixed_writers().min(cases.len());
        let stop_at = Instant::now() + seconds();
        let started = Instant::now();
        let (refused, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let writing = spawn_writers(
            &http,
            &base,
            &cw,
            &cases[..writers],
            "mixed",
            stop_at,
            &refused,
        );
        let reading = spawn_readers(&http, &base, &cw, &read, stop_at, &failed);
        let (written, reads) = (joined(writing).await, joined(reading).await);
        let elapsed = started.elapsed().as_secs_f64();
        Some(Mixed {
            writers,
            readers: read.len(),
            writes_per_second: written.len() as f64 / elapsed,
            write_p50_ms: quantile_ms(&written, 0.50),
            write_p99_ms: quantile_ms(&written, 0.99),
            refused: refused.load(Ordering::Relaxed),
            reads_per_second: reads.len() as f64 / elapsed,
            read_p50_ms: quantile_ms(&reads, 0.50),
            read_p99_ms: quantile_ms(&reads, 0.99),
            failed: failed.load(Ordering::Relaxed),
        })
    };
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = server.wait();

    let best_raw = raw[0].max(raw[1]);
    for r in results {
        println!(
            "| {engine} | {} | {:.0} | {:.1} | {:.1} | {:.0} | {:.0} (1 conn) / {:.0} (16) | {:.2} / {:.2} | {:.3} / {:.3} |{}",
            r.clients,
            r.per_second,
            r.p50_ms,
            r.p99_ms,
            r.peak_mib,
            raw[0],
            raw[1],
            r.per_second / raw[0],
            r.per_second / best_raw,
            r.server_cpu_ms,
            r.database_cpu_ms,
            if r.refused > 0 {
                format!(" {} not approved!", r.refused)
            } else {
                String::new()
            },
        );
    }
    mixed
}

fn print_mixed(engine: &str, m: &Mixed) {
    let mut warn = String::new();
    if m.refused > 0 {
        warn.push_str(&format!(" {} not approved!", m.refused));
    }
    if m.failed > 0 {
        warn.push_str(&format!(" {} reads not answered 200!", m.failed));
    }
    println!(
        "| {engine} | {} | {:.0} | {:.1} | {:.1} | {} | {:.0} | {:.1} | {:.1} |{warn}",
        m.writers,
        m.writes_per_second,
        m.write_p50_ms,
        m.write_p99_ms,
        m.readers,
        m.reads_per_second,
        m.read_p50_ms,
        m.read_p99_ms,
    );
}

fn print_mixed_header() {
    println!();
    println!(
        "while writers submit, readers read requests and cases (API and pages), {} s",
        seconds().as_secs()
    );
    println!(
        "| engine | writers | writes/s | write p50 ms | write p99 ms | readers | reads/s | read p50 ms | read p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --all-targets` asks benches to list or self-test; nothing to do.
    }
    println!(
        "same-night requests over HTTP, {} s per level, {}",
        seconds().as_secs(),
        chrono::Utc::now().format("%Y-%m-%d")
    );
    println!(
        "| engine | clients | requests/s | p50 ms | p99 ms | server peak MiB | raw durable commits/s | requests/s ÷ raw (1 conn / best) | CPU ms per request (server / PostgreSQL backends) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let dir = std::env::var("PASSAGE_BENCH_DIR").unwrap_or_else(|_| "bench-data".into());
    let dir = std::fs::canonicalize({
        std::fs::create_dir_all(&dir).unwrap();
        &dir
    })
    .unwrap()
    .display()
    .to_string();
    let file = format!("{dir}/load-bench.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{file}{suffix}"));
    }
    let mut mixed = Vec::new();
    if let Some(m) = bench_engine("SQLite", &format!("sqlite://{file}"), &dir).await {
        mixed.push(("SQLite", m));
    }
    if let Ok(history) = std::env::var("PASSAGE_BENCH_HISTORY_SQLITE") {
        // A copy: the bench adds staff, cases and requests, the history stays as made.
        let copy = format!("{dir}/load-history.db");
        std::fs::copy(&history, &copy).expect("PASSAGE_BENCH_HISTORY_SQLITE can be copied");
        if let Some(m) = bench_engine("SQLite, history", &format!("sqlite://{copy}"), &dir).await {
            mixed.push(("SQLite, history", m));
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{copy}{suffix}"));
        }
    }

    let admin_url = std::env::var("PASSAGE_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await else {
        println!("PostgreSQL at {admin_url} cannot be reached: its rows are missing");
        if !mixed.is_empty() {
            print_mixed_header();
        }
        for (engine, m) in &mixed {
            print_mixed(engine, m);
        }
        return;
    };
    let name = format!("passage_load_{}", std::process::id());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);
    if let Some(m) = bench_engine("PostgreSQL", url.as_str(), &dir).await {
        mixed.push(("PostgreSQL", m));
    }
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    if let Ok(history) = std::env::var("PASSAGE_BENCH_HISTORY_POSTGRES") {
        let copy = format!("{name}_history");
        sqlx::query(&format!("CREATE DATABASE {copy} TEMPLATE {history}"))
            .execute(&mut admin)
            .await
            .expect("PASSAGE_BENCH_HISTORY_POSTGRES names a database no one is connected to");
        url.set_path(&copy);
        if let Some(m) = bench_engine("PostgreSQL, history", url.as_str(), &dir).await {
            mixed.push(("PostgreSQL, history", m));
        }
        sqlx::query(&format!("DROP DATABASE {copy} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    if !mixed.is_empty() {
        print_mixed_header();
    }
    for (engine, m) in &mixed {
        print_mixed(engine, m);
    }
}
