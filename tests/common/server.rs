//! The real `passage` binary as a separate process: started on a free port against a
//! database URL, killed without warning, started again.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `passage` with none of the caller's `PASSAGE_*` settings, pointed at `database_url`,
/// writing mail into `dir/mail`.
pub fn passage(database_url: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_passage"));
    for (key, _) in std::env::vars() {
        if key.starts_with("PASSAGE_") {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(dir)
        .env("PASSAGE_DATABASE_URL", database_url)
        .env("PASSAGE_MAIL_DIR", dir.join("mail"))
        .env("PASSAGE_LOG", "warn")
        // Only the tests about the second factor require it (they set `required`).
        .env("PASSAGE_SECOND_FACTOR", "optional");
    cmd
}

/// Runs a command that must succeed and returns its standard output, trimmed.
pub fn run(cmd: &mut Command, stdin: Option<&str>) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run passage");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input.as_bytes())
            .expect("write to passage");
    }
    let out = child.wait_with_output().expect("passage finishes");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A `passage serve` process.
pub struct Server {
    pub base: String,
    child: Child,
    pub dir: PathBuf,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Starts `passage serve` on a free port, with `settings` added, and waits until it
    /// listens.
    pub fn start(database_url: &str, dir: &Path, settings: &[(&str, &str)]) -> Server {
        let port = super::smtp::free_port();
        let mut cmd = passage(database_url, dir);
        cmd.arg("serve")
            .env("PASSAGE_BIND", format!("127.0.0.1:{port}"))
            // `serve` logs its start at info; only that and warnings are wanted here,
            // unless the caller sets PASSAGE_LOG.
            .env("PASSAGE_LOG", "warn,passage::app=info")
            .stderr(Stdio::piped());
        for (k, v) in settings {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start passage serve");
        let mut lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let line = match lines.next() {
                Some(Ok(line)) => line,
                _ => panic!("passage serve exited before it listened"),
            };
            log.lock().unwrap().push(line.clone());
            if line.contains("Passage is listening") {
                break;
            }
            assert!(Instant::now() < deadline, "passage serve did not start");
        }
        // Keep reading (and keeping) the log, so the server never blocks on a full pipe.
        let kept = log.clone();
        let reader = std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        Server {
            base: format!("http://127.0.0.1:{port}"),
            child,
            dir: dir.to_path_buf(),
            log,
            reader: Some(reader),
        }
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown, no flush, nothing finished.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL passage");
        let _ = self.child.wait();
    }

    /// SIGTERM, wait for a clean exit, and return everything the server logged.
    pub fn stop(mut self) -> String {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
        let status = self.child.wait().expect("wait for passage");
        assert!(status.success(), "passage serve exited with {status}");
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.log()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
