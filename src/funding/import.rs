//! Donations from a file: the way a fund moves in from its spreadsheet. A CSV file, one
//! gift a line (`donor_email,donor_name,amount,received_on,restricted_to,in_kind,reference`),
//! is read into gifts and per-line, per-field problems ([`parse`]); [`preview`] says what
//! each line would record (a donor found by email or made, a line skipped because its
//! reference was imported before, a file seen before) and [`commit`] records all of it in
//! the caller's transaction, or nothing. Each gift is recorded by [`super::record_donation`],
//! exactly as one typed by hand. The file's SHA-256 and each line's reference are kept, so
//! the same file, or the same line in another file, adds nothing twice.
//!
//! The problems are typed ([`Problem`]): the edge words them in the reader's language.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{FundingError, MAX_DONOR_NAME_CHARS, NewDonation, Restriction};
use crate::audit::{self, Actor};
use crate::domain::note::{Reference, ReferenceError};
use crate::domain::request::Category;
use crate::domain::{Email, Language, Money, money::MoneyError};
use crate::on_tx;
use crate::store::{StoreError, Tx};

/// The columns a file may have; the first four are required, in any order.
pub const REQUIRED: [&str; 4] = ["donor_email", "amount", "received_on", "reference"];
pub const OPTIONAL: [&str; 4] = ["donor_name", "restricted_to", "in_kind", "language"];

/// The most gifts one file may hold: a larger spreadsheet is imported in parts.
pub const MAX_LINES: usize = 2000;

/// What is wrong with a file or one of its fields. Each has a stable code (the API's
/// `code`) and the arguments its message needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The whole file: not text in UTF-8.
    NotUtf8,
    /// The whole file: nothing in it, or no header row.
    Empty,
    /// The whole file: a NUL character (a spreadsheet's binary format, not CSV).
    Binary,
    MissingColumn(String),
    UnknownColumn(String),
    RepeatedColumn(String),
    NoGifts,
    TooManyLines,
    /// A line that the CSV reader cannot split as the header is split.
    Malformed {
        fields: usize,
        expected: usize,
    },
    /// An empty cell of a required column.
    Required(&'static str),
    Email(String),
    NameNeeded,
    NameTooLong,
    AmountFormat(String),
    AmountPrecision(String),
    AmountNotPositive(String),
    AmountTooLarge(String),
    DateFormat(String),
    DateFuture {
        today: NaiveDate,
    },
    Category(String),
    CategoryTwice,
    CategoryAll,
    InKindValue(String),
    InKindRestricted,
    Language(String),
    ReferenceShape,
    ReferenceDigits,
    ReferenceDocument,
    ReferenceRepeated {
        first: u64,
    },
}

impl Problem {
    /// For programs: what went wrong, in one word.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::NotUtf8 => "not_utf8",
            Problem::Empty => "empty",
            Problem::Binary => "binary",
            Problem::MissingColumn(_) => "missing_column",
            Problem::UnknownColumn(_) => "unknown_column",
            Problem::RepeatedColumn(_) => "repeated_column",
            Problem::NoGifts => "no_gifts",
            Problem::TooManyLines => "too_many_lines",
            Problem::Malformed { .. } => "malformed_line",
            Problem::Required(_) => "required",
            Problem::Email(_) => "email",
            Problem::NameNeeded => "name_needed",
            Problem::NameTooLong => "name_too_long",
            Problem::AmountFormat(_) => "amount_format",
            Problem::AmountPrecision(_) => "amount_precision",
            Problem::AmountNotPositive(_) => "amount_not_positive",
            Problem::AmountTooLarge(_) => "amount_too_large",
            Problem::DateFormat(_) => "date_format",
            Problem::DateFuture { .. } => "date_future",
            Problem::Category(_) => "category",
            Problem::CategoryTwice => "category_twice",
            Problem::CategoryAll => "category_all",
            Problem::InKindValue(_) => "in_kind_value",
            Problem::InKindRestricted => "in_kind_restricted",
            Problem::Language(_) => "language",
            Problem::ReferenceShape => "reference_shape",
            Problem::ReferenceDigits => "reference_digits",
            Problem::ReferenceDocument => "reference_document",
            Problem::ReferenceRepeated { .. } => "reference_repeated",
        }
    }

    /// The message's key in the catalogues: `import-` and the code.
    pub fn key(&self) -> String {
        format!("import-{}", self.code().replace('_', "-"))
    }

    /// The message's arguments: what was typed, and what the message names.
    pub fn args(&self) -> Vec<(&'static str, String)> {
        match self {
            Problem::MissingColumn(c) | Problem::UnknownColumn(c) | Problem::RepeatedColumn(c) => {
                vec![("column", c.clone())]
            }
            Problem::TooManyLines => vec![("max", MAX_LINES.to_string())],
            Problem::Required(column) => vec![("column", (*column).to_string())],
            Problem::Malformed { fields, expected } => vec![
                ("fields", fields.to_string()),
                ("expected", expected.to_string()),
            ],
            Problem::Email(v)
            | Problem::AmountFormat(v)
            | Problem::AmountPrecision(v)
            | Problem::AmountNotPositive(v)
            | Problem::AmountTooLarge(v)
            | Problem::DateFormat(v)
            | Problem::Category(v)
            | Problem::InKindValue(v)
            | Problem::Language(v) => vec![("value", shown(v))],
            Problem::DateFuture { today } => vec![("today", today.to_string())],
            Problem::ReferenceRepeated { first } => vec![("first", first.to_string())],
            _ => Vec::new(),
        }
    }

    /// Whether the file as a whole cannot be read as a donations file (no line is read).
    pub fn is_file_level(&self) -> bool {
        matches!(
            self,
            Problem::NotUtf8
                | Problem::Empty
                | Problem::Binary
                | Problem::MissingColumn(_)
                | Problem::UnknownColumn(_)
                | Problem::RepeatedColumn(_)
                | Problem::NoGifts
                | Problem::TooManyLines
        )
    }
}

/// A typed value as a message quotes it: at most 40 characters.
fn shown(value: &str) -> String {
    let mut out: String = value.chars().take(40).collect();
    if value.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// A problem at a line of the file (the header is line 1, as a spreadsheet numbers its
/// rows) and a column (`file` for the file as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    pub line: u64,
    pub column: &'static str,
    pub problem: Problem,
}

/// One gift as the file gives it, read and checked.
#[derive(Debug, Clone)]
pub struct Gift {
    pub line: u64,
    pub donor_email: Email,
    pub donor_name: Option<String>,
    pub language: Option<Language>,
    pub amount: Money,
    pub received_on: NaiveDate,
    pub restricted_to: Option<Restriction>,
    pub in_kind: bool,
    pub reference: Reference,
}

/// A file read: its fingerprint, its gifts and its problems. A file with a problem
/// records nothing.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The SHA-256 of the file's bytes, in hex.
    pub hash: String,
    pub gifts: Vec<Gift>,
    pub problems: Vec<LineProblem>,
}

impl Parsed {
    /// The problem that stops the file as a whole, if any.
    pub fn file_problem(&self) -> Option<&Problem> {
        self.problems
            .iter()
            .map(|p| &p.problem)
            .find(|p| p.is_file_level())
    }
}

/// The file's SHA-256 in hex, of its text without a byte-order mark and with `\n` line
/// endings, the last ones left out: the same file saved on Windows, or sent through a web
/// form (which turns every line ending into `\r\n`), is the same file.
pub fn fingerprint(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            let text = text.replace("\r\n", "\n");
            hex::encode(Sha256::digest(text.trim_end_matches('\n').as_bytes()))
        }
        Err(_) => hex::encode(Sha256::digest(bytes)),
    }
}

const COLUMNS: [&str; 8] = [
    "donor_email",
    "donor_name",
    "amount",
    "received_on",
    "restricted_to",
    "in_kind",
    "reference",
    "language",
];

fn column_name(name: &str) -> Option<&'static str> {
    COLUMNS.into_iter().find(|c| *c == name)
}

/// Reads a donations file. `today` is the clock's: no gift may be received after it.
pub fn parse(bytes: &[u8], today: NaiveDate) -> Parsed {
    let hash = fingerprint(bytes);
    let whole = |problem: Problem, line: u64| Parsed {
        hash: hash.clone(),
        gifts: Vec::new(),
        problems: vec![LineProblem {
            line,
            column: "file",
            problem,
        }],
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        return whole(Problem::NotUtf8, 0);
    };
    if text.contains('\0') {
        return whole(Problem::Binary, 0);
    }
    // Spreadsheets saving "CSV UTF-8" start the file with a byte-order mark; Windows and
    // web forms end lines with `\r\n`, which the reader would number apart.
    let text = text
        .strip_prefix('\u{feff}')
        .unwrap_or(text)
        .replace("\r\n", "\n");
    let text = text.as_str();
    let first_line = text.lines().next().unwrap_or("").trim();
    if first_line.is_empty() {
        return whole(Problem::Empty, 1);
    }
    // A spreadsheet set to French separates with semicolons, as its decimals take the comma.
    let delimiter = if first_line.contains(';') && !first_line.contains(',') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        _ => return whole(Problem::Empty, 1),
    };
    let mut columns: Vec<&'static str> = Vec::new();
    for name in header.iter() {
        let name = name.trim().to_ascii_lowercase();
        let Some(column) = column_name(&name) else {
            return whole(Problem::UnknownColumn(shown(&name)), 1);
        };
        if columns.contains(&column) {
            return whole(Problem::RepeatedColumn(name), 1);
        }
        columns.push(column);
    }
    if let Some(missing) = REQUIRED.iter().find(|c| !columns.contains(c)) {
        return whole(Problem::MissingColumn((*missing).to_string()), 1);
    }

    let mut gifts = Vec::new();
    let mut problems = Vec::new();
    let mut references: HashMap<String, u64> = HashMap::new();
    let mut count = 0_usize;
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                problems.push(LineProblem {
                    line,
                    column: "file",
                    problem: Problem::Malformed {
                        fields: 0,
                        expected: columns.len(),
                    },
                });
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        // A line left empty (or of empty cells, as spreadsheets end a file) is no gift.
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        count += 1;
        if count > MAX_LINES {
            return whole(Problem::TooManyLines, line);
        }
        if record.len() != columns.len() {
            problems.push(LineProblem {
                line,
                column: "file",
                problem: Problem::Malformed {
                    fields: record.len(),
                    expected: columns.len(),
                },
            });
            continue;
        }
        let cells = Cells {
            columns: &columns,
            record: &record,
        };
        let cell = |name: &str| cells.get(name);
        match read_line(line, &cells, today) {
            Ok(gift) => {
                if let Some(first) = references.get(gift.reference.as_str()) {
                    problems.push(LineProblem {
                        line,
                        column: "reference",
                        problem: Problem::ReferenceRepeated { first: *first },
                    });
                } else {
                    references.insert(gift.reference.as_str().to_string(), line);
                    gifts.push(gift);
                }
            }
            Err(mut found) => {
                // A reference also kept by a line with errors is still one reference.
                if let Ok(reference) = Reference::parse(cell("reference")) {
                    match references.get(reference.as_str()) {
                        Some(first) => found.push(LineProblem {
                            line,
                            column: "reference",
                            problem: Problem::ReferenceRepeated { first: *first },
                        }),
                        None => {
                            references.insert(reference.as_str().to_string(), line);
                        }
                    }
                }
                problems.extend(found);
            }
        }
    }
    if count == 0 && problems.is_empty() {
        return whole(Problem::NoGifts, 2);
    }
    Parsed {
        hash,
        gifts,
        problems,
    }
}

/// A line's cells by the header's column names.
struct Cells<'a> {
    columns: &'a [&'static str],
    record: &'a csv::StringRecord,
}

impl<'a> Cells<'a> {
    /// The cell of `column`, trimmed; empty when the file has no such column.
    fn get(&self, column: &str) -> &'a str {
        self.columns
            .iter()
            .position(|c| *c == column)
            .and_then(|i| self.record.get(i))
            .unwrap_or("")
            .trim()
    }
}

/// One line's cells into a gift, or every problem of the line.
fn read_line(line: u64, cells: &Cells<'_>, today: NaiveDate) -> Result<Gift, Vec<LineProblem>> {
    let cell = |column: &str| cells.get(column);
    let mut problems = Vec::new();
    let mut problem = |column: &'static str, problem: Problem| {
        problems.push(LineProblem {
            line,
            column,
            problem,
        });
    };

    let email = match cell("donor_email") {
        "" => {
            problem("donor_email", Problem::Required("donor_email"));
            None
        }
        typed => Email::parse(typed)
            .map_err(|_| problem("donor_email", Problem::Email(typed.to_string())))
            .ok(),
    };
    let name = match cell("donor_name") {
        "" => None,
        typed if typed.chars().count() > MAX_DONOR_NAME_CHARS => {
            problem("donor_name", Problem::NameTooLong);
            None
        }
        typed => Some(typed.to_string()),
    };
    let amount = match cell("amount") {
        "" => {
            problem("amount", Problem::Required("amount"));
            None
        }
        typed => typed
            .parse::<Money>()
            .map_err(|e| {
                let value = typed.to_string();
                problem(
                    "amount",
                    match e {
                        MoneyError::NotANumber => Problem::AmountFormat(value),
                        MoneyError::TooPrecise => Problem::AmountPrecision(value),
                        MoneyError::NotPositive => Problem::AmountNotPositive(value),
                        MoneyError::TooLarge => Problem::AmountTooLarge(value),
                    },
                )
            })
            .ok(),
    };
    let received_on = match cell("received_on") {
        "" => {
            problem("received_on", Problem::Required("received_on"));
            None
        }
        typed => match iso_date(typed) {
            None => {
                problem("received_on", Problem::DateFormat(typed.to_string()));
                None
            }
            Some(date) if date > today => {
                problem("received_on", Problem::DateFuture { today });
                None
            }
            Some(date) => Some(date),
        },
    };
    let in_kind = match cell("in_kind").to_ascii_lowercase().as_str() {
        "" | "false" => Some(false),
        "true" => Some(true),
        _ => {
            problem("in_kind", Problem::InKindValue(cell("in_kind").to_string()));
            None
        }
    };
    let restricted_to = match restriction(cell("restricted_to")) {
        Ok(r) => Some(r),
        Err(p) => {
            problem("restricted_to", p);
            None
        }
    };
    if in_kind == Some(true) && matches!(restricted_to, Some(Some(_))) {
        problem("restricted_to", Problem::InKindRestricted);
    }
    let language = match cell("language") {
        "" => Some(None),
        typed => typed
            .to_ascii_lowercase()
            .parse::<Language>()
            .map(Some)
            .map_err(|_| problem("language", Problem::Language(typed.to_string())))
            .ok(),
    };
    let reference = match cell("reference") {
        "" => {
            problem("reference", Problem::Required("reference"));
            None
        }
        typed => Reference::parse(typed)
            .map_err(|e| {
                problem(
                    "reference",
                    match e {
                        ReferenceError::Shape => Problem::ReferenceShape,
                        ReferenceError::TooManyDigits => Problem::ReferenceDigits,
                        ReferenceError::DocumentNumber => Problem::ReferenceDocument,
                    },
                )
            })
            .ok(),
    };
    match (
        email,
        amount,
        received_on,
        in_kind,
        restricted_to,
        language,
        reference,
    ) {
        (
            Some(donor_email),
            Some(amount),
            Some(received_on),
            Some(in_kind),
            Some(restricted_to),
            Some(language),
            Some(reference),
        ) if problems.is_empty() => Ok(Gift {
            line,
            donor_email,
            donor_name: name,
            language,
            amount,
            received_on,
            restricted_to,
            in_kind,
            reference,
        }),
        _ => Err(problems),
    }
}

/// `2026-03-31`, and only that: a spreadsheet's `31/03/2026` or `03/31/2026` could be
/// read two ways.
fn iso_date(typed: &str) -> Option<NaiveDate> {
    let b = typed.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    shaped
        .then(|| NaiveDate::parse_from_str(typed, "%Y-%m-%d").ok())
        .flatten()
}

/// `hotel bus`, `hotel;bus` or `hotel,bus` (quoted): the categories a cash gift is kept for.
fn restriction(typed: &str) -> Result<Option<Restriction>, Problem> {
    let names: Vec<&str> = typed
        .split([' ', ';', ',', '|'])
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Ok(None);
    }
    let categories = names
        .iter()
        .map(|n| {
            n.to_ascii_lowercase()
                .parse::<Category>()
                .map_err(|_| Problem::Category((*n).to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Restriction::new(&categories).map(Some).map_err(|_| {
        let distinct: HashSet<&Category> = categories.iter().collect();
        if distinct.len() != categories.len() {
            Problem::CategoryTwice
        } else {
            Problem::CategoryAll
        }
    })
}

/// Whose a gift will be: a donor already known by this email, or one the import adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Donor {
    Found { id: String, name: String },
    New { name: String },
}

/// What a line does, or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Record,
    /// Its reference was imported before: nothing is recorded for it.
    Skip,
}

#[derive(Debug, Clone)]
pub struct Line {
    pub gift: Gift,
    pub donor: Donor,
    pub action: Action,
    /// The donor's id: a known donor's, or a new one's once added.
    pub donor_id: Option<String>,
    /// Once recorded.
    pub donation_id: Option<String>,
}

/// An earlier import of the same file.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Earlier {
    pub id: String,
    pub created_at: DateTime<Utc>,
}

/// What an import would do (a preview) or did (committed).
#[derive(Debug, Clone)]
pub struct Import {
    pub hash: String,
    /// The same file was imported before: nothing is recorded again.
    pub seen_before: Option<Earlier>,
    pub lines: Vec<Line>,
    pub problems: Vec<LineProblem>,
    /// Set once committed.
    pub id: Option<String>,
}

impl Import {
    /// The lines recorded, or to record.
    pub fn recorded(&self) -> impl Iterator<Item = &Line> {
        self.lines.iter().filter(|l| l.action == Action::Record)
    }

    pub fn skipped(&self) -> impl Iterator<Item = &Line> {
        self.lines.iter().filter(|l| l.action == Action::Skip)
    }
}

async fn earlier(tx: &mut Tx, hash: &str) -> Result<Option<Earlier>, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_as::<_, Earlier>(
        "SELECT id, created_at FROM donation_imports WHERE file_hash = $1")
        .bind(hash)
        .fetch_optional(c)
        .await)?)
}

async fn reference_imported(tx: &mut Tx, reference: &str) -> Result<bool, StoreError> {
    let found: Option<String> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT reference FROM donation_import_lines WHERE reference = $1")
        .bind(reference)
        .fetch_optional(c)
        .await)?;
    Ok(found.is_some())
}

/// The oldest donor with this email (emails are lower-cased when stored).
async fn donor_by_email(
    tx: &mut Tx,
    email: &Email,
) -> Result<Option<(String, String)>, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_as::<_, (String, String)>(
        "SELECT id, name FROM donors WHERE LOWER(email) = $1 ORDER BY created_at, id LIMIT 1")
        .bind(email.as_str())
        .fetch_optional(c)
        .await)?)
}

/// What importing `parsed` would do now, read in `tx`.
pub async fn preview(tx: &mut Tx, parsed: Parsed) -> Result<Import, StoreError> {
    let seen_before = earlier(tx, &parsed.hash).await?;
    let mut problems = parsed.problems;
    let mut lines = Vec::with_capacity(parsed.gifts.len());
    // A donor the file adds is added once, with the first name the file gives them.
    let mut new_names: HashMap<String, Option<String>> = HashMap::new();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    for gift in &parsed.gifts {
        let email = gift.donor_email.as_str().to_string();
        if new_names.contains_key(&email) {
            let entry = new_names.get_mut(&email).expect("just seen");
            if entry.is_none() {
                *entry = gift.donor_name.clone();
            }
            continue;
        }
        if donor_by_email(tx, &gift.donor_email).await?.is_none() {
            new_names.insert(email.clone(), gift.donor_name.clone());
            first_line.insert(email, gift.line);
        }
    }
    for (email, name) in &new_names {
        if name.is_none() {
            problems.push(LineProblem {
                line: first_line[email],
                column: "donor_name",
                problem: Problem::NameNeeded,
            });
        }
    }
    problems.sort_by_key(|p| p.line);
    for gift in parsed.gifts {
        let donor = match donor_by_email(tx, &gift.donor_email).await? {
            Some((id, name)) => Donor::Found { id, name },
            None => Donor::New {
                name: new_names
                    .get(gift.donor_email.as_str())
                    .cloned()
                    .flatten()
                    .unwrap_or_default(),
            },
        };
        let action =
            if seen_before.is_some() || reference_imported(tx, gift.reference.as_str()).await? {
                Action::Skip
            } else {
                Action::Record
            };
        let donor_id = match &donor {
            Donor::Found { id, .. } => Some(id.clone()),
            Donor::New { .. } => None,
        };
        lines.push(Line {
            gift,
            donor,
            action,
            donor_id,
            donation_id: None,
        });
    }
    Ok(Import {
        hash: parsed.hash,
        seen_before,
        lines,
        problems,
        id: None,
    })
}

/// Records every gift of `parsed` in `tx`, or nothing: a file with a problem, or a file
/// seen before, comes back as its preview and writes nothing. A line whose reference was
/// imported before is skipped. The caller commits.
pub async fn commit(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    parsed: Parsed,
) -> Result<Import, FundingError> {
    let mut import = preview(tx, parsed).await?;
    if !import.problems.is_empty() || import.seen_before.is_some() {
        return Ok(import);
    }
    let id = uuid::Uuid::new_v4().to_string();
    let claimed = on_tx!(tx, c => sqlx::query(
        "INSERT INTO donation_imports (id, file_hash, created_by, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (file_hash) DO NOTHING")
        .bind(&id)
        .bind(&import.hash)
        .bind(&actor.0)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    if claimed == 0 {
        // Another treasurer's import of the same file committed first.
        import.seen_before = earlier(tx, &import.hash).await?;
        for line in &mut import.lines {
            line.action = Action::Skip;
        }
        return Ok(import);
    }
    let mut donors: HashMap<String, String> = HashMap::new();
    for line in &mut import.lines {
        if line.action == Action::Skip {
            continue;
        }
        let claimed = on_tx!(tx, c => sqlx::query(
            "INSERT INTO donation_import_lines (reference, import_id, line) VALUES ($1, $2, $3)
             ON CONFLICT (reference) DO NOTHING")
            .bind(line.gift.reference.as_str())
            .bind(&id)
            .bind(i64::try_from(line.gift.line).unwrap_or(i64::MAX))
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        if claimed == 0 {
            line.action = Action::Skip;
            continue;
        }
        let donor_id = match &line.donor {
            Donor::Found { id, .. } => id.clone(),
            Donor::New { name } => match donors.get(line.gift.donor_email.as_str()) {
                Some(id) => id.clone(),
                None => {
                    let made = super::add_donor(
                        tx,
                        now,
                        actor,
                        name,
                        &line.gift.donor_email,
                        line.gift.language.unwrap_or(Language::En),
                    )
                    .await?;
                    donors.insert(line.gift.donor_email.as_str().to_string(), made.clone());
                    made
                }
            },
        };
        line.donor_id = Some(donor_id.clone());
        let donation = super::record_donation(
            tx,
            now,
            actor,
            &NewDonation {
                donor_id,
                amount: line.gift.amount,
                received_on: line.gift.received_on,
                in_kind: line.gift.in_kind,
                description: None,
                restricted_to: line.gift.restricted_to.clone(),
            },
        )
        .await?;
        on_tx!(tx, c => sqlx::query(
            "UPDATE donation_import_lines SET donation_id = $1 WHERE reference = $2")
            .bind(&donation)
            .bind(line.gift.reference.as_str())
            .execute(c)
            .await
            .map(|_| ()))?;
        line.donation_id = Some(donation);
    }
    let recorded = import.recorded().count();
    let skipped = import.skipped().count();
    on_tx!(tx, c => sqlx::query(
        "UPDATE donation_imports SET recorded = $1, skipped = $2 WHERE id = $3")
        .bind(recorded as i64)
        .bind(skipped as i64)
        .bind(&id)
        .execute(c)
        .await
        .map(|_| ()))?;
    audit::append(
        tx,
        now,
        actor,
        "donation.import",
        &format!("donation_import:{id}"),
        &json!({"file_hash": import.hash, "recorded": recorded, "skipped": skipped,
                "references": import.lines.iter().map(|l| l.gift.reference.as_str()).collect::<Vec<_>>()}),
    )
    .await?;
    import.id = Some(id);
    Ok(import)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
    }

    fn codes(parsed: &Parsed) -> Vec<(u64, &'static str, &'static str)> {
        parsed
            .problems
            .iter()
            .map(|p| (p.line, p.column, p.problem.code()))
            .collect()
    }

    const HEADER: &str =
        "donor_email,donor_name,amount,received_on,restricted_to,in_kind,reference\n";

    #[test]
    fn a_clean_file_reads_into_gifts_with_exact_amounts() {
        let file = format!(
            "{HEADER}dons@example.org,Fondation Exemple,1500.00,2026-11-01,hotel bus,false,R-1\n\
             seats@example.org,Air Exemple,412.5,2026-11-02,,true,R-2\n"
        );
        let parsed = parse(file.as_bytes(), today());
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        assert_eq!(parsed.gifts.len(), 2);
        assert_eq!(parsed.gifts[0].line, 2);
        assert_eq!(parsed.gifts[0].amount.cents(), 150_000);
        assert_eq!(
            parsed.gifts[0].restricted_to.as_ref().unwrap().stored(),
            "bus,hotel"
        );
        assert_eq!(parsed.gifts[1].amount.cents(), 41_250);
        assert!(parsed.gifts[1].in_kind);
        assert_eq!(parsed.hash.len(), 64);
    }

    #[test]
    fn each_wrong_field_is_named_with_its_line() {
        let file = format!(
            "{HEADER},A,1 500,2026-11-01,,false,R-1\n\
             a@example.org,A,$25,31/10/2026,taxi,maybe,R-2\n\
             b@example.org,B,10.005,2026-12-01,hotel hotel,true,R-3\n\
             c@example.org,C,-5,2026-11-01,,yes,R-3\n\
             d@example.org,D,25.00,2026-11-01,hotel,true,\n"
        );
        let parsed = parse(file.as_bytes(), today());
        assert!(parsed.gifts.is_empty());
        assert_eq!(
            codes(&parsed),
            vec![
                (2, "donor_email", "required"),
                (2, "amount", "amount_format"),
                (3, "amount", "amount_format"),
                (3, "received_on", "date_format"),
                (3, "in_kind", "in_kind_value"),
                (3, "restricted_to", "category"),
                (4, "amount", "amount_precision"),
                (4, "received_on", "date_future"),
                (4, "restricted_to", "category_twice"),
                (5, "amount", "amount_not_positive"),
                (5, "in_kind", "in_kind_value"),
                (5, "reference", "reference_repeated"),
                (6, "restricted_to", "in_kind_restricted"),
                (6, "reference", "required"),
            ]
        );
    }

    #[test]
    fn a_repeated_reference_names_the_first_line() {
        let file = format!(
            "{HEADER}a@example.org,A,10.00,2026-11-01,,,R-1\nb@example.org,B,20.00,2026-11-01,,,R-1\n"
        );
        let parsed = parse(file.as_bytes(), today());
        assert_eq!(parsed.gifts.len(), 1);
        assert_eq!(
            parsed.problems[0].problem,
            Problem::ReferenceRepeated { first: 2 }
        );
        assert_eq!(parsed.problems[0].line, 3);
    }

    #[test]
    fn a_file_that_is_no_donations_file_is_refused_whole() {
        let cases: [(&[u8], &str); 6] = [
            (b"", "empty"),
            (b"\xff\xfe d\x00o", "not_utf8"),
            (b"donor_email,amount,received_on\n", "missing_column"),
            (
                b"donor_email,amount,received_on,reference,phone\n",
                "unknown_column",
            ),
            (b"donor_email,amount,received_on,reference\n", "no_gifts"),
            (
                b"donor_email,amount,amount,received_on,reference\n",
                "repeated_column",
            ),
        ];
        for (file, code) in cases {
            let parsed = parse(file, today());
            assert_eq!(
                parsed.file_problem().map(Problem::code),
                Some(code),
                "{}",
                String::from_utf8_lossy(file)
            );
        }
    }

    #[test]
    fn a_french_spreadsheet_with_semicolons_and_a_byte_order_mark_reads() {
        let file = "\u{feff}reference;donor_email;amount;received_on;restricted_to\n\
                    R-9;dons@example.org;25.00;2026-11-01;hotel;bus\n\
                    R-10;dons@example.org;12,50;2026-11-01;\n";
        let parsed = parse(file.as_bytes(), today());
        assert_eq!(
            codes(&parsed),
            vec![
                (2, "file", "malformed_line"),
                (3, "amount", "amount_format")
            ]
        );
    }

    #[test]
    fn lines_are_numbered_as_the_spreadsheet_numbers_its_rows_whatever_the_line_endings() {
        let file = format!(
            "{HEADER}a@example.org,A,10.00,2026-11-01,,,R-1\nb@example.org,B,x,2026-11-01,,,R-2\n"
        );
        for sent in [file.clone(), file.replace('\n', "\r\n")] {
            let parsed = parse(sent.as_bytes(), today());
            assert_eq!(parsed.gifts[0].line, 2);
            assert_eq!(codes(&parsed), vec![(3, "amount", "amount_format")]);
        }
    }

    #[test]
    fn quoted_fields_may_hold_commas_and_blank_lines_are_no_gifts() {
        let file = format!(
            "{HEADER}a@example.org,\"Exemple, Fondation\",10.00,2026-11-01,\"hotel,bus\",,R-1\n,,,,,,\n\n"
        );
        let parsed = parse(file.as_bytes(), today());
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        assert_eq!(
            parsed.gifts[0].donor_name.as_deref(),
            Some("Exemple, Fondation")
        );
    }

    #[test]
    fn every_problem_has_a_message_key_in_both_languages() {
        let all = [
            Problem::NotUtf8,
            Problem::Empty,
            Problem::Binary,
            Problem::MissingColumn("x".into()),
            Problem::UnknownColumn("x".into()),
            Problem::RepeatedColumn("x".into()),
            Problem::NoGifts,
            Problem::TooManyLines,
            Problem::Malformed {
                fields: 1,
                expected: 2,
            },
            Problem::Required("amount"),
            Problem::Email("x".into()),
            Problem::NameNeeded,
            Problem::NameTooLong,
            Problem::AmountFormat("x".into()),
            Problem::AmountPrecision("x".into()),
            Problem::AmountNotPositive("x".into()),
            Problem::AmountTooLarge("x".into()),
            Problem::DateFormat("x".into()),
            Problem::DateFuture { today: today() },
            Problem::Category("x".into()),
            Problem::CategoryTwice,
            Problem::CategoryAll,
            Problem::InKindValue("x".into()),
            Problem::InKindRestricted,
            Problem::Language("x".into()),
            Problem::ReferenceShape,
            Problem::ReferenceDigits,
            Problem::ReferenceDocument,
            Problem::ReferenceRepeated { first: 2 },
        ];
        for p in all {
            for language in [Language::En, Language::Fr] {
                assert!(
                    crate::i18n::has(language, &p.key()),
                    "{} in {language:?}",
                    p.key()
                );
            }
        }
    }
}
