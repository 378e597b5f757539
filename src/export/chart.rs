//! How the ledger reads as a double-entry journal: which journal account each ledger
//! account becomes, and which postings each transfer makes.
//!
//! The ledger keeps TigerBeetle's four totals per account; a journal knows only postings.
//! A hold is therefore shown as money moving from the fund's available part to its held
//! part, and its resolution as money leaving the held part: to an expense for what a
//! receipt settled, back to available for the rest. Summed, the postings give exactly the
//! fund's figures:
//! - `assets:bank:available` = credits posted − debits posted − debits pending;
//! - `assets:bank:held` = debits pending;
//! - the payouts' accounts (issue 18) under their own names: `assets:bank:owed` and
//!   `assets:bank:to-replenish:ORG` (the rest of the bank's money), `assets:advances:ORG`,
//!   `liabilities:owed:org:ORG`, `liabilities:owed:vendor:VENDOR`, so that `assets:bank`
//!   sums to the fund's `bank`;
//! - `expenses:spent` (with one sub-account per category) = what was spent;
//! - `income:donations` = −donated.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use super::ExportError;
use crate::domain::request::Category;
use crate::ledger::{DONATIONS, FUND, SPENT, TransferKind};

/// A journal account's name in both spellings: hledger's (also used by the CSV) and
/// beancount's, whose components must start with a capital and cannot hold `_`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountName {
    pub plain: String,
    pub beancount: String,
}

impl AccountName {
    fn new(plain: String) -> AccountName {
        let beancount = plain
            .split(':')
            .map(|component| {
                component
                    .split(['_', '-'])
                    .filter(|word| !word.is_empty())
                    .map(capitalised)
                    .collect::<Vec<_>>()
                    .join("-")
            })
            .collect::<Vec<_>>()
            .join(":");
        AccountName { plain, beancount }
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A ledger account id as one component of a journal account name: lower-case letters,
/// digits and dashes. When that changes the id, a short hash of it is added, so two ids
/// can never fold into one journal account (their balances would silently merge).
fn component(id: &str) -> String {
    let slug: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug.trim_matches('-');
    if slug == id {
        return slug.to_string();
    }
    let hash = hex::encode(&Sha256::digest(id.as_bytes())[..4]);
    if slug.is_empty() {
        format!("x{hash}")
    } else {
        format!("{slug}-{hash}")
    }
}

/// Whether a ledger id is already a journal account's name (`liabilities:owed:org:ID`,
/// `assets:advances:ID`, `assets:bank:owed`, ...): a known root and no empty component.
fn named(id: &str) -> bool {
    let mut parts = id.split(':');
    matches!(
        parts.next(),
        Some("assets" | "liabilities" | "income" | "expenses")
    ) && id.contains(':')
        && id.split(':').all(|p| !p.is_empty())
        && id != "assets:bank"
        && !id.starts_with("assets:bank:available")
        && !id.starts_with("assets:bank:held")
}

/// A ledger account's totals in cents, as cached on `accounts`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LedgerAccount {
    pub id: String,
    pub debits_pending: i64,
    pub debits_posted: i64,
    pub credits_pending: i64,
    pub credits_posted: i64,
    pub created_at: DateTime<Utc>,
}

/// One transfer with what the journal says about it: the amount of the hold it resolves,
/// and the request (with its case and category) its hold belongs to, if any.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TransferRow {
    pub id: String,
    pub kind: TransferKind,
    pub debit_account_id: String,
    pub credit_account_id: String,
    pub amount: i64,
    pub pending_id: Option<String>,
    pub code: String,
    pub reference: Option<String>,
    pub created_at: DateTime<Utc>,
    pub hold_amount: Option<i64>,
    pub request_id: Option<String>,
    pub case_code: Option<String>,
    pub category: Option<String>,
}

/// Every transfer in time order. Transfers of one batch share their time, so within one
/// moment gifts come first, then holds, then what resolves them: a journal never shows a
/// hold released before it was placed. A request is found through its hold, which every
/// transfer of that request either is or resolves; the sweeper's expiries carry no
/// reference of their own.
pub const TRANSFERS_IN_ORDER: &str =
    "SELECT t.id, t.kind, t.debit_account_id, t.credit_account_id, t.amount, t.pending_id,
        t.code, t.reference, t.created_at, h.amount AS hold_amount, r.id AS request_id,
        r.case_code, r.category
     FROM transfers t
     LEFT JOIN transfers h ON h.id = t.pending_id
     LEFT JOIN requests r ON r.hold_id = COALESCE(t.pending_id, t.id)
     ORDER BY t.created_at,
        CASE t.kind WHEN $1 THEN 0 WHEN $2 THEN 1 ELSE 2 END, t.id";

/// The kinds [`TRANSFERS_IN_ORDER`] binds as `$1` and `$2`: at one moment, money in before
/// holds placed before what resolves them.
pub const TRANSFERS_ORDER_KINDS: [TransferKind; 2] = [TransferKind::Single, TransferKind::Pending];

pub const ACCOUNTS: &str =
    "SELECT id, debits_pending, debits_posted, credits_pending, credits_posted, created_at
     FROM accounts ORDER BY id";

/// One line of a journal entry; the amount is in cents, positive for money arriving in
/// the account (a debit in journal terms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posting<'c> {
    pub account: &'c AccountName,
    pub cents: i64,
}

/// An account the journal declares, opened on that day (beancount needs the day).
#[derive(Debug, Clone, Copy)]
pub struct Declaration<'c> {
    pub name: &'c AccountName,
    pub opened: NaiveDate,
}

/// A balance the journal asserts at its end, sub-accounts included.
#[derive(Debug, Clone, Copy)]
pub struct Closing<'c> {
    pub name: &'c AccountName,
    pub cents: i64,
}

#[derive(Debug)]
struct Book {
    totals: LedgerAccount,
    /// The account itself, or for `spent` the parent of the categories.
    base: AccountName,
    /// Where the account's own money is: `assets:bank:available` for the fund.
    main: AccountName,
    /// Where its holds sit until they are resolved.
    held: AccountName,
}

/// The ledger's accounts as journal accounts.
#[derive(Debug)]
pub struct Chart {
    books: Vec<Book>,
    by_id: HashMap<String, usize>,
    categories: Vec<AccountName>,
    unassigned: AccountName,
}

impl Chart {
    pub fn new(accounts: Vec<LedgerAccount>) -> Chart {
        let books: Vec<Book> = accounts
            .into_iter()
            .map(|totals| {
                let base = match totals.id.as_str() {
                    FUND => "assets:bank".to_string(),
                    DONATIONS => "income:donations".to_string(),
                    SPENT => "expenses:spent".to_string(),
                    // The payouts' accounts (issue 18) are named as journal accounts.
                    other if named(other) => other
                        .split(':')
                        .map(component)
                        .collect::<Vec<_>>()
                        .join(":"),
                    other => format!("assets:ledger:{}", component(other)),
                };
                let main = match totals.id.as_str() {
                    FUND => format!("{base}:available"),
                    _ => base.clone(),
                };
                Book {
                    held: AccountName::new(format!("{base}:held")),
                    main: AccountName::new(main),
                    base: AccountName::new(base),
                    totals,
                }
            })
            .collect();
        let by_id = books
            .iter()
            .enumerate()
            .map(|(i, b)| (b.totals.id.clone(), i))
            .collect();
        Chart {
            books,
            by_id,
            categories: Category::ALL
                .iter()
                .map(|c| AccountName::new(format!("expenses:spent:{}", c.as_str())))
                .collect(),
            // Spending no request accounts for: only transfers made straight through the
            // ledger, never by the request lifecycle.
            unassigned: AccountName::new("expenses:spent:unassigned".into()),
        }
    }

    fn book(&self, id: &str) -> Result<&Book, ExportError> {
        self.by_id.get(id).map(|&i| &self.books[i]).ok_or_else(|| {
            ExportError::Inconsistent(format!(
                "a transfer names the account {id:?}, which the snapshot does not have"
            ))
        })
    }

    /// Where an account's money goes in or comes from; spending by its category.
    fn main(&self, id: &str, category: Option<&str>) -> Result<&AccountName, ExportError> {
        let book = self.book(id)?;
        if book.totals.id != SPENT {
            return Ok(&book.main);
        }
        let found = category
            .and_then(|c| c.parse::<Category>().ok())
            .and_then(|c| Category::ALL.iter().position(|a| *a == c));
        Ok(match found {
            Some(i) => &self.categories[i],
            None => &self.unassigned,
        })
    }

    fn held(&self, id: &str) -> Result<&AccountName, ExportError> {
        Ok(&self.book(id)?.held)
    }

    /// The accounts declared before the first entry. A held part other than the fund's
    /// appears only if something held money on another account, which the request
    /// lifecycle never does: it is declared at the end, when first used.
    pub fn declarations(&self) -> Vec<Declaration<'_>> {
        let mut declared = Vec::new();
        for book in &self.books {
            let opened = book.totals.created_at.date_naive();
            match book.totals.id.as_str() {
                FUND => {
                    declared.push(Declaration {
                        name: &book.main,
                        opened,
                    });
                    declared.push(Declaration {
                        name: &book.held,
                        opened,
                    });
                }
                SPENT => {
                    declared.push(Declaration {
                        name: &book.base,
                        opened,
                    });
                    for name in self.categories.iter().chain([&self.unassigned]) {
                        declared.push(Declaration { name, opened });
                    }
                }
                _ => declared.push(Declaration {
                    name: &book.main,
                    opened,
                }),
            }
        }
        declared
    }

    /// The balances the postings must add up to: the cached totals of the snapshot, that
    /// is the service's own figures.
    pub fn closing(&self) -> Vec<Closing<'_>> {
        let mut closing = Vec::new();
        for book in &self.books {
            let t = &book.totals;
            if t.id == FUND {
                closing.push(Closing {
                    name: &book.main,
                    cents: t.credits_posted - t.debits_posted - t.debits_pending,
                });
                closing.push(Closing {
                    name: &book.held,
                    cents: t.debits_pending,
                });
            } else {
                // Pending credits are not money yet; pending debits sit in the held
                // sub-account, which the assertion includes.
                closing.push(Closing {
                    name: &book.base,
                    cents: t.credits_posted - t.debits_posted,
                });
            }
        }
        closing
    }

    /// The postings of one transfer; they always sum to zero.
    pub fn postings(&self, row: &TransferRow) -> Result<Vec<Posting<'_>>, ExportError> {
        let category = row.category.as_deref();
        let debit = self.main(&row.debit_account_id, category)?;
        let posting = |account, cents| Posting { account, cents };
        Ok(match row.kind {
            TransferKind::Single => vec![
                posting(self.main(&row.credit_account_id, category)?, row.amount),
                posting(debit, -row.amount),
            ],
            TransferKind::Pending => vec![
                posting(self.held(&row.debit_account_id)?, row.amount),
                posting(debit, -row.amount),
            ],
            TransferKind::Post => {
                let held = row.hold_amount.ok_or_else(|| {
                    ExportError::Inconsistent(format!(
                        "transfer {} settles a hold the snapshot does not have",
                        row.id
                    ))
                })?;
                let mut postings = vec![posting(
                    self.main(&row.credit_account_id, category)?,
                    row.amount,
                )];
                if held > row.amount {
                    postings.push(posting(debit, held - row.amount));
                }
                postings.push(posting(self.held(&row.debit_account_id)?, -held));
                postings
            }
            TransferKind::Void | TransferKind::Expire => vec![
                posting(debit, row.amount),
                posting(self.held(&row.debit_account_id)?, -row.amount),
            ],
        })
    }
}

/// What the journal calls a transfer: its kind in plain words, and the category it paid.
pub fn description(row: &TransferRow) -> String {
    let what = match row.kind {
        TransferKind::Pending => "hold",
        TransferKind::Post => "settlement",
        TransferKind::Void => "release",
        TransferKind::Expire => "expiry",
        TransferKind::Single => row.code.as_str(),
    };
    match &row.category {
        Some(category) => format!("{what}: {}", category.replace('_', " ")),
        None => what.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn account(id: &str, cp: i64, dp: i64, dpend: i64) -> LedgerAccount {
        LedgerAccount {
            id: id.into(),
            debits_pending: dpend,
            debits_posted: dp,
            credits_pending: 0,
            credits_posted: cp,
            created_at: Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
        }
    }

    fn row(
        kind: TransferKind,
        amount: i64,
        hold: Option<i64>,
        category: Option<&str>,
    ) -> TransferRow {
        TransferRow {
            id: format!("{kind}:1"),
            kind,
            debit_account_id: FUND.into(),
            credit_account_id: SPENT.into(),
            amount,
            pending_id: hold.map(|_| "hold:1".into()),
            code: "disbursement".into(),
            reference: None,
            created_at: Utc.with_ymd_and_hms(2026, 11, 29, 23, 40, 0).unwrap(),
            hold_amount: hold,
            request_id: None,
            case_code: None,
            category: category.map(Into::into),
        }
    }

    fn chart() -> Chart {
        Chart::new(vec![
            account(DONATIONS, 0, 500_000, 0),
            account(FUND, 500_000, 35_122, 6_450),
            account(SPENT, 35_122, 0, 0),
        ])
    }

    fn lines(chart: &Chart, row: &TransferRow) -> Vec<(String, i64)> {
        chart
            .postings(row)
            .unwrap()
            .into_iter()
            .map(|p| (p.account.plain.clone(), p.cents))
            .collect()
    }

    #[test]
    fn a_hold_moves_money_from_available_to_held() {
        assert_eq!(
            lines(
                &chart(),
                &row(TransferKind::Pending, 37_800, None, Some("hotel"))
            ),
            [
                ("assets:bank:held".into(), 37_800),
                ("assets:bank:available".into(), -37_800)
            ]
        );
    }

    #[test]
    fn a_settlement_below_the_hold_spends_the_receipt_and_releases_the_rest() {
        assert_eq!(
            lines(
                &chart(),
                &row(TransferKind::Post, 35_122, Some(37_800), Some("hotel"))
            ),
            [
                ("expenses:spent:hotel".into(), 35_122),
                ("assets:bank:available".into(), 2_678),
                ("assets:bank:held".into(), -37_800)
            ]
        );
        assert_eq!(
            lines(
                &chart(),
                &row(TransferKind::Post, 37_800, Some(37_800), None)
            ),
            [
                ("expenses:spent:unassigned".into(), 37_800),
                ("assets:bank:held".into(), -37_800)
            ]
        );
    }

    #[test]
    fn a_void_or_an_expiry_returns_the_hold_to_available() {
        for kind in [TransferKind::Void, TransferKind::Expire] {
            assert_eq!(
                lines(&chart(), &row(kind, 6_450, Some(6_450), Some("bus"))),
                [
                    ("assets:bank:available".into(), 6_450),
                    ("assets:bank:held".into(), -6_450)
                ]
            );
        }
    }

    #[test]
    fn closing_balances_are_the_fund_figures() {
        let chart = chart();
        let closing: Vec<(String, i64)> = chart
            .closing()
            .into_iter()
            .map(|c| (c.name.plain.clone(), c.cents))
            .collect();
        assert_eq!(
            closing,
            [
                ("income:donations".into(), -500_000),
                ("assets:bank:available".into(), 458_428),
                ("assets:bank:held".into(), 6_450),
                ("expenses:spent".into(), 35_122)
            ]
        );
    }

    #[test]
    fn beancount_names_are_capitalised_without_underscores() {
        let chart = chart();
        let names: Vec<&str> = chart
            .declarations()
            .iter()
            .map(|d| d.name.beancount.as_str())
            .collect();
        assert!(names.contains(&"Assets:Bank:Available"), "{names:?}");
        assert!(
            names.contains(&"Expenses:Spent:Local-Transport"),
            "{names:?}"
        );
        assert!(names.contains(&"Income:Donations"), "{names:?}");
    }

    #[test]
    fn odd_ledger_ids_never_fold_into_one_account() {
        let a = component("Bank A");
        let b = component("bank-a");
        assert_ne!(a, b);
        assert_eq!(b, "bank-a");
        assert!(a.starts_with("bank-a-"), "{a}");
        assert!(component("!!").starts_with('x'));
    }
}
