//! The one error type of the HTTP layer and its one mapping to a response:
//! `{"error": {"code": "...", "message": "..."}}`.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::approval::policy::FieldError;
use crate::identity::IdentityError;
use crate::identity::tokens::TokenError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// A treasurer or admin who must set up a second factor first.
    #[error("{0}")]
    EnrolmentRequired(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Too many attempts (sign-in throttling); the client may retry after this many seconds.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    #[error("{field}: {message}")]
    Unprocessable { field: String, message: String },
    /// Several fields at once (a policy document): the first names the error, `errors`
    /// lists them all.
    #[error("{field}: {message}")]
    InvalidFields {
        field: String,
        message: String,
        errors: Vec<FieldError>,
    },
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::EnrolmentRequired(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unprocessable { .. } | ApiError::InvalidFields { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::EnrolmentRequired(_) => "second_factor_enrolment_required",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::Unprocessable { .. } | ApiError::InvalidFields { .. } => "invalid_field",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

// The OpenAPI document's `ErrorBody` is derived from this very struct, so the documented
// error shape is the one sent.
/// What every refusal answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// What went wrong, for programs: `bad_request`, `unauthorized`, `forbidden`,
    /// `second_factor_enrolment_required`, `not_found`, `method_not_allowed`, `conflict`, `payload_too_large`,
    /// `too_many_requests`, `invalid_field`, `unavailable` or `internal`.
    #[schema(value_type = String, example = "invalid_field")]
    pub code: &'static str,
    /// What went wrong and what to do, for people.
    pub message: String,
    /// With `invalid_field`: the field to fix (`body` when the body as a whole is wrong).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// With `invalid_field` on a policy document: every field to fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            // The detail goes to the log, never to the client.
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "something went wrong on our side; try again, and tell an admin if it persists"
                    .to_string()
            }
            other => other.to_string(),
        };
        let (field, errors) = match &self {
            ApiError::Unprocessable { field, .. } => (Some(field.clone()), None),
            ApiError::InvalidFields { field, errors, .. } => {
                (Some(field.clone()), Some(errors.clone()))
            }
            _ => (None, None),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message,
                field,
                errors,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::TooManyRequests {
                retry_after_secs, ..
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            ApiError::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(2u32));
            }
            _ => {}
        }
        response
    }
}

impl From<crate::identity::sign_in::SignInError> for ApiError {
    fn from(e: crate::identity::sign_in::SignInError) -> Self {
        use crate::identity::sign_in::SignInError;
        match e {
            SignInError::Refused => ApiError::Unauthorized(e.to_string()),
            SignInError::Throttled { retry_after_secs } => ApiError::TooManyRequests {
                message: e.to_string(),
                retry_after_secs,
            },
            SignInError::WrongCurrent => ApiError::Unprocessable {
                field: "current".into(),
                message: e.to_string(),
            },
            SignInError::Identity(e) => e.into(),
        }
    }
}

impl From<crate::identity::reset::ResetError> for ApiError {
    fn from(e: crate::identity::reset::ResetError) -> Self {
        use crate::identity::reset::ResetError;
        match e {
            ResetError::Throttled { retry_after_secs } => ApiError::TooManyRequests {
                message: e.to_string(),
                retry_after_secs,
            },
            ResetError::BadToken => ApiError::Unprocessable {
                field: "token".into(),
                message: e.to_string(),
            },
            ResetError::Identity(e) => e.into(),
        }
    }
}

impl From<crate::identity::invitations::InvitationError> for ApiError {
    fn from(e: crate::identity::invitations::InvitationError) -> Self {
        use crate::identity::invitations::InvitationError;
        match e {
            InvitationError::BadToken => ApiError::Unprocessable {
                field: "token".into(),
                message: e.to_string(),
            },
            InvitationError::Identity(e) => e.into(),
        }
    }
}

impl From<crate::identity::second_factor::FactorError> for ApiError {
    fn from(e: crate::identity::second_factor::FactorError) -> Self {
        use crate::identity::second_factor::FactorError;
        match e {
            FactorError::AlreadyEnrolled => ApiError::Conflict(e.to_string()),
            FactorError::NotStarted => ApiError::Conflict(
                "no second factor is being set up: start with POST /api/v1/auth/totp".into(),
            ),
            FactorError::WrongCode => ApiError::Unprocessable {
                field: "code".into(),
                message: e.to_string(),
            },
            FactorError::BadChallenge => ApiError::Unprocessable {
                field: "challenge".into(),
                message: e.to_string(),
            },
            FactorError::Throttled { retry_after_secs } => ApiError::TooManyRequests {
                message: e.to_string(),
                retry_after_secs,
            },
            FactorError::Sealed => ApiError::Unavailable(e.to_string()),
            FactorError::Identity(e) => e.into(),
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Invalid { field, message } => ApiError::Unprocessable {
                field: field.into(),
                message,
            },
            IdentityError::UnknownOrg(_) => ApiError::Unprocessable {
                field: "org_id".into(),
                message: e.to_string(),
            },
            IdentityError::DuplicateEmail
            | IdentityError::DuplicateOrg
            | IdentityError::SelfDeactivation
            | IdentityError::SelfDemotion
            | IdentityError::KeysFromConfig
            | IdentityError::RetireConfigKey => ApiError::Conflict(e.to_string()),
            IdentityError::UnknownUser(_)
            | IdentityError::UnknownOrgId(_)
            | IdentityError::UnknownKey(_) => ApiError::NotFound(e.to_string()),
            IdentityError::Store(e) => e.into(),
            IdentityError::Hash(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Store(e) => e.into(),
            other => ApiError::Unauthorized(other.to_string()),
        }
    }
}

impl From<crate::approval::FlowError> for ApiError {
    fn from(e: crate::approval::FlowError) -> Self {
        use crate::approval::FlowError;
        match e {
            FlowError::NotFound(m) => ApiError::NotFound(m),
            FlowError::Forbidden(m) => ApiError::Forbidden(m),
            FlowError::Conflict(m) => ApiError::Conflict(m),
            FlowError::Invalid { field, message } => ApiError::Unprocessable { field, message },
            FlowError::Store(e) => e.into(),
            FlowError::Ledger(crate::ledger::LedgerError::IdConflict { id }) => {
                ApiError::Conflict(format!("transfer {id} was already made differently"))
            }
            FlowError::Ledger(crate::ledger::LedgerError::Store(e)) => e.into(),
            FlowError::Mail(e) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<crate::funding::FundingError> for ApiError {
    fn from(e: crate::funding::FundingError) -> Self {
        crate::approval::FlowError::from(e).into()
    }
}

impl From<crate::cases::CaseError> for ApiError {
    fn from(e: crate::cases::CaseError) -> Self {
        crate::approval::FlowError::from(e).into()
    }
}

impl From<crate::idempotency::IdempotencyError> for ApiError {
    fn from(e: crate::idempotency::IdempotencyError) -> Self {
        crate::approval::FlowError::from(e).into()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "the database does not answer");
            return ApiError::Unavailable(
                "the database does not answer at the moment: try again in a few seconds \
                 (a retry with the same Idempotency-Key is made once)"
                    .into(),
            );
        }
        ApiError::Internal(e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::BadRequest(
                "send the body as JSON with the header Content-Type: application/json".into(),
            ),
            JsonRejection::JsonDataError(e) => ApiError::Unprocessable {
                field: "body".into(),
                message: e.body_text(),
            },
            JsonRejection::JsonSyntaxError(e) => {
                ApiError::BadRequest(format!("the body is not valid JSON: {}", e.body_text()))
            }
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge("the body is too large: send less".into())
            }
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(format!(
            "the query string is not understood: {}",
            rejection.body_text()
        ))
    }
}

/// `axum::extract::Query`, with rejections (a parameter given twice) in Passage's error
/// format.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// `axum::Json`, with rejections in Passage's error format, that also refuses a NUL
/// character (`\u0000`) in any string with 422 naming the field: no field of Passage
/// holds one, PostgreSQL's text cannot store one (it failed there as a 500 while SQLite
/// stored it), and a NUL cuts strings short in programs that read what Passage exports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::BadRequest(
                "send the body as JSON with the header Content-Type: application/json".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge("the body is too large: send less".into())
                } else {
                    ApiError::BadRequest(e.body_text())
                }
            })?;
        if let Some(field) = field_with_nul(&bytes) {
            return Err(ApiError::Unprocessable {
                field,
                message: "must not contain a NUL character (\\u0000)".into(),
            });
        }
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(Json(value))
    }
}

/// What `axum::Json` accepts: `application/json` or `application/...+json`.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The dotted name of the first string (or key) of a JSON body holding a NUL, if any.
/// JSON can only carry one escaped, so bodies without `\u0000` are not parsed twice.
fn field_with_nul(body: &[u8]) -> Option<String> {
    if !body.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return None;
    }
    fn find(v: &serde_json::Value, at: &str) -> Option<String> {
        let here = || {
            if at.is_empty() {
                "body".to_string()
            } else {
                at.to_string()
            }
        };
        match v {
            serde_json::Value::String(s) if s.contains('\0') => Some(here()),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, item)| find(item, &format!("{}[{i}]", here()))),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, item)| {
                let name = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                if k.contains('\0') {
                    Some(name)
                } else {
                    find(item, &name)
                }
            }),
            _ => None,
        }
    }
    // A body that is not JSON is left to axum's own error.
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| find(&v, ""))
}

/// `axum::extract::Path`, with rejections in Passage's error format: a parameter that
/// cannot be read (not UTF-8 once decoded) or that holds a NUL (`%00`) names nothing
/// Passage has, so it is 404 like any other unknown address.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let nothing = || ApiError::NotFound("there is nothing at this address".into());
        if parts.uri.path().to_ascii_lowercase().contains("%00") {
            return Err(nothing());
        }
        let axum::extract::Path(value) = axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(|_| nothing())?;
        Ok(Path(value))
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A JSON body serialised already (a stored answer), sent as it is with the header
/// [`Json`] sends.
#[derive(Debug, Clone)]
pub struct JsonText(pub String);

impl IntoResponse for JsonText {
    fn into_response(self) -> Response {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.0,
        )
            .into_response()
    }
}
