//! The ledger as an hledger journal: accounts and the commodity declared first (so
//! `hledger check -s` holds), one entry per transfer with its ids as tags, and the
//! service's balances asserted at the end.

use std::fmt::{self, Write};

use super::chart::{Closing, Declaration};
use super::{COMMODITY, Entry, Foot, Head, timestamp};
use crate::domain::money::format_cents;

/// A tag's value ends at a comma or at the end of the line.
fn tag(value: &str) -> String {
    value.replace([',', '\n', '\r'], " ")
}

/// A description ends where a comment begins.
fn description(value: &str) -> String {
    value.replace([';', '\n', '\r'], " ")
}

fn declare(out: &mut String, declarations: &[Declaration<'_>]) -> fmt::Result {
    for d in declarations {
        writeln!(out, "account {}", d.name.plain)?;
    }
    Ok(())
}

pub fn header(out: &mut String, head: &Head<'_>) -> fmt::Result {
    writeln!(
        out,
        "; Passage: the fund's ledger as an hledger journal, taken at {}.",
        timestamp(head.taken_at)
    )?;
    for line in head.notes {
        writeln!(out, "; {line}")?;
    }
    writeln!(out)?;
    writeln!(out, "commodity 1000.00 {COMMODITY}")?;
    writeln!(out)?;
    declare(out, head.declarations)?;
    writeln!(out)
}

pub fn entry(out: &mut String, e: &Entry<'_, '_>) -> fmt::Result {
    let row = e.row;
    write!(
        out,
        "{} * {}  ; id:{}, kind:{}, code:{}, time:{}",
        e.date,
        description(&e.description),
        tag(&row.id),
        row.kind,
        tag(&row.code),
        timestamp(row.created_at)
    )?;
    if let Some(request) = &row.request_id {
        write!(out, ", request:{}", tag(request))?;
    }
    if let Some(case) = &row.case_code {
        write!(out, ", case:{}", tag(case))?;
    }
    if let Some(category) = &row.category {
        write!(out, ", category:{}", tag(category))?;
    }
    if let Some(reference) = row
        .reference
        .as_ref()
        .filter(|r| row.request_id.as_ref() != Some(r))
    {
        write!(out, ", reference:{}", tag(reference))?;
    }
    writeln!(out)?;
    for p in e.postings {
        writeln!(
            out,
            "    {:<36}  {:>12} {COMMODITY}",
            p.account.plain,
            format_cents(p.cents)
        )?;
    }
    writeln!(out)
}

pub fn footer(out: &mut String, foot: &Foot<'_>) -> fmt::Result {
    if !foot.late.is_empty() {
        writeln!(
            out,
            "; Accounts first used above and not declared at the top."
        )?;
        declare(out, foot.late)?;
        writeln!(out)?;
    }
    writeln!(
        out,
        "; The service's balances at the time of the export ({} transfers): hledger checks \
         that the entries above add up to them.",
        foot.transfers
    )?;
    writeln!(out, "{} * closing balances", foot.last_date)?;
    for Closing { name, cents } in foot.closing {
        writeln!(
            out,
            "    {:<36}  {:>12} {COMMODITY} =* {} {COMMODITY}",
            name.plain,
            0,
            format_cents(*cents)
        )?;
    }
    Ok(())
}
