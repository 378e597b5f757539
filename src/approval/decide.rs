//! The decision on a new request, as a pure function of the policy, the request and the
//! fund. Storage calls it inside the transaction that places the hold, with figures read
//! under that transaction's lock, so the decision and the hold cannot drift apart.
//!
//! The checks run from the hardest to the softest: a request the fund cannot cover at all is
//! declined at once, so the caseworker looks elsewhere tonight instead of waiting for a
//! treasurer who could not say yes; then each automatic-approval rule in turn, the first
//! that does not allow it naming why a treasurer is needed.

use crate::domain::money::{Money, format_cents};
use crate::domain::request::{Category, HotelStay};
use crate::domain::states::RequestStatus;

use super::policy::{Policy, Rule};

/// A request as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proposal {
    category: Category,
    amount: Money,
    hotel: Option<HotelStay>,
    case_window_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposalError {
    #[error("a hotel request carries nights, nightly_rate and party_size")]
    HotelNeedsStay,
}

impl Proposal {
    /// A request of any category but hotel. `case_window_cents` is what the case has spent
    /// or holds within the policy's rolling window (`case_auto_cap.days`), this request not
    /// included.
    pub fn new(
        category: Category,
        amount: Money,
        case_window_cents: i64,
    ) -> Result<Proposal, ProposalError> {
        if category == Category::Hotel {
            return Err(ProposalError::HotelNeedsStay);
        }
        Ok(Proposal {
            category,
            amount,
            hotel: None,
            case_window_cents,
        })
    }

    /// A hotel request: its amount is the stay's, so the two can never disagree.
    pub fn hotel(stay: HotelStay, case_window_cents: i64) -> Proposal {
        Proposal {
            category: Category::Hotel,
            amount: stay.amount(),
            hotel: Some(stay),
            case_window_cents,
        }
    }

    pub fn category(&self) -> Category {
        self.category
    }

    pub fn amount(&self) -> Money {
        self.amount
    }

    pub fn hotel_stay(&self) -> Option<HotelStay> {
        self.hotel
    }

    pub fn case_window_cents(&self) -> i64 {
        self.case_window_cents
    }
}

/// The fund as the decision needs it: what is neither held nor spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FundState {
    pub available_cents: i64,
}

/// The rule that decided a request, by its stable name: the path of the limit in the policy
/// document (`auto_approve.bus.max_amount`) or a name of its own (`available_balance`).
/// The name is what the API answers, the `requests.rule` column and the audit event hold,
/// so [`RuleId::as_name`] and [`RuleId::parse`] are the only places it is spelt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleId {
    /// `auto_approve.{category}`: the category's rule allowed it.
    AutoApprove(Category),
    /// `auto_approve.{category}.max_amount`: above the category's automatic limit.
    MaxAmount(Category),
    /// `auto_approve.hotel.max_nights`.
    MaxNights,
    /// `auto_approve.hotel.max_nightly_rate`.
    MaxNightlyRate,
    /// `available_balance`: the fund cannot cover it at all.
    AvailableBalance,
    /// `category_not_auto_approved`: the category has no automatic rule.
    NotAutoApproved,
    /// `case_auto_cap`: the case's automatic cap over its window.
    CaseAutoCap,
    /// `reserve_floor`: approving would take the fund under its reserve floor.
    ReserveFloor,
    /// `operation_reserve`: the organisation's operation reserve answered.
    OperationReserve,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not the name of an approval rule")]
pub struct UnknownRule(pub String);

impl RuleId {
    const AUTO_APPROVE: &'static str = "auto_approve.";
    const MAX_AMOUNT: &'static str = ".max_amount";

    /// The stable name, as stored and answered.
    pub fn as_name(self) -> String {
        match self {
            RuleId::AutoApprove(c) => format!("{}{c}", Self::AUTO_APPROVE),
            RuleId::MaxAmount(c) => format!("{}{c}{}", Self::AUTO_APPROVE, Self::MAX_AMOUNT),
            other => other.fixed_name().unwrap_or_default().to_string(),
        }
    }

    fn fixed_name(self) -> Option<&'static str> {
        Some(match self {
            RuleId::MaxNights => "auto_approve.hotel.max_nights",
            RuleId::MaxNightlyRate => "auto_approve.hotel.max_nightly_rate",
            RuleId::AvailableBalance => "available_balance",
            RuleId::NotAutoApproved => "category_not_auto_approved",
            RuleId::CaseAutoCap => "case_auto_cap",
            RuleId::ReserveFloor => "reserve_floor",
            RuleId::OperationReserve => "operation_reserve",
            RuleId::AutoApprove(_) | RuleId::MaxAmount(_) => return None,
        })
    }

    const FIXED: [RuleId; 7] = [
        RuleId::MaxNights,
        RuleId::MaxNightlyRate,
        RuleId::AvailableBalance,
        RuleId::NotAutoApproved,
        RuleId::CaseAutoCap,
        RuleId::ReserveFloor,
        RuleId::OperationReserve,
    ];

    /// Reads a stored name back.
    pub fn parse(name: &str) -> Result<RuleId, UnknownRule> {
        let unknown = || UnknownRule(name.to_string());
        if let Some(rule) = Self::FIXED
            .into_iter()
            .find(|r| r.fixed_name() == Some(name))
        {
            return Ok(rule);
        }
        let rest = name.strip_prefix(Self::AUTO_APPROVE).ok_or_else(unknown)?;
        match rest.strip_suffix(Self::MAX_AMOUNT) {
            Some(category) => category.parse().map(RuleId::MaxAmount),
            None => rest.parse().map(RuleId::AutoApprove),
        }
        .map_err(|_| unknown())
    }
}

impl std::str::FromStr for RuleId {
    type Err = UnknownRule;
    fn from_str(s: &str) -> Result<Self, UnknownRule> {
        RuleId::parse(s)
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_name())
    }
}

impl serde::Serialize for RuleId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_name())
    }
}

/// The outcome, with the rule that decided it (recorded with the policy version) and,
/// when the money does not flow at once, a sentence a caseworker understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve { rule: RuleId },
    Pending { rule: RuleId, why: String },
    Decline { rule: RuleId, why: String },
}

impl Decision {
    pub fn rule(&self) -> RuleId {
        match self {
            Decision::Approve { rule }
            | Decision::Pending { rule, .. }
            | Decision::Decline { rule, .. } => *rule,
        }
    }

    pub fn why(&self) -> Option<&str> {
        match self {
            Decision::Approve { .. } => None,
            Decision::Pending { why, .. } | Decision::Decline { why, .. } => Some(why),
        }
    }

    /// The request status this decision leads to, as the API shows it.
    pub fn status(&self) -> RequestStatus {
        match self {
            Decision::Approve { .. } => RequestStatus::Approved,
            Decision::Pending { .. } => RequestStatus::Pending,
            Decision::Decline { .. } => RequestStatus::Declined,
        }
    }
}

/// The API's view of a decision: `{"status", "rule", "reason"}`, the fields that
/// `POST /api/v1/requests` answers with (the reason is null for an approval).
impl serde::Serialize for Decision {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("Decision", 3)?;
        out.serialize_field("status", &self.status())?;
        out.serialize_field("rule", &self.rule())?;
        out.serialize_field("reason", &self.why())?;
        out.end()
    }
}

/// Rule names that are not a path in the policy document (kept for the callers that name
/// them so).
pub const RULE_AVAILABLE_BALANCE: RuleId = RuleId::AvailableBalance;
pub const RULE_NOT_AUTO_APPROVED: RuleId = RuleId::NotAutoApproved;
pub const RULE_CASE_AUTO_CAP: RuleId = RuleId::CaseAutoCap;
pub const RULE_RESERVE_FLOOR: RuleId = RuleId::ReserveFloor;

fn pending(rule: RuleId, why: String) -> Decision {
    Decision::Pending { rule, why }
}

pub fn decide(policy: &Policy, proposal: &Proposal, fund: &FundState) -> Decision {
    let amount = proposal.amount.cents();
    let category = proposal.category;

    if amount > fund.available_cents {
        return Decision::Decline {
            rule: RULE_AVAILABLE_BALANCE,
            why: format!(
                "The fund does not have {} available right now, so no treasurer could approve it: look for another source tonight.",
                proposal.amount
            ),
        };
    }

    let Some(rule) = policy.rule_for(category) else {
        return pending(
            RULE_NOT_AUTO_APPROVED,
            format!("{} requests always go to a treasurer.", label(category)),
        );
    };

    match (rule, proposal.hotel) {
        (Rule::MaxAmount(max), _) if proposal.amount > *max => {
            return pending(
                RuleId::MaxAmount(category),
                format!(
                    "{} requests above {max} wait for a treasurer.",
                    label(category)
                ),
            );
        }
        (
            Rule::Hotel {
                max_nights,
                max_nightly_rate,
                max_amount,
            },
            Some(stay),
        ) => {
            if stay.nights() > *max_nights {
                return pending(
                    RuleId::MaxNights,
                    format!("Hotel stays longer than {max_nights} nights wait for a treasurer."),
                );
            }
            if stay.nightly_rate() > *max_nightly_rate {
                return pending(
                    RuleId::MaxNightlyRate,
                    format!("Hotel rooms above {max_nightly_rate} a night wait for a treasurer."),
                );
            }
            if let Some(max) = max_amount.filter(|max| proposal.amount > *max) {
                return pending(
                    RuleId::MaxAmount(Category::Hotel),
                    format!("Hotel stays above {max} in all wait for a treasurer."),
                );
            }
        }
        // A hotel rule can only be keyed by hotel and a hotel proposal always has its stay
        // (see `Proposal`), so this arm is a stay-less hotel proposal that cannot be built;
        // sending it to a treasurer is the safe answer all the same.
        (Rule::Hotel { .. }, None) => {
            return pending(
                RULE_NOT_AUTO_APPROVED,
                "Hotel requests without their nights and rate go to a treasurer.".into(),
            );
        }
        (Rule::MaxAmount(_), _) => {}
    }

    let cap = policy.case_auto_cap();
    if proposal.case_window_cents.saturating_add(amount) > cap.amount().cents() {
        return pending(
            RULE_CASE_AUTO_CAP,
            format!(
                "This case has received or holds {} in the last {} days; with this request it would pass {}, the most approved automatically, so a treasurer decides.",
                format_cents(proposal.case_window_cents),
                cap.days(),
                cap.amount()
            ),
        );
    }

    if fund.available_cents - amount < policy.reserve_floor_cents() {
        return pending(
            RULE_RESERVE_FLOOR,
            format!(
                "Approving this automatically would take the fund below its reserve of {}; a treasurer decides whether to spend the reserve.",
                format_cents(policy.reserve_floor_cents())
            ),
        );
    }

    Decision::Approve {
        rule: RuleId::AutoApprove(category),
    }
}

/// Whether approving `amount` takes two distinct treasurers (DESIGN: above
/// `dual_approval_above`; exactly at it, one is enough).
pub fn needs_two_treasurers(policy: &Policy, amount: Money) -> bool {
    amount > policy.dual_approval_above()
}

/// How a category reads at the start of a sentence.
fn label(category: Category) -> &'static str {
    match category {
        Category::Bus => "Bus",
        Category::Train => "Train",
        Category::Flight => "Flight",
        Category::LocalTransport => "Local transport",
        Category::Hotel => "Hotel",
        Category::PhoneCard => "Phone card",
        Category::Food => "Food",
        Category::Clothing => "Clothing",
        Category::Hygiene => "Hygiene",
        Category::PocketMoney => "Pocket money",
        Category::Interpreter => "Interpreter",
        Category::Other => "Other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_rule_reads_back_from_its_stored_name() {
        let mut all = vec![
            RuleId::MaxNights,
            RuleId::MaxNightlyRate,
            RuleId::AvailableBalance,
            RuleId::NotAutoApproved,
            RuleId::CaseAutoCap,
            RuleId::ReserveFloor,
            RuleId::OperationReserve,
        ];
        for c in Category::ALL {
            all.push(RuleId::AutoApprove(c));
            all.push(RuleId::MaxAmount(c));
        }
        for rule in all {
            assert_eq!(RuleId::parse(&rule.to_string()), Ok(rule), "{rule}");
            assert_eq!(serde_json::to_value(rule).unwrap(), json!(rule.as_name()));
        }
        // The names the API has always answered.
        assert_eq!(
            RuleId::MaxAmount(Category::Flight).as_name(),
            "auto_approve.flight.max_amount"
        );
        assert_eq!(
            RuleId::AutoApprove(Category::LocalTransport).as_name(),
            "auto_approve.local_transport"
        );
        assert_eq!(
            RuleId::MaxNightlyRate.as_name(),
            "auto_approve.hotel.max_nightly_rate"
        );
        for unknown in [
            "",
            "auto_approve.",
            "auto_approve.taxi",
            "auto_approve.bus.max_nights",
            "max_amount",
            "nobody",
        ] {
            assert!(RuleId::parse(unknown).is_err(), "{unknown}");
        }
    }

    fn money(s: &str) -> Money {
        s.parse().unwrap()
    }

    fn cents(s: &str) -> i64 {
        money(s).cents()
    }

    fn fund(s: &str) -> FundState {
        FundState {
            available_cents: cents(s),
        }
    }

    fn ask(category: Category, amount: &str) -> Proposal {
        Proposal::new(category, money(amount), 0).unwrap()
    }

    fn hotel(nights: i64, rate: &str) -> Proposal {
        Proposal::hotel(HotelStay::new(nights, money(rate), 1).unwrap(), 0)
    }

    fn with_window(p: Proposal, window: &str) -> Proposal {
        Proposal {
            case_window_cents: cents(window),
            ..p
        }
    }

    fn policy(doc: serde_json::Value) -> Policy {
        Policy::parse(doc).unwrap()
    }

    fn rule_of(policy: &Policy, p: &Proposal, f: &FundState) -> (RequestStatus, String) {
        let d = decide(policy, p, f);
        (d.status(), d.rule().to_string())
    }

    #[test]
    fn design_example_hotel_and_bus_are_approved_on_the_spot() {
        let p = Policy::default();
        let f = fund("5000.00");
        let stay = hotel(2, "189.00");
        assert_eq!(stay.amount(), money("378.00"));
        assert_eq!(
            decide(&p, &stay, &f),
            Decision::Approve {
                rule: RuleId::AutoApprove(Category::Hotel)
            }
        );
        // The bus comes after the hotel on the same case, same night.
        let bus = with_window(ask(Category::Bus, "64.50"), "378.00");
        let after_hotel = FundState {
            available_cents: f.available_cents - stay.amount().cents(),
        };
        assert_eq!(
            decide(&p, &bus, &after_hotel),
            Decision::Approve {
                rule: RuleId::AutoApprove(Category::Bus)
            }
        );
    }

    #[test]
    fn design_example_a_flight_waits_and_a_large_one_needs_two_treasurers() {
        let p = Policy::default();
        let d = decide(&p, &ask(Category::Flight, "612.40"), &fund("5000.00"));
        assert_eq!(d.status(), RequestStatus::Pending);
        assert_eq!(d.rule().to_string(), "category_not_auto_approved");
        assert_eq!(d.why(), Some("Flight requests always go to a treasurer."));
        assert!(!needs_two_treasurers(&p, money("612.40")));
        assert!(needs_two_treasurers(&p, money("1450.00")));
    }

    #[test]
    fn two_treasurers_are_needed_only_above_the_threshold() {
        let p = Policy::default();
        assert!(!needs_two_treasurers(&p, money("1000.00")));
        assert!(needs_two_treasurers(&p, money("1000.01")));
    }

    #[test]
    fn more_than_is_available_is_declined_at_once_whatever_the_category() {
        let p = Policy::default();
        for proposal in [
            ask(Category::Bus, "64.51"),
            ask(Category::Flight, "612.40"),
            hotel(1, "64.51"),
        ] {
            let d = decide(&p, &proposal, &fund("64.50"));
            assert_eq!(d.status(), RequestStatus::Declined);
            assert_eq!(d.rule().to_string(), "available_balance");
            assert!(d.why().unwrap().contains("another source"), "{d:?}");
        }
    }

    #[test]
    fn exactly_what_is_available_is_not_declined() {
        let no_floor = policy(json!({"reserve_floor": "0.00"}));
        assert_eq!(
            rule_of(&no_floor, &ask(Category::Bus, "64.50"), &fund("64.50")),
            (RequestStatus::Approved, "auto_approve.bus".into())
        );
        // With the default floor it waits for a treasurer, who may spend the reserve.
        assert_eq!(
            rule_of(
                &Policy::default(),
                &ask(Category::Bus, "64.50"),
                &fund("64.50")
            ),
            (RequestStatus::Pending, "reserve_floor".into())
        );
    }

    #[test]
    fn every_category_absent_from_auto_approve_waits_for_a_treasurer() {
        let p = Policy::default();
        for category in [
            Category::Flight,
            Category::Clothing,
            Category::Hygiene,
            Category::PocketMoney,
            Category::Interpreter,
            Category::Other,
        ] {
            assert_eq!(
                rule_of(&p, &ask(category, "1.00"), &fund("5000.00")),
                (RequestStatus::Pending, "category_not_auto_approved".into()),
                "{category}"
            );
        }
        let only_bus = policy(json!({"auto_approve": {"bus": {"max_amount": "250.00"}}}));
        assert_eq!(
            rule_of(&only_bus, &hotel(1, "50.00"), &fund("5000.00")),
            (RequestStatus::Pending, "category_not_auto_approved".into())
        );
    }

    #[test]
    fn a_category_limit_allows_its_amount_exactly_and_not_a_cent_more() {
        let p = Policy::default();
        let f = fund("5000.00");
        for (category, max) in [
            (Category::Bus, "250.00"),
            (Category::Train, "350.00"),
            (Category::LocalTransport, "75.00"),
            (Category::PhoneCard, "50.00"),
            (Category::Food, "150.00"),
        ] {
            assert_eq!(
                rule_of(&p, &ask(category, max), &f).0,
                RequestStatus::Approved,
                "{category}"
            );
            let over = Money::from_cents(cents(max) + 1).unwrap();
            let d = decide(&p, &Proposal::new(category, over, 0).unwrap(), &f);
            assert_eq!(d.status(), RequestStatus::Pending);
            assert_eq!(
                d.rule().to_string(),
                format!("auto_approve.{category}.max_amount")
            );
            assert!(d.why().unwrap().contains(max), "{d:?}");
        }
    }

    #[test]
    fn a_hotel_stay_is_weighed_by_nights_and_nightly_rate() {
        let p = Policy::default();
        let f = fund("5000.00");
        assert_eq!(
            rule_of(&p, &hotel(3, "225.00"), &f).0,
            RequestStatus::Approved
        );
        assert_eq!(
            rule_of(&p, &hotel(4, "100.00"), &f),
            (
                RequestStatus::Pending,
                "auto_approve.hotel.max_nights".into()
            )
        );
        assert_eq!(
            rule_of(&p, &hotel(1, "225.01"), &f),
            (
                RequestStatus::Pending,
                "auto_approve.hotel.max_nightly_rate".into()
            )
        );
    }

    #[test]
    fn a_hotel_total_cap_applies_when_the_policy_sets_one() {
        let p = policy(json!({"auto_approve": {"hotel": {"max_amount": "400.00"}}}));
        let f = fund("5000.00");
        assert_eq!(
            rule_of(&p, &hotel(2, "200.00"), &f).0,
            RequestStatus::Approved
        );
        assert_eq!(
            rule_of(&p, &hotel(2, "200.01"), &f),
            (
                RequestStatus::Pending,
                "auto_approve.hotel.max_amount".into()
            )
        );
    }

    #[test]
    fn the_case_cap_counts_what_the_case_already_has_in_its_window() {
        let p = Policy::default();
        let f = fund("5000.00");
        let at_cap = with_window(ask(Category::Bus, "200.00"), "800.00");
        assert_eq!(rule_of(&p, &at_cap, &f).0, RequestStatus::Approved);
        let over = with_window(ask(Category::Bus, "200.01"), "800.00");
        let d = decide(&p, &over, &f);
        assert_eq!(d.rule().to_string(), "case_auto_cap");
        assert_eq!(d.status(), RequestStatus::Pending);
        let why = d.why().unwrap();
        assert!(
            why.contains("800.00") && why.contains("7 days") && why.contains("1000.00"),
            "{why}"
        );
    }

    #[test]
    fn automatic_approval_never_goes_below_the_reserve_floor() {
        let p = Policy::default();
        // 1100.00 available, floor 1000.00: 100.00 may go automatically, not 100.01.
        assert_eq!(
            rule_of(&p, &ask(Category::Bus, "100.00"), &fund("1100.00")).0,
            RequestStatus::Approved
        );
        let d = decide(&p, &ask(Category::Bus, "100.01"), &fund("1100.00"));
        assert_eq!(d.rule().to_string(), "reserve_floor");
        assert_eq!(d.status(), RequestStatus::Pending);
        assert!(d.why().unwrap().contains("1000.00"));
    }

    #[test]
    fn the_first_rule_that_refuses_is_the_one_named() {
        let p = Policy::default();
        // Over the bus limit, over the case cap and below the floor: the category rule speaks.
        let p1 = with_window(ask(Category::Bus, "300.00"), "900.00");
        assert_eq!(
            rule_of(&p, &p1, &fund("1200.00")).1,
            "auto_approve.bus.max_amount"
        );
        // Within the bus limit, over the case cap and below the floor: the cap speaks.
        let p2 = with_window(ask(Category::Bus, "200.00"), "900.00");
        assert_eq!(rule_of(&p, &p2, &fund("1100.00")).1, "case_auto_cap");
    }

    #[test]
    fn a_hotel_proposal_cannot_be_made_without_its_stay() {
        assert_eq!(
            Proposal::new(Category::Hotel, money("100.00"), 0),
            Err(ProposalError::HotelNeedsStay)
        );
        let p = hotel(2, "189.00");
        assert_eq!(p.category(), Category::Hotel);
        assert_eq!(p.amount(), money("378.00"));
        assert_eq!(p.hotel_stay().map(|s| s.nights()), Some(2));
    }

    proptest::proptest! {
        /// Whatever the figures, an automatic approval keeps every promise of DESIGN, and
        /// a decline happens exactly when the fund cannot cover the request.
        #[test]
        fn an_approval_keeps_every_rule(
            category in proptest::sample::select(Category::ALL.to_vec()),
            amount in 1i64..=200_000,
            nights in 1i64..=6,
            window in 0i64..=150_000,
            available in 0i64..=500_000,
            floor in 0i64..=200_000,
        ) {
            let p = policy(json!({"reserve_floor": format_cents(floor)}));
            let proposal = if category == Category::Hotel {
                let rate = Money::from_cents(amount / nights + 1).unwrap();
                Proposal::hotel(HotelStay::new(nights, rate, 1).unwrap(), window)
            } else {
                Proposal::new(category, Money::from_cents(amount).unwrap(), window).unwrap()
            };
            let asked = proposal.amount().cents();
            let d = decide(&p, &proposal, &FundState { available_cents: available });
            proptest::prop_assert_eq!(d.status() == RequestStatus::Declined, asked > available);
            if d.status() == RequestStatus::Approved {
                proptest::prop_assert!(available - asked >= floor);
                proptest::prop_assert!(window + asked <= p.case_auto_cap().amount().cents());
                match p.rule_for(category) {
                    Some(Rule::MaxAmount(max)) => proptest::prop_assert!(asked <= max.cents()),
                    Some(Rule::Hotel { max_nights, max_nightly_rate, .. }) => {
                        let stay = proposal.hotel_stay().unwrap();
                        proptest::prop_assert!(stay.nights() <= *max_nights);
                        proptest::prop_assert!(stay.nightly_rate() <= *max_nightly_rate);
                    }
                    None => proptest::prop_assert!(false, "{category} approved without a rule"),
                }
            } else {
                proptest::prop_assert!(d.why().is_some());
            }
        }
    }

    #[test]
    fn a_decision_serialises_as_the_api_shows_it() {
        let p = Policy::default();
        let d = decide(&p, &ask(Category::Bus, "64.50"), &fund("5000.00"));
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"status": RequestStatus::Approved.as_str(), "rule": "auto_approve.bus", "reason": null})
        );
        let d = decide(&p, &ask(Category::Flight, "612.40"), &fund("5000.00"));
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({
                "status": RequestStatus::Pending.as_str(),
                "rule": "category_not_auto_approved",
                "reason": "Flight requests always go to a treasurer."
            })
        );
    }

    #[test]
    fn an_approval_has_no_why_and_the_others_do() {
        let p = Policy::default();
        let d = decide(&p, &ask(Category::Bus, "10.00"), &fund("5000.00"));
        assert_eq!(d.why(), None);
        let d = decide(&p, &ask(Category::Other, "10.00"), &fund("5000.00"));
        assert!(d.why().is_some());
    }
}
