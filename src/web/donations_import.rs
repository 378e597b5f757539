//! Donations from a file, for treasurers: paste the spreadsheet's CSV (or choose the file,
//! which the page's script reads into the same field), read what each line would record
//! and every problem by line, then confirm. The preview and the commit are the API's
//! (`POST /api/v1/donations/import`): the same parsing, the same one transaction.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use super::context::{Context, PageError};
use super::forms::Submitted;
use super::pages::{render, render_with};
use crate::domain::Role;
use crate::funding::import::{self, Action, Donor};
use crate::http::error::ApiError;
use crate::http::{parse_import, problem_message, run_import};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/donations/import", get(form).post(submit))
}

/// A line of the preview, as the page shows it.
pub struct Row {
    pub line: u64,
    pub donor: String,
    pub email: String,
    pub new_donor: bool,
    pub amount: String,
    pub received_on: String,
    /// `in kind`, or the categories a cash gift is kept for.
    pub kind: Option<String>,
    pub reference: String,
    pub skipped: bool,
}

/// A problem, as the page lists it: "Line 3, amount: ...".
pub struct ProblemRow {
    pub line: u64,
    pub text: String,
}

#[derive(Template)]
#[template(path = "donations_import.html")]
struct ImportPage<'a> {
    c: &'a Context,
    title: String,
    /// What was pasted, shown again (and sent again by the confirm button).
    csv: String,
    /// The file as a whole cannot be read.
    file_error: Option<String>,
    problems: Vec<ProblemRow>,
    rows: Vec<Row>,
    /// "3 gifts to record: ..." once a file is read.
    summary: Option<String>,
    /// The same file was imported before.
    seen_before: Option<String>,
    /// How many lines are skipped as imported before.
    skipped: Option<String>,
    /// The confirm button shows: a file without problems that records something.
    can_commit: bool,
    /// What the commit did.
    done: Option<String>,
}

fn page<'a>(c: &'a Context) -> ImportPage<'a> {
    ImportPage {
        c,
        title: c.t("import-title"),
        csv: String::new(),
        file_error: None,
        problems: Vec::new(),
        rows: Vec::new(),
        summary: None,
        seen_before: None,
        skipped: None,
        can_commit: false,
        done: None,
    }
}

async fn form(c: Context) -> Result<Response, PageError> {
    c.with_role(Role::Treasurer)?;
    render(&page(&c))
}

async fn submit(
    State(state): State<AppState>,
    c: Context,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let csv = form.get("csv").to_string();
    let commit = form.get("action") == "commit";
    let mut shown = page(&c);
    shown.csv = csv.clone();
    let parsed = match parse_import(csv.as_bytes(), state.clock.now().date_naive(), c.language) {
        Ok(parsed) => parsed,
        Err(ApiError::Unprocessable { message, .. }) => {
            shown.file_error = Some(message);
            return render_with(StatusCode::UNPROCESSABLE_ENTITY, &shown);
        }
        Err(e) => return Err(e.into()),
    };
    let result = run_import(&state, &user.staff(), parsed, commit).await?;
    let recorded: Vec<&import::Line> = result.recorded().collect();
    let cents = |in_kind: bool| {
        recorded
            .iter()
            .filter(|l| l.gift.in_kind == in_kind)
            .map(|l| l.gift.amount.cents())
            .sum::<i64>()
    };
    let counts = [
        ("count", recorded.len().to_string()),
        ("cash", c.money(cents(false))),
        ("in_kind", c.money(cents(true))),
    ];
    shown.problems = result
        .problems
        .iter()
        .map(|p| ProblemRow {
            line: p.line,
            text: c.t_with(
                "import-problem-at",
                &[
                    ("line", p.line.to_string()),
                    ("column", p.column.to_string()),
                    ("message", problem_message(c.language, p)),
                ],
            ),
        })
        .collect();
    shown.rows = result
        .lines
        .iter()
        .map(|l| Row {
            line: l.gift.line,
            donor: match &l.donor {
                Donor::Found { name, .. } | Donor::New { name } => name.clone(),
            },
            email: l.gift.donor_email.as_str().to_string(),
            new_donor: matches!(l.donor, Donor::New { .. }),
            amount: c.money(l.gift.amount.cents()),
            received_on: l.gift.received_on.to_string(),
            kind: if l.gift.in_kind {
                Some(c.t("donation-kind-in_kind"))
            } else {
                l.gift.restricted_to.as_ref().map(|r| {
                    r.categories()
                        .iter()
                        .map(|cat| c.t(&format!("category-{cat}")))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
            },
            reference: l.gift.reference.as_str().to_string(),
            skipped: l.action == Action::Skip,
        })
        .collect();
    let skipped = result.skipped().count();
    if skipped > 0 && result.seen_before.is_none() {
        shown.skipped = Some(c.t_with("import-skipped", &[("count", skipped.to_string())]));
    }
    shown.seen_before = result.seen_before.as_ref().map(|e| {
        c.t_with(
            "import-seen-before",
            &[("date", e.created_at.date_naive().to_string())],
        )
    });
    if result.problems.is_empty() {
        if commit && result.seen_before.is_none() {
            shown.done = Some(c.t_with("import-done", &counts));
        } else if !commit {
            shown.summary = Some(c.t_with("import-summary", &counts));
            shown.can_commit = result.seen_before.is_none() && !recorded.is_empty();
        }
    }
    let status = if result.problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_with(status, &shown)
}
