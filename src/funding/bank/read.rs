//! Reading a bank statement file into lines, or into problems by line (pure: no I/O).
//!
//! CSV comes in a layout ([`Layout`]): Passage's own `generic` one (a header row
//! `date,description,withdrawal,deposit,balance`, ISO dates, positive amounts), or a preset
//! for what a Canadian bank exports (`rbc`, `td`; docs/bank-statement.md says which columns
//! each assumes). OFX/QFX (SGML 1.x or XML 2.x) is read by a small reader of its own: each
//! `STMTTRN` block's `DTPOSTED`, `TRNAMT`, `FITID`, `NAME` and `MEMO`, and the statement's
//! `LEDGERBAL`, from which every line's running balance is derived backwards (OFX carries no
//! balance per line), so that the same transaction read from a CSV file and from an OFX file
//! is known as the same one.
//!
//! The problems are typed ([`Problem`]): the edge words them in the reader's language.

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

/// The most lines one statement may hold: a longer one is imported month by month.
pub const MAX_LINES: usize = 5000;
/// The largest amount or balance a statement line may carry, in cents (ten million dollars).
const MAX_ABS_CENTS: i64 = 1_000_000_000;
/// How much of a line's description is kept.
const MAX_DESCRIPTION_CHARS: usize = 200;

/// A CSV layout: which columns hold what, and how dates are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `date,description,withdrawal,deposit,balance` (a header row, any order; `balance`
    /// may be left out), ISO dates, positive amounts.
    Generic,
    /// RBC Royal Bank's "CSV" download: a header row `Account Type, Account Number,
    /// Transaction Date, Cheque Number, Description 1, Description 2, CAD$, USD$`, dates
    /// `M/D/YYYY`, one signed amount (`CAD$`), no running balance.
    Rbc,
    /// TD Canada Trust's EasyWeb "Spreadsheet (.csv)" download: no header row, five columns
    /// `date, description, withdrawal, deposit, balance`, dates `MM/DD/YYYY`.
    Td,
}

impl Layout {
    pub const ALL: [Layout; 3] = [Layout::Generic, Layout::Rbc, Layout::Td];

    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Generic => "generic",
            Layout::Rbc => "rbc",
            Layout::Td => "td",
        }
    }

    pub fn parse(name: &str) -> Option<Layout> {
        Layout::ALL
            .into_iter()
            .find(|l| l.as_str() == name.trim().to_ascii_lowercase())
    }
}

/// What is wrong with a statement file or one of its lines. Each has a stable code (the
/// API's `code`) and the arguments its message needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    NotUtf8,
    Binary,
    Empty,
    /// The header row lacks a column the layout needs.
    MissingColumn(String),
    UnknownColumn(String),
    TooManyLines,
    NoLines,
    /// A line that does not have the layout's columns.
    Malformed {
        fields: usize,
        expected: usize,
    },
    Required(&'static str),
    /// A date not written as the layout writes them (`expected` shows how).
    DateFormat {
        value: String,
        expected: &'static str,
    },
    DateFuture {
        today: NaiveDate,
    },
    AmountFormat(String),
    /// A withdrawal or deposit column holding a negative amount.
    AmountNegative(String),
    /// Both a withdrawal and a deposit on one line.
    BothAmounts,
    /// Neither a withdrawal nor a deposit (or an amount of zero).
    NoAmount,
    /// An RBC line in US dollars only.
    NotCad,
    /// Not an OFX file (no `<OFX>`).
    NotOfx,
    /// A `STMTTRN` block without a field it needs.
    OfxField(&'static str),
}

impl Problem {
    pub fn code(&self) -> &'static str {
        match self {
            Problem::NotUtf8 => "not_utf8",
            Problem::Binary => "binary",
            Problem::Empty => "empty",
            Problem::MissingColumn(_) => "missing_column",
            Problem::UnknownColumn(_) => "unknown_column",
            Problem::TooManyLines => "too_many_lines",
            Problem::NoLines => "no_lines",
            Problem::Malformed { .. } => "malformed_line",
            Problem::Required(_) => "required",
            Problem::DateFormat { .. } => "date_format",
            Problem::DateFuture { .. } => "date_future",
            Problem::AmountFormat(_) => "amount_format",
            Problem::AmountNegative(_) => "amount_negative",
            Problem::BothAmounts => "both_amounts",
            Problem::NoAmount => "no_amount",
            Problem::NotCad => "not_cad",
            Problem::NotOfx => "not_ofx",
            Problem::OfxField(_) => "ofx_field",
        }
    }

    /// The message's key in the catalogues: `bank-` and the code.
    pub fn key(&self) -> String {
        format!("bank-{}", self.code().replace('_', "-"))
    }

    pub fn args(&self) -> Vec<(&'static str, String)> {
        match self {
            Problem::MissingColumn(c) | Problem::UnknownColumn(c) => vec![("column", c.clone())],
            Problem::TooManyLines => vec![("max", MAX_LINES.to_string())],
            Problem::Malformed { fields, expected } => vec![
                ("fields", fields.to_string()),
                ("expected", expected.to_string()),
            ],
            Problem::Required(c) | Problem::OfxField(c) => vec![("column", (*c).to_string())],
            Problem::DateFormat { value, expected } => {
                vec![
                    ("value", shown(value)),
                    ("expected", (*expected).to_string()),
                ]
            }
            Problem::DateFuture { today } => vec![("today", today.to_string())],
            Problem::AmountFormat(v) | Problem::AmountNegative(v) => vec![("value", shown(v))],
            _ => Vec::new(),
        }
    }

    /// Whether the file as a whole cannot be read (no line is).
    pub fn is_file_level(&self) -> bool {
        matches!(
            self,
            Problem::NotUtf8
                | Problem::Binary
                | Problem::Empty
                | Problem::MissingColumn(_)
                | Problem::UnknownColumn(_)
                | Problem::TooManyLines
                | Problem::NoLines
                | Problem::NotOfx
        )
    }
}

fn shown(value: &str) -> String {
    let mut out: String = value.chars().take(40).collect();
    if value.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// A problem at a line of the file (the first line is 1) and a column (`file` for the
/// line, or the file, as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    pub line: u64,
    pub column: &'static str,
    pub problem: Problem,
}

/// One transaction of the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    /// Where it is in the file.
    pub line: u64,
    pub posted_on: NaiveDate,
    pub description: String,
    /// Signed cents: deposits positive, withdrawals negative.
    pub amount: i64,
    /// The account's balance after this line, when the file gives it (or, for OFX, lets
    /// it be derived).
    pub balance: Option<i64>,
    /// OFX's own id of the transaction.
    pub fitid: Option<String>,
}

impl StatementLine {
    /// What makes a transaction the same one whichever file it came from: its date, amount
    /// and running balance (or, without a balance, its description), and how many lines
    /// of the same file had the same before it.
    fn key(&self) -> String {
        match self.balance {
            Some(balance) => format!("b:{}:{}:{}", self.posted_on, self.amount, balance),
            None => match &self.fitid {
                Some(fitid) => format!("f:{fitid}"),
                None => format!(
                    "d:{}:{}:{}",
                    self.posted_on,
                    self.amount,
                    self.description.to_lowercase()
                ),
            },
        }
    }
}

/// A statement read: its fingerprint, its lines each with the key that tells it apart, and
/// its problems. A file with a problem records nothing.
#[derive(Debug, Clone)]
pub struct Read {
    pub hash: String,
    pub lines: Vec<(StatementLine, String)>,
    pub problems: Vec<LineProblem>,
}

impl Read {
    pub fn file_problem(&self) -> Option<&LineProblem> {
        self.problems.iter().find(|p| p.problem.is_file_level())
    }
}

fn whole(hash: &str, line: u64, problem: Problem) -> Read {
    Read {
        hash: hash.to_string(),
        lines: Vec::new(),
        problems: vec![LineProblem {
            line,
            column: "file",
            problem,
        }],
    }
}

/// The file's text: UTF-8 (or, failing that, Windows-1252 as banks' older exports are,
/// which Latin-1 covers for the letters of French), without a byte-order mark, with `\n`.
fn text_of(bytes: &[u8]) -> Result<String, Problem> {
    if bytes.contains(&0) {
        return Err(Problem::Binary);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.to_string(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text).to_string();
    Ok(text.replace("\r\n", "\n").replace('\r', "\n"))
}

fn fingerprint(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Signed cents from a bank's amount: `-12.50`, `12.5`, `1234`, `$1,234.56` (a thousands
/// comma only before three digits and a point), `(12.50)` as negative.
pub fn statement_cents(typed: &str) -> Option<i64> {
    let mut s = typed.trim().replace('$', "");
    let mut negative = false;
    if s.starts_with('(') && s.ends_with(')') {
        negative = true;
        s = s[1..s.len() - 1].to_string();
    }
    if let Some(rest) = s.strip_prefix('-') {
        negative = !negative;
        s = rest.trim().to_string();
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest.trim().to_string();
    }
    if s.contains(',') {
        // Thousands separators only: "1,234.56".
        let (whole, _) = s.split_once('.').unwrap_or((&s, ""));
        let groups: Vec<&str> = whole.split(',').collect();
        if groups[0].is_empty() || groups[0].len() > 3 || groups[1..].iter().any(|g| g.len() != 3) {
            return None;
        }
        s = s.replace(',', "");
    }
    let (whole, fraction) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s.as_str(), ""),
    };
    if whole.is_empty()
        || whole.len() > 8
        || fraction.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let cents = whole.parse::<i64>().ok()? * 100 + format!("{fraction:0<2}").parse::<i64>().ok()?;
    if cents > MAX_ABS_CENTS {
        return None;
    }
    Some(if negative { -cents } else { cents })
}

fn description(parts: &[&str]) -> String {
    let joined = parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let clean: String = joined
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    clean.chars().take(MAX_DESCRIPTION_CHARS).collect()
}

/// `M/D/YYYY` or `MM/DD/YYYY`, as RBC and TD write dates.
fn us_date(typed: &str) -> Option<NaiveDate> {
    let parts: Vec<&str> = typed.trim().split('/').collect();
    if parts.len() != 3 || parts[2].len() != 4 || parts[0].len() > 2 || parts[1].len() > 2 {
        return None;
    }
    let n = |p: &str| p.parse::<u32>().ok();
    NaiveDate::from_ymd_opt(n(parts[2])? as i32, n(parts[0])?, n(parts[1])?)
}

fn iso_date(typed: &str) -> Option<NaiveDate> {
    let typed = typed.trim();
    if typed.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(typed, "%Y-%m-%d").ok()
}

/// Gives each line the key that tells it apart, counting the same key earlier in the file.
fn keyed(lines: Vec<StatementLine>) -> Vec<(StatementLine, String)> {
    let mut seen: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    lines
        .into_iter()
        .map(|l| {
            let key = l.key();
            let n = seen.entry(key.clone()).or_default();
            *n += 1;
            (l, format!("{key}:{n}"))
        })
        .collect()
}

/// Reads a CSV statement in `layout`. `today` is the clock's: no line may be after it.
pub fn read_csv(bytes: &[u8], layout: Layout, today: NaiveDate) -> Read {
    let hash = fingerprint(bytes);
    let text = match text_of(bytes) {
        Ok(t) => t,
        Err(p) => return whole(&hash, 0, p),
    };
    if text.trim().is_empty() {
        return whole(&hash, 1, Problem::Empty);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records().peekable();
    // Which column holds what: (date, description parts, withdrawal, deposit, signed, balance).
    struct Columns {
        date: usize,
        description: Vec<usize>,
        withdrawal: Option<usize>,
        deposit: Option<usize>,
        signed: Option<usize>,
        balance: Option<usize>,
        width: usize,
        date_format: &'static str,
    }
    let columns = match layout {
        Layout::Td => Columns {
            date: 0,
            description: vec![1],
            withdrawal: Some(2),
            deposit: Some(3),
            signed: None,
            balance: Some(4),
            width: 5,
            date_format: "MM/DD/YYYY",
        },
        Layout::Generic | Layout::Rbc => {
            let header = match records.next() {
                Some(Ok(h)) => h,
                _ => return whole(&hash, 1, Problem::Empty),
            };
            let names: Vec<String> = header
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .collect();
            let find = |name: &str| names.iter().position(|n| n == name);
            if layout == Layout::Generic {
                for n in &names {
                    if !["date", "description", "withdrawal", "deposit", "balance"]
                        .contains(&n.as_str())
                    {
                        return whole(&hash, 1, Problem::UnknownColumn(shown(n)));
                    }
                }
                for required in ["date", "description", "withdrawal", "deposit"] {
                    if find(required).is_none() {
                        return whole(&hash, 1, Problem::MissingColumn(required.into()));
                    }
                }
                Columns {
                    date: find("date").unwrap_or(0),
                    description: vec![find("description").unwrap_or(0)],
                    withdrawal: find("withdrawal"),
                    deposit: find("deposit"),
                    signed: None,
                    balance: find("balance"),
                    width: names.len(),
                    date_format: "YYYY-MM-DD",
                }
            } else {
                for required in ["transaction date", "description 1", "cad$"] {
                    if find(required).is_none() {
                        return whole(&hash, 1, Problem::MissingColumn(required.into()));
                    }
                }
                let mut description = vec![find("description 1").unwrap_or(0)];
                description.extend(find("description 2"));
                Columns {
                    date: find("transaction date").unwrap_or(0),
                    description,
                    withdrawal: None,
                    deposit: None,
                    signed: find("cad$"),
                    balance: None,
                    width: names.len(),
                    date_format: "M/D/YYYY",
                }
            }
        }
    };
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems.push(LineProblem {
                    line: e.position().map(|p| p.line()).unwrap_or(0),
                    column: "file",
                    problem: Problem::Malformed {
                        fields: 0,
                        expected: columns.width,
                    },
                });
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if lines.len() + problems.len() >= MAX_LINES {
            return whole(&hash, line, Problem::TooManyLines);
        }
        // RBC's rows may end with an empty USD$ column left out; anything shorter than the
        // columns read is a broken line.
        let needed = [
            Some(columns.date),
            columns.withdrawal,
            columns.deposit,
            columns.signed,
            columns.balance,
        ]
        .into_iter()
        .flatten()
        .chain(columns.description.iter().copied())
        .max()
        .unwrap_or(0)
            + 1;
        if record.len() < needed || (layout != Layout::Rbc && record.len() != columns.width) {
            problems.push(LineProblem {
                line,
                column: "file",
                problem: Problem::Malformed {
                    fields: record.len(),
                    expected: columns.width,
                },
            });
            continue;
        }
        let cell = |i: usize| record.get(i).unwrap_or("").trim();
        let mut found = Vec::new();
        let mut problem = |column: &'static str, p: Problem| {
            found.push(LineProblem {
                line,
                column,
                problem: p,
            })
        };
        let date = match cell(columns.date) {
            "" => {
                problem("date", Problem::Required("date"));
                None
            }
            typed => {
                let parsed = if layout == Layout::Generic {
                    iso_date(typed)
                } else {
                    us_date(typed)
                };
                match parsed {
                    None => {
                        problem(
                            "date",
                            Problem::DateFormat {
                                value: typed.into(),
                                expected: columns.date_format,
                            },
                        );
                        None
                    }
                    Some(d) if d > today => {
                        problem("date", Problem::DateFuture { today });
                        None
                    }
                    Some(d) => Some(d),
                }
            }
        };
        let mut unsigned = |column: &'static str, index: Option<usize>| -> Option<i64> {
            let typed = cell(index?);
            if typed.is_empty() {
                return Some(0);
            }
            match statement_cents(typed) {
                None => {
                    problem(column, Problem::AmountFormat(typed.into()));
                    None
                }
                Some(c) if c < 0 => {
                    problem(column, Problem::AmountNegative(typed.into()));
                    None
                }
                Some(c) => Some(c),
            }
        };
        let amount = match columns.signed {
            Some(i) => match cell(i) {
                "" => {
                    if record.len() > i + 1 && !cell(i + 1).is_empty() {
                        problem("CAD$", Problem::NotCad);
                    } else {
                        problem("CAD$", Problem::NoAmount);
                    }
                    None
                }
                typed => match statement_cents(typed) {
                    None => {
                        problem("CAD$", Problem::AmountFormat(typed.into()));
                        None
                    }
                    Some(0) => {
                        problem("CAD$", Problem::NoAmount);
                        None
                    }
                    Some(c) => Some(c),
                },
            },
            None => {
                let withdrawal = unsigned("withdrawal", columns.withdrawal);
                let deposit = unsigned("deposit", columns.deposit);
                match (withdrawal, deposit) {
                    (Some(w), Some(d)) if w > 0 && d > 0 => {
                        problem("file", Problem::BothAmounts);
                        None
                    }
                    (Some(0), Some(0)) => {
                        problem("file", Problem::NoAmount);
                        None
                    }
                    (Some(w), Some(d)) => Some(d - w),
                    _ => None,
                }
            }
        };
        let balance = match columns.balance.map(cell) {
            None | Some("") => Some(None),
            Some(typed) => match statement_cents(typed) {
                Some(b) => Some(Some(b)),
                None => {
                    problem("balance", Problem::AmountFormat(typed.into()));
                    None
                }
            },
        };
        let parts: Vec<&str> = columns.description.iter().map(|&i| cell(i)).collect();
        match (date, amount, balance) {
            (Some(posted_on), Some(amount), Some(balance)) if found.is_empty() => {
                lines.push(StatementLine {
                    line,
                    posted_on,
                    description: description(&parts),
                    amount,
                    balance,
                    fitid: None,
                })
            }
            _ => problems.extend(found),
        }
    }
    if lines.is_empty() && problems.is_empty() {
        return whole(&hash, 2, Problem::NoLines);
    }
    Read {
        hash,
        lines: keyed(lines),
        problems,
    }
}

/// The text of the first `<TAG>` in `block`: up to the next `<` (SGML leaves leaf
/// elements unclosed; XML closes them), entities decoded.
fn ofx_field(block: &str, tag: &str) -> Option<String> {
    let upper = block.to_ascii_uppercase();
    let open = format!("<{tag}>");
    let start = upper.find(&open)? + open.len();
    let rest = &block[start..];
    let end = rest.find('<').unwrap_or(rest.len());
    let value = rest[..end]
        .trim()
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    Some(value)
}

/// `YYYYMMDD[HHMMSS[.XXX]][[-5:EST]]`: the day the bank gives.
fn ofx_date(typed: &str) -> Option<NaiveDate> {
    let digits = typed.get(..8)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDate::parse_from_str(digits, "%Y%m%d").ok()
}

/// Reads an OFX or QFX statement (SGML 1.x or XML 2.x).
pub fn read_ofx(bytes: &[u8], today: NaiveDate) -> Read {
    let hash = fingerprint(bytes);
    let text = match text_of(bytes) {
        Ok(t) => t,
        Err(p) => return whole(&hash, 0, p),
    };
    if text.trim().is_empty() {
        return whole(&hash, 1, Problem::Empty);
    }
    let upper = text.to_ascii_uppercase();
    if !upper.contains("<OFX>") {
        return whole(&hash, 1, Problem::NotOfx);
    }
    let line_at = |offset: usize| text[..offset].matches('\n').count() as u64 + 1;
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    let mut from = 0;
    while let Some(found) = upper[from..].find("<STMTTRN>") {
        let start = from + found;
        let body_start = start + "<STMTTRN>".len();
        let end = [
            upper[body_start..].find("</STMTTRN>"),
            upper[body_start..].find("<STMTTRN>"),
            upper[body_start..].find("</BANKTRANLIST>"),
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|e| body_start + e)
        .unwrap_or(text.len());
        let block = &text[body_start..end];
        from = end;
        let line = line_at(start);
        if lines.len() + problems.len() >= MAX_LINES {
            return whole(&hash, line, Problem::TooManyLines);
        }
        let mut found = Vec::new();
        let mut problem = |column: &'static str, p: Problem| {
            found.push(LineProblem {
                line,
                column,
                problem: p,
            })
        };
        let date = match ofx_field(block, "DTPOSTED") {
            None => {
                problem("DTPOSTED", Problem::OfxField("DTPOSTED"));
                None
            }
            Some(typed) => match ofx_date(&typed) {
                None => {
                    problem(
                        "DTPOSTED",
                        Problem::DateFormat {
                            value: typed,
                            expected: "YYYYMMDD",
                        },
                    );
                    None
                }
                Some(d) if d > today => {
                    problem("DTPOSTED", Problem::DateFuture { today });
                    None
                }
                Some(d) => Some(d),
            },
        };
        let amount = match ofx_field(block, "TRNAMT") {
            None => {
                problem("TRNAMT", Problem::OfxField("TRNAMT"));
                None
            }
            Some(typed) => {
                // Some French-Canadian exports write a decimal comma.
                let normalized = if typed.contains(',') && !typed.contains('.') {
                    typed.replace(',', ".")
                } else {
                    typed.clone()
                };
                match statement_cents(&normalized) {
                    None => {
                        problem("TRNAMT", Problem::AmountFormat(typed));
                        None
                    }
                    Some(0) => {
                        problem("TRNAMT", Problem::NoAmount);
                        None
                    }
                    Some(c) => Some(c),
                }
            }
        };
        let fitid = ofx_field(block, "FITID").filter(|f| !f.is_empty());
        let name = ofx_field(block, "NAME").unwrap_or_default();
        let memo = ofx_field(block, "MEMO").unwrap_or_default();
        let parts: Vec<&str> = if memo == name {
            vec![&name]
        } else {
            vec![&name, &memo]
        };
        match (date, amount) {
            (Some(posted_on), Some(amount)) if found.is_empty() => lines.push(StatementLine {
                line,
                posted_on,
                description: description(&parts),
                amount,
                balance: None,
                fitid: fitid.map(|f| f.chars().take(255).collect()),
            }),
            _ => problems.extend(found),
        }
    }
    if lines.is_empty() && problems.is_empty() {
        return whole(&hash, 1, Problem::NoLines);
    }
    // The ledger balance is the balance after the last transaction: each line's running
    // balance is it less what came after, in the bank's order (oldest first).
    let ledger_balance = upper
        .find("<LEDGERBAL>")
        .and_then(|at| ofx_field(&text[at..], "BALAMT"))
        .and_then(|b| statement_cents(&b));
    if problems.is_empty()
        && let Some(mut balance) = ledger_balance
    {
        if lines.first().map(|l| l.posted_on) > lines.last().map(|l| l.posted_on) {
            lines.reverse();
        }
        lines.sort_by_key(|l| l.posted_on);
        for l in lines.iter_mut().rev() {
            l.balance = Some(balance);
            balance -= l.amount;
        }
    }
    Read {
        hash,
        lines: keyed(lines),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()
    }

    #[test]
    fn amounts_as_banks_write_them() {
        assert_eq!(statement_cents("12.5"), Some(1250));
        assert_eq!(statement_cents("-12.50"), Some(-1250));
        assert_eq!(statement_cents("$1,234.56"), Some(123_456));
        assert_eq!(statement_cents("(7.00)"), Some(-700));
        assert_eq!(statement_cents("1234"), Some(123_400));
        for bad in ["", "abc", "1.234", "1,23.00", "1e3", "--5", "12,5"] {
            assert_eq!(statement_cents(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_td_file_reads_with_its_balances() {
        let file = "11/30/2026,DEPOT,,500.00,1500.00\n12/01/2026,FRAIS MENSUELS,4.95,,1495.05\n";
        let read = read_csv(file.as_bytes(), Layout::Td, today());
        assert!(read.problems.is_empty(), "{:?}", read.problems);
        let amounts: Vec<(i64, Option<i64>)> = read
            .lines
            .iter()
            .map(|(l, _)| (l.amount, l.balance))
            .collect();
        assert_eq!(
            amounts,
            vec![(50_000, Some(150_000)), (-495, Some(149_505))]
        );
    }

    #[test]
    fn an_rbc_file_reads_its_signed_amounts() {
        let file = "\"Account Type\",\"Account Number\",\"Transaction Date\",\"Cheque Number\",\"Description 1\",\"Description 2\",\"CAD$\",\"USD$\"\n\
                    Chequing,00000-1234567,12/1/2026,,\"MONTHLY FEE\",,-4.95,\n\
                    Chequing,00000-1234567,12/2/2026,,\"E-TRANSFER\",\"DON\",250.00,\n";
        let read = read_csv(file.as_bytes(), Layout::Rbc, today());
        assert!(read.problems.is_empty(), "{:?}", read.problems);
        assert_eq!(read.lines[0].0.amount, -495);
        assert_eq!(read.lines[1].0.description, "E-TRANSFER DON");
        assert_eq!(read.lines[1].0.line, 3);
    }

    #[test]
    fn problems_say_where() {
        let file = "date,description,withdrawal,deposit,balance\n\
                    2026-12-01,FEE,-4.95,,100.00\n\
                    01/12/2026,X,,5.00,105.00\n\
                    2026-12-02,Y,1.00,2.00,\n";
        let read = read_csv(file.as_bytes(), Layout::Generic, today());
        let at: Vec<(u64, &str)> = read
            .problems
            .iter()
            .map(|p| (p.line, p.problem.code()))
            .collect();
        assert_eq!(
            at,
            vec![
                (2, "amount_negative"),
                (3, "date_format"),
                (4, "both_amounts")
            ]
        );
    }

    #[test]
    fn sgml_and_xml_ofx_give_the_same_lines_and_balances() {
        let sgml = "OFXHEADER:100\nDATA:OFXSGML\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><BANKTRANLIST>\n\
            <STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20261130120000[-5:EST]<TRNAMT>500.00<FITID>A1<NAME>DEPOT\n</STMTTRN>\n\
            <STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20261201<TRNAMT>-4.95<FITID>A2<NAME>FRAIS &amp; CIE<MEMO>MENSUELS\n</STMTTRN>\n\
            </BANKTRANLIST><LEDGERBAL><BALAMT>1495.05<DTASOF>20261201</LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>";
        let xml = "<?xml version=\"1.0\"?><?OFX OFXHEADER=\"200\" VERSION=\"220\"?><OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><BANKTRANLIST>\
            <STMTTRN><TRNTYPE>CREDIT</TRNTYPE><DTPOSTED>20261130</DTPOSTED><TRNAMT>500.00</TRNAMT><FITID>A1</FITID><NAME>DEPOT</NAME></STMTTRN>\
            <STMTTRN><TRNTYPE>DEBIT</TRNTYPE><DTPOSTED>20261201</DTPOSTED><TRNAMT>-4.95</TRNAMT><FITID>A2</FITID><NAME>FRAIS &amp; CIE</NAME><MEMO>MENSUELS</MEMO></STMTTRN>\
            </BANKTRANLIST><LEDGERBAL><BALAMT>1495.05</BALAMT><DTASOF>20261201</DTASOF></LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>";
        let a = read_ofx(sgml.as_bytes(), today());
        let b = read_ofx(xml.as_bytes(), today());
        assert!(a.problems.is_empty(), "{:?}", a.problems);
        assert!(b.problems.is_empty(), "{:?}", b.problems);
        let keys = |r: &Read| r.lines.iter().map(|(_, k)| k.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&a), keys(&b));
        assert_eq!(a.lines[1].0.description, "FRAIS & CIE MENSUELS");
        assert_eq!(a.lines[0].0.balance, Some(150_000));
        // The same two lines from a TD file are known as the same transactions.
        let td = read_csv(
            b"11/30/2026,DEPOT,,500.00,1500.00\n12/01/2026,FRAIS MENSUELS,4.95,,1495.05\n",
            Layout::Td,
            today(),
        );
        assert_eq!(keys(&a), keys(&td));
    }

    #[test]
    fn not_a_statement() {
        let r = read_ofx(b"date,description\n", today());
        assert_eq!(r.file_problem().map(|p| p.problem.code()), Some("not_ofx"));
        let r = read_csv(b"\x00\x01PK", Layout::Generic, today());
        assert_eq!(r.file_problem().map(|p| p.problem.code()), Some("binary"));
    }
}
