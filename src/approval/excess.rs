//! By how much a request that waits for a treasurer goes past the rule that sent it there
//! ("case cap: 1,120.00 of 1,000.00 in 7 days"), computed from the policy version that
//! decided and the figures the decision read (stored with the request at submission:
//! the case's window and the money open to it), so the treasurer reads what the rule saw.

use super::{Policy, Rule, RuleId};
use crate::domain::deciding::{Excess, Limit, Unit};
use crate::domain::money::format_cents;
use crate::domain::request::Category;

/// The request's figures as the decision read them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    pub category: Option<Category>,
    pub amount_cents: i64,
    pub nights: Option<i64>,
    pub nightly_rate_cents: Option<i64>,
    /// What the case had received or held within the window, this request not included.
    pub window_cents: Option<i64>,
    /// The money the decision could use for it (available less restrictions and reserves).
    pub open_cents: Option<i64>,
}

fn money(rule: RuleId, kind: Limit, value: i64, limit: i64, days: Option<u32>) -> Excess {
    Excess {
        rule: rule.as_name(),
        kind,
        unit: Unit::Money,
        value: format_cents(value),
        limit: format_cents(limit),
        days,
    }
}

/// The excess over `rule` under `policy`, or `None` for a rule without a figure (a category
/// that always goes to a treasurer) or figures the request does not carry.
pub fn of(policy: &Policy, rule: RuleId, f: &Figures) -> Option<Excess> {
    match rule {
        RuleId::MaxAmount(category) => match policy.rule_for(category)? {
            Rule::MaxAmount(max) => Some(money(
                rule,
                Limit::CategoryAmount,
                f.amount_cents,
                max.cents(),
                None,
            )),
            Rule::Hotel { max_amount, .. } => Some(money(
                rule,
                Limit::CategoryAmount,
                f.amount_cents,
                max_amount.as_ref()?.cents(),
                None,
            )),
        },
        RuleId::MaxNights => match policy.rule_for(Category::Hotel)? {
            Rule::Hotel { max_nights, .. } => Some(Excess {
                rule: rule.as_name(),
                kind: Limit::HotelNights,
                unit: Unit::Nights,
                value: f.nights?.to_string(),
                limit: max_nights.to_string(),
                days: None,
            }),
            Rule::MaxAmount(_) => None,
        },
        RuleId::MaxNightlyRate => match policy.rule_for(Category::Hotel)? {
            Rule::Hotel {
                max_nightly_rate, ..
            } => Some(money(
                rule,
                Limit::NightlyRate,
                f.nightly_rate_cents?,
                max_nightly_rate.cents(),
                None,
            )),
            Rule::MaxAmount(_) => None,
        },
        RuleId::CaseAutoCap => {
            let cap = policy.case_auto_cap();
            Some(money(
                rule,
                Limit::CaseCap,
                f.window_cents?.saturating_add(f.amount_cents),
                cap.amount().cents(),
                Some(cap.days()),
            ))
        }
        RuleId::ReserveFloor => Some(money(
            rule,
            Limit::ReserveFloor,
            f.open_cents? - f.amount_cents,
            policy.reserve_floor_cents(),
            None,
        )),
        RuleId::AutoApprove(_)
        | RuleId::NotAutoApproved
        | RuleId::AvailableBalance
        | RuleId::OperationReserve => None,
    }
}

/// The message (`templates/i18n/*/passage.ftl`, with the category as `$category`) that
/// says why a rule sent a request to a treasurer or declined it, or `None` for a rule that
/// approved it.
pub fn message_key(rule: RuleId) -> Option<&'static str> {
    Some(match rule {
        RuleId::MaxAmount(_) => "rule-max-amount",
        RuleId::MaxNights => "rule-max-nights",
        RuleId::MaxNightlyRate => "rule-max-nightly-rate",
        RuleId::AvailableBalance => "rule-available-balance",
        RuleId::NotAutoApproved => "rule-not-auto-approved",
        RuleId::CaseAutoCap => "rule-case-cap",
        RuleId::ReserveFloor => "rule-reserve-floor",
        RuleId::AutoApprove(_) | RuleId::OperationReserve => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy() -> Policy {
        Policy::parse(json!({})).expect("the defaults")
    }

    #[test]
    fn the_case_cap_counts_the_window_with_the_request() {
        let f = Figures {
            amount_cents: 42_000,
            window_cents: Some(70_000),
            ..Figures::default()
        };
        let e = of(&policy(), RuleId::CaseAutoCap, &f).expect("an excess");
        assert_eq!(
            (e.value.as_str(), e.limit.as_str(), e.days),
            ("1120.00", "1000.00", Some(7))
        );
    }

    #[test]
    fn a_category_limit_and_the_hotel_limits_name_their_figures() {
        let p = policy();
        let bus = Figures {
            amount_cents: 30_000,
            ..Figures::default()
        };
        let e = of(&p, RuleId::MaxAmount(Category::Bus), &bus).unwrap();
        assert_eq!((e.value.as_str(), e.limit.as_str()), ("300.00", "250.00"));
        let stay = Figures {
            nights: Some(4),
            nightly_rate_cents: Some(25_000),
            ..Figures::default()
        };
        let e = of(&p, RuleId::MaxNights, &stay).unwrap();
        assert_eq!(
            (e.unit, e.value.as_str(), e.limit.as_str()),
            (Unit::Nights, "4", "3")
        );
        let e = of(&p, RuleId::MaxNightlyRate, &stay).unwrap();
        assert_eq!((e.value.as_str(), e.limit.as_str()), ("250.00", "225.00"));
        assert!(of(&p, RuleId::NotAutoApproved, &stay).is_none());
        assert!(
            of(&p, RuleId::CaseAutoCap, &stay).is_none(),
            "no window stored"
        );
    }

    #[test]
    fn the_reserve_floor_shows_what_the_fund_would_keep() {
        let f = Figures {
            amount_cents: 20_000,
            open_cents: Some(110_000),
            ..Figures::default()
        };
        let e = of(&policy(), RuleId::ReserveFloor, &f).unwrap();
        assert_eq!((e.value.as_str(), e.limit.as_str()), ("900.00", "1000.00"));
    }
}
