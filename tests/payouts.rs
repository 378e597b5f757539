//! Paying the organisations (issue 18), on both engines: each organisation's payment mode
//! (reimbursement, an advance, a vendor account the fund pays through), what each receipt
//! makes the fund owe, and payout batches prepared by one treasurer and released by
//! another, paid whole or line by line, a bounce owed again. After every step the fund's
//! two identities hold to the cent:
//! `bank = available + reserved + held + owed + to_replenish` and
//! `donated + other_income − fees = bank + advanced + spent − owed`.

mod common;

use common::fund::Fund;
use common::{TestDb, books};
use passage::clock::Clock;
use serde_json::{Value, json};

fn cents(v: &Value) -> i64 {
    let text = v
        .as_str()
        .unwrap_or_else(|| panic!("an amount as a string: {v}"));
    let (whole, part) = text.split_once('.').unwrap_or((text, "00"));
    let sign = if whole.starts_with('-') { -1 } else { 1 };
    sign * (whole.trim_start_matches('-').parse::<i64>().unwrap() * 100
        + part.parse::<i64>().unwrap())
}

/// The fund's figures, checked against both identities.
async fn fund(f: &Fund) -> Value {
    let (s, fund) = f.get("/api/v1/fund", &f.treasurer).await;
    assert_eq!(s, 200, "{fund}");
    let c = |k: &str| cents(&fund[k]);
    assert_eq!(
        c("bank"),
        c("available") + c("reserved") + c("held") + c("owed") + c("to_replenish"),
        "bank = available + reserved + held + owed + to_replenish: {fund}"
    );
    assert_eq!(
        c("donated") + c("other_income") - c("fees"),
        c("bank") + c("advanced") + c("spent") - c("owed"),
        "donated + other_income - fees = bank + advanced + spent - owed: {fund}"
    );
    fund
}

async fn put(f: &Fund, path: &str, token: &str, body: Value) -> (u16, Value) {
    f.send(
        f.app
            .http
            .put(f.app.url(path))
            .bearer_auth(token)
            .json(&body),
    )
    .await
}

/// An organisation with a caseworker; its id and the caseworker's token.
async fn org(f: &Fund, name: &str, email: &str) -> (String, String) {
    let id = f.app.seed_org(name).await;
    let user = f.app.seed_user(email, "caseworker", Some(&id)).await;
    (id, f.app.token_for(&user).await)
}

/// A bus fare of `amount` for a new case, approved at once; the request's id.
async fn fare(f: &Fund, token: &str, amount: &str) -> String {
    let (s, case) = f
        .post("/api/v1/cases", token, json!({"province": "QC"}))
        .await;
    assert_eq!(s, 201, "{case}");
    let today = f.today();
    let (s, r) = f
        .post(
            "/api/v1/requests",
            token,
            json!({"case_code": case["code"], "category": "bus", "amount": amount,
                   "needed_by": today, "reason": "safety", "travel_date": today,
                   "origin": {"city": "Montréal", "province": "QC"},
                   "destination": {"city": "Québec", "province": "QC"}}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["status"], "approved", "{r}");
    r["id"].as_str().unwrap().to_string()
}

async fn receipt(f: &Fund, token: &str, id: &str, amount: &str, extra: Value) -> Value {
    let mut body = json!({"amount": amount, "reference": "RF-BUS-A"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (s, r) = f
        .post(&format!("/api/v1/requests/{id}/receipt"), token, body)
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], "settled", "{r}");
    r
}

async fn funded(t: TestDb, amount: &str) -> Fund {
    let f = Fund::new(t).await;
    let donor = f
        .donor("Fondation Exemple", "fondation@example.org", "fr")
        .await;
    f.give(&donor, amount).await;
    f
}

fn line<'a>(batch: &'a Value, payee: &str, purpose: &str) -> &'a Value {
    batch["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["payee_id"] == payee && l["purpose"] == purpose)
        .unwrap_or_else(|| panic!("no {purpose} line for {payee}: {batch}"))
}

/// Payment modes and vendors are the treasurers', checked field by field, details masked.
async fn payment_modes_and_vendors_are_set_by_treasurers(t: TestDb) {
    let f = funded(t, "100.00").await;
    let (a, worker_a) = org(&f, "Refuge Exemple", "a@example.org").await;
    let path = format!("/api/v1/orgs/{a}/payment");
    let (s, r) = put(&f, &path, &worker_a, json!({"mode": "reimbursement"})).await;
    assert_eq!(s, 403, "a caseworker: {r}");
    let (s, r) = put(&f, &path, &f.treasurer, json!({"mode": "advance"})).await;
    assert_eq!(s, 422, "{r}");
    assert_eq!(r["error"]["field"], "advance_level", "{r}");
    let (s, r) = put(&f, &path, &f.treasurer, json!({"mode": "fund_pays"})).await;
    assert_eq!(s, 422, "{r}");
    assert_eq!(r["error"]["field"], "default_vendor_id", "{r}");
    let (s, r) = put(&f, &path, &f.treasurer, json!({"mode": "barter"})).await;
    assert_eq!(s, 422, "{r}");
    let (s, r) = put(
        &f,
        &path,
        &f.treasurer,
        json!({"mode": "reimbursement", "method": "eft", "payee_details": "00123-815-1234567"}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["mode"], "reimbursement");
    assert_eq!(r["method"], "eft");
    assert_eq!(r["payee_details"], "••••4567", "masked: {r}");
    let (s, r) = put(
        &f,
        "/api/v1/orgs/00000000-0000-0000-0000-000000000000/payment",
        &f.treasurer,
        json!({"mode": "reimbursement"}),
    )
    .await;
    assert_eq!(s, 404, "{r}");

    let (s, v) = f
        .post(
            "/api/v1/vendors",
            &f.treasurer,
            json!({"name": "VIA Rail account", "method": "eft", "payee_details": "004-12345-7654321"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, again) = f
        .post(
            "/api/v1/vendors",
            &f.treasurer,
            json!({"name": "VIA Rail account"}),
        )
        .await;
    assert_eq!(s, 409, "{again}");
    let (s, list) = f.get("/api/v1/vendors", &f.treasurer).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list[0]["id"], v["id"]);
    assert_eq!(list[0]["payee_details"], "••••4321", "{list}");
    let (s, r) = f.get("/api/v1/vendors", &worker_a).await;
    assert_eq!(s, 403, "{r}");
    let (s, r) = put(
        &f,
        &path,
        &f.treasurer,
        json!({"mode": "fund_pays", "default_vendor_id": v["id"]}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    f.app.stop().await;
}

/// Three organisations, three ways; a night of receipts; two treasurers pay what is owed.
async fn three_ways_and_a_payout_keep_both_identities(t: TestDb) {
    let f = funded(t, "10000.00").await;
    let (a, worker_a) = org(&f, "Refuge A", "a@example.org").await;
    let (b, worker_b) = org(&f, "Maison B", "b@example.org").await;
    let (c, worker_c) = org(&f, "Centre C", "c@example.org").await;
    let (s, vendor) = f
        .post(
            "/api/v1/vendors",
            &f.treasurer,
            json!({"name": "Autocars Exemple account", "method": "card"}),
        )
        .await;
    assert_eq!(s, 201, "{vendor}");
    let vendor = vendor["id"].as_str().unwrap().to_string();
    for (org, body) in [
        (
            &a,
            json!({"mode": "reimbursement", "payee_details": "finance@a.example.org"}),
        ),
        (
            &b,
            json!({"mode": "advance", "advance_level": "2000.00", "method": "eft",
                    "payee_details": "00123-815-1234567"}),
        ),
        (
            &c,
            json!({"mode": "fund_pays", "default_vendor_id": vendor}),
        ),
    ] {
        let (s, r) = put(
            &f,
            &format!("/api/v1/orgs/{org}/payment"),
            &f.treasurer,
            body,
        )
        .await;
        assert_eq!(s, 200, "{r}");
    }
    let before = fund(&f).await;
    assert_eq!(before["bank"], "10000.00", "{before}");
    assert_eq!(before["owed"], "0.00");

    // The advance goes out first: prepared by one treasurer, released by another, paid.
    let (s, first) = f.post("/api/v1/payouts", &f.treasurer, json!({})).await;
    assert_eq!(s, 201, "{first}");
    assert_eq!(first["status"], "prepared");
    assert_eq!(first["total"], "2000.00", "{first}");
    let advance = line(&first, &b, "advance");
    assert_eq!(advance["payee_kind"], "org");
    assert_eq!(advance["method"], "eft");
    let id = first["id"].as_str().unwrap();
    let (s, r) = f
        .post(
            &format!("/api/v1/payouts/{id}/paid"),
            &f.treasurer,
            json!({"reference": "BANK-1"}),
        )
        .await;
    assert_eq!(s, 409, "not released yet: {r}");
    let (s, r) = f
        .post(
            &format!("/api/v1/payouts/{id}/release"),
            &f.second_treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let (s, r) = f
        .post(
            &format!("/api/v1/payouts/{id}/paid"),
            &f.treasurer,
            json!({"reference": "BANK-1"}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], "paid", "{r}");
    let after = fund(&f).await;
    assert_eq!(
        (
            after["bank"].as_str(),
            after["advanced"].as_str(),
            after["available"].as_str()
        ),
        (Some("8000.00"), Some("2000.00"), Some("8000.00")),
        "{after}"
    );
    assert_eq!(after["paid_out"], "2000.00");

    // The night: A paid a fare itself, B from its advance (and once with its own card),
    // C's fare went on the carrier's account.
    let fare_a = fare(&f, &worker_a, "120.00").await;
    receipt(&f, &worker_a, &fare_a, "110.00", json!({})).await;
    let fare_b = fare(&f, &worker_b, "200.00").await;
    receipt(&f, &worker_b, &fare_b, "180.00", json!({})).await;
    let fare_b2 = fare(&f, &worker_b, "60.00").await;
    receipt(&f, &worker_b, &fare_b2, "45.50", json!({"paid_by": "org"})).await;
    let fare_c = fare(&f, &worker_c, "90.00").await;
    receipt(&f, &worker_c, &fare_c, "90.00", json!({})).await;
    let (s, r) = f
        .post(
            &format!(
                "/api/v1/requests/{}/receipt",
                fare(&f, &worker_a, "30.00").await
            ),
            &worker_a,
            json!({"amount": "30.00", "reference": "RF-X", "paid_by": "vendor"}),
        )
        .await;
    assert_eq!(s, 422, "paid by a vendor, but which: {r}");
    assert_eq!(r["error"]["field"], "vendor_id", "{r}");
    let night = fund(&f).await;
    assert_eq!(night["owed"], "245.50", "110.00 + 45.50 + 90.00: {night}");
    assert_eq!(night["to_replenish"], "180.00", "{night}");
    assert_eq!(night["advanced"], "1820.00", "{night}");
    assert_eq!(night["spent"], "425.50", "{night}");
    assert_eq!(night["bank"], "8000.00", "no money left the bank: {night}");

    // The month's end: one batch of everything owed and to replenish.
    let (s, batch) = f.post("/api/v1/payouts", &f.treasurer, json!({})).await;
    assert_eq!(s, 201, "{batch}");
    assert_eq!(batch["total"], "425.50", "{batch}");
    assert_eq!(line(&batch, &a, "reimbursement")["amount"], "110.00");
    assert_eq!(line(&batch, &b, "reimbursement")["amount"], "45.50");
    assert_eq!(line(&batch, &b, "replenishment")["amount"], "180.00");
    let to_vendor = line(&batch, &vendor, "vendor");
    assert_eq!(to_vendor["amount"], "90.00");
    assert_eq!(to_vendor["payee_kind"], "vendor");
    assert_eq!(to_vendor["method"], "card");
    assert_eq!(
        line(&batch, &a, "reimbursement")["payee_details"],
        "f•••@a.example.org"
    );
    let id = batch["id"].as_str().unwrap().to_string();
    let reference = batch["reference"].as_str().unwrap().to_string();
    // Nothing is left for another batch while this one lives.
    let (s, r) = f
        .post("/api/v1/payouts", &f.second_treasurer, json!({}))
        .await;
    assert_eq!(s, 409, "{r}");
    let (s, r) = f
        .get(
            &format!("/api/v1/payouts/{id}/instructions.csv"),
            &f.treasurer,
        )
        .await;
    assert_eq!(s, 409, "not released: {r}");
    let (s, r) = f
        .post(
            &format!("/api/v1/payouts/{id}/release"),
            &f.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 403, "the preparer cannot release: {r}");
    let (s, r) = f
        .post(
            &format!("/api/v1/payouts/{id}/release"),
            &f.second_treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], "released");

    let res = f
        .app
        .get(
            &format!("/api/v1/payouts/{id}/instructions.csv"),
            Some(&f.treasurer),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"),
        "{:?}",
        res.headers()
    );
    let csv = res.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "payee,payee_details,amount,method,memo", "{csv}");
    assert_eq!(rows.len(), 4, "one line per payee: {csv}");
    assert!(
        rows.contains(&format!("Maison B,00123-815-1234567,225.50,eft,Passage {reference} reimbursement+replenishment").as_str())
            || rows.contains(&format!("Maison B,00123-815-1234567,225.50,eft,Passage {reference} replenishment+reimbursement").as_str()),
        "{csv}"
    );
    assert!(
        rows.contains(
            &format!(
                "Refuge A,finance@a.example.org,110.00,etransfer,Passage {reference} reimbursement"
            )
            .as_str()
        ),
        "{csv}"
    );
    for code in f.secrets.iter() {
        assert!(
            !csv.contains(code.as_str()),
            "a case code in the instructions: {csv}"
        );
    }
    assert!(!csv.contains("QC-"), "{csv}");

    // A's line is paid first, the rest together; then A's payment bounces.
    let line_a = line(&batch, &a, "reimbursement")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, r) = f
        .post(
            &format!("/api/v1/payouts/{id}/lines/{line_a}/paid"),
            &f.treasurer,
            json!({"reference": "ET-77A"}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], "released", "{r}");
    let partly = fund(&f).await;
    assert_eq!(partly["owed"], "135.50", "{partly}");
    assert_eq!(partly["bank"], "7890.00", "{partly}");
    let (s, r) = f
        .post(
            &format!("/api/v1/payouts/{id}/cancel"),
            &f.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 409, "part of it is paid: {r}");
    let (s, r) = f
        .post(
            &format!("/api/v1/payouts/{id}/paid"),
            &f.second_treasurer,
            json!({"reference": "BULK-0412"}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], "paid", "{r}");
    let paid = fund(&f).await;
    assert_eq!(
        (
            paid["owed"].as_str(),
            paid["to_replenish"].as_str(),
            paid["advanced"].as_str()
        ),
        (Some("0.00"), Some("0.00"), Some("2000.00")),
        "{paid}"
    );
    assert_eq!(paid["bank"], "7574.50", "{paid}");
    assert_eq!(paid["paid_out"], "2425.50", "{paid}");

    let (s, r) = f
        .post(
            &format!("/api/v1/payouts/{id}/lines/{line_a}/bounced"),
            &f.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let bounced = fund(&f).await;
    assert_eq!(bounced["owed"], "110.00", "owed again: {bounced}");
    assert_eq!(bounced["bank"], "7684.50", "{bounced}");
    assert_eq!(bounced["paid_out"], "2315.50", "{bounced}");
    let (s, r) = f
        .post(
            &format!("/api/v1/payouts/{id}/lines/{line_a}/bounced"),
            &f.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 409, "a line bounces once: {r}");

    // The next batch takes A again; cancelled, its line is free for the one after.
    let (s, next) = f.post("/api/v1/payouts", &f.treasurer, json!({})).await;
    assert_eq!(s, 201, "{next}");
    assert_eq!(next["total"], "110.00", "{next}");
    let next_id = next["id"].as_str().unwrap();
    let (s, r) = f
        .post(
            &format!("/api/v1/payouts/{next_id}/cancel"),
            &f.second_treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], "cancelled");
    let (s, again) = f.post("/api/v1/payouts", &f.treasurer, json!({})).await;
    assert_eq!(s, 201, "{again}");
    assert_eq!(line(&again, &a, "reimbursement")["amount"], "110.00");

    // Every step was audited, and the books hold.
    let db = &f.app.db.db;
    let actions: Vec<String> = passage::on_db!(db, p => sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE action LIKE 'payout.%' OR action = 'org.payment' OR action = 'vendor.add'"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    for action in [
        "org.payment",
        "vendor.add",
        "payout.prepare",
        "payout.release",
        "payout.line_paid",
        "payout.paid",
        "payout.line_bounced",
        "payout.cancel",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "no {action}: {actions:?}"
        );
    }
    f.app.clock.advance(chrono::Duration::minutes(1));
    books::check(db).await;
    f.app.stop().await;
}

/// Only receipts up to `up_to` are taken; a treasurer of a payee organisation does not
/// release its batch.
async fn up_to_and_a_treasurer_of_the_payee(t: TestDb) {
    let f = funded(t, "3000.00").await;
    let (a, worker_a) = org(&f, "Refuge A", "a@example.org").await;
    let early = fare(&f, &worker_a, "40.00").await;
    receipt(&f, &worker_a, &early, "40.00", json!({})).await;
    let cut = f.app.clock.now();
    f.app.clock.advance(chrono::Duration::minutes(5));
    let late = fare(&f, &worker_a, "25.00").await;
    receipt(&f, &worker_a, &late, "25.00", json!({})).await;
    let (s, batch) = f
        .post(
            "/api/v1/payouts",
            &f.treasurer,
            json!({"up_to": cut.to_rfc3339()}),
        )
        .await;
    assert_eq!(s, 201, "{batch}");
    assert_eq!(batch["total"], "40.00", "{batch}");
    let own = f
        .app
        .seed_user("t-a@example.org", "treasurer", Some(&a))
        .await;
    let own = f.app.token_for(&own).await;
    let id = batch["id"].as_str().unwrap();
    let (s, r) = f
        .post(&format!("/api/v1/payouts/{id}/release"), &own, json!({}))
        .await;
    assert_eq!(s, 403, "it pays the releaser's own organisation: {r}");
    let (s, r) = f
        .post(
            "/api/v1/payouts",
            &f.treasurer,
            json!({"up_to": "yesterday"}),
        )
        .await;
    assert_eq!(s, 422, "{r}");
    fund(&f).await;
    f.app.stop().await;
}

/// An advance is the fund's money kept at an organisation, not spending: the donor report
/// of its month counts no disbursement for it and keeps it in the closing balance; what
/// the organisation then spends from it is spending, as any receipt.
async fn an_advance_is_not_spending_in_a_donor_report(t: TestDb) {
    use chrono::{Datelike, Duration, NaiveDate};
    let mut f = funded(t, "10000.00").await;
    let (b, worker_b) = org(&f, "Maison B", "b@example.org").await;
    let (s, r) = put(
        &f,
        &format!("/api/v1/orgs/{b}/payment"),
        &f.treasurer,
        json!({"mode": "advance", "advance_level": "2000.00", "method": "eft",
                "payee_details": "00123-815-1234567"}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let (s, batch) = f.post("/api/v1/payouts", &f.treasurer, json!({})).await;
    assert_eq!(s, 201, "{batch}");
    assert_eq!(batch["total"], "2000.00", "{batch}");
    let id = batch["id"].as_str().unwrap();
    let (s, r) = f
        .post(
            &format!("/api/v1/payouts/{id}/release"),
            &f.second_treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let (s, r) = f
        .post(
            &format!("/api/v1/payouts/{id}/paid"),
            &f.treasurer,
            json!({"reference": "BANK-ADV"}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    // Five cases, so that the period is not too quiet to publish its spending.
    for _ in 0..5 {
        let bus = fare(&f, &worker_b, "40.00").await;
        receipt(&f, &worker_b, &bus, "40.00", json!({})).await;
    }
    fund(&f).await;

    let today = f.app.clock.now().date_naive();
    let start = today.with_day(1).unwrap();
    let next = if start.month() == 12 {
        NaiveDate::from_ymd_opt(start.year() + 1, 1, 1).unwrap()
    } else {
        NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1).unwrap()
    };
    let end = next - Duration::days(1);
    f.go_to(next.year(), next.month(), 2, 12).await;
    let report = f.draft(&start.to_string(), &end.to_string()).await;
    let summary = &report["summary"];
    assert_eq!(
        summary["disbursed"], "200.00",
        "the buses are spending, the advance is not: {summary}"
    );
    assert_eq!(summary["opening_balance"], "0.00", "{summary}");
    assert_eq!(
        summary["closing_balance"], "9800.00",
        "the advance is still the fund's money: {summary}"
    );
    f.app.stop().await;
}

on_both_engines!(
    payment_modes_and_vendors_are_set_by_treasurers,
    three_ways_and_a_payout_keep_both_identities,
    up_to_and_a_treasurer_of_the_payee,
    an_advance_is_not_spending_in_a_donor_report,
);
