//! The bank statement, for treasurers: import a statement (paste the file, or choose it,
//! which the page's script reads into the same field), its lines with what each is matched
//! to or may be, "this is it" and "record as" for the rest, a fee's second treasurer, and
//! the reconciliation of a day. The same parsing and the same steps as the API
//! (`/api/v1/bank/...`).

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::NaiveDate;
use serde::Deserialize;

use super::context::{Context, PageError, Path, page_id, see_other};
use super::forms::Submitted;
use super::pager::{PageQuery, Pager};
use super::pages::{render_with, urlencode};
use crate::domain::Role;
use crate::domain::states::{BankLineStatus, RecordKind, StatementFormat};
use crate::funding::bank::layouts::{self, SavedLayout};
use crate::funding::bank::read::{DateOrder, MAX_COLUMN};
use crate::funding::bank::{self, Action, BankError, Layout, LineView, Mapping, Reconciliation};
use crate::funding::{self, DonorLine};
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::{read_tx, write_tx};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/bank", get(home).post(upload))
        .route("/bank/layouts", post(layout_save))
        .route("/bank/layouts/{id}/delete", post(layout_delete))
        .route("/bank/statements/{id}", get(statement))
        .route("/bank/lines/{id}", post(act))
        .route("/bank/reconciliation", get(reconciliation).post(reconcile))
}

/// A statement in the list.
pub struct StatementRow {
    pub id: String,
    pub imported: String,
    pub span: String,
    pub lines: String,
}

/// A layout the import's select offers: its name, its label, whether it is chosen.
pub struct LayoutChoice {
    pub name: String,
    pub label: String,
    pub chosen: bool,
}

/// A saved layout in the list: its id, its name, and its columns in words.
pub struct SavedRow {
    pub id: String,
    pub name: String,
    pub columns: String,
}

/// The save-a-layout form as typed, and what is wrong with it.
#[derive(Default)]
pub struct LayoutForm {
    pub name: String,
    pub header: bool,
    pub date: String,
    pub description: String,
    pub withdrawal: String,
    pub deposit: String,
    pub amount: String,
    pub balance: String,
    pub date_order: String,
    pub error: Option<(String, String)>,
}

impl LayoutForm {
    /// The message for `field`, if it is the one refused.
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

/// A column field of the layout form.
pub struct FieldRow {
    pub name: &'static str,
    pub label: String,
    pub value: String,
    pub error: Option<String>,
}

impl LayoutForm {
    fn fields(&self, c: &Context) -> Vec<FieldRow> {
        [
            ("date", &self.date),
            ("description", &self.description),
            ("withdrawal", &self.withdrawal),
            ("deposit", &self.deposit),
            ("amount", &self.amount),
            ("balance", &self.balance),
        ]
        .into_iter()
        .map(|(name, value)| FieldRow {
            name,
            label: c.t(&format!("bank-field-{name}")),
            value: value.clone(),
            error: self.error_for(name).map(str::to_string),
        })
        .collect()
    }
}

#[derive(Template)]
#[template(path = "bank.html")]
struct HomePage<'a> {
    fields: Vec<FieldRow>,
    c: &'a Context,
    title: String,
    text: String,
    ofx: bool,
    layouts: Vec<LayoutChoice>,
    saved: Vec<SavedRow>,
    orders: Vec<(String, String)>,
    form: LayoutForm,
    errors: Vec<String>,
    statements: Vec<StatementRow>,
    today: String,
    pager: Pager,
}

/// What the import form and the layout form hold when the page is shown.
struct Typed {
    text: String,
    format: String,
    layout: String,
    form: LayoutForm,
}

impl Typed {
    fn blank() -> Typed {
        Typed {
            text: String::new(),
            format: StatementFormat::Csv.as_str().into(),
            layout: Layout::Generic.as_str().into(),
            form: LayoutForm {
                header: true,
                ..LayoutForm::default()
            },
        }
    }
}

fn columns_in_words(c: &Context, l: &SavedLayout) -> String {
    let mut parts = vec![
        c.t_with("bank-saved-date", &[("column", l.date.to_string())]),
        c.t_with(
            "bank-saved-description",
            &[("column", l.description.to_string())],
        ),
    ];
    for (key, column) in [
        ("bank-saved-withdrawal", l.withdrawal),
        ("bank-saved-deposit", l.deposit),
        ("bank-saved-amount", l.amount),
        ("bank-saved-balance", l.balance),
    ] {
        if let Some(column) = column {
            parts.push(c.t_with(key, &[("column", column.to_string())]));
        }
    }
    parts.push(c.t(&format!("bank-order-{}", l.date_order)));
    parts.push(c.t(if l.header {
        "bank-saved-header"
    } else {
        "bank-saved-no-header"
    }));
    parts.join(" · ")
}

async fn home_page(
    state: &AppState,
    c: &Context,
    status: StatusCode,
    typed: Typed,
    errors: Vec<String>,
    q: &PageQuery,
) -> Result<Response, PageError> {
    c.with_role(Role::Treasurer)?;
    let request = q.request()?;
    let (list, saved) = read_tx!(&state.db, |tx| -> Result<(crate::domain::page::Page<bank::StatementSummary>, Vec<SavedLayout>), BankError> async {
        Ok((bank::statements(tx, &request).await?, layouts::list(tx).await?))
    })
    .map_err(ApiError::from)?;
    let pager = Pager::of("/bank", &[], &list);
    let list = list.items;
    let chosen = typed.layout.trim().to_lowercase();
    let mut choices: Vec<LayoutChoice> = Layout::ALL
        .iter()
        .map(|l| LayoutChoice {
            name: l.as_str().into(),
            label: c.t(&format!("bank-layout-{}", l.as_str())),
            chosen: chosen == l.as_str(),
        })
        .collect();
    choices.extend(saved.iter().map(|l| LayoutChoice {
        chosen: chosen == l.name.to_lowercase(),
        name: l.name.clone(),
        label: c.t_with("bank-layout-saved", &[("name", l.name.clone())]),
    }));
    let page = HomePage {
        c,
        title: c.t("bank-title"),
        ofx: typed.format == StatementFormat::Ofx.as_str(),
        text: typed.text,
        layouts: choices,
        saved: saved
            .iter()
            .map(|l| SavedRow {
                id: l.id.clone(),
                name: l.name.clone(),
                columns: columns_in_words(c, l),
            })
            .collect(),
        orders: DateOrder::ALL
            .iter()
            .map(|o| (o.as_str().to_string(), c.t(&format!("bank-order-{o}"))))
            .collect(),
        fields: typed.form.fields(c),
        form: typed.form,
        errors,
        statements: list
            .into_iter()
            .map(|s| StatementRow {
                imported: s.imported_at.date_naive().to_string(),
                span: format!(
                    "{} – {}",
                    s.first_on.unwrap_or_default(),
                    s.last_on.unwrap_or_default()
                ),
                lines: c.t_with("bank-lines-count", &[("count", s.lines.to_string())]),
                id: s.id,
            })
            .collect(),
        today: state.clock.now().date_naive().to_string(),
        pager,
    };
    render_with(status, &page)
}

async fn home(
    State(state): State<AppState>,
    c: Context,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    home_page(&state, &c, StatusCode::OK, Typed::blank(), Vec::new(), &q).await
}

async fn upload(
    State(state): State<AppState>,
    c: Context,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let text = form.get("file").to_string();
    let format = form.get("format").to_string();
    let layout = form.get("layout").to_string();
    let now = state.clock.now();
    let csv = format.parse::<StatementFormat>() == Ok(StatementFormat::Csv);
    let read = crate::http::read_statement(
        &state.db,
        text.as_bytes(),
        Some(&format),
        csv.then_some(layout.as_str()),
        now.date_naive(),
        c.language,
    )
    .await;
    let typed = Typed {
        text,
        format,
        layout,
        ..Typed::blank()
    };
    let (statement_format, statement_layout, read) = match read {
        Ok(found) => found,
        Err(ApiError::InvalidFields { errors, .. }) => {
            let errors = errors.into_iter().map(|e| e.message).collect();
            return home_page(
                &state,
                &c,
                StatusCode::UNPROCESSABLE_ENTITY,
                typed,
                errors,
                &PageQuery::default(),
            )
            .await;
        }
        Err(ApiError::Unprocessable { message, .. }) => {
            return home_page(
                &state,
                &c,
                StatusCode::UNPROCESSABLE_ENTITY,
                typed,
                vec![message],
                &PageQuery::default(),
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    };
    let staff = user.staff();
    let imported = write_tx!(&state.db, |tx| -> Result<bank::Imported, BankError> async {
        bank::import(tx, now, &staff, statement_format, statement_layout.as_deref(), &read).await
    })
    .map_err(ApiError::from)?;
    match imported.id {
        Some(id) => Ok(see_other(&format!(
            "/bank/statements/{}?added={}&matched={}&skipped={}",
            urlencode(&id),
            imported.lines,
            imported.matched,
            imported.skipped
        ))),
        None => Ok(see_other("/bank")),
    }
}

/// Saves a layout from the form; the page again, saying what is wrong, else back to it.
async fn layout_save(
    State(state): State<AppState>,
    c: Context,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let mut typed = LayoutForm {
        name: form.get("name").to_string(),
        header: form.has("header"),
        date: form.get("date").to_string(),
        description: form.get("description").to_string(),
        withdrawal: form.get("withdrawal").to_string(),
        deposit: form.get("deposit").to_string(),
        amount: form.get("amount").to_string(),
        balance: form.get("balance").to_string(),
        date_order: form.get("date_order").to_string(),
        error: None,
    };
    let refused = |typed: LayoutForm| Typed {
        form: typed,
        ..Typed::blank()
    };
    // A column typed: a whole number from 1 to 50; left empty, none.
    let column = |field: &'static str, text: &str| -> Result<Option<u32>, &'static str> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_COLUMN).contains(n))
            .map(Some)
            .ok_or(field)
    };
    let read = (|| -> Result<Mapping, (&'static str, &'static str)> {
        let range = |f| (f, "bank-mapping-column-range");
        let date = column("date", &typed.date)
            .map_err(range)?
            .ok_or(("date", "bank-mapping-required"))?;
        let description = column("description", &typed.description)
            .map_err(range)?
            .ok_or(("description", "bank-mapping-required"))?;
        Ok(Mapping {
            header: typed.header,
            date,
            description,
            withdrawal: column("withdrawal", &typed.withdrawal).map_err(range)?,
            deposit: column("deposit", &typed.deposit).map_err(range)?,
            amount: column("amount", &typed.amount).map_err(range)?,
            balance: column("balance", &typed.balance).map_err(range)?,
            date_order: typed
                .date_order
                .parse::<DateOrder>()
                .map_err(|_| ("date_order", "bank-mapping-date-order"))?,
        })
    })();
    let checked =
        read.and_then(|mapping| layouts::check(&typed.name, mapping).map_err(|p| (p.field, p.key)));
    let new = match checked {
        Ok(new) => new,
        Err((field, key)) => {
            typed.error = Some((field.to_string(), c.t(key)));
            return home_page(
                &state,
                &c,
                StatusCode::UNPROCESSABLE_ENTITY,
                refused(typed),
                Vec::new(),
                &PageQuery::default(),
            )
            .await;
        }
    };
    let now = state.clock.now();
    let staff = user.staff();
    match write_tx!(&state.db, |tx| -> Result<SavedLayout, BankError> async {
        layouts::save(tx, now, &staff, &new).await
    }) {
        Ok(_) => Ok(see_other("/bank#bank-saved-title")),
        Err(BankError::Conflict(_)) => {
            typed.error = Some(("name".into(), c.t("bank-layout-name-taken")));
            home_page(
                &state,
                &c,
                StatusCode::CONFLICT,
                refused(typed),
                Vec::new(),
                &PageQuery::default(),
            )
            .await
        }
        Err(e) => Err(ApiError::from(e).into()),
    }
}

async fn layout_delete(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let id = page_id(&id)?;
    let now = state.clock.now();
    let staff = user.staff();
    write_tx!(&state.db, |tx| -> Result<(), BankError> async {
        layouts::delete(tx, now, &staff, &id).await
    })
    .map_err(ApiError::from)?;
    Ok(see_other("/bank#bank-saved-title"))
}

/// A candidate as the page shows it.
pub struct CandidateRow {
    pub id: String,
    pub text: String,
}

/// A statement line as the page shows it.
pub struct LineRow {
    pub id: String,
    pub date: String,
    pub description: String,
    pub amount: String,
    pub deposit: bool,
    pub status: String,
    /// What it is matched to or recorded as, in words.
    pub tied: Option<String>,
    pub open: bool,
    pub proposed: bool,
    /// A fee the reader proposed: another treasurer confirms or refuses it.
    pub proposed_by_reader: bool,
    /// Matched to what was in the books, on a day not reconciled: the match can be undone.
    pub undoable: bool,
    pub candidates: Vec<CandidateRow>,
}

#[derive(Template)]
#[template(path = "bank_statement.html")]
struct StatementPage<'a> {
    c: &'a Context,
    title: String,
    id: String,
    notice: Option<String>,
    error: Option<String>,
    lines: Vec<LineRow>,
    donors: Vec<DonorLine>,
    kinds: Vec<(String, String)>,
    as_of: String,
}

#[derive(Deserialize, Default)]
struct Added {
    added: Option<u64>,
    matched: Option<u64>,
    skipped: Option<u64>,
}

fn line_row(c: &Context, l: LineView, reader: &str, frozen: Option<NaiveDate>) -> LineRow {
    let tied = match (&l.recorded_as, &l.match_kind) {
        (Some(kind), _) => Some(c.t(&format!("bank-kind-{kind}"))),
        (None, Some(kind)) => Some(c.t(&format!("bank-match-{kind}"))),
        _ => None,
    };
    let deposit = !l.amount.starts_with('-');
    LineRow {
        date: l.date.to_string(),
        description: l.description,
        amount: c.amount(l.amount.trim_start_matches('-')),
        deposit,
        status: c.t(&format!("bank-status-{}", l.status)),
        tied,
        open: l.status == BankLineStatus::Unmatched,
        proposed: l.status == BankLineStatus::Proposed,
        proposed_by_reader: l.proposed_by.as_deref() == Some(reader),
        undoable: l.status == BankLineStatus::Matched && frozen.is_none_or(|until| l.date > until),
        candidates: l
            .candidates
            .into_iter()
            .map(|k| CandidateRow {
                text: format!(
                    "{} · {} · {} · {}",
                    c.t(&format!("bank-match-{}", k.kind)),
                    k.date,
                    c.amount(k.amount.trim_start_matches('-')),
                    k.description
                ),
                id: k.id,
            })
            .collect(),
        id: l.id,
    }
}

async fn statement_page(
    state: &AppState,
    c: &Context,
    id: &str,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let id = page_id(id)?;
    let found = read_tx!(&state.db, |tx| -> Result<bank::StatementView, BankError> async {
        bank::statement(tx, &id).await
    })
    .map_err(ApiError::from)?;
    let as_of = found
        .summary
        .last_on
        .clone()
        .unwrap_or_else(|| state.clock.now().date_naive().to_string());
    let page = StatementPage {
        c,
        title: c.t("bank-statement-title"),
        id: id.clone(),
        notice,
        error,
        lines: found
            .lines
            .into_iter()
            .map(|l| line_row(c, l, &user.id, found.reconciled_until))
            .collect(),
        donors: funding::donors(&state.db).await?,
        kinds: RecordKind::ALL
            .iter()
            .map(|k| (k.as_str().to_string(), c.t(&format!("bank-kind-{k}"))))
            .collect(),
        as_of,
    };
    render_with(status, &page)
}

async fn statement(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    Query(added): Query<Added>,
) -> Result<Response, PageError> {
    let notice = added.added.map(|lines| {
        c.t_with(
            "bank-imported",
            &[
                ("lines", lines.to_string()),
                ("tied", added.matched.unwrap_or(0).to_string()),
                ("skipped", added.skipped.unwrap_or(0).to_string()),
            ],
        )
    });
    statement_page(&state, &c, &id, StatusCode::OK, notice, None).await
}

/// One line's action: `match` (with `target`), `record` (with `kind`, `donor_id`, `line`),
/// `confirm` or `refuse` (a proposed fee), `unmatch`; back to the statement's page, saying what went wrong there.
async fn act(
    State(state): State<AppState>,
    c: Context,
    Path(id): Path<String>,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let id = page_id(&id)?;
    let statement = form.get("statement").to_string();
    let optional = |name: &str| Some(form.get(name).trim().to_string()).filter(|v| !v.is_empty());
    let now = state.clock.now();
    let staff = user.staff();
    let result: Result<LineView, ApiError> = match form.get("action") {
        "confirm" => write_tx!(&state.db, |tx| -> Result<LineView, BankError> async {
            bank::confirm(tx, now, &staff, &id).await
        })
        .map_err(ApiError::from),
        "refuse" => write_tx!(&state.db, |tx| -> Result<LineView, BankError> async {
            bank::refuse(tx, now, &staff, &id).await
        })
        .map_err(ApiError::from),
        "unmatch" => write_tx!(&state.db, |tx| -> Result<LineView, BankError> async {
            bank::unmatch(tx, now, &staff, &id).await
        })
        .map_err(ApiError::from),
        "match" | "record" => {
            let action = if form.get("action") == "match" {
                Ok(Action::Match(form.get("target").trim().to_string()))
            } else {
                form.get("kind")
                    .parse::<RecordKind>()
                    .map(|kind| Action::Record {
                        kind,
                        donor_id: if kind == RecordKind::Donation {
                            optional("donor_id")
                        } else {
                            None
                        },
                        payout_line: if kind == RecordKind::Bounce {
                            optional("line")
                        } else {
                            None
                        },
                    })
                    .map_err(|e| ApiError::Unprocessable {
                        field: "kind".into(),
                        message: e.to_string(),
                    })
            };
            match action {
                Ok(action) => write_tx!(&state.db, |tx| -> Result<LineView, BankError> async {
                    bank::act(tx, now, &staff, &id, action.clone()).await
                })
                .map_err(ApiError::from),
                Err(e) => Err(e),
            }
        }
        _ => return Err(PageError::Refused(StatusCode::BAD_REQUEST)),
    };
    match result {
        Ok(_) => Ok(see_other(&format!(
            "/bank/statements/{}#line-{id}",
            urlencode(&statement)
        ))),
        Err(
            e @ (ApiError::Conflict(_)
            | ApiError::Unprocessable { .. }
            | ApiError::Forbidden(_)
            | ApiError::NotFound(_)),
        ) => {
            let status = e.status();
            let error = c.t(&format!("bank-refused-{}", status.as_u16()));
            statement_page(&state, &c, &statement, status, None, Some(error)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// An outstanding item or an unmatched line, as the page lists it.
pub struct ItemRow {
    pub what: String,
    pub date: String,
    pub description: String,
    pub amount: String,
}

#[derive(Template)]
#[template(path = "bank_reconciliation.html")]
struct ReconciliationPage<'a> {
    c: &'a Context,
    title: String,
    as_of: String,
    error: Option<String>,
    found: Option<Figures>,
}

pub struct Figures {
    pub statement: String,
    pub book: String,
    pub outstanding_total: String,
    pub unexplained: String,
    pub balanced: bool,
    pub outstanding: Vec<ItemRow>,
    pub unmatched: Vec<ItemRow>,
    pub frozen: Option<String>,
}

fn figures(c: &Context, r: Reconciliation) -> Figures {
    Figures {
        statement: c.amount(&r.statement_balance),
        book: c.amount(&r.book_balance),
        outstanding_total: c.amount(&r.outstanding_total),
        balanced: r.unexplained == "0.00",
        unexplained: c.amount(&r.unexplained),
        outstanding: r
            .outstanding
            .into_iter()
            .map(|o| ItemRow {
                what: c.t(&format!(
                    "bank-outstanding-{}",
                    serde_json::to_value(o.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                )),
                date: o.date.to_string(),
                description: o.description,
                amount: c.amount(&o.amount),
            })
            .collect(),
        unmatched: r
            .unmatched_lines
            .into_iter()
            .map(|l| ItemRow {
                what: String::new(),
                date: l.date.to_string(),
                description: l.description,
                amount: c.amount(&l.amount),
            })
            .collect(),
        frozen: r.reconciled.map(|f| {
            c.t_with(
                "bank-rec-frozen",
                &[("date", f.at.date_naive().to_string())],
            )
        }),
    }
}

#[derive(Deserialize, Default)]
struct AsOf {
    as_of: Option<String>,
}

async fn reconciliation_page(
    state: &AppState,
    c: &Context,
    as_of: Option<&str>,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, PageError> {
    c.with_role(Role::Treasurer)?;
    let today = state.clock.now().date_naive();
    let typed = as_of.unwrap_or("").trim();
    let day = if typed.is_empty() {
        Some(today)
    } else {
        NaiveDate::parse_from_str(typed, "%Y-%m-%d").ok()
    };
    let mut page = ReconciliationPage {
        c,
        title: c.t("bank-rec-title"),
        as_of: day.map(|d| d.to_string()).unwrap_or_else(|| typed.into()),
        error,
        found: None,
    };
    let Some(day) = day else {
        page.error = Some(c.t("bank-rec-bad-date"));
        return render_with(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    match read_tx!(&state.db, |tx| -> Result<Reconciliation, BankError> async {
        bank::reconciliation(tx, day).await
    }) {
        Ok(r) => page.found = Some(figures(c, r)),
        Err(BankError::Conflict(_)) => {
            page.error
                .get_or_insert_with(|| c.t("bank-rec-no-statement"));
        }
        Err(e) => return Err(ApiError::from(e).into()),
    }
    render_with(status, &page)
}

async fn reconciliation(
    State(state): State<AppState>,
    c: Context,
    Query(q): Query<AsOf>,
) -> Result<Response, PageError> {
    reconciliation_page(&state, &c, q.as_of.as_deref(), StatusCode::OK, None).await
}

async fn reconcile(
    State(state): State<AppState>,
    c: Context,
    form: Submitted,
) -> Result<Response, PageError> {
    let user = c.with_role(Role::Treasurer)?;
    let typed = form.get("as_of").to_string();
    let Ok(day) = NaiveDate::parse_from_str(typed.trim(), "%Y-%m-%d") else {
        return reconciliation_page(
            &state,
            &c,
            Some(&typed),
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        )
        .await;
    };
    let now = state.clock.now();
    let staff = user.staff();
    match write_tx!(&state.db, |tx| -> Result<Reconciliation, BankError> async {
        bank::reconcile(tx, now, &staff, day).await
    }) {
        Ok(_) => Ok(see_other(&format!("/bank/reconciliation?as_of={day}"))),
        Err(BankError::Conflict(message)) => {
            reconciliation_page(
                &state,
                &c,
                Some(&typed),
                StatusCode::CONFLICT,
                Some(message),
            )
            .await
        }
        Err(e) => Err(ApiError::from(e).into()),
    }
}
