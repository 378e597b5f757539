//! The second factor (TOTP and recovery codes) and sessions, through the real HTTP API on
//! both engines: enrolment, the two steps of signing in, codes that work once, guessing
//! throttled, treasurers and admins made to enrol, the secret sealed, sessions listed and
//! ended, last-seen written by the flush only.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{PASSWORD, TestApp, TestDb};
use passage::clock::Clock;
use serde_json::{Value, json};

/// Required, as a real fund runs (the harness makes it optional for the other tests).
const REQUIRED: (&str, &str) = ("PASSAGE_SECOND_FACTOR", "required");

/// The code an authenticator app shows at `at` for a base32 secret: computed here with
/// the same crate, from the secret the API answered.
fn code(secret: &str, at: DateTime<Utc>) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_string())
        .to_bytes()
        .expect("a base32 secret");
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

async fn login(app: &TestApp, email: &str, user_agent: &str) -> (u16, Value) {
    let r = app
        .post("/api/v1/auth/login", None)
        .header("user-agent", user_agent)
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn second_step(app: &TestApp, challenge: &str, code: &str) -> (u16, Value) {
    let r = app
        .post("/api/v1/auth/second-factor", None)
        .json(&json!({"challenge": challenge, "code": code}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn status(r: reqwest::RequestBuilder) -> (u16, Value) {
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Enrols the holder of `token`: answers the secret and the recovery codes.
async fn enrol(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let (s, body) = status(app.post("/api/v1/auth/totp", Some(token))).await;
    assert_eq!(s, 200, "{body}");
    let secret = body["secret"].as_str().unwrap().to_string();
    let codes: Vec<String> = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let (s, body) = status(
        app.post("/api/v1/auth/totp/confirm", Some(token))
            .json(&json!({"code": code(&secret, app.clock.now())})),
    )
    .await;
    assert_eq!(s, 204, "{body}");
    (secret, codes)
}

async fn audit_details(app: &TestApp, action: &str) -> Vec<String> {
    passage::on_db!(&app.db.db, p => sqlx::query_scalar::<_, String>(
        "SELECT content FROM audit_events WHERE action = $1 ORDER BY seq"
    )
    .bind(action)
    .fetch_all(p)
    .await)
    .unwrap()
}

async fn a_treasurer_enrols_and_signs_in_with_a_code_that_works_once(t: TestDb) {
    let app = TestApp::spawn_with(t, &[REQUIRED]).await;
    app.seed_user("tr@example.org", "treasurer", None).await;
    let (s, body) = login(&app, "tr@example.org", "curl/8.5").await;
    assert_eq!(s, 200);
    let token = body["token"]
        .as_str()
        .expect("no factor yet: a token")
        .to_string();

    // Until enrolled, the token opens nothing but enrolment and signing out.
    let (s, body) = status(app.get("/api/v1/fund", Some(&token))).await;
    assert_eq!(s, 403, "{body}");
    assert_eq!(body["error"]["code"], "second_factor_enrolment_required");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/api/v1/auth/totp")
    );
    let (s, _) = status(app.get("/api/v1/auth/sessions", Some(&token))).await;
    assert_eq!(s, 403);

    let (s, started) = status(app.post("/api/v1/auth/totp", Some(&token))).await;
    assert_eq!(s, 200, "{started}");
    let secret = started["secret"].as_str().unwrap().to_string();
    let uri = started["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Passage:"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert_eq!(started["recovery_codes"].as_array().unwrap().len(), 10);

    let (s, body) = status(
        app.post("/api/v1/auth/totp/confirm", Some(&token))
            .json(&json!({"code": "000000"})),
    )
    .await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["error"]["field"], "code");
    let now_code = code(&secret, app.clock.now());
    let (s, _) = status(
        app.post("/api/v1/auth/totp/confirm", Some(&token))
            .json(&json!({"code": now_code})),
    )
    .await;
    assert_eq!(s, 204);
    // The same token now opens the fund.
    assert_eq!(status(app.get("/api/v1/fund", Some(&token))).await.0, 200);
    // Enrolled: starting again is refused (an admin resets a factor).
    assert_eq!(
        status(app.post("/api/v1/auth/totp", Some(&token))).await.0,
        409
    );

    // Signing in now takes two steps.
    let (s, body) = login(&app, "tr@example.org", "curl/8.5").await;
    assert_eq!(s, 200);
    assert_eq!(body["second_factor_required"], true, "{body}");
    assert!(body.get("token").is_none(), "{body}");
    let challenge = body["challenge"].as_str().unwrap().to_string();
    // The code used to confirm is used up, even within its 30 seconds.
    let (s, body) = second_step(&app, &challenge, &now_code).await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["error"]["field"], "code");
    app.clock.advance(Duration::seconds(30));
    let next = code(&secret, app.clock.now());
    let (s, body) = second_step(&app, &challenge, &next).await;
    assert_eq!(s, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    assert_eq!(body["user"]["roles"], json!(["treasurer"]));
    assert_eq!(status(app.get("/api/v1/fund", Some(&token))).await.0, 200);

    // The challenge worked once; the code too, with a fresh challenge.
    let (s, body) = second_step(&app, &challenge, &next).await;
    assert_eq!(
        (s, body["error"]["field"].clone()),
        (422, json!("challenge"))
    );
    let (_, body) = login(&app, "tr@example.org", "curl/8.5").await;
    let fresh = body["challenge"].as_str().unwrap().to_string();
    assert_eq!(second_step(&app, &fresh, &next).await.0, 422);

    // Audited without the secret or a code.
    let enrolled = audit_details(&app, "user.second_factor_enrolled").await;
    assert_eq!(enrolled.len(), 1);
    let failed = audit_details(&app, "user.second_factor_failed").await;
    assert_eq!(failed.len(), 3, "{failed:?}");
    let all: Vec<String> = passage::on_db!(&app.db.db, p => sqlx::query_scalar::<_, String>(
        "SELECT content FROM audit_events"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    let all = all.join(" ");
    for secretish in [secret.as_str(), now_code.as_str(), next.as_str()] {
        assert!(!all.contains(secretish), "the audit holds {secretish}");
    }
    app.stop().await;
}

async fn a_challenge_is_no_bearer_token_and_expires(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let id = app.seed_user("cw@example.org", "admin", None).await;
    let token = app.token_for(&id).await;
    let (secret, _) = enrol(&app, &token).await;
    let (_, body) = login(&app, "cw@example.org", "curl/8.5").await;
    let challenge = body["challenge"].as_str().unwrap().to_string();
    // The challenge opens nothing as a token.
    for path in ["/api/v1/users", "/api/v1/auth/sessions"] {
        let (s, _) = status(app.get(path, Some(&challenge))).await;
        assert_eq!(s, 401, "{path}");
    }
    assert_eq!(
        status(app.post("/api/v1/auth/totp", Some(&challenge)))
            .await
            .0,
        401
    );
    // Five minutes, then gone.
    app.clock
        .advance(Duration::minutes(5) + Duration::seconds(1));
    let (s, body) = second_step(&app, &challenge, &code(&secret, app.clock.now())).await;
    assert_eq!(
        (s, body["error"]["field"].clone()),
        (422, json!("challenge"))
    );
    // A made-up challenge neither.
    let (s, _) = second_step(&app, "not-a-challenge", "123456").await;
    assert_eq!(s, 422);
    app.stop().await;
}

async fn a_recovery_code_works_once(t: TestDb) {
    let app = TestApp::spawn_with(t, &[REQUIRED]).await;
    let id = app.seed_user("tr@example.org", "treasurer", None).await;
    let token = app.token_for(&id).await;
    let (_, codes) = enrol(&app, &token).await;
    let (_, body) = login(&app, "tr@example.org", "curl/8.5").await;
    let challenge = body["challenge"].as_str().unwrap().to_string();
    // Typed as people type it: lower case, spaces for dashes.
    let typed = codes[3].to_lowercase().replace('-', " ");
    let (s, body) = second_step(&app, &challenge, &typed).await;
    assert_eq!(s, 200, "{body}");
    assert!(body["token"].is_string());
    let (_, body) = login(&app, "tr@example.org", "curl/8.5").await;
    let challenge = body["challenge"].as_str().unwrap().to_string();
    let (s, body) = second_step(&app, &challenge, &codes[3]).await;
    assert_eq!((s, body["error"]["field"].clone()), (422, json!("code")));
    let (s, _) = second_step(&app, &challenge, &codes[4]).await;
    assert_eq!(s, 200);
    assert_eq!(
        audit_details(&app, "user.recovery_code_used").await.len(),
        2
    );
    app.stop().await;
}

async fn guessing_codes_is_throttled_like_sign_in(t: TestDb) {
    let app = TestApp::spawn_with(t, &[REQUIRED]).await;
    let id = app.seed_user("tr@example.org", "treasurer", None).await;
    let token = app.token_for(&id).await;
    let (secret, _) = enrol(&app, &token).await;
    app.clock.advance(Duration::seconds(30));
    let (_, body) = login(&app, "tr@example.org", "curl/8.5").await;
    let challenge = body["challenge"].as_str().unwrap().to_string();
    let right = code(&secret, app.clock.now());
    let wrong = if right == "111111" {
        "222222"
    } else {
        "111111"
    };
    let limit = app.config.login_max_failures;
    for n in 0..limit {
        assert_eq!(
            second_step(&app, &challenge, wrong).await.0,
            422,
            "guess {n}"
        );
    }
    // Past the limit, even the right code waits.
    let r = app
        .post("/api/v1/auth/second-factor", None)
        .json(&json!({"challenge": challenge, "code": right}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    // Signing in again does not start the count afresh: the limit is the account's.
    let (_, body) = login(&app, "tr@example.org", "curl/8.5").await;
    let again = body["challenge"].as_str().unwrap().to_string();
    assert_eq!(second_step(&app, &again, &right).await.0, 429);
    // Once the window has passed, the right code works.
    app.clock
        .advance(Duration::seconds(app.config.login_window_secs as i64 + 1));
    let (_, body) = login(&app, "tr@example.org", "curl/8.5").await;
    let later = body["challenge"].as_str().unwrap().to_string();
    let (s, body) = second_step(&app, &later, &code(&secret, app.clock.now())).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        audit_details(&app, "user.second_factor_failed").await.len(),
        limit as usize
    );
    app.stop().await;
}

async fn only_treasurers_and_admins_must_enrol_and_optional_lifts_it(t: TestDb) {
    let app = TestApp::spawn_with(t, &[REQUIRED]).await;
    let org = app.seed_org("Shelter A").await;
    let cw = app
        .seed_user("cw@example.org", "caseworker", Some(&org))
        .await;
    let admin = app.seed_user("admin@example.org", "admin", None).await;
    let both = app
        .seed_user("both@example.org", "caseworker,treasurer", Some(&org))
        .await;
    let cw_token = app.token_for(&cw).await;
    assert_eq!(
        status(app.get("/api/v1/requests", Some(&cw_token))).await.0,
        200
    );
    assert_eq!(
        status(app.get("/api/v1/auth/sessions", Some(&cw_token)))
            .await
            .0,
        200
    );
    let admin_token = app.token_for(&admin).await;
    let (s, body) = status(app.get("/api/v1/users", Some(&admin_token))).await;
    assert_eq!(
        (s, body["error"]["code"].clone()),
        (403, json!("second_factor_enrolment_required"))
    );
    let both_token = app.token_for(&both).await;
    assert_eq!(
        status(app.get("/api/v1/requests", Some(&both_token)))
            .await
            .0,
        403
    );
    // Signing out is always open.
    assert_eq!(
        status(app.post("/api/v1/auth/logout", Some(&admin_token)))
            .await
            .0,
        204
    );
    // A caseworker may enrol, and is then asked for a code.
    let (secret, _) = enrol(&app, &cw_token).await;
    let (_, body) = login(&app, "cw@example.org", "curl/8.5").await;
    assert_eq!(body["second_factor_required"], true);
    app.clock.advance(Duration::seconds(30));
    let (s, _) = second_step(
        &app,
        body["challenge"].as_str().unwrap(),
        &code(&secret, app.clock.now()),
    )
    .await;
    assert_eq!(s, 200);
    app.stop().await;

    // `optional`: nobody must.
    let t = TestDb::sqlite().await;
    let app = TestApp::spawn(t).await;
    let admin = app.seed_user("admin@example.org", "admin", None).await;
    let token = app.token_for(&admin).await;
    assert_eq!(status(app.get("/api/v1/users", Some(&token))).await.0, 200);
    app.stop().await;
}

async fn the_secret_is_sealed_when_the_instance_has_a_key(t: TestDb) {
    let key = (
        "PASSAGE_TOTP_KEY",
        "a-test-key-of-at-least-thirty-two-bytes!",
    );
    let app = TestApp::spawn_with(t, &[key]).await;
    let id = app.seed_user("tr@example.org", "treasurer", None).await;
    let token = app.token_for(&id).await;
    let (secret, codes) = enrol(&app, &token).await;
    let stored: String = passage::on_db!(&app.db.db, p => sqlx::query_scalar(
        "SELECT secret FROM second_factors WHERE user_id = $1"
    )
    .bind(&id)
    .fetch_one(p)
    .await)
    .unwrap();
    assert!(stored.starts_with("sealed:"), "{stored}");
    let raw = totp_rs::Secret::Encoded(secret.clone()).to_bytes().unwrap();
    assert!(!stored.contains(&hex::encode(&raw)));
    assert!(!stored.to_uppercase().contains(&secret));
    // Recovery codes are kept only as hashes.
    let hashes: Vec<String> = passage::on_db!(&app.db.db, p => sqlx::query_scalar(
        "SELECT code_hash FROM recovery_codes WHERE user_id = $1"
    )
    .bind(&id)
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(hashes.len(), 10);
    for c in &codes {
        let plain = c.replace('-', "");
        assert!(hashes.iter().all(|h| !h.contains(&plain)));
    }
    // The same key signs in.
    app.clock.advance(Duration::seconds(30));
    let (_, body) = login(&app, "tr@example.org", "curl/8.5").await;
    let (s, _) = second_step(
        &app,
        body["challenge"].as_str().unwrap(),
        &code(&secret, app.clock.now()),
    )
    .await;
    assert_eq!(s, 200);
    // A server without the key cannot read the secret: it says so, it does not guess.
    let db = app.stop_keeping_db().await;
    let app = TestApp::spawn(db).await;
    app.clock.advance(Duration::seconds(60));
    let (_, body) = login(&app, "tr@example.org", "curl/8.5").await;
    let (s, body) = second_step(
        &app,
        body["challenge"].as_str().unwrap(),
        &code(&secret, app.clock.now()),
    )
    .await;
    assert_eq!(s, 503, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("PASSAGE_TOTP_KEY")
    );
    app.stop().await;
}

async fn sessions_are_listed_and_ended_at_once(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let id = app.seed_user("cw@example.org", "treasurer", None).await;
    let admin = app.seed_user("admin@example.org", "admin", None).await;
    let phone = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36";
    let laptop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0";
    let (_, a) = login(&app, "cw@example.org", phone).await;
    let a = a["token"].as_str().unwrap().to_string();
    app.clock.advance(Duration::minutes(5));
    let (_, b) = login(&app, "cw@example.org", laptop).await;
    let b = b["token"].as_str().unwrap().to_string();
    let (s, list) = status(app.get("/api/v1/auth/sessions", Some(&b))).await;
    assert_eq!(s, 200, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    assert_eq!(items[0]["device"], "Firefox on Windows");
    assert_eq!(items[0]["current"], true);
    assert_eq!(items[1]["device"], "Chrome on Android");
    assert_eq!(items[1]["current"], false);
    assert_eq!(items[1]["address"], "127.0.0.1");
    assert!(items[1]["first_seen"].is_string() && items[1]["last_seen"].is_string());
    let phone_session = items[1]["id"].as_str().unwrap().to_string();

    // Ending the phone's session refuses its token at once.
    let r = app
        .http
        .delete(app.url(&format!("/api/v1/auth/sessions/{phone_session}")))
        .bearer_auth(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(status(app.get("/api/v1/fund", Some(&a))).await.0, 401);
    // Not twice, and never another user's.
    let again = app
        .http
        .delete(app.url(&format!("/api/v1/auth/sessions/{phone_session}")))
        .bearer_auth(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    let admin_token = app.token_for(&admin).await;
    let admin_list: Value = app
        .get("/api/v1/auth/sessions", Some(&admin_token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admins_own = admin_list["items"][0]["id"].as_str().unwrap().to_string();
    let foreign = app
        .http
        .delete(app.url(&format!("/api/v1/auth/sessions/{admins_own}")))
        .bearer_auth(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 404);
    assert_eq!(
        status(app.get("/api/v1/users", Some(&admin_token))).await.0,
        200
    );

    // "End all others" keeps this one.
    let (_, c) = login(&app, "cw@example.org", "curl/8.5").await;
    let c = c["token"].as_str().unwrap().to_string();
    let r = app
        .http
        .delete(app.url("/api/v1/auth/sessions"))
        .bearer_auth(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["ended"], 1);
    assert_eq!(status(app.get("/api/v1/fund", Some(&c))).await.0, 401);
    assert_eq!(status(app.get("/api/v1/fund", Some(&b))).await.0, 200);

    // An admin ends all of a user's sessions.
    let r = app
        .http
        .delete(app.url(&format!("/api/v1/users/{id}/sessions")))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(status(app.get("/api/v1/fund", Some(&b))).await.0, 401);
    let unknown = app
        .http
        .delete(app.url("/api/v1/users/nobody/sessions"))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    // Signing out ends the session too: it leaves the list.
    let (_, d) = login(&app, "cw@example.org", "curl/8.5").await;
    let d = d["token"].as_str().unwrap().to_string();
    let (_, e) = login(&app, "cw@example.org", "curl/8.5").await;
    let e = e["token"].as_str().unwrap().to_string();
    assert_eq!(
        status(app.post("/api/v1/auth/logout", Some(&d))).await.0,
        204
    );
    let (_, list) = status(app.get("/api/v1/auth/sessions", Some(&e))).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");

    let ended = audit_details(&app, "session.end").await;
    assert_eq!(ended.len(), 3, "{ended:?}");
    assert!(ended.iter().any(|d| d.contains("by_admin")));
    app.stop().await;
}

async fn last_seen_is_written_by_the_flush_not_by_requests(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let id = app.seed_user("tr@example.org", "treasurer", None).await;
    let token = app.token_for(&id).await;
    let began = app.clock.now();
    let stored = |app: &TestApp| {
        let db = app.db.db.clone();
        async move {
            passage::on_db!(&db, p => sqlx::query_scalar::<_, DateTime<Utc>>(
                "SELECT last_seen FROM sessions"
            )
            .fetch_one(p)
            .await)
            .unwrap()
        }
    };
    app.clock.advance(Duration::minutes(10));
    for _ in 0..5 {
        assert_eq!(status(app.get("/api/v1/fund", Some(&token))).await.0, 200);
    }
    // Many requests, no write: the row still says when the session began...
    assert_eq!(stored(&app).await, began);
    // ...while the list already shows this instance's record.
    let (_, list) = status(app.get("/api/v1/auth/sessions", Some(&token))).await;
    let shown: DateTime<Utc> =
        serde_json::from_value(list["items"][0]["last_seen"].clone()).unwrap();
    assert_eq!(shown, app.clock.now());
    // The flush (every minute, and on stopping) writes it once.
    assert_eq!(app.activity.flush(&app.db.db).await.unwrap(), 1);
    assert_eq!(stored(&app).await, app.clock.now());
    assert_eq!(app.activity.flush(&app.db.db).await.unwrap(), 0);
    app.stop().await;
}

async fn an_admin_resets_a_second_factor(t: TestDb) {
    let app = TestApp::spawn_with(t, &[REQUIRED]).await;
    let tr = app.seed_user("tr@example.org", "treasurer", None).await;
    let admin = app.seed_user("admin@example.org", "admin", None).await;
    let token = app.token_for(&tr).await;
    enrol(&app, &token).await;
    let admin_token = app.token_for(&admin).await;
    enrol(&app, &admin_token).await;
    let (s, _) = status(app.post(
        &format!("/api/v1/users/{tr}/second-factor/reset"),
        Some(&admin_token),
    ))
    .await;
    assert_eq!(s, 204);
    assert_eq!(
        audit_details(&app, "user.second_factor_reset").await.len(),
        1
    );
    // The treasurer signs in with the password alone, and must enrol again.
    let (s, body) = login(&app, "tr@example.org", "curl/8.5").await;
    assert_eq!(s, 200);
    let fresh = body["token"]
        .as_str()
        .expect("a token: no factor now")
        .to_string();
    assert_eq!(status(app.get("/api/v1/fund", Some(&fresh))).await.0, 403);
    let (s, _) = status(app.post(
        "/api/v1/users/nobody/second-factor/reset",
        Some(&admin_token),
    ))
    .await;
    assert_eq!(s, 404);
    app.stop().await;
}

on_both_engines!(
    a_treasurer_enrols_and_signs_in_with_a_code_that_works_once,
    a_challenge_is_no_bearer_token_and_expires,
    a_recovery_code_works_once,
    guessing_codes_is_throttled_like_sign_in,
    only_treasurers_and_admins_must_enrol_and_optional_lifts_it,
    the_secret_is_sealed_when_the_instance_has_a_key,
    sessions_are_listed_and_ended_at_once,
    last_seen_is_written_by_the_flush_not_by_requests,
    an_admin_resets_a_second_factor,
);
