//! Value types that parse, not validate: once one exists it is valid. No I/O here.

pub mod case_code;
pub mod dates;
pub mod deciding;
pub mod gazetteer;
pub mod identity;
pub mod money;
pub mod note;
pub mod page;
pub mod place;
pub mod province;
pub mod request;
pub mod states;

pub use identity::{Email, Language, OrgType, Password, PasswordError, Role, Roles};
pub use money::{Money, MoneyError};
pub use province::Province;
pub use states::{CaseStatus, ReportSchedule, ReportStatus, RequestStatus, TransferKind};
