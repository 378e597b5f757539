//! The optional short note on a request, and the check that keeps personal data out of it.
//!
//! Passage promises that a case holds nothing a person could be traced by. The note is the
//! one free-text field on a request, so it is where a name, a phone number or an address
//! would leak in, typed in a hurry at night. The check errs on the side of refusing: a
//! refused note costs the caseworker a few seconds, a stored phone number can cost a life.
//! It cannot catch everything (a bare name looks like any other word); it catches what has a
//! shape.
//!
//! Detectors run in a fixed order on a copy of the text from which each finding is blanked
//! out, so that a phone number is reported once as a phone number and not again as a long
//! number.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A note is a line or two for the treasurer, not a case file.
pub const NOTE_MAX_CHARS: usize = 280;

/// A note that is short, not empty, and has nothing shaped like personal data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Note(String);

/// A kind of personal data found in free text. The value found is never kept nor echoed:
/// error messages travel to logs and screens where it must not appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PersonalData {
    Email,
    PostalCode,
    DateOfBirth,
    Phone,
    LongNumber,
    StreetAddress,
}

impl PersonalData {
    /// What the caseworker should take out, in plain words.
    pub fn what_to_remove(&self) -> &'static str {
        match self {
            PersonalData::Email => "the email address",
            PersonalData::PostalCode => "the postal code",
            PersonalData::DateOfBirth => {
                "the date of birth or full date (dates have their own fields)"
            }
            PersonalData::Phone => "the phone number",
            PersonalData::LongNumber => {
                "the long number (document, card and account numbers identify a person)"
            }
            PersonalData::StreetAddress => "the street address",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("is empty: leave the note out, or write a few words for the treasurer")]
    Empty,
    #[error("is longer than 280 characters: keep it to what the treasurer needs tonight")]
    TooLong,
    #[error("must be plain text, without control characters")]
    ControlCharacters,
    #[error("looks like it holds personal data: {}", what_to_remove(.0))]
    PersonalData(Vec<PersonalData>),
}

/// "remove the phone number and the postal code".
pub fn what_to_remove(found: &[PersonalData]) -> String {
    let parts: Vec<&str> = found.iter().map(PersonalData::what_to_remove).collect();
    let list = match parts.as_slice() {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {}", init.join(", "), last),
    };
    format!("remove {list}")
}

impl Note {
    pub fn parse(s: &str) -> Result<Note, NoteError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(NoteError::Empty);
        }
        if s.chars().count() > NOTE_MAX_CHARS {
            return Err(NoteError::TooLong);
        }
        if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(NoteError::ControlCharacters);
        }
        let found = personal_data(s);
        if !found.is_empty() {
            return Err(NoteError::PersonalData(found));
        }
        Ok(Note(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Note {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Note {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Note {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Note::parse(&s).map_err(serde::de::Error::custom)
    }
}

// Month names, French and English, for dates written out with a year.
const MONTHS: &str = r"(?:janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|d[ée]cembre|january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|f[ée]v|apr|avr|jun|jul|juil|aug|sept?|oct|nov|d[ée]c)\.?";

// Street words that follow the number directly, as in French ("1234 rue Principale",
// "45, boul. Exemple"). Each is unambiguous right after a number.
const STREET_BEFORE_NAME: &str = r"(?:rue|avenue|av|ave|boulevard|boul|blvd|bd|chemin|ch|route|rang|mont[ée]e|c[ôo]te|all[ée]e|impasse|place|croissant|promenade|terrasse|square|carr[ée])";

// Street words that follow the name, as in English ("12 Example Street"). Words such as
// "court", "way" or "street" are everyday words ("3 nights before court", "2 nights on the
// street"), so this form needs the name to start with a capital letter.
const STREET_AFTER_NAME: &str = r"(?:street|st|road|rd|avenue|ave|av|drive|dr|way|lane|ln|place|pl|crescent|cres|court|ct|boulevard|blvd|terrace|circle|cir|highway|hwy|parkway|pkwy|trail|row|square|sq)";

struct Detector {
    kind: PersonalData,
    patterns: Vec<Regex>,
}

fn regex(pattern: &str) -> Regex {
    // The patterns are constants of this file and `every_detector_compiles` builds them all,
    // so a failure here is a programming error caught by the tests, never user input.
    Regex::new(pattern).expect("constant pattern compiles")
}

static DETECTORS: LazyLock<Vec<Detector>> = LazyLock::new(|| {
    vec![
        Detector {
            kind: PersonalData::Email,
            // The top-level domain must be letters, so "2@189.00" (two at 189.00) passes.
            patterns: vec![regex(
                r"[^\s@]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b",
            )],
        },
        Detector {
            kind: PersonalData::PostalCode,
            patterns: vec![regex(
                r"(?i)\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z][ -]?\d[ABCEGHJ-NPRSTV-Z]\d\b",
            )],
        },
        Detector {
            kind: PersonalData::DateOfBirth,
            patterns: vec![
                // 1998-04-12, 1998/4/12
                regex(r"\b(?:1[89]|20)\d{2}[-/.]\d{1,2}[-/.]\d{1,2}\b"),
                // 12/04/1998, 12-04-98, 12.04.1998: one separator throughout, so that a
                // range of days such as "12/04-15/04" passes.
                regex(r"\b\d{1,2}(?:/\d{1,2}/|-\d{1,2}-|\.\d{1,2}\.)(?:(?:1[89]|20)\d{2}|\d{2})\b"),
                // 12 avril 1998, 1er mai 2001, 3 March 1999
                regex(&format!(
                    r"(?i)\b\d{{1,2}}(?:er|st|nd|rd|th)?\s+{MONTHS},?\s+(?:1[89]|20)\d{{2}}\b"
                )),
                // April 12, 1998
                regex(&format!(
                    r"(?i)\b{MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:1[89]|20)\d{{2}}\b"
                )),
                // né le, née en, born, date of birth, DOB, date de naissance, DDN
                regex(
                    r"(?i)\bnée?s?\s+(?:le|en|au|à)\b|\bborn\b|\bd\.?o\.?b\b|\bdate\s+of\s+birth\b|\bdate\s+de\s+naissance\b|\bddn\b",
                ),
            ],
        },
        Detector {
            kind: PersonalData::Phone,
            patterns: vec![
                // International: +33 1 23 45 67 89, +509 3712 3456, +1 (514) 555-0100
                regex(r"\+\s?\d(?:[\s.()-]{0,2}\d){6,}"),
                // North American: (514) 555-0100, 514.555.0100, 1-514-555-0100, 5145550100
                regex(r"\b(?:1[\s.-]?)?(?:\(\d{3}\)|\d{3})[\s.-]?\d{3}[\s.-]?\d{4}\b"),
                regex(r"\(\d{3}\)\s?\d{3}[\s.-]?\d{4}\b"),
                // Seven digits with a separator: 555-0100, 555 0100
                regex(r"\b\d{3}[\s.-]\d{4}\b"),
            ],
        },
        Detector {
            kind: PersonalData::LongNumber,
            // Six digits or more, even in groups: passports, health cards, SIN, accounts.
            // Dots and colons end a run, so amounts ("189.00") and times ("23:55") pass.
            patterns: vec![regex(r"\d(?:[ -]?\d){5,}")],
        },
        Detector {
            kind: PersonalData::StreetAddress,
            patterns: vec![
                regex(&format!(
                    r"(?i)\b\d{{1,6}}[a-z]?,?\s+{STREET_BEFORE_NAME}\b\.?"
                )),
                regex(&format!(
                    r"\b\d{{1,6}}[A-Za-z]?,?\s+(?:\p{{Lu}}[\p{{L}}'’.-]*\s+){{1,3}}(?i:{STREET_AFTER_NAME})\b"
                )),
                // The same in lower case, for the street words nobody uses otherwise after
                // a number and one word: "123 main street" (but "12 hour drive" passes).
                regex(
                    r"(?i)\b\d{1,6}[a-z]?,?\s+\p{L}[\p{L}'’-]*\s+(?:street|avenue|ave|boulevard|blvd|crescent)\b",
                ),
                // 5th Avenue, 2nd Street; not "4th court date" nor "1re place".
                regex(
                    r"(?i)\b\d{1,4}(?:st|nd|rd|th|e|er|re)\s+(?:street|st|avenue|ave|road|rd|boulevard|blvd)\b",
                ),
            ],
        },
    ]
});

/// Every kind of personal data found in `text`, in a stable order, each kind once.
pub fn personal_data(text: &str) -> Vec<PersonalData> {
    let mut rest = text.to_owned();
    let mut found = Vec::new();
    for detector in DETECTORS.iter() {
        let mut hit = false;
        for pattern in &detector.patterns {
            if pattern.is_match(&rest) {
                hit = true;
                // Blank out what was found so later detectors do not report it again.
                rest = pattern.replace_all(&rest, " ").into_owned();
            }
        }
        if hit {
            found.push(detector.kind);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_for(note: &str) -> Vec<PersonalData> {
        match Note::parse(note) {
            Err(NoteError::PersonalData(kinds)) => kinds,
            other => panic!("{note:?} should be refused for personal data, got {other:?}"),
        }
    }

    fn passes(note: &str) {
        assert!(
            Note::parse(note).is_ok(),
            "{note:?} should pass: {:?}",
            Note::parse(note)
        );
    }

    #[test]
    fn every_detector_compiles() {
        assert_eq!(DETECTORS.len(), 6);
    }

    #[test]
    fn ordinary_notes_pass() {
        for note in [
            "2 nights, arrive late, needs ground floor",
            "bus at 23:55 from gate 4",
            "2 nuits, arrivée tard, rez-de-chaussée svp",
            "autobus de 6h15, quai 12",
            "with 2 children, 1 stroller",
            "train 64 to Ottawa, seat 12",
            "hotel 189.00 per night, 3 people",
            "3 nights before court on the 14th",
            "2 nights on the street before this",
            "flight AC 8824 leaves 07:40",
            "needs halal food, 4 meals",
            "arrives 12/04, leaves the next day",
            "le 12 avril, retour le 15",
            "carte d'appel 50 minutes",
            "total 1250.00 for the week",
            "on the way to the shelter in Gatineau",
            "room on the 2nd floor, near the elevator",
            "interprète en tigrinya pour 2 heures",
            "prefers a woman driver",
            "ne le dis pas au chauffeur",
            "a newborn travels with her",
            "arrives 12/04-15/04",
            "2 nights @189.00",
            "2@189.00",
            "12 hour drive to Toronto",
            "2 nights St-Jérôme then bus",
            "3 hour road trip",
            "her 4th court date",
            "arrivée en 1re place",
        ] {
            passes(note);
        }
    }

    #[test]
    fn a_note_is_trimmed_and_kept() {
        let note = Note::parse("  bus at 23:55 from gate 4 \n").unwrap();
        assert_eq!(note.as_str(), "bus at 23:55 from gate 4");
        assert_eq!(note.to_string(), "bus at 23:55 from gate 4");
    }

    #[test]
    fn an_empty_note_is_refused() {
        assert_eq!(Note::parse(""), Err(NoteError::Empty));
        assert_eq!(Note::parse("   \n\t "), Err(NoteError::Empty));
    }

    #[test]
    fn a_note_of_280_characters_passes_and_281_is_refused() {
        passes(&"é".repeat(280));
        assert_eq!(Note::parse(&"é".repeat(281)), Err(NoteError::TooLong));
    }

    #[test]
    fn control_characters_are_refused() {
        assert_eq!(
            Note::parse("bus\u{0}at night"),
            Err(NoteError::ControlCharacters)
        );
        passes("line one\nline two");
    }

    #[test]
    fn email_addresses_are_refused() {
        for note in [
            "write to test@example.org",
            "courriel: test.person+x@mail.example.org tonight",
            "TEST@EXAMPLE.ORG",
            "mail test_1@sub.example.org.",
        ] {
            assert_eq!(refused_for(note), vec![PersonalData::Email], "{note}");
        }
    }

    #[test]
    fn phone_numbers_are_refused_in_every_common_shape() {
        for note in [
            "call 514-555-0100",
            "call (514) 555-0100 tonight",
            "cell 514.555.0100",
            "514 555 0100",
            "1-514-555-0100",
            "+1 514 555 0100",
            "+1 (514) 555-0100",
            "tel 5145550100",
            "number is 555-0100",
            "555 0100 after 8",
            "+33 1 23 45 67 89",
            "+509 3712 3456",
            "+44 20 7946 0000",
        ] {
            assert_eq!(refused_for(note), vec![PersonalData::Phone], "{note}");
        }
    }

    #[test]
    fn long_digit_runs_are_refused_even_in_groups() {
        for note in [
            "passport AB123456",
            "document 123456",
            "card 1234 5678 9012",
            "SIN 046 454 286",
            "health card ABCD 1234 5678",
            "account 12-3456-78",
        ] {
            assert_eq!(refused_for(note), vec![PersonalData::LongNumber], "{note}");
        }
    }

    #[test]
    fn short_numbers_amounts_and_times_pass() {
        for note in [
            "gate 12345",
            "1000.00 max",
            "23:55",
            "2 adults 3 kids",
            "room 12, 4 nights",
        ] {
            passes(note);
        }
    }

    #[test]
    fn canadian_postal_codes_are_refused() {
        for note in [
            "near H2X 1Y4",
            "h2x1y4",
            "K1A-0B1 area",
            "code postal: h2x 1y4",
        ] {
            assert_eq!(refused_for(note), vec![PersonalData::PostalCode], "{note}");
        }
    }

    #[test]
    fn street_addresses_are_refused_in_french_and_english() {
        for note in [
            "1234 rue Exemple",
            "45, boul. Exemple Est",
            "12 av. du Test",
            "3500 chemin de l'Exemple",
            "8 ch. du Lac",
            "12 Rue Exemple",
            "100 place Exemple",
            "22 montée Exemple",
            "123 Main Street",
            "42 Elm St",
            "7 Example Road",
            "99 Sample Dr.",
            "12 Test Way",
            "5 Maple Lane",
            "14 Birch Crescent",
            "3 Oak Court",
            "10 Queen Avenue",
            "500 5th Avenue",
            "123 main street",
            "42 elm avenue",
        ] {
            assert_eq!(
                refused_for(note),
                vec![PersonalData::StreetAddress],
                "{note}"
            );
        }
    }

    #[test]
    fn dates_of_birth_are_refused() {
        for note in [
            "1998-04-12",
            "dob 12/04/1998",
            "12/04/98",
            "12.04.1998",
            "12-04-98",
            "né le 3 mars",
            "née en Haïti",
            "born in spring",
            "date of birth unknown",
            "date de naissance inconnue",
            "12 avril 1998",
            "1er mai 2001",
            "April 12, 1998",
        ] {
            assert_eq!(refused_for(note), vec![PersonalData::DateOfBirth], "{note}");
        }
    }

    #[test]
    fn several_kinds_are_all_named_once() {
        let kinds = refused_for("test@example.org or 514-555-0100, H2X 1Y4, 514-555-0199");
        assert_eq!(
            kinds,
            vec![
                PersonalData::Email,
                PersonalData::PostalCode,
                PersonalData::Phone
            ]
        );
    }

    #[test]
    fn the_message_says_what_to_remove_without_echoing_it() {
        let err = Note::parse("call 514-555-0100 or test@example.org").unwrap_err();
        let msg = err.to_string();
        assert_eq!(
            msg,
            "looks like it holds personal data: remove the email address and the phone number"
        );
        assert!(!msg.contains("555"));
        assert!(!msg.contains("example"));
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_either_a_short_trimmed_note_or_refused(s in "\\PC{0,300}") {
            if let Ok(note) = Note::parse(&s) {
                proptest::prop_assert!(note.as_str().chars().count() <= NOTE_MAX_CHARS);
                proptest::prop_assert_eq!(note.as_str(), note.as_str().trim());
                proptest::prop_assert!(!note.as_str().is_empty());
            }
        }

        #[test]
        fn any_north_american_number_is_refused(area in 200u32..1000, exchange in 200u32..1000, line in 0u32..10_000, sep in "[ .-]") {
            let note = format!("call {area}{sep}{exchange}{sep}{line:04} tonight");
            proptest::prop_assert_eq!(personal_data(&note), vec![PersonalData::Phone]);
        }
    }

    #[test]
    fn a_note_deserialises_through_the_same_check() {
        let ok: Note = serde_json::from_str("\"bus at 23:55 from gate 4\"").unwrap();
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            "\"bus at 23:55 from gate 4\""
        );
        let err = serde_json::from_str::<Note>("\"call 514-555-0100\"").unwrap_err();
        assert!(err.to_string().contains("remove the phone number"));
    }
}

/// The organisation's own bookkeeping reference for a paper receipt (`INV-2026-00123`).
/// Letters, digits and a few separators, at most 40 characters and at most 12 digits in
/// all: enough for any ledger numbering, too few for a card or document number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("must be 1 to 40 characters: letters, digits, spaces and - _ / . #")]
    Shape,
    #[error(
        "has more than 12 digits: give your organisation's reference, never a card or document number"
    )]
    TooManyDigits,
}

impl Reference {
    pub fn parse(raw: &str) -> Result<Reference, ReferenceError> {
        let s = raw.trim();
        let allowed = |c: char| c.is_ascii_alphanumeric() || " -_/.#".contains(c);
        if s.is_empty() || s.chars().count() > 40 || !s.chars().all(allowed) {
            return Err(ReferenceError::Shape);
        }
        if s.chars().filter(char::is_ascii_digit).count() > 12 {
            return Err(ReferenceError::TooManyDigits);
        }
        Ok(Reference(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod reference_tests {
    use super::*;

    #[test]
    fn a_reference_is_bookkeeping_not_a_card_number() {
        assert_eq!(
            Reference::parse(" INV-2026-00123 ").unwrap().as_str(),
            "INV-2026-00123"
        );
        assert!(Reference::parse("RM-2026-0042").is_ok());
        assert_eq!(
            Reference::parse("4111 1111 1111 1111"),
            Err(ReferenceError::TooManyDigits)
        );
        assert_eq!(
            Reference::parse("test@example.org"),
            Err(ReferenceError::Shape)
        );
        assert_eq!(Reference::parse(""), Err(ReferenceError::Shape));
    }
}
