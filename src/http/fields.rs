//! Reading fields of a JSON body one by one, so that every refusal names its field.

use serde_json::Value;

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

pub fn date(body: &Value, field: &str) -> Result<chrono::NaiveDate, ApiError> {
    let s = string(body, field)?;
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| invalid(field, "must be a date such as \"2026-11-30\""))
}
