//! The policy engine and the request lifecycle: the approval rules the treasurers set, the
//! pure decision they give on a new request, and the steps that store it and move money.

pub mod decide;
pub mod error;
pub mod excess;
pub mod itinerary;
pub mod lifecycle;
pub mod notify;
pub mod policy;
pub mod submit;
pub mod versions;

pub use decide::{
    Decision, FundState, Proposal, ProposalError, RuleId, decide, needs_two_treasurers,
};
pub use error::FlowError;
pub use policy::{CaseCap, FieldError, Policy, Rule};
