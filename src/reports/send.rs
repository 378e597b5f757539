//! The donor emails: one per sealed report and donor, written to the outbox in the same
//! transaction as its `report_sends` row (primary key: report and donor), so sending
//! again, from the API, the CLI or after a crash, never mails a donor twice. Each email
//! holds the donor's own gifts in the period and the fund's sealed summary, in the
//! donor's language, as text and HTML (spending by category as CSS bars: no image, no
//! remote resource, no tracking), a link to the web version, the report's hash, and
//! working `List-Unsubscribe` / `List-Unsubscribe-Post` headers (RFC 8058).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;

use super::donor::{self, Purpose, WithdrawnBy};
use super::lifecycle::{self, Row};
use super::summary::{Count, Summary};
use crate::approval::FlowError;
use crate::audit::{self, Actor};
use crate::config::Config;
use crate::domain::money::format_cents;
use crate::domain::{Language, ReportStatus};
use crate::i18n;
use crate::mail::compose::{ComposeError, DonorReport, Written};
use crate::mail::{self, OutgoingMail};
use crate::store::{Db, StoreError, Tx};
use crate::{on_db, on_tx, write_tx};

/// What `POST /api/v1/reports/{id}/send` answers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SendOutcome {
    /// Emails added to the outbox now.
    pub queued: usize,
    /// Donors who had this report already (never mailed twice).
    pub already_queued: usize,
    /// Donors who unsubscribed.
    pub unsubscribed: usize,
}

/// One gift of a donor, as their email and their page show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Gift {
    #[serde(skip)]
    pub donor_id: String,
    #[serde(serialize_with = "as_figure")]
    #[schema(value_type = crate::domain::money::Figure)]
    pub amount: i64,
    /// `cash` or `in_kind`.
    pub kind: String,
    /// The categories a restricted gift is kept for, comma-separated.
    pub restricted_to: Option<String>,
}

fn as_figure<S: serde::Serializer>(cents: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_cents(*cents))
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Donor {
    id: String,
    name: String,
    email: String,
    language: String,
    unsubscribed_at: Option<DateTime<Utc>>,
}

/// The gifts recorded in a report's window, oldest first.
pub async fn gifts_in(tx: &mut Tx, row: &Row, donor: Option<&str>) -> Result<Vec<Gift>, FlowError> {
    let window = row.window()?;
    Ok(on_tx!(tx, c => sqlx::query_as::<_, Gift>(
        "SELECT donor_id, amount, kind, restricted_to FROM donations
         WHERE created_at >= $1 AND created_at <= $2 AND ($3 IS NULL OR donor_id = $3)
         ORDER BY created_at, id",
    )
    .bind(window.start)
    .bind(window.cutoff)
    .bind(donor)
    .fetch_all(c)
    .await)?)
}

/// Queues the report's email for every donor who has not had it and has not
/// unsubscribed. Only a sealed (co-signed) report that no correction replaced is sent.
pub async fn send(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
    actor: &Actor,
    id: &str,
) -> Result<SendOutcome, FlowError> {
    write_tx!(db, |tx| -> Result<SendOutcome, FlowError> async {
        send_in(tx, config, now, actor, id).await
    })
}

async fn send_in(
    tx: &mut Tx,
    config: &Config,
    now: DateTime<Utc>,
    actor: &Actor,
    id: &str,
) -> Result<SendOutcome, FlowError> {
    let row = lifecycle::load_locked(tx, id).await?;
    if !row.status.is_sealed() {
        return Err(FlowError::Conflict(format!(
            "this report is {}: it is sent once a treasurer has sealed it and a second one has co-signed it",
            row.status
        )));
    }
    if let Some(by) = &row.superseded_by {
        return Err(FlowError::Conflict(format!(
            "this report was corrected by report {by}: send that one"
        )));
    }
    let summary = row
        .stored_summary()
        .ok_or_else(|| FlowError::Conflict("this report has no readable summary".into()))?;
    let hash = row.hash.clone().unwrap_or_default();
    let donors: Vec<Donor> = on_tx!(tx, c => sqlx::query_as::<_, Donor>(
        "SELECT id, name, email, language, unsubscribed_at FROM donors ORDER BY id"
    )
    .fetch_all(c)
    .await)?;
    let sent: BTreeSet<String> = on_tx!(tx, c => sqlx::query_scalar::<_, String>(
        "SELECT donor_id FROM report_sends WHERE report_id = $1"
    )
    .bind(id)
    .fetch_all(c)
    .await)?
    .into_iter()
    .collect();
    let mut gifts: HashMap<String, Vec<Gift>> = HashMap::new();
    for gift in gifts_in(tx, &row, None).await? {
        gifts.entry(gift.donor_id.clone()).or_default().push(gift);
    }
    let mut outcome = SendOutcome {
        queued: 0,
        already_queued: 0,
        unsubscribed: 0,
    };
    for d in &donors {
        if d.unsubscribed_at.is_some() {
            outcome.unsubscribed += 1;
            continue;
        }
        if sent.contains(&d.id) {
            outcome.already_queued += 1;
            continue;
        }
        let dedupe_key = format!("report:{id}:donor:{}", d.id);
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO report_sends (report_id, donor_id, dedupe_key, queued_at) VALUES ($1, $2, $3, $4)"
        )
        .bind(id)
        .bind(&d.id)
        .bind(&dedupe_key)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))?;
        let language: Language = d.language.parse().unwrap_or_default();
        let expires = now + Duration::days(i64::from(config.donor_link_days));
        let report_token =
            donor::issue(tx, now, &d.id, Purpose::Report, Some(id), Some(expires)).await?;
        let unsubscribe = donor::issue(tx, now, &d.id, Purpose::Unsubscribe, None, None).await?;
        let base = config.base_url.trim_end_matches('/');
        let links = Links {
            web: format!("{base}/donor/report?token={report_token}"),
            unsubscribe: crate::links::donor_unsubscribe(base, &unsubscribe),
            link_days: config.donor_link_days,
        };
        let own = gifts.get(&d.id).map(Vec::as_slice).unwrap_or_default();
        let letter = render(language, &d.name, &summary, &hash, own, &links)?;
        mail::enqueue(
            tx,
            now,
            &OutgoingMail {
                to: d.email.clone(),
                subject: letter.subject,
                text: letter.text,
                html: Some(letter.html),
                dedupe_key,
                headers: vec![
                    (
                        "List-Unsubscribe".into(),
                        format!(
                            "<{}>",
                            crate::links::donor_one_click_unsubscribe(base, &unsubscribe)
                        ),
                    ),
                    (
                        "List-Unsubscribe-Post".into(),
                        "List-Unsubscribe=One-Click".into(),
                    ),
                ],
            },
        )
        .await?;
        outcome.queued += 1;
    }
    on_tx!(tx, c => sqlx::query(
        "UPDATE reports SET send_requested_at = COALESCE(send_requested_at, $2) WHERE id = $1"
    )
    .bind(id)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    audit::append(
        tx,
        now,
        actor,
        "report.send",
        &format!("report:{id}"),
        &json!({"queued": outcome.queued, "already_queued": outcome.already_queued,
                "unsubscribed": outcome.unsubscribed}),
    )
    .await?;
    Ok(outcome)
}

/// Sends every sealed report that no correction replaced and nobody has sent yet (for
/// `passage reports send` from cron). Returns (report id, outcome) for each.
pub async fn send_unsent(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
    actor: &Actor,
) -> Result<Vec<(String, SendOutcome)>, FlowError> {
    let ids: Vec<String> = on_db!(db, p => sqlx::query_scalar(
        "SELECT id FROM reports WHERE status = $1 AND superseded_by IS NULL
            AND send_requested_at IS NULL
         ORDER BY period_start, id"
    )
    .bind(ReportStatus::Sealed)
    .fetch_all(p)
    .await)?;
    let mut out = Vec::new();
    for id in ids {
        let outcome = send(db, config, now, actor, &id).await?;
        out.push((id, outcome));
    }
    Ok(out)
}

/// Marks a donor unsubscribed (once; again is a no-op) and withdraws their report links;
/// their unsubscribe links stay valid, to subscribe again. Returns whether they exist.
pub async fn unsubscribe(
    tx: &mut Tx,
    now: DateTime<Utc>,
    donor_id: &str,
) -> Result<bool, StoreError> {
    let changed = on_tx!(tx, c => sqlx::query(
        "UPDATE donors SET unsubscribed_at = $2 WHERE id = $1 AND unsubscribed_at IS NULL"
    )
    .bind(donor_id)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    let withdrawn = donor::withdraw(
        tx,
        now,
        donor_id,
        WithdrawnBy::Unsubscribed,
        Some(Purpose::Report),
    )
    .await?;
    if changed == 1 || withdrawn > 0 {
        audit::append(
            tx,
            now,
            &Actor(format!("donor:{donor_id}")),
            "donor.unsubscribe",
            &format!("donor:{donor_id}"),
            &json!({ "report_links_withdrawn": withdrawn }),
        )
        .await?;
    }
    donor_exists(tx, donor_id).await
}

/// Subscribes a donor again (once; again is a no-op): the next report's email reaches them
/// with new links; the report links withdrawn when they left stay withdrawn. Returns
/// whether they exist.
pub async fn resubscribe(
    tx: &mut Tx,
    now: DateTime<Utc>,
    donor_id: &str,
) -> Result<bool, StoreError> {
    let changed = on_tx!(tx, c => sqlx::query(
        "UPDATE donors SET unsubscribed_at = NULL WHERE id = $1 AND unsubscribed_at IS NOT NULL"
    )
    .bind(donor_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if changed == 1 {
        audit::append(
            tx,
            now,
            &Actor(format!("donor:{donor_id}")),
            "donor.resubscribe",
            &format!("donor:{donor_id}"),
            &json!({}),
        )
        .await?;
    }
    donor_exists(tx, donor_id).await
}

async fn donor_exists(tx: &mut Tx, donor_id: &str) -> Result<bool, StoreError> {
    let exists: Option<String> = on_tx!(tx, c => sqlx::query_scalar("SELECT id FROM donors WHERE id = $1")
        .bind(donor_id)
        .fetch_optional(c)
        .await)?;
    Ok(exists.is_some())
}

pub use crate::mail::compose::{Bar, Figures, Links};

/// A category's name as the reports write it (`flight` → `Flights` / `Avion`).
pub fn category_label(language: Language, key: &str) -> String {
    let message = format!("need-{key}");
    if i18n::has(language, &message) {
        i18n::text(language, &message)
    } else {
        key.to_string()
    }
}

fn cents_of(amount: Option<&str>) -> Option<i64> {
    let d: rust_decimal::Decimal = amount?.parse().ok()?;
    (d * rust_decimal::Decimal::ONE_HUNDRED).try_into().ok()
}

/// A count as a reader is told it: `12`, "fewer than 5 people", "5 people or more"
/// (a count hidden to protect a smaller group), in the language's digits.
pub fn people(language: Language, count: Count) -> String {
    match count {
        Count::Exactly(n) => i18n::text_with(
            language,
            "figure-people",
            &[("n", i18n::count(language, n))],
        ),
        Count::FewerThan(k) => {
            i18n::text_with(language, "figure-fewer-than", &[("k", k.to_string())])
        }
        Count::AtLeast(k) => i18n::text_with(language, "figure-at-least", &[("k", k.to_string())]),
    }
}

/// A count of things (trips, nights) as a reader is told it.
fn number(language: Language, count: Option<Count>) -> String {
    match count {
        Some(Count::Exactly(n)) => i18n::count(language, n),
        Some(Count::FewerThan(k)) => {
            i18n::text_with(language, "figure-fewer-than-k", &[("k", k.to_string())])
        }
        Some(Count::AtLeast(k)) => {
            i18n::text_with(language, "figure-k-or-more", &[("k", k.to_string())])
        }
        None => i18n::text(language, "figure-not-shown"),
    }
}

/// A province's name in the language (`QC` → `Quebec` / `Québec`).
fn province_label(language: Language, key: &str) -> String {
    let message = format!("province-{key}");
    if i18n::has(language, &message) {
        i18n::text(language, &message)
    } else {
        key.to_string()
    }
}

/// What a bar says of its people: "7 people" beside its amount; when its amount is
/// hidden, why, in words ("fewer than 5 people: counted with others below").
fn bar_people(language: Language, amount: Option<i64>, cases: Count) -> String {
    match (amount, cases) {
        (Some(_), cases) => people(language, cases),
        (None, Count::FewerThan(k)) => {
            i18n::text_with(language, "figure-hidden-small", &[("k", k.to_string())])
        }
        (None, cases) => i18n::text_with(
            language,
            "figure-hidden-cell",
            &[("people", people(language, cases))],
        ),
    }
}

fn section_bars(
    language: Language,
    section: &super::summary::Section,
    label: impl Fn(&str) -> String,
) -> Vec<Bar> {
    let mut out = Vec::new();
    for cell in &section.cells {
        let amount = cents_of(cell.amount.as_deref());
        out.push(Bar {
            label: label(cell.key.as_str()),
            amount,
            cases: bar_people(language, amount, cell.cases),
        });
    }
    if let Some(other) = &section.other {
        let members: Vec<String> = other.members.iter().map(|m| label(m.as_str())).collect();
        out.push(Bar {
            label: i18n::text_with(
                language,
                "figure-together",
                &[("members", members.join(", "))],
            ),
            amount: cents_of(other.amount.as_deref()),
            cases: bar_people(language, cents_of(other.amount.as_deref()), other.cases),
        });
    }
    out
}

fn bars(language: Language, summary: &Summary) -> Vec<Bar> {
    section_bars(language, &summary.by_category, |k| {
        category_label(language, k)
    })
}

/// Spending by province, under the same suppression as by need.
fn province_bars(language: Language, summary: &Summary) -> Vec<Bar> {
    section_bars(language, &summary.by_province, |k| {
        province_label(language, k)
    })
}

/// Nothing to show: a report whose stored summary this release cannot read.
pub fn no_figures(language: Language) -> Figures {
    Figures {
        rows: Vec::new(),
        chart: Vec::new(),
        max: 1,
        note: String::new(),
        hidden: i18n::text(language, "figure-hidden"),
        by_province: Vec::new(),
        how_to_read: i18n::text(language, "report-how-to-read"),
    }
}

/// The sealed summary as lines and bars in a language: what the email and the donor's
/// web page both show. One format per language for every amount and count
/// (`i18n::money`, `i18n::count`); a hidden figure said in words, never `<5` or `>=5`.
pub fn figures(language: Language, summary: &Summary) -> Figures {
    let t = |key: &str| i18n::text(language, key);
    let n = |key: &str, n: String| i18n::text_with(language, key, &[("n", n)]);
    // A line that details the one before it.
    let detail = |key: &str| format!("  {}", t(key));
    let figure = |v: &Option<String>| match v.as_deref() {
        Some(v) => i18n::money_str(language, v),
        None => t("figure-not-shown"),
    };
    let k = summary.min_cell;
    let hidden_small = |cases: Count| match cases {
        Count::FewerThan(_) => {
            i18n::text_with(language, "figure-hidden-small", &[("k", k.to_string())])
        }
        _ => t("figure-hidden-protect"),
    };
    let mut rows: Vec<(String, String)> = vec![
        (
            t("figure-opening-balance"),
            figure(&summary.opening_balance),
        ),
        (
            t("figure-donations"),
            i18n::money_str(language, &summary.donations.total),
        ),
        (
            detail("figure-restricted"),
            i18n::money_str(language, &summary.donations.restricted),
        ),
        (
            t("figure-in-kind"),
            i18n::money_str(language, &summary.in_kind),
        ),
        (t("figure-spent"), figure(&summary.disbursed)),
        (
            t("figure-closing-balance"),
            figure(&summary.closing_balance),
        ),
        (
            t("figure-held"),
            match summary.holds_outstanding.amount.as_deref() {
                Some(a) => i18n::money_str(language, a),
                None => hidden_small(summary.holds_outstanding.cases),
            },
        ),
        (
            t("figure-runway"),
            match summary.runway_months.as_deref() {
                Some(m) if language == Language::Fr => n("figure-months", m.replace('.', ",")),
                Some(m) => n("figure-months", m.to_string()),
                None => "—".into(),
            },
        ),
        (
            t("figure-cases-helped"),
            number(language, Some(summary.cases_helped)),
        ),
        (
            t("figure-hotel-nights"),
            number(language, summary.hotel_nights),
        ),
        (t("figure-trips"), number(language, summary.trips.total)),
    ];
    // Receipts paid back to organisations, beside what was spent (`paid_out`).
    if let Some(paid) = &summary.paid_to_organisations
        && let Some(at) = rows.iter().position(|(l, _)| *l == t("figure-spent"))
    {
        for (i, row) in super::paid_out::rows(language, paid)
            .into_iter()
            .enumerate()
        {
            rows.insert(at + 1 + i, row);
        }
    }
    // Trips by scope, in words; a scope counted with others says so, and the group
    // follows.
    for cell in &summary.trips.cells {
        let value = match cell.trips {
            Some(trips) => number(language, Some(trips)),
            None => hidden_small(cell.cases),
        };
        rows.push((detail(format!("figure-scope-{}", cell.key).as_str()), value));
    }
    if let Some(other) = &summary.trips.other {
        let members: Vec<String> = other
            .members
            .iter()
            .map(|m| t(&format!("figure-scope-{m}")))
            .collect();
        rows.push((
            format!(
                "  {}",
                i18n::text_with(
                    language,
                    "figure-together",
                    &[("members", members.join(", "))]
                )
            ),
            number(language, other.trips),
        ));
    }
    // How decisions were taken: at once by the rules, or by a treasurer, and how long
    // the treasurers took. A report frozen before this was published says the median.
    let minutes = |secs: i64| {
        if secs < 60 {
            t("figure-under-a-minute")
        } else {
            i18n::waited(language, secs)
        }
    };
    match &summary.decisions {
        Some(d) => {
            rows.push((
                t("figure-at-once"),
                match &d.at_once_percent {
                    Some(p) => i18n::text_with(language, "figure-percent", &[("n", p.clone())]),
                    None => t("figure-not-shown"),
                },
            ));
            rows.push((
                t("figure-by-treasurer"),
                match d.by_treasurer_median_seconds {
                    Some(Count::Exactly(secs)) => {
                        i18n::text_with(language, "figure-median-of", &[("time", minutes(secs))])
                    }
                    Some(_) => hidden_small(d.by_treasurer_cases),
                    None => t("figure-none"),
                },
            ));
        }
        None => rows.push((
            t("figure-median"),
            match summary.median_decision_seconds {
                Some(Count::Exactly(secs)) => minutes(secs),
                Some(c) => hidden_small(c),
                None => "—".into(),
            },
        )),
    }
    let chart = bars(language, summary);
    let max = chart
        .iter()
        .filter_map(|b| b.amount)
        .max()
        .unwrap_or(0)
        .max(1);
    let note = summary.notes.get(language).to_string();
    Figures {
        rows,
        chart,
        max,
        note,
        hidden: t("figure-hidden"),
        by_province: province_bars(language, summary),
        how_to_read: i18n::text_with(language, "report-how-to-read", &[("k", k.to_string())]),
    }
}

/// One of the donor's gifts as a line: amount, in kind, restricted to.
pub fn gift_line(language: Language, g: &Gift) -> String {
    let mut line = i18n::money(language, g.amount);
    if g.kind == "in_kind" {
        line.push(' ');
        line.push_str(&i18n::text(language, "gift-in-kind"));
    }
    if let Some(r) = &g.restricted_to {
        let cats: Vec<String> = r.split(',').map(|c| category_label(language, c)).collect();
        line.push(' ');
        line.push_str(&i18n::text_with(
            language,
            "gift-for",
            &[("categories", cats.join(", "))],
        ));
    }
    line
}

/// The email of one donor, in their language.
pub fn render(
    language: Language,
    name: &str,
    summary: &Summary,
    hash: &str,
    gifts: &[Gift],
    links: &Links,
) -> Result<Written, ComposeError> {
    let figures = figures(language, summary);
    let (start, end) = (
        summary.period.start.to_string(),
        summary.period.end.to_string(),
    );
    DonorReport {
        language,
        name,
        start: &start,
        end: &end,
        gifts: gifts.iter().map(|g| gift_line(language, g)).collect(),
        gifts_total_cents: gifts.iter().map(|g| g.amount).sum(),
        figures: &figures,
        hash,
        links,
    }
    .write()
}
