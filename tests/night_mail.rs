//! A whole night through the server, read from what a real SMTP server received (issue 17,
//! "Words"): every user and donor reads one language; the night has automatic approvals,
//! an urgent request told to the treasurer on call and escalated to every treasurer when
//! nobody finishes deciding, a question and its answer, a decline with a typed reason, a
//! two-treasurer approval, receipts, holds reminded 12 hours before they expire, a late
//! receipt approved and one declined, the low-balance alert, the reminder of a report to
//! seal and a donor's report. Every message, subject, text and HTML part, must read in the
//! reader's language: no word only the other catalogue holds, every amount as the
//! language writes it (`1 450,00 $`, `$1,450.00`), and links to pages, never to `/api/`.
//! On both engines, on the ManualClock from a fixed night.

mod common;

use std::time::Duration as StdDuration;

use chrono::Duration;
use common::smtp::{SmtpSink, free_port, parse};
use common::words::{Reader, readable};
use common::{PASSWORD, TestApp, TestDb};
use passage::audit::Actor;
use passage::clock::Clock;
use passage::domain::{Email, Language, Password, Roles};
use passage::i18n;
use passage::identity::users;
use serde_json::{Value, json};

const BASE: &str = "https://passage.example.org";
/// The note of the flight and the cities of its trip: never in an email.
const NOTE: &str = "rendez-vous au comptoir 4";
const CITIES: [&str; 4] = ["Montréal", "Port-au-Prince", "Ottawa", "Québec"];
const ORG: &str = "Refuge Exemple";
const DONOR: &str = "Fondation Exemple";

/// The people of the night, in one language, and their tokens.
struct Night {
    app: TestApp,
    sink: SmtpSink,
    language: Language,
    /// The caseworker, then three treasurers (the first on call).
    ids: [String; 4],
    tokens: [String; 4],
}

const CW: usize = 0;
const T1: usize = 1;
const T2: usize = 2;
const T3: usize = 3;

async fn person(
    app: &TestApp,
    email: &str,
    roles: &str,
    org: Option<&str>,
    language: Language,
) -> String {
    let new = users::NewUser {
        email: Email::parse(email).unwrap(),
        password: Password::parse(PASSWORD.into()).unwrap(),
        roles: Roles::parse_list(roles).unwrap(),
        org_id: org.map(Into::into),
        language,
        display_name: None,
    };
    users::create(&app.db.db, app.clock.now(), &Actor::cli(), new)
        .await
        .expect("the user is stored")
}

impl Night {
    async fn start(t: TestDb, language: Language) -> Night {
        let sink = SmtpSink::start(free_port()).await;
        let url = sink.url();
        let app = TestApp::spawn_with(
            t,
            &[
                ("PASSAGE_SMTP_URL", url.as_str()),
                ("PASSAGE_MAIL_INTERVAL_SECS", "1"),
                ("PASSAGE_MAIL_FROM", "passage@example.org"),
                ("PASSAGE_BASE_URL", BASE),
                // Four cases helped in November: enough to seal its report at three.
                ("PASSAGE_REPORT_MIN_CELL", "3"),
            ],
        )
        .await;
        let org = app.seed_org(ORG).await;
        let ids = [
            person(&app, "cw@example.org", "caseworker", Some(&org), language).await,
            person(&app, "t1@example.org", "treasurer", None, language).await,
            person(&app, "t2@example.org", "treasurer", None, language).await,
            person(&app, "t3@example.org", "treasurer", None, language).await,
        ];
        let mut night = Night {
            app,
            sink,
            language,
            ids,
            tokens: Default::default(),
        };
        night.sign_in().await;
        night
    }

    /// Everyone signs in again (after the clock moved past their tokens).
    async fn sign_in(&mut self) {
        for (i, id) in self.ids.iter().enumerate() {
            self.tokens[i] = self.app.token_for(id).await;
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        who: usize,
        body: Value,
    ) -> (u16, Value) {
        let r = self
            .app
            .http
            .request(method, self.app.url(path))
            .bearer_auth(&self.tokens[who])
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .json(&body)
            .send()
            .await
            .expect("the app answers");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, who: usize, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, who, body).await
    }

    /// A request's step that must succeed, leaving it in `status`.
    async fn step(&self, id: &str, step: &str, who: usize, body: Value, status: &str) {
        let (s, v) = self
            .post(&format!("/api/v1/requests/{id}/{step}"), who, body)
            .await;
        assert_eq!(
            (s, v["status"].as_str()),
            (200, Some(status)),
            "{step}: {v}"
        );
    }

    async fn case(&self) -> String {
        let (s, b) = self
            .post("/api/v1/cases", CW, json!({"province": "QC"}))
            .await;
        assert_eq!(s, 201, "{b}");
        b["code"].as_str().unwrap().to_string()
    }

    /// Asks for money; returns the request's id once it has the status expected.
    async fn ask(&self, body: Value, status: &str) -> String {
        let (s, r) = self.post("/api/v1/requests", CW, body).await;
        assert_eq!((s, r["status"].as_str()), (201, Some(status)), "{r}");
        r["id"].as_str().unwrap().to_string()
    }

    fn later(&self, minutes: i64) {
        self.app.clock.advance(Duration::minutes(minutes));
    }

    async fn sweep(&self) {
        passage::app::sweep_once(&self.app.state())
            .await
            .expect("the sweeper runs");
    }

    /// The typed words of the night, in its language (a treasurer's words are theirs).
    fn typed(&self, fr: &'static str, en: &'static str) -> &'static str {
        match self.language {
            Language::Fr => fr,
            Language::En => en,
        }
    }

    fn t(&self, key: &str) -> String {
        i18n::text(self.language, key)
    }

    /// The first word of a subject (`Urgent`, `[Relance]`).
    fn first_word(&self, key: &str) -> String {
        let args = ["category", "amount", "case"].map(|k| (k, "x".to_string()));
        let subject = i18n::text_with(self.language, key, &args);
        subject.split(' ').next().unwrap().to_string()
    }

    fn money(&self, cents: i64) -> String {
        i18n::money(self.language, cents)
    }
}

/// A received message, decoded: whom to, subject, text and HTML parts.
struct Received {
    to: String,
    subject: String,
    text: String,
    html: String,
}

impl Received {
    fn all(&self) -> String {
        format!("{}\n{}\n{}", self.subject, self.text, self.html)
    }
}

/// Waits (real time: the app's worker runs every second) until the outbox is empty and
/// the server holds as many messages as the outbox sent, up to 30 s.
async fn delivered(n: &Night) -> Vec<Received> {
    let db = n.app.db.db.clone();
    let mut count = 0;
    for _ in 0..300 {
        let pending = passage::mail::pending_count(&db).await.unwrap();
        count = passage::mail::entries(&db).await.unwrap().len();
        if pending == 0 && n.sink.received().len() >= count {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    let raw = n.sink.received();
    assert_eq!(
        raw.len(),
        count,
        "every message of the outbox arrived, once"
    );
    raw.iter()
        .map(|m| {
            let p = parse(m);
            let part = |k: &str| p[k].as_str().unwrap_or_default().to_string();
            Received {
                to: p["headers"]["To"].as_str().unwrap_or_default().to_string(),
                subject: p["headers"]["Subject"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                text: part("text"),
                html: part("html"),
            }
        })
        .collect()
}

/// The dedupe keys of the outbox, by what comes before their first colon.
async fn families(n: &Night) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for e in passage::mail::entries(&n.app.db.db).await.unwrap() {
        let mut family = e.dedupe_key.split(':').next().unwrap().to_string();
        if family == "report" {
            family = if e.dedupe_key.contains(":remind:") {
                "report-remind".into()
            } else {
                "report-donor".into()
            };
        }
        *out.entry(family).or_insert(0) += 1;
    }
    out
}

fn travel(
    code: &str,
    category: &str,
    amount: &str,
    from: Value,
    to: Value,
    reason: &str,
    urgent: bool,
) -> Value {
    json!({"case_code": code, "category": category, "amount": amount,
           "needed_by": "2026-11-30", "urgent": urgent, "reason": reason,
           "travel_date": "2026-11-30", "origin": from, "destination": to})
}

fn place(city: &str, province: &str) -> Value {
    json!({"city": city, "province": province})
}

/// The night; returns every message received and the ids the checks look for.
async fn the_night(n: &mut Night) -> (Vec<Received>, [String; 4]) {
    let (s, v) = n
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/users/{}/on-call", n.ids[T1]),
            T1,
            json!({"on_call": true}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, donor) = n
        .post(
            "/api/v1/donors",
            T1,
            json!({"name": DONOR, "email": "dons@example.org", "language": n.language.as_str()}),
        )
        .await;
    assert_eq!(s, 201, "{donor}");
    let (s, v) = n
        .post(
            "/api/v1/donations",
            T1,
            json!({"donor_id": donor["id"], "amount": "4000.00", "received_on": "2026-11-29"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (a, b, c, d) = (
        n.case().await,
        n.case().await,
        n.case().await,
        n.case().await,
    );

    // Automatic approvals: a bus between provinces, two hotel stays. 4000.00 → 3515.50.
    let bus = n
        .ask(
            travel(
                &a,
                "bus",
                "64.50",
                place("Montréal", "QC"),
                place("Ottawa", "ON"),
                "safety",
                true,
            ),
            "approved",
        )
        .await;
    n.later(1);
    let hotel = n
        .ask(
            json!({"case_code": a, "category": "hotel", "nights": 2, "nightly_rate": "150.00",
                   "party_size": 2, "needed_by": "2026-11-30", "urgent": true}),
            "approved",
        )
        .await;
    n.later(1);
    let small_hotel = n
        .ask(
            json!({"case_code": c, "category": "hotel", "nights": 1, "nightly_rate": "120.00",
                   "party_size": 1, "needed_by": "2026-11-30"}),
            "approved",
        )
        .await;

    // An urgent train past its rule (the treasurer on call is told), a question, its
    // answer, an approval. 3515.50 → 3095.50.
    n.later(1);
    let train = n
        .ask(
            travel(
                &b,
                "train",
                "420.00",
                place("Montréal", "QC"),
                place("Québec", "QC"),
                "court",
                true,
            ),
            "pending",
        )
        .await;
    n.later(1);
    n.step(&train, "ask", T1, json!({"question": n.typed("Le billet est-il remboursable ?", "Is the ticket refundable?")}), "info_requested").await;
    n.later(1);
    n.step(
        &train,
        "answer",
        CW,
        json!({"answer": n.typed("Oui, jusqu'au départ.", "Yes, until it leaves.")}),
        "pending",
    )
    .await;
    n.later(1);
    n.step(&train, "approve", T1, json!({}), "approved").await;

    // An urgent flight abroad, above the two-treasurer threshold: the one on call approves
    // first, nobody else for 20 minutes, so every treasurer is told; a second approves.
    // 3095.50 → 1645.50.
    n.later(1);
    let mut body = travel(
        &b,
        "flight",
        "1450.00",
        place("Montréal", "QC"),
        json!({"city": "Port-au-Prince", "country": "HT"}),
        "family",
        true,
    );
    body["note"] = json!(NOTE);
    let flight = n.ask(body, "pending").await;
    n.later(2);
    n.step(&flight, "approve", T1, json!({}), "pending").await;
    n.later(20);
    n.sweep().await;
    n.later(1);
    n.step(&flight, "approve", T2, json!({}), "approved").await;

    // A decline with its reason typed and its code.
    n.later(1);
    let other = n
        .ask(
            json!({"case_code": c, "category": "other", "amount": "120.00", "needed_by": "2026-11-30"}),
            "pending",
        )
        .await;
    n.later(1);
    n.step(
        &other,
        "decline",
        T2,
        json!({"reason_code": "cheaper_option",
               "reason": n.typed("Le comptoir communautaire en a gratuitement.", "The community counter has them for free.")}),
        "declined",
    )
    .await;

    // Food and a phone card, approved at once. 1645.50 → 1580.50.
    let food = n
        .ask(
            json!({"case_code": c, "category": "food", "amount": "40.00", "needed_by": "2026-11-30"}),
            "approved",
        )
        .await;
    let phone = n
        .ask(
            json!({"case_code": d, "category": "phone_card", "amount": "25.00", "needed_by": "2026-11-30"}),
            "approved",
        )
        .await;

    // Receipts for the bus, the train, the flight, the food and the phone card.
    for (id, amount) in [
        (&bus, "64.50"),
        (&train, "420.00"),
        (&flight, "1450.00"),
        (&food, "40.00"),
        (&phone, "25.00"),
    ] {
        n.step(
            id,
            "receipt",
            CW,
            json!({"amount": amount, "reference": "RF-NUIT-1"}),
            "settled",
        )
        .await;
    }

    // Sixty-one hours later the two hotel holds expire within 12 hours: the organisation is
    // reminded; November has ended, so its report is drafted and the treasurers reminded.
    n.later(61 * 60);
    n.sign_in().await;
    n.sweep().await;
    // Past the holds: they expire (1580.50 → 2000.50); their receipts come late.
    n.later(12 * 60);
    n.sweep().await;
    n.sign_in().await;
    n.step(
        &hotel,
        "receipt",
        CW,
        json!({"amount": "300.00", "reference": "RF-NUIT-2"}),
        "receipt_pending",
    )
    .await;
    n.later(1);
    n.step(&hotel, "approve", T1, json!({}), "settled").await;
    n.later(1);
    n.step(
        &small_hotel,
        "receipt",
        CW,
        json!({"amount": "120.00", "reference": "RF-NUIT-3"}),
        "receipt_pending",
    )
    .await;
    n.later(1);
    n.step(
        &small_hotel,
        "decline",
        T1,
        json!({"reason": n.typed("Réservé sans appeler la trésorerie.", "Booked without calling a treasurer.")}),
        "expired",
    )
    .await;

    // A flight two treasurers approve takes what automatic decisions can use under the
    // floor: 1700.50 → 500.50, every treasurer is told.
    n.later(1);
    let last = n
        .ask(
            travel(
                &d,
                "flight",
                "1200.00",
                place("Ottawa", "ON"),
                place("Vancouver", "BC"),
                "shelter",
                false,
            ),
            "pending",
        )
        .await;
    n.step(&last, "approve", T1, json!({}), "pending").await;
    n.step(&last, "approve", T3, json!({}), "approved").await;

    // November's report: sealed, co-signed and sent to the donor.
    let (s, list) = n
        .call(reqwest::Method::GET, "/api/v1/reports", T1, Value::Null)
        .await;
    assert_eq!(s, 200, "{list}");
    let report = list["items"]
        .as_array()
        .and_then(|l| l.iter().find(|r| r["period_start"] == "2026-11-01"))
        .unwrap_or_else(|| panic!("November is drafted: {list}"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let seal = format!("/api/v1/reports/{report}/seal");
    let (s, v) = n.post(&seal, T1, json!({})).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = n.post(&seal, T2, json!({})).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("sealed")), "{v}");
    let (s, v) = n
        .post(&format!("/api/v1/reports/{report}/send"), T1, json!({}))
        .await;
    assert_eq!(s, 202, "{v}");

    let received = delivered(n).await;
    let expected: std::collections::BTreeMap<String, usize> = [
        ("urgent", 2),
        ("escalate", 3),
        ("asked", 1),
        ("answered", 1),
        ("decision", 4),
        ("hold-reminder", 2),
        ("late", 2),
        ("late-decision", 2),
        ("low-balance", 3),
        ("report-remind", 3),
        ("report-donor", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(families(n).await, expected, "the night's mail");
    (received, [train, flight, other, last])
}

/// Every message reads in `n.language`; links go to pages of the service.
fn read_in_its_language(n: &Night, received: &[Received]) {
    let reader = Reader::new(n.language);
    let code = regex::Regex::new(r"\b[A-Z]{2}-[0-9A-Z]{4}-[0-9A-Z]{4}\b").unwrap();
    let hash = regex::Regex::new(r"\b[0-9a-f]{64}\b").unwrap();
    let href = regex::Regex::new(r#"href="([^"]*)""#).unwrap();
    let mut wrong = Vec::new();
    for m in received {
        let what = format!("{} ({})", m.subject, m.to);
        let seen = readable(&m.subject, &m.text, &m.html)
            .replace(ORG, " ")
            .replace(DONOR, " ")
            .replace("Passage", " ");
        let seen = hash
            .replace_all(&code.replace_all(&seen, " "), " ")
            .into_owned();
        wrong.extend(reader.wrong(&what, &seen));
        if seen.contains('$') && !reader.has_own_amount(&seen) {
            wrong.push(format!("{what}: no amount as the language writes it"));
        }
        for (part, body) in [("text", &m.text), ("html", &m.html)] {
            if body.contains("/api/") {
                wrong.push(format!("{what}: a link to the API in its {part} part"));
            }
        }
        for link in href.captures_iter(&m.html) {
            if !link[1].starts_with(&format!("{BASE}/")) {
                wrong.push(format!("{what}: a link elsewhere: {}", &link[1]));
            }
        }
        if m.html.is_empty() || m.text.is_empty() {
            wrong.push(format!("{what}: a part is missing"));
        }
        if !m
            .html
            .contains(&format!("lang=\"{}\"", n.language.as_str()))
        {
            wrong.push(format!(
                "{what}: the HTML part is not marked in its language"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// What a treasurer's emails tell of a waiting request (issue 17, "What a treasurer
/// sees"): everything but the note and the cities, and a link to its page.
fn the_treasurers_emails_tell_the_request_whole(
    n: &Night,
    received: &[Received],
    ids: &[String; 4],
) {
    let [train, flight, other, _] = ids;
    let find = |to: &str, link: &str, prefix: &str| -> &Received {
        received
            .iter()
            .find(|m| {
                m.to.contains(to)
                    && m.text.contains(&format!("{BASE}/requests/{link}\n"))
                    && m.subject.starts_with(prefix)
            })
            .unwrap_or_else(|| panic!("no {prefix:?} mail to {to} about {link}"))
    };
    let urgent = n.first_word("email-urgent-subject");
    let urgent = urgent.as_str();
    let escalated = n.first_word("email-escalated-subject");
    let escalated = escalated.as_str();
    let on_call = find("t1@", flight, urgent);
    let everyone = find("t3@", flight, escalated);
    for m in [on_call, everyone] {
        let all = m.all();
        for shown in [
            "QC → HT".to_string(),
            n.t("scope-international"),
            n.t("reason-family"),
            n.money(145_000),
            // The case's 90 days: the train before it.
            n.money(42_000),
            // Available before and after.
            n.money(164_550 + 145_000),
            n.money(164_550),
            "cw@example.org".into(),
            ORG.into(),
            i18n::date(
                n.language,
                chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            ),
        ] {
            assert!(all.contains(&shown), "{shown:?} not in\n{}", m.text);
        }
        for secret in CITIES.iter().chain([&NOTE]) {
            assert!(!all.contains(secret), "{secret:?} in\n{}", m.text);
        }
    }
    // The escalation says who approved already, and that one approval more is needed.
    assert!(
        everyone.text.contains("t1@example.org"),
        "{}",
        everyone.text
    );
    // A rule with a figure says by how much the request goes past it.
    let train_mail = find("t1@", train, urgent);
    assert!(
        train_mail.text.contains(&n.money(35_000)) && train_mail.text.contains(&n.money(42_000)),
        "{}",
        train_mail.text
    );
    // The caseworker reads who declined, how to call them back, and why.
    let declined = n.first_word("email-declined-subject");
    let declined = declined.as_str();
    let decline = find("cw@", other, declined);
    for shown in [
        "t2@example.org".to_string(),
        n.t("decline-code-cheaper_option"),
        n.typed(
            "Le comptoir communautaire en a gratuitement.",
            "The community counter has them for free.",
        )
        .to_string(),
    ] {
        assert!(
            decline.all().contains(&shown),
            "{shown:?} not in\n{}",
            decline.text
        );
    }
    // So does the decline of a late receipt: the organisation already paid.
    let late = n.typed(
        "Réservé sans appeler la trésorerie.",
        "Booked without calling a treasurer.",
    );
    let late = received
        .iter()
        .find(|m| m.to.contains("cw@") && m.text.contains(late))
        .expect("the late receipt's decline");
    assert!(late.text.contains("(t1@example.org)"), "{}", late.text);
    assert!(late.html.contains("(t1@example.org)"), "{}", late.html);
}

async fn a_night_in(t: TestDb, language: Language) {
    let mut n = Night::start(t, language).await;
    let (received, ids) = the_night(&mut n).await;
    the_treasurers_emails_tell_the_request_whole(&n, &received, &ids);
    read_in_its_language(&n, &received);
    let Night { app, sink, .. } = n;
    app.stop().await;
    sink.stop().await;
}

async fn a_french_night_mails_only_french(t: TestDb) {
    a_night_in(t, Language::Fr).await;
}

async fn an_english_night_mails_only_english(t: TestDb) {
    a_night_in(t, Language::En).await;
}

on_both_engines!(
    a_french_night_mails_only_french,
    an_english_night_mails_only_english
);
