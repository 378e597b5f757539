//! A real SMTP server (aiosmtpd, from Debian's python3-aiosmtpd) for the tests that
//! check what mail leaves Passage.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration as StdDuration;

use tokio::io::AsyncBufReadExt;

/// A real SMTP server on 127.0.0.1 that files every message it accepts into a maildir.
pub struct SmtpSink {
    pub port: u16,
    maildir: tempfile::TempDir,
    child: tokio::process::Child,
}

const SINK: &str = r#"
import sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
controller = Controller(Mailbox(sys.argv[2]), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
threading.Event().wait()
"#;

impl SmtpSink {
    /// Starts the server on `port` (see [`free_port`]) and waits until it answers.
    pub async fn start(port: u16) -> SmtpSink {
        let maildir = tempfile::tempdir().expect("a temporary maildir");
        let mut child = tokio::process::Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(SINK)
            .arg(port.to_string())
            .arg(maildir.path().join("box"))
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs (apt-get install -y python3-aiosmtpd)");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(StdDuration::from_secs(20), lines.next_line())
            .await
            .expect("the SMTP server starts within 20 s");
        assert_eq!(
            ready.ok().flatten().as_deref(),
            Some("ready"),
            "the SMTP server did not start: is python3-aiosmtpd installed?"
        );
        SmtpSink {
            port,
            maildir,
            child,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, as raw text.
    pub fn received(&self) -> Vec<String> {
        read_all(&self.maildir.path().join("box").join("new"))
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

pub fn read_all(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("a readable message"))
        .collect()
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A message parsed by Python's `email` package: decoded headers and parts.
pub fn parse(raw: &str) -> serde_json::Value {
    const PARSE: &str = r#"
import sys, json, email
from email import policy
m = email.message_from_string(sys.stdin.read(), policy=policy.default)
out = {"headers": {k: str(v) for k, v in m.items()}, "types": [p.get_content_type() for p in m.walk()]}
for part in m.walk():
    if part.get_content_type() == "text/plain":
        out["text"] = part.get_content()
    if part.get_content_type() == "text/html":
        out["html"] = part.get_content()
print(json.dumps(out))
"#;
    use std::io::Write;
    let mut child = std::process::Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(PARSE)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(raw.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout).expect("python parsed the message")
}
