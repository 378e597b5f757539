//! An amount written in words, as a cheque spells it: "one thousand two hundred
//! thirty-four and 50/100 dollars", "mille deux cent trente-quatre dollars et 50/100"
//! (French in the traditional spelling, hyphens below a hundred).

use crate::domain::Language;

/// `cents` in words in `language`, the cents as a fraction of a hundred.
pub fn amount_in_words(language: Language, cents: i64) -> String {
    let abs = cents.unsigned_abs();
    let (whole, part) = (abs / 100, abs % 100);
    match language {
        Language::En => format!("{} and {part:02}/100 dollars", english(whole)),
        Language::Fr => {
            let dollars = match whole {
                0 | 1 => "dollar",
                // "deux millions de dollars": a noun of a million takes "de".
                w if w % 1_000_000 == 0 => "de dollars",
                _ => "dollars",
            };
            format!("{} {dollars} et {part:02}/100", french(whole))
        }
    }
}

const EN_UNITS: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const EN_TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

fn english_below_thousand(n: u64) -> String {
    let mut parts = Vec::new();
    let (hundreds, rest) = (n / 100, n % 100);
    if hundreds > 0 {
        parts.push(format!("{} hundred", EN_UNITS[hundreds as usize]));
    }
    if rest > 0 {
        parts.push(if rest < 20 {
            EN_UNITS[rest as usize].to_string()
        } else if rest % 10 == 0 {
            EN_TENS[(rest / 10) as usize].to_string()
        } else {
            format!(
                "{}-{}",
                EN_TENS[(rest / 10) as usize],
                EN_UNITS[(rest % 10) as usize]
            )
        });
    }
    parts.join(" ")
}

fn english(n: u64) -> String {
    if n == 0 {
        return "zero".into();
    }
    let scales = [
        (1_000_000_000_000, "trillion"),
        (1_000_000_000, "billion"),
        (1_000_000, "million"),
        (1_000, "thousand"),
    ];
    let mut rest = n;
    let mut parts = Vec::new();
    for (size, name) in scales {
        if rest >= size {
            parts.push(format!("{} {name}", english(rest / size)));
            rest %= size;
        }
    }
    if rest > 0 {
        parts.push(english_below_thousand(rest));
    }
    parts.join(" ")
}

const FR_UNITS: [&str; 17] = [
    "zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "onze",
    "douze", "treize", "quatorze", "quinze", "seize",
];
const FR_TENS: [&str; 7] = [
    "",
    "dix",
    "vingt",
    "trente",
    "quarante",
    "cinquante",
    "soixante",
];

/// 0 to 99; `last` says whether nothing follows (quatre-vingts takes its s only then).
fn french_below_hundred(n: u64, last: bool) -> String {
    match n {
        0..=16 => FR_UNITS[n as usize].to_string(),
        17..=19 => format!("dix-{}", FR_UNITS[(n - 10) as usize]),
        20..=69 => {
            let (tens, unit) = (n / 10, n % 10);
            match unit {
                0 => FR_TENS[tens as usize].to_string(),
                1 => format!("{} et un", FR_TENS[tens as usize]),
                _ => format!("{}-{}", FR_TENS[tens as usize], FR_UNITS[unit as usize]),
            }
        }
        70..=79 => match n {
            71 => "soixante et onze".to_string(),
            _ => format!("soixante-{}", french_below_hundred(n - 60, true)),
        },
        80 => if last {
            "quatre-vingts"
        } else {
            "quatre-vingt"
        }
        .to_string(),
        _ => format!("quatre-vingt-{}", french_below_hundred(n - 80, true)),
    }
}

fn french_below_thousand(n: u64, last: bool) -> String {
    let (hundreds, rest) = (n / 100, n % 100);
    let mut parts = Vec::new();
    match hundreds {
        0 => {}
        1 => parts.push("cent".to_string()),
        h if rest == 0 && last => parts.push(format!("{} cents", FR_UNITS[h as usize])),
        h => parts.push(format!("{} cent", FR_UNITS[h as usize])),
    }
    if rest > 0 {
        parts.push(french_below_hundred(rest, last));
    }
    parts.join(" ")
}

fn french(n: u64) -> String {
    if n == 0 {
        return "zéro".into();
    }
    let mut parts = Vec::new();
    let mut rest = n;
    for (size, one, many) in [
        (1_000_000_000_000, "un billion", "billions"),
        (1_000_000_000, "un milliard", "milliards"),
        (1_000_000, "un million", "millions"),
    ] {
        if rest >= size {
            let count = rest / size;
            parts.push(if count == 1 {
                one.to_string()
            } else {
                format!("{} {many}", french_group(count))
            });
            rest %= size;
        }
    }
    if rest >= 1000 {
        let thousands = rest / 1000;
        parts.push(if thousands == 1 {
            "mille".to_string()
        } else {
            // "deux cent mille": a multiplier of mille never takes the plural s.
            format!("{} mille", french_below_thousand_plain(thousands))
        });
        rest %= 1000;
    }
    if rest > 0 {
        parts.push(french_below_thousand(rest, true));
    }
    parts.join(" ")
}

/// A group before "mille": cent and quatre-vingt stay singular.
fn french_below_thousand_plain(n: u64) -> String {
    french_below_thousand(n, false)
}

/// A group before million or milliard: a noun follows, so cent and quatre-vingt take
/// their s ("deux cents millions", "quatre-vingts millions").
fn french_group(n: u64) -> String {
    if n >= 1000 {
        french(n)
    } else {
        french_below_thousand(n, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cheque_spells_its_amount_in_each_language() {
        let en = |c| amount_in_words(Language::En, c);
        let fr = |c| amount_in_words(Language::Fr, c);
        assert_eq!(
            en(123_450),
            "one thousand two hundred thirty-four and 50/100 dollars"
        );
        assert_eq!(
            fr(123_450),
            "mille deux cent trente-quatre dollars et 50/100"
        );
        assert_eq!(en(42_550), "four hundred twenty-five and 50/100 dollars");
        assert_eq!(fr(42_550), "quatre cent vingt-cinq dollars et 50/100");
        assert_eq!(en(5), "zero and 05/100 dollars");
        assert_eq!(fr(5), "zéro dollar et 05/100");
        assert_eq!(fr(100), "un dollar et 00/100");
        assert_eq!(en(200_000_000), "two million and 00/100 dollars");
        assert_eq!(fr(200_000_000), "deux millions de dollars et 00/100");
        for (n, words) in [
            (21, "vingt et un"),
            (71, "soixante et onze"),
            (75, "soixante-quinze"),
            (80, "quatre-vingts"),
            (81, "quatre-vingt-un"),
            (91, "quatre-vingt-onze"),
            (99, "quatre-vingt-dix-neuf"),
            (200, "deux cents"),
            (201, "deux cent un"),
            (280, "deux cent quatre-vingts"),
            (1_000, "mille"),
            (2_000, "deux mille"),
            (80_000, "quatre-vingt mille"),
            (200_000, "deux cent mille"),
            (1_000_001, "un million un"),
        ] {
            assert_eq!(french(n), words, "{n}");
        }
        for (n, words) in [
            (0, "zero"),
            (19, "nineteen"),
            (40, "forty"),
            (1_001, "one thousand one"),
            (110_000, "one hundred ten thousand"),
        ] {
            assert_eq!(english(n), words, "{n}");
        }
    }
}
