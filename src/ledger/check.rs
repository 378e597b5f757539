use std::collections::BTreeMap;

use serde::Serialize;

use super::figures::{self, Figures};
use crate::domain::states::{LineStatus, RequestStatus, TransferKind};
use crate::store::{Db, StoreError};
use crate::{on_db, on_tx};

/// One account's cached totals beside the totals derived from its transfers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AccountCheck {
    pub id: String,
    pub debits_must_not_exceed_credits: bool,
    pub debits_pending: i64,
    pub debits_posted: i64,
    pub credits_pending: i64,
    pub credits_posted: i64,
    pub derived_debits_pending: i64,
    pub derived_debits_posted: i64,
    pub derived_credits_pending: i64,
    pub derived_credits_posted: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerCheck {
    pub ok: bool,
    pub accounts: Vec<AccountCheck>,
    /// The fund's figures, derived from the transfers alone.
    pub figures: Figures,
    pub problems: Vec<String>,
}

/// Derives every account's totals from the transfers alone and compares them with the
/// cached ones; also checks that debits equal credits, that no flagged account is
/// overdrawn, that no hold was resolved twice, and that each case's per-day totals (what
/// its rolling window is summed from) equal what its requests give. The fund's figures are
/// derived from the transfers too, and must keep both identities of
/// [`Figures::problems`]; no account the fund owes on may be in credit, and the payout
/// lines marked paid must be what the payout transfers paid.
pub async fn check(db: &Db) -> Result<LedgerCheck, StoreError> {
    // A hold counts as pending until a transfer resolves it; posted amounts come from
    // single transfers and posts. CAST keeps PostgreSQL's SUM(bigint) an integer.
    let (pending, posted) = (
        TransferKind::Pending.sql(),
        TransferKind::sql_list(&[TransferKind::Single, TransferKind::Post]),
    );
    let sql = format!(
        "SELECT a.id, a.debits_must_not_exceed_credits,
                a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted,
                CAST(COALESCE((SELECT SUM(t.amount) FROM transfers t
                      WHERE t.debit_account_id = a.id AND t.kind = {pending}
                        AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = t.id)), 0)
                     AS BIGINT) AS derived_debits_pending,
                CAST(COALESCE((SELECT SUM(t.amount) FROM transfers t
                      WHERE t.debit_account_id = a.id AND t.kind IN {posted}), 0)
                     AS BIGINT) AS derived_debits_posted,
                CAST(COALESCE((SELECT SUM(t.amount) FROM transfers t
                      WHERE t.credit_account_id = a.id AND t.kind = {pending}
                        AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = t.id)), 0)
                     AS BIGINT) AS derived_credits_pending,
                CAST(COALESCE((SELECT SUM(t.amount) FROM transfers t
                      WHERE t.credit_account_id = a.id AND t.kind IN {posted}), 0)
                     AS BIGINT) AS derived_credits_posted
         FROM accounts a ORDER BY a.id"
    );
    let accounts: Vec<AccountCheck> = on_db!(db, p => sqlx::query_as(&sql)
    .fetch_all(p)
    .await)?;

    let mut problems = Vec::new();
    for a in &accounts {
        let pairs = [
            ("debits pending", a.debits_pending, a.derived_debits_pending),
            ("debits posted", a.debits_posted, a.derived_debits_posted),
            (
                "credits pending",
                a.credits_pending,
                a.derived_credits_pending,
            ),
            ("credits posted", a.credits_posted, a.derived_credits_posted),
        ];
        for (what, cached, derived) in pairs {
            if cached != derived {
                problems.push(format!(
                    "account {}: cached {what} {cached} but the transfers give {derived}",
                    a.id
                ));
            }
        }
        if a.debits_must_not_exceed_credits && a.debits_pending + a.debits_posted > a.credits_posted
        {
            problems.push(format!("account {} is overdrawn counting its holds", a.id));
        }
        if figures::is_liability(&a.id) && a.derived_credits_posted > a.derived_debits_posted {
            problems.push(format!("account {}: the fund paid more than it owed", a.id));
        }
    }
    let derived = Figures::of(
        accounts.iter().map(|a| figures::Totals {
            id: &a.id,
            debits_pending: a.derived_debits_pending,
            debits_posted: a.derived_debits_posted,
            credits_posted: a.derived_credits_posted,
        }),
        0,
    );
    let mut tx = db.begin_snapshot().await?;
    let paid_out = super::paid_out(&mut tx).await?;
    let lines_paid: i64 = on_tx!(&mut tx, c => sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM payout_lines WHERE status = $1",
    )
    .bind(LineStatus::Paid)
    .fetch_one(c)
    .await)?;
    tx.rollback().await?;
    let derived = Figures {
        paid_out,
        ..derived
    };
    problems.extend(derived.problems());
    if paid_out != lines_paid {
        problems.push(format!(
            "the payout transfers paid {paid_out} but the payout lines marked paid add up to {lines_paid}"
        ));
    }
    let sum = |f: fn(&AccountCheck) -> i64| accounts.iter().map(f).sum::<i64>();
    if sum(|a| a.debits_posted) != sum(|a| a.credits_posted) {
        problems.push("posted debits and credits do not balance".into());
    }
    if sum(|a| a.debits_pending) != sum(|a| a.credits_pending) {
        problems.push("pending debits and credits do not balance".into());
    }
    let resolved_twice: Vec<String> = on_db!(db, p => sqlx::query_scalar(
        "SELECT pending_id FROM transfers WHERE pending_id IS NOT NULL
         GROUP BY pending_id HAVING COUNT(*) > 1",
    )
    .fetch_all(p)
    .await)?;
    for id in resolved_twice {
        problems.push(format!("hold {id} was resolved more than once"));
    }
    problems.extend(case_day_problems(db).await?);
    Ok(LedgerCheck {
        ok: problems.is_empty(),
        accounts,
        figures: derived,
        problems,
    })
}

/// Each case's cached per-day totals (migration 0014_case_days, kept by triggers) beside
/// the totals its requests give; a day missing on one side counts as zero.
async fn case_day_problems(db: &Db) -> Result<Vec<String>, StoreError> {
    let day_decided = match db.engine() {
        crate::store::Engine::Sqlite => "substr(decided_at, 1, 10)",
        crate::store::Engine::Postgres => "CAST((decided_at AT TIME ZONE 'UTC')::date AS TEXT)",
    };
    let derived_sql = format!(
        "SELECT case_code, {day_decided}, CAST(SUM(COALESCE(spent, amount)) AS BIGINT)
         FROM requests WHERE status IN {uses_money} AND decided_at IS NOT NULL
         GROUP BY case_code, {day_decided}",
        uses_money = RequestStatus::sql_list(&[RequestStatus::Approved, RequestStatus::Settled]),
    );
    // One snapshot for both reads: a request written between them on a live database
    // would otherwise show as a difference.
    let mut tx = db.begin_snapshot().await?;
    let derived: Vec<(String, String, i64)> =
        on_tx!(&mut tx, c => sqlx::query_as(&derived_sql).fetch_all(c).await)?;
    let cached: Vec<(String, String, i64)> = on_tx!(&mut tx, c => sqlx::query_as(
        "SELECT case_code, CAST(day AS TEXT), cents FROM case_days"
    )
    .fetch_all(c)
    .await)?;
    tx.rollback().await?;
    let mut totals: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for (case, day, cents) in cached {
        totals.entry((case, day)).or_default().0 = cents;
    }
    for (case, day, cents) in derived {
        totals.entry((case, day)).or_default().1 = cents;
    }
    Ok(totals
        .into_iter()
        .filter(|(_, (cached, derived))| cached != derived)
        .map(|((case, day), (cached, derived))| {
            format!("case {case}: cached total {cached} on {day} but its requests give {derived}")
        })
        .collect())
}
