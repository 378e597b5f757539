//! The anonymous code a case is known by: `QC-7K4M-X2P9C`.
//!
//! A caseworker reads it from a screen, writes it on paper, types it on a phone at night.
//! So it is short, uses Crockford's base32 (no I, L, O or U: nothing to confuse with 1, 0
//! or a rude word), reads the same in any case, and ends in a check character so that a
//! mistyped code is refused instead of filing money against someone else's case.
//!
//! Layout: a province prefix (where the case was opened, useful to the books and harmless),
//! eight random symbols (40 bits: about a trillion codes, so a code cannot be guessed or
//! enumerated by hand), and one check symbol.
//!
//! The check: every symbol of the code, the province letters included, takes its Crockford
//! value (L and O in a prefix count as 1 and 0, as Crockford reads them; U, which only a
//! prefix or a check can hold, counts 36), and the check symbol is chosen from Crockford's
//! 37-symbol check alphabet (`0-9 A-Z` without I L O U, then `* ~ $ = U`) so that
//! `Σ value × 32^(position from the right) ≡ 0 (mod 37)` over the whole code. Because 37 is
//! prime and larger than any difference between two values, changing any one symbol, or
//! swapping any two neighbours (the check symbol included, which plain Crockford "number mod
//! 37" does not promise), always breaks the sum.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::place::province_code;

/// Crockford's base32 data alphabet: value = index.
const DATA: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Crockford's check alphabet: the data alphabet, then the five extra check symbols.
const CHECK: &[u8; 37] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";
/// How many random symbols a code carries (5 bits each).
pub const RANDOM_SYMBOLS: usize = 8;
const PREFIX: usize = 2;
const COMPACT_LEN: usize = PREFIX + RANDOM_SYMBOLS + 1;

/// A case code that exists only if it is well formed and its check symbol agrees.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseCode {
    canonical: String,
    province: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseCodeError {
    #[error(
        "is not a case code: a case code is a province, eight symbols and a check character, such as QC-7K4M-X2P9C"
    )]
    Malformed,
    #[error("does not start with a Canadian province or territory code such as QC")]
    UnknownProvince,
    #[error("has a character that is not used in case codes: check it against the paper")]
    InvalidCharacter,
    #[error("has a typo: its check character does not match; check each character")]
    Mistyped,
}

/// Crockford's value of a data symbol, reading O as 0 and I or L as 1 as Crockford asks.
fn data_value(c: u8) -> Option<u8> {
    match c.to_ascii_uppercase() {
        b'O' => Some(0),
        b'I' | b'L' => Some(1),
        up => DATA.iter().position(|&d| d == up).map(|i| i as u8),
    }
}

/// The value of a check symbol: a data value, or 32..=36 for `* ~ $ = U`.
fn check_value(c: u8) -> Option<u8> {
    data_value(c).or_else(|| {
        let up = c.to_ascii_uppercase();
        CHECK.iter().position(|&d| d == up).map(|i| i as u8)
    })
}

/// The value a province letter takes in the check sum (see the module comment).
fn prefix_value(c: u8) -> Option<u8> {
    check_value(c)
}

/// The check value that makes the weighted sum of `values` and the check divisible by 37.
fn check_for(values: &[u8]) -> u8 {
    let sum = values
        .iter()
        .fold(0u32, |acc, &v| (acc * 32 + u32::from(v)) % 37);
    // One more shift: the check symbol itself sits at weight 32^0.
    let shifted = (sum * 32) % 37;
    ((37 - shifted) % 37) as u8
}

impl CaseCode {
    /// Makes a new random code for a case opened in `province` (a code such as "QC").
    ///
    /// TODO use domain::Province after merge: then this cannot fail.
    pub fn generate(province: &str, rng: &mut impl Rng) -> Result<CaseCode, CaseCodeError> {
        let province = province_code(province).ok_or(CaseCodeError::UnknownProvince)?;
        let mut values = Vec::with_capacity(PREFIX + RANDOM_SYMBOLS);
        for &letter in province.as_bytes() {
            values.push(prefix_value(letter).ok_or(CaseCodeError::UnknownProvince)?);
        }
        let mut random = [0u8; RANDOM_SYMBOLS];
        for symbol in &mut random {
            *symbol = rng.gen_range(0..32u8);
        }
        values.extend_from_slice(&random);
        let check = check_for(&values);
        Ok(CaseCode::assemble(province, &random, check))
    }

    /// Reads a code as a person typed it: any case, hyphens and spaces anywhere or nowhere,
    /// O for 0 and I or L for 1 in the symbols.
    pub fn parse(s: &str) -> Result<CaseCode, CaseCodeError> {
        let compact: Vec<u8> = s
            .bytes()
            .filter(|b| *b != b'-' && !b.is_ascii_whitespace())
            .collect();
        if compact.len() != COMPACT_LEN || !s.is_ascii() {
            return Err(CaseCodeError::Malformed);
        }
        let prefix =
            std::str::from_utf8(&compact[..PREFIX]).map_err(|_| CaseCodeError::Malformed)?;
        let province = match province_code(prefix) {
            Some(p) if prefix.bytes().all(|b| b.is_ascii_alphabetic()) => p,
            _ => return Err(CaseCodeError::UnknownProvince),
        };
        let mut values = Vec::with_capacity(PREFIX + RANDOM_SYMBOLS);
        for &letter in province.as_bytes() {
            values.push(prefix_value(letter).ok_or(CaseCodeError::UnknownProvince)?);
        }
        let mut random = [0u8; RANDOM_SYMBOLS];
        for (slot, &c) in random
            .iter_mut()
            .zip(&compact[PREFIX..PREFIX + RANDOM_SYMBOLS])
        {
            *slot = data_value(c).ok_or(CaseCodeError::InvalidCharacter)?;
        }
        values.extend_from_slice(&random);
        let check = check_value(compact[COMPACT_LEN - 1]).ok_or(CaseCodeError::InvalidCharacter)?;
        if check != check_for(&values) {
            return Err(CaseCodeError::Mistyped);
        }
        Ok(CaseCode::assemble(province, &random, check))
    }

    fn assemble(province: &'static str, random: &[u8; RANDOM_SYMBOLS], check: u8) -> CaseCode {
        let mut canonical = String::with_capacity(COMPACT_LEN + 2);
        canonical.push_str(province);
        for (i, &v) in random.iter().enumerate() {
            if i % 4 == 0 {
                canonical.push('-');
            }
            canonical.push(char::from(DATA[usize::from(v)]));
        }
        canonical.push(char::from(CHECK[usize::from(check)]));
        CaseCode {
            canonical,
            province,
        }
    }

    /// The canonical form, as stored and shown: `QC-7K4M-X2P9C`.
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    /// The province where the case was opened.
    pub fn province(&self) -> &'static str {
        self.province
    }
}

impl fmt::Display for CaseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

impl FromStr for CaseCode {
    type Err = CaseCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CaseCode::parse(s)
    }
}

impl Serialize for CaseCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.canonical)
    }
}

impl<'de> Deserialize<'de> for CaseCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CaseCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::place::PROVINCES;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use std::collections::HashSet;

    /// Every character a person might type in a code, valid or not.
    const TYPABLE: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*~$=";

    fn compact(code: &CaseCode) -> Vec<u8> {
        code.as_str().bytes().filter(|&b| b != b'-').collect()
    }

    fn sample_codes(n: usize) -> Vec<CaseCode> {
        let mut rng = StdRng::seed_from_u64(4);
        (0..n)
            .map(|i| CaseCode::generate(PROVINCES[i % PROVINCES.len()], &mut rng).unwrap())
            .collect()
    }

    #[test]
    fn a_generated_code_has_the_documented_shape() {
        let code = CaseCode::generate("QC", &mut StdRng::seed_from_u64(1)).unwrap();
        let s = code.as_str();
        assert_eq!(s.len(), 13, "{s}");
        assert!(s.starts_with("QC-"), "{s}");
        assert_eq!(&s[7..8], "-", "{s}");
        assert_eq!(code.province(), "QC");
    }

    #[test]
    fn generated_codes_parse_back_to_themselves_in_every_province() {
        for code in sample_codes(500) {
            let again = CaseCode::parse(code.as_str()).unwrap();
            assert_eq!(again, code);
            assert_eq!(again.to_string(), code.to_string());
        }
    }

    #[test]
    fn generation_refuses_an_unknown_province() {
        assert_eq!(
            CaseCode::generate("PQ", &mut StdRng::seed_from_u64(1)),
            Err(CaseCodeError::UnknownProvince)
        );
    }

    #[test]
    fn codes_do_not_repeat() {
        let codes = sample_codes(5000);
        let distinct: HashSet<_> = codes.iter().map(|c| &c.as_str()[3..]).collect();
        assert_eq!(distinct.len(), codes.len());
    }

    #[test]
    fn parsing_accepts_what_a_person_types_and_normalises_it() {
        let code = sample_codes(1).remove(0);
        let canonical = code.as_str().to_owned();
        let bare: String = canonical.chars().filter(|&c| c != '-').collect();
        for typed in [
            canonical.to_lowercase(),
            bare.clone(),
            bare.to_lowercase(),
            format!("  {}  ", canonical),
            canonical.replace('-', " "),
        ] {
            assert_eq!(CaseCode::parse(&typed), Ok(code.clone()), "{typed}");
        }
    }

    #[test]
    fn o_i_and_l_are_read_as_zero_and_one() {
        let mut rng = StdRng::seed_from_u64(7);
        let code = (0..1000)
            .map(|_| CaseCode::generate("ON", &mut rng).unwrap())
            .find(|c| c.as_str()[3..].contains('0') && c.as_str()[3..].contains('1'))
            .unwrap();
        let s = code.as_str();
        let typed = format!("{}{}", &s[..3], s[3..].replace('0', "o").replace('1', "L"));
        assert_eq!(CaseCode::parse(&typed), Ok(code.clone()), "{typed}");
        let typed = format!("{}{}", &s[..3], s[3..].replace('1', "I"));
        assert_eq!(CaseCode::parse(&typed), Ok(code));
    }

    #[test]
    fn every_single_character_typo_is_refused() {
        for code in sample_codes(200) {
            let original = compact(&code);
            for pos in 0..original.len() {
                for &c in TYPABLE {
                    let mut typo = original.clone();
                    typo[pos] = c;
                    let typed = String::from_utf8(typo).unwrap();
                    match CaseCode::parse(&typed) {
                        Err(_) => {}
                        // Typing O for 0 or L for 1 is not a typo: it is the same code.
                        Ok(same) => assert_eq!(same, code, "{typed} was taken for another case"),
                    }
                    let is_alias = pos >= PREFIX
                        && data_value(c).is_some()
                        && data_value(c) == data_value(original[pos]);
                    if c != original[pos] && !is_alias {
                        assert!(CaseCode::parse(&typed).is_err(), "{typed} accepted");
                    }
                }
            }
        }
    }

    #[test]
    fn every_swap_of_two_neighbours_is_refused() {
        for code in sample_codes(500) {
            let original = compact(&code);
            for pos in 0..original.len() - 1 {
                if original[pos] == original[pos + 1] {
                    continue;
                }
                let mut swapped = original.clone();
                swapped.swap(pos, pos + 1);
                let typed = String::from_utf8(swapped).unwrap();
                assert!(
                    CaseCode::parse(&typed).is_err(),
                    "{typed} accepted for {code}"
                );
            }
        }
    }

    #[test]
    fn a_swap_across_the_prefix_into_another_province_is_refused() {
        // NB + S… swapped reads NS + B…: both provinces exist, so only the check catches it.
        let mut rng = StdRng::seed_from_u64(11);
        let code = (0..10_000)
            .map(|_| CaseCode::generate("NB", &mut rng).unwrap())
            .find(|c| c.as_str().as_bytes()[3] == b'S')
            .unwrap();
        let s = code.as_str();
        let typed = format!("NS-B{}", &s[4..]);
        assert_eq!(CaseCode::parse(&typed), Err(CaseCodeError::Mistyped));
    }

    #[test]
    fn malformed_codes_say_why() {
        assert_eq!(CaseCode::parse(""), Err(CaseCodeError::Malformed));
        // DESIGN's example lacks its check character.
        assert_eq!(
            CaseCode::parse("QC-7K4M-X2P9"),
            Err(CaseCodeError::Malformed)
        );
        assert_eq!(
            CaseCode::parse("QC-7K4M-X2P9CC"),
            Err(CaseCodeError::Malformed)
        );
        assert_eq!(
            CaseCode::parse("XX-7K4M-X2P9C"),
            Err(CaseCodeError::UnknownProvince)
        );
        assert_eq!(
            CaseCode::parse("Q1-7K4M-X2P9C"),
            Err(CaseCodeError::UnknownProvince)
        );
        assert_eq!(
            CaseCode::parse("QC-7K4U-X2P9C"),
            Err(CaseCodeError::InvalidCharacter)
        );
        assert_eq!(
            CaseCode::parse("QC-7K4M-X2P9#"),
            Err(CaseCodeError::InvalidCharacter)
        );
        assert_eq!(
            CaseCode::parse("QC-7K4M-X2P9é"),
            Err(CaseCodeError::Malformed)
        );
    }

    proptest::proptest! {
        #[test]
        fn parsing_anything_never_panics_and_what_parses_is_canonical(s in "\\PC{0,20}|[0-9A-Za-z*~$= -]{9,16}") {
            if let Ok(code) = CaseCode::parse(&s) {
                proptest::prop_assert_eq!(CaseCode::parse(code.as_str()), Ok(code.clone()));
                proptest::prop_assert_eq!(code.as_str().len(), 13);
            }
        }

        #[test]
        fn any_seed_gives_a_code_that_parses_back(seed: u64, i in 0usize..13) {
            let code = CaseCode::generate(PROVINCES[i], &mut StdRng::seed_from_u64(seed)).unwrap();
            proptest::prop_assert_eq!(CaseCode::parse(&code.as_str().to_lowercase()), Ok(code));
        }
    }

    #[test]
    fn a_code_serialises_as_its_canonical_string() {
        let code = sample_codes(1).remove(0);
        let json = serde_json::to_string(&code).unwrap();
        assert_eq!(json, format!("\"{code}\""));
        let back: CaseCode = serde_json::from_str(&json.to_lowercase()).unwrap();
        assert_eq!(back, code);
        assert!(serde_json::from_str::<CaseCode>("\"QC-0000-0000\"").is_err());
    }
}
