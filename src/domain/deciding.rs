//! What a treasurer decides with, as values: why a request was declined (a code beside
//! the typed reason) and by how much a request goes past the rule that sent it to a
//! treasurer. The figures are computed by `approval::excess`; the words by `i18n`.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// Why a treasurer declined, beside the reason they typed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DeclineCode {
    /// A cheaper way exists (another fare, a bus instead of a flight).
    CheaperOption,
    /// Not what this fund pays for.
    NotCovered,
    /// Another request already covers it.
    Duplicate,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a decline code: use one of cheaper_option, not_covered, duplicate, other")]
pub struct UnknownDeclineCode;

impl DeclineCode {
    pub const ALL: [DeclineCode; 4] = [
        DeclineCode::CheaperOption,
        DeclineCode::NotCovered,
        DeclineCode::Duplicate,
        DeclineCode::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeclineCode::CheaperOption => "cheaper_option",
            DeclineCode::NotCovered => "not_covered",
            DeclineCode::Duplicate => "duplicate",
            DeclineCode::Other => "other",
        }
    }
}

impl FromStr for DeclineCode {
    type Err = UnknownDeclineCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeclineCode::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(UnknownDeclineCode)
    }
}

impl fmt::Display for DeclineCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an excess counts: money (decimal strings) or hotel nights (whole numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Money,
    Nights,
}

/// Which limit an excess is over, for its words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// A category's automatic amount (a hotel stay's total among them).
    CategoryAmount,
    HotelNights,
    NightlyRate,
    CaseCap,
    ReserveFloor,
}

impl Limit {
    /// The message that says it (`templates/i18n/*/passage.ftl`).
    pub fn key(self) -> &'static str {
        match self {
            Limit::CategoryAmount => "excess-category",
            Limit::HotelNights => "excess-nights",
            Limit::NightlyRate => "excess-rate",
            Limit::CaseCap => "excess-case-cap",
            Limit::ReserveFloor => "excess-floor",
        }
    }
}

/// A figure a rule looked at, beside its limit: "case cap: 1,120.00 of 1,000.00 in 7 days".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Excess {
    /// The rule's stable name (`case_auto_cap`, `auto_approve.bus.max_amount`, ...).
    pub rule: String,
    /// Which limit it is, for its words.
    #[serde(skip)]
    pub kind: Limit,
    pub unit: Unit,
    /// What the request brings the figure to (for `reserve_floor`: what the fund would
    /// keep after it).
    pub value: String,
    /// The policy's limit.
    pub limit: String,
    /// The rolling window of `case_auto_cap`, in days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
}
