//! What a treasurer decides with, on the queue and the request's page: the request whole
//! (itinerary, reason, stay, note, who asked and when, the rule's excess, the case's
//! recent requests, the fund before and after, the approvals so far), and the steps that
//! need words: a decline with its reason and a confirmation, a question to the caseworker,
//! and the caseworker's answer. Each step calls the same lifecycle as the API.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::context::{Context, PageError, Path, page_id, see_other};
use super::forms::Submitted;
use super::i18n;
use super::pages::render_with;
use crate::approval::lifecycle::{self, Exchange, PlaceView, ReceiptView, RequestView};
use crate::approval::notify;
use crate::domain::RequestStatus;
use crate::domain::Role;
use crate::domain::deciding::DeclineCode;
use crate::domain::note::Note;
use crate::http::error::ApiError;
use crate::http::idempotent;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/requests/{id}/decline", post(decline))
        .route("/requests/{id}/ask", post(ask))
        .route("/requests/{id}/answer", post(answer))
}

/// One of the case's recent requests, in the reader's words.
pub struct HistoryRow {
    pub date: String,
    pub category: String,
    pub amount: String,
    pub status: String,
}

/// A question and its answer, in the reader's words.
pub struct QuestionRow {
    pub asked: String,
    pub text: String,
    pub answer: Option<String>,
}

/// A treasurer's decline as its caseworker reads it.
pub struct DeclineRow {
    pub title: String,
    pub code: Option<String>,
    pub call_back: Option<String>,
}

/// A request whole, in the reader's words, for the queue's card and the request's page.
#[derive(Default)]
pub struct Detail {
    /// `(label, value)`: the trip or the stay, needed by, who asked and when.
    pub rows: Vec<(String, String)>,
    pub note: Option<String>,
    /// The rule that sent it to a treasurer, and by how much it goes past it.
    pub rule: Option<String>,
    pub excess: Option<String>,
    /// "Name, 12 min ago" for each approval so far.
    pub approvals: Vec<String>,
    /// The reader approved it already (a second, different treasurer must).
    pub approved_by_me: bool,
    pub history: Vec<HistoryRow>,
    /// Whether the case's recent requests were read (a treasurer's view).
    pub has_history: bool,
    /// Available now and after this approval.
    pub fund: Option<(String, String)>,
    pub question: Option<QuestionRow>,
    pub declined: Option<DeclineRow>,
}

fn place(c: &Context, p: &PlaceView) -> String {
    let region = p.region().to_string();
    match &p.city {
        Some(city) => c.t_with(
            "request-place",
            &[("city", city.clone()), ("region", region)],
        ),
        None => region,
    }
}

/// A date as the language writes it; a time (or anything else) as given.
fn day_or_time(c: &Context, raw: &str) -> String {
    match chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(day) => i18n::date(c.language, day),
        Err(_) => chrono::DateTime::parse_from_rfc3339(raw)
            .map(|t| {
                let t = t.with_timezone(&Utc);
                format!(
                    "{} {} UTC",
                    i18n::date(c.language, t.date_naive()),
                    t.format("%H:%M")
                )
            })
            .unwrap_or_else(|_| raw.to_string()),
    }
}

/// A decimal amount as the language writes it, without a currency (`250,00` in French).
fn decimal(c: &Context, amount: &str) -> String {
    match c.language {
        crate::domain::Language::Fr => amount.replace('.', ","),
        crate::domain::Language::En => amount.to_string(),
    }
}

/// The receipt's lines: when it was paid, the reference and the vendor, how (by
/// attestation), and a foreign currency's amount.
fn receipt_rows(c: &Context, receipt: &ReceiptView) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let mut said: Vec<String> = Vec::new();
    if let Some(day) = &receipt.paid_on {
        said.push(c.t_with("request-receipt-paid-on", &[("date", day_or_time(c, day))]));
    }
    if let Some(reference) = &receipt.reference {
        said.push(c.t_with(
            "request-receipt-reference",
            &[("reference", reference.clone())],
        ));
    }
    if let Some(vendor) = &receipt.vendor {
        said.push(c.t_with("request-receipt-vendor", &[("vendor", vendor.clone())]));
    }
    if receipt.attested {
        said.insert(0, c.t("request-receipt-attested"));
    }
    if !said.is_empty() {
        rows.push((c.t("request-receipt"), said.join(" · ")));
    }
    if let (Some(currency), Some(amount)) = (&receipt.original_currency, &receipt.original_amount) {
        rows.push((
            c.t("request-receipt-foreign"),
            c.t_with(
                "request-receipt-foreign-value",
                &[
                    ("amount", decimal(c, amount)),
                    ("currency", currency.clone()),
                ],
            ),
        ));
    }
    rows
}

fn ago(c: &Context, now: DateTime<Utc>, at: DateTime<Utc>) -> String {
    i18n::waited(c.language, (now - at).num_seconds())
}

impl Detail {
    /// The request as `me` reads it at `now`.
    pub fn of(c: &Context, r: &RequestView, me: &str, now: DateTime<Utc>) -> Detail {
        let category = c.t(&format!("category-{}", r.category));
        let mut rows = Vec::new();
        if let Some(trip) = &r.trip {
            let scope = trip
                .scope
                .as_ref()
                .map(|s| format!(" · {}", c.t(&format!("scope-{s}"))))
                .unwrap_or_default();
            rows.push((
                c.t("request-trip"),
                format!(
                    "{} → {}{scope}",
                    place(c, &trip.origin),
                    place(c, &trip.destination)
                ),
            ));
            if let Some(day) = &trip.travel_date {
                rows.push((c.t("request-travel-date"), day_or_time(c, day)));
            }
            if let Some(reason) = &trip.reason {
                rows.push((c.t("request-trip-reason"), c.t(&format!("reason-{reason}"))));
            }
        }
        if let Some(stay) = &r.stay {
            rows.push((
                c.t("request-stay"),
                c.t_with(
                    "request-stay-value",
                    &[
                        ("nights", stay.nights.to_string()),
                        ("rate", c.amount(&stay.nightly_rate)),
                        ("party", stay.party_size.to_string()),
                    ],
                ),
            ));
        }
        rows.push((c.t("request-needed-by"), day_or_time(c, &r.needed_by)));
        if let Some(receipt) = &r.receipt {
            rows.extend(receipt_rows(c, receipt));
        }
        if r.urgent {
            rows.push((c.t("request-urgency"), c.t("urgent")));
        }
        rows.push((c.t("request-org"), r.org.name.clone()));
        rows.push((c.t("request-requester"), r.requested_by.name.clone()));
        rows.push((
            c.t("request-asked"),
            c.t_with(
                "request-asked-value",
                &[
                    ("date", day_or_time(c, &r.created_at.to_rfc3339())),
                    ("time", ago(c, now, r.created_at)),
                ],
            ),
        ));
        let waits = r.status.is_pending() || r.status == RequestStatus::InfoRequested;
        let rule = crate::approval::RuleId::parse(&r.rule)
            .ok()
            .and_then(crate::approval::excess::message_key)
            .filter(|_| waits)
            .map(|key| c.t_with(key, &[("category", category.clone())]));
        let declined = r.declined_by_a_treasurer().then(|| DeclineRow {
            title: c.t(if r.status == RequestStatus::Expired {
                "request-late-declined-title"
            } else {
                "request-declined-title"
            }),
            code: r
                .reason_code
                .map(|code| c.t(&format!("decline-code-{}", code.as_str()))),
            call_back: r.decided_by.as_ref().map(|who| {
                c.t_with(
                    "request-call-back",
                    &[("who", who.name.clone()), ("email", who.email.clone())],
                )
            }),
        });
        Detail {
            rows,
            note: r.note.clone(),
            rule,
            excess: r
                .excess
                .as_ref()
                .filter(|_| waits)
                .map(|e| i18n::excess_line(c.language, e, &category)),
            approvals: r
                .approved_by
                .iter()
                .map(|a| {
                    c.t_with(
                        "request-approved-by",
                        &[("who", a.name.clone()), ("time", ago(c, now, a.at))],
                    )
                })
                .collect(),
            approved_by_me: r.approved_by.iter().any(|a| a.id == me),
            has_history: r.history.is_some(),
            history: r
                .history
                .iter()
                .flatten()
                .map(|h| HistoryRow {
                    date: i18n::date(c.language, h.created_at.date_naive()),
                    category: c.t(&format!("category-{}", h.category)),
                    amount: c.amount(&h.amount),
                    status: c.t(&format!("status-{}", h.status)),
                })
                .collect(),
            fund: r
                .fund
                .as_ref()
                .map(|f| (c.amount(&f.available), c.amount(&f.after))),
            question: r.question.as_ref().map(|q| QuestionRow {
                asked: c.t_with(
                    "request-question-by",
                    &[
                        ("who", q.asked_by.name.clone()),
                        ("time", ago(c, now, q.asked_at)),
                    ],
                ),
                text: q.question.clone(),
                answer: q.answer.clone(),
            }),
            declined,
        }
    }
}

/// The choices of a decline's code, in the reader's words.
pub struct CodeChoice {
    pub value: &'static str,
    pub label: String,
    pub checked: bool,
}

pub fn code_choices(c: &Context, chosen: &str) -> Vec<CodeChoice> {
    DeclineCode::ALL
        .iter()
        .map(|code| CodeChoice {
            value: code.as_str(),
            label: c.t(&format!("decline-code-{}", code.as_str())),
            checked: code.as_str() == chosen,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "decline.html")]
struct DeclinePage<'a> {
    c: &'a Context,
    title: String,
    id: String,
    case_code: String,
    amount: String,
    category: String,
    codes: Vec<CodeChoice>,
    reason: String,
    /// The code chosen, carried to the confirmation.
    code: String,
    /// The code's words, once chosen.
    code_label: String,
    /// What is wrong with what was typed, if anything: the form is shown again.
    error: Option<String>,
    /// Where to go once declined (the queue, when declined from it).
    back: String,
}

/// The typed reason and its code, or what is wrong with them in the reader's words.
fn decline_fields(c: &Context, form: &Submitted) -> Result<(Note, DeclineCode), String> {
    let code: DeclineCode = form
        .get("reason_code")
        .parse()
        .map_err(|_| c.t("decline-code-missing"))?;
    let reason = Note::parse(form.get("reason")).map_err(|e| match e {
        crate::domain::note::NoteError::PersonalData(_) => c.t("decline-reason-personal"),
        _ => c.t("decline-reason-missing"),
    })?;
    Ok((reason, code))
}

/// A decline takes two steps: the reason (a code and the words the caseworker reads,
/// scanned like a note), then a confirmation that shows them. Only the confirmed form
/// declines.
async fn decline(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let id = page_id(&id)?;
    let staff = user.staff();
    let now = state.clock.now();
    let fields = decline_fields(&c, &form);
    if let (Ok((reason, code)), "yes") = (&fields, form.get("confirmed")) {
        let (reason, code) = (reason.clone(), *code);
        crate::write_tx!(&state.db, |tx| -> Result<RequestView, crate::approval::FlowError> async {
            let stepped = lifecycle::decline(tx, now, &staff, &id, &reason, Some(code)).await?;
            notify::after(tx, now, &state.config.base_url, stepped).await
        })?;
        return Ok(super::treasurer::back(&form, &format!("/requests/{id}")));
    }
    let request = crate::read_tx!(&state.db, |tx| -> Result<RequestView, crate::approval::FlowError> async {
        lifecycle::find(tx, now, &staff, &id).await
    })?;
    let page = DeclinePage {
        title: c.t("decline-confirm-title"),
        case_code: request.case_code.clone(),
        amount: c.amount(&request.amount),
        category: c.t(&format!("category-{}", request.category)),
        codes: code_choices(&c, form.get("reason_code")),
        reason: form.get("reason").to_string(),
        code: form.get("reason_code").to_string(),
        code_label: form
            .get("reason_code")
            .parse::<DeclineCode>()
            .map(|code| c.t(&format!("decline-code-{}", code.as_str())))
            .unwrap_or_default(),
        error: fields.err(),
        back: form.get("back").to_string(),
        id,
        c: &c,
    };
    let status = if page.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_with(status, &page)
}

/// The question or answer typed on the page, scanned like a note, or the words of what is
/// wrong with it.
fn typed(c: &Context, form: &Submitted, field: &str) -> Result<Note, String> {
    Note::parse(form.get(field)).map_err(|e| match e {
        crate::domain::note::NoteError::PersonalData(_) => c.t("question-personal"),
        _ => c.t("question-missing"),
    })
}

#[derive(Template)]
#[template(path = "refused_text.html")]
struct RefusedText<'a> {
    c: &'a Context,
    title: String,
    message: String,
    back: String,
}

fn refused_text(c: &Context, id: &str, message: String) -> Result<Response, PageError> {
    render_with(
        StatusCode::UNPROCESSABLE_ENTITY,
        &RefusedText {
            title: c.t("question-refused-title"),
            message,
            back: format!("/requests/{id}"),
            c,
        },
    )
}

/// A treasurer's question to the caseworker (`POST /api/v1/requests/{id}/ask`).
async fn ask(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    exchange(&state, &c, &id, &form, Exchange::Ask).await
}

/// The caseworker's answer (`POST /api/v1/requests/{id}/answer`).
async fn answer(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    exchange(&state, &c, &id, &form, Exchange::Answer).await
}

/// Asks or answers under the form's idempotency key, as the API keys the same step.
async fn exchange(
    state: &AppState,
    c: &Context,
    id: &str,
    form: &Submitted,
    which: Exchange,
) -> Result<Response, PageError> {
    let user = c.with_role(which.role())?;
    let id = page_id(id)?;
    let text = match typed(c, form, which.text()) {
        Ok(text) => text,
        Err(message) => return refused_text(c, &id, message),
    };
    let staff = user.staff();
    let now = state.clock.now();
    let key = form.idempotency_key()?;
    let route = crate::http::route_key(&id, which.step());
    let body = json!({ which.text(): text.as_str() });
    let outcome: Result<_, ApiError> = async {
        idempotent!(
            key = key.clone(),
            state,
            staff,
            &route,
            body,
            StatusCode::OK,
            |tx| -> Result<RequestView, crate::approval::FlowError> async {
                let stepped = lifecycle::exchange(tx, now, &staff, &id, which, &text).await?;
                notify::after(tx, now, &state.config.base_url, stepped).await
            }
        )
    }
    .await;
    outcome?;
    Ok(see_other(&format!("/requests/{id}")))
}
