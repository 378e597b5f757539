//! What must hold of a database after anything (a crash, two instances racing): each
//! request's state agrees with its hold in the ledger, no hold is orphaned, lost or
//! resolved twice, every request has its audit event, the fund's figures add up to the
//! requests' own and keep the fund's two identities (issue 18), and the ledger check and
//! the audit chain pass.

use passage::on_db;
use passage::store::Db;

/// The fund's figures the books add up to, in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Books {
    pub requests: i64,
    pub approved: i64,
    pub settled: i64,
    pub held: i64,
    pub spent: i64,
}

/// Checks every invariant above and returns the figures, panicking with the offending
/// rows when one fails.
pub async fn check(db: &Db) -> Books {
    // Each request against its hold: (request id, status, amount, spent, hold kind,
    // hold amount, how many transfers resolve the hold, the kind resolving it, and for a
    // late receipt paid by a hold of its own, the kind that resolved the hold that
    // expired).
    type Row = (
        String,
        String,
        i64,
        Option<i64>,
        Option<String>,
        Option<i64>,
        i64,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = on_db!(db, p => sqlx::query_as(
        "SELECT r.id, r.status, r.amount, r.spent, h.kind, h.amount,
                (SELECT COUNT(*) FROM transfers x WHERE x.pending_id = r.hold_id),
                (SELECT MIN(x.kind) FROM transfers x WHERE x.pending_id = r.hold_id),
                (SELECT MIN(x.kind) FROM transfers x WHERE x.pending_id = r.expired_hold_id)
         FROM requests r LEFT JOIN transfers h ON h.id = r.hold_id
         ORDER BY r.id",
    )
    .fetch_all(p)
    .await)
    .expect("read the requests");
    let mut books = Books {
        requests: rows.len() as i64,
        approved: 0,
        settled: 0,
        held: 0,
        spent: 0,
    };
    for (id, status, amount, spent, hold_kind, hold_amount, resolutions, resolved_by, late) in &rows
    {
        let what = format!("request {id} ({status})");
        assert!(
            *resolutions <= 1,
            "{what}: its hold is resolved {resolutions} times"
        );
        match status.as_str() {
            "pending" | "declined" => assert!(hold_kind.is_none(), "{what} holds money"),
            _ if !matches!(
                status.as_str(),
                "approved" | "settled" | "cancelled" | "expired" | "receipt_pending"
            ) =>
            {
                panic!("{what}: unknown status")
            }
            _ => {
                assert_eq!(hold_kind.as_deref(), Some("pending"), "{what}: no hold");
                // A late receipt's own hold is what the receipt paid, posted in full; the
                // hold that expired was the request's amount.
                let held = if late.is_some() {
                    *spent
                } else {
                    Some(*amount)
                };
                assert_eq!(*hold_amount, held, "{what}: a hold of another amount");
            }
        }
        if let Some(late) = late {
            assert_eq!(
                late, "expire",
                "{what}: paid late, but its first hold did not expire"
            );
            assert_eq!(status, "settled", "{what}: a second hold, but not settled");
        }
        match status.as_str() {
            "approved" => {
                assert_eq!(*resolutions, 0, "{what}: its hold is already resolved");
                books.approved += 1;
                books.held += amount;
            }
            "settled" => {
                assert_eq!(resolved_by.as_deref(), Some("post"), "{what}");
                books.settled += 1;
                books.spent += spent.unwrap_or_else(|| panic!("{what}: no amount spent"));
            }
            "cancelled" => assert_eq!(resolved_by.as_deref(), Some("void"), "{what}"),
            "expired" | "receipt_pending" => {
                assert_eq!(resolved_by.as_deref(), Some("expire"), "{what}")
            }
            _ => {}
        }
    }

    // No hold without its request (a half-written submission), none resolved twice.
    let orphans: Vec<String> = on_db!(db, p => sqlx::query_scalar(
        "SELECT t.id FROM transfers t
         WHERE t.kind = 'pending' AND t.code = 'disbursement'
           AND NOT EXISTS (SELECT 1 FROM requests r
                           WHERE r.hold_id = t.id OR r.expired_hold_id = t.id)",
    )
    .fetch_all(p)
    .await)
    .expect("read the holds");
    assert!(orphans.is_empty(), "holds without a request: {orphans:?}");

    // Every request was submitted through the audit trail, once.
    let audited: i64 = on_db!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'request.submit'",
    )
    .fetch_one(p)
    .await)
    .expect("count the audit events");
    assert_eq!(
        audited, books.requests,
        "one request.submit event per request"
    );
    let receipts: i64 = on_db!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'request.receipt'",
    )
    .fetch_one(p)
    .await)
    .expect("count the audit events");
    assert_eq!(
        receipts, books.settled,
        "one request.receipt event per settlement"
    );

    // The fund's figures are the requests' own (no money is spent outside requests), they
    // keep the two identities of issue 18 (`bank = available + held + owed +
    // to_replenish`, `donated + other_income - fees = bank + advanced + spent - owed`),
    // and the cached balances are the derived ones.
    let fund = passage::ledger::figures(db).await.expect("the fund");
    assert_eq!(
        fund.held, books.held,
        "held = the approved requests' amounts"
    );
    assert_eq!(fund.spent, books.spent, "spent = the receipts' amounts");
    assert_eq!(
        fund.bank,
        fund.available + fund.held + fund.owed + fund.to_replenish,
        "bank = available + held + owed + to_replenish: {fund:?}"
    );
    assert_eq!(
        fund.donated + fund.other_income - fund.fees,
        fund.bank + fund.advanced + fund.spent - fund.owed,
        "donated + other_income - fees = bank + advanced + spent - owed: {fund:?}"
    );
    assert_eq!(
        fund.owed, fund.bank_owed,
        "the bank keeps what is owed: {fund:?}"
    );
    assert!(fund.available >= 0, "the fund is overdrawn: {fund:?}");
    for figure in [fund.owed, fund.to_replenish, fund.advanced, fund.bank] {
        assert!(figure >= 0, "a negative figure: {fund:?}");
    }
    let ledger = passage::ledger::check(db)
        .await
        .expect("the ledger check runs");
    assert!(ledger.ok, "ledger check: {:?}", ledger.problems);
    let audit = passage::audit::verify(db)
        .await
        .expect("the audit check runs");
    assert!(audit.ok, "audit chain: {:?}", audit.broken);
    books
}
