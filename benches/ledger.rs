//! Ledger throughput beside the engine's raw durable insert rate, on the same machine in
//! the same run. `cargo bench --bench ledger`; see docs/benchmarks.md.
//!
//! Settings: PASSAGE_BENCH_SECONDS (default 5) per measurement, PASSAGE_BENCH_POSTGRES_URL
//! (default postgres://postgres@127.0.0.1:5432/postgres; a scratch database is created on
//! it and dropped), PASSAGE_BENCH_DIR (default ./bench-data, for the SQLite files: put it
//! on the disk you want measured).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use passage::audit::Actor;
use passage::ledger::{self, DONATIONS, FUND, NewTransfer, Outcome, SPENT, TransferSpec};
use passage::on_db;
use passage::store::Db;
use sqlx::Connection;

fn seconds() -> Duration {
    let s = std::env::var("PASSAGE_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    Duration::from_secs(s)
}

/// Runs `clients` loops of `op` for the measuring time; returns operations per second.
async fn measure<F, Fut>(clients: usize, op: F) -> f64
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = u64> + Send,
{
    let op = Arc::new(op);
    let done = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let stop_at = Instant::now() + seconds();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (op, done, next) = (op.clone(), done.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < stop_at {
                let n = next.fetch_add(1, Ordering::Relaxed);
                done.fetch_add(op(n).await, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

async fn raw_inserts(db: &Db, clients: usize) -> f64 {
    on_db!(db, p => sqlx::query("DROP TABLE IF EXISTS bench_raw").execute(p).await.map(|_| ()))
        .unwrap();
    on_db!(db, p => sqlx::query("CREATE TABLE bench_raw (id BIGINT PRIMARY KEY, amount BIGINT NOT NULL)")
        .execute(p).await.map(|_| ())).unwrap();
    let db = db.clone();
    measure(clients, move |n| {
        let db = db.clone();
        async move {
            on_db!(&db, p => sqlx::query("INSERT INTO bench_raw (id, amount) VALUES ($1, $2)")
                .bind(n as i64)
                .bind(100_i64)
                .execute(p)
                .await
                .map(|_| ()))
            .unwrap();
            1
        }
    })
    .await
}

fn hold(id: String, expires: chrono::DateTime<Utc>) -> NewTransfer {
    NewTransfer {
        id,
        spec: TransferSpec::Pending {
            debit: FUND.into(),
            credit: SPENT.into(),
            amount: 18_900,
            expires_at: expires,
        },
        code: "disbursement".into(),
        reference: None,
    }
}

fn post(id: String, hold_id: String) -> NewTransfer {
    NewTransfer {
        id,
        spec: TransferSpec::Post {
            pending_id: hold_id,
            amount: Some(17_500),
        },
        code: "receipt".into(),
        reference: None,
    }
}

/// Each client makes a hold then posts it: two durable transactions per pair.
async fn ledger_pairs(db: &Db, clients: usize, tag: &str) -> f64 {
    let db = db.clone();
    let tag = tag.to_string();
    measure(clients, move |n| {
        let (db, tag) = (db.clone(), tag.clone());
        async move {
            let now = Utc::now();
            let h = format!("{tag}-h{n}");
            let made = ledger::transfer(
                &db,
                now,
                &Actor::system(),
                &hold(h.clone(), now + chrono::Duration::hours(72)),
            )
            .await
            .unwrap();
            assert!(matches!(made, Outcome::Created(_)), "{made:?}");
            let made =
                ledger::transfer(&db, now, &Actor::system(), &post(format!("{tag}-p{n}"), h))
                    .await
                    .unwrap();
            assert!(matches!(made, Outcome::Created(_)), "{made:?}");
            2
        }
    })
    .await
}

/// Each client sends batches of 32 hold+post pairs, one durable commit per batch.
async fn ledger_batches(db: &Db, clients: usize, tag: &str) -> f64 {
    let db = db.clone();
    let tag = tag.to_string();
    measure(clients, move |n| {
        let (db, tag) = (db.clone(), tag.clone());
        async move {
            let now = Utc::now();
            let mut batch = Vec::new();
            for i in 0..32 {
                let h = format!("{tag}-bh{n}-{i}");
                batch.push(hold(h.clone(), now + chrono::Duration::hours(72)));
                batch.push(post(format!("{tag}-bp{n}-{i}"), h));
            }
            let outcomes = ledger::transfer_batch(&db, now, &Actor::system(), &batch)
                .await
                .unwrap();
            assert!(outcomes.iter().all(|o| matches!(o, Outcome::Created(_))));
            batch.len() as u64
        }
    })
    .await
}

async fn bench_engine(name: &str, db: &Db) {
    let fund = NewTransfer {
        id: "bench-donation".into(),
        spec: TransferSpec::Single {
            debit: DONATIONS.into(),
            credit: FUND.into(),
            amount: 9_000_000_000_000,
        },
        code: "donation".into(),
        reference: None,
    };
    // The ledger caps one amount nowhere; the fund only needs to be deep enough.
    ledger::transfer(db, Utc::now(), &Actor::system(), &fund)
        .await
        .unwrap();
    for clients in [1, 16] {
        let raw = raw_inserts(db, clients).await;
        let pairs = ledger_pairs(db, clients, &format!("c{clients}")).await;
        let batched = ledger_batches(db, clients, &format!("c{clients}")).await;
        println!(
            "| {name} | {clients} | {raw:.0} | {pairs:.0} | {:.2} | {batched:.0} | {:.2} |",
            pairs / raw,
            batched / raw
        );
    }
    let check = ledger::check(db).await.unwrap();
    assert!(check.ok, "{:?}", check.problems);
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --all-targets` asks benches to list or self-test; nothing to do.
    }
    println!(
        "ledger throughput, {} s per figure, {}",
        seconds().as_secs(),
        Utc::now().format("%Y-%m-%d")
    );
    println!(
        "| engine | clients | raw durable inserts/s | ledger transfers/s (hold, post: one commit each) | ratio | batched transfers/s (64 per commit) | ratio |"
    );
    println!("|---|---|---|---|---|---|---|");

    let dir = std::env::var("PASSAGE_BENCH_DIR").unwrap_or_else(|_| "bench-data".into());
    std::fs::create_dir_all(&dir).unwrap();
    let file = format!("{dir}/ledger-bench.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{file}{suffix}"));
    }
    let sqlite = Db::connect(&format!("sqlite://{file}"), 16).await.unwrap();
    sqlite.migrate().await.unwrap();
    bench_engine("SQLite (WAL, synchronous=FULL)", &sqlite).await;
    sqlite.close().await;

    let admin_url = std::env::var("PASSAGE_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await else {
        println!("PostgreSQL at {admin_url} cannot be reached: its rows are missing");
        return;
    };
    let name = format!("passage_bench_{}", std::process::id());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);
    let pg = Db::connect(url.as_str(), 32).await.unwrap();
    pg.migrate().await.unwrap();
    bench_engine("PostgreSQL (synchronous_commit=on)", &pg).await;
    pg.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}
