//! Ledger exports, on both engines: a night's story exported over HTTP and a ledger of
//! more than 10,000 transfers exported by `passage export`, each handed to hledger
//! (`check -s`, `bal`) and beancount (`bean-check`, its own balances) and to a CSV sum,
//! which must all give the service's figures to the cent.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use common::journals::{Balances, Tools, under};
use common::{TestApp, TestDb, night};
use passage::approval::FlowError;
use passage::approval::lifecycle::{self, NewRequest, Receipt};
use passage::approval::submit::{self, Submission};
use passage::audit::Actor;
use passage::cases::{self, Staff};
use passage::domain::case_code::CaseCode;
use passage::domain::place::Place;
use passage::domain::request::{Category, HotelStay, Reason, Trip};
use passage::domain::{Money, Province, RequestStatus};
use passage::export::CSV_COLUMNS;
use passage::ledger::{self, DONATIONS, FUND, NewTransfer, Outcome, SPENT, TransferSpec};
use passage::store::Db;
use passage::{funding, write_tx};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// The fund's figures in cents, as the service reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Figures {
    donated: i64,
    available: i64,
    reserved: i64,
    held: i64,
    spent: i64,
    owed: i64,
    to_replenish: i64,
    advanced: i64,
    bank: i64,
}

impl Figures {
    fn from_api(f: &Value) -> Figures {
        let cents = |k: &str| common::journals::amount_cents(f[k].as_str().expect(k));
        Figures {
            donated: cents("donated"),
            available: cents("available"),
            reserved: cents("reserved"),
            held: cents("held"),
            spent: cents("spent"),
            owed: cents("owed"),
            to_replenish: cents("to_replenish"),
            advanced: cents("advanced"),
            bank: cents("bank"),
        }
    }

    fn from_library(f: &funding::FundFigures) -> Figures {
        Figures {
            donated: f.donated,
            available: f.available,
            reserved: f.reserved,
            held: f.held,
            spent: f.spent,
            owed: f.owed,
            to_replenish: f.to_replenish,
            advanced: f.advanced,
            bank: f.bank,
        }
    }
}

/// The journal accounts the figures live in, in one tool's spelling.
struct Names {
    available: &'static str,
    held: &'static str,
    spent: &'static str,
    donations: &'static str,
    /// The bank's money: available, held, owed and to replenish (issue 18).
    bank: &'static str,
    owed: &'static str,
    advances: &'static str,
    to_replenish: &'static str,
}

const HLEDGER: Names = Names {
    available: "assets:bank:available",
    held: "assets:bank:held",
    spent: "expenses:spent",
    donations: "income:donations",
    bank: "assets:bank",
    owed: "liabilities:owed",
    advances: "assets:advances",
    to_replenish: "assets:bank:to-replenish",
};

const BEANCOUNT: Names = Names {
    available: "Assets:Bank:Available",
    held: "Assets:Bank:Held",
    spent: "Expenses:Spent",
    donations: "Income:Donations",
    bank: "Assets:Bank",
    owed: "Liabilities:Owed",
    advances: "Assets:Advances",
    to_replenish: "Assets:Bank:To-Replenish",
};

/// The journal's balances are the service's figures to the cent, and nothing else holds
/// money. A reserve is an earmark the ledger does not move: it is in available here.
fn assert_balances(balances: &Balances, names: &Names, f: Figures, what: &str) {
    let got = Figures {
        donated: -under(balances, names.donations),
        available: under(balances, names.available) - f.reserved,
        reserved: f.reserved,
        held: under(balances, names.held),
        spent: under(balances, names.spent),
        owed: -under(balances, names.owed),
        to_replenish: under(balances, names.to_replenish),
        advanced: under(balances, names.advances),
        bank: under(balances, names.bank),
    };
    assert_eq!(got, f, "{what}: {balances:?}");
    assert_eq!(
        balances.values().sum::<i64>(),
        0,
        "{what}: the balances do not sum to zero: {balances:?}"
    );
    let known = [
        names.bank,
        names.spent,
        names.donations,
        names.owed,
        names.advances,
    ];
    for (account, cents) in balances {
        assert!(
            *cents == 0
                || known
                    .iter()
                    .any(|k| account == k || account.starts_with(&format!("{k}:"))),
            "{what}: money in an unexpected account {account}: {cents}"
        );
    }
}

/// CSV rows: each transfer's postings sum to zero; the balances per account.
fn csv_balances(text: &str) -> Balances {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(CSV_COLUMNS));
    let mut by_transfer: BTreeMap<String, i64> = BTreeMap::new();
    let mut by_account = Balances::new();
    for line in lines {
        assert!(!line.contains('"'), "nothing here needs quoting: {line}");
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), 12, "{line}");
        assert_eq!(fields[7], "CAD", "{line}");
        let cents = common::journals::amount_cents(fields[6]);
        *by_transfer.entry(fields[2].to_string()).or_default() += cents;
        *by_account.entry(fields[5].to_string()).or_default() += cents;
    }
    for (transfer, sum) in &by_transfer {
        assert_eq!(*sum, 0, "transfer {transfer} does not balance");
    }
    by_account
}

/// Changes one posting's amount and another's by a cent each, the entry still balanced:
/// only the closing balances can tell.
fn off_by_a_cent(journal: &str, spent: (&str, &str, &str), released: (&str, &str, &str)) -> String {
    let mut changed = 0;
    let text: Vec<String> = journal
        .lines()
        .map(|line| {
            for (account, from, to) in [spent, released] {
                if line.contains(account) && line.trim_end().ends_with(&format!(" {from} CAD")) {
                    changed += 1;
                    return line.replace(from, to);
                }
            }
            line.to_string()
        })
        .collect();
    assert_eq!(changed, 2, "both postings found once");
    text.join("\n") + "\n"
}

struct Night {
    app: TestApp,
    caseworker: String,
    treasurer: String,
    org: String,
}

impl Night {
    async fn send(&self, r: reqwest::RequestBuilder) -> (u16, Value) {
        let res = r.send().await.expect("the app answers");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        let (s, answer) = self
            .send(
                self.app
                    .post(path, Some(token))
                    .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
                    .json(&body),
            )
            .await;
        assert!((200..300).contains(&s), "{path} {body} → {s} {answer}");
        answer
    }

    async fn ask(&self, body: Value) -> String {
        let r = self
            .post("/api/v1/requests", &self.caseworker, body.clone())
            .await;
        assert_eq!(r["status"], "approved", "{body} → {r}");
        r["id"].as_str().unwrap().to_string()
    }

    async fn receipt(&self, id: &str, amount: &str) {
        let r = self
            .post(
                &format!("/api/v1/requests/{id}/receipt"),
                &self.caseworker,
                json!({"amount": amount, "reference": "RM-2026-0042"}),
            )
            .await;
        assert_eq!(r["status"], "settled", "{r}");
    }

    async fn fund(&self) -> Figures {
        let (s, f) = self
            .send(self.app.get("/api/v1/fund", Some(&self.treasurer)))
            .await;
        assert_eq!(s, 200, "{f}");
        Figures::from_api(&f)
    }

    async fn export(&self, format: &str, dir: &Path) -> std::path::PathBuf {
        let r = self
            .app
            .get(
                &format!("/api/v1/ledger/export?format={format}"),
                Some(&self.treasurer),
            )
            .send()
            .await
            .expect("the app answers");
        assert_eq!(r.status(), 200, "{format}");
        let media = if format == "csv" {
            "text/csv; charset=utf-8"
        } else {
            "text/plain; charset=utf-8"
        };
        assert_eq!(r.headers()["content-type"], media);
        let body = r.text().await.expect("the whole export");
        let path = dir.join(format!("passage.{format}"));
        std::fs::write(&path, body).unwrap();
        path
    }
}

fn trip(code: &str, category: &str, amount: &str) -> Value {
    json!({"case_code": code, "category": category, "amount": amount, "needed_by": "2026-11-30",
           "urgent": true, "reason": "safety", "travel_date": "2026-11-30",
           "origin": {"city": "Montréal", "province": "QC"},
           "destination": {"city": "Ottawa", "province": "ON"}})
}

fn plain(code: &str, category: &str, amount: &str) -> Value {
    json!({"case_code": code, "category": category, "amount": amount,
           "needed_by": "2026-11-30", "urgent": true})
}

/// Gifts, a reserve, a hotel settled below its hold, a bus cancelled, food expired, a
/// fare settled in full, a phone card still held and a flight waiting for a treasurer.
async fn a_night(t: TestDb) -> (Night, String) {
    let app = TestApp::spawn(t).await;
    let org = app.seed_org("Refuge Montréal").await;
    let cw = app
        .seed_user("cw@example.org", "caseworker", Some(&org))
        .await;
    let tr = app.seed_user("t@example.org", "treasurer", None).await;
    let mut n = Night {
        caseworker: app.token_for(&cw).await,
        treasurer: app.token_for(&tr).await,
        org,
        app,
    };
    let donor = n
        .post(
            "/api/v1/donors",
            &n.treasurer,
            json!({"name": "Fondation Exemple", "email": "dons@example.org", "language": "fr"}),
        )
        .await;
    for (amount, in_kind) in [("5000.00", false), ("1234.56", false), ("300.00", true)] {
        n.post(
            "/api/v1/donations",
            &n.treasurer,
            json!({"donor_id": donor["id"], "amount": amount, "received_on": "2026-11-29",
                   "in_kind": in_kind}),
        )
        .await;
    }
    let expires = (night() + Duration::days(30)).to_rfc3339();
    n.post(
        "/api/v1/reserves",
        &n.treasurer,
        json!({"org_id": n.org, "amount": "200.00", "expires_at": expires}),
    )
    .await;

    let code = n
        .post("/api/v1/cases", &n.caseworker, json!({"province": "QC"}))
        .await["code"]
        .as_str()
        .unwrap()
        .to_string();
    let hotel = n
        .ask(
            json!({"case_code": code, "category": "hotel", "nights": 2, "nightly_rate": "189.00",
                    "party_size": 1, "needed_by": "2026-11-29", "urgent": true}),
        )
        .await;
    n.receipt(&hotel, "351.22").await;
    let bus = n.ask(trip(&code, "bus", "64.50")).await;
    n.post(
        &format!("/api/v1/requests/{bus}/cancel"),
        &n.caseworker,
        json!({}),
    )
    .await;
    n.ask(plain(&code, "food", "40.00")).await;
    let other = n
        .post("/api/v1/cases", &n.caseworker, json!({"province": "ON"}))
        .await["code"]
        .as_str()
        .unwrap()
        .to_string();
    let metro = n.ask(trip(&other, "local_transport", "12.75")).await;
    n.receipt(&metro, "12.75").await;
    let flight = n
        .post(
            "/api/v1/requests",
            &n.caseworker,
            trip(&other, "flight", "612.40"),
        )
        .await;
    assert_eq!(flight["status"], "pending", "{flight}");

    // Three days on the food's hold expires; a phone card is asked that morning, by
    // people who signed in again.
    n.app.clock.advance(Duration::hours(73));
    n.caseworker = n.app.token_for(&cw).await;
    n.treasurer = n.app.token_for(&tr).await;
    let state = n.app.state();
    assert_eq!(passage::app::sweep_once(&state).await.unwrap(), 1);
    n.ask(plain(&other, "phone_card", "25.00")).await;
    (n, code)
}

async fn a_night_exported_adds_up_in_hledger_beancount_and_csv(t: TestDb) {
    let Some(tools) = Tools::find() else {
        return;
    };
    let (n, code) = a_night(t).await;
    // The month's end (issue 18): what the night's receipts made the fund owe the refuge
    // is paid by a batch one treasurer prepares and another releases.
    let second = n.app.seed_user("t2@example.org", "treasurer", None).await;
    let second = n.app.token_for(&second).await;
    let batch = n.post("/api/v1/payouts", &n.treasurer, json!({})).await;
    assert_eq!(batch["total"], "363.97", "{batch}");
    let id = batch["id"].as_str().unwrap();
    n.post(&format!("/api/v1/payouts/{id}/release"), &second, json!({}))
        .await;
    let line = batch["lines"][0]["id"].as_str().unwrap();
    n.post(
        &format!("/api/v1/payouts/{id}/lines/{line}/paid"),
        &n.treasurer,
        json!({"reference": "ET-0042"}),
    )
    .await;
    let fund = n.fund().await;
    assert_eq!(
        fund,
        Figures {
            donated: 623_456,
            available: 623_456 - 35_122 - 1_275 - 2_500 - (20_000 - 6_450 - 4_000 - 1_275 - 2_500),
            reserved: 20_000 - 6_450 - 4_000 - 1_275 - 2_500,
            held: 2_500,
            spent: 35_122 + 1_275,
            owed: 0,
            to_replenish: 0,
            advanced: 0,
            bank: 623_456 - 35_122 - 1_275,
        },
        "the story's own arithmetic"
    );
    let dir = tempfile::tempdir().unwrap();

    let journal = n.export("hledger", dir.path()).await;
    tools
        .hledger_check(&journal)
        .unwrap_or_else(|e| panic!("hledger check -s: {e}"));
    assert_balances(
        &tools.hledger_balances(&journal, &[]),
        &HLEDGER,
        fund,
        "hledger",
    );
    // The case's tag gathers its entries: one hotel spent, the rest back in available.
    // hledger reads a tag's value as a regular expression, and a code's check symbol may
    // be `$` or `*`: match the code literally, and whole.
    let literal: String = code
        .chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect();
    let case = tools.hledger_balances(&journal, &[&format!("tag:case=^{literal}$")]);
    assert_eq!(
        case.get("expenses:spent:hotel"),
        Some(&35_122),
        "{code}: {case:?}"
    );
    assert_eq!(
        case.get("assets:bank:available"),
        Some(&-35_122),
        "{case:?}"
    );
    assert_eq!(case.len(), 2, "{case:?}");

    let beans = n.export("beancount", dir.path()).await;
    tools
        .bean_check(&beans)
        .unwrap_or_else(|e| panic!("bean-check: {e}"));
    let balances = tools.beancount_balances(&beans);
    assert_balances(&balances, &BEANCOUNT, fund, "beancount");
    assert_eq!(balances.get("Expenses:Spent:Local-Transport"), Some(&1_275));

    let csv = n.export("csv", dir.path()).await;
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    assert_balances(&csv_balances(&csv_text), &HLEDGER, fund, "csv");
    assert!(
        csv_text
            .lines()
            .any(|l| l.contains(",expenses:spent:hotel,351.22,CAD,") && l.contains(&code)),
        "the settlement's row carries its case"
    );

    // A cent moved from spent to available keeps the entry balanced: the closing
    // balances catch it, in both tools.
    let tampered = dir.path().join("tampered.journal");
    std::fs::write(
        &tampered,
        off_by_a_cent(
            &std::fs::read_to_string(&journal).unwrap(),
            ("expenses:spent:hotel", "351.22", "351.21"),
            ("assets:bank:available", "26.78", "26.79"),
        ),
    )
    .unwrap();
    let refused = tools.hledger_check(&tampered).expect_err("a cent counts");
    assert!(refused.contains("balance assertion"), "{refused}");
    let tampered = dir.path().join("tampered.beancount");
    std::fs::write(
        &tampered,
        off_by_a_cent(
            &std::fs::read_to_string(&beans).unwrap(),
            ("Expenses:Spent:Hotel", "351.22", "351.21"),
            ("Assets:Bank:Available", "26.78", "26.79"),
        ),
    )
    .unwrap();
    let refused = tools.bean_check(&tampered).expect_err("a cent counts");
    assert!(refused.contains("Balance failed"), "{refused}");
    n.app.stop().await;
}

async fn only_treasurers_export_and_only_in_known_formats(t: TestDb) {
    let (n, _) = a_night(t).await;
    let get = |path: &str, token: Option<&str>| n.send(n.app.get(path, token));
    let (s, body) = get("/api/v1/ledger/export?format=hledger", Some(&n.caseworker)).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (s, _) = get("/api/v1/ledger/export?format=hledger", None).await;
    assert_eq!(s, 401);
    let (s, body) = get("/api/v1/ledger/export?format=xlsx", Some(&n.treasurer)).await;
    assert_eq!(
        (s, body["error"]["field"].as_str()),
        (422, Some("format")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("hledger, beancount or csv")),
        "{body}"
    );
    let (s, body) = get("/api/v1/ledger/export", Some(&n.treasurer)).await;
    assert_eq!(
        (s, body["error"]["field"].as_str()),
        (422, Some("format")),
        "{body}"
    );
    n.app.stop().await;
}

/// The request lifecycle only ever holds the fund's money, but the ledger takes any
/// account: one whose id is no fit account name, holding money of its own, still exports
/// to journals both tools accept, its held part declared where it is first used.
async fn an_account_beyond_the_three_exports_under_its_own_name(t: TestDb) {
    let Some(tools) = Tools::find() else {
        return;
    };
    let app = TestApp::spawn(t).await;
    let db = &app.db.db;
    let now = night();
    write_tx!(db, |tx| -> Result<(), passage::store::StoreError> async {
        ledger::ensure_account(tx, now, "Bank A", false).await
    })
    .expect("an account of the ledger's own");
    let actor = Actor::system();
    let transfer = |id: &str, spec| NewTransfer {
        id: id.into(),
        spec,
        code: "bank".into(),
        reference: None,
    };
    let batch = [
        transfer(
            "in",
            TransferSpec::Single {
                debit: DONATIONS.into(),
                credit: "Bank A".into(),
                amount: 10_000,
            },
        ),
        transfer(
            "held",
            TransferSpec::Pending {
                debit: "Bank A".into(),
                credit: FUND.into(),
                amount: 2_501,
                expires_at: now + Duration::hours(1),
            },
        ),
    ];
    for outcome in ledger::transfer_batch(db, now, &actor, &batch)
        .await
        .unwrap()
    {
        assert!(matches!(outcome, Outcome::Created(_)), "{outcome:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let token = app
        .token_for(&app.seed_user("t@example.org", "treasurer", None).await)
        .await;
    let mut files = Vec::new();
    for format in ["hledger", "beancount"] {
        let body = app
            .get(
                &format!("/api/v1/ledger/export?format={format}"),
                Some(&token),
            )
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let path = dir.path().join(format!("bank.{format}"));
        std::fs::write(&path, body).unwrap();
        files.push(path);
    }
    tools
        .hledger_check(&files[0])
        .unwrap_or_else(|e| panic!("hledger check -s: {e}"));
    tools
        .bean_check(&files[1])
        .unwrap_or_else(|e| panic!("bean-check: {e}"));
    let hledger = tools.hledger_balances(&files[0], &[]);
    let beans = tools.beancount_balances(&files[1]);
    let bank: Vec<(&String, &i64)> = hledger
        .iter()
        .filter(|(name, _)| name.starts_with("assets:ledger:bank-a-"))
        .collect();
    assert_eq!(bank.len(), 2, "{hledger:?}");
    assert!(bank[0].0.ends_with(":held") || bank[1].0.ends_with(":held"));
    assert_eq!(under(&hledger, bank[0].0), 10_000, "{hledger:?}");
    assert_eq!(
        beans
            .iter()
            .filter(|(name, _)| name.starts_with("Assets:Ledger:Bank-A-"))
            .map(|(_, c)| c)
            .collect::<Vec<_>>(),
        [&7_499, &2_501],
        "{beans:?}"
    );
    app.stop().await;
}

/// Money, in cents between `low` and `high`.
fn money(rng: &mut StdRng, low: i64, high: i64) -> Money {
    Money::from_cents(rng.gen_range(low..=high)).expect("a fair amount")
}

/// A request the default policy approves on the spot, for one of the case codes.
fn request(rng: &mut StdRng, code: &CaseCode, now: DateTime<Utc>) -> NewRequest {
    let place = |city: &str, province: &str| Place::parse(city, Some(province), None).unwrap();
    let category = [
        Category::Bus,
        Category::Train,
        Category::LocalTransport,
        Category::Hotel,
        Category::PhoneCard,
        Category::Food,
    ][rng.gen_range(0..6)];
    let (amount, trip, hotel) = match category {
        Category::Hotel => {
            let stay =
                HotelStay::new(rng.gen_range(1..=3), money(rng, 8_000, 22_500), 1).expect("a stay");
            (stay.amount(), None, Some(stay))
        }
        Category::Bus | Category::Train | Category::LocalTransport => {
            let high = match category {
                Category::Bus => 25_000,
                Category::Train => 35_000,
                _ => 7_500,
            };
            let trip = Trip {
                origin: place("Montréal", "QC"),
                destination: place("Ottawa", "ON"),
                reason: Reason::Safety,
            };
            (money(rng, 500, high), Some((trip, now.date_naive())), None)
        }
        Category::PhoneCard => (money(rng, 1_000, 5_000), None, None),
        _ => (money(rng, 500, 15_000), None, None),
    };
    NewRequest {
        case_code: code.clone(),
        category,
        amount,
        needed_by: now.date_naive().to_string(),
        urgent: false,
        note: None,
        trip,
        hotel,
    }
}

/// Builds a ledger of at least `at_least` transfers, two hours apart round after round
/// over days: gifts, requests through the real lifecycle (settled below or at their hold,
/// cancelled, or left to expire) and, for bulk, holds made straight through the ledger
/// and posted, voided or left to expire. Returns the time of the last round.
async fn a_big_ledger(
    db: &Db,
    staff: &Staff,
    start: DateTime<Utc>,
    at_least: i64,
) -> DateTime<Utc> {
    let mut rng = StdRng::seed_from_u64(6);
    let codes: Vec<CaseCode> = write_tx!(db, |tx| -> Result<Vec<CaseCode>, FlowError> async {
        let mut codes = Vec::new();
        for _ in 0..300 {
            let case = cases::open(tx, start, staff, Province::parse("QC").unwrap()).await?;
            codes.push(CaseCode::parse(&case.code).expect("a generated code"));
        }
        Ok(codes)
    })
    .expect("cases open");
    let gift = |id: String, cents: i64| NewTransfer {
        id,
        spec: TransferSpec::Single {
            debit: DONATIONS.into(),
            credit: FUND.into(),
            amount: cents,
        },
        code: "donation".into(),
        reference: None,
    };
    let actor = Actor::system();
    ledger::transfer(db, start, &actor, &gift("gift:0".into(), 20_000_000))
        .await
        .expect("the first gift");

    let mut now = start;
    let mut requests: Vec<(String, i64)> = Vec::new();
    let mut holds: Vec<(String, i64)> = Vec::new();
    let mut round = 0;
    loop {
        round += 1;
        now += Duration::hours(2);
        let mut batch: Vec<NewTransfer> = (0..3)
            .map(|i| gift(format!("gift:{round}:{i}"), rng.gen_range(20_000..=300_000)))
            .collect();
        // Last round's bulk holds: half posted (some in full), a third voided, the rest
        // left to expire.
        for (id, amount) in holds.drain(..) {
            let roll = rng.gen_range(0..10);
            let spec = match roll {
                0..=4 => TransferSpec::Post {
                    amount: (roll > 0).then(|| rng.gen_range(1..=amount)),
                    pending_id: id.clone(),
                },
                5..=7 => TransferSpec::Void {
                    pending_id: id.clone(),
                },
                _ => continue,
            };
            batch.push(NewTransfer {
                id: format!("resolve:{id}"),
                spec,
                code: "bulk".into(),
                reference: None,
            });
        }
        for i in 0..40 {
            let id = format!("bulk:{round}:{i}");
            let amount = rng.gen_range(100..=30_000);
            batch.push(NewTransfer {
                id: id.clone(),
                spec: TransferSpec::Pending {
                    debit: FUND.into(),
                    credit: SPENT.into(),
                    amount,
                    expires_at: now + Duration::hours(72),
                },
                code: "bulk".into(),
                reference: None,
            });
            holds.push((id, amount));
        }
        for outcome in ledger::transfer_batch(db, now, &actor, &batch)
            .await
            .expect("the batch is stored")
        {
            assert!(matches!(outcome, Outcome::Created(_)), "{outcome:?}");
        }

        // Last round's requests: most settled (some below their hold), some cancelled,
        // the rest left to expire; then this round's.
        let previous = std::mem::take(&mut requests);
        let rolls: Vec<(u32, i64)> = previous
            .iter()
            .map(|(_, amount)| (rng.gen_range(0..10), rng.gen_range(1..=*amount)))
            .collect();
        let asks: Vec<NewRequest> = (0..12)
            .map(|i| request(&mut rng, &codes[(round * 12 + i) % codes.len()], now))
            .collect();
        requests = write_tx!(db, |tx| -> Result<Vec<(String, i64)>, FlowError> async {
            for ((id, amount), (roll, spent)) in previous.iter().zip(&rolls) {
                match roll {
                    0..=5 => {
                        let receipt = Receipt {
                            amount: Money::from_cents(if *roll == 0 { *amount } else { *spent })
                                .expect("a fair amount"),
                            paid_on: now.date_naive(),
                            vendor: None,
                            reference: Some("RM-2026-0001".into()),
                            attested: false,
                            original: None,
                            paid_by: None,
                            vendor_id: None,
                        };
                        lifecycle::receipt(tx, now, staff, id, &receipt).await?;
                    }
                    6..=7 => {
                        lifecycle::cancel(tx, now, staff, id).await?;
                    }
                    _ => {}
                }
            }
            let mut approved = Vec::new();
            for ask in &asks {
                let submission = Submission {
                    staff: staff.clone(),
                    new: ask.clone(),
                };
                let decided = submit::submit(tx, now, &[&submission]).await?;
                for view in decided.answers {
                    let view = view?;
                    if view.status == RequestStatus::Approved {
                        approved.push((view.id, ask.amount.cents()));
                    }
                }
            }
            Ok(approved)
        })
        .expect("the requests go through");
        lifecycle::expire_due(db, now)
            .await
            .expect("requests expire");
        ledger::sweep_expired(db, now).await.expect("holds expire");

        let made: i64 =
            passage::on_db!(db, p => sqlx::query_scalar("SELECT COUNT(*) FROM transfers")
            .fetch_one(p)
            .await)
            .unwrap();
        if made >= at_least {
            return now;
        }
    }
}

async fn ten_thousand_transfers_exported_by_the_cli_add_up_to_the_cent(t: TestDb) {
    let Some(tools) = Tools::find() else {
        return;
    };
    let app = TestApp::spawn(t).await;
    let org = app.seed_org("Refuge Montréal").await;
    let user = app
        .seed_user("cw@example.org", "caseworker", Some(&org))
        .await;
    let staff = Staff {
        user_id: user,
        org_id: Some(org),
        treasurer: false,
        caseworker: true,
    };
    let db = &app.db.db;
    let started = Instant::now();
    let last = a_big_ledger(db, &staff, night(), 10_000).await;
    let generated = started.elapsed();
    let check = ledger::check(db).await.unwrap();
    assert!(check.ok, "{:?}", check.problems);
    let fund = Figures::from_library(&funding::figures(db, last).await.unwrap());
    assert!(fund.held > 0 && fund.spent > 0, "{fund:?}");
    let kinds: Vec<(String, i64)> = passage::on_db!(db, p => sqlx::query_as(
        "SELECT kind, COUNT(*) FROM transfers GROUP BY kind ORDER BY kind"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    let transfers: i64 = kinds.iter().map(|(_, n)| n).sum();
    assert_eq!(kinds.len(), 5, "every kind of transfer: {kinds:?}");

    let dir = tempfile::tempdir().unwrap();
    let mut timings = Vec::new();
    let export = |format: &str| {
        let path = dir.path().join(format!("big.{format}"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_passage"));
        for (key, _) in std::env::vars() {
            if key.starts_with("PASSAGE_") {
                cmd.env_remove(key);
            }
        }
        let begun = Instant::now();
        let out = cmd
            .args(["export", "--format", format, "--output"])
            .arg(&path)
            .env("PASSAGE_DATABASE_URL", &app.db.url)
            .env("PASSAGE_LOG", "warn")
            .output()
            .expect("passage runs");
        let took = begun.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "passage export --format {format}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("exported {transfers} transfers")),
            "{stderr}"
        );
        (path, took)
    };

    let (journal, took) = export("hledger");
    timings.push(("export hledger", took));
    let begun = Instant::now();
    tools
        .hledger_check(&journal)
        .unwrap_or_else(|e| panic!("hledger check -s: {e}"));
    let balances = tools.hledger_balances(&journal, &[]);
    timings.push(("hledger check -s + bal", begun.elapsed()));
    assert_balances(&balances, &HLEDGER, fund, "hledger");

    // A donor report of the same days, read from the same ledger, has the same totals.
    let period =
        passage::reports::Period::new(night().date_naive(), last.date_naive(), last.date_naive())
            .unwrap();
    let report = passage::reports::lifecycle::preview(db, period, last, 5)
        .await
        .unwrap()
        .summary
        .to_value();
    let cents = |v: &Value| -> i64 {
        let d: rust_decimal::Decimal = v.as_str().expect("a figure").parse().unwrap();
        (d * rust_decimal::Decimal::ONE_HUNDRED).try_into().unwrap()
    };
    assert_eq!(cents(&report["opening_balance"]), 0);
    assert_eq!(
        cents(&report["donations"]["total"]),
        -under(&balances, HLEDGER.donations),
        "the report's donations are hledger's"
    );
    assert_eq!(
        cents(&report["disbursed"]),
        under(&balances, HLEDGER.spent),
        "the report's spending is hledger's"
    );
    assert_eq!(
        cents(&report["closing_balance"]),
        under(&balances, HLEDGER.available) + under(&balances, HLEDGER.held),
        "the report's closing balance is the fund's money in hledger"
    );

    let (beans, took) = export("beancount");
    timings.push(("export beancount", took));
    let begun = Instant::now();
    tools
        .bean_check(&beans)
        .unwrap_or_else(|e| panic!("bean-check: {e}"));
    timings.push(("bean-check", begun.elapsed()));
    let begun = Instant::now();
    assert_balances(
        &tools.beancount_balances(&beans),
        &BEANCOUNT,
        fund,
        "beancount",
    );
    timings.push(("beancount balances", begun.elapsed()));

    let (csv, took) = export("csv");
    timings.push(("export csv", took));
    assert_balances(
        &csv_balances(&std::fs::read_to_string(&csv).unwrap()),
        &HLEDGER,
        fund,
        "csv",
    );

    // Over HTTP, money moves while the export is being read: the export is of the moment
    // it began, its entries and its closing balances alike.
    let treasurer = app
        .token_for(&app.seed_user("t@example.org", "treasurer", None).await)
        .await;
    let mut response = app
        .get("/api/v1/ledger/export?format=hledger", Some(&treasurer))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response
        .chunk()
        .await
        .unwrap()
        .expect("a first chunk")
        .to_vec();
    let meanwhile = [
        NewTransfer {
            id: "gift:meanwhile".into(),
            spec: TransferSpec::Single {
                debit: DONATIONS.into(),
                credit: FUND.into(),
                amount: 12_345,
            },
            code: "donation".into(),
            reference: None,
        },
        NewTransfer {
            id: "hold:meanwhile".into(),
            spec: TransferSpec::Pending {
                debit: FUND.into(),
                credit: SPENT.into(),
                amount: 6_789,
                expires_at: last + Duration::hours(72),
            },
            code: "bulk".into(),
            reference: None,
        },
    ];
    let later = last + Duration::minutes(1);
    ledger::transfer_batch(db, later, &Actor::system(), &meanwhile)
        .await
        .unwrap();
    while let Some(chunk) = response.chunk().await.unwrap() {
        body.extend_from_slice(&chunk);
    }
    let during = dir.path().join("during.journal");
    std::fs::write(&during, &body).unwrap();
    tools
        .hledger_check(&during)
        .unwrap_or_else(|e| panic!("hledger check -s on an export read during writes: {e}"));
    assert_balances(
        &tools.hledger_balances(&during, &[]),
        &HLEDGER,
        fund,
        "hledger, read during writes",
    );
    let after = Figures::from_library(&funding::figures(db, later).await.unwrap());
    assert_eq!(
        (after.donated - fund.donated, after.held - fund.held),
        (12_345, 6_789),
        "the writes were made while the export was open"
    );

    eprintln!(
        "{} transfers {kinds:?}: generated in {generated:.1?}; {}",
        transfers,
        timings
            .iter()
            .map(|(what, took)| format!("{what} {took:.1?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    app.stop().await;
}

on_both_engines!(
    a_night_exported_adds_up_in_hledger_beancount_and_csv,
    only_treasurers_export_and_only_in_known_formats,
    an_account_beyond_the_three_exports_under_its_own_name,
    ten_thousand_transfers_exported_by_the_cli_add_up_to_the_cent,
);
