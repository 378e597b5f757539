//! Requests: ask (decided at once by the policy), list, read, approve, decline, settle by
//! receipt, cancel.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, SchemaFormat};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::cases::parse_code;
use super::error::{ApiError, Json, JsonText, Path, Query};
use super::extractor::{Authorized, Caseworker, CaseworkerOrTreasurer, Treasurer};
use super::fields::{self, invalid};
use super::openapi::{
    BadRequest, Conflict, Forbidden, IdempotencyKey, Invalid, NotFound, OptionalIdempotencyKey,
    TooLarge, Unauthorized,
};
use super::paging::{self, PageQuery, Paged};
use crate::approval::lifecycle::{
    self, Exchange, Flagged, NewRequest, OriginalAmount, Receipt, RequestView,
};
use crate::approval::submit::{self, Submission};
use crate::approval::{FlowError, notify, versions};
use crate::cases::Staff;
use crate::domain::RequestStatus;
use crate::domain::dates;
use crate::domain::deciding::DeclineCode;
use crate::domain::note::Note;
use crate::domain::place::{Place, PlaceError};
use crate::domain::request::{Category, HotelStay, MAX_NIGHTS, MAX_PARTY_SIZE, Reason, Trip};
use crate::domain::{Money, Province};
use crate::idempotency::{Keyed, Stored};
use crate::state::AppState;
use crate::store::Tx;
use crate::store::group::Job;
use crate::write_tx;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(submit, list))
        .routes(routes!(show))
        .routes(routes!(approve))
        .routes(routes!(decline))
        .routes(routes!(ask))
        .routes(routes!(answer))
        .routes(routes!(receipt))
        .routes(routes!(cancel))
        .routes(routes!(review))
        .routes(routes!(awaiting_review))
        .routes(routes!(flagged))
        .routes(routes!(unflag))
}

// The bodies below are schemas only: the handlers read each body field by field, so that
// every refusal names its field, and take the list of fields they accept from these.

/// The categories of one kind of request, for the schema of that kind.
fn categories(name: &str, keep: fn(&Category) -> bool) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .title(Some(name))
        .enum_values(Some(
            Category::ALL.into_iter().filter(keep).map(|c| c.as_str()),
        ))
        .into()
}

struct TravelCategory;
impl PartialSchema for TravelCategory {
    fn schema() -> RefOr<Schema> {
        categories("TravelCategory", Category::is_travel)
    }
}
impl ToSchema for TravelCategory {}

struct HotelCategory;
impl PartialSchema for HotelCategory {
    fn schema() -> RefOr<Schema> {
        categories("HotelCategory", |c| *c == Category::Hotel)
    }
}
impl ToSchema for HotelCategory {}

struct OtherCategory;
impl PartialSchema for OtherCategory {
    fn schema() -> RefOr<Schema> {
        categories("OtherCategory", |c| !c.is_travel() && *c != Category::Hotel)
    }
}
impl ToSchema for OtherCategory {}

/// When the money is needed: a date or a time.
struct NeededBy;
impl PartialSchema for NeededBy {
    fn schema() -> RefOr<Schema> {
        let string = |format| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(format)))
        };
        AnyOfBuilder::new()
            .item(string(KnownFormat::Date))
            .item(string(KnownFormat::DateTime))
            .description(Some(
                "A date (\"2026-11-30\") or a time (\"2026-11-30T08:00:00-05:00\")",
            ))
            .into()
    }
}
impl ToSchema for NeededBy {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("NeededBy")
    }
}

fn count(max: u32) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(max))
        .into()
}

fn nights() -> Schema {
    count(MAX_NIGHTS)
}

fn party_size() -> Schema {
    count(MAX_PARTY_SIZE)
}

/// Where a trip starts or ends: a city and either a province (in Canada) or a country.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "a schema only")]
struct PlaceBody {
    #[schema(min_length = 1, max_length = 80, example = "Ottawa")]
    city: String,
    /// In Canada; give this or `country`, not both.
    province: Option<Province>,
    /// Outside Canada: an ISO 3166-1 alpha-2 code other than CA.
    #[schema(pattern = "^[A-Za-z]{2}$", example = "HT")]
    country: Option<String>,
}

/// A bus, train, flight or local transport: where from, where to and why.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "a schema only")]
struct TravelRequest {
    case_code: String,
    category: TravelCategory,
    amount: Money,
    needed_by: NeededBy,
    urgent: Option<bool>,
    /// No personal data: no names, phone numbers, addresses or document numbers.
    #[schema(min_length = 1, max_length = 280)]
    note: Option<String>,
    origin: PlaceBody,
    destination: PlaceBody,
    travel_date: NaiveDate,
    reason: Reason,
}

/// Hotel nights: the amount is nights × nightly rate.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "a schema only")]
struct HotelRequest {
    case_code: String,
    category: HotelCategory,
    /// May be left out; given, it must be nights × nightly_rate.
    amount: Option<Money>,
    needed_by: NeededBy,
    urgent: Option<bool>,
    #[schema(min_length = 1, max_length = 280)]
    note: Option<String>,
    #[schema(schema_with = nights)]
    nights: i64,
    nightly_rate: Money,
    #[schema(schema_with = party_size)]
    party_size: i64,
}

/// Anything else: an amount for a category.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "a schema only")]
struct OtherRequest {
    case_code: String,
    category: OtherCategory,
    amount: Money,
    needed_by: NeededBy,
    urgent: Option<bool>,
    #[schema(min_length = 1, max_length = 280)]
    note: Option<String>,
}

/// The body of `POST /api/v1/requests`: its category says which shape it takes.
#[derive(ToSchema)]
#[serde(untagged)]
#[expect(dead_code, reason = "a schema only")]
enum NewRequestBody {
    Travel(TravelRequest),
    Hotel(HotelRequest),
    Other(OtherRequest),
}

/// The fields only the kind `K` of request carries.
fn fields_of_kind<K: ToSchema + 'static>() -> impl Iterator<Item = &'static str> {
    let common = fields::known::<OtherRequest>();
    fields::known::<K>()
        .iter()
        .filter(|f| !common.contains(f))
        .map(String::as_str)
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "a schema only")]
struct DeclineBody {
    /// Told to the caseworker, who reads it on the request's page and in the email; no
    /// personal data.
    #[schema(min_length = 1, max_length = 280)]
    reason: String,
    /// Why, as a code: `cheaper_option`, `not_covered`, `duplicate` or `other`.
    reason_code: Option<DeclineCode>,
}

/// A treasurer's question to the caseworker.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "a schema only")]
struct AskBody {
    /// Read by the caseworker on the request's page; no personal data.
    #[schema(min_length = 1, max_length = 280)]
    question: String,
}

/// The caseworker's answer to a treasurer's question.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "a schema only")]
struct AnswerBody {
    /// Read by the treasurers on the request's page; no personal data.
    #[schema(min_length = 1, max_length = 280)]
    answer: String,
}

/// What settles an approved request: a receipt's reference, or for pocket money the
/// caseworker's attestation.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "a schema only")]
struct ReceiptBody {
    /// What was spent; the rest of the hold goes back to the fund.
    amount: Money,
    /// Today when left out.
    paid_on: Option<NaiveDate>,
    #[schema(min_length = 1, max_length = 280)]
    vendor: Option<String>,
    /// The organisation's own bookkeeping reference, never a card, passport or SIN number:
    /// at most 12 digits, none of them 6 or more right after a letter, nor 9 in a row.
    #[schema(
        min_length = 1,
        max_length = 24,
        pattern = r"^[A-Za-z0-9\-/.#]+$",
        example = "INV-2026-00123"
    )]
    reference: Option<String>,
    /// Pocket money only, instead of a reference.
    attested: Option<bool>,
    /// A fare bought abroad: its ISO 4217 currency, not CAD; given with original_amount.
    #[schema(pattern = "^[A-Za-z]{3}$", example = "USD")]
    original_currency: Option<String>,
    /// What was paid in that currency, as a string.
    #[schema(pattern = r"^\d+(\.\d{1,3})?$", example = "1250.00")]
    original_amount: Option<String>,
    /// Who paid: the organisation (the fund owes it), its advance, or a vendor account the
    /// fund pays through (with `vendor_id`); the organisation's payment mode when left out.
    paid_by: Option<crate::domain::states::PaidBy>,
    /// With `paid_by: vendor`: the vendor account; the organisation's default otherwise.
    #[schema(format = "uuid")]
    vendor_id: Option<String>,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "a schema only")]
struct ReviewBody {
    /// Flag the approval for the treasurers to look at again; false when left out.
    flag: Option<bool>,
    /// Why it is flagged (with `flag: true`): free text, refused when it looks like
    /// personal data, purged with the request's notes.
    #[schema(min_length = 1, max_length = 280)]
    reason: Option<String>,
}

/// Runs a step that moves money: under its `Idempotency-Key` when the client sends one
/// (a retry then gets the first answer), as a plain transaction otherwise.
macro_rules! money_step {
    ($state:expr, $staff:expr, $headers:expr, $route:expr, $body:expr, |$tx:ident| -> Result<$t:ty, $e:ty> async { $($step:tt)* }) => {{
        if $headers.contains_key("idempotency-key") {
            idempotent!(
                $state,
                $staff,
                $headers,
                $route,
                $body,
                StatusCode::OK,
                |$tx| -> Result<$t, $e> async { $($step)* }
            )
        } else {
            let view = write_tx!(&$state.db, |$tx| -> Result<$t, $e> async { $($step)* })?;
            Ok((StatusCode::OK, Json(json!(view))))
        }
    }};
}

fn place(body: &Value, field: &str) -> Result<Place, ApiError> {
    // A trip has no default end: a missing place is named, with the two shapes it takes.
    let v = fields::optional(body, field).ok_or_else(|| {
        invalid(
            field,
            "is required (there is no default): give {\"city\": \"Ottawa\", \"province\": \"ON\"} in Canada or {\"city\": \"Port-au-Prince\", \"country\": \"HT\"} outside Canada",
        )
    })?;
    if !v.is_object() {
        return Err(invalid(
            field,
            "must be an object such as {\"city\": \"Ottawa\", \"province\": \"ON\"}",
        ));
    }
    fields::only_of::<PlaceBody>(v).map_err(|e| match e {
        ApiError::Unprocessable { field: f, message } => invalid(&format!("{field}.{f}"), message),
        other => other,
    })?;
    let sub = |name: &str| -> Result<Option<&str>, ApiError> {
        fields::optional_string(v, name)
            .map_err(|_| invalid(&format!("{field}.{name}"), "must be a string"))
    };
    let city = sub("city")?.unwrap_or("");
    Place::parse(city, sub("province")?, sub("country")?).map_err(|e| {
        // A Canadian city without its province: say where the gazetteer knows it.
        let known = crate::domain::gazetteer::provinces_of(city);
        if e == PlaceError::RegionMissing && !known.is_empty() {
            return invalid(
                &format!("{field}.province"),
                format!(
                    "is required: give the province (Passage knows {city} in {}), or a country code outside Canada",
                    known.join(", ")
                ),
            );
        }
        invalid(&format!("{field}.{}", e.field()), e)
    })
}

/// A date or a time, a year either side of `today` at most.
fn needed_by(body: &Value, today: chrono::NaiveDate) -> Result<String, ApiError> {
    let raw = fields::string(body, "needed_by")?.trim();
    let within = |day| dates::within_a_year(day, today).map_err(|e| invalid("needed_by", e));
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(raw) {
        let at = at.with_timezone(&chrono::Utc);
        within(at.date_naive())?;
        return Ok(at.to_rfc3339());
    }
    let day = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        invalid(
            "needed_by",
            "must be a date (\"2026-11-30\") or a time (\"2026-11-30T08:00:00-05:00\")",
        )
    })?;
    within(day).map(|d| d.to_string())
}

/// Reads a request body field by field, so each refusal names its field. Its dates are
/// checked against `today` (the clock's).
pub(crate) fn parse_request(
    body: &Value,
    today: chrono::NaiveDate,
) -> Result<NewRequest, ApiError> {
    fields::only_of::<NewRequestBody>(body)?;
    let case_code = parse_code(fields::string(body, "case_code")?).map_err(|e| match e {
        ApiError::Unprocessable { message, .. } => invalid("case_code", message),
        other => other,
    })?;
    let category: Category = fields::string(body, "category")?
        .parse()
        .map_err(|e| invalid("category", e))?;
    let note = fields::optional_string(body, "note")?
        .map(Note::parse)
        .transpose()
        .map_err(|e| invalid("note", e))?;
    let (trip, hotel, amount) = if category.is_travel() {
        if let Some(f) =
            fields_of_kind::<HotelRequest>().find(|f| fields::optional(body, f).is_some())
        {
            return Err(invalid(f, "belongs to hotel requests only"));
        }
        let reason: Reason = fields::string(body, "reason")?
            .parse()
            .map_err(|e| invalid("reason", e))?;
        let trip = Trip {
            origin: place(body, "origin")?,
            destination: place(body, "destination")?,
            reason,
        };
        let date = dates::within_a_year(fields::date(body, "travel_date")?, today)
            .map_err(|e| invalid("travel_date", e))?;
        (Some((trip, date)), None, fields::money(body, "amount")?)
    } else if category == Category::Hotel {
        if let Some(f) =
            fields_of_kind::<TravelRequest>().find(|f| fields::optional(body, f).is_some())
        {
            return Err(invalid(f, "belongs to travel requests only"));
        }
        let stay = HotelStay::new(
            fields::integer(body, "nights")?,
            fields::money(body, "nightly_rate")?,
            fields::integer(body, "party_size")?,
        )
        .map_err(|e| invalid(e.field(), e))?;
        if fields::optional(body, "amount").is_some()
            && fields::money(body, "amount")? != stay.amount()
        {
            return Err(invalid(
                "amount",
                format!(
                    "must be nights × nightly_rate = {} (or leave it out)",
                    stay.amount()
                ),
            ));
        }
        (None, Some(stay), stay.amount())
    } else {
        if let Some(f) = fields_of_kind::<TravelRequest>()
            .chain(fields_of_kind::<HotelRequest>())
            .find(|f| fields::optional(body, f).is_some())
        {
            return Err(invalid(f, "belongs to travel or hotel requests only"));
        }
        (None, None, fields::money(body, "amount")?)
    };
    Ok(NewRequest {
        case_code,
        category,
        amount,
        needed_by: needed_by(body, today)?,
        urgent: fields::boolean(body, "urgent", false)?,
        note,
        trip,
        hotel,
    })
}

/// Asks for money for a case. The policy decides at once: approved (the money is held),
/// or pending for a treasurer.
#[utoipa::path(
    post,
    path = "/api/v1/requests",
    tag = "requests",
    security(("bearer" = [])),
    params(IdempotencyKey),
    request_body = NewRequestBody,
    responses(
        (status = 201, body = RequestView),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn submit(
    State(state): State<AppState>,
    auth: Authorized<Caseworker>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<(StatusCode, JsonText), ApiError> {
    fields::object(&body)?;
    let new = parse_request(&body, state.clock.now().date_naive())?;
    let key = super::idempotency_key(&headers)?;
    submit_grouped(&state, auth.staff(), key, &body, new).await
}

/// The key a step on a request keeps its stored answer under (`POST
/// /api/v1/requests/{id}/{step}`): the API's handler and the page that makes the same
/// change both key it so, and a retry from either gets the first answer.
pub(crate) fn route_key(id: &str, step: &str) -> String {
    format!("POST /api/v1/requests/{id}/{step}")
}

/// The route a submission's stored answer is kept under, and the status it answers with.
const SUBMIT_ROUTE: &str = "POST /api/v1/requests";
const CREATED: StatusCode = StatusCode::CREATED;

/// Submits a request through the instance's group commit, under its Idempotency-Key: the
/// API's route and the caseworker's form both come here. The writer decides the batch it
/// falls in with [`decide_submissions`]; should the batch be given up, the submission's
/// own job runs the same function on a batch of one.
pub(crate) async fn submit_grouped(
    state: &AppState,
    staff: Staff,
    key: String,
    body: &Value,
    new: NewRequest,
) -> Result<(StatusCode, JsonText), ApiError> {
    let submission = Arc::new(Keyed {
        user_id: staff.user_id.clone(),
        key,
        hash: crate::idempotency::body_hash(SUBMIT_ROUTE, body),
        input: Submission { staff, new },
    });
    let base_url: Arc<str> = state.config.base_url.as_str().into();
    let clock = state.clock.clone();
    let job: Job<Stored, FlowError> = {
        let submission = submission.clone();
        Arc::new(move |tx| {
            let (s, base_url) = (submission.clone(), base_url.clone());
            let now = clock.now();
            Box::pin(async move {
                decide_submissions(tx, now, &base_url, vec![Some(&s)])
                    .await?
                    .pop()
                    .flatten()
                    .unwrap_or_else(|| Err(FlowError::Conflict("the submission was not decided: send it again with the same Idempotency-Key".into())))
            })
        })
    };
    let stored = state.grouped.run_with(job, Some(submission)).await?;
    Ok((
        StatusCode::from_u16(stored.status).unwrap_or(CREATED),
        JsonText(stored.body),
    ))
}

/// Decides a batch of keyed submissions in `tx` (`None` for an entry that came without
/// one): a key already answered gets its answer again, a key reused with another body is
/// refused, and the others go through [`submit::submit`] together; their answers are
/// stored under their keys and their notices written to the outbox, in `tx`. A key sent
/// twice in the batch is left to its job (`None`), which runs after in the same
/// transaction and finds the first answer.
pub(crate) async fn decide_submissions(
    tx: &mut Tx,
    now: chrono::DateTime<chrono::Utc>,
    base_url: &str,
    batch: Vec<Option<&Arc<Keyed<Submission>>>>,
) -> Result<Vec<Option<Result<Stored, FlowError>>>, FlowError> {
    let mut answers: Vec<Option<Result<Stored, FlowError>>> = batch.iter().map(|_| None).collect();
    let keys: Vec<(&str, &str)> = batch
        .iter()
        .flatten()
        .map(|s| (s.user_id.as_str(), s.key.as_str()))
        .collect();
    let stored = crate::idempotency::stored_many(tx, &keys).await?;
    let mut seen = HashSet::new();
    let mut fresh = Vec::new();
    for (slot, s) in batch.iter().enumerate() {
        let Some(s) = s else { continue };
        let key = (s.user_id.clone(), s.key.clone());
        if let Some((hash, answer)) = stored.get(&key) {
            answers[slot] = Some(if *hash == s.hash {
                Ok(answer.clone())
            } else {
                Err(crate::idempotency::IdempotencyError::KeyReused.into())
            });
        } else if seen.insert(key) {
            fresh.push((slot, &***s));
        }
    }
    if fresh.is_empty() {
        return Ok(answers);
    }
    let inputs: Vec<&Submission> = fresh.iter().map(|(_, s)| &s.input).collect();
    let decided = submit::submit(tx, now, &inputs).await?;
    // Each view is serialised once: the text stored under its key is the one sent.
    let bodies: Vec<Option<String>> = decided
        .answers
        .iter()
        .map(|a| {
            a.as_ref().ok().map(|view| {
                serde_json::to_string(view)
                    .expect("a request's view holds only strings, numbers and flags")
            })
        })
        .collect();
    let remembered: Vec<crate::idempotency::Answer> = fresh
        .iter()
        .zip(&decided.answers)
        .zip(&bodies)
        .filter_map(|(((_, s), answer), body)| {
            let (view, response) = (answer.as_ref().ok()?, body.as_deref()?);
            Some(crate::idempotency::Answer {
                user_id: &s.user_id,
                key: &s.key,
                hash: &s.hash,
                response,
                request_id: Some(view.id.as_str()),
            })
        })
        .collect();
    crate::idempotency::remember_many(tx, now, SUBMIT_ROUTE, CREATED.as_u16(), &remembered).await?;
    notify::tell(tx, now, base_url, &decided.notices).await?;
    for (((slot, _), answer), body) in fresh.iter().zip(decided.answers).zip(bodies) {
        answers[*slot] = Some(answer.map(|_| Stored {
            status: CREATED.as_u16(),
            body: body.unwrap_or_default(),
        }));
    }
    Ok(answers)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only the requests in this status.
    #[param(value_type = Option<RequestStatus>, inline)]
    status: Option<String>,
    /// Only this organisation's requests (treasurers; a caseworker sees their own
    /// organisation's whatever this says).
    org: Option<String>,
    /// Only the requests of cases whose code begins with this (`QC-7K4M`, or a whole code).
    case_code: Option<String>,
    /// Only the requests made on or after this day (UTC, `YYYY-MM-DD`).
    #[param(format = Date)]
    from: Option<String>,
    /// Only the requests made on or before this day (UTC, `YYYY-MM-DD`).
    #[param(format = Date)]
    to: Option<String>,
    /// The `next` of the previous page; left out, the list starts from the first.
    after: Option<String>,
    /// How many requests a page holds: 1 to 200, 50 when left out.
    limit: Option<String>,
}

/// Lists requests, urgent first, then newest first, one page at a time: a treasurer sees
/// all, a caseworker their organisation's (and the cases shared with it).
#[utoipa::path(
    get,
    path = "/api/v1/requests",
    tag = "requests",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, body = Paged<RequestView>),
        BadRequest,
        Unauthorized,
        Forbidden,
        Invalid,
    ),
)]
async fn list(
    State(state): State<AppState>,
    auth: Authorized<CaseworkerOrTreasurer>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Paged<RequestView>>, ApiError> {
    let status = query
        .status
        .as_deref()
        .map(str::parse::<RequestStatus>)
        .transpose()
        .map_err(|e| {
            invalid(
                "status",
                format!("{:?} is not a status: use one of {}", e.word, e.choices),
            )
        })?;
    let filter = lifecycle::RequestFilter {
        status,
        org: query
            .org
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(String::from),
        case_code: paging::case_code(query.case_code.as_deref())?,
        from: paging::day("from", query.from.as_deref())?,
        to: paging::day("to", query.to.as_deref())?,
        queue_order: false,
    };
    let page = paging::page_request(query.after.as_deref(), query.limit.as_deref())?;
    let now = state.clock.now();
    let policy = versions::in_force(&state.db, now).await?;
    let views = lifecycle::list(
        &state.db,
        &auth.staff(),
        &filter,
        &page,
        policy.policy.dual_approval_above(),
    )
    .await?;
    Ok(Json(views.into()))
}

fn request_id(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| invalid("id", "is not a request id"))
}

/// Reads one request: for a treasurer, the request whole (its trip or stay, note, who
/// asked, the rule's excess, the case's requests of the last 90 days, the fund before and
/// after, the approvals so far).
#[utoipa::path(
    get,
    path = "/api/v1/requests/{id}",
    tag = "requests",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The request's id")),
    responses(
        (status = 200, body = RequestView),
        Unauthorized,
        Forbidden,
        NotFound,
        Invalid,
    ),
)]
async fn show(
    State(state): State<AppState>,
    auth: Authorized<CaseworkerOrTreasurer>,
    Path(id): Path<String>,
) -> Result<Json<RequestView>, ApiError> {
    let id = request_id(&id)?;
    let now = state.clock.now();
    let staff = auth.staff();
    let view = crate::read_tx!(&state.db, |tx| -> Result<RequestView, FlowError> async {
        lifecycle::deciding(tx, now, &staff, &id).await
    })?;
    Ok(Json(view))
}

/// Approves a pending request: the money is held for it. Above `dual_approval_above` it
/// takes two distinct treasurers; the first approval leaves it pending.
#[utoipa::path(
    post,
    path = "/api/v1/requests/{id}/approve",
    tag = "requests",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The request's id"), OptionalIdempotencyKey),
    responses(
        (status = 200, body = RequestView),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        Invalid,
    ),
)]
async fn approve(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = request_id(&id)?;
    let now = state.clock.now();
    let staff = auth.staff();
    let route = route_key(&id, "approve");
    let base_url = &state.config.base_url;
    money_step!(
        state,
        staff,
        headers,
        &route,
        json!({}),
        |tx| -> Result<RequestView, FlowError> async {
            let stepped = lifecycle::approve(tx, now, &staff, &id).await?;
            notify::after(tx, now, base_url, stepped).await
        }
    )
}

/// Declines a pending request (or one waiting for its caseworker's answer), with the
/// reason the caseworker is told and, optionally, its code.
#[utoipa::path(
    post,
    path = "/api/v1/requests/{id}/decline",
    tag = "requests",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The request's id"), OptionalIdempotencyKey),
    request_body = DeclineBody,
    responses(
        (status = 200, body = RequestView),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn decline(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = request_id(&id)?;
    fields::only_of::<DeclineBody>(&body)?;
    let reason = Note::parse(fields::string(&body, "reason")?).map_err(|e| invalid("reason", e))?;
    let code = fields::optional_string(&body, "reason_code")?
        .map(str::parse::<DeclineCode>)
        .transpose()
        .map_err(|e| invalid("reason_code", e))?;
    let now = state.clock.now();
    let staff = auth.staff();
    let route = route_key(&id, "decline");
    let base_url = &state.config.base_url;
    money_step!(
        state,
        staff,
        headers,
        &route,
        body,
        |tx| -> Result<RequestView, FlowError> async {
            let stepped = lifecycle::decline(tx, now, &staff, &id, &reason, code).await?;
            notify::after(tx, now, base_url, stepped).await
        }
    )
}

/// Sends a pending request back to its caseworker with a question (`info_requested`); it
/// leaves the queue until the answer comes. The caseworker is told by email.
#[utoipa::path(
    post,
    path = "/api/v1/requests/{id}/ask",
    tag = "requests",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The request's id"), OptionalIdempotencyKey),
    request_body = AskBody,
    responses(
        (status = 200, body = RequestView),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn ask(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    exchange::<AskBody>(state, auth.staff(), headers, &id, body, Exchange::Ask).await
}

/// A question or its answer: the one text scanned like a note, the lifecycle's step under
/// the request's `Idempotency-Key`, and the other side told by email.
async fn exchange<B: ToSchema + 'static>(
    state: AppState,
    staff: Staff,
    headers: HeaderMap,
    id: &str,
    body: Value,
    which: Exchange,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = request_id(id)?;
    fields::only_of::<B>(&body)?;
    let field = which.text();
    let text = Note::parse(fields::string(&body, field)?).map_err(|e| invalid(field, e))?;
    let now = state.clock.now();
    let route = route_key(&id, which.step());
    let base_url = &state.config.base_url;
    money_step!(
        state,
        staff,
        headers,
        &route,
        body,
        |tx| -> Result<RequestView, FlowError> async {
            let stepped = lifecycle::exchange(tx, now, &staff, &id, which, &text).await?;
            notify::after(tx, now, base_url, stepped).await
        }
    )
}

/// Answers a treasurer's question: the request is `pending` again, in its first place in
/// the queue, and the treasurer who asked is told by email.
#[utoipa::path(
    post,
    path = "/api/v1/requests/{id}/answer",
    tag = "requests",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The request's id"), OptionalIdempotencyKey),
    request_body = AnswerBody,
    responses(
        (status = 200, body = RequestView),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn answer(
    State(state): State<AppState>,
    auth: Authorized<Caseworker>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    exchange::<AnswerBody>(state, auth.staff(), headers, &id, body, Exchange::Answer).await
}

/// Settles an approved request by its receipt: what was spent is paid from the hold and
/// the rest goes back to the fund. A receipt for a request whose hold expired is a late
/// receipt: it answers `receipt_pending` and waits for a treasurer's approve or decline.
#[utoipa::path(
    post,
    path = "/api/v1/requests/{id}/receipt",
    tag = "requests",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The request's id"), OptionalIdempotencyKey),
    request_body = ReceiptBody,
    responses(
        (status = 200, body = RequestView),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn receipt(
    State(state): State<AppState>,
    auth: Authorized<CaseworkerOrTreasurer>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = request_id(&id)?;
    let receipt = parse_receipt(&body, state.clock.now().date_naive())?;
    let now = state.clock.now();
    let staff = auth.staff();
    let route = route_key(&id, "receipt");
    let base_url = &state.config.base_url;
    money_step!(
        state,
        staff,
        headers,
        &route,
        body,
        |tx| -> Result<RequestView, FlowError> async {
            let stepped = lifecycle::receipt(tx, now, &staff, &id, &receipt).await?;
            notify::after(tx, now, base_url, stepped).await
        }
    )
}

pub(crate) fn parse_receipt(body: &Value, today: chrono::NaiveDate) -> Result<Receipt, ApiError> {
    fields::only_of::<ReceiptBody>(body)?;
    let short = |field: &str| -> Result<Option<String>, ApiError> {
        fields::optional_string(body, field)?
            .map(|v| {
                Note::parse(v)
                    .map(|n| n.as_str().to_string())
                    .map_err(|e| invalid(field, e))
            })
            .transpose()
    };
    // Not after today here; not before the request where the request is read
    // (`lifecycle::receipt`).
    let paid_on = match fields::optional(body, "paid_on") {
        Some(_) => dates::paid_between(fields::date(body, "paid_on")?, chrono::NaiveDate::MIN, today)
            .map_err(|_| {
                invalid(
                    "paid_on",
                    format!("must be {today} (today) or earlier, and not before the day the request was made: the day it was paid"),
                )
            })?,
        None => today,
    };
    let original = match (
        fields::optional_string(body, "original_currency")?,
        fields::optional(body, "original_amount"),
    ) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(invalid(
                "original_amount",
                "is required with original_currency",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                "original_currency",
                "is required with original_amount",
            ));
        }
        (Some(currency), Some(amount)) => {
            let currency = currency.trim().to_ascii_uppercase();
            if currency.len() != 3
                || !currency.bytes().all(|b| b.is_ascii_uppercase())
                || currency == "CAD"
            {
                return Err(invalid(
                    "original_currency",
                    "must be a three-letter ISO 4217 code other than CAD, such as \"USD\" or \"HTG\"",
                ));
            }
            // The schema's shape, `^\d+(\.\d{1,3})?$` (some currencies have three
            // decimals), and nothing a decimal parser would also take ("+5", "1_000").
            let shaped = |a: &str| {
                let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
                match a.split_once('.') {
                    Some((w, f)) => digits(w) && digits(f) && f.len() <= 3,
                    None => digits(a),
                }
            };
            let amount = amount
                .as_str()
                .filter(|a| shaped(a))
                .and_then(|a| rust_decimal::Decimal::from_str_exact(a).ok())
                .filter(|a| *a > rust_decimal::Decimal::ZERO && a.scale() <= 3)
                .ok_or_else(|| {
                    invalid(
                        "original_amount",
                        "must be a positive amount as a string, such as \"1250.00\"",
                    )
                })?;
            Some(OriginalAmount { currency, amount })
        }
    };
    Ok(Receipt {
        amount: fields::money(body, "amount")?,
        paid_on,
        vendor: short("vendor")?,
        reference: fields::optional_string(body, "reference")?
            .map(|r| {
                crate::domain::note::Reference::parse(r)
                    .map(|r| r.as_str().to_string())
                    .map_err(|e| invalid("reference", e))
            })
            .transpose()?,
        attested: fields::boolean(body, "attested", false)?,
        original,
        paid_by: fields::optional_string(body, "paid_by")?
            .map(|p| p.parse().map_err(|e| invalid("paid_by", e)))
            .transpose()?,
        vendor_id: fields::optional_string(body, "vendor_id")?.map(Into::into),
    })
}

/// Cancels a request that is not settled: its hold, if any, goes back to the fund.
#[utoipa::path(
    post,
    path = "/api/v1/requests/{id}/cancel",
    tag = "requests",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The request's id"), OptionalIdempotencyKey),
    responses(
        (status = 200, body = RequestView),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        Invalid,
    ),
)]
async fn cancel(
    State(state): State<AppState>,
    auth: Authorized<CaseworkerOrTreasurer>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = request_id(&id)?;
    let now = state.clock.now();
    let staff = auth.staff();
    let route = route_key(&id, "cancel");
    money_step!(
        state,
        staff,
        headers,
        &route,
        json!({}),
        |tx| -> Result<RequestView, FlowError> async { lifecycle::cancel(tx, now, &staff, &id).await }
    )
}

/// The automatic approvals no treasurer has reviewed yet.
#[utoipa::path(
    get,
    path = "/api/v1/review",
    tag = "requests",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = Paged<RequestView>), BadRequest, Unauthorized, Forbidden, Invalid),
)]
async fn awaiting_review(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Paged<RequestView>>, ApiError> {
    let page = paging::page_request(query.after.as_deref(), query.limit.as_deref())?;
    let now = state.clock.now();
    let policy = versions::in_force(&state.db, now).await?;
    let views =
        lifecycle::awaiting_review(&state.db, &page, policy.policy.dual_approval_above()).await?;
    Ok(Json(views.into()))
}

/// Marks an automatic approval as reviewed, flagged or not.
#[utoipa::path(
    post,
    path = "/api/v1/requests/{id}/review",
    tag = "requests",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The request's id")),
    request_body = ReviewBody,
    responses(
        (status = 200, body = RequestView),
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        TooLarge,
        Invalid,
    ),
)]
async fn review(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<RequestView>, ApiError> {
    let id = request_id(&id)?;
    fields::only_of::<ReviewBody>(&body)?;
    let flag = fields::boolean(&body, "flag", false)?;
    let reason = fields::optional_string(&body, "reason")?
        .map(|r| Note::parse(r).map_err(|e| invalid("reason", e)))
        .transpose()?;
    let now = state.clock.now();
    let staff = auth.staff();
    let view = write_tx!(&state.db, |tx| -> Result<RequestView, FlowError> async {
        lifecycle::review(tx, now, &staff, &id, flag, reason.as_ref()).await
    })?;
    Ok(Json(view))
}

/// The automatic approvals a treasurer flagged on the next-day review and nobody has
/// cleared, newest flag first, each with the flag's reason and who flagged it (the page
/// `/review/flagged`).
#[utoipa::path(
    get,
    path = "/api/v1/review/flagged",
    tag = "requests",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = Paged<Flagged>), BadRequest, Unauthorized, Forbidden, Invalid),
)]
async fn flagged(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Paged<Flagged>>, ApiError> {
    let page = paging::page_request(query.after.as_deref(), query.limit.as_deref())?;
    let now = state.clock.now();
    let policy = versions::in_force(&state.db, now).await?;
    let items = lifecycle::flagged(&state.db, &page, policy.policy.dual_approval_above()).await?;
    Ok(Json(items.into()))
}

/// Clears a flag once the treasurers have looked into it (audited as `request.unflag`):
/// the request stays reviewed and leaves the flagged list, its reason is gone. Clearing
/// a flag that is not there (a retry) changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/requests/{id}/unflag",
    tag = "requests",
    security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", description = "The request's id")),
    responses(
        (status = 200, body = RequestView),
        Unauthorized,
        Forbidden,
        NotFound,
        Invalid,
    ),
)]
async fn unflag(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Path(id): Path<String>,
) -> Result<Json<RequestView>, ApiError> {
    let id = request_id(&id)?;
    let now = state.clock.now();
    let staff = auth.staff();
    let view = write_tx!(&state.db, |tx| -> Result<RequestView, FlowError> async {
        lifecycle::clear_flag(tx, now, &staff, &id).await
    })?;
    Ok(Json(view))
}
