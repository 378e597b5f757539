//! The emails of late receipts and of holds about to expire. Like the other same-night
//! emails they name the case code, the category and amounts, never a note or a city.

use askama::Template;

use super::{ComposeError, Words, Written, written};
use crate::domain::Language;

/// Which email of a late receipt's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LateStep {
    /// To the treasurers on call: a receipt came after its hold expired.
    Waiting,
    /// To every treasurer: nobody decided on it within `escalate_after_minutes`.
    Escalated,
    /// To the caseworker: a treasurer approved the late receipt; the fund pays it.
    Approved,
    /// To the caseworker: a treasurer declined it; the request stays expired.
    Declined,
    /// To the organisation's caseworkers: a hold expires in a few hours without a receipt.
    Reminder,
}

#[derive(Debug, Clone)]
pub struct Late {
    pub language: Language,
    pub step: LateStep,
    pub case_code: String,
    /// The category's key (`hotel`).
    pub category: String,
    /// The receipt's amount (the hold's for a reminder), as the wire writes it.
    pub amount: String,
    /// A reminder: in how long the hold expires, in words (`12 h`).
    pub expires_in: String,
    /// A decline: the treasurer's reason.
    pub reason: String,
    /// A decline: who declined, to call back, as the reader's words say it (empty else).
    pub call_back: String,
    /// The request's page.
    pub link: String,
}

#[derive(Template)]
#[template(path = "email/late.txt")]
struct LateText<'a> {
    w: Words,
    m: &'a Late,
    category: &'a str,
    amount: &'a str,
    intro: &'a str,
    link_label: &'a str,
}

#[derive(Template)]
#[template(path = "email/late.html")]
struct LateHtml<'a> {
    w: Words,
    subject: &'a str,
    m: &'a Late,
    category: &'a str,
    amount: &'a str,
    intro: &'a str,
    link_label: &'a str,
}

impl Late {
    fn declined(&self) -> bool {
        self.step == LateStep::Declined
    }

    pub fn write(&self) -> Result<Written, ComposeError> {
        let w = Words(self.language);
        let (subject_key, intro_key, link_key) = match self.step {
            LateStep::Waiting => (
                "email-late-waiting-subject",
                "email-late-waiting-intro",
                "email-urgent-decide-link",
            ),
            LateStep::Escalated => (
                "email-late-escalated-subject",
                "email-late-escalated-intro",
                "email-urgent-decide-link",
            ),
            LateStep::Approved => (
                "email-late-approved-subject",
                "email-late-approved-intro",
                "email-late-open-link",
            ),
            LateStep::Declined => (
                "email-late-declined-subject",
                "email-late-declined-intro",
                "email-late-open-link",
            ),
            LateStep::Reminder => (
                "email-hold-reminder-subject",
                "email-hold-reminder-intro",
                "email-approved-receipt-link",
            ),
        };
        let category = w.category(&self.category);
        let amount = w.amount(&self.amount);
        let args = [
            ("category", category.clone()),
            ("amount", amount.clone()),
            ("case", self.case_code.clone()),
            ("time", self.expires_in.clone()),
        ];
        let subject = w.with(subject_key, &args);
        let intro = w.with(intro_key, &args);
        let link_label = w.t(link_key);
        written(
            subject.clone(),
            &LateText {
                w,
                m: self,
                category: &category,
                amount: &amount,
                intro: &intro,
                link_label: &link_label,
            },
            &LateHtml {
                w,
                subject: &subject,
                m: self,
                category: &category,
                amount: &amount,
                intro: &intro,
                link_label: &link_label,
            },
        )
    }
}
