//! The web pages over plain HTTP, on both engines: sessions and CSRF, languages, security
//! headers, forms that keep what was typed, a resubmitted form that creates one request,
//! and the demo. The journeys in a real browser are in tests/browser.rs.

mod common;

use std::collections::HashMap;

use common::{TestApp, TestDb};
use passage::clock::Clock;
use passage::domain::Language;
use passage::web::i18n;
use reqwest::header::{HeaderMap, SET_COOKIE};

/// A browser without a browser: keeps cookies, follows no redirects, and reads the CSRF
/// token from the last page.
struct Visitor {
    http: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
    csrf: String,
    accept_language: String,
}

struct Page {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The value of the hidden input `name` on the page.
    fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker).map(|i| i + marker.len());
        start
            .and_then(|s| {
                self.body[s..]
                    .find('"')
                    .map(|e| self.body[s..s + e].to_string())
            })
            .unwrap_or_default()
    }
}

impl Visitor {
    fn new(app: &TestApp, accept_language: &str) -> Visitor {
        Visitor {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
            cookies: HashMap::new(),
            csrf: String::new(),
            accept_language: accept_language.into(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn read(&mut self, response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for value in headers.get_all(SET_COOKIE) {
            let cookie = value.to_str().unwrap();
            let (pair, _) = cookie.split_once(';').unwrap_or((cookie, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
        let body = response.text().await.unwrap();
        let page = Page {
            status,
            headers,
            body,
        };
        let csrf = page.hidden("csrf");
        if !csrf.is_empty() {
            self.csrf = csrf;
        }
        page
    }

    async fn get(&mut self, path: &str) -> Page {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("accept-language", &self.accept_language)
            .send()
            .await
            .unwrap();
        self.read(response).await
    }

    /// Posts a form as a page of Passage would: with the CSRF token and from the same
    /// origin.
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(String, String)> = vec![("csrf".into(), self.csrf.clone())];
        form.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.post_raw(path, &form, "same-origin").await
    }

    async fn post_raw(&mut self, path: &str, form: &[(String, String)], site: &str) -> Page {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("accept-language", &self.accept_language)
            .header("sec-fetch-site", site)
            .form(form)
            .send()
            .await
            .unwrap();
        self.read(response).await
    }

    async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        self.get("/signin").await;
        self.post(
            "/signin",
            &[("email", email), ("password", password), ("next", "/")],
        )
        .await
    }
}

async fn demo(t: TestDb) -> (TestApp, Vec<passage::demo::Account>) {
    demo_with(t, &[]).await
}

async fn demo_with(t: TestDb, settings: &[(&str, &str)]) -> (TestApp, Vec<passage::demo::Account>) {
    let app = TestApp::spawn_with(t, settings).await;
    let accounts = passage::demo::fill(&app.db.db, app.clock.now(), &app.base)
        .await
        .expect("the demo fills a new database");
    (app, accounts)
}

fn account<'a>(
    accounts: &'a [passage::demo::Account],
    roles: &str,
    language: &str,
) -> &'a passage::demo::Account {
    accounts
        .iter()
        .find(|a| a.roles.to_list() == roles && a.language == language)
        .unwrap()
}

async fn signed_in(
    app: &TestApp,
    accounts: &[passage::demo::Account],
    roles: &str,
    language: &str,
) -> Visitor {
    let mut v = Visitor::new(app, "en");
    let a = account(accounts, roles, language);
    let page = v.sign_in(&a.email, &a.password).await;
    assert_eq!(page.status, 303, "{} signs in: {}", a.email, page.body);
    v
}

/// Opens a case through the page and returns its code.
async fn open_case(v: &mut Visitor, province: &str) -> String {
    v.get("/cases").await;
    let page = v.post("/cases", &[("province", province)]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    page.location().trim_start_matches("/cases/").to_string()
}

async fn count_requests(app: &TestApp, code: &str) -> usize {
    let treasurer = app
        .seed_user("counter@example.org", "treasurer", None)
        .await;
    let token = app.token_for(&treasurer).await;
    let case: serde_json::Value = app
        .get(&format!("/api/v1/cases/{code}"), Some(&token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    case["requests"].as_array().map(Vec::len).unwrap_or(0)
}

async fn a_resubmitted_request_form_creates_one_request(t: TestDb) {
    let (app, accounts) = demo(t).await;
    let mut v = signed_in(&app, &accounts, "caseworker", "fr").await;
    let code = open_case(&mut v, "QC").await;
    let form = v.get(&format!("/cases/{code}/ask?category=hotel")).await;
    let key = form.hidden("idempotency_key");
    assert!(!key.is_empty(), "the form carries an idempotency key");
    let fields = [
        ("idempotency_key", key.as_str()),
        ("category", "hotel"),
        ("nights", "2"),
        ("nightly_rate", "159,00"),
        ("party_size", "1"),
        ("needed_by", "2026-11-30"),
        ("urgent", "on"),
    ];
    let first = v.post(&format!("/cases/{code}/ask"), &fields).await;
    let second = v.post(&format!("/cases/{code}/ask"), &fields).await;
    assert_eq!(first.status, 303, "{}", first.body);
    assert_eq!(
        second.location(),
        first.location(),
        "the retry lands on the same answer"
    );
    assert_eq!(count_requests(&app, &code).await, 1);
    let answer = v.get(first.location()).await;
    assert!(
        answer
            .body
            .contains(&i18n::text(Language::Fr, "answer-title-approved"))
    );
    assert!(
        answer.body.contains("318,00"),
        "a French comma is read as the decimal point"
    );
    app.stop().await;
}

async fn errors_appear_next_to_their_field_and_nothing_typed_is_lost(t: TestDb) {
    let (app, accounts) = demo(t).await;
    let mut v = signed_in(&app, &accounts, "caseworker", "en").await;
    let code = open_case(&mut v, "NS").await;
    let form = v.get(&format!("/cases/{code}/ask?category=bus")).await;
    let key = form.hidden("idempotency_key");
    let page = v
        .post(
            &format!("/cases/{code}/ask"),
            &[
                ("idempotency_key", key.as_str()),
                ("category", "bus"),
                ("amount", "45.50"),
                ("origin_city", "Halifax"),
                ("origin_province", "NS"),
                ("destination_city", "Moncton"),
                ("destination_province", "NB"),
                ("travel_date", "2026-11-30"),
                ("reason", "family"),
                ("needed_by", "2026-11-30"),
                ("note", "call her at 902-555-0123"),
            ],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(
        page.body.contains("id=\"note-error\""),
        "the error sits under the note"
    );
    assert!(page.body.contains(&i18n::text(Language::En, "error-note")));
    assert!(
        page.body.contains("value=\"Moncton\""),
        "what was typed is still there"
    );
    assert!(page.body.contains("value=\"45.50\""));
    assert!(
        page.body.contains(&format!("value=\"{key}\"")),
        "the same key, so a retry is still one request"
    );
    assert_eq!(count_requests(&app, &code).await, 0);
    app.stop().await;
}

async fn the_hotel_total_is_computed_without_javascript(t: TestDb) {
    let (app, accounts) = demo(t).await;
    let mut v = signed_in(&app, &accounts, "caseworker", "fr").await;
    let code = open_case(&mut v, "QC").await;
    let form = v.get(&format!("/cases/{code}/ask?category=hotel")).await;
    let key = form.hidden("idempotency_key");
    let page = v
        .post(
            &format!("/cases/{code}/ask"),
            &[
                ("idempotency_key", key.as_str()),
                ("category", "hotel"),
                ("nights", "3"),
                ("nightly_rate", "129.50"),
                ("action", "compute"),
            ],
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&i18n::money(Language::Fr, 38850)),
        "3 × 129,50 $"
    );
    assert_eq!(
        count_requests(&app, &code).await,
        0,
        "computing sends nothing"
    );
    app.stop().await;
}

/// Asks for a bus through the form and returns the answer page's path.
async fn ask_for_bus(v: &mut Visitor, code: &str, amount: &str) -> String {
    let form = v.get(&format!("/cases/{code}/ask?category=bus")).await;
    let key = form.hidden("idempotency_key");
    let page = v
        .post(
            &format!("/cases/{code}/ask"),
            &[
                ("idempotency_key", key.as_str()),
                ("category", "bus"),
                ("amount", amount),
                ("origin_city", "Montréal"),
                ("origin_province", "QC"),
                ("destination_city", "Ottawa"),
                ("destination_province", "ON"),
                ("travel_date", "2026-11-30"),
                ("reason", "safety"),
                ("needed_by", "2026-11-30"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    page.location().to_string()
}

async fn receipts_cancels_declines_and_reviews_go_through_the_pages(t: TestDb) {
    let (app, accounts) = demo(t).await;
    let mut caseworker = signed_in(&app, &accounts, "caseworker", "en").await;
    let code = open_case(&mut caseworker, "QC").await;

    // A receipt below the hold settles it and says what went back.
    let bus = ask_for_bus(&mut caseworker, &code, "64.50").await;
    let answer = caseworker.get(&bus).await;
    let key = answer.hidden("idempotency_key");
    let settled = caseworker
        .post(
            &format!("{bus}/receipt"),
            &[
                ("idempotency_key", key.as_str()),
                ("amount", "60.00"),
                ("reference", "HX-2026-0007"),
            ],
        )
        .await;
    assert_eq!(settled.location(), bus);
    let page = caseworker.get(&bus).await;
    assert!(
        page.body
            .contains(&i18n::text(Language::En, "answer-title-settled"))
    );
    assert!(page.body.contains("$4.50"), "what went back to the fund");

    // A receipt above the hold is refused by the lifecycle, next to the amount.
    let second = ask_for_bus(&mut caseworker, &code, "30.00").await;
    let answer = caseworker.get(&second).await;
    let key = answer.hidden("idempotency_key");
    let refused = caseworker
        .post(
            &format!("{second}/receipt"),
            &[
                ("idempotency_key", key.as_str()),
                ("amount", "45.00"),
                ("reference", "HX-2026-0008"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"amount-error\""),
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains(&i18n::text(Language::En, "error-receipt_amount"))
    );
    assert!(
        refused.body.contains("value=\"45.00\""),
        "the typed amount stays"
    );

    // Cancelling gives the hold back.
    let cancelled = caseworker.post(&format!("{second}/cancel"), &[]).await;
    assert_eq!(cancelled.location(), second);
    assert!(
        caseworker
            .get(&second)
            .await
            .body
            .contains(&i18n::text(Language::En, "answer-title-cancelled"))
    );

    // A treasurer declines a pending request (its code and words, then a confirmation:
    // never in one tap), and reviews an automatic approval.
    let form = caseworker
        .get(&format!("/cases/{code}/ask?category=clothing"))
        .await;
    let key = form.hidden("idempotency_key");
    let pending = caseworker
        .post(
            &format!("/cases/{code}/ask"),
            &[
                ("idempotency_key", key.as_str()),
                ("category", "clothing"),
                ("amount", "80.00"),
                ("needed_by", "2026-11-30"),
            ],
        )
        .await
        .location()
        .to_string();
    let mut treasurer = signed_in(&app, &accounts, "treasurer", "fr").await;
    let queue = treasurer.get("/queue").await;
    let id = pending.trim_start_matches("/requests/");
    assert!(queue.body.contains(id), "the clothing waits in the queue");
    let reason = "Covered by the clothing bank on Monday";
    let asked = treasurer
        .post(
            &format!("{pending}/decline"),
            &[("reason", reason), ("reason_code", "not_covered")],
        )
        .await;
    assert!(
        asked
            .body
            .contains(&i18n::text(Language::Fr, "decline-confirm-title")),
        "the first post only asks to confirm: {}",
        asked.body
    );
    let page = caseworker.get(&pending).await;
    assert!(
        !page
            .body
            .contains(&i18n::text(Language::En, "answer-title-declined")),
        "nothing declined before the confirmation"
    );
    let declined = treasurer
        .post(
            &format!("{pending}/decline"),
            &[
                ("reason", reason),
                ("reason_code", "not_covered"),
                ("confirmed", "yes"),
            ],
        )
        .await;
    assert_eq!(declined.location(), pending.as_str());
    let page = caseworker.get(&pending).await;
    assert!(
        page.body
            .contains(&i18n::text(Language::En, "answer-title-declined"))
    );
    assert!(page.body.contains(reason), "the treasurer's words");
    let review = treasurer.get("/review").await;
    let bus_id = bus.trim_start_matches("/requests/");
    assert!(
        review.body.contains(bus_id),
        "the automatic bus awaits review"
    );
    let reviewed = treasurer
        .post(
            &format!("{bus}/review"),
            &[
                ("flag", "true"),
                ("reason", "Bus bought twice?"),
                ("back", "/review"),
            ],
        )
        .await;
    assert_eq!(reviewed.location(), "/review");
    assert!(!treasurer.get("/review").await.body.contains(bus_id));
    app.stop().await;
}

async fn a_donation_tapped_twice_is_one_gift(t: TestDb) {
    let (app, accounts) = demo(t).await;
    let mut treasurer = signed_in(&app, &accounts, "treasurer", "en").await;
    let before = treasurer.get("/fund").await;
    assert!(before.body.contains("$18,000.00"), "the demo's gifts");
    let added = treasurer
        .post(
            "/donors",
            &[
                ("name", "Example Parish (example)"),
                ("email", "parish@example.org"),
                ("language", "en"),
            ],
        )
        .await;
    assert_eq!(added.location(), "/donors");
    let page = treasurer.get("/donors").await;
    let key = page.hidden("idempotency_key");
    let marker = "<option value=\"";
    let donor_id = page
        .body
        .split(marker)
        .skip(1)
        .find(|o| o.contains("Example Parish"))
        .and_then(|o| o.split('"').next())
        .expect("the new donor in the list")
        .to_string();
    let gift = [
        ("idempotency_key", key.as_str()),
        ("donor_id", donor_id.as_str()),
        ("amount", "1 500,00"),
        ("received_on", "2026-11-29"),
        ("restricted_to", "hotel"),
        ("restricted_to", "bus"),
    ];
    assert_eq!(
        treasurer.post("/donations", &gift).await.location(),
        "/donors"
    );
    assert_eq!(
        treasurer.post("/donations", &gift).await.location(),
        "/donors"
    );
    let fund = treasurer.get("/fund").await;
    assert!(
        fund.body.contains("$19,500.00"),
        "one gift of $1,500 given: {}",
        fund.body
    );
    // The links already emailed to a donor are withdrawn with one button of the page.
    let page = treasurer.get("/donors").await;
    let action = format!("/donors/{donor_id}/withdraw-links");
    assert!(
        page.body.contains(&format!("action=\"{action}\"")),
        "{}",
        page.body
    );
    assert_eq!(treasurer.post(&action, &[]).await.location(), "/donors");
    let withdrawals: i64 = passage::on_db!(&app.db.db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'donor.links.withdraw' AND subject = $1")
        .bind(format!("donor:{donor_id}")).fetch_one(p).await)
    .unwrap();
    assert_eq!(withdrawals, 1, "audited");
    app.stop().await;
}

/// A treasurer pastes a spreadsheet's CSV: the preview names the wrong cell by its line
/// in French and offers nothing to record; fixed, it offers to record one gift; confirmed,
/// the gift is recorded, and confirming the same file again adds nothing.
async fn a_donations_file_is_previewed_fixed_and_recorded_once_from_the_page(t: TestDb) {
    let (app, accounts) = demo(t).await;
    let mut treasurer = signed_in(&app, &accounts, "treasurer", "fr").await;
    let t = |key: &str| as_html(i18n::text(Language::Fr, key));
    let donors = treasurer.get("/donors").await;
    assert!(
        donors.body.contains("href=\"/donations/import\""),
        "a link from the donors page"
    );
    let page = treasurer.get("/donations/import").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&t("import-title")), "{}", page.body);
    let donations = || async {
        passage::on_db!(&app.db.db, p => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM donations").fetch_one(p).await)
        .unwrap()
    };
    let before = donations().await;

    let wrong = "donor_email,donor_name,amount,received_on,reference\n\
                 paroisse-import@example.org,Paroisse Exemple,\"1 500,00\",2026-11-01,DON-1\n";
    let preview = treasurer
        .post(
            "/donations/import",
            &[("action", "preview"), ("csv", wrong)],
        )
        .await;
    assert_eq!(preview.status, 422, "{}", preview.body);
    assert!(preview.body.contains("Ligne 2, amount"), "{}", preview.body);
    assert!(preview.body.contains("1500.00"), "says how to write it");
    assert!(
        !preview.body.contains("import-confirm"),
        "nothing to confirm"
    );
    assert!(preview.body.contains("1 500,00"), "what was pasted is kept");

    let right = wrong.replace("\"1 500,00\"", "1500.00");
    let preview = treasurer
        .post(
            "/donations/import",
            &[("action", "preview"), ("csv", &right)],
        )
        .await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(
        preview.body.contains("id=\"import-confirm\""),
        "{}",
        preview.body
    );
    assert!(preview.body.contains(&t("import-new-donor")));
    assert_eq!(donations().await, before, "a preview records nothing");

    let done = treasurer
        .post(
            "/donations/import",
            &[("action", "commit"), ("csv", &right)],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("id=\"import-done\""), "{}", done.body);
    assert_eq!(donations().await, before + 1);
    // The same file again, as a second tap or a reload would send it: nothing more.
    let again = treasurer
        .post(
            "/donations/import",
            &[("action", "commit"), ("csv", &right)],
        )
        .await;
    assert!(again.body.contains("id=\"import-seen\""), "{}", again.body);
    assert_eq!(donations().await, before + 1);
    // A caseworker has no such page.
    let mut caseworker = signed_in(&app, &accounts, "caseworker", "en").await;
    assert_eq!(caseworker.get("/donations/import").await.status, 403);
    app.stop().await;
}

/// How many requests a case holds, read through the API with a treasurer's `token`.
async fn cases_requests(app: &TestApp, token: &str, code: &str) -> usize {
    let case: serde_json::Value = app
        .get(&format!("/api/v1/cases/{code}"), Some(token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    case["requests"].as_array().map(Vec::len).unwrap_or(0)
}

async fn send_form(v: &mut Visitor, path: &str, pairs: &[(String, String)]) -> Page {
    let borrowed: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    v.post(path, &borrowed).await
}

/// The travel form without its script: no default destination, the province suggested
/// by the gazetteer, a homonym to choose, another province to confirm, a country abroad
/// whatever the province control says, and the answer's itinerary with its scope.
async fn the_travel_form_has_no_default_destination_and_reads_places_without_javascript(t: TestDb) {
    let (app, accounts) = demo(t).await;
    let counter = app
        .token_for(
            &app.seed_user("places-counter@example.org", "treasurer", None)
                .await,
        )
        .await;
    let mut v = signed_in(&app, &accounts, "caseworker", "en").await;
    let code = open_case(&mut v, "QC").await;
    let en = |key: &str| as_html(i18n::text(Language::En, key));
    let form = v.get(&format!("/cases/{code}/ask?category=bus")).await;
    assert!(
        !form.body.contains("id=\"destination_where_canada\" name=\"destination_where\" value=\"canada\" required checked"),
        "the destination has no default side"
    );
    let select = form
        .body
        .split("id=\"destination_province\"")
        .nth(1)
        .unwrap_or_default();
    let select = select.split("</select>").next().unwrap_or_default();
    assert!(
        !select.is_empty() && !select.contains(" selected"),
        "nor a default province: {select}"
    );
    let key = form.hidden("idempotency_key");
    let ask = |dest: Vec<(&'static str, &'static str)>| {
        let mut fields = vec![
            ("category", "bus"),
            ("amount", "64.50"),
            ("origin_where", "canada"),
            ("origin_city", "Montréal"),
            ("origin_province", "QC"),
            ("travel_date", "2026-11-30"),
            ("reason", "safety"),
            ("needed_by", "2026-11-30"),
        ];
        fields.extend(dest);
        fields
    };
    let with_key = |fields: &[(&'static str, &'static str)], key: &str| {
        let mut all: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        all.push(("idempotency_key".into(), key.to_string()));
        all
    };
    let path = format!("/cases/{code}/ask");
    // No destination at all: refused with its own message, nothing stored.
    let page = send_form(&mut v, &path, &with_key(&ask(vec![]), &key)).await;
    assert_eq!(page.status, 422);
    assert!(
        page.body.contains(&en("place-destination-required")),
        "{}",
        page.body
    );
    assert_eq!(cases_requests(&app, &counter, &code).await, 0);

    // Ottawa without a province: the gazetteer fills Ontario in, to check and send again.
    let ottawa = ask(vec![
        ("destination_where", "canada"),
        ("destination_city", "Ottawa"),
    ]);
    let page = send_form(&mut v, &path, &with_key(&ottawa, &key)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<option value=\"ON\" selected>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("id=\"destination-notice\""),
        "{}",
        page.body
    );
    assert_eq!(
        cases_requests(&app, &counter, &code).await,
        0,
        "a suggestion sends nothing"
    );
    let mut ottawa_on = ottawa.clone();
    ottawa_on.push(("destination_province", "ON"));
    let page = send_form(&mut v, &path, &with_key(&ottawa_on, &key)).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let answer = v.get(page.location()).await;
    assert!(
        answer
            .body
            .contains("Montréal, QC → Ottawa, ON · between provinces"),
        "{}",
        answer.body
    );

    // Richmond: one in several provinces, the caseworker chooses.
    let key = v
        .get(&format!("/cases/{code}/ask?category=bus"))
        .await
        .hidden("idempotency_key");
    let richmond = ask(vec![
        ("destination_where", "canada"),
        ("destination_city", "Richmond"),
    ]);
    let page = send_form(&mut v, &path, &with_key(&richmond, &key)).await;
    assert_eq!(page.status, 422);
    assert!(
        page.body.contains("id=\"destination_province-error\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("British Columbia"), "{}", page.body);

    // Ottawa, Quebec: a warning to confirm, then it goes as the caseworker said.
    let ottawa_qc = ask(vec![
        ("destination_where", "canada"),
        ("destination_city", "Ottawa"),
        ("destination_province", "QC"),
    ]);
    let page = send_form(&mut v, &path, &with_key(&ottawa_qc, &key)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("name=\"destination_confirm\""),
        "{}",
        page.body
    );
    assert_eq!(cases_requests(&app, &counter, &code).await, 1);
    let mut confirmed = ottawa_qc.clone();
    confirmed.push(("destination_confirm", "on"));
    let page = send_form(&mut v, &path, &with_key(&confirmed, &key)).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(cases_requests(&app, &counter, &code).await, 2);

    // Abroad: the country counts, a province left in the other control does not.
    let key = v
        .get(&format!("/cases/{code}/ask?category=bus"))
        .await
        .hidden("idempotency_key");
    let haiti = ask(vec![
        ("destination_where", "abroad"),
        ("destination_city", "Port-au-Prince"),
        ("destination_province", "QC"),
        ("destination_country", "ht"),
    ]);
    let page = send_form(&mut v, &path, &with_key(&haiti, &key)).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let answer = v.get(page.location()).await;
    assert!(
        answer
            .body
            .contains("Montréal, QC → Port-au-Prince, HT · outside Canada"),
        "{}",
        answer.body
    );

    // A city the gazetteer does not know goes as typed; in French, the scope in French.
    let mut fr = signed_in(&app, &accounts, "caseworker", "fr").await;
    let code = open_case(&mut fr, "QC").await;
    let key = fr
        .get(&format!("/cases/{code}/ask?category=bus"))
        .await
        .hidden("idempotency_key");
    let hamlet = ask(vec![
        ("destination_where", "canada"),
        ("destination_city", "Hameau-Inconnu"),
        ("destination_province", "NB"),
    ]);
    let page = send_form(
        &mut fr,
        &format!("/cases/{code}/ask"),
        &with_key(&hamlet, &key),
    )
    .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let answer = fr.get(page.location()).await;
    assert!(
        answer
            .body
            .contains("Montréal, QC → Hameau-Inconnu, NB · entre provinces"),
        "{}",
        answer.body
    );
    app.stop().await;
}

/// A late receipt through the pages: the hold expired, the caseworker enters the receipt
/// all the same, a treasurer declines it from the queue, and the caseworker's page then says
/// why and offers no receipt form again.
async fn a_declined_late_receipt_shows_its_reason_and_no_form(t: TestDb) {
    let (app, accounts) = demo(t).await;
    let mut caseworker = signed_in(&app, &accounts, "caseworker", "en").await;
    let code = open_case(&mut caseworker, "QC").await;
    let bus = ask_for_bus(&mut caseworker, &code, "40.00").await;
    app.clock.advance(chrono::Duration::hours(73));
    passage::app::sweep_once(&app.state())
        .await
        .expect("the sweeper runs");
    let t = |key: &str| i18n::text(Language::En, key);
    let mut caseworker = signed_in(&app, &accounts, "caseworker", "en").await;
    let page = caseworker.get(&bus).await;
    assert!(
        page.body.contains(&t("answer-title-expired")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&t("answer-expired-late")),
        "{}",
        page.body
    );
    let key = page.hidden("idempotency_key");
    let entered = caseworker
        .post(
            &format!("{bus}/receipt"),
            &[
                ("idempotency_key", key.as_str()),
                ("amount", "40.00"),
                ("reference", "HX-2026-0099"),
            ],
        )
        .await;
    assert_eq!(entered.location(), bus, "{}", entered.body);
    let page = caseworker.get(&bus).await;
    assert!(
        page.body.contains(&t("answer-title-receipt_pending")),
        "{}",
        page.body
    );
    let mut treasurer = signed_in(&app, &accounts, "treasurer", "en").await;
    let queue = treasurer.get("/queue").await;
    assert!(queue.body.contains(&t("late-title")), "{}", queue.body);
    let declined = treasurer
        .post(
            &format!("{bus}/decline"),
            &[
                ("reason", "bought without calling"),
                ("reason_code", "other"),
                ("confirmed", "yes"),
                ("back", "/queue"),
            ],
        )
        .await;
    assert_eq!(declined.location(), "/queue", "{}", declined.body);
    let page = caseworker.get(&bus).await;
    assert!(
        page.body.contains(&t("answer-title-expired")),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("bought without calling"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains(&format!("action=\"{bus}/receipt\"")),
        "no receipt form again: {}",
        page.body
    );
    app.stop().await;
}

/// Everyone signed in reaches the page from the menu and changes their own password there,
/// in their language; every refusal says what to do and keeps the old password.
async fn people_change_their_own_password_from_the_page_in_their_language(t: TestDb) {
    let (app, accounts) = demo(t).await;
    for (roles, language, lang) in [
        ("caseworker", "fr", Language::Fr),
        ("treasurer", "en", Language::En),
        ("admin", "en", Language::En),
    ] {
        let a = account(&accounts, roles, language);
        let mut v = signed_in(&app, &accounts, roles, language).await;
        let first = v.get("/").await.location().to_string();
        let home = v.get(&first).await;
        assert!(
            home.body.contains("href=\"/password\""),
            "{roles}: the menu links the page"
        );
        let page = v.get("/password").await;
        assert_eq!(page.status, 200);
        assert!(
            page.body
                .contains(&as_html(i18n::text(lang, "password-title")))
        );
        assert!(page.body.contains("aria-current=\"page\""));

        let new = format!("ferry lantern quietly orbit {roles}");
        for (current, typed, again, key) in [
            (
                "not my password at all",
                new.as_str(),
                new.as_str(),
                "password-wrong-current",
            ),
            (
                a.password.as_str(),
                "Qwerty123456",
                "Qwerty123456",
                "password-common",
            ),
            (a.password.as_str(), "short", "short", "password-too-short"),
            (
                a.password.as_str(),
                new.as_str(),
                "another thing entirely",
                "password-mismatch",
            ),
        ] {
            let refused = v
                .post(
                    "/password",
                    &[("current", current), ("new", typed), ("again", again)],
                )
                .await;
            assert_eq!(refused.status, 422, "{roles} {key}");
            assert!(
                refused.body.contains(&as_html(i18n::text(lang, key))),
                "{roles} {key}: {}",
                refused.body
            );
            assert!(
                typed.len() < 12 || !refused.body.contains(typed),
                "a password is never shown back"
            );
        }
        let done = v
            .post(
                "/password",
                &[
                    ("current", a.password.as_str()),
                    ("new", new.as_str()),
                    ("again", new.as_str()),
                ],
            )
            .await;
        assert_eq!(
            done.location(),
            "/password?changed=1",
            "{roles}: {}",
            done.body
        );
        let page = v.get(done.location()).await;
        assert!(
            page.body
                .contains(&as_html(i18n::text(lang, "password-changed")))
        );

        let mut other = Visitor::new(&app, language);
        assert_eq!(other.sign_in(&a.email, &a.password).await.status, 401);
        assert_eq!(other.sign_in(&a.email, &new).await.status, 303);
        assert_eq!(
            audited(
                &app,
                "user.password_changed",
                &format!("user:{}", user_id(&app, &a.email).await)
            )
            .await,
            1
        );
    }
    // Signed out, the page asks to sign in.
    let mut anonymous = Visitor::new(&app, "en");
    let page = anonymous.get("/password").await;
    assert!(page.location().starts_with("/signin"), "{}", page.status);
    app.stop().await;
}

/// The reset mails in the outbox: (recipient, text).
async fn reset_mails(app: &TestApp) -> Vec<(String, String)> {
    passage::on_db!(&app.db.db, p => sqlx::query_as(
        "SELECT to_addr, body_text FROM outbox WHERE dedupe_key LIKE 'password-reset:%'
         ORDER BY created_at, id"
    )
    .fetch_all(p)
    .await)
    .unwrap()
}

/// A caseworker who forgot their password asks for a link from the sign-in page, sets a
/// new password from the emailed link, in French, and their other session ends.
async fn a_forgotten_password_is_reset_from_the_sign_in_page_and_the_emailed_link(t: TestDb) {
    let (app, accounts) = demo(t).await;
    let a = account(&accounts, "caseworker", "fr");
    let mut other_session = signed_in(&app, &accounts, "caseworker", "fr").await;
    assert_eq!(other_session.get("/cases").await.status, 200);
    app.clock.advance(chrono::Duration::minutes(5));

    let mut v = Visitor::new(&app, "fr");
    let signin = v.get("/signin").await;
    assert!(signin.body.contains("href=\"/reset\""));
    assert!(
        signin
            .body
            .contains(&as_html(i18n::text(Language::Fr, "signin-forgot")))
    );
    let ask = v.get("/reset").await;
    assert_eq!(ask.status, 200);
    assert!(
        ask.body
            .contains(&as_html(i18n::text(Language::Fr, "reset-ask-intro")))
    );
    // A known and an unknown address: the same answer.
    let known = v.post("/reset", &[("email", a.email.as_str())]).await;
    let unknown = v.post("/reset", &[("email", "personne@example.org")]).await;
    assert_eq!((known.status, known.location()), (303, "/reset?sent=1"));
    assert_eq!((unknown.status, unknown.location()), (303, "/reset?sent=1"));
    let sent = v.get("/reset?sent=1").await;
    assert!(
        sent.body
            .contains(&as_html(i18n::text(Language::Fr, "reset-sent")))
    );

    let mails = reset_mails(&app).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].0, a.email);
    assert!(
        mails[0]
            .1
            .contains(&i18n::text(Language::Fr, "email-reset-intro")),
        "in the account's language: {}",
        mails[0].1
    );
    let start = mails[0].1.find("/reset?token=").unwrap();
    let link = mails[0].1[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let token = link.trim_start_matches("/reset?token=").to_string();

    let choose = v.get(&link).await;
    assert_eq!(choose.status, 200);
    assert_eq!(choose.hidden("token"), token);
    let common = v
        .post(
            "/reset/confirm",
            &[
                ("token", &token),
                ("new", "Qwerty123456"),
                ("again", "Qwerty123456"),
            ],
        )
        .await;
    assert_eq!(common.status, 422);
    assert!(
        common
            .body
            .contains(&as_html(i18n::text(Language::Fr, "password-common")))
    );
    let new = "ferry lantern quietly orbit";
    let done = v
        .post(
            "/reset/confirm",
            &[("token", &token), ("new", new), ("again", new)],
        )
        .await;
    assert_eq!(done.location(), "/reset?done=1", "{}", done.body);
    assert!(
        v.get("/reset?done=1")
            .await
            .body
            .contains(&as_html(i18n::text(Language::Fr, "reset-done")))
    );
    // The other session is over; the new password signs in, the old does not.
    let ended = other_session.get("/cases").await;
    assert!(ended.location().starts_with("/signin"), "{}", ended.status);
    assert_eq!(v.sign_in(&a.email, &a.password).await.status, 401);
    assert_eq!(v.sign_in(&a.email, new).await.status, 303);
    // The link is used up.
    let mut again = Visitor::new(&app, "fr");
    again.get(&link).await;
    let used = again
        .post(
            "/reset/confirm",
            &[
                ("token", &token),
                ("new", "another fine long phrase"),
                ("again", "another fine long phrase"),
            ],
        )
        .await;
    assert_eq!(used.status, 422);
    assert!(
        used.body
            .contains(&as_html(i18n::text(Language::Fr, "reset-bad-link")))
    );
    app.stop().await;
}

/// The newest invitation mail to `to`: its link's path and query.
async fn invitation_link(app: &TestApp, to: &str) -> String {
    let text: String = passage::on_db!(&app.db.db, p => sqlx::query_scalar(
        "SELECT body_text FROM outbox WHERE to_addr = $1 AND dedupe_key LIKE 'invitation:%'
         ORDER BY created_at DESC, id DESC LIMIT 1")
        .bind(to).fetch_one(p).await)
    .unwrap();
    let start = text.find("/invitation?token=").expect("an invitation link");
    text[start..].split_whitespace().next().unwrap().to_string()
}

async fn admins_run_people_organisations_keys_and_settings_from_their_pages(t: TestDb) {
    let (app, accounts) = demo(t).await;
    let admin = account(&accounts, "admin", "en");
    let mut v = Visitor::new(&app, "en");
    let signed = v.sign_in(&admin.email, &admin.password).await;
    let home = v.get(signed.location()).await;
    assert_eq!(
        home.location(),
        "/admin/users",
        "the admin's home, not a refusal"
    );
    let people = v.get("/admin/users").await;
    assert_eq!(people.status, 200);
    for href in [
        "/admin/users",
        "/admin/orgs",
        "/admin/keys",
        "/admin/settings",
    ] {
        assert!(people.body.contains(&format!("href=\"{href}\"")), "{href}");
    }

    // Organisations: a missing type is named under its field; then added, renamed.
    v.get("/admin/orgs").await;
    let refused = v
        .post(
            "/admin/orgs",
            &[("name", "Refuge Nord"), ("type", ""), ("province", "ON")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("id=\"type-error\""),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("value=\"Refuge Nord\""),
        "what was typed stays"
    );
    let added = v
        .post(
            "/admin/orgs",
            &[
                ("name", "Refuge Nord"),
                ("type", "youth"),
                ("province", "ON"),
            ],
        )
        .await;
    assert_eq!(added.location(), "/admin/orgs", "{}", added.body);
    let org: String = passage::on_db!(&app.db.db, p => sqlx::query_scalar(
        "SELECT id FROM orgs WHERE name = 'Refuge Nord'").fetch_one(p).await)
    .unwrap();
    let list = v.get("/admin/orgs").await;
    assert!(list.body.contains(&format!("id=\"org-{org}\"")));
    assert!(
        list.body
            .contains(&i18n::text(Language::En, "org-type-youth"))
    );
    v.get(&format!("/admin/orgs/{org}")).await;
    let renamed = v
        .post(
            &format!("/admin/orgs/{org}"),
            &[
                ("name", "Refuge Nord-Est"),
                ("type", "shelter"),
                ("province", "NB"),
            ],
        )
        .await;
    assert_eq!(renamed.location(), format!("/admin/orgs/{org}?saved=1"));
    assert_eq!(audited(&app, "org.update", &format!("org:{org}")).await, 1);

    // Invite a caseworker: the organisation is required, then the link is mailed.
    v.get("/admin/users").await;
    let refused = v
        .post(
            "/admin/users",
            &[
                ("email", "new.worker@example.org"),
                ("roles", "caseworker"),
                ("language", "fr"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("id=\"org_id-error\""),
        "{}",
        refused.body
    );
    let invited = v
        .post(
            "/admin/users",
            &[
                ("email", "new.worker@example.org"),
                ("roles", "caseworker"),
                ("org_id", &org),
                ("language", "fr"),
            ],
        )
        .await;
    assert_eq!(
        invited.location(),
        "/admin/users?invited=new.worker%40example.org",
        "{}",
        invited.body
    );
    let worker = user_id(&app, "new.worker@example.org").await;
    let listed = v.get("/admin/users").await;
    assert!(listed.body.contains(&format!("id=\"user-{worker}\"")));
    let org_page = v.get(&format!("/admin/orgs/{org}")).await;
    assert!(
        org_page.body.contains("new.worker@example.org"),
        "listed with its caseworkers"
    );

    // The invitee chooses a password on the invitation page, in French.
    let link = invitation_link(&app, "new.worker@example.org").await;
    let mut invitee = Visitor::new(&app, "fr");
    let form = invitee.get(&link).await;
    assert_eq!(form.status, 200);
    let token = form.hidden("token");
    let chosen = "harbour lantern quietly orbit";
    let mismatch = invitee
        .post(
            "/invitation",
            &[
                ("token", &token),
                ("new", chosen),
                ("again", "something else entirely"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, 422);
    let done = invitee
        .post(
            "/invitation",
            &[("token", &token), ("new", chosen), ("again", chosen)],
        )
        .await;
    assert_eq!(done.location(), "/invitation?done=1", "{}", done.body);
    assert!(
        invitee
            .get("/invitation?done=1")
            .await
            .body
            .contains(&as_html(i18n::text(Language::Fr, "invitation-done")))
    );
    let used = invitee
        .post(
            "/invitation",
            &[("token", &token), ("new", chosen), ("again", chosen)],
        )
        .await;
    assert_eq!(used.status, 422, "single use");
    assert_eq!(
        invitee
            .sign_in("new.worker@example.org", chosen)
            .await
            .status,
        303
    );
    assert_eq!(invitee.get("/cases").await.status, 200);

    // The admin changes their language, puts a treasurer on call, and deactivates the
    // invitee, whose open page then ends on a page that says why.
    v.get(&format!("/admin/users/{worker}")).await;
    let language = v
        .post(
            &format!("/admin/users/{worker}/language"),
            &[("language", "en")],
        )
        .await;
    assert_eq!(
        language.location(),
        format!("/admin/users/{worker}?done=language")
    );
    let treasurer = user_id(&app, &account(&accounts, "treasurer", "en").email).await;
    let on = v
        .post(
            &format!("/admin/users/{treasurer}/on-call"),
            &[("on_call", "true")],
        )
        .await;
    assert_eq!(
        on.location(),
        format!("/admin/users/{treasurer}?done=on-call")
    );
    let off = v
        .post(
            &format!("/admin/users/{worker}/active"),
            &[("active", "false")],
        )
        .await;
    assert_eq!(off.location(), format!("/admin/users/{worker}?done=active"));
    let next_click = invitee.get("/cases").await;
    assert_eq!(next_click.status, 303);
    assert!(
        next_click.location().starts_with("/signin?ended=1"),
        "{}",
        next_click.location()
    );
    let signin = invitee.get(next_click.location()).await;
    assert!(
        signin
            .body
            .contains(&as_html(i18n::text(Language::Fr, "signin-ended"))),
        "{}",
        signin.body
    );
    // Nobody deactivates themselves.
    let me = user_id(&app, &admin.email).await;
    v.get(&format!("/admin/users/{me}")).await;
    let myself = v
        .post(&format!("/admin/users/{me}/active"), &[("active", "false")])
        .await;
    assert_eq!(myself.status, 422);
    assert!(myself.body.contains(&as_html(i18n::text(
        Language::En,
        "admin-user-not-yourself"
    ))));

    // Keys: rotate, then retire the new one (the admin's own session was signed by the
    // first): retiring the key that signs makes another first.
    let keys = v.get("/admin/keys").await;
    assert_eq!(keys.status, 200);
    let rotated = v.post("/admin/keys/rotate", &[]).await;
    assert_eq!(rotated.location(), "/admin/keys?done=rotated");
    let all = passage::identity::keys::list(&app.db.db).await.unwrap();
    assert_eq!(all.len(), 2);
    let retired = v
        .post(&format!("/admin/keys/{}/retire", all[1].kid), &[])
        .await;
    assert_eq!(retired.location(), "/admin/keys?done=retired");
    let all = passage::identity::keys::list(&app.db.db).await.unwrap();
    assert!(all[1].retired_at.is_some());
    assert_eq!(all.len(), 3, "a new key signs in its place");
    let keys = v.get("/admin/keys").await;
    assert!(keys.body.contains(&format!("id=\"key-{}\"", all[2].kid)));

    // Settings: facts, never a password.
    let settings = v.get("/admin/settings").await;
    assert_eq!(settings.status, 200);
    let engine = match app.db.db.engine() {
        passage::store::Engine::Sqlite => "admin-settings-engine-sqlite",
        passage::store::Engine::Postgres => "admin-settings-engine-postgres",
    };
    assert!(settings.body.contains(&i18n::text(Language::En, engine)));
    assert!(settings.body.contains(&app.config.base_url));
    // In French too.
    let mut french = signed_in(&app, &accounts, "admin", "en").await;
    french
        .post("/language", &[("lang", "fr"), ("back", "/admin/orgs")])
        .await;
    let orgs_fr = french.get("/admin/orgs").await;
    assert!(
        orgs_fr
            .body
            .contains(&as_html(i18n::text(Language::Fr, "admin-org-add-title")))
    );
    app.stop().await;
}

async fn the_bank_pages_import_record_confirm_and_reconcile_in_the_readers_language(t: TestDb) {
    let (app, accounts) = demo(t).await;
    let mut fr = signed_in(&app, &accounts, "treasurer", "fr").await;
    let mut en = signed_in(&app, &accounts, "treasurer", "en").await;
    let t = |key: &str| as_html(i18n::text(Language::Fr, key));
    let home = fr.get("/bank").await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("href=\"/bank\""), "in the menu");
    assert!(home.body.contains(&t("bank-upload-title")), "{}", home.body);

    let bad = fr
        .post(
            "/bank",
            &[
                ("format", "csv"),
                ("layout", "td"),
                ("file", "11/31/2026,X,,5.00,5.00\n"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("Ligne 1 :"), "{}", bad.body);
    assert!(bad.body.contains("11/31/2026"), "what was pasted is kept");

    let file = "11/29/2026,FRAIS MENSUELS,4.95,,100.00\n11/29/2026,INTERETS,,0.05,100.05\n";
    let done = fr
        .post(
            "/bank",
            &[("format", "csv"), ("layout", "td"), ("file", file)],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let to = done.location().to_string();
    assert!(to.starts_with("/bank/statements/"), "{to}");
    let statement = to.split('?').next().unwrap().to_string();
    let id = statement
        .trim_start_matches("/bank/statements/")
        .to_string();
    let page = fr.get(&to).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"bank-notice\""), "{}", page.body);
    assert!(
        page.body.contains(&t("bank-status-unmatched")),
        "{}",
        page.body
    );
    let line = |page: &Page, description: &str| {
        let at = page.body.find(description).expect("the line is shown");
        let start = page.body[..at].rfind("id=\"line-").unwrap() + "id=\"line-".len();
        page.body[start..start + 36].to_string()
    };
    let (fee, interest) = (line(&page, "FRAIS MENSUELS"), line(&page, "INTERETS"));
    let recorded = fr
        .post(
            &format!("/bank/lines/{interest}"),
            &[
                ("statement", &id),
                ("action", "record"),
                ("kind", "interest"),
            ],
        )
        .await;
    assert_eq!(recorded.status, 303, "{}", recorded.body);
    let refused = fr
        .post(
            &format!("/bank/lines/{fee}"),
            &[
                ("statement", &id),
                ("action", "record"),
                ("kind", "interest"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains(&t("bank-refused-422")),
        "{}",
        refused.body
    );
    let proposed = fr
        .post(
            &format!("/bank/lines/{fee}"),
            &[("statement", &id), ("action", "record"), ("kind", "fee")],
        )
        .await;
    assert_eq!(proposed.status, 303, "{}", proposed.body);
    let page = fr.get(&statement).await;
    assert!(
        page.body.contains(&t("bank-proposed-by-you")),
        "{}",
        page.body
    );
    let page = en.get(&statement).await;
    assert!(
        page.body
            .contains(&i18n::text(Language::En, "bank-confirm-fee")),
        "{}",
        page.body
    );
    let confirmed = en
        .post(
            &format!("/bank/lines/{fee}"),
            &[("statement", &id), ("action", "confirm")],
        )
        .await;
    assert_eq!(confirmed.status, 303, "{}", confirmed.body);
    let page = fr.get(&statement).await;
    assert!(page.body.contains(&t("bank-kind-fee")), "{}", page.body);
    assert!(
        !page.body.contains(&t("bank-status-unmatched")),
        "{}",
        page.body
    );

    let rec = fr.get("/bank/reconciliation?as_of=2026-11-29").await;
    assert_eq!(rec.status, 200, "{}", rec.body);
    assert!(rec.body.contains(&t("bank-rec-statement")), "{}", rec.body);
    assert!(
        rec.body.contains("id=\"bank-rec-unexplained\""),
        "{}",
        rec.body
    );
    let bad = fr.get("/bank/reconciliation?as_of=29/11/2026").await;
    assert_eq!(bad.status, 422, "{}", bad.body);

    let mut caseworker = signed_in(&app, &accounts, "caseworker", "en").await;
    assert_eq!(caseworker.get("/bank").await.status, 403);
    assert_eq!(caseworker.get(&statement).await.status, 403);
    app.stop().await;
}

/// The text between `<code id="totp-secret" class="secret">` and `</code>`: what a person
/// types into their app, and what the test computes codes from.
fn secret_on(page: &Page) -> String {
    let marker = "id=\"totp-secret\" class=\"secret\">";
    let start = page.body.find(marker).expect("the key as text") + marker.len();
    let end = page.body[start..].find('<').unwrap();
    page.body[start..start + end].to_string()
}

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

async fn a_treasurer_sets_up_a_second_factor_on_the_pages_before_anything_else(t: TestDb) {
    let app = TestApp::spawn_with(t, &[("PASSAGE_SECOND_FACTOR", "required")]).await;
    app.seed_user("tr@example.org", "treasurer", None).await;
    for (n, lang) in [(0, "fr"), (1, "en")] {
        let language: Language = lang.parse().unwrap();
        let email = format!("tr{n}@example.org");
        let id = app.seed_user(&email, "treasurer", None).await;
        passage::identity::users::set_language(&app.db.db, &id, language)
            .await
            .unwrap();
        let mut v = Visitor::new(&app, lang);
        let signed = v.sign_in(&email, common::PASSWORD).await;
        assert_eq!(signed.status, 303);
        // Every page sends them to set up a second factor first.
        let queue = v.get("/queue").await;
        assert_eq!(
            (queue.status, queue.location()),
            (303, "/account/second-factor")
        );
        let page = v.get("/account/second-factor").await;
        assert_eq!(page.status, 200);
        assert!(
            page.body
                .contains(&as_html(i18n::text(language, "factor-required")))
        );
        let started = v.post("/account/second-factor/start", &[]).await;
        assert_eq!(started.status, 200);
        assert!(started.body.contains("<svg"), "the QR code, drawn here");
        assert!(!started.body.contains("<?xml"));
        assert_eq!(
            started.body.matches("<li><code>").count(),
            10,
            "ten recovery codes"
        );
        let secret = secret_on(&started);
        // A wrong code: said in the page's language, the key shown again.
        let wrong = v
            .post("/account/second-factor/confirm", &[("code", "000000")])
            .await;
        assert_eq!(wrong.status, 422);
        assert!(
            wrong
                .body
                .contains(&as_html(i18n::text(language, "factor-wrong-code")))
        );
        assert_eq!(secret_on(&wrong), secret);
        let done = v
            .post(
                "/account/second-factor/confirm",
                &[("code", &totp_code(&secret, app.clock.now()))],
            )
            .await;
        assert_eq!(
            (done.status, done.location()),
            (303, "/account/second-factor?done=1")
        );
        assert_eq!(v.get("/queue").await.status, 200);

        // Signing in again asks for a code on a second page.
        v.post("/signout", &[]).await;
        let first = v.sign_in(&email, common::PASSWORD).await;
        assert_eq!(first.status, 303);
        assert!(
            first.location().starts_with("/signin/code"),
            "{}",
            first.location()
        );
        let code_page = v.get(first.location()).await;
        assert!(
            code_page
                .body
                .contains(&as_html(i18n::text(language, "signin-code-intro")))
        );
        app.clock.advance(chrono::Duration::seconds(30));
        let bad = v
            .post("/signin/code", &[("code", "000000"), ("next", "/")])
            .await;
        assert_eq!(bad.status, 422);
        assert!(
            bad.body
                .contains(&as_html(i18n::text(language, "signin-code-wrong")))
        );
        let good = v
            .post(
                "/signin/code",
                &[
                    ("code", &totp_code(&secret, app.clock.now())),
                    ("next", "/queue"),
                ],
            )
            .await;
        assert_eq!((good.status, good.location()), (303, "/queue"));
        assert_eq!(v.get("/queue").await.status, 200);
        app.clock.advance(chrono::Duration::seconds(30));
    }
    app.stop().await;
}

async fn idle_page_sessions_end_after_their_roles_limit(t: TestDb) {
    // Tokens outlast a caseworker's 12 idle hours here, so idleness is what ends them.
    let app = TestApp::spawn_with(t, &[("PASSAGE_TOKEN_HOURS", "24")]).await;
    let org = app.seed_org("Shelter A").await;
    app.seed_user("tr@example.org", "treasurer", None).await;
    app.seed_user("cw@example.org", "caseworker", Some(&org))
        .await;
    app.seed_user("both@example.org", "caseworker,treasurer", Some(&org))
        .await;
    let mut tr = Visitor::new(&app, "en");
    tr.sign_in("tr@example.org", common::PASSWORD).await;
    let mut cw = Visitor::new(&app, "fr");
    cw.sign_in("cw@example.org", common::PASSWORD).await;
    let mut both = Visitor::new(&app, "en");
    both.sign_in("both@example.org", common::PASSWORD).await;
    // Used every 59 minutes, a treasurer's page session lasts.
    for _ in 0..3 {
        app.clock.advance(chrono::Duration::minutes(59));
        assert_eq!(tr.get("/queue").await.status, 200);
    }
    // The last-seen times written out or not, the limit counts from the last use.
    app.activity.flush(&app.db.db).await.unwrap();
    app.clock.advance(chrono::Duration::minutes(61));
    let ended = tr.get("/queue").await;
    assert_eq!(ended.status, 303);
    assert!(
        ended.location().starts_with("/signin"),
        "{}",
        ended.location()
    );
    assert_eq!(tr.get("/queue").await.status, 303, "ended for good");
    // The caseworker (12 hours) is still in; a person with both roles gets the shortest.
    assert_eq!(cw.get("/cases").await.status, 200);
    assert_eq!(both.get("/cases").await.status, 303);
    app.clock.advance(chrono::Duration::minutes(721));
    assert_eq!(cw.get("/cases").await.status, 303);
    let idle: Vec<String> = passage::on_db!(&app.db.db, p => sqlx::query_scalar(
        "SELECT content FROM audit_events WHERE action = 'session.end'"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(idle.len(), 3, "{idle:?}");
    assert!(idle.iter().all(|c| c.contains("idle")));
    app.stop().await;
}

async fn people_see_and_end_their_sessions_on_the_page(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let org = app.seed_org("Shelter A").await;
    app.seed_user("cw@example.org", "caseworker", Some(&org))
        .await;
    let mut phone = Visitor::new(&app, "fr");
    phone.sign_in("cw@example.org", common::PASSWORD).await;
    let mut desk = Visitor::new(&app, "fr");
    desk.sign_in("cw@example.org", common::PASSWORD).await;
    let page = desk.get("/account/sessions").await;
    assert_eq!(page.status, 200);
    // The account's language (English) wins over the browser's.
    assert!(
        page.body
            .contains(&as_html(i18n::text(Language::En, "sessions-title")))
    );
    assert_eq!(page.body.matches("class=\"card\"").count(), 2);
    assert!(page.body.contains("id=\"session-current\""));
    let ended = desk.post("/account/sessions/end-others", &[]).await;
    assert_eq!(
        (ended.status, ended.location()),
        (303, "/account/sessions?ended=1")
    );
    assert_eq!(
        phone.get("/cases").await.status,
        303,
        "the other session ended"
    );
    assert_eq!(desk.get("/cases").await.status, 200);
    app.stop().await;
}

/// An admin ends every session of a person and resets their second factor from the
/// person's page, as the API's `DELETE /api/v1/users/{id}/sessions` and `POST
/// /api/v1/users/{id}/second-factor/reset` do.
async fn an_admin_ends_a_persons_sessions_and_resets_their_second_factor_from_the_page(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let org = app.seed_org("Shelter A").await;
    let cw = app
        .seed_user("cw@example.org", "caseworker", Some(&org))
        .await;
    app.seed_user("admin@example.org", "admin", None).await;
    let mut phone = Visitor::new(&app, "fr");
    phone.sign_in("cw@example.org", common::PASSWORD).await;
    assert_eq!(phone.get("/cases").await.status, 200);
    // The caseworker set up a second factor (optional for them).
    let token = app.login("cw@example.org").await;
    let started: serde_json::Value = app
        .post("/api/v1/auth/totp", Some(&token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(started["secret"].is_string(), "{started}");
    let enrolled = |db: passage::store::Db, id: String| async move {
        let n: i64 = passage::on_db!(&db, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM second_factors WHERE user_id = $1")
            .bind(id).fetch_one(p).await)
        .unwrap();
        n
    };
    assert_eq!(enrolled(app.db.db.clone(), cw.clone()).await, 1);

    let mut admin = Visitor::new(&app, "fr");
    admin.sign_in("admin@example.org", common::PASSWORD).await;
    let page = admin.get(&format!("/admin/users/{cw}")).await;
    assert_eq!(page.status, 200);
    for id in ["end-sessions", "reset-second-factor"] {
        assert!(page.body.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert!(
        page.body
            .contains(&as_html(i18n::text(Language::En, "admin-end-sessions")))
    );
    let ended = admin
        .post(&format!("/admin/users/{cw}/sessions/end"), &[])
        .await;
    assert_eq!(
        ended.location(),
        format!("/admin/users/{cw}?done=sessions"),
        "{}",
        ended.body
    );
    let told = admin.get(ended.location()).await;
    assert!(told.body.contains(&as_html(i18n::text(
        Language::En,
        "admin-user-done-sessions"
    ))));
    assert_eq!(
        phone.get("/cases").await.status,
        303,
        "the caseworker's open page is signed out"
    );
    let r = app
        .get("/api/v1/requests", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "and so is their API token");

    let reset = admin
        .post(&format!("/admin/users/{cw}/second-factor/reset"), &[])
        .await;
    assert_eq!(
        reset.location(),
        format!("/admin/users/{cw}?done=second-factor")
    );
    assert_eq!(enrolled(app.db.db.clone(), cw.clone()).await, 0);
    // A caseworker has no admin page.
    phone.sign_in("cw@example.org", common::PASSWORD).await;
    assert_eq!(
        phone
            .post(&format!("/admin/users/{cw}/sessions/end"), &[])
            .await
            .status,
        403
    );
    app.stop().await;
}

on_both_engines!(
    admins_run_people_organisations_keys_and_settings_from_their_pages,
    an_admin_ends_a_persons_sessions_and_resets_their_second_factor_from_the_page,
    a_treasurer_sets_up_a_second_factor_on_the_pages_before_anything_else,
    idle_page_sessions_end_after_their_roles_limit,
    people_see_and_end_their_sessions_on_the_page,
    the_bank_pages_import_record_confirm_and_reconcile_in_the_readers_language,
    a_forgotten_password_is_reset_from_the_sign_in_page_and_the_emailed_link,
    people_change_their_own_password_from_the_page_in_their_language,
    treasurers_draft_freeze_cosign_and_send_a_report_from_their_phones,
    receipts_cancels_declines_and_reviews_go_through_the_pages,
    a_donation_tapped_twice_is_one_gift,
    a_donations_file_is_previewed_fixed_and_recorded_once_from_the_page,
    a_resubmitted_request_form_creates_one_request,
    errors_appear_next_to_their_field_and_nothing_typed_is_lost,
    the_hotel_total_is_computed_without_javascript,
    a_declined_late_receipt_shows_its_reason_and_no_form,
    the_travel_form_has_no_default_destination_and_reads_places_without_javascript,
    owners_share_close_and_reopen_a_case_and_a_guest_cannot,
    receipts_in_another_currency_and_pocket_money_by_attestation,
    a_flag_carries_its_reason_to_the_flagged_list_until_it_is_cleared,
    flags_go_through_the_api_as_through_the_pages,
    the_queue_card_and_the_page_show_the_cases_last_90_days_and_the_fund,
    the_audit_page_lists_the_events_newest_first_a_page_at_a_time,
    treasurers_go_on_call_themselves_and_admins_put_anyone_on_call,
);

#[tokio::test]
async fn the_session_cookie_is_out_of_reach_of_scripts_and_other_sites() {
    let (app, accounts) = demo(TestDb::sqlite().await).await;
    let a = account(&accounts, "caseworker", "en");
    let mut v = Visitor::new(&app, "en");
    let page = v.sign_in(&a.email, &a.password).await;
    let cookie = page
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_string())
        .find(|c| c.starts_with("passage_session="))
        .expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http on this test server");
    app.stop().await;

    let (app, accounts) = demo_with(
        TestDb::sqlite().await,
        &[("PASSAGE_BASE_URL", "https://fund.example.org")],
    )
    .await;
    let a = account(&accounts, "caseworker", "en");
    let mut v = Visitor::new(&app, "en");
    let page = v.sign_in(&a.email, &a.password).await;
    assert!(
        page.headers.get_all(SET_COOKIE).iter().any(|c| c
            .to_str()
            .unwrap()
            .starts_with("passage_session=")
            && c.to_str().unwrap().contains("Secure")),
        "served over https, the session cookie is Secure"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_form_without_its_token_or_from_another_site_is_refused() {
    let (app, accounts) = demo(TestDb::sqlite().await).await;
    let mut v = signed_in(&app, &accounts, "caseworker", "en").await;
    v.get("/cases").await;
    let no_token = v
        .post_raw("/cases", &[("province".into(), "QC".into())], "same-origin")
        .await;
    assert_eq!(no_token.status, 403);
    let wrong = v
        .post_raw(
            "/cases",
            &[
                ("csrf".into(), "0".repeat(64)),
                ("province".into(), "QC".into()),
            ],
            "same-origin",
        )
        .await;
    assert_eq!(wrong.status, 403);
    let token = v.csrf.clone();
    let elsewhere = v
        .post_raw(
            "/cases",
            &[("csrf".into(), token), ("province".into(), "QC".into())],
            "cross-site",
        )
        .await;
    assert_eq!(elsewhere.status, 403);
    assert!(
        elsewhere
            .body
            .contains(&i18n::text(Language::En, "failure-forbidden"))
    );
    let cases = v.get("/cases").await;
    assert!(
        !cases.body.contains("class=\"code\">QC-"),
        "no case was opened by a refused form"
    );
    app.stop().await;
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_case_pages_are_never_cached() {
    let (app, accounts) = demo(TestDb::sqlite().await).await;
    let mut v = signed_in(&app, &accounts, "caseworker", "fr").await;
    let code = open_case(&mut v, "QC").await;
    let page = v.get(&format!("/cases/{code}")).await;
    let header = |name: &str| {
        page.headers
            .get(name)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let csp = header("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert_eq!(header("cache-control"), "no-store");
    assert!(
        !page.body.contains("<script>") && !page.body.contains("style="),
        "no inline script or style"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_language_follows_the_user_else_the_browser_and_switches_anywhere() {
    let (app, accounts) = demo(TestDb::sqlite().await).await;
    let mut v = Visitor::new(&app, "fr-CA,fr;q=0.9,en;q=0.5");
    let page = v.get("/signin").await;
    assert!(page.body.contains("<html lang=\"fr\">"));
    assert!(
        page.body
            .contains(&i18n::text(Language::Fr, "signin-title"))
    );
    // An English-speaking user on a French phone reads English once signed in.
    let a = account(&accounts, "caseworker", "en");
    v.post(
        "/signin",
        &[
            ("email", &a.email),
            ("password", &a.password),
            ("next", "/cases"),
        ],
    )
    .await;
    let cases = v.get("/cases").await;
    assert!(
        cases.body.contains("<html lang=\"en\">"),
        "the user's setting wins"
    );
    // Switching saves the user's setting.
    let switched = v
        .post("/language", &[("lang", "fr"), ("back", "/cases")])
        .await;
    assert_eq!(switched.location(), "/cases");
    let cases = v.get("/cases").await;
    assert!(
        cases
            .body
            .contains(&i18n::text(Language::Fr, "cases-title"))
    );
    let mut again = signed_in(&app, &accounts, "caseworker", "en").await;
    let page = again.get("/cases").await;
    assert!(
        page.body.contains("<html lang=\"fr\">"),
        "the choice is the user's, on every device"
    );
    // A return address never leaves the site.
    let away = v
        .post(
            "/language",
            &[("lang", "en"), ("back", "https://elsewhere.example.org/")],
        )
        .await;
    assert_eq!(away.location(), "/");
    app.stop().await;
}

#[tokio::test]
async fn each_role_sees_its_own_pages_only() {
    let (app, accounts) = demo(TestDb::sqlite().await).await;
    let mut visitor = Visitor::new(&app, "en");
    let page = visitor.get("/queue").await;
    assert_eq!(page.status, 303);
    assert_eq!(
        page.location(),
        "/signin?next=%2Fqueue",
        "sign in, then come back"
    );

    let mut montreal = signed_in(&app, &accounts, "caseworker", "fr").await;
    let theirs = open_case(&mut montreal, "QC").await;
    let mut halifax = signed_in(&app, &accounts, "caseworker", "en").await;
    for path in ["/queue", "/fund", "/donors", "/policy", "/audit", "/review"] {
        assert_eq!(
            halifax.get(path).await.status,
            403,
            "{path} is for treasurers"
        );
    }
    let other = halifax.get(&format!("/cases/{theirs}")).await;
    assert_eq!(other.status, 403, "another organisation's case");
    let never_opened =
        passage::domain::case_code::CaseCode::generate("QC", &mut rand::thread_rng()).unwrap();
    let unknown = halifax
        .get(&format!("/cases/{}", never_opened.as_str()))
        .await;
    assert_eq!(
        unknown.status, other.status,
        "a code that does not exist reads the same"
    );
    let garbled = halifax.get("/requests/%FF%FE").await;
    assert_eq!(
        garbled.status, 404,
        "a path that does not decode names nothing"
    );
    assert!(
        garbled
            .body
            .contains(&i18n::text(Language::En, "failure-not-found"))
    );
    let mut treasurer = signed_in(&app, &accounts, "treasurer", "en").await;
    assert_eq!(
        treasurer.get("/cases").await.status,
        403,
        "opening cases is a caseworker's"
    );
    for path in ["/queue", "/fund", "/donors", "/policy", "/audit", "/review"] {
        assert_eq!(treasurer.get(path).await.status, 200, "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_policy_editor_names_the_field_to_fix_and_keeps_its_history() {
    let (app, accounts) = demo(TestDb::sqlite().await).await;
    let mut v = signed_in(&app, &accounts, "treasurer", "en").await;
    let editor = v.get("/policy").await;
    assert!(
        editor.body.contains("value=\"250.00\""),
        "the bus limit as saved"
    );
    let mut fields: Vec<(String, String)> = vec![
        ("auto_approve_bus_max_amount", "300.00"),
        ("auto_approve_hotel_max_nights", "3"),
        ("auto_approve_hotel_max_nightly_rate", "225.00"),
        ("reserve_floor", "1000.00"),
        ("dual_approval_above", "1000.00"),
        ("case_auto_cap_amount", "1000.00"),
        ("case_auto_cap_days", "7"),
        ("hold_hours", "0"),
        ("escalate_after_minutes", "20"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    fields.insert(0, ("csrf".into(), v.csrf.clone()));
    let refused = v.post_raw("/policy", &fields, "same-origin").await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("id=\"hold_hours-error\""),
        "the error sits under hold_hours"
    );
    assert!(
        refused.body.contains("value=\"300.00\""),
        "what was typed stays"
    );
    for f in fields.iter_mut() {
        if f.0 == "hold_hours" {
            f.1 = "48".into();
        }
    }
    let proposed = v.post_raw("/policy", &fields, "same-origin").await;
    assert_eq!(proposed.location(), "/policy?proposed=2");
    // The proposer sees it waiting, with no way to co-sign it alone.
    let waiting = v.get("/policy?proposed=2").await;
    assert!(waiting.body.contains(&i18n::text_with(
        Language::En,
        "policy-version",
        &[("n", "1".into())]
    )));
    assert!(
        waiting
            .body
            .contains(&i18n::text(Language::En, "policy-waiting-mine")),
        "the proposer is told another treasurer must co-sign"
    );
    assert!(!waiting.body.contains("/policy/versions/2/cosign"));
    let forced = v.post("/policy/versions/2/cosign", &[]).await;
    assert_eq!(forced.status, 403, "the proposer cannot co-sign");

    // The second treasurer, in French, sees what would change and co-signs it.
    let mut second = signed_in(&app, &accounts, "treasurer", "fr").await;
    let review = second.get("/policy").await;
    assert!(
        review.body.contains(&i18n::text_with(
            Language::Fr,
            "policy-cosign",
            &[("n", "2".into())]
        )),
        "{}",
        review.body
    );
    assert!(
        review.body.contains("<td>72</td><td>48</td>"),
        "the change is shown"
    );
    let signed = second.post("/policy/versions/2/cosign", &[]).await;
    assert_eq!(signed.location(), "/policy?cosigned=2");
    let policy = v.get("/policy").await;
    assert!(policy.body.contains(&i18n::text_with(
        Language::En,
        "policy-version",
        &[("n", "2".into())]
    )));
    assert!(
        policy.body.contains("treasurer@example.org")
            && policy.body.contains("tresoriere@example.org"),
        "the history says who proposed it and who co-signed it"
    );
    assert!(policy.body.contains("value=\"48\""));
    // Left empty, a category goes to a treasurer: food is no longer automatic.
    assert!(!policy.body.contains(
        "name=\"auto_approve_food_max_amount\" type=\"text\" inputmode=\"decimal\" value=\"150.00\""
    ));
    app.stop().await;
}

#[tokio::test]
async fn the_review_list_marks_what_a_treasurer_asked_for_themselves() {
    let (app, accounts) = demo(TestDb::sqlite().await).await;
    let org = app.seed_org("Harbour Shelter").await;
    let lead = app
        .seed_user("lead@example.org", "caseworker,treasurer", Some(&org))
        .await;
    let lead = app.token_for(&lead).await;
    let case: serde_json::Value = app
        .post("/api/v1/cases", Some(&lead))
        .json(&serde_json::json!({"province": "QC"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let food: serde_json::Value = app
        .post("/api/v1/requests", Some(&lead))
        .header("idempotency-key", "lead-food")
        .json(
            &serde_json::json!({"case_code": case["code"], "category": "food",
                                  "amount": "40.00", "needed_by": "2026-11-30"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            food["status"].as_str(),
            food["requested_by_treasurer"].as_bool()
        ),
        (Some("approved"), Some(true)),
        "{food}"
    );
    for language in ["en", "fr"] {
        let mut v = signed_in(&app, &accounts, "treasurer", language).await;
        let review = v.get("/review").await;
        let language = if language == "en" {
            Language::En
        } else {
            Language::Fr
        };
        let mark = i18n::text(language, "review-by-treasurer");
        assert_eq!(review.body.matches(&mark).count(), 1, "{}", review.body);
    }
    app.stop().await;
}

#[tokio::test]
async fn the_demo_shows_every_state_and_refuses_a_database_with_data() {
    let (app, _) = demo(TestDb::sqlite().await).await;
    let states: Vec<String> =
        sqlx::query_scalar::<_, String>("SELECT DISTINCT status FROM requests")
            .fetch_all(match &app.db.db {
                passage::store::Db::Sqlite(pool) => pool,
                _ => unreachable!("a SQLite test"),
            })
            .await
            .unwrap();
    for state in [
        "pending",
        "approved",
        "declined",
        "settled",
        "cancelled",
        "expired",
    ] {
        assert!(
            states.iter().any(|s| s == state),
            "the demo has a {state} request: {states:?}"
        );
    }
    let again = passage::demo::fill(&app.db.db, app.clock.now(), &app.base).await;
    assert!(matches!(again, Err(passage::demo::DemoError::NotEmpty)));
    app.stop().await;
}

/// Every message exists in both languages, so no page falls back to the other one.
#[test]
fn both_catalogues_hold_the_same_messages() {
    let keys = |language: &str| -> std::collections::BTreeSet<String> {
        let path = format!(
            "{}/templates/i18n/{language}/passage.ftl",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with(' ') && l.contains(" = "))
            .map(|l| l.split(" = ").next().unwrap().to_string())
            .collect()
    };
    let (fr, en) = (keys("fr"), keys("en"));
    assert_eq!(
        fr.symmetric_difference(&en).collect::<Vec<_>>(),
        Vec::<&String>::new()
    );
    for key in &en {
        assert!(
            i18n::has(Language::Fr, key) && i18n::has(Language::En, key),
            "{key}"
        );
    }
}

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ can be read") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every action the code writes into the audit trail is in `audit::ACTIONS`, and the
/// audit page has words for each in both languages (issue 17: it showed
/// `request.approve` as stored). The actions written are read from `src/`: every quoted
/// `kind.verb` whose kind is one the trail knows (a file name apart).
#[test]
fn every_audit_action_has_words_in_both_languages() {
    let known: std::collections::BTreeSet<&str> = passage::audit::ACTIONS.iter().copied().collect();
    let kinds: std::collections::BTreeSet<&str> =
        known.iter().map(|a| a.split('.').next().unwrap()).collect();
    let literal = regex::Regex::new(r#""([a-z_]+(?:\.[a-z_]+)+)""#).unwrap();
    let file_name = regex::Regex::new(r"\.(html|txt|toml|ftl|json|css|js|sql|png)$").unwrap();
    let mut files = Vec::new();
    rust_files(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut unknown = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        for line in source.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for m in literal.captures_iter(line) {
                let action = &m[1];
                if kinds.contains(action.split('.').next().unwrap())
                    && !file_name.is_match(action)
                    && !known.contains(action)
                {
                    unknown.push(format!("{action} ({})", file.display()));
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "written to the audit trail but not in passage::audit::ACTIONS (add it there and \
         its words to both catalogues): {unknown:?}"
    );
    let mut missing = Vec::new();
    for action in passage::audit::ACTIONS {
        let key = passage::audit::action_key(action);
        for language in [Language::En, Language::Fr] {
            if !i18n::has(language, &key) {
                missing.push(format!("{key} ({})", language.as_str()));
            }
        }
    }
    assert!(missing.is_empty(), "no words for: {missing:?}");
    // Words, not the stored name again.
    for action in passage::audit::ACTIONS {
        let key = passage::audit::action_key(action);
        assert_ne!(
            i18n::text(Language::Fr, &key),
            i18n::text(Language::En, &key),
            "{key}"
        );
    }
}

/// A message as the page writes it (askama escapes apostrophes).
fn as_html(text: String) -> String {
    text.replace('\'', "&#39;")
}

/// Five new cases of the demo's caseworker, each given food money that is spent at once
/// (approved by the rules, then a receipt), through the API.
async fn five_more_people_helped(app: &TestApp, accounts: &[passage::demo::Account]) {
    let worker = account(accounts, "caseworker", "fr");
    let login: serde_json::Value = app
        .post("/api/v1/auth/login", None)
        .json(&serde_json::json!({"email": worker.email, "password": worker.password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().expect("the caseworker signs in");
    for i in 0..5 {
        let case: serde_json::Value = app
            .post("/api/v1/cases", Some(token))
            .json(&serde_json::json!({"province": "QC"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let asked: serde_json::Value = app
            .post("/api/v1/requests", Some(token))
            .header("Idempotency-Key", format!("five-more-{i}"))
            .json(
                &serde_json::json!({"case_code": case["code"], "category": "food",
                                      "amount": "40.00", "needed_by": "2026-11-29"}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(asked["status"], "approved", "{asked}");
        let r = app
            .post(
                &format!("/api/v1/requests/{}/receipt", asked["id"].as_str().unwrap()),
                Some(token),
            )
            .json(&serde_json::json!({"amount": "40.00", "reference": format!("EP-2026-{i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
}

async fn treasurers_draft_freeze_cosign_and_send_a_report_from_their_phones(t: TestDb) {
    let (app, accounts) = demo(t).await;
    let mut first = signed_in(&app, &accounts, "treasurer", "fr").await;
    first.get("/reports").await;
    let bad = first
        .post(
            "/reports",
            &[("period_start", "2026-11-20"), ("period_end", "2026-11-01")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.body.contains("id=\"period_end-error\"")
            || bad.body.contains("id=\"period_start-error\"")
    );
    let drafted = first
        .post(
            "/reports",
            &[("period_start", "2026-11-01"), ("period_end", "2026-11-29")],
        )
        .await;
    assert_eq!(drafted.status, 303, "{}", drafted.body);
    let report = drafted.location().to_string();
    let page = first.get(&report).await;
    assert!(
        page.body
            .contains(&as_html(i18n::text(Language::Fr, "report-status-draft")))
    );
    // The demo's few cases are all under the threshold: every need is grouped.
    assert!(page.body.contains("class=\"chart\""), "spending by need");
    assert!(
        !page.body.contains("<meter"),
        "no amount of a cell under five cases"
    );
    assert!(
        !page.body.contains("QC-") && !page.body.contains("NS-"),
        "no case code in a report"
    );
    assert!(
        !page.body.contains("Halifax") && !page.body.contains("Vancouver"),
        "no city in a report"
    );
    // The demo has helped too few people to publish what was spent: the draft says so,
    // in the reader's language, and offers no freeze.
    assert!(
        page.body
            .contains(&as_html(i18n::text(Language::Fr, "report-too-quiet"))),
        "{}",
        page.body
    );
    assert!(!page.body.contains(&format!("action=\"{report}/seal\"")));
    // How many figures the period would hide, and the cadence that would publish them.
    assert!(page.body.contains("id=\"suppressed\""), "{}", page.body);
    assert!(
        page.body.contains("id=\"suggest-quarter\""),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(&as_html(i18n::text(Language::Fr, "report-suggest-quarter")))
    );
    // Five more people helped that night: the same period can now be published.
    five_more_people_helped(&app, &accounts).await;
    let drafted = first
        .post(
            "/reports",
            &[("period_start", "2026-11-01"), ("period_end", "2026-11-29")],
        )
        .await;
    assert_eq!(drafted.status, 303, "{}", drafted.body);
    let report = drafted.location().to_string();
    let page = first.get(&report).await;
    assert!(
        !page
            .body
            .contains(&as_html(i18n::text(Language::Fr, "report-too-quiet")))
    );
    first.post(&format!("{report}/seal"), &[]).await;
    let frozen = first.get(&report).await;
    assert!(frozen.body.contains(&as_html(i18n::text(
        Language::Fr,
        "report-status-awaiting_cosign"
    ))));
    assert!(
        !frozen.body.contains(&format!("action=\"{report}/seal\"")),
        "nobody co-signs their own freeze"
    );
    let mut second = signed_in(&app, &accounts, "treasurer", "en").await;
    second.get(&report).await;
    let sealed = second.post(&format!("{report}/seal"), &[]).await;
    assert_eq!(sealed.location(), report);
    let page = second.get(&report).await;
    assert!(
        page.body
            .contains(&as_html(i18n::text(Language::En, "report-status-sealed")))
    );
    assert!(
        page.body
            .contains(&as_html(i18n::text(Language::En, "report-matches")))
    );
    // The next report starts where this one ends: the page proposes that day, and a
    // period that would cover the same days again is refused under its first day.
    let cutoff: chrono::DateTime<chrono::Utc> =
        passage::on_db!(&app.db.db, p => sqlx::query_scalar(
        "SELECT cutoff FROM reports WHERE hash IS NOT NULL"
    )
    .fetch_one(p)
    .await)
        .unwrap();
    let next = passage::reports::next_start_day(cutoff).to_string();
    let list = second.get("/reports").await;
    assert!(
        list.body.contains(&format!("value=\"{next}\"")),
        "the page proposes {next}: {}",
        list.body
    );
    let again = second
        .post(
            "/reports",
            &[("period_start", "2026-11-01"), ("period_end", "2026-11-29")],
        )
        .await;
    assert_eq!(again.status, 422, "{}", again.body);
    assert!(again.body.contains("id=\"period_start-error\""));
    assert!(again.body.contains(&next), "the expected day is said");
    let sent = second.post(&format!("{report}/send"), &[]).await;
    assert_eq!(sent.location(), report);
    let emails: i64 = passage::on_db!(&app.db.db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE dedupe_key LIKE 'report:%'"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(emails, 3, "one email per donor of the demo");
    app.stop().await;
}

// The pages that were missing (issue 17): sharing, closing and reopening a case; receipts
// in another currency and by attestation; flagged review items; the audit events; on call.

/// The value of the `<option>` that shows `label`.
fn option_value(page: &Page, label: &str) -> String {
    let end = page
        .body
        .find(&format!("\">{label}</option>"))
        .unwrap_or_else(|| panic!("an option {label}: {}", page.body));
    let start = page.body[..end].rfind("value=\"").unwrap() + "value=\"".len();
    page.body[start..end].to_string()
}

/// How many audit events of `action` are about `subject`.
async fn audited(app: &TestApp, action: &str, subject: &str) -> i64 {
    passage::on_db!(&app.db.db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = $1 AND subject = $2")
        .bind(action).bind(subject).fetch_one(p).await)
    .unwrap()
}

async fn case_status(app: &TestApp, code: &str) -> String {
    passage::on_db!(&app.db.db, p => sqlx::query_scalar("SELECT status FROM cases WHERE code = $1")
        .bind(code).fetch_one(p).await)
    .unwrap()
}

async fn owners_share_close_and_reopen_a_case_and_a_guest_cannot(t: TestDb) {
    let (app, accounts) = demo(t).await;
    let mut montreal = signed_in(&app, &accounts, "caseworker", "fr").await;
    let code = open_case(&mut montreal, "QC").await;
    let path = format!("/cases/{code}");
    let subject = format!("case:{code}");
    let page = montreal.get(&path).await;
    assert!(
        page.body
            .contains(&i18n::text(Language::Fr, "case-shared-with-none"))
    );
    let youth = option_value(&page, "Harbour Youth Outreach");
    let clinic = option_value(&page, "Prairie Legal Clinic");

    // Shared with the Halifax organisation; a retried form shares it once.
    for _ in 0..2 {
        let shared = montreal
            .post(&format!("{path}/share"), &[("org_id", youth.as_str())])
            .await;
        assert_eq!(shared.location(), path, "{}", shared.body);
    }
    assert_eq!(audited(&app, "case.share", &subject).await, 1);
    let page = montreal.get(&path).await;
    assert!(
        page.body
            .contains(&format!("name=\"org_id\" value=\"{youth}\"")),
        "the stop-sharing button names Halifax"
    );

    // The guest organisation reads it and may ask, without the owner's buttons, and is
    // refused when it posts them anyway.
    let mut halifax = signed_in(&app, &accounts, "caseworker", "en").await;
    let guest = halifax.get(&path).await;
    assert_eq!(guest.status, 200, "{}", guest.body);
    assert!(
        guest
            .body
            .contains(&i18n::text(Language::En, "case-shared-with-you"))
    );
    assert!(guest.body.contains(&format!("href=\"{path}/ask\"")));
    for action in ["share", "unshare", "close", "reopen"] {
        assert!(!guest.body.contains(&format!("action=\"{path}/{action}\"")));
    }
    for (action, org) in [
        ("close", ""),
        ("share", clinic.as_str()),
        ("unshare", youth.as_str()),
    ] {
        let refused = halifax
            .post(&format!("{path}/{action}"), &[("org_id", org)])
            .await;
        assert_eq!(refused.status, 403, "a guest may not {action}");
        assert!(
            refused
                .body
                .contains(&i18n::text(Language::En, "failure-forbidden-title"))
        );
    }
    assert_eq!(case_status(&app, &code).await, "open");
    assert_eq!(audited(&app, "case.close", &subject).await, 0);

    // The owner closes it (a retry changes nothing more): no more requests; and reopens it.
    for _ in 0..2 {
        let closed = montreal.post(&format!("{path}/close"), &[]).await;
        assert_eq!(closed.location(), path);
    }
    assert_eq!(audited(&app, "case.close", &subject).await, 1);
    let page = montreal.get(&path).await;
    assert!(page.body.contains(&i18n::text(Language::Fr, "case-closed")));
    assert!(!page.body.contains(&format!("href=\"{path}/ask\"")));
    assert!(page.body.contains(&format!("action=\"{path}/reopen\"")));
    assert_eq!(case_status(&app, &code).await, "closed");
    let reopened = montreal.post(&format!("{path}/reopen"), &[]).await;
    assert_eq!(reopened.location(), path);
    assert_eq!(case_status(&app, &code).await, "open");

    // A treasurer owns every case.
    let mut treasurer = signed_in(&app, &accounts, "treasurer", "en").await;
    let page = treasurer.get(&path).await;
    assert!(page.body.contains(&format!("action=\"{path}/close\"")));
    treasurer.post(&format!("{path}/close"), &[]).await;
    assert_eq!(case_status(&app, &code).await, "closed");
    treasurer.post(&format!("{path}/reopen"), &[]).await;
    assert_eq!(case_status(&app, &code).await, "open");

    // An organisation that is not one names nothing to share with.
    let bad = montreal
        .post(&format!("{path}/share"), &[("org_id", "no-such-org")])
        .await;
    assert_eq!(bad.status, 422);

    // Once it stops sharing, the guest no longer sees the case.
    let unshared = montreal
        .post(&format!("{path}/unshare"), &[("org_id", youth.as_str())])
        .await;
    assert_eq!(unshared.location(), path);
    assert_eq!(audited(&app, "case.unshare", &subject).await, 1);
    assert_eq!(halifax.get(&path).await.status, 403);
    app.stop().await;
}

/// The receipt's columns of a request, as stored.
async fn stored_receipt(
    app: &TestApp,
    id: &str,
) -> (Option<String>, Option<String>, bool, Option<String>) {
    passage::on_db!(&app.db.db, p => sqlx::query_as(
        "SELECT original_currency, original_amount, attested, receipt_reference FROM requests WHERE id = $1")
        .bind(id).fetch_one(p).await)
    .unwrap()
}

async fn receipts_in_another_currency_and_pocket_money_by_attestation(t: TestDb) {
    let (app, accounts) = demo(t).await;
    let mut caseworker = signed_in(&app, &accounts, "caseworker", "en").await;
    let code = open_case(&mut caseworker, "NS").await;

    // A fare paid in US dollars: the currency without its amount is refused under the
    // amount, and what was typed stays.
    let bus = ask_for_bus(&mut caseworker, &code, "64.50").await;
    let bus_id = bus.trim_start_matches("/requests/").to_string();
    let answer = caseworker.get(&bus).await;
    assert!(answer.body.contains("name=\"original_currency\""));
    let key = answer.hidden("idempotency_key");
    let refused = caseworker
        .post(
            &format!("{bus}/receipt"),
            &[
                ("idempotency_key", key.as_str()),
                ("amount", "60.00"),
                ("reference", "HX-2026-0101"),
                ("original_currency", "usd"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("id=\"original_amount-error\""));
    assert!(refused.body.contains(&as_html(i18n::text(
        Language::En,
        "error-receipt_original_amount"
    ))));
    assert!(
        refused.body.contains("value=\"usd\""),
        "what was typed stays"
    );
    let settled = caseworker
        .post(
            &format!("{bus}/receipt"),
            &[
                ("idempotency_key", key.as_str()),
                ("amount", "60.00"),
                ("reference", "HX-2026-0101"),
                ("original_currency", "usd"),
                ("original_amount", "44,10"),
            ],
        )
        .await;
    assert_eq!(settled.location(), bus, "{}", settled.body);
    assert_eq!(
        stored_receipt(&app, &bus_id).await,
        (
            Some("USD".into()),
            Some("44.10".into()),
            false,
            Some("HX-2026-0101".into())
        )
    );
    // The settled request's page shows what the ticket said, in the reader's language,
    // with the reference (issue 17: it showed neither).
    let page = caseworker.get(&bus).await;
    assert!(
        page.body.contains(&as_html(i18n::text_with(
            Language::En,
            "request-receipt-foreign-value",
            &[("amount", "44.10".into()), ("currency", "USD".into())]
        ))),
        "{}",
        page.body
    );
    assert!(page.body.contains("HX-2026-0101"), "{}", page.body);
    let mut french = signed_in(&app, &accounts, "treasurer", "fr").await;
    let page = french.get(&bus).await;
    assert!(
        page.body.contains(&as_html(i18n::text_with(
            Language::Fr,
            "request-receipt-foreign-value",
            &[("amount", "44,10".into()), ("currency", "USD".into())]
        ))),
        "{}",
        page.body
    );

    // Pocket money waits for a treasurer, then is settled by the caseworker's attestation:
    // no vendor receipt, no reference.
    let form = caseworker
        .get(&format!("/cases/{code}/ask?category=pocket_money"))
        .await;
    let key = form.hidden("idempotency_key");
    let asked = caseworker
        .post(
            &format!("/cases/{code}/ask"),
            &[
                ("idempotency_key", key.as_str()),
                ("category", "pocket_money"),
                ("amount", "40.00"),
                ("needed_by", "2026-11-30"),
            ],
        )
        .await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    let pocket = asked.location().to_string();
    let pocket_id = pocket.trim_start_matches("/requests/").to_string();
    let approver = app
        .seed_user("approver@example.org", "treasurer", None)
        .await;
    let token = app.token_for(&approver).await;
    let approved = app
        .post(
            &format!("/api/v1/requests/{pocket_id}/approve"),
            Some(&token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    let answer = caseworker.get(&pocket).await;
    assert!(answer.body.contains("name=\"attested\""));
    let key = answer.hidden("idempotency_key");
    let refused = caseworker
        .post(
            &format!("{pocket}/receipt"),
            &[("idempotency_key", key.as_str()), ("amount", "40.00")],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"reference-error\""),
        "neither an attestation nor a reference: said where it can be fixed"
    );
    let settled = caseworker
        .post(
            &format!("{pocket}/receipt"),
            &[
                ("idempotency_key", key.as_str()),
                ("amount", "40.00"),
                ("attested", "on"),
            ],
        )
        .await;
    assert_eq!(settled.location(), pocket, "{}", settled.body);
    assert!(
        caseworker
            .get(&pocket)
            .await
            .body
            .contains(&i18n::text(Language::En, "answer-title-settled"))
    );
    assert_eq!(
        stored_receipt(&app, &pocket_id).await,
        (None, None, true, None)
    );
    let page = caseworker.get(&pocket).await;
    assert!(
        page.body.contains(&as_html(i18n::text(
            Language::En,
            "request-receipt-attested"
        ))),
        "{}",
        page.body
    );
    // The API says the same.
    let token = app
        .token_for(&user_id(&app, "tresoriere@example.org").await)
        .await;
    let view: serde_json::Value = app
        .get(&format!("/api/v1/requests/{bus_id}"), Some(&token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["receipt"]["original_currency"], "USD", "{view}");
    assert_eq!(view["receipt"]["original_amount"], "44.10", "{view}");
    assert_eq!(view["receipt"]["reference"], "HX-2026-0101", "{view}");
    assert_eq!(view["receipt"]["attested"], false, "{view}");
    let view: serde_json::Value = app
        .get(&format!("/api/v1/requests/{pocket_id}"), Some(&token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["receipt"]["attested"], true, "{view}");
    app.stop().await;
}

async fn a_flag_carries_its_reason_to_the_flagged_list_until_it_is_cleared(t: TestDb) {
    let (app, accounts) = demo(t).await;
    let mut caseworker = signed_in(&app, &accounts, "caseworker", "fr").await;
    let code = open_case(&mut caseworker, "QC").await;
    let bus = ask_for_bus(&mut caseworker, &code, "64.50").await;
    let id = bus.trim_start_matches("/requests/").to_string();
    assert_eq!(caseworker.get("/review/flagged").await.status, 403);
    assert_eq!(
        caseworker.post(&format!("{bus}/unflag"), &[]).await.status,
        403
    );

    let mut treasurer = signed_in(&app, &accounts, "treasurer", "en").await;
    let review = treasurer.get("/review").await;
    assert!(review.body.contains(&format!("id=\"flag-reason-{id}\"")));

    // A reason is required and goes through the personal-data scan: refused next to the
    // field, with what was typed, and nothing is flagged.
    for typed in ["", "call her at 902-555-0123"] {
        let refused = treasurer
            .post(
                &format!("{bus}/review"),
                &[("flag", "true"), ("reason", typed), ("back", "/review")],
            )
            .await;
        assert_eq!(refused.status, 422, "{typed:?}: {}", refused.body);
        assert!(refused.body.contains(&format!("id=\"flag-error-{id}\"")));
        assert!(
            refused
                .body
                .contains(&as_html(i18n::text(Language::En, "error-flag_reason")))
        );
    }
    assert_eq!(
        audited(&app, "request.flag", &format!("request:{id}")).await,
        0
    );

    // Flagged with a reason (a retry flags it once): it leaves the review list for the
    // flagged list, with its reason and who flagged it, in either language.
    let reason = "Second bus for this case tonight";
    for _ in 0..2 {
        let flagged = treasurer
            .post(
                &format!("{bus}/review"),
                &[("flag", "true"), ("reason", reason), ("back", "/review")],
            )
            .await;
        assert_eq!(flagged.location(), "/review", "{}", flagged.body);
    }
    assert_eq!(
        audited(&app, "request.flag", &format!("request:{id}")).await,
        1
    );
    assert!(!treasurer.get("/review").await.body.contains(&id));
    let list = treasurer.get("/review/flagged").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains(&format!("id=\"flagged-{id}\"")));
    assert!(list.body.contains(reason), "{}", list.body);
    assert!(
        list.body.contains("treasurer@example.org"),
        "who flagged it"
    );
    let mut other = signed_in(&app, &accounts, "treasurer", "fr").await;
    let list = other.get("/review/flagged").await;
    assert!(list.body.contains(reason));
    assert!(
        list.body
            .contains(&i18n::text(Language::Fr, "flagged-clear"))
    );
    let events: Vec<String> = passage::on_db!(&app.db.db, p => sqlx::query_scalar(
        "SELECT content FROM audit_events WHERE subject = $1")
        .bind(format!("request:{id}")).fetch_all(p).await)
    .unwrap();
    assert!(
        events.iter().all(|e| !e.contains("Second bus")),
        "the audit trail, which is never purged, keeps no typed reason: {events:?}"
    );

    // Cleared (a retry changes nothing more): off the list, the reason gone.
    for _ in 0..2 {
        let cleared = other.post(&format!("{bus}/unflag"), &[]).await;
        assert_eq!(cleared.location(), "/review/flagged");
    }
    assert_eq!(
        audited(&app, "request.unflag", &format!("request:{id}")).await,
        1
    );
    let list = other.get("/review/flagged").await;
    assert!(!list.body.contains(&id));
    let reason_left: Option<String> = passage::on_db!(&app.db.db, p => sqlx::query_scalar(
        "SELECT flag_reason FROM requests WHERE id = $1")
        .bind(&id).fetch_one(p).await)
    .unwrap();
    assert_eq!(reason_left, None);
    app.stop().await;
}

/// What the flagged list's page does, the API does, and the reverse (issue 17): a flag
/// made on the page is listed by `GET /api/v1/review/flagged` with its reason and who
/// flagged it; one made through the API is on the page; `POST /api/v1/requests/{id}/unflag`
/// clears it from both, audited once however often it is sent.
async fn flags_go_through_the_api_as_through_the_pages(t: TestDb) {
    let (app, accounts) = demo(t).await;
    let mut caseworker = signed_in(&app, &accounts, "caseworker", "fr").await;
    let code = open_case(&mut caseworker, "QC").await;
    let first = ask_for_bus(&mut caseworker, &code, "64.50").await;
    let second = ask_for_bus(&mut caseworker, &code, "32.00").await;
    let (first_id, second_id) = (
        first.trim_start_matches("/requests/").to_string(),
        second.trim_start_matches("/requests/").to_string(),
    );
    let mut treasurer = signed_in(&app, &accounts, "treasurer", "en").await;
    let flagged = treasurer
        .post(
            &format!("{first}/review"),
            &[
                ("flag", "true"),
                ("reason", "Second bus tonight"),
                ("back", "/review"),
            ],
        )
        .await;
    assert_eq!(flagged.location(), "/review", "{}", flagged.body);

    let token = app
        .token_for(&user_id(&app, "tresoriere@example.org").await)
        .await;
    let api = |method: reqwest::Method, path: String, body: Option<serde_json::Value>| {
        let (app, token) = (&app, &token);
        async move {
            let mut r = app.http.request(method, app.url(&path)).bearer_auth(token);
            if let Some(body) = body {
                r = r.json(&body);
            }
            let res = r.send().await.expect("the API answers");
            let status = res.status().as_u16();
            (
                status,
                res.json::<serde_json::Value>()
                    .await
                    .unwrap_or(serde_json::Value::Null),
            )
        }
    };
    let (s, list) = api(reqwest::Method::GET, "/api/v1/review/flagged".into(), None).await;
    assert_eq!(s, 200, "{list}");
    let items = list["items"].as_array().expect("a page of flags");
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["request"]["id"], first_id.as_str(), "{list}");
    assert_eq!(items[0]["reason"], "Second bus tonight", "{list}");
    assert_eq!(
        items[0]["flagged_by"]["name"], "treasurer@example.org",
        "{list}"
    );
    assert!(items[0]["flagged_at"].is_string(), "{list}");

    // Flagged through the API: on the page, by name.
    let (s, b) = api(
        reqwest::Method::POST,
        format!("/api/v1/requests/{second_id}/review"),
        Some(serde_json::json!({"flag": true, "reason": "Twice the same evening"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let page = treasurer.get("/review/flagged").await;
    assert!(page.body.contains(&format!("id=\"flagged-{second_id}\"")));
    assert!(
        page.body.contains("Twice the same evening"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("tresoriere@example.org"),
        "{}",
        page.body
    );

    // Cleared through the API (twice: a retry), audited once; gone from the page and the
    // list, the other flag still there.
    for _ in 0..2 {
        let (s, b) = api(
            reqwest::Method::POST,
            format!("/api/v1/requests/{first_id}/unflag"),
            None,
        )
        .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["flagged"], false, "{b}");
    }
    assert_eq!(
        audited(&app, "request.unflag", &format!("request:{first_id}")).await,
        1
    );
    let page = treasurer.get("/review/flagged").await;
    assert!(!page.body.contains(&format!("id=\"flagged-{first_id}\"")));
    let (_, list) = api(reqwest::Method::GET, "/api/v1/review/flagged".into(), None).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    // An unknown request is 404, a malformed id 422, a caseworker 403.
    let (s, _) = api(
        reqwest::Method::POST,
        "/api/v1/requests/6f1c3f9e-4d8a-4b7e-9c41-2a5d7e0b8c13/unflag".into(),
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = api(
        reqwest::Method::POST,
        "/api/v1/requests/nonsense/unflag".into(),
        None,
    )
    .await;
    assert_eq!(s, 422);
    app.stop().await;
}

/// Asks for pocket money (always a treasurer's) through the form; its page's path.
async fn ask_for_pocket_money(v: &mut Visitor, code: &str, amount: &str, today: &str) -> String {
    let form = v
        .get(&format!("/cases/{code}/ask?category=pocket_money"))
        .await;
    let key = form.hidden("idempotency_key");
    let asked = v
        .post(
            &format!("/cases/{code}/ask"),
            &[
                ("idempotency_key", key.as_str()),
                ("category", "pocket_money"),
                ("amount", amount),
                ("needed_by", today),
            ],
        )
        .await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    asked.location().to_string()
}

/// The queue's card and the request's page show the case's requests of the last 90 days
/// (category, amount, status, date) and what is available now and after this approval
/// (issue 17: the card showed neither, the page no fund figures for the queue).
async fn the_queue_card_and_the_page_show_the_cases_last_90_days_and_the_fund(t: TestDb) {
    let (app, accounts) = demo(t).await;
    let mut caseworker = signed_in(&app, &accounts, "caseworker", "en").await;
    let code = open_case(&mut caseworker, "QC").await;
    // Long ago: out of the window.
    ask_for_bus(&mut caseworker, &code, "12.34").await;
    app.clock.advance(chrono::Duration::days(91));
    // The session ended long ago: sign in again.
    let mut caseworker = signed_in(&app, &accounts, "caseworker", "en").await;
    let today = app.clock.now().date_naive();
    let day = today.to_string();
    let earlier = ask_for_pocket_money(&mut caseworker, &code, "25.00", &day).await;
    let page = ask_for_pocket_money(&mut caseworker, &code, "40.00", &day).await;
    assert!(page.starts_with("/requests/"), "{page}");
    let id = page.trim_start_matches("/requests/").to_string();

    let token = app
        .token_for(&user_id(&app, "treasurer@example.org").await)
        .await;
    let fund: serde_json::Value = app
        .get("/api/v1/fund", Some(&token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let available: rust_decimal::Decimal = fund["available"].as_str().unwrap().parse().unwrap();
    let available =
        rust_decimal::prelude::ToPrimitive::to_i64(&(available * rust_decimal::Decimal::from(100)))
            .unwrap();

    let mut treasurer = signed_in(&app, &accounts, "treasurer", "en").await;
    let queue = treasurer.get("/queue").await;
    let start = queue
        .body
        .find(&format!("id=\"request-{id}\""))
        .expect("the request is on the queue");
    let card = &queue.body[start..start + queue.body[start..].find("\n  </li>").unwrap()];
    let page_body = treasurer.get(&page).await.body;
    for (what, body) in [("the card", card), ("the page", page_body.as_str())] {
        let history = &body[body
            .find(&format!("id=\"history-{id}\""))
            .unwrap_or_else(|| panic!("{what} shows the case's history: {body}"))..];
        let line = format!(
            "<span class=\"date\">{}</span> · {} · <strong>{}</strong> · <span class=\"status\">{}</span>",
            as_html(i18n::date(Language::En, today)),
            as_html(i18n::text(Language::En, "category-pocket_money")),
            i18n::money(Language::En, 2500),
            as_html(i18n::text(Language::En, "status-pending")),
        );
        assert!(history.contains(&line), "{what}: {line} in {history}");
        assert!(
            !history.contains(&i18n::money(Language::En, 1234)),
            "{what}: 91 days ago is out of the window"
        );
        assert!(
            body.contains(&format!(
                "{} → {} {}",
                i18n::money(Language::En, available),
                i18n::money(Language::En, available - 4000),
                i18n::text(Language::En, "request-fund-after")
            )),
            "{what} shows the fund now and after: {body}"
        );
    }
    // The other card names this one in its history.
    let other = earlier.trim_start_matches("/requests/");
    let start = queue.body.find(&format!("id=\"history-{other}\"")).unwrap();
    assert!(queue.body[start..].contains(&i18n::money(Language::En, 4000)));
    app.stop().await;
}

/// The sequence numbers of the events a page of the audit trail lists, in order.
fn event_seqs(page: &Page) -> Vec<i64> {
    page.body
        .split("id=\"event-")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
        .collect()
}

async fn the_audit_page_lists_the_events_newest_first_a_page_at_a_time(t: TestDb) {
    let (app, accounts) = demo(t).await;
    let mut caseworker = signed_in(&app, &accounts, "caseworker", "en").await;
    assert_eq!(caseworker.get("/audit").await.status, 403);
    open_case(&mut caseworker, "NS").await;
    let last: i64 = passage::on_db!(&app.db.db, p => sqlx::query_scalar(
        "SELECT MAX(seq) FROM audit_events").fetch_one(p).await)
    .unwrap();

    let mut treasurer = signed_in(&app, &accounts, "treasurer", "fr").await;
    let page = treasurer.get("/audit").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&i18n::text_with(
        Language::Fr,
        "audit-ok",
        &[("n", last.to_string())]
    )));
    let seqs = event_seqs(&page);
    assert_eq!(seqs.first(), Some(&last), "newest first");
    assert!(seqs.windows(2).all(|w| w[0] > w[1]));

    // Five at a time: the next page starts where this one ends.
    let first = treasurer.get("/audit?limit=5").await;
    assert_eq!(
        event_seqs(&first),
        (last - 4..=last).rev().collect::<Vec<_>>()
    );
    let older = format!("/audit?after={}&#38;limit=5", last - 4);
    assert!(first.body.contains(&older), "{}", first.body);
    let second = treasurer.get(&older.replace("&#38;", "&")).await;
    assert_eq!(
        event_seqs(&second),
        (last - 9..=last - 5).rev().collect::<Vec<_>>()
    );

    // One action only.
    let opened: i64 = passage::on_db!(&app.db.db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'case.open'").fetch_one(p).await)
    .unwrap();
    let filtered = treasurer.get("/audit?action=case.open").await;
    assert_eq!(event_seqs(&filtered).len() as i64, opened);
    // In the reader's words, not as stored (issue 17).
    let words = as_html(i18n::text(Language::Fr, "audit-action-case-open"));
    assert_eq!(
        filtered
            .body
            .matches(&format!(
                "<span class=\"action\" data-action=\"case.open\">{words}</span>"
            ))
            .count() as i64,
        opened,
        "{}",
        filtered.body
    );
    assert!(!filtered.body.contains("<code>case.open</code>"));
    assert!(filtered.body.contains(&format!(
        "<option value=\"case.open\" selected>{words}</option>"
    )));
    // Every action on the page is in words, in either language.
    let page = treasurer.get("/audit?limit=200").await;
    for action in passage::audit::ACTIONS {
        if page.body.contains(&format!("data-action=\"{action}\"")) {
            let words = as_html(i18n::text(
                Language::Fr,
                &passage::audit::action_key(action),
            ));
            assert!(
                page.body
                    .contains(&format!("data-action=\"{action}\">{words}</span>")),
                "{action}"
            );
        }
    }
    let mut english = signed_in(&app, &accounts, "treasurer", "en").await;
    let page = english.get("/audit?action=case.open").await;
    assert!(page.body.contains(&format!(
        "data-action=\"case.open\">{}</span>",
        as_html(i18n::text(Language::En, "audit-action-case-open"))
    )));

    // A cursor, a size or an action that is not one is a 400 page, never a 500.
    for bad in [
        "/audit?after=abc",
        "/audit?limit=0",
        "/audit?limit=100000",
        "/audit?action=no.such.action",
    ] {
        let page = treasurer.get(bad).await;
        assert_eq!(page.status, 400, "{bad}");
    }
    app.stop().await;
}

async fn on_call(app: &TestApp, email: &str) -> bool {
    passage::on_db!(&app.db.db, p => sqlx::query_scalar("SELECT on_call FROM users WHERE email = $1")
        .bind(email).fetch_one(p).await)
    .unwrap()
}

async fn user_id(app: &TestApp, email: &str) -> String {
    passage::on_db!(&app.db.db, p => sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email).fetch_one(p).await)
    .unwrap()
}

async fn treasurers_go_on_call_themselves_and_admins_put_anyone_on_call(t: TestDb) {
    let (app, accounts) = demo(t).await;
    let mut caseworker = signed_in(&app, &accounts, "caseworker", "en").await;
    assert_eq!(caseworker.get("/on-call").await.status, 403);

    // The demo's French treasurer is on call, the English one is not.
    let french = user_id(&app, "tresoriere@example.org").await;
    let english = user_id(&app, "treasurer@example.org").await;
    let mut treasurer = signed_in(&app, &accounts, "treasurer", "en").await;
    let page = treasurer.get("/on-call").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains(&i18n::text(Language::En, "on-call-you-are-not"))
    );
    assert!(
        !page.body.contains(&format!("value=\"{french}\"")),
        "a treasurer sees only themselves"
    );
    let on = treasurer
        .post(
            "/on-call",
            &[("user_id", english.as_str()), ("on_call", "true")],
        )
        .await;
    assert_eq!(on.location(), "/on-call");
    assert!(on_call(&app, "treasurer@example.org").await);
    let page = treasurer.get("/on-call").await;
    assert!(
        page.body
            .contains(&i18n::text(Language::En, "on-call-you-are"))
    );
    assert!(!page.body.contains("id=\"on-call-already\""));
    // A second tap changes nothing, is not audited, and says so (issue 17).
    let again = treasurer
        .post(
            "/on-call",
            &[("user_id", english.as_str()), ("on_call", "true")],
        )
        .await;
    assert_eq!(again.location(), format!("/on-call?already={english}"));
    let page = treasurer.get(again.location()).await;
    assert!(
        page.body
            .contains(&as_html(i18n::text(Language::En, "on-call-already-you-on"))),
        "{}",
        page.body
    );
    assert_eq!(
        audited(&app, "user.on_call", &format!("user:{english}")).await,
        1,
        "one event for one change"
    );
    let refused = treasurer
        .post(
            "/on-call",
            &[("user_id", french.as_str()), ("on_call", "false")],
        )
        .await;
    assert_eq!(refused.status, 403, "a treasurer sets only themselves");
    assert!(on_call(&app, "tresoriere@example.org").await);

    // The admin opens the page from their menu and sets anyone.
    let admin = account(&accounts, "admin", "en");
    let mut v = Visitor::new(&app, "en");
    let signed = v.sign_in(&admin.email, &admin.password).await;
    let home = v.get(signed.location()).await;
    assert_eq!(home.location(), "/admin/users", "the admin's first page");
    let page = v.get("/on-call").await;
    assert!(page.body.contains(&format!("id=\"on-call-{french}\"")));
    assert!(page.body.contains(&format!("id=\"on-call-{english}\"")));
    let off = v
        .post(
            "/on-call",
            &[("user_id", french.as_str()), ("on_call", "false")],
        )
        .await;
    assert_eq!(off.location(), "/on-call");
    assert!(!on_call(&app, "tresoriere@example.org").await);
    let garbled = v
        .post(
            "/on-call",
            &[("user_id", french.as_str()), ("on_call", "maybe")],
        )
        .await;
    assert_eq!(garbled.status, 422);

    // Already off: the admin is told, by name, and nothing is audited.
    let events = audited(&app, "user.on_call", &format!("user:{french}")).await;
    let again = v
        .post(
            "/on-call",
            &[("user_id", french.as_str()), ("on_call", "false")],
        )
        .await;
    assert_eq!(again.location(), format!("/on-call?already={french}"));
    let page = v.get(again.location()).await;
    assert!(
        page.body.contains(&as_html(i18n::text_with(
            Language::En,
            "on-call-already-off",
            &[("who", "tresoriere@example.org".into())]
        ))),
        "{}",
        page.body
    );
    assert_eq!(
        audited(&app, "user.on_call", &format!("user:{french}")).await,
        events
    );

    // The API follows the same rule.
    let token = app.token_for(&english).await;
    for (target, expected) in [(&english, 200), (&french, 403)] {
        let answer = app
            .http
            .put(app.url(&format!("/api/v1/users/{target}/on-call")))
            .bearer_auth(&token)
            .json(&serde_json::json!({"on_call": false}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), expected, "{target}");
        if expected == 200 {
            let b: serde_json::Value = answer.json().await.unwrap();
            assert_eq!(b["changed"], true, "{b}");
        }
    }
    assert!(!on_call(&app, "treasurer@example.org").await);
    // ...and says when nothing changed.
    let answer: serde_json::Value = app
        .http
        .put(app.url(&format!("/api/v1/users/{english}/on-call")))
        .bearer_auth(&token)
        .json(&serde_json::json!({"on_call": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["changed"], false, "{answer}");
    assert_eq!(
        answer["message"], "already off call: nothing changed",
        "{answer}"
    );
    assert_eq!(
        audited(&app, "user.on_call", &format!("user:{english}")).await,
        2,
        "on, then off: two events"
    );
    app.stop().await;
}
