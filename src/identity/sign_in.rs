//! Signing in with an email and a password, and changing one's own password (which checks
//! the current one the same way): the one path the JSON API and the web pages share,
//! throttle included.

use chrono::{DateTime, Utc};

use super::second_factor;
use super::sessions::Origin;
use super::throttle::{self, Verdict};
use super::tokens::{self, Issued};
use super::users::{self, User};
use super::{IdentityError, password};
use crate::audit::Actor;
use crate::config::Config;
use crate::domain::Email;
use crate::store::Db;

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown email, wrong password or deactivated account: deliberately one answer.
    #[error("the email or the password is wrong")]
    Refused,
    #[error("too many failed sign-ins: try again in {retry_after_secs} seconds")]
    Throttled { retry_after_secs: u64 },
    /// Changing a password: the current password given is not the user's.
    #[error(
        "is not your current password: type the password you sign in with (forgotten it? ask an admin)"
    )]
    WrongCurrent,
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

impl From<crate::store::StoreError> for SignInError {
    fn from(e: crate::store::StoreError) -> Self {
        SignInError::Identity(e.into())
    }
}

/// What a right password gives.
pub enum SignedIn {
    /// A session: the account has no second factor.
    Session(Box<User>, Issued),
    /// The account has a second factor: this challenge and a code give the session
    /// ([`second_factor::complete`]).
    SecondFactor { challenge: String },
}

/// Checks the password and issues a token, or a challenge for the second factor when the
/// account has one.
///
/// Every failure (unknown email, wrong password, deactivated account) does the same
/// work (one argon2 verification), records the same failure and waits the same delay,
/// so neither the answer nor its timing tells which it was.
pub async fn sign_in(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
    email: &str,
    given_password: String,
    origin: &Origin,
) -> Result<SignedIn, SignInError> {
    let scopes = throttle::scopes(config, email, &origin.address);
    let (attempt, failures) = match throttle::admit(db, config, now, &scopes).await? {
        Verdict::Refused { retry_after_secs } => {
            return Err(SignInError::Throttled { retry_after_secs });
        }
        Verdict::Admitted { attempt, failures } => (attempt, failures),
    };
    let found = match Email::parse(email) {
        Ok(email) => users::find_for_login(db, &email).await?,
        Err(_) => None,
    };
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let matches = password::verify(given_password, hash).await;
    let user = match user {
        Some(user) if matches && user.active => user,
        _ => {
            // The attempt is already recorded as a failure.
            tokio::time::sleep(throttle::failure_delay(config, failures)).await;
            return Err(SignInError::Refused);
        }
    };
    throttle::succeeded(db, &attempt, &scopes[0]).await?;
    if second_factor::enrolled(db, &user.id).await? {
        let challenge = second_factor::challenge(db, now, &user.id, origin).await?;
        return Ok(SignedIn::SecondFactor { challenge });
    }
    let issued = tokens::issue_session(db, config, now, &user, origin).await?;
    Ok(SignedIn::Session(Box::new(user), issued))
}

/// Changes user `user_id`'s own password after checking the current one.
///
/// The new password is checked first (length, the list of common passwords: 422 on
/// `new`). A wrong current password counts as a failed sign-in of the user's email and the
/// client's address, so a stolen session cannot be used to guess the password behind it
/// faster than the sign-in page allows.
pub async fn change_password(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
    user_id: &str,
    current: String,
    new: String,
    client_ip: &str,
) -> Result<(), SignInError> {
    let new = password::parse_new("new", new)?;
    let user = users::find(db, user_id)
        .await?
        .ok_or_else(|| IdentityError::UnknownUser(user_id.to_string()))?;
    let scopes = throttle::scopes(config, &user.email, client_ip);
    let (attempt, failures) = match throttle::admit(db, config, now, &scopes).await? {
        Verdict::Refused { retry_after_secs } => {
            return Err(SignInError::Throttled { retry_after_secs });
        }
        Verdict::Admitted { attempt, failures } => (attempt, failures),
    };
    let stored = users::find_for_login(
        db,
        &Email::parse(&user.email).map_err(|e| IdentityError::invalid("email", e))?,
    )
    .await?
    .map(|(_, hash)| hash);
    if !password::verify(current, stored).await {
        tokio::time::sleep(throttle::failure_delay(config, failures)).await;
        return Err(SignInError::WrongCurrent);
    }
    throttle::succeeded(db, &attempt, &scopes[0]).await?;
    let hash = password::hash(new).await?;
    users::set_password_hash(
        db,
        now,
        &Actor(format!("user:{}", user.id)),
        &user.id,
        &hash,
    )
    .await?;
    Ok(())
}
