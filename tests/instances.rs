//! Two instances of the application on one database (PostgreSQL as a coalition runs it,
//! SQLite too), each with its own pool, clock, sweeper and mail worker, as two
//! `passage serve` processes would be, racing on the same requests: concurrent
//! submissions and approvals never overdraw the fund nor cross the reserve floor, a hold
//! is resolved once whether by a receipt, a cancel or either sweeper, each expiry happens
//! once, and each email arrives once.

mod common;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use common::smtp::{SmtpSink, free_port};
use common::{TestApp, TestDb, night, test_config_with, wait_until};
use passage::app::{AppState, Running, sweep_once};
use passage::clock::ManualClock;
use passage::mail;
use serde_json::{Value, json};

/// A second instance: its own pool on the same database, its own clock (a few
/// milliseconds apart, as two machines' clocks are), its own sweeper and mail worker.
struct Other {
    base: String,
    clock: ManualClock,
    state: AppState,
    running: Running,
}

async fn other_instance(app: &TestApp, smtp: &str) -> Other {
    let db = app.db.second_instance().await;
    let clock = ManualClock::new(night() + Duration::milliseconds(7));
    let config = Arc::new(test_config_with(
        &app.db.url,
        &[
            ("PASSAGE_SMTP_URL", smtp),
            ("PASSAGE_MAIL_INTERVAL_SECS", "1"),
            ("PASSAGE_SWEEP_INTERVAL_SECS", "1"),
        ],
    ));
    let state = AppState::new(db, Arc::new(clock.clone()), config);
    let running = Running::start(state.clone())
        .await
        .expect("the second instance starts");
    Other {
        base: format!("http://{}", running.addr),
        clock,
        state,
        running,
    }
}

async fn call(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    token: &str,
    key: Option<String>,
    body: Value,
) -> (u16, Value) {
    let mut r = http
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body);
    if let Some(key) = key {
        r = r.header("Idempotency-Key", key);
    }
    let res = r.send().await.expect("the instance answers");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn key() -> Option<String> {
    Some(uuid::Uuid::new_v4().to_string())
}

fn cents(v: &Value) -> i64 {
    let d: rust_decimal::Decimal = v.as_str().expect("an amount").parse().expect("a decimal");
    (d * rust_decimal::Decimal::ONE_HUNDRED).try_into().unwrap()
}

/// Waits until the instances' mail workers have sent everything, up to 30 s.
async fn drain_outbox(db: &passage::store::Db) {
    for _ in 0..300 {
        if mail::pending_count(db).await.unwrap() == 0 {
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    panic!("mail left unsent after 30 s");
}

async fn two_instances_race_on_approvals_receipts_and_expiries(t: TestDb) {
    let sink = SmtpSink::start(free_port()).await;
    let smtp = sink.url();
    let a = TestApp::spawn_with(
        t,
        &[
            ("PASSAGE_SMTP_URL", smtp.as_str()),
            ("PASSAGE_MAIL_INTERVAL_SECS", "1"),
            ("PASSAGE_SWEEP_INTERVAL_SECS", "1"),
        ],
    )
    .await;
    let b = other_instance(&a, &smtp).await;
    let bases = [a.base.clone(), b.base.clone()];
    let http = reqwest::Client::new();

    let org_a = a.seed_org("Refuge A").await;
    let org_b = a.seed_org("Refuge B").await;
    let cw_a = a
        .seed_user("cw.a@example.org", "caseworker", Some(&org_a))
        .await;
    let cw_b = a
        .seed_user("cw.b@example.org", "caseworker", Some(&org_b))
        .await;
    let mut treasurers = Vec::new();
    let mut treasurer_ids = Vec::new();
    for i in 0..3 {
        let id = a
            .seed_user(&format!("t{i}@example.org"), "treasurer", None)
            .await;
        treasurers.push(a.token_for(&id).await);
        treasurer_ids.push(id);
    }
    let caseworkers = [a.token_for(&cw_a).await, a.token_for(&cw_b).await];
    let tr = treasurers[0].clone();

    let (s, donor) = call(
        &http,
        &bases[0],
        "/api/v1/donors",
        &tr,
        None,
        json!({"name": "Fondation Exemple", "email": "dons@example.org", "language": "en"}),
    )
    .await;
    assert_eq!(s, 201, "{donor}");
    let (s, gift) = call(
        &http,
        &bases[1],
        "/api/v1/donations",
        &tr,
        key(),
        json!({"donor_id": donor["id"], "amount": "4000.00", "received_on": "2026-11-29"}),
    )
    .await;
    assert_eq!(s, 201, "{gift}");
    // Eight cases, so that no case reaches its automatic cap (1000.00 a week).
    let mut cases = Vec::new();
    for n in 0..8 {
        let (s, c) = call(
            &http,
            &bases[n % 2],
            "/api/v1/cases",
            &caseworkers[n % 2],
            None,
            json!({"province": "QC"}),
        )
        .await;
        assert_eq!(s, 201, "{c}");
        cases.push((n % 2, c["code"].as_str().unwrap().to_string()));
    }

    // 1. 40 meals of 100.00 and 10 urgent flights of 250.00 at once, half on each
    // instance. The fund has 4000.00 and a reserve floor of 1000.00: exactly 30 meals
    // are approved on the spot; the rest wait for a treasurer.
    let mut asks = Vec::new();
    for n in 0..50 {
        let (org, code) = cases[n % 8].clone();
        let body = if n < 40 {
            json!({"case_code": code, "category": "food", "amount": "100.00",
                   "needed_by": "2026-11-30", "urgent": false})
        } else {
            json!({"case_code": code, "category": "flight", "amount": "250.00",
                   "needed_by": "2026-11-30", "urgent": true, "reason": "safety",
                   "travel_date": "2026-11-30",
                   "origin": {"city": "Halifax", "province": "NS"},
                   "destination": {"city": "Vancouver", "province": "BC"}})
        };
        let (http, base, token) = (http.clone(), bases[n % 2].clone(), caseworkers[org].clone());
        asks.push(tokio::spawn(async move {
            call(&http, &base, "/api/v1/requests", &token, key(), body).await
        }));
    }
    let mut approved = Vec::new();
    let mut pending = Vec::new();
    for ask in asks {
        let (s, r) = ask.await.unwrap();
        assert_eq!(s, 201, "{r}");
        match r["status"].as_str() {
            Some("approved") => approved.push(r),
            Some("pending") => pending.push(r),
            _ => panic!("{r}"),
        }
    }
    assert_eq!(
        approved.len(),
        30,
        "automatic approvals stop at the reserve floor"
    );
    assert!(approved.iter().all(|r| r["category"] == "food"));
    assert_eq!(pending.len(), 20);

    // 2. Every waiting request approved by two treasurers at once, one on each instance:
    // each is approved once, and the 1000.00 left are never overspent.
    let mut approvals = Vec::new();
    for r in &pending {
        // Two treasurers on one instance (one clock) and a third on the other.
        let mut attempts = Vec::new();
        for (i, base) in [&bases[0], &bases[1], &bases[0]].into_iter().enumerate() {
            let (http, base, token) = (http.clone(), base.clone(), treasurers[i].clone());
            let path = format!("/api/v1/requests/{}/approve", r["id"].as_str().unwrap());
            attempts.push(tokio::spawn(async move {
                call(&http, &base, &path, &token, None, json!({})).await
            }));
        }
        approvals.push(attempts);
    }
    let mut won = 0;
    for attempts in approvals {
        let mut answers = Vec::new();
        for attempt in attempts {
            answers.push(attempt.await.unwrap());
        }
        let approved = answers.iter().filter(|(s, _)| *s == 200).count();
        assert!(approved <= 1, "approved twice: {answers:?}");
        assert!(
            answers.iter().all(|(s, _)| [200, 409].contains(s)),
            "{answers:?}"
        );
        won += approved as i64;
    }
    let (s, fund) = {
        let r = http
            .get(format!("{}/api/v1/fund", bases[1]))
            .bearer_auth(&tr)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(s, 200);
    assert!(cents(&fund["available"]) >= 0, "{fund}");
    let books = common::books::check(&a.db.db).await;
    assert_eq!(books.approved, 30 + won, "each approval counted once");
    assert_eq!(books.held, cents(&fund["held"]));
    assert!(books.held <= 400_000, "{fund}");
    assert!(
        won >= 4,
        "the 1000.00 under the floor buy at least four meals or flights: {fund}"
    );

    // 3. Each approved request settled on one instance and cancelled on the other at
    // the same moment: exactly one of them wins.
    let (s, list) = {
        let r = http
            .get(format!(
                "{}/api/v1/requests?status=approved&limit=200",
                bases[0]
            ))
            .bearer_auth(&tr)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["next"], Value::Null, "one page holds them all");
    let list = list["items"].as_array().unwrap().clone();
    let (raced, left) = list.split_at(list.len() / 2);
    let mut races = Vec::new();
    for r in raced {
        let id = r["id"].as_str().unwrap().to_string();
        let amount = cents(&r["amount"]) - 1;
        let org = usize::from(r["org_id"] != json!(org_a));
        let receipt = json!({"amount": format!("{}.{:02}", amount / 100, amount % 100),
                             "reference": "RM-1"});
        let (h1, h2) = (http.clone(), http.clone());
        let (b0, b1) = (bases[0].clone(), bases[1].clone());
        let (cw, t) = (caseworkers[org].clone(), treasurers[2].clone());
        let (p1, p2) = (
            format!("/api/v1/requests/{id}/receipt"),
            format!("/api/v1/requests/{id}/cancel"),
        );
        races.push(tokio::spawn(async move {
            let settle = call(&h1, &b0, &p1, &cw, key(), receipt);
            let cancel = call(&h2, &b1, &p2, &t, None, json!({}));
            tokio::join!(settle, cancel)
        }));
    }
    for race in races {
        let ((s1, r1), (s2, r2)) = race.await.unwrap();
        assert!(
            (s1 == 200) ^ (s2 == 200) && [s1, s2].contains(&409),
            "receipt {s1} {r1}, cancel {s2} {r2}"
        );
    }
    common::books::check(&a.db.db).await;

    // 4. 73 hours later: both instances' sweepers (on their schedule, and by hand many
    // times at once) race with receipts and cancels of the rest. Each hold is resolved
    // once, each expiry happens once.
    // The mail of the night goes out first: a mail worker's claim is a lease of ten
    // minutes of its instance's clock, and a clock that jumps 73 hours while a message
    // is being sent would let the other instance send it again (see docs/mail.md, "The
    // duplicate window").
    drain_outbox(&a.db.db).await;
    a.clock.advance(Duration::hours(73));
    b.clock.advance(Duration::hours(73));
    // Tokens last 12 hours: sign the treasurer in again.
    let late_treasurer = a.token_for(&treasurer_ids[1]).await;
    let mut sweeps = Vec::new();
    for i in 0..8 {
        let state = if i % 2 == 0 {
            a.state()
        } else {
            b.state.clone()
        };
        sweeps.push(tokio::spawn(async move { sweep_once(&state).await }));
    }
    let mut late = Vec::new();
    for r in left {
        let id = r["id"].as_str().unwrap().to_string();
        let (http, base, t) = (http.clone(), bases[1].clone(), late_treasurer.clone());
        late.push(tokio::spawn(async move {
            call(
                &http,
                &base,
                &format!("/api/v1/requests/{id}/cancel"),
                &t,
                None,
                json!({}),
            )
            .await
        }));
    }
    let mut expired_by_sweeps = 0;
    for s in sweeps {
        expired_by_sweeps += s.await.unwrap().expect("a sweep");
    }
    let mut cancelled_late = 0;
    for l in late {
        let (s, r) = l.await.unwrap();
        match s {
            200 => cancelled_late += 1,
            409 => {}
            _ => panic!("a late cancel answered {s}: {r}"),
        }
    }
    // The sweeps above expired every hold whose time had passed; the instances' own
    // sweepers (every second) may still be finishing a round: wait for the books to show
    // no hold left, with a deadline, instead of guessing how long a round takes.
    let db = a.db.db.clone();
    wait_until("every hold to be expired or settled", async || {
        let books = common::books::check(&db).await;
        books.approved == 0 && books.held == 0
    })
    .await;
    let books = common::books::check(&a.db.db).await;
    assert_eq!(books.approved, 0, "no hold outlives its time");
    assert_eq!(books.held, 0);
    let count = |sql: &'static str| {
        let db = a.db.db.clone();
        async move {
            let n: i64 =
                passage::on_db!(&db, p => sqlx::query_scalar(sql).fetch_one(p).await).unwrap();
            n
        }
    };
    let expired = count("SELECT COUNT(*) FROM requests WHERE status = 'expired'").await;
    assert_eq!(expired + cancelled_late, left.len() as i64);
    assert!(expired_by_sweeps as i64 <= expired);
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_events WHERE action = 'request.expire'").await,
        expired,
        "one expiry event per expired request"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM transfers WHERE kind = 'expire'").await,
        expired,
        "one expiry transfer per expired hold"
    );

    // 5. Every email the two mail workers sent arrived once.
    for _ in 0..300 {
        if mail::pending_count(&a.db.db).await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    assert_eq!(
        mail::pending_count(&a.db.db).await.unwrap(),
        0,
        "mail left unsent"
    );
    let entries = mail::entries(&a.db.db).await.unwrap();
    assert!(
        entries.len() >= 20,
        "urgent flights and decisions mail people"
    );
    let mut ids: Vec<String> = sink
        .received()
        .iter()
        .filter_map(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("Message-ID: ").map(str::to_string))
        })
        .collect();
    ids.sort();
    let total = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), total, "an email arrived twice");
    assert_eq!(total, entries.len(), "each outbox row arrived once");

    b.running.stop().await.expect("the second instance stops");
    b.state.db.close().await;
    a.stop().await;
    sink.stop().await;
}

on_both_engines!(two_instances_race_on_approvals_receipts_and_expiries);

/// The deadlocks PostgreSQL has counted in this test's database. A backend adds its
/// count to the database's when its transaction ends or it exits, so every other
/// connection to the database is ended first (the pools are closed by then; a pool may
/// still be dropping a connection in the background) and the count is read after they
/// are gone.
async fn deadlocks(url: &str) -> i64 {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
    let others =
        "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()";
    let deadline = std::time::Instant::now() + StdDuration::from_secs(60);
    loop {
        let left: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {others}"))
            .fetch_one(&mut c)
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        sqlx::query(&format!("SELECT pg_terminate_backend(pid) {others}"))
            .execute(&mut c)
            .await
            .unwrap();
        assert!(
            std::time::Instant::now() < deadline,
            "{left} connections to the test database did not end"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    let n: i64 = sqlx::query_scalar(
        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    let _ = c.close().await;
    n
}

/// Makes one deadlock on purpose between two connections of the test's own, so that the
/// test knows the counter it reads moves (otherwise "no deadlock" could mean "not yet
/// counted").
async fn one_deadlock_on_purpose(url: &str) {
    use sqlx::Connection;
    let mut setup = sqlx::PgConnection::connect(url).await.expect("connect");
    sqlx::query("CREATE TABLE deadlock_probe (id INT PRIMARY KEY, n INT NOT NULL)")
        .execute(&mut setup)
        .await
        .unwrap();
    sqlx::query("INSERT INTO deadlock_probe VALUES (1, 0), (2, 0)")
        .execute(&mut setup)
        .await
        .unwrap();
    let _ = setup.close().await;
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let mut sides = Vec::new();
    for (first, second) in [(1, 2), (2, 1)] {
        let (url, barrier) = (url.to_string(), barrier.clone());
        sides.push(tokio::spawn(async move {
            let mut c = sqlx::PgConnection::connect(&url).await.expect("connect");
            let mut tx = c.begin().await.unwrap();
            sqlx::query("UPDATE deadlock_probe SET n = n + 1 WHERE id = $1")
                .bind(first)
                .execute(&mut *tx)
                .await
                .unwrap();
            barrier.wait().await;
            let second = sqlx::query("UPDATE deadlock_probe SET n = n + 1 WHERE id = $1")
                .bind(second)
                .execute(&mut *tx)
                .await;
            match second {
                Ok(_) => tx.commit().await.is_ok(),
                Err(_) => false,
            }
        }));
    }
    let mut committed = 0;
    for side in sides {
        committed += usize::from(side.await.unwrap());
    }
    assert_eq!(
        committed, 1,
        "PostgreSQL breaks the deadlock by failing one side"
    );
}

/// Two instances act on one case at the same moment in every way the night allows:
/// submissions, two treasurers' approvals, receipts against cancels, and both sweepers
/// against late cancels. Every path takes its locks in one order (the request, then its
/// case, then the hold and the fund's accounts, the audit chain's head last), so no
/// transaction ever waits for PostgreSQL's `deadlock_timeout` (a whole second) to be
/// chosen as a victim and retried: the database counts no deadlock but the one the test
/// makes on purpose.
async fn two_instances_on_one_case_never_deadlock(t: TestDb) {
    let url = t.url.clone();
    one_deadlock_on_purpose(&url).await;
    let sink = SmtpSink::start(free_port()).await;
    let smtp = sink.url();
    let a = TestApp::spawn_with(
        t,
        &[
            ("PASSAGE_SMTP_URL", smtp.as_str()),
            ("PASSAGE_MAIL_INTERVAL_SECS", "1"),
            ("PASSAGE_SWEEP_INTERVAL_SECS", "1"),
        ],
    )
    .await;
    let b = other_instance(&a, &smtp).await;
    let bases = [a.base.clone(), b.base.clone()];
    let http = reqwest::Client::new();
    let org = a.seed_org("Refuge A").await;
    let cw = a
        .seed_user("cw@example.org", "caseworker", Some(&org))
        .await;
    let cw = a.token_for(&cw).await;
    let mut treasurers = Vec::new();
    for i in 0..3 {
        let id = a
            .seed_user(&format!("t{i}@example.org"), "treasurer", None)
            .await;
        treasurers.push(a.token_for(&id).await);
    }
    let (s, donor) = call(
        &http,
        &bases[0],
        "/api/v1/donors",
        &treasurers[0],
        None,
        json!({"name": "Fondation Exemple", "email": "dons@example.org", "language": "en"}),
    )
    .await;
    assert_eq!(s, 201, "{donor}");
    let (s, gift) = call(
        &http,
        &bases[1],
        "/api/v1/donations",
        &treasurers[0],
        key(),
        json!({"donor_id": donor["id"], "amount": "20000.00", "received_on": "2026-11-29"}),
    )
    .await;
    assert_eq!(s, 201, "{gift}");
    let (s, case) = call(
        &http,
        &bases[0],
        "/api/v1/cases",
        &cw,
        None,
        json!({"province": "QC"}),
    )
    .await;
    assert_eq!(s, 201, "{case}");
    let code = case["code"].as_str().unwrap().to_string();

    // 1. Forty requests on the one case at once, half on each instance: small meals the
    // rules approve until the case's weekly cap, urgent flights that wait.
    let mut asks = Vec::new();
    for n in 0..40 {
        let body = if n % 4 == 3 {
            json!({"case_code": code, "category": "flight", "amount": "250.00",
                   "needed_by": "2026-11-30", "urgent": true, "reason": "safety",
                   "travel_date": "2026-11-30",
                   "origin": {"city": "Halifax", "province": "NS"},
                   "destination": {"city": "Vancouver", "province": "BC"}})
        } else {
            json!({"case_code": code, "category": "food", "amount": "40.00",
                   "needed_by": "2026-11-30", "urgent": false})
        };
        let (http, base, token) = (http.clone(), bases[n % 2].clone(), cw.clone());
        asks.push(tokio::spawn(async move {
            call(&http, &base, "/api/v1/requests", &token, key(), body).await
        }));
    }
    let mut approved = Vec::new();
    let mut pending = Vec::new();
    for ask in asks {
        let (s, r) = ask.await.unwrap();
        assert_eq!(s, 201, "{r}");
        let id = r["id"].as_str().unwrap().to_string();
        match r["status"].as_str() {
            Some("approved") => approved.push((id, cents(&r["amount"]))),
            Some("pending") => pending.push(id),
            _ => panic!("{r}"),
        }
    }
    assert!(!approved.is_empty() && !pending.is_empty());

    // 2. All at once, on the one case: every waiting request approved by treasurers on
    // both instances, every approved one settled on one instance and cancelled on the
    // other, and both instances' sweepers.
    let mut acts = Vec::new();
    for id in &pending {
        for (i, base) in [&bases[0], &bases[1]].into_iter().enumerate() {
            let (http, base, token) = (http.clone(), base.clone(), treasurers[i].clone());
            let path = format!("/api/v1/requests/{id}/approve");
            acts.push(tokio::spawn(async move {
                call(&http, &base, &path, &token, None, json!({})).await
            }));
        }
    }
    for (id, amount) in &approved {
        let amount = amount - 1;
        let receipt = json!({"amount": format!("{}.{:02}", amount / 100, amount % 100),
                             "reference": "RM-1"});
        let (http1, base, token) = (http.clone(), bases[0].clone(), cw.clone());
        let path = format!("/api/v1/requests/{id}/receipt");
        acts.push(tokio::spawn(async move {
            call(&http1, &base, &path, &token, key(), receipt).await
        }));
        let (http2, base, token) = (http.clone(), bases[1].clone(), treasurers[2].clone());
        let path = format!("/api/v1/requests/{id}/cancel");
        acts.push(tokio::spawn(async move {
            call(&http2, &base, &path, &token, None, json!({})).await
        }));
    }
    let mut sweeps = Vec::new();
    for i in 0..4 {
        let state = if i % 2 == 0 {
            a.state()
        } else {
            b.state.clone()
        };
        sweeps.push(tokio::spawn(async move { sweep_once(&state).await }));
    }
    for act in acts {
        let (s, r) = act.await.unwrap();
        assert!([200, 409].contains(&s), "{s} {r}");
    }
    for s in sweeps {
        s.await.unwrap().expect("a sweep");
    }
    common::books::check(&a.db.db).await;

    // 3. Three days later: both sweepers, many times at once, against late cancels of
    // what is still approved.
    drain_outbox(&a.db.db).await;
    a.clock.advance(Duration::hours(73));
    b.clock.advance(Duration::hours(73));
    let late_treasurer = a
        .token_for(&a.seed_user("t-late@example.org", "treasurer", None).await)
        .await;
    let (s, list) = {
        let r = http
            .get(format!(
                "{}/api/v1/requests?status=approved&limit=200",
                bases[0]
            ))
            .bearer_auth(&late_treasurer)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["next"], Value::Null, "one page holds them all");
    let mut late = Vec::new();
    for (n, r) in list["items"].as_array().unwrap().iter().enumerate() {
        let id = r["id"].as_str().unwrap().to_string();
        let (http, base, t) = (http.clone(), bases[n % 2].clone(), late_treasurer.clone());
        late.push(tokio::spawn(async move {
            call(
                &http,
                &base,
                &format!("/api/v1/requests/{id}/cancel"),
                &t,
                None,
                json!({}),
            )
            .await
        }));
    }
    let mut sweeps = Vec::new();
    for i in 0..8 {
        let state = if i % 2 == 0 {
            a.state()
        } else {
            b.state.clone()
        };
        sweeps.push(tokio::spawn(async move { sweep_once(&state).await }));
    }
    for l in late {
        let (s, r) = l.await.unwrap();
        assert!([200, 409].contains(&s), "a late cancel answered {s}: {r}");
    }
    for s in sweeps {
        s.await.unwrap().expect("a sweep");
    }
    let books = common::books::check(&a.db.db).await;
    assert_eq!(books.held, 0, "every hold was resolved once");

    drain_outbox(&a.db.db).await;
    b.running.stop().await.expect("the second instance stops");
    b.state.db.close().await;
    // The database outlives the app until the count is read.
    let db = a.stop_keeping_db().await;
    db.db.close().await;
    sink.stop().await;
    assert_eq!(
        deadlocks(&url).await,
        1,
        "only the deadlock made on purpose: the paths above took their locks in \
         different orders (the server's log names the statements)"
    );
    drop(db);
}

/// Deadlocks are PostgreSQL's: SQLite has one writer at a time.
mod postgres_only {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_instances_on_one_case_never_deadlock() {
        if let Some(db) = crate::common::TestDb::postgres().await {
            super::two_instances_on_one_case_never_deadlock(db).await
        }
    }
}
