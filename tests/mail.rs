//! The mail outbox, on both engines, against a real SMTP server (aiosmtpd).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use common::smtp::{SmtpSink, free_port};
use common::{TestApp, TestDb, night, wait_until};
use passage::mail::{self, Mailer, OutgoingMail};
use passage::store::Db;
use passage::write_tx;

const FROM: &str = "Passage <passage@example.org>";

fn mail(key: &str, html: bool) -> OutgoingMail {
    OutgoingMail {
        to: "treasurer@example.org".into(),
        subject: format!("Request waiting: QC-7K4M-X2P9 {key}"),
        text: "A flight for 612.40 waits for a treasurer.".into(),
        html: html.then(|| "<p>A flight for <b>612.40</b> waits for a treasurer.</p>".into()),
        dedupe_key: key.into(),
        headers: Vec::new(),
    }
}

/// Enqueues in a transaction of its own, as a request handler would with its change.
async fn enqueue(db: &Db, at: DateTime<Utc>, m: &OutgoingMail) -> bool {
    let new = write_tx!(db, |tx| -> Result<bool, passage::store::StoreError> async {
        mail::enqueue(tx, at, m).await
    });
    new.expect("the outbox takes the mail")
}

fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.lines().find_map(|l| {
        l.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(": "))
    })
}

async fn enqueued_mail_arrives_once_with_text_and_html(t: TestDb) {
    let sink = SmtpSink::start(free_port()).await;
    let mailer = Mailer::smtp(&sink.url(), FROM).unwrap();
    assert!(enqueue(&t.db, night(), &mail("both", true)).await);
    assert!(enqueue(&t.db, night(), &mail("text-only", false)).await);
    assert_eq!(mail::pending_count(&t.db).await.unwrap(), 2);

    assert_eq!(mail::deliver_due(&t.db, &mailer, night()).await.unwrap(), 2);
    assert_eq!(mail::deliver_due(&t.db, &mailer, night()).await.unwrap(), 0);
    assert_eq!(mail::pending_count(&t.db).await.unwrap(), 0);

    let received = sink.received();
    assert_eq!(received.len(), 2, "{received:#?}");
    let both = received
        .iter()
        .find(|m| m.contains("X2P9 both"))
        .expect("the multipart mail");
    assert_eq!(header(both, "From"), Some("Passage <passage@example.org>"));
    assert_eq!(header(both, "To"), Some("treasurer@example.org"));
    assert_eq!(
        header(both, "Subject"),
        Some("Request waiting: QC-7K4M-X2P9 both")
    );
    assert!(both.contains("multipart/alternative"), "{both}");
    assert!(both.contains("text/plain"), "{both}");
    assert!(both.contains("text/html"), "{both}");
    assert!(both.contains("A flight for 612.40 waits"), "{both}");
    assert!(both.contains("<b>612.40</b>"), "{both}");

    let text = received
        .iter()
        .find(|m| m.contains("X2P9 text-only"))
        .expect("the text mail");
    assert!(text.contains("text/plain"), "{text}");
    assert!(!text.contains("text/html"), "{text}");

    // The Message-ID sent is the one fixed at enqueue time.
    let entries = mail::entries(&t.db).await.unwrap();
    let sent = entries.iter().find(|e| e.dedupe_key == "both").unwrap();
    assert_eq!(header(both, "Message-ID"), Some(sent.message_id.as_str()));
    assert_eq!(sent.sent_at, Some(night()));
    sink.stop().await;
}

async fn an_smtp_outage_delays_mail_and_it_arrives_exactly_once(t: TestDb) {
    let port = free_port();
    let mailer = Mailer::smtp(&format!("smtp://127.0.0.1:{port}"), FROM).unwrap();
    assert!(enqueue(&t.db, night(), &mail("outage", true)).await);

    // Nothing listens: the attempt fails, the row stays with its error and back-off.
    assert_eq!(mail::deliver_due(&t.db, &mailer, night()).await.unwrap(), 0);
    let entry = &mail::entries(&t.db).await.unwrap()[0];
    assert_eq!(entry.attempts, 1);
    assert_eq!(entry.sent_at, None);
    assert_eq!(entry.next_attempt_at, night() + Duration::seconds(30));
    let error = entry.last_error.as_deref().expect("the error is kept");
    assert!(!error.contains("treasurer@example.org"), "{error}");
    assert_eq!(mail::pending_count(&t.db).await.unwrap(), 1);

    // Before the back-off ends nothing is tried, even with a server up.
    let sink = SmtpSink::start(port).await;
    let early = night() + Duration::seconds(10);
    assert_eq!(mail::deliver_due(&t.db, &mailer, early).await.unwrap(), 0);
    assert_eq!(mail::entries(&t.db).await.unwrap()[0].attempts, 1);
    assert!(sink.received().is_empty());

    let later = night() + Duration::seconds(31);
    assert_eq!(mail::deliver_due(&t.db, &mailer, later).await.unwrap(), 1);
    assert_eq!(mail::deliver_due(&t.db, &mailer, later).await.unwrap(), 0);
    let much_later = night() + Duration::hours(5);
    assert_eq!(
        mail::deliver_due(&t.db, &mailer, much_later).await.unwrap(),
        0
    );
    assert_eq!(sink.received().len(), 1);
    assert_eq!(mail::pending_count(&t.db).await.unwrap(), 0);
    sink.stop().await;
}

async fn repeated_failures_back_off_up_to_an_hour_and_keep_the_mail(t: TestDb) {
    let port = free_port();
    let mailer = Mailer::smtp(&format!("smtp://127.0.0.1:{port}"), FROM).unwrap();
    assert!(enqueue(&t.db, night(), &mail("long-outage", false)).await);
    let mut now = night();
    for attempt in 1..=10_i64 {
        assert_eq!(mail::deliver_due(&t.db, &mailer, now).await.unwrap(), 0);
        let entry = &mail::entries(&t.db).await.unwrap()[0];
        assert_eq!(entry.attempts, attempt);
        assert_eq!(entry.next_attempt_at, now + mail::backoff(attempt));
        now = entry.next_attempt_at;
    }
    assert_eq!(mail::backoff(10), Duration::hours(1));
    assert_eq!(mail::pending_count(&t.db).await.unwrap(), 1);
}

async fn the_same_dedupe_key_twice_is_one_message(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let mailer = Mailer::folder(dir.path(), FROM).unwrap();
    assert!(enqueue(&t.db, night(), &mail("request:41:pending", false)).await);
    let again = OutgoingMail {
        subject: "a retried change".into(),
        ..mail("request:41:pending", false)
    };
    assert!(!enqueue(&t.db, night(), &again).await);
    assert_eq!(mail::pending_count(&t.db).await.unwrap(), 1);
    assert_eq!(mail::deliver_due(&t.db, &mailer, night()).await.unwrap(), 1);
    // Once sent, the key still keeps a repeat out.
    assert!(!enqueue(&t.db, night(), &mail("request:41:pending", false)).await);
    assert_eq!(mail::deliver_due(&t.db, &mailer, night()).await.unwrap(), 0);
    let files = eml_files(dir.path());
    assert_eq!(files.len(), 1);
    let message = std::fs::read_to_string(&files[0]).unwrap();
    assert!(!message.contains("a retried change"));
}

async fn two_deliverers_at_once_send_each_message_exactly_once(t: TestDb) {
    let sink = SmtpSink::start(free_port()).await;
    let n = 30;
    for i in 0..n {
        assert!(enqueue(&t.db, night(), &mail(&format!("race-{i:02}"), false)).await);
    }
    let other = t.second_instance().await;
    let mut rounds = Vec::new();
    for db in [t.db.clone(), other.clone(), t.db.clone(), other.clone()] {
        let mailer = Mailer::smtp(&sink.url(), FROM).unwrap();
        rounds.push(tokio::spawn(async move {
            let mut sent = 0;
            // Each deliverer keeps going until it finds nothing left.
            loop {
                let n = mail::deliver_due(&db, &mailer, night()).await.unwrap();
                if n == 0 {
                    return sent;
                }
                sent += n;
            }
        }));
    }
    let mut total = 0;
    for r in rounds {
        total += r.await.unwrap();
    }
    // A deliverer may stop while another still sends the last batch: wait for all.
    assert_eq!(total, n);
    assert_eq!(mail::pending_count(&t.db).await.unwrap(), 0);
    let received = sink.received();
    assert_eq!(received.len(), n, "each message arrives once");
    let mut subjects: Vec<&str> = received
        .iter()
        .filter_map(|m| header(m, "Subject"))
        .collect();
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), n, "no message arrived twice");
    other.close().await;
    sink.stop().await;
}

fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

async fn without_smtp_mail_is_a_file_in_the_mail_folder(t: TestDb) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("not-yet").join("mail");
    let mailer = Mailer::folder(&dir, FROM).unwrap();
    assert!(dir.is_dir(), "the mail folder is created");
    assert!(enqueue(&t.db, night(), &mail("folder", true)).await);
    assert_eq!(mail::deliver_due(&t.db, &mailer, night()).await.unwrap(), 1);
    let files = eml_files(&dir);
    assert_eq!(files.len(), 1, "one .eml file");
    let message = std::fs::read_to_string(&files[0]).unwrap();
    assert_eq!(
        header(&message, "Subject"),
        Some("Request waiting: QC-7K4M-X2P9 folder")
    );
    assert_eq!(header(&message, "To"), Some("treasurer@example.org"));
    assert!(message.contains("text/html"));
}

async fn mail_enqueued_in_a_rolled_back_transaction_is_never_sent(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let mailer = Mailer::folder(dir.path(), FROM).unwrap();
    let mut tx = t.db.begin_write().await.unwrap();
    assert!(
        mail::enqueue(&mut tx, night(), &mail("rolled-back", false))
            .await
            .unwrap()
    );
    tx.rollback().await.unwrap();
    assert_eq!(mail::pending_count(&t.db).await.unwrap(), 0);
    assert_eq!(mail::deliver_due(&t.db, &mailer, night()).await.unwrap(), 0);
    assert!(eml_files(dir.path()).is_empty());
    // The key was never taken: the change, retried and committed, mails once.
    assert!(enqueue(&t.db, night(), &mail("rolled-back", false)).await);
}

async fn the_running_app_delivers_the_outbox_over_smtp(t: TestDb) {
    let sink = SmtpSink::start(free_port()).await;
    let url = sink.url();
    let app = TestApp::spawn_with(
        t,
        &[
            ("PASSAGE_SMTP_URL", url.as_str()),
            ("PASSAGE_MAIL_INTERVAL_SECS", "1"),
            ("PASSAGE_MAIL_FROM", "passage@example.org"),
        ],
    )
    .await;
    assert!(enqueue(&app.db.db, night(), &mail("worker", true)).await);
    // The worker runs every second: wait for it (not for a back-off) up to 15 s.
    let mut waited = 0;
    while sink.received().is_empty() && waited < 150 {
        tokio::time::sleep(StdDuration::from_millis(100)).await;
        waited += 1;
    }
    // The server files the message a moment before the worker marks its row sent.
    while mail::pending_count(&app.db.db).await.unwrap() > 0 && waited < 150 {
        tokio::time::sleep(StdDuration::from_millis(100)).await;
        waited += 1;
    }
    let received = sink.received();
    assert_eq!(received.len(), 1, "the worker sent the mail");
    assert_eq!(header(&received[0], "From"), Some("passage@example.org"));
    assert_eq!(mail::pending_count(&app.db.db).await.unwrap(), 0);
    app.stop().await;
    sink.stop().await;
}

async fn the_running_app_without_smtp_writes_to_its_mail_folder(t: TestDb) {
    let app = TestApp::spawn_with(t, &[("PASSAGE_MAIL_INTERVAL_SECS", "1")]).await;
    assert!(enqueue(&app.db.db, night(), &mail("worker-folder", false)).await);
    let mut waited = 0;
    while eml_files(app.mail_dir.path()).is_empty() && waited < 150 {
        tokio::time::sleep(StdDuration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(eml_files(app.mail_dir.path()).len(), 1);
    app.stop().await;
}

async fn a_row_claimed_by_a_crashed_deliverer_is_sent_after_its_lease(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let mailer = Mailer::folder(dir.path(), FROM).unwrap();
    assert!(enqueue(&t.db, night(), &mail("crashed", false)).await);
    // What a deliverer that died mid-send leaves behind: a claim with a lease.
    let lease_end = night() + mail::LEASE;
    let claimed: u64 = passage::on_db!(&t.db, p => sqlx::query(
        "UPDATE outbox SET claimed_until = $1, claim_token = 'crashed'",
    )
    .bind(lease_end)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))
    .unwrap();
    assert_eq!(claimed, 1);
    let during = lease_end - Duration::seconds(1);
    assert_eq!(mail::deliver_due(&t.db, &mailer, during).await.unwrap(), 0);
    assert!(
        eml_files(dir.path()).is_empty(),
        "a leased row is left alone"
    );
    assert_eq!(
        mail::deliver_due(&t.db, &mailer, lease_end).await.unwrap(),
        1
    );
    assert_eq!(eml_files(dir.path()).len(), 1);
    assert_eq!(mail::pending_count(&t.db).await.unwrap(), 0);
}

async fn a_hung_smtp_server_neither_blocks_shutdown_nor_loses_mail(t: TestDb) {
    // A server that accepts connections and never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", silent.local_addr().unwrap());
    let (connected, mut accepted) = tokio::sync::mpsc::channel(8);
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
            let _ = connected.send(()).await;
        }
    });
    let app = TestApp::spawn_with(
        t,
        &[
            ("PASSAGE_SMTP_URL", url.as_str()),
            ("PASSAGE_MAIL_INTERVAL_SECS", "1"),
        ],
    )
    .await;
    assert!(enqueue(&app.db.db, night(), &mail("hung", false)).await);
    tokio::time::timeout(StdDuration::from_secs(15), accepted.recv())
        .await
        .expect("the worker connects within 15 s");
    let started = std::time::Instant::now();
    let t = app.stop_keeping_db().await;
    assert!(
        started.elapsed() < StdDuration::from_secs(15),
        "stopping took {:?}",
        started.elapsed()
    );
    assert_eq!(
        mail::pending_count(&t.db).await.unwrap(),
        1,
        "the mail is kept"
    );
    holder.abort();
}

on_both_engines!(
    mail_queued_during_an_smtp_outage_arrives_exactly_once_when_it_returns,
    a_hung_smtp_server_neither_blocks_shutdown_nor_loses_mail,
    a_row_claimed_by_a_crashed_deliverer_is_sent_after_its_lease,
    enqueued_mail_arrives_once_with_text_and_html,
    an_smtp_outage_delays_mail_and_it_arrives_exactly_once,
    repeated_failures_back_off_up_to_an_hour_and_keep_the_mail,
    the_same_dedupe_key_twice_is_one_message,
    two_deliverers_at_once_send_each_message_exactly_once,
    without_smtp_mail_is_a_file_in_the_mail_folder,
    mail_enqueued_in_a_rolled_back_transaction_is_never_sent,
    the_running_app_delivers_the_outbox_over_smtp,
    the_running_app_without_smtp_writes_to_its_mail_folder,
);

/// Every Message-ID the server received, sorted; each must be there exactly once.
fn received_ids(sink: &SmtpSink) -> Vec<String> {
    let mut ids: Vec<String> = sink
        .received()
        .iter()
        .map(|m| header(m, "Message-ID").expect("a Message-ID").to_string())
        .collect();
    ids.sort();
    ids
}

/// The whole path, through the running app: urgent requests mail the treasurers while
/// the SMTP server is down; the app's own worker fails, keeps the mail and backs off;
/// the server comes back on the same port and every message arrives exactly once; a
/// second outage and a restart of the app change nothing of that.
async fn mail_queued_during_an_smtp_outage_arrives_exactly_once_when_it_returns(t: TestDb) {
    let port = free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    let app = TestApp::spawn_with(
        t,
        &[
            ("PASSAGE_SMTP_URL", url.as_str()),
            ("PASSAGE_MAIL_INTERVAL_SECS", "1"),
        ],
    )
    .await;
    let org = app.seed_org("Refuge Exemple").await;
    let cw = app
        .seed_user("cw@example.org", "caseworker", Some(&org))
        .await;
    let t1 = app.seed_user("t1@example.org", "treasurer", None).await;
    app.seed_user("t2@example.org", "treasurer", None).await;
    let (cw, t1) = (app.token_for(&cw).await, app.token_for(&t1).await);
    let donor: serde_json::Value = app
        .post("/api/v1/donors", Some(&t1))
        .json(&serde_json::json!({"name": "Fondation Exemple", "email": "dons@example.org", "language": "fr"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let gift = app
        .post("/api/v1/donations", Some(&t1))
        .header("Idempotency-Key", "gift-1")
        .json(&serde_json::json!({"donor_id": donor["id"], "amount": "50000.00", "received_on": "2026-11-29"}))
        .send()
        .await
        .unwrap();
    assert_eq!(gift.status(), 201);
    let code: serde_json::Value = app
        .post("/api/v1/cases", Some(&cw))
        .json(&serde_json::json!({"province": "QC"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = code["code"].as_str().unwrap().to_string();
    // Each urgent flight waits for a treasurer and mails both of them.
    let ask = |n: usize| {
        let (app, cw, code) = (&app, &cw, &code);
        async move {
            let r = app
                .post("/api/v1/requests", Some(cw))
                .header("Idempotency-Key", format!("flight-{n}"))
                .json(&serde_json::json!({"case_code": code, "category": "flight", "amount": "612.40",
                    "needed_by": "2026-11-30", "urgent": true, "reason": "safety", "travel_date": "2026-11-30",
                    "origin": {"city": "Halifax", "province": "NS"},
                    "destination": {"city": "Vancouver", "province": "BC"}}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
        }
    };

    // The first outage: 12 requests, 24 messages (more than one delivery round's 20).
    for n in 0..12 {
        ask(n).await;
    }
    let db = app.db.db.clone();
    wait_until("the worker to try every message once", async || {
        let e = mail::entries(&db).await.unwrap();
        e.len() == 24 && e.iter().all(|e| e.attempts >= 1 && e.sent_at.is_none())
    })
    .await;
    assert_eq!(mail::pending_count(&db).await.unwrap(), 24);

    // The server comes back; once the back-off has run its course, all of it goes out.
    let sink = SmtpSink::start(port).await;
    app.clock.advance(Duration::minutes(2));
    wait_until("the outbox to empty", async || {
        mail::pending_count(&db).await.unwrap() == 0
    })
    .await;
    let ids = received_ids(&sink);
    assert_eq!(ids.len(), 24, "each message once");
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique, ids, "no message twice");

    // A second outage while more mail is queued.
    sink.stop().await;
    for n in 12..15 {
        ask(n).await;
    }
    wait_until("the worker to fail on the new messages", async || {
        let e = mail::entries(&db).await.unwrap();
        e.iter()
            .filter(|e| e.sent_at.is_none() && e.attempts >= 1)
            .count()
            == 6
    })
    .await;
    let sink = SmtpSink::start(port).await;
    app.clock.advance(Duration::minutes(2));
    wait_until("the outbox to empty again", async || {
        mail::pending_count(&db).await.unwrap() == 0
    })
    .await;
    assert_eq!(sink.received().len(), 6, "only the new messages are sent");

    // After a restart of the app, with every back-off long past, nothing is sent again
    // (the clock stays short of the policy's 20 minutes, after which urgent requests
    // still waiting are escalated by new mail).
    let t = app.stop_keeping_db().await;
    let app = TestApp::spawn_with(
        t,
        &[
            ("PASSAGE_SMTP_URL", url.as_str()),
            ("PASSAGE_MAIL_INTERVAL_SECS", "1"),
        ],
    )
    .await;
    app.clock.advance(Duration::minutes(15));
    // One more urgent flight after the restart: its two messages prove that the new
    // worker has made its rounds (it takes due mail oldest first, so anything it were to
    // send again would go before them), instead of waiting a guessed time for nothing.
    let r = app
        .post("/api/v1/requests", Some(&cw))
        .header("Idempotency-Key", "flight-after-restart")
        .json(&serde_json::json!({"case_code": code, "category": "flight", "amount": "612.40",
            "needed_by": "2026-11-30", "urgent": true, "reason": "safety", "travel_date": "2026-11-30",
            "origin": {"city": "Halifax", "province": "NS"},
            "destination": {"city": "Vancouver", "province": "BC"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let db = app.db.db.clone();
    wait_until("the new worker to send the new messages", async || {
        mail::pending_count(&db).await.unwrap() == 0 && sink.received().len() >= 8
    })
    .await;
    assert_eq!(
        sink.received().len(),
        8,
        "only the two new messages are sent"
    );
    let entries = mail::entries(&app.db.db).await.unwrap();
    assert_eq!(entries.len(), 32);
    assert!(entries.iter().all(|e| e.sent_at.is_some()));
    app.stop().await;
    sink.stop().await;
}
