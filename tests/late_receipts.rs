//! The night's loose ends (issue 17), on both engines, at fixed times on the ManualClock: a
//! receipt entered after its hold expired waits for a treasurer as a late receipt, who pays
//! it from available (never their own request, never under the floor) or declines it; the
//! organisation is reminded once, 12 hours before a hold expires without a receipt; the
//! treasurers list the holds waiting for receipts, oldest first; and the low-balance alert
//! watches what automatic decisions can use, whatever moved it (an operation reserve too).

mod common;

use chrono::Duration;
use common::fund::Fund;
use common::{TestApp, TestDb};
use passage::approval::lifecycle;
use passage::clock::Clock;
use passage::on_db;
use serde_json::{Value, json};

/// Dedupe keys of the outbox that begin with `prefix`, in order.
async fn mail_keys(app: &TestApp, prefix: &str) -> Vec<String> {
    let db = &app.db.db;
    let mut keys: Vec<String> = on_db!(db, p => sqlx::query_scalar(
        "SELECT dedupe_key FROM outbox WHERE dedupe_key LIKE $1"
    )
    .bind(format!("{prefix}%"))
    .fetch_all(p)
    .await)
    .expect("read the outbox");
    keys.sort();
    keys
}

/// The recipient, subject and text of the outbox's mail under `key`.
async fn mail(app: &TestApp, key: &str) -> (String, String, String) {
    let db = &app.db.db;
    on_db!(db, p => sqlx::query_as(
        "SELECT to_addr, subject, body_text FROM outbox WHERE dedupe_key = $1"
    )
    .bind(key)
    .fetch_one(p)
    .await)
    .expect("the mail is in the outbox")
}

async fn user_id(app: &TestApp, email: &str) -> String {
    let db = &app.db.db;
    on_db!(db, p => sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(p)
        .await)
    .expect("the user exists")
}

/// A case of the caseworker's and a hotel stay for it, approved at once; its id.
async fn hotel(f: &Fund, token: &str, nights: i64, rate: &str) -> Value {
    let (s, case) = f
        .post("/api/v1/cases", token, json!({"province": "QC"}))
        .await;
    assert_eq!(s, 201, "{case}");
    let (s, r) = f
        .post(
            "/api/v1/requests",
            token,
            json!({"case_code": case["code"], "category": "hotel", "nights": nights,
                   "nightly_rate": rate, "party_size": 1, "needed_by": f.today()}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["status"], "approved", "{r}");
    r
}

/// Moves the clock past every 72-hour hold and runs the sweeper; signs everyone in again.
async fn past_the_holds(f: &mut Fund) {
    f.app.clock.advance(Duration::hours(73));
    passage::app::sweep_once(&f.app.state())
        .await
        .expect("the sweeper runs");
    f.worker = f.app.token_for(&f.ids[0]).await;
    f.treasurer = f.app.token_for(&f.ids[1]).await;
    f.second_treasurer = f.app.token_for(&f.ids[2]).await;
}

fn receipt(amount: &str) -> Value {
    json!({"amount": amount, "reference": "RF-LATE-7", "vendor": "hotel",
           "original_currency": "USD", "original_amount": "205.10"})
}

/// `token`'s approval of the request `id`.
async fn approve(f: &Fund, id: &str, token: &str) -> (u16, Value) {
    f.post(&format!("/api/v1/requests/{id}/approve"), token, json!({}))
        .await
}

/// Enters `body` as the receipt of the expired request `id`: a late receipt, waiting.
async fn enter_late(f: &Fund, id: &str, body: Value) -> Value {
    let (s, v) = f
        .post(&format!("/api/v1/requests/{id}/receipt"), &f.worker, body)
        .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (200, Some("receipt_pending")),
        "{v}"
    );
    v
}

/// `token`'s approval of the late receipt `id`, refused (409): what it says.
async fn approval_refused(f: &Fund, id: &str, token: &str) -> String {
    let (s, e) = approve(f, id, token).await;
    assert_eq!(s, 409, "{e}");
    e["error"]["message"].as_str().unwrap().to_string()
}

async fn funded(t: TestDb, amount: &str) -> Fund {
    let f = Fund::new(t).await;
    let donor = f
        .donor("Fondation Exemple", "fondation@example.org", "fr")
        .await;
    f.give(&donor, amount).await;
    f
}

/// The low-balance alert watches what automatic decisions can use: a treasurer setting
/// an operation reserve aside that brings it under the floor tells every treasurer, once.
async fn a_reserve_that_brings_usable_money_under_the_floor_alerts_treasurers(t: TestDb) {
    let f = funded(t, "1500.00").await;
    assert!(mail_keys(&f.app, "low-balance:").await.is_empty());
    let org: String = {
        let db = &f.app.db.db;
        on_db!(db, p => sqlx::query_scalar("SELECT org_id FROM users WHERE email = 'cw@example.org'")
            .fetch_one(p)
            .await)
        .unwrap()
    };
    let expires = (f.app.clock.now() + Duration::days(2)).to_rfc3339();
    // 1500.00 available, 400.00 set aside: 1100.00 usable, still above the 1000.00 floor.
    let (s, r) = f
        .post(
            "/api/v1/reserves",
            &f.treasurer,
            json!({"org_id": org, "amount": "400.00", "expires_at": expires}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    assert!(mail_keys(&f.app, "low-balance:").await.is_empty());
    // Another 200.00: 900.00 usable, under the floor. Both treasurers are told.
    let (s, r) = f
        .post(
            "/api/v1/reserves",
            &f.treasurer,
            json!({"org_id": org, "amount": "200.00", "expires_at": expires}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let told = mail_keys(&f.app, "low-balance:").await;
    assert_eq!(told.len(), 2, "each treasurer once: {told:?}");
    let (_, subject, text) = mail(&f.app, &told[0]).await;
    assert!(subject.contains("900.00"), "{subject}");
    assert!(
        text.contains("1,000.00") || text.contains("1000.00"),
        "{text}"
    );
    // Still under: no second alert.
    let (s, _) = f
        .post(
            "/api/v1/reserves",
            &f.treasurer,
            json!({"org_id": org, "amount": "50.00", "expires_at": expires}),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(mail_keys(&f.app, "low-balance:").await.len(), 2);
    f.app.stop().await;
}

/// A receipt after the hold expired waits for a treasurer as a late receipt; the requester
/// and whoever entered it cannot approve it; another treasurer does, the fund pays it from
/// available, and the books balance.
async fn a_late_receipt_is_approved_by_another_treasurer_and_settles(t: TestDb) {
    let mut f = funded(t, "5000.00").await;
    // A caseworker who is also a treasurer asks for a stay, like the caseworker does.
    let org: String = {
        let db = &f.app.db.db;
        on_db!(db, p => sqlx::query_scalar("SELECT org_id FROM users WHERE email = 'cw@example.org'")
            .fetch_one(p)
            .await)
        .unwrap()
    };
    let both = f
        .app
        .seed_user("both@example.org", "caseworker,treasurer", Some(&org))
        .await;
    let r = hotel(&f, &f.worker, 2, "150.00").await;
    let id = r["id"].as_str().unwrap().to_string();
    let own = hotel(&f, &f.app.token_for(&both).await, 1, "120.00").await;
    let own_id = own["id"].as_str().unwrap().to_string();
    past_the_holds(&mut f).await;
    let (s, v) = f.get(&format!("/api/v1/requests/{id}"), &f.worker).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("expired")), "{v}");
    let fund_before = passage::ledger::fund_balance(&f.app.db.db).await.unwrap();

    // A receipt above the approved amount is refused as for any receipt.
    let (s, e) = f
        .post(
            &format!("/api/v1/requests/{id}/receipt"),
            &f.worker,
            receipt("300.01"),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    let v = enter_late(&f, &id, receipt("280.00")).await;
    assert_eq!(v["spent"], "280.00", "{v}");
    // Nobody is on call: every treasurer hears of it, as of an urgent request.
    let told = mail_keys(&f.app, &format!("late:{id}:")).await;
    assert_eq!(
        told.len(),
        3,
        "t1, t2 and the caseworker-treasurer: {told:?}"
    );
    let (_, subject, text) = mail(&f.app, &told[0]).await;
    assert!(subject.starts_with("Late receipt: Hotel"), "{subject}");
    assert!(text.contains("280.00"), "{text}");
    let (s, list) = f
        .get("/api/v1/requests?status=receipt_pending", &f.treasurer)
        .await;
    assert_eq!(s, 200);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    // Nothing moved yet.
    assert_eq!(
        passage::ledger::fund_balance(&f.app.db.db).await.unwrap(),
        fund_before
    );
    common::books::check(&f.app.db.db).await;

    // The caseworker-treasurer's own late receipt: they cannot pay it themselves.
    let both_token = f.app.token_for(&both).await;
    let (s, v) = f
        .post(
            &format!("/api/v1/requests/{own_id}/receipt"),
            &both_token,
            receipt("120.00"),
        )
        .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (200, Some("receipt_pending")),
        "{v}"
    );
    let (s, e) = approve(&f, &own_id, &both_token).await;
    assert_eq!(s, 403, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("another treasurer"),
        "{e}"
    );

    // Another treasurer pays the caseworker's late receipt.
    let (s, v) = approve(&f, &id, &f.treasurer).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "settled", "{v}");
    assert_eq!(v["spent"], "280.00", "{v}");
    let fund = passage::ledger::fund_balance(&f.app.db.db).await.unwrap();
    assert_eq!(fund.spent - fund_before.spent, 28_000);
    assert_eq!(fund.available, fund_before.available - 28_000);
    assert_eq!(fund.held, fund_before.held);
    // The foreign currency is kept as for any receipt.
    let db = &f.app.db.db;
    let kept: (Option<String>, Option<String>) = on_db!(db, p => sqlx::query_as(
        "SELECT original_currency, original_amount FROM requests WHERE id = $1"
    )
    .bind(&id)
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(kept, (Some("USD".into()), Some("205.10".into())));
    // The caseworker is told, in their language.
    let cw = user_id(&f.app, "cw@example.org").await;
    let (to, subject, _) = mail(&f.app, &format!("late-decision:{id}:settled:{cw}")).await;
    assert_eq!(to, "cw@example.org");
    assert!(subject.starts_with("Late receipt approved"), "{subject}");
    // Paid once: a second approval is refused.
    let (s, _) = approve(&f, &id, &f.second_treasurer).await;
    assert_eq!(s, 409);
    // Another treasurer pays the caseworker-treasurer's.
    let (s, v) = approve(&f, &own_id, &f.second_treasurer).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("settled")), "{v}");
    let books = common::books::check(&f.app.db.db).await;
    assert_eq!(books.settled, 2);
    assert_eq!(books.spent, 28_000 + 12_000);
    f.app.stop().await;
}

/// A declined late receipt leaves the request expired, moves no money, and tells the
/// caseworker with the treasurer's reason, in their language.
async fn a_declined_late_receipt_leaves_the_request_expired(t: TestDb) {
    let mut f = funded(t, "5000.00").await;
    let r = hotel(&f, &f.worker, 1, "100.00").await;
    let id = r["id"].as_str().unwrap().to_string();
    past_the_holds(&mut f).await;
    let cw = user_id(&f.app, "cw@example.org").await;
    {
        let db = &f.app.db.db;
        on_db!(db, p => sqlx::query("UPDATE users SET language = 'fr' WHERE id = $1")
            .bind(&cw)
            .execute(p)
            .await
            .map(|_| ()))
        .unwrap();
    }
    enter_late(&f, &id, receipt("100.00")).await;
    let before = passage::ledger::fund_balance(&f.app.db.db).await.unwrap();
    let (s, v) = f
        .post(
            &format!("/api/v1/requests/{id}/decline"),
            &f.treasurer,
            json!({"reason": "bought without calling the on-call line"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "expired", "{v}");
    assert!(v["spent"].is_null(), "{v}");
    assert_eq!(
        passage::ledger::fund_balance(&f.app.db.db).await.unwrap(),
        before
    );
    let (to, subject, text) = mail(&f.app, &format!("late-decision:{id}:expired:{cw}")).await;
    assert_eq!(to, "cw@example.org");
    assert!(subject.starts_with("Reçu en retard refusé"), "{subject}");
    assert!(text.contains("bought without calling"), "{text}");
    assert!(text.contains("100,00"), "{text}");
    // The caseworker's page says it too: the treasurer's words, and whom to call back
    // (the organisation already paid).
    let html = page(&f, &format!("/requests/{id}"), &f.worker).await;
    assert!(html.contains("id=\"declined\""), "{html}");
    assert!(html.contains("bought without calling"), "{html}");
    assert!(html.contains("Rappeler"), "{html}");
    assert!(html.contains("t1@example.org"), "{html}");
    // Declined once: the same receipt is not sent round again.
    let (s, e) = f
        .post(
            &format!("/api/v1/requests/{id}/receipt"),
            &f.worker,
            receipt("100.00"),
        )
        .await;
    assert_eq!(s, 409, "{e}");
    common::books::check(&f.app.db.db).await;
    f.app.stop().await;
}

/// A late receipt is paid from available under the floor's rule: refused, with what the
/// fund can use and its floor, when paying it would cross the floor or exceed available.
async fn a_late_receipt_that_would_cross_the_floor_is_refused(t: TestDb) {
    let mut f = funded(t, "1400.00").await;
    let r = hotel(&f, &f.worker, 2, "150.00").await;
    let id = r["id"].as_str().unwrap().to_string();
    past_the_holds(&mut f).await;
    // 1400.00 available again; a 450.00 stay approved by a treasurer holds most of what
    // is above the floor: 950.00 usable, 300.00 would take it to 650.00.
    let (s, case) = f
        .post("/api/v1/cases", &f.worker, json!({"province": "QC"}))
        .await;
    assert_eq!(s, 201);
    let (s, big) = f
        .post(
            "/api/v1/requests",
            &f.worker,
            json!({"case_code": case["code"], "category": "flight", "amount": "450.00",
                   "needed_by": f.today(), "reason": "safety", "travel_date": f.today(),
                   "origin": {"city": "Montréal", "province": "QC"},
                   "destination": {"city": "Vancouver", "province": "BC"}}),
        )
        .await;
    assert_eq!((s, big["status"].as_str()), (201, Some("pending")), "{big}");
    let big_id = big["id"].as_str().unwrap();
    let (s, v) = approve(&f, big_id, &f.treasurer).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("approved")), "{v}");
    enter_late(&f, &id, receipt("300.00")).await;
    let before = passage::ledger::fund_balance(&f.app.db.db).await.unwrap();
    let message = approval_refused(&f, &id, &f.second_treasurer).await;
    assert!(
        message.contains("reserve floor of 1000.00") && message.contains("950.00"),
        "{message}"
    );
    assert_eq!(
        passage::ledger::fund_balance(&f.app.db.db).await.unwrap(),
        before
    );
    // A donation later, it is paid.
    let donor = f.donor("Don Exemple", "don@example.org", "en").await;
    f.give(&donor, "400.00").await;
    let (s, v) = approve(&f, &id, &f.second_treasurer).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("settled")), "{v}");
    common::books::check(&f.app.db.db).await;
    f.app.stop().await;
}

/// A late receipt larger than what the fund holds at all is refused with that figure.
async fn a_late_receipt_larger_than_available_is_refused(t: TestDb) {
    let mut f = funded(t, "1300.00").await;
    let r = hotel(&f, &f.worker, 1, "200.00").await;
    let id = r["id"].as_str().unwrap().to_string();
    past_the_holds(&mut f).await;
    // Spend nearly everything on an approved flight.
    approved_flight(&f, "1250.00").await;
    enter_late(&f, &id, receipt("200.00")).await;
    let message = approval_refused(&f, &id, &f.treasurer).await;
    assert!(message.contains("holds only 50.00"), "{message}");
    common::books::check(&f.app.db.db).await;
    f.app.stop().await;
}

/// Twelve hours before a hold expires without a receipt, the organisation's caseworkers
/// get one reminder: not before, not twice (another sweep, another instance), and none for
/// a hold settled first.
async fn the_receipt_reminder_goes_once_twelve_hours_before_expiry(t: TestDb) {
    let f = funded(t, "5000.00").await;
    let org: String = {
        let db = &f.app.db.db;
        on_db!(db, p => sqlx::query_scalar("SELECT org_id FROM users WHERE email = 'cw@example.org'")
            .fetch_one(p)
            .await)
        .unwrap()
    };
    let colleague = f
        .app
        .seed_user("cw2@example.org", "caseworker", Some(&org))
        .await;
    let other_org = f.app.seed_org("Autre Exemple").await;
    f.app
        .seed_user("elsewhere@example.org", "caseworker", Some(&other_org))
        .await;
    let waiting = hotel(&f, &f.worker, 1, "100.00").await;
    let waiting_id = waiting["id"].as_str().unwrap().to_string();
    let settled = hotel(&f, &f.worker, 1, "90.00").await;
    let settled_id = settled["id"].as_str().unwrap().to_string();
    let (s, v) = f
        .post(
            &format!("/api/v1/requests/{settled_id}/receipt"),
            &f.worker,
            json!({"amount": "90.00", "reference": "RF-ON-TIME"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let sweep = |f: &Fund| {
        let state = f.app.state();
        async move { passage::app::sweep_once(&state).await.expect("a sweep") }
    };
    // 59 hours in: 13 hours left, nothing yet.
    f.app.clock.advance(Duration::hours(59));
    sweep(&f).await;
    assert!(mail_keys(&f.app, "hold-reminder:").await.is_empty());
    // 60 hours in: 12 hours left; both caseworkers of the organisation, nobody else.
    f.app.clock.advance(Duration::hours(1));
    sweep(&f).await;
    let sent = mail_keys(&f.app, "hold-reminder:").await;
    let cw = user_id(&f.app, "cw@example.org").await;
    let mut expected = vec![
        format!("hold-reminder:{waiting_id}:{cw}"),
        format!("hold-reminder:{waiting_id}:{colleague}"),
    ];
    expected.sort();
    assert_eq!(sent, expected);
    let (_, subject, text) = mail(&f.app, &expected[0]).await;
    assert!(
        subject.starts_with("Receipt still missing: Hotel"),
        "{subject}"
    );
    assert!(text.contains(&format!("/requests/{waiting_id}")), "{text}");
    // Later sweeps, here and on another instance of the same database, send nothing more.
    f.app.clock.advance(Duration::hours(2));
    sweep(&f).await;
    let second = f.app.db.second_instance().await;
    let more = passage::approval::notify::remind_holds_due(
        &second,
        f.app.clock.now(),
        "http://passage.example.org",
    )
    .await
    .expect("a second instance's sweep");
    assert_eq!(more, 0);
    assert_eq!(mail_keys(&f.app, "hold-reminder:").await.len(), 2);
    let reminded: i64 = {
        let db = &f.app.db.db;
        on_db!(db, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'request.remind_receipt'"
        )
        .fetch_one(p)
        .await)
        .unwrap()
    };
    assert_eq!(reminded, 1);
    f.app.stop().await;
}

/// The holds waiting for their receipts, oldest first, with what a treasurer needs to chase
/// them; settled and expired ones are gone from the list.
async fn the_holds_waiting_for_receipts_are_listed_oldest_first(t: TestDb) {
    let f = funded(t, "5000.00").await;
    let first = hotel(&f, &f.worker, 1, "101.00").await;
    f.app.clock.advance(Duration::minutes(5));
    let second = hotel(&f, &f.worker, 1, "102.00").await;
    f.app.clock.advance(Duration::minutes(5));
    let third = hotel(&f, &f.worker, 1, "103.00").await;
    let third_id = third["id"].as_str().unwrap();
    let (s, _) = f
        .post(
            &format!("/api/v1/requests/{third_id}/receipt"),
            &f.worker,
            json!({"amount": "103.00", "reference": "RF-PAID"}),
        )
        .await;
    assert_eq!(s, 200);
    let db = f.app.db.db.clone();
    let holds = passage::read_tx!(&db, |tx| -> Result<_, passage::store::StoreError> async {
        lifecycle::late::holds_waiting(tx).await
    })
    .expect("the list");
    let ids: Vec<&str> = holds.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            first["id"].as_str().unwrap(),
            second["id"].as_str().unwrap()
        ]
    );
    assert_eq!(holds[0].amount, 10_100);
    assert_eq!(holds[0].category, "hotel");
    assert_eq!(holds[0].org_name, "Coalition Exemple");
    assert_eq!(
        holds[0].expires_at,
        common::night() + Duration::hours(72),
        "{holds:?}"
    );
    f.app.stop().await;
}

/// A page of Passage as `token`'s user sees it (the session cookie holds the same token).
async fn page(f: &Fund, path: &str, token: &str) -> String {
    let r = f
        .app
        .http
        .get(f.app.url(path))
        .header("cookie", format!("passage_session={token}"))
        .send()
        .await
        .expect("the app answers");
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.expect("a page")
}

/// A request that waits for two treasurers, approved by both; its id.
async fn approved_by_both(f: &Fund, body: Value) -> String {
    let (s, r) = f.post("/api/v1/requests", &f.worker, body).await;
    assert_eq!((s, r["status"].as_str()), (201, Some("pending")), "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    for token in [&f.treasurer, &f.second_treasurer] {
        let (s, v) = approve(f, &id, token).await;
        assert_eq!(s, 200, "{v}");
    }
    id
}

/// A flight of `amount` (above `dual_approval_above`) for a new case, approved by both
/// treasurers; its id.
async fn approved_flight(f: &Fund, amount: &str) -> String {
    let (s, case) = f
        .post("/api/v1/cases", &f.worker, json!({"province": "QC"}))
        .await;
    assert_eq!(s, 201, "{case}");
    approved_by_both(
        f,
        json!({"case_code": case["code"], "category": "flight", "amount": amount,
               "needed_by": f.today(), "reason": "safety", "travel_date": f.today(),
               "origin": {"city": "Montréal", "province": "QC"},
               "destination": {"city": "Vancouver", "province": "BC"}}),
    )
    .await
}

/// Above `dual_approval_above` a late receipt takes two treasurers, as an approval does:
/// the on-call treasurer hears of it at once, the first approval pays nothing and shows
/// "waiting for a second treasurer" with no approve button, the same treasurer cannot
/// approve twice, nobody deciding within `escalate_after_minutes` tells every treasurer
/// (once), and the second treasurer's approval pays it. The treasurers who approved the
/// request may approve its late receipt: those are other approvals.
async fn a_late_receipt_above_the_dual_threshold_needs_two_treasurers(t: TestDb) {
    let mut f = funded(t, "5000.00").await;
    let id = approved_flight(&f, "1200.00").await;
    let [_, t1, t2] = f.ids.clone();
    passage::identity::users::set_on_call(
        &f.app.db.db,
        f.app.clock.now(),
        &passage::audit::Actor::cli(),
        &t1,
        true,
    )
    .await
    .unwrap();
    past_the_holds(&mut f).await;
    let (s, v) = f
        .post(
            &format!("/api/v1/requests/{id}/receipt"),
            &f.worker,
            json!({"amount": "1150.00", "reference": "RF-FLIGHT-2"}),
        )
        .await;
    assert_eq!(
        (
            s,
            v["status"].as_str(),
            v["approvals"].as_i64(),
            v["approvals_needed"].as_i64()
        ),
        (200, Some("receipt_pending"), Some(0), Some(2)),
        "{v}"
    );
    // The treasurer on call is told at once, the other one not yet.
    assert_eq!(
        mail_keys(&f.app, &format!("late:{id}:")).await,
        vec![format!("late:{id}:{t1}")]
    );
    let before = passage::ledger::fund_balance(&f.app.db.db).await.unwrap();

    // The first approval pays nothing: it waits for a second treasurer.
    let (s, v) = approve(&f, &id, &f.treasurer).await;
    assert_eq!(
        (s, v["status"].as_str(), v["approvals"].as_i64()),
        (200, Some("receipt_pending"), Some(1)),
        "{v}"
    );
    assert_eq!(
        passage::ledger::fund_balance(&f.app.db.db).await.unwrap(),
        before
    );
    assert!(
        mail_keys(&f.app, &format!("late-decision:{id}:"))
            .await
            .is_empty()
    );
    let (s, v) = f.get(&format!("/api/v1/requests/{id}"), &f.treasurer).await;
    assert_eq!(s, 200);
    assert_eq!(v["approved_by"][0]["id"], t1.as_str(), "{v}");
    for path in [format!("/requests/{id}"), "/queue".to_string()] {
        let html = page(&f, &path, &f.treasurer).await;
        assert!(
            html.contains("You approved; waiting for a second treasurer."),
            "{path}: {html}"
        );
        assert!(
            !html.contains(&format!("action=\"/requests/{id}/approve\"")),
            "{path} offers to approve again: {html}"
        );
    }
    // The second treasurer still sees the button.
    let html = page(&f, "/queue", &f.second_treasurer).await;
    assert!(
        html.contains(&format!("action=\"/requests/{id}/approve\"")),
        "{html}"
    );
    let (s, e) = approve(&f, &id, &f.treasurer).await;
    assert_eq!(s, 409, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("second, different treasurer"),
        "{e}"
    );

    // Nobody decides: after escalate_after_minutes every treasurer hears of it, once.
    f.app.clock.advance(Duration::minutes(19));
    passage::app::sweep_once(&f.app.state()).await.unwrap();
    assert!(
        mail_keys(&f.app, &format!("late-escalate:{id}:"))
            .await
            .is_empty()
    );
    f.app.clock.advance(Duration::minutes(1));
    passage::app::sweep_once(&f.app.state()).await.unwrap();
    passage::app::sweep_once(&f.app.state()).await.unwrap();
    let escalated = mail_keys(&f.app, &format!("late-escalate:{id}:")).await;
    let mut expected = vec![
        format!("late-escalate:{id}:{t1}"),
        format!("late-escalate:{id}:{t2}"),
    ];
    expected.sort();
    assert_eq!(escalated, expected);
    let (to, subject, text) = mail(&f.app, &format!("late-escalate:{id}:{t2}")).await;
    assert_eq!(to, "t2@example.org");
    assert!(subject.contains("Late receipt"), "{subject}");
    assert!(text.contains("$1,150.00"), "{text}");

    // The second treasurer pays it.
    let (s, v) = approve(&f, &id, &f.second_treasurer).await;
    assert_eq!(
        (s, v["status"].as_str(), v["spent"].as_str()),
        (200, Some("settled"), Some("1150.00")),
        "{v}"
    );
    let fund = passage::ledger::fund_balance(&f.app.db.db).await.unwrap();
    assert_eq!(fund.spent - before.spent, 115_000);
    assert_eq!(fund.available, before.available - 115_000);
    let cw = user_id(&f.app, "cw@example.org").await;
    mail(&f.app, &format!("late-decision:{id}:settled:{cw}")).await;
    let books = common::books::check(&f.app.db.db).await;
    assert_eq!(books.settled, 1);
    f.app.stop().await;
}

/// A late receipt is paid only from money open to its category, as an approval is: a gift
/// restricted to other categories does not pay it, one restricted to its category does,
/// and pays first.
async fn a_late_receipt_is_paid_only_from_money_open_to_its_category(t: TestDb) {
    let mut f = funded(t, "1500.00").await;
    let today = f.today();
    let gift = |categories: Value, amount: &str| json!({"amount": amount, "received_on": today, "restricted_to": categories});
    let donor = f.donor("Fonds Vols", "vols@example.org", "fr").await;
    let mut flights = gift(json!(["flight"]), "3000.00");
    flights["donor_id"] = json!(donor);
    let (s, b) = f.post("/api/v1/donations", &f.treasurer, flights).await;
    assert_eq!(s, 201, "{b}");
    // Four nights go past the hotel rule: a treasurer approves them.
    let (s, case) = f
        .post("/api/v1/cases", &f.worker, json!({"province": "QC"}))
        .await;
    assert_eq!(s, 201);
    let (s, stay) = f
        .post(
            "/api/v1/requests",
            &f.worker,
            json!({"case_code": case["code"], "category": "hotel", "nights": 4,
                   "nightly_rate": "100.00", "party_size": 1, "needed_by": f.today()}),
        )
        .await;
    assert_eq!(
        (s, stay["status"].as_str()),
        (201, Some("pending")),
        "{stay}"
    );
    let id = stay["id"].as_str().unwrap().to_string();
    let (s, v) = approve(&f, &id, &f.treasurer).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("approved")), "{v}");
    past_the_holds(&mut f).await;
    // 1300.00 of the unrestricted money goes to another request: 200.00 is left open to
    // hotels, while 3200.00 is available.
    approved_by_both(
        &f,
        json!({"case_code": case["code"], "category": "other", "amount": "1300.00",
               "needed_by": f.today()}),
    )
    .await;
    enter_late(
        &f,
        &id,
        json!({"amount": "400.00", "reference": "RF-NIGHTS-4"}),
    )
    .await;
    let message = approval_refused(&f, &id, &f.second_treasurer).await;
    assert!(message.contains("holds only 200.00"), "{message}");
    // A gift for hotels pays it, first.
    let mut hotels = gift(json!(["hotel"]), "1500.00");
    hotels["donor_id"] = json!(donor);
    let (s, b) = f.post("/api/v1/donations", &f.treasurer, hotels).await;
    assert_eq!(s, 201, "{b}");
    let (s, v) = approve(&f, &id, &f.second_treasurer).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("settled")), "{v}");
    let (s, fund) = f.get("/api/v1/fund", &f.treasurer).await;
    assert_eq!(s, 200);
    assert_eq!(fund["restricted"], "4100.00", "{fund}");
    common::books::check(&f.app.db.db).await;
    f.app.stop().await;
}

on_both_engines!(
    a_reserve_that_brings_usable_money_under_the_floor_alerts_treasurers,
    a_late_receipt_is_approved_by_another_treasurer_and_settles,
    a_declined_late_receipt_leaves_the_request_expired,
    a_late_receipt_that_would_cross_the_floor_is_refused,
    a_late_receipt_larger_than_available_is_refused,
    the_receipt_reminder_goes_once_twelve_hours_before_expiry,
    the_holds_waiting_for_receipts_are_listed_oldest_first,
    a_late_receipt_above_the_dual_threshold_needs_two_treasurers,
    a_late_receipt_is_paid_only_from_money_open_to_its_category,
);
