//! Who may use Passage: organisations, users, their passwords, the keys that sign their
//! tokens, and the throttle on sign-in. No HTTP here: `http/` and the CLI both call in.

pub mod common_passwords;
pub mod invitations;
pub mod keys;
pub mod links;
pub mod orgs;
pub mod password;
pub mod reset;
pub mod second_factor;
pub mod sessions;
pub mod sign_in;
pub mod throttle;
pub mod tokens;
pub mod users;

use crate::store::{Contention, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{field} {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("an account with this email already exists")]
    DuplicateEmail,
    #[error("an organisation with this name already exists")]
    DuplicateOrg,
    #[error(
        "no organisation has the id {0:?}: create it first (`passage org add`, or the API's orgs route)"
    )]
    UnknownOrg(String),
    /// An organisation named in the path (404), not in a body (422, [`Self::UnknownOrg`]).
    #[error("no organisation has the id {0:?}")]
    UnknownOrgId(String),
    #[error("no user has the id {0:?}")]
    UnknownUser(String),
    #[error("you cannot deactivate your own account: ask another admin")]
    SelfDeactivation,
    #[error("you cannot remove your own admin role: ask another admin")]
    SelfDemotion,
    #[error(
        "PASSAGE_JWT_SECRET or PASSAGE_JWT_KEY_FILE is set, so that secret signs every token: \
         to rotate, change the secret (tokens signed with the old one stop working) or unset it \
         to use keys kept in the database"
    )]
    KeysFromConfig,
    #[error(
        "the key `config` is PASSAGE_JWT_SECRET or PASSAGE_JWT_KEY_FILE: to retire it, change \
         the secret (every session signed with it ends)"
    )]
    RetireConfigKey,
    #[error("no signing key has the id {0:?}: `passage keys list` shows them")]
    UnknownKey(String),
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Contention for IdentityError {
    fn is_contention(&self) -> bool {
        matches!(self, IdentityError::Store(e) if e.is_contention())
    }
}

impl IdentityError {
    pub fn invalid(field: &'static str, message: impl std::fmt::Display) -> Self {
        IdentityError::Invalid {
            field,
            message: message.to_string(),
        }
    }
}

/// A new random id for a user or an organisation.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl From<sqlx::Error> for IdentityError {
    fn from(e: sqlx::Error) -> Self {
        IdentityError::Store(e.into())
    }
}
