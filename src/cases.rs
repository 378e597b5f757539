//! Cases: anonymous codes, their organisation, their province and their dates; nothing
//! else. A case can be shared with another organisation, closed and reopened.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use crate::audit::{self, Actor};
use crate::domain::case_code::CaseCode;
use crate::domain::page::{Cursor, Page, PageRequest};
use crate::domain::{CaseStatus, Province, RequestStatus};
use crate::on_tx;
use crate::store::{StoreError, Tx};

/// What can stop a step on a case; the HTTP layer maps each to a status.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CaseError {
    fn from(e: sqlx::Error) -> Self {
        CaseError::Store(e.into())
    }
}

impl crate::store::Contention for CaseError {
    fn is_contention(&self) -> bool {
        matches!(self, CaseError::Store(e) if e.is_contention())
    }
}

/// Who is acting, as the lifecycle needs to know it.
#[derive(Debug, Clone)]
pub struct Staff {
    pub user_id: String,
    pub org_id: Option<String>,
    pub treasurer: bool,
    pub caseworker: bool,
}

impl Staff {
    pub fn actor(&self) -> Actor {
        Actor(format!("user:{}", self.user_id))
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Case {
    #[schema(example = "QC-7K4M-2XR9")]
    pub code: String,
    pub org_id: String,
    #[schema(value_type = crate::domain::Province)]
    pub province: String,
    pub status: CaseStatus,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// What a staff member may do with a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nothing: not even whether it exists.
    None,
    /// Ask for it and read it: a case shared with the caseworker's organisation.
    Works,
    /// Also share it, stop sharing it, close and reopen it.
    Owns,
}

/// The one rule of who may see and act on a case, given the organisation that opened it
/// and whether it is shared with the staff member's organisation: a treasurer owns every
/// case; a caseworker owns their organisation's and works on those shared with it; anyone
/// else (an admin without the caseworker role) has no access. Every path asks this.
pub fn access(staff: &Staff, case_org: &str, shared_with_theirs: bool) -> Access {
    if staff.treasurer {
        return Access::Owns;
    }
    match staff.org_id.as_deref().filter(|_| staff.caseworker) {
        Some(org) if org == case_org => Access::Owns,
        Some(_) if shared_with_theirs => Access::Works,
        _ => Access::None,
    }
}

/// [`access`] in SQL, for a list: whether the case `code_col` of organisation `org_col`
/// is one the caseworker's organisation (the parameter `org_param`) owns or works on.
/// (Treasurers, who see every case, are not narrowed by it.)
pub fn visible_sql(code_col: &str, org_col: &str, org_param: &str) -> String {
    format!(
        "({org_col} = {org_param}
          OR {code_col} IN (SELECT case_code FROM case_shares WHERE org_id = {org_param}))"
    )
}

/// The refusal of a case the rule gives no access to, or of a code with no case: the
/// same answer for both, so a caseworker cannot probe for codes (a treasurer, who sees
/// every case, is told it does not exist).
pub fn refusal(staff: &Staff, exists: bool) -> CaseError {
    if staff.treasurer && !exists {
        CaseError::NotFound("no case has this code: check it".into())
    } else {
        CaseError::Forbidden("this case is not one of your organisation's: check the code".into())
    }
}

/// Which of these cases are shared with which organisations, in one statement.
pub async fn shares_of(
    tx: &mut Tx,
    codes: &[&str],
) -> Result<std::collections::HashSet<(String, String)>, StoreError> {
    if codes.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(String, String)> = on_tx!(tx, c => {
        let mut select =
            sqlx::QueryBuilder::new("SELECT case_code, org_id FROM case_shares WHERE case_code IN ");
        crate::store::push_list(&mut select, codes.iter().copied());
        select.build_query_as().fetch_all(c).await
    })?;
    Ok(rows.into_iter().collect())
}

/// Loads a case the staff member may act on, locked until `tx` ends, with the access the
/// rule gives them.
async fn load_with_access(
    tx: &mut Tx,
    staff: &Staff,
    code: &CaseCode,
) -> Result<(Case, Access), CaseError> {
    let sql = format!(
        "SELECT code, org_id, province, status, opened_at, closed_at FROM cases WHERE code = $1{}",
        tx.lock_rows()
    );
    let case: Option<Case> =
        on_tx!(tx, c => sqlx::query_as(&sql).bind(code.as_str()).fetch_optional(c).await)?;
    let Some(case) = case else {
        return Err(refusal(staff, false));
    };
    let access = match access(staff, &case.org_id, false) {
        Access::Owns => Access::Owns,
        _ => {
            let shared = match staff.org_id.as_deref() {
                Some(org) => shares_of(tx, &[case.code.as_str()])
                    .await?
                    .contains(&(case.code.clone(), org.to_string())),
                None => false,
            };
            access(staff, &case.org_id, shared)
        }
    };
    match access {
        Access::None => Err(refusal(staff, true)),
        _ => Ok((case, access)),
    }
}

/// Loads a case the staff member may act on, locked until `tx` ends.
pub async fn load_for(tx: &mut Tx, staff: &Staff, code: &CaseCode) -> Result<Case, CaseError> {
    Ok(load_with_access(tx, staff, code).await?.0)
}

/// A case as its page shows it to `staff`: the case, what they may do with it, and, when
/// they own it, the organisations it is shared with (in the order they were added).
pub async fn load_for_page(
    tx: &mut Tx,
    staff: &Staff,
    code: &CaseCode,
) -> Result<(Case, Access, Vec<String>), CaseError> {
    let (case, access) = load_with_access(tx, staff, code).await?;
    let shared_with = if access == Access::Owns {
        on_tx!(tx, c => sqlx::query_scalar(
            "SELECT org_id FROM case_shares WHERE case_code = $1 ORDER BY shared_at, org_id"
        )
        .bind(&case.code)
        .fetch_all(c)
        .await)?
    } else {
        Vec::new()
    };
    Ok((case, access, shared_with))
}

/// Loads a case the staff member may share, stop sharing, close or reopen: only its own
/// organisation's caseworkers and treasurers may. An organisation the case was shared
/// with works on it (asks, reads) but does not pass it on or close it.
async fn load_owned(tx: &mut Tx, staff: &Staff, code: &CaseCode) -> Result<Case, CaseError> {
    match load_with_access(tx, staff, code).await? {
        (case, Access::Owns) => Ok(case),
        _ => Err(CaseError::Forbidden(
            "this case was shared with your organisation: only the organisation that opened it, or a treasurer, may share it, stop sharing it, close it or reopen it; ask them".into(),
        )),
    }
}

/// Whether a staff member reads the notes (and cities) of a request made by `org_id`:
/// treasurers read every one; a caseworker reads their own organisation's only, so an
/// organisation a case is shared with sees the other organisations' requests on it
/// (amounts, categories, statuses) but not what those organisations wrote.
pub fn reads_notes_of(staff: &Staff, org_id: &str) -> bool {
    staff.treasurer || staff.org_id.as_deref() == Some(org_id)
}

/// Several cases by code, locked until `tx` ends (in code order, as every batch takes
/// them, so two batches cannot wait on each other). Codes with no case are left out;
/// access is the caller's to check.
pub async fn lock_many(tx: &mut Tx, codes: &[&str]) -> Result<Vec<Case>, StoreError> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let lock = tx.lock_rows();
    Ok(on_tx!(tx, c => {
        let mut select = sqlx::QueryBuilder::new(
            "SELECT code, org_id, province, status, opened_at, closed_at FROM cases WHERE code IN ",
        );
        crate::store::push_list(&mut select, codes.iter().copied());
        select.push(" ORDER BY code");
        select.push(lock);
        select.build_query_as().fetch_all(c).await
    })?)
}

pub async fn open(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    province: Province,
) -> Result<Case, CaseError> {
    let org_id = staff.org_id.clone().ok_or_else(|| {
        CaseError::Forbidden("only a caseworker of an organisation opens cases".into())
    })?;
    let code = CaseCode::generate(province.as_str(), &mut rand::thread_rng()).map_err(|e| {
        CaseError::Invalid {
            field: "province".into(),
            message: e.to_string(),
        }
    })?;
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO cases (code, org_id, province, status, opened_at) VALUES ($1, $2, $3, $5, $4)",
    )
    .bind(code.as_str())
    .bind(&org_id)
    .bind(province.as_str())
    .bind(now)
    .bind(CaseStatus::Open)
    .execute(c)
    .await
    .map(|_| ()))?;
    audit::append(
        tx,
        now,
        &staff.actor(),
        "case.open",
        &format!("case:{}", code.as_str()),
        &json!({"org_id": org_id, "province": province.as_str()}),
    )
    .await?;
    Ok(Case {
        code: code.as_str().into(),
        org_id,
        province: province.as_str().into(),
        status: CaseStatus::Open,
        opened_at: now,
        closed_at: None,
    })
}

/// Shares a case with another organisation (an interprovincial hand-off).
pub async fn share(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    code: &CaseCode,
    org_id: &str,
) -> Result<(), CaseError> {
    let case = load_owned(tx, staff, code).await?;
    org_must_exist(tx, org_id).await?;
    if case.org_id == org_id {
        return Ok(());
    }
    // Sharing what is already shared (a retried form) changes nothing.
    let added = on_tx!(tx, c => sqlx::query(
        "INSERT INTO case_shares (case_code, org_id, shared_at) VALUES ($1, $2, $3)
         ON CONFLICT (case_code, org_id) DO NOTHING",
    )
    .bind(&case.code)
    .bind(org_id)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if added > 0 {
        audit::append(
            tx,
            now,
            &staff.actor(),
            "case.share",
            &format!("case:{}", case.code),
            &json!({"org_id": org_id}),
        )
        .await?;
    }
    Ok(())
}

async fn org_must_exist(tx: &mut Tx, org_id: &str) -> Result<(), CaseError> {
    let exists: Option<String> = on_tx!(tx, c => sqlx::query_scalar("SELECT id FROM orgs WHERE id = $1")
        .bind(org_id)
        .fetch_optional(c)
        .await)?;
    match exists {
        Some(_) => Ok(()),
        None => Err(CaseError::Invalid {
            field: "org_id".into(),
            message: "no organisation has this id".into(),
        }),
    }
}

/// Stops sharing a case with an organisation: its caseworkers no longer see the case or
/// ask for it (their requests already made stay, with the case). Stopping what was not
/// shared changes nothing.
pub async fn unshare(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    code: &CaseCode,
    org_id: &str,
) -> Result<(), CaseError> {
    let case = load_owned(tx, staff, code).await?;
    org_must_exist(tx, org_id).await?;
    let removed = on_tx!(tx, c => sqlx::query(
        "DELETE FROM case_shares WHERE case_code = $1 AND org_id = $2",
    )
    .bind(&case.code)
    .bind(org_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if removed > 0 {
        audit::append(
            tx,
            now,
            &staff.actor(),
            "case.unshare",
            &format!("case:{}", case.code),
            &json!({"org_id": org_id}),
        )
        .await?;
    }
    Ok(())
}

/// Closes or reopens a case (court travel can come back years later).
pub async fn set_open(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    code: &CaseCode,
    open: bool,
) -> Result<Case, CaseError> {
    let mut case = load_owned(tx, staff, code).await?;
    // Closing a closed case (or reopening an open one: a retried form) changes nothing.
    if case.status.is_open() == open {
        return Ok(case);
    }
    let (status, closed_at, action) = if open {
        (CaseStatus::Open, None, "case.reopen")
    } else {
        (CaseStatus::Closed, Some(now), "case.close")
    };
    on_tx!(tx, c => sqlx::query("UPDATE cases SET status = $2, closed_at = $3 WHERE code = $1")
        .bind(&case.code)
        .bind(status)
        .bind(closed_at)
        .execute(c)
        .await
        .map(|_| ()))?;
    audit::append(
        tx,
        now,
        &staff.actor(),
        action,
        &format!("case:{}", case.code),
        &json!({}),
    )
    .await?;
    case.status = status;
    case.closed_at = closed_at;
    Ok(case)
}

/// A line of a caseworker's list of cases.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
pub struct CaseLine {
    pub code: String,
    pub province: String,
    pub status: CaseStatus,
    pub opened_at: DateTime<Utc>,
    /// How many requests the case has.
    pub requests: i64,
    /// Requests still waiting for a treasurer or holding money.
    pub active: i64,
}

/// What a list of cases is narrowed to: each part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFilter {
    pub status: Option<CaseStatus>,
    /// Codes beginning with this (see [`crate::domain::page::code_prefix`]).
    pub code: Option<String>,
    /// One organisation's own cases (a treasurer's filter).
    pub org: Option<String>,
    /// Opened on or after this day, on or before that one (UTC).
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
}

/// One page of the cases an organisation works on (its own and those shared with it;
/// every case when `visible_org` is `None`, for a treasurer), newest first.
pub async fn page(
    db: &crate::store::Db,
    visible_org: Option<&str>,
    filter: &CaseFilter,
    page: &PageRequest,
) -> Result<Page<CaseLine>, StoreError> {
    let (cursor, _) = page.bound();
    let (keyset, order) =
        crate::domain::page::keyset_sql(page, false, "0", "c.opened_at", "c.code", 10);
    let (from, to) = crate::domain::page::day_bounds(filter.from, filter.to);
    let sql = format!(
        "SELECT c.code, c.province, c.status, c.opened_at,
            (SELECT COUNT(*) FROM requests r WHERE r.case_code = c.code) AS requests,
            (SELECT COUNT(*) FROM requests r WHERE r.case_code = c.code
                AND r.status IN ($2, $3)) AS active
         FROM cases c
         WHERE ($1 IS NULL OR {})
           AND ($4 IS NULL OR c.status = $4) AND ($5 IS NULL OR c.code LIKE $5)
           AND ($6 IS NULL OR c.org_id = $6)
           AND ($7 IS NULL OR c.opened_at >= $7) AND ($8 IS NULL OR c.opened_at < $8)
           AND {keyset}
         ORDER BY {order} LIMIT $9",
        visible_sql("c.code", "c.org_id", "$1")
    );
    let like = filter.code.as_ref().map(|c| format!("{c}%"));
    let rows: Vec<CaseLine> = crate::on_db!(db, p => sqlx::query_as(&sql)
        .bind(visible_org)
        .bind(RequestStatus::Pending)
        .bind(RequestStatus::Approved)
        .bind(filter.status)
        .bind(&like)
        .bind(&filter.org)
        .bind(from)
        .bind(to)
        .bind(page.fetch())
        .bind(cursor.map(|c| c.rank))
        .bind(cursor.map(|c| c.at))
        .bind(cursor.map(|c| c.id.clone()))
        .fetch_all(p)
        .await)?;
    Ok(Page::from_rows(rows, page, |l| Cursor {
        rank: 0,
        at: l.opened_at,
        id: l.code.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff(org: Option<&str>, treasurer: bool, caseworker: bool) -> Staff {
        Staff {
            user_id: "u".into(),
            org_id: org.map(Into::into),
            treasurer,
            caseworker,
        }
    }

    #[test]
    fn one_rule_decides_who_may_see_and_act_on_a_case() {
        let cw = staff(Some("org-a"), false, true);
        assert_eq!(access(&cw, "org-a", false), Access::Owns);
        assert_eq!(access(&cw, "org-b", false), Access::None);
        assert_eq!(access(&cw, "org-b", true), Access::Works);
        // Treasurers act on every case; the admin role alone gives none.
        assert_eq!(
            access(&staff(None, true, false), "org-b", false),
            Access::Owns
        );
        assert_eq!(
            access(&staff(Some("org-b"), false, false), "org-b", true),
            Access::None
        );
        // Unknown and foreign codes get the same answer; a treasurer is told plainly.
        assert_eq!(
            refusal(&cw, false).to_string(),
            refusal(&cw, true).to_string()
        );
        assert!(matches!(
            refusal(&staff(None, true, false), false),
            CaseError::NotFound(_)
        ));
    }
}
