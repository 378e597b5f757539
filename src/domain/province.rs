use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A Canadian province or territory, by its two-letter postal code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Province(&'static str);

pub const PROVINCES: &[&str] = &[
    "AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a Canadian province or territory code: use one of {}", PROVINCES.join(", "))]
pub struct ProvinceError;

impl Province {
    /// Takes the code in either case (`qc` or `QC`).
    pub fn parse(s: &str) -> Result<Self, ProvinceError> {
        let upper = s.trim().to_ascii_uppercase();
        PROVINCES
            .iter()
            .find(|p| **p == upper)
            .map(|p| Province(p))
            .ok_or(ProvinceError)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Province {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for Province {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Province {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Province::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_parses_and_nothing_else() {
        for p in PROVINCES {
            assert_eq!(Province::parse(p).unwrap().as_str(), *p);
        }
        assert_eq!(Province::parse("qc").unwrap().as_str(), "QC");
        for bad in ["", "Q", "QCC", "XX", "Québec", "US"] {
            assert!(Province::parse(bad).is_err(), "{bad}");
        }
    }
}
