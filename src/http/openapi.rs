//! The OpenAPI document at `GET /api/v1/openapi.json`.
//!
//! Nothing here lists routes: each handler carries its own `#[utoipa::path]`, and the router
//! is assembled from those handlers by `utoipa_axum`, so a route cannot be served without
//! being described. The request body schemas are the lists the handlers accept fields
//! from (see [`super::fields::only_of`]), and the answers' schemas are derived from the
//! structs that are serialised. What is left here: the document's frame, the schemas of
//! domain values that have their own parsers (amounts, provinces), and the error answers
//! every operation shares.

use std::borrow::Cow;
use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use serde_json::json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, PartialSchema, ToSchema};

use super::error::ErrorBody;
use crate::domain::Money;
use crate::domain::province::PROVINCES;

/// An amount or zero as a string, exact to the cent (the policy's reserve floor).
pub const AMOUNT_OR_ZERO_PATTERN: &str = r"^\d{1,6}(\.\d{1,2})?$";

/// What `Money` parses: from 0.01 to 100000.00, at most two decimals, no sign, no exponent.
/// Written without look-arounds so that test generators can produce matching strings.
const MONEY_PATTERN: &str = r"^([1-9]\d{0,4}(\.\d{1,2})?|100000(\.0{1,2})?|0\.(0[1-9]|[1-9]\d?))$";

/// The name of the security scheme; each signed-in operation names it in
/// `security(("bearer" = []))` (the attribute takes only a literal).
const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Passage",
        description = "A pooled emergency fund for organisations that help people leaving human trafficking. \
            Sign in with POST /api/v1/auth/login and send the token as `Authorization: Bearer TOKEN`. \
            Amounts are strings exact to the cent (\"189.00\"), never JSON numbers. \
            Every refusal is `{\"error\": {\"code\", \"message\"}}`; a refused field is named in `error.field`.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody)),
    tags(
        (name = "health", description = "Whether the service and its database answer"),
        (name = "auth", description = "Signing in and out"),
        (name = "orgs", description = "Member organisations"),
        (name = "users", description = "Staff accounts"),
        (name = "keys", description = "The keys that sign sessions: rotate, retire"),
        (name = "settings", description = "The instance's settings, read-only"),
        (name = "cases", description = "Anonymous cases"),
        (name = "funding", description = "Donors, donations, the fund and reserves"),
        (name = "policy", description = "The fast approval rules"),
        (name = "requests", description = "Requests for money and their lifecycle"),
        (name = "reports", description = "Donor reports: drafted, sealed by two treasurers, verified, emailed"),
        (name = "donor", description = "What a donor's signed link opens"),
        (name = "audit", description = "The audit trail's hash chain"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The token POST /api/v1/auth/login answers; it expires, and signing out revokes it",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document as served, built once from the same handlers the router is built from.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    let (_, document) = super::api().split_for_parts();
    document
        .to_json()
        // Serialising a tree of strings, maps and numbers into a String cannot fail.
        .expect("the OpenAPI document serialises")
});

/// The OpenAPI 3.1 document describing every route of this server.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "health",
    responses((status = 200, description = "This document", content_type = "application/json", body = Object)),
)]
pub async fn document() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

impl PartialSchema for Money {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(MONEY_PATTERN))
            .description(Some(
                "Canadian dollars as a string exact to the cent, from 0.01 to 100000.00",
            ))
            .examples([json!("189.00")])
            .into()
    }
}

impl ToSchema for Money {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Amount")
    }
}

impl PartialSchema for crate::domain::Province {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(PROVINCES.iter().copied()))
            .description(Some(
                "A Canadian province or territory by its postal code (any case is accepted)",
            ))
            .into()
    }
}

impl ToSchema for crate::domain::Province {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Province")
    }
}

pub use crate::domain::money::Figure;

/// `\u` escapes with four digits read the same in ECMA-262, Python and the regex crate.
const EMAIL_PATTERN: &str = concat!(
    r"^\s*[^@\s\u0000-\u001f\u007f-\u009f]+",
    r"@[^@\s.\u0000-\u001f\u007f-\u009f][^@\s\u0000-\u001f\u007f-\u009f]*",
    r"\.[^@\s\u0000-\u001f\u007f-\u009f]*[^@\s.\u0000-\u001f\u007f-\u009f]\s*$",
);

/// An email address as `Email::parse` takes it: something, `@`, and a domain with a dot
/// inside it. For the document only, as `#[schema(value_type = EmailAddress)]`.
pub struct EmailAddress;

impl PartialSchema for EmailAddress {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(EMAIL_PATTERN))
            .max_length(Some(254))
            .examples([json!("someone@example.org")])
            .into()
    }
}

impl ToSchema for EmailAddress {}

/// What a route that creates something answers.
#[derive(Serialize, ToSchema)]
pub struct Created {
    pub id: String,
}

/// The `Idempotency-Key` header of a route that moves money.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[expect(dead_code, reason = "a schema only: read by `idempotency_key`")]
pub struct IdempotencyKey {
    /// A new random value (such as a UUID) per request, the same one when retrying: the same
    /// key and body get the first answer again; the same key with another body is 409.
    #[param(
        rename = "Idempotency-Key",
        min_length = 1,
        max_length = 200,
        pattern = r"\S"
    )]
    key: String,
}

/// The `Idempotency-Key` header of a step a client may retry: without it the step runs as
/// it is; with it a retry gets the first answer.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[expect(dead_code, reason = "a schema only: read by `idempotency_key`")]
pub struct OptionalIdempotencyKey {
    /// A new random value (such as a UUID) per request, the same one when retrying.
    #[param(
        rename = "Idempotency-Key",
        required = false,
        min_length = 1,
        max_length = 200,
        pattern = r"\S"
    )]
    key: String,
}

// The error answers operations share, each referring to the one `ErrorBody` schema.

/// The body is not JSON or has no `Content-Type: application/json`, a required header
/// (`Idempotency-Key`) is missing, or the query string is not understood.
#[derive(IntoResponses)]
#[response(status = 400)]
pub struct BadRequest(#[expect(dead_code, reason = "a schema only")] ErrorBody);

/// No valid token: sign in first and send `Authorization: Bearer TOKEN`.
#[derive(IntoResponses)]
#[response(
    status = 401,
    headers(("WWW-Authenticate" = String, description = "Bearer"))
)]
pub struct Unauthorized(#[expect(dead_code, reason = "a schema only")] ErrorBody);

/// The signed-in user lacks the role, or the thing asked for is another organisation's.
#[derive(IntoResponses)]
#[response(status = 403)]
pub struct Forbidden(#[expect(dead_code, reason = "a schema only")] ErrorBody);

/// Nothing has this id (told only to those who may see everything).
#[derive(IntoResponses)]
#[response(status = 404)]
pub struct NotFound(#[expect(dead_code, reason = "a schema only")] ErrorBody);

/// The state does not allow it, or the `Idempotency-Key` was used with another body.
#[derive(IntoResponses)]
#[response(status = 409)]
pub struct Conflict(#[expect(dead_code, reason = "a schema only")] ErrorBody);

/// The body is larger than the server takes.
#[derive(IntoResponses)]
#[response(status = 413)]
pub struct TooLarge(#[expect(dead_code, reason = "a schema only")] ErrorBody);

/// A field is missing or wrong; `error.field` names it.
#[derive(IntoResponses)]
#[response(status = 422)]
pub struct Invalid(#[expect(dead_code, reason = "a schema only")] ErrorBody);

/// Too many failed sign-ins; try again after `Retry-After` seconds.
#[derive(IntoResponses)]
#[response(
    status = 429,
    headers(("Retry-After" = u64, description = "Seconds to wait"))
)]
pub struct TooManyRequests(#[expect(dead_code, reason = "a schema only")] ErrorBody);

/// The database does not answer.
#[derive(IntoResponses)]
#[response(status = 503)]
pub struct Unavailable(#[expect(dead_code, reason = "a schema only")] ErrorBody);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Email;

    fn matches(pattern: &str, s: &str) -> bool {
        regex::Regex::new(pattern).unwrap().is_match(s)
    }

    #[test]
    fn the_amount_pattern_takes_what_money_parses() {
        let taken = [
            "0.01",
            "0.1",
            "0.10",
            "0.99",
            "1",
            "189.00",
            "64.5",
            "99999.99",
            "100000",
            "100000.0",
            "100000.00",
        ];
        let refused = [
            "0",
            "0.00",
            "0.001",
            "1.005",
            "-1.00",
            "100000.01",
            "100001",
            "1e3",
            "",
            "abc",
        ];
        for s in taken {
            assert!(s.parse::<Money>().is_ok(), "{s}");
            assert!(matches(MONEY_PATTERN, s), "{s}");
        }
        for s in refused {
            assert!(s.parse::<Money>().is_err(), "{s}");
            assert!(!matches(MONEY_PATTERN, s), "{s}");
        }
    }

    #[test]
    fn the_email_pattern_takes_what_email_parses() {
        let taken = [
            "a@example.org",
            " Ana@Example.ORG ",
            "x.y+z@mail.example.ca",
        ];
        let refused = [
            "",
            "ana",
            "@example.org",
            "ana@",
            "ana@org",
            "a b@example.org",
            "a@b@example.org",
            "a@.org",
            "a@org.",
            "a\u{1b}b@example.org",
            "ab@exa\u{85}mple.org",
        ];
        for s in taken {
            assert!(Email::parse(s).is_ok(), "{s}");
            assert!(matches(EMAIL_PATTERN, s), "{s}");
        }
        for s in refused {
            assert!(Email::parse(s).is_err(), "{s}");
            assert!(!matches(EMAIL_PATTERN, s), "{s}");
        }
    }
}
