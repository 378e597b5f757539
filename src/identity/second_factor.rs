//! A second factor: TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, through the
//! `totp-rs` crate) and ten single-use recovery codes.
//!
//! - **The secret** is 20 random bytes. With `PASSAGE_TOTP_KEY` set it is sealed
//!   (XChaCha20-Poly1305, a key derived from the setting, the user's id as associated data,
//!   so a row copied onto another user does not open): a stolen database alone gives no
//!   codes. Without the setting it is stored as it is (the operations guide says so). It is
//!   shown once, at enrolment, and never logged or audited.
//! - **A code works once**: the step of the last accepted code is kept, and a code of that
//!   step or an earlier one is refused, even within its 30 seconds. One step either side
//!   of the clock's is accepted (a phone's clock drifts).
//! - **Recovery codes** are 80 random bits (16 Crockford base32 characters, shown as four
//!   groups); only `SHA-256(user id, code)` is stored. A fast hash is enough for a random
//!   80-bit value (the argon2id that guards passwords is for secrets people choose), and it
//!   lets one indexed lookup find the code, where checking ten argon2 hashes per attempt
//!   would cost seconds of CPU a guesser could spend for free.
//! - **The challenge** between a right password and the code is 32 random bytes; only its
//!   SHA-256 is stored. It lasts five minutes, is used up by the sign-in it completes, and
//!   is no token: the API refuses it as a bearer token (it is no signed JWT).
//! - **Guessing** is throttled like sign-in (`identity::throttle`), per account and per
//!   address, under scopes of its own; each failure is audited (`user.second_factor_failed`,
//!   never the code).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::IdentityError;
use super::sessions::Origin;
use super::throttle::{self, Scope, Verdict};
use super::tokens::{self, Issued};
use super::users::{self, User};
use crate::audit::{self, Actor};
use crate::config::Config;
use crate::store::{Contention, Db, StoreError};
use crate::{on_db, on_tx, write_tx};

/// How many recovery codes an enrolment gives.
pub const RECOVERY_CODES: usize = 10;
/// How long the step between the password and the code may take.
pub const CHALLENGE_LIFETIME: Duration = Duration::minutes(5);
/// RFC 6238's step, in seconds.
const STEP_SECS: i64 = 30;
/// Codes of one step either side of the clock's are accepted.
const SKEW_STEPS: i64 = 1;
const ISSUER: &str = "Passage";

#[derive(Debug, thiserror::Error)]
pub enum FactorError {
    #[error(
        "a second factor is already set up for this account: to set up a new one (a lost \
         phone), ask an admin to reset it"
    )]
    AlreadyEnrolled,
    #[error("no second factor is being set up: start setting one up first")]
    NotStarted,
    /// A wrong, reused or stale code: deliberately one answer.
    #[error(
        "is not a code that works now: type the 6 digits your app shows now (each code works \
         once), or one of your recovery codes"
    )]
    WrongCode,
    #[error("this sign-in step expired (it lasts five minutes) or was used: sign in again")]
    BadChallenge,
    #[error("too many wrong codes: try again in {retry_after_secs} seconds")]
    Throttled { retry_after_secs: u64 },
    #[error(
        "this account's second factor is sealed with a PASSAGE_TOTP_KEY that this server does \
         not have: set the same key, or ask an admin to reset the factor"
    )]
    Sealed,
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

impl Contention for FactorError {
    fn is_contention(&self) -> bool {
        matches!(self, FactorError::Identity(e) if e.is_contention())
    }
}

impl From<StoreError> for FactorError {
    fn from(e: StoreError) -> Self {
        FactorError::Identity(e.into())
    }
}

impl From<sqlx::Error> for FactorError {
    fn from(e: sqlx::Error) -> Self {
        FactorError::Identity(e.into())
    }
}

/// What enrolment shows, once. No `Debug`: it holds the secret and the codes.
pub struct Enrolment {
    /// The secret in base32, for typing into an app by hand.
    pub secret: String,
    /// `otpauth://totp/...`, what the QR code holds.
    pub otpauth_uri: String,
    pub recovery_codes: Vec<String>,
}

/// The RFC 6238 code of `secret` at `step`.
fn code_at(secret: &[u8], step: i64) -> String {
    totp(secret, String::new()).generate(step.max(0) as u64 * STEP_SECS as u64)
}

fn totp(secret: &[u8], account: String) -> totp_rs::TOTP {
    // 20 bytes of secret meet the crate's 128-bit minimum; the other parameters are
    // RFC 6238's, so `new_unchecked` builds what `new` would.
    totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        SKEW_STEPS as u8,
        STEP_SECS as u64,
        secret.to_vec(),
        Some(ISSUER.to_string()),
        account,
    )
}

/// The 30-second step `now` falls in.
fn step_of(now: DateTime<Utc>) -> i64 {
    now.timestamp().div_euclid(STEP_SECS)
}

/// The step whose code `code` is, among those accepted around `now` and after `after`.
fn matching_step(secret: &[u8], code: &str, now: DateTime<Utc>, after: i64) -> Option<i64> {
    let current = step_of(now);
    let mut found = None;
    // Every candidate is computed and compared, found or not.
    for step in (current - SKEW_STEPS)..=(current + SKEW_STEPS) {
        let expected = code_at(secret, step);
        let same = constant_time_eq(expected.as_bytes(), code.as_bytes());
        if same && step > after && found.is_none() {
            found = Some(step);
        }
    }
    found
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a typed code is: six digits, or a recovery code (its 16 characters normalised).
enum Typed {
    Totp(String),
    Recovery(String),
    Neither,
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn parse_code(raw: &str) -> Typed {
    let kept: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if kept.len() == 6 && kept.bytes().all(|b| b.is_ascii_digit()) {
        return Typed::Totp(kept);
    }
    // Crockford base32 reads O as 0 and I, L as 1.
    let normal: String = kept
        .to_ascii_uppercase()
        .chars()
        .map(|c| match c {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    if normal.len() == 16 && normal.bytes().all(|b| CROCKFORD.contains(&b)) {
        Typed::Recovery(normal)
    } else {
        Typed::Neither
    }
}

fn new_recovery_code() -> String {
    let bytes: [u8; 10] = rand::random();
    // 80 bits, five bits a character.
    let mut bits: u128 = 0;
    for b in bytes {
        bits = (bits << 8) | u128::from(b);
    }
    let chars: Vec<char> = (0..16)
        .rev()
        .map(|i| CROCKFORD[((bits >> (i * 5)) & 31) as usize] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

fn recovery_hash(user_id: &str, normal: &str) -> String {
    hex::encode(Sha256::digest(
        format!("passage-recovery:{user_id}:{normal}").as_bytes(),
    ))
}

fn challenge_hash(token: &str) -> String {
    hex::encode(Sha256::digest(
        format!("passage-challenge:{token}").as_bytes(),
    ))
}

fn cipher(config: &Config) -> Option<XChaCha20Poly1305> {
    config.totp_key.as_ref().map(|key| {
        let derived = Sha256::digest(format!("passage-totp-seal:{}", key.expose()).as_bytes());
        XChaCha20Poly1305::new(&derived)
    })
}

/// The secret as stored: sealed when the instance has a key.
fn seal(config: &Config, user_id: &str, secret: &[u8]) -> Result<String, FactorError> {
    let Some(cipher) = cipher(config) else {
        return Ok(format!("plain:{}", hex::encode(secret)));
    };
    let nonce: [u8; 24] = rand::random();
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: secret,
                aad: user_id.as_bytes(),
            },
        )
        .map_err(|_| IdentityError::Hash("cannot seal the TOTP secret".into()))?;
    Ok(format!(
        "sealed:{}:{}",
        hex::encode(nonce),
        hex::encode(sealed)
    ))
}

fn unseal(config: &Config, user_id: &str, stored: &str) -> Result<Vec<u8>, FactorError> {
    if let Some(plain) = stored.strip_prefix("plain:") {
        return hex::decode(plain).map_err(|_| FactorError::Sealed);
    }
    let (nonce, sealed) = stored
        .strip_prefix("sealed:")
        .and_then(|rest| rest.split_once(':'))
        .ok_or(FactorError::Sealed)?;
    let nonce = hex::decode(nonce).map_err(|_| FactorError::Sealed)?;
    let sealed = hex::decode(sealed).map_err(|_| FactorError::Sealed)?;
    if nonce.len() != 24 {
        return Err(FactorError::Sealed);
    }
    let cipher = cipher(config).ok_or(FactorError::Sealed)?;
    cipher
        .decrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &sealed,
                aad: user_id.as_bytes(),
            },
        )
        .map_err(|_| FactorError::Sealed)
}

/// Whether `user_id` has a confirmed second factor.
pub async fn enrolled(db: &Db, user_id: &str) -> Result<bool, StoreError> {
    Ok(on_db!(db, p => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM second_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL)"
    )
    .bind(user_id)
    .fetch_one(p)
    .await)?)
}

/// Starts enrolment: a new secret and ten recovery codes, replacing an enrolment that was
/// started and never confirmed. Refused once a factor is confirmed (an admin resets it).
pub async fn start(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
    user: &User,
) -> Result<Enrolment, FactorError> {
    let secret: [u8; 20] = rand::random();
    let stored = seal(config, &user.id, &secret)?;
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| match parse_code(c) {
            Typed::Recovery(normal) => recovery_hash(&user.id, &normal),
            // A code Passage makes always reads back as a recovery code.
            _ => recovery_hash(&user.id, c),
        })
        .collect();
    write_tx!(db, |tx| -> Result<(), FactorError> async {
        let written = on_tx!(tx, c => sqlx::query(
            "INSERT INTO second_factors (user_id, secret, created_at, confirmed_at, last_step)
             VALUES ($1, $2, $3, NULL, 0)
             ON CONFLICT (user_id) DO UPDATE SET secret = $2, created_at = $3, last_step = 0
             WHERE second_factors.confirmed_at IS NULL"
        )
        .bind(&user.id)
        .bind(&stored)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if written == 0 {
            return Err(FactorError::AlreadyEnrolled);
        }
        on_tx!(tx, c => sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(&user.id)
            .execute(c)
            .await
            .map(|_| ()))?;
        for hash in &hashes {
            on_tx!(tx, c => sqlx::query(
                "INSERT INTO recovery_codes (code_hash, user_id) VALUES ($1, $2)"
            )
            .bind(hash)
            .bind(&user.id)
            .execute(c)
            .await
            .map(|_| ()))?;
        }
        Ok(())
    })?;
    let t = totp(&secret, user.email.clone());
    Ok(Enrolment {
        secret: t.get_secret_base32(),
        otpauth_uri: t.get_url(),
        recovery_codes: codes,
    })
}

/// The throttle's scopes for second-factor codes: the account's and the client's address,
/// apart from sign-in's.
fn scopes(config: &Config, user_id: &str, client_ip: &str) -> Vec<Scope> {
    vec![
        Scope {
            key: format!("second-factor-user:{user_id}"),
            limit: config.login_max_failures,
        },
        Scope {
            key: format!("second-factor-ip:{client_ip}"),
            limit: config.login_ip_max_failures,
        },
    ]
}

/// Admits a code attempt for `user_id`, or refuses it.
async fn admit(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
    scopes: &[Scope],
) -> Result<(String, u32), FactorError> {
    match throttle::admit(db, config, now, scopes).await? {
        Verdict::Refused { retry_after_secs } => Err(FactorError::Throttled { retry_after_secs }),
        Verdict::Admitted { attempt, failures } => Ok((attempt, failures)),
    }
}

/// A wrong code: audited (never the code), then answered after the throttle's delay.
async fn failed(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
    user_id: &str,
    failures: u32,
    step: &'static str,
) -> FactorError {
    let audited = write_tx!(db, |tx| -> Result<(), StoreError> async {
        audit::append(
            tx,
            now,
            &Actor(format!("user:{user_id}")),
            "user.second_factor_failed",
            &format!("user:{user_id}"),
            &json!({"step": step}),
        )
        .await
        .map(|_| ())
    });
    if let Err(e) = audited {
        return e.into();
    }
    tokio::time::sleep(throttle::failure_delay(config, failures)).await;
    FactorError::WrongCode
}

/// Ends enrolment with the first code of the user's app: the factor is confirmed and that
/// code's step is used up.
pub async fn confirm(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
    user_id: &str,
    code: &str,
    client_ip: &str,
) -> Result<(), FactorError> {
    let row: Option<(String, Option<DateTime<Utc>>, i64)> = on_db!(db, p => sqlx::query_as(
        "SELECT secret, confirmed_at, last_step FROM second_factors WHERE user_id = $1"
    )
    .bind(user_id)
    .fetch_optional(p)
    .await)?;
    let (stored, last_step) = match row {
        None => return Err(FactorError::NotStarted),
        Some((_, Some(_), _)) => return Err(FactorError::AlreadyEnrolled),
        Some((stored, None, last_step)) => (stored, last_step),
    };
    let scopes = scopes(config, user_id, client_ip);
    let (attempt, failures) = admit(db, config, now, &scopes).await?;
    let secret = unseal(config, user_id, &stored)?;
    let step = match parse_code(code) {
        Typed::Totp(code) => matching_step(&secret, &code, now, last_step),
        _ => None,
    };
    let Some(step) = step else {
        return Err(failed(db, config, now, user_id, failures, "enrolment").await);
    };
    write_tx!(db, |tx| -> Result<(), FactorError> async {
        let confirmed = on_tx!(tx, c => sqlx::query(
            "UPDATE second_factors SET confirmed_at = $2, last_step = $3
             WHERE user_id = $1 AND confirmed_at IS NULL AND last_step < $3"
        )
        .bind(user_id)
        .bind(now)
        .bind(step)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if confirmed == 0 {
            return Err(FactorError::WrongCode);
        }
        audit::append(
            tx,
            now,
            &Actor(format!("user:{user_id}")),
            "user.second_factor_enrolled",
            &format!("user:{user_id}"),
            &json!({"kind": "totp", "recovery_codes": RECOVERY_CODES}),
        )
        .await?;
        Ok(())
    })?;
    throttle::succeeded(db, &attempt, &scopes[0]).await?;
    Ok(())
}

/// After a right password: a challenge for the second step, bound to this user and to
/// the origin the session will have.
pub async fn challenge(
    db: &Db,
    now: DateTime<Utc>,
    user_id: &str,
    origin: &Origin,
) -> Result<String, StoreError> {
    let token = hex::encode(rand::random::<[u8; 32]>());
    let hash = challenge_hash(&token);
    write_tx!(db, |tx| -> Result<(), StoreError> async {
        on_tx!(tx, c => sqlx::query("DELETE FROM second_factor_challenges WHERE expires_at < $1")
            .bind(now)
            .execute(c)
            .await
            .map(|_| ()))?;
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO second_factor_challenges
                 (token_hash, user_id, device, address, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)"
        )
        .bind(&hash)
        .bind(user_id)
        .bind(&origin.device)
        .bind(&origin.address)
        .bind(now)
        .bind(now + CHALLENGE_LIFETIME)
        .execute(c)
        .await
        .map(|_| ()))?;
        Ok(())
    })?;
    Ok(token)
}

/// The second step of a sign-in: the challenge and a TOTP code (or a recovery code)
/// give the session. The code's step (or the recovery code) and the challenge are used up
/// in one transaction, so a code and a challenge each work once.
pub async fn complete(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
    challenge: &str,
    code: &str,
    client_ip: &str,
) -> Result<(User, Issued), FactorError> {
    let hash = challenge_hash(challenge.trim());
    let found: Option<(String, String, String)> = on_db!(db, p => sqlx::query_as(
        "SELECT user_id, device, address FROM second_factor_challenges
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2"
    )
    .bind(&hash)
    .bind(now)
    .fetch_optional(p)
    .await)?;
    let (user_id, device, address) = found.ok_or(FactorError::BadChallenge)?;
    let scopes = scopes(config, &user_id, client_ip);
    let (attempt, failures) = admit(db, config, now, &scopes).await?;
    let factor: Option<(String, i64)> = on_db!(db, p => sqlx::query_as(
        "SELECT secret, last_step FROM second_factors
         WHERE user_id = $1 AND confirmed_at IS NOT NULL"
    )
    .bind(&user_id)
    .fetch_optional(p)
    .await)?;
    // The factor was reset since the password was checked: start again.
    let (stored, last_step) = factor.ok_or(FactorError::BadChallenge)?;
    let secret = unseal(config, &user_id, &stored)?;
    let typed = parse_code(code);
    let step = match &typed {
        Typed::Totp(code) => matching_step(&secret, code, now, last_step),
        _ => None,
    };
    let used = write_tx!(db, |tx| -> Result<bool, FactorError> async {
        let code_used = match (&typed, step) {
            (Typed::Totp(_), Some(step)) => on_tx!(tx, c => sqlx::query(
                "UPDATE second_factors SET last_step = $2 WHERE user_id = $1 AND last_step < $2"
            )
            .bind(&user_id)
            .bind(step)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?,
            (Typed::Recovery(normal), _) => on_tx!(tx, c => sqlx::query(
                "UPDATE recovery_codes SET used_at = $3
                 WHERE code_hash = $1 AND user_id = $2 AND used_at IS NULL"
            )
            .bind(recovery_hash(&user_id, normal))
            .bind(&user_id)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?,
            _ => 0,
        };
        if code_used == 0 {
            return Ok(false);
        }
        let challenge_used = on_tx!(tx, c => sqlx::query(
            "UPDATE second_factor_challenges SET used_at = $2
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2"
        )
        .bind(&hash)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if challenge_used == 0 {
            // Another request used it first: undo the code's use with the transaction.
            return Err(FactorError::BadChallenge);
        }
        if matches!(typed, Typed::Recovery(_)) {
            audit::append(
                tx,
                now,
                &Actor(format!("user:{user_id}")),
                "user.recovery_code_used",
                &format!("user:{user_id}"),
                &json!({}),
            )
            .await?;
        }
        Ok(true)
    })?;
    if !used {
        return Err(failed(db, config, now, &user_id, failures, "sign_in").await);
    }
    throttle::succeeded(db, &attempt, &scopes[0]).await?;
    let user = users::find(db, &user_id)
        .await?
        .filter(|u| u.active)
        .ok_or(FactorError::BadChallenge)?;
    let origin = Origin { device, address };
    let issued = tokens::issue_session(db, config, now, &user, &origin).await?;
    Ok((user, issued))
}

/// The secret of an enrolment started and not yet confirmed, to show again beside a wrong
/// first code (base32 and the `otpauth://` URI); `None` when there is none.
pub async fn pending(
    db: &Db,
    config: &Config,
    user: &User,
) -> Result<Option<(String, String)>, FactorError> {
    let stored: Option<String> = on_db!(db, p => sqlx::query_scalar(
        "SELECT secret FROM second_factors WHERE user_id = $1 AND confirmed_at IS NULL"
    )
    .bind(&user.id)
    .fetch_optional(p)
    .await)?;
    let Some(stored) = stored else {
        return Ok(None);
    };
    let t = totp(&unseal(config, &user.id, &stored)?, user.email.clone());
    Ok(Some((t.get_secret_base32(), t.get_url())))
}

/// How many unused recovery codes `user_id` has left.
pub async fn recovery_codes_left(db: &Db, user_id: &str) -> Result<i64, StoreError> {
    Ok(on_db!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL"
    )
    .bind(user_id)
    .fetch_one(p)
    .await)?)
}

/// An admin takes a user's second factor away (a lost phone): the user sets up a new one
/// on their next sign-in (treasurers and admins must). Answers whether there was one.
pub async fn reset(
    db: &Db,
    now: DateTime<Utc>,
    actor: &Actor,
    user_id: &str,
) -> Result<bool, FactorError> {
    if users::find(db, user_id).await?.is_none() {
        return Err(IdentityError::UnknownUser(user_id.to_string()).into());
    }
    write_tx!(db, |tx| -> Result<bool, FactorError> async {
        let removed = on_tx!(tx, c => sqlx::query("DELETE FROM second_factors WHERE user_id = $1")
            .bind(user_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        on_tx!(tx, c => sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(c)
            .await
            .map(|_| ()))?;
        on_tx!(tx, c => sqlx::query("DELETE FROM second_factor_challenges WHERE user_id = $1")
            .bind(user_id)
            .execute(c)
            .await
            .map(|_| ()))?;
        if removed > 0 {
            audit::append(
                tx,
                now,
                actor,
                "user.second_factor_reset",
                &format!("user:{user_id}"),
                &json!({}),
            )
            .await?;
        }
        Ok(removed > 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_test_vectors_with_sha1() {
        // RFC 6238 appendix B, SHA-1, truncated to 6 digits.
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59_i64, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at(secret, time / STEP_SECS), code, "at {time}");
        }
    }

    #[test]
    fn a_code_of_a_used_step_does_not_match_again() {
        let secret = [7u8; 20];
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let code = code_at(&secret, step_of(now));
        let step = matching_step(&secret, &code, now, 0).expect("the code of now");
        assert_eq!(matching_step(&secret, &code, now, step), None);
        let later = now + Duration::seconds(STEP_SECS * 3);
        assert_eq!(matching_step(&secret, &code, later, 0), None);
    }

    #[test]
    fn recovery_codes_read_back_forgivingly() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 19);
        let Typed::Recovery(a) = parse_code(&code) else {
            panic!("{code} reads as a recovery code")
        };
        let Typed::Recovery(b) = parse_code(&code.to_lowercase().replace('-', " ")) else {
            panic!("lower case reads too")
        };
        assert_eq!(a, b);
        assert!(matches!(parse_code("123 456"), Typed::Totp(c) if c == "123456"));
        assert!(matches!(parse_code("12345"), Typed::Neither));
    }
}
