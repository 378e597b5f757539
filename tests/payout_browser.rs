//! The payout pages in a real browser (headless Chromium at 360 × 740), in French and in
//! English (issue 18): what the fund owes, a batch its preparer cannot release, the
//! cheques of a released batch, a caseworker's reimbursements. The screenshots the README
//! and docs/paying-organisations.md show are taken here, into tests/screenshots/payout-*.

mod common;

use std::time::Duration;

use common::browser::{Driver, HEIGHT, WIDTH};
use common::fund::Fund;
use common::{PASSWORD, TestDb};
use fantoccini::{Client, Locator};
use passage::domain::Language;
use passage::web::i18n;
use serde_json::{Value, json};

async fn screenshot(browser: &Client, language: Language, name: &str) {
    let png = browser.screenshot().await.expect("a screenshot");
    // The PNG header holds the width and height at bytes 16..24.
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (WIDTH, HEIGHT), "a 360 × 740 phone screen");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/screenshots")
        .join(format!("{name}-{}.png", language.as_str()));
    std::fs::write(path, png).expect("the screenshot is saved");
}

/// The text of the first element matching `css`, once the page shows one.
async fn text_of(browser: &Client, css: &str) -> String {
    let mut last_error = String::new();
    for _ in 0..100 {
        match browser.find(Locator::Css(css)).await {
            Ok(element) => match element.text().await {
                Ok(text) => return text.replace('\u{a0}', " "),
                Err(e) => last_error = e.to_string(),
            },
            Err(e) => last_error = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never appeared: {last_error}");
}

async fn click(browser: &Client, css: &str) {
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} appears: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("{css} can be clicked: {e}"));
}

async fn fill(browser: &Client, id: &str, value: &str) {
    let field = browser
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("the field {id} is there: {e}"));
    field.clear().await.expect("the field clears");
    field
        .send_keys(value)
        .await
        .expect("the field takes the keys");
}

async fn path(browser: &Client) -> String {
    browser
        .current_url()
        .await
        .expect("a URL")
        .path()
        .to_string()
}

/// Waits until the page's path is no longer `from`.
async fn left(browser: &Client, from: &str) {
    for _ in 0..100 {
        if path(browser).await != from {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the browser stayed at {from}");
}

/// Signs in and speaks `language` (the switch in the page's bar).
async fn sign_in(browser: &Client, f: &Fund, email: &str, language: Language) {
    browser
        .goto(&f.app.url("/signin"))
        .await
        .expect("the sign-in page opens");
    fill(browser, "email", email).await;
    fill(browser, "password", PASSWORD).await;
    click(browser, "form[action='/signin'] button[type=submit]").await;
    left(browser, "/signin").await;
    if lang_of(browser).await != language.as_str() {
        click(browser, "form[action='/language'] button").await;
        for _ in 0..100 {
            if lang_of(browser).await == language.as_str() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the pages never spoke {}", language.as_str());
    }
}

/// The page's language, or nothing while the next page replaces it.
async fn lang_of(browser: &Client) -> String {
    match browser.find(Locator::Css("html")).await {
        Ok(html) => html.attr("lang").await.ok().flatten().unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn put(f: &Fund, path: &str, body: Value) {
    let (s, r) = f
        .send(
            f.app
                .http
                .put(f.app.url(path))
                .bearer_auth(&f.treasurer)
                .json(&body),
        )
        .await;
    assert_eq!(s, 200, "{r}");
}

/// A bus fare approved at once and its receipt.
async fn fare(f: &Fund, token: &str, amount: &str) {
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
    let id = r["id"].as_str().unwrap();
    let (s, r) = f
        .post(
            &format!("/api/v1/requests/{id}/receipt"),
            token,
            json!({"amount": amount, "reference": "RF-BUS-A"}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
}

async fn step(f: &Fund, path: &str, token: &str, body: Value) -> Value {
    let (s, r) = f.post(path, token, body).await;
    assert!(s == 200 || s == 201, "{path}: {s} {r}");
    r
}

async fn payouts_in(language: Language) {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let f = Fund::new(TestDb::sqlite().await).await;
    let donor = f
        .donor("Fondation Exemple", "fondation@example.org", "fr")
        .await;
    f.give(&donor, "10000.00").await;
    let a = f.app.seed_org("Refuge Exemple").await;
    let worker_a = f
        .app
        .seed_user("a@example.org", "caseworker", Some(&a))
        .await;
    let worker_a = f.app.token_for(&worker_a).await;
    let b = f.app.seed_org("Maison Exemple").await;
    let worker_b = f
        .app
        .seed_user("b@example.org", "caseworker", Some(&b))
        .await;
    let worker_b = f.app.token_for(&worker_b).await;
    let c = f.app.seed_org("Centre Exemple").await;
    let worker_c = f
        .app
        .seed_user("c@example.org", "caseworker", Some(&c))
        .await;
    let worker_c = f.app.token_for(&worker_c).await;
    let vendor = step(
        &f,
        "/api/v1/vendors",
        &f.treasurer,
        json!({"name": "Autocars Exemple", "method": "cheque"}),
    )
    .await;
    put(
        &f,
        &format!("/api/v1/orgs/{a}/payment"),
        json!({"mode": "reimbursement", "method": "cheque"}),
    )
    .await;
    put(
        &f,
        &format!("/api/v1/orgs/{b}/payment"),
        json!({"mode": "advance", "advance_level": "2000.00", "method": "eft",
               "payee_details": "00123-815-1234567"}),
    )
    .await;
    put(
        &f,
        &format!("/api/v1/orgs/{c}/payment"),
        json!({"mode": "fund_pays", "default_vendor_id": vendor["id"]}),
    )
    .await;
    // The advance goes out; a night of receipts; B's level is lowered.
    let first = step(&f, "/api/v1/payouts", &f.treasurer, json!({})).await;
    let first = first["id"].as_str().unwrap().to_string();
    step(
        &f,
        &format!("/api/v1/payouts/{first}/release"),
        &f.second_treasurer,
        json!({}),
    )
    .await;
    step(
        &f,
        &format!("/api/v1/payouts/{first}/paid"),
        &f.treasurer,
        json!({"reference": "EFT-0001"}),
    )
    .await;
    fare(&f, &worker_a, "112.50").await;
    fare(&f, &worker_a, "48.00").await;
    f.app.clock.advance(chrono::Duration::hours(2));
    fare(&f, &worker_b, "180.00").await;
    fare(&f, &worker_c, "95.25").await;
    put(
        &f,
        &format!("/api/v1/orgs/{b}/payment"),
        json!({"mode": "advance", "advance_level": "1500.00", "method": "eft"}),
    )
    .await;

    // The treasurer who prepares the batch reads what is owed, then the batch.
    let browser = driver.browser(language).await;
    sign_in(&browser, &f, "t1@example.org", language).await;
    browser.goto(&f.app.url("/owed")).await.unwrap();
    let total = text_of(&browser, "#owed-total").await;
    assert!(
        total.contains(&i18n::money(language, 16_050 + 18_000 + 9_525).replace('\u{a0}', " ")),
        "{total}"
    );
    screenshot(&browser, language, "payout-owed").await;
    let batch = step(&f, "/api/v1/payouts", &f.treasurer, json!({})).await;
    let id = batch["id"].as_str().unwrap().to_string();
    browser
        .goto(&f.app.url(&format!("/payouts/{id}")))
        .await
        .unwrap();
    assert_eq!(
        text_of(&browser, "#cannot-release").await,
        i18n::text(language, "payout-release-own-batch")
    );
    screenshot(&browser, language, "payout-batch").await;

    // Released by the second treasurer: the cheques.
    step(
        &f,
        &format!("/api/v1/payouts/{id}/release"),
        &f.second_treasurer,
        json!({}),
    )
    .await;
    browser
        .goto(&f.app.url(&format!("/payouts/{id}/cheques")))
        .await
        .unwrap();
    let words = text_of(&browser, ".cheque-words").await;
    assert!(
        words.contains("50/100") || words.contains("25/100") || words.contains("00/100"),
        "{words}"
    );
    screenshot(&browser, language, "payout-cheques").await;
    let line_a = batch["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["payee_id"] == a.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    step(
        &f,
        &format!("/api/v1/payouts/{id}/lines/{line_a}/paid"),
        &f.treasurer,
        json!({"reference": "CHQ-187"}),
    )
    .await;

    // A new receipt of A's, then its caseworker reads what is owed and was paid.
    fare(&f, &worker_a, "64.00").await;
    let _ = worker_b;
    let caseworker = driver.browser(language).await;
    sign_in(&caseworker, &f, "a@example.org", language).await;
    caseworker
        .goto(&f.app.url("/reimbursements"))
        .await
        .unwrap();
    let paid = text_of(&caseworker, "#paid").await;
    assert!(paid.contains("CHQ-187"), "{paid}");
    assert!(!paid.contains("Maison"), "{paid}");
    screenshot(&caseworker, language, "payout-reimbursements").await;
    let _ = browser.close().await;
    let _ = caseworker.close().await;
    f.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_payout_pages_in_french() {
    payouts_in(Language::Fr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_payout_pages_in_english() {
    payouts_in(Language::En).await;
}
