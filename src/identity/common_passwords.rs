//! The list of common passwords Passage refuses for a new password (ASVS V2.1.7): the
//! 100,000 most common of SecLists' ten-million list, lowercased, sorted and front-coded in
//! `data/common-passwords/common-passwords.bin` (made by `extract.py` beside it; source and
//! licence in `LICENSE.md` there). It is compiled in and decoded once, on first use, into
//! one sorted vector that a lookup searches by bisection.

use std::sync::OnceLock;

const LIST: &[u8] = include_bytes!("../../data/common-passwords/common-passwords.bin");

fn decoded() -> &'static [Box<str>] {
    static WORDS: OnceLock<Vec<Box<str>>> = OnceLock::new();
    WORDS.get_or_init(|| decode(LIST))
}

/// Each entry: one byte (how many leading bytes it shares with the entry before it), the
/// rest of its bytes, a newline.
fn decode(bytes: &[u8]) -> Vec<Box<str>> {
    let mut words = Vec::with_capacity(100_000);
    let mut previous: Vec<u8> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let shared = usize::from(bytes[at]);
        let rest = &bytes[at + 1..];
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        previous.truncate(shared);
        previous.extend_from_slice(&rest[..end]);
        // The list is UTF-8 by construction (extract.py); an entry that is not is skipped
        // rather than trusted.
        if let Ok(word) = std::str::from_utf8(&previous) {
            words.push(Box::from(word));
        }
        at += 1 + end + 1;
    }
    words
}

/// How many distinct (lowercased) passwords the list holds.
pub fn len() -> usize {
    decoded().len()
}

/// Whether `password`, lowercased, is in the list.
pub fn is_common(password: &str) -> bool {
    let lowered = password.to_lowercase();
    decoded()
        .binary_search_by(|w| w.as_bytes().cmp(lowered.as_bytes()))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_holds_the_hundred_thousand_most_common_sorted() {
        // 100,000 lines, 96,518 once lowercased and deduplicated.
        assert_eq!(len(), 96_518);
        let words = decoded();
        assert!(words.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()));
        for common in [
            "123456",
            "password",
            "qwerty",
            "1q2w3e4r5t6y",
            "PassWord1234",
        ] {
            assert!(is_common(common), "{common}");
        }
        for rare in [
            "correct horse battery staple",
            "a long enough passphrase",
            "",
        ] {
            assert!(!is_common(rare), "{rare}");
        }
    }
}
