//! `passage user add`, `org add`, `keys rotate`, `keys retire`, `keys list` and the
//! first-start hint, through the real binary against a real SQLite file.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{TestApp, TestDb};
use serde_json::{Value, json};

fn passage(db_url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_passage"));
    c.env("PASSAGE_DATABASE_URL", db_url)
        .env("PASSAGE_LOG", "warn")
        .env_remove("PASSAGE_JWT_SECRET")
        .env_remove("PASSAGE_JWT_KEY_FILE")
        .env_remove("PASSAGE_CONFIG");
    c
}

fn run_with_stdin(mut c: Command, stdin: &str) -> Output {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    child
        .stdin
        .take()
        .expect("a stdin pipe")
        .write_all(stdin.as_bytes())
        .expect("the password is written");
    child.wait_with_output().expect("the binary ends")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_admin_and_an_organisation_are_made_with_the_cli() {
    let t = TestDb::sqlite().await;
    let url = t.url.clone();

    let out = passage(&url)
        .args([
            "org",
            "add",
            "--name",
            "Shelter A",
            "--type",
            "shelter",
            "--province",
            "QC",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let org = stdout(&out);

    let mut add = passage(&url);
    add.args([
        "user",
        "add",
        "--email",
        "admin@example.org",
        "--roles",
        "admin",
        "--password-stdin",
    ]);
    let out = run_with_stdin(add, "a long enough passphrase\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let admin = stdout(&out);

    let mut add = passage(&url);
    add.args([
        "user",
        "add",
        "--email",
        "cw@example.org",
        "--roles",
        "caseworker,treasurer",
        "--org",
        &org,
        "--name",
        "Worker 1",
        "--language",
        "en",
        "--password-stdin",
    ]);
    let out = run_with_stdin(add, "another long passphrase\r\n");
    assert!(out.status.success(), "{}", stderr(&out));

    let app = TestApp::spawn(t).await;
    let r = app
        .post("/api/v1/auth/login", None)
        .json(&json!({"email": "admin@example.org", "password": "a long enough passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["user"]["id"], json!(admin));
    assert_eq!(body["user"]["roles"], json!(["admin"]));
    let token = body["token"].as_str().unwrap().to_string();
    let users: Value = app
        .get("/api/v1/users", Some(&token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cw = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "cw@example.org")
        .unwrap();
    assert_eq!(cw["roles"], json!(["caseworker", "treasurer"]));
    assert_eq!(cw["org_id"], json!(org));
    assert_eq!(cw["language"], "en");
    assert_eq!(cw["display_name"], "Worker 1");
    // The line ending is not part of the password.
    let r = app
        .post("/api/v1/auth/login", None)
        .json(&json!({"email": "cw@example.org", "password": "another long passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let orgs: Value = app
        .get("/api/v1/orgs", Some(&token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        orgs,
        json!({"items": [{"id": org, "name": "Shelter A", "type": "shelter", "province": "QC",
                "created_at": orgs["items"][0]["created_at"]}], "next": null})
    );
    let out = passage(&app.db.url)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    app.stop().await;
}

#[tokio::test]
async fn cli_mistakes_are_one_line_and_never_echo_the_password() {
    let t = TestDb::sqlite().await;
    let url = t.url.clone();
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec![
                "user",
                "add",
                "--email",
                "a@example.org",
                "--roles",
                "admin",
                "--password-stdin",
            ],
            "tiny-secret\n",
            "at least 12 characters",
        ),
        // One of the 100,000 most common passwords (ASVS V2.1.7).
        (
            vec![
                "user",
                "add",
                "--email",
                "a@example.org",
                "--roles",
                "admin",
                "--password-stdin",
            ],
            "Qwerty123456\n",
            "the password is one of the 100,000 most common passwords",
        ),
        (
            vec![
                "user",
                "add",
                "--email",
                "a@example.org",
                "--roles",
                "caseworker",
                "--password-stdin",
            ],
            "a long enough passphrase\n",
            "org_id is required",
        ),
        (
            vec![
                "user",
                "add",
                "--email",
                "a@example.org",
                "--roles",
                "boss",
                "--password-stdin",
            ],
            "a long enough passphrase\n",
            "not a role",
        ),
        (
            vec![
                "user",
                "add",
                "--email",
                "a@example.org",
                "--roles",
                "caseworker",
                "--org",
                "nope",
                "--password-stdin",
            ],
            "a long enough passphrase\n",
            "no organisation has the id",
        ),
        (
            vec![
                "org",
                "add",
                "--name",
                "X",
                "--type",
                "church",
                "--province",
                "QC",
            ],
            "",
            "not an organisation type",
        ),
        (
            vec![
                "org",
                "add",
                "--name",
                "X",
                "--type",
                "youth",
                "--province",
                "ZZ",
            ],
            "",
            "--province",
        ),
    ];
    for (args, input, expected) in cases {
        let mut c = passage(&url);
        c.args(&args);
        let out = run_with_stdin(c, input);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} should fail");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("passage: ") && err.contains(expected),
            "{args:?}: {err}"
        );
        assert!(
            !err.contains("tiny-secret") && !err.contains("passphrase") && !err.contains("Qwerty"),
            "{err}"
        );
    }
    // The password is never taken from the command line.
    let out = passage(&url)
        .args([
            "user",
            "add",
            "--email",
            "a@example.org",
            "--roles",
            "admin",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--password-stdin"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn keys_rotate_refuses_when_the_secret_comes_from_configuration() {
    let t = TestDb::sqlite().await;
    let out = passage(&t.url)
        .args(["keys", "rotate"])
        .env("PASSAGE_JWT_SECRET", "0123456789abcdef0123456789abcdef")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("PASSAGE_JWT_SECRET") && !err.contains("0123456789abcdef"),
        "{err}"
    );
}

#[tokio::test]
async fn keys_list_and_retire_say_what_they_did_and_refuse_what_they_cannot_do() {
    let t = TestDb::sqlite().await;
    let url = t.url.clone();
    let keys = |args: &[&str]| passage(&url).arg("keys").args(args).output().unwrap();

    let out = keys(&["list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "no signing key yet: one is made on first start"
    );

    let out = keys(&["rotate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let first = stdout(&out)
        .split_whitespace()
        .nth(3)
        .unwrap()
        .trim_end_matches(':')
        .to_string();
    let out = keys(&["rotate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let secrets: Vec<String> =
        passage::on_db!(&t.db, p => sqlx::query_scalar("SELECT secret FROM signing_keys")
        .fetch_all(p)
        .await)
        .unwrap();

    let out = keys(&["retire", &first]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("key {first} retired: the tokens it signed no longer open anything")
    );
    // Again: nothing to do, and it says so.
    let out = keys(&["retire", &first]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with(&format!("key {first} was already retired on ")),
        "{}",
        stdout(&out)
    );

    let out = keys(&["list"]);
    let listed = stdout(&out);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(
        lines[0].starts_with(&first) && lines[0].contains("\tretired "),
        "{listed}"
    );
    assert!(lines[1].ends_with("\tsigns and verifies"), "{listed}");
    for secret in &secrets {
        assert!(!listed.contains(secret.as_str()), "a secret is listed");
    }
    // Under a configured secret, the stored keys verify nothing, and the list says so.
    let out = passage(&url)
        .args(["keys", "list"])
        .env("PASSAGE_JWT_SECRET", "0123456789abcdef0123456789abcdef")
        .output()
        .unwrap();
    let listed = stdout(&out);
    assert!(
        listed.starts_with("config\tsigns and verifies")
            && listed.contains("verifies nothing (a secret is configured)")
            && !listed.contains("0123456789abcdef"),
        "{listed}"
    );

    // What cannot be retired: one line each, saying what to do instead.
    for (args, secret, expected) in [
        (vec!["retire", "config"], true, "change the secret"),
        (vec!["retire", "config"], false, "change the secret"),
        (vec!["retire", "no-such-key"], false, "passage keys list"),
    ] {
        let mut c = passage(&url);
        c.arg("keys").args(&args);
        if secret {
            c.env("PASSAGE_JWT_SECRET", "0123456789abcdef0123456789abcdef");
        }
        let out = c.output().unwrap();
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains(expected) && !err.contains("0123456789abcdef"),
            "{args:?}: {err}"
        );
    }
    let audit = passage::audit::verify(&t.db).await.unwrap();
    assert!(audit.ok, "{:?}", audit.broken);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_secret_signs_tokens_under_its_own_key_id() {
    let t = TestDb::sqlite().await;
    let app = TestApp::spawn_with(
        t,
        &[("PASSAGE_JWT_SECRET", "0123456789abcdef0123456789abcdef")],
    )
    .await;
    app.seed_user("tr@example.org", "treasurer", None).await;
    let token = app.login("tr@example.org").await;
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], "config");
    assert_eq!(
        app.get("/api/v1/orgs", Some(&token))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // No key was generated into the database.
    let keys: Vec<String> =
        passage::on_db!(&app.db.db, p => sqlx::query_scalar("SELECT kid FROM signing_keys")
        .fetch_all(p)
        .await)
        .unwrap();
    assert!(keys.is_empty(), "{keys:?}");
    app.stop().await;
}

#[tokio::test]
async fn serve_without_an_admin_says_how_to_make_one() {
    let t = TestDb::sqlite().await;
    let mut child = passage(&t.url)
        .args(["serve"])
        .env("PASSAGE_BIND", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let stderr = child.stderr.take().expect("a stderr pipe");
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let mut hint = false;
    let mut key_warning = false;
    while Instant::now() < deadline && !(hint && key_warning) {
        if let Ok(line) = lines_rx.recv_timeout(Duration::from_millis(200)) {
            hint |= line.contains(
                "passage user add --email you@example.org --roles admin --password-stdin",
            );
            key_warning |= line.contains("generated a signing key");
            seen.push(line);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        hint,
        "no hint about the first admin in:\n{}",
        seen.join("\n")
    );
    assert!(
        key_warning,
        "no warning about the generated key in:\n{}",
        seen.join("\n")
    );
}
