//! `GET /metrics`: 401 without the bearer token, each family with it, and nothing in it of
//! a single request: no case code, no email, no id.

mod common;

use common::TestDb;
use common::fund::Fund;
use serde_json::json;

const TOKEN: &str = "metrics-token-for-the-tests-0123456789";

async fn scrape(f: &Fund, token: Option<&str>) -> (u16, String) {
    let mut r = f.app.http.get(f.app.url("/metrics"));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let res = r.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn metrics_for_whoever_is_on_call(t: TestDb) {
    let mut f = Fund::with(t, &[("PASSAGE_METRICS_TOKEN", TOKEN)]).await;
    let donor = f
        .donor("Fondation Exemple", "fondation@example.org", "fr")
        .await;
    f.give(&donor, "5000.00").await;
    f.hotel("QC", 2, "80.00").await;
    // One approved and held, one waiting for a treasurer.
    let today = f.today();
    let (s, case) = f
        .post("/api/v1/cases", &f.worker, json!({"province": "QC"}))
        .await;
    assert_eq!(s, 201);
    let code = case["code"].as_str().unwrap().to_string();
    f.secrets.push(code.clone());
    let (s, r) = f
        .post(
            "/api/v1/requests",
            &f.worker,
            json!({"case_code": code, "category": "flight", "amount": "612.34",
                   "needed_by": today, "urgent": true, "reason": "family", "travel_date": today,
                   "origin": {"city": "Halifax", "province": "NS"},
                   "destination": {"city": "Vancouver", "province": "BC"}}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["status"], "pending", "{r}");
    let id = r["id"].as_str().unwrap().to_string();
    let (s, _) = f.get(&format!("/api/v1/requests/{id}"), &f.treasurer).await;
    assert_eq!(s, 200);
    let (s, _) = f.get(&format!("/api/v1/cases/{code}"), &f.worker).await;
    assert_eq!(s, 200);
    passage::app::sweep_once(&f.app.state()).await.unwrap();

    assert_eq!(scrape(&f, None).await.0, 401);
    assert_eq!(scrape(&f, Some("not-the-token")).await.0, 401);
    let (s, text) = scrape(&f, Some(TOKEN)).await;
    assert_eq!(s, 200, "{text}");
    for family in [
        "passage_http_request_duration_seconds_bucket",
        "passage_group_commit_batch_size_bucket",
        "passage_group_commit_seconds_bucket",
        "passage_outbox_unsent",
        "passage_outbox_oldest_unsent_age_seconds",
        "passage_requests_pending 1",
        "passage_requests_oldest_pending_age_seconds",
        "passage_holds_outstanding",
        "passage_sweeper_last_run_timestamp_seconds",
        "passage_db_pool_connections",
    ] {
        assert!(text.contains(family), "{family} is missing:\n{text}");
    }
    // Routes by template, never the path sent.
    assert!(text.contains("route=\"/api/v1/requests/{id}\""), "{text}");
    assert!(text.contains("route=\"/api/v1/cases/{code}\""), "{text}");
    let mut never: Vec<String> = f.secrets.clone();
    never.extend([
        id,
        "612.34".to_string(),
        "fondation@example.org".to_string(),
        "cw@example.org".to_string(),
        "t1@example.org".to_string(),
        "example.org".to_string(),
    ]);
    for secret in &never {
        assert!(!text.contains(secret.as_str()), "{secret} is in /metrics");
    }
}

/// `PASSAGE_METRICS_BIND`: `/metrics` on a listener of its own, open there without a token
/// (only what can reach that address scrapes it), and no longer on the main port, with or
/// without the token; the separate listener serves nothing else.
async fn metrics_on_their_own_listener(t: TestDb) {
    let f = Fund::with(t, &[("PASSAGE_METRICS_BIND", "127.0.0.1:0")]).await;
    let at = f.app.metrics_addr().expect("a metrics listener");
    assert_ne!(at.to_string(), f.app.base.trim_start_matches("http://"));
    let (s, _) = f.get("/api/v1/orgs", &f.treasurer).await;
    assert_eq!(s, 200);
    let res = f
        .app
        .http
        .get(format!("http://{at}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let text = res.text().await.unwrap();
    for family in [
        "passage_http_request_duration_seconds_bucket",
        "passage_requests_pending 0",
        "passage_db_pool_connections",
    ] {
        assert!(text.contains(family), "{family} is missing:\n{text}");
    }
    // The main port does not serve it, whoever asks.
    let (s, body) = scrape(&f, None).await;
    assert_eq!(s, 404, "{body}");
    assert!(body.contains("PASSAGE_METRICS_BIND"), "{body}");
    // The separate listener serves nothing but /metrics.
    let res = f
        .app
        .http
        .get(format!("http://{at}/api/v1/orgs"))
        .bearer_auth(&f.treasurer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
}

/// Both settings: the separate listener asks for the token too.
async fn metrics_listener_with_a_token_asks_for_it(t: TestDb) {
    let f = Fund::with(
        t,
        &[
            ("PASSAGE_METRICS_BIND", "127.0.0.1:0"),
            ("PASSAGE_METRICS_TOKEN", TOKEN),
        ],
    )
    .await;
    let at = f.app.metrics_addr().expect("a metrics listener");
    let url = format!("http://{at}/metrics");
    let res = f.app.http.get(&url).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let res = f
        .app
        .http
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(scrape(&f, Some(TOKEN)).await.0, 404);
}

on_both_engines!(
    metrics_for_whoever_is_on_call,
    metrics_on_their_own_listener,
    metrics_listener_with_a_token_asks_for_it
);
