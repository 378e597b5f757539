//! The personal-data scan measured on a corpus (issue 15, finding 5): `pii_corpus/refused.txt`
//! holds strings that must be refused (phone numbers, emails, SINs, document numbers, names
//! behind a label, birth dates, street addresses, many of them disguised: digit groups split
//! by dashes, slashes or zero-width spaces, full-width or Arabic-Indic digits, spelled-out
//! emails), `pii_corpus/ordinary.txt` ordinary caseworker notes in French and English that
//! must pass (times, days, amounts, bus and room numbers, shelter words). One string a line,
//! all invented; `pii_corpus/generate.py` wrote them.
//!
//! The test prints the refusal rate and the false-alarm rate, and holds them at 100 % and
//! 0 %: a string of either file that the scan gets wrong is named in the failure.

use passage::domain::note::{Note, NoteError, personal_data};

fn lines(name: &str) -> Vec<String> {
    let path = format!("{}/tests/pii_corpus/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.trim().is_empty())
        .collect()
}

#[test]
fn the_scan_refuses_every_string_of_the_corpus_and_passes_every_ordinary_note() {
    let refused = lines("refused.txt");
    let ordinary = lines("ordinary.txt");
    assert!(refused.len() >= 300, "{} strings to refuse", refused.len());
    assert!(ordinary.len() >= 300, "{} ordinary notes", ordinary.len());

    let missed: Vec<&String> = refused
        .iter()
        .filter(|s| !matches!(Note::parse(s), Err(NoteError::PersonalData(_))))
        .collect();
    let alarms: Vec<(&String, String)> = ordinary
        .iter()
        .filter_map(|s| match Note::parse(s) {
            Ok(_) => None,
            Err(e) => Some((s, e.to_string())),
        })
        .collect();
    let refusal_rate = 100.0 * (refused.len() - missed.len()) as f64 / refused.len() as f64;
    let false_alarm_rate = 100.0 * alarms.len() as f64 / ordinary.len() as f64;
    println!(
        "personal-data scan: refused {}/{} ({refusal_rate:.1} %), false alarms {}/{} ({false_alarm_rate:.1} %)",
        refused.len() - missed.len(),
        refused.len(),
        alarms.len(),
        ordinary.len(),
    );
    assert!(
        missed.is_empty() && alarms.is_empty(),
        "taken though personal: {missed:#?}\nrefused though ordinary: {alarms:#?}"
    );
}

#[test]
fn every_refusal_names_what_to_remove_without_echoing_it() {
    for s in lines("refused.txt") {
        let kinds = personal_data(&s);
        assert!(!kinds.is_empty(), "{s:?}");
        let message = Note::parse(&s).unwrap_err().to_string();
        assert!(message.contains("remove the "), "{s:?}: {message}");
        // Nothing of what was found is repeated back: no digit, no invented name or street.
        assert!(
            !message.chars().any(|c| c.is_ascii_digit()),
            "{s:?}: {message}"
        );
        for invented in [
            "maria", "fatima", "amina", "rosa", "diallo", "yonge", "elgin", "example",
        ] {
            assert!(
                !message.to_lowercase().contains(invented),
                "{s:?}: {message}"
            );
        }
    }
}
