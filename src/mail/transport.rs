//! Where mail goes: an SMTP server (`PASSAGE_SMTP_URL`) or, without one, a folder of
//! `.eml` files (`PASSAGE_MAIL_DIR`) that a newcomer can open in any mail reader.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::MailError;
use super::outbox::Claimed;
use crate::config::Config;
use crate::store::redact_url;

/// How long one SMTP conversation may take before the attempt counts as failed. Far
/// shorter than the claim's lease, so a row is never sent by two deliverers.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// The way out for mail, built once from the configuration.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

#[derive(Clone)]
enum Transport {
    Smtp {
        smtp: AsyncSmtpTransport<Tokio1Executor>,
        /// The URL without its password, for logs.
        shown: String,
    },
    Folder {
        files: AsyncFileTransport<Tokio1Executor>,
        dir: PathBuf,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Mailer {
    /// SMTP when `PASSAGE_SMTP_URL` is set, else the mail folder (created if missing).
    pub fn from_config(config: &Config) -> Result<Mailer, MailError> {
        match &config.smtp_url {
            Some(url) => Mailer::smtp(url.expose(), &config.mail_from),
            None => Mailer::folder(&config.mail_dir, &config.mail_from),
        }
    }

    /// An SMTP mailer: `smtp://HOST:PORT` (plain), `smtp://...?tls=required` (STARTTLS)
    /// or `smtps://USER:PASS@HOST:465` (TLS). Connects only when there is mail to send.
    /// Call it inside the Tokio runtime: the connection pool starts a task of its own.
    pub fn smtp(url: &str, from: &str) -> Result<Mailer, MailError> {
        let shown = redact_url(url);
        let smtp = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::Config {
                setting: "PASSAGE_SMTP_URL",
                // lettre's message names what is wrong, not the password.
                message: format!("cannot use {shown}: {e}"),
            })?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Mailer {
            from: sender(from)?,
            transport: Transport::Smtp { smtp, shown },
        })
    }

    /// A mailer that writes each message as `<uuid>.eml` into `dir`, created if missing.
    pub fn folder(dir: &Path, from: &str) -> Result<Mailer, MailError> {
        create_dir(dir)?;
        Ok(Mailer {
            from: sender(from)?,
            transport: Transport::Folder {
                files: AsyncFileTransport::<Tokio1Executor>::new(dir),
                dir: dir.to_path_buf(),
            },
        })
    }

    /// Where mail goes, without any password: for the start-up log line.
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp { shown, .. } => format!("SMTP {shown}"),
            Transport::Folder { dir, .. } => format!("the mail folder {}", dir.display()),
        }
    }

    /// Sends one claimed row. The error is fit to store: it names what failed, never
    /// the password, the recipient or the body.
    pub(crate) async fn send(&self, row: &Claimed, now: DateTime<Utc>) -> Result<(), String> {
        let message = self.build(row, now)?;
        match &self.transport {
            Transport::Smtp { smtp, .. } => smtp
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| format!("SMTP: {e}")),
            Transport::Folder { files, dir } => {
                // The folder may have been removed since start-up; put it back.
                create_dir(dir).map_err(|e| e.to_string())?;
                files
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("mail folder: {e}"))
            }
        }
    }

    fn build(&self, row: &Claimed, now: DateTime<Utc>) -> Result<Message, String> {
        let to: Mailbox = row
            .to
            .parse()
            .map_err(|e| format!("the recipient address is not valid: {e}"))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(row.subject.clone())
            .message_id(Some(row.message_id.clone()))
            .date(SystemTime::from(now));
        for (name, value) in &row.headers {
            let name = HeaderName::new_from_ascii(name.clone())
                .map_err(|e| format!("the header {name:?} cannot be sent: {e}"))?;
            builder = builder.raw_header(HeaderValue::new(name, value.clone()));
        }
        let built = match &row.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                row.text.clone(),
                html.clone(),
            )),
            None => builder.singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(row.text.clone()),
            ),
        };
        built.map_err(|e| format!("cannot build the message: {e}"))
    }
}

fn sender(from: &str) -> Result<Mailbox, MailError> {
    from.parse().map_err(|e| MailError::Config {
        setting: "PASSAGE_MAIL_FROM",
        message: format!("{from:?} is not an address: {e}"),
    })
}

fn create_dir(dir: &Path) -> Result<(), MailError> {
    std::fs::create_dir_all(dir).map_err(|source| MailError::MailDir {
        dir: dir.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The SMTP pool spawns its housekeeping task: it needs a runtime.
    #[tokio::test]
    async fn every_documented_smtp_url_builds_and_none_shows_its_password() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://relay:hunter2-secret@mail.example.org:587?tls=required",
            "smtps://relay:hunter2-secret@mail.example.org:465",
        ] {
            let mailer = Mailer::smtp(url, "passage@example.org").unwrap();
            assert!(mailer.describe().starts_with("SMTP smtp"), "{mailer:?}");
            assert!(!format!("{mailer:?}").contains("hunter2"), "{mailer:?}");
        }
        let e = Mailer::smtp(
            "smtp://relay:hunter2-secret@mail.example.org?tls=sometimes",
            "passage@example.org",
        )
        .unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(e.to_string().contains("PASSAGE_SMTP_URL"), "{e}");
    }

    #[test]
    fn the_default_sender_is_an_address() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::folder(dir.path(), "passage@localhost").unwrap();
        assert!(mailer.describe().contains("mail folder"));
    }
}
