//! What a treasurer decides with, and how (issue 17), through the API on both engines: the
//! request whole for a treasurer (and no note, city or question for an organisation that
//! did not ask), a decline with its code and a scanned reason, a question and its answer
//! that put the request back in its first place, a second approval by the same treasurer
//! refused, and an urgent email that tells the trip's provinces, the reason, who asked and
//! the rule's excess, but no note and no city.

mod common;

use chrono::Duration;
use common::{PASSWORD, TestApp, TestDb};
use passage::audit::Actor;
use passage::clock::Clock;
use passage::domain::{Email, Language, Password, Roles};
use passage::identity::users;
use serde_json::{Value, json};

const NOTE: &str = "stroller and car seat for the flight";

/// Two organisations (the second shares the first's case), two treasurers, money.
struct Night {
    app: TestApp,
    worker: String,
    guest: String,
    t1: String,
    t2: String,
    t1_id: String,
    code: String,
}

async fn send(r: reqwest::RequestBuilder) -> (u16, Value) {
    let res = r.send().await.expect("the app answers");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

impl Night {
    async fn new(t: TestDb) -> Night {
        let app = TestApp::spawn(t).await;
        let owner = app.seed_org("Refuge Exemple").await;
        let guest_org = app.seed_org("Centre Exemple").await;
        let cw = app
            .seed_user("cw@example.org", "caseworker", Some(&owner))
            .await;
        let guest = app
            .seed_user("guest@example.org", "caseworker", Some(&guest_org))
            .await;
        let t1_id = app.seed_user("t1@example.org", "treasurer", None).await;
        let t2 = app.seed_user("t2@example.org", "treasurer", None).await;
        let mut night = Night {
            worker: app.token_for(&cw).await,
            guest: app.token_for(&guest).await,
            t1: app.token_for(&t1_id).await,
            t2: app.token_for(&t2).await,
            t1_id,
            code: String::new(),
            app,
        };
        let (s, donor) = night
            .post(
                "/api/v1/donors",
                &night.t1.clone(),
                json!({"name": "Fondation Exemple", "email": "don@example.org", "language": "fr"}),
            )
            .await;
        assert_eq!(s, 201, "{donor}");
        let today = night.today();
        let (s, b) = night
            .post(
                "/api/v1/donations",
                &night.t1.clone(),
                json!({"donor_id": donor["id"], "amount": "20000.00", "received_on": today}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        let (s, case) = night
            .post(
                "/api/v1/cases",
                &night.worker.clone(),
                json!({"province": "QC"}),
            )
            .await;
        assert_eq!(s, 201, "{case}");
        night.code = case["code"].as_str().unwrap().to_string();
        let (s, b) = night
            .post(
                &format!("/api/v1/cases/{}/share", night.code),
                &night.worker.clone(),
                json!({"org_id": guest_org}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        night
    }

    fn today(&self) -> String {
        self.app.clock.now().date_naive().to_string()
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        send(
            self.app
                .post(path, Some(token))
                .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
                .json(&body),
        )
        .await
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        send(self.app.get(path, Some(token))).await
    }

    /// Asks for `body` (the case filled in) and returns the answer.
    async fn ask_for(&self, mut body: Value) -> Value {
        body["case_code"] = json!(self.code);
        body["needed_by"] = json!(self.today());
        let (s, r) = self.post("/api/v1/requests", &self.worker, body).await;
        assert_eq!(s, 201, "{r}");
        r
    }

    async fn flight(&self, amount: &str, urgent: bool) -> String {
        let today = self.today();
        let r = self
            .ask_for(
                json!({"category": "flight", "amount": amount, "urgent": urgent,
                "origin": {"city": "Montréal", "province": "QC"},
                "destination": {"city": "Port-au-Prince", "country": "HT"},
                "travel_date": today, "reason": "family", "note": NOTE}),
            )
            .await;
        assert_eq!(r["status"], "pending", "{r}");
        r["id"].as_str().unwrap().to_string()
    }

    /// Small automatic approvals that leave the case 970.00 into its 7-day cap.
    async fn fill_the_window(&self) {
        for (category, amount) in [
            ("bus", "240.00"),
            ("train", "340.00"),
            ("bus", "240.00"),
            ("food", "150.00"),
        ] {
            let today = self.today();
            let body = if category == "food" {
                json!({"category": category, "amount": amount})
            } else {
                json!({"category": category, "amount": amount, "travel_date": today,
                    "reason": "safety", "origin": {"city": "Montréal", "province": "QC"},
                    "destination": {"city": "Québec", "province": "QC"}})
            };
            let r = self.ask_for(body).await;
            assert_eq!(r["status"], "approved", "{r}");
        }
    }
}

async fn a_treasurer_reads_the_request_whole_and_another_organisation_does_not(t: TestDb) {
    let n = Night::new(t).await;
    n.fill_the_window().await;
    let id = n.flight("1450.00", true).await;

    let (s, r) = n.get(&format!("/api/v1/requests/{id}"), &n.t1).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["trip"]["origin"]["city"], "Montréal", "{r}");
    assert_eq!(r["trip"]["origin"]["province"], "QC", "{r}");
    assert_eq!(r["trip"]["destination"]["city"], "Port-au-Prince", "{r}");
    assert_eq!(r["trip"]["destination"]["country"], "HT", "{r}");
    assert_eq!(r["trip"]["scope"], "international", "{r}");
    assert_eq!(r["trip"]["reason"], "family", "{r}");
    assert_eq!(r["trip"]["travel_date"], json!(n.today()), "{r}");
    assert_eq!(r["note"], NOTE, "{r}");
    assert_eq!(r["urgent"], true, "{r}");
    assert_eq!(r["org"]["name"], "Refuge Exemple", "{r}");
    assert_eq!(r["requested_by"]["name"], "cw@example.org", "{r}");
    assert_eq!(r["rule"], "category_not_auto_approved", "{r}");
    assert_eq!(r["approvals_needed"], 2, "{r}");
    let history = r["history"].as_array().expect("the case's history");
    assert_eq!(history.len(), 4, "the four earlier requests: {r}");
    assert!(
        history
            .iter()
            .all(|h| h["status"] == "approved" && h["category"].is_string()),
        "{r}"
    );
    // Each with its category, amount, status and date (what the queue's card shows).
    assert!(
        history
            .iter()
            .all(|h| h["amount"].is_string() && h["created_at"].is_string() && h["id"].is_string()),
        "{r}"
    );
    // The OpenAPI document describes the same fields, by the same names.
    let doc: Value = n
        .app
        .get("/api/v1/openapi.json", None)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemas = &doc["components"]["schemas"];
    for field in [
        "trip",
        "stay",
        "note",
        "org",
        "requested_by",
        "history",
        "fund",
        "approved_by",
        "excess",
        "receipt",
    ] {
        assert!(
            schemas["RequestView"]["properties"][field].is_object(),
            "RequestView.{field} is documented"
        );
    }
    for field in ["category", "amount", "status", "created_at"] {
        assert!(
            schemas["HistoryItem"]["properties"][field].is_object(),
            "HistoryItem.{field} is documented"
        );
    }
    for field in ["available", "after"] {
        assert!(
            schemas["FundNow"]["properties"][field].is_object(),
            "FundNow.{field} is documented"
        );
    }
    let (s, fund) = n.get("/api/v1/fund", &n.t1).await;
    assert_eq!(s, 200, "{fund}");
    assert_eq!(r["fund"]["available"], fund["available"], "{r}");
    let available: rust_decimal::Decimal = fund["available"].as_str().unwrap().parse().unwrap();
    let after: rust_decimal::Decimal = r["fund"]["after"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        available - after,
        "1450.00".parse::<rust_decimal::Decimal>().unwrap(),
        "{r}"
    );

    // The organisation the case is shared with sees the trip's provinces and countries,
    // not the cities, the note, the case's history or the fund.
    let (s, g) = n.get(&format!("/api/v1/requests/{id}"), &n.guest).await;
    assert_eq!(s, 200, "{g}");
    assert!(g["note"].is_null(), "{g}");
    assert!(g["trip"]["origin"]["city"].is_null(), "{g}");
    assert!(g["trip"]["destination"]["city"].is_null(), "{g}");
    assert_eq!(g["trip"]["origin"]["province"], "QC", "{g}");
    assert_eq!(g["trip"]["destination"]["country"], "HT", "{g}");
    assert!(g.get("history").is_none() && g.get("fund").is_none(), "{g}");
    // Nor in the case's list.
    let (s, case) = n.get(&format!("/api/v1/cases/{}", n.code), &n.guest).await;
    assert_eq!(s, 200, "{case}");
    for r in case["requests"].as_array().unwrap() {
        assert!(r["note"].is_null(), "{r}");
        if let Some(trip) = r.get("trip") {
            assert!(trip["origin"]["city"].is_null(), "{r}");
        }
    }

    // Past the case cap: by how much, from the policy and the figures the rule read.
    let today = n.today();
    let bus = n
        .ask_for(
            json!({"category": "bus", "amount": "150.00", "travel_date": today,
            "reason": "safety", "origin": {"city": "Montréal", "province": "QC"},
            "destination": {"city": "Ottawa", "province": "ON"}}),
        )
        .await;
    assert_eq!(bus["rule"], "case_auto_cap", "{bus}");
    let (s, b) = n
        .get(
            &format!("/api/v1/requests/{}", bus["id"].as_str().unwrap()),
            &n.t2,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["excess"],
        json!({"rule": "case_auto_cap", "unit": "money", "value": "1120.00",
            "limit": "1000.00", "days": 7}),
        "{b}"
    );
    // Above a category's limit.
    let train = n
        .ask_for(
            json!({"category": "train", "amount": "420.00", "travel_date": today,
            "reason": "court", "origin": {"city": "Montréal", "province": "QC"},
            "destination": {"city": "Toronto", "province": "ON"}}),
        )
        .await;
    let (_, b) = n
        .get(
            &format!("/api/v1/requests/{}", train["id"].as_str().unwrap()),
            &n.t2,
        )
        .await;
    assert_eq!(b["excess"]["value"], "420.00", "{b}");
    assert_eq!(b["excess"]["limit"], "350.00", "{b}");
    n.app.stop().await;
}

async fn a_decline_takes_a_code_and_a_scanned_reason(t: TestDb) {
    let n = Night::new(t).await;
    let id = n.flight("612.40", false).await;
    let path = format!("/api/v1/requests/{id}/decline");
    for (body, field) in [
        (
            json!({"reason": "call her at 514-555-0100", "reason_code": "other"}),
            "reason",
        ),
        (
            json!({"reason": "a bus is cheaper", "reason_code": "cheaper"}),
            "reason_code",
        ),
        (json!({"reason_code": "duplicate"}), "reason"),
    ] {
        let (s, b) = n.post(&path, &n.t1, body.clone()).await;
        assert_eq!(
            (s, b["error"]["field"].as_str()),
            (422, Some(field)),
            "{body}: {b}"
        );
    }
    let (s, r) = n.get(&format!("/api/v1/requests/{id}"), &n.worker).await;
    assert_eq!(
        r["status"], "pending",
        "a refused decline changed nothing: {s} {r}"
    );

    let body = json!({"reason": "The 7:05 bus costs 89.00: ask for it instead",
        "reason_code": "cheaper_option"});
    let key = "decline-1";
    let first = send(
        n.app
            .post(&path, Some(&n.t1))
            .header("Idempotency-Key", key)
            .json(&body),
    )
    .await;
    assert_eq!(first.0, 200, "{}", first.1);
    assert_eq!(first.1["status"], "declined");
    assert_eq!(first.1["reason_code"], "cheaper_option");
    let again = send(
        n.app
            .post(&path, Some(&n.t1))
            .header("Idempotency-Key", key)
            .json(&body),
    )
    .await;
    assert_eq!(again, first, "the same key gets the first answer");

    // The caseworker reads the treasurer's words and who to call back.
    let (s, r) = n.get(&format!("/api/v1/requests/{id}"), &n.worker).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["reason"], "The 7:05 bus costs 89.00: ask for it instead");
    assert_eq!(r["reason_code"], "cheaper_option");
    assert_eq!(r["decided_by"]["email"], "t1@example.org", "{r}");
    assert_eq!(r["decided_by"]["id"], n.t1_id.as_str(), "{r}");
    n.app.stop().await;
}

async fn a_question_and_its_answer_put_the_request_back_in_its_first_place(t: TestDb) {
    let n = Night::new(t).await;
    let first = n.flight("600.00", false).await;
    n.app.clock.advance(Duration::minutes(5));
    let second = n.flight("700.00", false).await;
    let queue = |list: &Value| -> Vec<String> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, before) = n.get("/api/v1/requests?status=pending", &n.t1).await;
    let before = queue(&before);
    assert_eq!(before.len(), 2);

    // Asking: refused without words or with personal data; then the request waits for
    // its caseworker and leaves the queue.
    let ask = format!("/api/v1/requests/{first}/ask");
    let (s, b) = n
        .post(
            &ask,
            &n.t1,
            json!({"question": "her phone is 514-555-0100?"}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (422, Some("question")),
        "{b}"
    );
    let (s, b) = n.post(&ask, &n.worker, json!({"question": "why?"})).await;
    assert_eq!(s, 403, "a caseworker does not ask: {b}");
    let (s, b) = n
        .post(
            &ask,
            &n.t1,
            json!({"question": "Is there a cheaper date in the same week?"}),
        )
        .await;
    assert_eq!(
        (s, b["status"].as_str()),
        (200, Some("info_requested")),
        "{b}"
    );
    let (_, waiting) = n.get("/api/v1/requests?status=pending", &n.t1).await;
    assert_eq!(queue(&waiting), vec![second.clone()]);
    let (s, b) = n.post(&ask, &n.t2, json!({"question": "again?"})).await;
    assert_eq!(s, 409, "asked already: {b}");
    let (s, b) = n
        .post(
            &format!("/api/v1/requests/{first}/approve"),
            &n.t2,
            json!({}),
        )
        .await;
    assert_eq!(s, 409, "not approved while it waits for an answer: {b}");

    // The caseworker is told, and reads the question.
    let told: i64 = passage::on_db!(&n.app.db.db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE dedupe_key LIKE 'asked:' || $1 || ':%' AND to_addr = 'cw@example.org'"
    )
    .bind(&first)
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(told, 1);
    let (_, r) = n.get(&format!("/api/v1/requests/{first}"), &n.worker).await;
    assert_eq!(
        r["question"]["question"], "Is there a cheaper date in the same week?",
        "{r}"
    );
    assert_eq!(r["question"]["asked_by"]["name"], "t1@example.org", "{r}");
    let (_, g) = n.get(&format!("/api/v1/requests/{first}"), &n.guest).await;
    assert!(
        g.get("question").is_none(),
        "not for another organisation: {g}"
    );

    // The answer: scanned, from its organisation only, then back in the queue in the
    // place it had.
    n.app.clock.advance(Duration::minutes(30));
    let answer = format!("/api/v1/requests/{first}/answer");
    let (s, b) = n
        .post(
            &answer,
            &n.worker,
            json!({"answer": "call her at 514-555-0100 on Friday"}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (422, Some("answer")),
        "{b}"
    );
    let (s, _) = n.post(&answer, &n.t1, json!({"answer": "yes"})).await;
    assert_eq!(s, 403, "a treasurer does not answer for the caseworker");
    let (s, b) = n
        .post(
            &answer,
            &n.worker,
            json!({"answer": "Friday is 120.00 less; tonight is safer"}),
        )
        .await;
    assert_eq!((s, b["status"].as_str()), (200, Some("pending")), "{b}");
    let (s, b) = n.post(&answer, &n.worker, json!({"answer": "again"})).await;
    assert_eq!(s, 409, "no question waits: {b}");
    let (_, after) = n.get("/api/v1/requests?status=pending", &n.t1).await;
    assert_eq!(
        queue(&after),
        before,
        "the same order as before the question"
    );
    let (_, r) = n.get(&format!("/api/v1/requests/{first}"), &n.t1).await;
    assert_eq!(
        r["question"]["answer"], "Friday is 120.00 less; tonight is safer",
        "{r}"
    );
    let answered: i64 = passage::on_db!(&n.app.db.db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE dedupe_key LIKE 'answered:' || $1 || ':%' AND to_addr = 't1@example.org'"
    )
    .bind(&first)
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(answered, 1, "the treasurer who asked is told");
    n.app.stop().await;
}

async fn the_same_treasurer_cannot_give_the_second_approval(t: TestDb) {
    let n = Night::new(t).await;
    let id = n.flight("1450.00", false).await;
    let approve = format!("/api/v1/requests/{id}/approve");
    let (s, b) = n.post(&approve, &n.t1, json!({})).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("pending")), "{b}");
    assert_eq!(b["approvals"], 1);
    let (s, b) = n.post(&approve, &n.t1, json!({})).await;
    assert_eq!(s, 409, "{b}");
    let message = b["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("already approved") && message.contains("second, different treasurer"),
        "{message}"
    );
    let (_, r) = n.get(&format!("/api/v1/requests/{id}"), &n.t1).await;
    let by: Vec<&str> = r["approved_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(by, vec!["t1@example.org"], "{r}");
    let (s, b) = n.post(&approve, &n.t2, json!({})).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("approved")), "{b}");
    assert_eq!(b["decided_by"]["email"], "t2@example.org", "{b}");
    n.app.stop().await;
}

async fn the_urgent_email_tells_the_trip_but_no_note_and_no_city(t: TestDb) {
    let n = Night::new(t).await;
    let fr = users::create(
        &n.app.db.db,
        n.app.clock.now(),
        &Actor::cli(),
        users::NewUser {
            email: Email::parse("tresoriere@example.org").unwrap(),
            password: Password::parse(PASSWORD.into()).unwrap(),
            roles: Roles::parse_list("treasurer").unwrap(),
            org_id: None,
            language: Language::Fr,
            display_name: None,
        },
    )
    .await
    .unwrap();
    users::set_on_call(&n.app.db.db, n.app.clock.now(), &Actor::cli(), &fr, true)
        .await
        .unwrap();
    users::set_on_call(
        &n.app.db.db,
        n.app.clock.now(),
        &Actor::cli(),
        &n.t1_id,
        true,
    )
    .await
    .unwrap();
    n.fill_the_window().await;
    let today = n.today();
    let bus = n
        .ask_for(
            json!({"category": "bus", "amount": "150.00", "travel_date": today,
            "urgent": true, "reason": "safety", "note": NOTE,
            "origin": {"city": "Montréal", "province": "QC"},
            "destination": {"city": "Ottawa", "province": "ON"}}),
        )
        .await;
    assert_eq!(bus["status"], "pending", "{bus}");
    let id = bus["id"].as_str().unwrap();
    let mails: Vec<(String, String, String)> = passage::on_db!(&n.app.db.db, p => sqlx::query_as(
        "SELECT to_addr, body_text, COALESCE(body_html, '') FROM outbox WHERE dedupe_key LIKE 'urgent:' || $1 || ':%' ORDER BY to_addr"
    )
    .bind(id)
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(mails.len(), 2, "both on-call treasurers: {mails:?}");
    for (to, text, html) in &mails {
        let (language, cap, reason, org_label) = if to == "tresoriere@example.org" {
            (
                Language::Fr,
                "Plafond du dossier : 1\u{a0}120,00\u{a0}$ sur 1\u{a0}000,00\u{a0}$ en 7 jours",
                "Sécurité",
                "Organisme :",
            )
        } else {
            (
                Language::En,
                "Case cap: $1,120.00 of $1,000.00 in 7 days",
                "Safety",
                "Organisation:",
            )
        };
        for part in [text, html] {
            for expected in [
                "QC → ON",
                cap,
                reason,
                "Refuge Exemple",
                "cw@example.org",
                org_label,
            ] {
                assert!(
                    part.contains(expected),
                    "{language:?}: {expected:?} in {part}"
                );
            }
            for secret in [NOTE, "Montréal", "Ottawa", "Montr&#233;al"] {
                assert!(!part.contains(secret), "{language:?}: {secret:?} in {part}");
            }
            assert!(
                part.contains(&format!("/requests/{id}")) && !part.contains("/api/"),
                "a link to the page: {part}"
            );
        }
    }
    n.app.stop().await;
}

on_both_engines!(
    a_treasurer_reads_the_request_whole_and_another_organisation_does_not,
    a_decline_takes_a_code_and_a_scanned_reason,
    a_question_and_its_answer_put_the_request_back_in_its_first_place,
    the_same_treasurer_cannot_give_the_second_approval,
    the_urgent_email_tells_the_trip_but_no_note_and_no_city,
);
