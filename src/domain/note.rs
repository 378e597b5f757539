//! The optional short note on a request, and the check that keeps personal data out of it.
//!
//! Passage promises that a case holds nothing a person could be traced by. The note is the
//! one free-text field on a request, so it is where a name, a phone number or an address
//! would leak in, typed in a hurry at night. The check errs on the side of refusing: a
//! refused note costs the caseworker a few seconds, a stored phone number can cost a life.
//! It cannot catch everything (a bare name looks like any other word); it catches what has a
//! shape.
//!
//! The scan reads a normalised copy of the text ([`normalise`]: NFKC, invisible format
//! characters dropped, dashes and digits of every script folded, case folded), so that
//! `５１４－５５５－０１００`, a number split by zero-width spaces or `maria＠example.org` read
//! as what they are. Groups of digits joined by spaces, dots, slashes, underscores or
//! hyphens are one number (`514 - 555 - 0100`, `046.454.286`); amounts (`1 250.00`), times
//! (`18:30`) and days (`12/04-15/04`) are told apart by their shape.
//!
//! Detectors run in a fixed order on that copy, from which each finding is blanked out, so
//! that a phone number is reported once as a phone number and not again as a long number.
//! The copy is only read: what is stored is the text as typed, trimmed.
//!
//! `tests/pii_corpus.rs` measures the scan on hundreds of strings that must be refused and
//! ordinary caseworker notes that must pass.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use unicode_normalization::UnicodeNormalization;

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
    Name,
    Phone,
    Sin,
    DocumentNumber,
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
            PersonalData::Name => {
                "the name and its label (nom, name, prénom): the case code stands for the person"
            }
            PersonalData::Phone => "the phone number",
            PersonalData::Sin => "the social insurance number (SIN, NAS)",
            PersonalData::DocumentNumber => {
                "the document number (passport, permit or card numbers identify a person)"
            }
            PersonalData::LongNumber => {
                "the long number (document, card and account numbers identify a person)"
            }
            PersonalData::StreetAddress => "the street address or apartment number",
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

// The street abbreviations nobody writes after a number and a word for anything but a
// street, so that the lower-case "123 yonge st" is refused as well. A street word ends
// where the word ends, and not before a hyphen: "St-Jérôme" is a town.
const STREET_ABBREVIATED: &str =
    r"(?:st|ave|av|blvd|rd|street|avenue|boulevard|crescent|cres)\.?(?:$|[^\p{L}\p{N}\-'’])";

// Words that say what a number counts (or that no street name is), so that "3 nights main
// st" is not read as a street address.
const COUNTED: &[&str] = &[
    "nights",
    "night",
    "nuits",
    "nuit",
    "days",
    "day",
    "jours",
    "jour",
    "hours",
    "hour",
    "heures",
    "heure",
    "h",
    "min",
    "mins",
    "minutes",
    "km",
    "kids",
    "children",
    "adults",
    "people",
    "persons",
    "personnes",
    "enfants",
    "adultes",
    "bags",
    "sacs",
    "meals",
    "repas",
    "blocks",
    "rooms",
    "chambres",
    "on",
    "at",
    "to",
    "the",
    "and",
    "et",
    "de",
    "du",
    "la",
    "le",
    "les",
    "in",
    "en",
    "from",
    "of",
    "for",
    "pour",
    "near",
    "près",
    "then",
    "puis",
    "via",
];

// Words before a number that make it a route, a flight or a gate, not a street number.
const TRANSIT: &[&str] = &[
    "bus",
    "autobus",
    "route",
    "ligne",
    "line",
    "train",
    "vol",
    "flight",
    "gate",
    "porte",
    "quai",
    "km",
    "exit",
    "sortie",
    "hwy",
    "highway",
    "autoroute",
    "metro",
    "métro",
    "room",
    "chambre",
    "seat",
    "siège",
];

/// A pattern of a detector: every match counts, except those whose capture `w` is one of
/// `unless` (a word that gives the match another meaning).
struct Pattern {
    regex: Regex,
    unless: &'static [&'static str],
}

struct Detector {
    kind: PersonalData,
    patterns: Vec<Pattern>,
}

fn regex(pattern: &str) -> Regex {
    // The patterns are constants of this file and `every_detector_compiles` builds them all,
    // so a failure here is a programming error caught by the tests, never user input.
    Regex::new(pattern).expect("constant pattern compiles")
}

fn pattern(p: &str) -> Pattern {
    Pattern {
        regex: regex(p),
        unless: &[],
    }
}

fn pattern_unless(p: &str, unless: &'static [&'static str]) -> Pattern {
    Pattern {
        regex: regex(p),
        unless,
    }
}

// Parts of a spelled-out email address: "maria at example dot org",
// "maria (arobase) exemple point org", "maria@example [dot] org".
const LOCAL_PART: &str = r"[\p{L}\p{N}._%+-]+";
const LABEL: &str = r"[\p{L}\p{N}-]+";
const BRACKETED_AT: &str = r"[\[(<{]\s*(?:at|arobase|a)\s*[\])>}]";
const ANY_DOT: &str = r"(?:\s*[\[(<{]\s*(?:dot|point)\s*[\])>}]\s*|\s+(?:dot|point)\s+|\.)";
const SPELLED_DOT: &str = r"(?:\s*[\[(<{]\s*(?:dot|point)\s*[\])>}]\s*|\s+(?:dot|point)\s+)";

/// The detectors that run before digit runs are read, on the normalised, lower-case text.
static BEFORE_NUMBERS: LazyLock<Vec<Detector>> = LazyLock::new(|| {
    vec![
        Detector {
            kind: PersonalData::Email,
            patterns: vec![
                // The top-level domain must be letters, so "2@189.00" (two at 189.00) passes.
                pattern(r"[^\s@]+\s?@\s?[\p{L}0-9-]+(?:\.[\p{L}0-9-]+)*\.\p{L}{2,}\b"),
                // "@" or a bracketed or French "at", then a domain with any kind of dot.
                pattern(&format!(
                    r"{LOCAL_PART}\s*(?:@|{BRACKETED_AT}|\barobase\b)\s*{LABEL}(?:{ANY_DOT}{LABEL})*{ANY_DOT}\p{{L}}{{2,}}\b"
                )),
                // A plain English " at " is an everyday word: it needs a spelled-out dot.
                pattern(&format!(
                    r"{LOCAL_PART}\s+at\s+{LABEL}(?:\.{LABEL})*{SPELLED_DOT}{LABEL}"
                )),
            ],
        },
        Detector {
            kind: PersonalData::PostalCode,
            patterns: vec![pattern(
                r"\b[abceghj-nprstvxy]\d[abceghj-nprstv-z][ -]?\d[abceghj-nprstv-z]\d\b",
            )],
        },
        Detector {
            kind: PersonalData::DateOfBirth,
            patterns: vec![
                // 1998-04-12, 1998/4/12
                pattern(r"\b(?:1[89]|20)\d{2}[-/.]\d{1,2}[-/.]\d{1,2}\b"),
                // 12/04/1998, 12-04-98, 12.04.1998: one separator throughout, so that a
                // range of days such as "12/04-15/04" passes.
                pattern(
                    r"\b\d{1,2}(?:/\d{1,2}/|-\d{1,2}-|\.\d{1,2}\.)(?:(?:1[89]|20)\d{2}|\d{2})\b",
                ),
                // 12 avril 1998, 1er mai 2001, 3 March 1999
                pattern(&format!(
                    r"\b\d{{1,2}}(?:er|st|nd|rd|th)?\s+{MONTHS},?\s+(?:1[89]|20)\d{{2}}\b"
                )),
                // April 12, 1998
                pattern(&format!(
                    r"\b{MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:1[89]|20)\d{{2}}\b"
                )),
                // né le, née en, né(e) le, né·e, born, date of birth, DOB, date de naissance, DDN
                pattern(
                    r"(?:^|[^\p{L}-])née?s?\s+(?:le|en|au|à)\b|\bnée?\s*(?:\(e\)|[.-]e\b)|\bborn\b|\bd\.?o\.?b\b|\bdate\s+of\s+birth\b|\bbirth\s*date\b|\bdate\s+de\s+naissance\b|\bddn\b",
                ),
            ],
        },
        Detector {
            kind: PersonalData::Name,
            patterns: vec![
                // A label that introduces a name: "Nom: …", "name = …", "prénom - …".
                pattern(
                    r"\b(?:noms?|names?|pr[ée]noms?|first\s+name|last\s+name|surname|full\s+name|given\s+names?|family\s+name|maiden\s+name|nom\s+de\s+famille|nom\s+complet|nom\s+de\s+jeune\s+fille)(?:\s*[:=]|\s+-\s)",
                ),
                // Words that only ever introduce a name.
                pattern(
                    r"\bpr[ée]noms?\b|\bsurnames?\b|\bnom\s+de\s+famille\b|\bs['’]\s?appell?e\b|\b(?:her|his|their|my|client'?s?)\s+(?:full\s+|first\s+|last\s+)?name\s+is\b|\b(?:son|sa|leur|mon)\s+(?:nom|pr[ée]nom)\s+est\b",
                ),
            ],
        },
    ]
});

/// The detectors that run after digit runs are read and blanked out.
static AFTER_NUMBERS: LazyLock<Vec<Detector>> = LazyLock::new(|| {
    vec![
        Detector {
            kind: PersonalData::DocumentNumber,
            // "passeport HT 12345", "passport no. 98765": too few digits to be a long
            // number, but said to be a passport's.
            patterns: vec![pattern(
                r"\bpass?e?ports?\b[\s:#.-]*(?:(?:n[o°º]|num[ée]ro|number|nr|#)\.?[\s:#-]*)?(?:\p{L}{1,3}[\s.-]?)?\d(?:[\s./-]?\d){3,}",
            )],
        },
        Detector {
            kind: PersonalData::StreetAddress,
            patterns: vec![
                pattern(&format!(r"\b\d{{1,6}}[a-z]?,?\s+{STREET_BEFORE_NAME}\b\.?")),
                // 123 yonge st, 55 elgin blvd, 12 st-laurent ave
                pattern_unless(
                    &format!(
                        r"\b\d{{1,6}}[a-z]?,?\s+(?P<w>[\p{{L}}'’.-]+)(?:\s+[\p{{L}}'’.-]+)?\s+{STREET_ABBREVIATED}"
                    ),
                    COUNTED,
                ),
                // 5th Avenue, 2nd Street; not "4th court date" nor "1re place".
                pattern(&format!(
                    r"\b\d{{1,4}}(?:st|nd|rd|th|e|er|re)\s+(?:road|{STREET_ABBREVIATED})"
                )),
                // 4520 Saint-Denis, 1200 Ste-Catherine; not "bus 105 St-Jean".
                pattern_unless(
                    r"(?:(?P<w>\p{L}+)\s+)?\b\d{3,5}[a-z]?,?\s+(?:saint|sainte|st|ste)\.?[\s-]\p{L}",
                    TRANSIT,
                ),
                // app. 5, apt 4B, appartement 12, unit 3, #4-123
                pattern(
                    r"\bapp\.\s*#?\s*\d|\bapp\s*#\s*\d|\bappart(?:ement)?\.?\s*#?\s*\d|\bapt\.?\s*#?\s*\d|\bunit\s*#?\s*\d|#\s*\d{1,4}\s*-\s*\d{1,6}\b",
                ),
            ],
        },
    ]
});

/// "12 Example Street": run on the normalised text with its capitals, which tell a
/// street's name ("Oak Court") from an everyday word ("before court").
static CAPITALISED_STREET: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"\b\d{{1,6}}[A-Za-z]?,?\s+(?:\p{{Lu}}[\p{{L}}'’.-]*\s+){{1,3}}(?i:{STREET_AFTER_NAME})\b"
    ))
});

/// Times of day are not personal, and must not join the digits around them into a run:
/// "arrives 12/04 18:30", "6h15", "9h", "7 pm".
static TIMES: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"\b\d{1,2} ?[:h] ?\d{2}\b|\b\d{1,2} ?h\b|\b\d{1,2}(?::\d{2})? ?(?:am|pm|a\.m\.|p\.m\.)")
});

/// One category test for a character, through the regex engine's Unicode tables.
fn is(class: &Regex, c: char) -> bool {
    class.is_match(c.encode_utf8(&mut [0; 4]))
}

static DROPPED: LazyLock<Regex> = LazyLock::new(|| regex(r"^[\p{Cf}\p{Mn}\p{Me}]$"));
static DASH: LazyLock<Regex> = LazyLock::new(|| regex(r"^\p{Pd}$"));
static DIGIT: LazyLock<Regex> = LazyLock::new(|| regex(r"^\p{Nd}$"));

/// The text as the detectors read it.
///
/// 1. Unicode NFKC: full-width and other compatibility forms become the plain ones
///    (`＠` → `@`, `５` → `5`, `ﬁ` → `fi`, `𝐇` → `H`), and accents are composed.
/// 2. Format characters (zero-width spaces and joiners, bidirectional marks, soft hyphens)
///    and combining marks left standing alone are dropped: they are invisible, and only
///    ever split what a reader sees as one word or one number.
/// 3. Dashes become `-`, slashes and dots of other scripts `/` and `.`, every space and
///    line break a plain space, and digits of every script ASCII digits.
///
/// Case is folded by the caller, except for the one detector that needs capitals.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfkc() {
        if c.is_ascii() {
            out.push(if c.is_ascii_whitespace() || c.is_ascii_control() {
                ' '
            } else {
                c
            });
            continue;
        }
        if c.is_whitespace() || c.is_control() {
            out.push(' ');
        } else if is(&DROPPED, c) {
            continue;
        } else if is(&DASH, c) || matches!(c, '\u{2212}' | '\u{2043}' | '\u{FE63}') {
            out.push('-');
        } else if matches!(c, '\u{2044}' | '\u{2215}' | '\u{29F8}') {
            out.push('/');
        } else if matches!(
            c,
            '\u{00B7}' | '\u{2022}' | '\u{2027}' | '\u{2219}' | '\u{22C5}' | '\u{30FB}'
        ) {
            out.push('.');
        } else if is(&DIGIT, c) {
            out.push(ascii_digit(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// The ASCII digit of a decimal digit of any script. Unicode lays out every script's
/// digits as runs of ten from zero, so a digit's value is its place in its run.
fn ascii_digit(c: char) -> char {
    let mut place = 0u32;
    let mut at = c as u32;
    while let Some(before) = at.checked_sub(1).and_then(char::from_u32) {
        if !is(&DIGIT, before) {
            break;
        }
        place += 1;
        at -= 1;
    }
    char::from_digit(place % 10, 10).unwrap_or('0')
}

/// Every kind of personal data found in `text`, in a stable order, each kind once.
pub fn personal_data(text: &str) -> Vec<PersonalData> {
    let norm = normalise(text);
    let mut rest = norm.to_lowercase();
    let mut found = std::collections::BTreeSet::new();
    run(&BEFORE_NUMBERS, &mut rest, &mut found);
    rest = TIMES.replace_all(&rest, " t ").into_owned();
    rest = digit_runs(&rest, &mut found);
    run(&AFTER_NUMBERS, &mut rest, &mut found);
    if CAPITALISED_STREET.is_match(&norm) {
        found.insert(PersonalData::StreetAddress);
    }
    found.into_iter().collect()
}

/// Runs `detectors` in order, blanking out what each finds so that later detectors do not
/// report it again (a phone number is reported once as a phone number, not again as a
/// long number).
fn run(
    detectors: &[Detector],
    rest: &mut String,
    found: &mut std::collections::BTreeSet<PersonalData>,
) {
    for detector in detectors {
        for p in &detector.patterns {
            let mut hits: Vec<std::ops::Range<usize>> = Vec::new();
            for caps in p.regex.captures_iter(rest) {
                let word = caps.name("w").map(|w| w.as_str()).unwrap_or_default();
                if !p.unless.contains(&word) {
                    hits.push(caps.get(0).map(|m| m.range()).unwrap_or_default());
                }
            }
            if !hits.is_empty() {
                found.insert(detector.kind);
            }
            for range in hits.into_iter().rev() {
                rest.replace_range(range, " ");
            }
        }
    }
}

/// What joins groups of digits into one number: "514 - 555 - 0100", "514/555/0100",
/// "046.454.286", "(514) 555_0100".
fn joins_digits(c: char) -> bool {
    matches!(c, ' ' | '.' | '/' | '_' | '-' | '(' | ')')
}

/// Reads every run of digits (groups of digits joined by up to three of
/// [`joins_digits`]), reports those that are personal data and returns the text with them
/// blanked out.
fn digit_runs(text: &str, found: &mut std::collections::BTreeSet<PersonalData>) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut groups: Vec<usize> = Vec::new();
        let mut seps: Vec<String> = Vec::new();
        loop {
            let group = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            groups.push(i - group);
            let mut next = i;
            while next < chars.len() && next - i < 3 && joins_digits(chars[next]) {
                next += 1;
            }
            if next == i || next >= chars.len() || !chars[next].is_ascii_digit() {
                break;
            }
            let sep: String = chars[i..next].iter().collect();
            // An amount ends where anything but a dot follows it: "189.00 3 nights",
            // "387.00 (3 x 129.00)" and "150.00-200.00" are each two numbers.
            if is_amount(&groups, &seps) && sep != "." {
                break;
            }
            seps.push(sep);
            i = next;
        }
        if let Some(kind) = classify(&chars, start, &groups, &seps) {
            found.insert(kind);
            chars[start..i].fill(' ');
        }
    }
    chars.into_iter().collect()
}

/// `189.00`, `1250.00`, `1 250.00`: dollars (at most six digits) and two decimals.
fn is_amount(groups: &[usize], seps: &[String]) -> bool {
    let n = groups.len();
    n >= 2
        && seps.len() == n - 1
        && seps[n - 2] == "."
        && groups[n - 1] == 2
        && seps[..n - 2].iter().all(|s| s == " ")
        && groups[1..n - 1].iter().all(|&g| g == 3)
        && groups[0] <= if n == 2 { 6 } else { 3 }
        && groups[..n - 1].iter().sum::<usize>() <= 6
}

/// What a run of digits is, if it is personal data.
fn classify(
    chars: &[char],
    start: usize,
    groups: &[usize],
    seps: &[String],
) -> Option<PersonalData> {
    if is_amount(groups, seps) {
        return None;
    }
    // Days and months: 12/04, 12/04-15/04.
    if groups.len() <= 4 && groups.iter().all(|&g| g <= 2) && seps.iter().any(|s| s.contains('/')) {
        return None;
    }
    let digits: usize = groups.iter().sum();
    let all: String = chars[start..]
        .iter()
        .filter(|c| c.is_ascii_digit())
        .take(digits)
        .collect();
    // Years: 2026-2027.
    let year = |y: &str| y.starts_with("19") || y.starts_with("20");
    if groups == [4, 4] && year(&all[..4]) && year(&all[4..]) {
        return None;
    }
    let plus = chars[..start].iter().rev().find(|c| **c != ' ') == Some(&'+');
    if (plus && digits >= 7)
        || digits == 10
        || (digits == 11 && all.starts_with('1'))
        || (digits == 7 && groups == [3, 4])
    {
        return Some(PersonalData::Phone);
    }
    if digits == 9 {
        return Some(PersonalData::Sin);
    }
    if digits >= 6 {
        // Letters then digits, as passports and permits are numbered: "HT1234567",
        // "ab 123456".
        let mut at = start;
        if at > 0 && matches!(chars[at - 1], ' ' | '-') {
            at -= 1;
        }
        let end = at;
        while at > 0 && chars[at - 1].is_alphabetic() {
            at -= 1;
        }
        return Some(if (1..=3).contains(&(end - at)) {
            PersonalData::DocumentNumber
        } else {
            PersonalData::LongNumber
        });
    }
    None
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
        assert_eq!(BEFORE_NUMBERS.len() + AFTER_NUMBERS.len(), 6);
        let _ = (&*CAPITALISED_STREET, &*TIMES, &*DROPPED, &*DASH, &*DIGIT);
        assert_eq!(personal_data("nothing here"), vec![]);
    }

    #[test]
    fn the_scan_reads_a_normalised_copy() {
        assert_eq!(normalise("５１４－５５５－０１００"), "514-555-0100");
        assert_eq!(normalise("5\u{200B}1\u{200D}4\u{FEFF}"), "514");
        assert_eq!(normalise("maria＠example.org"), "maria@example.org");
        assert_eq!(normalise("514\u{2013}555\u{2014}0100"), "514-555-0100");
        assert_eq!(normalise("٥١٤ ٥٥٥ ٠١٠٠"), "514 555 0100");
        assert_eq!(normalise("e\u{301} ne\u{301}e"), "é née");
        assert_eq!(normalise("a\u{A0}b\nc"), "a b c");
    }

    #[test]
    fn disguised_personal_data_is_refused() {
        for (note, kind) in [
            ("514 - 555 - 0100", PersonalData::Phone),
            ("514/555/0100", PersonalData::Phone),
            ("514_555_0100", PersonalData::Phone),
            ("(514)555/0100", PersonalData::Phone),
            (
                "5\u{200B}1\u{200B}4\u{200B}5\u{200B}5\u{200B}5\u{200B}0\u{200B}1\u{200B}0\u{200B}0",
                PersonalData::Phone,
            ),
            ("５１４　５５５　０１００", PersonalData::Phone),
            ("maria at example dot org", PersonalData::Email),
            ("maria arobase exemple point org", PersonalData::Email),
            ("maria (at) example (dot) org", PersonalData::Email),
            ("maria@example dot org", PersonalData::Email),
            ("maria＠example.org", PersonalData::Email),
            ("MARIA AT EXAMPLE DOT ORG", PersonalData::Email),
            ("Né(e) le 3 mars", PersonalData::DateOfBirth),
            ("né·e le 3 mars", PersonalData::DateOfBirth),
            ("Nom: Fatima Diallo", PersonalData::Name),
            ("prénom : Amina", PersonalData::Name),
            ("her name is Rosa", PersonalData::Name),
            ("elle s'appelle Amina", PersonalData::Name),
            ("123 yonge st", PersonalData::StreetAddress),
            ("55 elgin blvd.", PersonalData::StreetAddress),
            ("app. 5, 4520 Saint-Denis", PersonalData::StreetAddress),
            ("4520 Saint-Denis", PersonalData::StreetAddress),
            ("apt 4B", PersonalData::StreetAddress),
            ("unit 12", PersonalData::StreetAddress),
            ("046.454.286", PersonalData::Sin),
            ("SIN 046 454 286", PersonalData::Sin),
            ("NAS 046-454-286", PersonalData::Sin),
            ("passeport HT 12345", PersonalData::DocumentNumber),
            ("PASSPORT HT1234567", PersonalData::DocumentNumber),
            ("passport AB123456", PersonalData::DocumentNumber),
        ] {
            assert_eq!(refused_for(note), vec![kind], "{note}");
        }
    }

    #[test]
    fn lookalikes_of_personal_data_pass() {
        for note in [
            "appt at 14:30",
            "bus leaves 6:40",
            "arrives 12/04 18:30",
            "hotel 189.00 3 nights",
            "total 1 250.00 for the week",
            "bus 105 St-Jean then train",
            "3 nights main st shelter",
            "meet at the meeting point tonight",
            "ne le dis pas au chauffeur",
            "passport photos for 2 kids",
            "passeports des 2 enfants",
            "court at 9h, room 4",
            "14h-16h",
            "billet au nom de l'organisme",
        ] {
            passes(note);
        }
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
            "document 123456",
            "card 1234 5678 9012",
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
/// At most 24 characters, letters, digits and `-/#.`, at most 12 digits in all, and not
/// shaped like a document number (letters followed by six digits or more, as passports are
/// numbered) nor holding nine digits in a row (a SIN): enough for any ledger numbering,
/// too little for a card, passport or SIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference(String);

/// The longest reference taken.
pub const REFERENCE_MAX_CHARS: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("must be 1 to 24 characters: letters, digits and - / # . only, such as INV-2026-0042")]
    Shape,
    #[error(
        "has more than 12 digits: give your organisation's reference, never a card or document number"
    )]
    TooManyDigits,
    #[error(
        "looks like a document number (letters followed by 6 digits or more, or 9 digits in a row): remove it and give your organisation's reference, such as INV-2026-0042"
    )]
    DocumentNumber,
}

static DOCUMENT_SHAPE: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)[a-z]\d{6,}|\d{9,}|pass?e?port"));

impl Reference {
    pub fn parse(raw: &str) -> Result<Reference, ReferenceError> {
        let s = raw.trim();
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-/#.".contains(c);
        if s.is_empty() || s.chars().count() > REFERENCE_MAX_CHARS || !s.chars().all(allowed) {
            return Err(ReferenceError::Shape);
        }
        if s.chars().filter(char::is_ascii_digit).count() > 12 {
            return Err(ReferenceError::TooManyDigits);
        }
        if DOCUMENT_SHAPE.is_match(s) {
            return Err(ReferenceError::DocumentNumber);
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
            Reference::parse("4111-1111-1111-1111"),
            Err(ReferenceError::TooManyDigits)
        );
        assert_eq!(
            Reference::parse("4111 1111 1111 1111"),
            Err(ReferenceError::Shape)
        );
        assert!(Reference::parse("HX-2026-0007").is_ok());
        assert!(Reference::parse("MP#41/2026.3").is_ok());
        for document in [
            "PASSPORT HT1234567",
            "HT1234567",
            "passport-HT1234567",
            "ab123456",
            "INV2026001",
            "046454286",
            "PASSEPORT-12",
        ] {
            assert_ne!(Reference::parse(document).map(|_| ()), Ok(()), "{document}");
        }
        assert_eq!(
            Reference::parse("HT1234567"),
            Err(ReferenceError::DocumentNumber)
        );
        assert_eq!(
            Reference::parse("INV-2026-00123-SUPPLEMENT"),
            Err(ReferenceError::Shape)
        );
        assert_eq!(
            Reference::parse("test@example.org"),
            Err(ReferenceError::Shape)
        );
        assert_eq!(Reference::parse(""), Err(ReferenceError::Shape));
    }
}
