//! Every kind of email Passage sends, written in both languages from its templates: each
//! has a subject, a text part and an HTML part; no message is missing from a catalogue
//! (no message id, no `{ $placeholder }` left), and the HTML part escapes what it shows
//! (a reason, a name or a note holding `<script>` stays text).

mod common;

use common::words::{self, Reader, unescaped};
use passage::domain::Language;
use passage::i18n;
use passage::mail::compose::{
    Decision, Invitation, Late, LateStep, LowBalance, PasswordReset, Question, ReportReminder,
    ReportStep, TripFacts, Urgent, Written,
};
use passage::reports::send::{Gift, Links, render};
use passage::reports::summary::Summary;
use serde_json::json;

const SCRIPT: &str = "<script>alert('x')</script>";

fn summary() -> Summary {
    let value = json!({
        "audit_head": {"hash": "ab12", "seq": 40},
        "by_category": {
            "cells": [
                {"key": "hotel", "amount": "450.00", "cases": "7"},
                {"key": "bus", "amount": null, "cases": "<5"}
            ],
            "other": {"members": ["flight", "food"], "amount": "239.00", "cases": "5"}
        },
        "by_province": {"cells": [], "other": null},
        "cases_helped": "12",
        "closing_balance": "26595.56",
        "compared_with": [],
        "currency": "CAD",
        "cutoff": "2026-12-01T00:00:00Z",
        "disbursed": "689.00",
        "donations": {"gifts": "3", "restricted": "1234.56", "total": "26234.56", "unrestricted": "25000.00"},
        "format": "passage-report/1",
        "holds_outstanding": {"amount": "120.00", "cases": "3"},
        "hotel_nights": "9",
        "in_kind": "50.00",
        "median_decision_seconds": "420",
        "min_cell": 5,
        "notes": {"en": format!("These figures undercount the need. {SCRIPT}"),
                  "fr": format!("Ces chiffres sous-estiment le besoin. {SCRIPT}")},
        "opening_balance": "1000.00",
        "period": {"end": "2026-11-30", "start": "2026-11-01"},
        "runway_months": "38.6",
        "supersedes": null,
        "trips": {"cells": [
            {"key": "interprovincial", "cases": "6", "trips": "6"},
            {"key": "international", "cases": "<5", "trips": null}
        ], "other": null, "total": "14"},
        "unassigned": "0.00"
    });
    Summary::parse(&value.to_string()).expect("a whole summary")
}

/// Every kind of email, in `language`, with `<script>` wherever free text goes.
fn every_email(language: Language) -> Vec<(&'static str, Written)> {
    let link = "https://passage.example.org/requests/8b0c".to_string();
    let urgent = |escalated| Urgent {
        language,
        escalated,
        case_code: "QC-7K4M-X2P9".into(),
        category: "flight".into(),
        amount: "1612.40".into(),
        why: format!("flight requests above 500.00 wait {SCRIPT}"),
        link: link.clone(),
        org: format!("Refuge {SCRIPT}"),
        requester: "cw@example.org".into(),
        trip: Some(TripFacts {
            from: "QC".into(),
            to: "HT".into(),
            travel_date: "2026-11-30".into(),
            reason: "family".into(),
            scope: "international".into(),
        }),
        stay: None,
        needed_by: "2026-11-30".into(),
        excess: String::new(),
        case_days: Some((2, "420.00".into())),
        fund: Some(("3095.50".into(), "1483.10".into())),
        approvals: (1, 2),
        approved_by: vec!["t1@example.org".into()],
    };
    let question = |answered| Question {
        language,
        answered,
        case_code: "QC-7K4M-X2P9".into(),
        category: "flight".into(),
        amount: "1612.40".into(),
        link: link.clone(),
    };
    let decision = |approved| Decision {
        language,
        approved,
        case_code: "QC-7K4M-X2P9".into(),
        category: "hotel".into(),
        amount: "689.00".into(),
        reason: if approved {
            String::new()
        } else {
            SCRIPT.into()
        },
        reason_code: (!approved).then(|| "cheaper_option".into()),
        call_back: (!approved).then(|| ("t2@example.org".into(), "t2@example.org".into())),
        link: link.clone(),
    };
    let late = |step| Late {
        language,
        step,
        case_code: "QC-7K4M-X2P9".into(),
        category: "hotel".into(),
        amount: "318.00".into(),
        expires_in: "12 h".into(),
        reason: if step == LateStep::Declined {
            SCRIPT.into()
        } else {
            String::new()
        },
        call_back: if step == LateStep::Declined {
            i18n::text_with(
                language,
                "request-call-back",
                &[
                    ("who", "t1@example.org".into()),
                    ("email", "t1@example.org".into()),
                ],
            )
        } else {
            String::new()
        },
        link: link.clone(),
    };
    let reminder = |step| ReportReminder {
        language,
        step,
        start: "2026-11-01".into(),
        end: "2026-11-30".into(),
        link: "https://passage.example.org/reports/41".into(),
    };
    let links = Links {
        web: "https://passage.example.org/donor/report?token=abc".into(),
        unsubscribe: "https://passage.example.org/donor/unsubscribe?token=def".into(),
        link_days: 60,
    };
    let gifts = [
        Gift {
            donor_id: "d".into(),
            amount: 123_456,
            kind: "cash".into(),
            restricted_to: Some("hotel,bus".into()),
        },
        Gift {
            donor_id: "d".into(),
            amount: 2_500_000,
            kind: "in_kind".into(),
            restricted_to: None,
        },
    ];
    let name = format!("Fondation {SCRIPT}");
    let donor =
        |gifts: &[Gift]| render(language, &name, &summary(), "ab12", gifts, &links).unwrap();
    vec![
        ("urgent", urgent(false).write().unwrap()),
        ("escalated", urgent(true).write().unwrap()),
        ("asked", question(false).write().unwrap()),
        ("answered", question(true).write().unwrap()),
        ("approved", decision(true).write().unwrap()),
        ("declined", decision(false).write().unwrap()),
        (
            "low balance",
            LowBalance {
                language,
                available_cents: 68_900,
                floor_cents: 100_000,
            }
            .write()
            .unwrap(),
        ),
        ("late waiting", late(LateStep::Waiting).write().unwrap()),
        ("late escalated", late(LateStep::Escalated).write().unwrap()),
        ("late approved", late(LateStep::Approved).write().unwrap()),
        ("late declined", late(LateStep::Declined).write().unwrap()),
        ("hold reminder", late(LateStep::Reminder).write().unwrap()),
        ("to seal", reminder(ReportStep::Seal).write().unwrap()),
        ("to co-sign", reminder(ReportStep::Cosign).write().unwrap()),
        ("donor report", donor(&gifts)),
        ("donor report without gifts", donor(&[])),
        (
            "password reset",
            PasswordReset {
                language,
                link: "https://passage.example.org/reset?token=ab12".into(),
            }
            .write()
            .unwrap(),
        ),
        (
            "invitation",
            Invitation {
                language,
                link: "https://passage.example.org/invitation?token=cd34".into(),
            }
            .write()
            .unwrap(),
        ),
    ]
}

#[test]
fn every_email_has_both_parts_in_both_languages_with_every_word_translated() {
    for language in [Language::En, Language::Fr] {
        for (kind, mail) in every_email(language) {
            let what = format!("{kind} ({language:?})");
            assert!(!mail.subject.trim().is_empty(), "{what}: no subject");
            assert!(mail.text.ends_with('\n'), "{what}: {:?}", mail.text);
            assert!(
                mail.html.starts_with("<!DOCTYPE html>")
                    && mail
                        .html
                        .contains(&format!("<html lang=\"{}\">", language.as_str()))
                    && mail.html.trim_end().ends_with("</html>"),
                "{what}: {}",
                mail.html
            );
            for (part, body) in [
                ("subject", &mail.subject),
                ("text", &mail.text),
                ("html", &mail.html),
            ] {
                assert!(
                    !body.contains("Unknown localization"),
                    "{what} {part}: a message is missing: {body}"
                );
                // A message id (email-…, figure-…, need-…, gift-…) shown as such.
                for prefix in ["email-", "figure-", "need-", "gift-", "category-"] {
                    assert!(
                        !body.contains(prefix),
                        "{what} {part}: an untranslated {prefix}… id: {body}"
                    );
                }
                // A placeholder Fluent could not fill, or a template left unrendered.
                assert!(
                    !body.contains('{') && !body.contains('}'),
                    "{what} {part}: a placeholder is left: {body}"
                );
            }
            // The HTML part escapes free text; the text part is plain text.
            assert!(!mail.html.contains("<script"), "{what}: {}", mail.html);
            if mail.text.contains(SCRIPT) {
                assert!(
                    unescaped(&mail.html).contains(SCRIPT),
                    "{what}: {}",
                    mail.html
                );
            }
        }
    }
}

#[test]
fn the_free_text_of_each_email_reaches_both_parts() {
    for language in [Language::En, Language::Fr] {
        let mails = every_email(language);
        let text_of = |kind: &str| &mails.iter().find(|(k, _)| *k == kind).unwrap().1;
        for kind in [
            "urgent",
            "escalated",
            "declined",
            "donor report",
            "donor report without gifts",
        ] {
            let mail = text_of(kind);
            assert!(mail.text.contains(SCRIPT), "{kind}: {}", mail.text);
            assert!(
                !mail.html.contains("<script") && unescaped(&mail.html).contains(SCRIPT),
                "{kind}: {}",
                mail.html
            );
        }
    }
}

/// French emails speak French: the category's name and the amounts as French writes them
/// (issue 17: "Catégorie : flight", "689.00 $" before).
#[test]
fn french_emails_name_categories_and_amounts_in_french() {
    let fr = every_email(Language::Fr);
    let en = every_email(Language::En);
    let get = |mails: &[(&'static str, Written)], kind: &str| {
        mails.iter().find(|(k, _)| *k == kind).unwrap().1.clone()
    };
    let urgent = get(&fr, "urgent");
    assert_eq!(
        urgent.subject,
        "Urgent : Avion 1\u{a0}612,40\u{a0}$ pour le dossier QC-7K4M-X2P9"
    );
    assert!(
        urgent.text.starts_with(
            "Une demande urgente attend une décision.\n\nDossier : QC-7K4M-X2P9\n\
             Catégorie : Avion\nMontant : 1\u{a0}612,40\u{a0}$\n"
        ),
        "{}",
        urgent.text
    );
    assert!(
        urgent
            .text
            .ends_with("\n\nDécider : https://passage.example.org/requests/8b0c\n"),
        "{}",
        urgent.text
    );
    // What a treasurer weighs beyond the request itself (issue 17).
    for line in [
        "Autres demandes du dossier, 90 derniers jours : 2 (approuvé ou dépensé : 420,00\u{a0}$)\n",
        "Disponible maintenant : 3\u{a0}095,50\u{a0}$\nDisponible après approbation : 1\u{a0}483,10\u{a0}$\n",
        "Approbations : 1 sur 2 (t1@example.org)\n",
    ] {
        assert!(
            urgent.text.contains(line),
            "{line:?} not in {}",
            urgent.text
        );
    }
    assert!(
        get(&fr, "escalated")
            .subject
            .starts_with("[Relance] Urgent : Avion")
    );
    let declined = get(&fr, "declined");
    assert_eq!(
        declined.subject,
        "Refusé : Hôtel 689,00\u{a0}$ pour le dossier QC-7K4M-X2P9"
    );
    // The code, the typed reason, who to call back (as the answer page says) and the page.
    assert_eq!(
        declined.text,
        format!(
            "La demande est refusée.\n\nDossier : QC-7K4M-X2P9\n\
             Pourquoi : Une option moins chère existe\nRaison : {SCRIPT}\n\
             Rappeler : t2@example.org (t2@example.org)\n\n\
             La lire sur sa page : https://passage.example.org/requests/8b0c\n"
        )
    );
    let low = get(&fr, "low balance");
    assert_eq!(low.subject, "Fonds bas : 689,00\u{a0}$ disponibles");
    assert_eq!(
        low.text,
        "Le fonds est passé sous son plancher de réserve.\n\n\
         Disponible : 689,00\u{a0}$\nPlancher : 1\u{a0}000,00\u{a0}$\n"
    );

    // English stays as it was, with the category's name and grouped thousands.
    let urgent = get(&en, "urgent");
    assert_eq!(
        urgent.subject,
        "Urgent: Flight $1,612.40 for case QC-7K4M-X2P9"
    );
    let approved = get(&en, "approved");
    assert_eq!(
        approved.subject,
        "Approved: Hotel $689.00 for case QC-7K4M-X2P9"
    );
    assert_eq!(
        approved.text,
        "The request is approved and the money is held.\n\nCase: QC-7K4M-X2P9\n\
         Amount: $689.00\nAfter the purchase, record the receipt: \
         https://passage.example.org/requests/8b0c\n"
    );
    let seal = get(&en, "to seal");
    assert_eq!(
        seal.subject,
        "Donor report to seal: 2026-11-01 to 2026-11-30"
    );
    assert_eq!(
        seal.text,
        "The report for 2026-11-01 to 2026-11-30 is waiting for a treasurer to seal it, \
         and a second one to co-sign it.\n\n\
         Review and seal it: https://passage.example.org/reports/41\n"
    );
}

/// The donor's email in French: their gifts, the fund's figures and the chart, in the
/// catalogue's words and the French number format.
#[test]
fn the_donor_email_reads_as_before_in_each_language() {
    let fr = every_email(Language::Fr);
    let donor = &fr.iter().find(|(k, _)| *k == "donor report").unwrap().1;
    assert_eq!(
        donor.subject,
        "Ce que le fonds Passage a permis, du 2026-11-01 au 2026-11-30"
    );
    let text = &donor.text;
    for line in [
        format!("Bonjour Fondation {SCRIPT},\n\n"),
        "Voici ce que le fonds d'urgence Passage a permis du 2026-11-01 au 2026-11-30.\n\n"
            .to_string(),
        "Vos dons pendant cette période :\n".into(),
        "  - 1\u{a0}234,56\u{a0}$ (pour Hôtel, Autobus)\n".into(),
        "  - 25\u{a0}000,00\u{a0}$ (en nature)\n".into(),
        "  Total : 26\u{a0}234,56\u{a0}$\n\nLe fonds :\n".into(),
        "  Solde d'ouverture : 1\u{a0}000,00\u{a0}$\n".into(),
        "    dont réservés à certains besoins : 1\u{a0}234,56\u{a0}$\n".into(),
        "  Autonomie au rythme de la période : 38,6 mois\n".into(),
        "    entre provinces : 6\n".into(),
        "    depuis ou vers l'étranger : moins de 5 personnes : comptées avec d'autres ci-dessous\n"
            .into(),
        "  Délai médian entre demande et décision : 7 min\n\nDépenses par besoin :\n".into(),
        format!("  {:<28} {} 450,00\u{a0}$ (7 personnes)\n", "Hôtel", "#".repeat(30)),
        format!(
            "  {:<28} moins de 5 personnes : comptées avec d'autres ci-dessous\n",
            "Autobus"
        ),
        format!(
            "  {:<28} {} 239,00\u{a0}$ (5 personnes)\n",
            "Ensemble : Avion, Nourriture",
            "#".repeat(15)
        ),
        "\nComment lire ce rapport :\nLes montants sont en dollars canadiens".into(),
        "\nVersion web : https://passage.example.org/donor/report?token=abc\n\
         (ce lien fonctionne 60 jours)\nEmpreinte du rapport (SHA-256) : ab12\n\
         Pour le vérifier : la page web du rapport offre son fichier de synthèse ; \
         sha256sum de ce fichier affiche cette empreinte.\n\n\
         Pour ne plus recevoir ces rapports : \
         https://passage.example.org/donor/unsubscribe?token=def\n"
            .into(),
    ] {
        assert!(text.contains(&line), "{line:?} not in\n{text}");
    }
    // Suppression in words, never as a code; no province section when it has no bar.
    assert!(!text.contains("<5") && !text.contains(">=5"), "{text}");
    assert!(!text.contains("Dépenses par province"), "{text}");
    let html = &donor.html;
    // Bars are table cells with a width and a background colour (kept by mail clients).
    assert!(
        html.contains("class=\"bar\" width=\"100%\" height=\"14\" bgcolor=\"#2b6cb0\""),
        "{html}"
    );
    assert!(html.contains("class=\"bar\" width=\"53%\""), "{html}");
    assert!(!html.contains("<div class=\"bar\""), "{html}");
    assert!(
        html.contains("<a href=\"https://passage.example.org/donor/report?token=abc\">"),
        "{html}"
    );
    let en = every_email(Language::En);
    let donor = &en
        .iter()
        .find(|(k, _)| *k == "donor report without gifts")
        .unwrap()
        .1;
    assert!(
        donor.text.contains(
            "You made no gift in this period: thank you for your support.\n\nThe fund:\n  \
             Opening balance: $1,000.00\n"
        ),
        "{}",
        donor.text
    );
    assert!(
        donor.text.contains("  Together: Flights, Food     "),
        "{}",
        donor.text
    );
}

/// Every message of the emails' catalogue exists in both languages.
#[test]
fn both_email_catalogues_hold_the_same_messages() {
    let keys = |language: &str| -> std::collections::BTreeSet<String> {
        let path = format!(
            "{}/templates/i18n/{language}/email.ftl",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with(' ') && l.contains(" = "))
            .map(|l| l.split(" = ").next().unwrap().to_string())
            .collect()
    };
    let (fr, en) = (keys("fr"), keys("en"));
    assert_eq!(
        fr.symmetric_difference(&en).collect::<Vec<_>>(),
        Vec::<&String>::new()
    );
    for key in &en {
        assert!(
            i18n::has(Language::Fr, key) && i18n::has(Language::En, key),
            "{key}"
        );
    }
}

/// What an email says in words of its own, without the free text the test put in (a
/// treasurer's words are theirs, in whatever language they typed).
fn readable(mail: &Written) -> String {
    words::readable(&mail.subject, &mail.text, &mail.html)
        .replace(SCRIPT, " ")
        .replace("flight requests above 500.00 wait", " ")
        .replace("Fondation", " ")
        .replace("Refuge", " ")
}

/// Issue 17's words: a French reader meets no word that only the English catalogue holds
/// (beyond names and codes), and every amount in French format; and the other way round.
#[test]
fn each_language_reads_its_own_words_and_amounts_in_every_email() {
    let mut wrong = Vec::new();
    for language in [Language::Fr, Language::En] {
        let reader = Reader::new(language);
        for (kind, mail) in every_email(language) {
            let text = readable(&mail);
            wrong.extend(reader.wrong(kind, &text));
            if text.chars().any(|c| c.is_ascii_digit())
                && kind != "hold reminder"
                && !reader.has_own_amount(&text)
                && text.contains('$')
            {
                wrong.push(format!("{language:?} {kind}: no amount in its own format"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Issue 17's words: French says "réservation" for a hold, "mis de côté" for an operation
/// reserve and "plancher de réserve" for the floor, so the bare word "réserve" only ever
/// stands in "plancher de réserve" (it once named a hold on the answer page and in the
/// policy editor, and the floor in a rule's reason).
#[test]
fn french_keeps_three_words_for_a_hold_a_reserve_and_the_floor() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/i18n/fr");
    let bare = regex::Regex::new(r"(?i)(\S+ \S+ )?réserves?\b").unwrap();
    let mut wrong = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            for m in bare.find_iter(line) {
                if !m.as_str().to_lowercase().starts_with("plancher de ") {
                    wrong.push(format!("{}: {line}", path.display()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
