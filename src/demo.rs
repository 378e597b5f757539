//! `passage demo`: a small coalition in a fresh database, so a newcomer sees a working fund
//! without typing anything. Everything goes through the same steps as the API (the same
//! parsing, lifecycle and ledger), at times spread over the last days. The people are
//! codes and `example.org` addresses; the passwords are random and printed once.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde_json::{Value, json};

use crate::approval::lifecycle::{self, Receipt};
use crate::approval::submit::{self, Submission};
use crate::approval::{FlowError, notify};
use crate::audit::Actor;
use crate::cases::{self, Staff};
use crate::domain::note::Note;
use crate::domain::{Email, Language, OrgType, Password, Province, Role, Roles};
use crate::funding::{self, NewDonation, Restriction};
use crate::identity::{orgs, users};
use crate::store::Db;
use crate::{on_db, write_tx};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "this database already holds data, and the demo only fills an empty one: point \
         PASSAGE_DATABASE_URL at a new file, e.g. PASSAGE_DATABASE_URL=sqlite://demo.db passage demo"
    )]
    NotEmpty,
    #[error("the demo could not be built: {0}")]
    Step(String),
}

fn step(e: impl std::fmt::Display) -> DemoError {
    DemoError::Step(e.to_string())
}

/// An account of the demo, with its password shown once.
pub struct Account {
    pub email: String,
    pub roles: Roles,
    pub language: &'static str,
    pub password: String,
}

/// Whether the database holds any organisation, user, donor or case.
async fn holds_data(db: &Db) -> Result<bool, DemoError> {
    let count: i64 = on_db!(db, p => sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM orgs) + (SELECT COUNT(*) FROM users)
              + (SELECT COUNT(*) FROM donors) + (SELECT COUNT(*) FROM cases)",
    )
    .fetch_one(p)
    .await)
    .map_err(step)?;
    Ok(count > 0)
}

fn password() -> String {
    const LETTERS: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..16)
        .map(|_| LETTERS[rng.gen_range(0..LETTERS.len())] as char)
        .collect()
}

async fn org(
    db: &Db,
    now: DateTime<Utc>,
    name: &str,
    kind: OrgType,
    province: &str,
) -> Result<String, DemoError> {
    let province = Province::parse(province).map_err(step)?;
    let new = orgs::NewOrg::new(name, kind, province).map_err(step)?;
    Ok(orgs::create(db, now, &Actor::cli(), &new)
        .await
        .map_err(step)?
        .id)
}

async fn user(
    db: &Db,
    now: DateTime<Utc>,
    email: &str,
    role: Role,
    language: &'static str,
    org_id: Option<&str>,
    accounts: &mut Vec<Account>,
) -> Result<Staff, DemoError> {
    let secret = password();
    let roles = Roles::new(vec![role]).map_err(step)?;
    let new = users::NewUser {
        email: Email::parse(email).map_err(step)?,
        password: Password::parse(secret.clone()).map_err(step)?,
        roles: roles.clone(),
        org_id: org_id.map(Into::into),
        language: language.parse::<Language>().map_err(step)?,
        display_name: None,
    };
    let id = users::create(db, now, &Actor::cli(), new)
        .await
        .map_err(step)?;
    accounts.push(Account {
        email: email.into(),
        roles: roles.clone(),
        language,
        password: secret,
    });
    Ok(Staff {
        user_id: id,
        org_id: org_id.map(Into::into),
        treasurer: roles.contains(Role::Treasurer),
        caseworker: roles.contains(Role::Caseworker),
    })
}

async fn open_case(
    db: &Db,
    at: DateTime<Utc>,
    staff: &Staff,
    province: &str,
) -> Result<String, DemoError> {
    let province = Province::parse(province).map_err(step)?;
    let case = write_tx!(db, |tx| -> Result<cases::Case, cases::CaseError> async {
        cases::open(tx, at, staff, province).await
    })
    .map_err(step)?;
    Ok(case.code)
}

async fn ask(
    db: &Db,
    at: DateTime<Utc>,
    staff: &Staff,
    body: Value,
    base_url: &str,
) -> Result<String, DemoError> {
    let new = crate::http::parse_request(&body, at.date_naive()).map_err(step)?;
    let submission = Submission {
        staff: staff.clone(),
        new,
    };
    let view = write_tx!(db, |tx| -> Result<lifecycle::RequestView, FlowError> async {
        let decided = submit::submit(tx, at, &[&submission]).await?;
        notify::tell(tx, at, base_url, &decided.notices).await?;
        decided.answers.into_iter().next().unwrap_or_else(|| {
            Err(FlowError::Conflict(
                "the demo's request was not decided".into(),
            ))
        })
    })
    .map_err(step)?;
    Ok(view.id)
}

fn trip(
    code: &str,
    category: &str,
    amount: &str,
    from: Value,
    to: Value,
    day: DateTime<Utc>,
    urgent: bool,
) -> Value {
    json!({
        "case_code": code, "category": category, "amount": amount,
        "needed_by": day.date_naive().to_string(), "urgent": urgent,
        "origin": from, "destination": to, "travel_date": day.date_naive().to_string(), "reason": "safety",
    })
}

fn hotel(code: &str, nights: i64, rate: &str, day: DateTime<Utc>) -> Value {
    json!({
        "case_code": code, "category": "hotel", "nights": nights, "nightly_rate": rate,
        "party_size": 1, "needed_by": day.date_naive().to_string(), "urgent": true,
    })
}

fn paid(amount: &str, at: DateTime<Utc>, reference: &str) -> Result<Receipt, DemoError> {
    Ok(Receipt {
        amount: amount.parse().map_err(step)?,
        paid_on: at.date_naive(),
        vendor: None,
        reference: Some(reference.into()),
        attested: false,
        original: None,
        paid_by: None,
        vendor_id: None,
    })
}

/// Fills an empty database with the demo coalition and returns its accounts.
pub async fn fill(db: &Db, now: DateTime<Utc>, base_url: &str) -> Result<Vec<Account>, DemoError> {
    if holds_data(db).await? {
        return Err(DemoError::NotEmpty);
    }
    let start = now - Duration::days(6);
    let mut accounts = Vec::new();

    let shelter = org(db, start, "Maison Passerelle", OrgType::Shelter, "QC").await?;
    let youth = org(db, start, "Harbour Youth Outreach", OrgType::Youth, "NS").await?;
    let clinic = org(db, start, "Prairie Legal Clinic", OrgType::LegalAid, "MB").await?;
    org(
        db,
        start,
        "Coast Victim Services",
        OrgType::VictimServices,
        "BC",
    )
    .await?;

    let montreal = user(
        db,
        start,
        "intervenante@example.org",
        Role::Caseworker,
        "fr",
        Some(&shelter),
        &mut accounts,
    )
    .await?;
    let halifax = user(
        db,
        start,
        "caseworker@example.org",
        Role::Caseworker,
        "en",
        Some(&youth),
        &mut accounts,
    )
    .await?;
    let winnipeg = user(
        db,
        start,
        "clinic@example.org",
        Role::Caseworker,
        "en",
        Some(&clinic),
        &mut accounts,
    )
    .await?;
    let first = user(
        db,
        start,
        "tresoriere@example.org",
        Role::Treasurer,
        "fr",
        None,
        &mut accounts,
    )
    .await?;
    let second = user(
        db,
        start,
        "treasurer@example.org",
        Role::Treasurer,
        "en",
        None,
        &mut accounts,
    )
    .await?;
    user(
        db,
        start,
        "admin@example.org",
        Role::Admin,
        "en",
        None,
        &mut accounts,
    )
    .await?;
    users::set_on_call(db, start, &Actor::cli(), &first.user_id, true)
        .await
        .map_err(step)?;

    let actor = first.actor();
    let donors = [
        ("Fondation Exemple", "dons@example.org", Language::Fr),
        (
            "Example Community Foundation",
            "grants@example.org",
            Language::En,
        ),
        (
            "Partner Airline (example)",
            "partners@example.org",
            Language::En,
        ),
    ];
    let mut donor_ids = Vec::new();
    for (name, email, language) in donors {
        let email = Email::parse(email).map_err(step)?;
        let id = write_tx!(db, |tx| -> Result<String, funding::FundingError> async {
            funding::add_donor(tx, start, &actor, name, &email, language).await
        })
        .map_err(step)?;
        donor_ids.push(id);
    }
    let gifts = [
        (0, "12000.00", false, None, None),
        (
            1,
            "6000.00",
            false,
            Some(vec![
                crate::domain::request::Category::Hotel,
                crate::domain::request::Category::Bus,
            ]),
            None,
        ),
        (
            2,
            "640.00",
            true,
            None,
            Some("one donated seat, Halifax to Vancouver"),
        ),
    ];
    for (donor, amount, in_kind, restricted, description) in gifts {
        let new = NewDonation {
            donor_id: donor_ids[donor].clone(),
            amount: amount.parse().map_err(step)?,
            received_on: start.date_naive(),
            in_kind,
            description: description.map(Into::into),
            restricted_to: restricted
                .map(|c| Restriction::new(&c))
                .transpose()
                .map_err(step)?,
        };
        write_tx!(db, |tx| -> Result<String, funding::FundingError> async {
            funding::record_donation(tx, start, &actor, &new).await
        })
        .map_err(step)?;
    }

    let qc = |city: &str| json!({"city": city, "province": "QC"});
    let on = |city: &str| json!({"city": city, "province": "ON"});

    // Settled: a bus out of Montréal four days ago, receipt entered.
    let at = now - Duration::days(4);
    let case_a = open_case(db, at, &montreal, "QC").await?;
    let bus = ask(
        db,
        at,
        &montreal,
        trip(
            &case_a,
            "bus",
            "64.50",
            qc("Montréal"),
            on("Ottawa"),
            at,
            true,
        ),
        base_url,
    )
    .await?;
    let receipt = paid("61.75", at, "MP-2026-0141")?;
    write_tx!(db, |tx| -> Result<lifecycle::Stepped, FlowError> async {
        lifecycle::receipt(tx, at + Duration::hours(3), &montreal, &bus, &receipt).await
    })
    .map_err(step)?;

    // Expired: a train approved four days ago and never used (its 72-hour hold lapsed).
    let case_b = open_case(db, at, &winnipeg, "MB").await?;
    ask(
        db,
        at,
        &winnipeg,
        trip(
            &case_b,
            "train",
            "180.00",
            json!({"city": "Winnipeg", "province": "MB"}),
            json!({"city": "Saskatoon", "province": "SK"}),
            at,
            false,
        ),
        base_url,
    )
    .await?;
    lifecycle::expire_due(db, now).await.map_err(step)?;

    // Cancelled: a second bus for the first case, no longer needed.
    let at = now - Duration::days(2);
    let spare = ask(
        db,
        at,
        &montreal,
        trip(
            &case_a,
            "bus",
            "58.00",
            on("Ottawa"),
            on("Toronto"),
            at,
            false,
        ),
        base_url,
    )
    .await?;
    write_tx!(db, |tx| -> Result<lifecycle::RequestView, FlowError> async {
        lifecycle::cancel(tx, at + Duration::hours(1), &montreal, &spare).await
    })
    .map_err(step)?;

    // Declined by a treasurer: interpreter hours for the clinic's case.
    let help = ask(db, at, &winnipeg, json!({"case_code": case_b, "category": "interpreter", "amount": "400.00", "needed_by": at.date_naive().to_string()}), base_url).await?;
    let reason =
        Note::parse("Covered by the court's interpreter service; ask the clerk").map_err(step)?;
    let declined_at = at + Duration::hours(2);
    write_tx!(db, |tx| -> Result<lifecycle::RequestView, FlowError> async {
        let stepped = lifecycle::decline(
            tx,
            declined_at,
            &second,
            &help,
            &reason,
            Some(crate::domain::deciding::DeclineCode::NotCovered),
        )
        .await?;
        notify::after(tx, declined_at, base_url, stepped).await
    })
    .map_err(step)?;

    // Declined at once: more than the fund holds.
    let case_c = open_case(db, now - Duration::hours(5), &halifax, "NS").await?;
    ask(
        db,
        now - Duration::hours(5),
        &halifax,
        json!({"case_code": case_c, "category": "other", "amount": "90000.00", "needed_by": now.date_naive().to_string()}),
        base_url,
    )
    .await?;

    // Approved automatically tonight: two hotel nights in Montréal (on the review list).
    let tonight = now - Duration::minutes(40);
    let case_d = open_case(db, tonight, &montreal, "QC").await?;
    ask(
        db,
        tonight,
        &montreal,
        hotel(&case_d, 2, "159.00", tonight),
        base_url,
    )
    .await?;

    // Approved by a treasurer: clothing for the Halifax case, yesterday.
    let at = now - Duration::days(1);
    let clothes = ask(db, at, &halifax, json!({"case_code": case_c, "category": "clothing", "amount": "120.00", "needed_by": at.date_naive().to_string()}), base_url).await?;
    let approved_at = at + Duration::minutes(12);
    write_tx!(db, |tx| -> Result<lifecycle::RequestView, FlowError> async {
        let stepped = lifecycle::approve(tx, approved_at, &first, &clothes).await?;
        notify::after(tx, approved_at, base_url, stepped).await
    })
    .map_err(step)?;

    // Pending, urgent: a flight home from Halifax to Vancouver, waiting for a treasurer.
    let waiting = now - Duration::minutes(25);
    ask(
        db,
        waiting,
        &halifax,
        trip(
            &case_c,
            "flight",
            "689.00",
            json!({"city": "Halifax", "province": "NS"}),
            json!({"city": "Vancouver", "province": "BC"}),
            waiting,
            true,
        ),
        base_url,
    )
    .await?;

    Ok(accounts)
}
