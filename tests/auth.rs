//! Accounts, organisations, roles and tokens, through the real HTTP API and the CLI, on
//! both engines.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::Duration;
use common::{PASSWORD, TestApp, TestDb};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// What a request may get: allowed (any 2xx), 401 or 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allowed,
    NoToken401,
    Forbidden403,
}
use Expect::{Allowed, Forbidden403 as Deny, NoToken401 as Anon};

/// Who asks: the columns of the matrix, in this order.
const WHO: [&str; 4] = ["no token", "caseworker", "treasurer", "admin"];

struct Route {
    method: &'static str,
    /// `{target}` becomes the id of a user the requests act on.
    path: &'static str,
    /// `{n}` becomes a number unique to the request.
    body: Option<&'static str>,
    expect: [Expect; 4],
}

/// Every route of the API × who asks: the one table the role tests iterate.
const MATRIX: &[Route] = &[
    Route {
        method: "GET",
        path: "/healthz",
        body: None,
        expect: [Allowed, Allowed, Allowed, Allowed],
    },
    Route {
        method: "GET",
        path: "/api/v1/openapi.json",
        body: None,
        expect: [Allowed, Allowed, Allowed, Allowed],
    },
    Route {
        method: "POST",
        path: "/api/v1/auth/login",
        body: Some(
            r#"{"email": "target@example.org", "password": "correct horse battery staple"}"#,
        ),
        expect: [Allowed, Allowed, Allowed, Allowed],
    },
    Route {
        method: "POST",
        path: "/api/v1/auth/logout",
        body: None,
        expect: [Anon, Allowed, Allowed, Allowed],
    },
    // Changing to the same password: passes the door and changes nothing.
    Route {
        method: "POST",
        path: "/api/v1/auth/password",
        body: Some(
            r#"{"current": "correct horse battery staple", "new": "correct horse battery staple"}"#,
        ),
        expect: [Anon, Allowed, Allowed, Allowed],
    },
    // Starting a second factor again before confirming it starts over: 200 each time.
    Route {
        method: "POST",
        path: "/api/v1/auth/totp",
        body: None,
        expect: [Anon, Allowed, Allowed, Allowed],
    },
    // A wrong code: past the door, then 422.
    Route {
        method: "POST",
        path: "/api/v1/auth/totp/confirm",
        body: Some(r#"{"code": "000000"}"#),
        expect: [Anon, Allowed, Allowed, Allowed],
    },
    // A made-up challenge: no session needed, then 422.
    Route {
        method: "POST",
        path: "/api/v1/auth/second-factor",
        body: Some(r#"{"challenge": "made-up", "code": "000000"}"#),
        expect: [Allowed, Allowed, Allowed, Allowed],
    },
    Route {
        method: "GET",
        path: "/api/v1/auth/sessions",
        body: None,
        expect: [Anon, Allowed, Allowed, Allowed],
    },
    Route {
        method: "DELETE",
        path: "/api/v1/auth/sessions",
        body: None,
        expect: [Anon, Allowed, Allowed, Allowed],
    },
    // Another user's session: past the door, then 404 (it is not the asker's).
    Route {
        method: "DELETE",
        path: "/api/v1/auth/sessions/{target_session}",
        body: None,
        expect: [Anon, Allowed, Allowed, Allowed],
    },
    Route {
        method: "DELETE",
        path: "/api/v1/users/{target}/sessions",
        body: None,
        expect: [Anon, Deny, Deny, Allowed],
    },
    Route {
        method: "POST",
        path: "/api/v1/users/{target}/second-factor/reset",
        body: None,
        expect: [Anon, Deny, Deny, Allowed],
    },
    Route {
        method: "POST",
        path: "/api/v1/auth/reset",
        body: Some(r#"{"email": "nobody{n}@example.org"}"#),
        expect: [Allowed, Allowed, Allowed, Allowed],
    },
    // A made-up token: past the door (no session needed), then 422.
    Route {
        method: "POST",
        path: "/api/v1/auth/reset/confirm",
        body: Some(r#"{"token": "0000", "password": "ferry lantern quietly orbit"}"#),
        expect: [Allowed, Allowed, Allowed, Allowed],
    },
    Route {
        method: "POST",
        path: "/api/v1/orgs",
        body: Some(r#"{"name": "Matrix org {n}", "type": "youth", "province": "ON"}"#),
        expect: [Anon, Deny, Deny, Allowed],
    },
    Route {
        method: "GET",
        path: "/api/v1/orgs",
        body: None,
        expect: [Anon, Deny, Allowed, Allowed],
    },
    Route {
        method: "POST",
        path: "/api/v1/users",
        body: Some(
            r#"{"email": "new{n}@example.org", "password": "another long passphrase", "roles": ["treasurer"]}"#,
        ),
        expect: [Anon, Deny, Deny, Allowed],
    },
    Route {
        method: "POST",
        path: "/api/v1/users/invite",
        body: Some(r#"{"email": "invited{n}@example.org", "roles": ["treasurer"]}"#),
        expect: [Anon, Deny, Deny, Allowed],
    },
    // A made-up token: past the door (no session needed), then 422.
    Route {
        method: "POST",
        path: "/api/v1/auth/invitation",
        body: Some(r#"{"token": "0000", "password": "ferry lantern quietly orbit"}"#),
        expect: [Allowed, Allowed, Allowed, Allowed],
    },
    Route {
        method: "GET",
        path: "/api/v1/users",
        body: None,
        expect: [Anon, Deny, Deny, Allowed],
    },
    Route {
        method: "PUT",
        path: "/api/v1/users/{target}/roles",
        body: Some(r#"{"roles": ["treasurer"]}"#),
        expect: [Anon, Deny, Deny, Allowed],
    },
    Route {
        method: "POST",
        path: "/api/v1/users/{target}/deactivate",
        body: None,
        expect: [Anon, Deny, Deny, Allowed],
    },
    Route {
        method: "POST",
        path: "/api/v1/users/{target}/reactivate",
        body: None,
        expect: [Anon, Deny, Deny, Allowed],
    },
    Route {
        method: "PUT",
        path: "/api/v1/users/{target}/language",
        body: Some(r#"{"language": "en"}"#),
        expect: [Anon, Deny, Deny, Allowed],
    },
    Route {
        method: "PUT",
        path: "/api/v1/orgs/{org}",
        body: Some(r#"{"name": "Shelter A", "type": "shelter", "province": "QC"}"#),
        expect: [Anon, Deny, Deny, Allowed],
    },
    Route {
        method: "GET",
        path: "/api/v1/keys",
        body: None,
        expect: [Anon, Deny, Deny, Allowed],
    },
    Route {
        method: "POST",
        path: "/api/v1/keys/rotate",
        body: None,
        expect: [Anon, Deny, Deny, Allowed],
    },
    // The key generated at start (retiring it again changes nothing: still 200).
    Route {
        method: "POST",
        path: "/api/v1/keys/{retired}/retire",
        body: None,
        expect: [Anon, Deny, Deny, Allowed],
    },
    Route {
        method: "GET",
        path: "/api/v1/settings",
        body: None,
        expect: [Anon, Deny, Deny, Allowed],
    },
    Route {
        method: "POST",
        path: "/api/v1/cases",
        body: Some(r#"{"province": "QC"}"#),
        expect: [Anon, Allowed, Deny, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/cases",
        body: None,
        expect: [Anon, Allowed, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/cases/{case}",
        body: None,
        expect: [Anon, Allowed, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/cases/{case}/share",
        body: Some(r#"{"org_id": "{org}"}"#),
        expect: [Anon, Allowed, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/cases/{case}/unshare",
        body: Some(r#"{"org_id": "{org}"}"#),
        expect: [Anon, Allowed, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/cases/{case}/close",
        body: None,
        expect: [Anon, Allowed, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/cases/{case}/reopen",
        body: None,
        expect: [Anon, Allowed, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/donors",
        body: Some(r#"{"name": "Donor {n}", "email": "donor{n}@example.org", "language": "fr"}"#),
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/donations",
        body: Some(r#"{"donor_id": "{donor}", "amount": "10.00", "received_on": "2026-11-29"}"#),
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/donations/import",
        body: Some(
            "donor_email,donor_name,amount,received_on,reference\ndonor{n}@example.org,Donor {n},10.00,2026-11-29,MATRIX-{n}\n",
        ),
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/donors/{donor}/links/withdraw",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/fund",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/audit/verify",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/ledger/export?format=csv",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/policy",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "PUT",
        path: "/api/v1/policy",
        body: Some(r#"{"hold_hours": 48}"#),
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/policy/versions/1",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    // A version another treasurer proposed: the treasurer may co-sign it (its proposer
    // may not: tests/duties.rs).
    Route {
        method: "POST",
        path: "/api/v1/policy/versions/{proposal}/cosign",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/requests",
        body: Some(
            r#"{"case_code": "{case}", "category": "food", "amount": "20.00", "needed_by": "2026-11-30"}"#,
        ),
        expect: [Anon, Allowed, Deny, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/requests",
        body: None,
        expect: [Anon, Allowed, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/requests/{request}",
        body: None,
        expect: [Anon, Allowed, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/requests/{request}/approve",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/requests/{request}/decline",
        body: Some(r#"{"reason": "covered by another fund"}"#),
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/requests/{request}/ask",
        body: Some(r#"{"question": "is a later date possible?"}"#),
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/requests/{request}/answer",
        body: Some(r#"{"answer": "no, tonight only"}"#),
        expect: [Anon, Allowed, Deny, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/requests/{request}/receipt",
        body: Some(r#"{"amount": "1.00"}"#),
        expect: [Anon, Allowed, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/requests/{request}/cancel",
        body: None,
        expect: [Anon, Allowed, Allowed, Deny],
    },
    Route {
        method: "PUT",
        path: "/api/v1/users/{target}/on-call",
        body: Some(r#"{"on_call": true}"#),
        expect: [Anon, Deny, Deny, Allowed],
    },
    Route {
        method: "POST",
        path: "/api/v1/reserves",
        body: Some(
            r#"{"org_id": "{org}", "amount": "1.00", "expires_at": "2030-01-01T00:00:00Z"}"#,
        ),
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/reserves",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "PUT",
        path: "/api/v1/orgs/{org}/payment",
        body: Some(r#"{"mode": "reimbursement", "method": "cheque"}"#),
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/orgs/{org}/payment",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    // Shelter A holds no advance: past the door, 409.
    Route {
        method: "POST",
        path: "/api/v1/orgs/{org}/advance/returned",
        body: Some(r#"{"amount": "1.00", "reference": "DEP-{n}"}"#),
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/vendors",
        body: Some(r#"{"name": "Matrix vendor {n}"}"#),
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/vendors",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/payouts",
        body: Some("{}"),
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/payouts",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/payouts/{payout}",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/payouts/{payout}/release",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/payouts/{payout}/instructions.csv",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/payouts/{payout}/lines/{line}/paid",
        body: Some(r#"{"reference": "MATRIX-{n}"}"#),
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/payouts/{payout}/paid",
        body: Some(r#"{"reference": "MATRIX-{n}"}"#),
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/payouts/{payout}/lines/{line}/bounced",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/payouts/{payout}/cancel",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/bank/statements?format=csv&layout=generic",
        body: Some(r#"{"not": "a statement"}"#),
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/bank/statements",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/bank/statements/{statement}",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/bank/lines/{bank_line}/record",
        body: Some(r#"{"kind": "interest"}"#),
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/bank/lines/{bank_line}/confirm",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/bank/lines/{bank_line}/refuse",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/bank/lines/{bank_line}/unmatch",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/bank/layouts",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/bank/layouts",
        body: Some(
            r#"{"name": "MATRIX-{n}", "date": 1, "description": 2, "amount": 3, "date_order": "ymd"}"#,
        ),
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "DELETE",
        path: "/api/v1/bank/layouts/{bank_layout}",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/bank/reconciliation?as_of=2026-11-29",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/bank/reconciliation",
        body: Some(r#"{"as_of": "2026-11-29"}"#),
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/review",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/requests/{request}/review",
        body: Some(r#"{"flag": true}"#),
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/review/flagged",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/requests/{request}/unflag",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/reports",
        body: Some(r#"{"period_start": "2026-11-01", "period_end": "2026-11-30"}"#),
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/reports",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/reports/{report}",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/reports/{report}/seal",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/reports/{report}/verify",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/annual-reports/2026",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "GET",
        path: "/api/v1/reports/{report}/summary.json",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    Route {
        method: "POST",
        path: "/api/v1/reports/{report}/send",
        body: None,
        expect: [Anon, Deny, Allowed, Deny],
    },
    // A donor's signed link, never a staff token, opens these.
    Route {
        method: "GET",
        path: "/api/v1/donor/report",
        body: None,
        expect: [Anon, Anon, Anon, Anon],
    },
    Route {
        method: "GET",
        path: "/api/v1/donor/report/summary.json",
        body: None,
        expect: [Anon, Anon, Anon, Anon],
    },
    Route {
        method: "GET",
        path: "/api/v1/donor/unsubscribe",
        body: None,
        expect: [Anon, Anon, Anon, Anon],
    },
    Route {
        method: "POST",
        path: "/api/v1/donor/unsubscribe",
        body: None,
        expect: [Anon, Anon, Anon, Anon],
    },
    Route {
        method: "POST",
        path: "/api/v1/donor/resubscribe",
        body: None,
        expect: [Anon, Anon, Anon, Anon],
    },
];

struct Fixtures {
    case: String,
    request: String,
    donor: String,
    report: String,
}

/// A case, a pending request on it and a donor, for the routes that act on one.
async fn matrix_fixtures(app: &TestApp, caseworker: &str, treasurer: &str) -> Fixtures {
    let cw = app.token_for(caseworker).await;
    let tr = app.token_for(treasurer).await;
    let json = |r: reqwest::Response| async move { r.json::<serde_json::Value>().await.unwrap() };
    let case = json(
        app.post("/api/v1/cases", Some(&cw))
            .json(&serde_json::json!({"province": "QC"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let case = case["code"].as_str().expect("a case code").to_string();
    let request = json(
        app.post("/api/v1/requests", Some(&cw))
            .header("idempotency-key", "fixture")
            .json(&serde_json::json!({"case_code": case, "category": "other", "amount": "40.00", "needed_by": "2026-11-30"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let request = request["id"].as_str().expect("a request id").to_string();
    let donor = json(
        app.post("/api/v1/donors", Some(&tr))
            .json(&serde_json::json!({"name": "Matrix donor", "email": "matrix@example.org"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let donor = donor["id"].as_str().expect("a donor id").to_string();
    let report = json(
        app.post("/api/v1/reports", Some(&tr))
            .json(&serde_json::json!({"period_start": "2026-11-01", "period_end": "2026-11-30"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let report = report["id"].as_str().expect("a report id").to_string();
    Fixtures {
        case,
        request,
        donor,
        report,
    }
}

/// A payout batch of 1.00 the fund owes `org` (owed straight through the ledger),
/// prepared by `preparer`, so that the matrix's treasurer may release it: its id and its
/// line's.
async fn payout_fixture(app: &TestApp, org: &str, preparer: &str) -> (String, String) {
    use passage::clock::Clock;
    use passage::ledger::figures::{BANK_OWED, owed_to_org};
    use passage::ledger::{NewTransfer, Outcome, TransferSpec};
    let db = &app.db.db;
    let now = app.clock.now();
    let owed = owed_to_org(org);
    passage::write_tx!(db, |tx| -> Result<(), passage::store::StoreError> async {
        passage::ledger::ensure_account(tx, now, &owed, false).await?;
        passage::ledger::ensure_account(tx, now, BANK_OWED, true).await
    })
    .unwrap();
    let owe = NewTransfer {
        id: "matrix-owed".into(),
        spec: TransferSpec::Single {
            debit: owed,
            credit: BANK_OWED.into(),
            amount: 100,
        },
        code: "owed".into(),
        reference: None,
    };
    let made = passage::ledger::transfer(db, now, &passage::audit::Actor::cli(), &owe)
        .await
        .unwrap();
    assert!(matches!(made, Outcome::Created(_)), "{made:?}");
    let staff = passage::cases::Staff {
        user_id: preparer.into(),
        org_id: None,
        treasurer: true,
        caseworker: false,
    };
    use passage::funding::payouts::{self, PayoutError, PayoutView};
    let batch = passage::write_tx!(db, |tx| -> Result<PayoutView, PayoutError> async {
        payouts::prepare(tx, now, &staff, None).await
    })
    .unwrap();
    (batch.id, batch.lines[0].id.clone())
}

/// A bank statement of one line of interest, imported by `importer`: its id and its
/// line's; and a saved layout's id.
async fn bank_fixture(app: &TestApp, importer: &str) -> (String, String, String) {
    use passage::clock::Clock;
    use passage::domain::states::StatementFormat;
    use passage::funding::bank::layouts::{self, SavedLayout};
    use passage::funding::bank::read::DateOrder;
    use passage::funding::bank::{self, BankError, Imported, Layout, Mapping, read};
    let db = &app.db.db;
    let now = app.clock.now();
    let file = read::read_csv(
        b"date,description,withdrawal,deposit,balance\n2026-11-29,INTEREST,,0.10,0.10\n",
        Layout::Generic,
        now.date_naive(),
    );
    let staff = passage::cases::Staff {
        user_id: importer.into(),
        org_id: None,
        treasurer: true,
        caseworker: false,
    };
    let imported = passage::write_tx!(db, |tx| -> Result<Imported, BankError> async {
        bank::import(tx, now, &staff, StatementFormat::Csv, Some(Layout::Generic.as_str()), &file).await
    })
    .unwrap();
    let layout = layouts::check(
        "Banque Matrice",
        Mapping {
            header: false,
            date: 1,
            description: 2,
            withdrawal: None,
            deposit: None,
            amount: Some(3),
            balance: None,
            date_order: DateOrder::Dmy,
        },
    )
    .unwrap();
    let saved = passage::write_tx!(db, |tx| -> Result<SavedLayout, BankError> async {
        layouts::save(tx, now, &staff, &layout).await
    })
    .unwrap();
    let id = imported.id.expect("a statement");
    let line: String = passage::on_db!(db, p => sqlx::query_scalar(
        "SELECT id FROM bank_lines WHERE statement_id = $1"
    )
    .bind(&id)
    .fetch_one(p)
    .await)
    .unwrap();
    (id, line, saved.id)
}

async fn every_route_answers_each_role_as_the_matrix_says(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let org = app.seed_org("Shelter A").await;
    let ids = [
        None,
        Some(
            app.seed_user("cw@example.org", "caseworker", Some(&org))
                .await,
        ),
        Some(app.seed_user("tr@example.org", "treasurer", None).await),
        Some(app.seed_user("admin@example.org", "admin", None).await),
    ];
    let target = app.seed_user("target@example.org", "treasurer", None).await;
    let fixtures =
        matrix_fixtures(&app, ids[1].as_deref().unwrap(), ids[2].as_deref().unwrap()).await;
    let (payout, line) = payout_fixture(&app, &org, &target).await;
    let (statement, bank_line, bank_layout) = bank_fixture(&app, &target).await;
    let proposal: Value = app
        .http
        .put(app.url("/api/v1/policy"))
        .bearer_auth(app.token_for(&target).await)
        .json(&serde_json::json!({"hold_hours": 36}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let proposal = proposal["version"].as_i64().expect("a version").to_string();
    let first_key = passage::identity::keys::list(&app.db.db).await.unwrap()[0]
        .kid
        .clone();
    // A session of the target's own, which nobody else may end.
    let target_token = app.token_for(&target).await;
    let target_session: Value = app
        .get("/api/v1/auth/sessions", Some(&target_token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let target_session = target_session["items"][0]["id"]
        .as_str()
        .expect("the target's session")
        .to_string();
    let fill = |s: &str| {
        s.replace("{target_session}", &target_session)
            .replace("{target}", &target)
            .replace("{retired}", &first_key)
            .replace("{proposal}", &proposal)
            .replace("{case}", &fixtures.case)
            .replace("{request}", &fixtures.request)
            .replace("{donor}", &fixtures.donor)
            .replace("{report}", &fixtures.report)
            .replace("{org}", &org)
            .replace("{payout}", &payout)
            .replace("{line}", &line)
            .replace("{statement}", &statement)
            .replace("{bank_line}", &bank_line)
            .replace("{bank_layout}", &bank_layout)
    };
    assert_matrix_covers_the_document(&app).await;
    let mut n = 0;
    let mut wrong = Vec::new();
    for route in MATRIX {
        for (col, who) in WHO.iter().enumerate() {
            n += 1;
            // A fresh token for every request: the logout row revokes the one it uses.
            let token = match &ids[col] {
                Some(id) => Some(app.token_for(id).await),
                None => None,
            };
            let url = app.url(&fill(route.path));
            let mut req = match route.method {
                "GET" => app.http.get(url),
                "POST" => app.http.post(url),
                "PUT" => app.http.put(url),
                "DELETE" => app.http.delete(url),
                other => panic!("add {other} to the matrix test"),
            };
            if let Some(token) = &token {
                req = req.bearer_auth(token);
            }
            req = req.header("idempotency-key", format!("matrix-{n}"));
            if let Some(body) = route.body {
                req = req
                    .header("content-type", "application/json")
                    .body(fill(body).replace("{n}", &n.to_string()));
            }
            let r = req.send().await.expect("the app answers");
            let status = r.status();
            // The matrix is about who may pass the door: past it, a route may still
            // answer 409 or 422 for the state of the case (approving twice, say), or 404
            // for a session that is not the asker's.
            let got = match status {
                StatusCode::UNAUTHORIZED => Anon,
                StatusCode::FORBIDDEN => Deny,
                s if s.is_success()
                    || s == StatusCode::CONFLICT
                    || s == StatusCode::UNPROCESSABLE_ENTITY =>
                {
                    Allowed
                }
                StatusCode::NOT_FOUND if route.path.contains("{target_session}") => Allowed,
                other => {
                    wrong.push(format!("{} {} as {who}: {other}", route.method, route.path));
                    continue;
                }
            };
            if got != route.expect[col] {
                wrong.push(format!(
                    "{} {} as {who}: expected {:?}, got {status}",
                    route.method, route.path, route.expect[col]
                ));
            }
            if !status.is_success() {
                let body: Value = r.json().await.expect("errors are JSON");
                assert!(body["error"]["code"].is_string(), "{body}");
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the role matrix does not hold:\n{}",
        wrong.join("\n")
    );
    app.stop().await;
}

/// The matrix and the OpenAPI document (built from the router itself) name the same
/// routes, so a new route cannot go without its row of roles.
async fn assert_matrix_covers_the_document(app: &TestApp) {
    let doc: Value = app
        .get("/api/v1/openapi.json", None)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // A matrix path matches a documented one segment by segment; `{...}` in either
    // stands for any segment; a row's query string is not part of its path.
    let matches = |documented: &str, row: &str| {
        let row = row.split_once('?').map_or(row, |(path, _)| path);
        let (a, b): (Vec<_>, Vec<_>) = (documented.split('/').collect(), row.split('/').collect());
        a.len() == b.len()
            && a.iter()
                .zip(&b)
                .all(|(x, y)| x == y || x.starts_with('{') || y.starts_with('{'))
    };
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    for (method, path) in &documented {
        assert!(
            MATRIX
                .iter()
                .any(|r| r.method == method && matches(path, r.path)),
            "{method} {path} is served but has no row in the role matrix"
        );
    }
    for r in MATRIX {
        assert!(
            documented
                .iter()
                .any(|(m, p)| m == r.method && matches(p, r.path)),
            "{} {} is in the matrix but not in the OpenAPI document",
            r.method,
            r.path
        );
    }
}

async fn login_answers_a_token_and_the_user(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let org = app.seed_org("Shelter A").await;
    let id = app
        .seed_user("Case.Worker@Example.org", "caseworker", Some(&org))
        .await;
    let r = app
        .post("/api/v1/auth/login", None)
        .json(&json!({"email": " case.worker@EXAMPLE.org", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["user"]["id"], json!(id));
    assert_eq!(body["user"]["roles"], json!(["caseworker"]));
    assert_eq!(body["user"]["org_id"], json!(org));
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(body["expires_at"].clone()).unwrap();
    assert_eq!(expires, common::night() + Duration::hours(12));
    // The token carries the claims the issue names, and the key id in its header.
    let token = body["token"].as_str().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "HS256");
    assert!(header["kid"].is_string());
    let claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    for claim in ["sub", "roles", "org", "iat", "exp", "jti"] {
        assert!(claims.get(claim).is_some(), "{claim} missing from {claims}");
    }
    let r = app.get("/api/v1/orgs", Some(token)).send().await.unwrap();
    assert_eq!(r.status(), 403, "a caseworker does not list organisations");
    app.stop().await;
}

async fn an_unknown_email_and_a_wrong_password_get_the_same_answer(t: TestDb) {
    let app = TestApp::spawn(t).await;
    app.seed_user("tr@example.org", "treasurer", None).await;
    let mut answers = Vec::new();
    for (email, password) in [
        ("tr@example.org", "not the password at all"),
        ("nobody@example.org", PASSWORD),
        ("not an email", PASSWORD),
    ] {
        let r = app
            .post("/api/v1/auth/login", None)
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{email}");
        answers.push(r.json::<Value>().await.unwrap());
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0], answers[2]);
    app.stop().await;
}

async fn a_malformed_sign_in_is_a_client_error_in_the_api_format(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let r = app
        .post("/api/v1/auth/login", None)
        .json(&json!({"email": "tr@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_field"
    );
    let r = app
        .post("/api/v1/auth/login", None)
        .body("email=tr@example.org")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // The scheme is case-insensitive.
    let tr = app.seed_user("tr@example.org", "treasurer", None).await;
    let token = app.token_for(&tr).await;
    let r = app
        .http
        .get(app.url("/api/v1/orgs"))
        .header("authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;
}

/// Re-signs nothing: swaps the payload of a real token and keeps its signature.
fn with_payload(token: &str, edit: impl Fn(&mut Value)) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    edit(&mut claims);
    let payload = B64.encode(serde_json::to_vec(&claims).unwrap());
    format!("{}.{}.{}", parts[0], payload, parts[2])
}

fn header_of(token: &str) -> Value {
    let first = token.split('.').next().unwrap();
    serde_json::from_slice(&B64.decode(first).unwrap()).unwrap()
}

async fn bad_tokens_are_refused_with_401(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let tr = app.seed_user("tr@example.org", "treasurer", None).await;
    let good = app.token_for(&tr).await;
    let status = |token: String| {
        let app = &app;
        async move {
            app.get("/api/v1/orgs", Some(&token))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(status(good.clone()).await, 200);

    let kid = header_of(&good)["kid"].as_str().unwrap().to_string();
    let claims: Value =
        serde_json::from_slice(&B64.decode(good.split('.').nth(1).unwrap()).unwrap()).unwrap();

    // Tampered: promoted to admin, with the old signature.
    let tampered = with_payload(&good, |c| c["roles"] = json!(["admin", "treasurer"]));
    assert_eq!(status(tampered).await, 401, "tampered");
    // A signature changed by one character.
    let mut flipped = good.clone();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(status(flipped).await, 401, "bad signature");

    // alg: none, with the right key id and no signature.
    let none_header = B64.encode(json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string());
    let payload = B64.encode(claims.to_string());
    assert_eq!(
        status(format!("{none_header}.{payload}.")).await,
        401,
        "alg none"
    );

    // Signed with a key Passage does not have, under its key id and under another.
    let claims_struct: passage::identity::tokens::Claims =
        serde_json::from_value(claims.clone()).unwrap();
    for header_kid in [kid.as_str(), "someone-elses-key"] {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(header_kid.into());
        let forged = jsonwebtoken::encode(
            &header,
            &claims_struct,
            &jsonwebtoken::EncodingKey::from_secret(b"an attacker's secret of 32 bytes!!"),
        )
        .unwrap();
        assert_eq!(status(forged).await, 401, "wrong key, kid {header_kid}");
    }

    // Garbage and other schemes.
    for bad in ["", "abc", "a.b.c"] {
        assert_eq!(status(bad.into()).await, 401, "{bad:?}");
    }
    let r = app
        .http
        .get(app.url("/api/v1/orgs"))
        .header("authorization", format!("Basic {good}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "not a bearer token");
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");

    // Expired: by the app's clock, not the machine's.
    app.clock
        .advance(Duration::hours(12) - Duration::seconds(1));
    assert_eq!(
        status(good.clone()).await,
        200,
        "valid until its last second"
    );
    app.clock.advance(Duration::seconds(1));
    assert_eq!(status(good).await, 401, "expired");
    app.stop().await;
}

async fn a_token_is_refused_after_logout_and_other_sessions_stay(t: TestDb) {
    let app = TestApp::spawn(t).await;
    app.seed_user("tr@example.org", "treasurer", None).await;
    let first = app.login("tr@example.org").await;
    let second = app.login("tr@example.org").await;
    let r = app
        .post("/api/v1/auth/logout", Some(&first))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    for path in ["/api/v1/orgs"] {
        let r = app.get(path, Some(&first)).send().await.unwrap();
        assert_eq!(r.status(), 401, "revoked");
        let r = app.get(path, Some(&second)).send().await.unwrap();
        assert_eq!(r.status(), 200, "the other session");
    }
    let r = app
        .post("/api/v1/auth/logout", Some(&first))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "signing out twice");
    app.stop().await;
}

async fn a_deactivated_users_token_is_refused_on_the_next_request(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let admin = app.seed_user("admin@example.org", "admin", None).await;
    let tr = app.seed_user("tr@example.org", "treasurer", None).await;
    let admin_token = app.token_for(&admin).await;
    let old = app.login("tr@example.org").await;
    assert_eq!(
        app.get("/api/v1/orgs", Some(&old))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let r = app
        .post(
            &format!("/api/v1/users/{tr}/deactivate"),
            Some(&admin_token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["active"], json!(false));
    assert_eq!(
        app.get("/api/v1/orgs", Some(&old))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let r = app
        .post("/api/v1/auth/login", None)
        .json(&json!({"email": "tr@example.org", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a deactivated user cannot sign in");

    // Reactivated the next day: a new sign-in works, the old session does not come back.
    app.clock.advance(Duration::hours(1));
    let r = app
        .post(
            &format!("/api/v1/users/{tr}/reactivate"),
            Some(&admin_token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.get("/api/v1/orgs", Some(&old))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let new = app.login("tr@example.org").await;
    assert_eq!(
        app.get("/api/v1/orgs", Some(&new))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // An admin cannot lock themselves out; an unknown user is 404.
    let r = app
        .post(
            &format!("/api/v1/users/{admin}/deactivate"),
            Some(&admin_token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let r = app
        .post("/api/v1/users/no-such-user/deactivate", Some(&admin_token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    app.stop().await;
}

async fn a_role_change_takes_effect_on_the_next_request(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let org = app.seed_org("Shelter A").await;
    let admin = app.seed_user("admin@example.org", "admin", None).await;
    let tr = app.seed_user("tr@example.org", "treasurer", None).await;
    let admin_token = app.token_for(&admin).await;
    let tr_token = app.login("tr@example.org").await;
    assert_eq!(
        app.get("/api/v1/orgs", Some(&tr_token))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let put = |id: String, body: Value| {
        let app = &app;
        let token = admin_token.clone();
        async move {
            let r = app
                .http
                .put(app.url(&format!("/api/v1/users/{id}/roles")))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, err) = put(tr.clone(), json!({"roles": ["caseworker"]})).await;
    assert_eq!(
        (status, &err["error"]["field"]),
        (422, &json!("org_id")),
        "{err}"
    );
    let (status, body) = put(tr.clone(), json!({"roles": ["caseworker"], "org_id": org})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["roles"], json!(["caseworker"]));
    // The same token, a treasurer's no more.
    assert_eq!(
        app.get("/api/v1/orgs", Some(&tr_token))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );

    let (status, _) = put(admin.clone(), json!({"roles": ["treasurer"]})).await;
    assert_eq!(status, 409, "an admin cannot demote themselves");
    let (status, _) = put("no-such-user".into(), json!({"roles": ["treasurer"]})).await;
    assert_eq!(status, 404);

    let actions: Vec<String> = passage::on_db!(&app.db.db, p => sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE subject = $1 ORDER BY seq"
    )
    .bind(format!("user:{tr}"))
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(actions, ["user.create", "user.roles"]);
    app.stop().await;
}

fn passage() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_passage"))
}

async fn a_token_signed_before_keys_rotate_works_until_it_expires(t: TestDb) {
    let app = TestApp::spawn(t).await;
    app.seed_user("tr@example.org", "treasurer", None).await;
    let before = app.login("tr@example.org").await;

    let out = passage()
        .args(["keys", "rotate"])
        .env("PASSAGE_DATABASE_URL", &app.db.url)
        .env("PASSAGE_LOG", "warn")
        .env_remove("PASSAGE_JWT_SECRET")
        .env_remove("PASSAGE_JWT_KEY_FILE")
        .env_remove("PASSAGE_CONFIG")
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    app.clock.advance(Duration::hours(1));
    let after = app.login("tr@example.org").await;
    assert_ne!(
        header_of(&before)["kid"],
        header_of(&after)["kid"],
        "new tokens use the new key"
    );
    for token in [&before, &after] {
        assert_eq!(
            app.get("/api/v1/orgs", Some(token))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    app.clock.advance(Duration::hours(11));
    assert_eq!(
        app.get("/api/v1/orgs", Some(&before))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        app.get("/api/v1/orgs", Some(&after))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let audit = passage::audit::verify(&app.db.db).await.unwrap();
    assert!(audit.ok, "{:?}", audit.broken);
    app.stop().await;
}

const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// `passage keys ...` against the app's database, as an operator runs it from the
/// server's shell (another process: nothing it does reaches the app's memory).
fn keys_cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    passage()
        .arg("keys")
        .args(args)
        .env("PASSAGE_DATABASE_URL", &app.db.url)
        .env("PASSAGE_LOG", "warn")
        .env_remove("PASSAGE_JWT_SECRET")
        .env_remove("PASSAGE_JWT_KEY_FILE")
        .env_remove("PASSAGE_CONFIG")
        .output()
        .expect("the binary runs")
}

/// The status and the error message of `GET /api/v1/orgs` with `token` on `base`.
async fn orgs_as(app: &TestApp, base: &str, token: &str) -> (u16, String) {
    let r = app
        .http
        .get(format!("{base}/api/v1/orgs"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    let message = body["error"]["message"].as_str().unwrap_or("").to_string();
    (status, message)
}

async fn a_key_stored_before_a_secret_was_configured_verifies_nothing(t: TestDb) {
    let app = TestApp::spawn(t).await;
    app.seed_user("tr@example.org", "treasurer", None).await;
    let old = app.login("tr@example.org").await;
    assert_ne!(header_of(&old)["kid"], "config");
    assert_eq!(orgs_as(&app, &app.base, &old).await.0, 200);

    // The operator sets a secret and restarts: the key in the database signs nothing
    // now, and verifies nothing either (it may have been read with the database).
    let db = app.stop_keeping_db().await;
    let app = TestApp::spawn_with(db, &[("PASSAGE_JWT_SECRET", SECRET)]).await;
    let (status, message) = orgs_as(&app, &app.base, &old).await;
    assert_eq!(status, 401, "{message}");
    assert!(
        message.contains("no longer") && message.contains("sign in again"),
        "{message}"
    );
    let new = app.login("tr@example.org").await;
    assert_eq!(header_of(&new)["kid"], "config");
    assert_eq!(orgs_as(&app, &app.base, &new).await.0, 200);
    app.stop().await;
}

async fn a_retired_key_opens_nothing_at_once_on_every_instance(t: TestDb) {
    let app = TestApp::spawn(t).await;
    // A second instance on the same database, with its own pool.
    let mail_dir = app.mail_dir.path().display().to_string();
    let config = std::sync::Arc::new(common::test_config_with(
        &app.db.url,
        &[("PASSAGE_MAIL_DIR", &mail_dir)],
    ));
    let state = passage::app::AppState::new(
        app.db.second_instance().await,
        std::sync::Arc::new(app.clock.clone()),
        config,
    );
    let other = passage::app::Running::start(state)
        .await
        .expect("the second instance starts");
    let bases = [app.base.clone(), format!("http://{}", other.addr)];

    app.seed_user("tr@example.org", "treasurer", None).await;
    let first = app.login("tr@example.org").await;
    let first_kid = header_of(&first)["kid"].as_str().unwrap().to_string();
    // Both instances have read (and kept) the key.
    for base in &bases {
        assert_eq!(orgs_as(&app, base, &first).await.0, 200);
    }

    // Retiring the key that signs: a new key is made first, then the old one retired.
    let out = keys_cli(&app, &["retire", &first_kid]);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains(&first_kid) && said.contains("new signing key"),
        "{said}"
    );
    for base in &bases {
        let (status, message) = orgs_as(&app, base, &first).await;
        assert_eq!(status, 401, "{base}: {message}");
        assert!(
            message.contains("retired") && message.contains("sign in again"),
            "{message}"
        );
    }
    let second = app.login("tr@example.org").await;
    let second_kid = header_of(&second)["kid"].as_str().unwrap().to_string();
    assert_ne!(second_kid, first_kid);
    for base in &bases {
        assert_eq!(orgs_as(&app, base, &second).await.0, 200);
    }

    // A rotation retires nothing; retiring the older key then closes its tokens only.
    let out = keys_cli(&app, &["rotate"]);
    assert!(out.status.success());
    let third = app.login("tr@example.org").await;
    assert_ne!(header_of(&third)["kid"], second_kid.as_str());
    for base in &bases {
        assert_eq!(orgs_as(&app, base, &second).await.0, 200);
    }
    let out = keys_cli(&app, &["retire", &second_kid]);
    assert!(out.status.success());
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("new signing key"),
        "the key retired did not sign, so no key is made"
    );
    for base in &bases {
        assert_eq!(orgs_as(&app, base, &second).await.0, 401, "{base}");
        assert_eq!(orgs_as(&app, base, &third).await.0, 200, "{base}");
    }

    let actions: Vec<(String, String)> = passage::on_db!(&app.db.db, p => sqlx::query_as(
        "SELECT action, subject FROM audit_events WHERE actor = 'cli' AND action LIKE 'key.%' ORDER BY seq"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    let actions: Vec<String> = actions
        .into_iter()
        .map(|(action, subject)| format!("{action} {subject}"))
        .collect();
    assert_eq!(actions.len(), 4, "{actions:?}");
    assert!(actions[0].starts_with("key.rotate "), "{actions:?}");
    assert_eq!(actions[1], format!("key.retire key:{first_kid}"));
    assert!(actions[2].starts_with("key.rotate "), "{actions:?}");
    assert_eq!(actions[3], format!("key.retire key:{second_kid}"));
    let audit = passage::audit::verify(&app.db.db).await.unwrap();
    assert!(audit.ok, "{:?}", audit.broken);
    other.stop().await.expect("the second instance stops");
    app.stop().await;
}

async fn a_token_that_lasts_too_long_or_begins_in_the_future_is_refused(t: TestDb) {
    let app = TestApp::spawn_with(t, &[("PASSAGE_JWT_SECRET", SECRET)]).await;
    let tr = app.seed_user("tr@example.org", "treasurer", None).await;
    let now = common::night().timestamp();
    // Each token's session, as a sign-in would store it: a token with no session opens
    // nothing (below), whatever its signature.
    let jti = |iat: i64, exp: i64| format!("s-{iat}-{exp}");
    let signed = |iat: i64, exp: i64| {
        let claims = passage::identity::tokens::Claims {
            sub: tr.clone(),
            roles: vec![passage::domain::Role::Treasurer],
            org: None,
            iat,
            exp,
            jti: jti(iat, exp),
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some("config".into());
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    };
    let hour = 3600;
    let year_2100 = chrono::NaiveDate::from_ymd_opt(2100, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp();
    for (iat, exp, expected, says) in [
        (now, now + 12 * hour, 200, ""),
        (now + 60, now + 60 + 12 * hour, 200, ""),
        (now, year_2100, 401, "PASSAGE_TOKEN_HOURS"),
        (now - hour, now + 12 * hour, 401, "PASSAGE_TOKEN_HOURS"),
        (now + 61, now + 61 + hour, 401, "in the future"),
        (year_2100 - hour, year_2100, 401, "in the future"),
    ] {
        passage::on_db!(&app.db.db, p => sqlx::query(
            "INSERT INTO sessions (id, user_id, device, address, first_seen, last_seen, expires_at)
             VALUES ($1, $2, 'test', 'test', $3, $3, $4)"
        )
        .bind(jti(iat, exp))
        .bind(&tr)
        .bind(common::night())
        .bind(common::night() + Duration::days(1))
        .execute(p)
        .await
        .map(|_| ()))
        .unwrap();
        let (status, message) = orgs_as(&app, &app.base, &signed(iat, exp)).await;
        assert_eq!(status, expected, "iat {iat}, exp {exp}: {message}");
        assert!(
            message.contains(says) && (expected == 200 || message.contains("sign in again")),
            "iat {iat}, exp {exp}: {message}"
        );
    }
    // Well signed, of the right length, but never issued (a leaked key): no session, 401.
    let unissued = {
        let claims = passage::identity::tokens::Claims {
            sub: tr.clone(),
            roles: vec![passage::domain::Role::Treasurer],
            org: None,
            iat: now,
            exp: now + hour,
            jti: "never-issued".into(),
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some("config".into());
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    };
    let (status, message) = orgs_as(&app, &app.base, &unissued).await;
    assert_eq!(status, 401, "{message}");
    app.stop().await;
}

async fn repeated_failures_are_refused_with_429_until_the_window_passes(t: TestDb) {
    let app = TestApp::spawn_with(
        t,
        &[
            ("PASSAGE_LOGIN_MAX_FAILURES", "3"),
            ("PASSAGE_LOGIN_WINDOW_SECS", "60"),
        ],
    )
    .await;
    app.seed_user("tr@example.org", "treasurer", None).await;
    let attempt = |password: &'static str| {
        let app = &app;
        async move {
            app.post("/api/v1/auth/login", None)
                .json(&json!({"email": "tr@example.org", "password": password}))
                .send()
                .await
                .unwrap()
        }
    };
    for _ in 0..3 {
        assert_eq!(attempt("a wrong guess, again").await.status(), 401);
        app.clock.advance(Duration::seconds(10));
    }
    let r = attempt("a wrong guess, again").await;
    assert_eq!(r.status(), 429, "the fourth failure in the window");
    // The first failure (30 s ago) leaves the window in 30 s.
    assert_eq!(r.headers()["retry-after"], "30");
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "too_many_requests"
    );
    assert_eq!(
        attempt(PASSWORD).await.status(),
        429,
        "even the right password waits"
    );

    app.clock.advance(Duration::seconds(61));
    assert_eq!(attempt(PASSWORD).await.status(), 200, "after the window");
    // A success cleared the email's failures: three more wrong tries are 401 again.
    for _ in 0..3 {
        assert_eq!(attempt("a wrong guess, again").await.status(), 401);
    }
    assert_eq!(attempt("a wrong guess, again").await.status(), 429);
    app.stop().await;
}

async fn parallel_guesses_cannot_slip_past_the_limit(t: TestDb) {
    let app = TestApp::spawn_with(
        t,
        &[
            ("PASSAGE_LOGIN_MAX_FAILURES", "3"),
            ("PASSAGE_LOGIN_WINDOW_SECS", "60"),
        ],
    )
    .await;
    app.seed_user("tr@example.org", "treasurer", None).await;
    let guesses = (0..10).map(|i| {
        app.post("/api/v1/auth/login", None)
            .json(
                &json!({"email": "tr@example.org", "password": format!("wrong guess number {i}")}),
            )
            .send()
    });
    let answers = futures_util::future::join_all(guesses).await;
    let mut statuses: Vec<u16> = answers
        .into_iter()
        .map(|r| r.expect("the app answers").status().as_u16())
        .collect();
    statuses.sort();
    assert_eq!(statuses, [401, 401, 401, 429, 429, 429, 429, 429, 429, 429]);
    app.stop().await;
}

async fn one_address_guessing_at_many_emails_is_refused(t: TestDb) {
    let app = TestApp::spawn_with(
        t,
        &[
            ("PASSAGE_LOGIN_IP_MAX_FAILURES", "4"),
            ("PASSAGE_LOGIN_WINDOW_SECS", "60"),
        ],
    )
    .await;
    for i in 0..4 {
        let r = app
            .post("/api/v1/auth/login", None)
            .json(&json!({"email": format!("guess{i}@example.org"), "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = app
        .post("/api/v1/auth/login", None)
        .json(&json!({"email": "guess9@example.org", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    app.stop().await;
}

async fn admins_create_organisations_and_users_with_checked_fields(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let admin = app.seed_user("admin@example.org", "admin", None).await;
    let token = app.token_for(&admin).await;
    let post = |path: &'static str, body: Value| {
        let app = &app;
        let token = token.clone();
        async move {
            let r = app
                .post(path, Some(&token))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    let (status, org) = post(
        "/api/v1/orgs",
        json!({"name": "Youth Centre B", "type": "youth", "province": "on"}),
    )
    .await;
    assert_eq!(status, 201, "{org}");
    assert_eq!(org["type"], "youth");
    assert_eq!(org["province"], "ON");
    let org_id = org["id"].as_str().unwrap().to_string();
    for (body, field) in [
        (
            json!({"name": "X", "type": "church", "province": "QC"}),
            "type",
        ),
        (
            json!({"name": "X", "type": "youth", "province": "ZZ"}),
            "province",
        ),
        (
            json!({"name": "  ", "type": "youth", "province": "QC"}),
            "name",
        ),
    ] {
        let (status, err) = post("/api/v1/orgs", body).await;
        assert_eq!(status, 422, "{err}");
        assert_eq!(err["error"]["field"], field);
    }
    let (status, _) = post(
        "/api/v1/orgs",
        json!({"name": "Youth Centre B", "type": "health", "province": "QC"}),
    )
    .await;
    assert_eq!(status, 409, "the same name twice");

    let user = |email: &str, roles: Value, org: Option<&str>| {
        json!({"email": email, "password": "a long enough passphrase", "roles": roles,
               "org_id": org, "language": "fr", "display_name": "Worker 1"})
    };
    let (status, created) = post(
        "/api/v1/users",
        user("cw@example.org", json!(["caseworker"]), Some(&org_id)),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert!(created["id"].is_string());
    for (body, expected, field) in [
        (
            user("CW@example.org", json!(["treasurer"]), None),
            409,
            None,
        ),
        (
            user("cw2@example.org", json!(["caseworker"]), None),
            422,
            Some("org_id"),
        ),
        (
            user(
                "cw2@example.org",
                json!(["caseworker"]),
                Some("no-such-org"),
            ),
            422,
            Some("org_id"),
        ),
        (
            user("cw2@example.org", json!(["root"]), None),
            422,
            Some("roles"),
        ),
        (user("cw2@example.org", json!([]), None), 422, Some("roles")),
        (
            user("not-an-email", json!(["treasurer"]), None),
            422,
            Some("email"),
        ),
        (
            json!({"email": "cw2@example.org", "password": "too short", "roles": ["treasurer"]}),
            422,
            Some("password"),
        ),
        (
            json!({"email": "cw2@example.org", "password": "a long enough passphrase", "roles": ["treasurer"], "language": "es"}),
            422,
            Some("language"),
        ),
    ] {
        let (status, err) = post("/api/v1/users", body.clone()).await;
        assert_eq!(status, expected, "{body} -> {err}");
        if let Some(field) = field {
            assert_eq!(err["error"]["field"], field, "{err}");
        }
    }

    let r = app.get("/api/v1/users", Some(&token)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        !text.contains("argon2") && !text.contains("password"),
        "{text}"
    );
    let users: Value = serde_json::from_str(&text).unwrap();
    let cw = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "cw@example.org")
        .expect("the new caseworker is listed");
    assert_eq!(cw["roles"], json!(["caseworker"]));
    assert_eq!(cw["org_id"], json!(org_id));
    assert_eq!(cw["active"], json!(true));

    // Every change is in the audit trail with its actor, and no password is.
    let audit = passage::audit::verify(&app.db.db).await.unwrap();
    assert!(audit.ok);
    let events: Vec<(String, String, String)> = passage::on_db!(&app.db.db, p => sqlx::query_as(
        "SELECT actor, action, content FROM audit_events ORDER BY seq"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    let by_admin: Vec<&str> = events
        .iter()
        .filter(|(actor, _, _)| *actor == format!("user:{admin}"))
        .map(|(_, action, _)| action.as_str())
        .collect();
    assert_eq!(by_admin, ["org.create", "user.create"]);
    for (_, _, content) in &events {
        assert!(
            !content.contains("passphrase") && !content.contains("argon2"),
            "{content}"
        );
    }
    app.stop().await;
}

async fn change_password(app: &TestApp, token: &str, current: &str, new: &str) -> (u16, Value) {
    let r = app
        .post("/api/v1/auth/password", Some(token))
        .json(&json!({"current": current, "new": new}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn login_status(app: &TestApp, email: &str, password: &str) -> u16 {
    app.post("/api/v1/auth/login", None)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn a_user_changes_their_own_password_with_the_current_one(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let org = app.seed_org("Shelter A").await;
    let id = app
        .seed_user("cw@example.org", "caseworker", Some(&org))
        .await;
    let token = app.login("cw@example.org").await;
    let new = "ferry lantern quietly orbit";

    // A wrong current password: 422 on `current`, nothing changed.
    let (status, body) = change_password(&app, &token, "not my password at all", new).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "current", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("current password"),
        "{body}"
    );
    // A new password from the list of common ones (any case): 422 on `new`, saying why
    // and what to do.
    for common in ["1q2w3e4r5t6y", "QWERTY123456", "password1234"] {
        let (status, body) = change_password(&app, &token, PASSWORD, common).await;
        assert_eq!(status, 422, "{common}: {body}");
        assert_eq!(body["error"]["field"], "new", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("most common") && message.contains("choose another"),
            "{message}"
        );
    }
    let (status, body) = change_password(&app, &token, PASSWORD, "too short").await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("new")),
        "{body}"
    );
    assert_eq!(login_status(&app, "cw@example.org", PASSWORD).await, 200);

    // The right current password and a good new one.
    let (status, body) = change_password(&app, &token, PASSWORD, new).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(login_status(&app, "cw@example.org", PASSWORD).await, 401);
    assert_eq!(login_status(&app, "cw@example.org", new).await, 200);
    // The session it was changed from goes on (signing it out needs a valid token).
    let r = app
        .post("/api/v1/auth/logout", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    // Audited under the user, never the password or its hash.
    let events: Vec<(String, String, String, String)> =
        passage::on_db!(&app.db.db, p => sqlx::query_as(
        "SELECT actor, action, subject, content FROM audit_events ORDER BY seq"
    )
    .fetch_all(p)
    .await)
        .unwrap();
    let changed: Vec<_> = events
        .iter()
        .filter(|(_, action, _, _)| action == "user.password_changed")
        .collect();
    assert_eq!(changed.len(), 1, "{events:?}");
    assert_eq!(changed[0].0, format!("user:{id}"));
    assert_eq!(changed[0].2, format!("user:{id}"));
    for (_, _, _, content) in &events {
        assert!(
            !content.contains("lantern")
                && !content.contains("battery")
                && !content.contains("argon2"),
            "{content}"
        );
    }
    app.stop().await;
}

async fn guessing_the_current_password_is_throttled_like_sign_in(t: TestDb) {
    let app = TestApp::spawn(t).await;
    app.seed_user("tr@example.org", "treasurer", None).await;
    let token = app.login("tr@example.org").await;
    let mut statuses = Vec::new();
    for n in 0..7 {
        let (status, _) = change_password(
            &app,
            &token,
            &format!("guess number {n}"),
            "ferry lantern quietly orbit",
        )
        .await;
        statuses.push(status);
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    // The guesses count against the email's sign-ins too.
    assert_eq!(login_status(&app, "tr@example.org", PASSWORD).await, 429);
    app.stop().await;
}

async fn ask_reset(app: &TestApp, email: &str) -> reqwest::Response {
    app.post("/api/v1/auth/reset", None)
        .json(&json!({"email": email}))
        .send()
        .await
        .unwrap()
}

/// Status, headers and body bytes, but `date` (the second it was sent) and `x-request-id`
/// (a fresh random id on every answer, for the logs).
async fn whole_answer(r: reqwest::Response) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "date" | "x-request-id"))
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect();
    (status, headers, r.bytes().await.unwrap().to_vec())
}

/// The text of every reset mail in the outbox, by recipient.
async fn reset_mails(app: &TestApp) -> Vec<(String, String)> {
    passage::on_db!(&app.db.db, p => sqlx::query_as(
        "SELECT to_addr, body_text FROM outbox WHERE dedupe_key LIKE 'password-reset:%'
         ORDER BY created_at, id"
    )
    .fetch_all(p)
    .await)
    .unwrap()
}

fn token_in(text: &str) -> String {
    let start = text.find("/reset?token=").expect("a reset link") + "/reset?token=".len();
    text[start..].split_whitespace().next().unwrap().to_string()
}

async fn confirm_reset(app: &TestApp, token: &str, password: &str) -> (u16, Value) {
    let r = app
        .post("/api/v1/auth/reset/confirm", None)
        .json(&json!({"token": token, "password": password}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn audit_rows(app: &TestApp) -> Vec<(String, String, String, String)> {
    passage::on_db!(&app.db.db, p => sqlx::query_as(
        "SELECT actor, action, subject, content FROM audit_events ORDER BY seq"
    )
    .fetch_all(p)
    .await)
    .unwrap()
}

async fn a_forgotten_password_is_reset_once_from_the_emailed_link(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let org = app.seed_org("Shelter A").await;
    let id = app
        .seed_user("cw@example.org", "caseworker", Some(&org))
        .await;
    let session = app.login("cw@example.org").await;

    // A known and an unknown address get the same answer, byte for byte.
    let known = whole_answer(ask_reset(&app, "CW@example.org ").await).await;
    let unknown = whole_answer(ask_reset(&app, "nobody@example.org").await).await;
    assert_eq!(known.0, 202);
    assert_eq!(
        known, unknown,
        "the answers tell whether the address exists"
    );
    // Only the known one is mailed, stored and audited.
    let mails = reset_mails(&app).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].0, "cw@example.org");
    let link_start = format!("{}/reset?token=", app.config.base_url.trim_end_matches('/'));
    assert!(mails[0].1.contains(&link_start), "{}", mails[0].1);
    let token = token_in(&mails[0].1);
    let rows: i64 = passage::on_db!(&app.db.db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM password_resets").fetch_one(p).await)
    .unwrap();
    assert_eq!(rows, 1);
    let stored: String = passage::on_db!(&app.db.db, p => sqlx::query_scalar(
        "SELECT token_hash FROM password_resets").fetch_one(p).await)
    .unwrap();
    assert_ne!(stored, token, "the token is stored hashed");

    // The token opens nothing else: it is not a session.
    let r = app
        .post("/api/v1/auth/logout", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A common password is refused and leaves the link usable.
    let (status, body) = confirm_reset(&app, &token, "qwerty123456").await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("password")),
        "{body}"
    );
    app.clock.advance(Duration::minutes(10));
    let new = "ferry lantern quietly orbit";
    let (status, body) = confirm_reset(&app, &token, new).await;
    assert_eq!(status, 204, "{body}");
    // Every session opened before ends; the new password signs in, the old does not.
    let r = app
        .post("/api/v1/auth/logout", Some(&session))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the other session is ended");
    assert_eq!(login_status(&app, "cw@example.org", PASSWORD).await, 401);
    assert_eq!(login_status(&app, "cw@example.org", new).await, 200);
    // Single use.
    let (status, body) = confirm_reset(&app, &token, "another fine long phrase").await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("token")),
        "{body}"
    );
    assert_eq!(login_status(&app, "cw@example.org", new).await, 200);

    // A link expires after one hour.
    assert_eq!(ask_reset(&app, "cw@example.org").await.status(), 202);
    let mails = reset_mails(&app).await;
    let late = token_in(&mails.last().unwrap().1);
    app.clock.advance(Duration::hours(1));
    let (status, body) = confirm_reset(&app, &late, "another fine long phrase").await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("token")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("one hour") && message.contains("ask for a new one"),
        "{message}"
    );

    // Audited under the account, never the token, the link or the unknown address.
    let events = audit_rows(&app).await;
    let actions: Vec<&str> = events
        .iter()
        .filter(|(_, _, subject, _)| *subject == format!("user:{id}"))
        .map(|(_, action, _, _)| action.as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "user.create",
            "user.password_reset_requested",
            "user.password_reset",
            // The reset ended the session signed in before it.
            "session.end",
            "user.password_reset_requested"
        ]
    );
    for (_, _, subject, content) in &events {
        for secret in [&token, &late, &stored] {
            assert!(!content.contains(secret.as_str()) && !subject.contains(secret.as_str()));
        }
        assert!(!content.contains("nobody") && !subject.contains("nobody"));
    }
    app.stop().await;
}

async fn reset_requests_are_throttled_alike_for_known_and_unknown_addresses(t: TestDb) {
    let app = TestApp::spawn_with(t, &[("PASSAGE_LOGIN_MAX_FAILURES", "3")]).await;
    app.seed_user("tr@example.org", "treasurer", None).await;
    for email in ["tr@example.org", "nobody@example.org"] {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(ask_reset(&app, email).await.status().as_u16());
        }
        assert_eq!(statuses, [202, 202, 202, 429], "{email}");
    }
    assert_eq!(reset_mails(&app).await.len(), 3);
    // Asking for links never locks the account out of signing in.
    assert_eq!(login_status(&app, "tr@example.org", PASSWORD).await, 200);
    app.stop().await;
}

/// The admin's pages × who asks, as the API's matrix: `{user}`, `{org}` and `{kid}` are a
/// user's, an organisation's and a key's. A page refuses a caseworker and a treasurer
/// with 403 and sends someone not signed in to the sign-in page (303).
/// A page: its method, its path and the fields of its form.
type Page = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const PAGE_MATRIX: &[Page] = &[
    ("GET", "/admin", &[]),
    ("GET", "/admin/users", &[]),
    (
        "POST",
        "/admin/users",
        &[("email", "page{n}@example.org"), ("roles", "treasurer")],
    ),
    ("GET", "/admin/users/{user}", &[]),
    (
        "POST",
        "/admin/users/{user}/roles",
        &[("roles", "treasurer")],
    ),
    (
        "POST",
        "/admin/users/{user}/language",
        &[("language", "fr")],
    ),
    (
        "POST",
        "/admin/users/{user}/on-call",
        &[("on_call", "true")],
    ),
    ("POST", "/admin/users/{user}/active", &[("active", "true")]),
    ("POST", "/admin/users/{user}/sessions/end", &[]),
    ("POST", "/admin/users/{user}/second-factor/reset", &[]),
    ("GET", "/admin/orgs", &[]),
    (
        "POST",
        "/admin/orgs",
        &[
            ("name", "Page org {n}"),
            ("type", "youth"),
            ("province", "ON"),
        ],
    ),
    ("GET", "/admin/orgs/{org}", &[]),
    (
        "POST",
        "/admin/orgs/{org}",
        &[
            ("name", "Shelter A"),
            ("type", "shelter"),
            ("province", "QC"),
        ],
    ),
    ("GET", "/admin/keys", &[]),
    ("POST", "/admin/keys/rotate", &[]),
    ("POST", "/admin/keys/{kid}/retire", &[]),
    ("GET", "/admin/settings", &[]),
];

async fn every_admin_page_refuses_everyone_but_admins(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let org = app.seed_org("Shelter A").await;
    let ids = [
        None,
        Some(
            app.seed_user("cw@example.org", "caseworker", Some(&org))
                .await,
        ),
        Some(app.seed_user("tr@example.org", "treasurer", None).await),
        Some(app.seed_user("admin@example.org", "admin", None).await),
    ];
    let user = app.seed_user("target@example.org", "treasurer", None).await;
    let kid = passage::identity::keys::list(&app.db.db).await.unwrap()[0]
        .kid
        .clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let csrf = "ab".repeat(32);
    let mut wrong = Vec::new();
    let mut n = 0;
    for (method, path, fields) in PAGE_MATRIX {
        let path = path
            .replace("{user}", &user)
            .replace("{org}", &org)
            .replace("{kid}", &kid);
        for (col, who) in WHO.iter().enumerate() {
            n += 1;
            let mut cookie = format!("passage_csrf={csrf}");
            if let Some(id) = &ids[col] {
                cookie.push_str(&format!("; passage_session={}", app.token_for(id).await));
            }
            let req = match *method {
                "GET" => http.get(app.url(&path)),
                _ => {
                    let mut form: Vec<(String, String)> = vec![("csrf".into(), csrf.clone())];
                    form.extend(
                        fields
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.replace("{n}", &n.to_string()))),
                    );
                    http.post(app.url(&path))
                        .header("sec-fetch-site", "same-origin")
                        .form(&form)
                }
            };
            let r = req.header("cookie", cookie).send().await.unwrap();
            let status = r.status().as_u16();
            let location = r
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let ok = match col {
                0 => status == 303 && location.starts_with("/signin"),
                1 | 2 => status == 403,
                _ => status == 200 || (status == 303 && !location.starts_with("/signin")),
            };
            if !ok {
                wrong.push(format!("{method} {path} as {who}: {status} {location}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the admin pages' matrix does not hold:\n{}",
        wrong.join("\n")
    );
    app.stop().await;
}

async fn invite(app: &TestApp, admin: &str, body: Value) -> (u16, Value) {
    let r = app
        .post("/api/v1/users/invite", Some(admin))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Every invitation mail in the outbox: recipient, subject and text.
async fn invitation_mails(app: &TestApp) -> Vec<(String, String, String)> {
    passage::on_db!(&app.db.db, p => sqlx::query_as(
        "SELECT to_addr, subject, body_text FROM outbox WHERE dedupe_key LIKE 'invitation:%'
         ORDER BY created_at, id"
    )
    .fetch_all(p)
    .await)
    .unwrap()
}

fn invitation_token_in(text: &str) -> String {
    let start =
        text.find("/invitation?token=").expect("an invitation link") + "/invitation?token=".len();
    text[start..].split_whitespace().next().unwrap().to_string()
}

async fn accept_invitation(app: &TestApp, token: &str, password: &str) -> (u16, Value) {
    let r = app
        .post("/api/v1/auth/invitation", None)
        .json(&json!({"token": token, "password": password}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn an_invitee_sets_their_own_password_once_from_the_emailed_link(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let org = app.seed_org("Shelter A").await;
    let admin_id = app.seed_user("admin@example.org", "admin", None).await;
    let admin = app.token_for(&admin_id).await;

    // A caseworker needs an organisation; bad fields are named.
    let (status, body) = invite(
        &app,
        &admin,
        json!({"email": "cw@example.org", "roles": ["caseworker"]}),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("org_id")),
        "{body}"
    );
    let (status, body) = invite(
        &app,
        &admin,
        json!({"email": "cw@example.org", "roles": ["caseworker"], "org_id": org, "language": "de"}),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("language")),
        "{body}"
    );

    let (status, body) = invite(
        &app,
        &admin,
        json!({"email": "cw@example.org", "roles": ["caseworker"], "org_id": org, "language": "fr"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    // The mail is in the invitee's language, with a link to the invitation page.
    let mails = invitation_mails(&app).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].0, "cw@example.org");
    assert_eq!(mails[0].1, "Vous êtes invité·e à Passage");
    assert!(mails[0].2.contains("48 heures"), "{}", mails[0].2);
    let link_start = format!(
        "{}/invitation?token=",
        app.config.base_url.trim_end_matches('/')
    );
    assert!(mails[0].2.contains(&link_start), "{}", mails[0].2);
    let token = invitation_token_in(&mails[0].2);
    let stored: String = passage::on_db!(&app.db.db, p => sqlx::query_scalar(
        "SELECT token_hash FROM invitations").fetch_one(p).await)
    .unwrap();
    assert_ne!(stored, token, "the token is stored hashed");

    // The account is there, with its roles, and cannot sign in yet.
    let listed: Value = app
        .get("/api/v1/users", Some(&admin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == json!(id))
        .cloned()
        .expect("the invitee is listed");
    assert_eq!(listed["roles"], json!(["caseworker"]));
    assert_eq!(listed["language"], json!("fr"));
    // The list says the invitation waits, and until when, as the admin's page does.
    let until = (passage::clock::Clock::now(&app.clock) + Duration::hours(48))
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    assert_eq!(listed["invitation"]["expires_at"], json!(until), "{listed}");
    assert_eq!(login_status(&app, "cw@example.org", PASSWORD).await, 401);
    // The token is not a session.
    let r = app
        .post("/api/v1/auth/logout", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A common password is refused and leaves the link usable.
    let (status, body) = accept_invitation(&app, &token, "qwerty123456").await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("password")),
        "{body}"
    );
    app.clock.advance(Duration::hours(47));
    let chosen = "harbour lantern quietly orbit";
    let (status, body) = accept_invitation(&app, &token, chosen).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(login_status(&app, "cw@example.org", chosen).await, 200);
    let listed: Value = app
        .get("/api/v1/users", Some(&app.token_for(&admin_id).await))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let accepted = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == json!(id))
        .unwrap();
    assert_eq!(accepted["invitation"], Value::Null, "accepted: {accepted}");
    // Single use.
    let (status, body) = accept_invitation(&app, &token, "another fine long phrase").await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("token")),
        "{body}"
    );
    assert_eq!(login_status(&app, "cw@example.org", chosen).await, 200);
    // An account with a password is not invited again (a new session: two days passed).
    let admin = app.token_for(&admin_id).await;
    let (status, body) = invite(
        &app,
        &admin,
        json!({"email": "cw@example.org", "roles": ["caseworker"], "org_id": org}),
    )
    .await;
    assert_eq!(status, 409, "{body}");

    // Audited under the account, never the token or the password.
    let events = audit_rows(&app).await;
    let actions: Vec<(&str, &str)> = events
        .iter()
        .filter(|(_, _, subject, _)| *subject == format!("user:{id}"))
        .map(|(actor, action, _, _)| (actor.as_str(), action.as_str()))
        .collect();
    let by_admin = format!("user:{admin_id}");
    let by_invitee = format!("user:{id}");
    assert_eq!(
        actions,
        [
            (by_admin.as_str(), "user.invited"),
            (by_invitee.as_str(), "user.invitation_accepted")
        ]
    );
    for (_, _, subject, content) in &events {
        for secret in [token.as_str(), stored.as_str(), chosen] {
            assert!(!content.contains(secret) && !subject.contains(secret));
        }
    }
    app.stop().await;
}

async fn an_invitation_expires_after_48_hours_and_inviting_again_replaces_the_link(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let org = app.seed_org("Shelter A").await;
    let admin_id = app.seed_user("admin@example.org", "admin", None).await;
    let admin = app.token_for(&admin_id).await;
    let body = json!({"email": "tr@example.org", "roles": ["treasurer"], "language": "en"});
    let (status, first) = invite(&app, &admin, body.clone()).await;
    assert_eq!(status, 201, "{first}");
    let old = invitation_token_in(&invitation_mails(&app).await[0].2);
    assert_eq!(
        invitation_mails(&app).await[0].1,
        "You are invited to Passage"
    );
    app.clock.advance(Duration::hours(48));
    let (status, body_) = accept_invitation(&app, &old, "harbour lantern quietly orbit").await;
    assert_eq!(
        (status, &body_["error"]["field"]),
        (422, &json!("token")),
        "{body_}"
    );
    let message = body_["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("48 hours") && message.contains("invite you again"),
        "{message}"
    );

    // Inviting again: the same account, with what the new invitation says, a new link.
    let admin = app.token_for(&admin_id).await;
    let (status, second) = invite(
        &app,
        &admin,
        json!({"email": "tr@example.org", "roles": ["caseworker"], "org_id": org, "language": "en"}),
    )
    .await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(first["id"], second["id"], "the same account");
    let mails = invitation_mails(&app).await;
    assert_eq!(mails.len(), 2);
    let newer = invitation_token_in(&mails[1].2);
    // A third invitation, a minute later, replaces the second's link before it is used.
    app.clock.advance(Duration::minutes(1));
    let (status, _) = invite(
        &app,
        &admin,
        json!({"email": "tr@example.org", "roles": ["caseworker"], "org_id": org}),
    )
    .await;
    assert_eq!(status, 201);
    let newest = invitation_token_in(&invitation_mails(&app).await[2].2);
    let (status, body_) = accept_invitation(&app, &newer, "harbour lantern quietly orbit").await;
    assert_eq!(
        (status, &body_["error"]["field"]),
        (422, &json!("token")),
        "replaced: {body_}"
    );
    let (status, body_) = accept_invitation(&app, &newest, "harbour lantern quietly orbit").await;
    assert_eq!(status, 204, "{body_}");
    let who: Value = app
        .post("/api/v1/auth/login", None)
        .json(&json!({"email": "tr@example.org", "password": "harbour lantern quietly orbit"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(who["user"]["roles"], json!(["caseworker"]), "{who}");
    assert_eq!(who["user"]["org_id"], json!(org));
    app.stop().await;
}

/// Hostile: a reset link's token cannot accept an invitation, and an invitation's token
/// cannot reset a password, even for the same account.
async fn reset_and_invitation_tokens_are_bound_to_their_purpose(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let admin = app.seed_user("admin@example.org", "admin", None).await;
    let admin = app.token_for(&admin).await;
    // An invitee waiting, and a reset link for an account with a password.
    let (status, _) = invite(
        &app,
        &admin,
        json!({"email": "tr@example.org", "roles": ["treasurer"]}),
    )
    .await;
    assert_eq!(status, 201);
    let invitation = invitation_token_in(&invitation_mails(&app).await[0].2);
    app.seed_user("other@example.org", "treasurer", None).await;
    assert_eq!(ask_reset(&app, "other@example.org").await.status(), 202);
    // The invitee asks for a reset link too: it is an account, with an address.
    assert_eq!(ask_reset(&app, "tr@example.org").await.status(), 202);
    let resets = reset_mails(&app).await;
    assert_eq!(resets.len(), 2, "{resets:?}");
    let phrase = "harbour lantern quietly orbit";
    for (_, text) in &resets {
        let reset = token_in(text);
        let (status, body) = accept_invitation(&app, &reset, phrase).await;
        assert_eq!(
            (status, &body["error"]["field"]),
            (422, &json!("token")),
            "{body}"
        );
    }
    let (status, body) = confirm_reset(&app, &invitation, phrase).await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("token")),
        "{body}"
    );
    assert_eq!(login_status(&app, "tr@example.org", phrase).await, 401);
    assert_eq!(login_status(&app, "other@example.org", phrase).await, 401);
    // Each works for its own purpose.
    let (status, body) = accept_invitation(&app, &invitation, phrase).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(login_status(&app, "tr@example.org", phrase).await, 200);
    // A password set by one link uses up the account's other links of either kind: the
    // reset link the invitee asked for before accepting sets nothing now.
    let (_, text) = resets
        .iter()
        .find(|(to, _)| to == "tr@example.org")
        .expect("the invitee's reset link");
    let (status, body) = confirm_reset(&app, &token_in(text), "meadow compass slowly drift").await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("token")),
        "{body}"
    );
    assert_eq!(login_status(&app, "tr@example.org", phrase).await, 200);
    // And the other account's reset link still works for its own account.
    let (_, text) = resets
        .iter()
        .find(|(to, _)| to == "other@example.org")
        .expect("the other account's reset link");
    let (status, body) = confirm_reset(&app, &token_in(text), "meadow compass slowly drift").await;
    assert_eq!(status, 204, "{body}");
    app.stop().await;
}

/// A deactivated invitee's link opens nothing.
async fn a_deactivated_invitee_cannot_accept(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let admin = app.seed_user("admin@example.org", "admin", None).await;
    let admin = app.token_for(&admin).await;
    let (status, body) = invite(
        &app,
        &admin,
        json!({"email": "tr@example.org", "roles": ["treasurer"]}),
    )
    .await;
    assert_eq!(status, 201);
    let id = body["id"].as_str().unwrap();
    let token = invitation_token_in(&invitation_mails(&app).await[0].2);
    let r = app
        .post(&format!("/api/v1/users/{id}/deactivate"), Some(&admin))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, body) = accept_invitation(&app, &token, "harbour lantern quietly orbit").await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("token")),
        "{body}"
    );
    app.stop().await;
}

on_both_engines!(
    an_invitee_sets_their_own_password_once_from_the_emailed_link,
    an_invitation_expires_after_48_hours_and_inviting_again_replaces_the_link,
    reset_and_invitation_tokens_are_bound_to_their_purpose,
    a_deactivated_invitee_cannot_accept,
    every_admin_page_refuses_everyone_but_admins,
    a_forgotten_password_is_reset_once_from_the_emailed_link,
    reset_requests_are_throttled_alike_for_known_and_unknown_addresses,
    a_user_changes_their_own_password_with_the_current_one,
    guessing_the_current_password_is_throttled_like_sign_in,
    every_route_answers_each_role_as_the_matrix_says,
    login_answers_a_token_and_the_user,
    an_unknown_email_and_a_wrong_password_get_the_same_answer,
    a_malformed_sign_in_is_a_client_error_in_the_api_format,
    bad_tokens_are_refused_with_401,
    a_token_is_refused_after_logout_and_other_sessions_stay,
    a_deactivated_users_token_is_refused_on_the_next_request,
    a_role_change_takes_effect_on_the_next_request,
    a_token_signed_before_keys_rotate_works_until_it_expires,
    a_key_stored_before_a_secret_was_configured_verifies_nothing,
    a_retired_key_opens_nothing_at_once_on_every_instance,
    a_token_that_lasts_too_long_or_begins_in_the_future_is_refused,
    repeated_failures_are_refused_with_429_until_the_window_passes,
    parallel_guesses_cannot_slip_past_the_limit,
    one_address_guessing_at_many_emails_is_refused,
    admins_create_organisations_and_users_with_checked_fields,
);
