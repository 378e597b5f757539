//! The audit trail: the encoding's test vectors, and tampering caught by
//! `passage audit verify` on both engines.

mod common;

use std::process::Command;

use chrono::{TimeZone, Utc};
use common::{TestDb, night};
use passage::audit::{self, Actor, GENESIS_HASH, canonical_json, event_hash};
use passage::ledger::{DONATIONS, FUND, NewTransfer, TransferSpec, transfer};
use serde_json::json;

/// Vectors computed outside this code base (Python's hashlib over the documented
/// encoding), so the encoding cannot drift without these failing.
#[test]
fn the_encoding_matches_its_test_vectors() {
    let v1 = event_hash(
        1,
        Utc.with_ymd_and_hms(2026, 11, 29, 23, 40, 0).unwrap(),
        "user:1",
        "ledger.transfer",
        "transfer:t1",
        r#"{"amount":18900,"id":"t1"}"#,
        GENESIS_HASH,
    );
    assert_eq!(
        v1,
        "ef29c5f510c0a0ae017aae134105cafd58261bc9e7d5b5cef88ae06930b00107"
    );
    let v2 = event_hash(
        2,
        Utc.with_ymd_and_hms(2026, 11, 29, 23, 40, 0).unwrap()
            + chrono::Duration::microseconds(123_456),
        "system",
        "ledger.transfer",
        "transfer:expire:t1",
        "{}",
        &v1,
    );
    assert_eq!(
        v2,
        "80cced5226582e33f39421ea3de528b200f30eb904ed576456c88d6e441e5d62"
    );
    let v3 = event_hash(
        3,
        Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::microseconds(1),
        "cli",
        "user.add",
        "user:2",
        r#"{"note":"é"}"#,
        &v2,
    );
    assert_eq!(
        v3,
        "36ba687efa6f0237ef7f213f2672fbecd0b4f97c3755e7938587e4fc95f8b39c"
    );
}

#[test]
fn length_prefixes_keep_fields_apart() {
    let at = night();
    assert_ne!(
        event_hash(1, at, "ab", "c", "s", "{}", GENESIS_HASH),
        event_hash(1, at, "a", "bc", "s", "{}", GENESIS_HASH)
    );
}

#[test]
fn canonical_json_sorts_keys_at_every_depth() {
    let value = json!({"b": 1, "a": {"d": [1, {"z": null, "y": true}], "c": "é"}});
    assert_eq!(
        canonical_json(&value),
        r#"{"a":{"c":"é","d":[1,{"y":true,"z":null}]},"b":1}"#
    );
}

async fn write_events(t: &TestDb, count: usize) {
    for i in 0..count {
        let donation = NewTransfer {
            id: format!("d{i}"),
            spec: TransferSpec::Single {
                debit: DONATIONS.into(),
                credit: FUND.into(),
                amount: 1_000,
            },
            code: "donation".into(),
            reference: None,
        };
        transfer(&t.db, night(), &Actor::system(), &donation)
            .await
            .unwrap();
    }
}

fn verify_cli(t: &TestDb) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_passage"))
        .args(["audit", "verify"])
        .env("PASSAGE_DATABASE_URL", &t.url)
        .env("PASSAGE_LOG", "error")
        .output()
        .expect("run passage");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Lifts the append-only triggers, as an intruder with the database file would.
async fn as_an_intruder(t: &TestDb, statement: &str) {
    match &t.db {
        passage::store::Db::Sqlite(p) => {
            sqlx::query("DROP TRIGGER audit_events_refuse_update")
                .execute(p)
                .await
                .unwrap();
            sqlx::query("DROP TRIGGER audit_events_refuse_delete")
                .execute(p)
                .await
                .unwrap();
            sqlx::query(statement).execute(p).await.unwrap();
        }
        passage::store::Db::Postgres(p) => {
            sqlx::query("ALTER TABLE audit_events DISABLE TRIGGER USER")
                .execute(p)
                .await
                .unwrap();
            sqlx::query(statement).execute(p).await.unwrap();
        }
    }
}

async fn an_intact_chain_verifies(t: TestDb) {
    write_events(&t, 5).await;
    let (ok, text) = verify_cli(&t);
    assert!(ok, "{text}");
    // Event 1 is the defaults' `policy.apply`, stored by migration 0022.
    assert!(text.contains("6 events"), "{text}");
}

async fn a_changed_event_is_named(t: TestDb) {
    write_events(&t, 5).await;
    as_an_intruder(
        &t,
        "UPDATE audit_events SET content = '{\"amount\":1}' WHERE seq = 3",
    )
    .await;
    let (ok, text) = verify_cli(&t);
    assert!(!ok, "verify passed a changed chain: {text}");
    assert!(text.contains("event 3"), "{text}");
}

async fn a_deleted_event_is_named(t: TestDb) {
    write_events(&t, 5).await;
    as_an_intruder(&t, "DELETE FROM audit_events WHERE seq = 2").await;
    let (ok, text) = verify_cli(&t);
    assert!(!ok, "verify passed a chain with a hole: {text}");
    assert!(text.contains("event 2"), "{text}");
}

async fn a_removed_tail_is_named(t: TestDb) {
    write_events(&t, 5).await;
    // The tail is event 6: event 1 is the defaults' (migration 0022).
    as_an_intruder(&t, "DELETE FROM audit_events WHERE seq = 6").await;
    let (ok, text) = verify_cli(&t);
    assert!(!ok, "verify passed a truncated chain: {text}");
    assert!(text.contains("event 6"), "{text}");
}

async fn the_trail_refuses_updates_while_its_triggers_stand(t: TestDb) {
    write_events(&t, 1).await;
    let refused = passage::on_db!(&t.db, p => sqlx::query("UPDATE audit_events SET actor = 'x'")
        .execute(p)
        .await
        .map(|_| ()));
    assert!(refused.is_err());
    assert!(audit::verify(&t.db).await.unwrap().ok);
}

on_both_engines!(
    an_intact_chain_verifies,
    a_changed_event_is_named,
    a_deleted_event_is_named,
    a_removed_tail_is_named,
    the_trail_refuses_updates_while_its_triggers_stand,
);

/// `GET /api/v1/audit/verify`: the same check as the CLI, for treasurers.
#[tokio::test]
async fn treasurers_check_the_chain_over_http() {
    let app = common::TestApp::spawn(common::TestDb::sqlite().await).await;
    let treasurer = app.seed_user("t@example.org", "treasurer", None).await;
    let token = app.token_for(&treasurer).await;
    let r = app
        .get("/api/v1/audit/verify", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["ok"], true);
    assert!(body["events"].as_i64().unwrap() >= 1, "{body}");
    assert_eq!(body["head"].as_str().unwrap().len(), 64);
    app.stop().await;
}
