//! Value types that parse, not validate: once one exists it is valid. No I/O here.

pub mod money;

pub use money::{Money, MoneyError};
