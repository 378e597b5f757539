//! Every version of the policy document, kept and readable; the newest one decides.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{FieldError, Policy};
use crate::audit::{self, Actor};
use crate::on_tx;
use crate::store::{Db, StoreError, Tx};

#[derive(Debug, Clone)]
pub struct PolicyVersion {
    pub version: i64,
    pub policy: Policy,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl PolicyVersion {
    /// The document as the API shows it: `{version, ...rules}` with every default filled in.
    pub fn to_json(&self) -> serde_json::Value {
        let mut doc = self.policy.to_json();
        doc["version"] = json!(self.version);
        doc["created_at"] = json!(self.created_at);
        doc
    }
}

fn stored(
    version: i64,
    document: &str,
    created_by: String,
    created_at: DateTime<Utc>,
) -> Result<PolicyVersion, StoreError> {
    let value: serde_json::Value = serde_json::from_str(document)
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
    })
}

/// The policy in force. On a new database the DESIGN defaults become version 1.
pub async fn current(tx: &mut Tx, now: DateTime<Utc>) -> Result<PolicyVersion, StoreError> {
    let row: Option<(i64, String, String, DateTime<Utc>)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT version, document, created_by, created_at FROM policies
         ORDER BY version DESC LIMIT 1",
    )
    .fetch_optional(c)
    .await)?;
    match row {
        Some((v, doc, by, at)) => stored(v, &doc, by, at),
        None => save(tx, now, &Actor::system(), Policy::default()).await,
    }
}

/// The policy in force, for readers outside any transaction. A write transaction still:
/// on a new database the defaults are stored as version 1 on first read.
pub async fn in_force(db: &Db, now: DateTime<Utc>) -> Result<PolicyVersion, StoreError> {
    crate::write_tx!(db, |tx| current(tx, now).await)
}

pub async fn find(tx: &mut Tx, version: i64) -> Result<Option<PolicyVersion>, StoreError> {
    let row: Option<(i64, String, String, DateTime<Utc>)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT version, document, created_by, created_at FROM policies WHERE version = $1",
    )
    .bind(version)
    .fetch_optional(c)
    .await)?;
    row.map(|(v, doc, by, at)| stored(v, &doc, by, at))
        .transpose()
}

/// Stores a new version after the newest one.
pub async fn save(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    policy: Policy,
) -> Result<PolicyVersion, StoreError> {
    let version: i64 = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT CAST(COALESCE(MAX(version), 0) + 1 AS BIGINT) FROM policies"
    )
    .fetch_one(c)
    .await)?;
    let document = audit::canonical_json(&policy.to_json());
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO policies (version, document, created_by, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(version)
    .bind(&document)
    .bind(&actor.0)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    audit::append(
        tx,
        now,
        actor,
        "policy.save",
        &format!("policy:{version}"),
        &policy.to_json(),
    )
    .await?;
    Ok(PolicyVersion {
        version,
        policy,
        created_by: actor.0.clone(),
        created_at: now,
    })
}

/// Parses a document sent by a treasurer; the errors name each field.
pub fn parse(doc: serde_json::Value) -> Result<Policy, Vec<FieldError>> {
    Policy::parse(doc)
}

/// A line of the policy's history: who saved which version when.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryLine {
    pub version: i64,
    /// The saver's display name or email; `system` for the defaults.
    pub saved_by: String,
    pub created_at: DateTime<Utc>,
}

/// Every version, newest first.
pub async fn history(db: &Db) -> Result<Vec<HistoryLine>, StoreError> {
    Ok(crate::on_db!(db, p => sqlx::query_as(
        "SELECT p.version, COALESCE(u.display_name, u.email, p.created_by) AS saved_by, p.created_at
         FROM policies p LEFT JOIN users u ON p.created_by = 'user:' || u.id
         ORDER BY p.version DESC LIMIT 200",
    )
    .fetch_all(p)
    .await)?)
}
