//! The real binary: `passage serve` killed in the middle of sending a report and started
//! again (every donor gets exactly one email), and `passage reports send` /
//! `passage reports verify ID` from the command line. SQLite, in a file.

mod common;

use std::process::Stdio;
use std::time::{Duration as StdDuration, Instant};

use common::fund::Fund;
use common::{PASSWORD, TestDb};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

const DONORS: usize = 25;

/// An SMTP server that takes 300 ms over each message and, for a donor's message, says
/// `holding N` (the Nth donor message) before it does; a message is filed only once its
/// 300 ms are over on a live connection (aiosmtpd cancels the handler when the client goes
/// away), as a real server keeps only what it acknowledged. Messages to anyone else (the
/// treasurers' reminders that the scheduler sends on whatever day the test runs) are not
/// counted.
const SLOW_SINK: &str = r#"
import sys, asyncio, threading
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
class Slow(Mailbox):
    n = 0
    async def handle_DATA(self, server, session, envelope):
        if any(r.startswith("donor") for r in envelope.rcpt_tos):
            Slow.n += 1
            print("holding", Slow.n, flush=True)
        await asyncio.sleep(0.3)
        return await super().handle_DATA(server, session, envelope)
controller = Controller(Slow(sys.argv[2]), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
threading.Event().wait()
"#;

fn passage(url: &str, extra: &[(&str, String)]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_passage"));
    for (key, _) in std::env::vars() {
        if key.starts_with("PASSAGE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("PASSAGE_DATABASE_URL", url)
        .env("PASSAGE_LOG", "warn")
        .env("PASSAGE_MAIL_INTERVAL_SECS", "1")
        .env("PASSAGE_MAIL_LEASE_SECS", "30")
        // Not a test of the second factor: the treasurers sign in with their password.
        .env("PASSAGE_SECOND_FACTOR", "optional");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.kill_on_drop(true);
    cmd
}

/// The messages in `maildir` addressed to a donor, by their `To` header. The server runs
/// on the real clock, so its scheduler may also draft the report of whatever month has just
/// ended and remind the treasurers of it: those messages are not the donors' and are not
/// counted (they are checked to go to treasurers only).
fn donor_mail(maildir: &std::path::Path) -> Vec<String> {
    let mut donors = Vec::new();
    for m in common::smtp::read_all(maildir) {
        let to = m
            .lines()
            .find_map(|l| l.strip_prefix("To: "))
            .expect("a To header")
            .to_string();
        if to.starts_with("donor") {
            donors.push(to);
        } else {
            assert!(
                to.starts_with('t') && to.ends_with("@example.org"),
                "mail to someone who is neither a donor nor a treasurer: {to}"
            );
        }
    }
    donors
}

async fn healthy(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + StdDuration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    panic!("passage serve did not answer on {base}");
}

/// A sealed November report and its donors, in a SQLite file the binary then opens.
async fn prepared() -> (TestDb, String) {
    let mut f = Fund::new(TestDb::sqlite().await).await;
    let gift_from = f.donor("Donor 0", "donor0@example.org", "fr").await;
    f.give(&gift_from, "30000.00").await;
    for i in 1..DONORS {
        let lang = if i % 2 == 0 { "fr" } else { "en" };
        let d = f
            .donor(
                &format!("Donor {i}"),
                &format!("donor{i}@example.org"),
                lang,
            )
            .await;
        f.give(&d, &format!("{}.00", 100 + i)).await;
    }
    for _ in 0..5 {
        f.hotel("QC", 2, "150.00").await;
    }
    f.go_to(2026, 12, 2, 9).await;
    let report = f.draft("2026-11-01", "2026-11-30").await;
    let id = report["id"].as_str().unwrap().to_string();
    f.seal(&id).await;
    let db = f.app.stop_keeping_db().await;
    db.db.close().await;
    (db, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_service_killed_in_the_middle_of_a_send_mails_every_donor_exactly_once() {
    let (db, id) = prepared().await;
    let port = common::smtp::free_port();
    let maildir = tempfile::tempdir().unwrap();
    let mut sink = tokio::process::Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(SLOW_SINK)
        .arg(port.to_string())
        .arg(maildir.path().join("box"))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 with aiosmtpd");
    let mut lines = tokio::io::BufReader::new(sink.stdout.take().unwrap()).lines();
    assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("ready"));

    let http_port = common::smtp::free_port();
    let base = format!("http://127.0.0.1:{http_port}");
    let mail_dir = tempfile::tempdir().unwrap();
    let settings = [
        ("PASSAGE_BIND", format!("127.0.0.1:{http_port}")),
        ("PASSAGE_SMTP_URL", format!("smtp://127.0.0.1:{port}")),
        ("PASSAGE_MAIL_DIR", mail_dir.path().display().to_string()),
    ];
    let http = reqwest::Client::new();
    let mut serve = passage(&db.url, &settings).arg("serve").spawn().unwrap();
    healthy(&http, &base).await;
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "t1@example.org", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap();
    let r = http
        .post(format!("{base}/api/v1/reports/{id}/send"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let queued: Value = r.json().await.unwrap();
    assert_eq!(queued["queued"], DONORS);

    // Killed (SIGKILL: no goodbye) while the server holds the third message.
    loop {
        let line = tokio::time::timeout(StdDuration::from_secs(30), lines.next_line())
            .await
            .expect("the SMTP server hears from passage")
            .unwrap()
            .unwrap();
        if line == "holding 3" {
            break;
        }
    }
    serve.kill().await.unwrap();
    let delivered = donor_mail(&maildir.path().join("box").join("new")).len();
    assert!(
        delivered < DONORS,
        "the kill came too late: {delivered} delivered"
    );

    // Started again: the rest goes out, the crashed claims once their lease is over.
    let mut serve = passage(&db.url, &settings).arg("serve").spawn().unwrap();
    healthy(&http, &base).await;
    let deadline = Instant::now() + StdDuration::from_secs(120);
    // Drain the sink's chatter so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    loop {
        let got = donor_mail(&maildir.path().join("box").join("new"));
        if got.len() >= DONORS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {DONORS} emails after the restart",
            got.len()
        );
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
    // Every donor has one; wait until the outbox has nothing left to send (a copy of a
    // message whose claim the kill left behind would still be there), then count.
    let outbox = passage::store::Db::connect(&db.url, 1).await.unwrap();
    loop {
        let unsent: i64 = match &outbox {
            passage::store::Db::Sqlite(p) => {
                sqlx::query_scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
                    .fetch_one(p)
                    .await
                    .unwrap()
            }
            passage::store::Db::Postgres(_) => unreachable!("this test runs on SQLite"),
        };
        if unsent == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{unsent} emails still unsent after the restart"
        );
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
    outbox.close().await;
    let mut per_donor = std::collections::BTreeMap::<String, usize>::new();
    for to in donor_mail(&maildir.path().join("box").join("new")) {
        *per_donor.entry(to).or_default() += 1;
    }
    assert_eq!(per_donor.len(), DONORS, "{per_donor:?}");
    assert!(per_donor.values().all(|n| *n == 1), "{per_donor:?}");
    serve.kill().await.unwrap();
    let _ = sink.kill().await;

    // From the command line: nothing waits to be sent; the report still verifies.
    let out = passage(&db.url, &[])
        .args(["reports", "send"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("no sealed report waits"));
    let out = passage(&db.url, &[])
        .args(["reports", "verify", &id])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("ok: the report still matches the ledger"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cli_sends_unsent_reports_once_and_verify_fails_on_a_changed_ledger() {
    let (db, id) = prepared().await;
    let mail_dir = tempfile::tempdir().unwrap();
    let settings = [("PASSAGE_MAIL_DIR", mail_dir.path().display().to_string())];
    let out = passage(&db.url, &settings)
        .args(["reports", "send"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("report {id}: {DONORS} emails queued")),
        "{stdout}"
    );
    let out = passage(&db.url, &settings)
        .args(["reports", "send"])
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("no sealed report waits"));

    // An intruder edits a settled amount: verification fails, in one line, exit 1.
    let pool = passage::store::Db::connect(&db.url, 1).await.unwrap();
    if let passage::store::Db::Sqlite(p) = &pool {
        sqlx::query("DROP TRIGGER transfers_refuse_update")
            .execute(p)
            .await
            .unwrap();
        sqlx::query("UPDATE transfers SET amount = amount + 100 WHERE kind = 'post'")
            .execute(p)
            .await
            .unwrap();
    }
    pool.close().await;
    let out = passage(&db.url, &settings)
        .args(["reports", "verify", &id])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("passage: report") && stderr.contains("no longer matches"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    let out = passage(&db.url, &settings)
        .args(["reports", "verify", "not-an-id"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
