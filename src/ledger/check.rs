use serde::Serialize;

use crate::on_db;
use crate::store::{Db, StoreError};

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
    pub problems: Vec<String>,
}

/// Derives every account's totals from the transfers alone and compares them with the
/// cached ones; also checks that debits equal credits, that no flagged account is
/// overdrawn and that no hold was resolved twice.
pub async fn check(db: &Db) -> Result<LedgerCheck, StoreError> {
    // A hold counts as pending until a transfer resolves it; posted amounts come from
    // single transfers and posts. CAST keeps PostgreSQL's SUM(bigint) an integer.
    let accounts: Vec<AccountCheck> = on_db!(db, p => sqlx::query_as(
        "SELECT a.id, a.debits_must_not_exceed_credits,
                a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted,
                CAST(COALESCE((SELECT SUM(t.amount) FROM transfers t
                      WHERE t.debit_account_id = a.id AND t.kind = 'pending'
                        AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = t.id)), 0)
                     AS BIGINT) AS derived_debits_pending,
                CAST(COALESCE((SELECT SUM(t.amount) FROM transfers t
                      WHERE t.debit_account_id = a.id AND t.kind IN ('single', 'post')), 0)
                     AS BIGINT) AS derived_debits_posted,
                CAST(COALESCE((SELECT SUM(t.amount) FROM transfers t
                      WHERE t.credit_account_id = a.id AND t.kind = 'pending'
                        AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = t.id)), 0)
                     AS BIGINT) AS derived_credits_pending,
                CAST(COALESCE((SELECT SUM(t.amount) FROM transfers t
                      WHERE t.credit_account_id = a.id AND t.kind IN ('single', 'post')), 0)
                     AS BIGINT) AS derived_credits_posted
         FROM accounts a ORDER BY a.id",
    )
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
    Ok(LedgerCheck {
        ok: problems.is_empty(),
        accounts,
        problems,
    })
}
