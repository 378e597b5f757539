//! The same-night emails. They never carry a note, a city or a question's text: a
//! treasurer's email names the provinces or countries of a trip, its date and reason, the
//! organisation and the caseworker, and by how much the request goes past its rule; the
//! page behind the link shows the rest.

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
    /// Why the rules sent it to a treasurer, in the reader's words.
    pub why: String,
    /// The request's page.
    pub link: String,
    /// The organisation whose case it is, and the caseworker who asked.
    pub org: String,
    pub requester: String,
    /// Travel: provinces or countries, date and reason; never the cities.
    pub trip: Option<TripFacts>,
    /// Hotel: nights, nightly rate (as the wire writes it) and party size.
    pub stay: Option<(i64, String, i64)>,
    /// A date (`2026-11-30`) or a time, as asked.
    pub needed_by: String,
    /// By how much it goes past its rule, in the reader's words (empty when the rule has
    /// no figure).
    pub excess: String,
    /// The case's other requests of the last 90 days: how many, and how much of them was
    /// approved or spent (as the wire writes it).
    pub case_days: Option<(usize, String)>,
    /// The fund's available money now and after this approval (as the wire writes them),
    /// while the request waits.
    pub fund: Option<(String, String)>,
    /// Approvals so far and approvals needed, and who approved.
    pub approvals: (i64, i64),
    pub approved_by: Vec<String>,
}

/// A trip as an email may tell it: provinces or countries, never cities.
#[derive(Debug, Clone)]
pub struct TripFacts {
    /// `QC`, or `HT` abroad.
    pub from: String,
    pub to: String,
    pub travel_date: String,
    /// The reason's key (`safety`).
    pub reason: String,
    /// The scope's key (`international`).
    pub scope: String,
}

/// A treasurer asked the caseworker a question (to the caseworker), or the caseworker
/// answered (to the treasurer who asked). The question and answer stay on the page.
#[derive(Debug, Clone)]
pub struct Question {
    pub language: Language,
    pub answered: bool,
    pub case_code: String,
    pub category: String,
    pub amount: String,
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
    /// A decline's code (`cheaper_option`), when the treasurer chose one.
    pub reason_code: Option<String>,
    /// Who decided, to call back: their name and email.
    pub call_back: Option<(String, String)>,
    /// The request's page, where the receipt is recorded (or the decline read).
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
    facts: &'a [(String, String)],
}

#[derive(Template)]
#[template(path = "email/urgent.html")]
struct UrgentHtml<'a> {
    w: Words,
    subject: &'a str,
    s: &'a Shown<'a>,
    why: &'a str,
    facts: &'a [(String, String)],
}

/// A date as the language writes it; a time (or anything else) as it was given.
fn day_or_time(w: Words, raw: &str) -> String {
    match chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(day) => crate::i18n::date(w.0, day),
        Err(_) => raw.to_string(),
    }
}

impl Urgent {
    /// The lines under the amount: who asked, the trip or the stay, when, and the excess.
    fn facts(&self, w: Words) -> Vec<(String, String)> {
        let mut facts = vec![
            (w.t("email-org"), self.org.clone()),
            (w.t("email-requester"), self.requester.clone()),
        ];
        if let Some(trip) = &self.trip {
            facts.push((
                w.t("email-route"),
                format!(
                    "{} → {} · {}",
                    trip.from,
                    trip.to,
                    w.t(&format!("scope-{}", trip.scope))
                ),
            ));
            facts.push((w.t("email-travel-date"), day_or_time(w, &trip.travel_date)));
            facts.push((
                w.t("email-trip-reason"),
                w.t(&format!("reason-{}", trip.reason)),
            ));
        }
        if let Some((nights, rate, party)) = &self.stay {
            facts.push((
                w.t("email-stay"),
                w.with(
                    "email-stay-value",
                    &[
                        ("nights", nights.to_string()),
                        ("rate", w.amount(rate)),
                        ("party", party.to_string()),
                    ],
                ),
            ));
        }
        facts.push((w.t("email-needed-by"), day_or_time(w, &self.needed_by)));
        if !self.excess.is_empty() {
            facts.push((w.t("email-excess"), self.excess.clone()));
        }
        if let Some((count, total)) = &self.case_days {
            facts.push((
                w.t("email-case-days"),
                w.with(
                    "email-case-days-value",
                    &[("count", count.to_string()), ("total", w.amount(total))],
                ),
            ));
        }
        if let Some((now, after)) = &self.fund {
            facts.push((w.t("email-available-now"), w.amount(now)));
            facts.push((w.t("email-available-after"), w.amount(after)));
        }
        let (done, needed) = self.approvals;
        let mut approvals = vec![("done", done.to_string()), ("needed", needed.to_string())];
        let key = if self.approved_by.is_empty() {
            "email-approvals-value"
        } else {
            approvals.push(("who", self.approved_by.join(", ")));
            "email-approvals-by"
        };
        facts.push((w.t("email-approvals"), w.with(key, &approvals)));
        facts
    }
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
        let facts = self.facts(w);
        written(
            s.subject.clone(),
            &UrgentText {
                s: &s,
                why: &self.why,
                facts: &facts,
            },
            &UrgentHtml {
                w,
                subject: &s.subject,
                s: &s,
                why: &self.why,
                facts: &facts,
            },
        )
    }
}

#[derive(Template)]
#[template(path = "email/question.txt")]
struct QuestionText<'a> {
    s: &'a Shown<'a>,
    intro: &'a str,
    link_label: &'a str,
}

#[derive(Template)]
#[template(path = "email/question.html")]
struct QuestionHtml<'a> {
    w: Words,
    subject: &'a str,
    s: &'a Shown<'a>,
    intro: &'a str,
    link_label: &'a str,
}

impl Question {
    pub fn write(&self) -> Result<Written, ComposeError> {
        let (subject, intro, link) = if self.answered {
            (
                "email-answered-subject",
                "email-answered-intro",
                "email-answered-link",
            )
        } else {
            (
                "email-asked-subject",
                "email-asked-intro",
                "email-asked-link",
            )
        };
        let w = Words(self.language);
        let s = shown(
            w,
            subject,
            &self.case_code,
            &self.category,
            &self.amount,
            &self.link,
        );
        let (intro, link_label) = (w.t(intro), w.t(link));
        written(
            s.subject.clone(),
            &QuestionText {
                s: &s,
                intro: &intro,
                link_label: &link_label,
            },
            &QuestionHtml {
                w,
                subject: &s.subject,
                s: &s,
                intro: &intro,
                link_label: &link_label,
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
    code: &'a str,
    call_back: &'a str,
}

#[derive(Template)]
#[template(path = "email/decision.html")]
struct DecisionHtml<'a> {
    w: Words,
    subject: &'a str,
    s: &'a Shown<'a>,
    approved: bool,
    reason: &'a str,
    code: &'a str,
    call_back: &'a str,
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
        // The code's words and who to call back, as the caseworker's answer page says them.
        let code = self
            .reason_code
            .as_ref()
            .map(|code| w.t(&format!("decline-code-{code}")))
            .unwrap_or_default();
        let call_back = self
            .call_back
            .as_ref()
            .map(|(who, email)| {
                w.with(
                    "request-call-back",
                    &[("who", who.clone()), ("email", email.clone())],
                )
            })
            .unwrap_or_default();
        written(
            s.subject.clone(),
            &DecisionText {
                s: &s,
                approved: self.approved,
                reason: &self.reason,
                code: &code,
                call_back: &call_back,
            },
            &DecisionHtml {
                w,
                subject: &s.subject,
                s: &s,
                approved: self.approved,
                reason: &self.reason,
                code: &code,
                call_back: &call_back,
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
