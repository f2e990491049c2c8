//! Reading the YAML tree with key paths: the typed accessors every later
//! pass uses to turn a `serde_norway::Value` into something typed.
//!
//! A path is written as the user reads the file: `services.web.ports[0]`.
//! A value of the wrong shape is refused with its path and what was
//! expected; numbers and booleans written as strings (`"8080"`, `"true"`,
//! as interpolation leaves them) are accepted where a number or boolean is
//! expected, as docker compose accepts them. Nothing here knows compose's
//! keys: that is `schema` (which keys exist) and the passes that use these.

use serde_norway::{Mapping, Value};

/// A value of the wrong shape or an invalid scalar, with where it is.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ShapeError {
    #[error("{path} must be {expected}, not {found}")]
    WrongType { path: String, expected: &'static str, found: &'static str },
    #[error("{path}: invalid value {value:?}: {reason}")]
    Invalid { path: String, value: String, reason: String },
}

pub type Result<T> = std::result::Result<T, ShapeError>;

/// `parent.key`, or `key` at the top.
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[index]`.
pub fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// What a value is, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

pub fn wrong(path: &str, expected: &'static str, v: &Value) -> ShapeError {
    ShapeError::WrongType { path: path.to_string(), expected, found: kind(v) }
}

pub fn invalid(path: &str, value: &str, reason: impl Into<String>) -> ShapeError {
    ShapeError::Invalid { path: path.to_string(), value: value.to_string(), reason: reason.into() }
}

pub fn mapping<'a>(v: &'a Value, path: &str) -> Result<&'a Mapping> {
    v.as_mapping().ok_or_else(|| wrong(path, "a mapping", v))
}

/// A mapping's key as text (compose keys are strings; a number key such
/// as a port in `ulimits` is read as its text).
pub fn key_text(k: &Value, path: &str) -> Result<String> {
    scalar_text(k).ok_or_else(|| wrong(path, "a string key", k))
}

/// A scalar as text: strings as they are, numbers and booleans written
/// out; None for null, lists and mappings.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn string(v: &Value, path: &str) -> Result<String> {
    scalar_text(v).ok_or_else(|| wrong(path, "a string", v))
}

pub fn boolean(v: &Value, path: &str) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" | "" => Ok(false),
            _ => Err(invalid(path, s, "expected true or false")),
        },
        _ => Err(wrong(path, "a boolean", v)),
    }
}

pub fn unsigned(v: &Value, path: &str) -> Result<u64> {
    match v {
        Value::Number(n) => n.as_u64().ok_or_else(|| invalid(path, &n.to_string(), "expected a whole number, 0 or more")),
        Value::String(s) => s.trim().parse().map_err(|_| invalid(path, s, "expected a whole number, 0 or more")),
        _ => Err(wrong(path, "a number", v)),
    }
}

pub fn signed(v: &Value, path: &str) -> Result<i64> {
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| invalid(path, &n.to_string(), "expected a whole number")),
        Value::String(s) => s.trim().parse().map_err(|_| invalid(path, s, "expected a whole number")),
        _ => Err(wrong(path, "a number", v)),
    }
}

/// A list of scalars, or one scalar standing for a list of one (as
/// compose allows for `dns`, `tmpfs`, `env_file`).
pub fn strings(v: &Value, path: &str) -> Result<Vec<String>> {
    match v {
        Value::Sequence(items) => items.iter().enumerate().map(|(i, x)| string(x, &index(path, i))).collect(),
        Value::Null => Ok(Vec::new()),
        other => Ok(vec![string(other, path)?]),
    }
}

/// A list of scalars only (no single-scalar shorthand).
pub fn string_list(v: &Value, path: &str) -> Result<Vec<String>> {
    match v {
        Value::Sequence(_) | Value::Null => strings(v, path),
        other => Err(wrong(path, "a list", other)),
    }
}

/// The string-keyed entries of a mapping, with each entry's path.
pub fn entries<'a>(m: &'a Mapping, path: &str) -> Result<Vec<(String, &'a Value, String)>> {
    m.iter()
        .map(|(k, v)| {
            let key = key_text(k, path)?;
            let p = join(path, &key);
            Ok((key, v, p))
        })
        .collect()
}

/// A `Value::String`.
pub fn text(s: impl Into<String>) -> Value {
    Value::String(s.into())
}
