//! Every email Passage writes, from templates: one typed struct per kind of email holds
//! the facts it tells and the reader's language; [`Written`] is what it becomes, a subject,
//! a text part and an HTML part. The layout is in `templates/email/` (`NAME.txt` and
//! `NAME.html`, the HTML parts sharing `base.html`); every word comes from the Fluent
//! catalogues (`templates/i18n/*/email.ftl`, and `passage.ftl` for the words the pages
//! share); askama escapes whatever the HTML part shows.
//!
//! - `request.rs`: the same-night emails: an urgent request waiting (or escalated), a
//!   treasurer's decision, the fund under its reserve floor.
//! - `late.rs`: a late receipt waiting, approved or declined, and the reminder of a hold
//!   about to expire without its receipt.
//! - `account.rs`: a link to set a new password, an invitation to set one's first.
//! - `report.rs`: the donor reports, and the reminders of a report waiting for a seal.
//!
//! Nothing here reads the database or decides who is told: the code that sends an email
//! fills its struct and enqueues what it writes.

mod account;
mod late;
mod report;
mod request;

use askama::Template;

pub use account::{Invitation, PasswordReset};
pub use late::{Late, LateStep};
pub use report::{Bar, DonorReport, Figures, Links, ReportReminder, ReportStep};
pub use request::{Decision, LowBalance, Question, TripFacts, Urgent};

use crate::domain::Language;
use crate::i18n;

/// An email as it goes into the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub subject: String,
    /// The text part; it ends with a line break.
    pub text: String,
    /// The HTML part (a whole document; the mail is `multipart/alternative`).
    pub html: String,
}

/// A template could not be rendered (a value failed to format itself).
#[derive(Debug, thiserror::Error)]
#[error("an email could not be written from its template: {0}")]
pub struct ComposeError(#[from] askama::Error);

/// The words of one language, for the templates.
#[derive(Debug, Clone, Copy)]
pub struct Words(pub Language);

impl Words {
    /// The message `key`.
    pub fn t(&self, key: &str) -> String {
        i18n::text(self.0, key)
    }

    /// The message `key` with its named arguments.
    pub fn with(&self, key: &str, args: &[(&'static str, String)]) -> String {
        i18n::text_with(self.0, key, args)
    }

    /// The `lang` attribute of the HTML part.
    pub fn lang(&self) -> &'static str {
        self.0.as_str()
    }

    /// An amount in cents as the language writes it.
    pub fn money(&self, cents: i64) -> String {
        i18n::money(self.0, cents)
    }

    /// A decimal amount (`"612.40"`) as the language writes it.
    pub fn amount(&self, decimal: &str) -> String {
        i18n::money_str(self.0, decimal)
    }

    /// A request category's name (`flight` → `Flight` / `Avion`).
    pub fn category(&self, key: &str) -> String {
        self.t(&format!("category-{key}"))
    }
}

/// Renders the two parts of an email.
fn written(
    subject: String,
    text: &impl Template,
    html: &impl Template,
) -> Result<Written, ComposeError> {
    let mut text = text.render()?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(Written {
        subject,
        text,
        html: html.render()?,
    })
}
