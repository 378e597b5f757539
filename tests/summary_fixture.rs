//! Report summaries frozen by an earlier release read back to the very bytes that were
//! hashed.
//!
//! `tests/fixtures/reports_before_typed_summary.db` is a SQLite database made by
//! [`make_the_fixture`] with the code as it was before summaries were typed (commit
//! 43d4afb, migrations up to 0020). To make it again, put this file without the last
//! test (it names the typed summary) on that commit and run
//! `PASSAGE_WRITE_FIXTURE=1 cargo test --test summary_fixture -- --ignored make_the_fixture`. It holds reports of every shape a release has frozen:
//! cells shown, hidden as `<5` or `>=5`, "other" groups shown and hidden, trips, a hold,
//! a correction, a quiet period frozen with its figures withheld (as releases did before
//! they refused to), a report frozen before reports kept a ledger digest, and one whose
//! summary an older suppression wrote differently.

mod common;

use chrono::{TimeZone, Utc};
use common::TestDb;
use common::fund::Fund;
use serde_json::{Value, json};

const FIXTURE: &str = "tests/fixtures/reports_before_typed_summary.db";

/// Runs SQL on the fixture's database with the frozen reports' protection lifted.
async fn behind_the_triggers(db: &passage::store::Db, sql: &str) {
    let passage::store::Db::Sqlite(p) = db else {
        panic!("the fixture is a SQLite file");
    };
    let mut c = p.write.begin().await.unwrap();
    let trigger: String = sqlx::query_scalar(
        "SELECT sql FROM sqlite_master WHERE name = 'reports_frozen_never_change'",
    )
    .fetch_one(&mut *c)
    .await
    .unwrap();
    sqlx::query("DROP TRIGGER reports_frozen_never_change")
        .execute(&mut *c)
        .await
        .unwrap();
    sqlx::query(sql).execute(&mut *c).await.unwrap();
    sqlx::query(&trigger).execute(&mut *c).await.unwrap();
    c.commit().await.unwrap();
}

fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Makes the fixture (see the module's comment): ignored unless asked for by name with
/// `PASSAGE_WRITE_FIXTURE=1`, since it writes into the source tree.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "writes tests/fixtures: run by hand on the commit whose summaries it keeps"]
async fn make_the_fixture() {
    if std::env::var("PASSAGE_WRITE_FIXTURE").as_deref() != Ok("1") {
        panic!("set PASSAGE_WRITE_FIXTURE=1 to write {FIXTURE}");
    }
    let mut f = Fund::new(TestDb::sqlite().await).await;
    let donor = f.donor("Fondation Exemple", "dons@example.org", "fr").await;
    f.give(&donor, "60000.00").await;

    // November: hotels in Quebec, buses in Ontario.
    for _ in 0..6 {
        f.hotel("QC", 2, "150.00").await;
    }
    for _ in 0..5 {
        f.trip("ON", "bus", "64.50", ("Toronto", "ON"), ("Ottawa", "ON"))
            .await;
    }
    f.go_to(2026, 12, 2, 9).await;
    let november = f.draft("2026-11-01", "2026-11-30").await;
    let november = f.seal(november["id"].as_str().unwrap()).await;

    // December: more of both, three flights (a small cell), trains in two provinces, and
    // a hotel approved but not yet paid (a hold outstanding).
    f.go_to(2026, 12, 10, 22).await;
    for _ in 0..10 {
        f.hotel("QC", 2, "150.00").await;
    }
    for _ in 0..6 {
        f.trip("ON", "bus", "64.50", ("Toronto", "ON"), ("Ottawa", "ON"))
            .await;
    }
    for fare in ["412.37", "389.11", "455.29"] {
        f.trip("NS", "flight", fare, ("Halifax", "NS"), ("Vancouver", "BC"))
            .await;
    }
    for _ in 0..2 {
        f.trip(
            "MB",
            "train",
            "120.00",
            ("Winnipeg", "MB"),
            ("Brandon", "MB"),
        )
        .await;
    }
    let (s, case) = f
        .post("/api/v1/cases", &f.worker, json!({"province": "AB"}))
        .await;
    assert_eq!(s, 201, "{case}");
    let today = f.today();
    let (s, held) = f
        .post(
            "/api/v1/requests",
            &f.worker,
            json!({"case_code": case["code"], "category": "hotel", "nights": 1,
                   "nightly_rate": "110.00", "party_size": 1, "needed_by": today, "urgent": true}),
        )
        .await;
    assert_eq!(s, 201, "{held}");
    f.go_to(2027, 1, 2, 9).await;
    let december = f.draft("2026-12-01", "2026-12-31").await;
    let december_id = december["id"].as_str().unwrap().to_string();
    f.seal(&december_id).await;

    // A correction of December: the same moments, compared with both.
    let (s, fix) = f
        .post(
            "/api/v1/reports",
            &f.treasurer,
            json!({"period_start": "2026-12-01", "period_end": "2026-12-31",
                   "supersedes": december_id}),
        )
        .await;
    assert_eq!(s, 201, "{fix}");
    f.seal(fix["id"].as_str().unwrap()).await;

    // A quiet January: two people helped. Today's release refuses to freeze it; earlier
    // ones froze it with its spending withheld, as written here.
    f.go_to(2027, 1, 20, 22).await;
    for _ in 0..2 {
        f.hotel("QC", 1, "130.00").await;
    }
    f.go_to(2027, 2, 2, 9).await;
    let january = f.draft("2027-01-01", "2027-01-31").await;
    let summary = &january["summary"];
    assert!(summary["withheld"].is_object(), "{january}");
    let (text, hash) = passage::reports::summary::canonical_and_hash(summary);
    let sealed_at = Utc.with_ymd_and_hms(2027, 2, 2, 9, 0, 0).unwrap();
    let db = f.app.db.db.clone();
    behind_the_triggers(
        &db,
        &format!(
            "UPDATE reports SET status = 'sealed', summary = {}, hash = {}, audit_seq = {},
                    audit_hash = {}, sealed_by = {}, sealed_at = {}, cosigned_by = {},
                    cosigned_at = {}
             WHERE id = {}",
            quoted(&text),
            quoted(&hash),
            summary["audit_head"]["seq"],
            quoted(summary["audit_head"]["hash"].as_str().unwrap()),
            quoted(&f.ids[1]),
            quoted(&passage::audit::canonical_time(sealed_at)),
            quoted(&f.ids[2]),
            quoted(&passage::audit::canonical_time(sealed_at)),
            quoted(january["id"].as_str().unwrap()),
        ),
    )
    .await;

    // November as an older suppression wrote it, frozen before reports kept a digest.
    let mut older: Value = november["summary"].clone();
    older["by_category"] = json!({"cells": [], "other": null});
    older["cases_helped"] = Value::String("<5".into());
    let (text, hash) = passage::reports::summary::canonical_and_hash(&older);
    behind_the_triggers(
        &db,
        &format!(
            "UPDATE reports SET summary = {}, hash = {}, ledger_digest = NULL WHERE id = {}",
            quoted(&text),
            quoted(&hash),
            quoted(november["id"].as_str().unwrap()),
        ),
    )
    .await;
    // December as frozen before reports kept a digest, its bytes untouched.
    behind_the_triggers(
        &db,
        &format!(
            "UPDATE reports SET ledger_digest = NULL WHERE id = {}",
            quoted(&december_id)
        ),
    )
    .await;

    let kept = f.app.stop_keeping_db().await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&path);
    let passage::store::Db::Sqlite(p) = &kept.db else {
        unreachable!()
    };
    sqlx::query(&format!(
        "VACUUM INTO {}",
        quoted(&path.display().to_string())
    ))
    .execute(p)
    .await
    .unwrap();
}

/// Every summary frozen before summaries were typed reads into [`Summary`] and writes back
/// to the very bytes that were stored and hashed; the database made then migrates, its
/// reports still verify, and its users keep their roles.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_summary_frozen_before_the_typed_summary_reads_back_to_its_bytes_and_hash() {
    use passage::reports::summary::{Count, Summary, canonical_and_hash};
    use sha2::{Digest, Sha256};

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passage.db");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE),
        &file,
    )
    .expect("the fixture is in tests/fixtures");
    let url = format!("sqlite://{}", file.display());
    let db = passage::store::Db::connect(&url, 4).await.unwrap();
    db.migrate()
        .await
        .expect("a database of the earlier release migrates");
    let passage::store::Db::Sqlite(p) = &db else {
        unreachable!()
    };
    let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, summary, hash, ledger_digest FROM reports
         WHERE hash IS NOT NULL ORDER BY sealed_at, id",
    )
    .fetch_all(p)
    .await
    .unwrap();
    assert_eq!(rows.len(), 4, "the fixture's frozen reports");

    let mut typed = Vec::new();
    for (id, text, hash, _) in &rows {
        assert_eq!(hex::encode(Sha256::digest(text.as_bytes())), *hash, "{id}");
        let summary = Summary::parse(text)
            .unwrap_or_else(|| panic!("report {id}'s summary does not read: {text}"));
        let (again, again_hash) = canonical_and_hash(&summary);
        assert_eq!(again, *text, "report {id} writes back differently");
        assert_eq!(again_hash, *hash, "{id}");
        // As the API serves it, too.
        assert_eq!(serde_json::to_string(&summary).unwrap(), *text, "{id}");
        typed.push(summary);
    }

    // The fixture holds every shape: otherwise this test would prove less than it says.
    let cells = || {
        typed
            .iter()
            .flat_map(|s| s.by_category.cells.iter().chain(&s.by_province.cells))
    };
    assert!(typed.iter().any(|s| s.withheld.is_some()), "a quiet period");
    assert!(typed.iter().any(|s| s.withheld.is_none()));
    assert!(cells().any(|c| c.amount.is_none() && c.cases == Count::FewerThan(5)));
    assert!(cells().any(|c| c.amount.is_some()));
    assert!(
        typed.iter().any(|s| s
            .by_category
            .other
            .as_ref()
            .is_some_and(|o| o.amount.is_some())),
        "an other group shown"
    );
    assert!(
        typed.iter().any(|s| s.by_category.cells.is_empty()),
        "an older suppression"
    );
    assert!(typed.iter().any(|s| s.supersedes.is_some()), "a correction");
    assert!(typed.iter().any(|s| !s.compared_with.is_empty()));
    assert!(typed.iter().any(|s| s.trips.total.is_none()));
    assert!(
        typed
            .iter()
            .any(|s| s.trips.cells.iter().any(|c| c.trips.is_some()))
    );
    assert!(typed.iter().any(|s| s.holds_outstanding.amount.is_none()));
    assert!(typed.iter().any(|s| s.closing_balance.is_none()));
    assert!(typed.iter().any(|s| s.runway_months.is_some()));
    assert!(typed.iter().any(|s| s.median_decision_seconds.is_some()));
    assert!(
        rows.iter().any(|(_, _, _, digest)| digest.is_none()),
        "frozen before digests"
    );
    assert!(rows.iter().any(|(_, _, _, digest)| digest.is_some()));

    // `reports verify` still finds every report as it was frozen.
    for (id, _, _, digest) in &rows {
        let v = passage::reports::lifecycle::verify(&db, id).await.unwrap();
        assert!(v.stored_summary_intact, "{id}: {v:?}");
        assert!(v.audit_head_intact, "{id}: {v:?}");
        if digest.is_some() {
            assert!(v.matches, "{id}: {v:?}");
        }
    }

    // The roles of the earlier release's users, now rows of user_roles.
    let users = passage::identity::users::list(&db).await.unwrap();
    let roles: Vec<(String, String)> = users
        .iter()
        .map(|u| (u.email.clone(), u.roles.to_list()))
        .collect();
    assert_eq!(
        roles,
        [
            ("cw@example.org".to_string(), "caseworker".to_string()),
            ("t1@example.org".to_string(), "treasurer".to_string()),
            ("t2@example.org".to_string(), "treasurer".to_string()),
        ]
    );
}
