//! The coalition's member organisations.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::{IdentityError, new_id};
use crate::audit::{self, Actor};
use crate::domain::page::{Cursor, Page, PageRequest};
use crate::domain::{OrgType, Province};
use crate::store::{Db, StoreError, Tx};
use crate::{on_db, on_tx, write_tx};

#[derive(Debug, Clone)]
pub struct NewOrg {
    name: String,
    org_type: OrgType,
    province: Province,
}

impl NewOrg {
    pub const MAX_NAME_CHARS: usize = 200;

    pub fn new(name: &str, org_type: OrgType, province: Province) -> Result<Self, IdentityError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(IdentityError::invalid("name", "must not be empty"));
        }
        if name.chars().count() > Self::MAX_NAME_CHARS {
            return Err(IdentityError::invalid(
                "name",
                "must be at most 200 characters",
            ));
        }
        Ok(NewOrg {
            name: name.to_string(),
            org_type,
            province,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Org {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub org_type: OrgType,
    #[schema(value_type = crate::domain::Province)]
    pub province: String,
    pub created_at: DateTime<Utc>,
}

pub async fn create(
    db: &Db,
    now: DateTime<Utc>,
    actor: &Actor,
    new: &NewOrg,
) -> Result<Org, IdentityError> {
    let id = new_id();
    write_tx!(db, |tx| -> Result<Org, IdentityError> async {
        let taken: Option<String> = on_tx!(tx, c => sqlx::query_scalar(
            "SELECT id FROM orgs WHERE name = $1"
        )
        .bind(&new.name)
        .fetch_optional(c)
        .await)
        .map_err(StoreError::from)?;
        if taken.is_some() {
            return Err(IdentityError::DuplicateOrg);
        }
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO orgs (id, name, type, province, created_at) VALUES ($1, $2, $3, $4, $5)"
        )
        .bind(&id)
        .bind(&new.name)
        .bind(new.org_type)
        .bind(new.province.as_str())
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))
        .map_err(StoreError::from)?;
        audit::append(
            tx,
            now,
            actor,
            "org.create",
            &format!("org:{id}"),
            &json!({"name": new.name, "type": new.org_type.as_str(), "province": new.province.as_str()}),
        )
        .await?;
        Ok(Org {
            id: id.clone(),
            name: new.name.clone(),
            org_type: new.org_type,
            province: new.province.as_str().into(),
            created_at: now,
        })
    })
}

/// Renames an organisation and sets its type and province (all three as given: the API
/// and the admin's page send the whole organisation). Audited as `org.update`.
pub async fn update(
    db: &Db,
    now: DateTime<Utc>,
    actor: &Actor,
    id: &str,
    new: &NewOrg,
) -> Result<Org, IdentityError> {
    write_tx!(db, |tx| -> Result<Org, IdentityError> async {
        let taken: Option<String> = on_tx!(tx, c => sqlx::query_scalar(
            "SELECT id FROM orgs WHERE name = $1 AND id <> $2"
        )
        .bind(&new.name)
        .bind(id)
        .fetch_optional(c)
        .await)
        .map_err(StoreError::from)?;
        if taken.is_some() {
            return Err(IdentityError::DuplicateOrg);
        }
        let org: Option<Org> = on_tx!(tx, c => sqlx::query_as(
            "UPDATE orgs SET name = $2, type = $3, province = $4 WHERE id = $1
             RETURNING id, name, type, province, created_at"
        )
        .bind(id)
        .bind(&new.name)
        .bind(new.org_type)
        .bind(new.province.as_str())
        .fetch_optional(c)
        .await)
        .map_err(StoreError::from)?;
        let Some(org) = org else {
            return Err(IdentityError::UnknownOrgId(id.to_string()));
        };
        audit::append(
            tx,
            now,
            actor,
            "org.update",
            &format!("org:{id}"),
            &json!({"name": new.name, "type": new.org_type.as_str(), "province": new.province.as_str()}),
        )
        .await?;
        Ok(org)
    })
}

/// One organisation.
pub async fn find(db: &Db, id: &str) -> Result<Option<Org>, StoreError> {
    Ok(on_db!(db, p => sqlx::query_as::<_, Org>(
        "SELECT id, name, type, province, created_at FROM orgs WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(p)
    .await)?)
}

/// One page of the organisations, newest first (`GET /api/v1/orgs`, the admin page).
pub async fn page(db: &Db, page: &PageRequest) -> Result<Page<Org>, StoreError> {
    let (cursor, _) = page.bound();
    let (keyset, order) = crate::domain::page::keyset_sql(page, false, "0", "created_at", "id", 2);
    let sql = format!(
        "SELECT id, name, type, province, created_at FROM orgs WHERE {keyset}
         ORDER BY {order} LIMIT $1"
    );
    let rows: Vec<Org> = on_db!(db, p => sqlx::query_as::<_, Org>(&sql)
        .bind(page.fetch())
        .bind(cursor.map(|c| c.rank))
        .bind(cursor.map(|c| c.at))
        .bind(cursor.map(|c| c.id.clone()))
        .fetch_all(p)
        .await)?;
    Ok(Page::from_rows(rows, page, |o| Cursor {
        rank: 0,
        at: o.created_at,
        id: o.id.clone(),
    }))
}

/// Every organisation by name, for the pickers of forms (a coalition has hundreds, not
/// more).
pub async fn list(db: &Db) -> Result<Vec<Org>, StoreError> {
    Ok(on_db!(db, p => sqlx::query_as::<_, Org>(
        "SELECT id, name, type, province, created_at FROM orgs ORDER BY name, id"
    )
    .fetch_all(p)
    .await)?)
}

pub(crate) async fn exists(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    let found: Option<String> = on_tx!(tx, c => sqlx::query_scalar("SELECT id FROM orgs WHERE id = $1")
        .bind(id)
        .fetch_optional(c)
        .await)?;
    Ok(found.is_some())
}
