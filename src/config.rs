//! Settings from the environment and an optional TOML file, validated once at start-up.
//!
//! The file named by `PASSAGE_CONFIG` holds the same settings as the environment, keyed
//! by the variable's name without the `PASSAGE_` prefix, in lower case
//! (`database_url = "postgres://..."`). The environment wins over the file.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub database_url: String,
    pub bind: SocketAddr,
    pub log: String,
    pub db_max_connections: u32,
    pub request_timeout_secs: u64,
    /// How long a connection may take to send a request's headers, or stay silent between
    /// requests, before it is closed.
    pub header_timeout_secs: u64,
    pub body_limit_bytes: usize,
    pub sweep_interval_secs: u64,
    /// Days after a request is closed before its note and cities are purged.
    pub retention_days: u32,
    /// The HS256 secret from `PASSAGE_JWT_SECRET` or `PASSAGE_JWT_KEY_FILE`; without one,
    /// Passage generates keys and keeps them in the database.
    pub jwt_secret: Option<Secret>,
    pub token_hours: u32,
    /// Failed sign-ins for one email within the window before it is refused with 429.
    pub login_max_failures: u32,
    /// Failed sign-ins from one address within the window before it is refused with 429.
    pub login_ip_max_failures: u32,
    pub login_window_secs: u64,
    /// Added to each failed sign-in's answer per failure already counted (up to the limit).
    pub login_failure_delay_ms: u64,
    /// Where mail goes: `PASSAGE_SMTP_URL` when set (it may hold a password, hence a
    /// [`Secret`]), else files in `mail_dir`.
    pub smtp_url: Option<Secret>,
    pub mail_dir: std::path::PathBuf,
    pub mail_from: String,
    /// The public address used in links in emails, without a trailing slash.
    pub base_url: String,
    pub mail_interval_secs: u64,
    /// How long a deliverer's claim on outbox rows lasts; a crashed one's rows go out
    /// again after it.
    pub mail_lease_secs: u32,
    /// Donor reports: a cell with fewer cases than this is suppressed (never below 3).
    pub report_min_cell: u32,
    /// How long the link in a donor's report email opens the report.
    pub donor_link_days: u32,
    /// Whether treasurers and admins must enrol a second factor before their session
    /// opens anything but enrolment (`PASSAGE_SECOND_FACTOR`).
    pub second_factor: SecondFactor,
    /// Seals each TOTP secret in the database (`PASSAGE_TOTP_KEY` or
    /// `PASSAGE_TOTP_KEY_FILE`); without it, secrets are stored as they are.
    pub totp_key: Option<Secret>,
    /// How long a page session may stay idle, per role (`PASSAGE_IDLE_MINUTES`).
    pub idle_minutes: IdleMinutes,
    /// The age public key (`age1...`) backups are encrypted to; the server never holds
    /// the key that opens them.
    pub backup_recipient: Option<String>,
    /// Where the sweeper puts scheduled backups; unset means no scheduled backups.
    pub backup_dir: Option<std::path::PathBuf>,
    pub backup_every_hours: u32,
    /// How many scheduled backups are kept: older ones are deleted, which bounds how long
    /// a purged note survives in a backup.
    pub backup_keep: u32,
    /// The bearer token `GET /metrics` asks for; unset means /metrics is not served on the
    /// main port.
    pub metrics_token: Option<Secret>,
    /// A separate listener for `GET /metrics` alone (`PASSAGE_METRICS_BIND`, e.g.
    /// `127.0.0.1:9898`); when set, the main port does not serve /metrics, and this one asks
    /// for the token only if `PASSAGE_METRICS_TOKEN` is set too.
    pub metrics_bind: Option<SocketAddr>,
}

/// `PASSAGE_SECOND_FACTOR`: `required` (the default) or `optional`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    /// Treasurers and admins enrol before anything else.
    Required,
    /// Nobody must enrol (a trial, the tests and benchmarks not about the factor, the demo);
    /// whoever enrolled is still asked for their code.
    Optional,
}

/// Minutes a page session may stay idle before it ends, per role; a person with several
/// roles gets the shortest of theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleMinutes {
    pub caseworker: u32,
    pub treasurer: u32,
    pub admin: u32,
}

impl IdleMinutes {
    pub fn for_role(&self, role: crate::domain::Role) -> u32 {
        use crate::domain::Role;
        match role {
            Role::Caseworker => self.caseworker,
            Role::Treasurer => self.treasurer,
            Role::Admin => self.admin,
        }
    }

    /// The shortest of the roles' limits.
    pub fn for_roles(&self, roles: &crate::domain::Roles) -> u32 {
        roles
            .iter()
            .map(|r| self.for_role(r))
            .min()
            .unwrap_or(self.treasurer.min(self.admin).min(self.caseworker))
    }
}

/// Below this, a report's cell identifies people whatever the configuration says
/// (`PASSAGE_REPORT_MIN_CELL` may not go lower).
pub const LOWEST_MIN_CELL: u32 = 3;

/// A secret setting. Its `Debug` prints nothing of it, so a logged `Config` leaks nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The shortest HS256 secret Passage accepts, in bytes (256 bits).
pub const MIN_SECRET_BYTES: usize = 32;

/// A setting that cannot be used, named with what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: expected {expected}, got {got:?}")]
pub struct ConfigError {
    pub setting: String,
    pub expected: String,
    pub got: String,
}

struct Setting {
    name: &'static str,
    default: &'static str,
}

/// Every setting Passage reads, with its default; README's configuration table follows it.
const SETTINGS: &[Setting] = &[
    Setting {
        name: "PASSAGE_DATABASE_URL",
        default: "sqlite://passage.db",
    },
    Setting {
        name: "PASSAGE_BIND",
        default: "127.0.0.1:8080",
    },
    Setting {
        name: "PASSAGE_LOG",
        default: "info",
    },
    Setting {
        name: "PASSAGE_DB_MAX_CONNECTIONS",
        default: "10",
    },
    Setting {
        name: "PASSAGE_REQUEST_TIMEOUT_SECS",
        default: "30",
    },
    Setting {
        name: "PASSAGE_HEADER_TIMEOUT_SECS",
        default: "60",
    },
    Setting {
        name: "PASSAGE_BODY_LIMIT_BYTES",
        default: "65536",
    },
    Setting {
        name: "PASSAGE_SWEEP_INTERVAL_SECS",
        default: "30",
    },
    Setting {
        name: "PASSAGE_RETENTION_DAYS",
        default: "90",
    },
    Setting {
        name: "PASSAGE_JWT_SECRET",
        default: "",
    },
    Setting {
        name: "PASSAGE_METRICS_TOKEN",
        default: "",
    },
    Setting {
        name: "PASSAGE_METRICS_BIND",
        default: "",
    },
    Setting {
        name: "PASSAGE_BACKUP_RECIPIENT",
        default: "",
    },
    Setting {
        name: "PASSAGE_BACKUP_DIR",
        default: "",
    },
    Setting {
        name: "PASSAGE_BACKUP_EVERY_HOURS",
        default: "24",
    },
    Setting {
        name: "PASSAGE_BACKUP_KEEP",
        default: "7",
    },
    Setting {
        name: "PASSAGE_JWT_KEY_FILE",
        default: "",
    },
    Setting {
        name: "PASSAGE_TOKEN_HOURS",
        default: "12",
    },
    Setting {
        name: "PASSAGE_LOGIN_MAX_FAILURES",
        default: "5",
    },
    Setting {
        name: "PASSAGE_LOGIN_IP_MAX_FAILURES",
        default: "50",
    },
    Setting {
        name: "PASSAGE_LOGIN_WINDOW_SECS",
        default: "900",
    },
    Setting {
        name: "PASSAGE_LOGIN_FAILURE_DELAY_MS",
        default: "200",
    },
    Setting {
        name: "PASSAGE_SMTP_URL",
        default: "",
    },
    Setting {
        name: "PASSAGE_MAIL_DIR",
        default: "./mail",
    },
    Setting {
        name: "PASSAGE_MAIL_FROM",
        default: "passage@localhost",
    },
    Setting {
        name: "PASSAGE_BASE_URL",
        default: "",
    },
    Setting {
        name: "PASSAGE_MAIL_INTERVAL_SECS",
        default: "5",
    },
    Setting {
        name: "PASSAGE_MAIL_LEASE_SECS",
        default: "600",
    },
    Setting {
        name: "PASSAGE_REPORT_MIN_CELL",
        default: "5",
    },
    Setting {
        name: "PASSAGE_DONOR_LINK_DAYS",
        default: "60",
    },
    Setting {
        name: "PASSAGE_SECOND_FACTOR",
        default: "required",
    },
    Setting {
        name: "PASSAGE_TOTP_KEY",
        default: "",
    },
    Setting {
        name: "PASSAGE_TOTP_KEY_FILE",
        default: "",
    },
    Setting {
        name: "PASSAGE_IDLE_MINUTES",
        default: "caseworker=720,treasurer=60,admin=60",
    },
];

impl Config {
    /// Reads the process environment (and the file it names).
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::load(|name| std::env::var(name).ok())
    }

    /// Reads settings through `env`, so tests can hand in their own.
    pub fn load(env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let file = match env("PASSAGE_CONFIG") {
            Some(path) => read_file(&path)?,
            None => BTreeMap::new(),
        };
        let value = |name: &str| -> String {
            env(name)
                .or_else(|| file.get(name).cloned())
                .unwrap_or_else(|| {
                    SETTINGS
                        .iter()
                        .find(|s| s.name == name)
                        .map(|s| s.default.to_string())
                        .unwrap_or_default()
                })
        };

        let database_url = value("PASSAGE_DATABASE_URL");
        if !["sqlite:", "postgres:", "postgresql:"]
            .iter()
            .any(|scheme| database_url.starts_with(scheme))
        {
            return Err(invalid(
                "PASSAGE_DATABASE_URL",
                "sqlite://PATH or postgres://USER@HOST/DATABASE",
                &crate::store::redact_url(&database_url),
            ));
        }
        let bind = value("PASSAGE_BIND");
        let bind = bind.parse().map_err(|_| {
            invalid(
                "PASSAGE_BIND",
                "an address and port such as 127.0.0.1:8080",
                &bind,
            )
        })?;
        let log = value("PASSAGE_LOG");
        EnvFilter::try_new(&log).map_err(|_| {
            invalid(
                "PASSAGE_LOG",
                "a log level (error, warn, info, debug, trace) or filter",
                &log,
            )
        })?;
        let mail_dir = value("PASSAGE_MAIL_DIR");
        if mail_dir.trim().is_empty() {
            return Err(invalid(
                "PASSAGE_MAIL_DIR",
                "a folder to write mail into",
                &mail_dir,
            ));
        }
        let mail_from = value("PASSAGE_MAIL_FROM");
        if mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid(
                "PASSAGE_MAIL_FROM",
                "an address such as passage@example.org or \"Passage <passage@example.org>\"",
                &mail_from,
            ));
        }
        let backup_recipient = Some(value("PASSAGE_BACKUP_RECIPIENT"))
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        if let Some(r) = &backup_recipient
            && r.parse::<age::x25519::Recipient>().is_err()
        {
            return Err(invalid(
                "PASSAGE_BACKUP_RECIPIENT",
                "an age public key such as age1... (`age-keygen -y KEYFILE` prints it)",
                r,
            ));
        }
        let backup_dir = Some(value("PASSAGE_BACKUP_DIR"))
            .filter(|d| !d.trim().is_empty())
            .map(std::path::PathBuf::from);
        if backup_dir.is_some() && backup_recipient.is_none() {
            return Err(invalid(
                "PASSAGE_BACKUP_RECIPIENT",
                "an age public key (age1...) when PASSAGE_BACKUP_DIR is set: backups are always encrypted",
                "",
            ));
        }
        let metrics_token = Some(value("PASSAGE_METRICS_TOKEN"))
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        if let Some(t) = &metrics_token
            && t.len() < 24
        {
            return Err(invalid(
                "PASSAGE_METRICS_TOKEN",
                "at least 24 characters (e.g. `openssl rand -hex 24`)",
                "(not shown)",
            ));
        }
        let metrics_bind = Some(value("PASSAGE_METRICS_BIND"))
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty())
            .map(|b| {
                b.parse::<SocketAddr>().map_err(|_| {
                    invalid(
                        "PASSAGE_METRICS_BIND",
                        "an address and port such as 127.0.0.1:9898",
                        &b,
                    )
                })
            })
            .transpose()?;
        if metrics_bind.is_some_and(|m| m == bind && bind.port() != 0) {
            return Err(invalid(
                "PASSAGE_METRICS_BIND",
                "an address other than PASSAGE_BIND's",
                &bind.to_string(),
            ));
        }
        Ok(Config {
            metrics_token: metrics_token.map(Secret),
            metrics_bind,
            backup_recipient,
            backup_dir,
            backup_every_hours: number(&value, "PASSAGE_BACKUP_EVERY_HOURS", 1, 24 * 31)?,
            backup_keep: number(&value, "PASSAGE_BACKUP_KEEP", 1, 366)?,
            smtp_url: smtp_url(&value)?,
            mail_dir: mail_dir.into(),
            mail_from,
            base_url: base_url(&value, bind)?,
            mail_interval_secs: number(&value, "PASSAGE_MAIL_INTERVAL_SECS", 1, 3600)?,
            mail_lease_secs: number(&value, "PASSAGE_MAIL_LEASE_SECS", 30, 86_400)?,
            report_min_cell: number(&value, "PASSAGE_REPORT_MIN_CELL", LOWEST_MIN_CELL, 1000)?,
            donor_link_days: number(&value, "PASSAGE_DONOR_LINK_DAYS", 1, 400)?,
            second_factor: second_factor(&value)?,
            totp_key: secret_setting(&value, "PASSAGE_TOTP_KEY", "PASSAGE_TOTP_KEY_FILE")?,
            idle_minutes: idle_minutes(&value)?,
            database_url,
            bind,
            log,
            db_max_connections: number(&value, "PASSAGE_DB_MAX_CONNECTIONS", 1, 1000)?,
            request_timeout_secs: number(&value, "PASSAGE_REQUEST_TIMEOUT_SECS", 1, 3600)?,
            header_timeout_secs: number(&value, "PASSAGE_HEADER_TIMEOUT_SECS", 1, 3600)?,
            body_limit_bytes: number(&value, "PASSAGE_BODY_LIMIT_BYTES", 1024, 16 * 1024 * 1024)?,
            sweep_interval_secs: number(&value, "PASSAGE_SWEEP_INTERVAL_SECS", 1, 86_400)?,
            retention_days: number(&value, "PASSAGE_RETENTION_DAYS", 1, 3650)?,
            jwt_secret: jwt_secret(&value)?,
            token_hours: number(&value, "PASSAGE_TOKEN_HOURS", 1, 24 * 30)?,
            login_max_failures: number(&value, "PASSAGE_LOGIN_MAX_FAILURES", 1, 1000)?,
            login_ip_max_failures: number(&value, "PASSAGE_LOGIN_IP_MAX_FAILURES", 1, 100_000)?,
            login_window_secs: number(&value, "PASSAGE_LOGIN_WINDOW_SECS", 1, 86_400)?,
            login_failure_delay_ms: number(&value, "PASSAGE_LOGIN_FAILURE_DELAY_MS", 0, 5000)?,
        })
    }

    /// The settings with their defaults, for `--help` and the README.
    pub fn defaults() -> impl Iterator<Item = (&'static str, &'static str)> {
        SETTINGS.iter().map(|s| (s.name, s.default))
    }
}

fn invalid(setting: &str, expected: &str, got: &str) -> ConfigError {
    ConfigError {
        setting: setting.into(),
        expected: expected.into(),
        got: got.into(),
    }
}

/// The signing secret, from the variable or the key file (not both), never echoed back.
fn jwt_secret(value: &impl Fn(&str) -> String) -> Result<Option<Secret>, ConfigError> {
    secret_setting(value, "PASSAGE_JWT_SECRET", "PASSAGE_JWT_KEY_FILE")
}

/// `PASSAGE_SECOND_FACTOR`: `required` or `optional`.
fn second_factor(value: &impl Fn(&str) -> String) -> Result<SecondFactor, ConfigError> {
    let raw = value("PASSAGE_SECOND_FACTOR");
    match raw.trim() {
        "required" => Ok(SecondFactor::Required),
        "optional" => Ok(SecondFactor::Optional),
        _ => Err(invalid(
            "PASSAGE_SECOND_FACTOR",
            "required (treasurers and admins must enrol) or optional",
            &raw,
        )),
    }
}

/// `PASSAGE_IDLE_MINUTES`: one number for every role, or `role=minutes` pairs separated by
/// commas (a role left out keeps its default).
fn idle_minutes(value: &impl Fn(&str) -> String) -> Result<IdleMinutes, ConfigError> {
    let raw = value("PASSAGE_IDLE_MINUTES");
    let expected = "minutes for every role (e.g. 60) or per role, e.g. \
                    caseworker=720,treasurer=60,admin=60 (each 1 to 10080)";
    let minutes = |s: &str| -> Result<u32, ConfigError> {
        s.trim()
            .parse::<u32>()
            .ok()
            .filter(|m| (1..=10_080).contains(m))
            .ok_or_else(|| invalid("PASSAGE_IDLE_MINUTES", expected, &raw))
    };
    let mut idle = IdleMinutes {
        caseworker: 720,
        treasurer: 60,
        admin: 60,
    };
    if !raw.contains('=') {
        let all = minutes(&raw)?;
        return Ok(IdleMinutes {
            caseworker: all,
            treasurer: all,
            admin: all,
        });
    }
    for pair in raw.split(',').filter(|p| !p.trim().is_empty()) {
        let (role, m) = pair
            .split_once('=')
            .ok_or_else(|| invalid("PASSAGE_IDLE_MINUTES", expected, &raw))?;
        let m = minutes(m)?;
        match role.trim().parse::<crate::domain::Role>() {
            Ok(crate::domain::Role::Caseworker) => idle.caseworker = m,
            Ok(crate::domain::Role::Treasurer) => idle.treasurer = m,
            Ok(crate::domain::Role::Admin) => idle.admin = m,
            Err(_) => return Err(invalid("PASSAGE_IDLE_MINUTES", expected, &raw)),
        }
    }
    Ok(idle)
}

/// A secret given inline or in a file (not both), never echoed back, at least
/// [`MIN_SECRET_BYTES`] long.
fn secret_setting(
    value: &impl Fn(&str) -> String,
    inline_name: &str,
    file_name: &str,
) -> Result<Option<Secret>, ConfigError> {
    let inline = value(inline_name);
    let file = value(file_name);
    let (setting, secret) = match (inline.is_empty(), file.is_empty()) {
        (true, true) => return Ok(None),
        (false, false) => {
            return Err(invalid(
                inline_name,
                &format!("either {inline_name} or {file_name}, not both"),
                "both are set",
            ));
        }
        (false, true) => (inline_name, inline),
        (true, false) => {
            let text = std::fs::read_to_string(&file).map_err(|e| {
                invalid(
                    file_name,
                    &format!("a readable file holding the secret ({e})"),
                    &file,
                )
            })?;
            (file_name, text.trim_end().to_string())
        }
    };
    if secret.len() < MIN_SECRET_BYTES {
        return Err(invalid(
            setting,
            &format!("a secret of at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -hex 32`)"),
            &format!("(hidden) {} bytes", secret.len()),
        ));
    }
    Ok(Some(Secret(secret)))
}

/// The SMTP server, if any: `smtp://` (plain, or STARTTLS with `?tls=required`) or
/// `smtps://` (TLS from the start). Its password never appears in an error.
fn smtp_url(value: &impl Fn(&str) -> String) -> Result<Option<Secret>, ConfigError> {
    let raw = value("PASSAGE_SMTP_URL");
    if raw.trim().is_empty() {
        return Ok(None);
    }
    let expected =
        "smtp://HOST:PORT, smtp://USER:PASS@HOST:587?tls=required or smtps://USER:PASS@HOST:465";
    let parsed = url::Url::parse(&raw);
    let ok = parsed.as_ref().is_ok_and(|u| {
        matches!(u.scheme(), "smtp" | "smtps") && u.host_str().is_some_and(|h| !h.is_empty())
    });
    // A malformed URL may hold a password anywhere: show its scheme and host only.
    let shown = match &parsed {
        Ok(u) => format!(
            "{}://{} (the rest hidden)",
            u.scheme(),
            u.host_str().unwrap_or("")
        ),
        Err(_) => "(hidden: not a URL)".to_string(),
    };
    if !ok {
        return Err(invalid("PASSAGE_SMTP_URL", expected, &shown));
    }
    Ok(Some(Secret(raw)))
}

/// The public address for links in emails; `http://` + the bind address by default.
fn base_url(value: &impl Fn(&str) -> String, bind: SocketAddr) -> Result<String, ConfigError> {
    let raw = value("PASSAGE_BASE_URL");
    if raw.trim().is_empty() {
        return Ok(format!("http://{bind}"));
    }
    match url::Url::parse(&raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            Ok(raw.trim_end_matches('/').to_string())
        }
        _ => Err(invalid(
            "PASSAGE_BASE_URL",
            "an http:// or https:// address such as https://passage.example.org",
            &raw,
        )),
    }
}

fn number<T>(value: &impl Fn(&str) -> String, name: &str, min: T, max: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let raw = value(name);
    raw.trim()
        .parse::<T>()
        .ok()
        .filter(|n| *n >= min && *n <= max)
        .ok_or_else(|| invalid(name, &format!("a whole number from {min} to {max}"), &raw))
}

fn read_file(path: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        invalid(
            "PASSAGE_CONFIG",
            &format!("a readable TOML file ({e})"),
            path,
        )
    })?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        invalid(
            "PASSAGE_CONFIG",
            &format!("valid TOML ({})", e.message()),
            path,
        )
    })?;
    let mut settings = BTreeMap::new();
    for (key, value) in table {
        let name = format!("PASSAGE_{}", key.to_uppercase());
        if !SETTINGS.iter().any(|s| s.name == name) {
            let known: Vec<String> = SETTINGS
                .iter()
                .map(|s| s.name.trim_start_matches("PASSAGE_").to_lowercase())
                .collect();
            return Err(invalid(
                &format!("{path}: {key}"),
                &format!("one of {}", known.join(", ")),
                &value.to_string(),
            ));
        }
        let value = match value {
            toml::Value::String(s) => s,
            other => other.to_string(),
        };
        settings.insert(name, value);
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(|name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_run_on_a_fresh_machine() {
        let c = load(&[]).unwrap();
        assert_eq!(c.database_url, "sqlite://passage.db");
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn a_bad_value_names_the_setting_and_what_was_expected() {
        let e = load(&[("PASSAGE_BIND", "nowhere")]).unwrap_err();
        assert_eq!(e.setting, "PASSAGE_BIND");
        assert!(e.to_string().contains("127.0.0.1:8080"), "{e}");
        let e = load(&[("PASSAGE_DATABASE_URL", "mysql://x")]).unwrap_err();
        assert_eq!(e.setting, "PASSAGE_DATABASE_URL");
        let e = load(&[("PASSAGE_DB_MAX_CONNECTIONS", "0")]).unwrap_err();
        assert_eq!(e.setting, "PASSAGE_DB_MAX_CONNECTIONS");
    }

    #[test]
    fn the_file_is_read_and_the_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passage.toml");
        std::fs::write(&path, "bind = \"127.0.0.1:9999\"\nlog = \"debug\"\n").unwrap();
        let path = path.to_str().unwrap();
        let c = load(&[("PASSAGE_CONFIG", path), ("PASSAGE_LOG", "warn")]).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:9999");
        assert_eq!(c.log, "warn");
    }

    #[test]
    fn the_report_threshold_defaults_to_five_and_is_never_below_three() {
        assert_eq!(load(&[]).unwrap().report_min_cell, 5);
        assert_eq!(
            load(&[("PASSAGE_REPORT_MIN_CELL", "3")])
                .unwrap()
                .report_min_cell,
            3
        );
        for bad in ["2", "0", "-5", "five"] {
            let e = load(&[("PASSAGE_REPORT_MIN_CELL", bad)]).unwrap_err();
            assert_eq!(e.setting, "PASSAGE_REPORT_MIN_CELL");
            assert!(e.to_string().contains("from 3"), "{e}");
        }
    }

    #[test]
    fn a_jwt_secret_is_long_enough_and_never_echoed() {
        assert_eq!(load(&[]).unwrap().jwt_secret, None);
        let e = load(&[("PASSAGE_JWT_SECRET", "tooshort-secret")]).unwrap_err();
        assert_eq!(e.setting, "PASSAGE_JWT_SECRET");
        assert!(!e.to_string().contains("tooshort"), "{e}");
        let long = "0123456789abcdef0123456789abcdef";
        let c = load(&[("PASSAGE_JWT_SECRET", long)]).unwrap();
        assert_eq!(c.jwt_secret.as_ref().unwrap().expose(), long);
        assert!(!format!("{c:?}").contains(long));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.key");
        std::fs::write(&path, format!("{long}\n")).unwrap();
        let path = path.to_str().unwrap();
        let c = load(&[("PASSAGE_JWT_KEY_FILE", path)]).unwrap();
        assert_eq!(c.jwt_secret.unwrap().expose(), long);
        let e = load(&[("PASSAGE_JWT_KEY_FILE", path), ("PASSAGE_JWT_SECRET", long)]).unwrap_err();
        assert!(e.to_string().contains("not both"), "{e}");
    }

    #[test]
    fn sign_in_settings_have_defaults_and_bounds() {
        let c = load(&[]).unwrap();
        assert_eq!(c.token_hours, 12);
        assert_eq!(c.login_max_failures, 5);
        assert_eq!(c.login_window_secs, 900);
        let e = load(&[("PASSAGE_TOKEN_HOURS", "0")]).unwrap_err();
        assert_eq!(e.setting, "PASSAGE_TOKEN_HOURS");
        let e = load(&[("PASSAGE_LOGIN_MAX_FAILURES", "many")]).unwrap_err();
        assert_eq!(e.setting, "PASSAGE_LOGIN_MAX_FAILURES");
    }

    #[test]
    fn mail_settings_have_defaults_and_never_show_the_smtp_password() {
        let c = load(&[]).unwrap();
        assert_eq!(c.smtp_url, None);
        assert_eq!(c.mail_dir, std::path::PathBuf::from("./mail"));
        assert_eq!(c.mail_from, "passage@localhost");
        assert_eq!(c.base_url, "http://127.0.0.1:8080");
        assert_eq!(c.mail_interval_secs, 5);

        let url = "smtps://relay:hunter2-secret@mail.example.org:465";
        let c = load(&[("PASSAGE_SMTP_URL", url)]).unwrap();
        assert_eq!(c.smtp_url.as_ref().unwrap().expose(), url);
        assert!(!format!("{c:?}").contains("hunter2"));

        for bad in [
            "smtp:/relay:hunter2-secret@",
            "imap://relay:hunter2-secret@mail.example.org",
            "relay:hunter2-secret@mail.example.org",
        ] {
            let e = load(&[("PASSAGE_SMTP_URL", bad)]).unwrap_err();
            assert_eq!(e.setting, "PASSAGE_SMTP_URL");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
        let e = load(&[("PASSAGE_MAIL_FROM", "not an address")]).unwrap_err();
        assert_eq!(e.setting, "PASSAGE_MAIL_FROM");
        let e = load(&[("PASSAGE_BASE_URL", "passage.example.org")]).unwrap_err();
        assert_eq!(e.setting, "PASSAGE_BASE_URL");
        let c = load(&[("PASSAGE_BASE_URL", "https://passage.example.org/")]).unwrap();
        assert_eq!(c.base_url, "https://passage.example.org");
        let e = load(&[("PASSAGE_MAIL_INTERVAL_SECS", "0")]).unwrap_err();
        assert_eq!(e.setting, "PASSAGE_MAIL_INTERVAL_SECS");
    }

    #[test]
    fn an_unknown_key_in_the_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passage.toml");
        std::fs::write(&path, "bnid = \"127.0.0.1:9999\"\n").unwrap();
        let e = load(&[("PASSAGE_CONFIG", path.to_str().unwrap())]).unwrap_err();
        assert!(e.setting.ends_with("bnid"), "{e}");
    }
}

/// The database engine, as the settings page names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EngineName {
    Sqlite,
    Postgres,
}

/// Where mail goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// `PASSAGE_SMTP_URL`.
    Smtp,
    /// Files in `PASSAGE_MAIL_DIR`.
    Folder,
}

/// Where the keys that sign sessions come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeySource {
    /// Generated and kept in the database; rotated and retired by admins.
    Database,
    /// `PASSAGE_JWT_SECRET` or `PASSAGE_JWT_KEY_FILE`.
    Configuration,
}

/// What an admin may read of the instance's configuration (the settings page and `GET
/// /api/v1/settings`): never a password, a secret or a user name of a connection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Facts {
    pub engine: EngineName,
    /// The SQLite file, or the PostgreSQL server and database (no user, no password).
    pub database: String,
    pub mail_transport: MailTransport,
    /// The SMTP server as `scheme://host:port` (no user, no password), or the mail folder.
    pub mail_to: String,
    pub mail_from: String,
    pub base_url: String,
    /// Days after a request is closed before its note and cities are purged.
    pub retention_days: u32,
    /// How long a session lasts.
    pub token_hours: u32,
    pub signing_keys: KeySource,
}

/// A connection URL without its user and password (and without its query, which may
/// carry either).
fn without_credentials(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string()
        }
        Err(_) => String::new(),
    }
}

impl Config {
    /// The settings an admin reads (see [`Facts`]).
    pub fn facts(&self) -> Facts {
        let postgres = self.database_url.starts_with("postgres");
        Facts {
            engine: if postgres {
                EngineName::Postgres
            } else {
                EngineName::Sqlite
            },
            database: if postgres {
                without_credentials(&self.database_url)
            } else {
                self.database_url
                    .trim_start_matches("sqlite://")
                    .split('?')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            },
            mail_transport: if self.smtp_url.is_some() {
                MailTransport::Smtp
            } else {
                MailTransport::Folder
            },
            mail_to: match &self.smtp_url {
                Some(url) => without_credentials(url.expose()),
                None => self.mail_dir.display().to_string(),
            },
            mail_from: self.mail_from.clone(),
            base_url: self.base_url.clone(),
            retention_days: self.retention_days,
            token_hours: self.token_hours,
            signing_keys: if self.jwt_secret.is_some() {
                KeySource::Configuration
            } else {
                KeySource::Database
            },
        }
    }
}

#[cfg(test)]
mod facts_tests {
    use super::*;

    #[test]
    fn the_facts_never_show_a_password_or_a_user() {
        let mut config = Config::load(|k| match k {
            "PASSAGE_DATABASE_URL" => Some(
                "postgres://passage:hunter2hunter2@db.example.org:5432/passage?password=x".into(),
            ),
            "PASSAGE_SMTP_URL" => Some("smtps://mailer:s3cret-pass@mail.example.org:465".into()),
            _ => None,
        })
        .unwrap();
        let facts = config.facts();
        let shown = serde_json::to_string(&facts).unwrap();
        for secret in ["hunter2", "s3cret", "mailer", "passage:", "password"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert_eq!(facts.engine, EngineName::Postgres);
        assert_eq!(facts.database, "postgres://db.example.org:5432/passage");
        assert_eq!(facts.mail_to, "smtps://mail.example.org:465");
        config.database_url = "sqlite://passage.db".into();
        config.smtp_url = None;
        let facts = config.facts();
        assert_eq!(facts.engine, EngineName::Sqlite);
        assert_eq!(facts.database, "passage.db");
        assert_eq!(facts.mail_transport, MailTransport::Folder);
    }
}
