//! Operation reserves: money a treasurer sets aside for one organisation until a time.
//!
//! A reserve moves no money in the ledger: it is an earmark. Automatic decisions for
//! everyone else see the fund's available money less what active reserves still hold, so
//! they cannot spend it; the organisation's own requests draw on it with automatic
//! approval (the hold is placed on the fund as usual). When a reserve expires its
//! remainder simply stops being subtracted: it is available again. Money of a drawn request
//! that is later cancelled or expires returns to available, not to the reserve.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::{FundingError, invalid};
use crate::audit;
use crate::cases::Staff;
use crate::domain::Money;
use crate::domain::money::format_cents;
use crate::store::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReserveView {
    pub id: String,
    pub org_id: String,
    #[schema(value_type = crate::domain::money::Figure)]
    pub amount: String,
    #[schema(value_type = crate::domain::money::Figure)]
    pub drawn: String,
    #[schema(value_type = crate::domain::money::Figure)]
    pub remaining: String,
    pub expires_at: DateTime<Utc>,
    pub active: bool,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    org_id: String,
    amount: i64,
    drawn: i64,
    expires_at: DateTime<Utc>,
}

impl Row {
    fn view(self, now: DateTime<Utc>) -> ReserveView {
        ReserveView {
            amount: format_cents(self.amount),
            drawn: format_cents(self.drawn),
            remaining: format_cents(self.amount - self.drawn),
            active: self.expires_at > now && self.drawn < self.amount,
            id: self.id,
            org_id: self.org_id,
            expires_at: self.expires_at,
        }
    }
}

const OUTSTANDING: &str =
    "SELECT CAST(COALESCE(SUM(amount - drawn), 0) AS BIGINT) FROM reserves WHERE expires_at > $1";

/// What active reserves still hold, in cents, inside a transaction.
pub async fn outstanding(tx: &mut Tx, now: DateTime<Utc>) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(OUTSTANDING).bind(now).fetch_one(c).await)?)
}

/// The same, straight from the pool, for the fund's figures.
pub async fn outstanding_now(db: &Db, now: DateTime<Utc>) -> Result<i64, StoreError> {
    Ok(on_db!(db, p => sqlx::query_scalar(OUTSTANDING).bind(now).fetch_one(p).await)?)
}

/// Draws on reserves for new approvals, (reserve, cents) each, in one statement.
pub async fn draw_many(tx: &mut Tx, draws: &[(&str, i64)]) -> Result<(), StoreError> {
    if draws.is_empty() {
        return Ok(());
    }
    let mut by_reserve: std::collections::BTreeMap<&str, i64> = Default::default();
    for (id, cents) in draws {
        *by_reserve.entry(id).or_insert(0) += cents;
    }
    on_tx!(tx, c => {
        let mut update = sqlx::QueryBuilder::new("UPDATE reserves SET drawn = drawn + CASE id");
        for (id, cents) in &by_reserve {
            update.push(" WHEN ").push_bind(*id).push(" THEN ").push_bind(*cents);
        }
        update.push(" ELSE 0 END WHERE id IN ");
        crate::store::push_list(&mut update, by_reserve.keys().copied());
        update.build().execute(c).await.map(|_| ())
    })?;
    Ok(())
}

/// Sets money aside for an organisation. It must be available now (a treasurer may set
/// aside money under the reserve floor: the floor binds automatic approvals only).
pub async fn create(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    org_id: &str,
    amount: Money,
    expires_at: DateTime<Utc>,
) -> Result<ReserveView, FundingError> {
    if expires_at <= now {
        return Err(invalid("expires_at", "must be in the future"));
    }
    let org: Option<String> = on_tx!(tx, c => sqlx::query_scalar("SELECT id FROM orgs WHERE id = $1")
        .bind(org_id)
        .fetch_optional(c)
        .await)?;
    if org.is_none() {
        return Err(invalid("org_id", "no organisation has this id"));
    }
    let available = crate::ledger::lock_fund_available(tx).await?;
    // A reserve may be spent on any category, so only unrestricted money can back it.
    let free =
        available - outstanding(tx, now).await? - crate::funding::restricted::remaining(tx).await?;
    if amount.cents() > free {
        return Err(FundingError::Conflict(format!(
            "only {} of unrestricted money is free to set aside now: record a donation or set aside less",
            format_cents(free.max(0))
        )));
    }
    let id = uuid::Uuid::new_v4().to_string();
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO reserves (id, org_id, amount, expires_at, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(amount.cents())
    .bind(expires_at)
    .bind(&staff.user_id)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    audit::append(
        tx,
        now,
        &staff.actor(),
        "reserve.create",
        &format!("reserve:{id}"),
        &json!({"org_id": org_id, "amount": amount.cents(), "expires_at": audit::canonical_time(expires_at)}),
    )
    .await?;
    Ok(Row {
        id,
        org_id: org_id.into(),
        amount: amount.cents(),
        drawn: 0,
        expires_at,
    }
    .view(now))
}

pub async fn list(db: &Db, now: DateTime<Utc>) -> Result<Vec<ReserveView>, StoreError> {
    let rows: Vec<Row> = on_db!(db, p => sqlx::query_as(
        "SELECT id, org_id, amount, drawn, expires_at FROM reserves ORDER BY expires_at DESC LIMIT 500"
    )
    .fetch_all(p)
    .await)?;
    Ok(rows.into_iter().map(|r| r.view(now)).collect())
}
