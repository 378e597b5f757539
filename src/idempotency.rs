//! `Idempotency-Key`: the first answer to a key is stored with a hash of the body, in the
//! same transaction as the change it answers. The same key and body get that answer
//! again; the same key with another body is a conflict.
//!
//! An answer about a request (the request's view) names that request, as its caller says,
//! so that when the request's free text is purged its stored answers are rewritten
//! without it: a retry of the key still gets the same status and id, never the purged
//! text (see [`forget_purged`]). What an answer holds is the HTTP edge's to serialise:
//! this module stores a status number and a JSON body, and knows no route.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::audit::canonical_json;
use crate::on_tx;
use crate::store::{Contention, StoreError, Tx};

pub const MAX_KEY_CHARS: usize = 200;

/// What can stop the look-up or the storing of an answer.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    #[error(
        "this Idempotency-Key was already used with a different body: use a new key for a new request"
    )]
    KeyReused,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for IdempotencyError {
    fn from(e: sqlx::Error) -> Self {
        IdempotencyError::Store(e.into())
    }
}

impl Contention for IdempotencyError {
    fn is_contention(&self) -> bool {
        matches!(self, IdempotencyError::Store(e) if e.is_contention())
    }
}

/// An answer as the HTTP edge serialised it: its status and its JSON body, as the text
/// that is stored and sent (serialised once, and sent again as it was stored).
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub status: u16,
    pub body: String,
}

/// An input that comes with its caller's key: who sent it, the key, and the hash of the
/// body (see [`body_hash`]).
#[derive(Debug, Clone)]
pub struct Keyed<T> {
    pub user_id: String,
    pub key: String,
    pub hash: String,
    pub input: T,
}

/// A hash of the route and the body's canonical JSON.
pub fn body_hash(route: &str, body: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(
        format!("{route}\n{}", canonical_json(body)).as_bytes(),
    ))
}

/// The stored answer for this key, if any.
pub async fn replay(
    tx: &mut Tx,
    user_id: &str,
    key: &str,
    hash: &str,
) -> Result<Option<(u16, serde_json::Value)>, IdempotencyError> {
    let row: Option<(String, i64, String)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT body_hash, status, response FROM idempotency WHERE user_id = $1 AND key = $2"
    )
    .bind(user_id)
    .bind(key)
    .fetch_optional(c)
    .await)?;
    match row {
        None => Ok(None),
        Some((stored, status, response)) if stored == hash => {
            let body = serde_json::from_str(&response).unwrap_or(serde_json::Value::Null);
            Ok(Some((u16::try_from(status).unwrap_or(200), body)))
        }
        Some(_) => Err(IdempotencyError::KeyReused),
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn remember(
    tx: &mut Tx,
    now: DateTime<Utc>,
    user_id: &str,
    key: &str,
    route: &str,
    hash: &str,
    status: u16,
    response: &serde_json::Value,
    request_id: Option<&str>,
) -> Result<(), IdempotencyError> {
    remember_many(
        tx,
        now,
        route,
        status,
        &[Answer {
            user_id,
            key,
            hash,
            response: &response.to_string(),
            request_id,
        }],
    )
    .await
}

/// An answer to store under its key with [`remember_many`].
pub struct Answer<'a> {
    pub user_id: &'a str,
    pub key: &'a str,
    pub hash: &'a str,
    /// The answer's JSON text.
    pub response: &'a str,
    /// The request the answer speaks of, if any: its stored answers are rewritten when
    /// its free text is purged (see [`forget_purged`]).
    pub request_id: Option<&'a str>,
}

/// Stores the answers to several keys of one route, in one statement.
pub async fn remember_many(
    tx: &mut Tx,
    now: DateTime<Utc>,
    route: &str,
    status: u16,
    answers: &[Answer<'_>],
) -> Result<(), IdempotencyError> {
    if answers.is_empty() {
        return Ok(());
    }
    on_tx!(tx, c => {
        let mut insert = sqlx::QueryBuilder::new(
            "INSERT INTO idempotency (user_id, key, route, body_hash, status, response, created_at,
                                      request_id) ",
        );
        insert.push_values(answers, |mut b, a| {
            b.push_bind(a.user_id)
                .push_bind(a.key)
                .push_bind(route)
                .push_bind(a.hash)
                .push_bind(i64::from(status))
                .push_bind(a.response)
                .push_bind(now)
                .push_bind(a.request_id);
        });
        insert.build().execute(c).await.map(|_| ())
    })?;
    Ok(())
}

/// The stored answers to these keys (user, key) that have one, with the hash of the
/// body each was first sent with, in one statement.
pub async fn stored_many(
    tx: &mut Tx,
    keys: &[(&str, &str)],
) -> Result<std::collections::HashMap<(String, String), (String, Stored)>, IdempotencyError> {
    if keys.is_empty() {
        return Ok(Default::default());
    }
    // Keys grouped by user: each group is one look-up in the (user_id, key) index.
    let mut by_user: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (user_id, key) in keys {
        by_user.entry(user_id).or_default().push(key);
    }
    let rows: Vec<(String, String, String, i64, String)> = on_tx!(tx, c => {
        let mut select = sqlx::QueryBuilder::new(
            "SELECT user_id, key, body_hash, status, response FROM idempotency WHERE ",
        );
        for (i, (user_id, keys)) in by_user.iter().enumerate() {
            select.push(if i == 0 { "(user_id = " } else { " OR (user_id = " });
            select.push_bind(*user_id);
            select.push(" AND key IN ");
            crate::store::push_list(&mut select, keys.iter().copied());
            select.push(")");
        }
        select.build_query_as().fetch_all(c).await
    })?;
    Ok(rows
        .into_iter()
        .map(|(user_id, key, hash, status, response)| {
            let stored = Stored {
                status: u16::try_from(status).unwrap_or(200),
                body: response,
            };
            ((user_id, key), (hash, stored))
        })
        .collect())
}

/// How many requests' answers are rewritten by one statement's list.
const PURGE_CHUNK: usize = 500;

/// Rewrites the stored answers about these requests with each of `fields` set to null
/// (when the answer has it), in the caller's transaction: the purge of the requests' free
/// text. Status, id and every other field stay, so a retry of the key gets the answer it
/// would have had, without what was purged. Returns how many answers changed.
pub async fn forget_purged(
    tx: &mut Tx,
    request_ids: &[String],
    fields: &[&str],
) -> Result<u64, StoreError> {
    let mut changed = 0;
    for ids in request_ids.chunks(PURGE_CHUNK) {
        let rows: Vec<(String, String, String)> = on_tx!(tx, c => {
            let mut select = sqlx::QueryBuilder::new(
                "SELECT user_id, key, response FROM idempotency WHERE request_id IN ",
            );
            crate::store::push_list(&mut select, ids.iter().map(String::as_str));
            select.build_query_as().fetch_all(c).await
        })?;
        for (user_id, key, response) in rows {
            let Ok(mut answer) = serde_json::from_str::<serde_json::Value>(&response) else {
                continue;
            };
            let Some(object) = answer.as_object_mut() else {
                continue;
            };
            let mut touched = false;
            for field in fields {
                if let Some(value) = object.get_mut(*field)
                    && !value.is_null()
                {
                    *value = serde_json::Value::Null;
                    touched = true;
                }
            }
            if !touched {
                continue;
            }
            on_tx!(tx, c => sqlx::query(
                "UPDATE idempotency SET response = $3 WHERE user_id = $1 AND key = $2"
            )
            .bind(&user_id)
            .bind(&key)
            .bind(answer.to_string())
            .execute(c)
            .await
            .map(|_| ()))?;
            changed += 1;
        }
    }
    Ok(changed)
}
