//! The same-night path over HTTP, on both engines: cases, donations, requests decided by
//! the policy, treasurers' approvals, receipts, idempotency, expiry.

mod common;

use common::smtp::{SmtpSink, free_port};

use chrono::Duration;
use common::{TestApp, TestDb, wait_until};
use passage::approval::lifecycle::{self, NewRequest, Notice, RequestView};
use passage::approval::submit::{self, Submission};
use passage::approval::{FlowError, FundState, Proposal, decide};
use passage::audit::Actor;
use passage::cases::Staff;
use passage::clock::Clock;
use passage::domain::case_code::CaseCode;
use passage::domain::note::Note;
use passage::domain::place::Place;
use passage::domain::request::{Category, HotelStay, Reason, Trip};
use passage::domain::{Money, RequestStatus};
use passage::domain::{OrgType, Province};
use passage::identity::orgs;
use passage::store::StoreError;
use serde_json::{Value, json};

struct Coalition {
    app: TestApp,
    mtl: String,
    hfx: String,
    /// A caseworker who is also a treasurer: never the approver of their own request.
    hfx_lead: String,
    treasurer: String,
    second_treasurer: String,
    treasurer_id: String,
    hfx_org: String,
    mtl_org: String,
    mtl_id: String,
    hfx_id: String,
    hfx_lead_id: String,
}

async fn org(app: &TestApp, name: &str, province: &str) -> String {
    let new =
        orgs::NewOrg::new(name, OrgType::Shelter, Province::parse(province).unwrap()).unwrap();
    orgs::create(&app.db.db, app.clock.now(), &Actor::cli(), &new)
        .await
        .unwrap()
        .id
}

async fn coalition(t: TestDb) -> Coalition {
    coalition_with(t, &[]).await
}

async fn coalition_with(t: TestDb, settings: &[(&str, &str)]) -> Coalition {
    let app = TestApp::spawn_with(t, settings).await;
    let mtl_org = org(&app, "Refuge Montréal", "QC").await;
    let hfx_org = org(&app, "Harbour Shelter", "NS").await;
    let mtl = app
        .seed_user("cw.mtl@example.org", "caseworker", Some(&mtl_org))
        .await;
    let hfx = app
        .seed_user("cw.hfx@example.org", "caseworker", Some(&hfx_org))
        .await;
    let hfx_both = app
        .seed_user(
            "lead.hfx@example.org",
            "caseworker,treasurer",
            Some(&hfx_org),
        )
        .await;
    let t1 = app.seed_user("t1@example.org", "treasurer", None).await;
    let t2 = app.seed_user("t2@example.org", "treasurer", None).await;
    Coalition {
        mtl: app.token_for(&mtl).await,
        hfx: app.token_for(&hfx).await,
        hfx_lead: app.token_for(&hfx_both).await,
        treasurer: app.token_for(&t1).await,
        second_treasurer: app.token_for(&t2).await,
        treasurer_id: t1,
        hfx_org,
        mtl_org,
        mtl_id: mtl,
        hfx_id: hfx,
        hfx_lead_id: hfx_both,
        app,
    }
}

impl Coalition {
    async fn send(&self, r: reqwest::RequestBuilder) -> (u16, Value) {
        let res = r.send().await.expect("the app answers");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.send(self.app.post(path, Some(token)).json(&body))
            .await
    }

    async fn post_keyed(&self, path: &str, token: &str, key: &str, body: Value) -> (u16, Value) {
        self.send(
            self.app
                .post(path, Some(token))
                .header("Idempotency-Key", key)
                .json(&body),
        )
        .await
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.send(self.app.get(path, Some(token))).await
    }

    async fn donate(&self, amount: &str) {
        let (s, donor) = self
            .post(
                "/api/v1/donors",
                &self.treasurer,
                json!({"name": "Fondation Exemple", "email": "dons@example.org", "language": "fr"}),
            )
            .await;
        assert_eq!(s, 201, "{donor}");
        let key = uuid::Uuid::new_v4().to_string();
        let (s, body) = self
            .post_keyed(
                "/api/v1/donations",
                &self.treasurer,
                &key,
                json!({"donor_id": donor["id"], "amount": amount, "received_on": "2026-11-29"}),
            )
            .await;
        assert_eq!(s, 201, "{body}");
    }

    async fn donate_for(&self, amount: &str, categories: Value) -> (u16, Value) {
        let (s, donor) = self
            .post(
                "/api/v1/donors",
                &self.treasurer,
                json!({"name": "Hotel Partners Fund", "email": "hotels@example.org"}),
            )
            .await;
        assert_eq!(s, 201, "{donor}");
        self.post_keyed(
            "/api/v1/donations",
            &self.treasurer,
            &uuid::Uuid::new_v4().to_string(),
            json!({"donor_id": donor["id"], "amount": amount, "received_on": "2026-11-29",
                   "restricted_to": categories}),
        )
        .await
    }

    async fn open_case(&self, token: &str, province: &str) -> String {
        let (s, body) = self
            .post("/api/v1/cases", token, json!({"province": province}))
            .await;
        assert_eq!(s, 201, "{body}");
        body["code"].as_str().unwrap().to_string()
    }

    async fn ask(&self, token: &str, body: Value) -> (u16, Value) {
        self.post_keyed(
            "/api/v1/requests",
            token,
            &uuid::Uuid::new_v4().to_string(),
            body,
        )
        .await
    }

    /// A flight of 612.40 to Vancouver, which always waits for a treasurer.
    async fn flight_home(&self, token: &str, code: &str, from: (&str, &str)) -> Value {
        let (s, flight) = self
            .ask(
                token,
                trip(code, "flight", "612.40", from, ("Vancouver", "BC")),
            )
            .await;
        assert_eq!(
            (s, flight["status"].as_str()),
            (201, Some("pending")),
            "{flight}"
        );
        flight
    }

    async fn approve(&self, token: &str, request: &Value) -> (u16, Value) {
        let id = request["id"].as_str().unwrap();
        self.post(&format!("/api/v1/requests/{id}/approve"), token, json!({}))
            .await
    }

    /// The fund's figures, checked to reconcile to the cent.
    async fn fund(&self) -> Value {
        let (s, f) = self.get("/api/v1/fund", &self.treasurer).await;
        assert_eq!(s, 200, "{f}");
        let cents = |k: &str| -> i64 {
            let d: rust_decimal::Decimal = f[k].as_str().unwrap().parse().unwrap();
            (d * rust_decimal::Decimal::ONE_HUNDRED).try_into().unwrap()
        };
        assert_eq!(
            cents("available") + cents("reserved") + cents("held") + cents("spent"),
            cents("donated"),
            "{f}"
        );
        f
    }
}

/// The request `id` as a read of its stored row shows it (the view every GET starts from).
async fn read_back(c: &Coalition, id: &str) -> RequestView {
    let db = &c.app.db.db;
    let dual_above = passage::approval::versions::in_force(db, c.app.clock.now())
        .await
        .unwrap()
        .policy
        .dual_approval_above();
    passage::read_tx!(db, |tx| -> Result<Option<RequestView>, StoreError> async {
        lifecycle::view_of(tx, id, dual_above).await
    })
    .unwrap()
    .expect("the request is stored")
}

/// A submission's answer is the request as it was written: the same view, field for
/// field, as a read of its row (the writer builds it from what it wrote, without reading
/// it back), including the figures the decision read, which the API does not show.
fn same_as_stored(answer: &RequestView, read: &RequestView, context: &str) {
    assert_eq!(
        serde_json::to_value(answer).unwrap(),
        serde_json::to_value(read).unwrap(),
        "{context}"
    );
    assert_eq!(
        (answer.decided_window_cents, answer.decided_open_cents),
        (read.decided_window_cents, read.decided_open_cents),
        "{context}"
    );
}

fn hotel(code: &str, nights: i64, rate: &str) -> Value {
    json!({"case_code": code, "category": "hotel", "nights": nights, "nightly_rate": rate,
           "party_size": 1, "needed_by": "2026-11-29", "urgent": true})
}

fn trip(code: &str, category: &str, amount: &str, from: (&str, &str), to: (&str, &str)) -> Value {
    json!({"case_code": code, "category": category, "amount": amount, "needed_by": "2026-11-30",
           "urgent": true, "reason": "safety", "travel_date": "2026-11-30",
           "origin": {"city": from.0, "province": from.1},
           "destination": {"city": to.0, "province": to.1}})
}

async fn the_night_of_two_cities(t: TestDb) {
    let c = coalition(t).await;
    c.donate("5000.00").await;
    assert_eq!(c.fund().await["available"], "5000.00");

    // 23:40 in Montréal: two hotel nights and a bus to Ottawa, both on the spot.
    let code = c.open_case(&c.mtl, "QC").await;
    let (s, stay) = c.ask(&c.mtl, hotel(&code, 2, "189.00")).await;
    assert_eq!(s, 201, "{stay}");
    assert_eq!(stay["status"], "approved", "{stay}");
    assert_eq!(stay["amount"], "378.00");
    assert!(
        stay["rule"]
            .as_str()
            .unwrap()
            .starts_with("auto_approve.hotel"),
        "{stay}"
    );
    assert_eq!(stay["policy_version"], 1);
    let (s, bus) = c
        .ask(
            &c.mtl,
            trip(&code, "bus", "64.50", ("Montréal", "QC"), ("Ottawa", "ON")),
        )
        .await;
    assert_eq!(
        (s, bus["status"].as_str()),
        (201, Some("approved")),
        "{bus}"
    );
    assert_eq!(bus["scope"], "interprovincial");
    let f = c.fund().await;
    assert_eq!(
        (f["held"].as_str(), f["available"].as_str()),
        (Some("442.50"), Some("4557.50"))
    );

    // Halifax: a flight home always waits for a treasurer.
    let hfx_case = c.open_case(&c.hfx, "NS").await;
    let flight = c.flight_home(&c.hfx, &hfx_case, ("Halifax", "NS")).await;
    assert_eq!(flight["rule"], "category_not_auto_approved");
    assert!(flight["reason"].as_str().is_some_and(|r| !r.is_empty()));
    let (s, pending) = c.get("/api/v1/requests?status=pending", &c.treasurer).await;
    assert_eq!(s, 200);
    assert_eq!(pending["items"].as_array().unwrap().len(), 1);
    let id = flight["id"].as_str().unwrap();
    let (s, approved) = c.approve(&c.treasurer, &flight).await;
    assert_eq!(
        (s, approved["status"].as_str()),
        (200, Some("approved")),
        "{approved}"
    );
    assert_eq!(c.fund().await["held"], "1054.90");

    // 1,450.00 needs two distinct treasurers; the requester can approve neither.
    let (_, big) = c
        .ask(
            &c.hfx_lead,
            trip(
                &hfx_case,
                "flight",
                "1450.00",
                ("Halifax", "NS"),
                ("Vancouver", "BC"),
            ),
        )
        .await;
    let big_id = big["id"].as_str().unwrap();
    let approve = format!("/api/v1/requests/{big_id}/approve");
    let (s, own) = c.post(&approve, &c.hfx_lead, json!({})).await;
    assert_eq!(s, 403, "{own}");
    let (s, once) = c.post(&approve, &c.treasurer, json!({})).await;
    assert_eq!(
        (s, once["status"].as_str(), once["approvals"].as_i64()),
        (200, Some("pending"), Some(1)),
        "{once}"
    );
    let (s, twice) = c.post(&approve, &c.treasurer, json!({})).await;
    assert_eq!(s, 409, "{twice}");
    let (s, done) = c.post(&approve, &c.second_treasurer, json!({})).await;
    assert_eq!(
        (s, done["status"].as_str()),
        (200, Some("approved")),
        "{done}"
    );
    assert_eq!(c.fund().await["held"], "2504.90");

    // The hotel's receipt at 351.22 releases 26.78.
    let stay_id = stay["id"].as_str().unwrap();
    let (s, settled) = c
        .post(
            &format!("/api/v1/requests/{stay_id}/receipt"),
            &c.mtl,
            json!({"amount": "351.22", "vendor": "hotel", "reference": "RM-2026-0042"}),
        )
        .await;
    assert_eq!(
        (s, settled["status"].as_str()),
        (200, Some("settled")),
        "{settled}"
    );
    assert_eq!(settled["released"], "26.78");
    let f = c.fund().await;
    assert_eq!(
        (
            f["spent"].as_str(),
            f["held"].as_str(),
            f["available"].as_str()
        ),
        (Some("351.22"), Some("2126.90"), Some("2521.88"))
    );

    // A receipt above the approved amount is refused.
    let bus_id = bus["id"].as_str().unwrap();
    let (s, over) = c
        .post(
            &format!("/api/v1/requests/{bus_id}/receipt"),
            &c.mtl,
            json!({"amount": "64.51", "reference": "RM-2026-0043"}),
        )
        .await;
    assert_eq!(
        (s, over["error"]["field"].as_str()),
        (422, Some("amount")),
        "{over}"
    );

    // Cancel releases the hold.
    let (s, cancelled) = c
        .post(
            &format!("/api/v1/requests/{bus_id}/cancel"),
            &c.mtl,
            json!({}),
        )
        .await;
    assert_eq!(
        (s, cancelled["status"].as_str()),
        (200, Some("cancelled")),
        "{cancelled}"
    );
    assert_eq!(c.fund().await["held"], "2062.40");

    // The next day, treasurers review what the rules approved alone; the money stays put.
    let (s, review) = c.get("/api/v1/review", &c.treasurer).await;
    assert_eq!(s, 200);
    let mut ids: Vec<&str> = review["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    // Both were decided in the same second of the test's clock: the review lists the
    // oldest first and breaks that tie by id (a stable order for its cursor), so which
    // of the two comes first is the ids' order, not the order they were sent in.
    ids.sort_unstable();
    let mut expected = vec![stay_id, bus_id];
    expected.sort_unstable();
    assert_eq!(ids, expected, "{review}");
    let (s, flagged) = c
        .post(
            &format!("/api/v1/requests/{bus_id}/review"),
            &c.treasurer,
            json!({"flag": true}),
        )
        .await;
    assert_eq!(
        (s, flagged["flagged"].as_bool()),
        (200, Some(true)),
        "{flagged}"
    );
    let (s, _) = c
        .post(
            &format!("/api/v1/requests/{id}/review"),
            &c.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 409, "a treasurer's approval is not reviewed again");
    let (_, review) = c.get("/api/v1/review", &c.treasurer).await;
    assert_eq!(review["items"].as_array().unwrap().len(), 1);

    let (s, case) = c.get(&format!("/api/v1/cases/{code}"), &c.mtl).await;
    assert_eq!(s, 200);
    assert_eq!(case["requests"].as_array().unwrap().len(), 2);
    let _ = &c.treasurer_id;
    assert!(passage::ledger::check(&c.app.db.db).await.unwrap().ok);
    assert!(passage::audit::verify(&c.app.db.db).await.unwrap().ok);
    c.app.stop().await;
}

async fn another_organisations_case_is_403_whether_or_not_it_exists(t: TestDb) {
    let c = coalition(t).await;
    c.donate("1000.00").await;
    let code = c.open_case(&c.mtl, "QC").await;
    let (s, _) = c.get(&format!("/api/v1/cases/{code}"), &c.hfx).await;
    assert_eq!(s, 403);
    // A well-formed code that does not exist gets the very same answer.
    let other =
        passage::domain::case_code::CaseCode::generate("QC", &mut rand::thread_rng()).unwrap();
    let (s, _) = c
        .get(&format!("/api/v1/cases/{}", other.as_str()), &c.hfx)
        .await;
    assert_eq!(s, 403);
    let (s, _) = c.ask(&c.hfx, hotel(&code, 1, "100.00")).await;
    assert_eq!(s, 403);
    // A mistyped code is refused, not misfiled.
    let mut typo: Vec<char> = code.chars().collect();
    let last = typo.len() - 2;
    typo[last] = if typo[last] == 'A' { 'B' } else { 'A' };
    let typo: String = typo.into_iter().collect();
    let (s, body) = c.ask(&c.mtl, hotel(&typo, 1, "100.00")).await;
    assert_eq!(
        (s, body["error"]["field"].as_str()),
        (422, Some("case_code")),
        "{body}"
    );
    // Sharing the case (an interprovincial hand-off) lets the receiving shelter see it.
    let (s, body) = c
        .post(
            &format!("/api/v1/cases/{code}/share"),
            &c.mtl,
            json!({"org_id": c.hfx_org}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, _) = c.get(&format!("/api/v1/cases/{code}"), &c.hfx).await;
    assert_eq!(s, 200);
    // A treasurer is told plainly that a code does not exist.
    let (s, _) = c
        .get(&format!("/api/v1/cases/{}", other.as_str()), &c.treasurer)
        .await;
    assert_eq!(s, 404);
    c.app.stop().await;
}

/// Sends every body at once from Montréal's caseworker and counts the approvals; every
/// other answer must be a request waiting for a treasurer under `rule`.
async fn all_at_once(c: &std::sync::Arc<Coalition>, bodies: Vec<Value>, rule: &str) -> usize {
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let c = c.clone();
            tokio::spawn(async move { c.ask(&c.mtl, body).await })
        })
        .collect();
    let mut approved = 0;
    for task in tasks {
        let (s, body) = task.await.unwrap();
        assert_eq!(s, 201, "{body}");
        match body["status"].as_str() {
            Some("approved") => approved += 1,
            Some("pending") => assert_eq!(body["rule"], rule, "{body}"),
            other => panic!("unexpected {other:?}: {body}"),
        }
    }
    approved
}

/// Many requests at once against a fund that covers k of them above the reserve floor:
/// exactly k are approved and the floor holds.
async fn concurrent_requests_never_cross_the_reserve_floor(t: TestDb) {
    let c = std::sync::Arc::new(coalition(t).await);
    c.donate("2000.00").await;
    let mut cases = Vec::new();
    for _ in 0..6 {
        cases.push(c.open_case(&c.mtl, "QC").await);
    }
    let bus = |i: usize| {
        let code: &str = &cases[i % cases.len()];
        trip(code, "bus", "100.00", ("Montréal", "QC"), ("Québec", "QC"))
    };
    let approved = all_at_once(&c, (0..24).map(bus).collect(), "reserve_floor").await;
    assert_eq!(approved, 10);
    let f = c.fund().await;
    assert_eq!(f["available"], "1000.00");
    assert!(passage::ledger::check(&c.app.db.db).await.unwrap().ok);
}

/// Requests decided in one batch (approval/together.rs) each see the approvals made before
/// them in it: ten at once that together stay within the gifts but would cross the reserve
/// floor get six approvals, as one by one. (The ledger would take all ten: only the
/// decision's own arithmetic keeps the floor here.)
async fn a_batch_decides_each_request_after_the_ones_before_it(t: TestDb) {
    let c = std::sync::Arc::new(coalition(t).await);
    c.donate("2000.00").await;
    let mut codes = Vec::new();
    for _ in 0..10 {
        codes.push(c.open_case(&c.mtl, "QC").await);
    }
    let buses = codes
        .iter()
        .map(|code| trip(code, "bus", "150.00", ("Montréal", "QC"), ("Québec", "QC")))
        .collect();
    let approved = all_at_once(&c, buses, "reserve_floor").await;
    assert_eq!(approved, 6);
    assert_eq!(c.fund().await["available"], "1100.00");

    // The same for a case's rolling window: ten at once for one case stop at its cap.
    c.donate("5000.00").await;
    let code = c.open_case(&c.mtl, "QC").await;
    let food = json!({"case_code": code, "category": "food", "amount": "150.00",
                      "needed_by": "2026-11-30"});
    let approved = all_at_once(&c, vec![food; 10], "case_auto_cap").await;
    assert_eq!(
        approved, 6,
        "a case's window of 1000.00 holds six of 150.00"
    );
    assert!(c.app.grouped.counts().written_together > 0);
    common::books::check(&c.app.db.db).await;
}

/// A case's rolling window slides by the moment, not by the day: requests decided earlier
/// on the day the window begins in no longer count, later ones still do, whole days in
/// between count from their per-day totals (migration 0014_case_days), and a settled
/// request counts for what it spent. The ledger check compares those totals with the
/// requests, and notices when one is wrong.
async fn a_case_window_slides_by_the_moment(t: TestDb) {
    let c = coalition(t).await;
    c.donate("5000.00").await;
    let code = c.open_case(&c.mtl, "QC").await;
    let now = c.app.clock.now();
    let next_ten = (now.date_naive().succ_opt().unwrap())
        .and_hms_opt(10, 0, 0)
        .unwrap()
        .and_utc();
    c.app.clock.advance(next_ten - now);
    let food = |c: &Coalition| {
        let needed_by = (c.app.clock.now() + Duration::days(1))
            .date_naive()
            .to_string();
        json!({"case_code": code, "category": "food", "amount": "150.00", "needed_by": needed_by})
    };
    // Sessions end long before a week is over: each step signs in again.
    let ask_settled = async |c: &Coalition, want: &str| {
        let token = c.app.login("cw.mtl@example.org").await;
        let (s, body) = c.ask(&token, food(c)).await;
        assert_eq!((s, body["status"].as_str()), (201, Some(want)), "{body}");
        if want == "approved" {
            let id = body["id"].as_str().unwrap();
            let (s, settled) = c
                .post(
                    &format!("/api/v1/requests/{id}/receipt"),
                    &token,
                    json!({"amount": "150.00", "vendor": "grocer", "reference": "R-1"}),
                )
                .await;
            assert_eq!(s, 200, "{settled}");
        }
    };
    // Day D, 10:00: 450; 12:00: 300 more. D+3: 150 more, 900 in all.
    for _ in 0..3 {
        ask_settled(&c, "approved").await;
    }
    c.app.clock.advance(Duration::hours(2));
    for _ in 0..2 {
        ask_settled(&c, "approved").await;
    }
    c.app.clock.advance(Duration::days(3) - Duration::hours(2));
    ask_settled(&c, "approved").await;
    // D+6: 1050 would pass the cap of 1000.00.
    c.app.clock.advance(Duration::days(3));
    ask_settled(&c, "pending").await;
    // D+7, 11:00: the window begins at D 11:00, so D's 10:00 requests are out, its 12:00
    // ones in: 450, and room for three more.
    c.app.clock.advance(Duration::days(1) + Duration::hours(1));
    for want in ["approved", "approved", "approved", "pending"] {
        ask_settled(&c, want).await;
    }
    // D+7, 13:00: D's 12:00 requests are out too: 600, and room for two more.
    c.app.clock.advance(Duration::hours(2));
    for want in ["approved", "approved", "pending"] {
        ask_settled(&c, want).await;
    }
    common::books::check(&c.app.db.db).await;

    let db = &c.app.db.db;
    passage::on_db!(db, p => sqlx::query("UPDATE case_days SET cents = cents + 1")
        .execute(p).await.map(|_| ()))
    .unwrap();
    let check = passage::ledger::check(db).await.unwrap();
    assert!(!check.ok);
    assert!(
        check
            .problems
            .iter()
            .any(|p| p.contains(&code) && p.contains("its requests give")),
        "{:?}",
        check.problems
    );
    c.app.stop().await;
}

/// Requests sent at the same moment are decided together (one commit for the lot, see
/// src/store/group.rs): each still gets its own answer. A closed case, another
/// organisation's case and a refused body are refused alone, without undoing the others;
/// the same key sent twice at once makes one request.
async fn requests_decided_together_each_get_their_own_answer(t: TestDb) {
    let c = std::sync::Arc::new(coalition(t).await);
    c.donate("2000.00").await;
    let closed = c.open_case(&c.mtl, "QC").await;
    let (s, body) = c
        .post(&format!("/api/v1/cases/{closed}/close"), &c.mtl, json!({}))
        .await;
    assert_eq!(s, 200, "{body}");
    let halifax = c.open_case(&c.hfx, "NS").await;
    let mut cases = Vec::new();
    for _ in 0..8 {
        cases.push(c.open_case(&c.mtl, "QC").await);
    }
    let food = |code: &str| json!({"case_code": code, "category": "food", "amount": "20.00", "needed_by": "2026-11-30"});
    let mut tasks = Vec::new();
    for i in 0..40 {
        let c = c.clone();
        let (key, body, expect) = match i {
            7 => (format!("k{i}"), food(&closed), 409),
            13 => (format!("k{i}"), food(&halifax), 403),
            // Nights on a request that is not a hotel stay: refused by field.
            21 => (
                format!("k{i}"),
                json!({"case_code": cases[0], "category": "food", "amount": "20.00",
                       "needed_by": "2026-11-30", "nights": 2}),
                422,
            ),
            30 | 31 => ("twice".to_string(), food(&cases[1]), 201),
            _ => (format!("k{i}"), food(&cases[i % cases.len()]), 201),
        };
        tasks.push(tokio::spawn(async move {
            let (s, answer) = c.post_keyed("/api/v1/requests", &c.mtl, &key, body).await;
            (i, expect, s, answer)
        }));
    }
    let mut ids = std::collections::HashSet::new();
    let mut twice = Vec::new();
    for task in tasks {
        let (i, expect, s, answer) = task.await.unwrap();
        assert_eq!(s, expect, "request {i}: {answer}");
        if s == 201 {
            assert_eq!(answer["status"], "approved", "request {i}: {answer}");
            ids.insert(answer["id"].as_str().unwrap().to_string());
        }
        if i == 30 || i == 31 {
            twice.push(answer);
        }
    }
    assert_eq!(twice[0], twice[1], "the same key at once gets one answer");
    assert_eq!(
        ids.len(),
        36,
        "37 approvals asked, two of them with one key"
    );
    let (s, list) = c.get("/api/v1/requests", &c.treasurer).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 36);
    assert_eq!(c.fund().await["held"], "720.00");
    assert!(passage::ledger::check(&c.app.db.db).await.unwrap().ok);
}

/// While caseworkers flood the writer with submissions, a treasurer's approval (its own
/// transaction, outside the batches) still gets its turn: writers take turns first come,
/// first served, instead of the approval sleeping in SQLite's busy handler while batch after
/// batch takes the lock. The bound is for liveness, not speed: an approval used to be able
/// to wait for SQLite's whole 30-second busy timeout and fail.
async fn an_approval_gets_its_turn_while_submissions_flood_in(t: TestDb) {
    let c = std::sync::Arc::new(coalition(t).await);
    c.donate("100000.00").await;
    let mut cases = Vec::new();
    for _ in 0..16 {
        cases.push(c.open_case(&c.mtl, "QC").await);
    }
    let flight = c.flight_home(&c.mtl, &cases[0], ("Montréal", "QC")).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut flood = Vec::new();
    for code in cases.clone() {
        let (c, stop, answered) = (c.clone(), stop.clone(), answered.clone());
        flood.push(tokio::spawn(async move {
            let mut sent = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (s, body) = c
                    .ask(
                        &c.mtl,
                        json!({"case_code": code, "category": "food", "amount": "1.00",
                               "needed_by": "2026-11-30"}),
                    )
                    .await;
                assert_eq!(s, 201, "{body}");
                sent += 1;
                answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            sent
        }));
    }
    // The approval is sent once the flood is under way: every flooding case has had
    // answers (waiting on that, not on a guessed time).
    wait_until("the flood to be under way", async || {
        answered.load(std::sync::atomic::Ordering::Relaxed) >= 4 * cases.len()
    })
    .await;
    let started = std::time::Instant::now();
    let (s, approved) = c.approve(&c.treasurer, &flight).await;
    let waited = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut sent = 0;
    for task in flood {
        sent += task.await.unwrap();
    }
    assert_eq!(
        (s, approved["status"].as_str()),
        (200, Some("approved")),
        "{approved}"
    );
    eprintln!("the approval waited {waited:?} among {sent} submissions");
    assert!(
        // Far above an approval's usual wait, far below the 30-second busy timeout it
        // used to run into: a liveness bound that a busy machine does not trip.
        waited < std::time::Duration::from_secs(15),
        "the approval waited {waited:?} while {sent} submissions went through"
    );
    assert!(passage::ledger::check(&c.app.db.db).await.unwrap().ok);
}

async fn a_retry_with_the_same_key_never_makes_a_second_hold(t: TestDb) {
    let c = coalition(t).await;
    c.donate("3000.00").await;
    let code = c.open_case(&c.mtl, "QC").await;
    let body = hotel(&code, 2, "189.00");
    let (s1, first) = c
        .post_keyed("/api/v1/requests", &c.mtl, "tap-1", body.clone())
        .await;
    let (s2, again) = c
        .post_keyed("/api/v1/requests", &c.mtl, "tap-1", body.clone())
        .await;
    assert_eq!((s1, s2), (201, 201));
    assert_eq!(first, again);
    assert_eq!(c.fund().await["held"], "378.00");
    let stored = read_back(&c, first["id"].as_str().unwrap()).await;
    assert_eq!(first, serde_json::to_value(&stored).unwrap());
    // Retries are sent the text stored with the first answer, byte for byte, as JSON.
    let tap = || {
        c.app
            .post("/api/v1/requests", Some(c.mtl.as_str()))
            .header("Idempotency-Key", "tap-1")
            .json(&body)
            .send()
    };
    let (one, two) = (tap().await.unwrap(), tap().await.unwrap());
    assert_eq!(
        one.headers()["content-type"],
        "application/json",
        "{:?}",
        one.headers()
    );
    let (one, two) = (one.text().await.unwrap(), two.text().await.unwrap());
    assert_eq!(one, two);
    assert_eq!(serde_json::from_str::<Value>(&one).unwrap(), first);
    let (s, conflict) = c
        .post_keyed(
            "/api/v1/requests",
            &c.mtl,
            "tap-1",
            hotel(&code, 3, "189.00"),
        )
        .await;
    assert_eq!(s, 409, "{conflict}");
    let (s, missing) = c.post("/api/v1/requests", &c.mtl, body).await;
    assert_eq!(s, 400, "{missing}");
    assert_eq!(c.fund().await["held"], "378.00");

    // A treasurer's double tap on approve, with a key, gets the first answer again.
    let (_, flight) = c
        .ask(
            &c.mtl,
            trip(
                &code,
                "flight",
                "300.00",
                ("Montréal", "QC"),
                ("Winnipeg", "MB"),
            ),
        )
        .await;
    let stored = read_back(&c, flight["id"].as_str().unwrap()).await;
    assert_eq!(flight, serde_json::to_value(&stored).unwrap());
    assert_eq!(
        flight["trip"]["destination"]["city"], "Winnipeg",
        "{flight}"
    );
    let approve = format!(
        "/api/v1/requests/{}/approve",
        flight["id"].as_str().unwrap()
    );
    let (s1, first) = c
        .post_keyed(&approve, &c.treasurer, "tap-2", json!({}))
        .await;
    let (s2, again) = c
        .post_keyed(&approve, &c.treasurer, "tap-2", json!({}))
        .await;
    assert_eq!((s1, s2), (200, 200), "{first} {again}");
    assert_eq!(first, again);
    assert_eq!(c.fund().await["held"], "678.00");
}

/// Every field of the money routes, wrong in each way: 4xx naming the field, nothing written.
async fn bad_input_is_refused_by_field_and_writes_nothing(t: TestDb) {
    let c = coalition(t).await;
    c.donate("3000.00").await;
    let code = c.open_case(&c.mtl, "QC").await;
    let good = trip(&code, "bus", "64.50", ("Montréal", "QC"), ("Ottawa", "ON"));
    let with = |field: &str, value: Value| {
        let mut b = good.clone();
        b[field] = value;
        b
    };
    let without = |field: &str| {
        let mut b = good.clone();
        b.as_object_mut().unwrap().remove(field);
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (without("amount"), "amount"),
        (with("amount", json!(64.5)), "amount"),
        (with("amount", json!("-5.00")), "amount"),
        (with("amount", json!("0")), "amount"),
        (with("amount", json!("1.005")), "amount"),
        (with("amount", json!("100000.01")), "amount"),
        (with("amount", json!("lots")), "amount"),
        (with("amount", json!([1])), "amount"),
        (without("case_code"), "case_code"),
        (with("case_code", json!("QC-NOPE")), "case_code"),
        (with("case_code", json!(42)), "case_code"),
        (without("category"), "category"),
        (with("category", json!("yacht")), "category"),
        (without("needed_by"), "needed_by"),
        (with("needed_by", json!("tomorrow")), "needed_by"),
        (with("urgent", json!("yes")), "urgent"),
        (with("note", json!("call her at 514-555-0100")), "note"),
        (with("note", json!("write to test@example.org")), "note"),
        (without("origin"), "origin"),
        (
            with("origin", json!({"city": "Montréal", "province": "XX"})),
            "origin.province",
        ),
        (
            with("destination", json!({"city": "", "province": "ON"})),
            "destination.city",
        ),
        (with("destination", json!("Ottawa")), "destination"),
        (with("reason", json!("vacation")), "reason"),
        (with("travel_date", json!("30/11/2026")), "travel_date"),
        (with("nights", json!(2)), "nights"),
        (with("colour", json!("blue")), "colour"),
        (hotel(&code, 0, "189.00"), "nights"),
        (hotel(&code, -1, "189.00"), "nights"),
        (hotel(&code, 2, "-1.00"), "nightly_rate"),
        (hotel(&code, 2, "189.001"), "nightly_rate"),
    ];
    for (body, field) in cases {
        let (s, answer) = c.ask(&c.mtl, body.clone()).await;
        assert_eq!(s, 422, "{body} → {answer}");
        assert_eq!(answer["error"]["field"], field, "{body} → {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.len() > 5)
        );
    }
    let (s, answer) = c
        .send(
            c.app
                .post("/api/v1/requests", Some(c.mtl.as_str()))
                .header("Idempotency-Key", "x")
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_eq!(s, 400, "{answer}");
    let (_, all) = c.get("/api/v1/requests", &c.treasurer).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 0, "{all}");
    let f = c.fund().await;
    assert_eq!(
        (f["held"].as_str(), f["available"].as_str()),
        (Some("0.00"), Some("3000.00"))
    );
}

/// The other money routes, each field wrong: 4xx naming the field, the fund untouched.
async fn bad_donations_receipts_and_reserves_are_refused_by_field(t: TestDb) {
    let c = coalition(t).await;
    c.donate("3000.00").await;
    let (_, donor) = c
        .post(
            "/api/v1/donors",
            &c.treasurer,
            json!({"name": "Ami", "email": "ami@example.org"}),
        )
        .await;
    let donor = donor["id"].as_str().unwrap().to_string();
    let donation = |field: &str, value: Value| {
        let mut b = json!({"donor_id": donor, "amount": "10.00", "received_on": "2026-11-29"});
        if value.is_null() {
            b.as_object_mut().unwrap().remove(field);
        } else {
            b[field] = value;
        }
        b
    };
    let code = c.open_case(&c.mtl, "QC").await;
    let (_, food) = c
        .ask(&c.mtl, json!({"case_code": code, "category": "food", "amount": "40.00", "needed_by": "2026-11-30"}))
        .await;
    let receipt_path = format!("/api/v1/requests/{}/receipt", food["id"].as_str().unwrap());
    let tries: Vec<(&str, Value, &str)> = vec![
        (
            "/api/v1/donations",
            donation("donor_id", Value::Null),
            "donor_id",
        ),
        (
            "/api/v1/donations",
            donation("donor_id", json!("nobody")),
            "donor_id",
        ),
        (
            "/api/v1/donations",
            donation("amount", json!("0.00")),
            "amount",
        ),
        ("/api/v1/donations", donation("amount", json!(10)), "amount"),
        (
            "/api/v1/donations",
            donation("amount", json!("10.001")),
            "amount",
        ),
        (
            "/api/v1/donations",
            donation("amount", json!("999999.00")),
            "amount",
        ),
        (
            "/api/v1/donations",
            donation("received_on", json!("yesterday")),
            "received_on",
        ),
        (
            "/api/v1/donations",
            donation("in_kind", json!("no")),
            "in_kind",
        ),
        (
            "/api/v1/donors",
            json!({"name": "", "email": "x@example.org"}),
            "name",
        ),
        (
            "/api/v1/donors",
            json!({"name": "Ami", "email": "not an email"}),
            "email",
        ),
        (
            "/api/v1/donors",
            json!({"name": "Ami", "email": "a@example.org", "language": "de"}),
            "language",
        ),
        (&receipt_path, json!({"reference": "R-1"}), "amount"),
        (
            &receipt_path,
            json!({"amount": "-1.00", "reference": "R-1"}),
            "amount",
        ),
        (
            &receipt_path,
            json!({"amount": "40.01", "reference": "R-1"}),
            "amount",
        ),
        (
            &receipt_path,
            json!({"amount": "10.00", "reference": "4111 1111 1111 1111"}),
            "reference",
        ),
        (
            &receipt_path,
            json!({"amount": "10.00", "reference": "R-1", "paid_on": "soon"}),
            "paid_on",
        ),
        (
            "/api/v1/reserves",
            json!({"org_id": "nowhere", "amount": "10.00", "expires_at": "2030-01-01T00:00:00Z"}),
            "org_id",
        ),
        (
            "/api/v1/reserves",
            json!({"org_id": c.hfx_org, "amount": "10.00", "expires_at": "2020-01-01T00:00:00Z"}),
            "expires_at",
        ),
        (
            "/api/v1/reserves",
            json!({"org_id": c.hfx_org, "amount": "ten", "expires_at": "2030-01-01T00:00:00Z"}),
            "amount",
        ),
    ];
    for (n, (path, body, field)) in tries.into_iter().enumerate() {
        let token = if path.contains("receipt") {
            &c.mtl
        } else {
            &c.treasurer
        };
        let (s, answer) = c
            .post_keyed(path, token, &format!("bad-{n}"), body.clone())
            .await;
        assert_eq!(s, 422, "{path} {body} → {answer}");
        assert_eq!(answer["error"]["field"], field, "{path} {body} → {answer}");
    }
    let f = c.fund().await;
    assert_eq!(
        (
            f["donated"].as_str(),
            f["held"].as_str(),
            f["spent"].as_str(),
            f["reserved"].as_str()
        ),
        (Some("3000.00"), Some("40.00"), Some("0.00"), Some("0.00"))
    );
}

async fn an_unused_hold_expires_after_hold_hours(t: TestDb) {
    let c = coalition(t).await;
    c.donate("3000.00").await;
    let code = c.open_case(&c.mtl, "QC").await;
    let mut body = hotel(&code, 1, "150.00");
    body["note"] = json!("arrives late, ground floor please");
    let (_, stay) = c.ask(&c.mtl, body).await;
    assert_eq!(stay["status"], "approved");
    let state = c.app.state();
    c.app.clock.advance(Duration::hours(71));
    assert_eq!(passage::app::sweep_once(&state).await.unwrap(), 0);
    c.app.clock.advance(Duration::hours(1));
    assert_eq!(passage::app::sweep_once(&state).await.unwrap(), 1);
    assert_eq!(passage::app::sweep_once(&state).await.unwrap(), 0);
    // Three days on, the caseworker signs in again.
    let token = c.app.login("cw.mtl@example.org").await;
    let (_, after) = c
        .get(
            &format!("/api/v1/requests/{}", stay["id"].as_str().unwrap()),
            &token,
        )
        .await;
    assert_eq!(after["status"], "expired", "{after}");
    assert_eq!(after["note"], "arrives late, ground floor please");

    // The note is purged once the retention period (90 days) has passed.
    c.app.clock.advance(Duration::days(90));
    passage::app::sweep_once(&state).await.unwrap();
    let token = c.app.login("cw.mtl@example.org").await;
    let (_, purged) = c
        .get(
            &format!("/api/v1/requests/{}", stay["id"].as_str().unwrap()),
            &token,
        )
        .await;
    assert_eq!(purged["note"], Value::Null, "{purged}");
    let stored: i64 = passage::on_db!(&c.app.db.db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM idempotency WHERE response LIKE '%ground floor%'"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(stored, 0, "a stored first answer kept the note");
    assert_eq!(purged["amount"], "150.00");
    let f = passage::funding::figures(&c.app.db.db, c.app.clock.now())
        .await
        .unwrap();
    assert_eq!((f.held, f.available), (0, 300_000));
}

async fn the_policy_is_versioned_and_validated_by_field(t: TestDb) {
    let c = coalition(t).await;
    let (s, v1) = c.get("/api/v1/policy", &c.treasurer).await;
    assert_eq!((s, v1["version"].as_i64()), (200, Some(1)), "{v1}");
    assert_eq!(v1["reserve_floor"], "1000.00");
    let (s, bad) = c
        .send(
            c.app
                .http
                .put(c.app.url("/api/v1/policy"))
                .bearer_auth(&c.treasurer)
                .json(&json!({"auto_approve": {"bus": {"max_amount": "-3"}}, "hold_hours": 0})),
        )
        .await;
    assert_eq!(s, 422, "{bad}");
    let fields: Vec<&str> = bad["error"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"auto_approve.bus.max_amount") && fields.contains(&"hold_hours"),
        "{bad}"
    );
    let (s, v2) = c
        .send(
            c.app
                .http
                .put(c.app.url("/api/v1/policy"))
                .bearer_auth(&c.treasurer)
                .json(&json!({"reserve_floor": "500.00"})),
        )
        .await;
    assert_eq!(
        (s, v2["version"].as_i64(), v2["status"].as_str()),
        (202, Some(2), Some("proposed")),
        "{v2}"
    );
    // A proposal decides nothing until a second treasurer co-signs it.
    let (_, still) = c.get("/api/v1/policy", &c.treasurer).await;
    assert_eq!(still["version"].as_i64(), Some(1), "{still}");
    let (s, waiting) = c.get("/api/v1/policy/versions/2", &c.treasurer).await;
    assert_eq!(
        (
            s,
            waiting["status"].as_str(),
            waiting["reserve_floor"].as_str()
        ),
        (200, Some("proposed"), Some("500.00")),
        "{waiting}"
    );
    assert_eq!(
        waiting["proposed_by"],
        format!("user:{}", c.treasurer_id),
        "{waiting}"
    );
    let (s, e) = c
        .post("/api/v1/policy/versions/2/cosign", &c.treasurer, json!({}))
        .await;
    assert_eq!(s, 403, "{e}");
    let (s, e) = c
        .post(
            "/api/v1/policy/versions/7/cosign",
            &c.second_treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 404, "{e}");
    let (s, e) = c
        .post("/api/v1/policy/versions/2/cosign", &c.mtl, json!({}))
        .await;
    assert_eq!(s, 403, "{e}");
    let (s, signed) = c
        .post(
            "/api/v1/policy/versions/2/cosign",
            &c.second_treasurer,
            json!({}),
        )
        .await;
    assert_eq!(
        (s, signed["version"].as_i64(), signed["status"].as_str()),
        (200, Some(2), Some("in_force")),
        "{signed}"
    );
    let (s, e) = c
        .post(
            "/api/v1/policy/versions/2/cosign",
            &c.second_treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 409, "{e}");
    let (_, now) = c.get("/api/v1/policy", &c.treasurer).await;
    assert_eq!(
        (now["version"].as_i64(), now["reserve_floor"].as_str()),
        (Some(2), Some("500.00")),
        "{now}"
    );
    assert!(now["cosigned_at"].is_string(), "{now}");
    // What GET shows can be proposed back as it is.
    let (s, again) = c
        .send(
            c.app
                .http
                .put(c.app.url("/api/v1/policy"))
                .bearer_auth(&c.second_treasurer)
                .json(&now),
        )
        .await;
    assert_eq!((s, again["version"].as_i64()), (202, Some(3)), "{again}");
    let (s, old) = c.get("/api/v1/policy/versions/1", &c.treasurer).await;
    assert_eq!((s, old["reserve_floor"].as_str()), (200, Some("1000.00")));
    let (s, _) = c.get("/api/v1/policy", &c.mtl).await;
    assert_eq!(s, 403);
}

/// Waits (polling, a few seconds at most) until `count` messages sent to `to` arrived.
async fn mail_to(sink: &SmtpSink, to: &str, count: usize) -> Vec<String> {
    for _ in 0..100 {
        let got: Vec<String> = sink
            .received()
            .into_iter()
            .filter(|m| {
                m.lines()
                    .any(|l| l.eq_ignore_ascii_case(&format!("To: {to}")))
            })
            .collect();
        if got.len() >= count {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no mail to {to} within 10 s: {:?}", sink.received());
}

async fn the_on_call_treasurer_hears_at_once_and_the_caseworker_hears_back(t: TestDb) {
    let sink = SmtpSink::start(free_port()).await;
    let url = sink.url();
    let c = coalition_with(
        t,
        &[
            ("PASSAGE_SMTP_URL", &url),
            ("PASSAGE_MAIL_INTERVAL_SECS", "1"),
        ],
    )
    .await;
    passage::identity::users::set_on_call(
        &c.app.db.db,
        c.app.clock.now(),
        &Actor::cli(),
        &c.treasurer_id,
        true,
    )
    .await
    .unwrap();
    c.donate("5000.00").await;
    let hfx_case = c.open_case(&c.hfx, "NS").await;
    let mut body = trip(
        &hfx_case,
        "flight",
        "612.40",
        ("Halifax", "NS"),
        ("Vancouver", "BC"),
    );
    body["note"] = json!("window seat if possible");
    let (_, flight) = c.ask(&c.hfx, body).await;
    assert_eq!(flight["status"], "pending");

    // The on-call treasurer is told within seconds; the other treasurer is not (yet).
    let told = mail_to(&sink, "t1@example.org", 1).await;
    assert!(
        told[0].contains(&hfx_case) && told[0].contains("612.40"),
        "{}",
        told[0]
    );
    assert!(
        sink.received()
            .iter()
            .all(|m| !m.contains("t2@example.org"))
    );

    let id = flight["id"].as_str().unwrap();
    let (s, _) = c
        .post(
            &format!("/api/v1/requests/{id}/approve"),
            &c.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let heard = mail_to(&sink, "cw.hfx@example.org", 1).await;
    assert!(
        heard[0].contains("Approved") && heard[0].contains(&hfx_case),
        "{}",
        heard[0]
    );

    // An urgent request nobody decides reaches every treasurer after 20 minutes.
    let (_, other) = c
        .ask(
            &c.hfx,
            trip(
                &hfx_case,
                "flight",
                "300.00",
                ("Halifax", "NS"),
                ("Moncton", "NB"),
            ),
        )
        .await;
    assert_eq!(other["status"], "pending");
    c.app.clock.advance(Duration::minutes(19));
    passage::app::sweep_once(&c.app.state()).await.unwrap();
    c.app.clock.advance(Duration::minutes(1));
    passage::app::sweep_once(&c.app.state()).await.unwrap();
    passage::app::sweep_once(&c.app.state()).await.unwrap();
    let escalated = mail_to(&sink, "t2@example.org", 1).await;
    assert_eq!(escalated.len(), 1, "escalated once");
    assert!(escalated[0].contains("300.00"));

    // No note and no city ever leave in an email.
    for m in sink.received() {
        assert!(
            !m.contains("window seat") && !m.contains("Halifax") && !m.contains("Vancouver"),
            "{m}"
        );
    }
    c.app.stop().await;
    sink.stop().await;
}

async fn receipts_need_a_reference_and_pocket_money_may_be_attested(t: TestDb) {
    let c = coalition(t).await;
    c.donate("3000.00").await;
    let code = c.open_case(&c.mtl, "QC").await;
    let ask = |category: &str, amount: &str| json!({"case_code": code, "category": category, "amount": amount, "needed_by": "2026-11-30"});
    let (_, food) = c.ask(&c.mtl, ask("food", "40.00")).await;
    let (_, pocket) = c.ask(&c.mtl, ask("pocket_money", "60.00")).await;
    assert_eq!(
        (food["status"].as_str(), pocket["status"].as_str()),
        (Some("approved"), Some("pending"))
    );
    let pocket_id = pocket["id"].as_str().unwrap();
    let (s, _) = c
        .post(
            &format!("/api/v1/requests/{pocket_id}/approve"),
            &c.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 200);

    let food_receipt = format!("/api/v1/requests/{}/receipt", food["id"].as_str().unwrap());
    let (s, e) = c
        .post(&food_receipt, &c.mtl, json!({"amount": "38.10"}))
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (422, Some("reference")),
        "{e}"
    );
    let (s, e) = c
        .post(
            &food_receipt,
            &c.mtl,
            json!({"amount": "38.10", "attested": true}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (422, Some("attested")),
        "{e}"
    );
    let (s, e) = c
        .post(&food_receipt, &c.mtl, json!({"amount": "38.10", "reference": "R-1", "original_currency": "CAD", "original_amount": "38.10"}))
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (422, Some("original_currency")),
        "{e}"
    );
    let (s, ok) = c
        .post(&food_receipt, &c.mtl, json!({"amount": "38.10", "reference": "R-1", "original_currency": "usd", "original_amount": "27.95", "paid_on": "2026-11-29"}))
        .await;
    assert_eq!((s, ok["status"].as_str()), (200, Some("settled")), "{ok}");

    let (s, ok) = c
        .post(
            &format!("/api/v1/requests/{pocket_id}/receipt"),
            &c.mtl,
            json!({"amount": "60.00", "attested": true}),
        )
        .await;
    assert_eq!((s, ok["status"].as_str()), (200, Some("settled")), "{ok}");
    assert_eq!(c.fund().await["spent"], "98.10");
}

async fn an_operation_reserve_approves_its_organisation_and_shields_its_money(t: TestDb) {
    let c = coalition(t).await;
    c.donate("3000.00").await;
    let expires = (c.app.clock.now() + Duration::hours(24)).to_rfc3339();
    let (s, reserve) = c
        .post_keyed(
            "/api/v1/reserves",
            &c.treasurer,
            "op-1",
            json!({"org_id": c.hfx_org, "amount": "1500.00", "expires_at": expires}),
        )
        .await;
    assert_eq!(s, 201, "{reserve}");
    let f = c.fund().await;
    assert_eq!(
        (f["available"].as_str(), f["reserved"].as_str()),
        (Some("1500.00"), Some("1500.00"))
    );
    let (s, e) = c
        .post_keyed(
            "/api/v1/reserves",
            &c.treasurer,
            "op-2",
            json!({"org_id": c.hfx_org, "amount": "1500.01", "expires_at": expires}),
        )
        .await;
    assert_eq!(s, 409, "{e}");

    // Montréal's automatic approvals see the fund without the reserve: the floor bites sooner.
    let mtl = c.open_case(&c.mtl, "QC").await;
    let (_, train) = c
        .ask(
            &c.mtl,
            trip(
                &mtl,
                "train",
                "350.00",
                ("Montréal", "QC"),
                ("Québec", "QC"),
            ),
        )
        .await;
    assert_eq!(train["status"], "approved", "{train}");
    let (_, bus) = c
        .ask(
            &c.mtl,
            trip(
                &mtl,
                "bus",
                "200.00",
                ("Montréal", "QC"),
                ("Sherbrooke", "QC"),
            ),
        )
        .await;
    assert_eq!(
        (bus["status"].as_str(), bus["rule"].as_str()),
        (Some("pending"), Some("reserve_floor")),
        "{bus}"
    );

    // Halifax draws on its reserve: even a flight is approved at once.
    let hfx = c.open_case(&c.hfx, "NS").await;
    let (_, flight) = c
        .ask(
            &c.hfx,
            trip(
                &hfx,
                "flight",
                "612.40",
                ("Halifax", "NS"),
                ("Vancouver", "BC"),
            ),
        )
        .await;
    assert_eq!(
        (flight["status"].as_str(), flight["rule"].as_str()),
        (Some("approved"), Some("operation_reserve")),
        "{flight}"
    );
    let (_, reserves) = c.get("/api/v1/reserves", &c.treasurer).await;
    assert_eq!(reserves[0]["remaining"], "887.60", "{reserves}");
    let (_, big) = c
        .ask(
            &c.hfx,
            trip(
                &hfx,
                "flight",
                "900.00",
                ("Halifax", "NS"),
                ("Calgary", "AB"),
            ),
        )
        .await;
    assert_eq!(
        (big["status"].as_str(), big["rule"].as_str()),
        (Some("pending"), Some("category_not_auto_approved")),
        "{big}"
    );
    assert_eq!(c.fund().await["reserved"], "887.60");

    // When the reserve expires, what is left is available again.
    c.app.clock.advance(Duration::hours(25));
    let treasurer = c.app.login("t1@example.org").await;
    let (_, f) = c.get("/api/v1/fund", &treasurer).await;
    assert_eq!(
        (f["reserved"].as_str(), f["available"].as_str()),
        (Some("0.00"), Some("2037.60")),
        "{f}"
    );
}

/// A gift restricted to hotels pays for hotels only, under automatic and treasurer
/// approvals alike; what a hold does not spend goes back to the gift.
async fn restricted_money_is_spent_only_on_its_categories(t: TestDb) {
    let c = coalition(t).await;
    c.donate("1500.00").await;
    let (s, gift) = c.donate_for("600.00", json!(["hotel"])).await;
    assert_eq!(s, 201, "{gift}");
    let f = c.fund().await;
    assert_eq!(
        (f["available"].as_str(), f["restricted"].as_str()),
        (Some("2100.00"), Some("600.00"))
    );
    assert_eq!(
        f["restricted_by_categories"],
        json!([{"categories": ["hotel"], "remaining": "600.00"}])
    );

    // A bus is weighed against the 1500.00 of unrestricted money only.
    let code = c.open_case(&c.mtl, "QC").await;
    let bus = trip(&code, "bus", "200.00", ("Montréal", "QC"), ("Ottawa", "ON"));
    let (_, bus) = c.ask(&c.mtl, bus).await;
    assert_eq!(bus["status"], "approved", "{bus}");
    assert_eq!(c.fund().await["restricted"], "600.00");

    // Two hotel nights come out of the hotel gift first.
    let (_, stay) = c.ask(&c.mtl, hotel(&code, 2, "150.00")).await;
    assert_eq!(stay["status"], "approved", "{stay}");
    assert_eq!(c.fund().await["restricted"], "300.00");

    // A flight may not use the hotel money: 1600.00 is available but only 1300.00 is
    // open to flights, so 1300.01 is declined at once and no treasurer can approve more.
    let hfx = c.open_case(&c.hfx, "NS").await;
    let flight = |amount: &str| {
        trip(
            &hfx,
            "flight",
            amount,
            ("Halifax", "NS"),
            ("Vancouver", "BC"),
        )
    };
    let (_, over) = c.ask(&c.hfx, flight("1300.01")).await;
    assert_eq!(
        (over["status"].as_str(), over["rule"].as_str()),
        (Some("declined"), Some("available_balance")),
        "{over}"
    );
    let (_, first) = c.ask(&c.hfx, flight("800.00")).await;
    let (_, second) = c.ask(&c.hfx, flight("600.00")).await;
    assert_eq!(
        (first["status"].as_str(), second["status"].as_str()),
        (Some("pending"), Some("pending"))
    );
    let approve = |r: &Value| format!("/api/v1/requests/{}/approve", r["id"].as_str().unwrap());
    let (s, ok) = c.post(&approve(&first), &c.treasurer, json!({})).await;
    assert_eq!((s, ok["status"].as_str()), (200, Some("approved")), "{ok}");
    let (s, refused) = c.post(&approve(&second), &c.treasurer, json!({})).await;
    assert_eq!(s, 409, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("500.00"),
        "{refused}"
    );
    let f = c.fund().await;
    assert_eq!(
        (f["available"].as_str(), f["restricted"].as_str()),
        (Some("800.00"), Some("300.00"))
    );

    // The hotel costs 250.00: the 50.00 it did not spend goes back to the hotel gift.
    let (s, settled) = c
        .post(
            &format!("/api/v1/requests/{}/receipt", stay["id"].as_str().unwrap()),
            &c.mtl,
            json!({"amount": "250.00", "reference": "MTL-0042"}),
        )
        .await;
    assert_eq!(s, 200, "{settled}");
    assert_eq!(c.fund().await["restricted"], "350.00");

    // A hotel stay whose hold expires gives its money back to the gift too.
    let (_, late) = c.ask(&c.mtl, hotel(&code, 1, "120.00")).await;
    assert_eq!(late["status"], "pending", "{late}");
    let (s, ok) = c.post(&approve(&late), &c.treasurer, json!({})).await;
    assert_eq!((s, ok["status"].as_str()), (200, Some("approved")), "{ok}");
    assert_eq!(c.fund().await["restricted"], "230.00");
    // Three days on, every hold still open expires: the bus, the flight and this stay.
    c.app.clock.advance(Duration::hours(73));
    assert_eq!(passage::app::sweep_once(&c.app.state()).await.unwrap(), 3);
    let treasurer = c.app.login("t1@example.org").await;
    let (_, f) = c.get("/api/v1/fund", &treasurer).await;
    assert_eq!(
        (
            f["available"].as_str(),
            f["restricted"].as_str(),
            f["spent"].as_str()
        ),
        (Some("1850.00"), Some("350.00"), Some("250.00")),
        "{f}"
    );

    // A reserve may be spent on anything, so only the 1500.00 unrestricted can back it.
    let expires = (c.app.clock.now() + Duration::hours(24)).to_rfc3339();
    let (s, e) = c
        .post_keyed(
            "/api/v1/reserves",
            &treasurer,
            "op-restricted",
            json!({"org_id": c.hfx_org, "amount": "1500.01", "expires_at": expires}),
        )
        .await;
    assert_eq!(s, 409, "{e}");

    // What the ledger attributes is written down, gift by gift.
    let drawn: i64 = passage::on_db!(&c.app.db.db, p => sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM restricted_draws"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(drawn, 25_000);
}

/// Restrictions are refused by field when they make no sense.
async fn a_restriction_must_name_real_categories_of_a_cash_gift(t: TestDb) {
    let c = coalition(t).await;
    for (categories, says) in [
        (json!([]), "at least one"),
        (json!(["yacht"]), "is not a category"),
        (json!(["hotel", "hotel"]), "twice"),
        (json!("hotel"), "list"),
        (
            json!([
                "bus",
                "train",
                "flight",
                "local_transport",
                "hotel",
                "phone_card",
                "food",
                "clothing",
                "hygiene",
                "pocket_money",
                "interpreter",
                "other"
            ]),
            "restricts nothing",
        ),
    ] {
        let (s, e) = c.donate_for("100.00", categories.clone()).await;
        assert_eq!(s, 422, "{categories}: {e}");
        assert_eq!(e["error"]["field"], "restricted_to", "{e}");
        assert!(
            e["error"]["message"].as_str().unwrap().contains(says),
            "{e}"
        );
    }
    let (_, donor) = c
        .post(
            "/api/v1/donors",
            &c.treasurer,
            json!({"name": "Air Partner", "email": "seats@example.org"}),
        )
        .await;
    let (s, e) = c
        .post_keyed(
            "/api/v1/donations",
            &c.treasurer,
            "seat",
            json!({"donor_id": donor["id"], "amount": "400.00", "received_on": "2026-11-29",
                   "in_kind": true, "restricted_to": ["flight"]}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (422, Some("restricted_to")),
        "{e}"
    );
    assert_eq!(c.fund().await["donated"], "0.00");
}

/// What the model of the one path knows of a restricted gift.
#[derive(Debug, Clone)]
struct ModelGift {
    id: String,
    categories: Vec<Category>,
    remaining: i64,
}

/// What the model knows of an operation reserve.
#[derive(Debug, Clone)]
struct ModelReserve {
    id: String,
    org: String,
    created_by: String,
    remaining: i64,
}

/// A simple model of the one path, written apart from it: the fund's available money,
/// the gifts, the reserves and the cases' windows, and `decide` (the pure rules, tested on
/// their own) on the figures the model computes.
struct Model {
    available: i64,
    gifts: Vec<ModelGift>,
    reserves: Vec<ModelReserve>,
    windows: std::collections::HashMap<String, i64>,
}

impl Model {
    /// The status and rule the model expects, and what an approval takes.
    fn decide(
        &mut self,
        policy: &passage::approval::Policy,
        case: (&str, &str),
        requester: &str,
        new: &NewRequest,
    ) -> (String, String) {
        let (code, org) = case;
        let amount = new.amount.cents();
        let window = self.windows.get(code).copied().unwrap_or(0);
        let proposal = match new.hotel {
            Some(stay) => Proposal::hotel(stay, window),
            None => Proposal::new(new.category, new.amount, window).unwrap(),
        };
        let closed: i64 = self
            .gifts
            .iter()
            .filter(|g| !g.categories.contains(&new.category))
            .map(|g| g.remaining)
            .sum();
        let open = self.available - closed;
        let reserve = self.reserves.iter().position(|r| {
            r.org == org && r.remaining >= amount && r.created_by != requester && amount <= open
        });
        let decision = match reserve {
            Some(_) => ("approved".to_string(), "operation_reserve".to_string()),
            None => {
                let outstanding: i64 = self.reserves.iter().map(|r| r.remaining).sum();
                let d = decide(
                    policy,
                    &proposal,
                    &FundState {
                        available_cents: open - outstanding,
                    },
                );
                (d.status().to_string(), d.rule().to_string())
            }
        };
        if decision.0 == "approved" {
            self.available -= amount;
            *self.windows.entry(code.to_string()).or_insert(0) += amount;
            if let Some(i) = reserve {
                self.reserves[i].remaining -= amount;
            }
            // Narrowest gifts first, then the oldest.
            let mut open: Vec<&mut ModelGift> = self
                .gifts
                .iter_mut()
                .filter(|g| g.categories.contains(&new.category))
                .collect();
            open.sort_by_key(|g| g.categories.len());
            let mut left = amount;
            for gift in open {
                let take = left.min(gift.remaining);
                gift.remaining -= take;
                left -= take;
            }
        }
        decision
    }
}

/// The one path (`approval::submit`) decides random batches as the model does: the same
/// status and rule for each request, a hold exactly for each approval, and afterwards the
/// same available money, restricted remainders and reserve draws; the books balance. The
/// batches mix caseworkers, a caseworker who is also a treasurer, their own cases, a case
/// shared with another organisation, another organisation's case and a closed one, gifts
/// restricted to some categories and reserves for each organisation. Seeded, so a failure
/// replays.
async fn the_one_path_decides_random_batches_as_the_model_does(t: TestDb) {
    use rand::{Rng, SeedableRng};

    let c = coalition(t).await;
    let db = &c.app.db.db;
    let now = c.app.clock.now();
    c.donate("2500.00").await;
    let mut gift_ids = Vec::new();
    for (amount, categories) in [
        ("600.00", json!(["hotel"])),
        ("400.00", json!(["food", "clothing", "hotel"])),
    ] {
        let (s, gift) = c.donate_for(amount, categories).await;
        assert_eq!(s, 201, "{gift}");
        gift_ids.push(gift["id"].as_str().unwrap().to_string());
    }
    let mtl_cases = [
        c.open_case(&c.mtl, "QC").await,
        c.open_case(&c.mtl, "QC").await,
    ];
    let hfx_cases = [
        c.open_case(&c.hfx, "NS").await,
        c.open_case(&c.hfx, "NS").await,
    ];
    let closed = c.open_case(&c.mtl, "QC").await;
    let (s, body) = c
        .post(&format!("/api/v1/cases/{closed}/close"), &c.mtl, json!({}))
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = c
        .post(
            &format!("/api/v1/cases/{}/share", hfx_cases[1]),
            &c.hfx,
            json!({"org_id": c.mtl_org}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let mut reserve_ids = Vec::new();
    for (token, org, amount) in [
        (&c.treasurer, &c.mtl_org, "300.00"),
        (&c.hfx_lead, &c.hfx_org, "200.00"),
    ] {
        let (s, body) = c
            .post_keyed(
                "/api/v1/reserves",
                token,
                &uuid::Uuid::new_v4().to_string(),
                json!({"org_id": org, "amount": amount, "expires_at": "2030-01-01T00:00:00Z"}),
            )
            .await;
        assert_eq!(s, 201, "{body}");
        reserve_ids.push(body["id"].as_str().unwrap().to_string());
    }

    let policy = passage::approval::versions::in_force(db, now)
        .await
        .unwrap()
        .policy;
    let mut model = Model {
        available: passage::ledger::fund_balance(db).await.unwrap().available,
        gifts: vec![
            ModelGift {
                id: gift_ids[0].clone(),
                categories: vec![Category::Hotel],
                remaining: 60_000,
            },
            ModelGift {
                id: gift_ids[1].clone(),
                categories: vec![Category::Food, Category::Clothing, Category::Hotel],
                remaining: 40_000,
            },
        ],
        reserves: vec![
            ModelReserve {
                id: reserve_ids[0].clone(),
                org: c.mtl_org.clone(),
                created_by: c.treasurer_id.clone(),
                remaining: 30_000,
            },
            ModelReserve {
                id: reserve_ids[1].clone(),
                org: c.hfx_org.clone(),
                created_by: c.hfx_lead_id.clone(),
                remaining: 20_000,
            },
        ],
        windows: Default::default(),
    };
    let staff = |id: &str, org: &str, treasurer: bool| Staff {
        user_id: id.to_string(),
        org_id: Some(org.to_string()),
        treasurer,
        caseworker: true,
    };
    let askers = [
        staff(&c.mtl_id, &c.mtl_org, false),
        staff(&c.hfx_id, &c.hfx_org, false),
        staff(&c.hfx_lead_id, &c.hfx_org, true),
    ];
    // Each case, its organisation, and whether it takes requests.
    let cases: Vec<(&str, &str, bool)> = vec![
        (&mtl_cases[0], &c.mtl_org, true),
        (&mtl_cases[1], &c.mtl_org, true),
        (&hfx_cases[0], &c.hfx_org, true),
        (&hfx_cases[1], &c.hfx_org, true),
        (&closed, &c.mtl_org, false),
    ];
    let shared = (hfx_cases[1].as_str(), c.mtl_org.as_str());
    let amounts = [500, 4_500, 15_000, 30_000, 70_000];
    let categories = [
        Category::Food,
        Category::Clothing,
        Category::PocketMoney,
        Category::Interpreter,
        Category::Hotel,
        Category::Bus,
    ];
    let place = |city: &str, province: Option<&str>, country: Option<&str>| {
        Place::parse(city, province, country).unwrap()
    };
    let trips = [
        Trip {
            origin: place("Montréal", Some("QC"), None),
            destination: place("Halifax", Some("NS"), None),
            reason: Reason::Shelter,
        },
        Trip {
            origin: place("Montréal", Some("QC"), None),
            destination: place("Paris", None, Some("FR")),
            reason: Reason::Family,
        },
    ];
    let travel_date = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();

    let mut rng = rand::rngs::StdRng::seed_from_u64(16);
    let mut approvals = 0;
    for round in 0..10 {
        let size = rng.gen_range(1..=10);
        let mut batch = Vec::new();
        for _ in 0..size {
            let asker = &askers[rng.gen_range(0..askers.len())];
            let case = cases[rng.gen_range(0..cases.len())];
            let category = categories[rng.gen_range(0..categories.len())];
            let (amount, hotel) = if category == Category::Hotel {
                let rate = Money::from_cents(amounts[rng.gen_range(0..3)]).unwrap();
                let stay = HotelStay::new(rng.gen_range(1..=4), rate, 1).unwrap();
                (stay.amount(), Some(stay))
            } else {
                let cents = amounts[rng.gen_range(0..amounts.len())];
                (Money::from_cents(cents).unwrap(), None)
            };
            let trip = category
                .is_travel()
                .then(|| (trips[rng.gen_range(0..trips.len())].clone(), travel_date));
            let new = NewRequest {
                case_code: CaseCode::parse(case.0).unwrap(),
                category,
                amount,
                needed_by: "2026-11-30".into(),
                urgent: rng.gen_bool(0.3),
                note: rng
                    .gen_bool(0.5)
                    .then(|| Note::parse("waits at the station with two bags").unwrap()),
                trip,
                hotel,
            };
            batch.push((
                Submission {
                    staff: asker.clone(),
                    new,
                },
                case,
            ));
        }
        let inputs: Vec<&Submission> = batch.iter().map(|(s, _)| s).collect();
        let decided = passage::write_tx!(db, |tx| -> Result<submit::Decided, FlowError> async {
            submit::submit(tx, now, &inputs).await
        })
        .expect("the batch is written");
        assert_eq!(decided.answers.len(), batch.len());
        for (i, ((submission, case), answer)) in batch.iter().zip(&decided.answers).enumerate() {
            let (code, org, open) = *case;
            let staff = &submission.staff;
            let theirs = staff.treasurer
                || staff.org_id.as_deref() == Some(org)
                || (code, staff.org_id.as_deref().unwrap_or("")) == shared;
            let context = format!("round {round}, request {i}: {submission:?}");
            match (theirs, open, answer) {
                (false, _, Err(FlowError::Forbidden(_))) => {}
                (true, false, Err(FlowError::Conflict(_))) => {}
                (true, true, Ok(view)) => {
                    let (status, rule) =
                        model.decide(&policy, (code, org), &staff.user_id, &submission.new);
                    assert_eq!(
                        (view.status.as_str(), view.rule.as_str()),
                        (status.as_str(), rule.as_str()),
                        "{context}"
                    );
                    if status == "approved" {
                        approvals += 1;
                    }
                }
                (theirs, open, answer) => {
                    panic!("{context}: theirs {theirs}, open {open}, answered {answer:?}")
                }
            }
        }
        let waiting = decided
            .notices
            .iter()
            .filter(|n| matches!(n, Notice::Waiting { .. }))
            .count();
        let urgent_pending = decided
            .answers
            .iter()
            .zip(&batch)
            .filter(|(a, (s, _))| {
                s.new.urgent && a.as_ref().is_ok_and(|v| v.status == RequestStatus::Pending)
            })
            .count();
        assert_eq!(waiting, urgent_pending, "round {round}");
        for (i, answer) in decided.answers.iter().enumerate() {
            if let Ok(view) = answer {
                let read = read_back(&c, &view.id).await;
                same_as_stored(view, &read, &format!("round {round}, request {i}"));
            }
        }

        let fund = passage::ledger::fund_balance(db).await.unwrap();
        assert_eq!(fund.available, model.available, "round {round}");
        for gift in &model.gifts {
            let left: i64 = passage::on_db!(db, p => sqlx::query_scalar(
                "SELECT restricted_remaining FROM donations WHERE id = $1",
            )
            .bind(&gift.id)
            .fetch_one(p)
            .await)
            .unwrap();
            assert_eq!(left, gift.remaining, "round {round}: gift {gift:?}");
        }
        for reserve in &model.reserves {
            let left: i64 = passage::on_db!(db, p => sqlx::query_scalar(
                "SELECT amount - drawn FROM reserves WHERE id = $1",
            )
            .bind(&reserve.id)
            .fetch_one(p)
            .await)
            .unwrap();
            assert_eq!(
                left, reserve.remaining,
                "round {round}: reserve {reserve:?}"
            );
        }
        let holds: i64 = passage::on_db!(db, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM requests WHERE hold_id IS NOT NULL",
        )
        .fetch_one(p)
        .await)
        .unwrap();
        assert_eq!(holds, approvals, "round {round}");
    }
    assert!(approvals > 5, "the batches approved only {approvals}");
    common::books::check(db).await;
}

on_both_engines!(
    restricted_money_is_spent_only_on_its_categories,
    a_restriction_must_name_real_categories_of_a_cash_gift,
    bad_donations_receipts_and_reserves_are_refused_by_field,
    an_operation_reserve_approves_its_organisation_and_shields_its_money,
    receipts_need_a_reference_and_pocket_money_may_be_attested,
    the_on_call_treasurer_hears_at_once_and_the_caseworker_hears_back,
    the_night_of_two_cities,
    another_organisations_case_is_403_whether_or_not_it_exists,
    concurrent_requests_never_cross_the_reserve_floor,
    a_batch_decides_each_request_after_the_ones_before_it,
    a_case_window_slides_by_the_moment,
    requests_decided_together_each_get_their_own_answer,
    the_one_path_decides_random_batches_as_the_model_does,
    an_approval_gets_its_turn_while_submissions_flood_in,
    a_retry_with_the_same_key_never_makes_a_second_hold,
    bad_input_is_refused_by_field_and_writes_nothing,
    an_unused_hold_expires_after_hold_hours,
    the_policy_is_versioned_and_validated_by_field,
);
