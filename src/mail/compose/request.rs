//! The same-night emails. They name the case code, the category and amounts, never more:
//! no note, no city.

use askama::Template;

use super::{ComposeError, Words, Written, written};
use crate::domain::Language;

/// An urgent request waits for a treasurer: to those on call at once, to every treasurer
/// once it has waited too long (`escalated`).
#[derive(Debug, Clone)]
pub struct Urgent {
    pub language: Language,
    pub escalated: bool,
    pub case_code: String,
    /// The category's key (`flight`).
    pub category: String,
    /// The amount as the wire writes it (`612.40`).
    pub amount: String,
    /// Why the rules sent it to a treasurer.
    pub why: String,
    /// The request's page.
    pub link: String,
}

/// What a treasurer decided, for the requester.
#[derive(Debug, Clone)]
pub struct Decision {
    pub language: Language,
    /// Approved (the money is held), or declined.
    pub approved: bool,
    pub case_code: String,
    pub category: String,
    pub amount: String,
    /// Why it was declined (empty for an approval).
    pub reason: String,
    /// The request's page, where the receipt is recorded.
    pub link: String,
}

/// The fund's available money fell under its reserve floor, for every treasurer.
#[derive(Debug, Clone)]
pub struct LowBalance {
    pub language: Language,
    pub available_cents: i64,
    pub floor_cents: i64,
}

/// What the request emails show, in the reader's words.
struct Shown<'a> {
    w: Words,
    subject: String,
    category: String,
    amount: String,
    case_code: &'a str,
    link: &'a str,
}

fn shown<'a>(
    w: Words,
    subject_key: &str,
    case_code: &'a str,
    category: &str,
    amount: &str,
    link: &'a str,
) -> Shown<'a> {
    let category = w.category(category);
    let amount = w.amount(amount);
    let subject = w.with(
        subject_key,
        &[
            ("category", category.clone()),
            ("amount", amount.clone()),
            ("case", case_code.to_string()),
        ],
    );
    Shown {
        w,
        subject,
        category,
        amount,
        case_code,
        link,
    }
}

#[derive(Template)]
#[template(path = "email/urgent.txt")]
struct UrgentText<'a> {
    s: &'a Shown<'a>,
    why: &'a str,
}

#[derive(Template)]
#[template(path = "email/urgent.html")]
struct UrgentHtml<'a> {
    w: Words,
    subject: &'a str,
    s: &'a Shown<'a>,
    why: &'a str,
}

impl Urgent {
    pub fn write(&self) -> Result<Written, ComposeError> {
        let key = if self.escalated {
            "email-escalated-subject"
        } else {
            "email-urgent-subject"
        };
        let w = Words(self.language);
        let s = shown(
            w,
            key,
            &self.case_code,
            &self.category,
            &self.amount,
            &self.link,
        );
        written(
            s.subject.clone(),
            &UrgentText {
                s: &s,
                why: &self.why,
            },
            &UrgentHtml {
                w,
                subject: &s.subject,
                s: &s,
                why: &self.why,
            },
        )
    }
}

#[derive(Template)]
#[template(path = "email/decision.txt")]
struct DecisionText<'a> {
    s: &'a Shown<'a>,
    approved: bool,
    reason: &'a str,
}

#[derive(Template)]
#[template(path = "email/decision.html")]
struct DecisionHtml<'a> {
    w: Words,
    subject: &'a str,
    s: &'a Shown<'a>,
    approved: bool,
    reason: &'a str,
}

impl Decision {
    pub fn write(&self) -> Result<Written, ComposeError> {
        let key = if self.approved {
            "email-approved-subject"
        } else {
            "email-declined-subject"
        };
        let w = Words(self.language);
        let s = shown(
            w,
            key,
            &self.case_code,
            &self.category,
            &self.amount,
            &self.link,
        );
        written(
            s.subject.clone(),
            &DecisionText {
                s: &s,
                approved: self.approved,
                reason: &self.reason,
            },
            &DecisionHtml {
                w,
                subject: &s.subject,
                s: &s,
                approved: self.approved,
                reason: &self.reason,
            },
        )
    }
}

#[derive(Template)]
#[template(path = "email/low_balance.txt")]
struct LowBalanceText<'a> {
    w: Words,
    available: &'a str,
    floor: &'a str,
}

#[derive(Template)]
#[template(path = "email/low_balance.html")]
struct LowBalanceHtml<'a> {
    w: Words,
    subject: &'a str,
    available: &'a str,
    floor: &'a str,
}

impl LowBalance {
    pub fn write(&self) -> Result<Written, ComposeError> {
        let w = Words(self.language);
        let available = w.money(self.available_cents);
        let floor = w.money(self.floor_cents);
        let subject = w.with("email-low-subject", &[("available", available.clone())]);
        written(
            subject.clone(),
            &LowBalanceText {
                w,
                available: &available,
                floor: &floor,
            },
            &LowBalanceHtml {
                w,
                subject: &subject,
                available: &available,
                floor: &floor,
            },
        )
    }
}
