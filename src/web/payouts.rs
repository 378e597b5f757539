//! Paying the organisations, as pages (issue 18): for treasurers, what the fund owes (by
//! organisation and vendor account, oldest first; advances and what is owed back), payout
//! batches (prepare, release by a second treasurer, cancel, mark paid whole or line by
//! line, a bounce, the bank's CSV and a printable cheque page), and how each organisation
//! and vendor account is paid; for caseworkers, what the fund owes their organisation and
//! what it paid. Every form calls the same `funding::payouts` and `funding::owed` steps as
//! the API (`src/http/payouts.rs`); nothing here decides anything about money.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::{Value, json};

use super::context::{Context, PageError, Path, page_id, see_other};
use super::forms::{FieldErrors, Filled, Submitted, field_errors};
use super::i18n;
use super::pager::{PageQuery, Pager};
use super::pages::{render, render_with};
use crate::cases::Staff;
use crate::domain::Role;
use crate::domain::money::format_cents;
use crate::domain::states::{
    LineStatus, PayeeKind, PaymentMethod, PaymentMode, PayoutPurpose, PayoutStatus,
};
use crate::funding::owed::{self, Owed};
use crate::funding::payouts::{self, NewSettings, NewVendor, PayoutError, PayoutView};
use crate::http::error::ApiError;
use crate::http::idempotent;
use crate::identity::orgs;
use crate::state::AppState;
use crate::store::StoreError;
use crate::{on_tx, read_tx, write_tx};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/owed", get(owed_page))
        .route("/owed/{org}/returned", post(returned))
        .route("/payouts", get(batches).post(prepare))
        .route("/payouts/{id}", get(batch))
        .route("/payouts/{id}/release", post(release))
        .route("/payouts/{id}/cancel", post(cancel))
        .route("/payouts/{id}/paid", post(paid))
        .route("/payouts/{id}/lines/{line}/paid", post(line_paid))
        .route("/payouts/{id}/lines/{line}/bounced", post(bounced))
        .route("/payouts/{id}/instructions.csv", get(instructions))
        .route("/payouts/{id}/cheques", get(cheques))
        .route("/payment", get(payment))
        .route("/payment/{org}", get(payment_org).post(set_payment))
        .route("/vendors", post(add_vendor))
        .route("/reimbursements", get(reimbursements))
}

impl From<PayoutError> for PageError {
    fn from(e: PayoutError) -> Self {
        ApiError::from(e).into()
    }
}

/// The route a form's stored first answer is kept under (the API's route, as the other
/// forms do).
fn route_of(path: &str) -> String {
    format!("POST /api/v1{path}")
}

fn when(c: &Context, t: DateTime<Utc>) -> String {
    format!(
        "{} {} UTC",
        i18n::date(c.language, t.date_naive()),
        t.format("%H:%M")
    )
}

fn day(c: &Context, t: DateTime<Utc>) -> String {
    i18n::date(c.language, t.date_naive())
}

fn purpose(c: &Context, p: PayoutPurpose) -> String {
    c.t(&format!("payout-purpose-{p}"))
}

fn method(c: &Context, m: PaymentMethod) -> String {
    c.t(&format!("payment-method-{m}"))
}

fn mode(c: &Context, m: PaymentMode) -> String {
    c.t(&format!("payment-mode-{m}"))
}

// ---------------------------------------------------------------------------------------
// What the fund owes

pub struct DebtRow {
    pub payee: String,
    pub vendor: bool,
    pub purpose: String,
    pub amount: String,
    pub since: String,
    /// The live batch that holds it: `(id, reference)`.
    pub in_batch: Option<(String, String)>,
}

pub struct AdvanceRow {
    pub org_id: String,
    pub org: String,
    pub mode: String,
    pub level: String,
    pub unspent: String,
    pub spent: String,
    pub topped_up: String,
    pub owed_back: Option<String>,
    /// The owed-back amount as the form's default (`1320.00`).
    pub owed_back_plain: String,
}

fn debt_rows(c: &Context, owed: &Owed) -> Vec<DebtRow> {
    owed.debts
        .iter()
        .map(|d| DebtRow {
            payee: d.payee_name.clone(),
            vendor: d.payee_kind == PayeeKind::Vendor,
            purpose: purpose(c, d.purpose),
            amount: c.money(d.amount),
            since: d.since.map(|t| day(c, t)).unwrap_or_default(),
            in_batch: d.in_batch.clone(),
        })
        .collect()
}

fn advance_rows(c: &Context, owed: &Owed) -> Vec<AdvanceRow> {
    owed.advances
        .iter()
        .map(|a| AdvanceRow {
            org_id: a.org_id.clone(),
            org: a.org_name.clone(),
            mode: mode(c, a.mode),
            level: a
                .level
                .map(|l| c.money(l))
                .unwrap_or_else(|| c.t("owed-no-level")),
            unspent: c.money(a.unspent),
            spent: c.money(a.spent_since_top_up),
            topped_up: a
                .topped_up_at
                .map(|t| day(c, t))
                .unwrap_or_else(|| c.t("owed-never")),
            owed_back: (a.owed_back > 0).then(|| c.money(a.owed_back)),
            owed_back_plain: format_cents(a.owed_back),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "owed.html")]
struct OwedPage<'a> {
    c: &'a Context,
    title: String,
    debts: Vec<DebtRow>,
    total: String,
    advances: Vec<AdvanceRow>,
    owed_back: Option<String>,
    /// The deposit form shown again with its error: `(org id, form)`.
    returned: Option<(String, Filled)>,
    idempotency_key: String,
}

impl OwedPage<'_> {
    fn typed(&self, org: &str, field: &str, default: &str) -> String {
        match &self.returned {
            Some((o, form)) if o == org => form.value(field).to_string(),
            _ => default.to_string(),
        }
    }

    fn error(&self, org: &str, field: &str) -> Option<String> {
        match &self.returned {
            Some((o, form)) if o == org => form.error(field).cloned(),
            _ => None,
        }
    }
}

async fn owed_view(
    state: &AppState,
    c: &Context,
    returned: Option<(String, Filled)>,
) -> Result<Response, PageError> {
    c.with_role(Role::Treasurer)?;
    let owed = read_tx!(&state.db, |tx| -> Result<Owed, StoreError> async {
        owed::owed(tx, None).await
    })?;
    let status = if returned.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_with(
        status,
        &OwedPage {
            title: c.t("owed-title"),
            debts: debt_rows(c, &owed),
            total: c.money(owed.total()),
            advances: advance_rows(c, &owed),
            owed_back: (owed.owed_back() > 0).then(|| c.money(owed.owed_back())),
            returned,
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            c,
        },
    )
}

async fn owed_page(State(state): State<AppState>, c: Context) -> Result<Response, PageError> {
    owed_view(&state, &c, None).await
}

/// An organisation's deposit of its advance's excess reached the bank.
async fn returned(
    State(state): State<AppState>,
    c: Context,
    Path(org): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let org = page_id(&org)?;
    let staff = user.staff();
    let key = form.idempotency_key()?;
    let body = form.as_json(&["amount", "reference"], &[]);
    let now = state.clock.now();
    let route = route_of(&format!("/orgs/{org}/advance/returned"));
    let outcome: Result<_, ApiError> = async {
        let (amount, reference) = parse_returned(&body)?;
        idempotent!(
            key = key.clone(),
            state,
            staff,
            &route,
            body,
            StatusCode::OK,
            |tx| -> Result<(), PayoutError> async {
                owed::advance_returned(tx, now, &staff.actor(), &org, amount, &reference).await
            }
        )
    }
    .await;
    match outcome {
        Ok(_) => Ok(see_other("/owed")),
        Err(e) => {
            let errors = field_errors(&c, e, "returned_")?;
            let filled = Filled {
                values: form.values(),
                errors,
            };
            owed_view(&state, &c, Some((org, filled))).await
        }
    }
}

fn unprocessable(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::Unprocessable {
        field: field.into(),
        message: message.to_string(),
    }
}

/// The body of an advance's excess coming back: `{amount, reference}`, read as the API
/// reads it.
pub(crate) fn parse_returned(body: &Value) -> Result<(i64, String), ApiError> {
    let amount = match body.get("amount") {
        Some(Value::String(s)) => s
            .parse::<crate::domain::Money>()
            .map_err(|e| unprocessable("amount", e))?
            .cents(),
        _ => {
            return Err(unprocessable(
                "amount",
                "give the amount deposited, such as \"1320.00\"",
            ));
        }
    };
    let reference = match body.get("reference") {
        Some(Value::String(s)) => payouts::parse_bank_reference(s)?,
        _ => {
            return Err(unprocessable(
                "reference",
                "give the bank's reference for the deposit",
            ));
        }
    };
    Ok((amount, reference))
}

// ---------------------------------------------------------------------------------------
// Payout batches

pub struct BatchRow {
    pub id: String,
    pub reference: String,
    pub status: String,
    pub total: String,
    pub prepared: String,
}

#[derive(Template)]
#[template(path = "payouts.html")]
struct BatchesPage<'a> {
    c: &'a Context,
    title: String,
    batches: Vec<BatchRow>,
    up_to: String,
    /// "There is nothing to pay", after a preparation found nothing.
    notice: Option<String>,
    up_to_error: Option<String>,
    idempotency_key: String,
    pager: Pager,
}

async fn batches_view(
    state: &AppState,
    c: &Context,
    q: &PageQuery,
    up_to: String,
    notice: Option<String>,
    up_to_error: Option<String>,
) -> Result<Response, PageError> {
    c.with_role(Role::Treasurer)?;
    let request = q.request()?;
    let list = read_tx!(&state.db, |tx| -> Result<crate::domain::page::Page<PayoutView>, PayoutError> async {
        payouts::list(tx, None, &request).await
    })?;
    let pager = Pager::of("/payouts", &[], &list);
    let list = list.items;
    let status = if notice.is_some() || up_to_error.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    let status = if up_to_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        status
    };
    render_with(
        status,
        &BatchesPage {
            pager,
            title: c.t("payouts-title"),
            batches: list
                .into_iter()
                .map(|b| BatchRow {
                    status: c.t(&format!("payout-status-{}", b.status)),
                    total: c.amount(&b.total),
                    prepared: when(c, b.prepared_at),
                    id: b.id,
                    reference: b.reference,
                })
                .collect(),
            up_to,
            notice,
            up_to_error,
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            c,
        },
    )
}

async fn batches(
    State(state): State<AppState>,
    c: Context,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let today = state.clock.now().date_naive().to_string();
    batches_view(&state, &c, &q, today, None, None).await
}

/// The last moment of a day, as `up_to` takes it: what the fund came to owe that day is
/// in the batch.
fn end_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default())
        .and_utc()
}

async fn prepare(
    State(state): State<AppState>,
    c: Context,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let typed = form.get("up_to").to_string();
    let up_to = if typed.is_empty() {
        None
    } else {
        match typed.parse::<NaiveDate>() {
            Ok(d) => Some(end_of(d)),
            Err(_) => {
                let error = c.t("error-payout_up_to");
                return batches_view(&state, &c, &PageQuery::default(), typed, None, Some(error))
                    .await;
            }
        }
    };
    let staff = user.staff();
    let key = form.idempotency_key()?;
    let now = state.clock.now();
    let body = json!({ "up_to": up_to });
    let outcome: Result<_, ApiError> = async {
        idempotent!(
            key = key.clone(),
            state,
            staff,
            "POST /api/v1/payouts",
            body,
            StatusCode::CREATED,
            |tx| -> Result<PayoutView, PayoutError> async {
                payouts::prepare(tx, now, &staff, up_to).await
            }
        )
    }
    .await;
    match outcome {
        Ok((_, crate::http::error::Json(batch))) => {
            let id = batch["id"].as_str().unwrap_or_default();
            Ok(see_other(&format!("/payouts/{id}")))
        }
        Err(ApiError::Conflict(_)) => {
            let notice = c.t("payouts-nothing");
            batches_view(&state, &c, &PageQuery::default(), typed, Some(notice), None).await
        }
        Err(e) => Err(e.into()),
    }
}

pub struct LineRow {
    pub id: String,
    pub payee: String,
    pub vendor: bool,
    pub purpose: String,
    pub method: String,
    pub details: String,
    pub amount: String,
    pub status: String,
    pub bank_reference: String,
    pub can_pay: bool,
    pub can_bounce: bool,
}

#[derive(Template)]
#[template(path = "payout.html")]
struct BatchPage<'a> {
    c: &'a Context,
    title: String,
    id: String,
    reference: String,
    status: String,
    total: String,
    prepared: String,
    released: Option<String>,
    up_to: Option<String>,
    lines: Vec<LineRow>,
    can_release: bool,
    /// Why the reader may not release this prepared batch.
    cannot_release: Option<String>,
    can_cancel: bool,
    can_pay: bool,
    /// The bank's CSV and the cheques exist once the batch is released.
    exported: bool,
    /// What went wrong with the reader's last step, in words.
    problem: Option<String>,
    reference_error: Option<(String, String)>,
}

impl BatchPage<'_> {
    fn reference_error_for(&self, line: &str) -> Option<String> {
        self.reference_error
            .as_ref()
            .filter(|(l, _)| l == line)
            .map(|(_, e)| e.clone())
    }
}

async fn name_of_user(tx: &mut crate::store::Tx, id: &str) -> Result<String, StoreError> {
    let found: Option<(String, Option<String>)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT email, display_name FROM users WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(c)
    .await)?;
    Ok(found
        .map(|(email, name)| name.filter(|n| !n.is_empty()).unwrap_or(email))
        .unwrap_or_default())
}

/// Why `staff` may not release `batch`, in words; none when they may.
fn release_refusal(c: &Context, staff: &Staff, batch: &PayoutView) -> Option<String> {
    if batch.prepared_by == staff.user_id {
        return Some(c.t("payout-release-own-batch"));
    }
    let own = staff.org_id.as_deref()?;
    batch
        .lines
        .iter()
        .any(|l| l.payee_kind == PayeeKind::Org && l.payee_id == own)
        .then(|| c.t("payout-release-own-org"))
}

struct Shown {
    problem: Option<String>,
    reference_error: Option<(String, String)>,
    status: StatusCode,
}

impl Shown {
    fn ok() -> Shown {
        Shown {
            problem: None,
            reference_error: None,
            status: StatusCode::OK,
        }
    }
}

async fn batch_view(
    state: &AppState,
    c: &Context,
    id: &str,
    shown: Shown,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let staff = user.staff();
    type Read = (PayoutView, String, Option<String>);
    let (b, prepared_by, released_by) = read_tx!(&state.db, |tx| -> Result<Read, PayoutError> async {
        let b = payouts::find(tx, id).await?;
        let prepared_by = name_of_user(tx, &b.prepared_by).await?;
        let released_by = match &b.released_by {
            Some(r) => Some(name_of_user(tx, r).await?),
            None => None,
        };
        Ok((b, prepared_by, released_by))
    })?;
    let prepared = b.status == PayoutStatus::Prepared;
    let released = b.status == PayoutStatus::Released;
    let refusal = release_refusal(c, &staff, &b);
    let page = BatchPage {
        title: c.t_with("payout-title", &[("reference", b.reference.clone())]),
        id: b.id.clone(),
        reference: b.reference.clone(),
        status: c.t(&format!("payout-status-{}", b.status)),
        total: c.amount(&b.total),
        prepared: c.t_with(
            "payout-prepared-by",
            &[("who", prepared_by), ("when", when(c, b.prepared_at))],
        ),
        released: released_by.map(|who| c.t_with("payout-released-by", &[("who", who)])),
        up_to: b.up_to.map(|t| day(c, t)),
        lines: b
            .lines
            .iter()
            .map(|l| LineRow {
                id: l.id.clone(),
                payee: l.payee_name.clone(),
                vendor: l.payee_kind == PayeeKind::Vendor,
                purpose: purpose(c, l.purpose),
                method: method(c, l.method),
                details: l.payee_details.clone().unwrap_or_default(),
                amount: c.amount(&l.amount),
                status: c.t(&format!("payout-line-{}", l.status)),
                bank_reference: l.bank_reference.clone().unwrap_or_default(),
                can_pay: released && l.status == LineStatus::Open,
                can_bounce: l.status == LineStatus::Paid,
            })
            .collect(),
        can_release: prepared && refusal.is_none(),
        cannot_release: refusal.filter(|_| prepared),
        can_cancel: (prepared || released) && b.lines.iter().all(|l| l.status == LineStatus::Open),
        can_pay: released,
        exported: released || b.status == PayoutStatus::Paid,
        problem: shown.problem,
        reference_error: shown.reference_error,
        c,
    };
    render_with(shown.status, &page)
}

async fn batch(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id = page_id(&id)?;
    batch_view(&state, &c, &id, Shown::ok()).await
}

/// After a batch's step: back to the batch, or the batch again with what went wrong in
/// the reader's words (a refusal the page could have foreseen, a state that moved on).
async fn after_step(
    state: &AppState,
    c: &Context,
    id: &str,
    line: Option<&str>,
    outcome: Result<PayoutView, PayoutError>,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let shown = match outcome {
        Ok(_) => return Ok(see_other(&format!("/payouts/{id}"))),
        Err(PayoutError::NotFound(_)) => return Err(PageError::Refused(StatusCode::NOT_FOUND)),
        Err(PayoutError::Forbidden(_)) => {
            let batch = read_tx!(&state.db, |tx| -> Result<PayoutView, PayoutError> async {
                payouts::find(tx, id).await
            })?;
            Shown {
                problem: release_refusal(c, &user.staff(), &batch)
                    .or_else(|| Some(c.t("failure-forbidden"))),
                reference_error: None,
                status: StatusCode::FORBIDDEN,
            }
        }
        Err(PayoutError::Conflict(_)) => Shown {
            problem: Some(c.t("payout-conflict")),
            reference_error: None,
            status: StatusCode::CONFLICT,
        },
        Err(PayoutError::Invalid { field, .. }) => Shown {
            problem: None,
            reference_error: Some((
                line.unwrap_or("batch").to_string(),
                super::forms::field_message(c, &format!("payout_{field}")),
            )),
            status: StatusCode::UNPROCESSABLE_ENTITY,
        },
        Err(e) => return Err(e.into()),
    };
    batch_view(state, c, id, shown).await
}

async fn release(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    _form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let id = page_id(&id)?;
    let staff = user.staff();
    let now = state.clock.now();
    let outcome = write_tx!(&state.db, |tx| -> Result<PayoutView, PayoutError> async {
        payouts::release(tx, now, &staff, &id).await
    });
    after_step(&state, &c, &id, None, outcome).await
}

async fn cancel(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    _form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let id = page_id(&id)?;
    let staff = user.staff();
    let now = state.clock.now();
    let outcome = write_tx!(&state.db, |tx| -> Result<PayoutView, PayoutError> async {
        payouts::cancel(tx, now, &staff, &id).await
    });
    after_step(&state, &c, &id, None, outcome).await
}

async fn mark_paid(
    state: &AppState,
    c: &Context,
    id: &str,
    line: Option<&str>,
    form: &Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let staff = user.staff();
    let now = state.clock.now();
    let reference = match payouts::parse_bank_reference(form.get("reference")) {
        Ok(r) => r,
        Err(e) => return after_step(state, c, id, line, Err(e)).await,
    };
    let outcome = write_tx!(&state.db, |tx| -> Result<PayoutView, PayoutError> async {
        payouts::mark_paid(tx, now, &staff, id, line, &reference).await
    });
    after_step(state, c, id, line, outcome).await
}

async fn paid(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let id = page_id(&id)?;
    mark_paid(&state, &c, &id, None, &form).await
}

async fn line_paid(
    State(state): State<AppState>,
    c: Context,
    Path((id, line)): Path<(String, String)>,
    form: Submitted,
) -> Result<Response, PageError> {
    let (id, line) = (page_id(&id)?, page_id(&line)?);
    mark_paid(&state, &c, &id, Some(&line), &form).await
}

async fn bounced(
    State(state): State<AppState>,
    c: Context,
    Path((id, line)): Path<(String, String)>,
    _form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let (id, line) = (page_id(&id)?, page_id(&line)?);
    let staff = user.staff();
    let now = state.clock.now();
    let outcome = write_tx!(&state.db, |tx| -> Result<PayoutView, PayoutError> async {
        payouts::bounced(tx, now, &staff, &id, &line).await
    });
    after_step(&state, &c, &id, Some(&line), outcome).await
}

/// The bank's upload, as the API gives it, for a signed-in treasurer.
async fn instructions(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    c.with_role(Role::Treasurer)?;
    let id = page_id(&id)?;
    let csv = read_tx!(&state.db, |tx| -> Result<String, PayoutError> async {
        payouts::instructions(tx, &id).await
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"passage-payout.csv\"".to_string(),
            ),
        ],
        csv,
    )
        .into_response())
}

/// One cheque stub: a payee and what the batch pays them.
pub struct Cheque {
    pub payee: String,
    pub amount: String,
    pub words: String,
    pub memo: String,
    pub method: String,
}

#[derive(Template)]
#[template(path = "cheques.html")]
struct ChequesPage<'a> {
    c: &'a Context,
    title: String,
    id: String,
    date: String,
    cheques: Vec<Cheque>,
}

/// A printable page of a released batch: one cheque stub per payee (every line of theirs
/// not cancelled, together), the amount in figures and in words, the memo with the batch's
/// reference and what it pays, never a case code.
async fn cheques(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    c.with_role(Role::Treasurer)?;
    let id = page_id(&id)?;
    let b = read_tx!(&state.db, |tx| -> Result<PayoutView, PayoutError> async {
        payouts::find(tx, &id).await
    })?;
    if !matches!(b.status, PayoutStatus::Released | PayoutStatus::Paid) {
        return Err(PageError::Refused(StatusCode::CONFLICT));
    }
    struct Payee {
        kind: PayeeKind,
        id: String,
        name: String,
        method: PaymentMethod,
        cents: i64,
        purposes: Vec<PayoutPurpose>,
    }
    let mut payees: Vec<Payee> = Vec::new();
    for l in b.lines.iter().filter(|l| l.status != LineStatus::Cancelled) {
        let cents = crate::domain::money::parse_cents(&l.amount).unwrap_or(0);
        match payees
            .iter_mut()
            .find(|p| p.kind == l.payee_kind && p.id == l.payee_id)
        {
            Some(p) => {
                p.cents += cents;
                if !p.purposes.contains(&l.purpose) {
                    p.purposes.push(l.purpose);
                }
            }
            None => payees.push(Payee {
                kind: l.payee_kind,
                id: l.payee_id.clone(),
                name: l.payee_name.clone(),
                method: l.method,
                cents,
                purposes: vec![l.purpose],
            }),
        }
    }
    let cheques = payees
        .into_iter()
        .map(|p| Cheque {
            amount: c.money(p.cents),
            words: i18n::amount_in_words(c.language, p.cents),
            memo: format!(
                "Passage {} · {}",
                b.reference,
                p.purposes
                    .iter()
                    .map(|x| purpose(&c, *x))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            method: method(&c, p.method),
            payee: p.name,
        })
        .collect();
    render(&ChequesPage {
        title: c.t_with("cheques-title", &[("reference", b.reference.clone())]),
        id: b.id,
        date: day(&c, state.clock.now()),
        cheques,
        c: &c,
    })
}

// ---------------------------------------------------------------------------------------
// How organisations and vendor accounts are paid

pub struct OrgRow {
    pub id: String,
    pub name: String,
    pub mode: String,
    pub level: String,
    pub vendor: String,
    pub method: String,
    pub details: String,
}

pub struct VendorRow {
    pub name: String,
    pub method: String,
    pub details: String,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "payment.html")]
struct PaymentPage<'a> {
    c: &'a Context,
    title: String,
    orgs: Vec<OrgRow>,
    vendors: Vec<VendorRow>,
    methods: Vec<Choice>,
    form: Filled,
    idempotency_key: String,
}

fn methods(c: &Context, chosen: &str) -> Vec<Choice> {
    PaymentMethod::ALL
        .iter()
        .map(|m| Choice {
            value: m.as_str().to_string(),
            label: method(c, *m),
            selected: m.as_str() == chosen,
        })
        .collect()
}

async fn payment_view(state: &AppState, c: &Context, form: Filled) -> Result<Response, PageError> {
    c.with_role(Role::Treasurer)?;
    let list = orgs::list(&state.db).await?;
    let vendors = payouts::vendors(&state.db).await?;
    let mut rows = Vec::new();
    let settings = read_tx!(&state.db, |tx| -> Result<Vec<payouts::PaymentSettings>, PayoutError> async {
        let mut out = Vec::new();
        for o in &list {
            out.push(payouts::settings(tx, &o.id).await?);
        }
        Ok(out)
    })?;
    for (o, s) in list.iter().zip(settings) {
        rows.push(OrgRow {
            id: o.id.clone(),
            name: o.name.clone(),
            mode: mode(c, s.mode),
            level: s
                .advance_level
                .as_deref()
                .map(|l| c.amount(l))
                .unwrap_or_default(),
            vendor: s
                .default_vendor_id
                .as_deref()
                .and_then(|v| vendors.iter().find(|x| x.id == v))
                .map(|v| v.name.clone())
                .unwrap_or_default(),
            method: method(c, s.method),
            details: s.payee_details.unwrap_or_default(),
        });
    }
    let status = if form.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let chosen = form.value("vendor_method").to_string();
    render_with(
        status,
        &PaymentPage {
            title: c.t("payment-title"),
            orgs: rows,
            vendors: vendors
                .into_iter()
                .map(|v| VendorRow {
                    method: method(c, v.method),
                    details: v.payee_details.unwrap_or_default(),
                    name: v.name,
                })
                .collect(),
            methods: methods(c, &chosen),
            form,
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            c,
        },
    )
}

async fn payment(State(state): State<AppState>, c: Context) -> Result<Response, PageError> {
    payment_view(&state, &c, Filled::default()).await
}

/// A form's payment method: empty is the default, anything else must be one of the set.
fn method_field(typed: &str, field: &str) -> Result<Option<PaymentMethod>, PayoutError> {
    if typed.is_empty() {
        return Ok(None);
    }
    typed.parse().map(Some).map_err(|e| PayoutError::Invalid {
        field: field.into(),
        message: format!("{e}"),
    })
}

async fn add_vendor(
    State(state): State<AppState>,
    c: Context,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let staff = user.staff();
    let key = form.idempotency_key()?;
    let now = state.clock.now();
    let body = form.as_json(&["vendor_name", "vendor_method", "vendor_details"], &[]);
    let outcome: Result<_, ApiError> = async {
        let details = form.get("vendor_details");
        let new = NewVendor::new(
            form.get("vendor_name"),
            method_field(form.get("vendor_method"), "method")?,
            (!details.is_empty()).then_some(details),
        )?;
        idempotent!(
            key = key.clone(),
            state,
            staff,
            "POST /api/v1/vendors",
            body,
            StatusCode::CREATED,
            |tx| -> Result<Value, PayoutError> async {
                let id = payouts::add_vendor(tx, now, &staff.actor(), &new).await?;
                Ok(json!({ "id": id }))
            }
        )
    }
    .await;
    match outcome {
        Ok(_) => Ok(see_other("/payment")),
        Err(ApiError::Conflict(_)) => {
            let errors =
                FieldErrors([("vendor_name".to_string(), c.t("error-vendor_name_taken"))].into());
            let filled = Filled {
                values: form.values(),
                errors,
            };
            payment_view(&state, &c, filled).await
        }
        Err(e) => {
            let errors = field_errors(&c, e, "vendor_")?;
            // The API names the field `name`, `payee_details`: the form's are prefixed.
            let errors = FieldErrors(
                errors
                    .0
                    .into_iter()
                    .map(|(field, message)| {
                        let field = match field.as_str() {
                            "payee_details" => "vendor_details".to_string(),
                            other => format!("vendor_{other}"),
                        };
                        (field, message)
                    })
                    .collect(),
            );
            let filled = Filled {
                values: form.values(),
                errors,
            };
            payment_view(&state, &c, filled).await
        }
    }
}

#[derive(Template)]
#[template(path = "payment_org.html")]
struct PaymentOrgPage<'a> {
    c: &'a Context,
    title: String,
    org_id: String,
    modes: Vec<Choice>,
    methods: Vec<Choice>,
    vendors: Vec<Choice>,
    /// The details as saved, masked: typing new ones replaces them.
    details: String,
    form: Filled,
    /// The organisation owes this back once it is out of the advance mode or below it.
    owed_back: Option<String>,
}

async fn payment_org_view(
    state: &AppState,
    c: &Context,
    org: &str,
    form: Option<Filled>,
) -> Result<Response, PageError> {
    c.with_role(Role::Treasurer)?;
    let Some(o) = orgs::list(&state.db)
        .await?
        .into_iter()
        .find(|o| o.id == org)
    else {
        return Err(PageError::Refused(StatusCode::NOT_FOUND));
    };
    let vendors = payouts::vendors(&state.db).await?;
    type Read = (payouts::PaymentSettings, Owed);
    let (s, owed) = read_tx!(&state.db, |tx| -> Result<Read, PayoutError> async {
        Ok((
            payouts::settings(tx, org).await?,
            owed::owed(tx, Some(org)).await?,
        ))
    })?;
    let status = if form.as_ref().is_some_and(|f| !f.errors.is_empty()) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let form = form.unwrap_or_else(|| {
        let mut values = std::collections::HashMap::new();
        values.insert("mode".to_string(), s.mode.as_str().to_string());
        values.insert("method".to_string(), s.method.as_str().to_string());
        values.insert(
            "advance_level".to_string(),
            s.advance_level.clone().unwrap_or_default(),
        );
        values.insert(
            "default_vendor_id".to_string(),
            s.default_vendor_id.clone().unwrap_or_default(),
        );
        Filled {
            values,
            errors: FieldErrors::default(),
        }
    });
    let chosen_mode = form.value("mode").to_string();
    let chosen_vendor = form.value("default_vendor_id").to_string();
    let owed_back = owed.owed_back();
    render_with(
        status,
        &PaymentOrgPage {
            title: c.t_with("payment-org-title", &[("org", o.name.clone())]),
            org_id: o.id,
            modes: PaymentMode::ALL
                .iter()
                .map(|m| Choice {
                    value: m.as_str().to_string(),
                    label: mode(c, *m),
                    selected: m.as_str() == chosen_mode,
                })
                .collect(),
            methods: methods(c, form.value("method")),
            vendors: vendors
                .iter()
                .map(|v| Choice {
                    value: v.id.clone(),
                    label: v.name.clone(),
                    selected: v.id == chosen_vendor,
                })
                .collect(),
            details: s.payee_details.unwrap_or_default(),
            form,
            owed_back: (owed_back > 0).then(|| c.money(owed_back)),
            c,
        },
    )
}

async fn payment_org(
    State(state): State<AppState>,
    c: Context,
    Path(org): Path<String>,
) -> Result<Response, PageError> {
    let org = page_id(&org)?;
    payment_org_view(&state, &c, &org, None).await
}

/// The form as the API's `NewSettings`: the same parsing of each field. Payee details
/// left empty keep those saved (the page shows them only masked).
async fn settings_of(
    state: &AppState,
    org: &str,
    form: &Submitted,
) -> Result<NewSettings, PayoutError> {
    let mode: PaymentMode = form.get("mode").parse().map_err(|e| PayoutError::Invalid {
        field: "mode".into(),
        message: format!("{e}"),
    })?;
    let advance_level = match form.get("advance_level") {
        "" => None,
        typed if mode == PaymentMode::Advance => Some(
            super::forms::amount(typed)
                .parse::<crate::domain::Money>()
                .map_err(|e| PayoutError::Invalid {
                    field: "advance_level".into(),
                    message: e.to_string(),
                })?
                .cents(),
        ),
        // A level typed for another mode is not sent: the field is the advance's.
        _ => None,
    };
    let default_vendor_id = match form.get("default_vendor_id") {
        "" => None,
        v if mode == PaymentMode::FundPays => Some(v.to_string()),
        _ => None,
    };
    let payee_details = match form.get("payee_details") {
        "" => {
            let org = org.to_string();
            read_tx!(&state.db, |tx| -> Result<Option<String>, StoreError> async {
                on_tx!(tx, c => sqlx::query_scalar(
                    "SELECT payee_details FROM org_payment WHERE org_id = $1"
                )
                .bind(&org)
                .fetch_optional(c)
                .await)
                .map(Option::flatten)
                .map_err(Into::into)
            })?
        }
        typed => Some(payouts::parse_details(typed)?),
    };
    Ok(NewSettings {
        mode,
        advance_level,
        default_vendor_id,
        method: method_field(form.get("method"), "method")?.unwrap_or(PaymentMethod::Etransfer),
        payee_details,
    })
}

async fn set_payment(
    State(state): State<AppState>,
    c: Context,
    Path(org): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let org = page_id(&org)?;
    let actor = user.staff().actor();
    let now = state.clock.now();
    let outcome = match settings_of(&state, &org, &form).await {
        Ok(new) => {
            write_tx!(&state.db, |tx| -> Result<payouts::PaymentSettings, PayoutError> async {
                payouts::set_settings(tx, now, &actor, &org, &new).await
            })
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => Ok(see_other("/payment")),
        Err(PayoutError::NotFound(_)) => Err(PageError::Refused(StatusCode::NOT_FOUND)),
        Err(e) => {
            let errors = field_errors(&c, ApiError::from(e), "payment_")?;
            let filled = Filled {
                values: form.values(),
                errors,
            };
            payment_org_view(&state, &c, &org, Some(filled)).await
        }
    }
}

// ---------------------------------------------------------------------------------------
// A caseworker's organisation

pub struct PaidRow {
    pub date: String,
    pub purpose: String,
    pub amount: String,
    pub batch: String,
    pub bank_reference: String,
    pub bounced: Option<String>,
}

#[derive(Template)]
#[template(path = "reimbursements.html")]
struct ReimbursementsPage<'a> {
    c: &'a Context,
    title: String,
    org: String,
    debts: Vec<DebtRow>,
    total: String,
    advance: Option<AdvanceRow>,
    paid: Vec<PaidRow>,
}

/// What the fund owes the reader's organisation and what it paid it: never another's.
async fn reimbursements(State(state): State<AppState>, c: Context) -> Result<Response, PageError> {
    let user = c.with_role(Role::Caseworker)?;
    let Some(org) = user.org_id.clone() else {
        return Err(PageError::Refused(StatusCode::FORBIDDEN));
    };
    type Read = (Owed, Vec<owed::Paid>);
    let (owed, paid) = read_tx!(&state.db, |tx| -> Result<Read, StoreError> async {
        Ok((owed::owed(tx, Some(&org)).await?, owed::paid_to(tx, &org).await?))
    })?;
    let name = orgs::list(&state.db)
        .await?
        .into_iter()
        .find(|o| o.id == org)
        .map(|o| o.name)
        .unwrap_or_default();
    render(&ReimbursementsPage {
        title: c.t("reimbursements-title"),
        org: name,
        debts: debt_rows(&c, &owed),
        total: c.money(owed.total()),
        advance: advance_rows(&c, &owed).into_iter().next(),
        paid: paid
            .into_iter()
            .map(|p| PaidRow {
                date: p.paid_at.map(|t| day(&c, t)).unwrap_or_default(),
                purpose: purpose(&c, p.purpose),
                amount: c.money(p.amount),
                batch: p.batch_reference,
                bank_reference: p.bank_reference.unwrap_or_default(),
                bounced: (p.status == LineStatus::Bounced).then(|| {
                    p.bounced_at
                        .map(|t| c.t_with("reimbursements-bounced", &[("date", day(&c, t))]))
                        .unwrap_or_default()
                }),
            })
            .collect(),
        c: &c,
    })
}
