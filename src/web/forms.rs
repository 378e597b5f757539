//! Submitted forms: the CSRF check every POST goes through, the fields as typed (so a page
//! shown again after an error keeps everything), and errors placed next to their field.

use std::collections::HashMap;

use axum::extract::{Form, FromRequest, Request};
use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::context::{Context, PageError};
use super::i18n;
use crate::http::error::ApiError;
use crate::state::AppState;

/// Fields that hold dollars (or, for `original_amount`, another currency): a French
/// keyboard types `189,50` and some people type the dollar sign; both are read as the
/// API's `189.50`.
const AMOUNT_FIELDS: &[&str] = &["amount", "nightly_rate", "original_amount"];

/// An amount as typed (`1 234,50 $`, `$189.50`) in the API's form (`1234.50`).
/// With both a comma and a point (`1,234.50`) the comma groups thousands.
pub fn amount(typed: &str) -> String {
    let bare: String = typed
        .chars()
        .filter(|ch| !ch.is_whitespace() && *ch != '$')
        .collect();
    if bare.contains('.') {
        bare.replace(',', "")
    } else {
        bare.replace(',', ".")
    }
}

/// A form that came back with this page's CSRF token; anything else is refused before the
/// handler runs.
#[derive(Debug, Clone, Default)]
pub struct Submitted {
    fields: HashMap<String, String>,
    /// Every pair as sent, for fields that repeat (a list of checkboxes).
    pairs: Vec<(String, String)>,
}

impl Submitted {
    pub fn get(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .map(String::as_str)
            .unwrap_or("")
            .trim()
    }

    /// The form's idempotency key, held to the API's rule for its header; a form without
    /// one is not a form of Passage's.
    pub fn idempotency_key(&self) -> Result<String, PageError> {
        let key = self.get("idempotency_key");
        if key.is_empty() || key.len() > crate::idempotency::MAX_KEY_CHARS {
            return Err(PageError::Refused(StatusCode::BAD_REQUEST));
        }
        Ok(key.to_string())
    }

    /// Every value sent under `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect()
    }

    pub fn has(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }

    /// Sets a field as if it had been sent so (an empty value as if it had not been).
    pub fn set(&mut self, name: &str, value: &str) {
        self.fields.insert(name.to_string(), value.to_string());
        self.pairs.retain(|(n, _)| n != name);
        self.pairs.push((name.to_string(), value.to_string()));
    }

    /// The typed values, to fill the form again.
    pub fn values(&self) -> HashMap<String, String> {
        self.fields.clone()
    }

    /// The named fields that are filled in, as the JSON body the API would take: what the
    /// pages submit goes through the very parsing and rules the API uses. Numbers the API
    /// takes as JSON numbers are sent as numbers when they read as one.
    pub fn as_json(&self, names: &[&str], numbers: &[&str]) -> Value {
        let mut body = Map::new();
        for name in names {
            let value = self.get(name);
            if value.is_empty() {
                continue;
            }
            let json = if AMOUNT_FIELDS.contains(name) {
                Value::from(amount(value))
            } else if numbers.contains(name) {
                value
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| Value::from(value))
            } else {
                Value::from(value)
            };
            // `origin_city` becomes `origin.city`.
            match name
                .split_once('_')
                .filter(|(head, _)| *head == "origin" || *head == "destination")
            {
                Some((head, sub)) => {
                    let place = body
                        .entry(head.to_string())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(place) = place {
                        place.insert(sub.to_string(), json);
                    }
                }
                None => {
                    body.insert((*name).to_string(), json);
                }
            }
        }
        Value::Object(body)
    }
}

impl FromRequest<AppState> for Submitted {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, PageError> {
        let context = request
            .extensions()
            .get::<Context>()
            .cloned()
            .ok_or(PageError::Refused(StatusCode::INTERNAL_SERVER_ERROR))?;
        let Form(pairs): Form<Vec<(String, String)>> = Form::from_request(request, state)
            .await
            .map_err(|_| PageError::Refused(StatusCode::BAD_REQUEST))?;
        // PostgreSQL cannot store a NUL in text, and no field has a use for one.
        if pairs
            .iter()
            .any(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(PageError::Refused(StatusCode::UNPROCESSABLE_ENTITY));
        }
        let fields: HashMap<String, String> = pairs.iter().cloned().collect();
        let sent = fields.get("csrf").map(String::as_str).unwrap_or_default();
        if !constant_time_eq(sent.as_bytes(), context.csrf.as_bytes()) {
            return Err(PageError::Refused(StatusCode::FORBIDDEN));
        }
        Ok(Submitted { fields, pairs })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A form as a page shows it again: what was typed, and the errors next to their fields.
#[derive(Debug, Clone, Default)]
pub struct Filled {
    pub values: HashMap<String, String>,
    pub errors: FieldErrors,
}

impl Filled {
    pub fn value(&self, field: &str) -> &str {
        self.values.get(field).map(String::as_str).unwrap_or("")
    }

    pub fn error(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }

    /// A field of a trip's origin or destination (`origin_city`).
    pub fn place_value(&self, end: &str, part: &str) -> &str {
        self.value(&format!("{end}_{part}"))
    }

    pub fn place_error(&self, end: &str, part: &str) -> Option<&String> {
        self.error(&format!("{end}_{part}"))
    }

    pub fn checked(&self, field: &str) -> bool {
        matches!(self.value(field), "on" | "true")
    }
}

/// Errors shown next to their fields, by the form's field names.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors(pub HashMap<String, String>);

impl FieldErrors {
    pub fn get(&self, field: &str) -> Option<&String> {
        self.0.get(field)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The form field an API refusal is about (`origin.city` is the field `origin_city`), or
/// `None` when the refusal is not about one field.
fn field_of(e: &ApiError) -> Option<String> {
    match e {
        ApiError::Unprocessable { field, .. } | ApiError::InvalidFields { field, .. } => {
            Some(field.replace('.', "_"))
        }
        _ => None,
    }
}

/// What to fix in a field, in the reader's language: the message for the field itself,
/// else for its most specific ending (`origin_city` → `city`), else a general one.
pub fn field_message(c: &Context, field: &str) -> String {
    let mut candidate = field;
    loop {
        let key = format!("error-{candidate}");
        if i18n::has(c.language, &key) {
            return c.t(&key);
        }
        match candidate.find(['_', '.']) {
            Some(at) => candidate = &candidate[at + 1..],
            None => return c.t("error-field"),
        }
    }
}

/// A refusal about one field as the error shown under it; any other refusal as a page.
/// `form` names the form when a field's message depends on it (`receipt_` + `amount`).
pub fn field_errors(c: &Context, e: ApiError, form: &str) -> Result<FieldErrors, PageError> {
    match field_of(&e) {
        Some(field) => {
            let message = field_message(c, &format!("{form}{field}"));
            Ok(FieldErrors(HashMap::from([(field, message)])))
        }
        None => Err(e.into()),
    }
}
