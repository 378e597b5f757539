//! Separation of duties, on both engines: nobody moves money for a request they made, by
//! any route. The person tried here holds the treasurer and caseworker roles at once, as
//! the lead of a small member organisation often does.

mod common;

use chrono::Duration;
use common::server::{passage, run};
use common::{TestApp, TestDb};
use passage::clock::Clock;
use serde_json::{Value, json};

struct Fund {
    app: TestApp,
    /// Treasurer and caseworker of Harbour Shelter.
    lead: String,
    treasurer: String,
    second_treasurer: String,
    org: String,
}

async fn fund(t: TestDb) -> Fund {
    let app = TestApp::spawn(t).await;
    let org = app.seed_org("Harbour Shelter").await;
    let lead = app
        .seed_user("lead@example.org", "caseworker,treasurer", Some(&org))
        .await;
    let t1 = app.seed_user("t1@example.org", "treasurer", None).await;
    let t2 = app.seed_user("t2@example.org", "treasurer", None).await;
    let f = Fund {
        lead: app.token_for(&lead).await,
        treasurer: app.token_for(&t1).await,
        second_treasurer: app.token_for(&t2).await,
        org,
        app,
    };
    let (s, donor) = f
        .post(
            "/api/v1/donors",
            &f.treasurer,
            json!({"name": "Fondation Exemple", "email": "dons@example.org"}),
        )
        .await;
    assert_eq!(s, 201, "{donor}");
    let (s, gift) = f
        .post(
            "/api/v1/donations",
            &f.treasurer,
            json!({"donor_id": donor["id"], "amount": "20000.00", "received_on": "2026-11-29"}),
        )
        .await;
    assert_eq!(s, 201, "{gift}");
    f
}

impl Fund {
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

    async fn put_policy(&self, token: &str, body: Value) -> (u16, Value) {
        self.send(
            self.app
                .http
                .put(self.app.url("/api/v1/policy"))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.send(self.app.get(path, Some(token))).await
    }

    async fn open_case(&self) -> String {
        let (s, body) = self
            .post("/api/v1/cases", &self.lead, json!({"province": "NS"}))
            .await;
        assert_eq!(s, 201, "{body}");
        body["code"].as_str().unwrap().to_string()
    }

    async fn ask(&self, code: &str, category: &str, amount: &str) -> Value {
        let (s, r) = self
            .post(
                "/api/v1/requests",
                &self.lead,
                json!({"case_code": code, "category": category, "amount": amount,
                       "needed_by": "2026-11-30"}),
            )
            .await;
        assert_eq!(s, 201, "{r}");
        r
    }

    async fn receipt(&self, request: &Value, amount: &str) -> (u16, Value) {
        let id = request["id"].as_str().unwrap();
        self.post(
            &format!("/api/v1/requests/{id}/receipt"),
            &self.lead,
            json!({"amount": amount, "reference": "HS-2026-0007"}),
        )
        .await
    }
}

/// The rules a person would write to pay themselves: anything `other` up to 50,000.00
/// approved on the spot, no reserve kept, no cap per case.
fn open_door() -> Value {
    json!({
        "auto_approve": {"other": {"max_amount": "50000.00"}},
        "reserve_floor": "0",
        "case_auto_cap": {"amount": "50000.00", "days": 1},
    })
}

/// Finding 2 of issue 15: one person holding both roles changed the rules alone, then
/// asked 9,000.00 for their own case, had it approved automatically and settled it.
async fn one_person_cannot_rewrite_the_rules_and_pay_their_own_request(t: TestDb) {
    let f = fund(t).await;
    let (s, proposed) = f.put_policy(&f.lead, open_door()).await;
    assert_eq!(
        (s, proposed["status"].as_str(), proposed["version"].as_i64()),
        (202, Some("proposed"), Some(2)),
        "a policy change only proposes: {proposed}"
    );
    let (s, in_force) = f.get("/api/v1/policy", &f.lead).await;
    assert_eq!(
        (s, in_force["version"].as_i64()),
        (200, Some(1)),
        "{in_force}"
    );

    let code = f.open_case().await;
    let own = f.ask(&code, "other", "9000.00").await;
    assert_eq!(
        (own["status"].as_str(), own["automatic"].as_bool()),
        (Some("pending"), Some(false)),
        "{own}"
    );
    let (s, settled) = f.receipt(&own, "9000.00").await;
    assert_eq!(s, 409, "nothing approved, nothing to settle: {settled}");
    let money = f.get("/api/v1/fund", &f.treasurer).await.1;
    assert_eq!(
        (money["held"].as_str(), money["spent"].as_str()),
        (Some("0.00"), Some("0.00")),
        "{money}"
    );
    f.app.stop().await;
}

/// Every route by which a person who holds both roles could move money for a request
/// they made, tried in turn: each is refused or needs a second person.
async fn nobody_moves_money_for_their_own_request_by_any_route(t: TestDb) {
    let f = fund(t).await;
    let code = f.open_case().await;

    // 1. Approving it: refused, whatever the amount.
    let clothes = f.ask(&code, "clothing", "300.00").await;
    assert_eq!(clothes["status"], "pending", "{clothes}");
    let id = clothes["id"].as_str().unwrap();
    let (s, e) = f
        .post(
            &format!("/api/v1/requests/{id}/approve"),
            &f.lead,
            json!({}),
        )
        .await;
    assert_eq!(s, 403, "{e}");

    // 2. Changing the rules: a proposal, which its proposer cannot co-sign.
    let (s, proposed) = f.put_policy(&f.lead, open_door()).await;
    assert_eq!(
        (s, proposed["status"].as_str()),
        (202, Some("proposed")),
        "{proposed}"
    );
    let n = proposed["version"].as_i64().unwrap();
    let cosign = format!("/api/v1/policy/versions/{n}/cosign");
    let (s, e) = f.post(&cosign, &f.lead, json!({})).await;
    assert_eq!(s, 403, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("another treasurer"),
        "{e}"
    );
    let own = f.ask(&code, "other", "9000.00").await;
    assert_eq!(own["status"], "pending", "the rules did not change: {own}");

    // 3. An operation reserve set aside for their own organisation: it does not answer
    //    for their own requests.
    let expires = (f.app.clock.now() + Duration::hours(24)).to_rfc3339();
    let (s, reserve) = f
        .post(
            "/api/v1/reserves",
            &f.lead,
            json!({"org_id": f.org, "amount": "9000.00", "expires_at": expires}),
        )
        .await;
    assert_eq!(s, 201, "{reserve}");
    let via_reserve = f.ask(&code, "other", "9000.00").await;
    assert_eq!(
        (
            via_reserve["status"].as_str(),
            via_reserve["automatic"].as_bool()
        ),
        (Some("pending"), Some(false)),
        "{via_reserve}"
    );

    // 4. Settling beyond what was approved: a small automatic approval cannot become a
    //    large payment, and it goes on the review list marked as a treasurer's own.
    let food = f.ask(&code, "food", "100.00").await;
    assert_eq!(food["status"], "approved", "{food}");
    let (s, over) = f.receipt(&food, "9000.00").await;
    assert_eq!(
        (s, over["error"]["field"].as_str()),
        (422, Some("amount")),
        "{over}"
    );
    let (s, review) = f.get("/api/v1/review", &f.treasurer).await;
    assert_eq!(s, 200, "{review}");
    let listed: Vec<&Value> = review["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["id"] == food["id"])
        .collect();
    assert_eq!(listed.len(), 1, "{review}");
    assert_eq!(listed[0]["requested_by_treasurer"], true, "{review}");

    // Nothing moved but the 100.00 held for food.
    let money = f.get("/api/v1/fund", &f.treasurer).await.1;
    assert_eq!(
        (money["held"].as_str(), money["spent"].as_str()),
        (Some("100.00"), Some("0.00")),
        "{money}"
    );

    // With a second person each route opens as it should: another treasurer co-signs the
    // rules, and the next request of the lead is then decided by them.
    let (s, signed) = f.post(&cosign, &f.second_treasurer, json!({})).await;
    assert_eq!(
        (s, signed["status"].as_str(), signed["version"].as_i64()),
        (200, Some("in_force"), Some(n)),
        "{signed}"
    );
    let (_, in_force) = f.get("/api/v1/policy", &f.treasurer).await;
    assert_eq!(in_force["version"].as_i64(), Some(n), "{in_force}");

    // 5. A late receipt: the food's hold expires unused, the lead enters the receipt after
    //    all; they cannot pay it themselves, another treasurer can.
    f.app.clock.advance(Duration::hours(73));
    passage::app::sweep_once(&f.app.state())
        .await
        .expect("the sweeper runs");
    let lead_id: String = {
        let db = &f.app.db.db;
        passage::on_db!(db, p => sqlx::query_scalar("SELECT id FROM users WHERE email = 'lead@example.org'")
            .fetch_one(p)
            .await)
        .unwrap()
    };
    let lead = f.app.token_for(&lead_id).await;
    let food_id = food["id"].as_str().unwrap();
    let (s, late) = f
        .post(
            &format!("/api/v1/requests/{food_id}/receipt"),
            &lead,
            json!({"amount": "100.00", "reference": "HS-2026-0008"}),
        )
        .await;
    assert_eq!(
        (s, late["status"].as_str()),
        (200, Some("receipt_pending")),
        "{late}"
    );
    let (s, e) = f
        .post(
            &format!("/api/v1/requests/{food_id}/approve"),
            &lead,
            json!({}),
        )
        .await;
    assert_eq!(s, 403, "{e}");
    let money = f.get("/api/v1/fund", &lead).await.1;
    assert_eq!(money["spent"].as_str(), Some("0.00"), "{money}");
    f.app.stop().await;
}

/// `passage policy apply FILE`: how a fund with a single treasurer sets its rules. The
/// version takes force at once, audited as `cli`; a bad file changes nothing and names
/// every field to fix.
async fn the_server_shell_puts_a_policy_in_force_at_once(t: TestDb) {
    let f = fund(t).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.json");
    std::fs::write(&file, r#"{"hold_hours": 0, "reserve_floor": "-1"}"#).unwrap();
    let out = passage(&f.app.db.url, dir.path())
        .args(["policy", "apply", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("hold_hours") && stderr.contains("reserve_floor"),
        "{stderr}"
    );
    std::fs::write(&file, r#"{"reserve_floor": "250.00"}"#).unwrap();
    let said = run(
        passage(&f.app.db.url, dir.path()).args(["policy", "apply", file.to_str().unwrap()]),
        None,
    );
    assert!(said.contains("policy version 2 is in force"), "{said}");
    let (_, policy) = f.get("/api/v1/policy", &f.treasurer).await;
    assert_eq!(
        (
            policy["version"].as_i64(),
            policy["reserve_floor"].as_str(),
            policy["status"].as_str(),
            policy["proposed_by"].as_str(),
        ),
        (Some(2), Some("250.00"), Some("in_force"), Some("cli")),
        "{policy}"
    );
    assert!(policy["cosigned_by"].is_null(), "{policy}");
    let audited: Vec<(String, String)> = passage::on_db!(&f.app.db.db, p => sqlx::query_as(
        "SELECT actor, action FROM audit_events WHERE subject = 'policy:2'"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(audited, [("cli".to_string(), "policy.apply".to_string())]);
    f.app.stop().await;
}

on_both_engines!(
    one_person_cannot_rewrite_the_rules_and_pay_their_own_request,
    nobody_moves_money_for_their_own_request_by_any_route,
    the_server_shell_puts_a_policy_in_force_at_once,
);
