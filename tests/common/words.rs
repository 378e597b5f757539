//! Whether a text reads in one language (issue 17's words): the words each catalogue holds,
//! what a reader sees of an HTML part, and the amounts each language writes.

use std::collections::BTreeSet;

use passage::domain::Language;
use regex::Regex;

/// What a browser shows of escaped HTML text (the references askama writes).
pub fn unescaped(html: &str) -> String {
    html.replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&nbsp;", "\u{a0}")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// The words of every message of `language`'s catalogues (placeables and keys left out),
/// folded to lower case.
pub fn catalogue_words(language: &str) -> BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("templates/i18n")
        .join(language);
    let placeable = Regex::new(r"\{[^}]*\}").unwrap();
    let mut words = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            let value = line.split_once(" = ").map_or(line, |(_, v)| v);
            words.extend(words_of(&placeable.replace_all(value, " ")));
        }
    }
    words
}

/// The words of four letters or more of a text, folded to lower case.
pub fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 4)
        .map(str::to_lowercase)
        .collect()
}

/// What a mail says in words of its own: its subject, its text and its HTML as a reader
/// sees them, without tags, links and addresses.
pub fn readable(subject: &str, text: &str, html: &str) -> String {
    let tags = Regex::new(r"<[^>]*>").unwrap();
    let links = Regex::new(r"https?://\S+|\S+@\S+").unwrap();
    let html = unescaped(&tags.replace_all(html, " "));
    let all = format!("{subject}\n{text}\n{html}");
    links.replace_all(&all, " ").into_owned()
}

/// A reader of one language: the words only the other catalogue holds, and the amounts
/// each language writes (`1 450,00 $` in French, `$1,450.00` in English).
pub struct Reader {
    pub language: Language,
    foreign: Vec<String>,
    other_amount: Regex,
    own_amount: Regex,
}

impl Reader {
    pub fn new(language: Language) -> Reader {
        let en = catalogue_words("en");
        let fr = catalogue_words("fr");
        let english_amount = Regex::new(r"\$\s?\d|\d\.\d\d\b").unwrap();
        let french_amount = Regex::new(r"\d,\d\d\u{a0}\$").unwrap();
        match language {
            Language::Fr => Reader {
                language,
                foreign: en.difference(&fr).cloned().collect(),
                other_amount: english_amount,
                own_amount: french_amount,
            },
            Language::En => Reader {
                language,
                foreign: fr.difference(&en).cloned().collect(),
                other_amount: french_amount,
                own_amount: english_amount,
            },
        }
    }

    /// The other language's words in `text`.
    pub fn foreign_words(&self, text: &str) -> Vec<String> {
        let words: BTreeSet<String> = words_of(text).into_iter().collect();
        self.foreign
            .iter()
            .filter(|w| words.contains(w.as_str()))
            .cloned()
            .collect()
    }

    /// An amount written as the other language writes it, with what comes before it.
    pub fn other_amount(&self, text: &str) -> Option<String> {
        self.other_amount.find(text).map(|m| {
            let start = text[..m.start()]
                .char_indices()
                .rev()
                .nth(19)
                .map_or(0, |(i, _)| i);
            text[start..m.end()].to_string()
        })
    }

    /// Whether `text` writes an amount as this language does.
    pub fn has_own_amount(&self, text: &str) -> bool {
        self.own_amount.is_match(text)
    }

    /// What is wrong with `text` for this reader, each as one line naming `what`.
    pub fn wrong(&self, what: &str, text: &str) -> Vec<String> {
        let mut wrong: Vec<String> = self
            .foreign_words(text)
            .into_iter()
            .map(|w| {
                format!(
                    "{:?} {what}: the other language's word {w:?}",
                    self.language
                )
            })
            .collect();
        if let Some(near) = self.other_amount(text) {
            wrong.push(format!(
                "{:?} {what}: an amount in the other format near {near:?}",
                self.language
            ));
        }
        wrong
    }
}
