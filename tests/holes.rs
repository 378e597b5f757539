//! The smaller holes of issue 15, on both engines: return addresses that leave the site
//! (or answer a 500), amounts written in shapes nobody means, dates a thousand years away,
//! and an organisation a case was shared with acting as its owner or reading the other
//! organisations' notes.

mod common;

use std::collections::HashMap;

use common::{PASSWORD, TestApp, TestDb};
use reqwest::header::SET_COOKIE;
use serde_json::{Value, json};

/// A browser without a browser: keeps cookies, follows no redirects, sends back the CSRF
/// token of the last page.
struct Visitor {
    http: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
    csrf: String,
}

struct Page {
    status: u16,
    location: String,
    content_type: String,
    body: String,
}

impl Page {
    fn hidden(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')?;
        Some(self.body[start..start + end].to_string())
    }
}

impl Visitor {
    fn new(app: &TestApp) -> Visitor {
        Visitor {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
            cookies: HashMap::new(),
            csrf: String::new(),
        }
    }

    async fn read(&mut self, response: reqwest::Response) -> Page {
        for value in response.headers().get_all(SET_COOKIE) {
            let cookie = value.to_str().unwrap();
            let (pair, _) = cookie.split_once(';').unwrap_or((cookie, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let page = Page {
            status: response.status().as_u16(),
            location: header("location"),
            content_type: header("content-type"),
            body: String::new(),
        };
        let page = Page {
            body: response.text().await.unwrap(),
            ..page
        };
        if let Some(csrf) = page.hidden("csrf") {
            self.csrf = csrf;
        }
        page
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn get(&mut self, path: &str) -> Page {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.read(response).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(String, String)> = vec![("csrf".into(), self.csrf.clone())];
        form.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("sec-fetch-site", "same-origin")
            .form(&form)
            .send()
            .await
            .unwrap();
        self.read(response).await
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Return addresses a forged link or form carries: other hosts however disguised (a tab,
/// a line feed or a space that browsers drop, a backslash they read as a slash, the same
/// written percent-encoded), and header injection.
const AWAY: &[&str] = &[
    "/\t/evil.example",
    "/%09/evil.example",
    "/\n/evil.example",
    "/%0a/evil.example",
    "/ /evil.example",
    "/%20/evil.example",
    "//evil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "/\\evil.example",
    "/%5Cevil.example",
    "https://evil.example/",
    "evil.example",
    "/\r\nSet-Cookie: passage_session=stolen",
    "/%0D%0ASet-Cookie:%20passage_session=stolen",
    "/cases\u{0}",
    "/cases\u{7f}",
    "/\u{2028}/evil.example",
    "/caf\u{e9}",
    "",
];

/// What a page answers to a return address: never a 500, never another host.
fn stays_home(page: &Page, what: &str) {
    assert_ne!(
        page.status, 500,
        "{what:?}: {} {}",
        page.content_type, page.body
    );
    if what.contains('\0') && page.status == 422 {
        // Every form refuses a NUL in any field before the page reads it.
        assert!(page.content_type.starts_with("text/html"), "{what:?}");
        return;
    }
    assert_eq!(page.status, 303, "{what:?}: {}", page.body);
    assert_eq!(page.location, "/", "{what:?} is ignored");
}

async fn a_return_address_is_a_path_on_this_server_or_nothing(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let org = app.seed_org("Refuge Exemple").await;
    app.seed_user("cw@example.org", "caseworker", Some(&org))
        .await;
    let mut visitor = Visitor::new(&app);
    for away in AWAY {
        let page = visitor
            .get(&format!("/signin?next={}", urlencode(away)))
            .await;
        assert_eq!(page.status, 200, "{away:?}: {}", page.body);
        assert_eq!(page.hidden("next").as_deref(), Some("/"), "{away:?}");
    }
    // Signing in with each (a forged form) goes home.
    for away in AWAY {
        let mut v = Visitor::new(&app);
        v.get("/signin").await;
        let page = v
            .post(
                "/signin",
                &[
                    ("email", "cw@example.org"),
                    ("password", PASSWORD),
                    ("next", away),
                ],
            )
            .await;
        stays_home(&page, away);
    }
    // Signed in, the sign-in page and the language switch send home too.
    for away in AWAY {
        let page = visitor.get("/signin").await;
        if page.status == 200 {
            let page = visitor
                .post(
                    "/signin",
                    &[
                        ("email", "cw@example.org"),
                        ("password", PASSWORD),
                        ("next", "/cases"),
                    ],
                )
                .await;
            assert_eq!(page.location, "/cases");
        }
        let page = visitor
            .get(&format!("/signin?next={}", urlencode(away)))
            .await;
        stays_home(&page, away);
        let page = visitor.get("/cases").await;
        assert_eq!(page.status, 200);
        let page = visitor
            .post("/language", &[("lang", "fr"), ("back", away)])
            .await;
        stays_home(&page, away);
    }
    // A path here, with its query, still comes back whole.
    let page = visitor
        .get(&format!("/signin?next={}", urlencode("/cases?after=x")))
        .await;
    assert_eq!(page.location, "/cases?after=x");
    let page = visitor
        .post("/language", &[("lang", "en"), ("back", "/cases")])
        .await;
    assert_eq!(page.location, "/cases");
    app.stop().await;
}

/// A coalition of two organisations sharing a case, a treasurer and a fund.
struct Coalition {
    app: TestApp,
    treasurer: String,
    /// A caseworker of the organisation that opens the case, and its org id.
    owner: String,
    owner_org: String,
    /// A caseworker of the organisation the case is shared with, and its org id.
    guest: String,
    guest_org: String,
    third_org: String,
}

impl Coalition {
    async fn new(t: TestDb) -> Coalition {
        let app = TestApp::spawn(t).await;
        let owner_org = app.seed_org("Refuge Exemple").await;
        let guest_org = app.seed_org("Centre Exemple").await;
        let third_org = app.seed_org("Clinique Exemple").await;
        let treasurer = app.seed_user("tr@example.org", "treasurer", None).await;
        let owner = app
            .seed_user("owner@example.org", "caseworker", Some(&owner_org))
            .await;
        let guest = app
            .seed_user("guest@example.org", "caseworker", Some(&guest_org))
            .await;
        let c = Coalition {
            treasurer: app.token_for(&treasurer).await,
            owner: app.token_for(&owner).await,
            guest: app.token_for(&guest).await,
            owner_org,
            guest_org,
            third_org,
            app,
        };
        let (s, donor) = c
            .post(
                "/api/v1/donors",
                &c.treasurer,
                json!({"name": "Fondation Exemple", "email": "dons@example.org"}),
            )
            .await;
        assert_eq!(s, 201, "{donor}");
        let (s, gift) = c
            .post(
                "/api/v1/donations",
                &c.treasurer,
                json!({"donor_id": donor["id"], "amount": "20000.00", "received_on": "2026-11-29"}),
            )
            .await;
        assert_eq!(s, 201, "{gift}");
        c
    }

    async fn send(&self, r: reqwest::RequestBuilder) -> (u16, Value) {
        let res = r.send().await.expect("the app answers");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.send(
            self.app
                .post(path, Some(token))
                .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
                .json(&body),
        )
        .await
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.send(self.app.get(path, Some(token))).await
    }

    async fn case(&self, token: &str) -> String {
        let (s, b) = self
            .post("/api/v1/cases", token, json!({"province": "QC"}))
            .await;
        assert_eq!(s, 201, "{b}");
        b["code"].as_str().unwrap().to_string()
    }

    async fn ask(&self, token: &str, body: Value) -> (u16, Value) {
        self.post("/api/v1/requests", token, body).await
    }
}

fn refused(status: u16, body: &Value, field: &str, what: &str) {
    assert_eq!(status, 422, "{what}: {body}");
    assert_eq!(body["error"]["code"], "invalid_field", "{what}: {body}");
    assert_eq!(body["error"]["field"], field, "{what}: {body}");
}

/// Shapes of a number that are not an amount as Passage writes one.
const NOT_AMOUNTS: &[&str] = &[
    "1.000", "1_000", "+5", "5.", ".5", " 5", "5 ", "1e2", "0x10", "5.0.0", "1,000", "１",
    "\u{661}", "5\n", "-0", "1000000", "0012.5.",
];

async fn amounts_have_one_shape_everywhere(t: TestDb) {
    let c = Coalition::new(t).await;
    let code = c.case(&c.owner).await;
    let (s, donor) = c
        .post(
            "/api/v1/donors",
            &c.treasurer,
            json!({"name": "Fondation Deux", "email": "deux@example.org"}),
        )
        .await;
    assert_eq!(s, 201, "{donor}");
    for amount in NOT_AMOUNTS {
        let (s, b) = c
            .ask(
                &c.owner,
                json!({"case_code": code, "category": "food", "amount": amount,
                    "needed_by": "2026-11-30"}),
            )
            .await;
        refused(s, &b, "amount", amount);
        let (s, b) = c
            .ask(
                &c.owner,
                json!({"case_code": code, "category": "hotel", "nights": 1,
                    "nightly_rate": amount, "party_size": 1, "needed_by": "2026-11-30"}),
            )
            .await;
        refused(s, &b, "nightly_rate", amount);
        let (s, b) = c
            .post(
                "/api/v1/donations",
                &c.treasurer,
                json!({"donor_id": donor["id"], "amount": amount, "received_on": "2026-11-29"}),
            )
            .await;
        refused(s, &b, "amount", amount);
    }
    // A receipt's amount, and a foreign fare's, the same.
    let (s, food) = c
        .ask(
            &c.owner,
            json!({"case_code": code, "category": "food", "amount": "40.00",
                "needed_by": "2026-11-30"}),
        )
        .await;
    assert_eq!(s, 201, "{food}");
    assert_eq!(food["status"], "approved", "{food}");
    let receipt = format!("/api/v1/requests/{}/receipt", food["id"].as_str().unwrap());
    for amount in NOT_AMOUNTS {
        let (s, b) = c
            .post(
                &receipt,
                &c.owner,
                json!({"amount": amount, "reference": "R-1"}),
            )
            .await;
        refused(s, &b, "amount", amount);
    }
    for amount in ["1_000", "+5", "5.", ".5", " 5", "1e2", "1.0000"] {
        let (s, b) = c
            .post(
                &receipt,
                &c.owner,
                json!({"amount": "40.00", "reference": "R-1",
                    "original_currency": "USD", "original_amount": amount}),
            )
            .await;
        refused(s, &b, "original_amount", amount);
    }
    // The policy's amounts and its reserve floor, which alone may be zero.
    let (s, policy) = c.get("/api/v1/policy", &c.treasurer).await;
    assert_eq!(s, 200, "{policy}");
    let document = policy.clone();
    for (path, amount) in [
        ("reserve_floor", "+0"),
        ("reserve_floor", "0.000"),
        ("reserve_floor", "0_0"),
        ("reserve_floor", ".0"),
        ("dual_approval_above", "1.000"),
    ] {
        let mut doc = document.clone();
        doc[path] = json!(amount);
        let res = c
            .app
            .http
            .put(c.app.url("/api/v1/policy"))
            .bearer_auth(&c.treasurer)
            .json(&doc)
            .send()
            .await
            .unwrap();
        let (s, b) = (res.status().as_u16(), res.json::<Value>().await.unwrap());
        assert_eq!(s, 422, "{path} {amount:?}: {b}");
    }
    // What is written as Passage writes it still goes through.
    for (amount, spent) in [("12", "12.00"), ("7.5", "7.50"), ("0.25", "0.25")] {
        let (s, b) = c
            .ask(
                &c.owner,
                json!({"case_code": code, "category": "food", "amount": amount,
                    "needed_by": "2026-11-30"}),
            )
            .await;
        assert_eq!(s, 201, "{amount}: {b}");
        assert_eq!(b["amount"], spent);
    }
    c.app.stop().await;
}

fn refused_with_range(status: u16, body: &Value, field: &str, from: &str, to: &str, what: &str) {
    refused(status, body, field, what);
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(from) && message.contains(to),
        "{what}: the message says the allowed range: {message}"
    );
}

async fn dates_are_within_reason(t: TestDb) {
    let c = Coalition::new(t).await;
    let code = c.case(&c.owner).await;
    // The clock says 2026-11-29: one year either side.
    let far = [
        "0001-01-01",
        "10000-01-01",
        "+10000-01-01",
        "9999-12-31",
        "2025-11-28",
        "2027-11-30",
    ];
    for date in far {
        let (s, b) = c
            .ask(
                &c.owner,
                json!({"case_code": code, "category": "food", "amount": "10.00",
                    "needed_by": date}),
            )
            .await;
        assert_eq!(s, 422, "needed_by {date}: {b}");
        assert_eq!(b["error"]["field"], "needed_by", "{b}");
        let (s, b) = c
            .ask(
                &c.owner,
                json!({"case_code": code, "category": "bus", "amount": "10.00",
                    "needed_by": "2026-11-30", "travel_date": date, "reason": "safety",
                    "origin": {"city": "Montréal", "province": "QC"},
                    "destination": {"city": "Ottawa", "province": "ON"}}),
            )
            .await;
        assert_eq!(s, 422, "travel_date {date}: {b}");
        assert_eq!(b["error"]["field"], "travel_date", "{b}");
    }
    for time in ["0001-01-01T00:00:00Z", "2028-01-01T08:00:00-05:00"] {
        let (s, b) = c
            .ask(
                &c.owner,
                json!({"case_code": code, "category": "food", "amount": "10.00",
                    "needed_by": time}),
            )
            .await;
        refused_with_range(s, &b, "needed_by", "2025-11-29", "2027-11-29", time);
    }
    let (s, b) = c
        .ask(
            &c.owner,
            json!({"case_code": code, "category": "food", "amount": "10.00",
                "needed_by": "2025-11-28"}),
        )
        .await;
    refused_with_range(s, &b, "needed_by", "2025-11-29", "2027-11-29", "needed_by");
    for (needed_by, travel_date) in [("2025-11-29", "2027-11-29"), ("2027-11-29", "2025-11-29")] {
        let (s, b) = c
            .ask(
                &c.owner,
                json!({"case_code": code, "category": "bus", "amount": "10.00",
                    "needed_by": needed_by, "travel_date": travel_date, "reason": "court",
                    "origin": {"city": "Montréal", "province": "QC"},
                    "destination": {"city": "Ottawa", "province": "ON"}}),
            )
            .await;
        assert_eq!(s, 201, "the year's edges are within reason: {b}");
    }

    // A receipt is paid on a day between the request and today.
    let (s, food) = c
        .ask(
            &c.owner,
            json!({"case_code": code, "category": "food", "amount": "40.00",
                "needed_by": "2026-11-30"}),
        )
        .await;
    assert_eq!(s, 201, "{food}");
    let receipt = format!("/api/v1/requests/{}/receipt", food["id"].as_str().unwrap());
    for paid_on in ["10000-01-01", "+10000-01-01"] {
        let (s, b) = c
            .post(
                &receipt,
                &c.owner,
                json!({"amount": "40.00", "reference": "R-1", "paid_on": paid_on}),
            )
            .await;
        refused(s, &b, "paid_on", paid_on);
    }
    for paid_on in ["2026-11-30", "2026-11-28", "0001-01-01"] {
        let (s, b) = c
            .post(
                &receipt,
                &c.owner,
                json!({"amount": "40.00", "reference": "R-1", "paid_on": paid_on}),
            )
            .await;
        refused_with_range(s, &b, "paid_on", "2026-11-29", "2026-11-29", paid_on);
    }
    let (s, b) = c
        .post(
            &receipt,
            &c.owner,
            json!({"amount": "40.00", "reference": "R-1", "paid_on": "2026-11-29"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");

    // A donation is received on a day that has come.
    let (s, donor) = c
        .post(
            "/api/v1/donors",
            &c.treasurer,
            json!({"name": "Fondation Deux", "email": "deux@example.org"}),
        )
        .await;
    assert_eq!(s, 201, "{donor}");
    for received_on in ["2026-11-30", "10000-01-01", "+10000-01-01"] {
        let (s, b) = c
            .post(
                "/api/v1/donations",
                &c.treasurer,
                json!({"donor_id": donor["id"], "amount": "10.00", "received_on": received_on}),
            )
            .await;
        assert_eq!(s, 422, "{received_on}: {b}");
        assert_eq!(b["error"]["field"], "received_on", "{b}");
    }
    let (s, b) = c
        .post(
            "/api/v1/donations",
            &c.treasurer,
            json!({"donor_id": donor["id"], "amount": "10.00", "received_on": "2026-11-30"}),
        )
        .await;
    assert!(
        b["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("2026-11-29")),
        "{s}: the message says the latest day allowed: {b}"
    );
    let (s, b) = c
        .post(
            "/api/v1/donations",
            &c.treasurer,
            json!({"donor_id": donor["id"], "amount": "10.00", "received_on": "2026-11-29"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    c.app.stop().await;
}

async fn only_the_owning_organisation_shares_closes_and_reopens_a_case(t: TestDb) {
    let c = Coalition::new(t).await;
    let code = c.case(&c.owner).await;
    let (s, b) = c
        .ask(
            &c.owner,
            json!({"case_code": code, "category": "food", "amount": "40.00",
                "needed_by": "2026-11-30", "note": "needs halal food"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let owners_request = b["id"].as_str().unwrap().to_string();
    let share = format!("/api/v1/cases/{code}/share");
    let unshare = format!("/api/v1/cases/{code}/unshare");
    let (s, b) = c
        .post(&share, &c.owner, json!({"org_id": c.guest_org}))
        .await;
    assert_eq!(s, 200, "{b}");

    // The guest works on the case: asks for it, reads it.
    let (s, b) = c
        .ask(
            &c.guest,
            json!({"case_code": code, "category": "food", "amount": "30.00",
                "needed_by": "2026-11-30", "note": "2 children, stroller"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let guests_request = b["id"].as_str().unwrap().to_string();

    // ...but does not act as the owner.
    for (path, body) in [
        (&share, json!({"org_id": c.third_org})),
        (&unshare, json!({"org_id": c.guest_org})),
        (&format!("/api/v1/cases/{code}/close"), json!({})),
    ] {
        let (s, b) = c.post(path, &c.guest, body).await;
        assert_eq!(s, 403, "{path}: {b}");
        let message = b["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("organisation that opened"),
            "{path}: the refusal says who may: {message}"
        );
    }
    // Nor settles, cancels or answers for the owner's request: only its organisation (or a
    // treasurer).
    for (action, body) in [
        (
            "receipt",
            json!({"amount": "40.00", "vendor": "grocery", "reference": "GR-AB"}),
        ),
        ("cancel", json!({})),
        ("answer", json!({"answer": "tonight only"})),
    ] {
        let path = format!("/api/v1/requests/{owners_request}/{action}");
        let (s, b) = c.post(&path, &c.guest, body).await;
        assert_eq!(s, 403, "{path}: {b}");
        let message = b["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("organisation that asked"),
            "{path}: {message}"
        );
    }
    let (s, b) = c.get(&format!("/api/v1/cases/{code}"), &c.guest).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "open", "the guest closed nothing: {b}");
    assert!(
        (b["requests"].as_array().unwrap().iter())
            .all(|r| r["id"] != owners_request.as_str() || r["status"] == "approved"),
        "the owner's request is untouched: {b}"
    );

    // The guest sees the owner's request, not its note; its own request whole.
    let requests = b["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 2, "{b}");
    for r in requests {
        if r["id"] == owners_request.as_str() {
            assert_eq!(r["amount"], "40.00");
            assert!(r["note"].is_null(), "another organisation's note: {r}");
        } else {
            assert_eq!(r["note"], "2 children, stroller", "{r}");
        }
    }
    let (s, b) = c
        .get(&format!("/api/v1/requests/{owners_request}"), &c.guest)
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(b["note"].is_null(), "{b}");
    let (s, b) = c.get("/api/v1/requests", &c.guest).await;
    assert_eq!(s, 200, "{b}");
    // A plain array today; `{items, next}` once the list is paged.
    let listed = b.get("items").unwrap_or(&b).as_array().unwrap();
    assert_eq!(listed.len(), 2, "{b}");
    assert!(
        listed
            .iter()
            .all(|r| r["id"] != owners_request.as_str() || r["note"].is_null()),
        "{b}"
    );
    // The owner reads its own note, and not the guest's.
    let (s, b) = c.get(&format!("/api/v1/cases/{code}"), &c.owner).await;
    assert_eq!(s, 200, "{b}");
    for r in b["requests"].as_array().unwrap() {
        if r["id"] == guests_request.as_str() {
            assert!(r["note"].is_null(), "{r}");
        } else {
            assert_eq!(r["note"], "needs halal food", "{r}");
        }
    }
    // A treasurer reads every note.
    let (s, b) = c.get(&format!("/api/v1/cases/{code}"), &c.treasurer).await;
    assert_eq!(s, 200, "{b}");
    assert!(
        b["requests"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["note"].is_string()),
        "{b}"
    );

    // The owner and a treasurer do all four.
    let (s, b) = c
        .post(&share, &c.treasurer, json!({"org_id": c.third_org}))
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = c
        .post(&unshare, &c.treasurer, json!({"org_id": c.third_org}))
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = c
        .post(&format!("/api/v1/cases/{code}/close"), &c.owner, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = c
        .post(&format!("/api/v1/cases/{code}/reopen"), &c.guest, json!({}))
        .await;
    assert_eq!(s, 403, "the guest does not reopen either: {b}");
    let (s, b) = c
        .post(
            &format!("/api/v1/cases/{code}/reopen"),
            &c.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "open");
    let (s, b) = c
        .post(&unshare, &c.owner, json!({"org_id": c.guest_org}))
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = c.get(&format!("/api/v1/cases/{code}"), &c.guest).await;
    assert_eq!(s, 403, "no longer shared: {b}");
    let (s, b) = c
        .post(&unshare, &c.owner, json!({"org_id": "no-such-org"}))
        .await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["error"]["field"], "org_id", "{b}");
    let _ = &c.owner_org;
    c.app.stop().await;
}

/// The case page of an organisation the case is shared with shows the other
/// organisation's requests, without their notes.
async fn the_case_page_of_a_guest_shows_no_other_organisations_note(t: TestDb) {
    let c = Coalition::new(t).await;
    let code = c.case(&c.owner).await;
    let (s, b) = c
        .ask(
            &c.owner,
            json!({"case_code": code, "category": "food", "amount": "40.00",
                "needed_by": "2026-11-30", "note": "needs halal food"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let id = b["id"].as_str().unwrap().to_string();
    let (s, b) = c
        .post(
            &format!("/api/v1/cases/{code}/share"),
            &c.owner,
            json!({"org_id": c.guest_org}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let mut v = Visitor::new(&c.app);
    v.get("/signin").await;
    let page = v
        .post(
            "/signin",
            &[
                ("email", "guest@example.org"),
                ("password", PASSWORD),
                ("next", "/"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let page = v.get(&format!("/cases/{code}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&id), "the request is listed");
    assert!(!page.body.contains("halal"), "{}", page.body);
    let page = v.get(&format!("/requests/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("halal"), "{}", page.body);
    c.app.stop().await;
}

on_both_engines!(
    a_return_address_is_a_path_on_this_server_or_nothing,
    amounts_have_one_shape_everywhere,
    dates_are_within_reason,
    only_the_owning_organisation_shares_closes_and_reopens_a_case,
    the_case_page_of_a_guest_shows_no_other_organisations_note,
);
