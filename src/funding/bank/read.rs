//! Reading a bank statement file into lines, or into problems by line (pure: no I/O).
//!
//! CSV comes in a layout ([`Layout`]): Passage's own `generic` one (a header row
//! `date,description,withdrawal,deposit,balance`, ISO dates, positive amounts), a preset
//! for what a Canadian bank exports (`rbc`, `td`, `desjardins`; docs/bank-statement.md says
//! which columns each assumes), or a [`Mapping`] a treasurer saved for another bank. OFX/QFX (SGML 1.x or XML 2.x) is read by a small reader of its own: each
//! `STMTTRN` block's `DTPOSTED`, `TRNAMT`, `FITID`, `NAME` and `MEMO`, and the statement's
//! `LEDGERBAL`, from which every line's running balance is derived backwards (OFX carries no
//! balance per line), so that the same transaction read from a CSV file and from an OFX file
//! is known as the same one.
//!
//! The problems are typed ([`Problem`]): the edge words them in the reader's language.

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

pub use crate::domain::states::DateOrder;

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
    /// Desjardins' AccèsD CSV download: no header row, fourteen columns (the caisse, the
    /// folio, the account's type, the date `YYYY/MM/DD`, the transaction's number, the
    /// description, a cheque's number, withdrawal, deposit, four of a loan's, balance);
    /// one account a file.
    Desjardins,
}

impl Layout {
    pub const ALL: [Layout; 4] = [Layout::Generic, Layout::Rbc, Layout::Td, Layout::Desjardins];

    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Generic => "generic",
            Layout::Rbc => "rbc",
            Layout::Td => "td",
            Layout::Desjardins => "desjardins",
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
    /// A Desjardins line of another account than the file's first line (its caisse, folio
    /// and type).
    OtherAccount(String),
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
            Problem::OtherAccount(_) => "other_account",
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
            Problem::OtherAccount(account) => vec![("account", account.clone())],
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

/// A date as `order` writes it: year first (`2026-11-30`, `2026/11/30`), month first
/// (`11/30/2026`, `M/D/YYYY`) or day first (`30/11/2026`).
fn date_in(order: DateOrder, typed: &str) -> Option<NaiveDate> {
    let typed = typed.trim();
    let separator = if typed.contains('/') { '/' } else { '-' };
    let parts: Vec<&str> = typed.split(separator).collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let (year, month, day) = match order {
        DateOrder::Ymd => (parts[0], parts[1], parts[2]),
        DateOrder::Mdy => (parts[2], parts[0], parts[1]),
        DateOrder::Dmy => (parts[2], parts[1], parts[0]),
    };
    if year.len() != 4 || month.len() > 2 || day.len() > 2 {
        return None;
    }
    let n = |p: &str| {
        p.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| p.parse::<u32>().ok())
            .flatten()
    };
    NaiveDate::from_ymd_opt(n(year)? as i32, n(month)?, n(day)?)
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

/// The highest column number a mapping may name.
pub const MAX_COLUMN: u32 = 50;

/// Which column of a bank's CSV holds what, each counted from 1 as a spreadsheet shows
/// them; whether the file begins with a header row; how it writes its dates. A treasurer
/// saves one per bank whose export no preset reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub header: bool,
    pub date: u32,
    pub description: u32,
    /// Money out, positive (with `deposit`).
    pub withdrawal: Option<u32>,
    /// Money in, positive (with `withdrawal`).
    pub deposit: Option<u32>,
    /// Instead of `withdrawal` and `deposit`: one signed amount, deposits positive.
    pub amount: Option<u32>,
    /// The account's balance after each line, if the export has it.
    pub balance: Option<u32>,
    pub date_order: DateOrder,
}

/// What is wrong with a mapping: the field, and a code (`column_range`, `column_twice`,
/// `amounts`) whose message the catalogues hold as `bank-mapping-` and the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappingProblem {
    pub field: &'static str,
    pub code: &'static str,
}

impl Mapping {
    /// Every column between 1 and [`MAX_COLUMN`], none named twice, and either a withdrawal
    /// and a deposit column or one amount column.
    pub fn check(&self) -> Result<(), MappingProblem> {
        let named = [
            ("date", Some(self.date)),
            ("description", Some(self.description)),
            ("withdrawal", self.withdrawal),
            ("deposit", self.deposit),
            ("amount", self.amount),
            ("balance", self.balance),
        ];
        let mut seen = Vec::new();
        for (field, column) in named {
            let Some(column) = column else { continue };
            if !(1..=MAX_COLUMN).contains(&column) {
                return Err(MappingProblem {
                    field,
                    code: "column_range",
                });
            }
            if seen.contains(&column) {
                return Err(MappingProblem {
                    field,
                    code: "column_twice",
                });
            }
            seen.push(column);
        }
        match (self.withdrawal, self.deposit, self.amount) {
            (Some(_), Some(_), None) | (None, None, Some(_)) => Ok(()),
            (_, _, Some(_)) => Err(MappingProblem {
                field: "amount",
                code: "amounts",
            }),
            (None, _, None) => Err(MappingProblem {
                field: "withdrawal",
                code: "amounts",
            }),
            (Some(_), None, None) => Err(MappingProblem {
                field: "deposit",
                code: "amounts",
            }),
        }
    }
}

/// How a CSV statement is read: a preset, or a mapping a treasurer saved under a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvLayout {
    Preset(Layout),
    Saved { name: String, mapping: Mapping },
}

impl CsvLayout {
    /// The name the statement is kept under (`td`, or the saved mapping's).
    pub fn name(&self) -> &str {
        match self {
            CsvLayout::Preset(l) => l.as_str(),
            CsvLayout::Saved { name, .. } => name,
        }
    }

    pub fn read(&self, bytes: &[u8], today: NaiveDate) -> Read {
        match self {
            CsvLayout::Preset(l) => read_csv(bytes, *l, today),
            CsvLayout::Saved { mapping, .. } => read_mapped(bytes, mapping, today),
        }
    }
}

/// Which column (from 0) holds what, once the layout and its header are known.
struct Columns {
    date: usize,
    description: Vec<usize>,
    withdrawal: Option<usize>,
    deposit: Option<usize>,
    /// One signed amount column, and its name in a problem.
    signed: Option<(usize, &'static str)>,
    balance: Option<usize>,
    /// Every line has exactly this many columns (TD's and Passage's own files); else
    /// a line only needs the columns read.
    exact: Option<usize>,
    date_order: DateOrder,
    /// How the dates are written, to say so.
    date_shown: &'static str,
    /// RBC: an empty `CAD$` with a `USD$` beside it is a US-dollar line.
    usd_beside: bool,
    /// Columns naming the account (Desjardins): every line's must be the first line's.
    account: Vec<usize>,
}

impl Columns {
    fn of(m: &Mapping, exact: Option<usize>, date_shown: &'static str) -> Columns {
        let at = |c: u32| c as usize - 1;
        Columns {
            date: at(m.date),
            description: vec![at(m.description)],
            withdrawal: m.withdrawal.map(at),
            deposit: m.deposit.map(at),
            signed: m.amount.map(|c| (at(c), "amount")),
            balance: m.balance.map(at),
            exact,
            date_order: m.date_order,
            date_shown,
            usd_beside: false,
            account: Vec::new(),
        }
    }
}

/// TD Canada Trust's EasyWeb download.
fn td() -> Columns {
    let mapping = Mapping {
        header: false,
        date: 1,
        description: 2,
        withdrawal: Some(3),
        deposit: Some(4),
        amount: None,
        balance: Some(5),
        date_order: DateOrder::Mdy,
    };
    Columns::of(&mapping, Some(5), "MM/DD/YYYY")
}

/// Desjardins' AccèsD download: no header row, the caisse's transit (1), the folio (2),
/// the account's type (3, `EOP` for a chequing account), the date (4, `YYYY/MM/DD`), the
/// transaction's number (5), the description (6), withdrawal (8), deposit (9) and the
/// balance (14); the columns between are a loan's (interest, capital, advance).
fn desjardins() -> Columns {
    let mapping = Mapping {
        header: false,
        date: 4,
        description: 6,
        withdrawal: Some(8),
        deposit: Some(9),
        amount: None,
        balance: Some(14),
        date_order: DateOrder::Ymd,
    };
    Columns {
        account: vec![0, 1, 2],
        ..Columns::of(&mapping, None, "YYYY/MM/DD")
    }
}

/// Reads a CSV statement in a preset `layout`. `today` is the clock's: no line may be
/// after it.
pub fn read_csv(bytes: &[u8], layout: Layout, today: NaiveDate) -> Read {
    read_columns(bytes, Some(layout), None, today)
}

/// Reads a CSV statement by a mapping a treasurer saved.
pub fn read_mapped(bytes: &[u8], mapping: &Mapping, today: NaiveDate) -> Read {
    read_columns(bytes, None, Some(mapping), today)
}

fn read_columns(
    bytes: &[u8],
    layout: Option<Layout>,
    mapping: Option<&Mapping>,
    today: NaiveDate,
) -> Read {
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
    let columns = match (layout, mapping) {
        (Some(Layout::Td), _) => td(),
        (Some(Layout::Desjardins), _) => desjardins(),
        (Some(layout @ (Layout::Generic | Layout::Rbc)), _) => {
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
                    exact: Some(names.len()),
                    date_order: DateOrder::Ymd,
                    date_shown: "YYYY-MM-DD",
                    usd_beside: false,
                    account: Vec::new(),
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
                    signed: find("cad$").map(|c| (c, "CAD$")),
                    balance: None,
                    exact: None,
                    date_order: DateOrder::Mdy,
                    date_shown: "M/D/YYYY",
                    usd_beside: true,
                    account: Vec::new(),
                }
            }
        }
        (None, Some(mapping)) => {
            if mapping.header && !matches!(records.next(), Some(Ok(_))) {
                return whole(&hash, 1, Problem::Empty);
            }
            Columns::of(mapping, None, mapping.date_order.pattern())
        }
        (None, None) => return whole(&hash, 1, Problem::Empty),
    };
    // Every column read, so a line shorter than that is a broken line.
    let needed = [
        Some(columns.date),
        columns.withdrawal,
        columns.deposit,
        columns.signed.map(|(c, _)| c),
        columns.balance,
    ]
    .into_iter()
    .flatten()
    .chain(columns.description.iter().copied())
    .chain(columns.account.iter().copied())
    .max()
    .unwrap_or(0)
        + 1;
    let mut account: Option<Vec<String>> = None;
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
                        expected: columns.exact.unwrap_or(needed),
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
        if record.len() < needed || columns.exact.is_some_and(|w| record.len() != w) {
            problems.push(LineProblem {
                line,
                column: "file",
                problem: Problem::Malformed {
                    fields: record.len(),
                    expected: columns.exact.unwrap_or(needed),
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
        if !columns.account.is_empty() {
            let this: Vec<String> = columns.account.iter().map(|&i| cell(i).into()).collect();
            match &account {
                None => account = Some(this),
                Some(first) if *first != this => {
                    problem("file", Problem::OtherAccount(shown(&this.join(" "))));
                }
                Some(_) => {}
            }
        }
        let date = match cell(columns.date) {
            "" => {
                problem("date", Problem::Required("date"));
                None
            }
            typed => match date_in(columns.date_order, typed) {
                None => {
                    problem(
                        "date",
                        Problem::DateFormat {
                            value: typed.into(),
                            expected: columns.date_shown,
                        },
                    );
                    None
                }
                Some(d) if d > today => {
                    problem("date", Problem::DateFuture { today });
                    None
                }
                Some(d) => Some(d),
            },
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
            Some((i, name)) => match cell(i) {
                "" => {
                    if columns.usd_beside && record.len() > i + 1 && !cell(i + 1).is_empty() {
                        problem(name, Problem::NotCad);
                    } else {
                        problem(name, Problem::NoAmount);
                    }
                    None
                }
                typed => match statement_cents(typed) {
                    None => {
                        problem(name, Problem::AmountFormat(typed.into()));
                        None
                    }
                    Some(0) => {
                        problem(name, Problem::NoAmount);
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
    fn a_desjardins_file_reads_one_account() {
        let file = "\"815-30000\",\"0123456\",\"EOP\",\"2026/11/30\",00001,\"D\u{e9}p\u{f4}t /DON\",,,\"500.00\",,,,,\"1500.00\"\n\
                    \"815-30000\",\"0123456\",\"EOP\",\"2026/12/01\",00002,\"Frais mensuels\",,\"4.95\",,,,,,\"1495.05\"\n";
        let read = read_csv(file.as_bytes(), Layout::Desjardins, today());
        assert!(read.problems.is_empty(), "{:?}", read.problems);
        let got: Vec<(NaiveDate, i64, Option<i64>)> = read
            .lines
            .iter()
            .map(|(l, _)| (l.posted_on, l.amount, l.balance))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
                    50_000,
                    Some(150_000)
                ),
                (
                    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                    -495,
                    Some(149_505)
                ),
            ]
        );
        // The same transactions from TD's file are the same ones.
        let td = read_csv(
            b"11/30/2026,DEPOT,,500.00,1500.00\n12/01/2026,FRAIS MENSUELS,4.95,,1495.05\n",
            Layout::Td,
            today(),
        );
        let keys = |r: &Read| r.lines.iter().map(|(_, k)| k.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&read), keys(&td));
        let other = format!(
            "{file}\"815-30000\",\"0123456\",\"ET1\",\"2026/12/01\",00001,\"X\",,,\"1.00\",,,,,\"1.00\"\n"
        );
        let read = read_csv(other.as_bytes(), Layout::Desjardins, today());
        assert_eq!(
            read.problems
                .iter()
                .map(|p| (p.line, p.problem.code()))
                .collect::<Vec<_>>(),
            vec![(3, "other_account")]
        );
    }

    #[test]
    fn a_saved_mapping_reads_its_columns() {
        let mapping = Mapping {
            header: true,
            date: 2,
            description: 3,
            withdrawal: None,
            deposit: None,
            amount: Some(4),
            balance: Some(5),
            date_order: DateOrder::Dmy,
        };
        let file = "ref,date,what,amount,balance\nA,01/12/2026,FEE,-4.95,95.05\nB,2/12/2026,GIFT,\"1,000.00\",1095.05\nC,13/13/2026,X,1.00,\n";
        let read = read_mapped(file.as_bytes(), &mapping, today());
        let got: Vec<(i64, Option<i64>)> = read
            .lines
            .iter()
            .map(|(l, _)| (l.amount, l.balance))
            .collect();
        assert_eq!(got, vec![(-495, Some(9_505)), (100_000, Some(109_505))]);
        assert_eq!(
            read.problems
                .iter()
                .map(|p| (p.line, p.column, p.problem.code()))
                .collect::<Vec<_>>(),
            vec![(4, "date", "date_format")]
        );
        assert_eq!(
            read.lines[1].0.posted_on,
            NaiveDate::from_ymd_opt(2026, 12, 2).unwrap()
        );
        let short = read_mapped(b"ref,date\nA,01/12/2026\n", &mapping, today());
        assert_eq!(short.problems[0].problem.code(), "malformed_line");
        assert_eq!(
            date_in(DateOrder::Ymd, "2026/11/30"),
            NaiveDate::from_ymd_opt(2026, 11, 30)
        );
        assert_eq!(
            date_in(DateOrder::Mdy, "11/30/2026"),
            NaiveDate::from_ymd_opt(2026, 11, 30)
        );
        assert_eq!(
            date_in(DateOrder::Dmy, "30-11-2026"),
            NaiveDate::from_ymd_opt(2026, 11, 30)
        );
        assert_eq!(date_in(DateOrder::Dmy, "11/30/2026"), None);
        assert_eq!(date_in(DateOrder::Ymd, "26-11-30"), None);
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
