//! Variable interpolation, as the compose specification's
//! "Interpolation" section describes it: `$VAR`, `${VAR}`, the defaults
//! `${VAR:-default}` (unset or empty) and `${VAR-default}` (unset), the
//! required forms `${VAR:?message}` and `${VAR?message}`, the alternatives
//! `${VAR:+alt}` and `${VAR+alt}`, nested defaults (`${A:-${B:-x}}`) and
//! `$$` for a literal dollar.
//!
//! Interpolation applies to values only, never to keys, and runs on each
//! file before the files are merged. An unset variable without a default
//! becomes the empty string and is reported as a warning (docker's
//! behaviour); a required one is an error naming the variable and the key
//! path. Anything else after a `$` is an error that says to double it.
//! The functions are pure: the variables come in as a lookup.

use std::collections::BTreeMap;

use serde_norway::Value;

use super::value::{index, join};

/// The variables interpolation reads: the process environment over the
/// `.env` file (`discover` builds it).
pub type Vars = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InterpolateError {
    #[error("{path}: required variable {variable} is missing a value: {message}")]
    Required { path: String, variable: String, message: String },
    #[error("{path}: invalid interpolation format in {text:?}: write $$ for a literal $")]
    Invalid { path: String, text: String },
}

/// What substituting one string produced.
#[derive(Debug, Default, PartialEq)]
pub struct Substituted {
    pub text: String,
    /// Variables read but not set and without a default.
    pub unset: Vec<String>,
}

/// The problems of one string, before the caller knows its path.
enum Problem {
    Required { variable: String, message: String },
    Invalid,
}

/// Substitute the variables of one string; `path` only names it in errors.
pub fn substitute(text: &str, vars: &Vars, path: &str) -> Result<Substituted, InterpolateError> {
    let mut unset = Vec::new();
    expand(text, vars, &mut unset).map(|text| Substituted { text, unset }).map_err(|p| match p {
        Problem::Required { variable, message } => InterpolateError::Required { path: path.to_string(), variable, message },
        Problem::Invalid => InterpolateError::Invalid { path: path.to_string(), text: text.to_string() },
    })
}

/// Interpolate every string value of a tree in place, collecting the
/// names of unset variables (each once, in order of first use).
pub fn interpolate_tree(value: &mut Value, path: &str, vars: &Vars, unset: &mut Vec<String>) -> Result<(), InterpolateError> {
    match value {
        Value::String(s) => {
            if s.contains('$') {
                let done = substitute(s, vars, path)?;
                for name in done.unset {
                    if !unset.contains(&name) {
                        unset.push(name);
                    }
                }
                *s = done.text;
            }
            Ok(())
        }
        Value::Sequence(items) => items.iter_mut().enumerate().try_for_each(|(i, v)| interpolate_tree(v, &index(path, i), vars, unset)),
        Value::Mapping(m) => m.iter_mut().try_for_each(|(k, v)| {
            let key = super::value::scalar_text(k).unwrap_or_default();
            interpolate_tree(v, &join(path, &key), vars, unset)
        }),
        Value::Tagged(t) => interpolate_tree(&mut t.value, path, vars, unset),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn expand(text: &str, vars: &Vars, unset: &mut Vec<String>) -> Result<String, Problem> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match after.chars().next() {
            Some('$') => {
                out.push('$');
                rest = &after[1..];
            }
            Some('{') => {
                let end = closing_brace(&after[1..]).ok_or(Problem::Invalid)?;
                out.push_str(&braced(&after[1..1 + end], vars, unset)?);
                rest = &after[1 + end + 1..];
            }
            Some(c) if is_name_start(c) => {
                let len = after.find(|c: char| !is_name(c)).unwrap_or(after.len());
                out.push_str(&lookup(&after[..len], vars, unset));
                rest = &after[len..];
            }
            _ => return Err(Problem::Invalid),
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The byte offset of the `}` that closes a `${`, given the text after
/// the `{`; nested `${...}` and `$$` inside are skipped over.
fn closing_brace(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let (mut depth, mut i) = (1usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 1,
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn lookup(name: &str, vars: &Vars, unset: &mut Vec<String>) -> String {
    match vars.get(name) {
        Some(v) => v.clone(),
        None => {
            if !unset.iter().any(|u| u == name) {
                unset.push(name.to_string());
            }
            String::new()
        }
    }
}

/// The inside of `${...}`: a name, then nothing or an operator and its word.
fn braced(inner: &str, vars: &Vars, unset: &mut Vec<String>) -> Result<String, Problem> {
    let len = inner.find(|c: char| !is_name(c)).unwrap_or(inner.len());
    let name = &inner[..len];
    if name.is_empty() || !name.starts_with(is_name_start) {
        return Err(Problem::Invalid);
    }
    let op_and_word = &inner[len..];
    if op_and_word.is_empty() {
        return Ok(lookup(name, vars, unset));
    }
    let value = vars.get(name).map(String::as_str);
    let set_nonempty = value.is_some_and(|v| !v.is_empty());
    let (op, word) = [":-", ":?", ":+", "-", "?", "+"]
        .into_iter()
        .find_map(|op| op_and_word.strip_prefix(op).map(|w| (op, w)))
        .ok_or(Problem::Invalid)?;
    let required = |unset: &mut Vec<String>| -> Problem {
        match expand(word, vars, unset) {
            Ok(message) => Problem::Required { variable: name.to_string(), message },
            Err(p) => p,
        }
    };
    match op {
        ":-" if !set_nonempty => expand(word, vars, unset),
        "-" if value.is_none() => expand(word, vars, unset),
        ":?" if !set_nonempty => Err(required(unset)),
        "?" if value.is_none() => Err(required(unset)),
        ":+" => {
            if set_nonempty {
                expand(word, vars, unset)
            } else {
                Ok(String::new())
            }
        }
        "+" => {
            if value.is_some() {
                expand(word, vars, unset)
            } else {
                Ok(String::new())
            }
        }
        _ => Ok(value.unwrap_or_default().to_string()),
    }
}
