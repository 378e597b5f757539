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

use super::FlowError;
use super::error::invalid;
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
    #[schema(value_type = crate::http::openapi::Figure)]
    pub amount: String,
    #[schema(value_type = crate::http::openapi::Figure)]
    pub drawn: String,
    #[schema(value_type = crate::http::openapi::Figure)]
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

/// The active reserve of `org_id` that can cover `amount`, soonest to expire first, among
/// those `requester` did not set aside: a treasurer who also asks for cases cannot approve
/// their own request by setting money aside for it. Callers hold the fund's lock, so the
/// answer stays true until they draw.
pub async fn covering(
    tx: &mut Tx,
    now: DateTime<Utc>,
    org_id: &str,
    amount: Money,
    requester: &str,
) -> Result<Option<String>, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "SELECT id FROM reserves WHERE org_id = $1 AND expires_at > $2 AND amount - drawn >= $3
           AND created_by <> $4
         ORDER BY expires_at, id LIMIT 1",
    )
    .bind(org_id)
    .bind(now)
    .bind(amount.cents())
    .bind(requester)
    .fetch_optional(c)
    .await)?)
}

pub async fn draw(tx: &mut Tx, reserve_id: &str, amount: Money) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("UPDATE reserves SET drawn = drawn + $2 WHERE id = $1")
        .bind(reserve_id)
        .bind(amount.cents())
        .execute(c)
        .await
        .map(|_| ()))?;
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
) -> Result<ReserveView, FlowError> {
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
        return Err(FlowError::Conflict(format!(
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
