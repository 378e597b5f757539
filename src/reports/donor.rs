//! The links in a donor's email, with no password: random tokens (32 bytes from the
//! operating system's generator, hex), of which only the SHA-256 is stored, in
//! `donor_links`, with the donor, what the link opens and until when. They owe nothing
//! to the keys that sign staff sessions: rotating, replacing or retiring a key leaves
//! every emailed link as it was, and a link can be withdrawn one donor at a time.
//!
//! - a `report` link opens one report and that donor's own gifts in its period, until
//!   it expires (`PASSAGE_DONOR_LINK_DAYS`); nothing else.
//! - an `unsubscribe` link marks that donor unsubscribed (RFC 8058 one-click) or
//!   subscribes them again; it never expires, since an old email must still let its
//!   reader leave.
//!
//! A treasurer withdraws a donor's links (all of them); unsubscribing withdraws the
//! donor's report links and leaves the unsubscribe link valid, so the donor can come
//! back. A withdrawn link stays in the table so its page can say why it no longer opens.
//! Stopping mail is always honoured, even through a withdrawn unsubscribe link.
//!
//! Links emailed by the release before this one were HS256 JWTs signed by the session
//! keys. Every one of them is in the outbox (the only place they were ever written), so
//! [`adopt_legacy_links`] stores their hashes at start-up like any other link: from then
//! on they open, expire and are withdrawn like the others, whatever becomes of the keys.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::audit::{self, Actor};
use crate::domain::Language;
use crate::store::{Db, StoreError, Tx};
use crate::{on_db, on_tx, write_tx};

/// What a link opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Report,
    Unsubscribe,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Report => "report",
            Purpose::Unsubscribe => "unsubscribe",
        }
    }

    fn parse(s: &str) -> Option<Purpose> {
        match s {
            "report" => Some(Purpose::Report),
            "unsubscribe" => Some(Purpose::Unsubscribe),
            _ => None,
        }
    }
}

/// Who withdrew a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithdrawnBy {
    /// A treasurer, through `POST /api/v1/donors/{id}/links/withdraw` or the donors page.
    Treasurer,
    /// The donor, by unsubscribing (their report links only).
    Unsubscribed,
}

impl WithdrawnBy {
    pub fn as_str(self) -> &'static str {
        match self {
            WithdrawnBy::Treasurer => "treasurer",
            WithdrawnBy::Unsubscribed => "unsubscribed",
        }
    }

    fn parse(s: &str) -> Option<WithdrawnBy> {
        match s {
            "treasurer" => Some(WithdrawnBy::Treasurer),
            "unsubscribed" => Some(WithdrawnBy::Unsubscribed),
            _ => None,
        }
    }
}

/// A link that opened.
#[derive(Debug, Clone)]
pub struct Opened {
    pub donor: String,
    /// The report a `report` link opens.
    pub report: Option<String>,
    /// The donor's language, for the pages the link shows.
    pub language: Language,
    /// Whether the donor receives the reports now.
    pub subscribed: bool,
    /// Set on an unsubscribe link a treasurer withdrew: it still stops mail, nothing else.
    pub withdrawn: Option<WithdrawnBy>,
}

/// Why a link was refused; every case is a 401, worded for a donor. A link Passage knows
/// carries its donor's language, so the page that refuses it speaks it.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("this link is not valid: use the link in the email exactly as it is")]
    Invalid,
    #[error("this link has expired: the fund can send you a new one")]
    Expired { language: Language },
    #[error("this link was withdrawn by the fund: ask the fund for a new one")]
    Withdrawn { language: Language },
    #[error(
        "you unsubscribed, so the report links of earlier emails no longer open: the unsubscribe link of any of those emails lets you subscribe again"
    )]
    Unsubscribed { language: Language },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LinkError {
    /// The language of the link's donor, when the link is one Passage issued.
    pub fn language(&self) -> Option<Language> {
        match self {
            LinkError::Expired { language }
            | LinkError::Withdrawn { language }
            | LinkError::Unsubscribed { language } => Some(*language),
            LinkError::Invalid | LinkError::Store(_) => None,
        }
    }
}

/// The SHA-256 of a token, hex: what `donor_links` keeps instead of the token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new token: 32 random bytes, hex (URL-safe as it is).
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Makes a link for `donor` and stores its hash; returns the token, which is written in
/// the email and nowhere else.
pub async fn issue(
    tx: &mut Tx,
    now: DateTime<Utc>,
    donor: &str,
    purpose: Purpose,
    report: Option<&str>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<String, StoreError> {
    let token = new_token();
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO donor_links (token_hash, donor_id, purpose, report_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(hash(&token))
    .bind(donor)
    .bind(purpose.as_str())
    .bind(report)
    .bind(now)
    .bind(expires_at)
    .execute(c)
    .await
    .map(|_| ()))?;
    Ok(token)
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    donor_id: String,
    purpose: String,
    report_id: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    withdrawn_by: Option<String>,
    language: String,
    unsubscribed_at: Option<DateTime<Utc>>,
}

/// Opens a link for `purpose` (against Passage's clock). A withdrawn report link is
/// refused with the reason; a withdrawn unsubscribe link opens with `withdrawn` set, for
/// the caller to allow stopping mail and nothing else.
pub async fn open(
    db: &Db,
    now: DateTime<Utc>,
    token: &str,
    purpose: Purpose,
) -> Result<Opened, LinkError> {
    // A token is ours only if it is in the table; anything too long or with characters no
    // link holds is not looked up at all.
    if token.len() > 2048
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(LinkError::Invalid);
    }
    let row: Option<LinkRow> = on_db!(db, p => sqlx::query_as::<_, LinkRow>(
        "SELECT l.donor_id, l.purpose, l.report_id, l.expires_at, l.withdrawn_by,
                d.language, d.unsubscribed_at
         FROM donor_links l JOIN donors d ON d.id = l.donor_id
         WHERE l.token_hash = $1"
    )
    .bind(hash(token))
    .fetch_optional(p)
    .await)
    .map_err(StoreError::from)?;
    let Some(row) = row else {
        return Err(LinkError::Invalid);
    };
    if Purpose::parse(&row.purpose) != Some(purpose) {
        return Err(LinkError::Invalid);
    }
    let language: Language = row.language.parse().unwrap_or_default();
    let withdrawn = row.withdrawn_by.as_deref().and_then(WithdrawnBy::parse);
    match (purpose, withdrawn) {
        (Purpose::Report, Some(WithdrawnBy::Treasurer)) => {
            return Err(LinkError::Withdrawn { language });
        }
        (Purpose::Report, Some(WithdrawnBy::Unsubscribed)) => {
            return Err(LinkError::Unsubscribed { language });
        }
        _ => {}
    }
    if row.expires_at.is_some_and(|at| now >= at) {
        return Err(LinkError::Expired { language });
    }
    Ok(Opened {
        donor: row.donor_id,
        report: row.report_id,
        language,
        subscribed: row.unsubscribed_at.is_none(),
        withdrawn,
    })
}

/// Withdraws the donor's links still open (of one purpose, or all); returns how many.
pub async fn withdraw(
    tx: &mut Tx,
    now: DateTime<Utc>,
    donor: &str,
    by: WithdrawnBy,
    purpose: Option<Purpose>,
) -> Result<u64, StoreError> {
    Ok(on_tx!(tx, c => sqlx::query(
        "UPDATE donor_links SET withdrawn_at = $2, withdrawn_by = $3
         WHERE donor_id = $1 AND withdrawn_at IS NULL
           AND (expires_at IS NULL OR expires_at > $2)
           AND ($4 IS NULL OR purpose = $4)"
    )
    .bind(donor)
    .bind(now)
    .bind(by.as_str())
    .bind(purpose.map(Purpose::as_str))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?)
}

/// A treasurer withdraws every open link of a donor (audited). `None`: no such donor.
pub async fn withdraw_by_treasurer(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    donor: &str,
) -> Result<Option<u64>, StoreError> {
    let exists: Option<String> = on_tx!(tx, c => sqlx::query_scalar("SELECT id FROM donors WHERE id = $1")
        .bind(donor)
        .fetch_optional(c)
        .await)?;
    if exists.is_none() {
        return Ok(None);
    }
    let links = withdraw(tx, now, donor, WithdrawnBy::Treasurer, None).await?;
    audit::append(
        tx,
        now,
        actor,
        "donor.links.withdraw",
        &format!("donor:{donor}"),
        &json!({ "links": links }),
    )
    .await?;
    Ok(Some(links))
}

/// The claims of a link emailed by the release before this one.
#[derive(Deserialize)]
struct LegacyClaims {
    scope: String,
    donor: String,
    #[serde(default)]
    report: Option<String>,
    iat: i64,
    exp: i64,
}

/// How long a link of the release before could live (its unsubscribe links: 400 days;
/// its report links, `PASSAGE_DONOR_LINK_DAYS`, at most 400): emails older than that
/// hold nothing left to adopt, so the scan at start-up empties by itself.
const LEGACY_DAYS: i64 = 400;

/// The tokens after `token=` in a text that have a JWT's shape (three parts).
fn legacy_tokens(text: &str) -> Vec<&str> {
    text.split("token=")
        .skip(1)
        .map(|rest| {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|t| t.split('.').count() == 3)
        .collect()
}

/// The claims of an emailed JWT link. Its signature is not checked: the token comes from
/// Passage's own outbox, which only Passage writes, and is checked against the email it
/// was found in.
fn legacy_claims(token: &str) -> Option<LegacyClaims> {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.insecure_disable_signature_validation();
    validation.validate_exp = false;
    validation.required_spec_claims = Default::default();
    jsonwebtoken::decode::<LegacyClaims>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(&[]),
        &validation,
    )
    .ok()
    .map(|d| d.claims)
}

#[derive(sqlx::FromRow)]
struct EmailedRow {
    dedupe_key: String,
    body_text: String,
    headers: Option<String>,
}

/// Stores the hash of every JWT link that donor emails of the release before hold (see
/// the module's comment); links already stored are left as they are, so running it at
/// every start-up is harmless. Returns how many links it added.
pub async fn adopt_legacy_links(db: &Db, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let since = now - Duration::days(LEGACY_DAYS);
    let emails: Vec<EmailedRow> = on_db!(db, p => sqlx::query_as::<_, EmailedRow>(
        "SELECT dedupe_key, body_text, headers FROM outbox
         WHERE dedupe_key LIKE 'report:%:donor:%' AND created_at >= $1
           AND (body_text LIKE '%token=ey%' OR headers LIKE '%token=ey%')"
    )
    .bind(since)
    .fetch_all(p)
    .await)?;
    let mut links = Vec::new();
    for email in &emails {
        // `report:{report}:donor:{donor}`, as the release before wrote it.
        let Some((report, donor)) = email
            .dedupe_key
            .strip_prefix("report:")
            .and_then(|rest| rest.split_once(":donor:"))
        else {
            continue;
        };
        let texts = [
            email.body_text.as_str(),
            email.headers.as_deref().unwrap_or(""),
        ];
        for token in texts.into_iter().flat_map(legacy_tokens) {
            let Some(claims) = legacy_claims(token) else {
                continue;
            };
            if claims.donor != donor {
                continue;
            }
            let (purpose, report, expires_at) = match claims.scope.as_str() {
                "donor_report" if claims.report.as_deref() == Some(report) => (
                    Purpose::Report,
                    Some(report.to_string()),
                    DateTime::from_timestamp(claims.exp, 0),
                ),
                // An unsubscribe link never expires now.
                "unsubscribe" => (Purpose::Unsubscribe, None, None),
                _ => continue,
            };
            let created_at = DateTime::from_timestamp(claims.iat, 0).unwrap_or(now);
            links.push((
                hash(token),
                donor.to_string(),
                purpose,
                report,
                created_at,
                expires_at,
            ));
        }
    }
    if links.is_empty() {
        return Ok(0);
    }
    write_tx!(db, |tx| -> Result<u64, StoreError> async {
        let mut added = 0u64;
        for (token_hash, donor, purpose, report, created_at, expires_at) in &links {
            // A donor who had unsubscribed has their report links withdrawn, as
            // unsubscribing does now.
            added += on_tx!(tx, c => sqlx::query(
                "INSERT INTO donor_links (token_hash, donor_id, purpose, report_id, created_at,
                        expires_at, withdrawn_at, withdrawn_by, legacy)
                 SELECT $1, d.id, $3, $4, $5, $6,
                        CASE WHEN $3 = 'report' THEN d.unsubscribed_at END,
                        CASE WHEN $3 = 'report' AND d.unsubscribed_at IS NOT NULL
                             THEN 'unsubscribed' END,
                        TRUE
                 FROM donors d
                 WHERE d.id = $2 AND ($4 IS NULL OR EXISTS (SELECT 1 FROM reports r WHERE r.id = $4))
                 ON CONFLICT (token_hash) DO NOTHING"
            )
            .bind(token_hash)
            .bind(donor)
            .bind(purpose.as_str())
            .bind(report.as_deref())
            .bind(created_at)
            .bind(expires_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        }
        if added > 0 {
            audit::append(
                tx,
                now,
                &Actor::system(),
                "donor.links.adopt",
                "donor_links",
                &json!({ "links": added }),
            )
            .await?;
        }
        Ok(added)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_32_random_bytes_and_only_its_hash_is_kept() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), a);
    }

    #[test]
    fn legacy_tokens_are_read_from_an_email_and_nothing_else() {
        let text = "Web: https://x.example.org/donor/report?token=aa.bb.cc\n\
                    <https://x.example.org/api/v1/donor/unsubscribe?token=dd.ee.ff>\n\
                    new: https://x.example.org/donor/report?token=0123abcd";
        assert_eq!(legacy_tokens(text), vec!["aa.bb.cc", "dd.ee.ff"]);
    }
}
