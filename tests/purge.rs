//! Purge means gone: once the retention period has passed, the notes, cities, vendors,
//! references, decline reasons, review flags' reasons, treasurers' questions and
//! caseworkers' answers of closed requests leave no byte behind, in the database files
//! (SQLite's file and its write-ahead log; PostgreSQL's table files), in the stored first
//! answers of `Idempotency-Key`s, or in the bodies of the mail that was sent about them. On
//! both engines.

mod common;

use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use common::TestDb;
use common::fund::Fund;
use passage::mail;
use passage::store::Db;
use serde_json::{Value, json};

/// Distinctive texts typed into the requests: none of them may be found after the purge.
const NOTE_TRIP: &str = "kestrelwing blanket for the trip";
const NOTE_STAY: &str = "kestrelnest quiet room";
const ORIGIN: &str = "Kestrelford";
const DESTINATION: &str = "Kestrelmouth";
const REASON: &str = "kestrelreason budget spent this week";
const VENDOR: &str = "Kestrelinn";
const REFERENCE: &str = "KSTRLREF-42";
const FLAG: &str = "kestrelflag paid twice maybe";
const QUESTION: &str = "kestrelquestion is a later date possible";
const ANSWER: &str = "kestrelanswer no, tonight only";
const MARKERS: [&str; 10] = [
    NOTE_TRIP,
    NOTE_STAY,
    ORIGIN,
    DESTINATION,
    REASON,
    VENDOR,
    REFERENCE,
    FLAG,
    QUESTION,
    ANSWER,
];

async fn post_keyed(f: &Fund, path: &str, token: &str, key: &str, body: &Value) -> (u16, Value) {
    f.send(
        f.app
            .post(path, Some(token))
            .header("Idempotency-Key", key)
            .json(body),
    )
    .await
}

/// The markers found in the raw bytes the engine keeps for this database: every file of
/// the SQLite database (the file, its write-ahead log and shared memory); every relation
/// file of the PostgreSQL database, read by the server after a checkpoint has written
/// its buffers out.
async fn markers_on_disk(t: &TestDb) -> Vec<&'static str> {
    match &t.db {
        Db::Sqlite(_) => {
            let path = t.url.trim_start_matches("sqlite://");
            let dir = std::path::Path::new(path).parent().unwrap();
            let name = std::path::Path::new(path).file_name().unwrap();
            let mut bytes = Vec::new();
            for entry in std::fs::read_dir(dir).unwrap() {
                let entry = entry.unwrap();
                if entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with(&*name.to_string_lossy())
                {
                    bytes.extend(std::fs::read(entry.path()).unwrap());
                }
            }
            MARKERS
                .into_iter()
                .filter(|m| bytes.windows(m.len()).any(|w| w == m.as_bytes()))
                .collect()
        }
        Db::Postgres(p) => {
            sqlx::query("CHECKPOINT").execute(p).await.unwrap();
            let mut found = Vec::new();
            for m in MARKERS {
                let hits: Vec<String> = sqlx::query_scalar(
                    "SELECT c.relname::text FROM pg_class c
                     WHERE c.relkind IN ('r', 't', 'i', 'm') AND c.relfilenode <> 0
                       AND pg_relation_size(c.oid) > 0
                       AND position(convert_to($1, 'UTF8')
                           in pg_read_binary_file(pg_relation_filepath(c.oid), 0,
                                               pg_relation_size(c.oid), true)) > 0",
                )
                .bind(m)
                .fetch_all(p)
                .await
                .unwrap();
                if !hits.is_empty() {
                    eprintln!("{m:?} found in {hits:?}");
                    found.push(m);
                }
            }
            found
        }
    }
}

async fn purged_text_leaves_no_byte_behind(t: TestDb) {
    // The test runs the sweeper itself: the app's own runs only once, at start-up.
    let mut f = Fund::with(
        t,
        &[
            ("PASSAGE_MAIL_INTERVAL_SECS", "1"),
            ("PASSAGE_SWEEP_INTERVAL_SECS", "86400"),
        ],
    )
    .await;
    let donor = f.donor("Fondation Exemple", "don@example.org", "fr").await;
    f.give(&donor, "5000.00").await;
    let (s, case) = f
        .post("/api/v1/cases", &f.worker, json!({"province": "ON"}))
        .await;
    assert_eq!(s, 201, "{case}");
    let code = case["code"].as_str().unwrap().to_string();
    let today = f.today();

    // A flight, which waits for a treasurer, declined with a typed reason that is mailed
    // to the caseworker.
    let flight = json!({"case_code": code, "category": "flight", "amount": "612.40",
        "needed_by": today, "urgent": true, "reason": "safety", "travel_date": today,
        "origin": {"city": ORIGIN, "province": "ON"},
        "destination": {"city": DESTINATION, "province": "BC"}, "note": NOTE_TRIP});
    let (s, asked) = post_keyed(&f, "/api/v1/requests", &f.worker, "flight-1", &flight).await;
    assert_eq!(
        (s, asked["status"].as_str()),
        (201, Some("pending")),
        "{asked}"
    );
    let flight_id = asked["id"].as_str().unwrap().to_string();
    // A treasurer's question and the caseworker's answer, both kept under their keys.
    let (s, b) = post_keyed(
        &f,
        &format!("/api/v1/requests/{flight_id}/ask"),
        &f.treasurer,
        "flight-ask",
        &json!({"question": QUESTION}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = post_keyed(
        &f,
        &format!("/api/v1/requests/{flight_id}/answer"),
        &f.worker,
        "flight-answer",
        &json!({"answer": ANSWER}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, declined) = f
        .send(
            f.app
                .post(
                    &format!("/api/v1/requests/{flight_id}/decline"),
                    Some(&f.treasurer),
                )
                .json(&json!({"reason": REASON, "reason_code": "not_covered"})),
        )
        .await;
    assert_eq!(
        (s, declined["status"].as_str()),
        (200, Some("declined")),
        "{declined}"
    );

    // A hotel night, settled by a receipt with a vendor and a reference.
    let stay = json!({"case_code": code, "category": "hotel", "nights": 1,
        "nightly_rate": "120.00", "party_size": 1, "needed_by": today, "urgent": true,
        "note": NOTE_STAY});
    let (s, asked) = post_keyed(&f, "/api/v1/requests", &f.worker, "stay-1", &stay).await;
    assert_eq!(s, 201, "{asked}");
    let stay_id = asked["id"].as_str().unwrap().to_string();
    let stay_status = asked["status"].as_str().unwrap().to_string();
    if stay_status == "pending" {
        let (s, a) = post_keyed(
            &f,
            &format!("/api/v1/requests/{stay_id}/approve"),
            &f.treasurer,
            "stay-approve",
            &json!({}),
        )
        .await;
        assert_eq!(s, 200, "{a}");
    }
    let receipt = json!({"amount": "120.00", "reference": REFERENCE, "vendor": VENDOR});
    let receipt_path = format!("/api/v1/requests/{stay_id}/receipt");
    let (s, settled) = post_keyed(&f, &receipt_path, &f.worker, "stay-receipt", &receipt).await;
    assert_eq!(
        (s, settled["status"].as_str()),
        (200, Some("settled")),
        "{settled}"
    );
    assert_eq!(settled["note"], NOTE_STAY);

    // The next day a treasurer flags the automatic approval of the stay, with a reason.
    assert_eq!(stay_status, "approved", "approved without a treasurer");
    let (s, flagged) = f
        .post(
            &format!("/api/v1/requests/{stay_id}/review"),
            &f.treasurer,
            json!({"flag": true, "reason": FLAG}),
        )
        .await;
    assert_eq!((s, &flagged["flagged"]), (200, &json!(true)), "{flagged}");

    // The decision mail goes out (the worker runs every second).
    let deadline = Instant::now() + StdDuration::from_secs(30);
    while mail::pending_count(&f.app.db.db).await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "the outbox was not delivered");
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    let body: String = passage::on_db!(&f.app.db.db, p => sqlx::query_scalar(
        "SELECT body_text FROM outbox WHERE dedupe_key = $1"
    )
    .bind(format!("decision:{flight_id}:declined"))
    .fetch_one(p)
    .await)
    .unwrap();
    assert!(
        body.contains(REASON),
        "the decline mail carries the reason: {body}"
    );

    // Before the purge every marker is on disk: the test looks at the right bytes.
    assert_eq!(markers_on_disk(&f.app.db).await, MARKERS.to_vec());

    // 90 days after the requests closed (and the mail was sent), the sweeper purges.
    f.app.clock.advance(Duration::days(90) + Duration::hours(1));
    let state = f.app.state();
    passage::app::sweep_once(&state).await.unwrap();
    f.worker = f.app.token_for(&f.ids[0]).await;
    f.treasurer = f.app.token_for(&f.ids[1]).await;

    for id in [&flight_id, &stay_id] {
        let (s, r) = f.get(&format!("/api/v1/requests/{id}"), &f.worker).await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(
            (&r["note"], &r["reason"], &r["question"]),
            (&Value::Null, &Value::Null, &Value::Null),
            "{r}"
        );
    }
    assert_eq!(
        markers_on_disk(&f.app.db).await,
        Vec::<&str>::new(),
        "purged text is still in the database's files"
    );

    // The mail's headers and dedupe key stay; its body is gone.
    let (subject, text, html): (String, String, Option<String>) =
        passage::on_db!(&f.app.db.db, p => sqlx::query_as(
        "SELECT subject, body_text, body_html FROM outbox WHERE dedupe_key = $1"
    )
    .bind(format!("decision:{flight_id}:declined"))
    .fetch_one(p)
    .await)
        .unwrap();
    assert!(subject.contains(&code), "{subject}");
    assert_eq!((text.as_str(), html), ("", None));

    // A retry of the same key still gets the first answer, without the purged fields.
    let (s, again) = post_keyed(&f, "/api/v1/requests", &f.worker, "flight-1", &flight).await;
    assert_eq!(s, 201, "{again}");
    assert_eq!(again["id"], flight_id.as_str(), "{again}");
    assert_eq!(again["status"], "pending", "{again}");
    assert_eq!(again["note"], Value::Null, "{again}");
    let (s, again) = post_keyed(&f, &receipt_path, &f.worker, "stay-receipt", &receipt).await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(
        (again["id"].as_str(), again["status"].as_str()),
        (Some(stay_id.as_str()), Some("settled")),
        "{again}"
    );
    assert_eq!(again["note"], Value::Null, "{again}");
    let (s, cases) = f.get("/api/v1/requests", &f.treasurer).await;
    assert_eq!(s, 200, "{cases}");
    assert_eq!(
        cases["items"].as_array().map(Vec::len),
        Some(2),
        "a retry after the purge made a new request: {cases}"
    );
}

on_both_engines!(purged_text_leaves_no_byte_behind);
