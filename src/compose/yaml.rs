//! Reading one compose file: YAML text to a tree, anchors and aliases
//! resolved by the parser and merge keys (`<<: *base`) folded in.
//!
//! The parser is serde_norway (libyaml's grammar, YAML 1.2 scalars, so
//! `80:80` stays a string). A syntax error names the file, line and
//! column; a duplicate key is a syntax error too. The document must be a
//! mapping. Tags are kept for `merge` (`!reset`, `!override`).

use serde_norway::Value;

#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    #[error("{file}:{line}:{column}: {message}")]
    Syntax { file: String, line: usize, column: usize, message: String },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("{file}: the top level must be a mapping (services:, volumes:, ...), not {found}")]
    NotMapping { file: String, found: &'static str },
}

/// Parse a compose file's text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Value, YamlError> {
    let mut value: Value = serde_norway::from_str(text).map_err(|e| located(&e, file))?;
    value.apply_merge().map_err(|e| YamlError::Invalid { file: file.to_string(), message: format!("merge key <<: {e}") })?;
    match value {
        Value::Mapping(_) => Ok(value),
        // An empty file is an empty project fragment.
        Value::Null => Ok(Value::Mapping(Default::default())),
        other => Err(YamlError::NotMapping { file: file.to_string(), found: super::value::kind(&other) }),
    }
}

fn located(e: &serde_norway::Error, file: &str) -> YamlError {
    let text = e.to_string();
    match e.location() {
        Some(at) => {
            // The library appends " at line L column C"; the location is
            // given once, in front.
            let message = text.split(" at line ").next().unwrap_or(&text).to_string();
            YamlError::Syntax { file: file.to_string(), line: at.line(), column: at.column(), message }
        }
        None => YamlError::Invalid { file: file.to_string(), message: text },
    }
}
