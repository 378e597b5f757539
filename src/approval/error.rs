use crate::ledger::LedgerError;
use crate::store::{Contention, StoreError};

/// What can stop a step of the request lifecycle; the HTTP layer maps each to a status.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// An email could not be written (a template failed): the change is not made.
    #[error(transparent)]
    Mail(#[from] crate::mail::compose::ComposeError),
}

impl From<crate::cases::CaseError> for FlowError {
    fn from(e: crate::cases::CaseError) -> Self {
        use crate::cases::CaseError;
        match e {
            CaseError::NotFound(m) => FlowError::NotFound(m),
            CaseError::Forbidden(m) => FlowError::Forbidden(m),
            CaseError::Invalid { field, message } => FlowError::Invalid { field, message },
            CaseError::Store(e) => FlowError::Store(e),
        }
    }
}

impl From<crate::idempotency::IdempotencyError> for FlowError {
    fn from(e: crate::idempotency::IdempotencyError) -> Self {
        use crate::idempotency::IdempotencyError;
        match e {
            IdempotencyError::KeyReused => FlowError::Conflict(e.to_string()),
            IdempotencyError::Store(e) => FlowError::Store(e),
        }
    }
}

impl From<crate::funding::FundingError> for FlowError {
    fn from(e: crate::funding::FundingError) -> Self {
        use crate::funding::FundingError;
        match e {
            FundingError::Conflict(m) => FlowError::Conflict(m),
            FundingError::Invalid { field, message } => FlowError::Invalid { field, message },
            FundingError::Store(e) => FlowError::Store(e),
            FundingError::Ledger(e) => FlowError::Ledger(e),
        }
    }
}

impl From<crate::funding::payouts::PayoutError> for FlowError {
    fn from(e: crate::funding::payouts::PayoutError) -> Self {
        use crate::funding::payouts::PayoutError;
        match e {
            PayoutError::NotFound(m) => FlowError::NotFound(m),
            PayoutError::Forbidden(m) => FlowError::Forbidden(m),
            PayoutError::Conflict(m) => FlowError::Conflict(m),
            PayoutError::Invalid { field, message } => FlowError::Invalid { field, message },
            PayoutError::Store(e) => FlowError::Store(e),
            PayoutError::Ledger(e) => FlowError::Ledger(e),
        }
    }
}

impl From<sqlx::Error> for FlowError {
    fn from(e: sqlx::Error) -> Self {
        FlowError::Store(e.into())
    }
}

impl Contention for FlowError {
    fn is_contention(&self) -> bool {
        match self {
            FlowError::Store(e) => e.is_contention(),
            FlowError::Ledger(e) => e.is_contention(),
            _ => false,
        }
    }
}

pub fn invalid(field: &str, message: impl std::fmt::Display) -> FlowError {
    FlowError::Invalid {
        field: field.into(),
        message: message.to_string(),
    }
}
