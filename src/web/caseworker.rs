//! The caseworker's pages: my cases, one case, the request form (category first, then
//! only the fields that category needs), the answer, the receipt and the cancel.
//!
//! Every step goes through the API's own parsing and the request lifecycle: a form is
//! turned into the JSON body the API takes, so no rule is written twice.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

use super::context::{Context, PageError, Path, page_id, see_other};
use super::forms::{FieldErrors, Filled, Submitted, field_errors};
use super::i18n;
use super::pager::{PageQuery, Pager, Search};
use super::pages::{render, render_with, urlencode};
use super::places::{self, Checked};
use crate::approval::lifecycle::{self, RequestView};
use crate::approval::{FlowError, RuleId, notify, versions};
use crate::cases::{self, Case, CaseError, CaseLine};
use crate::domain::case_code::CaseCode;
use crate::domain::province::PROVINCES;
use crate::domain::request::{Category, Reason};
use crate::domain::{CaseStatus, RequestStatus};
use crate::domain::{Province, Role};
use crate::http::error::ApiError;
use crate::http::paging::given;
use crate::http::{idempotent, parse_receipt, parse_request, submit_grouped};
use crate::state::AppState;
use crate::write_tx;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cases", get(my_cases).post(open_case))
        .route("/cases/{code}", get(case_page))
        .route("/cases/{code}/ask", get(ask_form).post(ask))
        .route("/requests/{id}", get(answer))
        .route("/requests/{id}/receipt", post(receipt))
        .route("/requests/{id}/cancel", post(cancel))
}

/// A request as a page line: amounts and words in the reader's language.
pub struct Line {
    pub id: String,
    pub case_code: String,
    pub category: String,
    pub amount: String,
    pub status: RequestStatus,
    pub status_label: String,
    pub urgent: bool,
    pub scope: Option<String>,
    pub why: Option<String>,
    pub waited: String,
    pub approvals: String,
    /// The idempotency key of a form that acts on this request from a list.
    pub form_key: String,
    /// Asked by someone holding the treasurer role (marked on the review list).
    pub by_treasurer: bool,
}

impl Line {
    pub fn of(c: &Context, r: &RequestView, now: chrono::DateTime<chrono::Utc>) -> Line {
        Line {
            id: r.id.clone(),
            case_code: r.case_code.clone(),
            category: c.t(&format!("category-{}", r.category)),
            amount: c.amount(&r.amount),
            status: r.status,
            status_label: c.t(&format!("status-{}", r.status)),
            urgent: r.urgent,
            scope: r.scope.as_ref().map(|s| c.t(&format!("scope-{s}"))),
            why: why(c, r),
            waited: i18n::waited(c.language, (now - r.created_at).num_seconds()),
            approvals: format!("{}/{}", r.approvals, r.approvals_needed),
            form_key: uuid::Uuid::new_v4().to_string(),
            by_treasurer: r.requested_by_treasurer,
        }
    }
}

/// Why a request is where it is, in the reader's language: a treasurer's own words for a
/// decline they typed, otherwise the rule that decided, by its stable name.
pub fn why(c: &Context, r: &RequestView) -> Option<String> {
    if r.status == RequestStatus::Approved && r.automatic {
        return None;
    }
    // A treasurer's decline: the reason they typed, not the rule that sent it to them.
    if r.declined_by_a_treasurer() {
        return r.reason.clone();
    }
    let category = c.t(&format!("category-{}", r.category));
    let key = match RuleId::parse(&r.rule) {
        Ok(RuleId::MaxAmount(_)) => "rule-max-amount",
        Ok(RuleId::MaxNights) => "rule-max-nights",
        Ok(RuleId::MaxNightlyRate) => "rule-max-nightly-rate",
        Ok(RuleId::AvailableBalance) => "rule-available-balance",
        Ok(RuleId::NotAutoApproved) => "rule-not-auto-approved",
        Ok(RuleId::CaseAutoCap) => "rule-case-cap",
        Ok(RuleId::ReserveFloor) => "rule-reserve-floor",
        Ok(RuleId::AutoApprove(_) | RuleId::OperationReserve) | Err(_) => {
            return (r.status == RequestStatus::Declined)
                .then(|| r.reason.clone())
                .flatten();
        }
    };
    Some(c.t_with(key, &[("category", category)]))
}

#[derive(Template)]
#[template(path = "cases.html")]
struct CasesPage<'a> {
    c: &'a Context,
    title: String,
    cases: Vec<CaseLine>,
    provinces: &'static [&'static str],
    home_province: String,
    pager: Pager,
    search: Search,
}

/// The cases page's search: a code or its beginning, open or closed, the days opened.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CasesQuery {
    #[serde(flatten)]
    page: PageQuery,
    case_code: Option<String>,
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

async fn my_cases(
    State(state): State<AppState>,
    c: Context,
    Query(q): Query<CasesQuery>,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Caseworker)?;
    let org = user.org_id.clone().unwrap_or_default();
    let request = q.page.request()?;
    let filter = cases::CaseFilter {
        status: q
            .status
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().parse::<CaseStatus>())
            .transpose()
            .map_err(|e| crate::http::fields::invalid("status", e))?,
        code: crate::http::paging::case_code(given(q.case_code.as_deref()))?,
        org: None,
        from: crate::http::paging::day("from", given(q.from.as_deref()))?,
        to: crate::http::paging::day("to", given(q.to.as_deref()))?,
    };
    let listed = cases::page(&state.db, Some(&org), &filter, &request).await?;
    let pager = Pager::of(
        "/cases",
        &[
            ("case_code", q.case_code.as_deref()),
            ("status", q.status.as_deref()),
            ("from", q.from.as_deref()),
            ("to", q.to.as_deref()),
        ],
        &listed,
    );
    let lines = listed.items;
    let search = Search {
        case_code: q.case_code.clone().unwrap_or_default(),
        status: q.status.clone().unwrap_or_default(),
        from: q.from.clone().unwrap_or_default(),
        to: q.to.clone().unwrap_or_default(),
        statuses: CaseStatus::ALL
            .iter()
            .map(|s| {
                (
                    s.as_str().to_string(),
                    c.t(&format!("case-status-{}", s.as_str())),
                )
            })
            .collect(),
        ..Search::default()
    };
    let home_province = home_province(&state, &user.staff())
        .await?
        .unwrap_or_default();
    render(&CasesPage {
        title: c.t("cases-title"),
        c: &c,
        cases: lines,
        provinces: PROVINCES,
        home_province,
        pager,
        search,
    })
}

async fn open_case(
    State(state): State<AppState>,
    c: Context,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Caseworker)?;
    let province = Province::parse(form.get("province"))
        .map_err(|_| PageError::Refused(StatusCode::UNPROCESSABLE_ENTITY))?;
    let staff = user.staff();
    let now = state.clock.now();
    let case = write_tx!(&state.db, |tx| -> Result<Case, CaseError> async {
        cases::open(tx, now, &staff, province).await
    })?;
    Ok(see_other(&format!("/cases/{}", case.code)))
}

fn parse_code(raw: &str) -> Result<CaseCode, PageError> {
    CaseCode::parse(raw).map_err(|_| PageError::Refused(StatusCode::NOT_FOUND))
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage<'a> {
    c: &'a Context,
    title: String,
    code: String,
    province: String,
    open: bool,
    requests: Vec<Line>,
    /// Sharing, closing and reopening: for the organisation that owns it, or a treasurer.
    controls: Option<super::sharing::Controls>,
    /// The case was shared with the reader's organisation by the one that owns it.
    guest: bool,
}

async fn case_page(
    State(state): State<AppState>,
    c: Context,
    Path(code): Path<String>,
) -> Result<Response, PageError> {
    let user = c.user()?;
    let code = parse_code(&code)?;
    let staff = user.staff();
    let now = state.clock.now();
    type Read = (Case, cases::Access, Vec<String>, Vec<RequestView>);
    let (case, access, shared_with, requests) = crate::read_tx!(&state.db, |tx| -> Result<Read, FlowError> async {
        let (case, access, shared_with) = cases::load_for_page(tx, &staff, &code).await?;
        let policy = versions::current(tx, now).await?;
        let dual_above = policy.policy.dual_approval_above();
        let requests = lifecycle::of_case(tx, &staff, &case.code, dual_above).await?;
        Ok((case, access, shared_with, requests))
    })?;
    let controls = match access {
        cases::Access::Owns => Some(super::sharing::Controls::new(
            &case.org_id,
            &shared_with,
            crate::identity::orgs::list(&state.db).await?,
        )),
        _ => None,
    };
    render(&CasePage {
        guest: access == cases::Access::Works,
        controls,
        title: c.t_with("case-title", &[("code", case.code.clone())]),
        requests: requests
            .iter()
            .rev()
            .map(|r| Line::of(&c, r, now))
            .collect(),
        code: case.code,
        province: case.province,
        open: case.status.is_open(),
        c: &c,
    })
}

/// The fields each kind of request shows, in the order a thumb fills them.
const TRAVEL_FIELDS: &[&str] = &[
    "amount",
    "origin_city",
    "origin_province",
    "origin_country",
    "destination_city",
    "destination_province",
    "destination_country",
    "travel_date",
    "reason",
];
const HOTEL_FIELDS: &[&str] = &["nights", "nightly_rate", "party_size"];
const COMMON_FIELDS: &[&str] = &["case_code", "category", "needed_by", "note"];

pub struct CategoryChoice {
    pub value: &'static str,
    pub label: String,
}

pub struct Choice {
    pub value: &'static str,
    pub label: String,
}

#[derive(Template)]
#[template(path = "ask.html")]
struct AskPage<'a> {
    c: &'a Context,
    title: String,
    code: String,
    /// None: the first step, choosing the category.
    category: Option<&'static str>,
    category_label: String,
    categories: Vec<CategoryChoice>,
    travel: bool,
    hotel: bool,
    form: Filled,
    /// The hotel total, computed on the server when the page is sent without JavaScript.
    hotel_total: Option<String>,
    provinces: &'static [&'static str],
    reasons: Vec<Choice>,
    idempotency_key: String,
    /// What the server made of the travel places: notices by end, ends to confirm.
    places: Checked,
    /// The origin's province is the organisation's, not the caseworker's choice: the
    /// script may replace it by the gazetteer's.
    auto_province: bool,
    /// The script's words for a suggested province and for a homonym.
    hint_suggested: String,
    hint_several: String,
}

impl AskPage<'_> {
    fn notice(&self, end: &str) -> Option<&String> {
        self.places.notices.get(end)
    }

    fn auto(&self, end: &str) -> bool {
        self.auto_province && end == "origin"
    }

    fn confirming(&self, end: &str) -> bool {
        self.places.confirming.iter().any(|e| e == end)
    }
}

#[derive(Deserialize)]
struct AskQuery {
    category: Option<String>,
}

fn category_of(raw: &str) -> Option<Category> {
    raw.parse().ok()
}

#[allow(clippy::too_many_arguments)]
fn ask_page<'a>(
    c: &'a Context,
    code: &str,
    category: Option<Category>,
    values: HashMap<String, String>,
    errors: FieldErrors,
    hotel_total: Option<String>,
    idempotency_key: String,
    places: Checked,
) -> AskPage<'a> {
    AskPage {
        title: c.t("ask-title"),
        code: code.to_string(),
        category: category.map(|cat| cat.as_str()),
        category_label: category
            .map(|cat| c.t(&format!("category-{}", cat.as_str())))
            .unwrap_or_default(),
        categories: Category::ALL
            .iter()
            .map(|cat| CategoryChoice {
                value: cat.as_str(),
                label: c.t(&format!("category-{}", cat.as_str())),
            })
            .collect(),
        travel: category.is_some_and(|cat| cat.is_travel()),
        hotel: category == Some(Category::Hotel),
        form: Filled { values, errors },
        hotel_total,
        provinces: PROVINCES,
        reasons: Reason::ALL
            .iter()
            .map(|r| Choice {
                value: r.as_str(),
                label: c.t(&format!("reason-{}", r.as_str())),
            })
            .collect(),
        idempotency_key,
        places,
        auto_province: false,
        hint_suggested: c.t_with("place-hint-suggested", &[("province", "{province}".into())]),
        hint_several: c.t_with("place-hint-several", &[("provinces", "{provinces}".into())]),
        c,
    }
}

async fn ask_form(
    State(state): State<AppState>,
    c: Context,
    Path(code): Path<String>,
    Query(q): Query<AskQuery>,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Caseworker)?;
    let code = parse_code(&code)?;
    let staff = user.staff();
    // The form is only for a case the caseworker may act on.
    crate::read_tx!(&state.db, |tx| -> Result<Case, CaseError> async {
        cases::load_for(tx, &staff, &code).await
    })?;
    let category = q.category.as_deref().and_then(category_of);
    let today = state.clock.now().date_naive().to_string();
    let mut values = HashMap::from([
        ("needed_by".to_string(), today.clone()),
        ("travel_date".to_string(), today),
        ("nights".to_string(), "1".to_string()),
        ("party_size".to_string(), "1".to_string()),
    ]);
    // The trip most often starts where the organisation is; where it goes has no
    // default (a destination in the caseworker's own province would silently make a trip
    // to Ottawa from Montréal "intercity").
    let home = home_province(&state, &staff).await?;
    if let Some(home) = &home {
        values.insert("origin_where".into(), places::IN_CANADA.into());
        values.insert("origin_province".into(), home.clone());
    }
    let mut page = ask_page(
        &c,
        code.as_str(),
        category,
        values,
        FieldErrors::default(),
        None,
        uuid::Uuid::new_v4().to_string(),
        Checked::default(),
    );
    page.auto_province = home.is_some();
    render(&page)
}

async fn home_province(
    state: &AppState,
    staff: &crate::cases::Staff,
) -> Result<Option<String>, PageError> {
    let Some(org) = &staff.org_id else {
        return Ok(None);
    };
    Ok(crate::identity::orgs::list(&state.db)
        .await?
        .into_iter()
        .find(|o| &o.id == org)
        .map(|o| o.province))
}

/// The hotel total the page shows when the form comes back without JavaScript: the same
/// rule as the request (nights × rate), or nothing while either is not a valid number.
fn hotel_total(c: &Context, form: &Submitted) -> Option<String> {
    let nights: i64 = form.get("nights").parse().ok()?;
    let rate: crate::domain::Money = super::forms::amount(form.get("nightly_rate"))
        .parse()
        .ok()?;
    crate::domain::request::HotelStay::new(nights, rate, 1)
        .ok()
        .map(|stay| c.money(stay.amount().cents()))
}

async fn ask(
    State(state): State<AppState>,
    c: Context,
    Path(code): Path<String>,
    mut form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Caseworker)?;
    let code = parse_code(&code)?;
    let category = category_of(form.get("category"));
    let key = form.get("idempotency_key").to_string();
    let computing = form.get("action") == "compute" || category.is_none();
    // The places are read on the server, so the form works without its script: the side
    // of the border, a province suggested, a homonym or another province to confirm.
    let checked = if category.is_some_and(|cat| cat.is_travel()) && !computing {
        let checked = places::check(&c, &form);
        checked.apply(&mut form);
        checked
    } else {
        Checked::default()
    };
    let again = |errors: FieldErrors, status: StatusCode, checked: Checked| {
        render_with(
            status,
            &ask_page(
                &c,
                code.as_str(),
                category,
                form.values(),
                errors,
                hotel_total(&c, &form),
                key.clone(),
                checked,
            ),
        )
    };
    if computing {
        return again(FieldErrors::default(), StatusCode::OK, checked);
    }
    form.idempotency_key()?;
    if !checked.ready() {
        let status = if checked.errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        return again(checked.field_errors(), status, checked);
    }
    let mut names: Vec<&str> = COMMON_FIELDS.to_vec();
    match category {
        Some(Category::Hotel) => names.extend(HOTEL_FIELDS),
        Some(cat) if cat.is_travel() => names.extend(TRAVEL_FIELDS),
        _ => names.push("amount"),
    }
    let mut body = form.as_json(&names, &["nights", "party_size"]);
    body["case_code"] = json!(code.as_str());
    body["urgent"] = json!(form.has("urgent"));
    let outcome: Result<(StatusCode, crate::http::error::JsonText), ApiError> = async {
        let new = parse_request(&body, state.clock.now().date_naive())?;
        submit_grouped(&state, user.staff(), key.clone(), &body, new).await
    }
    .await;
    match outcome {
        Ok((_, crate::http::error::JsonText(view))) => {
            let view: Value = serde_json::from_str(&view).unwrap_or_default();
            let id = view["id"].as_str().unwrap_or_default();
            Ok(see_other(&format!("/requests/{}", urlencode(id))))
        }
        Err(e) => again(
            field_errors(&c, e, "")?,
            StatusCode::UNPROCESSABLE_ENTITY,
            checked,
        ),
    }
}

#[derive(Template)]
#[template(path = "answer.html")]
struct AnswerPage<'a> {
    c: &'a Context,
    title: String,
    r: Line,
    /// What the status means and what to do next, sentence by sentence.
    explanation: Vec<String>,
    told: Vec<String>,
    can_act: bool,
    /// The request whole (see `web::deciding`).
    d: super::deciding::Detail,
    /// A treasurer (not its requester) may ask or decline; approve unless they already did.
    can_decide: bool,
    /// A treasurer who did not ask for it: may decide a late receipt on this page.
    treasurer: bool,
    may_approve: bool,
    /// Its caseworker may answer the treasurer's question.
    may_answer: bool,
    codes: Vec<super::deciding::CodeChoice>,
    receipt: Filled,
    idempotency_key: String,
    /// The question form's own key (the approve form has the page's).
    ask_key: String,
    pocket_money: bool,
    /// A treasurer declined this expired request's late receipt: no receipt form again.
    late_declined: bool,
    /// "Montréal, QC → Ottawa, ON · between provinces", for a trip.
    itinerary: Option<String>,
}

/// A place as the pages write it: "Ottawa, ON", "Port-au-Prince, HT".
fn place_line(p: &crate::domain::place::Place) -> String {
    match (p.province(), p.country()) {
        (Some(province), _) => format!("{}, {province}", p.city()),
        (None, Some(country)) => format!("{}, {country}", p.city()),
        (None, None) => p.city().to_string(),
    }
}

/// A trip in one line, its scope in the reader's words.
fn itinerary_line(c: &Context, trip: &crate::approval::itinerary::Itinerary) -> String {
    format!(
        "{} → {} · {}",
        place_line(&trip.origin),
        place_line(&trip.destination),
        c.t(&format!("trip-scope-{}", trip.scope()))
    )
}

/// The sentences under an answer's title: what happened and what to do now.
fn explain(
    c: &Context,
    r: &RequestView,
    now: chrono::DateTime<chrono::Utc>,
    told: bool,
) -> Vec<String> {
    let wait = |at: chrono::DateTime<chrono::Utc>| {
        i18n::waited(c.language, (at - now).num_seconds().abs())
    };
    match r.status {
        RequestStatus::Approved => {
            let mut lines = vec![c.t("answer-approved-next")];
            if let Some(until) = r.hold_expires_at {
                lines.push(c.t_with("answer-held-for", &[("time", wait(until))]));
            }
            lines
        }
        RequestStatus::Pending => {
            let mut lines = vec![c.t_with(
                "answer-waiting-since",
                &[
                    ("time", wait(r.created_at)),
                    (
                        "approvals",
                        format!("{}/{}", r.approvals, r.approvals_needed),
                    ),
                ],
            )];
            if !told {
                lines.push(c.t("answer-in-queue"));
            }
            lines
        }
        RequestStatus::Declined => vec![c.t("answer-declined-next")],
        RequestStatus::Settled => vec![c.t_with(
            "answer-settled",
            &[
                ("spent", c.amount(r.spent.as_deref().unwrap_or("0"))),
                ("released", c.amount(r.released.as_deref().unwrap_or("0"))),
            ],
        )],
        RequestStatus::Expired => vec![c.t("answer-expired"), c.t("answer-expired-late")],
        RequestStatus::ReceiptPending => vec![c.t_with(
            "answer-receipt_pending",
            &[("paid", c.amount(r.spent.as_deref().unwrap_or("0")))],
        )],
        other => vec![c.t(&format!("answer-{other}"))],
    }
}

async fn answer(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    answer_page(
        &state,
        &c,
        &id,
        HashMap::new(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn answer_page(
    state: &AppState,
    c: &Context,
    id: &str,
    receipt_values: HashMap<String, String>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let user = c.user()?;
    let id = page_id(id)?;
    let staff = user.staff();
    let now = state.clock.now();
    type Read = (RequestView, Option<crate::approval::itinerary::Itinerary>);
    let (request, trip) = crate::read_tx!(&state.db, |tx| -> Result<Read, FlowError> async {
        let request = lifecycle::deciding(tx, now, &staff, &id).await?;
        let trip = crate::approval::itinerary::of(tx, &request.id).await?;
        Ok((request, trip))
    })?;
    let told: Vec<String> = notify::told(&state.db, &request.id)
        .await?
        .into_iter()
        .map(|t| {
            let who = t.display_name.unwrap_or(t.email);
            let key = if t.escalated {
                "told-escalated"
            } else {
                "told-one"
            };
            c.t_with(
                key,
                &[
                    ("who", who),
                    ("ago", i18n::waited(c.language, (now - t.at).num_seconds())),
                ],
            )
        })
        .collect();
    let mut receipt_values = receipt_values;
    receipt_values
        .entry("amount".into())
        .or_insert_with(|| request.amount.clone());
    let late_declined = request.status == RequestStatus::Expired
        && crate::read_tx!(&state.db, |tx| -> Result<bool, crate::store::StoreError> async {
            lifecycle::late::declined(tx, &request.id).await
        })?;
    let mut explanation = explain(c, &request, now, !told.is_empty());
    if late_declined {
        explanation = vec![
            c.t("answer-expired"),
            c.t_with(
                "answer-late-declined",
                &[("reason", request.reason.clone().unwrap_or_default())],
            ),
        ];
    }
    let mut d = super::deciding::Detail::of(c, &request, &user.id, now);
    // The rule's sentence is the page's own line under its title.
    d.rule = None;
    let treasurer = user.has(Role::Treasurer) && request.requested_by.id != user.id;
    let waits = request.status.is_pending() || request.status == RequestStatus::InfoRequested;
    let page = AnswerPage {
        can_decide: treasurer && waits,
        treasurer,
        may_approve: treasurer && request.status.is_pending() && !d.approved_by_me,
        may_answer: request.status == RequestStatus::InfoRequested
            && user.has(Role::Caseworker)
            && user.org_id.is_some(),
        codes: super::deciding::code_choices(c, ""),
        d,
        title: c.t(&format!("answer-title-{}", request.status)),
        r: Line::of(c, &request, now),
        explanation,
        told,
        can_act: user.has(Role::Caseworker) || user.has(Role::Treasurer),
        pocket_money: request.category == "pocket_money",
        itinerary: trip.as_ref().map(|trip| itinerary_line(c, trip)),
        late_declined,
        receipt: Filled {
            values: receipt_values,
            errors,
        },
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        ask_key: uuid::Uuid::new_v4().to_string(),
        c,
    };
    render_with(status, &page)
}

async fn receipt(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = c.user()?;
    let id = page_id(&id)?;
    let mut body = form.as_json(
        &[
            "amount",
            "reference",
            "vendor",
            "original_currency",
            "original_amount",
        ],
        &[],
    );
    if form.has("attested") {
        body["attested"] = json!(true);
    }
    let staff = user.staff();
    let now = state.clock.now();
    let key = form.idempotency_key()?;
    let route = crate::http::route_key(&id, "receipt");
    let outcome: Result<_, ApiError> = async {
        let receipt = parse_receipt(&body, now.date_naive())?;
        idempotent!(
            key = key.clone(),
            state,
            staff,
            &route,
            body,
            StatusCode::OK,
            |tx| -> Result<RequestView, FlowError> async {
                let stepped = lifecycle::receipt(tx, now, &staff, &id, &receipt).await?;
                notify::after(tx, now, &state.config.base_url, stepped).await
            }
        )
    }
    .await;
    match outcome {
        Ok(_) => Ok(see_other(&format!("/requests/{id}"))),
        Err(e) => {
            let errors = field_errors(&c, e, "receipt_")?;
            answer_page(
                &state,
                &c,
                &id,
                form.values(),
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn cancel(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    _: Submitted,
) -> Result<Response, PageError> {
    let user = c.user()?;
    let id = page_id(&id)?;
    let staff = user.staff();
    let now = state.clock.now();
    write_tx!(&state.db, |tx| -> Result<RequestView, FlowError> async {
        lifecycle::cancel(tx, now, &staff, &id).await
    })?;
    Ok(see_other(&format!("/requests/{id}")))
}
