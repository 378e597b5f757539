//! The treasurer's pages: the queue of pending requests, the next-day review, the fund at a
//! glance, donors and donations and the policy editor (the flagged items, the audit events
//! and on call are in `oversight.rs`). Each action calls the same lifecycle and funding
//! steps as the API.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Duration;
use serde_json::{Map, Value, json};

use super::caseworker::Line;
use super::context::{Context, PageError, Path, page_id, see_other};
use super::deciding::Detail;
use super::forms::{FieldErrors, Filled, Submitted, field_errors, field_message};
use super::i18n;
use super::pager::{PageQuery, Pager, Search};
use super::pages::{render, render_with};
use crate::approval::versions::{self, HistoryLine, PolicyVersion};
use crate::approval::{FlowError, RuleId, lifecycle, notify};
use crate::domain::RequestStatus;
use crate::domain::Role;
use crate::domain::note::Note;
use crate::domain::request::Category;
use crate::funding::{self, DonationLine, DonorLine};
use crate::http::error::ApiError;
use crate::http::paging::given;
use crate::http::{idempotent, parse_donation, parse_donor};
use crate::state::AppState;
use crate::store::StoreError;
use crate::write_tx;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/queue", get(queue))
        .route("/requests/{id}/approve", post(approve))
        .route("/review", get(review_list))
        .route("/requests/{id}/review", post(review))
        .route("/fund", get(fund))
        .route("/donors", get(donors).post(add_donor))
        .route("/donors/{id}/withdraw-links", post(withdraw_links))
        .route("/donations", post(add_donation))
        .route("/policy", get(policy).post(save_policy))
        .route("/policy/versions/{version}/cosign", post(cosign_policy))
}

/// After an action, back to the page it was taken from (the queue, or the request).
pub(super) fn back(form: &Submitted, fallback: &str) -> Response {
    match form.get("back") {
        "" => see_other(fallback),
        to => see_other(to),
    }
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage<'a> {
    c: &'a Context,
    title: String,
    /// Each request, whether the reader asked for it (nobody approves their own), and the
    /// request whole (see `web::deciding`).
    items: Vec<(Line, bool, Detail)>,
    /// Late receipts waiting for a treasurer, and the holds waiting for their receipts
    /// (`templates/late_receipts.html`).
    late: LateSection,
    pager: Pager,
    search: Search,
}

/// A late receipt on the queue: the request, what the receipt says was paid, and whether
/// the reader may not approve it (they asked for it).
pub struct LateLine {
    pub r: Line,
    pub paid: String,
    /// "The hold was 318,00 $ and expired."
    pub was: String,
    pub own: bool,
    /// The reader approved it and it waits for a second treasurer.
    pub approved_by_me: bool,
}

/// A hold that waits for its receipt, as the queue lists it.
pub struct HoldLine {
    pub id: String,
    pub case_code: String,
    pub category: String,
    pub amount: String,
    pub org: String,
    pub expires: String,
}

pub struct LateSection {
    pub receipts: Vec<LateLine>,
    pub holds: Vec<HoldLine>,
}

impl LateSection {
    async fn read(
        state: &AppState,
        c: &Context,
        user_id: &str,
        now: chrono::DateTime<chrono::Utc>,
        dual_above: crate::domain::Money,
    ) -> Result<LateSection, PageError> {
        type Read = (
            Vec<lifecycle::RequestView>,
            Vec<lifecycle::late::WaitingHold>,
            HashMap<String, Vec<lifecycle::Approval>>,
        );
        let (receipts, holds, approvals) = crate::read_tx!(&state.db, |tx| -> Result<Read, StoreError> async {
            let receipts = lifecycle::late::waiting(tx, dual_above).await?;
            let ids: Vec<String> = receipts.iter().map(|r| r.id.clone()).collect();
            Ok((
                receipts,
                lifecycle::late::holds_waiting(tx).await?,
                lifecycle::approvals_of(tx, &ids).await?,
            ))
        })?;
        Ok(LateSection {
            receipts: receipts
                .iter()
                .map(|r| LateLine {
                    r: Line::of(c, r, now),
                    paid: c.amount(r.spent.as_deref().unwrap_or(&r.amount)),
                    was: c.t_with("late-hold-was", &[("amount", c.amount(&r.amount))]),
                    own: r.requested_by.id == user_id,
                    approved_by_me: approvals
                        .get(&r.id)
                        .is_some_and(|a| a.iter().any(|a| a.id == user_id)),
                })
                .collect(),
            holds: holds
                .into_iter()
                .map(|h| HoldLine {
                    category: c.t(&format!("category-{}", h.category)),
                    amount: c.money(h.amount),
                    expires: c.t_time(
                        "holds-expires",
                        &i18n::waited(c.language, (h.expires_at - now).num_seconds().max(0)),
                    ),
                    id: h.id,
                    case_code: h.case_code,
                    org: h.org_name,
                })
                .collect(),
        })
    }
}

/// The queue's search: a case code, an organisation, the days the requests were made.
#[derive(Debug, Default, serde::Deserialize)]
pub struct QueueQuery {
    #[serde(flatten)]
    page: PageQuery,
    case_code: Option<String>,
    org: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

async fn queue(
    State(state): State<AppState>,
    c: Context,
    Query(q): Query<QueueQuery>,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let now = state.clock.now();
    let policy = versions::in_force(&state.db, now).await?;
    let request = q.page.request()?;
    let filter = lifecycle::RequestFilter {
        status: Some(RequestStatus::Pending),
        org: q
            .org
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(String::from),
        case_code: crate::http::paging::case_code(given(q.case_code.as_deref()))?,
        from: crate::http::paging::day("from", given(q.from.as_deref()))?,
        to: crate::http::paging::day("to", given(q.to.as_deref()))?,
        // Urgent first, then the longest wait first.
        queue_order: true,
    };
    let listed = lifecycle::list(
        &state.db,
        &user.staff(),
        &filter,
        &request,
        policy.policy.dual_approval_above(),
    )
    .await?;
    let pager = Pager::of(
        "/queue",
        &[
            ("case_code", q.case_code.as_deref()),
            ("org", q.org.as_deref()),
            ("from", q.from.as_deref()),
            ("to", q.to.as_deref()),
        ],
        &listed,
    );
    let orgs = crate::identity::orgs::list(&state.db).await?;
    let mut pending = listed.items;
    let ids: Vec<String> = pending.iter().map(|r| r.id.clone()).collect();
    let (mut approvals, policies) = crate::read_tx!(&state.db, |tx| -> Result<_, crate::approval::FlowError> async {
        let approvals = lifecycle::approvals_of(tx, &ids).await?;
        let mut policies = HashMap::new();
        for r in &pending {
            if !policies.contains_key(&r.policy_version)
                && let Some(p) = versions::find(tx, r.policy_version).await?
            {
                policies.insert(r.policy_version, p.policy);
            }
        }
        Ok((approvals, policies))
    })?;
    for r in &mut pending {
        r.approved_by = approvals.remove(&r.id).unwrap_or_default();
        r.excess = policies
            .get(&r.policy_version)
            .and_then(|p| lifecycle::excess_of(p, r));
    }
    // Each card carries the case's recent requests and the fund before and after it.
    let pending = crate::read_tx!(&state.db, |tx| -> Result<Vec<lifecycle::RequestView>, FlowError> async {
        let mut pending = pending.clone();
        lifecycle::weigh_all(tx, now, &mut pending).await?;
        Ok(pending)
    })?;
    render(&QueuePage {
        title: c.t("queue-title"),
        items: pending
            .iter()
            .map(|r| {
                (
                    Line::of(&c, r, now),
                    r.requested_by.id == user.id,
                    Detail::of(&c, r, &user.id, now),
                )
            })
            .collect(),
        late: LateSection::read(
            &state,
            &c,
            &user.id,
            now,
            policy.policy.dual_approval_above(),
        )
        .await?,
        pager,
        search: Search {
            case_code: q.case_code.unwrap_or_default(),
            org: q.org.unwrap_or_default(),
            from: q.from.unwrap_or_default(),
            to: q.to.unwrap_or_default(),
            orgs: orgs.into_iter().map(|o| (o.id, o.name)).collect(),
            ..Search::default()
        },
        c: &c,
    })
}

async fn approve(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let id = page_id(&id)?;
    let staff = user.staff();
    let now = state.clock.now();
    let key = form.idempotency_key()?;
    let route = crate::http::route_key(&id, "approve");
    let outcome: Result<_, ApiError> = async {
        idempotent!(
            key = key.clone(),
            state,
            staff,
            &route,
            json!({}),
            StatusCode::OK,
            |tx| -> Result<lifecycle::RequestView, FlowError> async {
                let stepped = lifecycle::approve(tx, now, &staff, &id).await?;
                notify::after(tx, now, &state.config.base_url, stepped).await
            }
        )
    }
    .await;
    outcome?;
    Ok(back(&form, &format!("/requests/{id}")))
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage<'a> {
    c: &'a Context,
    title: String,
    requests: Vec<Line>,
    /// A flag refused for its reason, shown under that item's field.
    flag_error: Option<FlagError>,
    pager: Pager,
}

/// A flag's reason refused: which item, why, and what was typed.
pub struct FlagError {
    pub id: String,
    pub message: String,
    pub typed: String,
}

async fn review_list(
    State(state): State<AppState>,
    c: Context,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    review_page(&state, &c, &q, None).await
}

async fn review_page(
    state: &AppState,
    c: &Context,
    q: &PageQuery,
    flag_error: Option<FlagError>,
) -> Result<Response, PageError> {
    c.with_role(Role::Treasurer)?;
    let now = state.clock.now();
    let policy = versions::in_force(&state.db, now).await?;
    let request = q.request()?;
    let waiting =
        lifecycle::awaiting_review(&state.db, &request, policy.policy.dual_approval_above())
            .await?;
    let pager = Pager::of("/review", &[], &waiting);
    let waiting = waiting.items;
    let status = if flag_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_with(
        status,
        &ReviewPage {
            title: c.t("review-title"),
            requests: waiting.iter().map(|r| Line::of(c, r, now)).collect(),
            flag_error,
            pager,
            c,
        },
    )
}

/// Marks an automatic approval reviewed, or flags it with the reason typed (required on
/// the page, and scanned for personal data as a note is).
async fn review(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let id = page_id(&id)?;
    let flag = form.get("flag") == "true";
    let reason = if flag {
        match Note::parse(form.get("reason"))
            .ok()
            .filter(|_| form.has("reason"))
        {
            Some(reason) => Some(reason),
            None => {
                let error = FlagError {
                    message: field_message(&c, "flag_reason"),
                    typed: form.get("reason").to_string(),
                    id,
                };
                return review_page(&state, &c, &PageQuery::default(), Some(error)).await;
            }
        }
    } else {
        None
    };
    let staff = user.staff();
    let now = state.clock.now();
    write_tx!(&state.db, |tx| -> Result<lifecycle::RequestView, FlowError> async {
        lifecycle::review(tx, now, &staff, &id, flag, reason.as_ref()).await
    })?;
    Ok(back(&form, "/review"))
}

#[derive(Template)]
#[template(path = "fund.html")]
struct FundPage<'a> {
    c: &'a Context,
    title: String,
    /// (the figure's id on the page, label, amount).
    figures: Vec<(&'static str, String, String)>,
    runway: String,
    /// The bank and what the fund owes: (the figure's id on the page, label, amount).
    bank: Vec<(&'static str, String, String)>,
}

/// The days the fund lasts at the last 30 days' spending rate.
const RATE_WINDOW_DAYS: i64 = 30;

async fn fund(State(state): State<AppState>, c: Context) -> Result<Response, PageError> {
    c.with_role(Role::Treasurer)?;
    let now = state.clock.now();
    let f = funding::figures(&state.db, now).await?;
    let policy = versions::in_force(&state.db, now).await?;
    let spent_recently =
        crate::ledger::spent_since(&state.db, now - Duration::days(RATE_WINDOW_DAYS)).await?;
    let runway = if spent_recently > 0 {
        let days = f.available.max(0) * RATE_WINDOW_DAYS / spent_recently;
        c.t_with(
            "fund-runway",
            &[
                ("days", days.to_string()),
                ("spent", c.money(spent_recently)),
            ],
        )
    } else {
        c.t("fund-runway-unknown")
    };
    let figures = [
        ("fund-available", f.available),
        ("fund-held", f.held),
        ("fund-spent", f.spent),
        ("fund-donated", f.donated),
        ("fund-restricted", f.restricted),
        ("fund-reserved", f.reserved),
        ("fund-reserve-floor", policy.policy.reserve_floor_cents()),
        ("fund-in-kind", f.in_kind),
    ]
    .into_iter()
    .map(|(key, cents)| (key, c.t(key), c.money(cents)))
    .collect();
    // The money's way out (issue 18): the two identities DESIGN writes, each figure as
    // `GET /api/v1/fund` gives it.
    let owed_back = crate::read_tx!(&state.db, |tx| -> Result<i64, StoreError> async {
        funding::owed::owed_back_total(tx).await
    })?;
    let bank = [
        ("fund-bank-balance", f.bank),
        ("fund-bank-owed", f.owed),
        ("fund-bank-to-replenish", f.to_replenish),
        ("fund-bank-advanced", f.advanced),
        ("fund-bank-owed-back", owed_back),
        ("fund-bank-paid-out", f.paid_out),
        ("fund-bank-other-income", f.other_income),
        ("fund-bank-fees", f.fees),
    ]
    .into_iter()
    .map(|(key, cents)| (key, c.t(key), c.money(cents)))
    .collect();
    render(&FundPage {
        title: c.t("fund-title"),
        figures,
        runway,
        bank,
        c: &c,
    })
}

pub struct DonorRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub language: String,
    pub gifts: i64,
    pub given: String,
    pub unsubscribed: bool,
}

pub struct DonationRow {
    pub donor: String,
    pub amount: String,
    pub received_on: String,
    pub kind: String,
    pub restricted_to: Option<String>,
}

pub struct CategoryBox {
    pub value: &'static str,
    pub label: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "donors.html")]
struct DonorsPage<'a> {
    c: &'a Context,
    title: String,
    donors: Vec<DonorRow>,
    donations: Vec<DonationRow>,
    categories: Vec<CategoryBox>,
    form: Filled,
    idempotency_key: String,
}

async fn donors_page(
    state: &AppState,
    c: &Context,
    form: Option<&Submitted>,
    errors: FieldErrors,
) -> Result<Response, PageError> {
    c.with_role(Role::Treasurer)?;
    let donors: Vec<DonorLine> = funding::donors(&state.db).await?;
    let donations: Vec<DonationLine> = funding::recent_donations(&state.db, 50).await?;
    let mut values = form.map(Submitted::values).unwrap_or_default();
    values
        .entry("received_on".into())
        .or_insert_with(|| state.clock.now().date_naive().to_string());
    values
        .entry("language".into())
        .or_insert_with(|| c.lang().into());
    let restricted: Vec<&str> = form.map(|f| f.all("restricted_to")).unwrap_or_default();
    let page = DonorsPage {
        title: c.t("donors-title"),
        donors: donors
            .into_iter()
            .map(|d| DonorRow {
                given: c.money(d.given),
                id: d.id,
                name: d.name,
                email: d.email,
                language: d.language,
                gifts: d.gifts,
                unsubscribed: d.unsubscribed,
            })
            .collect(),
        donations: donations
            .into_iter()
            .map(|d| DonationRow {
                donor: d.donor,
                amount: c.money(d.amount),
                received_on: d.received_on,
                kind: c.t(&format!("donation-kind-{}", d.kind)),
                restricted_to: d.restricted_to.map(|list| {
                    list.split(',')
                        .map(|cat| c.t(&format!("category-{cat}")))
                        .collect::<Vec<_>>()
                        .join(", ")
                }),
            })
            .collect(),
        categories: Category::ALL
            .iter()
            .map(|cat| CategoryBox {
                value: cat.as_str(),
                label: c.t(&format!("category-{}", cat.as_str())),
                checked: restricted.contains(&cat.as_str()),
            })
            .collect(),
        form: Filled { values, errors },
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        c,
    };
    let status = if page.form.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_with(status, &page)
}

async fn donors(State(state): State<AppState>, c: Context) -> Result<Response, PageError> {
    donors_page(&state, &c, None, FieldErrors::default()).await
}

async fn add_donor(
    State(state): State<AppState>,
    c: Context,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let body = form.as_json(&["name", "email", "language"], &[]);
    let now = state.clock.now();
    let actor = user.staff().actor();
    let outcome: Result<String, ApiError> = async {
        let (name, email, language) = parse_donor(&body)?;
        let id = write_tx!(&state.db, |tx| -> Result<String, funding::FundingError> async {
            funding::add_donor(tx, now, &actor, &name, &email, language).await
        })?;
        Ok(id)
    }
    .await;
    match outcome {
        Ok(_) => Ok(see_other("/donors")),
        Err(e) => {
            let errors = field_errors(&c, e, "")?;
            donors_page(&state, &c, Some(&form), errors).await
        }
    }
}

/// Withdraws every link already emailed to a donor (`POST /api/v1/donors/{id}/links/withdraw`).
async fn withdraw_links(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    _: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let id = page_id(&id)?;
    let now = state.clock.now();
    let actor = user.staff().actor();
    write_tx!(&state.db, |tx| -> Result<Option<u64>, StoreError> async {
        crate::reports::donor::withdraw_by_treasurer(tx, now, &actor, &id).await
    })?
    .ok_or(PageError::Refused(StatusCode::NOT_FOUND))?;
    Ok(see_other("/donors"))
}

async fn add_donation(
    State(state): State<AppState>,
    c: Context,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let mut body = form.as_json(&["donor_id", "amount", "received_on", "description"], &[]);
    if form.has("in_kind") {
        body["in_kind"] = json!(true);
    }
    let restricted = form.all("restricted_to");
    if !restricted.is_empty() {
        body["restricted_to"] = json!(restricted);
    }
    let staff = user.staff();
    let now = state.clock.now();
    let key = form.idempotency_key()?;
    let outcome: Result<_, ApiError> = async {
        let new = parse_donation(&body, now.date_naive())?;
        idempotent!(
            key = key.clone(),
            state,
            staff,
            crate::http::DONATIONS_ROUTE,
            body,
            StatusCode::CREATED,
            |tx| -> Result<Value, funding::FundingError> async {
                let id = funding::record_donation(tx, now, &staff.actor(), &new).await?;
                Ok(json!({ "id": id }))
            }
        )
    }
    .await;
    match outcome {
        Ok(_) => Ok(see_other("/donors")),
        Err(e) => {
            let errors = field_errors(&c, e, "")?;
            donors_page(&state, &c, Some(&form), errors).await
        }
    }
}

/// One input of the policy editor: its form name (the document's path with `_` for `.`),
/// its label and its value.
pub struct PolicyField {
    pub name: String,
    pub label: String,
    pub value: String,
    pub hint: String,
    pub error: Option<String>,
    pub numeric: bool,
}

pub struct HistoryRow {
    pub version: i64,
    pub proposed_by: String,
    pub proposed_on: String,
    /// Who co-signed it and when, or how it took force without a second signature.
    pub cosigned: String,
    pub status: String,
}

/// A version that waits for a second treasurer, with what it would change.
pub struct Proposal {
    pub version: i64,
    pub proposed_by: String,
    pub proposed_on: String,
    /// The reader proposed it: they see it waiting, without a button.
    pub mine: bool,
    /// `(field, in force, proposed)`, in the editor's labels.
    pub changes: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "policy.html")]
struct PolicyPage<'a> {
    c: &'a Context,
    title: String,
    version: i64,
    categories: Vec<PolicyField>,
    hotel: Vec<PolicyField>,
    limits: Vec<PolicyField>,
    history: Vec<HistoryRow>,
    proposals: Vec<Proposal>,
    /// What the reader just did: proposed a version, or put one in force.
    notice: Option<String>,
    /// `month` or `quarter`: how often the donor report is drafted.
    cadence: String,
    has_errors: bool,
}

/// The editor's per-category limits (empty: always a treasurer), hotel apart:
/// `(document path, label key, numeric)`.
fn policy_fields() -> Vec<(String, String, bool)> {
    Category::ALL
        .iter()
        .filter(|category| **category != Category::Hotel)
        .map(|category| {
            (
                RuleId::MaxAmount(*category).as_name(),
                format!("category-{}", category.as_str()),
                false,
            )
        })
        .collect()
}

fn form_name(path: &str) -> String {
    path.replace('.', "_")
}

/// The values the editor shows: the document as saved, or as typed when it comes back
/// with errors.
fn document_values(doc: &Value) -> HashMap<String, String> {
    fn walk(prefix: &str, value: &Value, out: &mut HashMap<String, String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&path, v, out);
                }
            }
            Value::String(s) => {
                out.insert(form_name(prefix), s.clone());
            }
            other => {
                out.insert(form_name(prefix), other.to_string());
            }
        }
    }
    let mut out = HashMap::new();
    walk("", doc, &mut out);
    out
}

const LIMITS: &[(&str, bool)] = &[
    ("reserve_floor", false),
    ("dual_approval_above", false),
    ("case_auto_cap.amount", false),
    ("case_auto_cap.days", true),
    ("hold_hours", true),
    ("escalate_after_minutes", true),
];

/// The hotel rule's limits, each a path of the document named as the rule it is:
/// `(rule, numeric)`.
const HOTEL: [(RuleId, bool); 3] = [
    (RuleId::MaxNights, true),
    (RuleId::MaxNightlyRate, false),
    (RuleId::MaxAmount(Category::Hotel), false),
];

async fn policy_page(
    state: &AppState,
    c: &Context,
    values: HashMap<String, String>,
    errors: &HashMap<String, String>,
    done: &Done,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let me = user.staff().actor().0;
    let now = state.clock.now();
    let current = versions::in_force(&state.db, now).await?;
    let field = |path: &str, label: String, numeric: bool| {
        let name = form_name(path);
        PolicyField {
            value: values.get(&name).cloned().unwrap_or_default(),
            hint: c.t(&format!(
                "policy-hint-{}",
                path.rsplit('.').next().unwrap_or(path)
            )),
            error: errors.get(&name).cloned(),
            name,
            label,
            numeric,
        }
    };
    let categories = policy_fields()
        .into_iter()
        .map(|(path, label_key, numeric)| field(&path, c.t(&label_key), numeric))
        .collect();
    let hotel = HOTEL
        .iter()
        .map(|(rule, numeric)| {
            let path = rule.as_name();
            field(
                &path,
                c.t(&format!("policy-{}", form_name(&path))),
                *numeric,
            )
        })
        .collect();
    let limits = LIMITS
        .iter()
        .map(|(path, numeric)| field(path, c.t(&format!("policy-{}", form_name(path))), *numeric))
        .collect();
    let history: Vec<HistoryLine> = versions::history(&state.db).await?;
    let when = |t: chrono::DateTime<chrono::Utc>| {
        format!(
            "{} {} UTC",
            i18n::date(c.language, t.date_naive()),
            t.format("%H:%M")
        )
    };
    let in_force_values = document_values(&current.policy.to_json());
    let mut proposals = Vec::new();
    for h in history
        .iter()
        .filter(|h| h.in_force_at.is_none() && h.version > current.version)
    {
        let proposed = crate::read_tx!(&state.db, |tx| -> Result<Option<PolicyVersion>, StoreError> async {
            versions::find(tx, h.version).await
        })?;
        let Some(proposed) = proposed else { continue };
        let values = document_values(&proposed.policy.to_json());
        let mut names: Vec<&String> = values.keys().chain(in_force_values.keys()).collect();
        names.sort();
        names.dedup();
        let changes = names
            .into_iter()
            .filter(|name| values.get(*name) != in_force_values.get(*name))
            .map(|name| {
                let shown =
                    |v: Option<&String>| v.cloned().unwrap_or_else(|| c.t("policy-change-none"));
                (
                    field_label(c, name),
                    shown(in_force_values.get(name)),
                    shown(values.get(name)),
                )
            })
            .collect();
        proposals.push(Proposal {
            version: h.version,
            proposed_by: h.proposed_by.clone(),
            proposed_on: when(h.created_at),
            mine: h.proposer == me,
            changes,
        });
    }
    let history = history
        .into_iter()
        .map(|h| HistoryRow {
            version: h.version,
            proposed_by: h.proposed_by,
            proposed_on: when(h.created_at),
            cosigned: match (h.cosigned_by, h.cosigned_at, h.in_force_at) {
                (Some(by), Some(at), _) => format!("{by}, {}", when(at)),
                (_, _, Some(_)) => c.t("policy-history-alone"),
                _ => String::new(),
            },
            status: if h.version == current.version {
                c.t("policy-status-in_force")
            } else if h.in_force_at.is_some() {
                c.t("policy-status-replaced")
            } else if h.version > current.version {
                c.t("policy-status-proposed")
            } else {
                c.t("policy-status-stale")
            },
        })
        .collect();
    let page = PolicyPage {
        title: c.t("policy-title"),
        version: current.version,
        categories,
        hotel,
        limits,
        history,
        proposals,
        notice: match (done.number(&done.proposed), done.number(&done.cosigned)) {
            (Some(n), _) => Some(c.count("policy-proposed", n)),
            (None, Some(n)) => Some(c.count("policy-cosigned", n)),
            (None, None) => None,
        },
        cadence: values
            .get("report_cadence")
            .cloned()
            .unwrap_or_else(|| "month".into()),
        has_errors: !errors.is_empty(),
        c,
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_with(status, &page)
}

/// A field's label in the editor, from its form name.
fn field_label(c: &Context, name: &str) -> String {
    let category = Category::ALL
        .into_iter()
        .filter(|category| *category != Category::Hotel)
        .find(|category| form_name(&RuleId::MaxAmount(*category).as_name()) == name);
    match category {
        Some(category) => c.t(&format!("category-{category}")),
        None => c.t(&format!("policy-{name}")),
    }
}

/// What the reader just did, from the address they were sent back to; anything but a
/// version number is ignored.
#[derive(serde::Deserialize, Default)]
struct Done {
    proposed: Option<String>,
    cosigned: Option<String>,
}

impl Done {
    fn number(&self, field: &Option<String>) -> Option<i64> {
        field.as_deref().and_then(|n| n.parse().ok())
    }
}

async fn policy(
    State(state): State<AppState>,
    c: Context,
    axum::extract::Query(done): axum::extract::Query<Done>,
) -> Result<Response, PageError> {
    c.with_role(Role::Treasurer)?;
    let current = versions::in_force(&state.db, state.clock.now()).await?;
    let values = document_values(&current.policy.to_json());
    policy_page(&state, &c, values, &HashMap::new(), &done).await
}

/// A second treasurer co-signs a proposed version, which takes force at once.
async fn cosign_policy(
    State(state): State<AppState>,
    c: Context,
    Path(version): Path<String>,
    _form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let version: i64 = version
        .parse()
        .map_err(|_| PageError::Refused(StatusCode::NOT_FOUND))?;
    let now = state.clock.now();
    let actor = user.staff().actor();
    write_tx!(&state.db, |tx| -> Result<PolicyVersion, FlowError> async {
        versions::cosign(tx, now, &actor, version).await
    })?;
    Ok(see_other(&format!("/policy?cosigned={version}")))
}

/// The editor's form as a policy document: empty category limits are left out (that
/// category always goes to a treasurer), numbers stay numbers.
fn document_from(form: &Submitted) -> Value {
    let mut rules = Map::new();
    for category in Category::ALL {
        let name = category.as_str();
        if category == Category::Hotel {
            let nights = form.get("auto_approve_hotel_max_nights");
            let rate = form.get("auto_approve_hotel_max_nightly_rate");
            if nights.is_empty() && rate.is_empty() {
                continue;
            }
            let mut hotel = Map::new();
            hotel.insert("max_nights".into(), number(nights));
            hotel.insert("max_nightly_rate".into(), json!(super::forms::amount(rate)));
            let total = form.get("auto_approve_hotel_max_amount");
            if !total.is_empty() {
                hotel.insert("max_amount".into(), json!(super::forms::amount(total)));
            }
            rules.insert(name.into(), Value::Object(hotel));
        } else {
            let max = form.get(&format!("auto_approve_{name}_max_amount"));
            if !max.is_empty() {
                rules.insert(
                    name.into(),
                    json!({"max_amount": super::forms::amount(max)}),
                );
            }
        }
    }
    json!({
        "auto_approve": rules,
        "case_auto_cap": {
            "amount": super::forms::amount(form.get("case_auto_cap_amount")),
            "days": number(form.get("case_auto_cap_days")),
        },
        "reserve_floor": super::forms::amount(form.get("reserve_floor")),
        "dual_approval_above": super::forms::amount(form.get("dual_approval_above")),
        "hold_hours": number(form.get("hold_hours")),
        "escalate_after_minutes": number(form.get("escalate_after_minutes")),
        "report_cadence": match form.get("report_cadence") {
            "" => "month",
            typed => typed,
        },
    })
}

/// A whole number as typed, or the text itself so the policy names the field that is wrong.
fn number(typed: &str) -> Value {
    typed
        .parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| json!(typed))
}

async fn save_policy(
    State(state): State<AppState>,
    c: Context,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let doc = document_from(&form);
    match versions::parse(doc) {
        Ok(policy) => {
            let now = state.clock.now();
            let actor = user.staff().actor();
            let proposed = write_tx!(&state.db, |tx| -> Result<PolicyVersion, FlowError> async {
                // The version in force first: on a new database the defaults become
                // version 1, and the proposal follows them.
                versions::current(tx, now).await?;
                Ok(versions::propose(tx, now, &actor, policy.clone()).await?)
            })?;
            Ok(see_other(&format!("/policy?proposed={}", proposed.version)))
        }
        Err(problems) => {
            let errors = problems
                .iter()
                .map(|p| {
                    let name = form_name(&p.field);
                    (name.clone(), field_message(&c, &name))
                })
                .collect();
            policy_page(&state, &c, form.values(), &errors, &Done::default()).await
        }
    }
}
