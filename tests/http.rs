//! The HTTP skeleton every route stands on, on both engines.

mod common;

use common::{TestApp, TestDb};
use serde_json::Value;

async fn health_answers_when_the_database_does(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-request-id"));
    app.stop().await;
}

async fn health_is_503_when_the_database_does_not_answer(t: TestDb) {
    let app = TestApp::spawn(t).await;
    app.db.db.close().await;
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    app.stop().await;
}

async fn errors_are_json_with_a_code_and_a_message(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let res = app
        .http
        .get(app.url("/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body["error"]["message"].as_str().unwrap().len() > 10);

    let res = app.http.post(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
    app.stop().await;
}

async fn a_request_id_sent_by_the_client_comes_back(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let res = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "night-shift-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "night-shift-42");
    app.stop().await;
}

on_both_engines!(
    health_answers_when_the_database_does,
    health_is_503_when_the_database_does_not_answer,
    errors_are_json_with_a_code_and_a_message,
    a_request_id_sent_by_the_client_comes_back,
);
