//! The pages in a real browser (Debian's headless Chromium at 360 × 740), in French and in
//! English: a caseworker asks for two hotel nights and sees the approval, a treasurer
//! approves a pending flight from the queue, a double submit creates one request. The
//! screenshots the README and docs/pages.md show are taken here, into tests/screenshots/.

mod common;

use std::time::Duration;

use common::browser::{Driver, HEIGHT, WIDTH};
use common::{TestApp, TestDb};
use fantoccini::{Client, Locator};
use passage::domain::Language;
use passage::web::i18n;
use serde_json::Value;

fn screenshot_path(language: Language, name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/screenshots")
        .join(format!("{name}-{}.png", language.as_str()))
}

/// Saves what the phone shows, and checks it is the phone's size.
async fn screenshot(browser: &Client, language: Language, name: &str) {
    let png = browser.screenshot().await.expect("a screenshot");
    // The PNG header holds the width and height at bytes 16..24.
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!(
        (width, height),
        (WIDTH, HEIGHT),
        "the screenshot is a 360 × 740 phone screen"
    );
    std::fs::write(screenshot_path(language, name), png).expect("the screenshot is saved");
}

/// The text of the first element matching `css`, once the page shows one (a page being
/// replaced by the next can hand back an element that is already gone: ask again).
async fn text_of(browser: &Client, css: &str) -> String {
    let mut last_error = String::new();
    for _ in 0..100 {
        match browser.find(Locator::Css(css)).await {
            Ok(element) => match element.text().await {
                Ok(text) => return text,
                Err(e) => last_error = e.to_string(),
            },
            Err(e) => last_error = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never appeared: {last_error}");
}

/// WebDriver hands text back with non-breaking spaces as plain ones.
fn plain(text: &str) -> String {
    text.replace('\u{a0}', " ")
}

/// Waits until the element matching `css` reads `expected` (the next page has loaded).
async fn expect_text(browser: &Client, css: &str, expected: &str) {
    let expected = plain(expected);
    let mut seen = String::new();
    for _ in 0..100 {
        seen = text_of(browser, css).await;
        if seen == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let main = text_of(browser, "main").await;
    panic!("{css} reads {seen:?}, not {expected:?}, on a page that reads: {main}");
}

/// Waits until the page's path satisfies `ok`, and returns it.
async fn wait_for_path(browser: &Client, ok: impl Fn(&str) -> bool) -> String {
    let mut seen = String::new();
    for _ in 0..100 {
        seen = path(browser).await;
        if ok(&seen) {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = browser.source().await.unwrap_or_default();
    panic!("the browser stayed at {seen}: {page}");
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

async fn sign_in(browser: &Client, app: &TestApp, email: &str, password: &str) {
    browser
        .goto(&app.url("/signin"))
        .await
        .expect("the sign-in page opens");
    fill(browser, "email", email).await;
    fill(browser, "password", password).await;
    click(browser, "form[action='/signin'] button[type=submit]").await;
    wait_for_path(browser, |p| p != "/signin").await;
}

async fn path(browser: &Client) -> String {
    browser
        .current_url()
        .await
        .expect("a URL")
        .path()
        .to_string()
}

/// The demo coalition: caseworkers and treasurers in both languages, money in the fund, a
/// pending urgent flight from Halifax to Vancouver.
async fn coalition() -> (TestApp, Vec<passage::demo::Account>) {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    let accounts = passage::demo::fill(
        &app.db.db,
        passage::clock::Clock::now(&app.clock),
        &app.base,
    )
    .await
    .expect("the demo fills a new database");
    (app, accounts)
}

fn account<'a>(
    accounts: &'a [passage::demo::Account],
    roles: &str,
    language: Language,
) -> &'a passage::demo::Account {
    accounts
        .iter()
        .find(|a| a.roles.to_list() == roles && a.language == language.as_str())
        .expect("the demo has this account")
}

async fn requests_of_case(app: &TestApp, code: &str) -> Vec<Value> {
    let treasurer = app
        .seed_user("auditor@example.org", "treasurer", None)
        .await;
    let token = app.token_for(&treasurer).await;
    let case: Value = app
        .get(&format!("/api/v1/cases/{code}"), Some(&token))
        .send()
        .await
        .expect("the API answers")
        .json()
        .await
        .expect("a case");
    case["requests"].as_array().cloned().unwrap_or_default()
}

async fn journeys(language: Language) {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (app, accounts) = coalition().await;
    let t = |key: &str| i18n::text(language, key);

    // The caseworker, at night, on a phone.
    let browser = driver.browser(language).await;
    browser
        .goto(&app.url("/signin"))
        .await
        .expect("the sign-in page opens");
    expect_text(&browser, "h1", &t("signin-title")).await;
    screenshot(&browser, language, "signin").await;
    let caseworker = account(&accounts, "caseworker", language);
    sign_in(&browser, &app, &caseworker.email, &caseworker.password).await;
    expect_text(&browser, "h1", &t("cases-title")).await;
    click(&browser, "form[action='/cases'] button[type=submit]").await;
    let case_path = wait_for_path(&browser, |p| p.starts_with("/cases/")).await;
    let code = case_path.trim_start_matches("/cases/").to_string();
    click(&browser, &format!("a[href='/cases/{code}/ask']")).await;
    expect_text(&browser, "#choose", &t("ask-choose")).await;
    click(&browser, "a[href$='category=hotel']").await;
    wait_for_path(&browser, |p| p.ends_with("/ask")).await;
    text_of(&browser, "#nights").await;
    fill(&browser, "nights", "2").await;
    fill(&browser, "nightly_rate", "159.00").await;
    // The total is computed as the rate is typed.
    expect_text(&browser, "#hotel-total", &i18n::money(language, 31800)).await;
    assert!(
        browser.find(Locator::Id("amount")).await.is_err(),
        "a hotel request shows no amount field: nights × rate is the amount"
    );
    screenshot(&browser, language, "request-form").await;
    click(&browser, "#send").await;
    expect_text(&browser, "#answer-title", &t("answer-title-approved")).await;
    assert!(
        text_of(&browser, "main")
            .await
            .contains(&plain(&i18n::money(language, 31800))),
        "the answer shows the amount held"
    );
    screenshot(&browser, language, "answer").await;

    // A double submit (two posts of the same form racing, then the tap itself) is one
    // request.
    browser
        .goto(&app.url(&format!("/cases/{code}/ask?category=hotel")))
        .await
        .expect("the form opens");
    text_of(&browser, "#nights").await;
    fill(&browser, "nights", "1").await;
    fill(&browser, "nightly_rate", "120.00").await;
    browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const form = document.querySelector('form[data-once]');
             const body = new URLSearchParams(new FormData(form));
             Promise.all([fetch(form.action, {method: 'POST', body}), fetch(form.action, {method: 'POST', body})])
               .then(() => done(true), () => done(false));",
            vec![],
        )
        .await
        .expect("the two posts run");
    click(&browser, "#send").await;
    expect_text(&browser, "#answer-title", &t("answer-title-approved")).await;
    let requests = requests_of_case(&app, &code).await;
    assert_eq!(
        requests.len(),
        2,
        "two stays asked for, three posts of the second: {requests:?}"
    );

    // The language can be switched on any page, and back.
    click(&browser, "form[action='/language'] button").await;
    let other = match language {
        Language::Fr => Language::En,
        Language::En => Language::Fr,
    };
    expect_text(
        &browser,
        "#answer-title",
        &i18n::text(other, "answer-title-approved"),
    )
    .await;
    click(&browser, "form[action='/language'] button").await;
    expect_text(&browser, "#answer-title", &t("answer-title-approved")).await;
    click(&browser, "form[action='/signout'] button").await;
    wait_for_path(&browser, |p| p == "/signin").await;

    // The treasurer approves the pending flight from the queue.
    let treasurer = account(&accounts, "treasurer", language);
    sign_in(&browser, &app, &treasurer.email, &treasurer.password).await;
    expect_text(&browser, "h1", &t("queue-title")).await;
    let flight = text_of(&browser, "li.card.urgent").await;
    assert!(
        flight.contains(&t("category-flight")),
        "the urgent flight waits first: {flight}"
    );
    assert!(
        flight.contains(&plain(&i18n::money(language, 68900))),
        "{flight}"
    );
    screenshot(&browser, language, "queue").await;
    click(&browser, "li.card.urgent form[action$='/approve'] button").await;
    // The queue comes back without the flight.
    expect_text(&browser, "main p", &t("queue-empty")).await;
    let flights: Value = {
        let token = app
            .token_for(
                &app.seed_user("second-auditor@example.org", "treasurer", None)
                    .await,
            )
            .await;
        app.get("/api/v1/requests?status=approved", Some(&token))
            .send()
            .await
            .expect("the API answers")
            .json()
            .await
            .expect("requests")
    };
    let flights = flights["items"].as_array().expect("a page of requests");
    assert!(
        flights
            .iter()
            .any(|r| r["category"] == "flight" && r["amount"] == "689.00"),
        "the flight is approved: {flights:?}"
    );
    browser.close().await.expect("the browser closes");
    app.stop().await;
}

/// A late receipt (issue 17): the hotel's hold expired before the receipt came; the
/// caseworker enters it all the same, it waits for a treasurer, who pays it from the queue,
/// where the holds waiting for receipts are listed too.
async fn a_late_receipt(language: Language) {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (app, accounts) = coalition().await;
    let t = |key: &str| i18n::text(language, key);
    let caseworker = account(&accounts, "caseworker", language);
    let login: Value = app
        .post("/api/v1/auth/login", None)
        .json(&serde_json::json!({"email": caseworker.email, "password": caseworker.password}))
        .send()
        .await
        .expect("the API answers")
        .json()
        .await
        .expect("a token");
    let token = login["token"].as_str().expect("a token").to_string();
    let case: Value = app
        .post("/api/v1/cases", Some(&token))
        .json(&serde_json::json!({"province": "QC"}))
        .send()
        .await
        .expect("the API answers")
        .json()
        .await
        .expect("a case");
    let today = passage::clock::Clock::now(&app.clock)
        .date_naive()
        .to_string();
    let asked: Value = app
        .post("/api/v1/requests", Some(&token))
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(
            &serde_json::json!({"case_code": case["code"], "category": "hotel", "nights": 1,
            "nightly_rate": "120.00", "party_size": 1, "needed_by": today}),
        )
        .send()
        .await
        .expect("the API answers")
        .json()
        .await
        .expect("a request");
    assert_eq!(asked["status"], "approved", "{asked}");
    let id = asked["id"].as_str().unwrap().to_string();
    // Three days later the hold has expired; the paper receipt arrives.
    app.clock.advance(chrono::Duration::hours(73));
    passage::app::sweep_once(&app.state())
        .await
        .expect("the sweeper runs");

    let browser = driver.browser(language).await;
    sign_in(&browser, &app, &caseworker.email, &caseworker.password).await;
    browser
        .goto(&app.url(&format!("/requests/{id}")))
        .await
        .expect("the request opens");
    expect_text(&browser, "#answer-title", &t("answer-title-expired")).await;
    fill(&browser, "amount", "115.00").await;
    fill(&browser, "reference", "RF-LATE-1").await;
    screenshot(&browser, language, "late-receipt-form").await;
    click(&browser, "form[action$='/receipt'] button").await;
    expect_text(
        &browser,
        "#answer-title",
        &t("answer-title-receipt_pending"),
    )
    .await;
    screenshot(&browser, language, "late-receipt-pending").await;
    click(&browser, "form[action='/signout'] button").await;
    wait_for_path(&browser, |p| p == "/signin").await;

    // A treasurer finds it on the queue, marked late, with the holds still waiting.
    let treasurer = account(&accounts, "treasurer", language);
    sign_in(&browser, &app, &treasurer.email, &treasurer.password).await;
    browser
        .goto(&app.url("/queue"))
        .await
        .expect("the queue opens");
    expect_text(&browser, "#late-title", &t("late-title")).await;
    let card = text_of(&browser, &format!("#late-{id}")).await;
    assert!(card.contains(&t("late-tag")), "{card}");
    assert!(
        card.contains(&plain(&i18n::money(language, 11500))),
        "{card}"
    );
    expect_text(&browser, "#holds-title", &t("holds-title")).await;
    browser
        .execute(
            &format!("document.getElementById('late-{id}').scrollIntoView();"),
            vec![],
        )
        .await
        .expect("the card scrolls into view");
    screenshot(&browser, language, "late-queue").await;
    click(
        &browser,
        &format!("#late-{id} form[action$='/approve'] button"),
    )
    .await;
    wait_for_path(&browser, |p| p == "/queue").await;
    for _ in 0..100 {
        if browser
            .find(Locator::Id(&format!("late-{id}")))
            .await
            .is_err()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser
        .goto(&app.url(&format!("/requests/{id}")))
        .await
        .expect("the request opens");
    expect_text(&browser, "#answer-title", &t("answer-title-settled")).await;
    let main = plain(&text_of(&browser, "main").await);
    assert!(
        main.contains("RF-LATE-1"),
        "the receipt's reference: {main}"
    );
    screenshot(&browser, language, "late-settled").await;
    let settled = requests_of_case(&app, case["code"].as_str().unwrap()).await;
    assert_eq!(settled[0]["status"], "settled", "{settled:?}");
    assert_eq!(settled[0]["spent"], "115.00", "{settled:?}");
    browser.close().await.expect("the browser closes");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_receipt_in_french() {
    a_late_receipt(Language::Fr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_receipt_in_english() {
    a_late_receipt(Language::En).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_night_in_french() {
    journeys(Language::Fr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_night_in_english() {
    journeys(Language::En).await;
}

/// The request form with its stylesheet and script, as a phone loads it: under 30 KB, and
/// nothing from another host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_form_is_small_and_loads_nothing_from_elsewhere() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (app, accounts) = coalition().await;
    let browser = driver.browser(Language::Fr).await;
    let caseworker = account(&accounts, "caseworker", Language::Fr);
    sign_in(&browser, &app, &caseworker.email, &caseworker.password).await;
    click(&browser, "form[action='/cases'] button[type=submit]").await;
    let code = wait_for_path(&browser, |p| p.starts_with("/cases/"))
        .await
        .trim_start_matches("/cases/")
        .to_string();
    // A cold load: nothing from the sign-in pages' cache.
    browser
        .goto(&app.url(&format!("/cases/{code}/ask?category=flight")))
        .await
        .expect("the form opens");
    let loaded: Value = browser
        .execute(
            "const page = performance.getEntriesByType('navigation')[0];
             const parts = performance.getEntriesByType('resource');
             return {
               page: page.transferSize || page.encodedBodySize,
               urls: [page.name].concat(parts.map(p => p.name)),
               bytes: [page.encodedBodySize].concat(parts.map(p => p.encodedBodySize)),
             };",
            vec![],
        )
        .await
        .expect("the timings");
    let urls: Vec<&str> = loaded["urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert!(
        urls.len() >= 3,
        "the page, its stylesheet and its script: {urls:?}"
    );
    for url in &urls {
        assert!(url.starts_with(&app.base), "{url} is on Passage's own host");
    }
    // Measured again over HTTP, uncompressed, so the browser's cache cannot hide a byte.
    let mut total = 0;
    for url in &urls {
        let path = url.trim_start_matches(&app.base);
        let cookie = browser
            .get_all_cookies()
            .await
            .expect("cookies")
            .iter()
            .map(|c| format!("{}={}", c.name(), c.value()))
            .collect::<Vec<_>>()
            .join("; ");
        let body = app
            .http
            .get(app.url(path))
            .header("cookie", cookie)
            .send()
            .await
            .expect("the app answers")
            .bytes()
            .await
            .expect("a body");
        total += body.len();
    }
    assert!(
        total < 30 * 1024,
        "the request form weighs {total} bytes with all it loads"
    );
    // Closed here, or Chromium outlives the chromedriver that is killed on drop.
    browser.close().await.expect("the browser closes");
    app.stop().await;
}

/// The value of the form control `id` (a select's chosen option), once it reads `expected`.
async fn expect_value(browser: &Client, id: &str, expected: &str) {
    let mut seen = None;
    for _ in 0..100 {
        seen = match browser.find(Locator::Id(id)).await {
            Ok(element) => element.prop("value").await.ok().flatten(),
            Err(_) => None,
        };
        if seen.as_deref() == Some(expected) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{id} reads {seen:?}, not {expected:?}");
}

/// Chooses a radio button, closing first any list of suggestions a city field opened over
/// it (a tap on the list would pick a city instead), and waits until it is checked.
async fn choose(browser: &Client, id: &str) {
    for _ in 0..20 {
        if let Ok(active) = browser.active_element().await {
            // Escape closes the list of suggestions, if one is open.
            let _ = active.send_keys("\u{e00c}").await;
        }
        click(browser, &format!("#{id}")).await;
        let checked = browser
            .find(Locator::Id(id))
            .await
            .expect("the radio button")
            .prop("checked")
            .await
            .ok()
            .flatten();
        if checked.as_deref() == Some("true") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{id} could not be chosen");
}

async fn scroll_to_id(browser: &Client, id: &str) {
    browser
        .execute(
            "document.getElementById(arguments[0]).scrollIntoView({block: 'center'});",
            vec![Value::from(id)],
        )
        .await
        .expect("the page scrolls");
}

/// What the database holds of a request's destination, and its scope.
async fn destination_of(
    app: &TestApp,
    code: &str,
) -> Vec<(Option<String>, Option<String>, Option<String>)> {
    passage::on_db!(&app.db.db, p => sqlx::query_as(
        "SELECT destination_province, destination_country, scope FROM requests
          WHERE case_code = $1",
    )
    .bind(code)
    .fetch_all(p)
    .await)
    .expect("the requests are read")
}

/// A caseworker asks for a bus from Montréal to Ottawa (the province suggested as Ottawa is
/// typed, stored as Ontario, between provinces) and for a flight to Port-au-Prince, Haiti,
/// without touching a province control.
async fn travel(language: Language) {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (app, accounts) = coalition().await;
    let t = |key: &str| i18n::text(language, key);
    let browser = driver.browser(language).await;
    let caseworker = account(&accounts, "caseworker", language);
    sign_in(&browser, &app, &caseworker.email, &caseworker.password).await;
    expect_text(&browser, "h1", &t("cases-title")).await;
    click(&browser, "form[action='/cases'] button[type=submit]").await;
    let code = wait_for_path(&browser, |p| p.starts_with("/cases/"))
        .await
        .trim_start_matches("/cases/")
        .to_string();

    // The bus: "in Canada" for both ends, and the gazetteer names Ottawa's province.
    browser
        .goto(&app.url(&format!("/cases/{code}/ask?category=bus")))
        .await
        .expect("the form opens");
    text_of(&browser, "#destination_city").await;
    let destination_province = browser
        .find(Locator::Id("destination_province"))
        .await
        .expect("a province control");
    assert!(
        !destination_province.is_displayed().await.unwrap(),
        "no side of the border chosen for the destination: neither province nor country shows"
    );
    screenshot(&browser, language, "travel-form").await;
    fill(&browser, "amount", "64.50").await;
    fill(&browser, "origin_city", "Montréal").await;
    expect_value(&browser, "origin_province", "QC").await;
    choose(&browser, "destination_where_canada").await;
    fill(&browser, "destination_city", "Ottawa").await;
    expect_value(&browser, "destination_province", "ON").await;
    expect_text(
        &browser,
        "#destination_suggested",
        &i18n::text_with(
            language,
            "place-hint-suggested",
            &[("province", t("province-ON"))],
        ),
    )
    .await;
    scroll_to_id(&browser, "destination_city").await;
    screenshot(&browser, language, "travel-bus-ottawa").await;
    click(&browser, "#send").await;
    expect_text(
        &browser,
        "#itinerary",
        &format!(
            "Montréal, QC → Ottawa, ON · {}",
            t("trip-scope-interprovincial")
        ),
    )
    .await;
    screenshot(&browser, language, "travel-bus-answer").await;
    let stored = destination_of(&app, &code).await;
    assert_eq!(
        stored,
        [(Some("ON".into()), None, Some("interprovincial".into()))],
        "stored in Ontario, between provinces"
    );

    // The flight: "outside Canada", a city and HT; no province control is touched.
    browser
        .goto(&app.url(&format!("/cases/{code}/ask?category=flight")))
        .await
        .expect("the form opens");
    text_of(&browser, "#destination_city").await;
    fill(&browser, "amount", "1450.00").await;
    fill(&browser, "origin_city", "Montréal").await;
    expect_value(&browser, "origin_province", "QC").await;
    choose(&browser, "destination_where_abroad").await;
    fill(&browser, "destination_city", "Port-au-Prince").await;
    fill(&browser, "destination_country", "HT").await;
    let destination_province = browser
        .find(Locator::Id("destination_province"))
        .await
        .expect("a province control");
    assert!(
        !destination_province.is_displayed().await.unwrap(),
        "outside Canada shows no province"
    );
    scroll_to_id(&browser, "destination_country").await;
    screenshot(&browser, language, "travel-flight-haiti").await;
    click(&browser, "#send").await;
    expect_text(
        &browser,
        "#itinerary",
        &format!(
            "Montréal, QC → Port-au-Prince, HT · {}",
            t("trip-scope-international")
        ),
    )
    .await;
    expect_text(&browser, "#answer-title", &t("answer-title-pending")).await;
    screenshot(&browser, language, "travel-flight-answer").await;
    let stored = destination_of(&app, &code).await;
    // The test's clock stands still: both requests have one time, so look for it.
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(
        stored.contains(&(None, Some("HT".into()), Some("international".into()))),
        "abroad: a country, no province: {stored:?}"
    );
    browser.close().await.expect("the browser closes");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn travel_places_in_french() {
    travel(Language::Fr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn travel_places_in_english() {
    travel(Language::En).await;
}

/// The pages that were missing (issue 17), on a phone: a treasurer flags an automatically
/// approved item with a reason, finds it on the flagged list and clears the flag; the
/// case page's sharing, the audit events and the on-call page, photographed.
async fn flagged_items(language: Language) {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (app, accounts) = coalition().await;
    let t = |key: &str| i18n::text(language, key);

    // An automatic approval waiting for the next-day review: food for a case of an
    // organisation of the test's own, asked through the API.
    let org = app.seed_org("Night Shelter").await;
    let asker = app
        .seed_user("night-caseworker@example.org", "caseworker", Some(&org))
        .await;
    let token = app.token_for(&asker).await;
    let case: Value = app
        .post("/api/v1/cases", Some(&token))
        .json(&serde_json::json!({"province": "QC"}))
        .send()
        .await
        .expect("the API answers")
        .json()
        .await
        .expect("a case");
    let code = case["code"].as_str().expect("a code").to_string();
    let food: Value = app
        .post("/api/v1/requests", Some(&token))
        .header("idempotency-key", "night-food")
        .json(&serde_json::json!({"case_code": code, "category": "food",
                                  "amount": "45.00", "needed_by": "2026-11-30"}))
        .send()
        .await
        .expect("the API answers")
        .json()
        .await
        .expect("a request");
    assert_eq!(food["status"], "approved", "{food}");
    let id = food["id"].as_str().expect("an id").to_string();

    let browser = driver.browser(language).await;
    let treasurer = account(&accounts, "treasurer", language);
    sign_in(&browser, &app, &treasurer.email, &treasurer.password).await;
    browser
        .goto(&app.url("/review"))
        .await
        .expect("the review opens");
    expect_text(&browser, "h1", &t("review-title")).await;
    let reason = match language {
        Language::Fr => "Deuxième repas ce soir pour ce dossier",
        Language::En => "Second meal tonight for this case",
    };
    fill(&browser, &format!("flag-reason-{id}"), reason).await;
    browser
        .execute(
            "document.getElementById(arguments[0]).scrollIntoView({block: 'center'});",
            vec![Value::from(format!("review-{id}"))],
        )
        .await
        .expect("the item scrolls into view");
    screenshot(&browser, language, "pages-review").await;
    click(&browser, &format!("#review-{id} button.danger")).await;
    // Back on the review list, without the item; then on the flagged list, with its reason.
    let item = format!("#review-{id}");
    let mut gone = false;
    for _ in 0..100 {
        if browser.find(Locator::Css(&item)).await.is_err() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the flagged item left the review list");
    click(&browser, "#to-flagged").await;
    wait_for_path(&browser, |p| p == "/review/flagged").await;
    expect_text(&browser, &format!("#flagged-{id} .flag-reason"), reason).await;
    assert!(
        text_of(&browser, &format!("#flagged-{id}"))
            .await
            .contains(&treasurer.email),
        "who flagged it"
    );
    screenshot(&browser, language, "pages-flagged").await;
    click(&browser, &format!("#flagged-{id} button")).await;
    expect_text(&browser, "#flagged-empty", &t("flagged-empty")).await;

    // The case page of a treasurer (who owns every case): sharing, closing.
    browser
        .goto(&app.url(&format!("/cases/{code}")))
        .await
        .expect("the case opens");
    expect_text(&browser, "#sharing-title", &t("case-sharing-title")).await;
    browser
        .execute(
            "document.getElementById('sharing').scrollIntoView();",
            vec![],
        )
        .await
        .expect("the sharing scrolls into view");
    screenshot(&browser, language, "pages-case").await;

    // The audit events, newest first: the flag and its clearing on top.
    click(&browser, "nav a[href='/audit']").await;
    wait_for_path(&browser, |p| p == "/audit").await;
    // In the reader's words, not as stored.
    expect_text(
        &browser,
        "ol.events li:first-child [data-action='request.unflag']",
        &t("audit-action-request-unflag"),
    )
    .await;
    browser
        .execute(
            "document.querySelector('ol.events').scrollIntoView();",
            vec![],
        )
        .await
        .expect("the events scroll into view");
    screenshot(&browser, language, "pages-audit").await;

    // On call: the treasurer switches themselves.
    browser
        .goto(&app.url("/on-call"))
        .await
        .expect("the on-call page opens");
    // The demo's French treasurer is on call, the English one is not: each switches.
    let (now, then) = match language {
        Language::Fr => ("on-call-you-are", "on-call-you-are-not"),
        Language::En => ("on-call-you-are-not", "on-call-you-are"),
    };
    expect_text(&browser, "#my-on-call", &t(now)).await;
    click(&browser, "form[action='/on-call'] button").await;
    expect_text(&browser, "#my-on-call", &t(then)).await;
    screenshot(&browser, language, "pages-on-call").await;
    browser.close().await.expect("the browser closes");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_missing_pages_in_french() {
    flagged_items(Language::Fr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_missing_pages_in_english() {
    flagged_items(Language::En).await;
}

/// A treasurer moves the fund in from its spreadsheet on a phone: from the donors page,
/// chooses the example file of the docs (the page's script reads it into the form), reads
/// the preview (one donor already known, the others new), and records the five gifts.
async fn donations_from_a_file(language: Language) {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (app, accounts) = coalition().await;
    let t = |key: &str| i18n::text(language, key);
    let browser = driver.browser(language).await;
    let treasurer = account(&accounts, "treasurer", language);
    sign_in(&browser, &app, &treasurer.email, &treasurer.password).await;
    open(&browser, &app, "/donors").await;
    click(&browser, "#to-import").await;
    wait_for_path(&browser, |p| p == "/donations/import").await;
    expect_text(&browser, "h1", &t("import-title")).await;
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/donations.csv");
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("csv-file"))
        .await
        .expect("the file picker shows with the script")
        .send_keys(example.to_str().expect("a UTF-8 path"))
        .await
        .expect("the file is chosen");
    let mut read = String::new();
    for _ in 0..100 {
        read = browser
            .execute("return document.getElementById('csv').value;", vec![])
            .await
            .expect("the field reads")
            .as_str()
            .unwrap_or_default()
            .to_string();
        if read.contains("DON-2026-0005") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        read.contains("DON-2026-0005"),
        "the file lands in the field: {read:?}"
    );
    click(&browser, "#import-preview").await;
    let summary = text_of(&browser, "#import-summary").await;
    let (cash, in_kind) = match language {
        Language::Fr => ("7 340,50 $", "412,50 $"),
        Language::En => ("$7,340.50", "$412.50"),
    };
    assert!(
        plain(&summary).contains(cash) && plain(&summary).contains(in_kind),
        "{summary}"
    );
    screenshot(&browser, language, "donations-import").await;
    submit(&browser, "#import-confirm").await;
    let mut found = false;
    for _ in 0..200 {
        if browser.find(Locator::Css("#import-done")).await.is_ok() {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(found, "recorded: {}", text_of(&browser, "main").await);
    let done = text_of(&browser, "#import-done").await;
    assert!(plain(&done).contains(cash), "{done}");
    let token = api_token(&app, &treasurer.email, &treasurer.password).await;
    let fund: Value = app
        .get("/api/v1/fund", Some(&token))
        .send()
        .await
        .expect("the API answers")
        .json()
        .await
        .expect("the fund");
    assert_eq!(
        fund["donated"], "25340.50",
        "the demo's 18,000.00 and the file's cash"
    );
    browser.close().await.expect("the browser closes");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn donations_from_a_file_in_french() {
    donations_from_a_file(Language::Fr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn donations_from_a_file_in_english() {
    donations_from_a_file(Language::En).await;
}

/// Signs in through the API with a demo account's password.
async fn api_token(app: &TestApp, email: &str, password: &str) -> String {
    let b: Value = app
        .http
        .post(app.url("/api/v1/auth/login"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .expect("the app answers")
        .json()
        .await
        .expect("a token");
    b["token"].as_str().expect("a token").to_string()
}

/// Signs out by submitting the sign-out form itself (on a narrow French page the
/// navigation wraps, and a tap at the button's centre can land on a link beside it).
async fn sign_out(browser: &Client) {
    submit(browser, "form[action='/signout'] button").await;
    wait_for_path(browser, |p| p == "/signin").await;
}

/// Submits the form of the button matching `css`, as a tap on it would.
async fn submit(browser: &Client, css: &str) {
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} appears: {e}"));
    browser
        .execute(
            "const b = document.querySelector(arguments[0]); b.form.requestSubmit(b);",
            vec![serde_json::json!(css)],
        )
        .await
        .unwrap_or_else(|e| panic!("{css} submits: {e}"));
}

/// Opens a page and waits until it is there.
async fn open(browser: &Client, app: &TestApp, path: &str) {
    // A navigation still running from the step before (the redirects after signing in)
    // can land after this one: go again until the page is the one asked for.
    for _ in 0..20 {
        browser.goto(&app.url(path)).await.expect("the page opens");
        if self::path(browser).await == path {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if self::path(browser).await == path {
                return;
            }
        }
    }
    wait_for_path(browser, |p| p == path).await;
}

/// Brings the element matching `css` to the top of the phone's screen.
async fn scroll_to(browser: &Client, css: &str) {
    browser
        .execute(
            "document.querySelector(arguments[0]).scrollIntoView(true);",
            vec![serde_json::json!(css)],
        )
        .await
        .expect("the page scrolls");
}

/// A treasurer reads the request whole on the queue, asks a question, the caseworker
/// answers, the treasurer gives the first of two approvals and a second treasurer the
/// other; then a decline with its typed reason, which the caseworker reads.
async fn deciding(language: Language) {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (app, accounts) = coalition().await;
    let t = |key: &str| i18n::text(language, key);
    let other = match language {
        Language::Fr => Language::En,
        Language::En => Language::Fr,
    };
    let caseworker = account(&accounts, "caseworker", language);
    let treasurer = account(&accounts, "treasurer", language);
    let second = account(&accounts, "treasurer", other);
    let note = "two children, one stroller";

    // The caseworker asks, through the API, for a flight past the two-treasurer line.
    let token = api_token(&app, &caseworker.email, &caseworker.password).await;
    let case: Value = app
        .post("/api/v1/cases", Some(&token))
        .header("Idempotency-Key", "case-1")
        .json(&serde_json::json!({"province": "QC"}))
        .send()
        .await
        .expect("the API answers")
        .json()
        .await
        .expect("a case");
    let code = case["code"].as_str().expect("a code").to_string();
    let today = passage::clock::Clock::now(&app.clock)
        .date_naive()
        .to_string();
    let ask_for = |key: &'static str, body: Value| {
        let (app, token) = (&app, &token);
        async move {
            let r: Value = app
                .post("/api/v1/requests", Some(token))
                .header("Idempotency-Key", key)
                .json(&body)
                .send()
                .await
                .expect("the API answers")
                .json()
                .await
                .expect("a request");
            assert_eq!(r["status"], "pending", "{r}");
            r["id"].as_str().expect("an id").to_string()
        }
    };
    let flight = ask_for(
        "flight-1",
        serde_json::json!({"case_code": code, "category": "flight", "amount": "1450.00",
            "needed_by": today, "travel_date": today, "reason": "family", "note": note,
            "origin": {"city": "Montréal", "province": "QC"},
            "destination": {"city": "Port-au-Prince", "country": "HT"}}),
    )
    .await;
    let page = format!("/requests/{flight}");

    // The treasurer reads the request whole on the queue.
    let browser = driver.browser(language).await;
    sign_in(&browser, &app, &treasurer.email, &treasurer.password).await;
    expect_text(&browser, "h1", &t("queue-title")).await;
    let card = plain(&text_of(&browser, &format!("#request-{flight}")).await);
    for expected in [
        "Montréal, QC → Port-au-Prince, HT".to_string(),
        t("scope-international"),
        t("reason-family"),
        note.to_string(),
        caseworker.email.clone(),
        plain(&i18n::money(language, 145_000)),
        // The case's last 90 days (nothing else yet) and the fund after this approval.
        t("request-history"),
        t("request-history-none"),
        t("request-fund-after"),
    ] {
        assert!(card.contains(&expected), "{expected:?} on the card: {card}");
    }
    scroll_to(&browser, &format!("#request-{flight}")).await;
    screenshot(&browser, language, "decide-queue").await;

    // ...asks the caseworker a question from the request's page.
    open(&browser, &app, &page).await;
    fill(&browser, "question", "Is a later date possible this week?").await;
    submit(&browser, "#ask").await;
    expect_text(&browser, "#answer-title", &t("answer-title-info_requested")).await;
    sign_out(&browser).await;

    // The caseworker reads the question and answers it.
    sign_in(&browser, &app, &caseworker.email, &caseworker.password).await;
    open(&browser, &app, &page).await;
    expect_text(
        &browser,
        "#question-text",
        "Is a later date possible this week?",
    )
    .await;
    scroll_to(&browser, ".question").await;
    screenshot(&browser, language, "decide-question").await;
    fill(&browser, "answer", "No: the hearing is on Monday").await;
    submit(&browser, "#send-answer").await;
    expect_text(&browser, "#answer-title", &t("answer-title-pending")).await;
    sign_out(&browser).await;

    // The treasurer gives the first approval, and is told a second treasurer must.
    sign_in(&browser, &app, &treasurer.email, &treasurer.password).await;
    open(&browser, &app, &page).await;
    expect_text(&browser, "#answer-text", "No: the hearing is on Monday").await;
    submit(&browser, "#approve").await;
    expect_text(&browser, "#approved-by-me", &t("decide-approved-waiting")).await;
    assert!(
        browser.find(Locator::Css("#approve")).await.is_err(),
        "no approve button after one's own approval"
    );
    scroll_to(&browser, "#decide-title").await;
    screenshot(&browser, language, "decide-first-approval").await;
    sign_out(&browser).await;

    // The second treasurer approves it (in their own language), and reads who approved.
    sign_in(&browser, &app, &second.email, &second.password).await;
    open(&browser, &app, &page).await;
    submit(&browser, "#approve").await;
    expect_text(
        &browser,
        "#answer-title",
        &i18n::text(other, "answer-title-approved"),
    )
    .await;
    let main = plain(&text_of(&browser, "main").await);
    for who in [&treasurer.email, &second.email] {
        assert!(
            main.contains(who.as_str()),
            "{who} among the approvals: {main}"
        );
    }
    scroll_to(&browser, ".facts .approvals").await;
    // Taken in the second treasurer's language, which is the other one.
    screenshot(&browser, other, "decide-second-approval").await;
    sign_out(&browser).await;

    // A decline: why, the words, a confirmation.
    let train = ask_for(
        "train-1",
        serde_json::json!({"case_code": code, "category": "train", "amount": "420.00",
            "needed_by": today, "travel_date": today, "reason": "court",
            "origin": {"city": "Montréal", "province": "QC"},
            "destination": {"city": "Toronto", "province": "ON"}}),
    )
    .await;
    let train_page = format!("/requests/{train}");
    let reason = "The 7:05 bus costs 89.00: ask for it instead";
    sign_in(&browser, &app, &treasurer.email, &treasurer.password).await;
    open(&browser, &app, &train_page).await;
    browser
        .execute(
            "document.getElementById('code-cheaper_option').checked = true;",
            vec![],
        )
        .await
        .expect("the reason's code is chosen");
    fill(&browser, "reason", reason).await;
    submit(&browser, "#decline").await;
    expect_text(&browser, "#decline-title", &t("decline-confirm-title")).await;
    expect_text(&browser, "#confirm-reason", reason).await;
    screenshot(&browser, language, "decide-decline-confirm").await;
    submit(&browser, "#confirm-decline").await;
    expect_text(&browser, "#answer-title", &t("answer-title-declined")).await;
    sign_out(&browser).await;

    // The caseworker reads the treasurer's words and who to call back.
    sign_in(&browser, &app, &caseworker.email, &caseworker.password).await;
    open(&browser, &app, &train_page).await;
    expect_text(&browser, "#answer-title", &t("answer-title-declined")).await;
    let main = plain(&text_of(&browser, "main").await);
    for expected in [
        reason.to_string(),
        t("decline-code-cheaper_option"),
        treasurer.email.clone(),
    ] {
        assert!(main.contains(&expected), "{expected:?} on the page: {main}");
    }
    let rule = i18n::text_with(
        language,
        "rule-max-amount",
        &[("category", t("category-train"))],
    );
    assert!(
        !main.contains(&plain(&rule)),
        "not the policy's sentence: {main}"
    );
    screenshot(&browser, language, "decide-declined").await;
    browser.close().await.expect("the browser closes");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_treasurer_decides_in_french() {
    deciding(Language::Fr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_treasurer_decides_in_english() {
    deciding(Language::En).await;
}

/// The width an email is read at in most mail clients.
const EMAIL_WIDTH: u32 = 600;

/// A month busy enough for every section of a report to be published: hotels, buses,
/// trains, local transport and flights a treasurer approves (14 minutes each), in three
/// provinces; a French and an English donor. Returns the fund and each donor's email,
/// read from a real SMTP server.
async fn a_busy_month_mailed() -> (common::fund::Fund, common::smtp::SmtpSink, Vec<Value>) {
    use common::smtp::{SmtpSink, free_port, parse};
    let sink = SmtpSink::start(free_port()).await;
    let url = sink.url();
    let mut f = common::fund::Fund::with(
        TestDb::sqlite().await,
        &[
            ("PASSAGE_SMTP_URL", &url),
            ("PASSAGE_MAIL_INTERVAL_SECS", "1"),
        ],
    )
    .await;
    for (id, name) in [(&f.ids[1], "Claire Exemple"), (&f.ids[2], "Sam Example")] {
        passage::on_db!(&f.app.db.db, p => sqlx::query("UPDATE users SET display_name = $2 WHERE id = $1")
            .bind(id).bind(name).execute(p).await.map(|_| ()))
        .unwrap();
    }
    let anne = f.donor("Fondation Anne", "anne@example.org", "fr").await;
    let bob = f.donor("Bob Fund", "bob@example.org", "en").await;
    f.give(&anne, "18000.00").await;
    f.give(&bob, "7500.00").await;
    for _ in 0..8 {
        f.hotel("QC", 2, "150.00").await;
    }
    for _ in 0..7 {
        f.trip("ON", "bus", "64.50", ("Toronto", "ON"), ("Ottawa", "ON"))
            .await;
    }
    for _ in 0..6 {
        f.trip("QC", "train", "89.00", ("Montréal", "QC"), ("Québec", "QC"))
            .await;
    }
    for _ in 0..6 {
        f.trip(
            "QC",
            "local_transport",
            "25.00",
            ("Montréal", "QC"),
            ("Montréal", "QC"),
        )
        .await;
    }
    f.treasurer_minutes = 14;
    for fare in ["412.37", "389.11", "455.29", "401.00", "398.50", "420.10"] {
        f.trip("NS", "flight", fare, ("Halifax", "NS"), ("Vancouver", "BC"))
            .await;
    }
    f.go_to(2026, 12, 2, 9).await;
    let report = f.draft("2026-11-01", "2026-11-30").await;
    let id = report["id"].as_str().unwrap().to_string();
    let sealed = f.seal(&id).await;
    let (s, sent) = f
        .post(
            &format!("/api/v1/reports/{id}/send"),
            &f.treasurer,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 202, "{sent}");
    // Every section published: nothing folded away.
    let summary = &sealed["summary"];
    for section in ["by_category", "by_province"] {
        assert_eq!(summary[section]["other"], Value::Null, "{summary}");
    }
    // The donors' emails (treasurers and the caseworker were told of the flights too).
    let donors = || -> Vec<Value> {
        sink.received()
            .iter()
            .map(|m| parse(m))
            .filter(|m| {
                let to = m["headers"]["To"].as_str().unwrap_or_default();
                to.contains("anne@") || to.contains("bob@")
            })
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while donors().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the two emails did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mails = donors();
    (f, sink, mails)
}

/// Words of the English report that must not be on a French one.
const ENGLISH: [&str; 14] = [
    "people",
    "fewer",
    "Together",
    "Spending",
    "Hotel ",
    "between",
    "Opening",
    "Closing",
    "Trips",
    "Answered",
    "Download",
    "Frozen",
    "the ",
    "How to read",
];

/// One number format per language: `1 234,56 $` in French, `$1,234.56` in English,
/// never the other, never an amount without its grouping.
fn one_number_format(language: Language, text: &str) {
    let text = text.replace('\u{a0}', " ");
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if *c != '$' {
            continue;
        }
        let next_digit = chars.get(i + 1).is_some_and(|c| c.is_ascii_digit());
        let french = i >= 2 && chars[i - 1] == ' ' && chars[i - 2].is_ascii_digit();
        match language {
            Language::Fr => assert!(!next_digit, "an English amount in: {text}"),
            Language::En => assert!(!french, "a French amount in: {text}"),
        }
    }
    let amounts = match language {
        Language::Fr => ["25 500,00 $", "2 400,00 $"],
        Language::En => ["$25,500.00", "$2,400.00"],
    };
    for a in amounts {
        assert!(text.contains(a), "{a} is not in: {text}");
    }
    assert!(!text.contains("<5") && !text.contains(">=5"), "{text}");
}

fn no_english(language: Language, text: &str) {
    if language == Language::Fr {
        for word in ENGLISH {
            assert!(!text.contains(word), "{word:?} on a French report: {text}");
        }
    }
}

/// The pages of a PDF as Chromium writes it: its page objects (`/Type /Page`, not the
/// `/Type /Pages` tree above them).
fn pdf_pages(pdf: &[u8]) -> usize {
    assert!(pdf.starts_with(b"%PDF"), "not a PDF");
    let needle = b"/Type /Page";
    pdf.windows(needle.len() + 1)
        .filter(|w| w.starts_with(needle) && w[needle.len()] != b's')
        .count()
}

/// The cents of an amount as either language writes it.
fn cents_in(text: &str) -> i64 {
    let amount = text.split(" (").next().unwrap();
    amount
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no amount in {text:?}"))
}

/// Each donor's email, as its HTML part renders in Chromium at 600 px: every bar of each
/// chart is drawn, as wide as its figure against the largest (within 2 % of the track);
/// the same figures are written beside it; French and English each in their own format
/// and words. Then the report's page the email links to, in the donor's language.
/// Screenshots of both, in both languages, for the README.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_donors_email_draws_its_bars_in_a_browser_at_600_px() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (f, sink, mails) = a_busy_month_mailed().await;
    let dir = tempfile::tempdir().unwrap();
    for mail in &mails {
        let to = mail["headers"]["To"].as_str().unwrap();
        let language = if to.contains("anne@") {
            Language::Fr
        } else {
            Language::En
        };
        let html = mail["html"].as_str().unwrap();
        let text = mail["text"].as_str().unwrap();
        assert!(!html.contains("<img") && !html.contains("<script") && !html.contains("<style"));
        let file = dir.path().join(format!("email-{}.html", language.as_str()));
        std::fs::write(&file, html).unwrap();
        let browser = driver.browser_sized(language, EMAIL_WIDTH, 1400).await;
        browser
            .goto(&format!("file://{}", file.display()))
            .await
            .unwrap();
        let bars = browser
            .execute(
                "return Array.from(document.querySelectorAll('table.chart')).flatMap((chart, n) =>
                   Array.from(chart.querySelectorAll(':scope > tbody > tr'))
                     .filter(tr => tr.querySelector('td.bar'))
                     .map(tr => [n, tr.querySelector('td.bar').getBoundingClientRect().width,
                                 tr.querySelector('table.track').getBoundingClientRect().width,
                                 tr.querySelector('td.figure').textContent]));",
                vec![],
            )
            .await
            .unwrap();
        let bars: Vec<(u64, f64, f64, String)> = serde_json::from_value(bars).unwrap();
        // Five needs and three provinces, each a bar.
        assert_eq!(bars.len(), 8, "{bars:?}");
        for chart in [0, 1] {
            let of_chart: Vec<_> = bars.iter().filter(|b| b.0 == chart).collect();
            let max = of_chart.iter().map(|b| cents_in(&b.3)).max().unwrap() as f64;
            for (_, bar, track, figure) in &of_chart {
                assert!(*bar >= 3.0, "an invisible bar: {figure} {bar}");
                let expected = cents_in(figure) as f64 / max;
                let drawn = bar / track;
                assert!(
                    (drawn - expected).abs() <= 0.02,
                    "{figure}: drawn {drawn:.3} of the track, its figure is {expected:.3} of the largest"
                );
                // The same figure in the text part, for text-only clients.
                assert!(
                    text.contains(figure.split(" (").next().unwrap()),
                    "{figure} not in {text}"
                );
            }
        }
        let shown: String = serde_json::from_value(
            browser
                .execute("return document.body.innerText;", vec![])
                .await
                .unwrap(),
        )
        .unwrap();
        one_number_format(language, &shown);
        one_number_format(language, text);
        no_english(language, &shown);
        no_english(language, text);
        let png = browser.screenshot().await.unwrap();
        std::fs::write(screenshot_path(language, "report-email"), png).unwrap();

        // The web version the email links to.
        let web = text
            .split_whitespace()
            .find(|w| w.contains("/donor/report?token="))
            .unwrap();
        let path = &web[web.find("/donor/").unwrap()..];
        browser.close().await.unwrap();
        let browser = driver.browser_sized(language, EMAIL_WIDTH, 3000).await;
        browser.goto(&f.app.url(path)).await.unwrap();
        let page: String = serde_json::from_value(
            browser
                .execute("return document.querySelector('main').innerText;", vec![])
                .await
                .unwrap(),
        )
        .unwrap();
        one_number_format(language, &page);
        no_english(language, &page);
        assert!(
            page.contains("sha256sum passage-report-2026-11-01-2026-11-30.json"),
            "{page}"
        );
        let png = browser.screenshot().await.unwrap();
        std::fs::write(screenshot_path(language, "report-web"), png).unwrap();
        // "Save as PDF": the print stylesheet keeps a month's report to two pages.
        let pdf = browser
            .print(fantoccini::wd::PrintConfiguration::default())
            .await
            .unwrap();
        let pages = pdf_pages(&pdf);
        assert!(
            (1..=2).contains(&pages),
            "the printed report has {pages} pages"
        );
        browser.close().await.unwrap();
    }
    f.app.stop().await;
    sink.stop().await;
}

/// The newest link to `path` (its path and query, e.g. `/invitation?token=...`) that the
/// real SMTP server received for `to`, once the app's mail worker has delivered it.
async fn mailed_link(sink: &common::smtp::SmtpSink, to: &str, path: &str) -> String {
    let marker = format!("{path}?token=");
    for _ in 0..300 {
        let found = sink
            .received()
            .into_iter()
            .map(|raw| common::smtp::parse(&raw))
            .filter(|m| m["headers"]["To"].as_str() == Some(to))
            .filter_map(|m| m["text"].as_str().map(String::from))
            .filter_map(|text| {
                let start = text.find(&marker)?;
                Some(text[start..].split_whitespace().next()?.to_string())
            })
            .next_back();
        if let Some(link) = found {
            return link;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {path} link reached {to}");
}

/// Ticks the box `id`.
async fn tick(browser: &Client, id: &str) {
    browser
        .execute(
            "document.getElementById(arguments[0]).checked = true;",
            vec![Value::from(id)],
        )
        .await
        .expect("the box ticks");
}

/// An admin invites a caseworker and a treasurer from their phone; each chooses a password
/// from the link in the email the real SMTP server received and signs in; the admin
/// deactivates the caseworker, whose open page then ends on a page that says why.
async fn admin_pages(language: Language) {
    let Some(driver) = Driver::start().await else {
        return;
    };
    // Mail leaves through a real SMTP server, delivered by the app's own worker.
    let sink = common::smtp::SmtpSink::start(common::smtp::free_port()).await;
    let app = TestApp::spawn_with(
        TestDb::sqlite().await,
        &[
            ("PASSAGE_SMTP_URL", &sink.url()),
            ("PASSAGE_MAIL_INTERVAL_SECS", "1"),
        ],
    )
    .await;
    let accounts = passage::demo::fill(
        &app.db.db,
        passage::clock::Clock::now(&app.clock),
        &app.base,
    )
    .await
    .expect("the demo fills a new database");
    let t = |key: &str| i18n::text(language, key);
    let lang = language.as_str();
    let org = app.seed_org(&format!("Refuge {lang}")).await;

    let admin = accounts
        .iter()
        .find(|a| a.roles.to_list() == "admin")
        .expect("the demo has an admin");
    let browser = driver.browser(language).await;
    sign_in(&browser, &app, &admin.email, &admin.password).await;
    wait_for_path(&browser, |p| p == "/admin/users").await;
    // The demo's admin reads English: switch to the language of this run.
    if language == Language::Fr {
        submit(&browser, "form[action='/language'] button").await;
    }
    expect_text(&browser, "h1", &t("admin-users-title")).await;

    // Invite a caseworker of the new organisation, then a treasurer.
    let worker = format!("worker.{lang}@example.org");
    let keeper = format!("keeper.{lang}@example.org");
    fill(&browser, "email", &worker).await;
    tick(&browser, "role-caseworker").await;
    browser
        .find(Locator::Css(&format!("#org_id option[value='{org}']")))
        .await
        .expect("the organisation is offered")
        .click()
        .await
        .expect("the organisation is chosen");
    browser
        .find(Locator::Css(&format!("#language option[value='{lang}']")))
        .await
        .expect("the language is offered")
        .click()
        .await
        .expect("the language is chosen");
    screenshot(&browser, language, "admin-invite").await;
    submit(&browser, "form[action='/admin/users'] button").await;
    expect_text(
        &browser,
        "#invited",
        &i18n::text_with(language, "admin-invited", &[("email", worker.clone())]),
    )
    .await;
    fill(&browser, "email", &keeper).await;
    tick(&browser, "role-treasurer").await;
    submit(&browser, "form[action='/admin/users'] button").await;
    expect_text(
        &browser,
        "#invited",
        &i18n::text_with(language, "admin-invited", &[("email", keeper.clone())]),
    )
    .await;
    screenshot(&browser, language, "admin-people").await;

    // Each invitee opens their link, chooses a password and signs in.
    let mut worker_browser = None;
    for (email, home, phrase) in [
        (&worker, "/cases", "harbour lantern quietly orbit"),
        (&keeper, "/queue", "meadow compass slowly drift"),
    ] {
        let link = mailed_link(&sink, email, "/invitation").await;
        let invitee = driver.browser(language).await;
        invitee
            .goto(&app.url(&link))
            .await
            .expect("the invitation opens");
        expect_text(&invitee, "h1", &t("invitation-title")).await;
        fill(&invitee, "new", phrase).await;
        fill(&invitee, "again", phrase).await;
        if email == &worker {
            screenshot(&invitee, language, "invitation").await;
        }
        submit(&invitee, "form[action='/invitation'] button").await;
        expect_text(&invitee, "#invitation-done", &t("invitation-done")).await;
        sign_in(&invitee, &app, email, phrase).await;
        wait_for_path(&invitee, |p| p == home).await;
        if email == &worker {
            worker_browser = Some(invitee);
        } else {
            invitee.close().await.expect("the browser closes");
        }
    }
    let worker_browser = worker_browser.expect("the caseworker's browser");
    expect_text(&worker_browser, "h1", &t("cases-title")).await;

    // The admin deactivates the caseworker from their page.
    open(&browser, &app, "/admin/users").await;
    let id: String = passage::on_db!(&app.db.db, p => sqlx::query_scalar(
        "SELECT id FROM users WHERE email = $1").bind(&worker).fetch_one(p).await)
    .expect("the caseworker's id");
    click(&browser, &format!("a[href='/admin/users/{id}']")).await;
    wait_for_path(&browser, |p| p == format!("/admin/users/{id}")).await;
    scroll_to(&browser, "#user-security").await;
    screenshot(&browser, language, "admin-person").await;
    submit(&browser, "#deactivate").await;
    expect_text(&browser, "#user-done", &t("admin-user-done-active")).await;

    // The caseworker's open page: the next action fails with a page that says why.
    submit(&worker_browser, "form[action='/cases'] button[type=submit]").await;
    wait_for_path(&worker_browser, |p| p == "/signin").await;
    expect_text(&worker_browser, "#signin-ended", &t("signin-ended")).await;
    screenshot(&worker_browser, language, "session-ended").await;
    worker_browser.close().await.expect("the browser closes");

    // Organisations, keys and settings, as the admin sees them.
    open(&browser, &app, "/admin/orgs").await;
    expect_text(&browser, "h1", &t("admin-orgs-title")).await;
    screenshot(&browser, language, "admin-orgs").await;
    open(&browser, &app, "/admin/keys").await;
    expect_text(&browser, "h1", &t("admin-keys-title")).await;
    open(&browser, &app, "/admin/settings").await;
    expect_text(&browser, "h1", &t("admin-settings-title")).await;
    screenshot(&browser, language, "admin-settings").await;
    browser.close().await.expect("the browser closes");
    sink.stop().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_invites_and_deactivates_in_french() {
    admin_pages(Language::Fr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_invites_and_deactivates_in_english() {
    admin_pages(Language::En).await;
}

/// The bank statement (issue 18) on a phone: a treasurer pastes the month's TD file,
/// reads its lines with the "record as" actions, and opens the day's reconciliation.
async fn the_bank_statement(language: Language) {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (app, accounts) = coalition().await;
    let t = |key: &str| i18n::text(language, key);
    let treasurer = account(&accounts, "treasurer", language);
    let browser = driver.browser(language).await;
    sign_in(&browser, &app, &treasurer.email, &treasurer.password).await;
    browser
        .goto(&app.url("/bank"))
        .await
        .expect("the bank page opens");
    expect_text(&browser, "#bank-upload-title", &t("bank-upload-title")).await;
    browser
        .execute(
            "document.getElementById('bank-layout').value = 'td';",
            vec![],
        )
        .await
        .expect("the layout is chosen");
    fill(
        &browser,
        "bank-file",
        "11/28/2026,DEPOT,,250.00,1250.00\n11/29/2026,FRAIS MENSUELS,4.95,,1245.05\n11/29/2026,INTERETS,,0.05,1245.10\n",
    )
    .await;
    screenshot(&browser, language, "bank-import").await;
    click(&browser, "#bank-import").await;
    wait_for_path(&browser, |p| p.starts_with("/bank/statements/")).await;
    let notice = text_of(&browser, "#bank-notice").await;
    assert!(!notice.is_empty(), "the import says what it added");
    screenshot(&browser, language, "bank-statement").await;
    browser
        .goto(&app.url("/bank/reconciliation?as_of=2026-11-29"))
        .await
        .expect("the reconciliation opens");
    expect_text(&browser, "h1", &t("bank-rec-title")).await;
    let statement = text_of(&browser, "#bank-rec-statement").await;
    assert_eq!(
        plain(&statement),
        plain(&i18n::money(language, 124_510)),
        "the bank's balance"
    );
    screenshot(&browser, language, "bank-reconciliation").await;
    browser.close().await.expect("the browser closes");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bank_statement_in_french() {
    the_bank_statement(Language::Fr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bank_statement_in_english() {
    the_bank_statement(Language::En).await;
}

/// The code an authenticator app shows at `at` for the key the page shows as text.
fn totp_code(secret: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_string())
        .to_bytes()
        .expect("a base32 key");
    totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        None,
        String::new(),
    )
    .generate(at.timestamp() as u64)
}

/// A treasurer sets up a second factor on their first sign-in (the test reads the key from
/// the page's text and computes the app's codes), signs in with a code, then with a
/// recovery code, which works once.
async fn second_factor(language: Language) {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn_with(
        TestDb::sqlite().await,
        &[("PASSAGE_SECOND_FACTOR", "required")],
    )
    .await;
    let t = |key: &str| i18n::text(language, key);
    let email = "treasurer@example.org";
    let id = app.seed_user(email, "treasurer", None).await;
    passage::identity::users::set_language(&app.db.db, &id, language)
        .await
        .unwrap();
    let now = || passage::clock::Clock::now(&app.clock);
    let browser = driver.browser(language).await;

    sign_in(&browser, &app, email, common::PASSWORD).await;
    wait_for_path(&browser, |p| p == "/account/second-factor").await;
    expect_text(&browser, "#factor-required", &t("factor-required")).await;
    submit(&browser, "#factor-start").await;
    let secret = text_of(&browser, "#totp-secret").await;
    assert_eq!(secret.len(), 32, "a 160-bit key in base32: {secret}");
    let recovery = text_of(&browser, "#recovery-codes li code").await;
    screenshot(&browser, language, "second-factor-setup").await;
    fill(&browser, "code", &totp_code(&secret, now())).await;
    submit(
        &browser,
        "form[action='/account/second-factor/confirm'] button",
    )
    .await;
    expect_text(&browser, "#factor-done", &t("factor-done")).await;
    screenshot(&browser, language, "second-factor-done").await;
    sign_out(&browser).await;

    // Signing in: the password, then the app's code.
    app.clock.advance(chrono::Duration::seconds(30));
    sign_in(&browser, &app, email, common::PASSWORD).await;
    wait_for_path(&browser, |p| p == "/signin/code").await;
    expect_text(&browser, "h1", &t("signin-code-title")).await;
    screenshot(&browser, language, "signin-code").await;
    fill(&browser, "code", &totp_code(&secret, now())).await;
    submit(&browser, "form[action='/signin/code'] button").await;
    wait_for_path(&browser, |p| p == "/queue").await;
    open(&browser, &app, "/account/sessions").await;
    expect_text(&browser, "h1", &t("sessions-title")).await;
    screenshot(&browser, language, "sessions").await;
    sign_out(&browser).await;

    // A lost phone: a recovery code signs in once.
    for works in [true, false] {
        sign_in(&browser, &app, email, common::PASSWORD).await;
        wait_for_path(&browser, |p| p == "/signin/code").await;
        fill(&browser, "code", &recovery).await;
        submit(&browser, "form[action='/signin/code'] button").await;
        if works {
            wait_for_path(&browser, |p| p == "/queue").await;
            sign_out(&browser).await;
        } else {
            expect_text(&browser, "#code-error", &t("signin-code-wrong")).await;
        }
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_factor_in_french() {
    second_factor(Language::Fr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_factor_in_english() {
    second_factor(Language::En).await;
}

/// A caseworker who forgot their password at night asks for a link from the sign-in page
/// on their phone, sets a new password from the email the real SMTP server received, and
/// signs in with it; the session still open on another device has ended.
async fn forgotten_password(language: Language) {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let sink = common::smtp::SmtpSink::start(common::smtp::free_port()).await;
    let app = TestApp::spawn_with(
        TestDb::sqlite().await,
        &[
            ("PASSAGE_SMTP_URL", &sink.url()),
            ("PASSAGE_MAIL_INTERVAL_SECS", "1"),
        ],
    )
    .await;
    let t = |key: &str| i18n::text(language, key);
    let lang = language.as_str();
    let org = app.seed_org("Refuge A").await;
    let email = format!("night.{lang}@example.org");
    let id = app.seed_user(&email, "caseworker", Some(&org)).await;
    passage::on_db!(&app.db.db, p => sqlx::query("UPDATE users SET language = $1 WHERE id = $2")
        .bind(lang).bind(&id).execute(p).await.map(|_| ()))
    .expect("the caseworker reads their language");

    // Signed in on the office computer, then the phone forgets the password.
    let desk = driver.browser(language).await;
    sign_in(&desk, &app, &email, common::PASSWORD).await;
    wait_for_path(&desk, |p| p == "/cases").await;
    let phone = driver.browser(language).await;
    open(&phone, &app, "/signin").await;
    click(&phone, "#forgot").await;
    wait_for_path(&phone, |p| p == "/reset").await;
    fill(&phone, "email", &email).await;
    submit(&phone, "form[action='/reset'] button").await;
    expect_text(&phone, "#reset-sent", &t("reset-sent")).await;
    screenshot(&phone, language, "reset-sent").await;

    let link = mailed_link(&sink, &email, "/reset").await;
    phone
        .goto(&app.url(&link))
        .await
        .expect("the reset link opens");
    let phrase = "lantern harbour quietly orbit";
    fill(&phone, "new", phrase).await;
    fill(&phone, "again", phrase).await;
    screenshot(&phone, language, "reset-choose").await;
    submit(&phone, "form[action='/reset/confirm'] button").await;
    expect_text(&phone, "#reset-done", &t("reset-done")).await;
    sign_in(&phone, &app, &email, phrase).await;
    wait_for_path(&phone, |p| p == "/cases").await;
    expect_text(&phone, "h1", &t("cases-title")).await;

    // The office computer's session ended with the reset: its next page is the sign-in.
    desk.goto(&app.url("/cases"))
        .await
        .expect("the desk's next page");
    wait_for_path(&desk, |p| p == "/signin").await;
    // The old password opens nothing any more.
    fill(&desk, "email", &email).await;
    fill(&desk, "password", common::PASSWORD).await;
    click(&desk, "form[action='/signin'] button[type=submit]").await;
    desk.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#signin-error"))
        .await
        .expect("the old password is refused");
    assert_eq!(path(&desk).await, "/signin");
    desk.close().await.expect("the browser closes");
    phone.close().await.expect("the browser closes");
    sink.stop().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_reset_from_the_emailed_link_in_french() {
    forgotten_password(Language::Fr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_reset_from_the_emailed_link_in_english() {
    forgotten_password(Language::En).await;
}
