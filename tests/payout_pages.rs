//! Paying the organisations through the pages (issue 18), on both engines: a treasurer
//! sets how organisations and vendor accounts are paid, reads what the fund owes (oldest
//! first) and its advances, prepares a batch that a second treasurer releases (the page
//! says why the preparer cannot), marks it paid whole or line by line, records a bounce,
//! prints its cheques; a caseworker reads what the fund owes and paid their organisation
//! only; an advance above its level is owed back until its deposit is recorded. The
//! forms go through the API's steps: after each, the fund's two identities hold.

mod common;

use common::fund::Fund;
use common::visitor::{Page, Visitor};
use common::{TestDb, books};
use passage::clock::Clock;
use passage::domain::Language;
use passage::web::i18n;
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

/// Each figure of `GET /api/v1/fund` and the id of the `/fund` page's figure showing it.
const FUND_PAGE: &[(&str, &str)] = &[
    ("available", "fund-available"),
    ("held", "fund-held"),
    ("spent", "fund-spent"),
    ("donated", "fund-donated"),
    ("restricted", "fund-restricted"),
    ("reserved", "fund-reserved"),
    ("reserve_floor", "fund-reserve-floor"),
    ("in_kind", "fund-in-kind"),
    ("bank", "fund-bank-balance"),
    ("owed", "fund-bank-owed"),
    ("to_replenish", "fund-bank-to-replenish"),
    ("advanced", "fund-bank-advanced"),
    ("owed_back", "fund-bank-owed-back"),
    ("paid_out", "fund-bank-paid-out"),
    ("other_income", "fund-bank-other-income"),
    ("fees", "fund-bank-fees"),
];

/// The `/fund` page shows every figure `GET /api/v1/fund` gives, to the cent, in English
/// and in French (each in its own number format), and both identities in words; the
/// visitor speaks English again after.
async fn fund_page_agrees(f: &Fund, v: &mut Visitor) {
    let figures = fund(f).await;
    assert_eq!(
        figures.as_object().unwrap().len() - 1,
        FUND_PAGE.len(),
        "every figure but the restricted categories is on the page: {figures}"
    );
    for (typed, language) in [("fr", Language::Fr), ("en", Language::En)] {
        v.speak(typed).await;
        let page = v.get("/fund").await;
        assert_eq!(page.status, 200, "{}", page.body);
        for (key, id) in FUND_PAGE {
            let shown = i18n::money(language, cents(&figures[*key]));
            assert!(
                page.body.contains(&format!("<dd id=\"{id}\">{shown}</dd>")),
                "{typed}: {key} is {shown} by the API: {}",
                page.body
            );
        }
        for key in [
            "fund-bank-title",
            "fund-bank-identity-bank",
            "fund-bank-identity-books",
        ] {
            assert!(
                page.text().contains(&i18n::text(language, key)),
                "{typed}: {key}: {}",
                page.text()
            );
        }
    }
}

async fn put(f: &Fund, path: &str, body: Value) -> (u16, Value) {
    f.send(
        f.app
            .http
            .put(f.app.url(path))
            .bearer_auth(&f.treasurer)
            .json(&body),
    )
    .await
}

async fn funded(t: TestDb, amount: &str) -> Fund {
    let f = Fund::new(t).await;
    let donor = f
        .donor("Fondation Exemple", "fondation@example.org", "fr")
        .await;
    f.give(&donor, amount).await;
    f
}

/// An organisation with a caseworker; its id and the caseworker's token.
async fn org(f: &Fund, name: &str, email: &str) -> (String, String) {
    let id = f.app.seed_org(name).await;
    let user = f.app.seed_user(email, "caseworker", Some(&id)).await;
    (id, f.app.token_for(&user).await)
}

/// A bus fare approved at once and its receipt: the case code.
async fn fare(f: &Fund, token: &str, amount: &str, extra: Value) -> String {
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
    let mut body = json!({"amount": amount, "reference": "RF-BUS-A"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let id = r["id"].as_str().unwrap();
    let (s, r) = f
        .post(&format!("/api/v1/requests/{id}/receipt"), token, body)
        .await;
    assert_eq!(s, 200, "{r}");
    case["code"].as_str().unwrap().to_string()
}

async fn signed_in(f: &Fund, email: &str) -> Visitor {
    let mut v = Visitor::new(&f.app, "en");
    let page = v.sign_in(email).await;
    assert_eq!(page.status, 303, "{email} signs in: {}", page.body);
    v
}

fn en(key: &str) -> String {
    i18n::text(Language::En, key)
}

fn fr(key: &str) -> String {
    i18n::text(Language::Fr, key)
}

/// The id at the end of a redirect to `/payouts/ID`.
fn batch_of(page: &Page) -> String {
    assert_eq!(page.status, 303, "{}", page.body);
    page.location()
        .strip_prefix("/payouts/")
        .unwrap_or_else(|| panic!("to a batch: {}", page.location()))
        .to_string()
}

/// The ids of a batch's lines, by payee name, from the API.
async fn lines(f: &Fund, id: &str) -> Vec<(String, String, String)> {
    let (s, batch) = f.get(&format!("/api/v1/payouts/{id}"), &f.treasurer).await;
    assert_eq!(s, 200, "{batch}");
    batch["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["payee_name"].as_str().unwrap().to_string(),
                l["purpose"].as_str().unwrap().to_string(),
                l["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Settings and vendor accounts through the forms; two batches from preparation to the
/// bank; a bounce; the cheques; what a caseworker reads.
async fn treasurers_pay_what_is_owed_through_the_pages(t: TestDb) {
    let f = funded(t, "10000.00").await;
    let (a, worker_a) = org(&f, "Refuge A", "a@example.org").await;
    let (b, worker_b) = org(&f, "Maison B", "b@example.org").await;
    let (c, worker_c) = org(&f, "Centre C", "c@example.org").await;
    let mut t1 = signed_in(&f, "t1@example.org").await;

    // A vendor account and how each organisation is paid, by form.
    let page = t1.get("/payment").await;
    assert_eq!(page.status, 200);
    for name in ["Refuge A", "Maison B", "Centre C"] {
        assert!(page.body.contains(name), "{name}: {}", page.body);
    }
    let key = page.hidden("idempotency_key");
    let vendor_form = [
        ("idempotency_key", key.as_str()),
        ("vendor_name", "Autocars Exemple account"),
        ("vendor_method", "card"),
        ("vendor_details", "4500-1234-9876"),
    ];
    let made = t1.post("/vendors", &vendor_form).await;
    assert_eq!(made.status, 303, "{}", made.body);
    let again = t1.post("/vendors", &vendor_form).await;
    assert_eq!(
        again.status, 303,
        "the same form sent twice adds one account"
    );
    let page = t1.get("/payment").await;
    let key = page.hidden("idempotency_key");
    let taken = t1
        .post(
            "/vendors",
            &[
                ("idempotency_key", key.as_str()),
                ("vendor_name", "Autocars Exemple account"),
            ],
        )
        .await;
    assert_eq!(taken.status, 422, "{}", taken.body);
    assert!(taken.text().contains(&en("error-vendor_name_taken")));
    let (s, vendors) = f.get("/api/v1/vendors", &f.treasurer).await;
    assert_eq!(s, 200);
    assert_eq!(vendors.as_array().unwrap().len(), 1, "{vendors}");
    let vendor = vendors[0]["id"].as_str().unwrap().to_string();
    let page = t1.get("/payment").await;
    assert!(page.text().contains("••••9876"), "masked: {}", page.text());
    assert!(!page.body.contains("4500-1234-9876"), "never in full");

    t1.get(&format!("/payment/{b}")).await;
    let refused = t1
        .post(
            &format!("/payment/{b}"),
            &[("mode", "advance"), ("method", "eft")],
        )
        .await;
    assert_eq!(refused.status, 422, "an advance needs its level");
    assert!(
        refused.text().contains(&en("error-payment_advance_level")),
        "{}",
        refused.text()
    );
    for (org, fields) in [
        (
            &a,
            vec![
                ("mode", "reimbursement"),
                ("method", "etransfer"),
                ("payee_details", "finance@a.example.org"),
            ],
        ),
        (
            &b,
            vec![
                ("mode", "advance"),
                ("advance_level", "2 000,00"),
                ("method", "eft"),
                ("payee_details", "00123-815-1234567"),
            ],
        ),
        (
            &c,
            vec![
                ("mode", "fund_pays"),
                ("default_vendor_id", vendor.as_str()),
                ("method", "cheque"),
            ],
        ),
    ] {
        t1.get(&format!("/payment/{org}")).await;
        let saved = t1.post(&format!("/payment/{org}"), &fields).await;
        assert_eq!(saved.status, 303, "{}", saved.body);
    }
    let (s, settings) = f
        .get(&format!("/api/v1/orgs/{b}/payment"), &f.treasurer)
        .await;
    assert_eq!(s, 200, "{settings}");
    assert_eq!(
        (
            settings["mode"].as_str(),
            settings["advance_level"].as_str()
        ),
        (Some("advance"), Some("2000.00")),
        "{settings}"
    );
    assert_eq!(settings["payee_details"], "••••4567");
    // Saving again without typing the details keeps them.
    t1.get(&format!("/payment/{b}")).await;
    let kept = t1
        .post(
            &format!("/payment/{b}"),
            &[
                ("mode", "advance"),
                ("advance_level", "2000.00"),
                ("method", "eft"),
            ],
        )
        .await;
    assert_eq!(kept.status, 303);
    let (_, settings) = f
        .get(&format!("/api/v1/orgs/{b}/payment"), &f.treasurer)
        .await;
    assert_eq!(settings["payee_details"], "••••4567", "{settings}");

    // The advance goes out: prepared by one treasurer, refused to them, released by another.
    let page = t1.get("/payouts").await;
    assert_eq!(page.status, 200);
    let key = page.hidden("idempotency_key");
    let prepared = t1
        .post(
            "/payouts",
            &[("idempotency_key", key.as_str()), ("up_to", "")],
        )
        .await;
    let first = batch_of(&prepared);
    let twice = t1
        .post(
            "/payouts",
            &[("idempotency_key", key.as_str()), ("up_to", "")],
        )
        .await;
    assert_eq!(batch_of(&twice), first, "the same form twice: one batch");
    let page = t1.get(&format!("/payouts/{first}")).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains(&en("payout-release-own-batch")));
    assert!(
        !page.body.contains("id=\"release\""),
        "no button for the preparer"
    );
    assert!(page.text().contains("Maison B"));
    let refused = t1.post(&format!("/payouts/{first}/release"), &[]).await;
    assert_eq!(refused.status, 403);
    assert!(
        refused.text().contains(&en("payout-release-own-batch")),
        "the page says why: {}",
        refused.text()
    );
    let mut t2 = signed_in(&f, "t2@example.org").await;
    let page = t2.get(&format!("/payouts/{first}")).await;
    assert!(page.body.contains("id=\"release\""), "{}", page.body);
    let released = t2.post(&format!("/payouts/{first}/release"), &[]).await;
    assert_eq!(released.status, 303, "{}", released.body);
    let page = t2.get(&format!("/payouts/{first}")).await;
    assert!(page.text().contains(&en("payout-status-released")));
    let csv = t2.get(&format!("/payouts/{first}/instructions.csv")).await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.body
            .contains("Maison B,00123-815-1234567,2000.00,eft,Passage PO-"),
        "{}",
        csv.body
    );
    let bad = t2
        .post(&format!("/payouts/{first}/paid"), &[("reference", "")])
        .await;
    assert_eq!(bad.status, 422, "a reference is needed");
    assert!(bad.text().contains(&en("error-payout_reference")));
    let paid = t2
        .post(
            &format!("/payouts/{first}/paid"),
            &[("reference", "BANK-1")],
        )
        .await;
    assert_eq!(paid.status, 303, "{}", paid.body);
    let after = fund(&f).await;
    assert_eq!(after["advanced"], "2000.00", "{after}");

    // A night: A paid itself, B from its advance, C's fare went on the carrier's account.
    let mut codes = vec![fare(&f, &worker_a, "110.00", json!({})).await];
    f.app.clock.advance(chrono::Duration::hours(1));
    codes.push(fare(&f, &worker_b, "180.00", json!({})).await);
    codes.push(fare(&f, &worker_c, "90.00", json!({})).await);
    let night = fund(&f).await;
    assert_eq!(night["owed"], "200.00", "{night}");

    // What the fund owes, oldest first, and the advance.
    let owed = t1.get("/owed").await;
    assert_eq!(owed.status, 200);
    let text = owed.text();
    let a_at = text.find("Refuge A").expect("A is owed");
    let vendor_at = text.find("Autocars Exemple account").expect("the vendor");
    assert!(a_at < vendor_at, "oldest first: {text}");
    for shown in [
        "$110.00",
        "$90.00",
        "$180.00",
        "$1,820.00",
        "$2,000.00",
        "$380.00",
    ] {
        assert!(text.contains(shown), "{shown}: {text}");
    }
    assert!(text.contains(&en("owed-spent-since")));
    let today = i18n::date(Language::En, f.app.clock.now().date_naive());
    assert!(text.contains(&today), "since when: {text}");

    // The month's end, up to today: released by the second treasurer.
    let page = t1.get("/payouts").await;
    let key = page.hidden("idempotency_key");
    let day = f.app.clock.now().date_naive().to_string();
    let second = batch_of(
        &t1.post(
            "/payouts",
            &[("idempotency_key", key.as_str()), ("up_to", day.as_str())],
        )
        .await,
    );
    let owed = t1.get("/owed").await;
    assert!(
        owed.body.contains(&format!("/payouts/{second}")),
        "in a batch"
    );
    assert_eq!(
        t2.post(&format!("/payouts/{second}/release"), &[])
            .await
            .status,
        303
    );
    t1.speak("fr").await;
    let cheques = t1.get(&format!("/payouts/{second}/cheques")).await;
    assert_eq!(cheques.status, 200, "{}", cheques.body);
    let text = cheques.text();
    assert!(
        text.contains("cent dix dollars et 00/100"),
        "in words, in French: {text}"
    );
    assert!(
        text.contains("quatre-vingt-dix dollars et 00/100"),
        "{text}"
    );
    assert!(text.contains("110,00 $"), "{text}");
    assert!(text.contains(&fr("cheques-pay-to")), "{text}");
    assert_eq!(
        cheques.body.matches("class=\"cheque\"").count(),
        3,
        "one per payee"
    );
    for code in &codes {
        assert!(
            !cheques.body.contains(code.as_str()),
            "a case code on a cheque"
        );
    }
    t1.speak("en").await;
    let cheques = t1.get(&format!("/payouts/{second}/cheques")).await;
    assert!(
        cheques
            .text()
            .contains("one hundred ten and 00/100 dollars"),
        "{}",
        cheques.text()
    );

    // A's line first, then the rest; A's payment comes back.
    let second_lines = lines(&f, &second).await;
    let line_a = &second_lines.iter().find(|l| l.0 == "Refuge A").unwrap().2;
    let one = t1
        .post(
            &format!("/payouts/{second}/lines/{line_a}/paid"),
            &[("reference", "ET-77A")],
        )
        .await;
    assert_eq!(one.status, 303, "{}", one.body);
    let cancel = t1.post(&format!("/payouts/{second}/cancel"), &[]).await;
    assert_eq!(cancel.status, 409, "part of it is paid");
    assert!(cancel.text().contains(&en("payout-conflict")));
    let rest = t2
        .post(
            &format!("/payouts/{second}/paid"),
            &[("reference", "BULK-0412")],
        )
        .await;
    assert_eq!(rest.status, 303);
    let page = t1.get(&format!("/payouts/{second}")).await;
    assert!(page.text().contains(&en("payout-status-paid")));
    assert!(page.text().contains("ET-77A") && page.text().contains("BULK-0412"));
    let paid = fund(&f).await;
    assert_eq!(
        (paid["owed"].as_str(), paid["to_replenish"].as_str()),
        (Some("0.00"), Some("0.00"))
    );
    let back = t1
        .post(&format!("/payouts/{second}/lines/{line_a}/bounced"), &[])
        .await;
    assert_eq!(back.status, 303, "{}", back.body);
    let bounced = fund(&f).await;
    assert_eq!(bounced["owed"], "110.00", "owed again: {bounced}");
    fund_page_agrees(&f, &mut t1).await;

    // The bank's interest and its fee, from its statement: the page shows them too.
    let today = f.today();
    let statement = format!(
        "date,description,withdrawal,deposit\n{today},FRAIS MENSUELS,4.95,\n{today},INTERETS,,0.12\n"
    );
    let (s, imported) = f
        .send(
            f.app
                .post(
                    "/api/v1/bank/statements?format=csv&layout=generic",
                    Some(&f.treasurer),
                )
                .body(statement),
        )
        .await;
    assert_eq!(s, 201, "{imported}");
    let (s, statement) = f
        .get(
            &format!(
                "/api/v1/bank/statements/{}",
                imported["id"].as_str().unwrap()
            ),
            &f.treasurer,
        )
        .await;
    assert_eq!(s, 200, "{statement}");
    for line in statement["lines"].as_array().unwrap() {
        let record = format!("/api/v1/bank/lines/{}/record", line["id"].as_str().unwrap());
        if line["description"] == "INTERETS" {
            let (s, r) = f
                .post(&record, &f.treasurer, json!({"kind": "interest"}))
                .await;
            assert_eq!(s, 200, "{r}");
        } else {
            let (s, r) = f.post(&record, &f.treasurer, json!({"kind": "fee"})).await;
            assert_eq!(s, 200, "{r}");
            let confirm = format!(
                "/api/v1/bank/lines/{}/confirm",
                line["id"].as_str().unwrap()
            );
            let (s, r) = f.post(&confirm, &f.second_treasurer, json!({})).await;
            assert_eq!(s, 200, "{r}");
        }
    }
    let banked = fund(&f).await;
    assert_eq!(
        (banked["fees"].as_str(), banked["other_income"].as_str()),
        (Some("4.95"), Some("0.12")),
        "{banked}"
    );
    fund_page_agrees(&f, &mut t1).await;

    // A third batch takes A again, and is cancelled.
    let page = t1.get("/payouts").await;
    let key = page.hidden("idempotency_key");
    let third = batch_of(
        &t1.post(
            "/payouts",
            &[("idempotency_key", key.as_str()), ("up_to", "")],
        )
        .await,
    );
    assert_eq!(
        t1.post(&format!("/payouts/{third}/cancel"), &[])
            .await
            .status,
        303
    );
    let page = t1.get(&format!("/payouts/{third}")).await;
    assert!(page.text().contains(&en("payout-status-cancelled")));
    let page = t1.get("/payouts").await;
    let key = page.hidden("idempotency_key");
    let bad_day = t1
        .post(
            "/payouts",
            &[("idempotency_key", key.as_str()), ("up_to", "yesterday")],
        )
        .await;
    assert_eq!(bad_day.status, 422);
    assert!(bad_day.text().contains(&en("error-payout_up_to")));

    // A's caseworker: what the fund owes A and paid A, nobody else's.
    let mut cw = signed_in(&f, "a@example.org").await;
    let home = cw.get("/cases").await;
    assert!(
        home.body.contains("href=\"/reimbursements\""),
        "in the menu"
    );
    let mine = cw.get("/reimbursements").await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    let text = mine.text();
    for shown in [
        "$110.00",
        "ET-77A",
        "Refuge A",
        &en("payout-purpose-reimbursement"),
    ] {
        assert!(text.contains(shown), "{shown}: {text}");
    }
    let (s, second_batch) = f
        .get(&format!("/api/v1/payouts/{second}"), &f.treasurer)
        .await;
    assert_eq!(s, 200);
    assert!(
        text.contains(second_batch["reference"].as_str().unwrap()),
        "{text}"
    );
    for hidden in [
        "Maison B",
        "Centre C",
        "Autocars",
        "$180.00",
        "$1,820.00",
        "$90.00",
        "BULK-0412",
    ] {
        assert!(!text.contains(hidden), "another's figure {hidden}: {text}");
    }
    for path in [
        "/owed".to_string(),
        "/payouts".to_string(),
        "/payment".to_string(),
        format!("/payment/{a}"),
        format!("/payouts/{second}"),
        format!("/payouts/{second}/cheques"),
        format!("/payouts/{second}/instructions.csv"),
    ] {
        assert_eq!(cw.get(&path).await.status, 403, "{path} is for treasurers");
    }
    for path in ["/vendors", "/payouts", &format!("/payouts/{third}/release")] {
        assert_eq!(
            cw.post(path, &[("idempotency_key", "x"), ("vendor_name", "X")])
                .await
                .status,
            403,
            "{path}"
        );
    }
    assert_eq!(
        t1.get("/reimbursements").await.status,
        403,
        "a caseworker's page"
    );
    let _ = worker_b;

    // Every step was audited, and the books hold.
    f.app.clock.advance(chrono::Duration::minutes(1));
    books::check(&f.app.db.db).await;
    f.app.stop().await;
}

/// Lowering an advance's level, then leaving the mode, makes the organisation owe the
/// excess back; its deposits are recorded (by the API, then by the page) as balanced,
/// audited transfers, once each.
async fn an_advance_above_its_level_is_owed_back_until_its_deposit(t: TestDb) {
    let f = funded(t, "10000.00").await;
    let (b, worker_b) = org(&f, "Maison B", "b@example.org").await;
    let path = format!("/api/v1/orgs/{b}/payment");
    let (s, r) = put(
        &f,
        &path,
        json!({"mode": "advance", "advance_level": "2000.00", "method": "eft",
               "payee_details": "00123-815-1234567"}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["owed_back"], "0.00", "{r}");
    let (s, batch) = f.post("/api/v1/payouts", &f.treasurer, json!({})).await;
    assert_eq!(s, 201, "{batch}");
    let id = batch["id"].as_str().unwrap();
    let (s, _) = f
        .post(
            &format!("/api/v1/payouts/{id}/release"),
            &f.second_treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = f
        .post(
            &format!("/api/v1/payouts/{id}/paid"),
            &f.treasurer,
            json!({"reference": "ADV-1"}),
        )
        .await;
    assert_eq!(s, 200);
    fare(&f, &worker_b, "180.00", json!({})).await;
    let before = fund(&f).await;
    assert_eq!(
        (
            before["advanced"].as_str(),
            before["to_replenish"].as_str(),
            before["owed_back"].as_str()
        ),
        (Some("1820.00"), Some("180.00"), Some("0.00")),
        "{before}"
    );

    // The level goes down to 500.00: 1,320.00 is owed back, nothing moves yet.
    let (s, r) = put(
        &f,
        &path,
        json!({"mode": "advance", "advance_level": "500.00", "method": "eft"}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["owed_back"], "1320.00", "{r}");
    let lowered = fund(&f).await;
    assert_eq!(lowered["owed_back"], "1320.00", "{lowered}");
    assert_eq!(
        lowered["bank"], before["bank"],
        "recorded when the deposit comes"
    );
    let mut t1 = signed_in(&f, "t1@example.org").await;
    fund_page_agrees(&f, &mut t1).await;
    let owed = t1.get("/owed").await;
    assert!(owed.text().contains(&en("owed-back")), "{}", owed.text());
    assert!(owed.text().contains("$1,320.00"), "{}", owed.text());

    let returned = format!("/api/v1/orgs/{b}/advance/returned");
    let (s, r) = f
        .post(
            &returned,
            &f.treasurer,
            json!({"amount": "1500.00", "reference": "DEP-1"}),
        )
        .await;
    assert_eq!(s, 422, "more than owed back: {r}");
    assert_eq!(r["error"]["field"], "amount", "{r}");
    let (s, r) = f
        .send(
            f.app
                .post(&returned, Some(&f.worker))
                .header("Idempotency-Key", "cw")
                .json(&json!({"amount": "1320.00", "reference": "DEP-1"})),
        )
        .await;
    assert_eq!(s, 403, "a caseworker: {r}");
    let (s, r) = f
        .send(
            f.app
                .post(&returned, Some(&f.treasurer))
                .json(&json!({"amount": "1320.00", "reference": "DEP-1"})),
        )
        .await;
    assert_eq!(s, 400, "money moves under an Idempotency-Key: {r}");
    let deposit = || {
        f.app
            .post(&returned, Some(&f.treasurer))
            .header("Idempotency-Key", "deposit-1")
            .json(&json!({"amount": "1320.00", "reference": "DEP-1"}))
    };
    let (s, r) = f.send(deposit()).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["owed_back"], "0.00", "{r}");
    let (s, _) = f.send(deposit()).await;
    assert_eq!(s, 200, "a retry records nothing more");
    let after = fund(&f).await;
    assert_eq!(
        (
            after["advanced"].as_str(),
            after["to_replenish"].as_str(),
            after["owed_back"].as_str()
        ),
        (Some("500.00"), Some("0.00"), Some("0.00")),
        "the advance ends at its level, the replenishment no longer needed: {after}"
    );
    assert_eq!(
        cents(&after["available"]) - cents(&before["available"]),
        132_000 + 18_000,
        "{after}"
    );
    assert_eq!(cents(&after["bank"]) - cents(&before["bank"]), 132_000);

    // Out of the advance mode: all 500.00 is owed back, recorded through the page.
    let (s, r) = put(&f, &path, json!({"mode": "reimbursement"})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["owed_back"], "500.00", "{r}");
    let mut cw = signed_in(&f, "b@example.org").await;
    let mine = cw.get("/reimbursements").await;
    assert!(
        mine.text().contains(&en("reimbursements-owe-back")),
        "{}",
        mine.text()
    );
    assert!(mine.text().contains("$500.00"), "{}", mine.text());
    let owed = t1.get("/owed").await;
    let key = owed.hidden("idempotency_key");
    let too_much = t1
        .post(
            &format!("/owed/{b}/returned"),
            &[
                ("idempotency_key", key.as_str()),
                ("amount", "600,00"),
                ("reference", "DEP-2"),
            ],
        )
        .await;
    assert_eq!(too_much.status, 422, "{}", too_much.body);
    assert!(too_much.text().contains(&en("error-returned_amount")));
    let owed = t1.get("/owed").await;
    let key = owed.hidden("idempotency_key");
    let form = [
        ("idempotency_key", key.as_str()),
        ("amount", "500,00"),
        ("reference", "DEP-2"),
    ];
    let done = t1.post(&format!("/owed/{b}/returned"), &form).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let twice = t1.post(&format!("/owed/{b}/returned"), &form).await;
    assert_eq!(twice.status, 303, "sent twice: recorded once");
    let out = fund(&f).await;
    assert_eq!(
        (out["advanced"].as_str(), out["owed_back"].as_str()),
        (Some("0.00"), Some("0.00")),
        "{out}"
    );
    assert_eq!(cents(&out["bank"]) - cents(&after["bank"]), 50_000);

    let db = &f.app.db.db;
    let returns: i64 = passage::on_db!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'advance.returned'"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(returns, 2, "each deposit audited once");
    f.app.clock.advance(chrono::Duration::minutes(1));
    books::check(db).await;
    journals_check(&f).await;
    f.app.stop().await;
}

/// The hledger and beancount exports, with the new transfers, still check (`hledger
/// check -s`, `bean-check`), and their advances and bank equal the fund's figures.
async fn journals_check(f: &Fund) {
    let Some(tools) = common::journals::Tools::find() else {
        return;
    };
    let figures = fund(f).await;
    let dir = tempfile::tempdir().unwrap();
    for format in ["hledger", "beancount"] {
        let r = f
            .app
            .get(
                &format!("/api/v1/ledger/export?format={format}"),
                Some(&f.treasurer),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{format}");
        let path = dir.path().join(format!("passage.{format}"));
        std::fs::write(&path, r.text().await.unwrap()).unwrap();
        let (checked, balances, bank, advances) = if format == "hledger" {
            (
                tools.hledger_check(&path),
                tools.hledger_balances(&path, &[]),
                "assets:bank",
                "assets:advances",
            )
        } else {
            (
                tools.bean_check(&path),
                tools.beancount_balances(&path),
                "Assets:Bank",
                "Assets:Advances",
            )
        };
        assert!(checked.is_ok(), "{format}: {checked:?}");
        assert_eq!(
            common::journals::under(&balances, bank),
            cents(&figures["bank"]),
            "{format}: {figures}"
        );
        assert_eq!(
            common::journals::under(&balances, advances),
            cents(&figures["advanced"]),
            "{format}: {figures}"
        );
    }
}

on_both_engines!(
    treasurers_pay_what_is_owed_through_the_pages,
    an_advance_above_its_level_is_owed_back_until_its_deposit,
);
