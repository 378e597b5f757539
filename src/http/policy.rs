//! The approval rules: read the one in force or any other version; propose a new one, which
//! takes force when a second treasurer co-signs it.

use std::borrow::Cow;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::schema::{AdditionalProperties, KnownFormat, SchemaFormat, SchemaType};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json, Path};
use super::extractor::{Authorized, Treasurer};
use super::openapi::{
    AMOUNT_OR_ZERO_PATTERN, BadRequest, Conflict, Forbidden, Invalid, NotFound, TooLarge,
    Unauthorized,
};
use crate::approval::policy::{CASE_CAP_DAYS_MAX, ESCALATE_AFTER_MINUTES_MAX, HOLD_HOURS_MAX};
use crate::approval::versions::{self, PolicyVersion};
use crate::approval::{FlowError, Policy, Rule};
use crate::domain::Money;
use crate::domain::request::{Category, MAX_NIGHTS};
use crate::state::AppState;
use crate::store::StoreError;
use crate::write_tx;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(current, replace))
        .routes(routes!(version))
        .routes(routes!(cosign))
}

/// Where a version stands after a proposal or a co-signature.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
enum PolicyStatus {
    /// Waits for a second, distinct treasurer to co-sign it.
    Proposed,
    /// Decides every request from now on.
    InForce,
}

/// The answer to a proposal or a co-signature.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct PolicyStanding {
    version: i64,
    status: PolicyStatus,
}

impl From<&PolicyVersion> for PolicyStanding {
    fn from(v: &PolicyVersion) -> Self {
        PolicyStanding {
            version: v.version,
            status: match v.standing() {
                versions::Standing::Proposed => PolicyStatus::Proposed,
                versions::Standing::InForce => PolicyStatus::InForce,
            },
        }
    }
}

/// The body of `PUT /api/v1/policy`, as `Policy::parse` reads it. Written out from the
/// policy's own constants and default rules rather than derived, because its limits and
/// which categories need an amount come from there.
struct PolicyUpdate;

/// A policy version as `GET /api/v1/policy` shows it: every field filled in.
struct PolicyVersionDoc;

fn object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)))
}

fn whole(max: u32) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(max))
}

fn rule(category: Category) -> ObjectBuilder {
    match Policy::default().rule_for(category) {
        Some(Rule::Hotel { .. }) => object()
            .description(Some(
                "Approved without a treasurer up to these limits; a limit left out keeps its default",
            ))
            .property("max_nights", whole(MAX_NIGHTS))
            .property("max_nightly_rate", Money::schema())
            .property("max_amount", Money::schema()),
        Some(Rule::MaxAmount(_)) => object()
            .description(Some(
                "Approved without a treasurer up to this amount; left out, the default",
            ))
            .property("max_amount", Money::schema()),
        None => object()
            .description(Some(
                "Approved without a treasurer up to this amount; this category has no default",
            ))
            .property("max_amount", Money::schema())
            .required("max_amount"),
    }
}

/// The categories that may skip a treasurer; given, it replaces the default list, so a
/// category left out always waits for a treasurer.
fn auto_approve() -> ObjectBuilder {
    Category::ALL
        .into_iter()
        .fold(object(), |o, c| o.property(c.as_str(), rule(c)))
        .description(Some(
            "The categories approved without a treasurer, each with its limits; a category left out always waits for one",
        ))
}

/// The fields of a policy document, both ways.
fn rules() -> Vec<(&'static str, RefOr<Schema>)> {
    vec![
        ("auto_approve", auto_approve().into()),
        (
            "case_auto_cap",
            object()
                .description(Some(
                    "The most one case receives automatically over a rolling window",
                ))
                .property("amount", Money::schema())
                .property("days", whole(CASE_CAP_DAYS_MAX))
                .into(),
        ),
        (
            "reserve_floor",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(AMOUNT_OR_ZERO_PATTERN))
                .description(Some(
                    "What automatic approvals must leave available; \"0.00\" keeps no reserve",
                ))
                .into(),
        ),
        ("dual_approval_above", Money::schema()),
        ("hold_hours", whole(HOLD_HOURS_MAX).into()),
        (
            "escalate_after_minutes",
            whole(ESCALATE_AFTER_MINUTES_MAX).into(),
        ),
        (
            "report_cadence",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["month", "quarter"]))
                .description(Some(
                    "How often the fund drafts its donor report, each from where the chain of reports ends; \"month\" by default",
                ))
                .into(),
        ),
    ]
}

impl PartialSchema for PolicyUpdate {
    fn schema() -> RefOr<Schema> {
        let version = ObjectBuilder::new()
            .schema_type(SchemaType::AnyValue)
            .description(Some(
                "Ignored: the number storage gives each version, accepted so that what GET shows can be sent back",
            ));
        let created_at = ObjectBuilder::new()
            .schema_type(SchemaType::AnyValue)
            .description(Some(
                "Ignored: when storage kept that version, accepted so that what GET shows can be sent back",
            ));
        let start = [
            "status",
            "proposed_by",
            "in_force_at",
            "cosigned_by",
            "cosigned_at",
        ]
        .into_iter()
        .fold(
            object()
                .property("version", version)
                .property("created_at", created_at),
            |o, name| {
                o.property(
                    name,
                    ObjectBuilder::new()
                        .schema_type(SchemaType::AnyValue)
                        .description(Some("Ignored: stamped by storage, accepted so that what GET shows can be sent back")),
                )
            },
        );
        rules()
            .into_iter()
            .fold(start, |o, (name, schema)| {
                o.property(name, schema)
            })
            .description(Some(
                "A field left out takes its default; auto_approve, given, replaces the default list",
            ))
            .into()
    }
}

impl ToSchema for PolicyUpdate {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("PolicyUpdate")
    }
}

impl PartialSchema for PolicyVersionDoc {
    fn schema() -> RefOr<Schema> {
        let start = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("version", ObjectBuilder::new().schema_type(Type::Integer))
            .required("version")
            .property(
                "created_at",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
            )
            .required("created_at")
            .property(
                "status",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["proposed", "in_force"]))
                    .description(Some(
                        "proposed: waits for a second treasurer; in_force: took force (a later version may have replaced it)",
                    )),
            )
            .required("status")
            .property(
                "proposed_by",
                ObjectBuilder::new().schema_type(Type::String).description(Some(
                    "user:ID of the treasurer who proposed it, cli from the server's shell, system for the defaults",
                )),
            )
            .required("proposed_by")
            .property("in_force_at", nullable_time())
            .required("in_force_at")
            .property(
                "cosigned_by",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .description(Some("user:ID of the second treasurer who co-signed it")),
            )
            .required("cosigned_by")
            .property("cosigned_at", nullable_time())
            .required("cosigned_at");
        rules()
            .into_iter()
            .fold(start, |o, (name, schema)| {
                o.property(name, schema).required(name)
            })
            .into()
    }
}

fn nullable_time() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
}

impl ToSchema for PolicyVersionDoc {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("PolicyVersion")
    }
}

/// The approval rules in force, every default filled in.
#[utoipa::path(
    get,
    path = "/api/v1/policy",
    tag = "policy",
    security(("bearer" = [])),
    responses((status = 200, body = PolicyVersionDoc), Unauthorized, Forbidden),
)]
async fn current(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
) -> Result<Json<Value>, ApiError> {
    let now = state.clock.now();
    let policy = versions::in_force(&state.db, now).await?;
    Ok(Json(policy.to_json()))
}

/// An earlier version of the approval rules.
#[utoipa::path(
    get,
    path = "/api/v1/policy/versions/{version}",
    tag = "policy",
    security(("bearer" = [])),
    params(("version" = i64, Path, description = "The version number")),
    responses(
        (status = 200, body = PolicyVersionDoc),
        Unauthorized,
        Forbidden,
        NotFound,
        Invalid,
    ),
)]
async fn version(
    State(state): State<AppState>,
    _: Authorized<Treasurer>,
    Path(version): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let number: i64 = version.parse().map_err(|_| ApiError::Unprocessable {
        field: "version".into(),
        message: "must be a whole number".into(),
    })?;
    let now = state.clock.now();
    let found = crate::read_tx!(&state.db, |tx| -> Result<Option<PolicyVersion>, StoreError> async {
        versions::current(tx, now).await?;
        versions::find(tx, number).await
    })?;
    found
        .map(|p| Json(p.to_json()))
        .ok_or_else(|| ApiError::NotFound(format!("there is no policy version {number}")))
}

/// Proposes a new version of the approval rules. It decides nothing until a second,
/// distinct treasurer co-signs it (`POST /api/v1/policy/versions/{version}/cosign`). Every
/// problem is reported at once: `error.field` names the first, `error.errors` lists them all.
#[utoipa::path(
    put,
    path = "/api/v1/policy",
    tag = "policy",
    security(("bearer" = [])),
    request_body = PolicyUpdate,
    responses(
        (status = 202, body = PolicyStanding, description = "Proposed: waits for another treasurer"),
        BadRequest,
        Unauthorized,
        Forbidden,
        TooLarge,
        Invalid,
    ),
)]
async fn replace(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<PolicyStanding>), ApiError> {
    let policy = versions::parse(body).map_err(|errors| {
        let first = errors
            .first()
            .map(|e| (e.field.clone(), e.message.clone()))
            .unwrap_or_default();
        ApiError::InvalidFields {
            field: first.0,
            message: first.1,
            errors,
        }
    })?;
    let now = state.clock.now();
    let actor = auth.staff().actor();
    let proposed = write_tx!(&state.db, |tx| -> Result<PolicyVersion, FlowError> async {
        // The version in force first: on a new database the defaults become version 1.
        versions::current(tx, now).await?;
        Ok(versions::propose(tx, now, &actor, policy.clone()).await?)
    })?;
    Ok((StatusCode::ACCEPTED, Json(PolicyStanding::from(&proposed))))
}

/// Co-signs a proposed version, which takes force at once. The treasurer who proposed it
/// cannot (403): two distinct treasurers decide the rules together.
#[utoipa::path(
    post,
    path = "/api/v1/policy/versions/{version}/cosign",
    tag = "policy",
    security(("bearer" = [])),
    params(("version" = i64, Path, description = "The proposed version's number")),
    responses(
        (status = 200, body = PolicyStanding, description = "In force from now on"),
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        Invalid,
    ),
)]
async fn cosign(
    State(state): State<AppState>,
    auth: Authorized<Treasurer>,
    Path(version): Path<String>,
) -> Result<Json<PolicyStanding>, ApiError> {
    let number: i64 = version.parse().map_err(|_| ApiError::Unprocessable {
        field: "version".into(),
        message: "must be a whole number".into(),
    })?;
    let now = state.clock.now();
    let actor = auth.staff().actor();
    let signed = write_tx!(&state.db, |tx| -> Result<PolicyVersion, FlowError> async {
        versions::cosign(tx, now, &actor, number).await
    })?;
    Ok(Json(PolicyStanding::from(&signed)))
}
