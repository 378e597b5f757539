//! Donor reports over HTTP, on both engines: figures from the ledger, small cells hidden
//! from every subtraction, the seal and the co-signature, corrections, verification.

mod common;

use common::TestDb;
use common::fund::Fund;
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn cents(v: &Value) -> Option<i64> {
    let d: Decimal = v.as_str()?.parse().ok()?;
    (d * Decimal::ONE_HUNDRED).try_into().ok()
}

fn number(v: &Value) -> Option<i64> {
    v.as_str()?.parse().ok()
}

/// Every figure a dimension shows: (name, cases, amount or trips), its "other" included.
fn shown(section: &Value, value: &str) -> Vec<(String, Option<i64>, Option<i64>)> {
    let read = |v: &Value| {
        if value == "amount" {
            cents(v)
        } else {
            number(v)
        }
    };
    let mut out: Vec<_> = section["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap().to_string(),
                number(&c["cases"]),
                read(&c[value]),
            )
        })
        .collect();
    if !section["other"].is_null() {
        out.push((
            "other".into(),
            number(&section["other"]["cases"]),
            read(&section["other"][value]),
        ));
    }
    out
}

/// Every subtraction an attacker could try: totals minus any set of a dimension's shown
/// figures, figures of one dimension minus those of another, and this report's figures
/// minus the previous report's. Returns (what was subtracted, cases, amount) results.
fn every_subtraction(this: &Value, previous: &Value) -> Vec<(String, i64)> {
    let mut counts: Vec<(String, i64)> = Vec::new();
    let mut amounts: Vec<(String, i64)> = Vec::new();
    let s = &this["summary"];
    let p = &previous["summary"];
    let total = cents(&s["disbursed"]).unwrap();
    let helped = number(&s["cases_helped"]);
    for (dim, value, total_amount, total_count) in [
        ("by_category", "amount", Some(total), None),
        ("by_province", "amount", Some(total), helped),
        ("trips", "trips", number(&s["trips"]["total"]), None),
    ] {
        let section = if dim == "trips" { &s["trips"] } else { &s[dim] };
        let cells = shown(section, value);
        // Totals minus every subset of the shown figures.
        for mask in 0..(1_u32 << cells.len()) {
            let picked: Vec<_> = cells
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, c)| c)
                .collect();
            let name = format!(
                "{dim} total − {:?}",
                picked.iter().map(|c| &c.0).collect::<Vec<_>>()
            );
            if let Some(t) = total_amount {
                let sum: i64 = picked.iter().filter_map(|c| c.2).sum();
                amounts.push((name.clone(), t - sum));
            }
            if let Some(t) = total_count.or(if dim == "trips" { None } else { helped }) {
                let sum: i64 = picked.iter().filter_map(|c| c.1).sum();
                counts.push((name.clone(), t - sum));
            }
        }
        // This report minus the previous one, figure by figure.
        let before = if dim == "trips" { &p["trips"] } else { &p[dim] };
        if before.is_object() {
            let old = shown(before, value);
            for (key, n, v) in &cells {
                for (okey, on, ov) in &old {
                    if key == okey {
                        if let (Some(a), Some(b)) = (n, on) {
                            counts.push((format!("{dim}.{key} − previous"), a - b));
                        }
                        if let (Some(a), Some(b)) = (v, ov) {
                            amounts.push((format!("{dim}.{key} − previous"), a - b));
                        }
                    }
                }
            }
        }
    }
    // One dimension against the other.
    let categories = shown(&s["by_category"], "amount");
    let provinces = shown(&s["by_province"], "amount");
    for (ck, cn, ca) in &categories {
        for (pk, pn, pa) in &provinces {
            if let (Some(a), Some(b)) = (ca, pa) {
                amounts.push((format!("category.{ck} − province.{pk}"), a - b));
                amounts.push((format!("province.{pk} − category.{ck}"), b - a));
            }
            if let (Some(a), Some(b)) = (cn, pn) {
                counts.push((format!("category.{ck} − province.{pk}"), a - b));
                counts.push((format!("province.{pk} − category.{ck}"), b - a));
            }
        }
    }
    // Totals of this report minus the previous one's.
    for key in [
        "disbursed",
        "closing_balance",
        "opening_balance",
        "unassigned",
    ] {
        if let (Some(a), Some(b)) = (cents(&s[key]), cents(&p[key])) {
            amounts.push((format!("{key} − previous"), a - b));
        }
    }
    if let (Some(a), Some(b)) = (number(&s["cases_helped"]), number(&p["cases_helped"])) {
        counts.push(("cases_helped − previous".into(), a - b));
    }
    if let (Some(a), Some(b)) = (number(&s["trips"]["total"]), number(&p["trips"]["total"])) {
        counts.push(("trips − previous".into(), a - b));
    }
    if let (Some(a), Some(b)) = (cents(&s["closing_balance"]), cents(&s["opening_balance"])) {
        let received = cents(&s["donations"]["total"]).unwrap();
        amounts.push(("closing − opening − donations".into(), b + received - a));
    }
    counts
        .into_iter()
        .map(|(n, v)| (format!("cases: {n}"), v))
        .chain(amounts.into_iter().map(|(n, v)| (format!("cents: {n}"), v)))
        .collect()
}

fn cell<'a>(section: &'a Value, key: &str) -> &'a Value {
    section["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == key)
        .unwrap_or_else(|| panic!("no cell {key} in {section}"))
}

/// November: hotels in Quebec and buses in Ontario. December: more of both, and three
/// flights from Nova Scotia to British Columbia.
async fn two_months(f: &mut Fund) -> (Value, Value, i64) {
    let donor = f.donor("Fondation Exemple", "dons@example.org", "fr").await;
    f.give(&donor, "60000.00").await;
    for _ in 0..6 {
        f.hotel("QC", 2, "150.00").await;
    }
    for _ in 0..5 {
        f.trip("ON", "bus", "64.50", ("Toronto", "ON"), ("Ottawa", "ON"))
            .await;
    }
    f.secrets.extend(
        [
            "Toronto",
            "Ottawa",
            "Halifax",
            "Vancouver",
            "Hôtel Exemple",
            "near the station",
        ]
        .map(String::from),
    );
    f.go_to(2026, 12, 2, 9).await;
    let november = f.draft("2026-11-01", "2026-11-30").await;
    let november = f.seal(november["id"].as_str().unwrap()).await;

    f.go_to(2026, 12, 10, 22).await;
    for _ in 0..10 {
        f.hotel("QC", 2, "150.00").await;
    }
    for _ in 0..6 {
        f.trip("ON", "bus", "64.50", ("Toronto", "ON"), ("Ottawa", "ON"))
            .await;
    }
    let flights = ["412.37", "389.11", "455.29"];
    for fare in flights {
        f.trip("NS", "flight", fare, ("Halifax", "NS"), ("Vancouver", "BC"))
            .await;
    }
    let flights_cents: i64 = flights.iter().map(|a| cents(&json!(a)).unwrap()).sum();
    f.go_to(2027, 1, 2, 9).await;
    let december = f.draft("2026-12-01", "2026-12-31").await;
    let december = f.seal(december["id"].as_str().unwrap()).await;
    (november, december, flights_cents)
}

async fn three_flights_show_as_fewer_than_five_and_no_subtraction_finds_them(t: TestDb) {
    let mut f = Fund::new(t).await;
    let (november, december, flights) = two_months(&mut f).await;
    let s = &december["summary"];

    let flight = cell(&s["by_category"], "flight");
    assert_eq!(flight["cases"], "<5", "{s}");
    assert_eq!(flight["amount"], Value::Null, "{s}");
    assert_eq!(cell(&s["by_province"], "NS")["cases"], "<5", "{s}");
    assert_eq!(cell(&s["trips"], "interprovincial")["cases"], "<5", "{s}");
    // Complementary suppression: the next smallest cell is folded in with the flights.
    assert_eq!(cell(&s["by_category"], "bus")["amount"], Value::Null, "{s}");
    assert_eq!(cell(&s["by_province"], "ON")["amount"], Value::Null, "{s}");
    assert_eq!(
        s["by_category"]["other"]["members"],
        json!(["bus", "flight"]),
        "{s}"
    );
    assert_eq!(s["by_category"]["other"]["cases"], "9", "{s}");
    // The bus cell is hidden to protect the flights, but it is not small itself.
    assert_eq!(cell(&s["by_category"], "bus")["cases"], ">=5", "{s}");
    // What is shown is exact.
    assert_eq!(cell(&s["by_category"], "hotel")["amount"], "3000.00", "{s}");
    assert_eq!(cell(&s["by_category"], "hotel")["cases"], "10", "{s}");
    assert_eq!(s["hotel_nights"], "20", "{s}");
    assert_eq!(s["cases_helped"], "19", "{s}");
    assert_eq!(s["trips"]["total"], "9", "{s}");
    let disbursed = cents(&s["disbursed"]).unwrap();
    assert_eq!(disbursed, 300_000 + 6 * 6450 + flights);
    assert_eq!(
        cents(&s["closing_balance"]).unwrap(),
        cents(&s["opening_balance"]).unwrap() + cents(&s["donations"]["total"]).unwrap()
            - disbursed
    );
    assert!(s["notes"]["en"].as_str().unwrap().contains("undercount"));
    assert_eq!(s["compared_with"], json!([november["id"]]), "{s}");

    // No subtraction gives the flights away.
    let tries = every_subtraction(&december, &november);
    assert!(tries.len() > 50, "{}", tries.len());
    for (what, value) in &tries {
        if what.starts_with("cases") {
            assert_ne!(*value, 3, "{what} gives the number of flights");
        } else {
            assert_ne!(*value, flights, "{what} gives the flights' amount");
        }
    }

    // Nothing that could point to a person is in either report.
    for report in [&november, &december] {
        let text = report.to_string();
        for secret in &f.secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{secret} is in a report: {text}"
            );
        }
        assert!(
            !text.contains("2026-12-10"),
            "a date finer than the period: {text}"
        );
    }
    f.app.stop().await;
}

async fn a_report_is_frozen_by_one_treasurer_cosigned_by_another_and_never_changes(t: TestDb) {
    let mut f = Fund::new(t).await;
    let donor = f.donor("Fondation Exemple", "dons@example.org", "en").await;
    f.give(&donor, "20000.00").await;
    for _ in 0..5 {
        f.hotel("QC", 1, "120.00").await;
    }
    f.go_to(2026, 12, 1, 8).await;
    let draft = f.draft("2026-11-01", "2026-11-30").await;
    let id = draft["id"].as_str().unwrap().to_string();
    assert_eq!(
        draft["summary"]["by_category"]["cells"][0]["amount"],
        "600.00"
    );
    assert_eq!(draft["cutoff"], "2026-11-30T23:59:59.999999Z");
    let path = format!("/api/v1/reports/{id}/seal");

    // Verifying a draft makes no sense yet.
    let (s, e) = f
        .get(&format!("/api/v1/reports/{id}/verify"), &f.treasurer)
        .await;
    assert_eq!(s, 409, "{e}");

    let (s, first) = f.post(&path, &f.treasurer, json!({})).await;
    assert_eq!(s, 200, "{first}");
    assert_eq!(first["status"], "awaiting_cosign");
    let hash = first["hash"].as_str().unwrap().to_string();
    assert_eq!(hash.len(), 64);
    // The same treasurer cannot co-sign.
    let (s, e) = f.post(&path, &f.treasurer, json!({})).await;
    assert_eq!(s, 409, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("different treasurer"),
        "{e}"
    );

    // Later spending in the same period's days never changes a frozen report.
    f.hotel("QC", 3, "110.00").await;
    let (s, second) = f.post(&path, &f.second_treasurer, json!({})).await;
    assert_eq!(s, 200, "{second}");
    assert_eq!(second, json!({"status": "sealed", "hash": hash}));
    let (s, e) = f.post(&path, &f.second_treasurer, json!({})).await;
    assert_eq!(s, 409, "{e}");

    let (s, report) = f.get(&format!("/api/v1/reports/{id}"), &f.treasurer).await;
    assert_eq!(s, 200);
    assert_eq!(report["status"], "sealed");
    assert_eq!(report["hash"], hash.as_str());
    // The hash is SHA-256 over the canonical summary, which anyone can recompute.
    let canonical = passage::audit::canonical_json(&report["summary"]);
    use sha2::Digest;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(canonical.as_bytes())),
        hash
    );
    assert!(report["summary"]["audit_head"]["seq"].as_i64().unwrap() > 0);

    let (s, v) = f
        .get(&format!("/api/v1/reports/{id}/verify"), &f.treasurer)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["matches"], true, "{v}");
    assert_eq!(v["stored_summary_intact"], true, "{v}");

    // The database refuses to change a frozen report, whatever the code does.
    let db = &f.app.db.db;
    let changed = passage::on_db!(db, p => sqlx::query("UPDATE reports SET summary = '{}' WHERE id = $1")
        .bind(&id).execute(p).await.map(|_| ()));
    assert!(changed.is_err(), "a frozen report was changed");
    let removed = passage::on_db!(db, p => sqlx::query("DELETE FROM reports WHERE id = $1")
        .bind(&id).execute(p).await.map(|_| ()));
    assert!(removed.is_err(), "a frozen report was deleted");

    // A correction supersedes it and says so; the old one stays as it was.
    let (s, fix) = f
        .post(
            "/api/v1/reports",
            &f.treasurer,
            json!({"period_start": "2026-11-01", "period_end": "2026-11-30", "supersedes": id}),
        )
        .await;
    assert_eq!(s, 201, "{fix}");
    assert_eq!(fix["summary"]["supersedes"], id.as_str());
    let fix_id = fix["id"].as_str().unwrap().to_string();
    let fixed = f.seal(&fix_id).await;
    assert_eq!(fixed["summary"]["supersedes"], id.as_str());
    let (_, old) = f.get(&format!("/api/v1/reports/{id}"), &f.treasurer).await;
    assert_eq!(old["superseded_by"], fix_id.as_str());
    assert_eq!(old["hash"], hash.as_str());
    let (s, e) = f
        .post(
            "/api/v1/reports",
            &f.treasurer,
            json!({"period_start": "2026-11-01", "period_end": "2026-11-30", "supersedes": id}),
        )
        .await;
    assert_eq!(s, 409, "{e}");

    // Every step is in the audit trail, and the chain holds.
    let actions: Vec<String> = passage::on_db!(db, p => sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE action LIKE 'report.%' ORDER BY seq")
        .fetch_all(p).await)
    .unwrap();
    assert_eq!(
        actions,
        [
            "report.draft",
            "report.seal",
            "report.cosign",
            "report.draft",
            "report.seal",
            "report.supersede",
            "report.cosign"
        ]
    );
    assert!(passage::audit::verify(db).await.unwrap().broken.is_none());

    // An intruder who lifts the ledger's protection and edits a settled amount is caught.
    match db {
        passage::store::Db::Sqlite(p) => {
            sqlx::query("DROP TRIGGER transfers_refuse_update")
                .execute(p)
                .await
                .unwrap();
            sqlx::query("UPDATE transfers SET amount = amount + 1 WHERE kind = 'post' AND created_at < '2026-11-30'")
                .execute(p).await.unwrap();
        }
        passage::store::Db::Postgres(p) => {
            sqlx::query("ALTER TABLE transfers DISABLE TRIGGER transfers_append_only")
                .execute(p)
                .await
                .unwrap();
            sqlx::query("UPDATE transfers SET amount = amount + 1 WHERE kind = 'post' AND created_at < '2026-11-30'")
                .execute(p).await.unwrap();
        }
    }
    let (s, v) = f
        .get(&format!("/api/v1/reports/{id}/verify"), &f.treasurer)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["matches"], false, "{v}");
    assert_eq!(v["stored_summary_intact"], true, "{v}");
    assert!(!v["differences"].as_array().unwrap().is_empty(), "{v}");
    f.app.stop().await;
}

/// The report in the way, as a 409 names it: its id and the day the next report starts.
async fn refused_in_the_chain(f: &Fund, body: Value, in_the_way: &str, expected: &str) {
    let (s, e) = f.post("/api/v1/reports", &f.treasurer, body.clone()).await;
    assert_eq!(s, 409, "{body} was accepted: {e}");
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.contains(in_the_way), "{body}: {message}");
    assert!(message.contains(expected), "{body}: {message}");
}

/// Two reports of the same day: the second, drafted after two more flights were settled,
/// covers only what the first did not, so no subtraction of one from the other gives the
/// two flights. (Before the chain, the second covered the whole day again, and its flight
/// cell minus the first's was the spending of the two cases.)
async fn two_reports_of_one_day_never_cover_the_same_moment(t: TestDb) {
    let mut f = Fund::new(t).await;
    let donor = f.donor("Fondation Exemple", "dons@example.org", "en").await;
    f.give(&donor, "60000.00").await;
    f.go_to(2026, 11, 30, 9).await;
    for fare in ["412.37", "389.11", "455.29", "401.02", "398.76"] {
        f.trip("NS", "flight", fare, ("Halifax", "NS"), ("Vancouver", "BC"))
            .await;
    }
    for _ in 0..5 {
        f.hotel("QC", 2, "150.00").await;
    }
    f.go_to(2026, 11, 30, 12).await;
    let first = f.draft("2026-11-29", "2026-11-30").await;
    assert_eq!(first["cutoff"], "2026-11-30T12:00:00Z", "{first}");
    let first = f.seal(first["id"].as_str().unwrap()).await;

    f.go_to(2026, 11, 30, 14).await;
    let later = ["433.33", "377.71"];
    for fare in later {
        f.trip("NS", "flight", fare, ("Halifax", "NS"), ("Vancouver", "BC"))
            .await;
    }
    for _ in 0..5 {
        f.hotel("QC", 2, "150.00").await;
    }
    let two_flights: i64 = later.iter().map(|a| cents(&json!(a)).unwrap()).sum();
    f.go_to(2026, 12, 1, 9).await;
    // The day of the first report's cut-off is where the next one starts.
    let second = f.draft("2026-11-30", "2026-11-30").await;
    let second = f.seal(second["id"].as_str().unwrap()).await;
    let s = &second["summary"];
    assert_eq!(
        cents(&s["disbursed"]).unwrap(),
        two_flights + 5 * 30_000,
        "the second report covers only what happened after the first one's cut-off: {s}"
    );
    assert_eq!(
        s["opening_balance"], first["summary"]["closing_balance"],
        "{s}"
    );
    for (what, value) in every_subtraction(&second, &first) {
        if what.starts_with("cases") {
            assert_ne!(value, 2, "{what} gives the number of the later flights");
        } else {
            assert_ne!(value, two_flights, "{what} gives the later flights' amount");
        }
    }
    // And the day cannot be reported a third time.
    refused_in_the_chain(
        &f,
        json!({"period_start": "2026-11-29", "period_end": "2026-11-30"}),
        second["id"].as_str().unwrap(),
        "2026-12-01",
    )
    .await;
    f.app.stop().await;
}

/// A wide report, then two that do not overlap each other but each overlaps it: the chain
/// refuses both, naming the wide report and the day the next report starts; a gap is
/// refused the same way; a draft made stale by another report frozen first cannot be
/// sealed; a correction covers exactly the moments of the report it replaces.
async fn reports_form_one_chain_and_a_refusal_names_the_report_in_the_way(t: TestDb) {
    let mut f = Fund::new(t).await;
    let donor = f.donor("Fondation Exemple", "dons@example.org", "en").await;
    f.give(&donor, "60000.00").await;
    // The first report starts at the latest on the day of the fund's first event.
    f.go_to(2026, 12, 2, 9).await;
    refused_in_the_chain(
        &f,
        json!({"period_start": "2026-11-30", "period_end": "2026-11-30"}),
        "first",
        "2026-11-29",
    )
    .await;
    for _ in 0..6 {
        f.hotel("QC", 2, "150.00").await;
    }
    f.go_to(2027, 1, 2, 9).await;
    let wide = f.draft("2026-11-01", "2026-12-31").await;
    let wide_id = wide["id"].as_str().unwrap().to_string();
    let wide = f.seal(&wide_id).await;
    refused_in_the_chain(
        &f,
        json!({"period_start": "2026-11-01", "period_end": "2026-11-30"}),
        &wide_id,
        "2027-01-01",
    )
    .await;
    refused_in_the_chain(
        &f,
        json!({"period_start": "2026-12-01", "period_end": "2026-12-31"}),
        &wide_id,
        "2027-01-01",
    )
    .await;
    f.go_to(2027, 1, 6, 9).await;
    refused_in_the_chain(
        &f,
        json!({"period_start": "2027-01-02", "period_end": "2027-01-05"}),
        &wide_id,
        "2027-01-01",
    )
    .await;

    // Two drafts from the chain's end; the shorter is frozen first, the longer is stale.
    let long = f.draft("2027-01-01", "2027-01-05").await;
    let short = f.draft("2027-01-01", "2027-01-02").await;
    let short_id = short["id"].as_str().unwrap().to_string();
    let (s, frozen) = f
        .post(
            &format!("/api/v1/reports/{short_id}/seal"),
            &f.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{frozen}");
    assert_eq!(frozen["status"], "awaiting_cosign");
    let (s, e) = f
        .post(
            &format!("/api/v1/reports/{}/seal", long["id"].as_str().unwrap()),
            &f.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 409, "a stale draft was sealed: {e}");
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.contains(&short_id), "{message}");
    assert!(message.contains("2027-01-03"), "{message}");
    // Reading the stale draft says so.
    let (_, stale) = f
        .get(
            &format!("/api/v1/reports/{}", long["id"].as_str().unwrap()),
            &f.treasurer,
        )
        .await;
    assert!(stale["warnings"].to_string().contains(&short_id), "{stale}");
    // A report awaiting its co-signature holds its place in the chain.
    refused_in_the_chain(
        &f,
        json!({"period_start": "2027-01-01", "period_end": "2027-01-05"}),
        &short_id,
        "2027-01-03",
    )
    .await;
    f.draft("2027-01-03", "2027-01-05").await;

    // A correction covers exactly the moments of the report it replaces.
    let (s, e) = f
        .post(
            "/api/v1/reports",
            &f.treasurer,
            json!({"period_start": "2026-12-01", "period_end": "2026-12-31", "supersedes": wide_id}),
        )
        .await;
    assert_eq!(s, 409, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2026-11-01"),
        "{e}"
    );
    let fix = f
        .post(
            "/api/v1/reports",
            &f.treasurer,
            json!({"period_start": "2026-11-01", "period_end": "2026-12-31", "supersedes": wide_id}),
        )
        .await;
    assert_eq!(fix.0, 201, "{}", fix.1);
    assert_eq!(fix.1["cutoff"], wide["cutoff"], "{}", fix.1);
    let fixed = f.seal(fix.1["id"].as_str().unwrap()).await;
    assert_eq!(fixed["summary"]["disbursed"], wide["summary"]["disbursed"]);
    assert_eq!(
        fixed["summary"]["opening_balance"],
        wide["summary"]["opening_balance"]
    );
    assert_eq!(
        fixed["summary"]["closing_balance"],
        wide["summary"]["closing_balance"]
    );
    f.app.stop().await;
}

/// Runs SQL on a frozen report with the database's protection lifted, as an intruder would.
async fn behind_the_triggers(db: &passage::store::Db, sql: &str, id: &str) {
    match db {
        passage::store::Db::Sqlite(p) => {
            sqlx::query("DROP TRIGGER IF EXISTS reports_frozen_never_change")
                .execute(p)
                .await
                .unwrap();
            sqlx::query(sql).bind(id).execute(p).await.unwrap();
        }
        passage::store::Db::Postgres(p) => {
            sqlx::query("ALTER TABLE reports DISABLE TRIGGER reports_frozen")
                .execute(p)
                .await
                .unwrap();
            sqlx::query(sql).bind(id).execute(p).await.unwrap();
        }
    }
}

/// A frozen report keeps the digest of the ledger entries it covers: verification checks
/// the stored bytes against the hash and the books against the digest, and a report frozen
/// before digests existed is recomputed instead, and the answer says so.
async fn a_frozen_report_is_verified_by_its_ledger_digest_and_its_stored_bytes(t: TestDb) {
    let mut f = Fund::new(t).await;
    let donor = f.donor("Fondation Exemple", "dons@example.org", "en").await;
    f.give(&donor, "20000.00").await;
    for _ in 0..5 {
        f.hotel("QC", 1, "120.00").await;
    }
    f.go_to(2026, 12, 1, 8).await;
    let id = f.draft("2026-11-01", "2026-11-30").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let report = f.seal(&id).await;
    let digest = report["ledger_digest"].as_str().unwrap().to_string();
    assert_eq!(digest.len(), 64, "{report}");
    assert_eq!(
        report["starts_after"],
        Value::Null,
        "the first report of the chain"
    );
    let verify = format!("/api/v1/reports/{id}/verify");
    let (s, v) = f.get(&verify, &f.treasurer).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["method"], "ledger_digest", "{v}");
    assert_eq!(v["matches"], true, "{v}");
    assert_eq!(v["recomputed_ledger_digest"], digest.as_str(), "{v}");

    // The stored bytes are what was hashed: the same JSON written differently is caught.
    let db = f.app.db.db.clone();
    behind_the_triggers(
        &db,
        "UPDATE reports SET summary = summary || ' ' WHERE id = $1",
        &id,
    )
    .await;
    let (_, v) = f.get(&verify, &f.treasurer).await;
    assert_eq!(v["stored_summary_intact"], false, "{v}");
    assert_eq!(v["matches"], false, "{v}");
    assert_eq!(v["books_match"], true, "{v}");
    behind_the_triggers(
        &db,
        "UPDATE reports SET summary = RTRIM(summary) WHERE id = $1",
        &id,
    )
    .await;

    // A report frozen before digests existed is recomputed, and the answer says so.
    behind_the_triggers(
        &db,
        "UPDATE reports SET ledger_digest = NULL WHERE id = $1",
        &id,
    )
    .await;
    let (_, v) = f.get(&verify, &f.treasurer).await;
    assert_eq!(v["method"], "recomputed", "{v}");
    assert_eq!(v["matches"], true, "{v}");
    assert!(v["note"].as_str().unwrap().contains("digest"), "{v}");
    // ... and it still matches when the release that sealed it hid other figures than
    // this one would (its suppression rules were older): only the figures that come from
    // the books whatever is hidden are compared, not the hash of a summary rebuilt today.
    let (_, stored) = f.get(&format!("/api/v1/reports/{id}"), &f.treasurer).await;
    let mut older = stored["summary"].clone();
    older["by_category"] = serde_json::json!({"cells": [], "other": null});
    older["cases_helped"] = Value::String("<5".into());
    let (text, hash) = passage::reports::summary::canonical_and_hash(&older);
    let (original_text, original_hash) =
        passage::reports::summary::canonical_and_hash(&stored["summary"]);
    let rewrite = |text: &str, hash: &str| {
        format!(
            "UPDATE reports SET summary = '{}', hash = '{hash}' WHERE id = $1",
            text.replace('\'', "''")
        )
    };
    behind_the_triggers(&db, &rewrite(&text, &hash), &id).await;
    let (_, v) = f.get(&verify, &f.treasurer).await;
    assert_eq!(v["method"], "recomputed", "{v}");
    assert_eq!(v["stored_summary_intact"], true, "{v}");
    assert_eq!(v["matches"], true, "{v}");
    behind_the_triggers(&db, &rewrite(&original_text, &original_hash), &id).await;
    let restore = format!("UPDATE reports SET ledger_digest = '{digest}' WHERE id = $1");
    behind_the_triggers(&db, &restore, &id).await;

    // The books changed behind the report: the digest says so.
    match &db {
        passage::store::Db::Sqlite(p) => {
            sqlx::query("DROP TRIGGER transfers_refuse_update")
                .execute(p)
                .await
                .unwrap();
            sqlx::query("UPDATE transfers SET amount = amount + 1 WHERE kind = 'post'")
                .execute(p)
                .await
                .unwrap();
        }
        passage::store::Db::Postgres(p) => {
            sqlx::query("ALTER TABLE transfers DISABLE TRIGGER transfers_append_only")
                .execute(p)
                .await
                .unwrap();
            sqlx::query("UPDATE transfers SET amount = amount + 1 WHERE kind = 'post'")
                .execute(p)
                .await
                .unwrap();
        }
    }
    let (_, v) = f.get(&verify, &f.treasurer).await;
    assert_eq!(v["method"], "ledger_digest", "{v}");
    assert_eq!(v["books_match"], false, "{v}");
    assert_eq!(v["stored_summary_intact"], true, "{v}");
    assert_eq!(v["matches"], false, "{v}");
    // A report frozen before digests existed is caught too, by the books' figures.
    behind_the_triggers(
        &db,
        "UPDATE reports SET ledger_digest = NULL WHERE id = $1",
        &id,
    )
    .await;
    let (_, v) = f.get(&verify, &f.treasurer).await;
    assert_eq!(v["method"], "recomputed", "{v}");
    assert_eq!(v["books_match"], false, "{v}");
    assert_eq!(v["matches"], false, "{v}");
    assert!(
        v["differences"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "disbursed"),
        "{v}"
    );
    f.app.stop().await;
}

async fn bad_report_requests_are_refused_by_name(t: TestDb) {
    let f = Fund::new(t).await;
    let cases = [
        (
            json!({"period_start": "2026-11-30", "period_end": "2026-11-01"}),
            "period_end",
        ),
        (
            json!({"period_start": "2026-13-01", "period_end": "2026-11-30"}),
            "period_start",
        ),
        (
            json!({"period_start": "2027-01-01", "period_end": "2027-01-31"}),
            "period_start",
        ),
        (json!({"period_end": "2026-11-30"}), "period_start"),
        (
            json!({"period_start": "2026-11-01", "period_end": "2026-11-30", "colour": "red"}),
            "colour",
        ),
        (
            json!({"period_start": "2026-11-01", "period_end": "2026-11-30", "supersedes": "x"}),
            "supersedes",
        ),
        (
            json!({"period_start": "2026-11-01", "period_end": "2026-11-30",
                "supersedes": uuid::Uuid::new_v4().to_string()}),
            "supersedes",
        ),
    ];
    for (body, field) in cases {
        let (s, e) = f.post("/api/v1/reports", &f.treasurer, body.clone()).await;
        assert_eq!(s, 422, "{body}: {e}");
        assert_eq!(e["error"]["field"], field, "{body}: {e}");
    }
    let (s, _) = f
        .post(
            "/api/v1/reports",
            &f.worker,
            json!({"period_start": "2026-11-01", "period_end": "2026-11-30"}),
        )
        .await;
    assert_eq!(s, 403);
    let (s, e) = f.get("/api/v1/reports/not-an-id", &f.treasurer).await;
    assert_eq!(s, 422, "{e}");
    let missing = uuid::Uuid::new_v4();
    for path in [
        format!("/api/v1/reports/{missing}"),
        format!("/api/v1/reports/{missing}/verify"),
    ] {
        let (s, e) = f.get(&path, &f.treasurer).await;
        assert_eq!(s, 404, "{path}: {e}");
    }
    let (s, e) = f
        .post(
            &format!("/api/v1/reports/{missing}/seal"),
            &f.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 404, "{e}");
    // A period that has not ended yet is reported up to now.
    let draft = f.draft("2026-11-01", "2026-11-30").await;
    assert_eq!(draft["cutoff"].as_str().unwrap(), "2026-11-29T23:40:00Z");
    let (s, list) = f.get("/api/v1/reports", &f.treasurer).await;
    assert_eq!(s, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    assert!(list["items"][0].get("summary").is_none(), "{list}");
    f.app.stop().await;
}

/// Finding 6 (dominance): four costly flights by four cases, folded with four cheap local
/// trips, made a category "other" of 3,648.00 that bounded the flights' 3,600.00 within
/// 2 %; and the trips' "other" of 8 cases, made of two `<5` scopes, said each was 4.
async fn an_other_cell_never_pins_the_amount_or_the_count_of_what_it_hides(t: TestDb) {
    let mut f = Fund::new(t).await;
    let donor = f.donor("Fondation Exemple", "dons@example.org", "fr").await;
    f.give(&donor, "60000.00").await;
    f.go_to(2026, 12, 10, 22).await;
    for _ in 0..10 {
        f.hotel("QC", 2, "150.00").await;
    }
    let fares = ["898.40", "912.15", "885.90", "903.55"];
    for fare in fares {
        f.trip("NS", "flight", fare, ("Halifax", "NS"), ("Vancouver", "BC"))
            .await;
    }
    for _ in 0..4 {
        f.trip(
            "QC",
            "local_transport",
            "12.00",
            ("Montréal", "QC"),
            ("Montréal", "QC"),
        )
        .await;
    }
    f.secrets
        .extend(["Halifax", "Vancouver", "Montréal"].map(String::from));
    let flights: i64 = fares.iter().map(|a| cents(&json!(a)).unwrap()).sum();
    f.go_to(2027, 1, 2, 9).await;
    let report = f.draft("2026-11-01", "2026-12-31").await;
    let report = f.seal(report["id"].as_str().unwrap()).await;
    let s = &report["summary"];
    assert_eq!(cell(&s["by_category"], "flight")["cases"], "<5", "{s}");
    // Amounts are never negative: a published group bounds the flights within [0, group].
    for section in ["by_category", "by_province"] {
        let other = &s[section]["other"];
        if let Some(amount) = cents(&other["amount"]) {
            assert!(
                10 * amount > 11 * flights,
                "{section} other {amount} pins the flights' {flights}: {s}"
            );
        }
        for c in s[section]["cells"].as_array().unwrap() {
            if let Some(amount) = cents(&c["amount"]) {
                assert!(
                    amount < flights || 10 * amount > 11 * flights,
                    "{section} {} pins the flights: {s}",
                    c["key"]
                );
            }
        }
    }
    // A group made only of `<5` scopes does not publish the count that pins them.
    let trips = &s["trips"]["other"];
    assert_eq!(trips["members"], json!(["local", "interprovincial"]), "{s}");
    assert_eq!(number(&trips["cases"]), None, "{s}");
    f.app.stop().await;
}

/// The annual summary adds the year's sealed reports and publishes only sums of what they
/// published: hotels (shown both months) for the year; buses, shown in November and
/// folded with the flights in December, go with the flights into `together`.
async fn the_annual_summary_adds_only_what_the_sealed_reports_published(t: TestDb) {
    let mut f = Fund::new(t).await;
    let (november, december, _) = two_months(&mut f).await;
    let (n, d) = (&november["summary"], &december["summary"]);
    let (s, year) = f.get("/api/v1/annual-reports/2026", &f.treasurer).await;
    assert_eq!(s, 200, "{year}");
    assert_eq!(year["reports"], json!([november["id"], december["id"]]));
    let sum = |a: &Value, b: &Value| cents(a).unwrap() + cents(b).unwrap();
    assert_eq!(
        cents(&year["disbursed"]).unwrap(),
        sum(&n["disbursed"], &d["disbursed"])
    );
    assert_eq!(
        cents(&year["donations"]).unwrap(),
        sum(&n["donations"]["total"], &d["donations"]["total"])
    );
    assert_eq!(year["opening_balance"], n["opening_balance"]);
    assert_eq!(year["closing_balance"], d["closing_balance"]);
    let cells = year["by_category"]["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 1, "{year}");
    assert_eq!(cells[0]["key"], "hotel");
    assert_eq!(
        cents(&cells[0]["amount"]).unwrap(),
        sum(
            &cell(&n["by_category"], "hotel")["amount"],
            &cell(&d["by_category"], "hotel")["amount"]
        )
    );
    // The buses of November (published) and December's `together` (published): nothing
    // the year shows is not a sum of published figures.
    assert_eq!(
        cents(&year["by_category"]["together"]).unwrap(),
        sum(
            &cell(&n["by_category"], "bus")["amount"],
            &d["by_category"]["other"]["amount"]
        )
    );
    assert_eq!(
        year["trips"].as_i64().unwrap(),
        number(&n["trips"]["total"]).unwrap() + number(&d["trips"]["total"]).unwrap()
    );
    assert!(
        !year.to_string().contains("cases"),
        "no case count is added: {year}"
    );
    // A year with no report, and a year that is not one.
    let (s, empty) = f.get("/api/v1/annual-reports/2025", &f.treasurer).await;
    assert_eq!(s, 200);
    assert_eq!(empty["reports"], json!([]));
    let (s, e) = f.get("/api/v1/annual-reports/20x6", &f.treasurer).await;
    assert_eq!(s, 422, "{e}");
    f.app.stop().await;
}

/// Issue 18: the receipts paid back to organisations, beside what was spent. November's
/// receipts (the coalition's 11 cases, a shelter's 2, another's 3) are paid in December;
/// the December report says how much, names the coalition (11 cases) and never the two
/// shelters (fewer than 5 cases each: "other organisations together", 5 cases), and no
/// subtraction with November's figures gives fewer than 5 cases. November, when nothing
/// was paid yet, has no such figure (summaries keep their shape when it is absent).
async fn receipts_paid_back_are_published_beside_spending_and_no_small_organisation_is_named(
    t: TestDb,
) {
    let mut f = Fund::new(t).await;
    let donor = f.donor("Fondation Exemple", "dons@example.org", "fr").await;
    f.give(&donor, "60000.00").await;
    let maison = f.other_org("Maison Petite", "maison@example.org").await;
    let refuge = f.other_org("Refuge Discret", "refuge@example.org").await;
    for _ in 0..6 {
        f.hotel("QC", 2, "150.00").await;
    }
    for _ in 0..5 {
        f.trip("ON", "bus", "64.50", ("Toronto", "ON"), ("Ottawa", "ON"))
            .await;
    }
    for (worker, stays) in [(&maison, 2), (&refuge, 3)] {
        f.act_for(worker).await;
        for _ in 0..stays {
            f.hotel("QC", 2, "150.00").await;
        }
    }
    f.go_to(2026, 12, 2, 9).await;
    let november = f.draft("2026-11-01", "2026-11-30").await;
    let november = f.seal(november["id"].as_str().unwrap()).await;
    assert!(
        november["summary"].get("paid_to_organisations").is_none(),
        "{}",
        november["summary"]
    );

    // December 3: everything owed is paid; then December's own spending, not yet paid.
    f.go_to(2026, 12, 3, 10).await;
    let batch = f.pay_everything_owed().await;
    assert_eq!(batch["total"], "3622.50", "{batch}");
    f.go_to(2026, 12, 10, 22).await;
    for _ in 0..6 {
        f.hotel("QC", 2, "150.00").await;
    }
    for _ in 0..5 {
        f.trip("ON", "bus", "64.50", ("Toronto", "ON"), ("Ottawa", "ON"))
            .await;
    }
    f.go_to(2027, 1, 2, 9).await;
    let december = f.draft("2026-12-01", "2026-12-31").await;
    let december = f.seal(december["id"].as_str().unwrap()).await;
    let s = &december["summary"];
    let paid = &s["paid_to_organisations"];
    // November's receipts, paid in December; December's own are still owed.
    assert_eq!(paid["amount"], "3622.50", "{s}");
    assert_eq!(
        paid["amount"], november["summary"]["disbursed"],
        "all of November was paid back"
    );
    assert_ne!(paid["amount"], s["disbursed"]);
    assert_eq!(
        paid["organisations"],
        json!([{"amount": "2122.50", "name": "Coalition Exemple"}]),
        "{paid}"
    );
    assert_eq!(paid["others"], "1500.00", "{paid}");
    let text = s.to_string();
    for small in ["Maison Petite", "Refuge Discret"] {
        assert!(!text.contains(small), "{small} is named: {text}");
    }
    // The figures of both reports give nothing of fewer than 5 cases: the others are the
    // two shelters' 5 cases, and every difference with November is of 5 cases or more.
    let total = cents(&paid["amount"]).unwrap();
    let coalition = cents(&paid["organisations"][0]["amount"]).unwrap();
    let november_hotels = cents(&cell(&november["summary"]["by_category"], "hotel")["amount"]);
    assert_eq!(total - coalition, 150_000);
    assert_eq!(november_hotels, Some(330_000));
    // The report still verifies against the books, and its stored bytes are its hash.
    let id = december["id"].as_str().unwrap();
    let (st, v) = f
        .get(&format!("/api/v1/reports/{id}/verify"), &f.treasurer)
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["matches"], true, "{v}");
    f.app.stop().await;
}

on_both_engines!(
    receipts_paid_back_are_published_beside_spending_and_no_small_organisation_is_named,
    the_annual_summary_adds_only_what_the_sealed_reports_published,
    an_other_cell_never_pins_the_amount_or_the_count_of_what_it_hides,
    three_flights_show_as_fewer_than_five_and_no_subtraction_finds_them,
    a_report_is_frozen_by_one_treasurer_cosigned_by_another_and_never_changes,
    bad_report_requests_are_refused_by_name,
    two_reports_of_one_day_never_cover_the_same_moment,
    reports_form_one_chain_and_a_refusal_names_the_report_in_the_way,
    a_frozen_report_is_verified_by_its_ledger_digest_and_its_stored_bytes,
);
