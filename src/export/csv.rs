//! The ledger as CSV, one row per posting: each transfer's rows sum to zero, and the rows
//! of one account sum to its balance. Columns:
//! `date,time,transfer_id,kind,code,account,amount,commodity,request_id,case_code,category,reference`.

use std::fmt::{self, Write};

use super::{COMMODITY, Entry, timestamp};
use crate::domain::money::format_cents;

pub const COLUMNS: &str = "date,time,transfer_id,kind,code,account,amount,commodity,request_id,case_code,category,reference";

fn field(out: &mut String, value: &str) -> fmt::Result {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
    Ok(())
}

pub fn header(out: &mut String) -> fmt::Result {
    writeln!(out, "{COLUMNS}")
}

pub fn entry(out: &mut String, e: &Entry<'_, '_>) -> fmt::Result {
    let row = e.row;
    let time = timestamp(row.created_at);
    let optional = |v: &Option<String>| v.clone().unwrap_or_default();
    for p in e.postings {
        let amount = format_cents(p.cents);
        let fields: [&str; 12] = [
            &e.date.to_string(),
            &time,
            &row.id,
            row.kind.as_str(),
            &row.code,
            &p.account.plain,
            &amount,
            COMMODITY,
            &optional(&row.request_id),
            &optional(&row.case_code),
            &optional(&row.category),
            &optional(&row.reference),
        ];
        for (i, value) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            field(out, value)?;
        }
        out.push('\n');
    }
    Ok(())
}
