//! The donor emails: one per sealed report and donor, written to the outbox in the same
//! transaction as its `report_sends` row (primary key: report and donor), so sending
//! again, from the API, the CLI or after a crash, never mails a donor twice. Each email
//! holds the donor's own gifts in the period and the fund's sealed summary, in the
//! donor's language, as text and HTML (spending by category as CSS bars: no image, no
//! remote resource, no tracking), a link to the web version, the report's hash, and
//! working `List-Unsubscribe` / `List-Unsubscribe-Post` headers (RFC 8058).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;

use super::donor::{self, Purpose, WithdrawnBy};
use super::lifecycle::{self, Row};
use super::summary::{Count, Summary};
use crate::approval::FlowError;
use crate::audit::{self, Actor};
use crate::config::Config;
use crate::domain::Language;
use crate::domain::money::format_cents;
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
    write_tx!(db, |tx| send_in(tx, config, now, actor, id).await)
}

async fn send_in(
    tx: &mut Tx,
    config: &Config,
    now: DateTime<Utc>,
    actor: &Actor,
    id: &str,
) -> Result<SendOutcome, FlowError> {
    let row = lifecycle::load_locked(tx, id).await?;
    if row.status != "sealed" {
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
        let letter = render(language, &d.name, &summary, &hash, own, &links);
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
                        format!("<{}>", links.unsubscribe),
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
        "SELECT id FROM reports WHERE status = 'sealed' AND superseded_by IS NULL
            AND send_requested_at IS NULL
         ORDER BY period_start, id"
    )
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

pub struct Links {
    pub web: String,
    pub unsubscribe: String,
    pub link_days: u32,
}

pub struct Letter {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn category_label(language: Language, key: &str) -> String {
    let (en, fr) = match key {
        "bus" => ("Bus", "Autobus"),
        "train" => ("Train", "Train"),
        "flight" => ("Flights", "Avion"),
        "local_transport" => ("Local transport", "Transport local"),
        "hotel" => ("Hotel", "Hôtel"),
        "phone_card" => ("Phone cards", "Cartes téléphoniques"),
        "food" => ("Food", "Nourriture"),
        "clothing" => ("Clothing", "Vêtements"),
        "hygiene" => ("Hygiene", "Hygiène"),
        "pocket_money" => ("Pocket money", "Argent de poche"),
        "interpreter" => ("Interpreters", "Interprètes"),
        "other" => ("Other needs", "Autres besoins"),
        other => (other, other),
    };
    match language {
        Language::En => en.into(),
        Language::Fr => fr.into(),
    }
}

fn money(language: Language, figure: &str) -> String {
    match language {
        Language::En => format!("${figure}"),
        Language::Fr => format!("{} $", figure.replace('.', ",")),
    }
}

fn cents_of(amount: Option<&str>) -> Option<i64> {
    let d: rust_decimal::Decimal = amount?.parse().ok()?;
    (d * rust_decimal::Decimal::ONE_HUNDRED).try_into().ok()
}

/// A bar of the chart: label, amount shown (or `None` when suppressed), cases shown.
pub struct Bar {
    pub label: String,
    pub amount: Option<i64>,
    pub cases: String,
}

fn bars(language: Language, summary: &Summary) -> Vec<Bar> {
    let section = &summary.by_category;
    let mut out = Vec::new();
    for cell in &section.cells {
        out.push(Bar {
            label: category_label(language, &cell.key),
            amount: cents_of(cell.amount.as_deref()),
            cases: cell.cases.to_string(),
        });
    }
    if let Some(other) = &section.other {
        let members: Vec<String> = other
            .members
            .iter()
            .map(|m| category_label(language, m))
            .collect();
        let label = match language {
            Language::En => format!("Together: {}", members.join(", ")),
            Language::Fr => format!("Ensemble : {}", members.join(", ")),
        };
        out.push(Bar {
            label,
            amount: cents_of(other.amount.as_deref()),
            cases: other.cases.to_string(),
        });
    }
    out
}

/// The sealed summary as lines and bars in a language: what the email and the donor's
/// web page both show.
pub struct Figures {
    pub rows: Vec<(String, String)>,
    pub chart: Vec<Bar>,
    /// The largest bar, for scaling the others.
    pub max: i64,
    /// That the figures undercount the need.
    pub note: String,
    /// What a suppressed bar says instead of its amount.
    pub hidden: String,
}

impl Figures {
    /// Nothing to show: a report without a summary this release can read.
    pub fn none(language: Language) -> Figures {
        Figures {
            rows: Vec::new(),
            chart: Vec::new(),
            max: 1,
            note: String::new(),
            hidden: hidden_text(language),
        }
    }
}

fn hidden_text(language: Language) -> String {
    match language {
        Language::En => "fewer cases than the threshold: counted in \"Together\"".into(),
        Language::Fr => "moins de dossiers que le seuil : compté dans « Ensemble »".into(),
    }
}

pub fn figures(language: Language, summary: &Summary) -> Figures {
    let en = language == Language::En;
    let t = |e: &str, f: &str| if en { e.to_string() } else { f.to_string() };
    let figure = |v: &Option<String>| money(language, v.as_deref().unwrap_or("0.00"));
    let plain = |v: Option<Count>| v.map(|c| c.to_string()).unwrap_or_else(|| "—".into());
    let scope = |key: &str| -> String {
        summary
            .trips
            .cells
            .iter()
            .find(|c| c.key == key)
            .map(|c| match c.trips {
                None => t("included below a threshold", "inclus sous un seuil"),
                trips => plain(trips),
            })
            .unwrap_or_else(|| "0".into())
    };
    let median = match summary.median_decision_seconds {
        Some(Count::Exactly(secs)) => {
            if secs < 120 {
                t(&format!("{secs} seconds"), &format!("{secs} secondes"))
            } else {
                t(
                    &format!("{} minutes", secs / 60),
                    &format!("{} minutes", secs / 60),
                )
            }
        }
        Some(s) => s.to_string(),
        None => "—".into(),
    };
    let runway = match summary.runway_months.as_deref() {
        Some(m) => t(
            &format!("{m} months"),
            &format!("{} mois", m.replace('.', ",")),
        ),
        None => "—".into(),
    };
    let rows: Vec<(String, String)> = vec![
        (
            t("Opening balance", "Solde d'ouverture"),
            figure(&summary.opening_balance),
        ),
        (
            t("Donations received", "Dons reçus"),
            money(language, &summary.donations.total),
        ),
        (
            t(
                "  of which restricted to some needs",
                "  dont réservés à certains besoins",
            ),
            money(language, &summary.donations.restricted),
        ),
        (
            t("Gifts in kind (estimated)", "Dons en nature (estimés)"),
            money(language, &summary.in_kind),
        ),
        (t("Spent", "Dépensé"), figure(&summary.disbursed)),
        (
            t("Closing balance", "Solde de clôture"),
            figure(&summary.closing_balance),
        ),
        (
            t(
                "Held for approved requests",
                "Réservé pour des demandes approuvées",
            ),
            summary
                .holds_outstanding
                .amount
                .as_deref()
                .map(|a| money(language, a))
                .unwrap_or_else(|| plain(Some(summary.holds_outstanding.cases))),
        ),
        (
            t(
                "Runway at this period's pace",
                "Autonomie au rythme de la période",
            ),
            runway,
        ),
        (
            t("People helped (cases)", "Personnes aidées (dossiers)"),
            plain(Some(summary.cases_helped)),
        ),
        (
            t("Hotel nights", "Nuits d'hôtel"),
            plain(summary.hotel_nights),
        ),
        (t("Trips", "Trajets"), plain(summary.trips.total)),
        (
            t("  between provinces", "  entre provinces"),
            scope("interprovincial"),
        ),
        (t("  abroad", "  vers l'étranger"), scope("international")),
        (
            t(
                "Median time from request to decision",
                "Délai médian entre demande et décision",
            ),
            median,
        ),
    ];
    let chart = bars(language, summary);
    let max = chart
        .iter()
        .filter_map(|b| b.amount)
        .max()
        .unwrap_or(0)
        .max(1);
    let note = summary.notes.get(language).to_string();
    let hidden = hidden_text(language);
    Figures {
        rows,
        chart,
        max,
        note,
        hidden,
    }
}

/// One of the donor's gifts as a line: amount, in kind, restricted to.
pub fn gift_line(language: Language, g: &Gift) -> String {
    let en = language == Language::En;
    let t = |e: &str, f: &str| if en { e.to_string() } else { f.to_string() };
    let mut line = money(language, &format_cents(g.amount));
    if g.kind == "in_kind" {
        line.push_str(&t(" (in kind)", " (en nature)"));
    }
    if let Some(r) = &g.restricted_to {
        let cats: Vec<String> = r.split(',').map(|c| category_label(language, c)).collect();
        line.push_str(&if en {
            format!(" (for {})", cats.join(", "))
        } else {
            format!(" (pour {})", cats.join(", "))
        });
    }
    line
}

/// The email of one donor. Everything in it comes from the sealed summary and the
/// donor's own gifts: no case, city, vendor, date finer than the period or free text.
pub fn render(
    language: Language,
    name: &str,
    summary: &Summary,
    hash: &str,
    gifts: &[Gift],
    links: &Links,
) -> Letter {
    let en = language == Language::En;
    let t = |e: &str, f: &str| if en { e.to_string() } else { f.to_string() };
    let start = summary.period.start;
    let end = summary.period.end;
    let subject = if en {
        format!("What the Passage fund did, {start} to {end}")
    } else {
        format!("Ce que le fonds Passage a permis, du {start} au {end}")
    };
    let own_total: i64 = gifts.iter().map(|g| g.amount).sum();
    let gift_line = |g: &Gift| gift_line(language, g);
    let Figures {
        rows,
        chart,
        max,
        note,
        hidden,
    } = figures(language, summary);

    // Text.
    let mut text = String::new();
    let _ = writeln!(text, "{} {name},\n", t("Hello", "Bonjour"));
    let _ = writeln!(
        text,
        "{}\n",
        if en {
            format!("Here is what the Passage emergency fund did from {start} to {end}.")
        } else {
            format!("Voici ce que le fonds d'urgence Passage a permis du {start} au {end}.")
        }
    );
    if gifts.is_empty() {
        let _ = writeln!(
            text,
            "{}\n",
            t(
                "You made no gift in this period: thank you for your support.",
                "Vous n'avez pas fait de don pendant cette période : merci de votre soutien."
            )
        );
    } else {
        let _ = writeln!(
            text,
            "{}",
            t(
                "Your gifts in this period:",
                "Vos dons pendant cette période :"
            )
        );
        for g in gifts {
            let _ = writeln!(text, "  - {}", gift_line(g));
        }
        let _ = writeln!(
            text,
            "  {} {}\n",
            t("Total:", "Total :"),
            money(language, &format_cents(own_total))
        );
    }
    let _ = writeln!(text, "{}", t("The fund:", "Le fonds :"));
    for (label, value) in &rows {
        let _ = writeln!(text, "  {label}: {value}");
    }
    let _ = writeln!(
        text,
        "\n{}",
        t("Spending by need:", "Dépenses par besoin :")
    );
    for b in &chart {
        match b.amount {
            Some(a) => {
                let width = usize::try_from(a * 30 / max).unwrap_or(0).max(1);
                let _ = writeln!(
                    text,
                    "  {:<28} {} {} ({})",
                    b.label,
                    "#".repeat(width),
                    money(language, &format_cents(a)),
                    b.cases
                );
            }
            None => {
                let _ = writeln!(text, "  {:<28} {} ({hidden})", b.label, b.cases);
            }
        }
    }
    let _ = writeln!(text, "\n{note}\n");
    let _ = writeln!(text, "{} {}", t("Web version:", "Version web :"), links.web);
    let _ = writeln!(
        text,
        "{}",
        if en {
            format!("(this link works for {} days)", links.link_days)
        } else {
            format!("(ce lien fonctionne {} jours)", links.link_days)
        }
    );
    let _ = writeln!(
        text,
        "{} {hash}",
        t(
            "Report fingerprint (SHA-256):",
            "Empreinte du rapport (SHA-256) :"
        )
    );
    let _ = writeln!(
        text,
        "\n{} {}",
        t(
            "To stop receiving these reports:",
            "Pour ne plus recevoir ces rapports :"
        ),
        links.unsubscribe
    );

    // HTML: inline styles only, no image, nothing fetched from elsewhere.
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head>",
        if en { "en" } else { "fr" },
        escape(&subject)
    );
    let _ = write!(
        html,
        "<body style=\"font-family:Arial,Helvetica,sans-serif;color:#1a202c;max-width:640px;margin:0 auto;padding:16px\">"
    );
    let _ = write!(html, "<p>{} {},</p>", t("Hello", "Bonjour"), escape(name));
    let _ = write!(
        html,
        "<p>{}</p>",
        escape(&if en {
            format!("Here is what the Passage emergency fund did from {start} to {end}.")
        } else {
            format!("Voici ce que le fonds d'urgence Passage a permis du {start} au {end}.")
        })
    );
    if gifts.is_empty() {
        let _ = write!(
            html,
            "<p>{}</p>",
            t(
                "You made no gift in this period: thank you for your support.",
                "Vous n'avez pas fait de don pendant cette période : merci de votre soutien."
            )
        );
    } else {
        let _ = write!(
            html,
            "<h2 style=\"font-size:18px\">{}</h2><ul>",
            t(
                "Your gifts in this period",
                "Vos dons pendant cette période"
            )
        );
        for g in gifts {
            let _ = write!(html, "<li>{}</li>", escape(&gift_line(g)));
        }
        let _ = write!(
            html,
            "</ul><p><strong>{} {}</strong></p>",
            t("Total:", "Total :"),
            escape(&money(language, &format_cents(own_total)))
        );
    }
    let _ = write!(
        html,
        "<h2 style=\"font-size:18px\">{}</h2><table role=\"presentation\" style=\"border-collapse:collapse;width:100%\">",
        t("The fund", "Le fonds")
    );
    for (label, value) in &rows {
        let _ = write!(
            html,
            "<tr><td style=\"padding:4px 8px 4px 0\">{}</td><td style=\"padding:4px 0;text-align:right\">{}</td></tr>",
            escape(label.trim()),
            escape(value)
        );
    }
    let _ = write!(
        html,
        "</table><h2 style=\"font-size:18px\">{}</h2><table role=\"presentation\" class=\"chart\" style=\"border-collapse:collapse;width:100%\">",
        t("Spending by need", "Dépenses par besoin")
    );
    for b in &chart {
        match b.amount {
            Some(a) => {
                let percent = (a * 100 / max).clamp(1, 100);
                let _ = write!(
                    html,
                    "<tr><td style=\"padding:4px 8px 4px 0;width:35%\">{}</td><td style=\"padding:4px 0\"><div class=\"bar\" style=\"background:#2b6cb0;height:14px;width:{percent}%\"></div></td><td style=\"padding:4px 0 4px 8px;text-align:right;white-space:nowrap\">{} ({})</td></tr>",
                    escape(&b.label),
                    escape(&money(language, &format_cents(a))),
                    escape(&b.cases)
                );
            }
            None => {
                let _ = write!(
                    html,
                    "<tr><td style=\"padding:4px 8px 4px 0;width:35%\">{}</td><td colspan=\"2\" style=\"padding:4px 0;color:#4a5568\">{} ({})</td></tr>",
                    escape(&b.label),
                    escape(&b.cases),
                    escape(&hidden)
                );
            }
        }
    }
    let _ = write!(
        html,
        "</table><p style=\"color:#4a5568\">{}</p>",
        escape(&note)
    );
    let _ = write!(
        html,
        "<p><a href=\"{}\">{}</a> ({})</p>",
        escape(&links.web),
        t("Read this report on the web", "Lire ce rapport sur le web"),
        escape(&if en {
            format!("this link works for {} days", links.link_days)
        } else {
            format!("ce lien fonctionne {} jours", links.link_days)
        })
    );
    let _ = write!(
        html,
        "<p style=\"font-size:12px;color:#4a5568\">{} <code>{}</code></p>",
        t(
            "Report fingerprint (SHA-256):",
            "Empreinte du rapport (SHA-256) :"
        ),
        escape(hash)
    );
    let _ = write!(
        html,
        "<p style=\"font-size:12px\"><a href=\"{}\">{}</a></p></body></html>",
        escape(&links.unsubscribe),
        t(
            "Stop receiving these reports",
            "Ne plus recevoir ces rapports"
        )
    );
    Letter {
        subject,
        text,
        html,
    }
}
