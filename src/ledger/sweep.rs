use chrono::{DateTime, Utc};

use super::{LedgerError, NewTransfer, Outcome, TransferKind, TransferSpec, transfer};
use crate::audit::Actor;
use crate::on_db;
use crate::store::Db;

/// Expires every hold whose time has passed, each in its own transaction, and returns
/// how many this call expired. Safe to run from several instances at once and after a
/// crash: the expiry's id is derived from the hold's, and a hold is resolved at most
/// once, so a hold another sweeper (or a receipt) got to first is simply skipped.
pub async fn sweep_expired(db: &Db, now: DateTime<Utc>) -> Result<usize, LedgerError> {
    let due: Vec<String> = on_db!(db, p => sqlx::query_scalar(
        "SELECT t.id FROM transfers t
         WHERE t.kind = $2 AND t.expires_at <= $1
           AND NOT EXISTS (SELECT 1 FROM transfers r WHERE r.pending_id = t.id)
         ORDER BY t.expires_at",
    )
    .bind(now)
    .bind(TransferKind::Pending)
    .fetch_all(p)
    .await)?;
    let mut expired = 0;
    for pending_id in due {
        let expiry = NewTransfer {
            id: format!("expire:{pending_id}"),
            spec: TransferSpec::Expire { pending_id },
            code: "expiry".into(),
            reference: None,
        };
        if let Outcome::Created(_) = transfer(db, now, &Actor::system(), &expiry).await? {
            expired += 1;
        }
    }
    Ok(expired)
}
