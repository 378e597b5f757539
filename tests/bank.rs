//! The bank statement (issue 18), on both engines: importing a statement as CSV in a
//! bank's layout or as OFX, never adding a transaction twice, matching each line to what it
//! is in the books (never choosing among several candidates), recording a line as a fee
//! (confirmed by a second treasurer), interest, a gift nobody recorded or a bounce, and the
//! reconciliation that explains the bank's balance by the books' to the cent, then frozen.

mod common;

use chrono::{TimeZone, Utc};
use common::fund::Fund;
use common::visitor::Visitor;
use common::{TestDb, books};
use passage::clock::Clock;
use passage::domain::Language;
use passage::web::i18n;
use serde_json::{Value, json};

fn cents(v: &Value) -> i64 {
    let text = v
        .as_str()
        .unwrap_or_else(|| panic!("an amount as a string: {v}"));
    let negative = text.starts_with('-');
    let text = text.trim_start_matches('-');
    let (whole, part) = text.split_once('.').unwrap_or((text, "00"));
    let c = whole.parse::<i64>().unwrap() * 100 + part.parse::<i64>().unwrap();
    if negative { -c } else { c }
}

/// The fund's figures, checked against both identities.
async fn fund(f: &Fund) -> Value {
    let (s, fund) = f.get("/api/v1/fund", &f.treasurer).await;
    assert_eq!(s, 200, "{fund}");
    let c = |k: &str| cents(&fund[k]);
    assert_eq!(
        c("bank"),
        c("available") + c("reserved") + c("held") + c("owed") + c("to_replenish"),
        "bank = available + reserved + held + owed + to_replenish: {fund}"
    );
    assert_eq!(
        c("donated") + c("other_income") - c("fees"),
        c("bank") + c("advanced") + c("spent") - c("owed"),
        "donated + other_income - fees = bank + advanced + spent - owed: {fund}"
    );
    fund
}

/// Posts a statement file; the status and the answer.
async fn import(f: &Fund, query: &str, file: &str, language: &str) -> (u16, Value) {
    f.send(
        f.app
            .post(
                &format!("/api/v1/bank/statements?{query}"),
                Some(&f.treasurer),
            )
            .header("accept-language", language)
            .body(file.to_string()),
    )
    .await
}

async fn record(f: &Fund, token: &str, line: &str, body: Value) -> (u16, Value) {
    f.post(&format!("/api/v1/bank/lines/{line}/record"), token, body)
        .await
}

fn line_of<'a>(statement: &'a Value, description: &str) -> Vec<&'a Value> {
    statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["description"] == description)
        .collect()
}

/// TD's EasyWeb download: no header, `date, description, withdrawal, deposit, balance`.
const TD_NOVEMBER: &str = "11/30/2026,DEPOT DON,,500.00,500.00\n\
11/30/2026,VIREMENT RECU,,80.00,580.00\n\
12/01/2026,VIREMENT RECU,,80.00,660.00\n\
12/01/2026,FRAIS MENSUELS,4.95,,655.05\n\
12/01/2026,INTERETS,,0.12,655.17\n\
12/02/2026,VIREMENT INTERAC,,25.00,680.17\n";

/// The same days as OFX 1.x (SGML, unclosed leaf elements): the bank's ids for each line
/// and its ledger balance.
const OFX_NOVEMBER: &str = "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nCHARSET:1252\n\n\
<OFX>\n<BANKMSGSRSV1>\n<STMTTRNRS>\n<STMTRS>\n<CURDEF>CAD\n<BANKTRANLIST>\n\
<DTSTART>20261130\n<DTEND>20261202\n\
<STMTTRN>\n<TRNTYPE>CREDIT\n<DTPOSTED>20261130\n<TRNAMT>500.00\n<FITID>T-001\n<NAME>DEPOT DON\n</STMTTRN>\n\
<STMTTRN>\n<TRNTYPE>CREDIT\n<DTPOSTED>20261130\n<TRNAMT>80.00\n<FITID>T-002\n<NAME>VIREMENT RECU\n</STMTTRN>\n\
<STMTTRN>\n<TRNTYPE>CREDIT\n<DTPOSTED>20261201\n<TRNAMT>80.00\n<FITID>T-003\n<NAME>VIREMENT RECU\n</STMTTRN>\n\
<STMTTRN>\n<TRNTYPE>SRVCHG\n<DTPOSTED>20261201\n<TRNAMT>-4.95\n<FITID>T-004\n<NAME>FRAIS MENSUELS\n</STMTTRN>\n\
<STMTTRN>\n<TRNTYPE>INT\n<DTPOSTED>20261201\n<TRNAMT>0.12\n<FITID>T-005\n<NAME>INTERETS\n</STMTTRN>\n\
<STMTTRN>\n<TRNTYPE>CREDIT\n<DTPOSTED>20261202\n<TRNAMT>25.00\n<FITID>T-006\n<NAME>VIREMENT INTERAC\n</STMTTRN>\n\
</BANKTRANLIST>\n<LEDGERBAL>\n<BALAMT>680.17\n<DTASOF>20261202\n</LEDGERBAL>\n</STMTRS>\n</STMTTRNRS>\n</BANKMSGSRSV1>\n</OFX>\n";

/// A statement is imported once, whatever its format; each line is matched when it is one
/// thing in the books, shown with its candidates when it could be several; fees, interest
/// and a gift nobody recorded are recorded as what they are; the day reconciles to the
/// cent and is then frozen.
async fn a_statement_is_matched_recorded_and_reconciled(t: TestDb) {
    let mut f = Fund::new(t).await;
    let foundation = f
        .donor("Fondation Exemple", "fondation@example.org", "fr")
        .await;
    let friend = f.donor("Ami Exemple", "ami@example.org", "en").await;
    f.give(&foundation, "500.00").await;
    f.give(&friend, "80.00").await;
    f.give(&friend, "80.00").await;
    f.go_to(2026, 12, 2, 12).await;

    // A refused file adds nothing and says where, in the reader's language.
    let bad = "11/31/2026,X,,5.00,5.00\n12/01/2026,Y,-4.95,,0.05\n12/01/2026,Z,1.00,2.00,1.05\n";
    let (s, r) = import(&f, "format=csv&layout=td", bad, "fr").await;
    assert_eq!(s, 422, "{r}");
    let errors = r["error"]["errors"].as_array().unwrap();
    let fields: Vec<&str> = errors
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["line 1: date", "line 2: withdrawal", "line 3: file"],
        "{r}"
    );
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Ligne 1 :"),
        "{r}"
    );
    let (s, r) = import(&f, "format=csv&layout=td", bad, "en").await;
    assert_eq!(s, 422, "{r}");
    assert!(
        r["error"]["errors"][1]["message"]
            .as_str()
            .unwrap()
            .starts_with("Line 2: \"-4.95\" is negative"),
        "{r}"
    );

    // The month as TD exports it.
    let (s, first) = import(&f, "format=csv&layout=td", TD_NOVEMBER, "en").await;
    assert_eq!(s, 201, "{first}");
    assert_eq!(
        (&first["lines"], &first["matched"], &first["unmatched"]),
        (&json!(6), &json!(1), &json!(5)),
        "only the 500.00 gift is one thing: {first}"
    );
    let id = first["id"].as_str().unwrap().to_string();
    // The same file again, then the same month as OFX: nothing is added twice.
    let (s, again) = import(&f, "format=csv&layout=td", TD_NOVEMBER, "en").await;
    assert_eq!(s, 201, "{again}");
    assert_eq!((&again["lines"], &again["skipped"]), (&json!(0), &json!(6)));
    assert_eq!(again["id"], first["id"]);
    let (s, ofx) = import(&f, "format=ofx", OFX_NOVEMBER, "en").await;
    assert_eq!(s, 201, "{ofx}");
    assert_eq!(
        (&ofx["lines"], &ofx["skipped"]),
        (&json!(0), &json!(6)),
        "{ofx}"
    );

    let (s, statement) = f
        .get(&format!("/api/v1/bank/statements/{id}"), &f.treasurer)
        .await;
    assert_eq!(s, 200, "{statement}");
    assert_eq!(statement["lines"].as_array().unwrap().len(), 6);
    let gift = line_of(&statement, "DEPOT DON")[0];
    assert_eq!(
        (&gift["matched"], &gift["match_kind"]),
        (&json!(true), &json!("donation"))
    );
    assert_eq!(gift["amount"], "500.00");
    let transfers = line_of(&statement, "VIREMENT RECU");
    for l in &transfers {
        assert_eq!(l["matched"], false, "two gifts of 80.00: never chosen: {l}");
        assert_eq!(l["candidates"].as_array().unwrap().len(), 2, "{l}");
    }
    let fee = line_of(&statement, "FRAIS MENSUELS")[0];
    assert_eq!(fee["amount"], "-4.95", "withdrawals are negative");
    let fee = fee["id"].as_str().unwrap().to_string();
    let interest = line_of(&statement, "INTERETS")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let unrecorded = line_of(&statement, "VIREMENT INTERAC")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Nothing reconciles yet: five lines are unexplained.
    let (s, rec) = f
        .get("/api/v1/bank/reconciliation?as_of=2026-12-02", &f.treasurer)
        .await;
    assert_eq!(s, 200, "{rec}");
    assert_eq!(rec["statement_balance"], "680.17", "{rec}");
    assert_eq!(rec["book_balance"], "660.00", "{rec}");
    assert_eq!(rec["unmatched_lines"].as_array().unwrap().len(), 5, "{rec}");
    assert_ne!(rec["unexplained"], "0.00", "{rec}");
    let (s, r) = f
        .post(
            "/api/v1/bank/reconciliation",
            &f.treasurer,
            json!({"as_of": "2026-12-02"}),
        )
        .await;
    assert_eq!(s, 409, "not everything is explained: {r}");

    // The two transfers of 80.00, matched by hand; the same gift cannot be taken twice.
    let gift_ids: Vec<String> = transfers[0]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let (t1, t2) = (
        transfers[0]["id"].as_str().unwrap(),
        transfers[1]["id"].as_str().unwrap(),
    );
    let (s, r) = record(&f, &f.treasurer, t1, json!({"match": gift_ids[0]})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["matched"], true, "{r}");
    let (s, r) = record(&f, &f.treasurer, t2, json!({"match": gift_ids[0]})).await;
    assert_eq!(s, 409, "{r}");
    let (s, r) = record(&f, &f.treasurer, t2, json!({"match": gift["match_id"]})).await;
    assert_eq!(s, 422, "that gift is of 500.00: {r}");
    let (s, r) = record(&f, &f.treasurer, t2, json!({"match": gift_ids[1]})).await;
    assert_eq!(s, 200, "{r}");

    // What a line may be recorded as, and what not.
    let (s, r) = record(&f, &f.treasurer, &fee, json!({"kind": "interest"})).await;
    assert_eq!(s, 422, "a withdrawal is no interest: {r}");
    let (s, r) = record(&f, &f.treasurer, &interest, json!({"kind": "fee"})).await;
    assert_eq!(s, 422, "a deposit is no fee: {r}");
    let (s, r) = record(&f, &f.treasurer, &unrecorded, json!({"kind": "donation"})).await;
    assert_eq!(s, 422, "whose gift: {r}");
    assert_eq!(r["error"]["field"], "donor_id", "{r}");
    let (s, r) = record(&f, &f.treasurer, &unrecorded, json!({"kind": "gift"})).await;
    assert_eq!(s, 422, "{r}");
    let (s, r) = record(&f, &f.treasurer, t1, json!({"kind": "interest"})).await;
    assert_eq!(s, 409, "already matched: {r}");

    // A fee: proposed by one treasurer, confirmed by another, never by the same.
    let (s, r) = record(&f, &f.treasurer, &fee, json!({"kind": "fee"})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], "proposed", "{r}");
    assert_eq!(
        fund(&f).await["fees"],
        "0.00",
        "not before a second treasurer"
    );
    let confirm = format!("/api/v1/bank/lines/{fee}/confirm");
    let (s, r) = f.post(&confirm, &f.treasurer, json!({})).await;
    assert_eq!(s, 403, "{r}");
    let (s, r) = f.post(&confirm, &f.second_treasurer, json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (&r["status"], &r["recorded_as"]),
        (&json!("recorded"), &json!("fee"))
    );
    let (s, r) = f.post(&confirm, &f.second_treasurer, json!({})).await;
    assert_eq!(s, 409, "once: {r}");

    let (s, r) = record(&f, &f.treasurer, &interest, json!({"kind": "interest"})).await;
    assert_eq!(s, 200, "{r}");
    let (s, r) = record(
        &f,
        &f.treasurer,
        &unrecorded,
        json!({"kind": "donation", "donor_id": friend}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["match_kind"], "donation", "{r}");
    let figures = fund(&f).await;
    assert_eq!(
        (
            figures["donated"].as_str(),
            figures["fees"].as_str(),
            figures["other_income"].as_str(),
            figures["bank"].as_str()
        ),
        (Some("685.00"), Some("4.95"), Some("0.12"), Some("680.17")),
        "{figures}"
    );

    // The end of November: one 80.00 gift was not in the bank yet.
    let (s, rec) = f
        .get("/api/v1/bank/reconciliation?as_of=2026-11-30", &f.treasurer)
        .await;
    assert_eq!(s, 200, "{rec}");
    assert_eq!(rec["statement_balance"], "580.00", "{rec}");
    assert_eq!(rec["book_balance"], "660.00", "{rec}");
    assert_eq!(rec["unexplained"], "0.00", "{rec}");
    let kinds: Vec<(&str, &str)> = rec["outstanding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["kind"].as_str().unwrap(), o["amount"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("deposit_in_transit", "-80.00")], "{rec}");

    let (s, rec) = f
        .get("/api/v1/bank/reconciliation?as_of=2026-12-02", &f.treasurer)
        .await;
    assert_eq!(s, 200, "{rec}");
    assert_eq!(
        (
            rec["statement_balance"].as_str(),
            rec["book_balance"].as_str(),
            rec["unexplained"].as_str()
        ),
        (Some("680.17"), Some("680.17"), Some("0.00")),
        "{rec}"
    );
    let (s, frozen) = f
        .post(
            "/api/v1/bank/reconciliation",
            &f.treasurer,
            json!({"as_of": "2026-12-02"}),
        )
        .await;
    assert_eq!(s, 201, "{frozen}");
    assert!(frozen["reconciled"].is_object(), "{frozen}");
    let (s, r) = f
        .post(
            "/api/v1/bank/reconciliation",
            &f.second_treasurer,
            json!({"as_of": "2026-12-02"}),
        )
        .await;
    assert_eq!(s, 409, "once: {r}");
    // Later events do not change a frozen day.
    f.give(&foundation, "10.00").await;
    let (s, rec) = f
        .get("/api/v1/bank/reconciliation?as_of=2026-12-02", &f.treasurer)
        .await;
    assert_eq!(s, 200, "{rec}");
    assert_eq!(rec, frozen, "frozen");
    let (s, r) = record(&f, &f.treasurer, t1, json!({"kind": "interest"})).await;
    assert_eq!(s, 409, "{r}");

    // Every step was audited, and the books hold.
    let db = &f.app.db.db;
    let actions: Vec<String> = passage::on_db!(db, p => sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE action LIKE 'bank.%'"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    for action in [
        "bank.import",
        "bank.match",
        "bank.fee_proposed",
        "bank.record",
        "bank.reconcile",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "no {action}: {actions:?}"
        );
    }
    f.app.clock.advance(chrono::Duration::minutes(1));
    books::check(db).await;
    f.app.stop().await;
}

/// A payout leaves the bank: the bank's withdrawal is matched to its payout line by amount
/// and the bank's reference; a payment that comes back is recorded as a bounce, owed again.
async fn payouts_match_and_a_bounce_is_recorded_from_the_statement(t: TestDb) {
    let mut f = Fund::new(t).await;
    let donor = f
        .donor("Fondation Exemple", "fondation@example.org", "fr")
        .await;
    f.give(&donor, "3000.00").await;
    let org = f.app.seed_org("Maison B").await;
    let (s, r) = f
        .send(
            f.app
                .http
                .put(f.app.url(&format!("/api/v1/orgs/{org}/payment")))
                .bearer_auth(&f.treasurer)
                .json(
                    &json!({"mode": "advance", "advance_level": "2000.00", "method": "eft",
                              "payee_details": "00123-815-1234567"}),
                ),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let (s, batch) = f.post("/api/v1/payouts", &f.treasurer, json!({})).await;
    assert_eq!(s, 201, "{batch}");
    let id = batch["id"].as_str().unwrap();
    let line = batch["lines"][0]["id"].as_str().unwrap().to_string();
    let (s, r) = f
        .post(
            &format!("/api/v1/payouts/{id}/release"),
            &f.second_treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    f.go_to(2026, 11, 30, 15).await;
    let (s, r) = f
        .post(
            &format!("/api/v1/payouts/{id}/paid"),
            &f.treasurer,
            json!({"reference": "EFT-9917"}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    f.go_to(2026, 12, 3, 9).await;
    let generic = "date,description,withdrawal,deposit,balance\n\
                   2026-11-29,DEPOSIT,,3000.00,3000.00\n\
                   2026-11-30,EFT EFT-9917,2000.00,,1000.00\n\
                   2026-12-02,EFT RETURNED,,2000.00,3000.00\n";
    let (s, r) = import(&f, "format=csv&layout=generic", generic, "en").await;
    assert_eq!(s, 201, "{r}");
    assert_eq!((&r["lines"], &r["matched"]), (&json!(3), &json!(2)), "{r}");
    let sid = r["id"].as_str().unwrap();
    let (_, statement) = f
        .get(&format!("/api/v1/bank/statements/{sid}"), &f.treasurer)
        .await;
    let paid = line_of(&statement, "EFT EFT-9917")[0];
    assert_eq!(
        (&paid["match_kind"], &paid["match_id"]),
        (&json!("payout_line"), &json!(line))
    );
    let returned = line_of(&statement, "EFT RETURNED")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, r) = record(&f, &f.treasurer, &returned, json!({"kind": "bounce"})).await;
    assert_eq!(s, 422, "which line: {r}");
    let (s, r) = record(
        &f,
        &f.treasurer,
        &returned,
        json!({"kind": "bounce", "line": line}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["match_kind"], "payout_bounce", "{r}");
    let figures = fund(&f).await;
    assert_eq!(
        (figures["bank"].as_str(), figures["advanced"].as_str()),
        (Some("3000.00"), Some("0.00")),
        "{figures}"
    );
    let (s, rec) = f
        .get("/api/v1/bank/reconciliation?as_of=2026-12-02", &f.treasurer)
        .await;
    assert_eq!(s, 200, "{rec}");
    assert_eq!(rec["unexplained"], "0.00", "{rec}");
    // On the 1st, the books had paid and the bank had too: nothing outstanding.
    let (s, rec) = f
        .get("/api/v1/bank/reconciliation?as_of=2026-12-01", &f.treasurer)
        .await;
    assert_eq!(s, 200, "{rec}");
    assert_eq!(
        (
            rec["statement_balance"].as_str(),
            rec["book_balance"].as_str(),
            rec["unexplained"].as_str()
        ),
        (Some("1000.00"), Some("1000.00"), Some("0.00")),
        "{rec}"
    );
    f.app.clock.advance(chrono::Duration::minutes(1));
    books::check(&f.app.db.db).await;
    f.app.stop().await;
}

/// What is not a statement is refused with what to do, never a 500; only treasurers import.
async fn hostile_statements_are_refused(t: TestDb) {
    let mut f = Fund::new(t).await;
    let at = Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).unwrap();
    f.go_to(2026, 12, 5, 12).await;
    assert_eq!(f.app.clock.now(), at);
    let cases: &[(&str, &[u8], &str)] = &[
        ("format=pdf", b"x", "format"),
        ("", b"x", "format"),
        ("format=csv&layout=bmo", b"x", "layout"),
        ("format=ofx&layout=td", b"x", "layout"),
        ("format=csv&layout=td", b"\x00\x01PK\x03\x04", "body"),
        ("format=csv&layout=generic", b"", "body"),
        (
            "format=csv&layout=generic",
            b"when,what\n2026-12-01,x\n",
            "body",
        ),
        ("format=ofx", b"date,description\n", "body"),
        (
            "format=ofx",
            b"<OFX><BANKTRANLIST></BANKTRANLIST></OFX>",
            "body",
        ),
        (
            "format=csv&layout=td",
            b"12/06/2026,FUTURE,,5.00,5.00\n",
            "line 1: date",
        ),
        (
            "format=csv&layout=td",
            b"12/01/2026,HUGE,,99999999999.00,5.00\n",
            "line 1: deposit",
        ),
        (
            "format=ofx",
            b"<OFX><STMTTRN><DTPOSTED>2026-12-01<TRNAMT>abc</STMTTRN></OFX>",
            "line 1: DTPOSTED",
        ),
    ];
    for (query, body, field) in cases {
        let (s, r) = f
            .send(
                f.app
                    .post(
                        &format!("/api/v1/bank/statements?{query}"),
                        Some(&f.treasurer),
                    )
                    .body(body.to_vec()),
            )
            .await;
        assert_eq!(s, 422, "{query} {body:?}: {r}");
        assert_eq!(r["error"]["field"], *field, "{query}: {r}");
    }
    let mut huge = String::from("date,description,withdrawal,deposit,balance\n");
    while huge.len() <= f.app.config.body_limit_bytes {
        huge.push_str("2026-12-01,FEE,1.00,,100.00\n");
    }
    let (s, r) = import(&f, "format=csv&layout=generic", &huge, "en").await;
    assert_eq!(s, 413, "{r}");
    let (s, r) = f
        .post(
            "/api/v1/bank/lines/00000000-0000-0000-0000-000000000000/record",
            &f.treasurer,
            json!({"kind": "fee"}),
        )
        .await;
    assert_eq!(s, 404, "{r}");
    let (s, r) = f
        .get("/api/v1/bank/reconciliation?as_of=30/11/2026", &f.treasurer)
        .await;
    assert_eq!(s, 422, "{r}");
    let (s, r) = f
        .get("/api/v1/bank/reconciliation?as_of=2026-11-30", &f.treasurer)
        .await;
    assert_eq!(s, 409, "no statement yet: {r}");
    let (s, r) = f
        .send(
            f.app
                .post("/api/v1/bank/statements?format=ofx", Some(&f.worker))
                .body(OFX_NOVEMBER),
        )
        .await;
    assert_eq!(s, 403, "{r}");
    f.app.stop().await;
}

/// An organisation with a caseworker; its id and the caseworker's.
async fn org(f: &Fund, name: &str, email: &str) -> (String, String) {
    let id = f.app.seed_org(name).await;
    let user = f.app.seed_user(email, "caseworker", Some(&id)).await;
    (id, user)
}

/// A bus fare for a new case, approved at once, and its receipt: what the fund then owes.
async fn fare(f: &Fund, token: &str, amount: &str, spent: &str) {
    let (s, case) = f
        .post("/api/v1/cases", token, json!({"province": "QC"}))
        .await;
    assert_eq!(s, 201, "{case}");
    let today = f.today();
    let (s, r) = f
        .post(
            "/api/v1/requests",
            token,
            json!({"case_code": case["code"], "category": "bus", "amount": amount,
                   "needed_by": today, "reason": "safety", "travel_date": today,
                   "origin": {"city": "Montréal", "province": "QC"},
                   "destination": {"city": "Québec", "province": "QC"}}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["status"], "approved", "{r}");
    let id = r["id"].as_str().unwrap();
    let (s, r) = f
        .post(
            &format!("/api/v1/requests/{id}/receipt"),
            token,
            json!({"amount": spent, "reference": "RF-BUS-A"}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
}

/// Prepared by one treasurer, refused to them, released by the other, paid.
async fn pay_batch(f: &Fund, preparer: &str, releaser: &str, reference: &str) -> Value {
    let (s, batch) = f.post("/api/v1/payouts", preparer, json!({})).await;
    assert_eq!(s, 201, "{batch}");
    let id = batch["id"].as_str().unwrap();
    let release = format!("/api/v1/payouts/{id}/release");
    let (s, r) = f.post(&release, preparer, json!({})).await;
    assert_eq!(s, 403, "the preparer never releases: {r}");
    let (s, r) = f.post(&release, releaser, json!({})).await;
    assert_eq!(s, 200, "{r}");
    let (s, r) = f
        .post(
            &format!("/api/v1/payouts/{id}/paid"),
            preparer,
            json!({"reference": reference}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], "paid", "{r}");
    batch
}

/// The journals the fund exports, checked by hledger and beancount, hold its figures.
async fn journals_agree(f: &Fund, figures: &Value) {
    let Some(tools) = common::journals::Tools::find() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cents = |k: &str| common::journals::amount_cents(figures[k].as_str().unwrap());
    for (format, bank, donations, fees, income) in [
        (
            "hledger",
            "assets:bank",
            "income:donations",
            "expenses:fees",
            "income:other",
        ),
        (
            "beancount",
            "Assets:Bank",
            "Income:Donations",
            "Expenses:Fees",
            "Income:Other",
        ),
    ] {
        let r = f
            .app
            .get(
                &format!("/api/v1/ledger/export?format={format}"),
                Some(&f.treasurer),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{format}");
        let path = dir.path().join(format!("passage.{format}"));
        std::fs::write(&path, r.text().await.unwrap()).unwrap();
        let balances = if format == "hledger" {
            tools
                .hledger_check(&path)
                .unwrap_or_else(|e| panic!("hledger check -s: {e}"));
            tools.hledger_balances(&path, &[])
        } else {
            tools
                .bean_check(&path)
                .unwrap_or_else(|e| panic!("bean-check: {e}"));
            tools.beancount_balances(&path)
        };
        let under = |a: &str| common::journals::under(&balances, a);
        assert_eq!(under(bank), cents("bank"), "{format}: {balances:?}");
        assert_eq!(
            -under(donations),
            cents("donated"),
            "{format}: {balances:?}"
        );
        assert_eq!(under(fees), cents("fees"), "{format}: {balances:?}");
        assert_eq!(
            -under(income),
            cents("other_income"),
            "{format}: {balances:?}"
        );
        assert_eq!(balances.values().sum::<i64>(), 0, "{format}: {balances:?}");
    }
}

/// Issue 18's one story: gifts arrive (some from a file); three organisations paid three
/// ways (a reimbursement, an advance of 2,000.00, a carrier's account); a night of
/// receipts; payout batches prepared by one treasurer, refused to them, released by the
/// other and paid; the month's statement imported as TD's CSV, then as OFX adding nothing,
/// with a bank fee and a gift nobody recorded among its lines; the reconciliation agrees to
/// the cent with nothing unexplained; hledger and beancount agree with the fund's figures.
async fn one_story_from_the_gifts_to_the_bank(t: TestDb) {
    let mut f = Fund::new(t).await;
    // 2026-11-29: a gift typed in, two from the fund's spreadsheet.
    let foundation = f
        .donor("Fondation Exemple", "fondation@example.org", "fr")
        .await;
    f.give(&foundation, "5000.00").await;
    let gifts = "donor_email,donor_name,amount,received_on,restricted_to,in_kind,reference\n\
                 paroisse@example.org,Paroisse Exemple,1500.00,2026-11-28,,,DON-2026-101\n\
                 cercle@example.org,Cercle Exemple,700.00,2026-11-29,,,DON-2026-102\n";
    let (s, r) = f
        .send(
            f.app
                .post("/api/v1/donations/import?commit=true", Some(&f.treasurer))
                .body(gifts),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["recorded"], 2, "{r}");

    // Three organisations, three ways.
    let (a, worker_a) = org(&f, "Refuge A", "a@example.org").await;
    let (b, worker_b) = org(&f, "Maison B", "b@example.org").await;
    let (c, worker_c) = org(&f, "Centre C", "c@example.org").await;
    let (s, vendor) = f
        .post(
            "/api/v1/vendors",
            &f.treasurer,
            json!({"name": "VIA Rail account", "method": "eft", "payee_details": "004-12345-7654321"}),
        )
        .await;
    assert_eq!(s, 201, "{vendor}");
    for (id, body) in [
        (
            &a,
            json!({"mode": "reimbursement", "payee_details": "finance@a.example.org"}),
        ),
        (
            &b,
            json!({"mode": "advance", "advance_level": "2000.00", "method": "eft",
                   "payee_details": "00123-815-1234567"}),
        ),
        (
            &c,
            json!({"mode": "fund_pays", "default_vendor_id": vendor["id"]}),
        ),
    ] {
        let (s, r) = f
            .send(
                f.app
                    .http
                    .put(f.app.url(&format!("/api/v1/orgs/{id}/payment")))
                    .bearer_auth(&f.treasurer)
                    .json(&body),
            )
            .await;
        assert_eq!(s, 200, "{r}");
    }

    // 2026-11-30: the advance goes out; that night, a receipt each way.
    f.go_to(2026, 11, 30, 10).await;
    let first = pay_batch(&f, &f.treasurer, &f.second_treasurer, "EFT-ADV1").await;
    assert_eq!(first["total"], "2000.00", "{first}");
    f.go_to(2026, 11, 30, 22).await;
    let worker_a = f.app.token_for(&worker_a).await;
    let worker_b = f.app.token_for(&worker_b).await;
    let worker_c = f.app.token_for(&worker_c).await;
    fare(&f, &worker_a, "120.00", "110.00").await;
    fare(&f, &worker_b, "200.00", "180.00").await;
    fare(&f, &worker_c, "90.00", "90.00").await;
    let night = fund(&f).await;
    assert_eq!(
        (night["owed"].as_str(), night["to_replenish"].as_str()),
        (Some("200.00"), Some("180.00")),
        "{night}"
    );

    // 2026-12-01: the second treasurer prepares what is owed, the first releases it.
    f.go_to(2026, 12, 1, 10).await;
    let second = pay_batch(&f, &f.second_treasurer, &f.treasurer, "BULK-1201").await;
    assert_eq!(second["total"], "380.00", "{second}");

    // 2026-12-03: the month's statement, as TD exports it.
    f.go_to(2026, 12, 3, 9).await;
    let td = "11/29/2026,DEPOT,,5000.00,5000.00\n\
              11/30/2026,DEPOT,,1500.00,6500.00\n\
              11/30/2026,DEPOT,,700.00,7200.00\n\
              11/30/2026,TEF EFT-ADV1 MAISON B,2000.00,,5200.00\n\
              12/01/2026,TEF BULK-1201 REFUGE A,110.00,,5090.00\n\
              12/01/2026,TEF BULK-1201 MAISON B,180.00,,4910.00\n\
              12/01/2026,TEF BULK-1201 VIA RAIL,90.00,,4820.00\n\
              12/01/2026,FRAIS DE SERVICE,3.50,,4816.50\n\
              12/02/2026,VIREMENT INTERAC RECU,,40.00,4856.50\n";
    let (s, imported) = import(&f, "format=csv&layout=td", td, "fr").await;
    assert_eq!(s, 201, "{imported}");
    assert_eq!(
        (
            &imported["lines"],
            &imported["matched"],
            &imported["unmatched"]
        ),
        (&json!(9), &json!(7), &json!(2)),
        "every gift and payment is one thing; the fee and the gift nobody recorded are not: {imported}"
    );
    // The same month as OFX 2.x (XML): nothing is added twice.
    let mut ofx = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<?OFX OFXHEADER=\"200\" VERSION=\"220\"?>\n\
         <OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>CAD</CURDEF><BANKTRANLIST>\n",
    );
    for (n, (day, amount, name)) in [
        ("20261129", "5000.00", "DEPOT"),
        ("20261130", "1500.00", "DEPOT"),
        ("20261130", "700.00", "DEPOT"),
        ("20261130", "-2000.00", "TEF EFT-ADV1 MAISON B"),
        ("20261201", "-110.00", "TEF BULK-1201 REFUGE A"),
        ("20261201", "-180.00", "TEF BULK-1201 MAISON B"),
        ("20261201", "-90.00", "TEF BULK-1201 VIA RAIL"),
        ("20261201", "-3.50", "FRAIS DE SERVICE"),
        ("20261202", "40.00", "VIREMENT INTERAC RECU"),
    ]
    .into_iter()
    .enumerate()
    {
        ofx.push_str(&format!(
            "<STMTTRN><TRNTYPE>OTHER</TRNTYPE><DTPOSTED>{day}120000[-5:EST]</DTPOSTED>\
             <TRNAMT>{amount}</TRNAMT><FITID>20261201{n:04}</FITID><NAME>{name}</NAME></STMTTRN>\n"
        ));
    }
    ofx.push_str(
        "</BANKTRANLIST><LEDGERBAL><BALAMT>4856.50</BALAMT><DTASOF>20261202</DTASOF></LEDGERBAL>\
         </STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n",
    );
    let (s, again) = import(&f, "format=ofx", &ofx, "en").await;
    assert_eq!(s, 201, "{again}");
    assert_eq!(
        (&again["lines"], &again["skipped"]),
        (&json!(0), &json!(9)),
        "{again}"
    );

    // The fee, proposed and confirmed by two; the gift nobody recorded, recorded.
    let id = imported["id"].as_str().unwrap();
    let (_, statement) = f
        .get(&format!("/api/v1/bank/statements/{id}"), &f.treasurer)
        .await;
    let fee = line_of(&statement, "FRAIS DE SERVICE")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let gift = line_of(&statement, "VIREMENT INTERAC RECU")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, r) = record(&f, &f.second_treasurer, &fee, json!({"kind": "fee"})).await;
    assert_eq!(s, 200, "{r}");
    let (s, r) = f
        .post(
            &format!("/api/v1/bank/lines/{fee}/confirm"),
            &f.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let friend = f.donor("Ami Exemple", "ami@example.org", "en").await;
    let (s, r) = record(
        &f,
        &f.treasurer,
        &gift,
        json!({"kind": "donation", "donor_id": friend}),
    )
    .await;
    assert_eq!(s, 200, "{r}");

    // The reconciliation agrees to the cent with nothing unexplained, and is frozen.
    for day in ["2026-11-30", "2026-12-02", "2026-12-03"] {
        let (s, rec) = f
            .get(
                &format!("/api/v1/bank/reconciliation?as_of={day}"),
                &f.treasurer,
            )
            .await;
        assert_eq!(s, 200, "{rec}");
        assert_eq!(rec["unexplained"], "0.00", "{day}: {rec}");
        let sum: i64 = rec["outstanding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| cents(&o["amount"]))
            .sum();
        assert_eq!(
            cents(&rec["statement_balance"]),
            cents(&rec["book_balance"]) + sum,
            "{day}: {rec}"
        );
    }
    let (s, rec) = f
        .post(
            "/api/v1/bank/reconciliation",
            &f.second_treasurer,
            json!({"as_of": "2026-12-02"}),
        )
        .await;
    assert_eq!(s, 201, "{rec}");
    assert_eq!(rec["statement_balance"], "4856.50", "{rec}");

    let figures = fund(&f).await;
    assert_eq!(
        (
            figures["donated"].as_str(),
            figures["fees"].as_str(),
            figures["bank"].as_str(),
            figures["owed"].as_str(),
            figures["advanced"].as_str(),
            figures["spent"].as_str(),
        ),
        (
            Some("7240.00"),
            Some("3.50"),
            Some("4856.50"),
            Some("0.00"),
            Some("2000.00"),
            Some("380.00")
        ),
        "{figures}"
    );
    journals_agree(&f, &figures).await;
    f.app.clock.advance(chrono::Duration::minutes(1));
    books::check(&f.app.db.db).await;
    f.app.stop().await;
}

/// Desjardins' AccèsD download: no header, the caisse, folio and account type, the date
/// `YYYY/MM/DD`, the transaction's number, the description, a cheque's number, withdrawal,
/// deposit, four of a loan's columns, and the balance.
const DESJARDINS_NOVEMBER: &str = "\"815-30000\",\"0123456\",\"EOP\",\"2026/11/30\",00001,\"Dépôt direct /FONDATION EXEMPLE\",,,\"500.00\",,,,,\"500.00\"\n\
\"815-30000\",\"0123456\",\"EOP\",\"2026/12/01\",00002,\"Frais mensuels /FRAIS\",,\"4.95\",,,,,,\"495.05\"\n";

/// A bank no preset reads: a header, day-first dates, one signed amount.
const BANQUE_EXEMPLE: &str = "Référence,Date,Libellé,Montant,Solde\n\
A-1,02/12/2026,VIREMENT INTERAC,25.00,520.05\n\
A-2,02/12/2026,FRAIS DE SERVICE,-1.50,518.55\n";

/// Desjardins' export is read by its preset; a bank no preset reads is read by a mapping a
/// treasurer saved (by the API and by the page), which can be deleted; every step audited.
async fn layouts_are_saved_per_bank_and_desjardins_is_read(t: TestDb) {
    let mut f = Fund::new(t).await;
    let foundation = f
        .donor("Fondation Exemple", "fondation@example.org", "fr")
        .await;
    f.give(&foundation, "500.00").await;
    f.go_to(2026, 12, 2, 12).await;

    // Desjardins: its 14 columns, one account a file.
    let (s, r) = import(
        &f,
        "format=csv&layout=desjardins",
        DESJARDINS_NOVEMBER,
        "en",
    )
    .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(
        (&r["lines"], &r["matched"]),
        (&json!(2), &json!(1)),
        "the gift is one thing: {r}"
    );
    let (s, statement) = f
        .get(
            &format!("/api/v1/bank/statements/{}", r["id"].as_str().unwrap()),
            &f.treasurer,
        )
        .await;
    assert_eq!(s, 200, "{statement}");
    assert_eq!(statement["layout"], "desjardins", "{statement}");
    let lines: Vec<(&str, &str, &str, &str)> = statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["date"].as_str().unwrap(),
                l["description"].as_str().unwrap(),
                l["amount"].as_str().unwrap(),
                l["balance"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (
                "2026-11-30",
                "Dépôt direct /FONDATION EXEMPLE",
                "500.00",
                "500.00"
            ),
            ("2026-12-01", "Frais mensuels /FRAIS", "-4.95", "495.05")
        ]
    );
    let mixed = format!(
        "{DESJARDINS_NOVEMBER}\"815-30000\",\"0123456\",\"ET1\",\"2026/12/01\",00001,\"Intérêts\",,,\"0.40\",,,,,\"1000.40\"\n"
    );
    let (s, r) = import(&f, "format=csv&layout=desjardins", &mixed, "fr").await;
    assert_eq!(s, 422, "{r}");
    assert_eq!(r["error"]["errors"][0]["field"], "line 3: file", "{r}");
    assert!(
        r["error"]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("un autre compte (815-30000 0123456 ET1)"),
        "{r}"
    );

    // A mapping saved for another bank: what is wrong with one is said, by field.
    let layouts = "/api/v1/bank/layouts";
    let good = json!({"name": "Banque Exemple", "header": true, "date": 2, "description": 3,
                      "amount": 4, "balance": 5, "date_order": "dmy"});
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("name", json!("TD")), "name"),
        (with("name", json!("a/b")), "name"),
        (with("date", json!(0)), "date"),
        (with("balance", json!(51)), "balance"),
        (with("balance", json!(2)), "balance"),
        (with("withdrawal", json!(6)), "amount"),
        (with("amount", Value::Null), "withdrawal"),
        (with("date_order", json!("ydm")), "date_order"),
        (with("description", Value::Null), "description"),
        (with("colour", json!("red")), "colour"),
    ] {
        let (s, r) = f.post(layouts, &f.treasurer, body.clone()).await;
        assert_eq!(s, 422, "{body}: {r}");
        assert_eq!(r["error"]["field"], field, "{body}: {r}");
    }
    let (s, saved) = f.post(layouts, &f.treasurer, good.clone()).await;
    assert_eq!(s, 201, "{saved}");
    assert_eq!(
        (&saved["name"], &saved["amount"], &saved["date_order"]),
        (&json!("Banque Exemple"), &json!(4), &json!("dmy"))
    );
    let (s, r) = f
        .post(
            layouts,
            &f.second_treasurer,
            with("name", json!("banque exemple")),
        )
        .await;
    assert_eq!(s, 409, "one name, whatever its case: {r}");
    let (s, list) = f.get(layouts, &f.treasurer).await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let (s, r) = f.get(layouts, &f.worker).await;
    assert_eq!(s, 403, "for treasurers: {r}");

    // Imported by its name (any case); a date written otherwise is said so.
    let bad = BANQUE_EXEMPLE.replace("02/12/2026,VIREMENT", "12/31/2026,VIREMENT");
    let (s, r) = import(&f, "format=csv&layout=banque%20exemple", &bad, "en").await;
    assert_eq!(s, 422, "{r}");
    assert!(
        r["error"]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("DD/MM/YYYY"),
        "{r}"
    );
    let (s, r) = import(
        &f,
        "format=csv&layout=banque%20exemple",
        BANQUE_EXEMPLE,
        "en",
    )
    .await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["lines"], 2, "{r}");
    let (_, statement) = f
        .get(
            &format!("/api/v1/bank/statements/{}", r["id"].as_str().unwrap()),
            &f.treasurer,
        )
        .await;
    assert_eq!(statement["layout"], "Banque Exemple", "{statement}");
    let amounts: Vec<&str> = statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["amount"].as_str().unwrap())
        .collect();
    assert_eq!(amounts, ["25.00", "-1.50"]);
    let (s, r) = import(
        &f,
        "format=csv&layout=Banque%20Exemple",
        BANQUE_EXEMPLE,
        "en",
    )
    .await;
    assert_eq!((s, &r["lines"]), (201, &json!(0)), "nothing twice: {r}");

    // Deleted: its name no longer imports.
    let id = saved["id"].as_str().unwrap();
    let delete = |token: &str| {
        f.app
            .http
            .delete(f.app.url(&format!("{layouts}/{id}")))
            .bearer_auth(token.to_string())
    };
    let (s, _) = f.send(delete(&f.worker)).await;
    assert_eq!(s, 403);
    let (s, _) = f.send(delete(&f.treasurer)).await;
    assert_eq!(s, 204);
    let (s, r) = f.send(delete(&f.treasurer)).await;
    assert_eq!(s, 404, "{r}");
    let (s, r) = import(
        &f,
        "format=csv&layout=Banque%20Exemple",
        BANQUE_EXEMPLE,
        "en",
    )
    .await;
    assert_eq!(s, 422, "{r}");
    assert_eq!(r["error"]["field"], "layout", "{r}");

    // The same on the page, in French.
    let mut t1 = Visitor::new(&f.app, "fr");
    assert_eq!(t1.sign_in("t1@example.org").await.status, 303);
    t1.speak("fr").await;
    let home = t1.get("/bank").await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("value=\"desjardins\""), "{}", home.body);
    assert!(
        home.text()
            .contains(&i18n::text(Language::Fr, "bank-saved-none"))
    );
    let form = |name: &'static str, balance: &'static str| {
        vec![
            ("name", name),
            ("header", "true"),
            ("date", "2"),
            ("description", "3"),
            ("withdrawal", ""),
            ("deposit", ""),
            ("amount", "4"),
            ("balance", balance),
            ("date_order", "dmy"),
        ]
    };
    let refused = t1.post("/bank/layouts", &form("rbc", "5")).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused
            .text()
            .contains(&i18n::text(Language::Fr, "bank-layout-name-preset")),
        "{}",
        refused.text()
    );
    assert!(
        refused
            .body
            .contains("aria-invalid=\"true\" aria-describedby=\"layout-name-error\"")
    );
    let refused = t1.post("/bank/layouts", &form("Caisse Exemple", "4")).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("id=\"layout-balance-error\""),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("value=\"Caisse Exemple\""),
        "typed kept"
    );
    let made = t1.post("/bank/layouts", &form("Caisse Exemple", "5")).await;
    assert_eq!(made.status, 303, "{}", made.body);
    let again = t1.post("/bank/layouts", &form("caisse exemple", "5")).await;
    assert_eq!(again.status, 409);
    assert!(
        again
            .text()
            .contains(&i18n::text(Language::Fr, "bank-layout-name-taken"))
    );
    let home = t1.get("/bank").await;
    assert!(
        home.body.contains("<option value=\"Caisse Exemple\""),
        "{}",
        home.body
    );
    assert!(
        home.text()
            .contains("Caisse Exemple · date 2 · description 3"),
        "{}",
        home.text()
    );
    let file = BANQUE_EXEMPLE
        .replace("25.00,520.05", "30.00,525.05")
        .replace("A-2,02/12/2026,FRAIS DE SERVICE,-1.50,518.55\n", "");
    let imported = t1
        .post(
            "/bank",
            &[
                ("format", "csv"),
                ("layout", "Caisse Exemple"),
                ("file", &file),
            ],
        )
        .await;
    assert_eq!(imported.status, 303, "{}", imported.body);
    assert!(imported.location().starts_with("/bank/statements/"));
    let (_, list) = f.get(layouts, &f.treasurer).await;
    let id = list[0]["id"].as_str().unwrap().to_string();
    let gone = t1.post(&format!("/bank/layouts/{id}/delete"), &[]).await;
    assert_eq!(gone.status, 303, "{}", gone.body);
    let (_, list) = f.get(layouts, &f.treasurer).await;
    assert_eq!(list, json!([]));
    let mut cw = Visitor::new(&f.app, "en");
    assert_eq!(cw.sign_in("cw@example.org").await.status, 303);
    assert_eq!(cw.post("/bank/layouts", &form("X", "5")).await.status, 403);

    let db = &f.app.db.db;
    let actions: Vec<String> = passage::on_db!(db, p => sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE action LIKE 'bank.layout%' ORDER BY seq"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(
        actions,
        [
            "bank.layout_saved",
            "bank.layout_deleted",
            "bank.layout_saved",
            "bank.layout_deleted"
        ]
    );
    f.app.clock.advance(chrono::Duration::minutes(1));
    books::check(db).await;
    f.app.stop().await;
}

/// A wrong match is undone (not once its day is reconciled, nor a line recorded as what it
/// is); a proposed fee is refused by a second treasurer, never by the one who proposed
/// it: nothing is recorded. By the API and by the statement's page; every step audited.
async fn a_match_is_undone_and_a_proposed_fee_refused(t: TestDb) {
    let mut f = Fund::new(t).await;
    let foundation = f
        .donor("Fondation Exemple", "fondation@example.org", "fr")
        .await;
    let friend = f.donor("Ami Exemple", "ami@example.org", "en").await;
    f.give(&foundation, "500.00").await;
    f.give(&friend, "80.00").await;
    f.give(&friend, "80.00").await;
    f.go_to(2026, 12, 2, 12).await;
    let (s, first) = import(&f, "format=csv&layout=td", TD_NOVEMBER, "en").await;
    assert_eq!(s, 201, "{first}");
    let id = first["id"].as_str().unwrap().to_string();
    let (_, statement) = f
        .get(&format!("/api/v1/bank/statements/{id}"), &f.treasurer)
        .await;
    let gift = line_of(&statement, "DEPOT DON")[0].clone();
    let gift_line = gift["id"].as_str().unwrap().to_string();
    let donation = gift["match_id"].as_str().unwrap().to_string();
    let transfers: Vec<String> = line_of(&statement, "VIREMENT RECU")
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect();
    let candidates: Vec<String> = line_of(&statement, "VIREMENT RECU")[0]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let fee = line_of(&statement, "FRAIS MENSUELS")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let interest = line_of(&statement, "INTERETS")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let unmatch = |line: &str| format!("/api/v1/bank/lines/{line}/unmatch");

    // The gift's match undone: unmatched, the gift a candidate again, matched again.
    let (s, r) = f.post(&unmatch(&gift_line), &f.treasurer, json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (&r["status"], &r["matched"], &r["match_id"]),
        (&json!("unmatched"), &json!(false), &Value::Null),
        "{r}"
    );
    assert_eq!(
        r["candidates"][0]["id"],
        donation.as_str(),
        "free again: {r}"
    );
    let (s, r) = f.post(&unmatch(&gift_line), &f.treasurer, json!({})).await;
    assert_eq!(s, 409, "not matched: {r}");
    let (s, r) = record(
        &f,
        &f.second_treasurer,
        &gift_line,
        json!({"match": donation}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let (s, r) = record(&f, &f.treasurer, &interest, json!({"kind": "interest"})).await;
    assert_eq!(s, 200, "{r}");
    let (s, r) = f.post(&unmatch(&interest), &f.treasurer, json!({})).await;
    assert_eq!(s, 409, "a transfer was made: {r}");
    let (s, r) = f
        .post(
            "/api/v1/bank/lines/00000000-0000-0000-0000-000000000000/unmatch",
            &f.treasurer,
            json!({}),
        )
        .await;
    assert_eq!(s, 404, "{r}");

    // A fee proposed, refused by the second treasurer (never by its proposer): nothing
    // is recorded, and it can be proposed again.
    let refuse = format!("/api/v1/bank/lines/{fee}/refuse");
    let confirm = format!("/api/v1/bank/lines/{fee}/confirm");
    let (s, r) = f.post(&refuse, &f.treasurer, json!({})).await;
    assert_eq!(s, 409, "nothing proposed yet: {r}");
    let (s, r) = record(&f, &f.treasurer, &fee, json!({"kind": "fee"})).await;
    assert_eq!(s, 200, "{r}");
    let (s, r) = f.post(&refuse, &f.treasurer, json!({})).await;
    assert_eq!(s, 403, "the proposer: {r}");
    let (s, r) = f.post(&refuse, &f.second_treasurer, json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (&r["status"], &r["proposed_by"], &r["recorded_as"]),
        (&json!("unmatched"), &Value::Null, &Value::Null),
        "{r}"
    );
    assert_eq!(fund(&f).await["fees"], "0.00", "nothing recorded");
    let (s, r) = f.post(&confirm, &f.treasurer, json!({})).await;
    assert_eq!(s, 409, "no proposal to confirm: {r}");

    // The page: undo a match, refuse a fee.
    let mut t1 = Visitor::new(&f.app, "en");
    assert_eq!(t1.sign_in("t1@example.org").await.status, 303);
    let mut t2 = Visitor::new(&f.app, "en");
    assert_eq!(t2.sign_in("t2@example.org").await.status, 303);
    let page_of = format!("/bank/statements/{id}");
    let matched = t1
        .post(
            &format!("/bank/lines/{}", transfers[0]),
            &[
                ("statement", id.as_str()),
                ("action", "match"),
                ("target", candidates[1].as_str()),
            ],
        )
        .await;
    assert_eq!(matched.status, 303, "{}", matched.body);
    let page = t1.get(&page_of).await;
    assert!(
        page.body
            .contains(&format!("id=\"unmatch-{}\"", transfers[0])),
        "{}",
        page.body
    );
    assert!(
        page.text()
            .contains(&i18n::text(Language::En, "bank-unmatch"))
    );
    let undone = t1
        .post(
            &format!("/bank/lines/{}", transfers[0]),
            &[("statement", id.as_str()), ("action", "unmatch")],
        )
        .await;
    assert_eq!(undone.status, 303, "{}", undone.body);
    let (_, line) = f
        .get(&format!("/api/v1/bank/statements/{id}"), &f.treasurer)
        .await;
    let line = line_of(&line, "VIREMENT RECU")[0].clone();
    assert_eq!(line["status"], "unmatched", "{line}");
    let proposed = t1
        .post(
            &format!("/bank/lines/{fee}"),
            &[
                ("statement", id.as_str()),
                ("action", "record"),
                ("kind", "fee"),
            ],
        )
        .await;
    assert_eq!(proposed.status, 303, "{}", proposed.body);
    let own = t1.get(&page_of).await;
    assert!(
        !own.body.contains(&format!("id=\"refuse-{fee}\"")),
        "the proposer"
    );
    let refused_by_proposer = t1
        .post(
            &format!("/bank/lines/{fee}"),
            &[("statement", id.as_str()), ("action", "refuse")],
        )
        .await;
    assert_eq!(refused_by_proposer.status, 403);
    assert!(
        refused_by_proposer
            .text()
            .contains(&i18n::text(Language::En, "bank-refused-403"))
    );
    t2.speak("fr").await;
    let other = t2.get(&page_of).await;
    assert!(
        other.body.contains(&format!("id=\"refuse-{fee}\"")),
        "{}",
        other.body
    );
    assert!(
        other
            .text()
            .contains(&i18n::text(Language::Fr, "bank-refuse-fee"))
    );
    let refused = t2
        .post(
            &format!("/bank/lines/{fee}"),
            &[("statement", id.as_str()), ("action", "refuse")],
        )
        .await;
    assert_eq!(refused.status, 303, "{}", refused.body);
    let (_, after) = f
        .get(&format!("/api/v1/bank/statements/{id}"), &f.treasurer)
        .await;
    assert_eq!(line_of(&after, "FRAIS MENSUELS")[0]["status"], "unmatched");
    assert_eq!(fund(&f).await["fees"], "0.00");

    // The end of November reconciled: its lines' matches are frozen.
    let (s, r) = record(
        &f,
        &f.treasurer,
        &transfers[0],
        json!({"match": candidates[0]}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let (s, r) = f
        .post(
            "/api/v1/bank/reconciliation",
            &f.treasurer,
            json!({"as_of": "2026-11-30"}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let (s, r) = f.post(&unmatch(&gift_line), &f.treasurer, json!({})).await;
    assert_eq!(s, 409, "frozen: {r}");
    let page = t1.get(&page_of).await;
    assert!(
        !page.body.contains(&format!("id=\"unmatch-{gift_line}\"")),
        "no undo on a frozen day"
    );

    let db = &f.app.db.db;
    let actions: Vec<String> = passage::on_db!(db, p => sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE action IN ('bank.unmatch', 'bank.fee_refused') ORDER BY action"
    )
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(
        actions,
        [
            "bank.fee_refused",
            "bank.fee_refused",
            "bank.unmatch",
            "bank.unmatch"
        ]
    );
    f.app.clock.advance(chrono::Duration::minutes(1));
    books::check(db).await;
    f.app.stop().await;
}

on_both_engines!(
    one_story_from_the_gifts_to_the_bank,
    a_statement_is_matched_recorded_and_reconciled,
    payouts_match_and_a_bounce_is_recorded_from_the_statement,
    hostile_statements_are_refused,
    layouts_are_saved_per_bank_and_desjardins_is_read,
    a_match_is_undone_and_a_proposed_fee_refused,
);
