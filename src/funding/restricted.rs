//! Restricted donations: gifts the fund may spend only on some categories.
//!
//! Like reserves, restrictions move no money in the ledger: they are earmarks on the fund's
//! available money, kept per gift in `donations.restricted_remaining`. A request of
//! category C may use the unrestricted money plus the gifts restricted to C, so what it may
//! use is the fund's available money less what gifts *not* open to C still hold. When its
//! hold is placed, its money is attributed to the gifts open to C first (narrowest, then
//! oldest), keeping the unrestricted money for everything else; a receipt for less gives
//! the unused part back to the widest gifts first, and a hold released by a cancel or an
//! expiry gives everything back. Every attribution is written in `restricted_draws`, in the
//! transaction that moves the hold, so restricted money can never be spent elsewhere.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use crate::audit::{self, Actor};
use crate::domain::money::format_cents;
use crate::domain::request::Category;
use crate::store::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

/// The categories a gift is restricted to: at least one, each once, in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restriction(BTreeSet<&'static str>);

impl Restriction {
    pub fn new(categories: &[Category]) -> Result<Restriction, &'static str> {
        if categories.is_empty() {
            return Err(
                "name at least one category, or leave restricted_to out for an unrestricted gift",
            );
        }
        let set: BTreeSet<&'static str> = categories.iter().map(|c| c.as_str()).collect();
        if set.len() != categories.len() {
            return Err("names a category twice: name each once");
        }
        if set.len() == Category::ALL.len() {
            return Err("names every category, which restricts nothing: leave restricted_to out");
        }
        Ok(Restriction(set))
    }

    /// The stored form, such as `bus,hotel`.
    pub fn stored(&self) -> String {
        self.0.iter().copied().collect::<Vec<_>>().join(",")
    }

    pub fn categories(&self) -> Vec<&'static str> {
        self.0.iter().copied().collect()
    }
}

/// A gift that still holds restricted money.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Pool {
    pub id: String,
    pub restricted_to: String,
    pub restricted_remaining: i64,
}

/// Restricted money attributed to a request from one gift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    pub donation_id: String,
    pub amount: i64,
}

impl Pool {
    fn categories(&self) -> impl Iterator<Item = &str> {
        self.restricted_to.split(',')
    }

    fn open_to(&self, category: Category) -> bool {
        self.categories().any(|c| c == category.as_str())
    }

    fn width(&self) -> usize {
        self.categories().count()
    }
}

const POOLS: &str = "SELECT id, restricted_to, restricted_remaining FROM donations
     WHERE restricted_remaining > 0 ORDER BY created_at, id";

async fn pools(tx: &mut Tx) -> Result<Vec<Pool>, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query_as::<_, Pool>(POOLS).fetch_all(c).await)?)
}

/// What restricted gifts still hold, in cents: all of it, and the part a request of
/// `category` may not use. Callers hold the fund's lock.
pub async fn closed_to(tx: &mut Tx, category: Category) -> Result<i64, StoreError> {
    Ok(closed_to_in(&pools(tx).await?, category))
}

/// What these gifts hold that a request of `category` may not use.
pub fn closed_to_in(pools: &[Pool], category: Category) -> i64 {
    pools
        .iter()
        .filter(|p| !p.open_to(category))
        .map(|p| p.restricted_remaining)
        .sum()
}

/// Attributes `amount_cents` of newly held money of `category` to the gifts open to it,
/// narrowest then oldest first (`pools` in their stored order, oldest first), taking it
/// from `pools`; the rest is unrestricted money.
pub fn attribute(pools: &mut [Pool], category: Category, amount_cents: i64) -> Vec<Attribution> {
    let mut open: Vec<&mut Pool> = pools.iter_mut().filter(|p| p.open_to(category)).collect();
    // Stable: among gifts as narrow, the oldest goes first.
    open.sort_by_key(|p| p.width());
    let mut left = amount_cents;
    let mut taken = Vec::new();
    for pool in open {
        if left == 0 {
            break;
        }
        let take = left.min(pool.restricted_remaining);
        if take <= 0 {
            continue;
        }
        pool.restricted_remaining -= take;
        taken.push(Attribution {
            donation_id: pool.id.clone(),
            amount: take,
        });
        left -= take;
    }
    taken
}

/// The audit event of a request's attributions, if it has any.
pub fn draw_event<'a>(
    actor: &'a Actor,
    request_id: &str,
    draws: &[Attribution],
) -> Option<audit::NewEvent<'a>> {
    if draws.is_empty() {
        return None;
    }
    let taken: Vec<_> = draws
        .iter()
        .map(|d| json!({"donation": d.donation_id, "amount": d.amount}))
        .collect();
    Some(audit::NewEvent {
        actor,
        action: "restricted.draw",
        subject: format!("request:{request_id}"),
        content: json!({"draws": taken}),
    })
}

/// Writes the attributions of new requests (none drawn before): the gifts' remainders
/// in one statement, the draws in another.
pub async fn record_draws(tx: &mut Tx, draws: &[(&str, &Attribution)]) -> Result<(), StoreError> {
    if draws.is_empty() {
        return Ok(());
    }
    let mut by_gift: std::collections::BTreeMap<&str, i64> = Default::default();
    for (_, d) in draws {
        *by_gift.entry(d.donation_id.as_str()).or_insert(0) += d.amount;
    }
    on_tx!(tx, c => {
        let mut update = sqlx::QueryBuilder::new(
            "UPDATE donations SET restricted_remaining = restricted_remaining - CASE id",
        );
        for (id, cents) in &by_gift {
            update.push(" WHEN ").push_bind(*id).push(" THEN ").push_bind(*cents);
        }
        update.push(" ELSE 0 END WHERE id IN ");
        crate::store::push_list(&mut update, by_gift.keys().copied());
        update.build().execute(c).await.map(|_| ())
    })?;
    on_tx!(tx, c => {
        let mut insert = sqlx::QueryBuilder::new(
            "INSERT INTO restricted_draws (request_id, donation_id, amount) ",
        );
        insert.push_values(draws, |mut b, (request_id, d)| {
            b.push_bind(*request_id)
                .push_bind(&d.donation_id)
                .push_bind(d.amount);
        });
        insert.build().execute(c).await.map(|_| ())
    })?;
    Ok(())
}

/// All the restricted money the fund still holds, in cents, inside a transaction.
pub async fn remaining(tx: &mut Tx) -> Result<i64, StoreError> {
    Ok(pools(tx)
        .await?
        .iter()
        .map(|p| p.restricted_remaining)
        .sum())
}

/// Starts a gift's restriction when the gift is recorded.
pub async fn open(
    tx: &mut Tx,
    donation_id: &str,
    restriction: &Restriction,
    amount_cents: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE donations SET restricted_to = $2, restricted_remaining = $3 WHERE id = $1",
    )
    .bind(donation_id)
    .bind(restriction.stored())
    .bind(amount_cents)
    .execute(c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Moves `delta` cents of a gift's restricted money into a request's draw (or, negative,
/// back out of it), keeping no empty draw.
async fn change(
    tx: &mut Tx,
    request_id: &str,
    donation_id: &str,
    delta: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE donations SET restricted_remaining = restricted_remaining - $2 WHERE id = $1",
    )
    .bind(donation_id)
    .bind(delta)
    .execute(c)
    .await
    .map(|_| ()))?;
    let drawn: Option<i64> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT amount FROM restricted_draws WHERE request_id = $1 AND donation_id = $2",
    )
    .bind(request_id)
    .bind(donation_id)
    .fetch_optional(c)
    .await)?;
    let after = drawn.unwrap_or(0) + delta;
    // The three statements take the same parameters, so the DELETE names $3 too (it is the
    // 0 the draw comes down to): PostgreSQL refuses a parameter a statement never uses.
    let sql = match (drawn, after) {
        (None, _) => {
            "INSERT INTO restricted_draws (request_id, donation_id, amount) VALUES ($1, $2, $3)"
        }
        (Some(_), 0) => {
            "DELETE FROM restricted_draws WHERE request_id = $1 AND donation_id = $2 AND $3 = 0"
        }
        (Some(_), _) => {
            "UPDATE restricted_draws SET amount = $3 WHERE request_id = $1 AND donation_id = $2"
        }
    };
    on_tx!(tx, c => sqlx::query(sql)
        .bind(request_id)
        .bind(donation_id)
        .bind(after)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Attributes a request's newly held money to the gifts open to its category, narrowest
/// then oldest first; the rest is unrestricted money. Returns the cents attributed.
pub async fn draw(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    request_id: &str,
    category: Category,
    amount_cents: i64,
) -> Result<i64, StoreError> {
    let draws = attribute(&mut pools(tx).await?, category, amount_cents);
    for d in &draws {
        change(tx, request_id, &d.donation_id, d.amount).await?;
    }
    if let Some(event) = draw_event(actor, request_id, &draws) {
        audit::append_many(tx, now, &[event]).await?;
    }
    Ok(draws.iter().map(|d| d.amount).sum())
}

#[derive(sqlx::FromRow)]
struct Draw {
    donation_id: String,
    amount: i64,
    restricted_to: String,
}

/// Gives back to its gifts the part of a request's restricted money it did not spend:
/// everything when `spent_cents` is zero (a cancel or an expiry); after a receipt, what
/// exceeds the amount spent, widest gifts first (the narrow ones have fewer uses).
pub async fn release(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    request_id: &str,
    spent_cents: i64,
) -> Result<(), StoreError> {
    let mut draws: Vec<Draw> = on_tx!(tx, c => sqlx::query_as::<_, Draw>(
        "SELECT rd.donation_id, rd.amount, d.restricted_to FROM restricted_draws rd
         JOIN donations d ON d.id = rd.donation_id
         WHERE rd.request_id = $1 ORDER BY d.created_at DESC, d.id DESC",
    )
    .bind(request_id)
    .fetch_all(c)
    .await)?;
    let drawn: i64 = draws.iter().map(|d| d.amount).sum();
    let mut excess = drawn - spent_cents;
    if excess <= 0 {
        return Ok(());
    }
    draws.sort_by_key(|d| std::cmp::Reverse(d.restricted_to.split(',').count()));
    let mut given = Vec::new();
    for draw in draws {
        if excess == 0 {
            break;
        }
        let back = excess.min(draw.amount);
        change(tx, request_id, &draw.donation_id, -back).await?;
        given.push(json!({"donation": draw.donation_id, "amount": back}));
        excess -= back;
    }
    audit::append(
        tx,
        now,
        actor,
        "restricted.release",
        &format!("request:{request_id}"),
        &json!({"released": given}),
    )
    .await?;
    Ok(())
}

/// Restricted money still held, by the set of categories it may be spent on. Gifts with the
/// same restriction are added together: the figure says what the money is for, not who
/// gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RestrictedPool {
    #[schema(value_type = Vec<Category>)]
    pub categories: Vec<String>,
    #[schema(value_type = crate::domain::money::Figure)]
    pub remaining: String,
}

pub async fn by_restriction(db: &Db) -> Result<Vec<RestrictedPool>, StoreError> {
    let rows: Vec<(String, i64)> = on_db!(db, p => sqlx::query_as(
        "SELECT restricted_to, CAST(SUM(restricted_remaining) AS BIGINT) FROM donations
         WHERE restricted_remaining > 0 GROUP BY restricted_to ORDER BY restricted_to",
    )
    .fetch_all(p)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(to, cents)| RestrictedPool {
            categories: to.split(',').map(String::from).collect(),
            remaining: format_cents(cents),
        })
        .collect())
}
