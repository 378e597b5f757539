//! What every integration test needs: a fresh database on each engine, and the real
//! application on a random port.
#![allow(dead_code)]

pub mod books;
pub mod browser;
pub mod fund;
pub mod journals;
pub mod scratch;
pub mod server;
pub mod smtp;
pub mod visitor;
pub mod words;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use passage::app::{AppState, Running};
use passage::audit::Actor;
use passage::clock::{Clock, ManualClock};
use passage::config::Config;
use passage::domain::{Email, Language, OrgType, Password, Province, Roles};
use passage::identity::{orgs, tokens, users};
use passage::store::Db;
use sqlx::Connection;

/// Waits until `done` holds, checking every 100 ms, and fails the test after 60 s: a
/// test waits for the condition it needs, never for a guessed time, and the deadline is
/// far enough that a machine busy with other work does not trip it.
pub async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if done().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("waited 60 s for {what}");
}

/// The server the PostgreSQL tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("PASSAGE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A database of its own for one test, removed afterwards.
pub struct TestDb {
    pub url: String,
    pub db: Db,
    _dir: Option<tempfile::TempDir>,
    postgres_name: Option<String>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let url = format!("sqlite://{}", dir.path().join("passage.db").display());
        let db = Db::connect(&url, 8).await.expect("open SQLite");
        db.migrate().await.expect("migrate SQLite");
        TestDb {
            url,
            db,
            _dir: Some(dir),
            postgres_name: None,
        }
    }

    /// A new PostgreSQL database, or `None` (with a loud note) when no server answers
    /// outside CI. Under `CI=true` an unreachable server fails the test: CI never skips.
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = postgres_admin_url();
        let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(c) => c,
            Err(e) if in_ci() => panic!(
                "CI=true but PostgreSQL at {admin_url} cannot be reached ({e}); \
                 start it or set PASSAGE_TEST_POSTGRES_URL"
            ),
            Err(e) => {
                eprintln!("SKIPPING a PostgreSQL test: {admin_url} cannot be reached ({e})");
                return None;
            }
        };
        let name = format!("passage_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create a test database");
        let _ = admin.close().await;
        let mut url = url::Url::parse(&admin_url).expect("a PostgreSQL URL");
        url.set_path(&name);
        let url = url.to_string();
        let db = Db::connect(&url, 16).await.expect("open PostgreSQL");
        db.migrate().await.expect("migrate PostgreSQL");
        Some(TestDb {
            url,
            db,
            _dir: None,
            postgres_name: Some(name),
        })
    }

    /// Another pool on the same database, as a second server instance would open.
    pub async fn second_instance(&self) -> Db {
        Db::connect(&self.url, 16)
            .await
            .expect("open the database again")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        // Drop runs outside any runtime we may block, so the cleanup gets its own.
        let admin_url = postgres_admin_url();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .ok()
            });
            Ok::<_, std::io::Error>(())
        })
        .join();
    }
}

/// Generates one test per engine from an `async fn(TestDb)`.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::common::TestDb::sqlite().await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(db) = $crate::common::TestDb::postgres().await {
                        super::$name(db).await
                    }
                }
            )*
        }
    };
}

/// 23:40 on a November night, the moment most tests start from.
pub fn night() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 23, 40, 0).unwrap()
}

pub fn test_config(database_url: &str) -> Config {
    test_config_with(database_url, &[])
}

/// The test configuration with some settings of the test's own (`("PASSAGE_...", "...")`).
/// Failed sign-ins answer at once in tests unless a test sets a delay.
pub fn test_config_with(database_url: &str, extra: &[(&str, &str)]) -> Config {
    let url = database_url.to_string();
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::load(move |name| {
        if let Some((_, v)) = extra.iter().find(|(k, _)| k == name) {
            return Some(v.clone());
        }
        match name {
            "PASSAGE_DATABASE_URL" => Some(url.clone()),
            "PASSAGE_BIND" => Some("127.0.0.1:0".into()),
            "PASSAGE_LOG" => Some("warn".into()),
            "PASSAGE_LOGIN_FAILURE_DELAY_MS" => Some("0".into()),
            // Only the tests about the second factor require it (they set `required`).
            "PASSAGE_SECOND_FACTOR" => Some("optional".into()),
            _ => None,
        }
    })
    .expect("the test configuration is valid")
}

/// The password every seeded test user has.
pub const PASSWORD: &str = "correct horse battery staple";

/// The real application, served on a random port.
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: ManualClock,
    pub config: Arc<Config>,
    pub db: TestDb,
    /// Where the app writes mail when the test sets no `PASSAGE_SMTP_URL`.
    pub mail_dir: tempfile::TempDir,
    /// The running app's group writer, to read what it did.
    pub grouped: passage::state::Grouped,
    /// The running app's record of sessions' last-seen times, to write it out by hand.
    pub activity: Arc<passage::identity::sessions::Activity>,
    running: Running,
}

impl TestApp {
    pub async fn spawn(db: TestDb) -> TestApp {
        TestApp::spawn_with(db, &[]).await
    }

    /// The app with some settings of the test's own.
    pub async fn spawn_with(db: TestDb, settings: &[(&str, &str)]) -> TestApp {
        let clock = ManualClock::new(night());
        // Mail goes to a folder of the test's own unless the test says otherwise.
        let mail_dir = tempfile::tempdir().expect("a temporary mail folder");
        let mail_path = mail_dir.path().display().to_string();
        let mut settings = settings.to_vec();
        if !settings.iter().any(|(k, _)| *k == "PASSAGE_MAIL_DIR") {
            settings.push(("PASSAGE_MAIL_DIR", &mail_path));
        }
        let config = Arc::new(test_config_with(&db.url, &settings));
        let state = AppState::new(db.db.clone(), Arc::new(clock.clone()), config.clone());
        let grouped = state.grouped.clone();
        let activity = state.activity.clone();
        let running = Running::start(state).await.expect("the app starts");
        TestApp {
            grouped,
            activity,
            base: format!("http://{}", running.addr),
            http: reqwest::Client::new(),
            clock,
            config,
            db,
            mail_dir,
            running,
        }
    }

    /// An organisation made through the library, as `passage org add` would.
    pub async fn seed_org(&self, name: &str) -> String {
        let new = orgs::NewOrg::new(name, OrgType::Shelter, Province::parse("QC").unwrap())
            .expect("a valid organisation");
        orgs::create(&self.db.db, self.clock.now(), &Actor::cli(), &new)
            .await
            .expect("the organisation is stored")
            .id
    }

    /// A user with [`PASSWORD`], made through the library, as `passage user add` would.
    pub async fn seed_user(&self, email: &str, roles: &str, org: Option<&str>) -> String {
        let new = users::NewUser {
            email: Email::parse(email).expect("a valid email"),
            password: Password::parse(PASSWORD.into()).expect("a valid password"),
            roles: Roles::parse_list(roles).expect("valid roles"),
            org_id: org.map(Into::into),
            language: Language::En,
            display_name: None,
        };
        users::create(&self.db.db, self.clock.now(), &Actor::cli(), new)
            .await
            .expect("the user is stored")
    }

    /// Signs in through the API and returns the token.
    pub async fn login(&self, email: &str) -> String {
        let r = self
            .http
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("the app answers");
        assert_eq!(r.status(), 200, "signing in as {email}");
        let body: serde_json::Value = r.json().await.expect("a JSON answer");
        body["token"].as_str().expect("a token").to_string()
    }

    /// A token for a user, signed as a sign-in would sign it, without the cost of
    /// hashing the password (for tests that need many tokens).
    pub async fn token_for(&self, user_id: &str) -> String {
        let user = users::find(&self.db.db, user_id)
            .await
            .expect("the database answers")
            .expect("the user exists");
        tokens::issue(&self.db.db, &self.config, self.clock.now(), &user)
            .await
            .expect("a token is signed")
            .token
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        self.with_token(self.http.get(self.url(path)), token)
    }

    pub fn post(&self, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        self.with_token(self.http.post(self.url(path)), token)
    }

    fn with_token(
        &self,
        r: reqwest::RequestBuilder,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Where `/metrics` is served alone, when the test set `PASSAGE_METRICS_BIND`.
    #[allow(dead_code)]
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.running.metrics_addr
    }

    /// The application's state, for driving its background work (the sweeper) by hand.
    pub fn state(&self) -> AppState {
        AppState::new(
            self.db.db.clone(),
            Arc::new(self.clock.clone()),
            self.config.clone(),
        )
    }

    pub async fn stop(self) {
        self.running.stop().await.expect("the app stops cleanly");
    }

    /// Stops the app and hands back its database, to look at what it left behind.
    pub async fn stop_keeping_db(self) -> TestDb {
        let TestApp { running, db, .. } = self;
        running.stop().await.expect("the app stops cleanly");
        db
    }
}
