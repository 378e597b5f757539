//! Every version of the policy document, kept and readable. A version is *proposed* by one
//! treasurer and takes force when a second, distinct treasurer co-signs it (DESIGN.md,
//! "Separation of duties"): one person holding the treasurer and caseworker roles could
//! otherwise open the rules wide and have their own request approved by them. From the
//! server's shell (`passage policy apply`) a version takes force at once: whoever has that
//! shell has the database anyway, and it is how a fund with one treasurer starts. The
//! version in force is the one that took force last.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{FieldError, FlowError, Policy};
use crate::audit::{self, Actor};
use crate::on_tx;
use crate::store::{Db, StoreError, Tx};

#[derive(Debug, Clone)]
pub struct PolicyVersion {
    pub version: i64,
    pub policy: Policy,
    /// Who proposed it: `user:ID`, `cli` or `system` (the defaults).
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// When it took force; `None` while it waits for a second treasurer.
    pub in_force_at: Option<DateTime<Utc>>,
    pub cosigned_by: Option<String>,
    pub cosigned_at: Option<DateTime<Utc>>,
}

/// Where a version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Waits for a second treasurer's signature.
    Proposed,
    /// Took force (it may since have been replaced by a later one).
    InForce,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Proposed => "proposed",
            Standing::InForce => "in_force",
        }
    }
}

impl PolicyVersion {
    pub fn standing(&self) -> Standing {
        if self.in_force_at.is_some() {
            Standing::InForce
        } else {
            Standing::Proposed
        }
    }

    /// The document as the API shows it: `{version, ...rules}` with every default filled in,
    /// and who proposed and co-signed it.
    pub fn to_json(&self) -> serde_json::Value {
        let mut doc = self.policy.to_json();
        doc["version"] = json!(self.version);
        doc["created_at"] = json!(self.created_at);
        doc["status"] = json!(self.standing().as_str());
        doc["proposed_by"] = json!(self.created_by);
        doc["in_force_at"] = json!(self.in_force_at);
        doc["cosigned_by"] = json!(self.cosigned_by);
        doc["cosigned_at"] = json!(self.cosigned_at);
        doc
    }
}

type StoredRow = (
    i64,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<DateTime<Utc>>,
);

const SELECT: &str = "SELECT version, document, created_by, created_at, in_force_at, cosigned_by,
        cosigned_at FROM policies";

fn stored(row: StoredRow) -> Result<PolicyVersion, StoreError> {
    let (version, document, created_by, created_at, in_force_at, cosigned_by, cosigned_at) = row;
    let value: serde_json::Value = serde_json::from_str(&document)
        .map_err(|e| StoreError::Sqlx(sqlx::Error::Decode(Box::new(e))))?;
    let policy = Policy::parse(value).map_err(|errors| {
        StoreError::Sqlx(sqlx::Error::Decode(
            format!("stored policy version {version} no longer parses: {errors:?}").into(),
        ))
    })?;
    Ok(PolicyVersion {
        version,
        policy,
        created_by,
        created_at,
        in_force_at,
        cosigned_by,
        cosigned_at,
    })
}

/// The policy in force: a read, in a read transaction as well as in a write one. Every
/// database has one: migration 0022 stores the DESIGN defaults as version 1 (by `system`,
/// in force since 1970-01-01, audited as `policy.apply`) in a database without any.
/// `_now` is what the defaults were once stored at, on first read; it is no longer used.
pub async fn current(tx: &mut Tx, _now: DateTime<Utc>) -> Result<PolicyVersion, StoreError> {
    let sql = format!(
        "{SELECT} WHERE in_force_at IS NOT NULL ORDER BY in_force_at DESC, version DESC LIMIT 1"
    );
    let row: StoredRow = on_tx!(tx, c => sqlx::query_as(&sql).fetch_one(c).await)?;
    stored(row)
}

/// The policy in force, for readers outside any transaction.
pub async fn in_force(db: &Db, now: DateTime<Utc>) -> Result<PolicyVersion, StoreError> {
    crate::read_tx!(db, |tx| -> Result<PolicyVersion, StoreError> async {
        current(tx, now).await
    })
}

pub async fn find(tx: &mut Tx, version: i64) -> Result<Option<PolicyVersion>, StoreError> {
    let sql = format!("{SELECT} WHERE version = $1");
    let row: Option<StoredRow> =
        on_tx!(tx, c => sqlx::query_as(&sql).bind(version).fetch_optional(c).await)?;
    row.map(stored).transpose()
}

/// Stores a new version after the newest one, in force at once when `in_force` says so.
async fn insert(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    policy: Policy,
    in_force: bool,
) -> Result<PolicyVersion, StoreError> {
    let version: i64 = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT CAST(COALESCE(MAX(version), 0) + 1 AS BIGINT) FROM policies"
    )
    .fetch_one(c)
    .await)?;
    let document = audit::canonical_json(&policy.to_json());
    let in_force_at = in_force.then_some(now);
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO policies (version, document, created_by, created_at, in_force_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(version)
    .bind(&document)
    .bind(&actor.0)
    .bind(now)
    .bind(in_force_at)
    .execute(c)
    .await
    .map(|_| ()))?;
    audit::append(
        tx,
        now,
        actor,
        if in_force {
            "policy.apply"
        } else {
            "policy.propose"
        },
        &format!("policy:{version}"),
        &policy.to_json(),
    )
    .await?;
    Ok(PolicyVersion {
        version,
        policy,
        created_by: actor.0.clone(),
        created_at: now,
        in_force_at,
        cosigned_by: None,
        cosigned_at: None,
    })
}

/// A treasurer proposes a new version; it decides nothing until another treasurer
/// co-signs it.
pub async fn propose(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    policy: Policy,
) -> Result<PolicyVersion, StoreError> {
    insert(tx, now, actor, policy, false).await
}

/// Puts a new version in force at once, with no second signature: for the server's shell
/// (`passage policy apply`, actor `cli`) and tests that set up a fund.
pub async fn apply(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    policy: Policy,
) -> Result<PolicyVersion, StoreError> {
    insert(tx, now, actor, policy, true).await
}

/// A second treasurer co-signs a proposed version, which takes force now. The proposer
/// cannot; a version already in force, or older than the one in force (it would silently
/// undo a later decision), cannot be co-signed.
pub async fn cosign(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    version: i64,
) -> Result<PolicyVersion, FlowError> {
    let in_force = current(tx, now).await?;
    let sql = format!("{SELECT} WHERE version = $1{}", tx.lock_rows());
    let row: Option<StoredRow> =
        on_tx!(tx, c => sqlx::query_as(&sql).bind(version).fetch_optional(c).await)?;
    let Some(found) = row.map(stored).transpose()? else {
        return Err(FlowError::NotFound(format!(
            "there is no policy version {version}"
        )));
    };
    if found.standing() == Standing::InForce {
        return Err(FlowError::Conflict(format!(
            "policy version {version} is already in force: there is nothing to co-sign"
        )));
    }
    if found.created_by == actor.0 {
        return Err(FlowError::Forbidden(format!(
            "you proposed policy version {version}, so another treasurer must co-sign it"
        )));
    }
    if found.version < in_force.version {
        return Err(FlowError::Conflict(format!(
            "policy version {} took force after version {version} was proposed: propose it again from the rules in force",
            in_force.version
        )));
    }
    on_tx!(tx, c => sqlx::query(
        "UPDATE policies SET in_force_at = $2, cosigned_by = $3, cosigned_at = $2
         WHERE version = $1",
    )
    .bind(version)
    .bind(now)
    .bind(&actor.0)
    .execute(c)
    .await
    .map(|_| ()))?;
    audit::append(
        tx,
        now,
        actor,
        "policy.cosign",
        &format!("policy:{version}"),
        &json!({"proposed_by": found.created_by}),
    )
    .await?;
    Ok(PolicyVersion {
        in_force_at: Some(now),
        cosigned_by: Some(actor.0.clone()),
        cosigned_at: Some(now),
        ..found
    })
}

/// Parses a document sent by a treasurer; the errors name each field.
pub fn parse(doc: serde_json::Value) -> Result<Policy, Vec<FieldError>> {
    Policy::parse(doc)
}

/// A line of the policy's history: who proposed which version when, and who co-signed it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryLine {
    pub version: i64,
    /// The proposer's display name or email; `system` for the defaults, `cli` from the
    /// server's shell.
    pub proposed_by: String,
    /// The proposer's `user:ID` (or `cli`, `system`), to tell a treasurer their own.
    pub proposer: String,
    pub created_at: DateTime<Utc>,
    pub cosigned_by: Option<String>,
    pub cosigned_at: Option<DateTime<Utc>>,
    pub in_force_at: Option<DateTime<Utc>>,
}

/// Every version, newest first.
pub async fn history(db: &Db) -> Result<Vec<HistoryLine>, StoreError> {
    Ok(crate::on_db!(db, p => sqlx::query_as(
        "SELECT p.version, COALESCE(u.display_name, u.email, p.created_by) AS proposed_by,
                p.created_by AS proposer, p.created_at,
                CASE WHEN p.cosigned_by IS NULL THEN NULL
                     ELSE COALESCE(s.display_name, s.email, p.cosigned_by) END AS cosigned_by,
                p.cosigned_at, p.in_force_at
         FROM policies p
         LEFT JOIN users u ON p.created_by = 'user:' || u.id
         LEFT JOIN users s ON p.cosigned_by = 'user:' || s.id
         ORDER BY p.version DESC LIMIT 200",
    )
    .fetch_all(p)
    .await)?)
}
