//! The binary as a newcomer meets it: defaults that serve, clear one-line errors.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn passage() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_passage"));
    for (key, _) in std::env::vars() {
        if key.starts_with("PASSAGE_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Runs a command that must fail, and returns its stderr after checking the failure is
/// one clear line and no panic.
fn fails_with_one_line(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run passage");
    assert!(!out.status.success(), "expected a failure");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "a panic: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr}"
    );
    assert!(stderr.starts_with("passage: "), "{stderr}");
    stderr
}

#[test]
fn a_bad_setting_stops_start_up_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = fails_with_one_line(
        passage()
            .current_dir(dir.path())
            .arg("serve")
            .env("PASSAGE_BIND", "nowhere"),
    );
    assert!(
        stderr.contains("PASSAGE_BIND") && stderr.contains("127.0.0.1:8080"),
        "{stderr}"
    );

    let stderr = fails_with_one_line(
        passage()
            .current_dir(dir.path())
            .arg("serve")
            .env("PASSAGE_DATABASE_URL", "mysql://x@y/z"),
    );
    assert!(stderr.contains("PASSAGE_DATABASE_URL"), "{stderr}");

    let file = dir.path().join("passage.toml");
    std::fs::write(&file, "databse_url = 'sqlite://x.db'\n").unwrap();
    let stderr = fails_with_one_line(
        passage()
            .current_dir(dir.path())
            .arg("migrate")
            .env("PASSAGE_CONFIG", &file),
    );
    assert!(stderr.contains("databse_url"), "{stderr}");
}

#[test]
fn an_unreachable_database_is_one_line_and_a_non_zero_exit() {
    let stderr = fails_with_one_line(passage().arg("migrate").env(
        "PASSAGE_DATABASE_URL",
        "postgres://passage@127.0.0.1:1/passage",
    ));
    assert!(stderr.contains("cannot open the database"), "{stderr}");

    let stderr = fails_with_one_line(passage().arg("migrate").env(
        "PASSAGE_DATABASE_URL",
        "sqlite:///no/such/folder/passage.db",
    ));
    assert!(stderr.contains("cannot open the database"), "{stderr}");
}

#[test]
fn version_and_help_answer() {
    let out = passage().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("passage "));
    let out = passage().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for word in [
        "serve",
        "migrate",
        "audit",
        "ledger",
        "PASSAGE_DATABASE_URL",
    ] {
        assert!(help.contains(word), "--help lacks {word}: {help}");
    }
}

/// With nothing but a port, `serve` creates its SQLite database, answers /healthz, and
/// stops cleanly on SIGTERM.
#[test]
fn serve_runs_on_the_embedded_default_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = passage()
        .current_dir(dir.path())
        .arg("serve")
        .env("PASSAGE_BIND", format!("127.0.0.1:{port}"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = lines.next().expect("serve logs before it exits").unwrap();
        if line.contains("Passage is listening") {
            break;
        }
        assert!(Instant::now() < deadline, "serve did not start");
    }
    assert!(dir.path().join("passage.db").exists());
    let body = raw_http::get_status(&format!("http://127.0.0.1:{port}/healthz"));
    assert_eq!(body, "200");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "serve did not exit cleanly on SIGTERM: {status}"
    );
}

mod raw_http {
    /// The status code of a GET, through a plain TCP exchange (no client runtime needed).
    pub fn get_status(url: &str) -> String {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_once('/').unwrap();
        let mut stream = std::net::TcpStream::connect(host).unwrap();
        write!(
            stream,
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    }
}
