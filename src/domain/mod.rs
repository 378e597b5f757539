//! Value types that parse, not validate: once one exists it is valid. No I/O here.

pub mod case_code;
pub mod money;
pub mod note;
pub mod place;
pub mod request;

pub use money::{Money, MoneyError};
