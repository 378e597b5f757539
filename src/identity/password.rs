//! Password hashing with argon2id.
//!
//! Parameters (OWASP's first recommendation for argon2id): 19 MiB of memory, 2 passes,
//! 1 lane, a 16-byte random salt, a 32-byte output, stored as a PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$...`). Verification reads the parameters from the
//! stored string, so raising them later only changes new hashes.
//!
//! Hashing takes a noticeable fraction of a second of CPU on purpose, so it runs on the
//! blocking pool, never on the async workers.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use super::IdentityError;
use crate::domain::Password;

pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const LANES: u32 = 1;

fn argon2() -> Argon2<'static> {
    // The constants above are within argon2's bounds; `Params::new` only fails outside them.
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, Some(32))
        .expect("the argon2 parameters are valid constants");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password with a fresh salt (blocking: call [`hash`] from async code).
pub fn hash_blocking(password: &Password) -> Result<String, IdentityError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| IdentityError::Hash(e.to_string()))?;
    argon2()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| IdentityError::Hash(e.to_string()))
}

pub async fn hash(password: Password) -> Result<String, IdentityError> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| IdentityError::Hash(e.to_string()))?
}

/// A hash of a random password nobody knows, verified against when an email is unknown
/// so that an unknown email costs the same time as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random = hex::encode(rand::random::<[u8; 24]>());
        // A 48-character hex string is a valid password, and hashing it cannot fail with
        // these constant parameters.
        let password = Password::parse(random).expect("48 characters is long enough");
        hash_blocking(&password).expect("hashing with constant parameters succeeds")
    })
}

/// Whether `password` matches `stored`; with no stored hash (unknown email) it does the
/// same work against a dummy hash and answers false.
pub fn verify_blocking(password: &str, stored: Option<&str>) -> bool {
    let (hash, real) = match stored {
        Some(h) => (h, true),
        None => (dummy_hash(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let matches = argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    matches && real
}

/// What a refused common password is told (ASVS V2.1.7).
pub const COMMON_MESSAGE: &str = "is one of the 100,000 most common passwords, the ones \
     attackers try first: choose another, for example four or five words that do not belong \
     together";

/// Parses a password someone is choosing now (a new account, a change, a reset): long
/// enough, not too long, and not in the list of common passwords. `field` names it in the
/// error.
pub fn parse_new(field: &'static str, given: String) -> Result<Password, IdentityError> {
    let password = Password::parse(given).map_err(|e| IdentityError::invalid(field, e))?;
    if super::common_passwords::is_common(password.expose()) {
        return Err(IdentityError::invalid(field, COMMON_MESSAGE));
    }
    Ok(password)
}

pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || verify_blocking(&password, stored.as_deref()))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_argon2id_with_the_documented_parameters_and_verifies() {
        let p = Password::parse("a long enough passphrase".into()).unwrap();
        let h = hash_blocking(&p).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_blocking("a long enough passphrase", Some(&h)));
        assert!(!verify_blocking("a long enough passphrasE", Some(&h)));
        assert!(!verify_blocking("a long enough passphrase", None));
        assert!(!verify_blocking("anything", Some("not a hash")));
    }
}
