//! Reading fields of a JSON body one by one, so that every refusal names its field.
//!
//! Which fields a route accepts is not written here but read from the body's schema, the
//! one the OpenAPI document shows ([`only_of`]): the document and the parser share one list.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{OnceLock, PoisonError, RwLock};

use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::{RefOr, Schema};

use super::error::ApiError;
use crate::domain::Money;

pub fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::Unprocessable {
        field: field.into(),
        message: message.to_string(),
    }
}

pub fn object(body: &Value) -> Result<&serde_json::Map<String, Value>, ApiError> {
    body.as_object()
        .ok_or_else(|| invalid("body", "send a JSON object"))
}

pub fn optional<'a>(body: &'a Value, field: &str) -> Option<&'a Value> {
    body.get(field).filter(|v| !v.is_null())
}

pub fn required<'a>(body: &'a Value, field: &str) -> Result<&'a Value, ApiError> {
    optional(body, field).ok_or_else(|| invalid(field, "is required"))
}

pub fn string<'a>(body: &'a Value, field: &str) -> Result<&'a str, ApiError> {
    required(body, field)?
        .as_str()
        .ok_or_else(|| invalid(field, "must be a string"))
}

pub fn optional_string<'a>(body: &'a Value, field: &str) -> Result<Option<&'a str>, ApiError> {
    optional(body, field)
        .map(|v| v.as_str().ok_or_else(|| invalid(field, "must be a string")))
        .transpose()
}

/// Amounts travel as strings with at most two decimals ("189.00").
pub fn money(body: &Value, field: &str) -> Result<Money, ApiError> {
    match required(body, field)? {
        Value::String(s) => s.parse::<Money>().map_err(|e| invalid(field, e)),
        Value::Number(_) => Err(invalid(
            field,
            "must be a string such as \"189.00\", not a number",
        )),
        _ => Err(invalid(field, "must be a string such as \"189.00\"")),
    }
}

pub fn integer(body: &Value, field: &str) -> Result<i64, ApiError> {
    required(body, field)?
        .as_i64()
        .ok_or_else(|| invalid(field, "must be a whole number"))
}

pub fn boolean(body: &Value, field: &str, default: bool) -> Result<bool, ApiError> {
    optional(body, field)
        .map(|v| {
            v.as_bool()
                .ok_or_else(|| invalid(field, "must be true or false"))
        })
        .transpose()
        .map(|b| b.unwrap_or(default))
}

/// Refuses fields the route does not know, so a typo is not silently ignored.
pub fn only(body: &Value, known: &[&str]) -> Result<(), ApiError> {
    for key in object(body)?.keys() {
        if !known.contains(&key.as_str()) {
            return Err(invalid(
                key,
                format!("is not a field of this request: use {}", known.join(", ")),
            ));
        }
    }
    Ok(())
}

/// The fields a body schema names, in the order it declares them. A `oneOf` (the kinds of
/// a request) names the fields of all its shapes; the handler then checks which kind may
/// carry which.
///
/// Asked on every submission, so the names are worked out once per body type and kept:
/// building the schema allocates a tree of OpenAPI objects each time (about 1 % of the
/// server's CPU under the load benchmark, docs/benchmarks.md).
pub fn known<T: ToSchema + 'static>() -> &'static [String] {
    static NAMES: OnceLock<RwLock<HashMap<TypeId, &'static [String]>>> = OnceLock::new();
    let names = NAMES.get_or_init(Default::default);
    let kept = names
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&TypeId::of::<T>())
        .copied();
    if let Some(kept) = kept {
        return kept;
    }
    let mut referenced = Vec::new();
    T::schemas(&mut referenced);
    let mut found = Vec::new();
    collect(&T::schema(), &referenced, &mut found);
    // One small slice per body type the API declares, for the life of the process.
    let found: &'static [String] = found.leak();
    names
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(TypeId::of::<T>())
        .or_insert(found)
}

fn collect(
    schema: &RefOr<Schema>,
    referenced: &[(String, RefOr<Schema>)],
    names: &mut Vec<String>,
) {
    match schema {
        RefOr::T(Schema::Object(object)) => {
            for name in object.properties.keys() {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        RefOr::T(Schema::OneOf(one_of)) => {
            for item in &one_of.items {
                collect(item, referenced, names);
            }
        }
        RefOr::T(Schema::AllOf(all_of)) => {
            for item in &all_of.items {
                collect(item, referenced, names);
            }
        }
        RefOr::Ref(reference) => {
            let name = reference
                .ref_location
                .rsplit('/')
                .next()
                .unwrap_or_default();
            if let Some((_, schema)) = referenced.iter().find(|(n, _)| n == name) {
                collect(schema, referenced, names);
            }
        }
        _ => {}
    }
}

/// [`only`] with the fields of the body schema `T`.
pub fn only_of<T: ToSchema + 'static>(body: &Value) -> Result<(), ApiError> {
    let known = known::<T>();
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    only(body, &known)
}

pub fn date(body: &Value, field: &str) -> Result<chrono::NaiveDate, ApiError> {
    let s = string(body, field)?;
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| invalid(field, "must be a date such as \"2026-11-30\""))
}
