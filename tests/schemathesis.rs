//! Schemathesis (PyPI) against the OpenAPI document of the running application, with no
//! token and with a token of each role, on both engines: no answer is a server error,
//! every answer matches its documented status, content type and schema, and data the
//! document says is invalid is refused.
//!
//! The tool is found through `PASSAGE_TEST_SCHEMATHESIS` (the `st` program; `.ci/run`
//! installs it in a virtual environment). Without it the test is skipped with a note,
//! except under `CI=true`, where it fails.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{TestApp, TestDb};
use serde_json::json;

fn schemathesis() -> Option<PathBuf> {
    let found = std::env::var_os("PASSAGE_TEST_SCHEMATHESIS")
        .map(PathBuf::from)
        .or_else(|| {
            let home = std::env::var_os("HOME")?;
            Some(PathBuf::from(home).join(".cache/passage-schemathesis/bin/st"))
        })
        .filter(|p| p.exists());
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    match found {
        Some(st) => Some(st),
        None if in_ci => panic!(
            "CI=true but schemathesis is missing: set PASSAGE_TEST_SCHEMATHESIS to its `st` \
             (.ci/run installs it)"
        ),
        None => {
            eprintln!("SKIPPING the schemathesis run: set PASSAGE_TEST_SCHEMATHESIS to its `st`");
            None
        }
    }
}

/// A coalition with something in it, so that generated calls reach more than refusals.
async fn seeded(t: TestDb) -> (TestApp, Vec<(&'static str, String)>) {
    let app = TestApp::spawn_with(
        t,
        &[
            ("PASSAGE_LOGIN_MAX_FAILURES", "1000"),
            ("PASSAGE_LOGIN_IP_MAX_FAILURES", "1000"),
        ],
    )
    .await;
    let org = app.seed_org("Refuge Exemple").await;
    let cw = app
        .seed_user("cw@example.org", "caseworker", Some(&org))
        .await;
    let tr = app.seed_user("tr@example.org", "treasurer", None).await;
    let admin = app.seed_user("admin@example.org", "admin", None).await;
    let (cw, tr, admin) = (
        app.token_for(&cw).await,
        app.token_for(&tr).await,
        app.token_for(&admin).await,
    );
    let donor: serde_json::Value = app
        .post("/api/v1/donors", Some(&tr))
        .json(&json!({"name": "Fondation Exemple", "email": "dons@example.org", "language": "fr"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = app
        .post("/api/v1/donations", Some(&tr))
        .header("Idempotency-Key", "gift")
        .json(&json!({"donor_id": donor["id"], "amount": "5000.00", "received_on": "2026-11-29"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let case: serde_json::Value = app
        .post("/api/v1/cases", Some(&cw))
        .json(&json!({"province": "QC"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (key, category) in [("a", "food"), ("b", "clothing")] {
        let r = app
            .post("/api/v1/requests", Some(&cw))
            .header("Idempotency-Key", key)
            .json(
                &json!({"case_code": case["code"], "category": category, "amount": "40.00",
                          "needed_by": "2026-11-30"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    // Schemathesis without any credentials tries to sign up and sign in by itself (and
    // fails inside its own code); a token that is no token stands for an anonymous
    // caller as well, as Passage answers both alike (401).
    let roles = vec![
        ("no valid token", "not-a-token".to_string()),
        ("caseworker", cw),
        ("treasurer", tr),
        ("admin", admin),
    ];
    (app, roles)
}

async fn the_api_holds_its_documented_contract_under_generated_input(t: TestDb) {
    let Some(st) = schemathesis() else { return };
    let (app, roles) = seeded(t).await;
    let schema = app.url("/api/v1/openapi.json");
    let mut failures = Vec::new();
    // Schemathesis keeps a cache folder where it runs: not in the source tree.
    let scratch = tempfile::tempdir().unwrap();
    for (role, token) in roles {
        let mut cmd = Command::new(&st);
        cmd.current_dir(scratch.path())
            .args(["run", &schema])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,\
                 response_schema_conformance,negative_data_rejection",
                "--max-examples",
                "15",
                "--seed",
                "20261129",
                "--workers",
                "1",
                "--request-timeout",
                "20",
                // Signing out would leave the rest of the run without its token.
                "--exclude-path",
                "/api/v1/auth/logout",
            ])
            .env("NO_COLOR", "1")
            .env("SCHEMATHESIS_TELEMETRY", "false");
        cmd.args(["--header", &format!("Authorization: Bearer {token}")]);
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .expect("schemathesis runs");
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let summary = report
            .lines()
            .filter(|l| l.contains("generated"))
            .collect::<Vec<_>>()
            .join(" ");
        eprintln!("schemathesis as {role}: {summary}");
        if !out.status.success() {
            failures.push(format!("=== as {role}\n{report}"));
        }
    }
    app.stop().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

on_both_engines!(the_api_holds_its_documented_contract_under_generated_input);
