use serde::Serialize;

use super::figures::{self, Figures};
use crate::domain::states::{LineStatus, RequestStatus, TransferKind};
use crate::progress::Progress;
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
    check_with_progress(db, &Progress::hidden()).await
}

/// [`check`], naming each of its steps to `progress` as it starts (the `passage ledger
/// check` command shows them on a terminal). Each step is one statement the engine
/// answers with a few rows, so memory stays the same whatever the size of the ledger.
pub async fn check_with_progress(db: &Db, progress: &Progress) -> Result<LedgerCheck, StoreError> {
    progress.step("deriving each account's totals from the transfers (1 of 4)");
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
    progress.step("comparing the payouts with their lines (2 of 4)");
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
    progress.step("looking for holds resolved twice (3 of 4)");
    let resolved_twice: Vec<String> = on_db!(db, p => sqlx::query_scalar(
        "SELECT pending_id FROM transfers WHERE pending_id IS NOT NULL
         GROUP BY pending_id HAVING COUNT(*) > 1",
    )
    .fetch_all(p)
    .await)?;
    for id in resolved_twice {
        problems.push(format!("hold {id} was resolved more than once"));
    }
    progress.step("comparing each case's daily totals with its requests (4 of 4)");
    problems.extend(case_day_problems(db).await?);
    progress.finish();
    Ok(LedgerCheck {
        ok: problems.is_empty(),
        accounts,
        figures: derived,
        problems,
    })
}

/// At most this many differing case days are named; past it, one line says there are more.
const CASE_DAYS_SHOWN: usize = 100;

/// Each case's cached per-day totals (migration 0014_case_days, kept by triggers) beside
/// the totals its requests give; a day missing on one side counts as zero. The engine
/// compares them in one statement (one snapshot) and sends back only the days that differ,
/// so memory does not grow with the history.
async fn case_day_problems(db: &Db) -> Result<Vec<String>, StoreError> {
    let day_decided = match db.engine() {
        crate::store::Engine::Sqlite => "substr(decided_at, 1, 10)",
        crate::store::Engine::Postgres => "CAST((decided_at AT TIME ZONE 'UTC')::date AS TEXT)",
    };
    let sql = format!(
        "SELECT case_code, day, CAST(SUM(cached) AS BIGINT), CAST(SUM(derived) AS BIGINT)
         FROM (SELECT case_code, CAST(day AS TEXT) AS day, cents AS cached, 0 AS derived
               FROM case_days
               UNION ALL
               SELECT case_code, {day_decided}, 0, COALESCE(spent, amount)
               FROM requests WHERE status IN {uses_money} AND decided_at IS NOT NULL) both_sides
         GROUP BY case_code, day
         HAVING SUM(cached) <> SUM(derived)
         ORDER BY case_code, day
         LIMIT {}",
        CASE_DAYS_SHOWN + 1,
        uses_money = RequestStatus::sql_list(&[RequestStatus::Approved, RequestStatus::Settled]),
    );
    let differ: Vec<(String, String, i64, i64)> =
        on_db!(db, p => sqlx::query_as(&sql).fetch_all(p).await)?;
    let more = differ.len() > CASE_DAYS_SHOWN;
    let mut problems: Vec<String> = differ
        .into_iter()
        .take(CASE_DAYS_SHOWN)
        .map(|(case, day, cached, derived)| {
            format!("case {case}: cached total {cached} on {day} but its requests give {derived}")
        })
        .collect();
    if more {
        problems.push(format!(
            "and more case days whose cached total differs from their requests (only the first {CASE_DAYS_SHOWN} are named)"
        ));
    }
    Ok(problems)
}
