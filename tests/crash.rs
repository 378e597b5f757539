//! Crash safety: the real binary under load from several clients, killed with SIGKILL,
//! started again. What a client saw acknowledged is there; what it did not see is either
//! whole or absent (its retry with the same Idempotency-Key makes it whole exactly once);
//! the books balance, and `passage audit verify` and `passage ledger check` pass.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::TestDb;
use common::server::{Server, passage, run};
use serde_json::{Value, json};

const CLIENTS: usize = 8;
/// The server is killed once clients have seen this many answers.
const ACKS_BEFORE_KILL: usize = 150;
const PASSWORD: &str = "correct horse battery staple";

/// One money-moving call a client made: its key, its body, and the answer if it got one.
#[derive(Debug, Clone)]
struct Call {
    key: String,
    body: Value,
    answer: Option<Value>,
}

/// What one client did: its submissions and the receipts it sent for some of them.
#[derive(Debug, Default)]
struct Log {
    submissions: Vec<Call>,
    /// The request's id and the receipt call.
    receipts: Vec<(String, Call)>,
}

fn cents(v: &Value) -> i64 {
    let d: rust_decimal::Decimal = v.as_str().expect("an amount").parse().expect("a decimal");
    (d * rust_decimal::Decimal::ONE_HUNDRED)
        .try_into()
        .expect("whole cents")
}

fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

async fn post(
    http: &reqwest::Client,
    url: String,
    token: &str,
    key: Option<&str>,
    body: &Value,
) -> Result<(u16, Value), reqwest::Error> {
    let mut r = http.post(url).bearer_auth(token).json(body);
    if let Some(key) = key {
        r = r.header("Idempotency-Key", key);
    }
    let res = r.send().await?;
    let status = res.status().as_u16();
    // A body cut off by the kill is no acknowledgement either.
    let body = res.json().await?;
    Ok((status, body))
}

async fn login(http: &reqwest::Client, base: &str, email: &str) -> String {
    let (s, body) = post(
        http,
        format!("{base}/api/v1/auth/login"),
        "",
        None,
        &json!({"email": email, "password": PASSWORD}),
    )
    .await
    .expect("sign in");
    assert_eq!(s, 200, "{body}");
    body["token"].as_str().unwrap().to_string()
}

/// One client: submits approvable requests one after the other and settles every third
/// one it sees approved, until the server stops answering.
async fn client(
    http: reqwest::Client,
    base: String,
    token: String,
    code: String,
    n: usize,
    acks: Arc<AtomicUsize>,
) -> Log {
    let mut log = Log::default();
    // The server runs on the real clock: needed today (UTC), within its window.
    let today = chrono::Utc::now().date_naive().to_string();
    for i in 0.. {
        let amount = 500 + ((n * 7919 + i * 104_729) % 5500) as i64;
        let call = Call {
            key: format!("crash-{n}-{i}"),
            body: json!({"case_code": code, "category": "food", "amount": money(amount),
                         "needed_by": today, "urgent": false}),
            answer: None,
        };
        let answer = post(
            &http,
            format!("{base}/api/v1/requests"),
            &token,
            Some(&call.key),
            &call.body,
        )
        .await;
        log.submissions.push(call);
        let (status, body) = match answer {
            Ok(a) => a,
            Err(_) => return log,
        };
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["status"], "approved", "{body}");
        acks.fetch_add(1, Ordering::SeqCst);
        let id = body["id"].as_str().unwrap().to_string();
        log.submissions.last_mut().unwrap().answer = Some(body);
        if i % 3 == 2 {
            let receipt = Call {
                key: format!("crash-receipt-{n}-{i}"),
                body: json!({"amount": money(amount - 100), "reference": format!("RM-{n}-{i}")}),
                answer: None,
            };
            let answer = post(
                &http,
                format!("{base}/api/v1/requests/{id}/receipt"),
                &token,
                Some(&receipt.key),
                &receipt.body,
            )
            .await;
            log.receipts.push((id, receipt));
            let (status, body) = match answer {
                Ok(a) => a,
                Err(_) => return log,
            };
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["status"], "settled", "{body}");
            acks.fetch_add(1, Ordering::SeqCst);
            log.receipts.last_mut().unwrap().1.answer = Some(body);
        }
    }
    unreachable!("the loop ends when the server stops answering")
}

async fn sigkill_under_load_loses_nothing_acknowledged_and_leaves_nothing_half_done(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let url = t.url.clone();
    let cli = |args: &[&str], stdin: Option<&str>| run(passage(&url, dir.path()).args(args), stdin);
    let org_a = cli(
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
    let org_b = cli(
        &[
            "org",
            "add",
            "--name",
            "Refuge B",
            "--type",
            "youth",
            "--province",
            "ON",
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
    for (i, org) in [&org_a, &org_b, &org_a, &org_b].iter().enumerate() {
        cli(
            &[
                "user",
                "add",
                "--email",
                &format!("cw{i}@example.org"),
                "--roles",
                "caseworker",
                "--org",
                org,
                "--password-stdin",
            ],
            Some(&pw),
        );
    }

    // A case cap that never stands in the way of the load (the default stops a case at
    // 1000.00 a week), put in force from the server's shell as a one-treasurer fund would.
    let policy = dir.path().join("policy.json");
    std::fs::write(
        &policy,
        json!({"case_auto_cap": {"amount": "100000.00", "days": 7}}).to_string(),
    )
    .unwrap();
    let applied = cli(&["policy", "apply", policy.to_str().unwrap()], None);
    assert!(
        applied.contains("policy version 2 is in force"),
        "{applied}"
    );

    let server = Server::start(&url, dir.path(), &[]);
    let base = server.base.clone();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let tr = login(&http, &base, "tr@example.org").await;
    let mut caseworkers = Vec::new();
    for i in 0..4 {
        caseworkers.push(login(&http, &base, &format!("cw{i}@example.org")).await);
    }
    // Enough money.
    let (s, donor) = post(
        &http,
        format!("{base}/api/v1/donors"),
        &tr,
        None,
        &json!({"name": "Fondation Exemple", "email": "dons@example.org", "language": "fr"}),
    )
    .await
    .unwrap();
    assert_eq!(s, 201, "{donor}");
    for k in 0..3 {
        let (s, b) = post(
            &http,
            format!("{base}/api/v1/donations"),
            &tr,
            Some(&format!("gift-{k}")),
            &json!({"donor_id": donor["id"], "amount": "100000.00",
                    "received_on": chrono::Utc::now().date_naive().to_string()}),
        )
        .await
        .unwrap();
        assert_eq!(s, 201, "{b}");
    }
    let mut codes = Vec::new();
    for n in 0..CLIENTS {
        let (s, b) = post(
            &http,
            format!("{base}/api/v1/cases"),
            &caseworkers[n % 4],
            None,
            &json!({"province": if n % 2 == 0 { "QC" } else { "ON" }}),
        )
        .await
        .unwrap();
        assert_eq!(s, 201, "{b}");
        codes.push(b["code"].as_str().unwrap().to_string());
    }

    // The load, and the kill in the middle of it.
    let acks = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for (n, code) in codes.iter().enumerate() {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        clients.push(tokio::spawn(client(
            http,
            base.clone(),
            caseworkers[n % 4].clone(),
            code.clone(),
            n,
            acks.clone(),
        )));
    }
    let started = std::time::Instant::now();
    while acks.load(Ordering::SeqCst) < ACKS_BEFORE_KILL {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the load is too slow"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.kill();
    let mut logs = Vec::new();
    for c in clients {
        logs.push(c.await.expect("a client"));
    }
    let unacked = logs
        .iter()
        .map(|l| {
            l.submissions.iter().filter(|c| c.answer.is_none()).count()
                + l.receipts
                    .iter()
                    .filter(|(_, c)| c.answer.is_none())
                    .count()
        })
        .sum::<usize>();
    assert!(
        unacked > 0,
        "the kill came while no call was in flight: nothing was tested"
    );
    eprintln!(
        "killed after {} acknowledged calls, {unacked} in flight",
        acks.load(Ordering::SeqCst)
    );

    // Started again on the same database, the state the kill left is whole: every
    // request with its hold and audit event, the ledger and the chain intact.
    let server = Server::start(&url, dir.path(), &[]);
    let after_kill = common::books::check(&t.db).await;
    let acked = logs
        .iter()
        .map(|l| l.submissions.iter().filter(|c| c.answer.is_some()).count())
        .sum::<usize>();
    let sent = logs.iter().map(|l| l.submissions.len()).sum::<usize>();
    assert!(
        (acked..=sent).contains(&(after_kill.requests as usize)),
        "{} requests after the kill, {acked} acknowledged, {sent} sent",
        after_kill.requests
    );
    // What was acknowledged is there as it was told.
    let base = server.base.clone();
    for log in &logs {
        for call in log.submissions.iter().filter_map(|c| c.answer.as_ref()) {
            let id = call["id"].as_str().unwrap();
            let res = http
                .get(format!("{base}/api/v1/requests/{id}"))
                .bearer_auth(&tr)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "acknowledged request {id} is lost");
            let now: Value = res.json().await.unwrap();
            assert_eq!(now["amount"], call["amount"]);
            assert!(
                matches!(now["status"].as_str(), Some("approved" | "settled")),
                "{now}"
            );
            let receipted = log
                .receipts
                .iter()
                .any(|(r, c)| r == id && c.answer.is_some());
            if receipted {
                assert_eq!(
                    now["status"], "settled",
                    "an acknowledged receipt is lost: {now}"
                );
            }
        }
    }
    // What was not acknowledged, retried with its key, is made once (or was made once).
    let mut held = 0;
    let mut spent = 0;
    let mut ids = HashSet::new();
    for (n, log) in logs.iter().enumerate() {
        let token = &caseworkers[n % 4];
        for call in &log.submissions {
            let body = match &call.answer {
                Some(body) => body.clone(),
                None => {
                    let (s, body) = post(
                        &http,
                        format!("{base}/api/v1/requests"),
                        token,
                        Some(&call.key),
                        &call.body,
                    )
                    .await
                    .unwrap();
                    assert_eq!(s, 201, "{body}");
                    body
                }
            };
            assert_eq!(body["status"], "approved", "{body}");
            assert!(
                ids.insert(body["id"].as_str().unwrap().to_string()),
                "one key, two requests"
            );
            held += cents(&body["amount"]);
        }
        for (id, call) in &log.receipts {
            if call.answer.is_none() {
                let (s, body) = post(
                    &http,
                    format!("{base}/api/v1/requests/{id}/receipt"),
                    token,
                    Some(&call.key),
                    &call.body,
                )
                .await
                .unwrap();
                assert_eq!(s, 200, "{body}");
                assert_eq!(body["status"], "settled", "{body}");
            }
            let hold: i64 = log
                .submissions
                .iter()
                .filter_map(|c| c.answer.as_ref())
                .find(|a| a["id"] == id.as_str())
                .map(|a| cents(&a["amount"]))
                .unwrap_or(0);
            held -= hold;
            spent += cents(&call.body["amount"]);
        }
    }
    let (s, fund) = {
        let res = http
            .get(format!("{base}/api/v1/fund"))
            .bearer_auth(&tr)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json::<Value>().await.unwrap())
    };
    assert_eq!(s, 200, "{fund}");
    assert_eq!(cents(&fund["donated"]), 30_000_000);
    assert_eq!(cents(&fund["held"]), held, "{fund}");
    assert_eq!(cents(&fund["spent"]), spent, "{fund}");
    assert_eq!(
        cents(&fund["available"]) + cents(&fund["held"]) + cents(&fund["spent"]),
        cents(&fund["donated"]),
        "{fund}"
    );
    let books = common::books::check(&t.db).await;
    assert_eq!(
        books.requests as usize,
        ids.len(),
        "a request no client asked for"
    );
    assert_eq!(books.held, held);
    assert_eq!(books.spent, spent);
    server.stop();

    // The commands an operator runs after a crash agree.
    let audit = run(passage(&url, dir.path()).args(["audit", "verify"]), None);
    assert!(audit.starts_with("audit chain ok"), "{audit}");
    let ledger = run(passage(&url, dir.path()).args(["ledger", "check"]), None);
    assert!(ledger.contains("ledger ok"), "{ledger}");
}

on_both_engines!(sigkill_under_load_loses_nothing_acknowledged_and_leaves_nothing_half_done);
