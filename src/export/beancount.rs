//! The ledger as a beancount (version 3) file: the commodity and every account opened
//! first, one transaction per transfer with its ids as metadata, the case as a tag and the
//! request as a link, and the service's balances asserted at the end. No tolerance is
//! inferred from the amounts' precision, so `bean-check` refuses an entry that is off by
//! a single cent.

use std::fmt::{self, Write};

use chrono::Days;

use super::chart::{Closing, Declaration};
use super::{COMMODITY, Entry, Foot, Head, timestamp};
use crate::domain::money::format_cents;

fn string(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// Tags and links allow letters, digits and `-_/.` only.
fn label(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_/.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn open(out: &mut String, declarations: &[Declaration<'_>]) -> fmt::Result {
    for d in declarations {
        writeln!(out, "{} open {} {COMMODITY}", d.opened, d.name.beancount)?;
    }
    Ok(())
}

pub fn header(out: &mut String, head: &Head<'_>) -> fmt::Result {
    writeln!(
        out,
        "; Passage: the fund's ledger as a beancount file, taken at {}.",
        timestamp(head.taken_at)
    )?;
    for line in head.notes {
        writeln!(out, "; {line}")?;
    }
    writeln!(out)?;
    writeln!(out, "option \"title\" \"Passage\"")?;
    writeln!(out, "option \"operating_currency\" \"{COMMODITY}\"")?;
    writeln!(
        out,
        "; A cent counts: no tolerance is inferred from the amounts (beancount 3's option)."
    )?;
    writeln!(out, "option \"tolerance_multiplier\" \"0\"")?;
    writeln!(out)?;
    let first = head
        .declarations
        .iter()
        .map(|d| d.opened)
        .min()
        .unwrap_or_else(|| head.taken_at.date_naive());
    writeln!(out, "{first} commodity {COMMODITY}")?;
    open(out, head.declarations)?;
    writeln!(out)
}

pub fn entry(out: &mut String, e: &Entry<'_, '_>) -> fmt::Result {
    let row = e.row;
    write!(out, "{} * {}", e.date, string(&e.description))?;
    if let Some(case) = &row.case_code {
        write!(out, " #{}", label(case))?;
    }
    if let Some(request) = &row.request_id {
        write!(out, " ^request-{}", label(request))?;
    }
    writeln!(out)?;
    writeln!(out, "  id: {}", string(&row.id))?;
    writeln!(out, "  kind: {}", string(row.kind.as_str()))?;
    writeln!(out, "  code: {}", string(&row.code))?;
    writeln!(out, "  time: {}", string(&timestamp(row.created_at)))?;
    if let Some(request) = &row.request_id {
        writeln!(out, "  request: {}", string(request))?;
    }
    if let Some(case) = &row.case_code {
        writeln!(out, "  case: {}", string(case))?;
    }
    if let Some(category) = &row.category {
        writeln!(out, "  category: {}", string(category))?;
    }
    if let Some(reference) = row
        .reference
        .as_ref()
        .filter(|r| row.request_id.as_ref() != Some(r))
    {
        writeln!(out, "  reference: {}", string(reference))?;
    }
    for p in e.postings {
        writeln!(
            out,
            "  {:<36}  {:>12} {COMMODITY}",
            p.account.beancount,
            format_cents(p.cents)
        )?;
    }
    writeln!(out)
}

pub fn footer(out: &mut String, foot: &Foot<'_>) -> fmt::Result {
    if !foot.late.is_empty() {
        writeln!(
            out,
            "; Accounts first used above, opened on the day of first use."
        )?;
        open(out, foot.late)?;
        writeln!(out)?;
    }
    writeln!(
        out,
        "; The service's balances at the time of the export ({} transfers): bean-check \
         checks that the entries above add up to them.",
        foot.transfers
    )?;
    // A balance directive holds at the start of its day: the day after the last entry.
    let day = foot
        .last_date
        .checked_add_days(Days::new(1))
        .unwrap_or(foot.last_date);
    for Closing { name, cents } in foot.closing {
        writeln!(
            out,
            "{day} balance {} {} {COMMODITY}",
            name.beancount,
            format_cents(*cents)
        )?;
    }
    Ok(())
}
