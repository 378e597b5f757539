//! What the server writes to its log, at the most verbose level, through a night of
//! sign-ins, requests with notes and cities, a receipt and a decline: request ids and
//! paths, never a password, a token, a note, a city, a reason, a vendor, a receipt
//! reference or an email address.

mod common;

use common::TestDb;
use common::server::{Server, passage, run};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

async fn post(base: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn login(base: &str, email: &str, password: &str) -> (u16, Value) {
    post(
        base,
        "/api/v1/auth/login",
        "",
        json!({"email": email, "password": password}),
    )
    .await
}

async fn the_log_keeps_no_secrets_tokens_or_case_details(t: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let url = t.url.clone();
    let org = run(
        passage(&url, dir.path()).args([
            "org",
            "add",
            "--name",
            "Refuge A",
            "--type",
            "shelter",
            "--province",
            "QC",
        ]),
        None,
    );
    let pw = format!("{PASSWORD}\n");
    run(
        passage(&url, dir.path()).args([
            "user",
            "add",
            "--email",
            "tr@example.org",
            "--roles",
            "treasurer",
            "--password-stdin",
        ]),
        Some(&pw),
    );
    run(
        passage(&url, dir.path()).args([
            "user",
            "add",
            "--email",
            "cw@example.org",
            "--roles",
            "caseworker",
            "--org",
            &org,
            "--password-stdin",
        ]),
        Some(&pw),
    );
    let server = Server::start(&url, dir.path(), &[("PASSAGE_LOG", "trace")]);
    let base = server.base.clone();

    let (s, _) = login(&base, "tr@example.org", "not the password at all").await;
    assert_eq!(s, 401);
    let (_, tr) = login(&base, "tr@example.org", PASSWORD).await;
    let (_, cw) = login(&base, "cw@example.org", PASSWORD).await;
    let (tr, cw) = (
        tr["token"].as_str().unwrap().to_string(),
        cw["token"].as_str().unwrap().to_string(),
    );
    let (s, donor) = post(
        &base,
        "/api/v1/donors",
        &tr,
        json!({"name": "Fondation Exemple", "email": "dons@example.org", "language": "fr"}),
    )
    .await;
    assert_eq!(s, 201);
    // The server runs on the real clock: today (UTC) is within every date's window.
    let today = chrono::Utc::now().date_naive().to_string();
    let (s, _) = post(
        &base,
        "/api/v1/donations",
        &tr,
        json!({"donor_id": donor["id"], "amount": "5000.00", "received_on": today}),
    )
    .await;
    assert_eq!(s, 201);
    let (_, case) = post(&base, "/api/v1/cases", &cw, json!({"province": "QC"})).await;
    let code = case["code"].as_str().unwrap();
    let (s, bus) = post(
        &base,
        "/api/v1/requests",
        &cw,
        json!({
        "case_code": code, "category": "bus", "amount": "64.50", "needed_by": today,
        "travel_date": today, "reason": "safety", "note": "quiet seat near the driver",
        "origin": {"city": "Trois-Rivières", "province": "QC"},
        "destination": {"city": "Rimouski", "province": "QC"}}),
    )
    .await;
    assert_eq!(s, 201, "{bus}");
    let (s, _) = post(
        &base,
        &format!("/api/v1/requests/{}/receipt", bus["id"].as_str().unwrap()),
        &cw,
        json!({"amount": "60.00", "reference": "RM-SECRET-77", "vendor": "Orléans Express"}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, flight) = post(
        &base,
        "/api/v1/requests",
        &cw,
        json!({
        "case_code": code, "category": "flight", "amount": "612.40", "needed_by": today,
        "travel_date": today, "reason": "family",
        "origin": {"city": "Sept-Îles", "province": "QC"},
        "destination": {"city": "Whitehorse", "province": "YT"}}),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _) = post(
        &base,
        &format!(
            "/api/v1/requests/{}/decline",
            flight["id"].as_str().unwrap()
        ),
        &tr,
        json!({"reason": "ask the band office first"}),
    )
    .await;
    assert_eq!(s, 200);
    let forged = format!("{}x", &tr[..tr.len() - 1]);
    let (s, _) = post(&base, "/api/v1/cases", &forged, json!({"province": "QC"})).await;
    assert_eq!(s, 401);
    let log = server.stop();

    assert!(
        log.contains("/api/v1/requests"),
        "the log has the paths: {log}"
    );
    let signature = |token: &str| token.rsplit('.').next().unwrap().to_string();
    for secret in [
        PASSWORD.to_string(),
        "not the password at all".to_string(),
        signature(&tr),
        signature(&cw),
        signature(&forged),
        "quiet seat".to_string(),
        "Trois-Rivi".to_string(),
        "Rimouski".to_string(),
        "Sept-".to_string(),
        "Whitehorse".to_string(),
        "RM-SECRET-77".to_string(),
        "Orléans".to_string(),
        "band office".to_string(),
        "tr@example.org".to_string(),
        "cw@example.org".to_string(),
        "dons@example.org".to_string(),
    ] {
        assert!(!log.contains(&secret), "the log holds {secret:?}:\n{log}");
    }
}

on_both_engines!(the_log_keeps_no_secrets_tokens_or_case_details);
