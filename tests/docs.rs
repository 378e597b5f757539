//! The documentation says what the code does: the README and the pages under `docs/` are
//! read as data and checked against the repository, the configuration, the binary and the
//! OpenAPI document. Every relative link leads to a file (and a heading) that exists; the
//! README's two commands are the ones `.ci/run` and the binary use; the configuration table
//! lists every setting with its default and the range the configuration accepts; the command
//! table lists every command of the binary; the route table lists every operation of the
//! OpenAPI document; every path of the repository the documents name exists.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TestApp, TestDb};
use passage::config::Config;
use regex::Regex;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The documents: the README, SECURITY.md and every page under `docs/`.
fn documents() -> Vec<PathBuf> {
    let mut docs = vec![root().join("README.md"), root().join("SECURITY.md")];
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("a docs/ folder")
        .map(|e| e.expect("a docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    assert!(!pages.is_empty(), "docs/ holds the reference");
    docs.extend(pages);
    docs
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn doc(name: &str) -> String {
    read(&root().join(name))
}

/// The lines of a Markdown text outside fenced code blocks, with their numbers.
fn prose(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            lines.push((n + 1, line));
        }
    }
    lines
}

/// The anchors GitHub gives a document's headings: lower case, punctuation dropped,
/// spaces as hyphens, a repeated heading numbered from -1.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut anchors = BTreeSet::new();
    for (_, line) in prose(text) {
        let Some(heading) = line.strip_prefix('#') else {
            continue;
        };
        let heading = heading.trim_start_matches('#');
        if !heading.starts_with(' ') {
            continue;
        }
        let slug: String = heading
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let n = seen.entry(slug.clone()).or_insert(0);
        anchors.insert(if *n == 0 {
            slug.clone()
        } else {
            format!("{slug}-{n}")
        });
        *n += 1;
    }
    anchors
}

/// `path` with its `.` and `..` resolved by their names, as a link is read.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[test]
fn every_relative_link_leads_to_a_file_and_heading_that_exist() {
    let link = Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let root = root().canonicalize().unwrap();
    let mut broken = Vec::new();
    let mut checked = 0;
    for path in documents() {
        let path = path.canonicalize().unwrap();
        let text = read(&path);
        for (n, line) in prose(&text) {
            for target in link.captures_iter(line).map(|c| c[1].to_string()) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (file, anchor) = match target.split_once('#') {
                    Some((file, anchor)) => (file, Some(anchor)),
                    None => (target.as_str(), None),
                };
                let linked = if file.is_empty() {
                    path.clone()
                } else {
                    lexical(&path.parent().unwrap().join(file))
                };
                // Outside the repository (the contract beside it) is not ours to check.
                if !linked.starts_with(&root) {
                    continue;
                }
                checked += 1;
                let at = format!("{}:{n}: {target}", path.display());
                if !linked.exists() {
                    broken.push(format!("{at}: no such file"));
                    continue;
                }
                if let Some(anchor) = anchor {
                    if linked.extension().is_none_or(|e| e != "md") {
                        broken.push(format!("{at}: an anchor into a file that is not Markdown"));
                    } else if !anchors(&read(&linked)).contains(anchor) {
                        broken.push(format!("{at}: no heading has the anchor #{anchor}"));
                    }
                }
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} links found: is the pattern right?"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_gives_the_two_commands_ci_and_the_binary_use() {
    let readme = doc("README.md");
    let start = readme
        .split("## Start here")
        .nth(1)
        .expect("a \"Start here\" section");
    let block = start
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block in \"Start here\"");
    let commands: Vec<&str> = block
        .lines()
        .map(|l| l.split(" #").next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        commands,
        ["cargo run --release -- serve", "cargo test"],
        "the README's two commands: one runs the service, one runs the tests"
    );
    let ci = doc(".ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == commands[1]),
        ".ci/run runs the README's test command `{}`",
        commands[1]
    );
    for args in [["serve", "--help"], ["demo", "--help"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_passage"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "passage {args:?}: {out:?}");
    }
    assert!(
        readme.contains("cargo run --release -- demo"),
        "the README shows the demo"
    );
}

/// The rows of the Markdown table that follows `heading` in `text`, as cells.
fn table_after(text: &str, heading: &str) -> Vec<Vec<String>> {
    let section = text
        .split(&format!("\n{heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("a section {heading:?}"));
    let rows: Vec<Vec<String>> = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            // Cells split on `|` but not on an escaped `\|`.
            let l = l.replace("\\|", "\u{1}");
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().replace('\u{1}', "|"))
                .collect()
        })
        .collect();
    assert!(!rows.is_empty(), "a table under {heading:?}");
    rows
}

/// A configuration with one setting changed, the others at their defaults.
fn load_with(name: &str, value: &str) -> Result<Config, passage::config::ConfigError> {
    Config::load(|n| (n == name).then(|| value.to_string()))
}

#[test]
fn the_configuration_table_lists_every_setting_with_its_default_and_range() {
    let rows = table_after(&doc("docs/operations.md"), "## Configuration");
    let documented: BTreeMap<String, (String, String)> = rows
        .iter()
        .map(|r| {
            (
                r[0].trim_matches('`').to_string(),
                (r[1].clone(), r[2].clone()),
            )
        })
        .collect();
    let mut settings: BTreeMap<String, String> = Config::defaults()
        .map(|(n, d)| (n.to_string(), d.to_string()))
        .collect();
    settings.insert("PASSAGE_CONFIG".into(), String::new());
    assert_eq!(
        documented.keys().collect::<Vec<_>>(),
        settings.keys().collect::<Vec<_>>(),
        "docs/operations.md's configuration table lists every setting Passage reads"
    );
    let range = Regex::new(r"\b(\d+) to (\d+)\b").unwrap();
    for (name, default) in &settings {
        let (shown, meaning) = &documented[name];
        if default.is_empty() {
            assert!(
                shown.starts_with("none") || shown.starts_with("`http://` +"),
                "{name} has no default, the table says {shown}"
            );
        } else {
            assert_eq!(shown, &format!("`{default}`"), "{name}'s default");
        }
        for c in range.captures_iter(meaning) {
            let (low, high): (u64, u64) = (c[1].parse().unwrap(), c[2].parse().unwrap());
            for ok in [low, high] {
                assert!(
                    load_with(name, &ok.to_string()).is_ok(),
                    "{name} = {ok} is in the documented range {low} to {high}"
                );
            }
            let mut outside = vec![high + 1];
            if low > 0 {
                outside.push(low - 1);
            }
            for bad in outside {
                let e = load_with(name, &bad.to_string())
                    .expect_err(&format!("{name} = {bad} is outside {low} to {high}"));
                assert_eq!(e.setting, *name);
            }
        }
    }
}

/// What only the documents hold, and what only the code holds.
fn differences(
    documented: &BTreeSet<String>,
    actual: &BTreeSet<String>,
) -> (Vec<String>, Vec<String>) {
    (
        documented.difference(actual).cloned().collect(),
        actual.difference(documented).cloned().collect(),
    )
}

/// The subcommands `passage ARGS --help` lists, `help` apart.
fn subcommands(args: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_passage"))
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "passage {args:?} --help: {out:?}");
    let help = String::from_utf8(out.stdout).unwrap();
    help.split("Commands:\n")
        .nth(1)
        .map(|s| {
            s.lines()
                .take_while(|l| l.starts_with("  "))
                // A wrapped description goes on with a deeper indent.
                .filter(|l| !l.starts_with("   "))
                .filter_map(|l| l.split_whitespace().next())
                .filter(|c| *c != "help")
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_command_table_lists_every_command_of_the_binary() {
    let rows = table_after(&doc("docs/operations.md"), "## Commands");
    let word = Regex::new(r"^[a-z]+$").unwrap();
    let mut documented = BTreeSet::new();
    for row in &rows {
        let cell = row[0].trim_matches('`');
        let Some(rest) = cell.strip_prefix("passage ") else {
            panic!("a command row that is not `passage ...`: {cell}");
        };
        let words: Vec<&str> = rest
            .split_whitespace()
            .take_while(|w| word.is_match(w))
            .collect();
        if words.is_empty() {
            continue; // `passage --version`, `passage --help`
        }
        documented.insert(words.join(" "));
    }
    let mut actual = BTreeSet::new();
    for top in subcommands(&[]) {
        let below = subcommands(&[&top]);
        if below.is_empty() {
            actual.insert(top);
        } else {
            actual.extend(below.into_iter().map(|s| format!("{top} {s}")));
        }
    }
    assert_eq!(
        differences(&documented, &actual),
        (vec![], vec![]),
        "docs/operations.md's command table names each command of `passage --help` \
         (documented but not in the binary, in the binary but not documented)"
    );
}

#[tokio::test]
async fn the_route_table_lists_every_operation_of_the_openapi_document() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    let res = app.get("/api/v1/openapi.json", None).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let document: serde_json::Value = res.json().await.unwrap();
    let mut served = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            served.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    app.stop().await;

    let rows = table_after(&doc("docs/api.md"), "## Routes");
    let operation = Regex::new(r"^`((?:GET|POST|PUT|PATCH|DELETE) /[^`? ]*)`$").unwrap();
    let documented: BTreeSet<String> = rows
        .iter()
        .map(|r| {
            operation
                .captures(&r[0])
                .unwrap_or_else(|| panic!("a route row names one operation: {}", r[0]))[1]
                .to_string()
        })
        .collect();
    assert_eq!(
        differences(&documented, &served),
        (vec![], vec![]),
        "docs/api.md's route table lists exactly the operations the server serves \
         (documented but not served, served but not documented)"
    );
}

#[test]
fn every_repository_path_the_documents_name_exists() {
    let code =
        Regex::new(r"`((?:src|tests|benches|migrations|templates|docs|\.ci)/[^`\s]*)`").unwrap();
    let braces = Regex::new(r"\{([^}]*)\}").unwrap();
    let mut missing = Vec::new();
    let mut checked = 0;
    for path in documents() {
        let text = read(&path);
        for (n, line) in prose(&text) {
            for named in code.captures_iter(line).map(|c| c[1].to_string()) {
                if named.contains('*') || named.contains("...") {
                    continue;
                }
                // `templates/i18n/{en,fr}/passage.ftl` names two files.
                let expanded: Vec<String> = match braces.captures(&named) {
                    Some(c) => c[1]
                        .split(',')
                        .map(|alt| named.replacen(&c[0], alt, 1))
                        .collect(),
                    None => vec![named.clone()],
                };
                for each in expanded {
                    checked += 1;
                    if !root().join(&each).exists() {
                        missing.push(format!("{}:{n}: {each}", path.display()));
                    }
                }
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} paths found: is the pattern right?"
    );
    assert!(
        missing.is_empty(),
        "paths the documents name that do not exist:\n{}",
        missing.join("\n")
    );
}
