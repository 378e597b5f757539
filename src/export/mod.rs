//! Exports of the ledger: an hledger journal, a beancount file or CSV, streamed from one
//! snapshot of the database so a ledger of any size is never held in memory.
//!
//! Journals declare their accounts and the commodity, carry each transfer's id (and its
//! request, case and category) as tags, and end by asserting the service's own balances,
//! so `hledger check -s` and `bean-check` prove on every export that the entries add up to
//! the figures the service reports. [`chart`] says how accounts and transfers map.

mod beancount;
pub mod chart;
mod csv;
mod hledger;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use futures_util::TryStreamExt;
use tokio::sync::mpsc;

use crate::on_tx;
use crate::store::{Db, StoreError, Tx};
use chart::{Chart, Closing, Declaration, LedgerAccount, Posting, TransferRow};

pub const COMMODITY: &str = "CAD";

/// Roughly how much text is gathered before it is handed on.
const CHUNK: usize = 64 * 1024;

/// What every journal says about itself before its first entry.
const NOTES: [&str; 4] = [
    "Dates are UTC days; each entry's time tag has the exact moment.",
    "A hold moves money from available to held; a settlement spends the receipt and returns the rest to available.",
    "An operation reserve is an earmark, not a movement: reserved money is in available here.",
    "In-kind gifts move no cash and are not in this ledger.",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Hledger,
    Beancount,
    Csv,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not an export format: use hledger, beancount or csv")]
pub struct UnknownFormat;

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hledger" => Ok(Format::Hledger),
            "beancount" => Ok(Format::Beancount),
            "csv" => Ok(Format::Csv),
            _ => Err(UnknownFormat),
        }
    }
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Hledger => "hledger",
            Format::Beancount => "beancount",
            Format::Csv => "csv",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Format::Hledger | Format::Beancount => "text/plain; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Hledger => "journal",
            Format::Beancount => "beancount",
            Format::Csv => "csv",
        }
    }

    fn header(self, out: &mut String, head: &Head<'_>) -> fmt::Result {
        match self {
            Format::Hledger => hledger::header(out, head),
            Format::Beancount => beancount::header(out, head),
            Format::Csv => csv::header(out),
        }
    }

    fn entry(self, out: &mut String, entry: &Entry<'_, '_>) -> fmt::Result {
        match self {
            Format::Hledger => hledger::entry(out, entry),
            Format::Beancount => beancount::entry(out, entry),
            Format::Csv => csv::entry(out, entry),
        }
    }

    fn footer(self, out: &mut String, foot: &Foot<'_>) -> fmt::Result {
        match self {
            Format::Hledger => hledger::footer(out, foot),
            Format::Beancount => beancount::footer(out, foot),
            // Data only: a spreadsheet sums the rows itself.
            Format::Csv => Ok(()),
        }
    }
}

/// The same CSV header a CSV export starts with, for documentation and tests.
pub const CSV_COLUMNS: &str = csv::COLUMNS;

pub struct Head<'c> {
    pub taken_at: DateTime<Utc>,
    pub notes: &'c [&'c str],
    pub declarations: &'c [Declaration<'c>],
}

pub struct Entry<'r, 'c> {
    pub row: &'r TransferRow,
    pub date: NaiveDate,
    pub description: String,
    pub postings: &'r [Posting<'c>],
}

pub struct Foot<'c> {
    pub transfers: u64,
    pub late: &'c [Declaration<'c>],
    /// The day of the last entry (of the export when there is none).
    pub last_date: NaiveDate,
    pub closing: &'c [Closing<'c>],
}

pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot read the ledger: {0}")]
    Store(#[from] StoreError),
    #[error("the ledger cannot be exported as it is: {0}")]
    Inconsistent(String),
    #[error("cannot write the export: {0}")]
    Format(#[from] fmt::Error),
    /// Whoever was reading the export went away (a client hung up).
    #[error("the reader of the export went away")]
    Closed,
}

impl From<sqlx::Error> for ExportError {
    fn from(e: sqlx::Error) -> Self {
        ExportError::Store(e.into())
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub transfers: u64,
}

/// An export ready to be written: a snapshot of the database is open, and the accounts
/// have been read from it. Opening it is where a failure can still be answered properly
/// (a status code, an exit code) before the first byte goes out.
pub struct Export {
    format: Format,
    taken_at: DateTime<Utc>,
    tx: Tx,
    chart: Chart,
}

impl Export {
    pub async fn begin(db: &Db, format: Format, now: DateTime<Utc>) -> Result<Export, StoreError> {
        let mut tx = db.begin_snapshot().await?;
        let accounts: Vec<LedgerAccount> = on_tx!(&mut tx, c => sqlx::query_as(chart::ACCOUNTS)
            .fetch_all(c)
            .await)?;
        Ok(Export {
            format,
            taken_at: now,
            tx,
            chart: Chart::new(accounts),
        })
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Writes the whole export into `out`, in chunks of about 64 KiB, while the transfers
    /// stream out of the snapshot one row at a time.
    pub async fn write(
        self,
        out: &mpsc::Sender<Result<String, ExportError>>,
    ) -> Result<Summary, ExportError> {
        let Export {
            format,
            taken_at,
            mut tx,
            chart,
        } = self;
        let declarations = chart.declarations();
        let mut declared: std::collections::HashSet<&str> =
            declarations.iter().map(|d| d.name.plain.as_str()).collect();
        let mut late: BTreeMap<&str, Declaration<'_>> = BTreeMap::new();
        let mut buf = String::with_capacity(CHUNK + 4096);
        format.header(
            &mut buf,
            &Head {
                taken_at,
                notes: &NOTES,
                declarations: &declarations,
            },
        )?;
        let mut transfers = 0_u64;
        let mut last_date = None;
        on_tx!(&mut tx, c => {
            let mut rows = sqlx::query_as::<_, TransferRow>(chart::TRANSFERS_IN_ORDER)
                .bind(chart::TRANSFERS_ORDER_KINDS[0])
                .bind(chart::TRANSFERS_ORDER_KINDS[1])
                .fetch(c);
            while let Some(row) = rows.try_next().await? {
                let date = row.created_at.date_naive();
                let postings = chart.postings(&row)?;
                for p in &postings {
                    if declared.insert(p.account.plain.as_str()) {
                        late.insert(
                            p.account.plain.as_str(),
                            Declaration { name: p.account, opened: date },
                        );
                    }
                }
                format.entry(
                    &mut buf,
                    &Entry {
                        row: &row,
                        date,
                        description: chart::description(&row),
                        postings: &postings,
                    },
                )?;
                transfers += 1;
                last_date = Some(date);
                if buf.len() >= CHUNK {
                    send(out, &mut buf).await?;
                }
            }
        });
        let late: Vec<Declaration<'_>> = late.into_values().collect();
        format.footer(
            &mut buf,
            &Foot {
                transfers,
                late: &late,
                last_date: last_date.unwrap_or_else(|| taken_at.date_naive()),
                closing: &chart.closing(),
            },
        )?;
        send(out, &mut buf).await?;
        // Read only: nothing to keep, and ending it lets SQLite checkpoint its log again.
        tx.rollback().await?;
        Ok(Summary { transfers })
    }
}

async fn send(
    out: &mpsc::Sender<Result<String, ExportError>>,
    buf: &mut String,
) -> Result<(), ExportError> {
    if buf.is_empty() {
        return Ok(());
    }
    let chunk = std::mem::replace(buf, String::with_capacity(CHUNK + 4096));
    out.send(Ok(chunk)).await.map_err(|_| ExportError::Closed)
}
