//! Where a trip starts or ends, and the scope derived from two places.
//!
//! A place is a city plus either a Canadian province or a foreign country, never both: the
//! books count trips by province and by country, so one of the two must always be there,
//! and Canada written as a country would hide which province paid for what.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::note;

/// The thirteen Canadian provinces and territories.
///
/// TODO use domain::Province after merge: the identity branch owns that enum. This list is
/// the only place the domain branch knows the codes, so the swap is one line per use.
pub const PROVINCES: [&str; 13] = [
    "AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT",
];

/// Finds a province code, whatever its case, and returns the canonical static one.
pub fn province_code(s: &str) -> Option<&'static str> {
    let s = s.trim();
    PROVINCES
        .iter()
        .copied()
        .find(|code| code.eq_ignore_ascii_case(s))
}

/// ISO 3166-1 alpha-2, as officially assigned (the tz database's `iso3166.tab`), two letters
/// after two letters. Checking against the real list means a typo such as "HI" for "HT" is
/// refused instead of being counted as a country in the donors' report.
const ISO_3166_ALPHA2: &str = concat!(
    "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZCACCCDCFCGCHCICKCLCMCN",
    "COCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGNGPGQGRGSGTGUGWGYHKHM",
    "HNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALBLCLILKLRLSLTLULVLYMAMCMDMEMFMGMHMK",
    "MLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOMPAPEPFPGPHPKPLPMPNPRPSPTPWPYQARERORSRURW",
    "SASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUSUYUZVAVCVEVGVI",
    "VNVUWFWSYEYTZAZMZW",
);

/// The longest city name kept; longer text is not a city name but a description.
pub const CITY_MAX_CHARS: usize = 80;

/// A country outside Canada: two uppercase letters from ISO 3166-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Country([u8; 2]);

impl Country {
    pub fn parse(s: &str) -> Result<Country, PlaceError> {
        let s = s.trim();
        let upper = s.to_ascii_uppercase();
        let bytes = upper.as_bytes();
        if bytes.len() != 2 || !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(PlaceError::CountryNotIso);
        }
        if upper == "CA" {
            return Err(PlaceError::CanadaAsCountry);
        }
        let known = ISO_3166_ALPHA2
            .as_bytes()
            .chunks_exact(2)
            .any(|pair| pair == bytes);
        if !known {
            return Err(PlaceError::CountryNotIso);
        }
        Ok(Country([bytes[0], bytes[1]]))
    }

    pub fn as_str(&self) -> &str {
        // Built only from two ASCII uppercase letters in `parse`, so always valid UTF-8.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which side of the border a place is on, and where exactly for the books.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Region {
    /// A Canadian province or territory code from [`PROVINCES`].
    Province(&'static str),
    Country(Country),
}

/// A city and its province or country. Cities are purged with the request after the
/// retention period; the region stays for the books.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PlaceWire", into = "PlaceWire")]
pub struct Place {
    city: String,
    region: Region,
}

/// Why a place was refused. [`PlaceError::field`] names the JSON field to blame, so the
/// HTTP layer can answer `origin.province: ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    #[error("is required: give the city's name")]
    CityMissing,
    #[error("is longer than 80 characters: give only the city's name")]
    CityTooLong,
    #[error("is not a city name: it has only digits")]
    CityDigitsOnly,
    #[error("must be a name on one line, without control characters")]
    CityControl,
    #[error("must not hold personal data: {0}")]
    CityPersonalData(String),
    #[error("give either a province (in Canada) or a country (outside Canada), not both")]
    BothProvinceAndCountry,
    #[error("is required: give a province code such as \"QC\", or a country code instead")]
    RegionMissing,
    #[error("is not a Canadian province or territory code: use one of {}", PROVINCES.join(", "))]
    UnknownProvince,
    #[error("is not an ISO 3166-1 country code: use two letters such as \"HT\" or \"FR\"")]
    CountryNotIso,
    #[error("must be outside Canada: for a place in Canada give its province instead")]
    CanadaAsCountry,
}

impl PlaceError {
    /// The field of `{city, province, country}` the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            PlaceError::CityMissing
            | PlaceError::CityTooLong
            | PlaceError::CityDigitsOnly
            | PlaceError::CityControl
            | PlaceError::CityPersonalData(_) => "city",
            PlaceError::BothProvinceAndCountry
            | PlaceError::RegionMissing
            | PlaceError::UnknownProvince => "province",
            PlaceError::CountryNotIso | PlaceError::CanadaAsCountry => "country",
        }
    }
}

impl Place {
    /// Parses the three wire fields. Exactly one of `province` and `country` must be given.
    pub fn parse(
        city: &str,
        province: Option<&str>,
        country: Option<&str>,
    ) -> Result<Place, PlaceError> {
        let city = parse_city(city)?;
        let region = match (province, country) {
            (Some(_), Some(_)) => return Err(PlaceError::BothProvinceAndCountry),
            (None, None) => return Err(PlaceError::RegionMissing),
            (Some(p), None) => {
                Region::Province(province_code(p).ok_or(PlaceError::UnknownProvince)?)
            }
            (None, Some(c)) => Region::Country(Country::parse(c)?),
        };
        Ok(Place { city, region })
    }

    pub fn city(&self) -> &str {
        &self.city
    }

    pub fn region(&self) -> Region {
        self.region
    }

    /// The province code when the place is in Canada.
    pub fn province(&self) -> Option<&'static str> {
        match self.region {
            Region::Province(p) => Some(p),
            Region::Country(_) => None,
        }
    }

    /// The country when the place is outside Canada.
    pub fn country(&self) -> Option<Country> {
        match self.region {
            Region::Province(_) => None,
            Region::Country(c) => Some(c),
        }
    }

    pub fn in_canada(&self) -> bool {
        matches!(self.region, Region::Province(_))
    }
}

fn parse_city(raw: &str) -> Result<String, PlaceError> {
    let city = raw.trim();
    if city.is_empty() {
        return Err(PlaceError::CityMissing);
    }
    if city.chars().count() > CITY_MAX_CHARS {
        return Err(PlaceError::CityTooLong);
    }
    if city
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_whitespace() || c == '-')
    {
        return Err(PlaceError::CityDigitsOnly);
    }
    if city.chars().any(char::is_control) {
        return Err(PlaceError::CityControl);
    }
    // A name the gazetteer knows is a place. Any other is free text too: someone pressed
    // for time may type the shelter's street address there, so the note's detectors read
    // it ("100 Mile House" passes them, known or not).
    if super::gazetteer::knows(city) {
        return Ok(city.to_owned());
    }
    let found = note::personal_data(city);
    if !found.is_empty() {
        return Err(PlaceError::CityPersonalData(note::what_to_remove(&found)));
    }
    Ok(city.to_owned())
}

/// The JSON shape of a place: `{"city": "Montréal", "province": "QC"}` or
/// `{"city": "Port-au-Prince", "country": "HT"}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceWire {
    city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    province: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    country: Option<String>,
}

impl TryFrom<PlaceWire> for Place {
    type Error = PlaceError;

    fn try_from(w: PlaceWire) -> Result<Self, Self::Error> {
        Place::parse(&w.city, w.province.as_deref(), w.country.as_deref())
    }
}

impl From<Place> for PlaceWire {
    fn from(p: Place) -> Self {
        let (province, country) = match p.region {
            Region::Province(code) => (Some(code.to_owned()), None),
            Region::Country(c) => (None, Some(c.as_str().to_owned())),
        };
        PlaceWire {
            city: p.city,
            province,
            country,
        }
    }
}

/// How far a trip goes. Derived from the two places, never typed by the caseworker, so the
/// donors' count of interprovincial trips cannot be gamed or mistyped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Local,
    Intercity,
    Interprovincial,
    International,
}

impl Scope {
    pub fn of(origin: &Place, destination: &Place) -> Scope {
        match (origin.region, destination.region) {
            (Region::Country(_), _) | (_, Region::Country(_)) => Scope::International,
            (Region::Province(a), Region::Province(b)) if a != b => Scope::Interprovincial,
            _ if same_city(&origin.city, &destination.city) => Scope::Local,
            _ => Scope::Intercity,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::Local => "local",
            Scope::Intercity => "intercity",
            Scope::Interprovincial => "interprovincial",
            Scope::International => "international",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether two spellings name the same city: "Montreal" and "Montréal", "St-Jérôme" and
/// "Saint-Jérôme" are one city to a caseworker typing on a phone at night.
fn same_city(a: &str, b: &str) -> bool {
    fold_city(a) == fold_city(b)
}

/// A city's name as it is compared: lower case, without accents (also when typed as
/// combining marks), hyphens, dots and apostrophes read as spaces, "St"/"Ste" read as
/// "Saint"/"Sainte". The gazetteer looks names up by this key.
pub fn fold_city(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    let mut flat = String::with_capacity(s.len());
    for c in s
        .nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
    {
        match c {
            'æ' => flat.push_str("ae"),
            'œ' => flat.push_str("oe"),
            'ø' => flat.push('o'),
            'ß' => flat.push_str("ss"),
            c if c.is_alphanumeric() => flat.push(c),
            _ => flat.push(' '),
        }
    }
    flat.split_whitespace()
        .map(|word| match word {
            "st" => "saint",
            "ste" => "sainte",
            w => w,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn place(v: serde_json::Value) -> Result<Place, String> {
        serde_json::from_value::<Place>(v).map_err(|e| e.to_string())
    }

    fn qc(city: &str) -> Place {
        Place::parse(city, Some("QC"), None).unwrap()
    }

    #[test]
    fn a_canadian_place_parses_from_its_json_and_round_trips() {
        let p = place(json!({"city": " Montréal ", "province": "QC"})).unwrap();
        assert_eq!(p.city(), "Montréal");
        assert_eq!(p.province(), Some("QC"));
        assert!(p.in_canada());
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"city": "Montréal", "province": "QC"})
        );
    }

    #[test]
    fn a_foreign_place_parses_from_its_json_and_round_trips() {
        let p = place(json!({"city": "Port-au-Prince", "country": "HT"})).unwrap();
        assert_eq!(p.country().map(|c| c.to_string()), Some("HT".to_owned()));
        assert_eq!(p.province(), None);
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"city": "Port-au-Prince", "country": "HT"})
        );
    }

    #[test]
    fn codes_in_lower_case_are_normalised() {
        assert_eq!(qc("Laval").province(), Some("QC"));
        let p = Place::parse("Lyon", None, Some("fr")).unwrap();
        assert_eq!(p.country().unwrap().as_str(), "FR");
        assert_eq!(
            Place::parse("Ottawa", Some("on"), None).unwrap().province(),
            Some("ON")
        );
    }

    #[test]
    fn exactly_one_of_province_and_country_is_required() {
        assert_eq!(
            Place::parse("Ottawa", Some("ON"), Some("FR")),
            Err(PlaceError::BothProvinceAndCountry)
        );
        assert_eq!(
            Place::parse("Ottawa", None, None),
            Err(PlaceError::RegionMissing)
        );
        assert_eq!(PlaceError::RegionMissing.field(), "province");
    }

    #[test]
    fn canada_must_be_given_as_a_province() {
        let err = Place::parse("Ottawa", None, Some("CA")).unwrap_err();
        assert_eq!(err, PlaceError::CanadaAsCountry);
        assert_eq!(err.field(), "country");
    }

    #[test]
    fn unknown_codes_are_refused() {
        for bad in ["XX", "H", "HTI", "H1", "", "ZZ", "UK"] {
            assert_eq!(
                Place::parse("Somewhere", None, Some(bad)),
                Err(PlaceError::CountryNotIso),
                "{bad}"
            );
        }
        for bad in ["PQ", "NF", "YK", "Q", "QCC", ""] {
            assert_eq!(
                Place::parse("Somewhere", Some(bad), None),
                Err(PlaceError::UnknownProvince),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_province_code_is_accepted() {
        for code in PROVINCES {
            assert_eq!(
                Place::parse("Ville", Some(code), None).unwrap().province(),
                Some(code)
            );
        }
    }

    #[test]
    fn the_iso_list_holds_249_two_letter_codes() {
        assert_eq!(ISO_3166_ALPHA2.len(), 2 * 249);
        for code in ["US", "GB", "MX", "HT", "PH", "ZW", "AD"] {
            assert!(Country::parse(code).is_ok(), "{code}");
        }
    }

    #[test]
    fn a_city_is_a_short_name_not_a_number_or_an_address() {
        assert_eq!(
            Place::parse("  ", Some("QC"), None),
            Err(PlaceError::CityMissing)
        );
        assert_eq!(
            Place::parse(&"a".repeat(81), Some("QC"), None),
            Err(PlaceError::CityTooLong)
        );
        assert!(Place::parse(&"é".repeat(80), Some("QC"), None).is_ok());
        assert_eq!(
            Place::parse("12345", Some("QC"), None),
            Err(PlaceError::CityDigitsOnly)
        );
        let err = Place::parse("1234 rue Exemple", Some("QC"), None).unwrap_err();
        assert_eq!(err.field(), "city");
        assert!(err.to_string().contains("street address"), "{err}");
        assert!(Place::parse("100 Mile House", Some("BC"), None).is_ok());
    }

    #[test]
    fn unknown_fields_in_a_place_are_refused() {
        let err = place(json!({"city": "Ottawa", "province": "ON", "street": "x"})).unwrap_err();
        assert!(err.contains("street"), "{err}");
        assert!(place(json!({"province": "ON"})).is_err());
    }

    #[test]
    fn scope_is_international_when_either_end_is_abroad() {
        let haiti = Place::parse("Port-au-Prince", None, Some("HT")).unwrap();
        assert_eq!(Scope::of(&qc("Montréal"), &haiti), Scope::International);
        assert_eq!(Scope::of(&haiti, &qc("Montréal")), Scope::International);
        assert_eq!(Scope::of(&haiti, &haiti), Scope::International);
    }

    #[test]
    fn scope_is_interprovincial_when_provinces_differ() {
        let ottawa = Place::parse("Ottawa", Some("ON"), None).unwrap();
        assert_eq!(Scope::of(&qc("Gatineau"), &ottawa), Scope::Interprovincial);
    }

    #[test]
    fn scope_is_local_within_one_city_however_it_is_spelled() {
        assert_eq!(Scope::of(&qc("Montréal"), &qc("montreal")), Scope::Local);
        assert_eq!(
            Scope::of(&qc("St-Jérôme"), &qc("Saint Jerome")),
            Scope::Local
        );
        assert_eq!(Scope::of(&qc("Québec"), &qc("QUEBEC")), Scope::Local);
    }

    #[test]
    fn scope_is_intercity_between_two_cities_of_one_province() {
        assert_eq!(Scope::of(&qc("Montréal"), &qc("Québec")), Scope::Intercity);
        assert_eq!(Scope::of(&qc("Laval"), &qc("Montréal")), Scope::Intercity);
    }

    #[test]
    fn scope_serialises_in_snake_case() {
        assert_eq!(
            serde_json::to_value(Scope::Interprovincial).unwrap(),
            json!("interprovincial")
        );
        assert_eq!(Scope::Local.to_string(), "local");
    }
}
