//! What every page shares: the frame (navigation by role, the language switch, sign-out),
//! rendering, and the page shown for a refusal.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::context::{Context, PageError, see_other};
use super::i18n;
use crate::domain::{Language, Role};

pub struct NavItem {
    pub href: &'static str,
    pub label: String,
    pub current: bool,
}

impl Context {
    pub fn lang(&self) -> &'static str {
        self.language.as_str()
    }

    /// The language the switch offers: the other one.
    pub fn other_language(&self) -> &'static str {
        match self.language {
            Language::Fr => "en",
            Language::En => "fr",
        }
    }

    pub fn signed_in(&self) -> bool {
        self.user.is_some()
    }

    pub fn signed_in_as(&self) -> String {
        let who = self
            .user
            .as_ref()
            .map(|u| u.label.clone())
            .unwrap_or_default();
        self.t_with("signed-in-as", &[("who", who)])
    }

    /// The pages a user's roles open, in the order they are used at night.
    pub fn nav(&self) -> Vec<NavItem> {
        let Some(user) = &self.user else {
            return Vec::new();
        };
        let mut items: Vec<(&'static str, &'static str)> = Vec::new();
        if user.must_enrol {
            // Nothing else opens until the second factor is set up.
            items.push(("/account/second-factor", "nav-second-factor"));
        } else {
            self.nav_items(user, &mut items);
        }
        let path = self.here.split('?').next().unwrap_or("/");
        items
            .into_iter()
            .map(|(href, key)| NavItem {
                href,
                label: self.t(key),
                current: path == href || path.starts_with(&format!("{href}/")),
            })
            .collect()
    }

    fn nav_items(
        &self,
        user: &crate::http::extractor::AuthUser,
        items: &mut Vec<(&'static str, &'static str)>,
    ) {
        if user.has(Role::Caseworker) {
            items.push(("/cases", "nav-cases"));
            items.push(("/reimbursements", "nav-reimbursements"));
        }
        if user.has(Role::Treasurer) {
            items.extend([
                ("/queue", "nav-queue"),
                ("/review", "nav-review"),
                ("/fund", "nav-fund"),
                ("/owed", "nav-owed"),
                ("/payouts", "nav-payouts"),
                ("/donors", "nav-donors"),
                ("/bank", "nav-bank"),
                ("/policy", "nav-policy"),
                ("/reports", "nav-reports"),
                ("/audit", "nav-audit"),
            ]);
        }
        if user.has(Role::Treasurer) || user.has(Role::Admin) {
            items.push(("/on-call", "nav-on-call"));
        }
        if user.has(Role::Admin) {
            items.extend([
                ("/admin/users", "nav-admin-users"),
                ("/admin/orgs", "nav-admin-orgs"),
                ("/admin/keys", "nav-admin-keys"),
                ("/admin/settings", "nav-admin-settings"),
            ]);
        }
        // Everyone signed in changes their own password here, and sees their sessions
        // and second factor.
        items.push(("/password", "nav-password"));
        items.push(("/account/sessions", "nav-sessions"));
    }

    pub fn province(&self, code: &str) -> String {
        self.t(&format!("province-{code}"))
    }

    /// A message with one count, `n`.
    pub fn count(&self, key: &str, n: impl std::borrow::Borrow<i64>) -> String {
        self.t_with(key, &[("n", n.borrow().to_string())])
    }

    /// "14 min ago" from a wait such as "14 min".
    pub fn t_ago(&self, waited: &str) -> String {
        self.t_time("ago", waited)
    }

    /// A message with one duration, `time`.
    pub fn t_time(&self, key: &str, time: &str) -> String {
        self.t_with(key, &[("time", time.to_string())])
    }

    pub fn money(&self, cents: i64) -> String {
        i18n::money(self.language, cents)
    }

    pub fn amount(&self, decimal: &str) -> String {
        i18n::money_str(self.language, decimal)
    }

    pub fn t_with(&self, key: &str, args: &[(&'static str, String)]) -> String {
        i18n::text_with(self.language, key, args)
    }
}

/// A bar of a report's spending by need, as the pages draw it (a native `<meter>`: no
/// image and no inline style).
pub struct ChartLine {
    pub label: String,
    /// None when the cell is grouped away.
    pub amount: Option<String>,
    pub cents: i64,
    pub cases: String,
}

/// The bars of a report's chart in the reader's format.
pub fn chart_lines(c: &Context, bars: Vec<crate::reports::send::Bar>) -> Vec<ChartLine> {
    bars.into_iter()
        .map(|b| ChartLine {
            label: b.label,
            amount: b.amount.map(|a| c.money(a)),
            cents: b.amount.unwrap_or(0),
            cases: b.cases,
        })
        .collect()
}

/// Renders a page.
pub fn render(page: &impl Template) -> Result<Response, PageError> {
    Ok(Html(page.render()?).into_response())
}

/// Renders a page with a status other than 200 (a form shown again with its errors).
pub fn render_with(status: StatusCode, page: &impl Template) -> Result<Response, PageError> {
    Ok((status, Html(page.render()?)).into_response())
}

#[derive(Template)]
#[template(path = "failure.html")]
struct FailurePage<'a> {
    c: &'a Context,
    title: String,
    explanation: String,
}

/// The page a refusal becomes: sign-in for a missing or ended session, otherwise what
/// happened and what to do, in the reader's language.
pub fn failure(c: &Context, failure: PageError) -> Response {
    let status = match failure {
        PageError::SignIn => {
            let back = c.here.clone();
            return see_other(&format!("/signin?next={}", urlencode(&back)));
        }
        PageError::Enrol => return see_other("/account/second-factor"),
        PageError::Refused(status) => status,
    };
    let key = match status {
        StatusCode::FORBIDDEN => "failure-forbidden",
        StatusCode::NOT_FOUND => "failure-not-found",
        StatusCode::CONFLICT => "failure-conflict",
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "failure-bad-request",
        StatusCode::PAYLOAD_TOO_LARGE => "failure-too-large",
        StatusCode::TOO_MANY_REQUESTS => "failure-too-many",
        StatusCode::SERVICE_UNAVAILABLE => "failure-unavailable",
        _ => "failure-internal",
    };
    let page = FailurePage {
        c,
        title: c.t(&format!("{key}-title")),
        explanation: c.t(key),
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => status.into_response(),
    }
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
