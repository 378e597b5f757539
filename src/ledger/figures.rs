//! The fund's figures, derived from the accounts' totals alone (issue 18).
//!
//! Where the money is, as accounts (a transfer moves money from its debit account to its
//! credit account; an account's balance is its credits less its debits):
//! - `fund`: the bank's money that is *available* (and, as pending debits, *held*);
//! - `assets:bank:owed`: the bank's money that pays what the fund owes;
//! - `assets:bank:to-replenish:ORG`: the bank's money that tops an organisation's
//!   advance back up;
//! - `assets:advances:ORG`: the unspent money advanced to an organisation;
//! - `liabilities:owed:org:ORG`, `liabilities:owed:vendor:VENDOR`: what the fund owes
//!   (negative balances);
//! - `donations`, `income:other` (negative), `spent`, `expenses:fees`.
//!
//! A receipt paid by an organisation moves its amount from `liabilities:owed:org:ORG` to
//! `assets:bank:owed` (the bank's money stays, now set aside for the debt); one paid from
//! an advance moves it from `assets:advances:ORG` to `assets:bank:to-replenish:ORG`. A
//! payout moves it back out of the bank's part towards the payee's account. So, to the
//! cent and at every moment:
//! `bank = available + held + owed + to_replenish` and
//! `donated + other_income − fees = bank + advanced + spent − owed`.

use serde::Serialize;

use super::{DONATIONS, FUND, SPENT};

/// The bank's money set aside for what the fund owes.
pub const BANK_OWED: &str = "assets:bank:owed";
/// Income recorded from the bank statement (interest, a donation nobody recorded).
pub const OTHER_INCOME: &str = "income:other";
/// Bank fees recorded from the bank statement.
pub const FEES: &str = "expenses:fees";

const OWED_TO_ORG: &str = "liabilities:owed:org:";
const OWED_TO_VENDOR: &str = "liabilities:owed:vendor:";
const OWED: &str = "liabilities:owed:";
const ADVANCE: &str = "assets:advances:";
const TO_REPLENISH: &str = "assets:bank:to-replenish:";

/// The transfer code of a payout line paid, and of its reversal when it bounced.
pub const PAYOUT_CODE: &str = "payout";
pub const BOUNCE_CODE: &str = "payout-bounce";

/// What the fund owes an organisation.
pub fn owed_to_org(org_id: &str) -> String {
    format!("{OWED_TO_ORG}{org_id}")
}

/// What the fund owes a vendor account.
pub fn owed_to_vendor(vendor_id: &str) -> String {
    format!("{OWED_TO_VENDOR}{vendor_id}")
}

/// The unspent money advanced to an organisation.
pub fn advance_of(org_id: &str) -> String {
    format!("{ADVANCE}{org_id}")
}

/// The bank's money that tops an organisation's advance back up.
pub fn to_replenish_of(org_id: &str) -> String {
    format!("{TO_REPLENISH}{org_id}")
}

/// Whose account a ledger account of the payouts is: `(payee kind, id)`.
pub enum Holder<'a> {
    OwedToOrg(&'a str),
    OwedToVendor(&'a str),
    Advance(&'a str),
    ToReplenish(&'a str),
}

impl<'a> Holder<'a> {
    pub fn of(account: &'a str) -> Option<Holder<'a>> {
        if let Some(id) = account.strip_prefix(OWED_TO_ORG) {
            Some(Holder::OwedToOrg(id))
        } else if let Some(id) = account.strip_prefix(OWED_TO_VENDOR) {
            Some(Holder::OwedToVendor(id))
        } else if let Some(id) = account.strip_prefix(ADVANCE) {
            Some(Holder::Advance(id))
        } else {
            account.strip_prefix(TO_REPLENISH).map(Holder::ToReplenish)
        }
    }
}

/// Whether an account is one the fund owes on (its balance must never be positive).
pub fn is_liability(account: &str) -> bool {
    account.starts_with(OWED)
}

/// Whether an account holds money that may never go below zero.
pub fn is_asset_part(account: &str) -> bool {
    account == FUND
        || account == BANK_OWED
        || account.starts_with(ADVANCE)
        || account.starts_with(TO_REPLENISH)
}

/// One account's totals, cached or derived.
#[derive(Debug, Clone, Copy)]
pub struct Totals<'a> {
    pub id: &'a str,
    pub debits_pending: i64,
    pub debits_posted: i64,
    pub credits_posted: i64,
}

/// The fund's figures in cents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub donated: i64,
    pub available: i64,
    pub held: i64,
    pub spent: i64,
    /// Receipts not yet paid to the organisation or vendor that paid them.
    pub owed: i64,
    /// What spent advances are owed, to top them up again.
    pub to_replenish: i64,
    /// The unspent money now at organisations as advances.
    pub advanced: i64,
    /// Payout lines paid (less those that bounced).
    pub paid_out: i64,
    /// The money in the bank by the books.
    pub bank: i64,
    pub other_income: i64,
    pub fees: i64,
    /// The bank's money set aside for what is owed (equal to `owed`).
    pub bank_owed: i64,
}

impl Figures {
    /// The figures the accounts' totals give, with `paid_out` from the payout transfers.
    pub fn of<'a>(accounts: impl IntoIterator<Item = Totals<'a>>, paid_out: i64) -> Figures {
        let mut f = Figures {
            paid_out,
            ..Figures::default()
        };
        for a in accounts {
            let balance = a.credits_posted - a.debits_posted;
            match a.id {
                FUND => {
                    f.available = balance - a.debits_pending;
                    f.held = a.debits_pending;
                }
                DONATIONS => f.donated = -balance,
                SPENT => f.spent = balance,
                OTHER_INCOME => f.other_income = -balance,
                FEES => f.fees = balance,
                BANK_OWED => f.bank_owed = balance,
                id if is_liability(id) => f.owed -= balance,
                id if id.starts_with(ADVANCE) => f.advanced += balance,
                id if id.starts_with(TO_REPLENISH) => f.to_replenish += balance,
                _ => {}
            }
        }
        f.bank = f.available + f.held + f.bank_owed + f.to_replenish;
        f
    }

    /// Where the two identities fail, in words; empty when they hold.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.bank != self.available + self.held + self.owed + self.to_replenish {
            problems.push(format!(
                "bank {} is not available {} + held {} + owed {} + to_replenish {} (the bank's part for what is owed is {})",
                self.bank, self.available, self.held, self.owed, self.to_replenish, self.bank_owed
            ));
        }
        let left = self.donated + self.other_income - self.fees;
        let right = self.bank + self.advanced + self.spent - self.owed;
        if left != right {
            problems.push(format!(
                "donated {} + other_income {} - fees {} = {left}, but bank {} + advanced {} + spent {} - owed {} = {right}",
                self.donated, self.other_income, self.fees, self.bank, self.advanced, self.spent, self.owed
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str, dpend: i64, dp: i64, cp: i64) -> Totals<'_> {
        Totals {
            id,
            debits_pending: dpend,
            debits_posted: dp,
            credits_posted: cp,
        }
    }

    #[test]
    fn a_reimbursed_receipt_keeps_the_bank_and_makes_a_debt() {
        let org = owed_to_org("o1");
        // 1000 given; 300 held, 200 spent by a receipt the organisation paid.
        let f = Figures::of(
            [
                t(DONATIONS, 0, 100_000, 0),
                t(FUND, 30_000, 20_000, 100_000),
                t(SPENT, 0, 0, 20_000),
                t(&org, 0, 20_000, 0),
                t(BANK_OWED, 0, 0, 20_000),
            ],
            0,
        );
        assert_eq!(
            (f.bank, f.owed, f.available, f.held),
            (100_000, 20_000, 50_000, 30_000)
        );
        assert!(f.problems().is_empty(), "{:?}", f.problems());
    }

    #[test]
    fn a_debt_without_its_bank_part_breaks_the_first_identity() {
        let org = owed_to_org("o1");
        let f = Figures::of(
            [
                t(DONATIONS, 0, 100_000, 0),
                t(FUND, 0, 20_000, 100_000),
                t(SPENT, 0, 0, 20_000),
                t(&org, 0, 20_000, 0),
                t("stray", 0, 0, 20_000),
            ],
            0,
        );
        assert_eq!(f.problems().len(), 2, "{:?}", f.problems());
    }
}
