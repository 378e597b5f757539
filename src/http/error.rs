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
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
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
    /// `not_found`, `method_not_allowed`, `conflict`, `payload_too_large`,
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
            SignInError::Identity(e) => e.into(),
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
            | IdentityError::KeysFromConfig => ApiError::Conflict(e.to_string()),
            IdentityError::UnknownUser(_) => ApiError::NotFound(e.to_string()),
            IdentityError::Hash(_) | IdentityError::Store(_) => ApiError::Internal(e.to_string()),
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
            FlowError::Ledger(e) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
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

/// `axum::Json`, with rejections in Passage's error format.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
