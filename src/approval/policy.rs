//! The policy document: the fast approval rules the treasurers set (DESIGN.md, "Fast
//! approval rules").
//!
//! Treasurers write this document by hand, through the API or the web page, and a mistake
//! in it moves real money at night without anyone looking. So parsing is strict: every
//! problem is reported at once with the field it is in (`auto_approve.bus.max_amount`),
//! unknown fields are refused rather than ignored (a misspelt `max_amout` silently ignored
//! would leave the default in force), and amounts are strings with at most two decimals,
//! as everywhere else in Passage.
//!
//! Defaults: a field left out takes the DESIGN default, at every level where one exists.
//! `auto_approve` is the exception that proves the rule: when it is given it *replaces*
//! the default list, because it is the list of categories that may skip a treasurer, and
//! leaving a category out must mean "this one waits". A category rule that is given but
//! incomplete takes the missing limits from that category's default rule, if it has one.

use std::collections::BTreeMap;

use chrono::TimeDelta;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::domain::money::{Money, MoneyError, format_cents};
use crate::domain::request::{Category, MAX_NIGHTS};

/// One problem in a policy document, named by its dotted path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The limit under which a category is approved without a treasurer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Every category but hotel: the amount asked, at most this.
    MaxAmount(Money),
    /// Hotel: the stay's nights and its nightly rate, and optionally its total.
    Hotel {
        max_nights: u32,
        max_nightly_rate: Money,
        max_amount: Option<Money>,
    },
}

/// The most one case may receive automatically over a rolling window; above it a treasurer
/// looks, because many small approvals add up to one large decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseCap {
    amount: Money,
    days: u32,
}

impl CaseCap {
    pub fn amount(&self) -> Money {
        self.amount
    }

    /// The length of the rolling window, in days.
    pub fn days(&self) -> u32 {
        self.days
    }

    pub fn window(&self) -> TimeDelta {
        TimeDelta::days(i64::from(self.days))
    }
}

/// How often the fund drafts its donor reports (DESIGN "Reports form one chain"): one
/// cadence, never two, so the drafts follow one another in one chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cadence {
    /// A report for each calendar month (the default).
    #[default]
    Month,
    /// A report for each calendar quarter.
    Quarter,
}

impl Cadence {
    pub fn as_str(&self) -> &'static str {
        match self {
            Cadence::Month => "month",
            Cadence::Quarter => "quarter",
        }
    }
}

/// A parsed policy: every limit is present and within its bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    auto_approve: BTreeMap<Category, Rule>,
    case_auto_cap: CaseCap,
    reserve_floor_cents: i64,
    dual_approval_above: Money,
    hold_hours: u32,
    escalate_after_minutes: u32,
    report_cadence: Cadence,
}

pub const HOLD_HOURS_MAX: u32 = 720;
pub const ESCALATE_AFTER_MINUTES_MAX: u32 = 1440;
pub const CASE_CAP_DAYS_MAX: u32 = 365;

const TOP_FIELDS: [&str; 7] = [
    "auto_approve",
    "case_auto_cap",
    "reserve_floor",
    "dual_approval_above",
    "hold_hours",
    "escalate_after_minutes",
    "report_cadence",
];

/// Turns a constant of this file into Money.
fn constant(cents: i64) -> Money {
    // Only called with the DESIGN defaults below, all within Money's range; the test
    // `the_defaults_are_those_of_design` builds them.
    Money::from_cents(cents).expect("policy defaults are within Money's range")
}

fn default_rule(category: Category) -> Option<Rule> {
    match category {
        Category::Bus => Some(Rule::MaxAmount(constant(25_000))),
        Category::Train => Some(Rule::MaxAmount(constant(35_000))),
        Category::Hotel => Some(Rule::Hotel {
            max_nights: 3,
            max_nightly_rate: constant(22_500),
            max_amount: None,
        }),
        Category::LocalTransport => Some(Rule::MaxAmount(constant(7_500))),
        Category::PhoneCard => Some(Rule::MaxAmount(constant(5_000))),
        Category::Food => Some(Rule::MaxAmount(constant(15_000))),
        _ => None,
    }
}

impl Default for Policy {
    /// The document of DESIGN.md, exactly.
    fn default() -> Self {
        Policy {
            auto_approve: Category::ALL
                .into_iter()
                .filter_map(|c| default_rule(c).map(|r| (c, r)))
                .collect(),
            case_auto_cap: CaseCap {
                amount: constant(100_000),
                days: 7,
            },
            reserve_floor_cents: 100_000,
            dual_approval_above: constant(100_000),
            hold_hours: 72,
            escalate_after_minutes: 20,
            report_cadence: Cadence::Month,
        }
    }
}

/// What storage adds to a document it keeps (see `versions`), accepted and ignored.
const STAMPED_BY_STORAGE: [&str; 7] = [
    "version",
    "created_at",
    "status",
    "proposed_by",
    "in_force_at",
    "cosigned_by",
    "cosigned_at",
];

impl Policy {
    /// Parses a policy document, filling what is left out with the defaults. All problems
    /// are returned together, each with its field, so a treasurer fixes them in one go.
    ///
    /// A top-level `version`, `created_at`, `status` and who proposed and co-signed it are
    /// ignored: storage stamps them on each document, and a treasurer who sends back what
    /// `GET /api/v1/policy` showed should not be refused for them.
    pub fn parse(doc: Value) -> Result<Policy, Vec<FieldError>> {
        let Some(obj) = doc.as_object() else {
            return Err(vec![FieldError::new(
                "policy",
                "must be a JSON object such as {\"hold_hours\": 72}",
            )]);
        };
        let defaults = Policy::default();
        let mut errors = Vec::new();
        for key in obj.keys() {
            if !STAMPED_BY_STORAGE.contains(&key.as_str()) && !TOP_FIELDS.contains(&key.as_str()) {
                errors.push(FieldError::new(
                    key.as_str(),
                    format!(
                        "is not a policy field: the fields are {}",
                        TOP_FIELDS.join(", ")
                    ),
                ));
            }
        }
        let auto_approve = match obj.get("auto_approve") {
            None => defaults.auto_approve.clone(),
            Some(v) => parse_auto_approve(v, &mut errors),
        };
        let case_auto_cap = match obj.get("case_auto_cap") {
            None => defaults.case_auto_cap,
            Some(v) => parse_case_cap(v, defaults.case_auto_cap, &mut errors),
        };
        let reserve_floor_cents = match obj.get("reserve_floor") {
            None => defaults.reserve_floor_cents,
            Some(v) => floor(v, "reserve_floor", &mut errors).unwrap_or(0),
        };
        let dual_approval_above = money(
            obj,
            "dual_approval_above",
            "dual_approval_above",
            defaults.dual_approval_above,
            &mut errors,
        );
        let hold_hours = whole(
            obj,
            "hold_hours",
            "hold_hours",
            HOLD_HOURS_MAX,
            defaults.hold_hours,
            &mut errors,
        );
        let escalate_after_minutes = whole(
            obj,
            "escalate_after_minutes",
            "escalate_after_minutes",
            ESCALATE_AFTER_MINUTES_MAX,
            defaults.escalate_after_minutes,
            &mut errors,
        );
        let report_cadence = match obj.get("report_cadence") {
            None => defaults.report_cadence,
            Some(Value::String(s)) if s == "month" => Cadence::Month,
            Some(Value::String(s)) if s == "quarter" => Cadence::Quarter,
            Some(_) => {
                errors.push(FieldError::new(
                    "report_cadence",
                    "must be \"month\" or \"quarter\": how often the fund drafts its donor report",
                ));
                defaults.report_cadence
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Policy {
            auto_approve,
            case_auto_cap,
            reserve_floor_cents,
            dual_approval_above,
            hold_hours,
            escalate_after_minutes,
            report_cadence,
        })
    }

    /// The whole document, defaults filled in: what `GET /api/v1/policy` shows and what
    /// storage keeps, so an old version reads the same even if the defaults change later.
    pub fn to_json(&self) -> Value {
        let mut rules = Map::new();
        for (category, rule) in &self.auto_approve {
            let body = match rule {
                Rule::MaxAmount(max) => json!({"max_amount": max.to_string()}),
                Rule::Hotel {
                    max_nights,
                    max_nightly_rate,
                    max_amount,
                } => {
                    let mut body = json!({
                        "max_nights": max_nights,
                        "max_nightly_rate": max_nightly_rate.to_string(),
                    });
                    if let (Some(max), Some(map)) = (max_amount, body.as_object_mut()) {
                        map.insert("max_amount".into(), json!(max.to_string()));
                    }
                    body
                }
            };
            rules.insert(category.as_str().into(), body);
        }
        json!({
            "auto_approve": rules,
            "case_auto_cap": {
                "amount": self.case_auto_cap.amount.to_string(),
                "days": self.case_auto_cap.days,
            },
            "reserve_floor": format_cents(self.reserve_floor_cents),
            "dual_approval_above": self.dual_approval_above.to_string(),
            "hold_hours": self.hold_hours,
            "escalate_after_minutes": self.escalate_after_minutes,
            "report_cadence": self.report_cadence.as_str(),
        })
    }

    /// The categories that may be approved without a treasurer, with their limits.
    pub fn auto_approve(&self) -> &BTreeMap<Category, Rule> {
        &self.auto_approve
    }

    /// The rule for one category, or `None` when it always goes to a treasurer.
    pub fn rule_for(&self, category: Category) -> Option<&Rule> {
        self.auto_approve.get(&category)
    }

    pub fn case_auto_cap(&self) -> CaseCap {
        self.case_auto_cap
    }

    /// What automatic approvals must leave available, in cents. May be zero: a coalition
    /// may decide to keep no reserve, which is why this is not a [`Money`].
    pub fn reserve_floor_cents(&self) -> i64 {
        self.reserve_floor_cents
    }

    /// Above this amount a pending request needs two distinct treasurers.
    pub fn dual_approval_above(&self) -> Money {
        self.dual_approval_above
    }

    /// How long an approved hold waits for its receipt before it expires.
    pub fn hold_hours(&self) -> u32 {
        self.hold_hours
    }

    pub fn hold_duration(&self) -> TimeDelta {
        TimeDelta::hours(i64::from(self.hold_hours))
    }

    /// How long an urgent pending request waits for the on-call treasurers before every
    /// treasurer is emailed.
    pub fn escalate_after_minutes(&self) -> u32 {
        self.escalate_after_minutes
    }

    pub fn escalate_after(&self) -> TimeDelta {
        TimeDelta::minutes(i64::from(self.escalate_after_minutes))
    }

    /// How often the sweeper drafts the donor report.
    pub fn report_cadence(&self) -> Cadence {
        self.report_cadence
    }
}

fn parse_auto_approve(v: &Value, errors: &mut Vec<FieldError>) -> BTreeMap<Category, Rule> {
    let mut rules = BTreeMap::new();
    let Some(obj) = v.as_object() else {
        errors.push(FieldError::new(
            "auto_approve",
            "must be an object of category rules such as {\"bus\": {\"max_amount\": \"250.00\"}}",
        ));
        return rules;
    };
    for (key, body) in obj {
        let path = format!("auto_approve.{key}");
        let Ok(category) = key.parse::<Category>() else {
            errors.push(FieldError::new(
                path,
                "is not a category: use bus, train, flight, local_transport, hotel, phone_card, food, clothing, hygiene, pocket_money, interpreter or other",
            ));
            continue;
        };
        if let Some(rule) = parse_rule(category, body, &path, errors) {
            rules.insert(category, rule);
        }
    }
    rules
}

fn parse_rule(
    category: Category,
    v: &Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Rule> {
    let Some(obj) = v.as_object() else {
        let example = if category == Category::Hotel {
            "{\"max_nights\": 3, \"max_nightly_rate\": \"225.00\"}"
        } else {
            "{\"max_amount\": \"250.00\"}"
        };
        errors.push(FieldError::new(
            path,
            format!("must be a rule such as {example}; leave the category out to send every request to a treasurer"),
        ));
        return None;
    };
    let fields: &[&str] = if category == Category::Hotel {
        &["max_nights", "max_nightly_rate", "max_amount"]
    } else {
        &["max_amount"]
    };
    for key in obj.keys() {
        if !fields.contains(&key.as_str()) {
            errors.push(FieldError::new(
                format!("{path}.{key}"),
                format!(
                    "is not a limit of the {category} rule: it takes {}",
                    fields.join(", ")
                ),
            ));
        }
    }
    let default = default_rule(category);
    let before = errors.len();
    match default {
        Some(Rule::Hotel {
            max_nights,
            max_nightly_rate,
            max_amount,
        }) => {
            let nights = whole(
                obj,
                "max_nights",
                &format!("{path}.max_nights"),
                MAX_NIGHTS,
                max_nights,
                errors,
            );
            let rate = money(
                obj,
                "max_nightly_rate",
                &format!("{path}.max_nightly_rate"),
                max_nightly_rate,
                errors,
            );
            let total = match obj.get("max_amount") {
                None => max_amount,
                Some(v) => amount(v, &format!("{path}.max_amount"), errors),
            };
            (errors.len() == before).then_some(Rule::Hotel {
                max_nights: nights,
                max_nightly_rate: rate,
                max_amount: total,
            })
        }
        Some(Rule::MaxAmount(max)) => {
            let max = money(
                obj,
                "max_amount",
                &format!("{path}.max_amount"),
                max,
                errors,
            );
            (errors.len() == before).then_some(Rule::MaxAmount(max))
        }
        None => match obj.get("max_amount") {
            Some(v) => amount(v, &format!("{path}.max_amount"), errors).map(Rule::MaxAmount),
            None => {
                errors.push(FieldError::new(
                    format!("{path}.max_amount"),
                    format!(
                        "is required: {category} has no default rule; give an amount such as \"250.00\""
                    ),
                ));
                None
            }
        },
    }
}

fn parse_case_cap(v: &Value, default: CaseCap, errors: &mut Vec<FieldError>) -> CaseCap {
    let Some(obj) = v.as_object() else {
        errors.push(FieldError::new(
            "case_auto_cap",
            "must be an object such as {\"amount\": \"1000.00\", \"days\": 7}",
        ));
        return default;
    };
    for key in obj.keys() {
        if key != "amount" && key != "days" {
            errors.push(FieldError::new(
                format!("case_auto_cap.{key}"),
                "is not a field of case_auto_cap: it takes amount and days",
            ));
        }
    }
    CaseCap {
        amount: money(
            obj,
            "amount",
            "case_auto_cap.amount",
            default.amount,
            errors,
        ),
        days: whole(
            obj,
            "days",
            "case_auto_cap.days",
            CASE_CAP_DAYS_MAX,
            default.days,
            errors,
        ),
    }
}

/// An amount field of `obj`: its default when absent; on error the default too, with the
/// error recorded (the caller then refuses the whole document).
fn money(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    default: Money,
    errors: &mut Vec<FieldError>,
) -> Money {
    match obj.get(key) {
        None => default,
        Some(v) => amount(v, path, errors).unwrap_or(default),
    }
}

fn amount(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<Money> {
    let Some(s) = v.as_str() else {
        errors.push(FieldError::new(path, not_a_string_amount(v)));
        return None;
    };
    match s.parse::<Money>() {
        Ok(m) => Some(m),
        Err(e) => {
            errors.push(FieldError::new(path, e.to_string()));
            None
        }
    }
}

/// The reserve floor is the one amount that may be zero.
fn floor(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<i64> {
    let Some(s) = v.as_str() else {
        errors.push(FieldError::new(path, not_a_string_amount(v)));
        return None;
    };
    match crate::domain::money::parse_cents(s).and_then(|c| match c {
        0 => Ok(0),
        c => Money::from_cents(c).map(Money::cents),
    }) {
        Ok(cents) => Some(cents),
        Err(MoneyError::NotPositive) => {
            errors.push(FieldError::new(
                path,
                "must not be negative: write \"0.00\" to keep no reserve",
            ));
            None
        }
        Err(e) => {
            errors.push(FieldError::new(path, e.to_string()));
            None
        }
    }
}

fn not_a_string_amount(v: &Value) -> String {
    if v.is_number() {
        "must be written as a string such as \"250.00\": amounts are exact to the cent, never JSON numbers".into()
    } else {
        "must be an amount written as a string such as \"250.00\"".into()
    }
}

/// A whole-number field from 1 to `max`: its default when absent.
fn whole(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    max: u32,
    default: u32,
    errors: &mut Vec<FieldError>,
) -> u32 {
    let Some(v) = obj.get(key) else {
        return default;
    };
    match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
        Some(n) if (1..=max).contains(&n) => n,
        _ => {
            errors.push(FieldError::new(
                path,
                format!("must be a whole number from 1 to {max}"),
            ));
            default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(s: &str) -> Money {
        s.parse().unwrap()
    }

    fn errors(doc: Value) -> Vec<FieldError> {
        match Policy::parse(doc) {
            Err(e) => e,
            Ok(p) => panic!("should be refused, parsed as {p:?}"),
        }
    }

    fn fields(doc: Value) -> Vec<String> {
        errors(doc).into_iter().map(|e| e.field).collect()
    }

    fn design_document() -> Value {
        json!({
          "auto_approve": {
            "bus":             {"max_amount": "250.00"},
            "train":           {"max_amount": "350.00"},
            "hotel":           {"max_nights": 3, "max_nightly_rate": "225.00"},
            "local_transport": {"max_amount": "75.00"},
            "phone_card":      {"max_amount": "50.00"},
            "food":            {"max_amount": "150.00"}
          },
          "case_auto_cap": {"amount": "1000.00", "days": 7},
          "reserve_floor": "1000.00",
          "dual_approval_above": "1000.00",
          "hold_hours": 72,
          "escalate_after_minutes": 20,
          "report_cadence": "month"
        })
    }

    #[test]
    fn the_defaults_are_those_of_design() {
        let p = Policy::default();
        assert_eq!(p.to_json(), design_document());
        assert_eq!(Policy::parse(design_document()), Ok(p.clone()));
        assert_eq!(
            p.rule_for(Category::Bus),
            Some(&Rule::MaxAmount(money("250.00")))
        );
        for absent in [
            Category::Flight,
            Category::Clothing,
            Category::Hygiene,
            Category::PocketMoney,
            Category::Interpreter,
            Category::Other,
        ] {
            assert_eq!(p.rule_for(absent), None, "{absent}");
        }
        assert_eq!(p.case_auto_cap().amount(), money("1000.00"));
        assert_eq!(p.case_auto_cap().days(), 7);
        assert_eq!(p.reserve_floor_cents(), 100_000);
        assert_eq!(p.dual_approval_above(), money("1000.00"));
        assert_eq!(p.hold_hours(), 72);
        assert_eq!(p.hold_duration(), TimeDelta::hours(72));
        assert_eq!(p.escalate_after(), TimeDelta::minutes(20));
        assert_eq!(p.report_cadence(), Cadence::Month);
    }

    #[test]
    fn the_report_cadence_is_a_month_or_a_quarter() {
        let p = Policy::parse(json!({"report_cadence": "quarter"})).unwrap();
        assert_eq!(p.report_cadence(), Cadence::Quarter);
        assert_eq!(p.to_json()["report_cadence"], "quarter");
        for bad in [
            json!(crate::domain::ReportSchedule::Monthly.as_str()),
            json!("both"),
            json!(3),
            json!(null),
        ] {
            assert_eq!(fields(json!({"report_cadence": bad})), ["report_cadence"]);
        }
    }

    #[test]
    fn an_empty_document_is_the_default_policy() {
        assert_eq!(Policy::parse(json!({})), Ok(Policy::default()));
    }

    #[test]
    fn fields_left_out_take_their_defaults() {
        let p = Policy::parse(json!({"hold_hours": 24, "case_auto_cap": {"days": 30}})).unwrap();
        assert_eq!(p.hold_hours(), 24);
        assert_eq!(p.case_auto_cap().days(), 30);
        assert_eq!(p.case_auto_cap().amount(), money("1000.00"));
        assert_eq!(p.auto_approve(), Policy::default().auto_approve());
        assert_eq!(p.escalate_after_minutes(), 20);
    }

    #[test]
    fn a_given_auto_approve_list_replaces_the_default_one() {
        let p = Policy::parse(json!({"auto_approve": {"bus": {"max_amount": "100.00"}}})).unwrap();
        assert_eq!(p.auto_approve().len(), 1);
        assert_eq!(p.rule_for(Category::Train), None);
        let none = Policy::parse(json!({"auto_approve": {}})).unwrap();
        assert!(none.auto_approve().is_empty());
    }

    #[test]
    fn an_incomplete_rule_takes_its_categorys_default_limits() {
        let p = Policy::parse(json!({"auto_approve": {"hotel": {"max_nights": 2}, "bus": {}}}))
            .unwrap();
        assert_eq!(
            p.rule_for(Category::Hotel),
            Some(&Rule::Hotel {
                max_nights: 2,
                max_nightly_rate: money("225.00"),
                max_amount: None
            })
        );
        assert_eq!(
            p.rule_for(Category::Bus),
            Some(&Rule::MaxAmount(money("250.00")))
        );
    }

    #[test]
    fn a_category_without_a_default_rule_needs_its_max_amount() {
        assert_eq!(
            fields(json!({"auto_approve": {"flight": {}}})),
            ["auto_approve.flight.max_amount"]
        );
        let p =
            Policy::parse(json!({"auto_approve": {"flight": {"max_amount": "400.00"}}})).unwrap();
        assert_eq!(
            p.rule_for(Category::Flight),
            Some(&Rule::MaxAmount(money("400.00")))
        );
    }

    #[test]
    fn a_hotel_rule_may_also_cap_the_total() {
        let doc = json!({"auto_approve": {"hotel": {"max_nights": 5, "max_nightly_rate": "150.00", "max_amount": "500.00"}}});
        let p = Policy::parse(doc.clone()).unwrap();
        assert_eq!(
            p.rule_for(Category::Hotel),
            Some(&Rule::Hotel {
                max_nights: 5,
                max_nightly_rate: money("150.00"),
                max_amount: Some(money("500.00"))
            })
        );
        assert_eq!(p.to_json()["auto_approve"], doc["auto_approve"]);
    }

    #[test]
    fn to_json_round_trips() {
        for doc in [
            json!({}),
            design_document(),
            json!({"reserve_floor": "0", "auto_approve": {"other": {"max_amount": "20"}}, "hold_hours": 720}),
            json!({"auto_approve": {"hotel": {"max_amount": "300.00"}}, "case_auto_cap": {"amount": "0.01", "days": 365}}),
        ] {
            let p = Policy::parse(doc).unwrap();
            let again = Policy::parse(p.to_json()).unwrap();
            assert_eq!(again, p);
            assert_eq!(again.to_json(), p.to_json());
        }
    }

    #[test]
    fn unknown_fields_are_refused_by_name_at_every_level() {
        let errs = errors(json!({
            "hold_hour": 72,
            "auto_approve": {"taxi": {"max_amount": "20.00"}, "bus": {"max_amout": "20.00"}, "train": {"max_nights": 2}},
            "case_auto_cap": {"amount": "100.00", "weeks": 1}
        }));
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "hold_hour",
                "auto_approve.bus.max_amout",
                "auto_approve.taxi",
                "auto_approve.train.max_nights",
                "case_auto_cap.weeks"
            ]
        );
        assert!(
            errs[0].message.contains("hold_hours"),
            "{}",
            errs[0].message
        );
        assert!(
            errs[1].message.contains("max_amount"),
            "{}",
            errs[1].message
        );
        assert!(
            errs[2].message.contains("not a category"),
            "{}",
            errs[2].message
        );
    }

    #[test]
    fn amounts_must_be_strings_with_at_most_two_decimals() {
        let errs = errors(json!({
            "auto_approve": {
                "bus": {"max_amount": 250},
                "train": {"max_amount": "350.001"},
                "food": {"max_amount": "0.00"},
                "phone_card": {"max_amount": "-5.00"},
                "local_transport": {"max_amount": "lots"},
                "hotel": {"max_nightly_rate": "100000.01"}
            },
            "dual_approval_above": null,
        }));
        let by_field: BTreeMap<&str, &str> = errs
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(by_field.len(), 7, "{errs:?}");
        assert!(by_field["auto_approve.bus.max_amount"].contains("string"));
        assert!(by_field["auto_approve.train.max_amount"].contains("two decimals"));
        assert!(by_field["auto_approve.food.max_amount"].contains("greater than zero"));
        assert!(by_field["auto_approve.phone_card.max_amount"].contains("greater than zero"));
        assert!(by_field["auto_approve.local_transport.max_amount"].contains("not a number"));
        assert!(by_field["auto_approve.hotel.max_nightly_rate"].contains("100000.00"));
        assert!(by_field["dual_approval_above"].contains("string"));
    }

    #[test]
    fn the_reserve_floor_may_be_zero_but_not_negative() {
        let p = Policy::parse(json!({"reserve_floor": "0.00"})).unwrap();
        assert_eq!(p.reserve_floor_cents(), 0);
        assert_eq!(p.to_json()["reserve_floor"], json!("0.00"));
        assert_eq!(
            Policy::parse(json!({"reserve_floor": "2500.5"}))
                .unwrap()
                .reserve_floor_cents(),
            250_050
        );
        for bad in [json!("-1.00"), json!("0.001"), json!(0), json!("none")] {
            assert_eq!(fields(json!({"reserve_floor": bad})), ["reserve_floor"]);
        }
        let msg = &errors(json!({"reserve_floor": "-1.00"}))[0].message;
        assert!(msg.contains("negative"), "{msg}");
    }

    #[test]
    fn whole_numbers_are_bounded_at_both_ends() {
        for (field, max) in [("hold_hours", 720), ("escalate_after_minutes", 1440)] {
            assert!(Policy::parse(json!({field: 1})).is_ok());
            assert!(Policy::parse(json!({field: max})).is_ok());
            for bad in [
                json!(0),
                json!(max + 1),
                json!(-1),
                json!(1.5),
                json!("72"),
                json!(null),
            ] {
                let errs = errors(json!({field: bad}));
                assert_eq!(errs.len(), 1);
                assert_eq!(errs[0].field, field);
                assert!(errs[0].message.contains(&format!("1 to {max}")));
            }
        }
        assert!(Policy::parse(json!({"case_auto_cap": {"days": 365}})).is_ok());
        assert_eq!(
            fields(json!({"case_auto_cap": {"days": 366}})),
            ["case_auto_cap.days"]
        );
        assert_eq!(
            fields(json!({"case_auto_cap": {"days": 0}})),
            ["case_auto_cap.days"]
        );
        assert!(Policy::parse(json!({"auto_approve": {"hotel": {"max_nights": 30}}})).is_ok());
        assert_eq!(
            fields(json!({"auto_approve": {"hotel": {"max_nights": 31}}})),
            ["auto_approve.hotel.max_nights"]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let errs =
            errors(json!({"hold_hours": 0, "escalate_after_minutes": 0, "reserve_floor": 5}));
        assert_eq!(errs.len(), 3);
    }

    #[test]
    fn a_document_that_is_not_an_object_is_refused() {
        assert_eq!(fields(json!([1, 2])), ["policy"]);
        assert_eq!(fields(json!({"auto_approve": []})), ["auto_approve"]);
        assert_eq!(
            fields(json!({"auto_approve": {"bus": null}})),
            ["auto_approve.bus"]
        );
        assert_eq!(
            fields(json!({"case_auto_cap": "1000.00"})),
            ["case_auto_cap"]
        );
    }

    #[test]
    fn the_stored_version_number_is_ignored_so_a_fetched_document_can_be_saved_back() {
        let mut doc = Policy::default().to_json();
        doc["version"] = json!(3);
        doc["created_at"] = json!("2026-11-29T04:40:00Z");
        assert_eq!(Policy::parse(doc), Ok(Policy::default()));
    }
}
