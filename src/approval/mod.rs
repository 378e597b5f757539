//! The policy engine: the approval rules the treasurers set and the pure decision they give
//! on a new request. No I/O: storage reads the figures and writes the outcome.

pub mod decide;
pub mod policy;

pub use decide::{Decision, FundState, Proposal, ProposalError, decide, needs_two_treasurers};
pub use policy::{CaseCap, FieldError, Policy, Rule};
