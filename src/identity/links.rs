//! The emailed single-use links that set an account's password: an admin's invitation
//! and a forgotten password's reset. Both are used up the same way, in one place: the link
//! must be unused, unexpired and of an active account; the password is set; tokens issued
//! before now are refused; and every other open link of the account, of either kind, is
//! used up with it (a link mailed earlier must not set a second password later).

use chrono::{DateTime, Utc};

use crate::on_tx;
use crate::store::{StoreError, Tx};

/// Which link sets the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Invitation,
    PasswordReset,
}

impl Link {
    /// Uses up the link whose token hashes to `$1`, if it is still open at `$2`.
    fn use_sql(self) -> &'static str {
        match self {
            Link::Invitation => {
                "UPDATE invitations SET used_at = $2, accepted = TRUE
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
                 RETURNING user_id"
            }
            Link::PasswordReset => {
                "UPDATE password_resets SET used_at = $2
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
                 RETURNING user_id"
            }
        }
    }
}

/// In the caller's transaction: uses up the `link` whose token hashes to `token_hash`,
/// sets the account's password to `password_hash` (hashed before the transaction: it is
/// slow) and refuses tokens issued before `now`, then uses up every other open link of
/// the account. Answers the account's id, or `None` when the link is unknown, used,
/// expired, or its account deactivated; the caller then rolls back, so nothing is used up.
pub async fn set_password(
    tx: &mut Tx,
    now: DateTime<Utc>,
    link: Link,
    token_hash: &str,
    password_hash: &str,
) -> Result<Option<String>, StoreError> {
    let user_id: Option<String> = on_tx!(tx, c => sqlx::query_scalar(link.use_sql())
        .bind(token_hash)
        .bind(now)
        .fetch_optional(c)
        .await)?;
    let Some(user_id) = user_id else {
        return Ok(None);
    };
    let changed = on_tx!(tx, c => sqlx::query(
        "UPDATE users SET password_hash = $1, tokens_not_before = $2
         WHERE id = $3 AND active"
    )
    .bind(password_hash)
    .bind(now)
    .bind(&user_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if changed == 0 {
        return Ok(None);
    }
    for open_links in [
        "UPDATE invitations SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
        "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
    ] {
        on_tx!(tx, c => sqlx::query(open_links)
            .bind(&user_id)
            .bind(now)
            .execute(c)
            .await
            .map(|_| ()))?;
    }
    Ok(Some(user_id))
}
