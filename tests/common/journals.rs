//! The accounting tools the export tests hand the journals to: hledger (Debian's package)
//! and beancount 3 (from PyPI). Under `CI=true` a missing tool fails the test, never skips
//! it; elsewhere the test is skipped with a note saying how to install the tool.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use rust_decimal::Decimal;

/// Balances by account, in cents.
pub type Balances = BTreeMap<String, i64>;

pub struct Tools {
    hledger: PathBuf,
    python: PathBuf,
    /// The `bean-check` script pip installed beside that Python, when there is one.
    bean_check: Option<PathBuf>,
}

fn runs(program: &Path, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn find_hledger() -> Option<PathBuf> {
    on_path("hledger")
        .into_iter()
        .chain([PathBuf::from("/usr/bin/hledger")])
        .find(|p| runs(p, &["--version"]))
}

/// A Python that imports beancount: the one CI's setup names, the virtual environment
/// `.ci/run` makes, then `python3` on PATH (pyenv's, where `pip install beancount` puts
/// it on a developer's machine) and Debian's.
fn find_beancount_python() -> Option<PathBuf> {
    let named = std::env::var_os("PASSAGE_TEST_PYTHON").map(PathBuf::from);
    let venv = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cache/passage-beancount/bin/python"));
    named
        .into_iter()
        .chain(venv)
        .chain(on_path("python3"))
        .chain([PathBuf::from("/usr/bin/python3")])
        .find(|p| {
            runs(
                p,
                &["-c", "import beancount.loader, beancount.scripts.check"],
            )
        })
}

/// Where pip put the scripts of that Python's packages (`bean-check` among them).
fn scripts_dir(python: &Path) -> Option<PathBuf> {
    let out = Command::new(python)
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

impl Tools {
    /// Both tools, or `None` (with a loud note) outside CI when one is missing.
    pub fn find() -> Option<Tools> {
        let hledger = find_hledger();
        let python = find_beancount_python();
        let (Some(hledger), Some(python)) = (hledger.clone(), python.clone()) else {
            let mut missing = Vec::new();
            if hledger.is_none() {
                missing.push("hledger (apt-get install hledger)");
            }
            if python.is_none() {
                missing.push(
                    "beancount 3 (pip install beancount, or set PASSAGE_TEST_PYTHON to a Python that has it)",
                );
            }
            let missing = missing.join(" and ");
            if in_ci() {
                panic!("CI=true but the export tests cannot find {missing}: .ci/run installs them");
            }
            eprintln!("SKIPPING an export test: {missing} not found");
            return None;
        };
        let bean_check = scripts_dir(&python)
            .map(|dir| dir.join("bean-check"))
            .filter(|p| p.is_file());
        Some(Tools {
            hledger,
            python,
            bean_check,
        })
    }

    fn hledger(&self, file: &Path, args: &[&str]) -> std::process::Output {
        Command::new(&self.hledger)
            .arg("-f")
            .arg(file)
            .args(args)
            .output()
            .expect("hledger runs")
    }

    /// `hledger check -s`: parses, balances, balance assertions, and every account and
    /// commodity declared.
    pub fn hledger_check(&self, file: &Path) -> Result<(), String> {
        let out = self.hledger(file, &["check", "-s"]);
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// `hledger bal` per account, optionally narrowed by a query such as `tag:case=CODE`.
    pub fn hledger_balances(&self, file: &Path, query: &[&str]) -> Balances {
        let mut args = vec!["bal", "-N", "--flat", "-O", "csv"];
        args.extend_from_slice(query);
        let out = self.hledger(file, &args);
        assert!(
            out.status.success(),
            "hledger bal: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).expect("hledger writes UTF-8");
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(r#""account","balance""#), "{text}");
        lines
            .map(|line| {
                let (account, balance) = line
                    .trim_matches('"')
                    .split_once(r#"",""#)
                    .unwrap_or_else(|| panic!("a balance row: {line}"));
                (account.to_string(), amount_cents(balance))
            })
            .collect()
    }

    pub fn bean_check(&self, file: &Path) -> Result<(), String> {
        let out = match &self.bean_check {
            Some(script) => Command::new(script).arg(file).output(),
            None => Command::new(&self.python)
                .args(["-m", "beancount.scripts.check"])
                .arg(file)
                .output(),
        }
        .expect("bean-check runs");
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Every account's balance as beancount itself computes it from the file.
    pub fn beancount_balances(&self, file: &Path) -> Balances {
        const SCRIPT: &str = r#"
import sys
from beancount import loader
from beancount.core import data
entries, errors, _ = loader.load_file(sys.argv[1])
for error in errors:
    print(error, file=sys.stderr)
if errors:
    sys.exit(1)
totals = {}
for entry in entries:
    if isinstance(entry, data.Transaction):
        for posting in entry.postings:
            totals[posting.account] = totals.get(posting.account, 0) + posting.units.number
for account, number in sorted(totals.items()):
    print(f"{account}\t{number}")
"#;
        let out = Command::new(&self.python)
            .args(["-c", SCRIPT])
            .arg(file)
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "beancount could not load the file: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("python writes UTF-8")
            .lines()
            .map(|line| {
                let (account, number) = line.split_once('\t').expect("account and number");
                (account.to_string(), amount_cents(number))
            })
            .collect()
    }
}

/// "4557.50 CAD", "-12.3" or "0" as cents; anything finer than a cent fails the test.
pub fn amount_cents(text: &str) -> i64 {
    let number = text.trim().trim_end_matches("CAD").trim();
    let d: Decimal = number
        .parse()
        .unwrap_or_else(|_| panic!("an amount: {text:?}"));
    let cents = d * Decimal::ONE_HUNDRED;
    assert_eq!(cents, cents.trunc(), "finer than a cent: {text:?}");
    cents.try_into().expect("cents fit an i64")
}

/// The sum of the balances of an account and its sub-accounts.
pub fn under(balances: &Balances, account: &str) -> i64 {
    balances
        .iter()
        .filter(|(name, _)| {
            name.as_str() == account
                || name
                    .strip_prefix(account)
                    .is_some_and(|rest| rest.starts_with(':'))
        })
        .map(|(_, cents)| cents)
        .sum()
}
