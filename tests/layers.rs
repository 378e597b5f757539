//! The layers point one way (see docs/architecture.md): `domain` ← `store`/`ledger`/
//! `identity` ← `approval`/`funding`/`reports` ← `http`/`web`/mail delivery ← `app`/`main`.
//! This reads every `crate::` path in `src/` (comments left out) and fails on an import
//! cycle between top-level modules, or between the submodules of `approval`, printing the
//! cycle; and on a module below the HTTP edge that names axum, a status code, `crate::http`
//! or an `/api/v1` route; and on a request status, transfer kind, role, report status or
//! schedule, case status, organisation type, or bank statement format, line status,
//! match kind or record kind written as a string outside its enum's
//! module (or compared as text in a template); and on a `write_tx!` or
//! `read_tx!` not written in its one form, `|tx| -> Result<T, E> async { ... }`. Run it
//! alone with `cargo test --test layers`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The modules below the HTTP edge: they decide and store, and never speak HTTP.
const BELOW_HTTP: &[&str] = &[
    "domain",
    "store",
    "ledger",
    "identity",
    "approval",
    "funding",
    "reports",
    "cases",
    "idempotency",
];

/// What a module below the HTTP edge must not name.
const HTTP_WORDS: &[&str] = &["axum", "StatusCode", "crate::http", "/api/v1"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ can be read") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without its comments (line and block), so that a doc link to another
/// module is not taken for a dependency on it. String literals are kept.
fn code_of(source: &str) -> String {
    let bytes = source.as_bytes();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            out.push(c as char);
            if c == b'\\' && i + 1 < bytes.len() {
                out.push(bytes[i + 1] as char);
                i += 2;
                continue;
            }
            if c == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        if c == b'"' && !(i > 0 && bytes[i - 1] == b'\'' && bytes.get(i + 1) == Some(&b'\'')) {
            in_string = true;
            out.push('"');
            i += 1;
        } else if bytes[i..].starts_with(b"//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if bytes[i..].starts_with(b"/*") {
            while i < bytes.len() && !bytes[i..].starts_with(b"*/") {
                i += 1;
            }
            i += 2;
        } else {
            out.push(c as char);
            i += 1;
        }
    }
    out
}

/// The identifiers a path prefix (`crate::`, `super::`) leads to in `code`: for
/// `crate::a::b` it is `a`, for `crate::{a, b::c}` both `a` and `b`.
fn names_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name = ident(item);
                if !name.is_empty() {
                    names.insert(name);
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

/// A cycle in `graph`, as the path that closes it, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut found = path[start..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(found) = visit(node, graph, &mut Vec::new(), &mut done) {
            return Some(found);
        }
    }
    None
}

struct Source {
    /// The path under `src/`, with `/` between its parts.
    path: String,
    code: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|file| Source {
            path: file
                .strip_prefix(&root)
                .expect("under src/")
                .to_string_lossy()
                .replace('\\', "/"),
            code: code_of(&std::fs::read_to_string(&file).expect("a readable source")),
        })
        .collect()
}

/// The top-level module a file belongs to (`approval` for `approval/lifecycle.rs`).
fn top_module(path: &str) -> String {
    let first = path.split('/').next().unwrap_or(path);
    first.trim_end_matches(".rs").to_string()
}

fn graph_of(
    edges: impl IntoIterator<Item = (String, String)>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in edges {
        if from != to {
            graph.entry(from).or_default().insert(to);
        }
    }
    graph
}

#[test]
fn no_import_cycle_between_top_level_modules() {
    let sources = sources();
    let modules: BTreeSet<String> = sources
        .iter()
        .map(|s| top_module(&s.path))
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let graph = graph_of(sources.iter().flat_map(|s| {
        let from = top_module(&s.path);
        names_after(&s.code, "crate::")
            .into_iter()
            .filter(|name| modules.contains(name))
            .map(move |to| (from.clone(), to))
    }));
    assert!(graph.contains_key("http"), "the scan found no imports");
    if let Some(found) = cycle(&graph) {
        panic!(
            "an import cycle between top-level modules: {}",
            found.join(" -> ")
        );
    }
}

#[test]
fn no_import_cycle_inside_approval() {
    let sources = sources();
    let children: BTreeSet<String> = sources
        .iter()
        .filter_map(|s| s.path.strip_prefix("approval/"))
        .map(|p| p.trim_end_matches(".rs").to_string())
        .filter(|p| p != "mod")
        .collect();
    assert!(children.contains("lifecycle") && children.contains("notify"));
    let graph = graph_of(sources.iter().flat_map(|s| {
        let from = s
            .path
            .strip_prefix("approval/")
            .map(|p| p.trim_end_matches(".rs").to_string())
            .filter(|p| children.contains(p));
        let mut names = names_after(&s.code, "super::");
        names.extend(names_after(&s.code, "crate::approval::"));
        let children = &children;
        from.into_iter().flat_map(move |from| {
            names
                .clone()
                .into_iter()
                .filter(|name| children.contains(name))
                .map(move |to| (from.clone(), to))
        })
    }));
    if let Some(found) = cycle(&graph) {
        panic!("an import cycle inside approval: {}", found.join(" -> "));
    }
}

#[test]
fn nothing_below_the_http_edge_speaks_http() {
    let mut found = Vec::new();
    for source in sources() {
        if !BELOW_HTTP.contains(&top_module(&source.path).as_str()) {
            continue;
        }
        // Unit tests may spell out what a module's answers look like.
        let code = match source.code.find("#[cfg(test)]\nmod tests") {
            Some(at) => &source.code[..at],
            None => &source.code,
        };
        for (n, line) in code.lines().enumerate() {
            for word in HTTP_WORDS {
                if line.contains(word) {
                    found.push(format!(
                        "src/{}:{}: {word}: {}",
                        source.path,
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "modules below the HTTP edge name HTTP:\n{}",
        found.join("\n")
    );
}

/// The closed sets that are enums, each with its words and the modules allowed to spell
/// them: its own, and a module whose own closed set shares a word. A misspelt state then
/// cannot compile.
const CLOSED_SETS: &[(&str, &[&str], &[&str])] = &[
    (
        "RequestStatus",
        &[
            "pending",
            "approved",
            "declined",
            "settled",
            "cancelled",
            "expired",
            "info_requested",
            "receipt_pending",
        ],
        &["domain/states.rs"],
    ),
    (
        "TransferKind",
        &["single", "post", "void", "expire"],
        &["domain/states.rs"],
    ),
    // `reports::donor`'s `WithdrawnBy` writes who withdrew a link (`treasurer`) as its own
    // text.
    (
        "Role",
        &["caseworker", "treasurer", "admin"],
        &["domain/identity.rs", "reports/donor.rs"],
    ),
    (
        "ReportStatus",
        &["draft", "awaiting_cosign", "sealed"],
        &["domain/states.rs"],
    ),
    (
        "ReportSchedule",
        &["manual", "monthly", "quarterly"],
        &["domain/states.rs"],
    ),
    ("CaseStatus", &["open", "closed"], &["domain/states.rs"]),
    // `health` is also the API's tag for its health route and `other` a category, a
    // reason and a decline code: those two are left to their own enums. A trip's reason
    // `shelter` is `domain::request`'s own word.
    (
        "OrgType",
        &[
            "shelter",
            "youth",
            "legal_aid",
            "victim_services",
            "immigrant_support",
            "sex_worker_support",
            "labour_rights",
            "indigenous",
            "coalition",
        ],
        &["domain/identity.rs", "domain/request.rs"],
    ),
    // The bank statement's sets (issue 18). `csv` is also an export format (`export`) and
    // the donations import's form field; `proposed` a policy version's standing; the
    // metrics' label of a request no route matched is `unmatched`; the donations import
    // counts the gifts it `recorded`; a gift's ledger code, a restricted draw's key and a
    // digest's record are `donation`.
    (
        "StatementFormat",
        &["csv", "ofx"],
        STATEMENT_FORMAT_SPELLERS,
    ),
    (
        "BankLineStatus",
        &["unmatched", "matched", "recorded", "proposed"],
        &[
            "domain/states.rs",
            "approval/versions.rs",
            "http/policy.rs",
            "http/metrics.rs",
            "funding/import.rs",
        ],
    ),
    (
        "MatchKind",
        &["donation", "payout_line", "payout_bounce"],
        DONATION_SPELLERS,
    ),
    (
        "RecordKind",
        &["fee", "interest", "donation", "bounce"],
        DONATION_SPELLERS,
    ),
];

const STATEMENT_FORMAT_SPELLERS: &[&str] = &[
    "domain/states.rs",
    "export/mod.rs",
    "web/donations_import.rs",
];

const DONATION_SPELLERS: &[&str] = &[
    "domain/states.rs",
    "funding/mod.rs",
    "funding/restricted.rs",
    "reports/digest.rs",
];

#[test]
fn no_state_is_written_as_a_string_outside_its_enum() {
    let mut found = Vec::new();
    let sources = sources();
    for (set, words, allowed) in CLOSED_SETS {
        for source in &sources {
            if allowed.contains(&source.path.as_str()) {
                continue;
            }
            for (n, line) in source.code.lines().enumerate() {
                for text in *words {
                    // In Rust ("pending") and in SQL text ('pending'): a query binds the enum
                    // or writes it with its `sql` / `sql_list`.
                    if line.contains(&format!("\"{text}\"")) || line.contains(&format!("'{text}'"))
                    {
                        found.push(format!(
                            "src/{}:{}: {set}: {}",
                            source.path,
                            n + 1,
                            line.trim()
                        ));
                    }
                }
            }
        }
    }
    // The pages compare states through the enum's methods, not its text.
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let mut pages = Vec::new();
    html_files(&templates, &mut pages);
    for page in pages {
        let text = std::fs::read_to_string(&page).expect("a readable template");
        for (n, line) in text.lines().enumerate() {
            for (set, words, _) in CLOSED_SETS {
                for state in *words {
                    for op in ["==", "!="] {
                        if line.replace(' ', "").contains(&format!("{op}\"{state}\"")) {
                            found.push(format!(
                                "{}:{}: {set}: {}",
                                page.display(),
                                n + 1,
                                line.trim()
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "closed sets written as strings outside their enum (use its enum):\n{}",
        found.join("\n")
    );
}

/// Every transaction in `src/` is written one way, `write_tx!(db, |tx| -> Result<T, E>
/// async { ... })` (and the same for `read_tx!`): the body an `async` block whose result
/// type is named, so that `?` inside it ends the body and rolls the transaction back.
#[test]
fn every_transaction_is_written_in_the_async_form() {
    let mut found = Vec::new();
    let mut calls = 0;
    for source in sources() {
        for name in ["write_tx!(", "read_tx!("] {
            for (at, _) in source.code.match_indices(name) {
                calls += 1;
                let rest = &source.code[at + name.len()..];
                let form = rest
                    .split_once('|')
                    .and_then(|(_, after)| after.split_once('|'))
                    .map(|(_, after)| after.trim_start());
                if !form.is_some_and(|f| f.starts_with("-> Result<")) {
                    let line = source.code[..at].lines().count();
                    let text = source.code[at..].lines().next().unwrap_or_default();
                    found.push(format!("src/{}:{line}: {}", source.path, text.trim()));
                }
            }
        }
    }
    assert!(
        calls > 50,
        "the scan found only {calls} transactions in src/"
    );
    assert!(
        found.is_empty(),
        "transactions not written as `|tx| -> Result<T, E> async {{ ... }}`:\n{}",
        found.join("\n")
    );
}

fn html_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("templates/ can be read") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            html_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "html" || e == "txt") {
            out.push(path);
        }
    }
}

#[test]
fn the_scan_reads_paths_and_finds_cycles() {
    let code =
        code_of("use crate::{a, b::c};\n// crate::hidden\nlet x = crate::d::e; \"crate::s\"");
    assert_eq!(
        names_after(&code, "crate::"),
        ["a", "b", "d", "s"].map(String::from).into()
    );
    let graph = graph_of([("a", "b"), ("b", "c"), ("c", "a")].map(|(x, y)| (x.into(), y.into())));
    assert_eq!(
        cycle(&graph),
        Some(["a", "b", "c", "a"].map(String::from).to_vec())
    );
    assert_eq!(cycle(&graph_of([("a".into(), "b".into())])), None);
}
