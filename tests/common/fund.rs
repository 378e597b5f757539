//! A small coalition for report tests: a caseworker who spends, two treasurers who seal,
//! donors who give; the clock moves forward, everyone signs in again.

use chrono::{Duration, TimeZone, Utc};
use passage::audit::Actor;
use passage::clock::Clock;
use passage::domain::{OrgType, Province};
use passage::identity::orgs;
use serde_json::{Value, json};

use super::{TestApp, TestDb};

pub struct Fund {
    pub app: TestApp,
    /// The ids of the caseworker and the two treasurers, to sign them in again.
    pub ids: [String; 3],
    pub worker: String,
    pub treasurer: String,
    pub second_treasurer: String,
    /// Case codes, city names and references used, none of which may reach a report.
    pub secrets: Vec<String>,
    /// How long a treasurer takes to approve a pending request (the clock moves on).
    pub treasurer_minutes: i64,
}

impl Fund {
    pub async fn new(t: TestDb) -> Fund {
        Fund::with(t, &[]).await
    }

    pub async fn with(t: TestDb, settings: &[(&str, &str)]) -> Fund {
        let app = TestApp::spawn_with(t, settings).await;
        let new = orgs::NewOrg::new(
            "Coalition Exemple",
            OrgType::Coalition,
            Province::parse("QC").unwrap(),
        )
        .unwrap();
        let org = orgs::create(&app.db.db, app.clock.now(), &Actor::cli(), &new)
            .await
            .unwrap()
            .id;
        let cw = app
            .seed_user("cw@example.org", "caseworker", Some(&org))
            .await;
        let t1 = app.seed_user("t1@example.org", "treasurer", None).await;
        let t2 = app.seed_user("t2@example.org", "treasurer", None).await;
        Fund {
            ids: [cw.clone(), t1.clone(), t2.clone()],
            worker: app.token_for(&cw).await,
            treasurer: app.token_for(&t1).await,
            second_treasurer: app.token_for(&t2).await,
            secrets: Vec::new(),
            treasurer_minutes: 0,
            app,
        }
    }

    pub async fn send(&self, r: reqwest::RequestBuilder) -> (u16, Value) {
        let res = r.send().await.expect("the app answers");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.send(
            self.app
                .post(path, Some(token))
                .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
                .json(&body),
        )
        .await
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.send(self.app.get(path, Some(token))).await
    }

    pub fn today(&self) -> String {
        self.app.clock.now().date_naive().to_string()
    }

    pub async fn donor(&self, name: &str, email: &str, language: &str) -> String {
        let (s, d) = self
            .post(
                "/api/v1/donors",
                &self.treasurer,
                json!({"name": name, "email": email, "language": language}),
            )
            .await;
        assert_eq!(s, 201, "{d}");
        d["id"].as_str().unwrap().to_string()
    }

    pub async fn give(&self, donor: &str, amount: &str) {
        let (s, b) = self
            .post(
                "/api/v1/donations",
                &self.treasurer,
                json!({"donor_id": donor, "amount": amount, "received_on": self.today()}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }

    async fn case(&mut self, province: &str) -> String {
        let (s, b) = self
            .post("/api/v1/cases", &self.worker, json!({"province": province}))
            .await;
        assert_eq!(s, 201, "{b}");
        let code = b["code"].as_str().unwrap().to_string();
        self.secrets.push(code.clone());
        code
    }

    /// Asks, has a treasurer approve when the policy wants one, and settles in full.
    async fn spend(&mut self, body: Value) -> Value {
        let (s, r) = self.post("/api/v1/requests", &self.worker, body).await;
        assert_eq!(s, 201, "{r}");
        let id = r["id"].as_str().unwrap().to_string();
        if r["status"] == "pending" {
            if self.treasurer_minutes > 0 {
                self.app
                    .clock
                    .advance(Duration::minutes(self.treasurer_minutes));
            }
            let (s, a) = self
                .post(
                    &format!("/api/v1/requests/{id}/approve"),
                    &self.treasurer,
                    json!({}),
                )
                .await;
            assert_eq!(s, 200, "{a}");
            assert_eq!(a["status"], "approved", "{a}");
        } else {
            assert_eq!(r["status"], "approved", "{r}");
        }
        // Letters only after the prefix: an id that begins with six digits would otherwise
        // make a reference shaped like a document number, which the scan refuses.
        let letters: String = id[..8]
            .chars()
            .map(|c| match c.to_digit(10) {
                Some(d) => char::from(b'g' + d as u8),
                None => c,
            })
            .collect();
        let reference = format!("RF-{letters}");
        self.secrets.push(reference.clone());
        let (s, p) = self
            .post(
                &format!("/api/v1/requests/{id}/receipt"),
                &self.worker,
                json!({"amount": r["amount"], "reference": reference, "vendor": "Hôtel Exemple"}),
            )
            .await;
        assert_eq!(s, 200, "{p}");
        p
    }

    pub async fn hotel(&mut self, province: &str, nights: i64, rate: &str) {
        let code = self.case(province).await;
        let today = self.today();
        self.spend(
            json!({"case_code": code, "category": "hotel", "nights": nights,
            "nightly_rate": rate, "party_size": 1, "needed_by": today, "urgent": true,
            "note": "near the station"}),
        )
        .await;
    }

    pub async fn trip(
        &mut self,
        province: &str,
        category: &str,
        amount: &str,
        from: (&str, &str),
        to: (&str, &str),
    ) {
        let code = self.case(province).await;
        let today = self.today();
        self.spend(
            json!({"case_code": code, "category": category, "amount": amount,
            "needed_by": today, "urgent": true, "reason": "safety", "travel_date": today,
            "origin": {"city": from.0, "province": from.1},
            "destination": {"city": to.0, "province": to.1}}),
        )
        .await;
    }

    pub async fn draft(&self, start: &str, end: &str) -> Value {
        let (s, r) = self
            .post(
                "/api/v1/reports",
                &self.treasurer,
                json!({"period_start": start, "period_end": end}),
            )
            .await;
        assert_eq!(s, 201, "{r}");
        assert_eq!(r["status"], "draft", "{r}");
        r
    }

    /// Frozen by the first treasurer, co-signed by the second; returns the sealed report.
    pub async fn seal(&self, id: &str) -> Value {
        let path = format!("/api/v1/reports/{id}/seal");
        let (s, first) = self.post(&path, &self.treasurer, json!({})).await;
        assert_eq!(s, 200, "{first}");
        assert_eq!(first["status"], "awaiting_cosign", "{first}");
        let (s, second) = self.post(&path, &self.second_treasurer, json!({})).await;
        assert_eq!(s, 200, "{second}");
        assert_eq!(second["status"], "sealed", "{second}");
        assert_eq!(first["hash"], second["hash"]);
        let (s, r) = self
            .get(&format!("/api/v1/reports/{id}"), &self.treasurer)
            .await;
        assert_eq!(s, 200, "{r}");
        r
    }

    /// Moves the clock to a moment of a day; everyone signs in again.
    pub async fn go_to(&mut self, y: i32, m: u32, d: u32, h: u32) {
        let to = Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap();
        let by = to - self.app.clock.now();
        assert!(by > Duration::zero(), "the clock only moves forward");
        self.app.clock.advance(by);
        self.worker = self.app.token_for(&self.ids[0]).await;
        self.treasurer = self.app.token_for(&self.ids[1]).await;
        self.second_treasurer = self.app.token_for(&self.ids[2]).await;
    }

    /// Another organisation (a shelter in Quebec) with its own caseworker: the
    /// caseworker's user id, whose token [`Fund::act_for`] puts in `worker`.
    pub async fn other_org(&self, name: &str, email: &str) -> String {
        let new =
            orgs::NewOrg::new(name, OrgType::Shelter, Province::parse("QC").unwrap()).unwrap();
        let org = orgs::create(&self.app.db.db, self.app.clock.now(), &Actor::cli(), &new)
            .await
            .unwrap()
            .id;
        self.app.seed_user(email, "caseworker", Some(&org)).await
    }

    /// The caseworker who asks from now on (until the clock moves).
    pub async fn act_for(&mut self, user_id: &str) {
        self.worker = self.app.token_for(user_id).await;
    }

    /// Pays everything the fund owes (issue 18): one treasurer prepares a batch, the other
    /// releases it, the first marks it paid. Returns the batch.
    pub async fn pay_everything_owed(&self) -> Value {
        let (s, batch) = self
            .post("/api/v1/payouts", &self.treasurer, json!({}))
            .await;
        assert_eq!(s, 201, "{batch}");
        let id = batch["id"].as_str().unwrap().to_string();
        let (s, r) = self
            .post(
                &format!("/api/v1/payouts/{id}/release"),
                &self.second_treasurer,
                json!({}),
            )
            .await;
        assert_eq!(s, 200, "{r}");
        let (s, paid) = self
            .post(
                &format!("/api/v1/payouts/{id}/paid"),
                &self.treasurer,
                json!({"reference": "VIREMENT-NOV"}),
            )
            .await;
        assert_eq!(s, 200, "{paid}");
        paid
    }
}
