//! The HS256 keys that sign tokens.
//!
//! With `PASSAGE_JWT_SECRET` or `PASSAGE_JWT_KEY_FILE` set, that secret signs every token
//! under the key id [`CONFIG_KID`], and it alone verifies session tokens: keys stored in
//! the database before verify none (see [`verifies_sessions`]). Otherwise keys live in the
//! `signing_keys` table: one is generated on first start (with a warning), `passage keys
//! rotate` adds another, the newest unretired one signs, and every unretired stored key
//! still verifies, so tokens signed before a rotation stay valid until they expire.
//! `passage keys retire KID` retires one: its tokens open nothing from that moment, on
//! every instance, since whether a key is retired is read on every request (with the
//! revocation list, in the same query). A secret is never printed nor changed.
//!
//! Donor links are not signed by these keys: they are random tokens stored hashed
//! (`reports::donor`), so retiring a key never breaks a link already emailed.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

use chrono::{DateTime, Utc};
use serde_json::json;

use super::IdentityError;
use crate::audit::{self, Actor};
use crate::config::Config;
use crate::store::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

/// The key id of the secret that comes from configuration.
pub const CONFIG_KID: &str = "config";

#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    secret: String,
}

impl SigningKey {
    pub fn secret_bytes(&self) -> &[u8] {
        self.secret.as_bytes()
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({}, ***)", self.kid)
    }
}

fn from_config(config: &Config) -> Option<SigningKey> {
    config.jwt_secret.as_ref().map(|s| SigningKey {
        kid: CONFIG_KID.into(),
        secret: s.expose().to_string(),
    })
}

/// Whether a token signed under `kid` may open a session: with a configured secret, only
/// that secret's tokens (a stored key may have been read by whoever read the database, and
/// setting a secret is how an operator moves away from it). Retirement of stored keys is
/// checked on each request by [`crate::identity::tokens::verify`].
pub fn verifies_sessions(config: &Config, kid: &str) -> bool {
    config.jwt_secret.is_none() || kid == CONFIG_KID
}

async fn newest(db: &Db) -> Result<Option<SigningKey>, StoreError> {
    let row: Option<(String, String)> = on_db!(db, p => sqlx::query_as(
        "SELECT kid, secret FROM signing_keys WHERE retired_at IS NULL ORDER BY seq DESC LIMIT 1"
    )
    .fetch_optional(p)
    .await)?;
    Ok(row.map(|(kid, secret)| SigningKey { kid, secret }))
}

async fn insert(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    action: &str,
) -> Result<String, StoreError> {
    let kid = uuid::Uuid::new_v4().simple().to_string();
    let secret = hex::encode(rand::random::<[u8; 32]>());
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO signing_keys (kid, secret, created_at) VALUES ($1, $2, $3)"
    )
    .bind(&kid)
    .bind(&secret)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    // The key id only: the secret never reaches the audit trail.
    audit::append(
        tx,
        now,
        actor,
        action,
        &format!("key:{kid}"),
        &json!({"kid": kid}),
    )
    .await?;
    Ok(kid)
}

/// The key that signs new tokens; generates and stores one if there is none yet.
pub async fn current(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<SigningKey, IdentityError> {
    if let Some(key) = from_config(config) {
        return Ok(key);
    }
    if let Some(key) = newest(db).await? {
        return Ok(key);
    }
    ensure(db, config, now).await?;
    newest(db)
        .await?
        .ok_or_else(|| IdentityError::Store(StoreError::Sqlx(sqlx::Error::RowNotFound)))
}

/// On start: without a configured secret and without an unretired stored key, generates one.
pub async fn ensure(db: &Db, config: &Config, now: DateTime<Utc>) -> Result<(), IdentityError> {
    if config.jwt_secret.is_some() {
        return Ok(());
    }
    let made = crate::write_tx!(db, |tx| -> Result<Option<String>, IdentityError> async {
        let any: Option<String> = on_tx!(tx, c => sqlx::query_scalar(
            "SELECT kid FROM signing_keys WHERE retired_at IS NULL LIMIT 1"
        )
        .fetch_optional(c)
        .await)?;
        match any {
            Some(_) => Ok(None),
            None => Ok(Some(
                insert(tx, now, &Actor::system(), "key.generate").await?,
            )),
        }
    })?;
    if let Some(kid) = made {
        tracing::warn!(
            %kid,
            "no PASSAGE_JWT_SECRET or PASSAGE_JWT_KEY_FILE: generated a signing key and stored it in the database"
        );
    }
    Ok(())
}

/// Adds a new key that signs from now on; older keys keep verifying.
pub async fn rotate(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<String, IdentityError> {
    if config.jwt_secret.is_some() {
        return Err(IdentityError::KeysFromConfig);
    }
    crate::write_tx!(db, |tx| -> Result<String, IdentityError> async {
        Ok(insert(tx, now, actor, "key.rotate").await?)
    })
}

/// What [`retire`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retirement {
    /// Retired now; `signing` is the key made to sign in its place when it was the one
    /// signing.
    Retired { signing: Option<String> },
    /// It was retired already, at that moment; nothing changed.
    Already(DateTime<Utc>),
}

/// Retires a stored key: from now on no token it signed opens a session, on any instance.
/// When it is the key that signs new tokens (no secret configured), a new key is made
/// first, in the same transaction, so signing in keeps working: retiring is what an
/// operator does when a key may have leaked, and it must not wait for a second command.
/// The key `config` cannot be retired: change the secret instead.
pub async fn retire(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
    actor: &Actor,
    kid: &str,
) -> Result<Retirement, IdentityError> {
    if kid == CONFIG_KID {
        return Err(IdentityError::RetireConfigKey);
    }
    crate::write_tx!(db, |tx| -> Result<Retirement, IdentityError> async {
        // Claims the key: of two retirements at once, one retires it.
        let claimed: Option<i64> = on_tx!(tx, c => sqlx::query_scalar(
            "UPDATE signing_keys SET retired_at = $2 WHERE kid = $1 AND retired_at IS NULL RETURNING seq"
        )
        .bind(kid)
        .bind(now)
        .fetch_optional(c)
        .await)?;
        let Some(seq) = claimed else {
            let retired: Option<Option<DateTime<Utc>>> = on_tx!(tx, c => sqlx::query_scalar(
                "SELECT retired_at FROM signing_keys WHERE kid = $1"
            )
            .bind(kid)
            .fetch_optional(c)
            .await)?;
            return match retired {
                Some(Some(at)) => Ok(Retirement::Already(at)),
                _ => Err(IdentityError::UnknownKey(kid.to_string())),
            };
        };
        let newer: Option<String> = on_tx!(tx, c => sqlx::query_scalar(
            "SELECT kid FROM signing_keys WHERE retired_at IS NULL AND seq > $1 LIMIT 1"
        )
        .bind(seq)
        .fetch_optional(c)
        .await)?;
        let signing = if newer.is_none() && config.jwt_secret.is_none() {
            Some(insert(tx, now, actor, "key.rotate").await?)
        } else {
            None
        };
        audit::append(
            tx,
            now,
            actor,
            "key.retire",
            &format!("key:{kid}"),
            &json!({"kid": kid, "signing": signing}),
        )
        .await?;
        Ok(Retirement::Retired { signing })
    })
}

/// A stored key as `passage keys list` shows it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyInfo {
    pub kid: String,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

/// The stored keys, oldest first.
pub async fn list(db: &Db) -> Result<Vec<KeyInfo>, StoreError> {
    Ok(on_db!(db, p => sqlx::query_as(
        "SELECT kid, created_at, retired_at FROM signing_keys ORDER BY seq"
    )
    .fetch_all(p)
    .await)?)
}

/// A stored key's secret never changes (a rotation adds a key, a retirement only marks
/// it), so a secret read once is kept for the life of the process rather than read again
/// on every request; whether the key is retired is not kept, it is read on every
/// request. Keyed by the database too: tests run many databases in one process.
static KNOWN: LazyLock<RwLock<HashMap<(String, String), String>>> = LazyLock::new(Default::default);

/// The key a token names, if Passage has it.
pub async fn find(db: &Db, config: &Config, kid: &str) -> Result<Option<SigningKey>, StoreError> {
    if kid == CONFIG_KID {
        return Ok(from_config(config));
    }
    let known = (config.database_url.clone(), kid.to_string());
    let cached = KNOWN
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(&known)
        .cloned();
    let secret = match cached {
        Some(secret) => Some(secret),
        None => {
            let secret: Option<String> = on_db!(db, p => sqlx::query_scalar(
                "SELECT secret FROM signing_keys WHERE kid = $1"
            )
            .bind(kid)
            .fetch_optional(p)
            .await)?;
            if let Some(secret) = &secret {
                KNOWN
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .insert(known, secret.clone());
            }
            secret
        }
    };
    Ok(secret.map(|secret| SigningKey {
        kid: kid.to_string(),
        secret,
    }))
}
