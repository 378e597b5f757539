//! The OpenAPI document at `/api/v1/openapi.json`, on both engines: it is served to anyone,
//! it describes every route the server answers and nothing else, each documented body is
//! exactly what its handler accepts, and real answers match their documented schemas.

mod common;

use std::collections::BTreeSet;

use common::{TestApp, TestDb};
use reqwest::Method;
use serde_json::{Value, json};

/// Every operation of the API. A route added to the server shows up in the document by
/// construction; this list makes the addition visible in review.
const OPERATIONS: &[&str] = &[
    "GET /healthz",
    "GET /api/v1/openapi.json",
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/logout",
    "POST /api/v1/auth/password",
    "POST /api/v1/auth/reset",
    "POST /api/v1/auth/reset/confirm",
    "POST /api/v1/auth/invitation",
    "POST /api/v1/auth/totp",
    "POST /api/v1/auth/totp/confirm",
    "POST /api/v1/auth/second-factor",
    "GET /api/v1/auth/sessions",
    "DELETE /api/v1/auth/sessions",
    "DELETE /api/v1/auth/sessions/{id}",
    "DELETE /api/v1/users/{id}/sessions",
    "POST /api/v1/users/{id}/second-factor/reset",
    "POST /api/v1/orgs",
    "GET /api/v1/orgs",
    "PUT /api/v1/orgs/{id}",
    "POST /api/v1/users",
    "GET /api/v1/users",
    "POST /api/v1/users/invite",
    "PUT /api/v1/users/{id}/language",
    "GET /api/v1/keys",
    "POST /api/v1/keys/rotate",
    "POST /api/v1/keys/{kid}/retire",
    "GET /api/v1/settings",
    "POST /api/v1/users/{id}/deactivate",
    "POST /api/v1/users/{id}/reactivate",
    "PUT /api/v1/users/{id}/roles",
    "PUT /api/v1/users/{id}/on-call",
    "POST /api/v1/cases",
    "GET /api/v1/cases",
    "GET /api/v1/cases/{code}",
    "POST /api/v1/cases/{code}/share",
    "POST /api/v1/cases/{code}/unshare",
    "POST /api/v1/cases/{code}/close",
    "POST /api/v1/cases/{code}/reopen",
    "POST /api/v1/donors",
    "POST /api/v1/donors/{id}/links/withdraw",
    "POST /api/v1/donations",
    "POST /api/v1/donations/import",
    "GET /api/v1/fund",
    "GET /api/v1/audit/verify",
    "GET /api/v1/ledger/export",
    "POST /api/v1/reserves",
    "GET /api/v1/reserves",
    "PUT /api/v1/orgs/{id}/payment",
    "GET /api/v1/orgs/{id}/payment",
    "POST /api/v1/orgs/{id}/advance/returned",
    "POST /api/v1/vendors",
    "GET /api/v1/vendors",
    "POST /api/v1/payouts",
    "GET /api/v1/payouts",
    "GET /api/v1/payouts/{id}",
    "POST /api/v1/payouts/{id}/release",
    "POST /api/v1/payouts/{id}/cancel",
    "POST /api/v1/payouts/{id}/paid",
    "POST /api/v1/payouts/{id}/lines/{line}/paid",
    "POST /api/v1/payouts/{id}/lines/{line}/bounced",
    "GET /api/v1/payouts/{id}/instructions.csv",
    "POST /api/v1/bank/statements",
    "GET /api/v1/bank/statements",
    "GET /api/v1/bank/statements/{id}",
    "POST /api/v1/bank/lines/{id}/record",
    "POST /api/v1/bank/lines/{id}/confirm",
    "POST /api/v1/bank/lines/{id}/refuse",
    "POST /api/v1/bank/lines/{id}/unmatch",
    "GET /api/v1/bank/layouts",
    "POST /api/v1/bank/layouts",
    "DELETE /api/v1/bank/layouts/{id}",
    "GET /api/v1/bank/reconciliation",
    "POST /api/v1/bank/reconciliation",
    "GET /api/v1/policy",
    "PUT /api/v1/policy",
    "GET /api/v1/policy/versions/{version}",
    "POST /api/v1/policy/versions/{version}/cosign",
    "POST /api/v1/requests",
    "GET /api/v1/requests",
    "GET /api/v1/requests/{id}",
    "POST /api/v1/requests/{id}/approve",
    "POST /api/v1/requests/{id}/decline",
    "POST /api/v1/requests/{id}/ask",
    "POST /api/v1/requests/{id}/answer",
    "POST /api/v1/requests/{id}/receipt",
    "POST /api/v1/requests/{id}/cancel",
    "POST /api/v1/requests/{id}/review",
    "GET /api/v1/review",
    "GET /api/v1/review/flagged",
    "POST /api/v1/requests/{id}/unflag",
    "POST /api/v1/reports",
    "GET /api/v1/reports",
    "GET /api/v1/reports/{id}",
    "POST /api/v1/reports/{id}/seal",
    "GET /api/v1/reports/{id}/verify",
    "GET /api/v1/reports/{id}/summary.json",
    "GET /api/v1/annual-reports/{year}",
    "POST /api/v1/reports/{id}/send",
    "GET /api/v1/donor/report",
    "GET /api/v1/donor/report/summary.json",
    "GET /api/v1/donor/unsubscribe",
    "POST /api/v1/donor/unsubscribe",
    "POST /api/v1/donor/resubscribe",
];

/// The operations anyone may call without a token.
const PUBLIC: &[&str] = &[
    "GET /healthz",
    "GET /api/v1/openapi.json",
    "POST /api/v1/auth/login",
    // Asking for a reset link, and setting a password with its token (never a session).
    "POST /api/v1/auth/reset",
    "POST /api/v1/auth/reset/confirm",
    // Accepting an invitation with its emailed token (never a session).
    "POST /api/v1/auth/invitation",
    // The second step of signing in: the sign-in's challenge, never a session.
    "POST /api/v1/auth/second-factor",
    // A donor's signed link (a token of its own, never a staff session) opens these.
    "GET /api/v1/donor/report",
    "GET /api/v1/donor/report/summary.json",
    "GET /api/v1/donor/unsubscribe",
    "POST /api/v1/donor/unsubscribe",
    "POST /api/v1/donor/resubscribe",
];

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The document, and checks of real answers against it.
struct Api {
    app: TestApp,
    doc: Value,
}

impl Api {
    async fn new(app: TestApp) -> Api {
        let res = app.get("/api/v1/openapi.json", None).send().await.unwrap();
        assert_eq!(res.status(), 200, "the document is public");
        assert_eq!(res.headers()["content-type"], "application/json");
        let doc: Value = res.json().await.unwrap();
        Api { app, doc }
    }

    /// `(METHOD, path)` of every documented operation.
    fn operations(&self) -> Vec<(String, String)> {
        let mut ops = Vec::new();
        for (path, item) in self.doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("a path item").keys() {
                ops.push((method.to_uppercase(), path.clone()));
            }
        }
        ops
    }

    fn operation(&self, method: &str, path: &str) -> &Value {
        let op = &self.doc["paths"][path][method.to_lowercase()];
        assert!(op.is_object(), "{method} {path} is not documented");
        op
    }

    /// Follows a `$ref` into the components, once or more.
    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(r) => {
                let name = r
                    .strip_prefix("#/components/schemas/")
                    .expect("a local $ref");
                self.resolve(&self.doc["components"]["schemas"][name])
            }
            None => schema,
        }
    }

    /// The request body's schema of an operation, if it takes a JSON one (a CSV file,
    /// `POST /api/v1/donations/import`, is probed by `real_answers_match_...` instead).
    fn body_schema(&self, method: &str, path: &str) -> Option<&Value> {
        let json = &self.operation(method, path)["requestBody"]["content"]["application/json"];
        json.is_object().then(|| self.resolve(&json["schema"]))
    }

    /// The property names a body schema documents, over every shape of a `oneOf`, and
    /// whether every shape refuses other properties.
    fn properties(&self, schema: &Value) -> (BTreeSet<String>, bool) {
        let schema = self.resolve(schema);
        if let Some(shapes) = schema["oneOf"].as_array() {
            let mut names = BTreeSet::new();
            let mut closed = true;
            for shape in shapes {
                let (n, c) = self.properties(shape);
                names.extend(n);
                closed &= c;
            }
            return (names, closed);
        }
        let names = schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        (names, schema["additionalProperties"] == json!(false))
    }

    /// Asserts that `status` is documented for the operation and that `body` matches the
    /// schema documented for it.
    fn check(&self, method: &str, path: &str, status: u16, body: &Value) {
        let op = self.operation(method, path);
        let response = &op["responses"][status.to_string()];
        assert!(
            response.is_object(),
            "{method} {path} answered {status}, which is not documented: {body}"
        );
        let Some(schema) = response["content"]["application/json"].get("schema") else {
            assert!(
                body.is_null(),
                "{method} {path} {status} documents no body but sent {body}"
            );
            return;
        };
        self.validate(schema, body, &format!("{method} {path} {status}"));
    }

    /// Asserts that `instance` matches `schema`, whose `$ref`s point into the document.
    fn validate(&self, schema: &Value, instance: &Value, what: &str) {
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.doc["components"],
            "allOf": [schema],
        });
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("the schema of {what} compiles: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{what} does not match its schema:\n{}\ninstance: {instance}",
            errors.join("\n")
        );
    }

    /// Sends a request to `template` with `fill` in its braces, checks the answer against
    /// the document, and returns it.
    async fn call(
        &self,
        method: &str,
        template: &str,
        fill: &[(&str, &str)],
        token: Option<&str>,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let sent = body.clone();
        let (status, answer) = self.send(method, template, fill, token, key, body).await;
        let documented = template.split('?').next().unwrap_or(template);
        self.check(method, documented, status, &answer);
        // A body the handler took must be one the document allows: the schema is not
        // stricter than the parser.
        if let (true, Some(sent)) = ((200..300).contains(&status), &sent) {
            let schema = self.body_schema(method, documented).unwrap_or_else(|| {
                panic!("{method} {documented} took a body it does not document")
            });
            self.validate(
                schema,
                sent,
                &format!("the body sent to {method} {documented}"),
            );
        }
        (status, answer)
    }

    async fn send(
        &self,
        method: &str,
        template: &str,
        fill: &[(&str, &str)],
        token: Option<&str>,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut path = template.to_string();
        for (name, value) in fill {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.app.http.request(method, self.app.url(&path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(key) = key {
            req = req.header("idempotency-key", key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("the app answers");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let answer = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{path} answered {status} with non-JSON: {text}"))
        };
        (status, answer)
    }
}

/// Values of the right shape for path parameters, for requests that stop at the door.
fn placeholders(path: &str) -> Vec<(&'static str, &'static str)> {
    let id = if path.starts_with("/api/v1/requests") {
        "6f1c3f9e-4d8a-4b7e-9c41-2a5d7e0b8c13"
    } else {
        "someone"
    };
    vec![("id", id), ("code", "QC-0000-0000"), ("version", "1")]
}

/// Whether a refusal (`{field, message}`) is the one for a field the route does not know:
/// "is not a field of this request" for most bodies, "is not a policy field" for the policy.
fn refused_as_unknown(refusal: &Value) -> bool {
    let field = refusal["field"].as_str().unwrap_or_default();
    let message = refusal["message"].as_str().unwrap_or_default();
    message
        .strip_prefix(&format!("{field}: "))
        .unwrap_or(message)
        .starts_with("is not a")
}

async fn the_document_describes_every_route_and_nothing_else(t: TestDb) {
    let api = Api::new(TestApp::spawn(t).await).await;
    let version = api.doc["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3."), "OpenAPI 3.x, got {version}");

    let documented: BTreeSet<String> = api
        .operations()
        .into_iter()
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    let expected: BTreeSet<String> = OPERATIONS.iter().map(|s| s.to_string()).collect();
    assert_eq!(documented, expected, "the documented operations");

    // Every reference points at a schema the document holds.
    let text = api.doc.to_string();
    for part in text.split("\"$ref\":\"").skip(1) {
        let target = &part[..part.find('"').unwrap()];
        let name = target.strip_prefix("#/components/schemas/").unwrap();
        assert!(
            api.doc["components"]["schemas"][name].is_object(),
            "{target} is referenced but not defined"
        );
    }

    // Signed-in operations name the bearer scheme; the public ones name none.
    assert_eq!(
        api.doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for (method, path) in api.operations() {
        let op = api.operation(&method, &path);
        let public = PUBLIC.contains(&format!("{method} {path}").as_str());
        if public {
            assert!(op.get("security").is_none(), "{method} {path} is public");
        } else {
            assert_eq!(op["security"], json!([{"bearer": []}]), "{method} {path}");
            assert!(op["responses"]["401"].is_object(), "{method} {path} 401");
        }
    }

    // Each documented operation is served: asked without a token (and without a body) it
    // gets a documented answer from its handler, never the router's 404 or 405.
    for (method, path) in api.operations() {
        let (status, body) = api
            .call(&method, &path, &placeholders(&path), None, None, None)
            .await;
        assert_ne!(status, 405, "{method} {path} is not routed");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            !message.contains("nothing at this address"),
            "{method} {path} is not routed"
        );
    }

    // And the server takes no other method on those paths.
    let paths: BTreeSet<String> = api.operations().into_iter().map(|(_, p)| p).collect();
    for path in paths {
        for method in METHODS {
            if api.doc["paths"][&path][method.to_lowercase()].is_object() {
                continue;
            }
            let (status, body) = api
                .send(method, &path, &placeholders(&path), None, None, None)
                .await;
            assert_eq!(status, 405, "{method} {path} is served but not documented");
            assert_eq!(body["error"]["code"], "method_not_allowed");
        }
    }
    api.app.stop().await;
}

async fn each_documented_body_is_what_its_handler_accepts(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let org = app.seed_org("Refuge Montréal").await;
    let cw = app
        .seed_user("cw@example.org", "caseworker", Some(&org))
        .await;
    let tr = app.seed_user("tr@example.org", "treasurer", None).await;
    let admin = app.seed_user("admin@example.org", "admin", None).await;
    let target = app.seed_user("target@example.org", "treasurer", None).await;
    let tokens = [
        app.token_for(&cw).await,
        app.token_for(&tr).await,
        app.token_for(&admin).await,
    ];
    let api = Api::new(app).await;
    let (_, case) = api
        .call(
            "POST",
            "/api/v1/cases",
            &[],
            Some(&tokens[0]),
            None,
            Some(json!({"province": "QC"})),
        )
        .await;
    let code = case["code"].as_str().unwrap().to_string();

    let mut checked = 0;
    for (method, path) in api.operations() {
        let Some(schema) = api.body_schema(&method, &path) else {
            continue;
        };
        let id = if path.starts_with("/api/v1/users") {
            target.as_str()
        } else {
            "6f1c3f9e-4d8a-4b7e-9c41-2a5d7e0b8c13"
        };
        let fill = [("id", id), ("code", code.as_str()), ("version", "1")];
        let (properties, closed) = api.properties(schema);
        assert!(!properties.is_empty(), "{method} {path} documents no field");

        // Someone who may pass the door: the probes are about the body, not the roles.
        let probe = json!({"zz_not_a_field": true});
        let mut token = None;
        for t in &tokens {
            let (status, _) = api
                .send(
                    &method,
                    &path,
                    &fill,
                    Some(t),
                    Some("probe"),
                    Some(probe.clone()),
                )
                .await;
            if status != 401 && status != 403 {
                token = Some(t.as_str());
                break;
            }
        }
        let token = token.unwrap_or_else(|| panic!("nobody may call {method} {path}"));

        // A field the document does not show is refused by name exactly when the document
        // says extra fields are refused.
        let (status, answer) = api
            .call(
                &method,
                &path,
                &fill,
                Some(token),
                Some("probe"),
                Some(probe),
            )
            .await;
        let named = answer["error"]["field"] == "zz_not_a_field";
        if closed {
            assert_eq!(status, 422, "{method} {path}: {answer}");
            assert!(named, "{method} {path} names the unknown field: {answer}");
            assert!(refused_as_unknown(&answer["error"]), "{answer}");
        } else {
            assert!(!named, "{method} {path} refuses fields its document allows");
        }

        // Every field the document shows is one the handler knows: sent empty, none of
        // them is refused as unknown (they may be refused as missing or wrong).
        let all: serde_json::Map<String, Value> = properties
            .iter()
            .map(|p| (p.clone(), Value::Null))
            .collect();
        let (_, answer) = api
            .call(
                &method,
                &path,
                &fill,
                Some(token),
                Some("nulls"),
                Some(Value::Object(all)),
            )
            .await;
        let mut refusals = vec![answer["error"].clone()];
        if let Some(errors) = answer["error"]["errors"].as_array() {
            refusals.extend(errors.iter().cloned());
        }
        assert!(
            !refusals.iter().any(refused_as_unknown),
            "{method} {path} refuses a documented field: {answer}"
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} bodies checked");
    api.app.stop().await;
}

async fn real_answers_match_their_documented_schemas(t: TestDb) {
    let app = TestApp::spawn(t).await;
    let org = app.seed_org("Refuge Montréal").await;
    app.seed_user("cw@example.org", "caseworker", Some(&org))
        .await;
    app.seed_user("tr@example.org", "treasurer", None).await;
    let tr2 = app.seed_user("tr2@example.org", "treasurer", None).await;
    let tr2 = Some(app.token_for(&tr2).await);
    app.seed_user("admin@example.org", "admin", None).await;
    let api = Api::new(app).await;
    let call = |method: &'static str,
                path: &'static str,
                fill: Vec<(&'static str, String)>,
                token: Option<String>,
                key: Option<&'static str>,
                body: Option<Value>| {
        let api = &api;
        async move {
            let fill: Vec<(&str, &str)> = fill.iter().map(|(k, v)| (*k, v.as_str())).collect();
            api.call(method, path, &fill, token.as_deref(), key, body)
                .await
        }
    };

    // Signing in, and its refusals.
    let (s, signed_in) = call(
        "POST",
        "/api/v1/auth/login",
        vec![],
        None,
        None,
        Some(json!({"email": "tr@example.org", "password": common::PASSWORD})),
    )
    .await;
    assert_eq!(s, 200);
    let tr = Some(signed_in["token"].as_str().unwrap().to_string());
    let (s, _) = call(
        "POST",
        "/api/v1/auth/login",
        vec![],
        None,
        None,
        Some(json!({"email": "tr@example.org", "password": "not the password at all"})),
    )
    .await;
    assert_eq!(s, 401);
    let cw = Some(api.app.login("cw@example.org").await);
    let admin = Some(api.app.login("admin@example.org").await);

    // Admins: organisations and users.
    let (s, other) = call(
        "POST",
        "/api/v1/orgs",
        vec![],
        admin.clone(),
        None,
        Some(json!({"name": "Harbour Shelter", "type": "shelter", "province": "NS"})),
    )
    .await;
    assert_eq!(s, 201);
    let other_org = other["id"].as_str().unwrap().to_string();
    call("GET", "/api/v1/orgs", vec![], admin.clone(), None, None).await;
    let (s, user) = call(
        "POST",
        "/api/v1/users",
        vec![],
        admin.clone(),
        None,
        Some(json!({"email": "new@example.org", "password": "another long passphrase", "roles": ["treasurer"]})),
    )
    .await;
    assert_eq!(s, 201);
    let user = vec![("id", user["id"].as_str().unwrap().to_string())];
    call("GET", "/api/v1/users", vec![], admin.clone(), None, None).await;
    for (method, path, body) in [
        (
            "PUT",
            "/api/v1/users/{id}/roles",
            Some(json!({"roles": ["treasurer", "admin"]})),
        ),
        (
            "PUT",
            "/api/v1/users/{id}/on-call",
            Some(json!({"on_call": true})),
        ),
        ("POST", "/api/v1/users/{id}/deactivate", None),
        ("POST", "/api/v1/users/{id}/reactivate", None),
    ] {
        let (s, _) = call(method, path, user.clone(), admin.clone(), None, body).await;
        assert_eq!(s, 200, "{method} {path}");
    }

    // Treasurers: donors, donations, the fund, the policy, reserves.
    let (s, donor) = call(
        "POST",
        "/api/v1/donors",
        vec![],
        tr.clone(),
        None,
        Some(json!({"name": "Fondation Exemple", "email": "dons@example.org", "language": "fr"})),
    )
    .await;
    assert_eq!(s, 201);
    let donation =
        json!({"donor_id": donor["id"], "amount": "5000.00", "received_on": "2026-11-29"});
    let (s, _) = call(
        "POST",
        "/api/v1/donations",
        vec![],
        tr.clone(),
        Some("gift-1"),
        Some(donation.clone()),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _) = call(
        "POST",
        "/api/v1/donations",
        vec![],
        tr.clone(),
        None,
        Some(donation.clone()),
    )
    .await;
    assert_eq!(s, 400, "no Idempotency-Key");
    let mut changed = donation.clone();
    changed["amount"] = json!("5.00");
    let (s, _) = call(
        "POST",
        "/api/v1/donations",
        vec![],
        tr.clone(),
        Some("gift-1"),
        Some(changed),
    )
    .await;
    assert_eq!(s, 409, "the same key with another body");
    let restricted = json!({"donor_id": donor["id"], "amount": "300.00",
                            "received_on": "2026-11-29", "restricted_to": ["hotel", "bus"]});
    let (s, _) = call(
        "POST",
        "/api/v1/donations",
        vec![],
        tr.clone(),
        Some("gift-2"),
        Some(restricted),
    )
    .await;
    assert_eq!(s, 201);
    let (s, fund) = call("GET", "/api/v1/fund", vec![], tr.clone(), None, None).await;
    assert_eq!((s, fund["donated"].as_str()), (200, Some("5300.00")));
    assert_eq!(
        fund["restricted_by_categories"],
        json!([{"categories": ["bus", "hotel"], "remaining": "300.00"}])
    );
    // Donations from a file: a preview, a commit, the same file again, a file refused.
    let file = "donor_email,donor_name,amount,received_on,restricted_to,in_kind,reference\n\
                seats@example.org,Air Exemple,412.50,2026-11-02,,true,DON-1\n\
                dons@example.org,,25.00,2026-11-03,hotel bus,false,DON-2\n";
    let wrong =
        "donor_email,amount,received_on,reference\ndons@example.org,1 000,2026-11-03,DON-3\n";
    for (query, body, expected) in [
        ("", file, 200),
        ("?commit=true", file, 201),
        ("?commit=true", file, 201),
        ("", wrong, 200),
        ("?commit=true", wrong, 422),
        ("", "not, a, donations, file", 422),
    ] {
        let res = api
            .app
            .http
            .post(api.app.url(&format!("/api/v1/donations/import{query}")))
            .bearer_auth(tr.as_deref().unwrap())
            .header("content-type", "text/csv")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let answer: Value = res.json().await.unwrap();
        assert_eq!(status, expected, "{query} {body}: {answer}");
        api.check("POST", "/api/v1/donations/import", status, &answer);
    }
    let (_, policy) = call("GET", "/api/v1/policy", vec![], tr.clone(), None, None).await;
    // Proposed back exactly as it was shown: `version`, `created_at`, `status` and the
    // signatures are ignored.
    let (s, proposed) = call(
        "PUT",
        "/api/v1/policy",
        vec![],
        tr.clone(),
        None,
        Some(policy),
    )
    .await;
    assert_eq!(s, 202, "what GET shows can be sent back");
    let proposed = proposed["version"].as_i64().unwrap().to_string();
    let (s, _) = call(
        "POST",
        "/api/v1/policy/versions/{version}/cosign",
        vec![("version", proposed.clone())],
        tr.clone(),
        None,
        None,
    )
    .await;
    assert_eq!(s, 403, "the proposer cannot co-sign");
    let (s, _) = call(
        "POST",
        "/api/v1/policy/versions/{version}/cosign",
        vec![("version", proposed.clone())],
        tr2.clone(),
        None,
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = call(
        "POST",
        "/api/v1/policy/versions/{version}/cosign",
        vec![("version", proposed.clone())],
        tr2.clone(),
        None,
        None,
    )
    .await;
    assert_eq!(s, 409);
    let (s, _) = call(
        "POST",
        "/api/v1/policy/versions/{version}/cosign",
        vec![("version", "99".into())],
        tr2.clone(),
        None,
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, refused) = call(
        "PUT",
        "/api/v1/policy",
        vec![],
        tr.clone(),
        None,
        Some(json!({"hold_hours": 0, "reserve_floor": 5})),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(refused["error"]["errors"].as_array().unwrap().len(), 2);
    call(
        "GET",
        "/api/v1/policy/versions/{version}",
        vec![("version", "1".into())],
        tr.clone(),
        None,
        None,
    )
    .await;
    let (s, _) = call(
        "POST",
        "/api/v1/reserves",
        vec![],
        tr.clone(),
        Some("reserve-1"),
        Some(
            json!({"org_id": other_org, "amount": "100.00", "expires_at": "2030-01-01T00:00:00Z"}),
        ),
    )
    .await;
    assert_eq!(s, 201);
    call("GET", "/api/v1/reserves", vec![], tr.clone(), None, None).await;

    // Caseworkers: a case and one request of each shape.
    let (s, case) = call(
        "POST",
        "/api/v1/cases",
        vec![],
        cw.clone(),
        None,
        Some(json!({"province": "QC"})),
    )
    .await;
    assert_eq!(s, 201);
    let code = case["code"].as_str().unwrap().to_string();
    let ask = |key: &'static str, body: Value| {
        call(
            "POST",
            "/api/v1/requests",
            vec![],
            cw.clone(),
            Some(key),
            Some(body),
        )
    };
    let (s, hotel) = ask(
        "hotel",
        json!({"case_code": code, "category": "hotel", "nights": 2, "nightly_rate": "189.00",
               "party_size": 1, "needed_by": "2026-11-30T08:00:00-05:00", "urgent": true}),
    )
    .await;
    assert_eq!((s, hotel["status"].as_str()), (201, Some("approved")));
    let (s, bus) = ask(
        "bus",
        json!({"case_code": code, "category": "bus", "amount": "120.00", "needed_by": "2026-11-30",
               "origin": {"city": "Montréal", "province": "QC"},
               "destination": {"city": "Ottawa", "province": "ON"},
               "travel_date": "2026-11-30", "reason": "safety"}),
    )
    .await;
    assert_eq!((s, bus["status"].as_str()), (201, Some("approved")));
    let (s, other) = ask(
        "other",
        json!({"case_code": code, "category": "clothing", "amount": "60.00", "needed_by": "2026-11-30"}),
    )
    .await;
    assert_eq!(
        (s, other["status"].as_str()),
        (201, Some("pending")),
        "{other}"
    );
    let (s, declined) = ask(
        "declined",
        json!({"case_code": code, "category": "interpreter", "amount": "80.00", "needed_by": "2026-11-30"}),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _) = ask(
        "refused",
        json!({"case_code": code, "category": "bus", "amount": "120.00", "needed_by": "2026-11-30"}),
    )
    .await;
    assert_eq!(s, 422, "a bus without its trip");
    let id = |v: &Value| vec![("id", v["id"].as_str().unwrap().to_string())];

    let case_fill = vec![("code", code.clone())];
    call(
        "GET",
        "/api/v1/cases/{code}",
        case_fill.clone(),
        cw.clone(),
        None,
        None,
    )
    .await;
    call(
        "POST",
        "/api/v1/cases/{code}/share",
        case_fill.clone(),
        cw.clone(),
        None,
        Some(json!({"org_id": other_org})),
    )
    .await;
    call(
        "POST",
        "/api/v1/cases/{code}/unshare",
        case_fill.clone(),
        cw.clone(),
        None,
        Some(json!({"org_id": other_org})),
    )
    .await;
    call("GET", "/api/v1/requests", vec![], cw.clone(), None, None).await;
    let (s, _) = call("GET", "/api/v1/cases", vec![], cw.clone(), None, None).await;
    assert_eq!(s, 200);
    let (s, _) = call(
        "GET",
        "/api/v1/cases?limit=1",
        vec![],
        tr.clone(),
        None,
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = call(
        "GET",
        "/api/v1/requests?status=pending",
        vec![],
        tr.clone(),
        None,
        None,
    )
    .await;
    assert_eq!(s, 200);
    call(
        "GET",
        "/api/v1/requests/{id}",
        id(&hotel),
        cw.clone(),
        None,
        None,
    )
    .await;

    // Treasurers decide; caseworkers settle and cancel.
    let (s, approved) = call(
        "POST",
        "/api/v1/requests/{id}/approve",
        id(&other),
        tr.clone(),
        Some("approve-1"),
        None,
    )
    .await;
    assert_eq!((s, approved["status"].as_str()), (200, Some("approved")));
    let (s, _) = call(
        "POST",
        "/api/v1/requests/{id}/approve",
        id(&other),
        tr.clone(),
        None,
        None,
    )
    .await;
    assert_eq!(s, 409, "approving twice");
    let (s, _) = call(
        "POST",
        "/api/v1/requests/{id}/decline",
        id(&declined),
        tr.clone(),
        None,
        Some(json!({"reason": "covered by another fund"})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, settled) = call(
        "POST",
        "/api/v1/requests/{id}/receipt",
        id(&hotel),
        cw.clone(),
        None,
        Some(json!({"amount": "351.22", "reference": "RM-0042"})),
    )
    .await;
    assert_eq!((s, settled["status"].as_str()), (200, Some("settled")));
    let (s, _) = call(
        "POST",
        "/api/v1/requests/{id}/cancel",
        id(&bus),
        cw.clone(),
        None,
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (_, review) = call("GET", "/api/v1/review", vec![], tr.clone(), None, None).await;
    let (s, _) = call(
        "POST",
        "/api/v1/requests/{id}/review",
        id(&review["items"][0]),
        tr.clone(),
        None,
        Some(json!({"flag": true, "reason": "second stay this week"})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, flagged) = call(
        "GET",
        "/api/v1/review/flagged",
        vec![],
        tr.clone(),
        None,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        flagged["items"][0]["reason"], "second stay this week",
        "{flagged}"
    );
    let (s, cleared) = call(
        "POST",
        "/api/v1/requests/{id}/unflag",
        id(&review["items"][0]),
        tr.clone(),
        None,
        None,
    )
    .await;
    assert_eq!((s, &cleared["flagged"]), (200, &json!(false)));
    for path in ["/api/v1/cases/{code}/close", "/api/v1/cases/{code}/reopen"] {
        let (s, _) = call("POST", path, case_fill.clone(), cw.clone(), None, None).await;
        assert_eq!(s, 200, "{path}");
    }
    let (s, fund) = call("GET", "/api/v1/fund", vec![], tr.clone(), None, None).await;
    assert_eq!((s, fund["spent"].as_str()), (200, Some("351.22")));

    // Refusals carry the documented error body.
    let (s, _) = call("GET", "/api/v1/fund", vec![], None, None, None).await;
    assert_eq!(s, 401);
    let (s, _) = call("GET", "/api/v1/fund", vec![], cw.clone(), None, None).await;
    assert_eq!(s, 403);
    let (s, _) = call(
        "GET",
        "/api/v1/requests/{id}",
        vec![("id", "6f1c3f9e-4d8a-4b7e-9c41-2a5d7e0b8c13".into())],
        tr.clone(),
        None,
        None,
    )
    .await;
    assert_eq!(s, 404);
    // A reset link asked for, and a made-up token refused.
    call(
        "POST",
        "/api/v1/auth/reset",
        vec![],
        None,
        None,
        Some(json!({"email": "cw@example.org"})),
    )
    .await;
    call(
        "POST",
        "/api/v1/auth/reset/confirm",
        vec![],
        None,
        None,
        Some(json!({"token": "0000", "password": "ferry lantern quietly orbit"})),
    )
    .await;
    // A wrong current password and a common new one: the documented 422s; then a change.
    for body in [
        json!({"current": "not the password at all", "new": "ferry lantern quietly orbit"}),
        json!({"current": common::PASSWORD, "new": "qwerty123456"}),
        json!({"current": common::PASSWORD, "new": "ferry lantern quietly orbit"}),
    ] {
        call(
            "POST",
            "/api/v1/auth/password",
            vec![],
            cw.clone(),
            None,
            Some(body),
        )
        .await;
    }
    call(
        "POST",
        "/api/v1/auth/logout",
        vec![],
        cw.clone(),
        None,
        None,
    )
    .await;
    call("GET", "/healthz", vec![], None, None, None).await;
    api.app.stop().await;
}

on_both_engines!(
    the_document_describes_every_route_and_nothing_else,
    each_documented_body_is_what_its_handler_accepts,
    real_answers_match_their_documented_schemas,
);
