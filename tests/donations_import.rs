//! Donations from a file over real HTTP, on both engines: a preview names each problem by
//! line and field in the reader's language and records nothing; a commit records every
//! gift (donors found or added by email), audited as gifts typed one by one, or nothing;
//! the same file, or a line whose reference was imported before, adds nothing again, even
//! when two treasurers commit the same file at once. Treasurers only.

mod common;

use common::{TestApp, TestDb};
use serde_json::{Value, json};

const HEADER: &str = "donor_email,donor_name,amount,received_on,restricted_to,in_kind,reference\n";

struct Fund {
    app: TestApp,
    token: String,
}

impl Fund {
    async fn new(t: TestDb) -> Fund {
        let app = TestApp::spawn(t).await;
        let treasurer = app.seed_user("tr@example.org", "treasurer", None).await;
        let token = app.token_for(&treasurer).await;
        Fund { app, token }
    }

    /// Sends a file; `commit` records it. Returns the status and the answer.
    async fn import(&self, file: &str, commit: bool, language: &str) -> (u16, Value) {
        let path = if commit {
            "/api/v1/donations/import?commit=true"
        } else {
            "/api/v1/donations/import"
        };
        let r = self
            .app
            .post(path, Some(&self.token))
            .header("content-type", "text/csv")
            .header("accept-language", language)
            .body(file.to_string())
            .send()
            .await
            .expect("the app answers");
        let status = r.status().as_u16();
        (status, r.json().await.expect("a JSON answer"))
    }

    async fn fund(&self) -> Value {
        self.app
            .get("/api/v1/fund", Some(&self.token))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn count(&self, sql: &str) -> i64 {
        passage::on_db!(&self.app.db.db, p => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await)
            .unwrap()
    }

    async fn audited(&self, action: &str) -> i64 {
        passage::on_db!(&self.app.db.db, p => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM audit_events WHERE action = $1")
            .bind(action).fetch_one(p).await)
        .unwrap()
    }
}

fn errors(answer: &Value) -> Vec<(i64, String, String)> {
    answer["errors"]
        .as_array()
        .expect("a list of errors")
        .iter()
        .map(|e| {
            (
                e["line"].as_i64().unwrap(),
                e["field"].as_str().unwrap().to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn message<'a>(answer: &'a Value, line: i64, field: &str) -> &'a str {
    answer["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["line"] == line && e["field"] == field)
        .and_then(|e| e["message"].as_str())
        .unwrap_or_else(|| panic!("no error at line {line}, {field}: {answer}"))
}

async fn a_preview_names_each_problem_by_line_in_the_readers_language(t: TestDb) {
    let fund = Fund::new(t).await;
    let file = format!(
        "{HEADER}dons@example.org,Fondation Exemple,\"1,500.00\",2026-11-01,,false,DON-1\n\
         ,Paroisse Exemple,25.00,31/10/2026,taxi,false,DON-2\n\
         seats@example.org,Air Exemple,412.50,2026-11-02,hotel,maybe,DON-3\n\
         dons@example.org,,10.00,2026-12-25,,,DON-1\n\
         new@example.org,,10.00,2026-11-20,,,DON-5\n"
    );
    let before = fund.fund().await;
    let (status, answer) = fund.import(&file, false, "fr-CA,fr;q=0.9").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["committed"], false);
    assert_eq!(
        errors(&answer),
        vec![
            (2, "amount".into(), "amount_format".into()),
            (3, "donor_email".into(), "required".into()),
            (3, "received_on".into(), "date_format".into()),
            (3, "restricted_to".into(), "category".into()),
            (4, "in_kind".into(), "in_kind_value".into()),
            (5, "received_on".into(), "date_future".into()),
            (5, "reference".into(), "reference_repeated".into()),
            (6, "donor_name".into(), "name_needed".into()),
        ],
        "{answer}"
    );
    // In French, saying what to do.
    assert!(
        message(&answer, 2, "amount").contains("1,500.00")
            && message(&answer, 2, "amount").contains("1500.00"),
        "{answer}"
    );
    assert!(
        message(&answer, 3, "received_on").contains("année-mois-jour"),
        "{answer}"
    );
    assert!(
        message(&answer, 5, "reference").contains("ligne 2"),
        "{answer}"
    );
    // The same file in English, for a reader who asks for it.
    let (_, english) = fund.import(&file, false, "en").await;
    assert!(
        message(&english, 3, "received_on").contains("year-month-day"),
        "{english}"
    );

    // Committing it records nothing at all: not even its good line.
    let (status, refused) = fund.import(&file, true, "en").await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "invalid_field");
    assert_eq!(
        refused["error"]["errors"].as_array().map(Vec::len),
        Some(8),
        "{refused}"
    );
    assert_eq!(fund.fund().await, before);
    assert_eq!(fund.count("SELECT COUNT(*) FROM donors").await, 0);
    assert_eq!(fund.count("SELECT COUNT(*) FROM donation_imports").await, 0);
    fund.app.stop().await;
}

async fn a_file_that_is_no_donations_file_is_refused_with_what_to_do(t: TestDb) {
    let fund = Fund::new(t).await;
    for (file, says) in [
        ("", "empty"),
        (
            "email,amount,date\nx@example.org,1.00,2026-11-01\n",
            "donor_email",
        ),
        ("donor_email,amount,received_on,reference,phone\n", "phone"),
        (HEADER, "no gift"),
    ] {
        for commit in [false, true] {
            let (status, answer) = fund.import(file, commit, "en").await;
            assert_eq!(status, 422, "{file:?}: {answer}");
            assert_eq!(answer["error"]["field"], "body", "{answer}");
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(message.contains(says), "{file:?}: {message}");
        }
    }
    // Binary, not UTF-8 (a spreadsheet's own format, or Latin-1).
    let r = fund
        .app
        .post("/api/v1/donations/import", Some(&fund.token))
        .header("accept-language", "fr")
        .body(vec![
            0xD0_u8, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0xff,
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let answer: Value = r.json().await.unwrap();
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CSV UTF-8"),
        "{answer}"
    );
    fund.app.stop().await;
}

async fn a_file_records_all_its_gifts_once_and_again_nothing(t: TestDb) {
    let fund = Fund::new(t).await;
    // A donor already known by email: the file's gifts go to them, not to a new donor.
    let known: Value = fund
        .app
        .post("/api/v1/donors", Some(&fund.token))
        .json(&json!({"name": "Fondation Exemple", "email": "dons@example.org", "language": "fr"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let file = format!(
        "{HEADER}DONS@example.org,Fondation Exemple,1500.00,2026-11-01,hotel bus,false,DON-1\n\
         paroisse@example.org,\"Paroisse Exemple, Montréal\",250.5,2026-11-02,,,DON-2\n\
         seats@example.org,Air Exemple,412.50,2026-11-03,,true,DON-3\n\
         paroisse@example.org,,49.50,2026-11-04,,false,DON-4\n"
    );
    let before = fund.fund().await;
    let (status, preview) = fund.import(&file, false, "en").await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["errors"], json!([]));
    assert_eq!(preview["recorded"], 4);
    assert_eq!(preview["cash"], "1800.00");
    assert_eq!(preview["in_kind"], "412.50");
    let lines = preview["lines"].as_array().unwrap();
    assert_eq!(lines[0]["donor"], "found");
    assert_eq!(lines[0]["donor_id"], known["id"]);
    assert_eq!(lines[0]["restricted_to"], json!(["bus", "hotel"]));
    assert_eq!(lines[1]["donor"], "new");
    assert_eq!(lines[1]["donor_name"], "Paroisse Exemple, Montréal");
    assert_eq!(lines[1]["amount"], "250.50");
    assert_eq!(lines[3]["donor_name"], "Paroisse Exemple, Montréal");
    assert!(lines.iter().all(|l| l["action"] == "record"));
    assert_eq!(fund.fund().await, before, "a preview records nothing");

    let (status, done) = fund.import(&file, true, "en").await;
    assert_eq!(status, 201, "{done}");
    assert_eq!(done["committed"], true);
    assert_eq!(done["recorded"], 4);
    assert!(done["id"].is_string());
    assert!(
        done["lines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["donation_id"].is_string())
    );
    let after = fund.fund().await;
    assert_eq!(after["donated"], "1800.00", "{after}");
    assert_eq!(after["available"], "1800.00");
    assert_eq!(after["restricted"], "1500.00");
    assert_eq!(after["in_kind"], "412.50");
    // Two donors added (the parish once), each gift audited as one typed by hand.
    assert_eq!(fund.count("SELECT COUNT(*) FROM donors").await, 3);
    assert_eq!(fund.audited("donor.add").await, 3);
    assert_eq!(fund.audited("donation.record").await, 4);
    assert_eq!(fund.audited("donation.import").await, 1);
    let languages = fund
        .count("SELECT COUNT(*) FROM donors WHERE language = 'en'")
        .await;
    assert_eq!(languages, 2, "new donors read English unless the file says");

    // The same file again: nothing, and the answer says so.
    for commit in [false, true] {
        let (status, again) = fund.import(&file, commit, "en").await;
        assert_eq!(status, if commit { 201 } else { 200 }, "{again}");
        assert_eq!(again["seen_before"]["id"], done["id"], "{again}");
        assert_eq!(again["recorded"], 0);
        assert_eq!(again["skipped"].as_array().map(Vec::len), Some(4));
    }
    // The same file saved with Windows line endings and a byte-order mark is the same file.
    let windows = format!("\u{feff}{}", file.replace('\n', "\r\n"));
    let (_, again) = fund.import(&windows, true, "en").await;
    assert_eq!(again["seen_before"]["id"], done["id"], "{again}");

    // Another file with a line imported before: that line is skipped and listed.
    let next = format!(
        "{HEADER}paroisse@example.org,,49.50,2026-11-04,,false,DON-4\n\
         paroisse@example.org,,75.00,2026-11-20,,false,DON-5\n"
    );
    let (status, partly) = fund.import(&next, true, "en").await;
    assert_eq!(status, 201, "{partly}");
    assert_eq!(partly["recorded"], 1);
    assert_eq!(
        partly["skipped"],
        json!([{"line": 2, "reference": "DON-4"}])
    );
    assert_eq!(fund.fund().await["donated"], "1875.00");
    assert_eq!(fund.audited("donation.record").await, 5);
    let verify: Value = fund
        .app
        .get("/api/v1/audit/verify", Some(&fund.token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verify["ok"], true, "{verify}");
    fund.app.stop().await;
}

async fn two_treasurers_committing_the_same_file_at_once_record_it_once(t: TestDb) {
    let fund = Fund::new(t).await;
    let mut file = HEADER.to_string();
    for n in 1..=40 {
        file.push_str(&format!(
            "donor{}@example.org,Donateur {n},{n}.00,2026-11-01,,,DON-{n}\n",
            n % 7
        ));
    }
    let (a, b) = tokio::join!(
        fund.import(&file, true, "en"),
        fund.import(&file, true, "en")
    );
    assert_eq!((a.0, b.0), (201, 201), "{} {}", a.1, b.1);
    let recorded = [
        a.1["recorded"].as_i64().unwrap(),
        b.1["recorded"].as_i64().unwrap(),
    ];
    assert!(
        recorded.contains(&40) && recorded.contains(&0),
        "{recorded:?}"
    );
    assert_eq!(fund.fund().await["donated"], "820.00");
    assert_eq!(fund.count("SELECT COUNT(*) FROM donors").await, 7);
    assert_eq!(fund.count("SELECT COUNT(*) FROM donations").await, 40);
    fund.app.stop().await;
}

async fn a_file_over_the_body_limit_is_refused_in_the_api_format(t: TestDb) {
    let fund = Fund::new(t).await;
    let mut file = HEADER.to_string();
    let mut n = 0;
    while file.len() <= fund.app.config.body_limit_bytes {
        n += 1;
        file.push_str(&format!(
            "donor{n}@example.org,Donateur {n},10.00,2026-11-01,,,DON-{n}\n"
        ));
    }
    let announced = fund
        .app
        .post("/api/v1/donations/import?commit=true", Some(&fund.token))
        .body(file.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(announced.status(), 413);
    let answer: Value = announced.json().await.expect("a JSON refusal");
    assert_eq!(answer["error"]["code"], "payload_too_large", "{answer}");
    assert_eq!(fund.count("SELECT COUNT(*) FROM donations").await, 0);
    fund.app.stop().await;
}

async fn only_treasurers_import(t: TestDb) {
    let fund = Fund::new(t).await;
    let org = fund.app.seed_org("Refuge Exemple").await;
    let cw = fund
        .app
        .seed_user("cw@example.org", "caseworker", Some(&org))
        .await;
    let cw = fund.app.token_for(&cw).await;
    let file = format!("{HEADER}dons@example.org,Fondation Exemple,10.00,2026-11-01,,,DON-1\n");
    let r = fund
        .app
        .post("/api/v1/donations/import?commit=true", Some(&cw))
        .body(file)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(fund.count("SELECT COUNT(*) FROM donations").await, 0);
    fund.app.stop().await;
}

on_both_engines!(
    a_preview_names_each_problem_by_line_in_the_readers_language,
    a_file_that_is_no_donations_file_is_refused_with_what_to_do,
    a_file_records_all_its_gifts_once_and_again_nothing,
    two_treasurers_committing_the_same_file_at_once_record_it_once,
    a_file_over_the_body_limit_is_refused_in_the_api_format,
    only_treasurers_import,
);
