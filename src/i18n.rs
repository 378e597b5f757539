//! The words of the pages and the emails: Fluent catalogues in `templates/i18n/{en,fr}`
//! (`passage.ftl` for the pages, `email.ftl` for the emails), compiled into the binary, and
//! the formats of amounts, counts and waits for each language. Every user-facing word of a
//! page or an email comes through here; the language is chosen per reader, never global.

use std::borrow::Cow;
use std::collections::HashMap;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader};
use unic_langid::langid;

use crate::domain::Language;

mod words;
pub use words::amount_in_words;

fluent_templates::static_loader! {
    static CATALOGUES = {
        locales: "./templates/i18n",
        fallback_language: "en",
        // Bidirectional isolation marks around arguments would land inside form values
        // and amounts; both languages run left to right.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

static FR: LanguageIdentifier = langid!("fr");
static EN: LanguageIdentifier = langid!("en");

fn id(language: Language) -> &'static LanguageIdentifier {
    match language {
        Language::Fr => &FR,
        Language::En => &EN,
    }
}

/// The message `key` in `language`.
pub fn text(language: Language, key: &str) -> String {
    CATALOGUES.lookup(id(language), key)
}

/// The message `key` in `language`, with its named arguments.
pub fn text_with(language: Language, key: &str, args: &[(&'static str, String)]) -> String {
    let args: HashMap<Cow<'static, str>, FluentValue> = args
        .iter()
        .map(|(name, value)| (Cow::Borrowed(*name), argument(value)))
        .collect();
    CATALOGUES.lookup_with_args(id(language), key, &args)
}

/// An argument as Fluent reads it: a count (a small whole number written as such) is a
/// number, so that a message can choose its plural (`{ $nights -> [one] … *[other] … }`),
/// and it prints the same digits; anything else (amounts, codes, names) is text.
fn argument(value: &str) -> FluentValue<'static> {
    match value.parse::<u32>() {
        Ok(n) if value.len() <= 6 && n.to_string() == value => FluentValue::from(n),
        _ => FluentValue::from(value.to_string()),
    }
}

const EN_SOURCES: [&str; 2] = [
    include_str!("../templates/i18n/en/passage.ftl"),
    include_str!("../templates/i18n/en/email.ftl"),
];
const FR_SOURCES: [&str; 2] = [
    include_str!("../templates/i18n/fr/passage.ftl"),
    include_str!("../templates/i18n/fr/email.ftl"),
];

/// Whether the catalogue of `language` has `key` (read from the catalogue's text: the
/// loader tells a missing message from a message looked up without its arguments only by
/// an error type it does not export).
pub fn has(language: Language, key: &str) -> bool {
    let sources = match language {
        Language::Fr => &FR_SOURCES,
        Language::En => &EN_SOURCES,
    };
    sources
        .iter()
        .flat_map(|s| s.lines())
        .any(|line| line.split_once(" = ").is_some_and(|(name, _)| name == key))
}

/// The first language of an `Accept-Language` header that Passage speaks, by weight.
pub fn from_accept_language(header: &str) -> Option<Language> {
    let mut offers: Vec<(u16, usize, Language)> = header
        .split(',')
        .enumerate()
        .filter_map(|(position, part)| {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next()?.trim().to_ascii_lowercase();
            let weight = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next()?;
            let language = primary.parse::<Language>().ok()?;
            // Weights have at most three decimals (RFC 9110); integers sort exactly.
            let weight = (weight.clamp(0.0, 1.0) * 1000.0).round() as u16;
            (weight > 0).then_some((weight, position, language))
        })
        .collect();
    offers.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    offers.first().map(|o| o.2)
}

/// Groups the digits of a whole number by three with `separator`.
fn grouped(whole: u64, separator: &str) -> String {
    let digits = whole.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * separator.len());
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(separator);
        }
        out.push(d);
    }
    out
}

/// An amount in cents as the language writes dollars: `1 234,56 $` in French (with
/// non-breaking spaces, so it never wraps), `$1,234.56` in English.
pub fn money(language: Language, cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let (whole, part) = (abs / 100, abs % 100);
    match language {
        Language::Fr => format!("{sign}{},{part:02}\u{a0}$", grouped(whole, "\u{a0}")),
        Language::En => format!("{sign}${}.{part:02}", grouped(whole, ",")),
    }
}

/// A whole number as the language writes it: `1,234` / `1 234` (a non-breaking space).
pub fn count(language: Language, n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    let separator = match language {
        Language::Fr => "\u{a0}",
        Language::En => ",",
    };
    format!("{sign}{}", grouped(n.unsigned_abs(), separator))
}

/// A decimal amount as the wire writes it (`"1234.56"`), in the language's format.
pub fn money_str(language: Language, amount: &str) -> String {
    use rust_decimal::prelude::ToPrimitive;
    amount
        .parse::<rust_decimal::Decimal>()
        .ok()
        .and_then(|d| (d * rust_decimal::Decimal::ONE_HUNDRED).round().to_i64())
        .map(|cents| money(language, cents))
        .unwrap_or_else(|| amount.to_string())
}

/// By how much a request goes past a rule, in the language: "Case cap: $1,120.00 of
/// $1,000.00 in 7 days". `category` is the category's name in that language.
pub fn excess_line(
    language: Language,
    excess: &crate::domain::deciding::Excess,
    category: &str,
) -> String {
    let figure = |v: &str| match excess.unit {
        crate::domain::deciding::Unit::Money => money_str(language, v),
        crate::domain::deciding::Unit::Nights => v.to_string(),
    };
    text_with(
        language,
        excess.kind.key(),
        &[
            ("category", category.to_string()),
            ("value", figure(&excess.value)),
            ("limit", figure(&excess.limit)),
            ("days", excess.days.unwrap_or_default().to_string()),
        ],
    )
}

/// How long something has waited, in the largest unit that reads naturally.
pub fn waited(language: Language, seconds: i64) -> String {
    let minutes = (seconds.max(0) / 60).max(0);
    let (key, n) = if minutes < 60 {
        ("wait-minutes", minutes)
    } else if minutes < 48 * 60 {
        ("wait-hours", minutes / 60)
    } else {
        ("wait-days", minutes / (24 * 60))
    };
    text_with(language, key, &[("n", n.to_string())])
}

/// A calendar date as the language writes it: `29 novembre 2026` / `November 29, 2026`.
pub fn date(language: Language, day: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    let month = text(language, &format!("month-{}", day.month()));
    match language {
        Language::Fr => format!("{} {month} {}", day.day(), day.year()),
        Language::En => format!("{month} {}, {}", day.day(), day.year()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_chooses_its_plural_in_each_language() {
        let stay = |language, nights: &str, party: &str| {
            text_with(
                language,
                "request-stay-value",
                &[
                    ("nights", nights.to_string()),
                    ("rate", "159,00 $".to_string()),
                    ("party", party.to_string()),
                ],
            )
        };
        assert_eq!(
            stay(Language::Fr, "1", "1"),
            "1 nuit × 159,00 $, 1 personne"
        );
        assert_eq!(
            stay(Language::Fr, "2", "3"),
            "2 nuits × 159,00 $, 3 personnes"
        );
        assert_eq!(stay(Language::En, "1", "1"), "1 night × 159,00 $, 1 person");
        assert_eq!(
            stay(Language::En, "12", "2"),
            "12 nights × 159,00 $, 2 people"
        );
        // Codes and references keep their digits as written.
        assert!(matches!(argument("0042"), FluentValue::String(s) if s == "0042"));
        assert!(matches!(argument("3"), FluentValue::Number(_)));
    }

    #[test]
    fn amounts_read_as_each_language_writes_them() {
        assert_eq!(money(Language::Fr, 123_456), "1\u{a0}234,56\u{a0}$");
        assert_eq!(money(Language::En, 123_456), "$1,234.56");
        assert_eq!(money(Language::En, 5), "$0.05");
        assert_eq!(
            money(Language::Fr, 100_000_000),
            "1\u{a0}000\u{a0}000,00\u{a0}$"
        );
        assert_eq!(money(Language::En, -250), "-$2.50");
    }

    #[test]
    fn accept_language_picks_the_heaviest_language_passage_speaks() {
        assert_eq!(
            from_accept_language("fr-CA,fr;q=0.9,en;q=0.8"),
            Some(Language::Fr)
        );
        assert_eq!(
            from_accept_language("es, en-CA;q=0.5, fr;q=0.4"),
            Some(Language::En)
        );
        assert_eq!(
            from_accept_language("en;q=0.2, fr;q=0.9"),
            Some(Language::Fr)
        );
        assert_eq!(from_accept_language("de, es"), None);
        assert_eq!(from_accept_language("fr;q=0, en;q=0.1"), Some(Language::En));
        assert_eq!(from_accept_language(""), None);
    }

    #[test]
    fn dates_and_waits_are_written_in_the_language() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        assert_eq!(date(Language::Fr, day), "29 novembre 2026");
        assert_eq!(date(Language::En, day), "November 29, 2026");
        assert_eq!(waited(Language::En, 14 * 60), "14 min");
        assert_eq!(waited(Language::Fr, 3 * 3600), "3 h");
    }
}
