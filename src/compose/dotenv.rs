//! The `.env` format: the project's `.env` (or `--env-file`) that feeds
//! interpolation, and a service's `env_file`.
//!
//! One `KEY=VALUE` a line; blank lines and lines starting with `#` are
//! skipped; an `export ` prefix is allowed. A value in single quotes is
//! literal; in double quotes `\n`, `\t`, `\\` and `\"` are escapes and the
//! value may run over several lines; an unquoted value ends at ` #` and is
//! trimmed. Unquoted and double-quoted values are interpolated with the
//! variables known so far (earlier lines over the given lookup), as docker
//! compose does. A line holding only `KEY` takes KEY from the lookup and is
//! skipped when it is not set there.

use std::path::{Path, PathBuf};

use super::interpolate::{substitute, Vars};

#[derive(Debug, thiserror::Error)]
pub enum DotenvError {
    #[error("cannot read the env file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {reason}")]
    Syntax { path: PathBuf, line: usize, reason: &'static str },
    #[error("{path}:{line}: {source}")]
    Interpolate { path: PathBuf, line: usize, source: Box<super::interpolate::InterpolateError> },
}

/// Read and parse an env file; `lookup` answers variables the file uses
/// but does not define.
pub fn read(path: &Path, lookup: &Vars) -> Result<Vec<(String, String)>, DotenvError> {
    let text = std::fs::read_to_string(path).map_err(|source| DotenvError::Read { path: path.to_path_buf(), source })?;
    parse(&text, path, lookup)
}

/// Parse env-file text (`path` names it in errors).
pub fn parse(text: &str, path: &Path, lookup: &Vars) -> Result<Vec<(String, String)>, DotenvError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut known = lookup.clone();
    let lines: Vec<&str> = text.lines().collect();
    let mut n = 0;
    while n < lines.len() {
        let start = n + 1;
        let syntax = |reason| DotenvError::Syntax { path: path.to_path_buf(), line: start, reason };
        let line = lines[n].trim_start();
        n += 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let Some((key, raw)) = line.split_once('=') else {
            let key = line.trim();
            check_key(key).map_err(syntax)?;
            if let Some(v) = lookup.get(key) {
                out.push((key.to_string(), v.clone()));
            }
            continue;
        };
        let key = key.trim();
        check_key(key).map_err(syntax)?;
        let raw = raw.trim_start();
        let value = match raw.chars().next() {
            Some(q @ ('\'' | '"')) => {
                let mut body = raw[1..].to_string();
                let close = loop {
                    if let Some(at) = closing_quote(&body, q) {
                        break at;
                    }
                    let Some(next) = lines.get(n) else { return Err(syntax("a quoted value is not closed")) };
                    body.push('\n');
                    body.push_str(next);
                    n += 1;
                };
                let inner = &body[..close];
                if q == '\'' {
                    inner.to_string()
                } else {
                    interpolate(&unescape(inner), &known, path, start)?
                }
            }
            _ => {
                let bare = raw.find(" #").map_or(raw, |at| &raw[..at]).trim();
                interpolate(bare, &known, path, start)?
            }
        };
        known.insert(key.to_string(), value.clone());
        out.retain(|(k, _)| k != key);
        out.push((key.to_string(), value));
    }
    Ok(out)
}

fn check_key(key: &str) -> Result<(), &'static str> {
    if key.is_empty() {
        return Err("a line has no variable name before =");
    }
    if key.chars().any(|c| c.is_whitespace()) {
        return Err("a variable name holds white space");
    }
    Ok(())
}

fn closing_quote(s: &str, q: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if q == '"' && !escaped => escaped = true,
            c if c == q && !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

fn interpolate(s: &str, known: &Vars, path: &Path, line: usize) -> Result<String, DotenvError> {
    substitute(s, known, "value").map(|d| d.text).map_err(|source| DotenvError::Interpolate {
        path: path.to_path_buf(),
        line,
        source: Box::new(source),
    })
}
