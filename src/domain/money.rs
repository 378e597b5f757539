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
    #[error("is not a number: write an amount such as \"123.45\"")]
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

impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let d = Decimal::from_str_exact(s.trim()).map_err(|_| MoneyError::NotANumber)?;
        Money::from_decimal(d)
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
