//! The request lifecycle: submitted → approved (a hold) | pending | declined; a pending
//! request is approved (by two distinct treasurers above `dual_approval_above`) or
//! declined; an approved one is settled by a receipt, cancelled, or expires.
//!
//! Each step is one transaction that reads the fund under a lock, decides, moves money in
//! the ledger and appends its audit event, so a decision and its hold cannot drift apart.
//! Audit events carry ids, categories, amounts and statuses only: notes and cities are
//! purged later, and the audit trail can never be.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;

use super::error::{FlowError, invalid};
use super::{Decision, needs_two_treasurers, versions};
use crate::audit::{self, Actor};
use crate::cases::{self, Staff};
use crate::domain::Money;
use crate::domain::case_code::CaseCode;
use crate::domain::deciding::{DeclineCode, Excess};
use crate::domain::money::format_cents;
use crate::domain::note::Note;
use crate::domain::page::{self, Cursor, Page, PageRequest};
use crate::domain::request::{Category, HotelStay, Trip};
use crate::domain::states::RequestStatus;
use crate::funding::{payouts, restricted};
use crate::ledger::{self, FUND, NewTransfer, Outcome, Rejection, SPENT, TransferSpec};
use crate::store::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

pub mod late;

#[derive(Debug, Clone)]
pub struct NewRequest {
    pub case_code: CaseCode,
    pub category: Category,
    pub amount: Money,
    pub needed_by: String,
    pub urgent: bool,
    pub note: Option<Note>,
    pub trip: Option<(Trip, NaiveDate)>,
    pub hotel: Option<HotelStay>,
}

/// What settles an approved request: a paper receipt the organisation keeps (Passage stores
/// its reference, never an image: tickets and folios carry legal names) or, for pocket
/// money only, the caseworker's attestation.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub amount: Money,
    pub paid_on: NaiveDate,
    pub vendor: Option<String>,
    pub reference: Option<String>,
    pub attested: bool,
    /// A fare bought abroad: what was paid, in its own currency.
    pub original: Option<OriginalAmount>,
    /// Who paid; the organisation's payment mode when `None` (issue 18).
    pub paid_by: Option<crate::domain::states::PaidBy>,
    /// With `paid_by: vendor`: the vendor account, else the organisation's default.
    pub vendor_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalAmount {
    /// An ISO 4217 code other than CAD, upper case.
    pub currency: String,
    pub amount: rust_decimal::Decimal,
}

/// A stored request as the API shows it; amounts are decimal strings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RequestView {
    #[schema(format = "uuid")]
    pub id: String,
    pub case_code: String,
    pub org_id: String,
    #[schema(value_type = Category)]
    pub category: String,
    #[schema(value_type = crate::domain::money::Figure)]
    pub amount: String,
    pub status: RequestStatus,
    /// The policy rule that decided, or why a treasurer must.
    pub rule: String,
    pub reason: Option<String>,
    pub policy_version: i64,
    pub automatic: bool,
    pub urgent: bool,
    /// A date (`2026-11-30`) or a time (RFC 3339), as asked.
    pub needed_by: String,
    pub note: Option<String>,
    /// Travel only: `local`, `intercity`, `interprovincial` or `international`.
    pub scope: Option<String>,
    pub nights: Option<i64>,
    #[schema(value_type = Option<crate::domain::money::Figure>)]
    pub spent: Option<String>,
    #[schema(value_type = Option<crate::domain::money::Figure>)]
    pub released: Option<String>,
    pub approvals: i64,
    pub approvals_needed: i64,
    /// The caseworker who asked.
    pub requested_by: Party,
    /// The organisation whose case it is.
    pub org: Party,
    /// Travel only: where from, where to, when and why. The cities are left out for an
    /// organisation that did not ask (as the note is), and once purged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trip: Option<TripView>,
    /// Hotel only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stay: Option<StayView>,
    /// A treasurer's question to the caseworker, and the answer once given. Left out as
    /// the note is for an organisation that did not ask.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question: Option<QuestionView>,
    /// Why a treasurer declined it, beside the reason they typed (`reason`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<DeclineCode>,
    /// The treasurer who approved or declined it: who to call back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<Contact>,
    /// The treasurers' approvals so far, oldest first (a single request's view).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approved_by: Vec<Approval>,
    /// For a treasurer: by how much it goes past the rule that sent it to them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excess: Option<Excess>,
    /// For a treasurer: the case's requests of the last 90 days, this one apart, newest
    /// first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryItem>>,
    /// For a treasurer, while it waits: what the fund has available now and after this
    /// approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fund: Option<FundNow>,
    /// Once a receipt is entered (a single request's view): when it was paid, the
    /// organisation's reference and the vendor (both left out for an organisation that did
    /// not ask, and once purged), whether it was by attestation, and a foreign currency's
    /// amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ReceiptView>,
    /// The figures the automatic decision read (see `approval::excess`).
    #[serde(skip)]
    pub decided_window_cents: Option<i64>,
    #[serde(skip)]
    pub decided_open_cents: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub hold_expires_at: Option<DateTime<Utc>>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub flagged: bool,
    /// Whoever asked held the treasurer role then: an automatic approval of it is marked
    /// on the review list, since its requester could have written the rules it passed.
    pub requested_by_treasurer: bool,
}

impl RequestView {
    /// Declined by a treasurer: a request (`declined`), or a late receipt (the request
    /// stays `expired`, with the receipt its organisation entered and who declined it).
    pub fn declined_by_a_treasurer(&self) -> bool {
        self.decided_by.is_some()
            && (self.status == RequestStatus::Declined
                || (self.status == RequestStatus::Expired && self.receipt.is_some()))
    }
}

/// Someone, by the name the instance knows them by (their display name, or their email).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Party {
    pub id: String,
    pub name: String,
}

/// A treasurer to call back about a decision.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Contact {
    pub id: String,
    pub name: String,
    pub email: String,
}

/// One treasurer's approval.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, sqlx::FromRow, utoipa::ToSchema)]
pub struct Approval {
    pub id: String,
    pub name: String,
    pub at: DateTime<Utc>,
}

/// A place of a trip as a view shows it: the city, and its province or country.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct PlaceView {
    /// Left out for an organisation that did not ask, and once purged.
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl PlaceView {
    /// The province or the country, never the city (what an email may say).
    pub fn region(&self) -> &str {
        self.province
            .as_deref()
            .or(self.country.as_deref())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct TripView {
    pub origin: PlaceView,
    pub destination: PlaceView,
    #[schema(format = "date")]
    pub travel_date: Option<String>,
    /// `safety`, `family`, `shelter`, `court` or `other`.
    pub reason: Option<String>,
    /// `local`, `intercity`, `interprovincial` or `international`, derived from the places.
    pub scope: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct StayView {
    pub nights: i64,
    #[schema(value_type = crate::domain::money::Figure)]
    pub nightly_rate: String,
    pub party_size: i64,
}

/// A treasurer's question and the caseworker's answer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct QuestionView {
    pub question: String,
    pub asked_by: Party,
    pub asked_at: DateTime<Utc>,
    pub answer: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// One of the case's earlier requests, as the treasurer weighs it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, sqlx::FromRow, utoipa::ToSchema)]
pub struct HistoryItem {
    pub id: String,
    #[schema(value_type = Category)]
    pub category: String,
    #[schema(value_type = crate::domain::money::Figure)]
    pub amount: String,
    pub status: RequestStatus,
    pub created_at: DateTime<Utc>,
}

/// The receipt that settled a request (or waits, late), as its page and the API show it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ReceiptView {
    #[schema(format = "date")]
    pub paid_on: Option<String>,
    pub reference: Option<String>,
    pub vendor: Option<String>,
    /// Pocket money given against the caseworker's attestation, without a paper receipt.
    pub attested: bool,
    /// A fare bought abroad: the ISO 4217 code and the amount paid in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::domain::money::Figure>)]
    pub original_amount: Option<String>,
}

/// The fund's available money now, and after approving the request.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FundNow {
    #[schema(value_type = crate::domain::money::Figure)]
    pub available: String,
    #[schema(value_type = crate::domain::money::Figure)]
    pub after: String,
}

/// What a change tells people, for the mail module to write in the same transaction
/// (see `approval::notify::tell`): the lifecycle decides, it does not write mail.
#[derive(Debug, Clone)]
pub enum Notice {
    /// An urgent request waits for a treasurer.
    Waiting { request: RequestView },
    /// A treasurer approved or declined a request: its caseworker hears of it.
    Decided { request: RequestView },
    /// A receipt came after its hold expired: a treasurer on call decides on it.
    LateReceipt { request: RequestView },
    /// A treasurer approved or declined a late receipt: its organisation hears of it.
    LateDecided { request: RequestView },
    /// A treasurer asked the caseworker a question: the caseworker hears of it.
    Asked { request: RequestView },
    /// The caseworker answered: the treasurer who asked hears of it.
    Answered { request: RequestView },
    /// What automatic decisions can use after the change (available money less what
    /// active operation reserves hold), against the reserve floor.
    LowBalance {
        available_cents: i64,
        floor_cents: i64,
    },
}

/// A step's answer: the request as its actor may read it, and what to tell.
#[derive(Debug, Clone)]
pub struct Stepped {
    pub view: RequestView,
    pub notices: Vec<Notice>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    id: String,
    case_code: String,
    org_id: String,
    requested_by: String,
    category: String,
    amount: i64,
    needed_by: String,
    urgent: bool,
    note: Option<String>,
    scope: Option<String>,
    nights: Option<i64>,
    status: RequestStatus,
    rule: String,
    decision_reason: Option<String>,
    policy_version: i64,
    automatic: bool,
    hold_id: Option<String>,
    spent: Option<i64>,
    created_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
    approvals: i64,
    hold_expires_at: Option<DateTime<Utc>>,
    reviewed_at: Option<DateTime<Utc>>,
    flagged: bool,
    requested_by_treasurer: bool,
    /// The organisation of the caseworker who asked (`org_id` is the case's, which on a
    /// shared case may be another).
    requester_org: Option<String>,
    requester_name: Option<String>,
    org_name: Option<String>,
    origin_city: Option<String>,
    origin_province: Option<String>,
    origin_country: Option<String>,
    destination_city: Option<String>,
    destination_province: Option<String>,
    destination_country: Option<String>,
    travel_date: Option<String>,
    trip_reason: Option<String>,
    nightly_rate: Option<i64>,
    party_size: Option<i64>,
    decided_window_cents: Option<i64>,
    decided_open_cents: Option<i64>,
    decline_code: Option<String>,
    decided_by: Option<String>,
    decider_name: Option<String>,
    decider_email: Option<String>,
    question: Option<String>,
    asked_by: Option<String>,
    asker_name: Option<String>,
    asked_at: Option<DateTime<Utc>>,
    answer: Option<String>,
    answered_at: Option<DateTime<Utc>>,
}

const SELECT_ROW: &str = "SELECT r.id, r.case_code, r.org_id, r.requested_by, r.category, r.amount,
        r.needed_by, r.urgent, r.note, r.scope, r.nights, r.status, r.rule, r.decision_reason,
        r.policy_version, r.automatic, r.hold_id, r.spent, r.created_at, r.decided_at,
        r.reviewed_at, r.flagged, r.requested_by_treasurer,
        (SELECT COUNT(*) FROM approvals_now a WHERE a.request_id = r.id) AS approvals,
        (SELECT t.expires_at FROM transfers t WHERE t.id = r.hold_id) AS hold_expires_at,
        (SELECT u.org_id FROM users u WHERE u.id = r.requested_by) AS requester_org,
        (SELECT COALESCE(u.display_name, u.email) FROM users u WHERE u.id = r.requested_by)
            AS requester_name,
        (SELECT o.name FROM orgs o WHERE o.id = r.org_id) AS org_name,
        r.origin_city, r.origin_province, r.origin_country, r.destination_city,
        r.destination_province, r.destination_country, r.travel_date, r.reason AS trip_reason,
        r.nightly_rate, r.party_size, r.decided_window_cents, r.decided_open_cents,
        r.decline_code, r.decided_by,
        (SELECT COALESCE(u.display_name, u.email) FROM users u WHERE u.id = r.decided_by)
            AS decider_name,
        (SELECT u.email FROM users u WHERE u.id = r.decided_by) AS decider_email,
        r.question, r.asked_by,
        (SELECT COALESCE(u.display_name, u.email) FROM users u WHERE u.id = r.asked_by)
            AS asker_name,
        r.asked_at, r.answer, r.answered_at
     FROM requests r";

impl Row {
    /// The request as `staff` may read it: the note, the cities and the question of a
    /// request another organisation made (what it wrote about the person it helps) are
    /// left out, see [`cases::reads_notes_of`].
    fn view_for(self, dual_above: Money, staff: &Staff) -> RequestView {
        let asker = self
            .requester_org
            .clone()
            .unwrap_or_else(|| self.org_id.clone());
        let mut view = self.view(dual_above);
        if !cases::reads_notes_of(staff, &asker) {
            view.note = None;
            view.question = None;
            if let Some(trip) = &mut view.trip {
                trip.origin.city = None;
                trip.destination.city = None;
            }
        }
        view
    }

    fn view(self, dual_above: Money) -> RequestView {
        // A waiting late receipt needs the approvals of what it pays.
        let paid = match (self.status, self.spent) {
            (RequestStatus::ReceiptPending, Some(spent)) => spent,
            _ => self.amount,
        };
        let needed = if paid > dual_above.cents() { 2 } else { 1 };
        let place =
            |city: Option<String>, province: Option<String>, country: Option<String>| PlaceView {
                city,
                province,
                country,
            };
        let trip = (self.travel_date.is_some()
            || self.origin_province.is_some()
            || self.origin_country.is_some())
        .then(|| TripView {
            origin: place(
                self.origin_city.clone(),
                self.origin_province.clone(),
                self.origin_country.clone(),
            ),
            destination: place(
                self.destination_city.clone(),
                self.destination_province.clone(),
                self.destination_country.clone(),
            ),
            travel_date: self.travel_date.clone(),
            reason: self.trip_reason.clone(),
            scope: self.scope.clone(),
        });
        let stay = match (self.nights, self.nightly_rate, self.party_size) {
            (Some(nights), Some(rate), Some(party_size)) => Some(StayView {
                nights,
                nightly_rate: format_cents(rate),
                party_size,
            }),
            _ => None,
        };
        let question = match (&self.question, &self.asked_by, self.asked_at) {
            (Some(q), Some(by), Some(at)) => Some(QuestionView {
                question: q.clone(),
                asked_by: Party {
                    id: by.clone(),
                    name: self.asker_name.clone().unwrap_or_default(),
                },
                asked_at: at,
                answer: self.answer.clone(),
                answered_at: self.answered_at,
            }),
            _ => None,
        };
        let decided_by = self.decided_by.clone().map(|id| Contact {
            id,
            name: self.decider_name.clone().unwrap_or_default(),
            email: self.decider_email.clone().unwrap_or_default(),
        });
        RequestView {
            requested_by: Party {
                id: self.requested_by.clone(),
                name: self.requester_name.clone().unwrap_or_default(),
            },
            org: Party {
                id: self.org_id.clone(),
                name: self.org_name.clone().unwrap_or_default(),
            },
            trip,
            stay,
            question,
            reason_code: self.decline_code.as_deref().and_then(|c| c.parse().ok()),
            decided_by,
            approved_by: Vec::new(),
            excess: None,
            history: None,
            fund: None,
            receipt: None,
            decided_window_cents: self.decided_window_cents,
            decided_open_cents: self.decided_open_cents,
            released: self.spent.map(|s| format_cents(self.amount - s)),
            spent: self.spent.map(format_cents),
            amount: format_cents(self.amount),
            id: self.id,
            case_code: self.case_code,
            org_id: self.org_id,
            category: self.category,
            status: self.status,
            rule: self.rule,
            reason: self.decision_reason,
            policy_version: self.policy_version,
            automatic: self.automatic,
            urgent: self.urgent,
            needed_by: self.needed_by,
            note: self.note,
            scope: self.scope,
            nights: self.nights,
            approvals: self.approvals,
            approvals_needed: needed,
            created_at: self.created_at,
            decided_at: self.decided_at,
            hold_expires_at: self.hold_expires_at,
            reviewed_at: self.reviewed_at,
            flagged: self.flagged,
            requested_by_treasurer: self.requested_by_treasurer,
        }
    }
}

async fn load_row(tx: &mut Tx, id: &str) -> Result<Option<Row>, StoreError> {
    let sql = format!("{SELECT_ROW} WHERE r.id = $1");
    Ok(on_tx!(tx, c => sqlx::query_as::<_, Row>(&sql).bind(id).fetch_optional(c).await)?)
}

/// The fund's available money under its lock: automatic approvals taken one after the
/// other can never cross the reserve floor together.
async fn lock_fund(tx: &mut Tx) -> Result<i64, StoreError> {
    ledger::lock_fund_available(tx).await
}

/// What automatic decisions can use now: available money less what active operation
/// reserves still hold, read under the fund's lock. The low-balance alert watches it.
pub async fn usable_cents(tx: &mut Tx, now: DateTime<Utc>) -> Result<i64, StoreError> {
    Ok(lock_fund(tx).await? - crate::funding::reserves::outstanding(tx, now).await?)
}

/// What the fund may spend on `category` now, under its lock: available money less what
/// gifts restricted to other categories hold.
async fn open_to(tx: &mut Tx, category: Category) -> Result<i64, StoreError> {
    Ok(lock_fund(tx).await? - restricted::closed_to(tx, category).await?)
}

/// The hold that reserves an approved request's money until it is settled or expires.
pub(crate) fn hold_for(request_id: &str, amount: Money, expires_at: DateTime<Utc>) -> NewTransfer {
    NewTransfer {
        id: format!("hold:{request_id}"),
        spec: TransferSpec::Pending {
            debit: FUND.into(),
            credit: SPENT.into(),
            amount: amount.cents(),
            expires_at,
        },
        code: "disbursement".into(),
        reference: Some(request_id.into()),
    }
}

/// What each of these cases has spent or holds within the rolling window, in one
/// statement; a case with nothing there is left out. Whole days come from the per-day
/// totals (migration 0014_case_days); only the day the window begins in is summed from
/// its requests, from `since` on.
pub(super) async fn case_windows_cents(
    tx: &mut Tx,
    codes: &[&str],
    since: DateTime<Utc>,
) -> Result<std::collections::HashMap<String, i64>, StoreError> {
    if codes.is_empty() {
        return Ok(Default::default());
    }
    let first_day = since.date_naive();
    let next_day = first_day
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .unwrap_or(since);
    let uses_money = RequestStatus::sql_list(&[RequestStatus::Approved, RequestStatus::Settled]);
    let rows: Vec<(String, i64)> = on_tx!(tx, c => {
        let mut select = sqlx::QueryBuilder::new(
            "SELECT case_code, CAST(COALESCE(SUM(cents), 0) AS BIGINT) FROM (
                 SELECT case_code, cents FROM case_days WHERE day > ",
        );
        select.push_bind(first_day);
        select.push(" AND case_code IN ");
        crate::store::push_list(&mut select, codes.iter().copied());
        // The status is tested in the select list, not the WHERE: there it would let
        // SQLite pick the index by status and read every approved request there is.
        select.push(format!(
            " UNION ALL
              SELECT case_code,
                     CASE WHEN status IN {uses_money} THEN COALESCE(spent, amount)
                          ELSE 0 END
              FROM requests WHERE decided_at >= "
        ));
        select.push_bind(since);
        select.push(" AND decided_at < ");
        select.push_bind(next_day);
        select.push(" AND case_code IN ");
        crate::store::push_list(&mut select, codes.iter().copied());
        select.push(") AS window_parts GROUP BY case_code");
        select.build_query_as().fetch_all(c).await
    })?;
    Ok(rows.into_iter().collect())
}

/// The names a new request's view shows: its requester's (their display name, or their
/// email) and its case's organisation's, read in one statement for a whole batch, in the
/// batch's transaction (so as they are when it commits, as a view read back would show).
async fn names_of(
    tx: &mut Tx,
    rows: &[RequestRow<'_>],
) -> Result<std::collections::HashMap<(bool, String), String>, StoreError> {
    let mut users: Vec<&str> = rows.iter().map(|r| r.requested_by).collect();
    let mut orgs: Vec<&str> = rows.iter().map(|r| r.case.org_id.as_str()).collect();
    users.sort_unstable();
    users.dedup();
    orgs.sort_unstable();
    orgs.dedup();
    let found: Vec<(bool, String, String)> = on_tx!(tx, c => {
        let mut select = sqlx::QueryBuilder::new(
            "SELECT TRUE, id, COALESCE(display_name, email) FROM users WHERE id IN ",
        );
        crate::store::push_list(&mut select, users.iter().copied());
        select.push(" UNION ALL SELECT FALSE, id, name FROM orgs WHERE id IN ");
        crate::store::push_list(&mut select, orgs.iter().copied());
        select.build_query_as().fetch_all(c).await
    })?;
    Ok(found
        .into_iter()
        .map(|(user, id, name)| ((user, id), name))
        .collect())
}

/// Places a hold for an approval; `None` when the fund cannot cover it.
async fn place_hold(
    tx: &mut Tx,
    now: DateTime<Utc>,
    actor: &Actor,
    hold: &NewTransfer,
) -> Result<Option<String>, FlowError> {
    match ledger::create_transfer(tx, now, actor, hold).await? {
        Outcome::Created(t) | Outcome::Exists(t) => Ok(Some(t.id)),
        Outcome::Rejected(Rejection::ExceedsCredits) => Ok(None),
        Outcome::Rejected(r) => Err(FlowError::Conflict(format!(
            "the ledger refused the hold: {}",
            r.as_str()
        ))),
    }
}

/// A new request's row as it is stored, decision included. `decision` is what the request
/// ends with: an approval only when its hold was placed.
pub(super) struct RequestRow<'a> {
    pub id: &'a str,
    pub case: &'a cases::Case,
    pub requested_by: &'a str,
    /// Whether the requester holds the treasurer role.
    pub by_treasurer: bool,
    pub new: &'a NewRequest,
    pub amount: Money,
    pub decision: &'a Decision,
    pub policy_version: i64,
    /// The hold placed for an approval, and when it expires (as the ledger stored it).
    pub hold: Option<(String, Option<DateTime<Utc>>)>,
    /// The operation reserve that answered for an approval, when one did.
    pub reserve_id: Option<String>,
    /// What the decision read: the case's window and the money open to the request.
    pub window_cents: i64,
    pub open_cents: i64,
    pub now: DateTime<Utc>,
}

impl RequestRow<'_> {
    fn status(&self) -> RequestStatus {
        self.decision.status()
    }

    /// The audit event of the submission: ids, category, amount and decision only.
    pub(super) fn event<'b>(&self, actor: &'b Actor) -> audit::NewEvent<'b> {
        audit::NewEvent {
            actor,
            action: "request.submit",
            subject: format!("request:{}", self.id),
            content: json!({"case": self.case.code, "category": self.new.category.as_str(),
                "amount": self.amount.cents(), "status": self.status(),
                "rule": self.decision.rule(), "policy_version": self.policy_version,
                "urgent": self.new.urgent}),
        }
    }

    /// The row as [`insert_requests`] stores it, in the shape a read of it gives (see
    /// [`SELECT_ROW`]): a new request has no approvals, question, decider or spending yet,
    /// and is neither reviewed nor flagged. The names, which live in other tables, are
    /// left for the caller.
    fn stored(&self) -> Row {
        let new = self.new;
        let (trip, travel_date) = match &new.trip {
            Some((t, d)) => (Some(t), Some(d.to_string())),
            None => (None, None),
        };
        let status = self.status();
        Row {
            id: self.id.to_string(),
            case_code: self.case.code.clone(),
            org_id: self.case.org_id.clone(),
            requested_by: self.requested_by.to_string(),
            category: new.category.as_str().to_string(),
            amount: self.amount.cents(),
            needed_by: new.needed_by.clone(),
            urgent: new.urgent,
            note: new.note.as_ref().map(|n| n.as_str().to_string()),
            scope: trip.map(|t| t.scope().as_str().to_string()),
            nights: new.hotel.map(|h| i64::from(h.nights())),
            status,
            rule: self.decision.rule().to_string(),
            decision_reason: self.decision.why().map(str::to_string),
            policy_version: self.policy_version,
            automatic: status == RequestStatus::Approved,
            hold_id: self.hold.as_ref().map(|(id, _)| id.clone()),
            spent: None,
            created_at: self.now,
            decided_at: (status != RequestStatus::Pending).then_some(self.now),
            approvals: 0,
            hold_expires_at: self.hold.as_ref().and_then(|(_, at)| *at),
            reviewed_at: None,
            flagged: false,
            requested_by_treasurer: self.by_treasurer,
            requester_org: None,
            requester_name: None,
            org_name: None,
            origin_city: trip.map(|t| t.origin.city().to_string()),
            origin_province: trip.and_then(|t| t.origin.province()).map(str::to_string),
            origin_country: trip
                .and_then(|t| t.origin.country())
                .map(|c| c.as_str().to_string()),
            destination_city: trip.map(|t| t.destination.city().to_string()),
            destination_province: trip
                .and_then(|t| t.destination.province())
                .map(str::to_string),
            destination_country: trip
                .and_then(|t| t.destination.country())
                .map(|c| c.as_str().to_string()),
            travel_date,
            trip_reason: trip.map(|t| t.reason.as_str().to_string()),
            nightly_rate: new.hotel.map(|h| h.nightly_rate().cents()),
            party_size: new.hotel.map(|h| i64::from(h.party_size())),
            decided_window_cents: Some(self.window_cents),
            decided_open_cents: Some(self.open_cents),
            decline_code: None,
            decided_by: None,
            decider_name: None,
            decider_email: None,
            question: None,
            asked_by: None,
            asker_name: None,
            asked_at: None,
            answer: None,
            answered_at: None,
        }
    }
}

/// Writes new requests in one statement and answers each one's view, in their order. A
/// declined request is closed at once: the purge of its note and cities counts from its
/// decision.
///
/// The views are built from the rows as written, not read back: a new request's row holds
/// nothing the batch did not just put there (a read of it would give the same view, which
/// `the_one_path_decides_random_batches_as_the_model_does` in tests/same_night.rs checks
/// on both engines); only the requesters' and organisations' names are read.
pub(super) async fn insert_requests(
    tx: &mut Tx,
    rows: &[RequestRow<'_>],
    dual_above: Money,
) -> Result<Vec<RequestView>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let stored: Vec<Row> = rows.iter().map(RequestRow::stored).collect();
    on_tx!(tx, c => {
        let mut insert = sqlx::QueryBuilder::new(
            "INSERT INTO requests (id, case_code, org_id, requested_by, category, amount, needed_by,
                urgent, note, origin_city, origin_province, origin_country, destination_city,
                destination_province, destination_country, travel_date, reason, scope, nights,
                nightly_rate, party_size, status, rule, decision_reason, policy_version, automatic,
                hold_id, created_at, decided_at, closed_at, requested_by_treasurer, reserve_id,
                decided_window_cents, decided_open_cents) ",
        );
        insert.push_values(rows.iter().zip(&stored), |mut b, (row, r)| {
            b.push_bind(&r.id)
                .push_bind(&r.case_code)
                .push_bind(&r.org_id)
                .push_bind(&r.requested_by)
                .push_bind(&r.category)
                .push_bind(r.amount)
                .push_bind(&r.needed_by)
                .push_bind(r.urgent)
                .push_bind(&r.note)
                .push_bind(&r.origin_city)
                .push_bind(&r.origin_province)
                .push_bind(&r.origin_country)
                .push_bind(&r.destination_city)
                .push_bind(&r.destination_province)
                .push_bind(&r.destination_country)
                .push_bind(&r.travel_date)
                .push_bind(&r.trip_reason)
                .push_bind(&r.scope)
                .push_bind(r.nights)
                .push_bind(r.nightly_rate)
                .push_bind(r.party_size)
                .push_bind(r.status)
                .push_bind(&r.rule)
                .push_bind(&r.decision_reason)
                .push_bind(r.policy_version)
                .push_bind(r.automatic)
                .push_bind(&r.hold_id)
                .push_bind(r.created_at)
                .push_bind(r.decided_at)
                .push_bind((r.status == RequestStatus::Declined).then_some(row.now))
                .push_bind(r.requested_by_treasurer)
                .push_bind(&row.reserve_id)
                .push_bind(r.decided_window_cents)
                .push_bind(r.decided_open_cents);
        });
        insert.build().execute(c).await.map(|_| ())
    })?;
    let names = names_of(tx, rows).await?;
    Ok(stored
        .into_iter()
        .map(|mut r| {
            r.requester_name = names.get(&(true, r.requested_by.clone())).cloned();
            r.org_name = names.get(&(false, r.org_id.clone())).cloned();
            r.view(dual_above)
        })
        .collect())
}

/// A request as the API shows it, without any access check (for notifications).
pub async fn view_of(
    tx: &mut Tx,
    id: &str,
    dual_above: Money,
) -> Result<Option<RequestView>, StoreError> {
    Ok(load_row(tx, id).await?.map(|r| r.view(dual_above)))
}

/// Loads a request the staff member may act on, with the case locked.
async fn load_for(tx: &mut Tx, staff: &Staff, id: &str) -> Result<Row, FlowError> {
    // The request's row stays locked until `tx` ends (PostgreSQL; SQLite's writer holds
    // the whole database), so two treasurers, a receipt and a cancel acting on one
    // request at once, on any instances, act one after the other and each sees the
    // status the one before left, instead of both deciding from the same old status.
    let sql = format!(
        "SELECT case_code FROM requests WHERE id = $1{}",
        tx.lock_rows()
    );
    let code: Option<String> = on_tx!(tx, c => sqlx::query_scalar(&sql)
    .bind(id)
    .fetch_optional(c)
    .await)?;
    let not_yours =
        || FlowError::Forbidden("this request is not one of your organisation's".into());
    let Some(code) = code else {
        return Err(if staff.treasurer {
            FlowError::NotFound("no request has this id".into())
        } else {
            not_yours()
        });
    };
    let code = CaseCode::parse(&code).map_err(|_| not_yours())?;
    cases::load_for(tx, staff, &code).await?;
    load_row(tx, id).await?.ok_or_else(not_yours)
}

/// Settling, cancelling or answering a treasurer's question is the act of the request's
/// organisation (or a treasurer's): an organisation the case is shared with reads the
/// case's other requests, without their notes, and acts only on its own.
fn must_be_its_org(row: &Row, staff: &Staff) -> Result<(), FlowError> {
    if staff.treasurer || staff.org_id.as_deref() == Some(row.org_id.as_str()) {
        return Ok(());
    }
    Err(FlowError::Forbidden(
        "only the organisation that asked for this request (or a treasurer) can record its \
         receipt, cancel it or answer a question about it; ask that organisation"
            .into(),
    ))
}

pub async fn find(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
) -> Result<RequestView, FlowError> {
    let row = load_for(tx, staff, id).await?;
    let policy = versions::current(tx, now).await?;
    Ok(row.view_for(policy.policy.dual_approval_above(), staff))
}

/// Marks when a request stopped needing its note and cities: the purge counts from here.
async fn close(tx: &mut Tx, id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("UPDATE requests SET closed_at = $2 WHERE id = $1 AND closed_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// What one purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Requests whose note, cities, vendor, reference, decision reason, flag reason,
    /// question and answer were emptied.
    pub requests: u64,
    /// Stored first answers to `Idempotency-Key`s rewritten without those fields.
    pub answers: u64,
    /// Sent mails whose bodies were emptied.
    pub mails: u64,
}

impl Purged {
    pub fn any(&self) -> bool {
        self.requests + self.answers + self.mails > 0
    }
}

/// The fields of a request's view (and so of a stored answer about it) that the purge
/// empties.
const PURGED_FIELDS: &[&str] = &["note", "reason", "trip", "question"];

/// The tables a purge rewrites, whose old row versions [`Db::scrub`] removes afterwards.
const PURGED_TABLES: &[&str] = &["requests", "idempotency", "outbox"];

/// Purges the free text of requests closed more than `retention` ago (note, cities,
/// vendor, receipt reference, decision reason, a review flag's reason, question and answer), the stored first answers about them, and
/// the bodies of mail sent more than `retention` ago; provinces, countries, categories
/// and amounts stay for the books, headers and dedupe keys for the outbox. Once committed,
/// the engine's files are scrubbed of the old row versions ([`Db::scrub`]): after a purge
/// no byte of the purged text remains in the database's files.
pub async fn purge_closed(
    db: &Db,
    now: DateTime<Utc>,
    retention: Duration,
) -> Result<Purged, FlowError> {
    let before = now - retention;
    let purged = crate::write_tx!(db, |tx| -> Result<Purged, FlowError> async {
        purge_in(tx, now, before).await
    })?;
    if purged.any() {
        db.scrub(PURGED_TABLES).await?;
    }
    Ok(purged)
}

async fn purge_in(
    tx: &mut Tx,
    now: DateTime<Utc>,
    before: DateTime<Utc>,
) -> Result<Purged, FlowError> {
    let ids: Vec<String> = on_tx!(tx, c => sqlx::query_scalar(
        "UPDATE requests SET note = NULL, origin_city = NULL, destination_city = NULL,
                             vendor = NULL, receipt_reference = NULL, decision_reason = NULL,
                             flag_reason = NULL, question = NULL, answer = NULL
         WHERE closed_at IS NOT NULL AND closed_at <= $1
           AND (note IS NOT NULL OR origin_city IS NOT NULL OR destination_city IS NOT NULL
                OR vendor IS NOT NULL OR receipt_reference IS NOT NULL
                OR decision_reason IS NOT NULL OR flag_reason IS NOT NULL
                OR question IS NOT NULL OR answer IS NOT NULL)
         RETURNING id",
    )
    .bind(before)
    .fetch_all(c)
    .await)?;
    // Stored first answers repeat what the request said (its note among it). They are
    // rewritten, not deleted: a retry of the key must still get the request it made, not
    // make a second one.
    let answers = crate::idempotency::forget_purged(tx, &ids, PURGED_FIELDS).await?;
    let mails = crate::mail::purge_sent_bodies(tx, before).await?;
    let purged = Purged {
        requests: u64::try_from(ids.len()).unwrap_or(u64::MAX),
        answers,
        mails,
    };
    if purged.any() {
        audit::append(
            tx,
            now,
            &Actor::system(),
            "request.purge",
            "requests",
            &json!({"purged": purged.requests, "answers": purged.answers,
                    "mails": purged.mails, "closed_before": audit::canonical_time(before)}),
        )
        .await?;
    }
    Ok(purged)
}

async fn set_status(
    tx: &mut Tx,
    id: &str,
    status: RequestStatus,
    decided_at: Option<DateTime<Utc>>,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE requests SET status = $2, decided_at = COALESCE($3, decided_at),
                             decision_reason = COALESCE($4, decision_reason)
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(decided_at)
    .bind(reason)
    .execute(c)
    .await
    .map(|_| ()))?;
    Ok(())
}

fn must_be(row: &Row, status: RequestStatus, then: RequestStatus) -> Result<(), FlowError> {
    if row.status == status {
        Ok(())
    } else {
        Err(FlowError::Conflict(format!(
            "this request is {}, so it cannot be {then}",
            row.status
        )))
    }
}

/// What a treasurer's approval pays: a pending request, whose approval places a hold until
/// its receipt, or a late receipt, paid at once from available (see [`late`]). Both are
/// approved by [`approve`] under the same rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Paying {
    Request,
    LateReceipt,
}

impl Paying {
    /// What `row` waits a treasurer's approval for, if anything.
    fn of(row: &Row) -> Result<Paying, FlowError> {
        if row.status == RequestStatus::ReceiptPending {
            return Ok(Paying::LateReceipt);
        }
        must_be(row, RequestStatus::Pending, RequestStatus::Approved)?;
        Ok(Paying::Request)
    }

    fn what(self) -> &'static str {
        match self {
            Paying::Request => "this request",
            Paying::LateReceipt => "this late receipt",
        }
    }

    /// The amount approving it takes from available: the request's, or what the late
    /// receipt says was paid.
    fn amount(self, row: &Row) -> Result<Money, FlowError> {
        let cents = match self {
            Paying::Request => row.amount,
            Paying::LateReceipt => row
                .spent
                .ok_or_else(|| FlowError::Conflict("this late receipt has no amount".into()))?,
        };
        Money::from_cents(cents).map_err(|e| invalid("amount", e))
    }

    /// The table its approvals go to (both are counted through the view `approvals_now`).
    fn approvals(self) -> &'static str {
        match self {
            Paying::Request => "request_approvals",
            Paying::LateReceipt => "late_receipt_approvals",
        }
    }
}

/// Nobody approves what they asked for, nor a late receipt they entered.
async fn may_approve(
    tx: &mut Tx,
    row: &Row,
    staff: &Staff,
    paying: Paying,
) -> Result<(), FlowError> {
    if row.requested_by == staff.user_id {
        return Err(FlowError::Forbidden(match paying {
            Paying::Request => "you made this request, so another treasurer must approve it".into(),
            Paying::LateReceipt => {
                "you made this request, so another treasurer must approve its late receipt".into()
            }
        }));
    }
    if paying == Paying::LateReceipt
        && late::entered_by(tx, &row.id).await?.as_deref() == Some(staff.user_id.as_str())
    {
        return Err(FlowError::Forbidden(
            "you entered this late receipt, so another treasurer must approve it".into(),
        ));
    }
    Ok(())
}

/// Records `staff`'s approval and answers how many approvals it has now.
async fn add_approval(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
    paying: Paying,
) -> Result<i64, FlowError> {
    let sql = format!(
        "INSERT INTO {} (request_id, treasurer_id, approved_at) VALUES ($1, $2, $3)
         ON CONFLICT (request_id, treasurer_id) DO NOTHING",
        paying.approvals()
    );
    let inserted = on_tx!(tx, c => sqlx::query(&sql)
    .bind(id)
    .bind(&staff.user_id)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if inserted == 0 {
        return Err(FlowError::Conflict(format!(
            "you have already approved {}: a second, different treasurer must approve it",
            paying.what()
        )));
    }
    Ok(on_tx!(tx, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM approvals_now WHERE request_id = $1"
    )
    .bind(id)
    .fetch_one(c)
    .await)?)
}

/// Whether the fund may pay `amount` on `category` by a treasurer's approval: never with
/// money that gifts restrict to other categories; and a late receipt, whose money was spent
/// without asking, never under the reserve floor (a pending request's treasurer may spend
/// the reserve: that is what they are asked for).
async fn may_pay(
    tx: &mut Tx,
    now: DateTime<Utc>,
    floor: i64,
    paying: Paying,
    category: Category,
    amount: Money,
) -> Result<(), FlowError> {
    let open_to_it = open_to(tx, category).await?;
    if amount.cents() > open_to_it {
        return Err(FlowError::Conflict(format!(
            "the fund holds only {} that may be spent on {category} (unrestricted money and gifts restricted to it), less than the {amount} of {}: record a donation or decline it",
            format_cents(open_to_it.max(0)),
            paying.what()
        )));
    }
    if paying == Paying::LateReceipt {
        let usable = open_to_it - crate::funding::reserves::outstanding(tx, now).await?;
        if usable - amount.cents() < floor {
            return Err(FlowError::Conflict(format!(
                "paying {}'s {amount} would take what the fund can use ({}) under its reserve floor of {}: record a donation first, or decline it",
                paying.what(),
                format_cents(usable.max(0)),
                format_cents(floor)
            )));
        }
    }
    Ok(())
}

/// A treasurer's approval of a pending request or of a late receipt. Above
/// `dual_approval_above` a second, distinct treasurer must approve too; nobody approves
/// their own request (nor a late receipt they entered); the money comes from what is open
/// to the category. The last approval holds the request's money, or pays the late receipt.
pub async fn approve(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
) -> Result<Stepped, FlowError> {
    let row = load_for(tx, staff, id).await?;
    let paying = Paying::of(&row)?;
    may_approve(tx, &row, staff, paying).await?;
    let amount = paying.amount(&row)?;
    let policy = versions::current(tx, now).await?.policy;
    let approvals = add_approval(tx, now, staff, id, paying).await?;
    let needed = if needs_two_treasurers(&policy, amount) {
        2
    } else {
        1
    };
    let actor = staff.actor();
    let mut notices = Vec::new();
    if approvals >= needed {
        let category: Category = row.category.parse().map_err(|e| invalid("category", e))?;
        may_pay(
            tx,
            now,
            policy.reserve_floor_cents(),
            paying,
            category,
            amount,
        )
        .await?;
        let expires_at = now + policy.hold_duration();
        let hold = match paying {
            Paying::Request => hold_for(id, amount, expires_at),
            Paying::LateReceipt => late::hold_for(id, amount, expires_at),
        };
        let hold = place_hold(tx, now, &actor, &hold).await?.ok_or_else(|| {
            FlowError::Conflict(format!(
                "the fund cannot cover {} now: record a donation or decline it",
                paying.what()
            ))
        })?;
        match paying {
            Paying::Request => {
                on_tx!(tx, c => sqlx::query(
                    "UPDATE requests SET hold_id = $2, decided_by = $3 WHERE id = $1"
                )
                .bind(id)
                .bind(&hold)
                .bind(&staff.user_id)
                .execute(c)
                .await
                .map(|_| ()))?;
                set_status(tx, id, RequestStatus::Approved, Some(now), None).await?;
            }
            Paying::LateReceipt => late::pay(tx, now, &actor, id, &hold).await?,
        }
        restricted::draw(tx, now, &actor, id, category, amount.cents()).await?;
        notices.push(Notice::LowBalance {
            available_cents: usable_cents(tx, now).await?,
            floor_cents: policy.reserve_floor_cents(),
        });
        if let Some(request) = view_of(tx, id, policy.dual_approval_above()).await? {
            notices.push(match paying {
                Paying::Request => Notice::Decided { request },
                Paying::LateReceipt => Notice::LateDecided { request },
            });
        }
    }
    let mut content = json!({"approvals": approvals, "needed": needed});
    if paying == Paying::LateReceipt {
        content["late"] = json!(true);
    }
    audit::append(
        tx,
        now,
        &actor,
        "request.approve",
        &format!("request:{id}"),
        &content,
    )
    .await?;
    Ok(Stepped {
        view: find(tx, now, staff, id).await?,
        notices,
    })
}

/// A treasurer's refusal, with the reason the caseworker reads and, optionally, its code.
/// A request waiting for its caseworker's answer may be declined too. A declined late
/// receipt leaves its request `expired`, and nothing is paid.
pub async fn decline(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
    reason: &Note,
    code: Option<DeclineCode>,
) -> Result<Stepped, FlowError> {
    let row = load_for(tx, staff, id).await?;
    let late = row.status == RequestStatus::ReceiptPending;
    if !late && row.status != RequestStatus::InfoRequested {
        must_be(&row, RequestStatus::Pending, RequestStatus::Declined)?;
    }
    let (status, decided_at) = if late {
        (RequestStatus::Expired, None)
    } else {
        (RequestStatus::Declined, Some(now))
    };
    set_status(tx, id, status, decided_at, Some(reason.as_str())).await?;
    if late {
        late::forget(tx, id, now, &staff.user_id).await?;
    } else {
        on_tx!(tx, c => sqlx::query(
            "UPDATE requests SET decided_by = $2, decline_code = $3 WHERE id = $1"
        )
        .bind(id)
        .bind(&staff.user_id)
        .bind(code.map(DeclineCode::as_str))
        .execute(c)
        .await
        .map(|_| ()))?;
    }
    close(tx, id, now).await?;
    let (action, content, notice): (_, _, fn(RequestView) -> Notice) = if late {
        ("request.late_receipt_decline", json!({}), |request| {
            Notice::LateDecided { request }
        })
    } else {
        (
            "request.decline",
            json!({"reason_code": code.map(DeclineCode::as_str)}),
            |request| Notice::Decided { request },
        )
    };
    told_and_audited(tx, now, staff, id, action, &content, notice).await
}

/// How a treasurer's or caseworker's step on one request ends: the request as it now
/// stands goes to whoever `notice` tells, the step joins the audit trail, and the actor
/// gets the request as they may see it (decline, ask and answer end alike).
async fn told_and_audited(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
    action: &str,
    content: &serde_json::Value,
    notice: fn(RequestView) -> Notice,
) -> Result<Stepped, FlowError> {
    let policy = versions::current(tx, now).await?;
    let notices = view_of(tx, id, policy.policy.dual_approval_above())
        .await?
        .map(notice)
        .into_iter()
        .collect();
    audit::append(
        tx,
        now,
        &staff.actor(),
        action,
        &format!("request:{id}"),
        content,
    )
    .await?;
    Ok(Stepped {
        view: find(tx, now, staff, id).await?,
        notices,
    })
}

/// The two halves of a treasurer's question: the treasurer asks it ([`ask`]), the
/// caseworker answers it ([`answer`]). Each is one text, scanned like a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    Ask,
    Answer,
}

impl Exchange {
    /// The step's name (`ask`, `answer`).
    pub fn step(self) -> &'static str {
        match self {
            Exchange::Ask => "ask",
            Exchange::Answer => "answer",
        }
    }

    /// The name of its text (`question`, `answer`).
    pub fn text(self) -> &'static str {
        match self {
            Exchange::Ask => "question",
            Exchange::Answer => "answer",
        }
    }

    /// Who takes the step.
    pub fn role(self) -> crate::domain::Role {
        match self {
            Exchange::Ask => crate::domain::Role::Treasurer,
            Exchange::Answer => crate::domain::Role::Caseworker,
        }
    }
}

/// Asks or answers, as `which` says.
pub async fn exchange(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
    which: Exchange,
    text: &Note,
) -> Result<Stepped, FlowError> {
    match which {
        Exchange::Ask => ask(tx, now, staff, id, text).await,
        Exchange::Answer => answer(tx, now, staff, id, text).await,
    }
}

/// A treasurer sends a waiting request back to its caseworker with a question; the
/// request leaves the queue until the answer comes.
pub async fn ask(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
    question: &Note,
) -> Result<Stepped, FlowError> {
    let row = load_for(tx, staff, id).await?;
    must_be(&row, RequestStatus::Pending, RequestStatus::InfoRequested)?;
    on_tx!(tx, c => sqlx::query(
        "UPDATE requests SET status = $2, question = $3, asked_by = $4, asked_at = $5,
                             answer = NULL, answered_at = NULL
         WHERE id = $1",
    )
    .bind(id)
    .bind(RequestStatus::InfoRequested)
    .bind(question.as_str())
    .bind(&staff.user_id)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    told_and_audited(tx, now, staff, id, "request.ask", &json!({}), |request| {
        Notice::Asked { request }
    })
    .await
}

/// The caseworker's answer to a treasurer's question: the request goes back to the queue
/// in its first place (the queue orders by when it was asked, which the answer leaves
/// alone).
pub async fn answer(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
    answer: &Note,
) -> Result<Stepped, FlowError> {
    let row = load_for(tx, staff, id).await?;
    must_be_its_org(&row, staff)?;
    must_be(&row, RequestStatus::InfoRequested, RequestStatus::Pending)?;
    on_tx!(tx, c => sqlx::query(
        "UPDATE requests SET status = $2, answer = $3, answered_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(RequestStatus::Pending)
    .bind(answer.as_str())
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    told_and_audited(
        tx,
        now,
        staff,
        id,
        "request.answer",
        &json!({}),
        |request| Notice::Answered { request },
    )
    .await
}

/// The treasurers who approved each of these requests (a waiting late receipt: who
/// approved it), oldest approval first, in one statement.
pub async fn approvals_of(
    tx: &mut Tx,
    ids: &[String],
) -> Result<std::collections::HashMap<String, Vec<Approval>>, StoreError> {
    let mut out: std::collections::HashMap<String, Vec<Approval>> = Default::default();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(String, String, String, DateTime<Utc>)> = on_tx!(tx, c => {
        let mut select = sqlx::QueryBuilder::new(
            "SELECT a.request_id, a.treasurer_id, COALESCE(u.display_name, u.email), a.approved_at
             FROM approvals_now a JOIN users u ON u.id = a.treasurer_id
             WHERE a.request_id IN ",
        );
        crate::store::push_list(&mut select, ids);
        select.push(" ORDER BY a.approved_at, a.treasurer_id");
        select.build_query_as().fetch_all(c).await
    })?;
    for (request, id, name, at) in rows {
        out.entry(request)
            .or_default()
            .push(Approval { id, name, at });
    }
    Ok(out)
}

/// How far the case's history reaches back on a treasurer's view.
pub const HISTORY_DAYS: i64 = 90;

/// A request as a treasurer decides it: the view, with its approvals so far, by how much
/// it goes past the rule that sent it to them, the case's requests of the last 90 days,
/// and (while it waits) the fund's available money now and after it. Others get the plain
/// view with its approvals.
pub async fn deciding(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
) -> Result<RequestView, FlowError> {
    let mut view = find(tx, now, staff, id).await?;
    view.receipt = receipt_of(tx, staff, &view.id).await?;
    if !staff.treasurer {
        view.approved_by = approvals_of(tx, std::slice::from_ref(&view.id))
            .await?
            .remove(&view.id)
            .unwrap_or_default();
        return Ok(view);
    }
    weigh(tx, now, &mut view).await?;
    Ok(view)
}

/// Adds to a view what a treasurer weighs (the treasurer's page and the emails that ask
/// them to decide): its approvals so far, by how much it goes past the rule that sent it
/// to them, the case's requests of the last 90 days, and (while it waits) the fund's
/// available money now and after it.
pub async fn weigh(
    tx: &mut Tx,
    now: DateTime<Utc>,
    view: &mut RequestView,
) -> Result<(), FlowError> {
    view.approved_by = approvals_of(tx, std::slice::from_ref(&view.id))
        .await?
        .remove(&view.id)
        .unwrap_or_default();
    if let Some(policy) = versions::find(tx, view.policy_version).await? {
        view.excess = excess_of(&policy.policy, view);
    }
    weigh_all(tx, now, std::slice::from_mut(view)).await
}

/// What a treasurer weighs each of `views` with, read for all at once (the queue's cards,
/// or one request's page): the case's requests of the last 90 days, and, while it waits,
/// the fund's available money now and after approving it.
pub async fn weigh_all(
    tx: &mut Tx,
    now: DateTime<Utc>,
    views: &mut [RequestView],
) -> Result<(), FlowError> {
    if views.is_empty() {
        return Ok(());
    }
    let mut codes: Vec<String> = views.iter().map(|v| v.case_code.clone()).collect();
    codes.sort_unstable();
    codes.dedup();
    let since = now - Duration::days(HISTORY_DAYS);
    type Line = (String, String, String, i64, RequestStatus, DateTime<Utc>);
    let history: Vec<Line> = on_tx!(tx, c => {
        let mut select = sqlx::QueryBuilder::new(
            "SELECT case_code, id, category, amount, status, created_at FROM requests
             WHERE created_at >= ",
        );
        select.push_bind(since);
        select.push(" AND case_code IN ");
        crate::store::push_list(&mut select, codes.iter().cloned());
        select.push(" ORDER BY created_at DESC");
        select.build_query_as::<Line>().fetch_all(c).await
    })?;
    // Read, not locked: a page's snapshot may not take the fund's lock.
    let available: i64 = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT credits_posted - debits_posted - debits_pending FROM accounts WHERE id = $1",
    )
    .bind(FUND)
    .fetch_one(c)
    .await)?;
    for view in views.iter_mut() {
        view.history = Some(
            history
                .iter()
                .filter(|h| h.0 == view.case_code && h.1 != view.id)
                .take(100)
                .map(
                    |(_, id, category, amount, status, created_at)| HistoryItem {
                        id: id.clone(),
                        category: category.clone(),
                        amount: format_cents(*amount),
                        status: *status,
                        created_at: *created_at,
                    },
                )
                .collect(),
        );
        if view.status.is_pending() || view.status == RequestStatus::InfoRequested {
            let amount = cents_of(&view.amount).unwrap_or(0);
            view.fund = Some(FundNow {
                available: format_cents(available),
                after: format_cents(available - amount),
            });
        }
    }
    Ok(())
}

/// The receipt entered for request `id`, if any, as `staff` may read it: the reference and
/// the vendor only for the organisation that asked and the treasurers.
async fn receipt_of(
    tx: &mut Tx,
    staff: &Staff,
    id: &str,
) -> Result<Option<ReceiptView>, FlowError> {
    type Stored = (
        Option<String>,
        Option<String>,
        Option<String>,
        bool,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
    );
    let row: Option<Stored> = on_tx!(tx, c => sqlx::query_as(
        "SELECT r.paid_on, r.receipt_reference, r.vendor, r.attested, r.original_currency,
                r.original_amount, r.org_id,
                (SELECT u.org_id FROM users u WHERE u.id = r.requested_by)
         FROM requests r
         WHERE r.id = $1 AND (r.paid_on IS NOT NULL OR r.attested
                              OR r.receipt_reference IS NOT NULL)",
    )
    .bind(id)
    .fetch_optional(c)
    .await)?;
    Ok(row.map(
        |(paid_on, reference, vendor, attested, currency, amount, org, asker)| {
            let reads = cases::reads_notes_of(staff, asker.as_deref().unwrap_or(&org));
            ReceiptView {
                paid_on,
                reference: reference.filter(|_| reads),
                vendor: vendor.filter(|_| reads),
                attested,
                original_currency: currency,
                original_amount: amount,
            }
        },
    ))
}

/// A view's decimal amount (`"612.40"`) back in cents.
fn cents_of(amount: &str) -> Option<i64> {
    amount.parse::<Money>().ok().map(|m| m.cents())
}

/// By how much `view` goes past the rule that sent it to a treasurer, under `policy` (the
/// version that decided it).
pub fn excess_of(policy: &super::Policy, view: &RequestView) -> Option<Excess> {
    let rule = super::RuleId::parse(&view.rule).ok()?;
    let cents = cents_of;
    super::excess::of(
        policy,
        rule,
        &super::excess::Figures {
            category: view.category.parse().ok(),
            amount_cents: cents(&view.amount)?,
            nights: view.stay.as_ref().map(|s| s.nights),
            nightly_rate_cents: view.stay.as_ref().and_then(|s| cents(&s.nightly_rate)),
            window_cents: view.decided_window_cents,
            open_cents: view.decided_open_cents,
        },
    )
}

/// Settles an approved request for at most its amount; the rest returns to available in
/// the same transaction. A receipt for a request whose hold expired is a late receipt: it
/// waits for a treasurer ([`late::enter`]).
pub async fn receipt(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
    receipt: &Receipt,
) -> Result<Stepped, FlowError> {
    let mut row = load_for(tx, staff, id).await?;
    must_be_its_org(&row, staff)?;
    if row.status == RequestStatus::Approved
        && row.hold_expires_at.is_some_and(|at| at <= now)
        && let Some(hold) = row.hold_id.clone()
    {
        // Past its time but not yet swept: expired now, so the receipt is a late one.
        expire_one(tx, now, id, &hold).await?;
        row = load_row(tx, id)
            .await?
            .ok_or_else(|| FlowError::NotFound("no request has this id".into()))?;
    }
    if row.status == RequestStatus::Expired {
        check_receipt(&row, receipt, now)?;
        return late::enter(tx, now, staff, row, receipt).await;
    }
    must_be(&row, RequestStatus::Approved, RequestStatus::Settled)?;
    check_receipt(&row, receipt, now)?;
    Ok(Stepped {
        view: settle(tx, now, staff, row, receipt).await?,
        notices: Vec::new(),
    })
}

/// What any receipt must be: paid since the request was made, a reference (or, for pocket
/// money, an attestation), and at most the amount approved.
fn check_receipt(row: &Row, receipt: &Receipt, now: DateTime<Utc>) -> Result<(), FlowError> {
    crate::domain::dates::paid_between(
        receipt.paid_on,
        crate::domain::dates::request_day(row.created_at),
        now.date_naive(),
    )
    .map_err(|e| invalid("paid_on", e))?;
    if receipt.attested && row.category != Category::PocketMoney.as_str() {
        return Err(invalid(
            "attested",
            "only pocket money may be settled by attestation: give the receipt's reference",
        ));
    }
    if !receipt.attested && receipt.reference.is_none() {
        return Err(invalid(
            "reference",
            "is required: give your organisation's reference for the paper receipt (or, for pocket money, \"attested\": true)",
        ));
    }
    if receipt.amount.cents() > row.amount {
        return Err(invalid(
            "amount",
            format!(
                "is more than the {} approved: record the receipt for at most that, and ask a new request for the difference",
                format_cents(row.amount)
            ),
        ));
    }
    Ok(())
}

/// Posts an approved request's hold for the receipt's amount.
async fn settle(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    row: Row,
    receipt: &Receipt,
) -> Result<RequestView, FlowError> {
    let amount = receipt.amount;
    let id = row.id.as_str();
    let hold = row
        .hold_id
        .clone()
        .ok_or_else(|| FlowError::Conflict("this request holds no money".into()))?;
    let payer = payouts::payer(
        tx,
        &row.org_id,
        receipt.paid_by,
        receipt.vendor_id.as_deref(),
    )
    .await?;
    let post = NewTransfer {
        id: format!("receipt:{id}"),
        spec: TransferSpec::Post {
            pending_id: hold,
            amount: Some(amount.cents()),
        },
        code: "receipt".into(),
        reference: Some(id.into()),
    };
    let settlement = match ledger::create_transfer(tx, now, &staff.actor(), &post).await? {
        Outcome::Created(t) | Outcome::Exists(t) => t.id,
        Outcome::Rejected(Rejection::PendingTransferExpired) => {
            return Err(FlowError::Conflict(
                "the hold on this request has expired: ask again".into(),
            ));
        }
        Outcome::Rejected(r) => {
            return Err(FlowError::Conflict(format!(
                "the ledger refused the receipt: {}",
                r.as_str()
            )));
        }
    };
    on_tx!(tx, c => sqlx::query(
        "UPDATE requests SET status = $11, spent = $2, settlement_id = $3, vendor = $4,
                             receipt_reference = $5, closed_at = $6, paid_on = $7,
                             attested = $8, original_currency = $9, original_amount = $10
         WHERE id = $1",
    )
    .bind(id)
    .bind(amount.cents())
    .bind(&settlement)
    .bind(&receipt.vendor)
    .bind(&receipt.reference)
    .bind(now)
    .bind(receipt.paid_on.to_string())
    .bind(receipt.attested)
    .bind(receipt.original.as_ref().map(|o| o.currency.clone()))
    .bind(receipt.original.as_ref().map(|o| o.amount.to_string()))
    .bind(RequestStatus::Settled)
    .execute(c)
    .await
    .map(|_| ()))?;
    restricted::release(tx, now, &staff.actor(), id, amount.cents()).await?;
    // What the fund now owes, and to whom (issue 18).
    payouts::record_payer(tx, id, &payer).await?;
    payouts::owe(
        tx,
        now,
        &staff.actor(),
        id,
        &row.org_id,
        &payer,
        amount.cents(),
    )
    .await?;
    audit::append(
        tx,
        now,
        &staff.actor(),
        "request.receipt",
        &format!("request:{id}"),
        &json!({"spent": amount.cents(), "released": row.amount - amount.cents(),
                "paid_by": payer.paid_by, "vendor_id": payer.vendor_id}),
    )
    .await?;
    find(tx, now, staff, id).await
}

/// Cancels a pending or approved request; an approved one's hold is released.
pub async fn cancel(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
) -> Result<RequestView, FlowError> {
    let row = load_for(tx, staff, id).await?;
    must_be_its_org(&row, staff)?;
    if !row.status.is_active() {
        return Err(FlowError::Conflict(format!(
            "this request is {}, so it cannot be cancelled",
            row.status
        )));
    }
    if row.status == RequestStatus::ReceiptPending {
        return Err(FlowError::Conflict(
            "its hold expired and its late receipt waits for a treasurer, who approves or declines it: there is nothing to cancel".into(),
        ));
    }
    if let Some(hold) = &row.hold_id {
        let void = NewTransfer {
            id: format!("cancel:{id}"),
            spec: TransferSpec::Void {
                pending_id: hold.clone(),
            },
            code: "cancel".into(),
            reference: Some(id.into()),
        };
        if let Outcome::Rejected(r) =
            ledger::create_transfer(tx, now, &staff.actor(), &void).await?
        {
            return Err(FlowError::Conflict(format!(
                "the ledger refused to release the hold: {}",
                r.as_str()
            )));
        }
        restricted::release(tx, now, &staff.actor(), id, 0).await?;
    }
    on_tx!(tx, c => sqlx::query("UPDATE requests SET status = $3, closed_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .bind(RequestStatus::Cancelled)
        .execute(c)
        .await
        .map(|_| ()))?;
    audit::append(
        tx,
        now,
        &staff.actor(),
        "request.cancel",
        &format!("request:{id}"),
        &json!({}),
    )
    .await?;
    find(tx, now, staff, id).await
}

/// Expires the holds of approved requests whose time has passed, each in its own
/// transaction; restart-safe and, across instances, once per hold (the ledger resolves a
/// hold at most once and the expiry's id is derived from the hold's).
pub async fn expire_due(db: &Db, now: DateTime<Utc>) -> Result<usize, FlowError> {
    let due: Vec<(String, String)> = on_db!(db, p => sqlx::query_as(
        "SELECT r.id, r.hold_id FROM requests r JOIN transfers t ON t.id = r.hold_id
         WHERE r.status = $2 AND t.expires_at <= $1",
    )
    .bind(now)
    .bind(RequestStatus::Approved)
    .fetch_all(p)
    .await)?;
    let mut expired = 0;
    for (id, hold) in due {
        let done = crate::write_tx!(db, |tx| -> Result<bool, FlowError> async {
            expire_one(tx, now, &id, &hold).await
        })?;
        if done {
            expired += 1;
        }
    }
    Ok(expired)
}

/// Expires one request's hold and marks it expired. The hold may already be expired by
/// the plain ledger sweep of another instance: the request is marked all the same, or it
/// would stay approved over money it no longer holds.
async fn expire_one(
    tx: &mut Tx,
    now: DateTime<Utc>,
    id: &str,
    hold: &str,
) -> Result<bool, FlowError> {
    // The request's row, then its case, before the hold, the fund's accounts and the audit
    // chain's head: the order every other path on a request locks them in (`load_for`),
    // so a sweeper on one instance and a receipt or a cancel on another wait for each
    // other instead of deadlocking (PostgreSQL would find the cycle only after
    // `deadlock_timeout`, a whole second, and fail one of them).
    let sql = format!(
        "SELECT case_code FROM requests WHERE id = $1 AND status = $2{}",
        tx.lock_rows()
    );
    let code: Option<String> = on_tx!(tx, c => sqlx::query_scalar(&sql)
        .bind(id)
        .bind(RequestStatus::Approved)
        .fetch_optional(c)
        .await)?;
    let Some(code) = code else {
        // Settled, cancelled or expired first.
        return Ok(false);
    };
    cases::lock_many(tx, &[code.as_str()]).await?;
    let expiry = NewTransfer {
        id: format!("expire:{hold}"),
        spec: TransferSpec::Expire {
            pending_id: hold.to_string(),
        },
        code: "expiry".into(),
        reference: Some(id.to_string()),
    };
    if let Outcome::Rejected(_) =
        ledger::create_transfer(tx, now, &Actor::system(), &expiry).await?
    {
        // Settled or cancelled first: the request is no longer approved.
        return Ok(false);
    }
    let changed = on_tx!(tx, c => sqlx::query(
        "UPDATE requests SET status = $3, closed_at = $2
         WHERE id = $1 AND status = $4",
    )
    .bind(id)
    .bind(now)
    .bind(RequestStatus::Expired)
    .bind(RequestStatus::Approved)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if changed == 0 {
        return Ok(false);
    }
    restricted::release(tx, now, &Actor::system(), id, 0).await?;
    audit::append(
        tx,
        now,
        &Actor::system(),
        "request.expire",
        &format!("request:{id}"),
        &json!({}),
    )
    .await?;
    Ok(true)
}

/// What a list of requests is narrowed to: each part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFilter {
    pub status: Option<RequestStatus>,
    /// One organisation's requests (a treasurer's filter; a caseworker's list is always
    /// their organisation's and the cases shared with it).
    pub org: Option<String>,
    /// Case codes beginning with this (upper case, as [`page::code_prefix`] makes it).
    pub case_code: Option<String>,
    /// Made on or after this day (UTC).
    pub from: Option<NaiveDate>,
    /// Made on or before this day (UTC).
    pub to: Option<NaiveDate>,
    /// The treasurers' queue order: urgent first, then the longest wait first (a request
    /// that came back with its caseworker's answer keeps the place it had when it was
    /// first asked). Otherwise urgent first, then newest first.
    pub queue_order: bool,
}

/// The key of a request in the lists' order: urgent first (rank 1 newest first; in the
/// queue's order, oldest first, rank 0), then by the time it was made.
pub fn request_cursor(v: &RequestView, queue_order: bool) -> Cursor {
    Cursor {
        rank: if queue_order {
            i64::from(!v.urgent)
        } else {
            i64::from(v.urgent)
        },
        at: v.created_at,
        id: v.id.clone(),
    }
}

/// One page of the requests the staff member may see, urgent first, then newest first,
/// narrowed by `filter`.
pub async fn list(
    db: &Db,
    staff: &Staff,
    filter: &RequestFilter,
    page: &PageRequest,
    dual_above: Money,
) -> Result<Page<RequestView>, StoreError> {
    let org = if staff.treasurer {
        None
    } else {
        Some(staff.org_id.clone().unwrap_or_default())
    };
    let (cursor, _) = page.bound();
    let rank = if filter.queue_order {
        "(CASE WHEN r.urgent THEN 0 ELSE 1 END)"
    } else {
        "(CASE WHEN r.urgent THEN 1 ELSE 0 END)"
    };
    let (keyset, order) =
        page::keyset_sql(page, filter.queue_order, rank, "r.created_at", "r.id", 8);
    let (from, to) = page::day_bounds(filter.from, filter.to);
    let sql = format!(
        "{SELECT_ROW}
         WHERE ($1 IS NULL OR r.status = $1) AND ($2 IS NULL OR {})
           AND ($3 IS NULL OR r.org_id = $3)
           AND ($4 IS NULL OR r.case_code LIKE $4)
           AND ($5 IS NULL OR r.created_at >= $5) AND ($6 IS NULL OR r.created_at < $6)
           AND {keyset}
         ORDER BY {order} LIMIT $7",
        cases::visible_sql("r.case_code", "r.org_id", "$2")
    );
    let like = filter.case_code.as_ref().map(|c| format!("{c}%"));
    let rows: Vec<Row> = on_db!(db, p => sqlx::query_as(&sql)
        .bind(filter.status)
        .bind(&org)
        .bind(&filter.org)
        .bind(&like)
        .bind(from)
        .bind(to)
        .bind(page.fetch())
        .bind(cursor.map(|c| c.rank))
        .bind(cursor.map(|c| c.at))
        .bind(cursor.map(|c| c.id.clone()))
        .fetch_all(p)
        .await)?;
    let views: Vec<RequestView> = rows
        .into_iter()
        .map(|r| r.view_for(dual_above, staff))
        .collect();
    Ok(Page::from_rows(views, page, |v| {
        request_cursor(v, filter.queue_order)
    }))
}

/// The requests of one case as `staff` may read them, for `GET /api/v1/cases/{code}` and
/// the case page; access to the case is the caller's to check.
pub async fn of_case(
    tx: &mut Tx,
    staff: &Staff,
    code: &str,
    dual_above: Money,
) -> Result<Vec<RequestView>, StoreError> {
    let sql = format!("{SELECT_ROW} WHERE r.case_code = $1 ORDER BY r.created_at");
    let rows: Vec<Row> = on_tx!(tx, c => sqlx::query_as(&sql).bind(code).fetch_all(c).await)?;
    Ok(rows
        .into_iter()
        .map(|r| r.view_for(dual_above, staff))
        .collect())
}

/// The key of a row in a list without a rank: its creation time and id.
fn plain_cursor(at: DateTime<Utc>, id: &str) -> Cursor {
    Cursor {
        rank: 0,
        at,
        id: id.to_string(),
    }
}

/// The next-day review list: automatic approvals no treasurer has looked at yet, oldest
/// first, one page of it.
pub async fn awaiting_review(
    db: &Db,
    page: &PageRequest,
    dual_above: Money,
) -> Result<Page<RequestView>, StoreError> {
    let (cursor, _) = page.bound();
    let (keyset, order) = page::keyset_sql(page, true, "0", "r.created_at", "r.id", 2);
    let sql = format!(
        "{SELECT_ROW} WHERE r.automatic AND r.reviewed_at IS NULL AND {keyset}
         ORDER BY {order} LIMIT $1"
    );
    let rows: Vec<Row> = on_db!(db, p => sqlx::query_as(&sql)
        .bind(page.fetch())
        .bind(cursor.map(|c| c.rank))
        .bind(cursor.map(|c| c.at))
        .bind(cursor.map(|c| c.id.clone()))
        .fetch_all(p)
        .await)?;
    let views: Vec<RequestView> = rows.into_iter().map(|r| r.view(dual_above)).collect();
    Ok(Page::from_rows(views, page, |v| {
        plain_cursor(v.created_at, &v.id)
    }))
}

/// Marks an automatic approval reviewed, or flags it for the treasurers to look into, with
/// the reason the treasurer typed (kept with the request, purged with its other free text,
/// never in the audit trail). The money is never touched: review does not block what was
/// approved. Reviewing it again as it already stands (a retried form) changes nothing.
pub async fn review(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
    flag: bool,
    reason: Option<&Note>,
) -> Result<RequestView, FlowError> {
    let row = load_for(tx, staff, id).await?;
    if !row.automatic {
        return Err(FlowError::Conflict(
            "only automatic approvals go through the next-day review".into(),
        ));
    }
    if row.reviewed_at.is_some() && row.flagged == flag {
        return find(tx, now, staff, id).await;
    }
    let reason = reason.filter(|_| flag).map(|r| r.as_str().to_string());
    on_tx!(tx, c => sqlx::query(
        "UPDATE requests SET reviewed_at = $2, reviewed_by = $3, flagged = $4, flag_reason = $5
         WHERE id = $1"
    )
    .bind(id)
    .bind(now)
    .bind(&staff.user_id)
    .bind(flag)
    .bind(reason)
    .execute(c)
    .await
    .map(|_| ()))?;
    audit::append(
        tx,
        now,
        &staff.actor(),
        if flag {
            "request.flag"
        } else {
            "request.review"
        },
        &format!("request:{id}"),
        &json!({}),
    )
    .await?;
    find(tx, now, staff, id).await
}

/// A flagged automatic approval, as the treasurers' list of flags shows it (the page
/// `/review/flagged` and `GET /api/v1/review/flagged`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Flagged {
    /// The request, as a treasurer reads it.
    #[serde(rename = "request")]
    pub view: RequestView,
    /// What the treasurer typed when flagging (purged with the request's other free text).
    pub reason: Option<String>,
    /// The treasurer who flagged it.
    pub flagged_by: Option<Party>,
    pub flagged_at: Option<DateTime<Utc>>,
}

/// The automatic approvals a treasurer flagged and nobody has cleared, newest flag first,
/// one page of them.
pub async fn flagged(
    db: &Db,
    page: &PageRequest,
    dual_above: Money,
) -> Result<Page<Flagged>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct FlagRow {
        #[sqlx(flatten)]
        row: Row,
        flag_reason: Option<String>,
        reviewed_by: Option<String>,
        flagger_name: Option<String>,
    }
    let (cursor, _) = page.bound();
    let (keyset, order) = page::keyset_sql(page, false, "0", "r.reviewed_at", "r.id", 2);
    let sql = format!(
        "{} , r.flag_reason, r.reviewed_by,
           (SELECT COALESCE(u.display_name, u.email) FROM users u WHERE u.id = r.reviewed_by)
             AS flagger_name
         FROM requests r
         WHERE r.flagged AND r.reviewed_at IS NOT NULL AND {keyset} ORDER BY {order} LIMIT $1",
        SELECT_ROW.trim_end_matches("FROM requests r").trim_end()
    );
    let rows: Vec<FlagRow> = crate::read_tx!(db, |tx| -> Result<Vec<FlagRow>, StoreError> async {
        Ok(on_tx!(tx, c => sqlx::query_as(&sql)
            .bind(page.fetch())
            .bind(cursor.map(|c| c.rank))
            .bind(cursor.map(|c| c.at))
            .bind(cursor.map(|c| c.id.clone()))
            .fetch_all(c)
            .await)?)
    })?;
    let items: Vec<Flagged> = rows
        .into_iter()
        .map(|f| Flagged {
            flagged_at: f.row.reviewed_at,
            view: f.row.view(dual_above),
            reason: f.flag_reason,
            flagged_by: f.reviewed_by.map(|id| Party {
                id,
                name: f.flagger_name.unwrap_or_default(),
            }),
        })
        .collect();
    Ok(Page::from_rows(items, page, |f| {
        plain_cursor(f.flagged_at.unwrap_or(f.view.created_at), &f.view.id)
    }))
}

/// Clears a flag once the treasurers have looked into it: the request stays reviewed, the
/// reason is gone. Clearing a flag that is not there (already cleared: a retry) changes
/// nothing.
pub async fn clear_flag(
    tx: &mut Tx,
    now: DateTime<Utc>,
    staff: &Staff,
    id: &str,
) -> Result<RequestView, FlowError> {
    let row = load_for(tx, staff, id).await?;
    if row.flagged {
        on_tx!(tx, c => sqlx::query(
            "UPDATE requests SET flagged = FALSE, flag_reason = NULL WHERE id = $1"
        )
        .bind(id)
        .execute(c)
        .await
        .map(|_| ()))?;
        audit::append(
            tx,
            now,
            &staff.actor(),
            "request.unflag",
            &format!("request:{id}"),
            &json!({}),
        )
        .await?;
    }
    find(tx, now, staff, id).await
}
