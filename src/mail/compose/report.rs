//! The report emails: a sealed report for each donor, and the reminders of a report that
//! waits for a treasurer's seal or co-signature.

use askama::Template;

use super::{ComposeError, Words, Written, written};
use crate::domain::Language;

/// Which signature a report waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStep {
    /// A draft: a treasurer seals it, a second one co-signs it.
    Seal,
    /// Sealed once: a second treasurer co-signs it.
    Cosign,
}

/// A report whose period has ended waits for a signature, for every treasurer.
#[derive(Debug, Clone)]
pub struct ReportReminder {
    pub language: Language,
    pub step: ReportStep,
    /// The period's first and last days (`2026-11-01`).
    pub start: String,
    pub end: String,
    /// Where the report is read and signed.
    pub link: String,
}

#[derive(Template)]
#[template(path = "email/report_reminder.txt")]
struct ReminderText<'a> {
    intro: &'a str,
    review: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/report_reminder.html")]
struct ReminderHtml<'a> {
    w: Words,
    subject: &'a str,
    intro: &'a str,
    review: &'a str,
    link: &'a str,
}

impl ReportReminder {
    pub fn write(&self) -> Result<Written, ComposeError> {
        let w = Words(self.language);
        let step = match self.step {
            ReportStep::Seal => "email-seal",
            ReportStep::Cosign => "email-cosign",
        };
        let period = [("start", self.start.clone()), ("end", self.end.clone())];
        let subject = w.with(&format!("{step}-subject"), &period);
        let intro = w.with(&format!("{step}-intro"), &period);
        let review = w.t(&format!("{step}-link"));
        written(
            subject.clone(),
            &ReminderText {
                intro: &intro,
                review: &review,
                link: &self.link,
            },
            &ReminderHtml {
                w,
                subject: &subject,
                intro: &intro,
                review: &review,
                link: &self.link,
            },
        )
    }
}

/// The links of a donor's email.
#[derive(Debug, Clone)]
pub struct Links {
    /// The report on the web, for `link_days`.
    pub web: String,
    /// Unsubscribes (also the `List-Unsubscribe` header).
    pub unsubscribe: String,
    pub link_days: u32,
}

/// A bar of the chart: label, amount shown (or `None` when suppressed), cases shown.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub amount: Option<i64>,
    pub cases: String,
}

/// A sealed summary as lines and bars in a language: what the donor's email and the
/// report pages show (`reports::send::figures` reads them from the summary).
#[derive(Debug, Clone)]
pub struct Figures {
    /// Label and value; a line that details the one before starts with two spaces.
    pub rows: Vec<(String, String)>,
    pub chart: Vec<Bar>,
    /// The largest bar, for scaling the others.
    pub max: i64,
    /// That the figures undercount the need.
    pub note: String,
    /// What a suppressed bar says instead of its amount.
    pub hidden: String,
    /// Spending by province, under the same suppression as by need.
    pub by_province: Vec<Bar>,
    /// A short paragraph: how to read the report.
    pub how_to_read: String,
}

/// A sealed report for one donor. Everything in it comes from the sealed summary and the
/// donor's own gifts: no case, city, vendor, date finer than the period or free text.
#[derive(Debug, Clone)]
pub struct DonorReport<'a> {
    pub language: Language,
    pub name: &'a str,
    /// The period's first and last days.
    pub start: &'a str,
    pub end: &'a str,
    /// The donor's gifts in the period, one line each (`reports::send::gift_line`).
    pub gifts: Vec<String>,
    pub gifts_total_cents: i64,
    pub figures: &'a Figures,
    /// The report's SHA-256.
    pub hash: &'a str,
    pub links: &'a Links,
}

/// A bar as the two parts draw it: `#` characters in the text, a width in the HTML.
struct ChartRow<'a> {
    label: &'a str,
    /// The label padded to a column, for the text part.
    padded: String,
    amount: Option<String>,
    hashes: String,
    /// The bar's width in percent of the chart's (1 to 100), and what is left of it.
    percent: i64,
    rest: i64,
    cases: &'a str,
}

/// The bars of a chart, scaled on its largest: `#` characters in the text part, a
/// table cell's width (and background colour, which mail clients keep) in the HTML.
fn chart_rows<'a>(w: Words, bars: &'a [Bar]) -> Vec<ChartRow<'a>> {
    let max = bars
        .iter()
        .filter_map(|b| b.amount)
        .max()
        .unwrap_or(0)
        .max(1);
    bars.iter()
        .map(|b| {
            let percent = (b.amount.unwrap_or(0) * 100 / max).clamp(1, 100);
            ChartRow {
                label: &b.label,
                padded: format!("{:<28}", b.label),
                amount: b.amount.map(|a| w.money(a)),
                hashes: "#".repeat(
                    usize::try_from(b.amount.unwrap_or(0) * 30 / max)
                        .unwrap_or(0)
                        .max(1),
                ),
                percent,
                rest: 100 - percent,
                cases: &b.cases,
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "email/donor_report.txt")]
struct DonorText<'a> {
    w: Words,
    r: &'a DonorReport<'a>,
    hello: &'a str,
    intro: &'a str,
    total: &'a str,
    rows: &'a [String],
    chart: &'a [ChartRow<'a>],
    provinces: &'a [ChartRow<'a>],
    link_days: &'a str,
}

#[derive(Template)]
#[template(path = "email/donor_report.html")]
struct DonorHtml<'a> {
    w: Words,
    subject: &'a str,
    r: &'a DonorReport<'a>,
    hello: &'a str,
    intro: &'a str,
    total: &'a str,
    chart: &'a [ChartRow<'a>],
    provinces: &'a [ChartRow<'a>],
    link_days: &'a str,
}

impl DonorReport<'_> {
    pub fn write(&self) -> Result<Written, ComposeError> {
        let w = Words(self.language);
        let period = [
            ("start", self.start.to_string()),
            ("end", self.end.to_string()),
        ];
        let subject = w.with("email-donor-subject", &period);
        let hello = w.with("email-donor-hello", &[("name", self.name.to_string())]);
        let intro = w.with("email-donor-intro", &period);
        let total = w.money(self.gifts_total_cents);
        let link_days = w.with(
            "email-donor-link-days",
            &[("days", self.links.link_days.to_string())],
        );
        let f = self.figures;
        let rows: Vec<String> = f
            .rows
            .iter()
            .map(|(label, value)| {
                w.with(
                    "email-donor-row",
                    &[("label", label.clone()), ("value", value.clone())],
                )
            })
            .collect();
        let chart = chart_rows(w, &f.chart);
        let provinces = chart_rows(w, &f.by_province);
        written(
            subject.clone(),
            &DonorText {
                w,
                r: self,
                hello: &hello,
                intro: &intro,
                total: &total,
                rows: &rows,
                chart: &chart,
                provinces: &provinces,
                link_days: &link_days,
            },
            &DonorHtml {
                w,
                subject: &subject,
                r: self,
                hello: &hello,
                intro: &intro,
                total: &total,
                chart: &chart,
                provinces: &provinces,
                link_days: &link_days,
            },
        )
    }
}
