//! The closed sets of states Passage stores as text: a request's status, a ledger
//! transfer's kind, a report's status and schedule, a case's status, and the payouts'
//! modes, methods and statuses (issue 18). Each is an enum here, stored through sqlx as
//! TEXT on both engines, and written into SQL text only by its `sql` / `sql_list` or
//! bound: no other module spells them (tests/layers.rs checks it).

use std::fmt;
use std::str::FromStr;

/// Implements sqlx's `Type`, `Encode` and `Decode` for a text enum on any engine whose
/// strings do, through `as_str` and `FromStr`.
macro_rules! text_column {
    ($t:ty) => {
        impl<DB: sqlx::Database> sqlx::Type<DB> for $t
        where
            String: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $t
        where
            &'q str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&'q str as sqlx::Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $t
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                Ok(text.parse::<$t>()?)
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

/// An unknown word where a state was expected (a row written by hand, a bad query).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{word:?} is not {what}: use one of {choices}")]
pub struct UnknownState {
    pub word: String,
    pub what: &'static str,
    pub choices: String,
}

/// A request's status: submitted → approved (a hold) | pending | declined; a pending one is
/// approved or declined, or sent back to its caseworker with a question (info_requested,
/// back to pending with the answer); an approved one is settled, cancelled or expires; a
/// receipt for an expired one waits for a treasurer (receipt_pending → settled | expired).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Pending,
    Approved,
    Declined,
    Settled,
    Cancelled,
    Expired,
    InfoRequested,
    ReceiptPending,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 8] = [
        RequestStatus::Pending,
        RequestStatus::Approved,
        RequestStatus::Declined,
        RequestStatus::Settled,
        RequestStatus::Cancelled,
        RequestStatus::Expired,
        RequestStatus::InfoRequested,
        RequestStatus::ReceiptPending,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Declined => "declined",
            RequestStatus::Settled => "settled",
            RequestStatus::Cancelled => "cancelled",
            RequestStatus::Expired => "expired",
            RequestStatus::InfoRequested => "info_requested",
            RequestStatus::ReceiptPending => "receipt_pending",
        }
    }

    /// The status as an SQL literal (`'approved'`), for a condition an index depends on.
    pub fn sql(self) -> String {
        format!("'{}'", self.as_str())
    }

    /// Statuses as an SQL list (`('approved', 'settled')`).
    pub fn sql_list(statuses: &[RequestStatus]) -> String {
        let words: Vec<String> = statuses.iter().map(|s| s.sql()).collect();
        format!("({})", words.join(", "))
    }

    /// Whether the request holds or spent the fund's money (what counts against a case's
    /// rolling window).
    pub fn uses_money(self) -> bool {
        matches!(self, RequestStatus::Approved | RequestStatus::Settled)
    }

    /// Waiting for a treasurer (the pages ask this rather than compare text).
    pub fn is_pending(self) -> bool {
        self == RequestStatus::Pending
    }

    /// Approved, its hold waiting for a receipt.
    pub fn is_approved(self) -> bool {
        self == RequestStatus::Approved
    }

    /// Takes a receipt: approved, or expired (a late receipt, which a treasurer decides on).
    pub fn takes_receipt(self) -> bool {
        matches!(self, RequestStatus::Approved | RequestStatus::Expired)
    }

    /// A late receipt waiting for a treasurer.
    pub fn is_receipt_pending(self) -> bool {
        self == RequestStatus::ReceiptPending
    }

    /// Whether the request is still open: waiting for a treasurer or its caseworker, or
    /// holding money.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            RequestStatus::Pending
                | RequestStatus::Approved
                | RequestStatus::InfoRequested
                | RequestStatus::ReceiptPending
        )
    }
}

impl FromStr for RequestStatus {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RequestStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownState {
                word: s.into(),
                what: "a request status",
                choices: RequestStatus::ALL.map(RequestStatus::as_str).join(", "),
            })
    }
}

text_column!(RequestStatus);

/// What a ledger transfer does: moves money at once, holds it, or resolves a hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferKind {
    Single,
    Pending,
    Post,
    Void,
    Expire,
}

impl TransferKind {
    pub const ALL: [TransferKind; 5] = [
        TransferKind::Single,
        TransferKind::Pending,
        TransferKind::Post,
        TransferKind::Void,
        TransferKind::Expire,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TransferKind::Single => "single",
            TransferKind::Pending => "pending",
            TransferKind::Post => "post",
            TransferKind::Void => "void",
            TransferKind::Expire => "expire",
        }
    }

    /// The kind as an SQL literal (`'pending'`).
    pub fn sql(self) -> String {
        format!("'{}'", self.as_str())
    }

    /// Kinds as an SQL list (`('post', 'single')`).
    pub fn sql_list(kinds: &[TransferKind]) -> String {
        let words: Vec<String> = kinds.iter().map(|k| k.sql()).collect();
        format!("({})", words.join(", "))
    }
}

impl FromStr for TransferKind {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TransferKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownState {
                word: s.into(),
                what: "a transfer kind",
                choices: TransferKind::ALL.map(TransferKind::as_str).join(", "),
            })
    }
}

text_column!(TransferKind);

/// Declares a closed set stored as text: the enum (serialised as its word), `ALL`,
/// `as_str`, `sql`, `sql_list`, `FromStr` and the sqlx column impls.
macro_rules! closed_set {
    ($(#[$meta:meta])* $t:ident, $what:literal, { $($(#[$vmeta:meta])* $v:ident => $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
            utoipa::ToSchema,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum $t {
            $($(#[$vmeta])* $v),+
        }

        impl $t {
            pub const ALL: &'static [$t] = &[$($t::$v),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($t::$v => $word),+
                }
            }

            /// The word as an SQL literal (`'draft'`).
            pub fn sql(self) -> String {
                format!("'{}'", self.as_str())
            }

            /// Words as an SQL list (`('draft', 'awaiting_cosign')`).
            pub fn sql_list(items: &[$t]) -> String {
                let words: Vec<String> = items.iter().map(|s| s.sql()).collect();
                format!("({})", words.join(", "))
            }
        }

        impl FromStr for $t {
            type Err = UnknownState;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $t::ALL
                    .iter()
                    .copied()
                    .find(|item| item.as_str() == s)
                    .ok_or_else(|| UnknownState {
                        word: s.into(),
                        what: $what,
                        choices: $t::ALL
                            .iter()
                            .map(|item| item.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            }
        }

        text_column!($t);
    };
}

closed_set!(
    /// A donor report's status: a `draft` is frozen by a first treasurer
    /// (`awaiting_cosign`) and co-signed by a second (`sealed`).
    ReportStatus, "a report status", {
        Draft => "draft",
        AwaitingCosign => "awaiting_cosign",
        Sealed => "sealed",
    }
);

impl ReportStatus {
    /// Not frozen yet (the pages ask this rather than compare text).
    pub fn is_draft(self) -> bool {
        self == ReportStatus::Draft
    }

    /// Frozen and co-signed.
    pub fn is_sealed(self) -> bool {
        self == ReportStatus::Sealed
    }
}

closed_set!(
    /// How a report was drafted: by a treasurer, or by the sweeper at the fund's cadence.
    ReportSchedule, "a report schedule", {
        Manual => "manual",
        Monthly => "monthly",
        Quarterly => "quarterly",
    }
);

closed_set!(
    /// A case's status: an `open` case takes requests, a `closed` one does not.
    CaseStatus, "a case status", {
        Open => "open",
        Closed => "closed",
    }
);

impl CaseStatus {
    pub fn is_open(self) -> bool {
        self == CaseStatus::Open
    }

    pub fn is_closed(self) -> bool {
        self == CaseStatus::Closed
    }
}

closed_set!(
    /// How the fund pays for an organisation's purchases by default (issue 18).
    PaymentMode, "a payment mode", {
        /// The organisation pays; each receipt makes the fund owe it.
        Reimbursement => "reimbursement",
        /// The fund keeps an advance at the organisation; receipts draw it down.
        Advance => "advance",
        /// A treasurer paid the vendor; receipts make the fund owe that vendor account.
        FundPays => "fund_pays",
    }
);

closed_set!(
    /// How a payee is paid.
    PaymentMethod, "a payment method", {
        Etransfer => "etransfer",
        Eft => "eft",
        Cheque => "cheque",
        Card => "card",
        Cash => "cash",
    }
);

closed_set!(
    /// Who paid what a receipt shows: the organisation, its advance, or a vendor account.
    PaidBy, "who paid", {
        Org => "org",
        Advance => "advance",
        Vendor => "vendor",
    }
);

closed_set!(
    /// A payout batch: prepared by one treasurer, released by another, then paid (or
    /// cancelled before).
    PayoutStatus, "a payout status", {
        Prepared => "prepared",
        Released => "released",
        Paid => "paid",
        Cancelled => "cancelled",
    }
);

closed_set!(
    /// What a payout line pays.
    PayoutPurpose, "a payout purpose", {
        /// What an organisation paid for the fund.
        Reimbursement => "reimbursement",
        /// What an organisation spent from its advance, to top it up again.
        Replenishment => "replenishment",
        /// Money advanced to an organisation, up to its level.
        Advance => "advance",
        /// What a vendor account is owed.
        Vendor => "vendor",
    }
);

closed_set!(
    /// Who a payout line pays.
    PayeeKind, "a payee kind", {
        Org => "org",
        Vendor => "vendor",
    }
);

closed_set!(
    /// A payout line: open while its batch is live, paid, bounced (reversed and owed
    /// again) or cancelled with its batch.
    LineStatus, "a payout line status", {
        Open => "open",
        Paid => "paid",
        Bounced => "bounced",
        Cancelled => "cancelled",
    }
);

closed_set!(
    /// A bank statement's file format (issue 18).
    StatementFormat, "a statement format", {
        /// Comma-separated, in one bank's layout.
        Csv => "csv",
        /// OFX or QFX, SGML (1.x) or XML (2.x).
        Ofx => "ofx",
    }
);

closed_set!(
    /// A bank statement's line: not yet tied to the books, matched to what it is in them,
    /// recorded as what it is (a transfer made from it), or proposed as a fee and waiting
    /// for a second treasurer.
    BankLineStatus, "a bank line status", {
        Unmatched => "unmatched",
        Matched => "matched",
        Recorded => "recorded",
        Proposed => "proposed",
    }
);

closed_set!(
    /// What in the books a bank line is: a cash donation, a payout line paid (the money
    /// left), or a payout line's bounce (the money came back).
    MatchKind, "a match kind", {
        Donation => "donation",
        PayoutLine => "payout_line",
        PayoutBounce => "payout_bounce",
    }
);

closed_set!(
    /// What a bank line nobody recorded is, once a treasurer says so.
    RecordKind, "a record kind", {
        /// A bank fee: a withdrawal, out of available; a second treasurer confirms it.
        Fee => "fee",
        /// Interest the bank paid: a deposit, into available.
        Interest => "interest",
        /// A gift nobody recorded: a deposit, recorded as the donor's gift.
        Donation => "donation",
        /// A payout that came back: a deposit that reverses a paid payout line.
        Bounce => "bounce",
    }
);

closed_set!(
    /// How a bank's CSV writes its dates, for a column mapping a treasurer saves: year
    /// first (`2026-11-30`, `2026/11/30`), month first (`11/30/2026`) or day first
    /// (`30/11/2026`).
    DateOrder, "a date order", {
        Ymd => "ymd",
        Mdy => "mdy",
        Dmy => "dmy",
    }
);

impl DateOrder {
    /// How a date in this order is written, to say so in a problem's message.
    pub fn pattern(self) -> &'static str {
        match self {
            DateOrder::Ymd => "YYYY-MM-DD",
            DateOrder::Mdy => "MM/DD/YYYY",
            DateOrder::Dmy => "DD/MM/YYYY",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_from_its_word() {
        for s in RequestStatus::ALL {
            assert_eq!(s.as_str().parse::<RequestStatus>(), Ok(s));
        }
        for k in TransferKind::ALL {
            assert_eq!(k.as_str().parse::<TransferKind>(), Ok(k));
        }
        for s in ReportStatus::ALL {
            assert_eq!(s.as_str().parse::<ReportStatus>(), Ok(*s));
        }
        for s in ReportSchedule::ALL {
            assert_eq!(s.as_str().parse::<ReportSchedule>(), Ok(*s));
        }
        for s in CaseStatus::ALL {
            assert_eq!(s.as_str().parse::<CaseStatus>(), Ok(*s));
        }
        assert!("frozen".parse::<ReportStatus>().is_err());
        assert!("approve".parse::<RequestStatus>().is_err());
        assert!("hold".parse::<TransferKind>().is_err());
        assert_eq!(
            RequestStatus::sql_list(&[RequestStatus::Approved, RequestStatus::Settled]),
            "('approved', 'settled')"
        );
    }
}
