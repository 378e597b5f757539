use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest single amount Passage accepts; anything above is a typo, not a bus ticket.
pub const MAX_CENTS: i64 = 10_000_000;

/// An amount of Canadian dollars, exact to the cent, strictly positive and at most
/// 100000.00. Kept as integer cents, which is also how the database stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error(
        "is not a number as Passage writes amounts: digits, then at most two decimals after a point, such as \"123.45\" (no sign, space, separator or exponent)"
    )]
    NotANumber,
    #[error("has more than two decimals: amounts are exact to the cent")]
    TooPrecise,
    #[error("must be greater than zero")]
    NotPositive,
    #[error("is larger than 100000.00, the most Passage accepts for one amount")]
    TooLarge,
}

impl Money {
    pub fn from_cents(cents: i64) -> Result<Self, MoneyError> {
        match cents {
            c if c <= 0 => Err(MoneyError::NotPositive),
            c if c > MAX_CENTS => Err(MoneyError::TooLarge),
            c => Ok(Money(c)),
        }
    }

    pub fn from_decimal(d: Decimal) -> Result<Self, MoneyError> {
        let normalized = d.normalize();
        if normalized.scale() > 2 {
            return Err(MoneyError::TooPrecise);
        }
        if d <= Decimal::ZERO {
            return Err(MoneyError::NotPositive);
        }
        let cents = (d * Decimal::ONE_HUNDRED)
            .trunc()
            .try_into()
            .map_err(|_| MoneyError::TooLarge)?;
        Money::from_cents(cents)
    }

    pub fn cents(self) -> i64 {
        self.0
    }

    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, 2)
    }
}

/// Formats a signed number of cents as a decimal string with two places ("-12.30").
pub fn format_cents(cents: i64) -> String {
    Decimal::new(cents, 2).to_string()
}

/// Reads the one shape an amount has on the wire and in forms,
/// `^[0-9]{1,6}(\.[0-9]{1,2})?$`, into cents: `1.000`, `1_000`, `+5`, `5.`, `.5`, ` 5` and
/// `1e2` are not amounts, whatever a decimal parser would make of them. Returns the cents
/// (zero included: the reserve floor may be zero) or what is wrong with the text.
pub fn parse_cents(s: &str) -> Result<i64, MoneyError> {
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let (whole, fraction) = match s.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (s, None),
    };
    let shaped = digits(whole) && fraction.is_none_or(digits);
    if !shaped {
        // "-5.00" is an amount below zero rather than no amount at all.
        return match s.strip_prefix('-') {
            Some(rest) if parse_cents(rest).is_ok() => Err(MoneyError::NotPositive),
            _ => Err(MoneyError::NotANumber),
        };
    }
    let fraction = fraction.unwrap_or("");
    if fraction.len() > 2 {
        return Err(MoneyError::TooPrecise);
    }
    if whole.len() > 6 {
        return Err(MoneyError::TooLarge);
    }
    // At most six digits and two: far inside an i64.
    let whole: i64 = whole.parse().map_err(|_| MoneyError::NotANumber)?;
    let cents: i64 = format!("{fraction:0<2}")
        .parse()
        .map_err(|_| MoneyError::NotANumber)?;
    Ok(whole * 100 + cents)
}

impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Money::from_cents(parse_cents(s)?)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_cents(self.0))
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An amount as answers show it ([`format_cents`]): two decimals always; a figure of the
/// fund may be zero. A name for the API's document only, used as
/// `#[schema(value_type = Figure)]` on the `String` fields that carry one.
pub struct Figure;

impl utoipa::PartialSchema for Figure {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .pattern(Some(r"^-?\d+\.\d{2}$"))
            .description(Some("Canadian dollars, exact to the cent"))
            .examples([serde_json::json!("189.00")])
            .into()
    }
}

impl utoipa::ToSchema for Figure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_amounts_to_cents() {
        assert_eq!("189.00".parse::<Money>().unwrap().cents(), 18900);
        assert_eq!("64.5".parse::<Money>().unwrap().cents(), 6450);
        assert_eq!("0.01".parse::<Money>().unwrap().cents(), 1);
        assert_eq!("100000.00".parse::<Money>().unwrap().cents(), MAX_CENTS);
        assert_eq!("351.22".parse::<Money>().unwrap().to_string(), "351.22");
        assert_eq!("007.5".parse::<Money>().unwrap().cents(), 750);
    }

    #[test]
    fn an_amount_has_one_shape() {
        for s in [
            "1.000", "1_000", "+5", "5.", ".5", " 5", "5 ", "1e2", "0x10", "1,000", "5.0.0",
            "\u{ff11}", "\u{661}", "5\n", "", ".", "-",
        ] {
            assert!(s.parse::<Money>().is_err(), "{s:?}");
            assert!(parse_cents(s).is_err(), "{s:?}");
        }
        assert_eq!("1.000".parse::<Money>(), Err(MoneyError::TooPrecise));
        assert_eq!("1000000".parse::<Money>(), Err(MoneyError::TooLarge));
        assert_eq!(parse_cents("0.00"), Ok(0));
        assert_eq!(parse_cents("-0"), Err(MoneyError::NotPositive));
    }

    #[test]
    fn refuses_what_is_not_a_fair_amount() {
        assert_eq!("1.005".parse::<Money>(), Err(MoneyError::TooPrecise));
        assert_eq!("0".parse::<Money>(), Err(MoneyError::NotPositive));
        assert_eq!("-5.00".parse::<Money>(), Err(MoneyError::NotPositive));
        assert_eq!("100000.01".parse::<Money>(), Err(MoneyError::TooLarge));
        assert_eq!("1e9".parse::<Money>(), Err(MoneyError::NotANumber));
        assert_eq!("abc".parse::<Money>(), Err(MoneyError::NotANumber));
        assert_eq!(
            "99999999999999999999999".parse::<Money>(),
            Err(MoneyError::TooLarge)
        );
    }
}
