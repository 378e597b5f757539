//! Column mappings saved per bank (issue 18): a treasurer whose bank's CSV export no preset
//! reads saves which column holds what, under a name; a statement is then imported with
//! `layout=<name>`. Saving and deleting are audited; names are unique whatever their case
//! and never a preset's (migration 0038).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::BankError;
use super::read::{CsvLayout, DateOrder, Layout, Mapping};
use crate::audit;
use crate::cases::Staff;
use crate::on_tx;
use crate::store::{StoreError, Tx};

/// The longest name a saved layout may have.
pub const MAX_NAME_CHARS: usize = 60;

/// A mapping a treasurer saved, as the API shows it: columns counted from 1.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SavedLayout {
    pub id: String,
    /// What `layout=` names it by (any case).
    pub name: String,
    /// Whether the file's first row is a header (skipped).
    pub header: bool,
    pub date: u32,
    pub description: u32,
    pub withdrawal: Option<u32>,
    pub deposit: Option<u32>,
    /// One signed amount instead of `withdrawal` and `deposit`.
    pub amount: Option<u32>,
    pub balance: Option<u32>,
    pub date_order: DateOrder,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl SavedLayout {
    pub fn mapping(&self) -> Mapping {
        Mapping {
            header: self.header,
            date: self.date,
            description: self.description,
            withdrawal: self.withdrawal,
            deposit: self.deposit,
            amount: self.amount,
            balance: self.balance,
            date_order: self.date_order,
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    name: String,
    header: bool,
    date_column: i64,
    description_column: i64,
    withdrawal_column: Option<i64>,
    deposit_column: Option<i64>,
    amount_column: Option<i64>,
    balance_column: Option<i64>,
    date_order: DateOrder,
    created_by: String,
    created_at: DateTime<Utc>,
}

impl From<Row> for SavedLayout {
    fn from(r: Row) -> Self {
        let column = |c: i64| u32::try_from(c).unwrap_or(0);
        SavedLayout {
            id: r.id,
            name: r.name,
            header: r.header,
            date: column(r.date_column),
            description: column(r.description_column),
            withdrawal: r.withdrawal_column.map(column),
            deposit: r.deposit_column.map(column),
            amount: r.amount_column.map(column),
            balance: r.balance_column.map(column),
            date_order: r.date_order,
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

const COLUMNS: &str = "id, name, header, date_column, description_column, withdrawal_column, \
     deposit_column, amount_column, balance_column, date_order, created_by, created_at";

/// What is wrong with a layout to save: the field, and the catalogue key of its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayoutProblem {
    pub field: &'static str,
    pub key: &'static str,
}

/// A layout checked and ready to save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLayout {
    pub name: String,
    pub mapping: Mapping,
}

/// How a name is compared: trimmed, lowercased.
fn key_of(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A name of 1 to 60 letters, digits, spaces, `-`, `_` or `.`, not a preset's.
pub fn check(name: &str, mapping: Mapping) -> Result<NewLayout, LayoutProblem> {
    let name = name.trim();
    let count = name.chars().count();
    if count == 0
        || count > MAX_NAME_CHARS
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
    {
        return Err(LayoutProblem {
            field: "name",
            key: "bank-layout-name-invalid",
        });
    }
    if Layout::parse(name).is_some() {
        return Err(LayoutProblem {
            field: "name",
            key: "bank-layout-name-preset",
        });
    }
    mapping.check().map_err(|p| LayoutProblem {
        field: p.field,
        key: match p.code {
            "column_twice" => "bank-mapping-column-twice",
            "amounts" => "bank-mapping-amounts",
            _ => "bank-mapping-column-range",
        },
    })?;
    Ok(NewLayout {
        name: name.to_string(),
        mapping,
    })
}

pub async fn list(tx: &mut Tx) -> Result<Vec<SavedLayout>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM bank_layouts ORDER BY name_key");
    let rows: Vec<Row> = on_tx!(tx, c => sqlx::query_as(&sql).fetch_all(c).await)?;
    Ok(rows.into_iter().map(SavedLayout::from).collect())
}

/// The saved layout of that name (any case), if there is one.
pub async fn by_name(tx: &mut Tx, name: &str) -> Result<Option<SavedLayout>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM bank_layouts WHERE name_key = $1");
    let row: Option<Row> =
        on_tx!(tx, c => sqlx::query_as(&sql).bind(key_of(name)).fetch_optional(c).await)?;
    Ok(row.map(SavedLayout::from))
}

/// How a CSV statement named `name` is read: a preset, else a saved layout of that name.
pub async fn resolve(tx: &mut Tx, name: &str) -> Result<Option<CsvLayout>, StoreError> {
    if let Some(preset) = Layout::parse(name) {
        return Ok(Some(CsvLayout::Preset(preset)));
    }
    Ok(by_name(tx, name).await?.map(|saved| CsvLayout::Saved {
        mapping: saved.mapping(),
        name: saved.name,
    }))
}

/// Saves a layout, audited; 409 when a saved one has its name already.
pub async fn save(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    new: &NewLayout,
) -> Result<SavedLayout, BankError> {
    if by_name(tx, &new.name).await?.is_some() {
        return Err(BankError::Conflict(
            "a saved layout already has this name: delete it first to save it again, or choose another name".into(),
        ));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let m = &new.mapping;
    let column = |c: Option<u32>| c.map(i64::from);
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO bank_layouts (id, name, name_key, header, date_column, description_column,
             withdrawal_column, deposit_column, amount_column, balance_column, date_order,
             created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&id)
    .bind(&new.name)
    .bind(key_of(&new.name))
    .bind(m.header)
    .bind(i64::from(m.date))
    .bind(i64::from(m.description))
    .bind(column(m.withdrawal))
    .bind(column(m.deposit))
    .bind(column(m.amount))
    .bind(column(m.balance))
    .bind(m.date_order)
    .bind(&staff.user_id)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    let saved = by_name(tx, &new.name)
        .await?
        .ok_or_else(|| BankError::Internal("the layout saved cannot be read back".into()))?;
    audit::append(
        tx,
        now,
        &staff.actor(),
        "bank.layout_saved",
        &format!("bank_layout:{id}"),
        &json!({"name": saved.name, "header": m.header, "date": m.date,
                "description": m.description, "withdrawal": m.withdrawal,
                "deposit": m.deposit, "amount": m.amount, "balance": m.balance,
                "date_order": m.date_order}),
    )
    .await?;
    Ok(saved)
}

/// Deletes a saved layout, audited (statements imported with it keep its name).
pub async fn delete(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
) -> Result<(), BankError> {
    let sql = format!("SELECT {COLUMNS} FROM bank_layouts WHERE id = $1");
    let row: Option<Row> = on_tx!(tx, c => sqlx::query_as(&sql).bind(id).fetch_optional(c).await)?;
    let Some(saved) = row.map(SavedLayout::from) else {
        return Err(BankError::NotFound(
            "no saved layout has this id: the list of saved layouts gives their ids".into(),
        ));
    };
    on_tx!(tx, c => sqlx::query("DELETE FROM bank_layouts WHERE id = $1")
        .bind(id)
        .execute(c)
        .await
        .map(|_| ()))?;
    audit::append(
        tx,
        now,
        &staff.actor(),
        "bank.layout_deleted",
        &format!("bank_layout:{id}"),
        &json!({"name": saved.name}),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> Mapping {
        Mapping {
            header: true,
            date: 1,
            description: 2,
            withdrawal: Some(3),
            deposit: Some(4),
            amount: None,
            balance: Some(5),
            date_order: DateOrder::Dmy,
        }
    }

    #[test]
    fn names_and_columns_are_checked() {
        assert_eq!(
            check("  Banque Exemple ", mapping()).unwrap().name,
            "Banque Exemple"
        );
        for (name, key) in [
            ("", "bank-layout-name-invalid"),
            ("a/b", "bank-layout-name-invalid"),
            ("TD", "bank-layout-name-preset"),
            ("desjardins", "bank-layout-name-preset"),
        ] {
            assert_eq!(check(name, mapping()).unwrap_err().key, key, "{name:?}");
        }
        let twice = Mapping {
            balance: Some(1),
            ..mapping()
        };
        assert_eq!(
            check("x", twice).unwrap_err(),
            LayoutProblem {
                field: "balance",
                key: "bank-mapping-column-twice"
            }
        );
        let both = Mapping {
            amount: Some(6),
            ..mapping()
        };
        assert_eq!(check("x", both).unwrap_err().key, "bank-mapping-amounts");
        let far = Mapping {
            date: 51,
            ..mapping()
        };
        assert_eq!(check("x", far).unwrap_err().field, "date");
        let signed = Mapping {
            withdrawal: None,
            deposit: None,
            amount: Some(3),
            ..mapping()
        };
        assert!(check("x", signed).is_ok());
    }
}
