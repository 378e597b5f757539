//! Mail through an outbox: a message is written in the same transaction as the change
//! it tells about ([`enqueue`]), and a background worker delivers it later
//! ([`deliver_due`]), over SMTP or into a folder of `.eml` files.
//!
//! - `compose/`: every email's subject, text part and HTML part, from the templates in
//!   `templates/email/` and the words of the Fluent catalogues.
//! - `outbox.rs`: the table: enqueue, claim with a lease, mark sent or failed.
//! - `transport.rs`: the [`Mailer`]: lettre's SMTP or file transport, and building a
//!   message (text, or text + HTML).
//! - `worker.rs`: one delivery round, and the back-off between attempts.
//!
//! What holds: a mail exists iff its change committed; an SMTP outage or a crash delays
//! it, never loses it; two deliverers never take the same row; a message is marked sent
//! right after the server accepts it. One window remains, see [`worker`].

pub mod compose;
mod outbox;
mod transport;
mod worker;

pub use outbox::{OutboxEntry, enqueue, entries, pending_count, purge_sent_bodies};
pub use transport::Mailer;
pub use worker::{BATCH, LEASE, backoff, deliver_due, deliver_due_with_lease};

use crate::store::{Contention, StoreError};

/// A mail to send, as the code that decides to send it describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    /// With HTML, the mail is `multipart/alternative` (text first, HTML second).
    pub html: Option<String>,
    /// What the mail is about, e.g. `request:ID:decided`: enqueuing the same key twice
    /// keeps one mail, so a retried change never mails twice.
    pub dedupe_key: String,
    /// Extra headers, such as `List-Unsubscribe` (names are ASCII, values one line).
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `PASSAGE_SMTP_URL` or `PASSAGE_MAIL_FROM` cannot be used (the message never
    /// holds the password).
    #[error("{setting}: {message}")]
    Config {
        setting: &'static str,
        message: String,
    },
    #[error("cannot create the mail folder {dir}: {source} (set PASSAGE_MAIL_DIR)")]
    MailDir { dir: String, source: std::io::Error },
}

impl Contention for MailError {
    fn is_contention(&self) -> bool {
        matches!(self, MailError::Store(e) if e.is_contention())
    }
}
